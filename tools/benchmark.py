"""Side-by-side speed and memory of SwinV2 backbones: this package vs timm vs transformers vs
mmpretrain, in one process, on the same inputs, with interleaved timed runs.

    .venv/bin/python tools/benchmark.py --quick                      # CI-sized smoke run
    .venv/bin/python tools/benchmark.py --arch tiny --window 16 \\
        --shape det seg --mode eval train --memory --with-cp         # the targets' matrix
    .venv/bin/python tools/benchmark.py --sweep --arch tiny --window 16 32 \\
        --shape 512 1024 1536 2048 --mode eval --plot sweep.png      # resolution sweep

Prints a Markdown report (ready to paste into docs/benchmark.md) and, with `--json FILE`, writes
a machine-readable record of the run; see docs/benchmark.md for what every column means and how
it is measured. Only torch and mmengine are needed for `--impl ours`; the peers need timm /
transformers / mmpretrain and are skipped (with the reason printed) where they cannot be
imported.
"""
import argparse
import datetime
import gc
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

ARCHS = {
    'tiny': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    'small': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
    'base': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
}
# Named input shapes (batch, height, width): a detection image and a segmentation batch.
SHAPES = {'det': (1, 800, 1344), 'seg': (2, 512, 512), 'small': (1, 256, 320)}
IMPLS = ('ours', 'ours-cp', 'ours-plain', 'timm', 'transformers', 'mmpretrain')
PEERS = ('timm', 'transformers', 'mmpretrain')
DTYPES = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
COMPILED = '+compile'
# Dense (no sparsity) peaks in TFLOP/s, from the vendors' data sheets, for the fraction-of-peak
# column on GPUs: bf16/fp16 tensor cores, 'tf32' the TF32 tensor cores (fp32 with --tf32),
# 'fp32' the plain fp32 units (fp32 with TF32 off). Matched against the device name in order.
GPU_PEAK_TFLOPS = {
    'H100 PCIe': {'bf16': 756.0, 'fp16': 756.0, 'tf32': 378.0, 'fp32': 51.0},
    'H100': {'bf16': 989.0, 'fp16': 989.0, 'tf32': 494.0, 'fp32': 67.0},  # SXM (80GB HBM3)
    'H200': {'bf16': 989.0, 'fp16': 989.0, 'tf32': 494.0, 'fp32': 67.0},
    'A100': {'bf16': 312.0, 'fp16': 312.0, 'tf32': 156.0, 'fp32': 19.5},
}


def fail(message: str) -> None:
    """Bad input: one line saying what is wrong and what to do, exit status 2, no traceback."""
    raise SystemExit(f'tools/benchmark.py: error: {message}')


# -- models ------------------------------------------------------------------------------------
def parse_shape(name: str) -> Tuple[int, int, int]:
    """'det' / 'seg' / 'small', 'BxHxW', or a single size N for one NxN image (the sweep)."""
    if name in SHAPES:
        return SHAPES[name]
    try:
        values = [int(v) for v in name.lower().split('x')]
    except ValueError:
        values = []
    if len(values) == 1:
        values = [1, values[0], values[0]]
    if len(values) != 3 or min(values) < 1:
        fail(f'--shape {name!r}: use one of {sorted(SHAPES)}, BxHxW (e.g. 1x800x1344) or a '
             'square size N (e.g. 1024)')
    return tuple(values)


