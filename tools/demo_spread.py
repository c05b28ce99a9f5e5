#!/usr/bin/env python
"""How far the demos' held-out metrics move with the CPU's kernel set and the thread count.

    .venv/bin/python tools/demo_spread.py [--work-dir outputs/demo_spread]

Runs the detection and segmentation demos (tools/demo_detection.py, tools/demo_segmentation.py)
under each setting below — ATEN_CPU_CAPABILITY picks the kernels torch dispatches to, so one
machine stands in for processors with and without AVX-512 — and writes every run's metrics to
docs/records/demo_spread.json (written to a temporary file, verified, then renamed). A run whose
metrics file is already in the work dir is not repeated. The README test compares a fresh demo
run with its record within the spread measured here (tests/test_docs_records.py).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # run from a checkout
# (name, ATEN_CPU_CAPABILITY, threads): the machine's own kernels (AVX-512 on this project's
# machines), the next kernel set down, and one thread instead of the demos' two
SETTINGS = [('avx512_2t', 'avx512', 2), ('avx2_2t', 'avx2', 2), ('avx512_1t', 'avx512', 1)]
DEMOS = ('detection', 'segmentation')


def run(work: str, name: str, capability: str, threads: int, demo: str) -> dict:
    out = osp.join(work, f'{name}_{demo}.json')
    if not osp.isfile(out):
        env = dict(os.environ, ATEN_CPU_CAPABILITY=capability)
        start = time.time()
        proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', f'demo_{demo}.py'),
                               '--threads', str(threads), '--metrics-out', out], cwd=ROOT,
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f'error: the {demo} demo failed under {name}: '
                     f'{(proc.stderr.strip().splitlines() or ["?"])[-1]}')
        print(f'{name} {demo}: {time.time() - start:.0f} s')
    with open(out) as f:
        got = json.load(f)
    return dict(setting=name, aten_cpu_capability=capability, threads=threads,
                cpu_capability=got['machine'].get('cpu_capability'),
                cpu=got['machine'].get('cpu'), metrics=got['metrics'],
                per_class=got['per_class'])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'outputs', 'demo_spread'))
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    from swinv2_mm.records.store import machine, write_record
    runs = {demo: [run(args.work_dir, *setting, demo) for setting in SETTINGS]
            for demo in DEMOS}
    write_record(osp.join(ROOT, 'docs', 'records', 'demo_spread.json'), dict(
        what="the demos' held-out metrics under several kernel sets and thread counts of one "
             'machine: the spread a fresh run is compared with its record within',
        command='.venv/bin/python tools/demo_spread.py', machine=machine(), runs=runs))
    print('wrote docs/records/demo_spread.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
