"""Where each record comes from: the command that measures it (the one the docs show), what
it writes, how long it runs on a quiet 2-core machine, and whether its figures are timings
(which need a quiet machine) or results (the same on a loaded one).

`tools/docs_records.py refresh NAME` runs the command with its output sent to a temporary file
under outputs/records/, checks what came back, and only then replaces the record."""
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from .store import RecordError, machine, write_record

PY = '.venv/bin/python'
TMP_DIR = os.path.join('outputs', 'records')


@dataclass
class Source:
    name: str
    folder: str                       # docs/records or docs/benchmarks
    argv: List[str]                   # as the docs show it (from the repository root)
    minutes: float                    # estimate for a quiet 2-core machine (list shows the
                                      # record's own run time once it exists)
    timing: bool                      # holds speed figures: refresh on a quiet machine
    # How the refresh sends the output to `tmp` (extra arguments, extra environment).
    out_args: Callable[[str], List[str]] = lambda tmp: []
    out_env: Callable[[str], Dict[str, str]] = lambda tmp: {}
    # The record, from what the command wrote to tmp and printed.
    collect: Callable[[str, str], dict] = None
    extra_files: Dict[str, str] = field(default_factory=dict)  # tmp suffix -> record file

    @property
    def command(self) -> str:
        return ' '.join(self.argv)


def _read_json(tmp: str, _stdout: str) -> dict:
    try:
        with open(tmp, encoding='utf-8') as f:
            record = json.load(f)
    except (OSError, ValueError) as e:
        raise RecordError(f'the command wrote no readable record to {tmp} ({e})') from e
    if record.get('complete') is False:
        raise RecordError(f'{tmp}: the run did not complete')
    return record


_SPEED = re.compile(r'speed at (?P<input>\S+), (?P<threads>\d+) threads, median of (?P<n>\d+): '
                    r'onnxruntime (?P<ort>[\d.]+) ms, eager PyTorch (?P<eager>[\d.]+) ms')
_CHECK = re.compile(r'^\s+\d+x\d+x\d+x\d+: max abs error .*$', re.M)


def _onnx(_tmp: str, stdout: str) -> dict:
    """tools/export_onnx.py's printout: the onnxruntime-vs-eager check at every size, and
    with --benchmark the speed line."""
    checks = [ln.strip() for ln in _CHECK.findall(stdout)]
    if not checks:
        raise RecordError('tools/export_onnx.py printed no size checks')
    record = dict(checks=checks)
    m = _SPEED.search(stdout)
    if m:
        record['speed'] = dict(input=m['input'].replace('x', '×'), threads=int(m['threads']),
                               repeats=int(m['n']), onnxruntime_ms=float(m['ort']),
                               eager_ms=float(m['eager']))
    return record


def _bench(name: str, args: List[str], minutes: float, plot: bool = False) -> Source:
    return Source(name, os.path.join('docs', 'benchmarks'), [PY, 'tools/benchmark.py'] + args,
                  minutes, timing=True, out_args=lambda tmp: ['--json', tmp],
                  collect=_read_json,
                  extra_files={'.png': os.path.join('docs', 'benchmarks', name + '.png')}
                  if plot else {})


def _demo(name: str, minutes: float) -> Source:
    return Source(f'demo_{name}', os.path.join('docs', 'records'),
                  [PY, f'tools/demo_{name}.py'], minutes, timing=False,
                  out_args=lambda tmp: ['--metrics-out', tmp], collect=_read_json)