def build_timm(arch: dict, window: int, hw: Tuple[int, int]) -> nn.Module:
    from timm.models.swin_transformer_v2 import SwinTransformerV2
    model = SwinTransformerV2(img_size=hw, embed_dim=arch['embed_dims'], depths=arch['depths'],
                              num_heads=arch['num_heads'], window_size=window, num_classes=0,
                              drop_path_rate=0.0)

    class TimmStages(nn.Module):
        """The four stage maps (NCHW), as the dense-prediction backbones return them."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return tuple(self.m.forward_intermediates(x, intermediates_only=True))
    return TimmStages(model)


def build_transformers(arch: dict, window: int, hw: Tuple[int, int]) -> nn.Module:
    from transformers import Swinv2Backbone, Swinv2Config
    config = Swinv2Config(image_size=list(hw), embed_dim=arch['embed_dims'],
                          depths=list(arch['depths']), num_heads=list(arch['num_heads']),
                          window_size=window, drop_path_rate=0.0,
                          out_features=['stage1', 'stage2', 'stage3', 'stage4'])

    class HFStages(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return tuple(self.m(x).feature_maps)
    return HFStages(Swinv2Backbone(config))


def import_mmpretrain_backbone():
    """mmpretrain 1.2.0 (a reference only: tools/setup_env.sh installs it in .venv/reference,
    off the default path, because mmdet probes for it). Its package imports its multimodal
    models, which need an older transformers; mmpretrain's own WITH_MULTIMODAL flag switches
    them off, and the SwinV2 backbone needs none of them."""
    reference = os.path.join(ROOT, '.venv', 'reference')
    if os.path.isdir(reference) and reference not in sys.path:
        sys.path.append(reference)
    import mmpretrain.utils.dependency as dependency
    dependency.WITH_MULTIMODAL = False
    from mmpretrain.models.backbones import SwinTransformerV2
    return SwinTransformerV2


def build_mmpretrain(arch: dict, window: int, hw: Tuple[int, int]) -> nn.Module:
    cls = import_mmpretrain_backbone()
    model = cls(arch=dict(embed_dims=arch['embed_dims'], depths=list(arch['depths']),
                          num_heads=list(arch['num_heads']), extra_norm_every_n_blocks=0),
                img_size=hw, window_size=window, out_indices=(0, 1, 2, 3), drop_path_rate=0.0)
    model.init_weights()
    return model


def build_ours(arch: dict, window: int, hw: Tuple[int, int], with_cp: bool = False,
               fused: bool = True, weights: Optional[str] = None) -> nn.Module:
    from swinv2_mm import SwinTransformerV2
    init_cfg = dict(type='Pretrained', checkpoint=weights) if weights else None
    model = SwinTransformerV2(arch=dict(arch), window_size=window, drop_path_rate=0.0,
                              with_cp=with_cp, fused_attention=fused, init_cfg=init_cfg)
    model.init_weights()
    return model


def build(impl: str, arch: dict, window: int, hw: Tuple[int, int],
          weights: Optional[str] = None) -> nn.Module:
    if impl == 'timm':
        return build_timm(arch, window, hw)
    if impl == 'transformers':
        return build_transformers(arch, window, hw)
    if impl == 'mmpretrain':
        return build_mmpretrain(arch, window, hw)
    return build_ours(arch, window, hw, with_cp=impl == 'ours-cp', fused=impl != 'ours-plain',
                      weights=weights)


def timm_weights_file(arch: dict, window: int, hw: Tuple[int, int], folder: str) -> str:
    """timm's initialised weights written to a file, which `ours` loads through init_cfg (so
    timm and ours run the same weights; the other peers keep their own initialisation,
    which does not change their speed)."""
    torch.manual_seed(0)
    model = build_timm(arch, window, hw).m
    path = os.path.join(folder, 'timm_weights.pth')
    torch.save(model.state_dict(), path)
    return path


# -- FLOPs (by formula) -------------------------------------------------------------------------
def swinv2_flops(arch: dict, window: int, batch: int, height: int, width: int) -> float:
    """Forward FLOPs (2 per multiply-add) of the work a SwinV2 backbone must do: patch
    embedding; per block the qkv / attention (q k^T and attn v) / projection matmuls on the
    window-padded map (a window attends as a whole) and the MLP on the map itself (padding is
    cropped after attention, in every implementation); patch merging. Element-wise ops
    (norms, softmax, GELU) and the CPB MLP (independent of the input size) are left out.
    FlopCounterMode on timm's model agrees within 1 % at SwinV2-T sizes (see
    tests/test_benchmark.py)."""
    C, depths = arch['embed_dims'], arch['depths']
    ceil = lambda a, b: -(-a // b)  # noqa: E731
    H, W = ceil(height, 4), ceil(width, 4)
    flops = 2.0 * H * W * C * 3 * 16  # patch embedding, 4x4x3 -> C
    for i, depth in enumerate(depths):
        dims = C * 2**i
        if i > 0:
            H, W = ceil(H, 2), ceil(W, 2)
            flops += 2.0 * H * W * 4 * (dims // 2) * dims  # merging 4C -> 2C (of the stage before)
        win = min(window, H, W)
        Hp, Wp = ceil(H, win) * win, ceil(W, win) * win
        padded, n = Hp * Wp, win * win
        per_block = (2.0 * padded * dims * 3 * dims      # qkv
                     + 2.0 * 2 * padded * n * dims       # q k^T and attn v, all heads
                     + 2.0 * padded * dims * dims        # proj
                     + 2.0 * 2 * H * W * dims * 4 * dims)  # MLP, on the unpadded map
        flops += depth * per_block
    return batch * flops


def counted_flops(arch: dict, window: int, batch: int, height: int, width: int,
                  mode: str) -> float:
    """FLOPs that torch.utils.flop_counter.FlopCounterMode counts on timm's model (matmuls,
    convolutions, attention; a train step adds the backward). The model and input live on
    the meta device: only shapes are propagated, nothing is computed, so this is free even at
    2048^2. timm's model is the count of record because it spells every matmul out."""
    from torch.utils.flop_counter import FlopCounterMode
    with torch.device('meta'):
        model = build_timm(arch, window, (height, width))
        x = torch.empty(batch, 3, height, width)
    model.train(mode == 'train')
    counter = FlopCounterMode(display=False)
    with counter:
        if mode == 'train':
            sum(o.float().mean() for o in model(x)).backward()
        else:
            with torch.no_grad():
                model(x)
    return float(counter.get_total_flops())


def gemm_rate(device: str, dtype: torch.dtype = torch.float32, n: Optional[int] = None,
              repeats: int = 5) -> float:
    """Measured GFLOP/s of an n^3 matmul in `dtype` (median of `repeats` after one warm-up).
    n = 2048 on CPU (the reference the issues quote), 8192 on CUDA (2048^3 is too small to
    fill a GPU: launch latency would dominate)."""
    n = n or (8192 if device == 'cuda' else 2048)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    times = []
    for i in range(repeats + 1):
        t = timed(lambda: torch.mm(a, b), device)
        if i:
            times.append(t)
    return 2.0 * n**3 / statistics.median(times) / 1e9


