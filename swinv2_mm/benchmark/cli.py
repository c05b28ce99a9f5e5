"""tools/benchmark.py's command line: parse and check the arguments, run the matrix or the
sweep, print the Markdown report, keep the JSON record up to date after every configuration."""
import argparse
import json
import logging
import os
import sys
import time
from typing import List, Optional, Sequence

import torch

from .errors import BenchmarkError
from .matrix import COMPILED, Settings, apply_shares, run_config
from .measure import (DTYPES, GemmReference, measure_memory_child, profile_table, set_tf32,
                      time_case_child)
from .models import ARCHS, IMPLS, SHAPES, available_impls, parse_shape
from .record import (RESULTS_DIR, check_writable, command_line, default_paths, machine_info,
                     utc_now, write_json)
from .report import fmt, markdown, sweep_markdown, targets, write_plot
from .sweep import run_sweep

DESCRIPTION = """Side-by-side speed and memory of SwinV2 backbones: this package vs timm vs
transformers vs mmpretrain, in one process, on the same inputs, with interleaved timed runs.

Prints a Markdown report and writes a JSON record of the run: to --json FILE when given,
otherwise to outputs/benchmark/benchmark-<UTC time>.json (an untracked results folder; copy a
record worth keeping into docs/benchmarks/). See docs/benchmark.md for every column."""

# Dense (no sparsity) peaks in TFLOP/s, from the vendors' data sheets, for the fraction-of-peak
# column on GPUs: bf16/fp16 tensor cores, 'tf32' the TF32 tensor cores (fp32 with --tf32),
# 'fp32' the plain fp32 units (fp32 with TF32 off). Matched against the device name in order.
GPU_PEAK_TFLOPS = {
    'H100 PCIe': {'bf16': 756.0, 'fp16': 756.0, 'tf32': 378.0, 'fp32': 51.0},
    'H100': {'bf16': 989.0, 'fp16': 989.0, 'tf32': 494.0, 'fp32': 67.0},  # SXM (80GB HBM3)
    'H200': {'bf16': 989.0, 'fp16': 989.0, 'tf32': 494.0, 'fp32': 67.0},
    'A100': {'bf16': 312.0, 'fp16': 312.0, 'tf32': 156.0, 'fp32': 19.5},
}
PLOT_BESIDE_RECORD = '<beside the record>'


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='tools/benchmark.py', description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--arch', nargs='+', choices=sorted(ARCHS), help='default: tiny base')
    p.add_argument('--window', nargs='+', type=int, help='default: 8 16 24')
    p.add_argument('--shape', nargs='+',
                   help=f'named {SHAPES}, BxHxW, or N for one NxN image; default: det seg')
    p.add_argument('--mode', nargs='+', default=['eval', 'train'], choices=['eval', 'train'])
    p.add_argument('--impl', nargs='+', default=['ours', 'timm', 'transformers', 'mmpretrain'],
                   choices=IMPLS, help='ours-cp: with_cp=True; ours-plain: fused_attention=False')
    p.add_argument('--with-cp', action='store_true', help='add ours-cp (train mode only)')
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument('--dtype', nargs='+', default=None, choices=sorted(DTYPES),
                   help='autocast dtype(s), for every implementation; default fp32 on CPU, '
                        'bf16 and fp16 on CUDA')
    p.add_argument('--tf32', action='store_true',
                   help='CUDA: let fp32 matmuls/convolutions use TF32 (default: off)')
    p.add_argument('--threads', type=int, default=None, help='torch threads (default: torch)')
    p.add_argument('--warmup', type=int, help='default: 2 (sweep: 1)')
    p.add_argument('--repeats', type=int, help='default: 5 (sweep: 3)')
    p.add_argument('--memory', action='store_true',
                   help='peak memory of each measurement, in a fresh subprocess')
    p.add_argument('--compile', action='store_true',
                   help='also time torch.compile of every implementation beside eager')
    p.add_argument('--profile', action='store_true',
                   help='torch.profiler table of ours for every configuration')
    p.add_argument('--sweep', action='store_true',
                   help='resolution sweep: every (shape, window, impl) case in fresh processes '
                        '(time, then peak memory); prints ns/px')
    p.add_argument('--timeout', type=float, default=None,
                   help='sweep: seconds per case and process; a case over it is recorded as '
                        'skipped')
    p.add_argument('--peers-up-to', type=int, default=None, metavar='N',
                   help='sweep: run the peers only up to N*N pixels (larger: recorded skipped)')
    p.add_argument('--plot', metavar='FILE.png', nargs='?', const=PLOT_BESIDE_RECORD,
                   help='sweep: ns/px and memory against pixels; without FILE, a .png beside '
                        'the JSON record')
    p.add_argument('--json', metavar='FILE',
                   help=f'write the record here (default: {RESULTS_DIR}/benchmark-<time>.json)')
    p.add_argument('--results-dir', default=RESULTS_DIR, metavar='DIR',
                   help='where records go without --json (created if needed; default: '
                        f'{RESULTS_DIR}, untracked)')
    p.add_argument('--quick', action='store_true',
                   help='smoke run: tiny, window 8, 1x256x320, 1 warm-up, 2 repeats '
                        '(flags given explicitly win)')
    p.add_argument('--memory-child', help=argparse.SUPPRESS)
    p.add_argument('--case-child', help=argparse.SUPPRESS)
    return p


