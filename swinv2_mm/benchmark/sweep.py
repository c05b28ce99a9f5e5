"""The resolution sweep: every (shape, window, implementation) case in fresh processes (one
timing, one for peak memory), reported per pixel."""
import statistics
import sys
from typing import Dict, List, Optional, Sequence

from .measure import measure_memory, run_child
from .models import PEERS, parse_shape


def run_sweep(device: str, threads: int, tf32: bool, warmup: int, repeats: int,
              timeout: Optional[float], peers_up_to: Optional[int], arch_name: str,
              window: int, shape_name: str, mode: str, dtype_name: str,
              impls: Sequence[str], skipped: Dict[str, str]) -> List[dict]:
    B, H, W = parse_shape(shape_name)
    rows = []
    for impl in impls:
        spec = dict(impl=impl, arch=arch_name, window=window, shape=(B, H, W), mode=mode,
                    device=device, dtype=dtype_name, threads=threads, tf32=tf32,
                    warmup=warmup, repeats=repeats)
        row = dict(arch=arch_name, window=window, shape=f'{B}x3x{H}x{W}', pixels=B * H * W,
                   mode=mode, dtype=dtype_name, impl=impl, status='ok')
        why = ''
        if peers_up_to and impl in PEERS and H * W > peers_up_to ** 2:
            why = f'skipped: above --peers-up-to {peers_up_to}'
        timing = None
        if not why:
            timing, why = run_child('case', spec, timeout)
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
        row['peak_mib'] = measure_memory(spec, timeout)
        print(f"    {impl}: best {row['best_ms']:.0f} ms, {row['ns_px_best']:.0f} ns/px, peak "
              f"{'-' if row['peak_mib'] is None else format(row['peak_mib'], '.0f')} MiB",
              file=sys.stderr, flush=True)
        rows.append(row)
    # The sweep's ratios are against timm (the reference), best of repeats.
    timm = next((r for r in rows if r['impl'] == 'timm' and r['status'] == 'ok'), None)
    for r in rows:
        if timm and r['status'] == 'ok':
            r['x_timm'] = timm['best_ms'] / r['best_ms']
            if r.get('peak_mib') and timm.get('peak_mib'):
                r['mem_vs_timm'] = r['peak_mib'] / timm['peak_mib']
    return rows