# -- one step --------------------------------------------------------------------------------
def sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def timed(fn: Callable[[], None], device: str) -> float:
    """Wall time of fn; on CUDA the queue is drained before and after (kernels are async)."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def make_step(model: nn.Module, x: torch.Tensor, mode: str, device: str,
              dtype: Optional[torch.dtype]) -> Callable[[], None]:
    """eval: forward under no_grad. train: forward + backward of a scalar loss over every
    stage output (grads set to None first, as `optimizer.zero_grad()` does). Both under
    autocast in `dtype` when one is given (CPU and CUDA alike), for every implementation."""
    amp = torch.autocast(device, dtype=dtype) if dtype is not None else nullcontext()
    if mode == 'eval':
        model.eval()

        def step():
            with torch.no_grad(), amp:
                model(x)
    else:
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]

        def step():
            for p in params:
                p.grad = None
            with amp:
                outs = model(x)
                loss = sum(o.float().mean() for o in outs)
            loss.backward()
    return step


# -- fresh processes: peak memory, and the sweep's cases ------------------------------------------
def _rss_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def _child_setup(spec: dict):
    torch.set_num_threads(spec['threads'])
    if spec['device'] == 'cuda':
        set_tf32(spec.get('tf32', False))
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    arch, (B, H, W) = ARCHS[spec['arch']], spec['shape']
    device = spec['device']
    torch.manual_seed(0)
    model = build(spec['impl'], arch, spec['window'], (H, W)).to(device)
    x = torch.randn(B, 3, H, W, device=device)
    return make_step(model, x, spec['mode'], device, DTYPES[spec['dtype']])


def measure_memory_child(spec: dict) -> dict:
    """Runs inside a fresh process: build, one warm-up step, then the peak memory the next
    step adds: on CPU the resident-set high-water mark (VmHWM, reset through
    /proc/self/clear_refs) over the resident set before the step; on CUDA the peak of torch's
    allocator (reset after the warm-up) over what was allocated before the step."""
    step = _child_setup(spec)
    step()
    gc.collect()
    if spec['device'] == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        torch.cuda.synchronize()
        return dict(peak_mib=(torch.cuda.max_memory_allocated() - base) / 2**20)
    base = _rss_kib('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets VmHWM to the current RSS
    step()
    return dict(peak_mib=(_rss_kib('VmHWM') - base) / 1024)


def time_case_child(spec: dict) -> dict:
    """Runs inside a fresh process (the sweep): build, warm up, time `repeats` steps."""
    step = _child_setup(spec)
    device = spec['device']
    for _ in range(spec['warmup']):
        step()
    return dict(times_ms=[1e3 * timed(step, device) for _ in range(spec['repeats'])])


def run_child(kind: str, spec: dict, timeout: Optional[float]) -> Tuple[Optional[dict], str]:
    """One measurement in a fresh interpreter; returns (result, '') or (None, why not)."""
    env = dict(os.environ)
    env['OMP_NUM_THREADS'] = str(spec['threads'])
    if kind == 'memory':
        # A fixed mmap threshold makes glibc return every freed large tensor to the OS, so RSS
        # follows live memory (the default threshold adapts upwards and keeps freed blocks).
        # Not for timing: every large allocation would then page-fault afresh.
        env['MALLOC_MMAP_THRESHOLD_'] = '65536'
    cmd = [sys.executable, os.path.abspath(__file__), f'--{kind}-child', json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f'timeout: over {timeout:g} s'
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith('RESULT '):
            return json.loads(line[len('RESULT '):]), ''
    err = proc.stderr.strip().splitlines()
    return None, f'failed (exit {proc.returncode}): {err[-1][:200] if err else "no output"}'


def measure_memory(spec: dict, timeout: Optional[float] = None) -> Optional[float]:
    result, why = run_child('memory', spec, timeout)
    if result is None:
        print(f'  memory of {spec["impl"]}: {why}', file=sys.stderr)
        return None
    return result['peak_mib']


# -- the matrix (one process, interleaved) ----------------------------------------------------------
def available_impls(names: Sequence[str]) -> Tuple[List[str], Dict[str, str]]:
    ok, skipped = [], {}
    for name in names:
        try:
            if name == 'timm':
                import timm.models.swin_transformer_v2  # noqa: F401
            elif name == 'transformers':
                from transformers import Swinv2Backbone  # noqa: F401
            elif name == 'mmpretrain':
                import_mmpretrain_backbone()
            ok.append(name)
        except Exception as e:  # the reason goes into the report
            skipped[name] = f'not importable: {reason(e)}'
    return ok, skipped


def reason(e: BaseException) -> str:
    return f'{type(e).__name__}: {(str(e).splitlines() or [""])[0][:160]}'


def config_flops(arch_name: str, window: int, B: int, H: int, W: int, mode: str) -> dict:
    """The formula count (used for every rate) and the FlopCounterMode count on timm's model
    (the check that the formula counts the network's work)."""
    arch = ARCHS[arch_name]
    formula = swinv2_flops(arch, window, B, H, W) * (3 if mode == 'train' else 1)
    try:
        counted, why = counted_flops(arch, window, B, H, W, mode), ''
    except Exception as e:  # timm missing or not traceable on meta: say so, keep the formula
        counted, why = None, reason(e)
    return dict(flops_formula=formula, flops_counted=counted,
                counted_over_formula=counted / formula if counted else None,
                flops_counted_error=why or None)


def add_ratios(rows: List[dict], group_key: Callable[[dict], tuple]) -> None:
    """Per row: x fastest peer (median over median), x timm, per-round ratios against the
    fastest peer of that round, memory over the leanest peer. Eager rows are compared with
    eager peers, compiled rows with compiled peers, of the same configuration."""
    groups: Dict[tuple, List[dict]] = {}
    for r in rows:
        groups.setdefault(group_key(r), []).append(r)
    for group in groups.values():
        peers = [r for r in group if r['impl'].replace(COMPILED, '') in PEERS]
        timm = [r for r in peers if r['impl'].startswith('timm')]
        for r in group:
            if peers:
                r['x_fastest_peer'] = min(p['median_ms'] for p in peers) / r['median_ms']
                if all(len(p.get('times_ms', [])) == len(r.get('times_ms', [])) for p in peers):
                    r['round_ratios'] = [min(p['times_ms'][i] for p in peers) / t
                                         for i, t in enumerate(r.get('times_ms', []))]
                mems = [p['peak_mib'] for p in peers if p.get('peak_mib')]
                if r.get('peak_mib') and mems:
                    r['mem_vs_leanest_peer'] = r['peak_mib'] / min(mems)
            if timm:
                r['x_timm'] = timm[0]['median_ms'] / r['median_ms']
                if r.get('peak_mib') and timm[0].get('peak_mib'):
                    r['mem_vs_timm'] = r['peak_mib'] / timm[0]['peak_mib']


def run_config(args, arch_name: str, window: int, shape_name: str, mode: str, dtype_name: str,
               impls: Sequence[str], gemm: Dict[str, float], peak_gflops: Optional[float],
               skipped: Dict[str, str]) -> List[dict]:
    arch, (B, H, W) = ARCHS[arch_name], parse_shape(shape_name)
    device, dtype = args.device, DTYPES[dtype_name]
    label = f'{arch_name} w{window} {B}x3x{H}x{W} {mode} {dtype_name}'
    torch.manual_seed(0)
    x = torch.randn(B, 3, H, W, device=device)
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        weights = timm_weights_file(arch, window, (H, W), tmp) if 'timm' in impls else None
        for impl in impls:
            torch.manual_seed(0)
            try:
                models[impl] = build(impl, arch, window, (H, W), weights).to(device)
            except Exception as e:
                skipped[f'{impl} {label}'] = f'build failed: {reason(e)}'
    if args.compile:
        for impl in list(models):
            # ours must capture whole (the test suite checks it); peers may break graphs.
            models[impl + COMPILED] = torch.compile(models[impl], dynamic=False,
                                                    fullgraph=impl.startswith('ours'))
    steps = {name: make_step(m, x, mode, device, dtype) for name, m in models.items()}
    compile_s = {}
    for name in list(steps):  # warm-up (and compilation) outside the timed runs
        try:
            for i in range(args.warmup):
                t = timed(steps[name], device)
                if i == 0 and name.endswith(COMPILED):
                    compile_s[name] = t
        except Exception as e:  # e.g. a peer that does not compile: recorded, not fatal
            skipped[f'{name} {label}'] = f'failed in warm-up: {reason(e)}'
            del steps[name]
    times = {name: [] for name in steps}
    for _ in range(args.repeats):  # interleaved: every model once per round
        for name, step in steps.items():
            times[name].append(timed(step, device))
    flops = config_flops(arch_name, window, B, H, W, mode)
    rows = []
    for name in steps:
        med = statistics.median(times[name])
        gflops = flops['flops_formula'] / med / 1e9
        gemm_ref = gemm.get(dtype_name)
        row = dict(arch=arch_name, window=window, shape=f'{B}x3x{H}x{W}', pixels=B * H * W,
                   mode=mode, dtype=dtype_name, impl=name, median_ms=med * 1e3,
                   best_ms=min(times[name]) * 1e3, times_ms=[t * 1e3 for t in times[name]],
                   img_s=B / med, gflops=gflops,
                   frac_gemm=gflops / gemm_ref if gemm_ref else None,
                   frac_peak=(gflops / peak_gflops) if peak_gflops else None, peak_mib=None,
                   **flops)
        if name in compile_s:
            row['compile_s'] = compile_s[name]
        rows.append(row)
    del steps, models
    gc.collect()
    if args.memory:
        for row in rows:
            if row['impl'].endswith(COMPILED):
                continue  # compiled memory: not measured (compilation in each subprocess)
            row['peak_mib'] = measure_memory(dict(
                impl=row['impl'], arch=arch_name, window=window, shape=(B, H, W), mode=mode,
                device=device, dtype=dtype_name, threads=torch.get_num_threads(),
                tf32=args.tf32))
    add_ratios(rows, lambda r: r['impl'].endswith(COMPILED))
    return rows


# -- the resolution sweep (one fresh process per case) -------------------------------------------
def run_sweep(args, arch_name: str, window: int, shape_name: str, mode: str, dtype_name: str,
              impls: Sequence[str], skipped: Dict[str, str]) -> List[dict]:
    B, H, W = parse_shape(shape_name)
    rows = []
    for impl in impls:
        spec = dict(impl=impl, arch=arch_name, window=window, shape=(B, H, W), mode=mode,
                    device=args.device, dtype=dtype_name, threads=torch.get_num_threads(),
                    tf32=args.tf32, warmup=args.warmup, repeats=args.repeats)
        row = dict(arch=arch_name, window=window, shape=f'{B}x3x{H}x{W}', pixels=B * H * W,
                   mode=mode, dtype=dtype_name, impl=impl, status='ok')
        why = ''
        if args.peers_up_to and impl in PEERS and H * W > args.peers_up_to ** 2:
            why = f'skipped: above --peers-up-to {args.peers_up_to}'
        timing = None
        if not why:
            timing, why = run_child('case', spec, args.timeout)
        if timing is None:
            row.update(status='skipped', reason=why)
            skipped[f'{impl} {arch_name} w{window} {row["shape"]} {mode} {dtype_name}'] = why
            print(f'    {impl}: {why}', file=sys.stderr, flush=True)
            rows.append(row)
            continue
        t = timing['times_ms']
        row.update(times_ms=t, best_ms=min(t), median_ms=statistics.median(t),
                   ns_px_best=min(t) * 1e6 / row['pixels'],
                   ns_px_median=statistics.median(t) * 1e6 / row['pixels'])
        row['peak_mib'] = measure_memory(spec, args.timeout)
        print(f"    {impl}: best {row['best_ms']:.0f} ms, {row['ns_px_best']:.0f} ns/px, peak "
              f"{fmt(row['peak_mib'], '.0f')} MiB", file=sys.stderr, flush=True)
        rows.append(row)
    # The sweep's ratios are against timm (the issue's reference), best of repeats.
    timm = next((r for r in rows if r['impl'] == 'timm' and r['status'] == 'ok'), None)
    for r in rows:
        if timm and r['status'] == 'ok':
            r['x_timm'] = timm['best_ms'] / r['best_ms']
            if r.get('peak_mib') and timm.get('peak_mib'):
                r['mem_vs_timm'] = r['peak_mib'] / timm['peak_mib']
    return rows


def sweep_markdown(rows: List[dict]) -> str:
    out = ['| arch | window | input | mode | dtype | impl | best ms | median ms | ns/px (best) '
           '| peak MiB | x timm (time) | memory / timm |',
           '|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        head = (f"| {r['arch']} | {r['window']} | {r['shape']} | {r['mode']} | {r['dtype']} "
                f"| {r['impl']} ")
        if r['status'] != 'ok':
            out.append(head + f"| {r['reason']} | | | | | |")
            continue
        out.append(head + f"| {r['best_ms']:.0f} | {r['median_ms']:.0f} | {r['ns_px_best']:.0f} "
                   f"| {fmt(r.get('peak_mib'), '.0f')} | {fmt(r.get('x_timm'), '.2f')} "
                   f"| {fmt(r.get('mem_vs_timm'), '.2f')} |")
    return '\n'.join(out)


def write_plot(rows: List[dict], path: str) -> None:
    """ns/px and peak memory against pixels, one line per implementation and window (ours
    solid, peers dashed); written to a temporary file, checked, then renamed into place."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(12, 4.5))
    keys = sorted({(r['arch'], r['window'], r['mode'], r['dtype'], r['impl']) for r in rows})
    several = len({k[:4] for k in keys}) > 1
    for key in keys:
        pts = sorted((r['pixels'] / 1e6, r['ns_px_best'], r.get('peak_mib')) for r in rows
                     if (r['arch'], r['window'], r['mode'], r['dtype'], r['impl']) == key
                     and r['status'] == 'ok')
        if not pts:
            continue
        arch, window, mode, dtype, impl = key
        label = f'{impl} w{window}' + (f' {arch} {mode} {dtype}' if several else '')
        line = '-' if impl == 'ours' else ':' if impl.startswith('ours') else '--'
        style = dict(marker='o', linestyle=line, label=label)
        ax_t.plot([p[0] for p in pts], [p[1] for p in pts], **style)
        mem = [p for p in pts if p[2] is not None]
        if mem:
            ax_m.plot([p[0] for p in mem], [p[2] for p in mem], **style)
    first = rows[0]
    title = '' if several else f" (SwinV2-{first['arch']}, {first['mode']}, {first['dtype']})"
    ax_t.set(xlabel='megapixels per step', ylabel='ns per pixel (best of repeats)',
             title='time per pixel' + title)
    ax_m.set(xlabel='megapixels per step', ylabel='peak MiB added by the step',
             title='peak memory' + title)
    for ax in (ax_t, ax_m):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix='.png', dir=folder)
    os.close(fd)
    try:
        fig.savefig(tmp, format='png', dpi=110)
        plt.close(fig)
        with open(tmp, 'rb') as f:
            if f.read(8) != b'\x89PNG\r\n\x1a\n':
                raise RuntimeError(f'{tmp} is not a PNG')
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def publish(tmp: str, path: str) -> None:
    """Rename a verified temporary file over `path`, with the permissions a plain open()
    would have given it (mkstemp makes files private)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


# -- reports ----------------------------------------------------------------------------------------
def fmt(v, spec: str) -> str:
    return '-' if v is None else format(v, spec)


def markdown(rows: List[dict], device: str) -> str:
    frac = '% of GPU peak' if device == 'cuda' else '% of GEMM'
    out = [f'| arch | window | input | mode | dtype | impl | median ms | img/s | GFLOP/s | {frac} '
           '| peak MiB | x fastest peer | x timm | mem / leanest peer |',
           '|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        share = r['frac_peak'] if device == 'cuda' else r['frac_gemm']
        out.append(
            f"| {r['arch']} | {r['window']} | {r['shape']} | {r['mode']} | {r['dtype']} "
            f"| {r['impl']} | {r['median_ms']:.0f} | {r['img_s']:.2f} | {r['gflops']:.1f} "
            f"| {fmt(share and 100 * share, '.1f')} | {fmt(r['peak_mib'], '.0f')} "
            f"| {fmt(r.get('x_fastest_peer'), '.2f')} | {fmt(r.get('x_timm'), '.2f')} "
            f"| {fmt(r.get('mem_vs_leanest_peer'), '.2f')} |")
    return '\n'.join(out)


def _target(name: str, value: Optional[float], goal: str, reached: Optional[bool],
            detail: str = '') -> dict:
    return dict(target=name, goal=goal, value=value, reached=reached, detail=detail)


def targets(rows: List[dict], sweep: List[dict], device: str) -> List[dict]:
    """The issues' targets, for those this run has the numbers of; value None = not measured."""
    def find(impl, mode, shape, dtype, window=16, arch='tiny', pool=rows):
        return next((r for r in pool if (r['impl'], r['mode'], r['shape'], r['arch'],
                                         r['window'], r['dtype']) ==
                     (impl, mode, shape, arch, window, dtype)
                     and r.get('status', 'ok') == 'ok'), None)
    out = []
    if device == 'cpu':
        # issue 11: bf16 eval close to the machine's bf16 GEMM rate, and ahead of timm.
        r = find('ours', 'eval', '1x3x800x1344', 'bf16')
        if r and r.get('frac_gemm') is not None:
            out.append(_target('bf16 eval 1x3x800x1344 T w16: share of the bf16 GEMM rate',
                               r['frac_gemm'], '>= 0.50', r['frac_gemm'] >= 0.5))
        if r and 'x_timm' in r:
            out.append(_target('bf16 eval 1x3x800x1344 T w16: x timm (same autocast)',
                               r['x_timm'], '>= 3.0', r['x_timm'] >= 3.0))
        # issue 11: fp32 train step, median of interleaved rounds and every round.
        r = find('ours', 'train', '2x3x512x512', 'fp32')
        if r and 'x_fastest_peer' in r:
            rounds = r.get('round_ratios') or []
            ok = r['x_fastest_peer'] >= 1.5 and bool(rounds) and min(rounds) >= 1.3
            out.append(_target('fp32 train 2x3x512x512 T w16: x fastest peer (median), every '
                               'round >= x1.3', r['x_fastest_peer'], '>= 1.5', ok,
                               'rounds ' + ' '.join(f'x{v:.2f}' for v in rounds)))
        if r and r.get('mem_vs_leanest_peer'):
            out.append(_target('fp32 train 2x3x512x512 T w16: peak memory / leanest peer',
                               r['mem_vs_leanest_peer'], '<= 0.70 (and no higher than before)',
                               r['mem_vs_leanest_peer'] <= 0.7, f"{r['peak_mib']:.0f} MiB"))
        r = find('ours', 'eval', '1x3x800x1344', 'fp32')
        if r and 'x_fastest_peer' in r:
            out.append(_target('fp32 eval 1x3x800x1344 T w16: x fastest peer',
                               r['x_fastest_peer'], '>= 1.40', r['x_fastest_peer'] >= 1.4))
        for shape in ('2x3x512x512', '1x3x800x1344'):
            r, cp = find('ours', 'train', shape, 'fp32'), find('ours-cp', 'train', shape, 'fp32')
            if r and cp and r.get('peak_mib') and cp.get('peak_mib'):
                saved = 1 - cp['peak_mib'] / r['peak_mib']
                out.append(_target(f'with_cp at {shape}: training memory saved', saved,
                                   '>= 0.40', saved >= 0.4))
    else:
        # issue 10: every eager / compiled row of ours against the fastest and leanest peer.
        for r in rows:
            if not r['impl'].startswith('ours') or 'x_fastest_peer' not in r:
                continue
            cfg = f"{r['arch']} w{r['window']} {r['shape']} {r['mode']} {r['dtype']} {r['impl']}"
            out.append(_target(f'{cfg}: x fastest peer', r['x_fastest_peer'], '>= 1.5',
                               r['x_fastest_peer'] >= 1.5))
            if r['mode'] == 'train' and r.get('mem_vs_leanest_peer'):
                out.append(_target(f'{cfg}: memory / leanest peer', r['mem_vs_leanest_peer'],
                                   '<= 0.6', r['mem_vs_leanest_peer'] <= 0.6))
        r = find('ours', 'train', '2x3x800x1344', 'bf16', arch='base')
        if r and r.get('frac_peak') is not None:
            out.append(_target('base 2x3x800x1344 train bf16: share of the dense bf16 peak',
                               r['frac_peak'], '>= 0.35', r['frac_peak'] >= 0.35))
    # issue 13: the resolution sweep (best of repeats, fresh processes).
    a = find('ours', 'eval', '1x3x512x512', 'fp32', pool=sweep)
    b = find('ours', 'eval', '1x3x2048x2048', 'fp32', pool=sweep)
    if a and b:
        v = b['ns_px_best'] / a['ns_px_best']
        out.append(_target('sweep T w16 fp32 eval: ns/px at 2048^2 over 512^2', v, '<= 1.10',
                           v <= 1.1, f"{a['ns_px_best']:.0f} -> {b['ns_px_best']:.0f} ns/px"))
    r = find('ours', 'eval', '1x3x1536x1536', 'fp32', window=32, pool=sweep)
    if r and 'x_timm' in r:
        out.append(_target('sweep T w32 fp32 eval 1536^2: time / timm', 1 / r['x_timm'],
                           '<= 0.5', 1 / r['x_timm'] <= 0.5))
    if r and r.get('mem_vs_timm'):
        out.append(_target('sweep T w32 fp32 eval 1536^2: memory / timm', r['mem_vs_timm'],
                           '<= 0.5', r['mem_vs_timm'] <= 0.5))
    for impl in ('ours', 'ours-cp'):
        r = find(impl, 'train', '1x3x1024x1024', 'fp32', window=32, pool=sweep)
        if r and r.get('mem_vs_timm'):
            out.append(_target(f'sweep T w32 fp32 train 1024^2 {impl}: memory / timm',
                               r['mem_vs_timm'], '<= 0.5', r['mem_vs_timm'] <= 0.5))
    return out


def profile_table(args, arch_name: str, window: int, shape_name: str, mode: str, dtype_name: str,
                  impl: str = 'ours', rows: int = 20) -> str:
    from torch.profiler import ProfilerActivity, profile
    arch, (B, H, W) = ARCHS[arch_name], parse_shape(shape_name)
    torch.manual_seed(0)
    model = build(impl, arch, window, (H, W)).to(args.device)
    x = torch.randn(B, 3, H, W, device=args.device)
    step = make_step(model, x, mode, args.device, DTYPES[dtype_name])
    step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == 'cuda' else [])
    with profile(activities=activities) as prof:
        step()
        sync(args.device)
    key = 'self_cuda_time_total' if args.device == 'cuda' else 'self_cpu_time_total'
    return prof.key_averages().table(sort_by=key, row_limit=rows)


def set_tf32(enabled: bool) -> None:
    """TF32 for fp32 matmuls and convolutions on CUDA: off unless --tf32 (then 'fp32' rows
    run on the TF32 tensor cores and are compared with the TF32 peak)."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            return next(l.split(':', 1)[1].strip() for l in f if l.startswith('model name'))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def machine_info(args) -> dict:
    """What the numbers were measured on (the JSON record's `machine`)."""
    versions = {}
    for name in ('timm', 'transformers', 'mmengine', 'mmpretrain', 'swinv2_mm'):
        module = sys.modules.get(name)
        versions[name] = getattr(module, '__version__', None) if module else None
    info = dict(device=args.device, cpu=cpu_model(), cpu_count=os.cpu_count(),
                threads=torch.get_num_threads(), python=platform.python_version(),
                platform=platform.platform(), torch=torch.__version__,
                torch_cuda_build=torch.version.cuda, cudnn=None, gpu=None,
                gpu_capability=None, tf32=None, packages=versions)
    if args.device == 'cuda':
        info.update(gpu=torch.cuda.get_device_name(),
                    gpu_capability='.'.join(map(str, torch.cuda.get_device_capability())),
                    cudnn=torch.backends.cudnn.version(), tf32=args.tf32)
    return info


def command_line(argv: Sequence[str]) -> List[str]:
    exe = sys.executable
    if exe.startswith(ROOT + os.sep):
        exe = os.path.relpath(exe, ROOT)
    return [exe, os.path.relpath(os.path.abspath(__file__), ROOT)] + list(argv)


def check_writable(path: str, flag: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        fail(f'{flag} {path}: folder {folder} does not exist; create it or pick another path')
    if not os.access(folder, os.W_OK):
        fail(f'{flag} {path}: folder {folder} is not writable; pick another path')
    if os.path.isdir(path):
        fail(f'{flag} {path} is a folder; give a file name')


def write_json(path: str, record: dict) -> None:
    """Temporary file in the same folder, read back and compared, then renamed over `path`:
    a crash never leaves a half-written record, and a good record is only ever replaced by
    a verified one."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix='.json', prefix='.benchmark-', dir=folder)
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(record, f, indent=1, allow_nan=False)
            f.write('\n')
            f.flush()
            os.fsync(f.fileno())
        with open(tmp) as f:
            if json.load(f) != json.loads(json.dumps(record)):
                raise RuntimeError(f'{tmp}: read back differs from what was written')
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
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
    p.add_argument('--plot', metavar='FILE.png', help='sweep: ns/px and memory against pixels')
    p.add_argument('--json', metavar='FILE', help='write the machine-readable record here')
    p.add_argument('--quick', action='store_true',
                   help='smoke run: tiny, window 8, 1x256x320, 1 warm-up, 2 repeats '
                        '(flags given explicitly win)')
    p.add_argument('--memory-child', help=argparse.SUPPRESS)
    p.add_argument('--case-child', help=argparse.SUPPRESS)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)

    if args.memory_child:
        print('RESULT ' + json.dumps(measure_memory_child(json.loads(args.memory_child))))
        return
    if args.case_child:
        print('RESULT ' + json.dumps(time_case_child(json.loads(args.case_child))))
        return
    defaults = dict(arch=['tiny', 'base'], window=[8, 16, 24], shape=['det', 'seg'],
                    warmup=1 if args.sweep else 2, repeats=3 if args.sweep else 5)
    if args.quick:
        defaults = dict(arch=['tiny'], window=[8], shape=['small'], warmup=1, repeats=2)
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    shapes = [parse_shape(s) for s in args.shape]  # bad shapes fail here, before any work
    if args.repeats < 1 or args.warmup < 0:
        fail('--repeats must be >= 1 and --warmup >= 0')
    if args.compile and args.warmup < 1:
        fail('--compile needs --warmup >= 1 (the first call compiles and is not timed)')
    if args.plot and not args.sweep:
        fail('--plot draws the resolution sweep: add --sweep')
    if (args.timeout or args.peers_up_to) and not args.sweep:
        fail('--timeout and --peers-up-to apply to the sweep: add --sweep')
    if args.sweep and (args.compile or args.profile):
        fail('--compile and --profile run in the matrix, not the sweep: drop --sweep or them')
    if args.window and min(args.window) < 1:
        fail('--window sizes must be >= 1')
    if args.threads is not None and args.threads < 1:
        fail('--threads must be >= 1')
    for path, flag in ((args.json, '--json'), (args.plot, '--plot')):
        if path:
            check_writable(path, flag)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            fail('--plot needs matplotlib (pip install matplotlib) or drop --plot')
    if args.device == 'cuda' and not torch.cuda.is_available():
        fail('--device cuda: torch sees no CUDA device here; run on a GPU machine or drop it')
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

    started, t0 = utc_now(), time.time()
    load_start = os.getloadavg()
    # The machine's GEMM rate in every dtype of the run (and fp32, bf16 always: the issues'
    # reference numbers); the "% of GEMM" column uses the one of its row's dtype.
    gemm = {} if args.sweep else {  # the sweep reports ns/px, no share of a GEMM rate
        name: gemm_rate(args.device, DTYPES[name] or torch.float32)
        for name in sorted(set(dtypes) | {'fp32', 'bf16'}, key=list(DTYPES).index)}
    peak_key = None
    if args.device == 'cuda':
        name = torch.cuda.get_device_name()
        peak_key = next((k for k in GPU_PEAK_TFLOPS if k in name), None)
    record = dict(schema='swinv2_mm-benchmark/1', complete=False,
                  command=command_line(argv), started_utc=started, machine=machine_info(args),
                  settings=dict(warmup=args.warmup, repeats=args.repeats, sweep=args.sweep,
                                compile=args.compile, timeout_s=args.timeout,
                                peers_up_to=args.peers_up_to, gpu_peak_entry=peak_key,
                                load_average_start=list(load_start)),
                  gemm_gflops=gemm, skipped=skipped, rows=[], sweep=[], targets=[])

    def save():
        if args.json:
            write_json(args.json, record)

    print(f"Command: `{' '.join(record['command'])}`\n")
    m = record['machine']
    gpu = f", GPU {m['gpu']} (CUDA {m['torch_cuda_build']}, TF32 {'on' if args.tf32 else 'off'})" \
        if args.device == 'cuda' else ''
    n = 8192 if args.device == 'cuda' else 2048
    rates = ''.join(f', {k} {v:.1f} GFLOP/s' for k, v in gemm.items())
    print(f"torch {m['torch']}, {m['cpu']}, {m['threads']} threads{gpu}"
          + (f'; {n}^3 matmul{rates}' if gemm else '')
          + f'; load average at start {load_start[0]:.2f} / {load_start[1]:.2f} / '
            f'{load_start[2]:.2f}\n')
    if args.device == 'cuda':
        print(f'- GPU peak table entry: {peak_key or "none (the % column stays empty)"}')
    for name, why in skipped.items():
        print(f'- {name}: {why}')
    save()
    rows, sweep = record['rows'], record['sweep']
    for arch in args.arch:
        for window in args.window:
            for shape, (B, H, W) in zip(args.shape, shapes):
                for mode in args.mode:
                    for dtype in dtypes:
                        peak = None
                        if peak_key:
                            key = 'tf32' if dtype == 'fp32' and args.tf32 else dtype
                            peak = GPU_PEAK_TFLOPS[peak_key][key] * 1e3
                        run = list(impls) + (['ours-cp'] if args.with_cp and mode == 'train'
                                             and 'ours-cp' not in impls else [])
                        if mode == 'eval':
                            run = [i for i in run if i != 'ours-cp']
                        print(f'... {arch} w{window} {B}x3x{H}x{W} {mode} {dtype}: '
                              f'{", ".join(run)}', file=sys.stderr, flush=True)
                        if args.sweep:
                            sweep.extend(run_sweep(args, arch, window, shape, mode, dtype, run,
                                                   skipped))
                            save()
                            continue
                        new = run_config(args, arch, window, shape, mode, dtype, run, gemm,
                                         peak, skipped)
                        rows.extend(new)
                        save()
                        for r in new:  # progress, for long runs
                            print(f"    {r['impl']}: {r['median_ms']:.0f} ms, peak "
                                  f"{fmt(r['peak_mib'], '.0f')} MiB, x fastest peer "
                                  f"{fmt(r.get('x_fastest_peer'), '.2f')}", file=sys.stderr,
                                  flush=True)
                        if args.profile:
                            print(f'\nProfile of ours, {arch} w{window} {shape} {mode} {dtype}:\n')
                            print('```\n' + profile_table(args, arch, window, shape, mode, dtype)
                                  + '\n```\n')
    print()
    if rows:
        print(markdown(rows, args.device))
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
        if args.plot:
            write_plot(sweep, args.plot)
            print(f'\nPlot: {args.plot}')
    record['targets'] = targets(rows, sweep, args.device)
    if record['targets']:
        print('\nTargets:')
        for t in record['targets']:
            verdict = 'reached' if t['reached'] else 'NOT reached'
            detail = f" ({t['detail']})" if t['detail'] else ''
            print(f"- {t['target']}: {t['value']:.3f} (target {t['goal']}): {verdict}{detail}")
    load_end = os.getloadavg()
    record.update(complete=True, finished_utc=utc_now(), wall_s=time.time() - t0)
    record['settings']['load_average_end'] = list(load_end)
    save()
    how = ('best and median of {r} runs in a fresh process after {w} warm-up' if args.sweep else
           'median of {r} interleaved runs after {w} warm-up')
    print(f'\nFLOPs by formula (tools/benchmark.py `swinv2_flops`: matmuls only, train = 3x '
          f'forward); {how.format(r=args.repeats, w=args.warmup)}; load average at end '
          f'{load_end[0]:.2f}.' + (f' Record: {args.json}' if args.json else ''))


if __name__ == '__main__':
    main()
