"""Side-by-side speed and memory of SwinV2 backbones: this package vs timm vs transformers vs
mmpretrain, in one process, on the same inputs, with interleaved timed runs.

    .venv/bin/python tools/benchmark.py --quick                      # CI-sized smoke run
    .venv/bin/python tools/benchmark.py --arch tiny --window 16 \\
        --shape det seg --mode eval train --memory --with-cp         # the targets' matrix

Prints a Markdown report (ready to paste into docs/benchmark.md); see docs/benchmark.md for
what every column means and how it is measured. Only torch and mmengine are needed for
`--impl ours`; the peers need timm / transformers / mmpretrain and are skipped (with the
reason printed) where they cannot be imported.
"""
import argparse
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
# Dense (no sparsity) tensor-core peaks in TFLOP/s, from the vendors' data sheets, for the
# fraction-of-peak column on GPUs. fp32 here is TF32 tensor-core (what matmul may use).
GPU_PEAK_TFLOPS = {
    'H100 SXM': {'bf16': 989.0, 'fp16': 989.0, 'fp32': 494.0},
    'H100 PCIe': {'bf16': 756.0, 'fp16': 756.0, 'fp32': 378.0},
    'H100': {'bf16': 989.0, 'fp16': 989.0, 'fp32': 494.0},
    'H200': {'bf16': 989.0, 'fp16': 989.0, 'fp32': 494.0},
    'A100': {'bf16': 312.0, 'fp16': 312.0, 'fp32': 156.0},
}


# -- models ------------------------------------------------------------------------------------
def parse_shape(name: str) -> Tuple[int, int, int]:
    if name in SHAPES:
        return SHAPES[name]
    try:
        b, h, w = (int(v) for v in name.lower().split('x'))
        return b, h, w
    except ValueError:
        raise SystemExit(f'--shape {name!r}: use one of {sorted(SHAPES)} or BxHxW, e.g. 1x800x1344')


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
    embedding, per block the qkv / attention (q k^T and attn v) / projection / MLP matmuls on
    the window-padded map, patch merging. Element-wise ops (norms, softmax, GELU) and the
    CPB MLP (independent of the input size) are left out."""
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
        tokens, n = Hp * Wp, win * win
        per_block = (2.0 * tokens * dims * 3 * dims      # qkv
                     + 2.0 * 2 * tokens * n * dims       # q k^T and attn v, all heads
                     + 2.0 * tokens * dims * dims        # proj
                     + 2.0 * 2 * tokens * dims * 4 * dims)  # MLP
        flops += depth * per_block
    return batch * flops


def gemm_rate(device: str, dtype: torch.dtype = torch.float32, n: int = 2048,
              repeats: int = 5) -> float:
    """Measured GFLOP/s of an n^3 matmul (median of `repeats`)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
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
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def make_step(model: nn.Module, x: torch.Tensor, mode: str, device: str,
              dtype: Optional[torch.dtype]) -> Callable[[], None]:
    """eval: forward under no_grad. train: forward + backward of a scalar loss over every
    stage output (grads set to None first, as `optimizer.zero_grad()` does)."""
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


# -- memory: one measurement per fresh subprocess ------------------------------------------------
def _rss_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def measure_memory_child(spec: dict) -> dict:
    """Runs inside a fresh process: build, one warm-up step, then the peak resident memory
    the next step adds (VmHWM reset through /proc/self/clear_refs), or on CUDA the peak of
    torch's allocator."""
    torch.set_num_threads(spec['threads'])
    arch, (B, H, W) = ARCHS[spec['arch']], spec['shape']
    device, dtype = spec['device'], DTYPES[spec['dtype']]
    torch.manual_seed(0)
    model = build(spec['impl'], arch, spec['window'], (H, W)).to(device)
    x = torch.randn(B, 3, H, W, device=device)
    step = make_step(model, x, spec['mode'], device, dtype)
    step()
    gc.collect()
    if device == 'cuda':
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


