"""The matrix: for one configuration, every implementation in one process on the same input,
timed in interleaved rounds; then ratios and shares of the GEMM rate or GPU peak."""
import gc
import statistics
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import torch

from .flops import config_flops
from .measure import DTYPES, make_step, measure_memory, timed
from .models import ARCHS, PEERS, build, parse_shape, reason, timm_weights_file

COMPILED = '+compile'
# A share of the GEMM rate above this is not a fast network but a bad reference sample.
SHARE_LIMIT = 1.0


@dataclass
class Settings:
    device: str = 'cpu'
    warmup: int = 2
    repeats: int = 5
    compile: bool = False
    memory: bool = False
    tf32: bool = False


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


def apply_shares(rows: List[dict], gemm: Dict[str, float]) -> List[dict]:
    """Each row's share of the GEMM rate of its dtype (CPU); rows above 100 % are flagged
    (`share_problem`) and returned: the reference, not the network, is off."""
    flagged = []
    for r in rows:
        ref = gemm.get(r['dtype'])
        r['frac_gemm'] = r['gflops'] / ref if ref else None
        r.pop('share_problem', None)
        if r['frac_gemm'] is not None and r['frac_gemm'] > SHARE_LIMIT:
            r['share_problem'] = (f"{100 * r['frac_gemm']:.1f} % of the {r['dtype']} GEMM "
                                  'rate: a measurement problem (the GEMM reference was slow, '
                                  'or the machine was busy); rerun on a quiet machine')
            flagged.append(r)
    return flagged


def run_config(s: Settings, arch_name: str, window: int, shape_name: str, mode: str,
               dtype_name: str, impls: Sequence[str], peak_gflops: Optional[float],
               skipped: Dict[str, str]) -> List[dict]:
    arch, (B, H, W) = ARCHS[arch_name], parse_shape(shape_name)
    device, dtype = s.device, DTYPES[dtype_name]
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
    if s.compile:
        for impl in list(models):
            # ours must capture whole (the test suite checks it); peers may break graphs.
            models[impl + COMPILED] = torch.compile(models[impl], dynamic=False,
                                                    fullgraph=impl.startswith('ours'))
    steps = {name: make_step(m, x, mode, device, dtype) for name, m in models.items()}
    compile_s = {}
    for name in list(steps):  # warm-up (and compilation) outside the timed runs
        try:
            for i in range(s.warmup):
                t = timed(steps[name], device)
                if i == 0 and name.endswith(COMPILED):
                    compile_s[name] = t
        except Exception as e:  # e.g. a peer that does not compile: recorded, not fatal
            skipped[f'{name} {label}'] = f'failed in warm-up: {reason(e)}'
            del steps[name]
    times = {name: [] for name in steps}
    for _ in range(s.repeats):  # interleaved: every model once per round
        for name, step in steps.items():
            times[name].append(timed(step, device))
    flops = config_flops(arch_name, window, B, H, W, mode)
    rows = []
    for name in steps:
        med = statistics.median(times[name])
        gflops = flops['flops_formula'] / med / 1e9
        row = dict(arch=arch_name, window=window, shape=f'{B}x3x{H}x{W}', pixels=B * H * W,
                   mode=mode, dtype=dtype_name, impl=name, median_ms=med * 1e3,
                   best_ms=min(times[name]) * 1e3, times_ms=[t * 1e3 for t in times[name]],
                   img_s=B / med, gflops=gflops, frac_gemm=None,
                   frac_peak=(gflops / peak_gflops) if peak_gflops else None, peak_mib=None,
                   **flops)
        if name in compile_s:
            row['compile_s'] = compile_s[name]
        rows.append(row)
    del steps, models
    gc.collect()
    if s.memory:
        for row in rows:
            if row['impl'].endswith(COMPILED):
                continue  # compiled memory: not measured (compilation in each subprocess)
            row['peak_mib'] = measure_memory(dict(
                impl=row['impl'], arch=arch_name, window=window, shape=(B, H, W), mode=mode,
                device=device, dtype=dtype_name, threads=torch.get_num_threads(),
                tf32=s.tf32))
    add_ratios(rows, lambda r: r['impl'].endswith(COMPILED))
    return rows