def check_args(args) -> List[tuple]:
    """Bad input raises BenchmarkError before any work; returns the parsed shapes."""
    defaults = dict(arch=['tiny', 'base'], window=[8, 16, 24], shape=['det', 'seg'],
                    warmup=1 if args.sweep else 2, repeats=3 if args.sweep else 5)
    if args.quick:
        defaults = dict(arch=['tiny'], window=[8], shape=['small'], warmup=1, repeats=2)
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    shapes = [parse_shape(s) for s in args.shape]
    if args.repeats < 1 or args.warmup < 0:
        raise BenchmarkError('--repeats must be >= 1 and --warmup >= 0')
    if args.compile and args.warmup < 1:
        raise BenchmarkError('--compile needs --warmup >= 1 (the first call compiles and is '
                             'not timed)')
    if args.plot and not args.sweep:
        raise BenchmarkError('--plot draws the resolution sweep: add --sweep')
    if (args.timeout or args.peers_up_to) and not args.sweep:
        raise BenchmarkError('--timeout and --peers-up-to apply to the sweep: add --sweep')
    if args.sweep and (args.compile or args.profile):
        raise BenchmarkError('--compile and --profile run in the matrix, not the sweep: drop '
                             '--sweep or them')
    if min(args.window) < 1:
        raise BenchmarkError('--window sizes must be >= 1')
    if args.threads is not None and args.threads < 1:
        raise BenchmarkError('--threads must be >= 1')
    if args.plot and args.plot != PLOT_BESIDE_RECORD and not args.plot.endswith('.png'):
        raise BenchmarkError(f'--plot {args.plot}: name a .png file (or give --plot alone for '
                             'one beside the record)')
    if args.json is None:
        try:
            os.makedirs(args.results_dir, exist_ok=True)
        except OSError as e:
            raise BenchmarkError(f'--results-dir {args.results_dir}: cannot create it '
                                 f'({e.strerror}); pick another folder or give --json FILE')
        args.json, plot = default_paths(args.results_dir, utc_now().replace(':', '')[:-1])
    else:
        plot = os.path.splitext(args.json)[0] + '.png'
    if args.plot == PLOT_BESIDE_RECORD:
        args.plot = plot
    for path, flag in ((args.json, '--json'), (args.plot, '--plot')):
        if path:
            check_writable(path, flag)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise BenchmarkError('--plot needs matplotlib (pip install matplotlib) or drop '
                                 '--plot') from None
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise BenchmarkError('--device cuda: torch sees no CUDA device here; run on a GPU '
                             'machine or drop it')
    return shapes


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Bad input ends in SystemExit with a one-line message (status 2, no traceback)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.memory_child:
        print('RESULT ' + json.dumps(measure_memory_child(json.loads(args.memory_child))))
        return
    if args.case_child:
        print('RESULT ' + json.dumps(time_case_child(json.loads(args.case_child))))
        return
    try:
        check_args(args)
    except BenchmarkError as e:
        raise SystemExit(f'tools/benchmark.py: error: {e}') from None
    run(args, argv)