def measure_memory(spec: dict) -> Optional[float]:
    env = dict(os.environ)
    # A fixed mmap threshold makes glibc return every freed large tensor to the OS, so RSS
    # follows live memory (the default threshold adapts upwards and keeps freed blocks).
    env['MALLOC_MMAP_THRESHOLD_'] = '65536'
    env['OMP_NUM_THREADS'] = str(spec['threads'])
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), '--memory-child',
                           json.dumps(spec)], capture_output=True, text=True, env=env)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith('MEMORY '):
            return json.loads(line[len('MEMORY '):])['peak_mib']
    print(f'  memory of {spec["impl"]} failed: {proc.stderr.strip().splitlines()[-1:]}',
          file=sys.stderr)
    return None


# -- the matrix ---------------------------------------------------------------------------------
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
            skipped[name] = f'{type(e).__name__}: {str(e).splitlines()[0][:120]}'
    return ok, skipped


def run_config(args, arch_name: str, window: int, shape_name: str, mode: str, dtype_name: str,
               impls: Sequence[str], gemm_gflops: float, peak_gflops: Optional[float]) -> List[dict]:
    arch, (B, H, W) = ARCHS[arch_name], parse_shape(shape_name)
    device, dtype = args.device, DTYPES[dtype_name]
    torch.manual_seed(0)
    x = torch.randn(B, 3, H, W, device=device)
    with tempfile.TemporaryDirectory() as tmp:
        weights = timm_weights_file(arch, window, (H, W), tmp) if 'timm' in impls else None
        models = {}
        for impl in impls:
            torch.manual_seed(0)
            models[impl] = build(impl, arch, window, (H, W), weights).to(device)
    if args.compile:
        for impl in [i for i in impls if i.startswith('ours')]:
            models[impl + '+compile'] = torch.compile(models[impl], fullgraph=True,
                                                      dynamic=False)
    steps = {name: make_step(m, x, mode, device, dtype) for name, m in models.items()}
    compile_s = {}
    for name, step in steps.items():  # warm-up (and compilation) outside the timed runs
        for i in range(args.warmup):
            t = timed(step, device)
            if i == 0 and name.endswith('+compile'):
                compile_s[name] = t
    times = {name: [] for name in steps}
    for _ in range(args.repeats):  # interleaved: every model once per round
        for name, step in steps.items():
            times[name].append(timed(step, device))
    flops = swinv2_flops(arch, window, B, H, W) * (3 if mode == 'train' else 1)
    rows = []
    for name in steps:
        med = statistics.median(times[name])
        gflops = flops / med / 1e9
        row = dict(arch=arch_name, window=window, shape=f'{B}x3x{H}x{W}', mode=mode,
                   dtype=dtype_name, impl=name, median_ms=med * 1e3, img_s=B / med,
                   gflops=gflops, frac_gemm=gflops / gemm_gflops,
                   frac_peak=(gflops / peak_gflops) if peak_gflops else None, peak_mib=None)
        if name in compile_s:
            row['compile_s'] = compile_s[name]
        rows.append(row)
    del steps, models
    gc.collect()
    if args.memory:
        for row in rows:
            if row['impl'].endswith('+compile'):
                continue  # compiled memory: not measured (compilation in each subprocess)
            row['peak_mib'] = measure_memory(dict(
                impl=row['impl'], arch=arch_name, window=window, shape=(B, H, W), mode=mode,
                device=device, dtype=dtype_name, threads=torch.get_num_threads()))
    # Speed-ups against the fastest / leanest peer of the same configuration.
    peers = [r for r in rows if r['impl'] in PEERS]
    for r in rows:
        if peers:
            r['x_fastest_peer'] = min(p['median_ms'] for p in peers) / r['median_ms']
            mems = [p['peak_mib'] for p in peers if p['peak_mib']]
            if r['peak_mib'] and mems:
                r['mem_vs_leanest_peer'] = r['peak_mib'] / min(mems)
    return rows


def fmt(v, spec: str) -> str:
    return '-' if v is None else format(v, spec)