SOURCES: Dict[str, Source] = {s.name: s for s in [
    _demo('detection', 2.6),
    _demo('segmentation', 2.0),
    _demo('simmim', 4.0),  # docs/simmim.md: pre-training, then two detection fine-tunings
    # docs/heads.md. One thread: on a shared, loaded machine two threads per process are
    # several times slower (measured 36 s against 3 s an iteration at load average 12).
    Source('demo_mask2former', os.path.join('docs', 'records'),
           [PY, 'tools/demo_mask2former.py', '--threads', '1'], 3.0, timing=False,
           out_args=lambda tmp: ['--metrics-out', tmp], collect=_read_json),
    Source('identity', os.path.join('docs', 'records'),
           [PY, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests/test_identity.py'], 1.5,
           timing=False, out_env=lambda tmp: {'SWINV2_MM_IDENTITY_RECORD': tmp},
           collect=_read_json),
    Source('onnx_speed_backbone', os.path.join('docs', 'records'),
           [PY, 'tools/export_onnx.py', 'configs/cascade_swinv2_tiny_coco.py',
            '--backbone-only', '--out', 'work_dirs/onnx/swinv2_tiny_backbone.onnx',
            '--shape', '800', '1344', '--dynamic', '--benchmark', '5'], 3.0, timing=True,
           collect=_onnx),
    Source('onnx_speed_upernet', os.path.join('docs', 'records'),
           [PY, 'tools/export_onnx.py', 'configs/upernet_swinv2_tiny_ade20k.py',
            '--out', 'work_dirs/onnx/upernet_swinv2_tiny.onnx', '--shape', '512', '512',
            '--dynamic', '--benchmark', '5'], 2.0, timing=True, collect=_onnx),
    Source('onnx_checks_detector', os.path.join('docs', 'records'),
           [PY, 'tools/export_onnx.py', 'configs/cascade_swinv2_tiny_coco.py',
            '--out', 'work_dirs/onnx/cascade_swinv2_tiny_feats.onnx', '--shape', '800', '1344',
            '--dynamic'], 2.0, timing=False, collect=_onnx),
    _bench('cpu_tiny_w16_det_eval',
           ['--arch', 'tiny', '--window', '16', '--shape', 'det', '--mode', 'eval', '--dtype',
            'fp32', 'bf16', '--impl', 'ours', 'timm', 'transformers', 'mmpretrain', '--memory',
            '--warmup', '1', '--repeats', '3', '--threads', '2'], 6.0),
    _bench('cpu_tiny_w16_seg_train',
           ['--arch', 'tiny', '--window', '16', '--shape', 'seg', '--mode', 'train', '--dtype',
            'fp32', '--impl', 'ours', 'timm', 'transformers', 'mmpretrain', '--with-cp',
            '--memory', '--warmup', '1', '--repeats', '5', '--threads', '2'], 6.0),
    _bench('cpu_sweep_tiny',
           ['--sweep', '--arch', 'tiny', '--window', '16', '32', '--shape', '512', '1024', '1536',
            '2048', '--mode', 'eval', '--impl', 'ours', 'timm', '--peers-up-to', '1536',
            '--timeout', '600', '--threads', '2', '--plot'], 12.0, plot=True),
    _bench('cpu_tiny_w16_seg_compile',
           ['--arch', 'tiny', '--window', '16', '--shape', 'seg', '--mode', 'eval', '--impl',
            'ours', '--compile', '--warmup', '1', '--repeats', '3', '--threads', '2'], 3.0),
    _bench('cpu_tiny_w32_1024_train',
           ['--arch', 'tiny', '--window', '32', '--shape', '1024', '--mode', 'train', '--dtype',
            'fp32', '--impl', 'ours', 'timm', '--with-cp', '--memory', '--warmup', '0',
            '--repeats', '1', '--threads', '2'], 5.0),
]}


# docs/heads.md (issue 20): one training step of each Mask2Former / DINO config at its training
# size (DINO at smaller sizes: at 800x1333 one step needs more memory than this machine has),
# and the share of mmcv's PyTorch deformable attention in a step. Minutes measured loaded.
def _step_memory(config: str, size: List[str], minutes: float) -> Source:
    suffix = '' if config.startswith('mask2former') else '_' + 'x'.join(size)
    return Source(f'train_step_memory_{config}{suffix}', os.path.join('docs', 'records'),
                  [PY, 'tools/step_memory.py', f'configs/{config}.py', '--size', *size,
                   '--batch', '1', '--threads', '1'], minutes, timing=False,
                  out_args=lambda tmp: ['--json', tmp], collect=_read_json)


def _deform_attn(name: str, config: str, args: List[str], minutes: float) -> Source:
    return Source(f'deform_attn_time_{name}', os.path.join('docs', 'records'),
                  [PY, 'tools/deform_attn_time.py', config] + args, minutes, timing=True,
                  out_args=lambda tmp: ['--json', tmp], collect=_read_json)


SOURCES.update({s.name: s for s in [
    _step_memory('mask2former_swinv2_tiny_coco-panoptic', ['1024'], 7),
    _step_memory('mask2former_swinv2_small_coco-panoptic', ['1024'], 8),
    _step_memory('mask2former_swinv2_base_coco-panoptic', ['1024'], 23),
    _step_memory('mask2former_swinv2_tiny_ade20k', ['512'], 4),
    _step_memory('mask2former_swinv2_small_ade20k', ['512'], 7),
    _step_memory('mask2former_swinv2_base_ade20k', ['640'], 7),
    _step_memory('dino_swinv2_tiny_coco_12e', ['400', '667'], 7),
    _deform_attn('mask2former_demo', 'configs/demo/mask2former_swinv2_demo_synthetic.py',
                 ['--size', '128', '--batch', '8', '--threads', '1', '--repeats', '3'], 2),
    _deform_attn('mask2former_swinv2_tiny_ade20k', 'configs/mask2former_swinv2_tiny_ade20k.py',
                 ['--size', '512', '--batch', '1', '--threads', '1', '--repeats', '2'], 12),
]})


def refresh(root: str, name: str, log=print) -> str:
    """Run the source's command, check what it wrote, replace the record. Returns its path."""
    src = SOURCES[name]
    if 'bf16' in src.argv:
        import torch
        capability = torch.backends.cpu.get_cpu_capability()
        if not capability.startswith('AVX512'):
            raise RecordError(f'{name}: this CPU ({capability}) has no native bf16 matrix '
                              'kernels; its bf16 rows would take hours and not be comparable. '
                              'Refresh it on a CPU with AVX-512 (the record keeps its own '
                              'cpu_capability)')
    tmp_dir = os.path.join(root, TMP_DIR)
    os.makedirs(tmp_dir, exist_ok=True)
    tmp = os.path.join(tmp_dir, f'{name}.json')
    for path in [tmp] + [os.path.splitext(tmp)[0] + s for s in src.extra_files]:
        if os.path.exists(path):
            os.remove(path)
    argv = src.argv + src.out_args(tmp)
    env = dict(os.environ, **src.out_env(tmp))
    log(f'[{name}] {" ".join(argv)}  (about {src.minutes:g} min on a quiet 2-core machine)')
    load_start, start = os.getloadavg(), time.time()
    started = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
    proc = subprocess.run(argv, cwd=root, env=env, stdout=subprocess.PIPE, text=True)
    sys.stdout.write(proc.stdout[-4000:])
    if proc.returncode != 0:
        raise RecordError(f'{name}: `{" ".join(argv)}` failed (exit {proc.returncode}); the '
                          'record was not touched')
    record = src.collect(tmp, proc.stdout)
    provenance = dict(command=src.command, refreshed_by=f'tools/docs_records.py refresh {name}',
                      started_utc=started, wall_s=round(time.time() - start, 1),
                      load_average_start=list(load_start), load_average_end=list(os.getloadavg()),
                      machine=machine())
    if 'schema' in record and record['schema'].startswith('swinv2_mm-benchmark'):
        record['command'] = src.argv  # what a user types: the docs' command, no --json
        record['provenance'] = provenance
    else:
        record = dict(record, provenance=provenance)
    extras = {os.path.splitext(tmp)[0] + suffix: dest for suffix, dest in src.extra_files.items()}
    for extra in extras:
        if not os.path.isfile(extra):
            raise RecordError(f'{name}: the command wrote no {extra}; the record was not touched')
    path = os.path.join(root, src.folder, f'{name}.json')
    write_record(path, record)
    for extra, dest in extras.items():  # written and checked by the command (the plot)
        os.replace(extra, os.path.join(root, dest))
    if os.path.exists(tmp):
        os.remove(tmp)
    return path


def find(name: str) -> Optional[Source]:
    return SOURCES.get(name)