def run(args, argv: Sequence[str]) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda':
        set_tf32(args.tf32)
    # Checkpoint-loading messages would land in the Markdown on stdout.
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    import swinv2_mm  # noqa: F401  (its version goes into the record)
    dtypes = args.dtype or (['bf16', 'fp16'] if args.device == 'cuda' else ['fp32'])
    impls, skipped = available_impls(args.impl)
    settings = Settings(device=args.device, warmup=args.warmup, repeats=args.repeats,
                        compile=args.compile, memory=args.memory, tf32=args.tf32)

    started, t0 = utc_now(), time.time()
    load_start = os.getloadavg()
    # The machine's GEMM rate in every dtype of the run (and fp32 always); the "% of GEMM"
    # column uses the one of its row's dtype. The sweep reports ns/px and needs none.
    gemm = None if args.sweep else GemmReference(
        args.device, sorted(set(dtypes) | {'fp32'}, key=list(DTYPES).index))
    if gemm:
        gemm.sample()
    peak_key = None
    if args.device == 'cuda':
        name = torch.cuda.get_device_name()
        peak_key = next((k for k in GPU_PEAK_TFLOPS if k in name), None)
    record = dict(schema='swinv2_mm-benchmark/1', complete=False,
                  command=command_line(argv), started_utc=started,
                  machine=machine_info(args.device, args.tf32),
                  settings=dict(warmup=args.warmup, repeats=args.repeats, sweep=args.sweep,
                                compile=args.compile, timeout_s=args.timeout,
                                peers_up_to=args.peers_up_to, gpu_peak_entry=peak_key,
                                load_average_start=list(load_start)),
                  gemm_gflops=gemm.rates() if gemm else {},
                  gemm_samples=gemm.samples if gemm else {},
                  gemm_sizes=gemm.sizes if gemm else {},
                  skipped=skipped, rows=[], sweep=[], targets=[])

    def save():
        write_json(args.json, record)

    print(f"Command: `{' '.join(record['command'])}`\n")
    m = record['machine']
    gpu = f", GPU {m['gpu']} (CUDA {m['torch_cuda_build']}, TF32 {'on' if args.tf32 else 'off'})" \
        if args.device == 'cuda' else ''
    print(f"torch {m['torch']}, {m['cpu']}, {m['threads']} threads{gpu}; load average at "
          f'start {load_start[0]:.2f} / {load_start[1]:.2f} / {load_start[2]:.2f}\n')
    if args.device == 'cuda':
        print(f'- GPU peak table entry: {peak_key or "none (the % column stays empty)"}')
    for name, why in skipped.items():
        print(f'- {name}: {why}')
    save()
    rows, sweep = record['rows'], record['sweep']
    for arch in args.arch:
        for window in args.window:
            for shape, (B, H, W) in zip(args.shape, [parse_shape(s) for s in args.shape]):
                for mode in args.mode:
                    for dtype in dtypes:
                        peak = None
                        if peak_key:
                            key = 'tf32' if dtype == 'fp32' and args.tf32 else dtype
                            peak = GPU_PEAK_TFLOPS[peak_key][key] * 1e3
                        run_impls = list(impls) + (['ours-cp'] if args.with_cp
                                                   and mode == 'train'
                                                   and 'ours-cp' not in impls else [])
                        if mode == 'eval':
                            run_impls = [i for i in run_impls if i != 'ours-cp']
                        print(f'... {arch} w{window} {B}x3x{H}x{W} {mode} {dtype}: '
                              f'{", ".join(run_impls)}', file=sys.stderr, flush=True)
                        if args.sweep:
                            sweep.extend(run_sweep(
                                args.device, torch.get_num_threads(), args.tf32, args.warmup,
                                args.repeats, args.timeout, args.peers_up_to, arch, window,
                                shape, mode, dtype, run_impls, skipped))
                            save()
                            continue
                        new = run_config(settings, arch, window, shape, mode, dtype,
                                         run_impls, peak, skipped)
                        rows.extend(new)
                        gemm.sample()  # one more reference sample per configuration
                        record['gemm_gflops'] = gemm.rates()
                        apply_shares(rows, gemm.rates())
                        save()
                        for r in new:  # progress, for long runs
                            print(f"    {r['impl']}: {r['median_ms']:.0f} ms, peak "
                                  f"{fmt(r['peak_mib'], '.0f')} MiB, x fastest peer "
                                  f"{fmt(r.get('x_fastest_peer'), '.2f')}", file=sys.stderr,
                                  flush=True)
                        if args.profile:
                            print(f'\nProfile of ours, {arch} w{window} {shape} {mode} {dtype}:\n')
                            print('```\n' + profile_table(args.device, arch, window, (B, H, W),
                                                          mode, dtype) + '\n```\n')
    if gemm:
        gemm.sample()
        record['gemm_gflops'] = rates = gemm.rates()
        print(f'GEMM reference (n^3 matmul; median of {len(next(iter(gemm.samples.values())))} '
              'samples, each the median of 5): ' + ', '.join(
                  f'{k} {v:.1f} GFLOP/s at n={gemm.sizes[k]} (samples '
                  f'{gemm.spread(k)[0]:.1f}-{gemm.spread(k)[1]:.1f})' for k, v in rates.items()))
        if args.device == 'cpu':
            for r in apply_shares(rows, rates):
                print(f"WARNING: {r['impl']} {r['arch']} w{r['window']} {r['shape']} "
                      f"{r['mode']}: {r['share_problem']}", file=sys.stderr)
    print()
    if rows:
        print(markdown(rows, args.device))
        if any(r.get('share_problem') for r in rows):
            print('\n(!) above 100 % of the GEMM reference: a measurement problem, not a result '
                  '(see the warning on stderr)')
        print('\nPer-round ratios (the fastest peer of each round over ours, interleaved):')
        for r in rows:
            if r['impl'].startswith('ours') and r.get('round_ratios'):
                rr = r['round_ratios']
                print(f"- {r['impl']} {r['arch']} w{r['window']} {r['shape']} {r['mode']} "
                      f"{r['dtype']}: " + ' '.join(f'x{v:.2f}' for v in rr)
                      + f' (min x{min(rr):.2f})')
        print('\nFLOPs per step, formula vs FlopCounterMode on timm\'s model:')
        seen = set()
        for r in rows:
            key = (r['arch'], r['window'], r['shape'], r['mode'])
            if key in seen:
                continue
            seen.add(key)
            counted = (f"{r['flops_counted'] / 1e9:.1f} GFLOP counted (x"
                       f"{r['counted_over_formula']:.3f})" if r['flops_counted']
                       else f"not counted ({r['flops_counted_error']})")
            print(f"- {' '.join(map(str, key))}: {r['flops_formula'] / 1e9:.1f} GFLOP by "
                  f'formula, {counted}')
        for r in rows:
            if 'compile_s' in r:
                print(f"- {r['impl']} {r['arch']} w{r['window']} {r['shape']} {r['mode']} "
                      f"{r['dtype']}: first call (compilation) {r['compile_s']:.1f} s")
    if sweep:
        print(sweep_markdown(sweep))
        if args.plot and any(r['status'] == 'ok' for r in sweep):
            write_plot(sweep, args.plot)
            print(f'\nPlot: {args.plot}')
        elif args.plot:
            print('\nNo plot: no case was measured')
    record['targets'] = targets(rows, sweep, args.device)
    if record['targets']:
        print('\nTargets:')
        for t in record['targets']:
            verdict = {True: 'reached', False: 'NOT reached', None: 'no verdict'}[t['reached']]
            detail = f" ({t['detail']})" if t['detail'] else ''
            print(f"- {t['target']}: {t['value']:.3f} (target {t['goal']}): {verdict}{detail}")
    load_end = os.getloadavg()
    record.update(complete=True, finished_utc=utc_now(), wall_s=time.time() - t0)
    record['settings']['load_average_end'] = list(load_end)
    save()
    how = ('best and median of {r} runs in a fresh process after {w} warm-up' if args.sweep else
           'median of {r} interleaved runs after {w} warm-up')
    print(f'\nFLOPs by formula (swinv2_mm/benchmark/flops.py: matmuls only, train = 3x '
          f'forward); {how.format(r=args.repeats, w=args.warmup)}; load average at end '
          f'{load_end[0]:.2f}. Record: {args.json}')


__all__ = ['main', 'COMPILED']