def markdown(rows: List[dict], device: str) -> str:
    frac = '% of GPU peak' if device == 'cuda' else '% of GEMM'
    out = [f'| arch | window | input | mode | dtype | impl | median ms | img/s | GFLOP/s | {frac} '
           '| peak MiB | x fastest peer | mem / leanest peer |',
           '|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        share = r['frac_peak'] if device == 'cuda' else r['frac_gemm']
        out.append(
            f"| {r['arch']} | {r['window']} | {r['shape']} | {r['mode']} | {r['dtype']} "
            f"| {r['impl']} | {r['median_ms']:.0f} | {r['img_s']:.2f} | {r['gflops']:.1f} "
            f"| {fmt(share and 100 * share, '.1f')} | {fmt(r['peak_mib'], '.0f')} "
            f"| {fmt(r.get('x_fastest_peer'), '.2f')} | {fmt(r.get('mem_vs_leanest_peer'), '.2f')} |")
    return '\n'.join(out)


def target_lines(rows: List[dict]) -> List[str]:
    """The CPU fp32 targets, where this run has the numbers for them."""
    def find(impl, mode, shape):
        for r in rows:
            if (r['impl'], r['mode'], r['shape'], r['arch'], r['window'], r['dtype']) == \
                    (impl, mode, shape, 'tiny', 16, 'fp32'):
                return r
    lines = []
    r = find('ours', 'eval', '1x3x800x1344')
    if r and 'x_fastest_peer' in r:
        lines.append(f"- eval 1x800x1344, tiny w16: x{r['x_fastest_peer']:.2f} the fastest peer "
                     f"(target >= 1.40): {'reached' if r['x_fastest_peer'] >= 1.4 else 'NOT reached'}")
    r = find('ours', 'train', '2x3x512x512')
    if r and 'x_fastest_peer' in r:
        lines.append(f"- train 2x512x512, tiny w16: x{r['x_fastest_peer']:.2f} the fastest peer "
                     f"(target >= 1.25): {'reached' if r['x_fastest_peer'] >= 1.25 else 'NOT reached'}")
    for shape in ('2x3x512x512', '1x3x800x1344'):
        r = find('ours', 'train', shape)
        if r and r.get('mem_vs_leanest_peer'):
            v = r['mem_vs_leanest_peer']
            lines.append(f'- train {shape} peak memory: {v:.2f} of the leanest peer (target <= 0.70): '
                         f"{'reached' if v <= 0.7 else 'NOT reached'}")
        cp = find('ours-cp', 'train', shape)
        if r and cp and r['peak_mib'] and cp['peak_mib']:
            saved = 1 - cp['peak_mib'] / r['peak_mib']
            lines.append(f'- with_cp at {shape}: {100 * saved:.0f} % less training memory '
                         f"(target >= 40 %): {'reached' if saved >= 0.4 else 'NOT reached'}")
    return lines


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


def machine_line(args, gemm_gflops: float) -> str:
    load = os.getloadavg()
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(l.split(':', 1)[1].strip() for l in f if l.startswith('model name'))
    except (OSError, StopIteration):
        pass
    gpu = f', GPU {torch.cuda.get_device_name()}' if args.device == 'cuda' else ''
    return (f'torch {torch.__version__}, {cpu}, {torch.get_num_threads()} threads{gpu}; '
            f'fp32 2048^3 matmul: {gemm_gflops:.1f} GFLOP/s; '
            f'load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}')


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--arch', nargs='+', choices=sorted(ARCHS), help='default: tiny base')
    p.add_argument('--window', nargs='+', type=int, help='default: 8 16 24')
    p.add_argument('--shape', nargs='+', help=f'named {SHAPES} or BxHxW; default: det seg')
    p.add_argument('--mode', nargs='+', default=['eval', 'train'], choices=['eval', 'train'])
    p.add_argument('--impl', nargs='+', default=['ours', 'timm', 'transformers', 'mmpretrain'],
                   choices=IMPLS, help='ours-cp: with_cp=True; ours-plain: fused_attention=False')
    p.add_argument('--with-cp', action='store_true', help='add ours-cp (train mode only)')
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument('--dtype', nargs='+', default=None, choices=sorted(DTYPES),
                   help='autocast dtype(s); default fp32 on CPU, bf16 and fp16 on CUDA')
    p.add_argument('--threads', type=int, default=None, help='torch threads (default: torch)')
    p.add_argument('--warmup', type=int, help='default: 2')
    p.add_argument('--repeats', type=int, help='default: 5')
    p.add_argument('--memory', action='store_true',
                   help='peak memory of each measurement, in a fresh subprocess')
    p.add_argument('--compile', action='store_true',
                   help='also time torch.compile(ours, fullgraph=True) beside eager')
    p.add_argument('--profile', action='store_true',
                   help='torch.profiler table of ours for every configuration')
    p.add_argument('--quick', action='store_true',
                   help='smoke run: tiny, window 8, 1x256x320, 1 warm-up, 2 repeats '
                        '(flags given explicitly win)')
    p.add_argument('--memory-child', help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.memory_child:
        print('MEMORY ' + json.dumps(measure_memory_child(json.loads(args.memory_child))))
        return
    defaults = dict(arch=['tiny', 'base'], window=[8, 16, 24], shape=['det', 'seg'],
                    warmup=2, repeats=5)
    if args.quick:
        defaults = dict(arch=['tiny'], window=[8], shape=['small'], warmup=1, repeats=2)
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.threads:
        torch.set_num_threads(args.threads)
    # Checkpoint-loading messages would land in the Markdown on stdout.
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: torch sees no CUDA device here')
    dtypes = args.dtype or (['bf16', 'fp16'] if args.device == 'cuda' else ['fp32'])
    impls, skipped = available_impls(args.impl)
    gemm = gemm_rate(args.device)
    print(f'Command: `{" ".join([os.path.relpath(sys.executable, ROOT)] + sys.argv)}`\n')
    print(machine_line(args, gemm) + '\n')
    for name, why in skipped.items():
        print(f'- {name}: not importable here ({why})')
    peak = None
    if args.device == 'cuda':
        name = torch.cuda.get_device_name()
        key = next((k for k in GPU_PEAK_TFLOPS if k in name), None)
        print(f'- GPU peak table entry: {key or "none (the % column stays empty)"}')
    all_rows = []
    for arch in args.arch:
        for window in args.window:
            for shape in args.shape:
                for mode in args.mode:
                    for dtype in dtypes:
                        if args.device == 'cuda' and key:
                            peak = GPU_PEAK_TFLOPS[key][dtype] * 1e3
                        run = list(impls) + (['ours-cp'] if args.with_cp and mode == 'train'
                                             and 'ours-cp' not in impls else [])
                        if mode == 'eval':
                            run = [i for i in run if i != 'ours-cp']
                        print(f'... {arch} w{window} {shape} {mode} {dtype}: {", ".join(run)}',
                              file=sys.stderr, flush=True)
                        rows = run_config(args, arch, window, shape, mode, dtype, run, gemm, peak)
                        all_rows.extend(rows)
                        for r in rows:  # progress, for long runs
                            print(f"    {r['impl']}: {r['median_ms']:.0f} ms, peak "
                                  f"{fmt(r['peak_mib'], '.0f')} MiB, x fastest peer "
                                  f"{fmt(r.get('x_fastest_peer'), '.2f')}", file=sys.stderr,
                                  flush=True)
                        if args.profile:
                            print(f'\nProfile of ours, {arch} w{window} {shape} {mode} {dtype}:\n')
                            print('```\n' + profile_table(args, arch, window, shape, mode, dtype)
                                  + '\n```\n')
    print()
    print(markdown(all_rows, args.device))
    lines = target_lines(all_rows)
    if lines:
        print('\nTargets (CPU fp32):\n' + '\n'.join(lines))
    compiled = [r for r in all_rows if 'compile_s' in r]
    for r in compiled:
        print(f"- {r['impl']} {r['arch']} w{r['window']} {r['shape']} {r['mode']}: first call "
              f"(compilation) {r['compile_s']:.1f} s")
    print(f'\nFLOPs by formula (tools/benchmark.py `swinv2_flops`: matmuls only, train = 3x '
          f'forward); median of {args.repeats} interleaved runs after {args.warmup} warm-up; '
          f'load average at end {os.getloadavg()[0]:.2f}.')


if __name__ == '__main__':
    main()
