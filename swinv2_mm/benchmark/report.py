"""What a run prints and draws: the Markdown tables, the issues' targets, the sweep's plot."""
import os
import tempfile
from typing import List, Optional

from .record import publish


def fmt(v, spec: str) -> str:
    return '-' if v is None else format(v, spec)


def share_cell(r: dict, device: str) -> str:
    share = r.get('frac_peak') if device == 'cuda' else r.get('frac_gemm')
    cell = fmt(share and 100 * share, '.1f')
    return cell + ' (!)' if r.get('share_problem') else cell


def markdown(rows: List[dict], device: str) -> str:
    frac = '% of GPU peak' if device == 'cuda' else '% of GEMM'
    out = [f'| arch | window | input | mode | dtype | impl | median ms | img/s | GFLOP/s | {frac} '
           '| peak MiB | x fastest peer | x timm | mem / leanest peer |',
           '|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        out.append(
            f"| {r['arch']} | {r['window']} | {r['shape']} | {r['mode']} | {r['dtype']} "
            f"| {r['impl']} | {r['median_ms']:.0f} | {r['img_s']:.2f} | {r['gflops']:.1f} "
            f"| {share_cell(r, device)} | {fmt(r['peak_mib'], '.0f')} "
            f"| {fmt(r.get('x_fastest_peer'), '.2f')} | {fmt(r.get('x_timm'), '.2f')} "
            f"| {fmt(r.get('mem_vs_leanest_peer'), '.2f')} |")
    return '\n'.join(out)


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


def _target(name: str, value: Optional[float], goal: str, reached: Optional[bool],
            detail: str = '') -> dict:
    return dict(target=name, goal=goal, value=value, reached=reached, detail=detail)


def targets(rows: List[dict], sweep: List[dict], device: str) -> List[dict]:
    """The issues' targets, for those this run has the numbers of; value None = not measured.
    A share of the GEMM rate flagged as a measurement problem gives no verdict (None)."""
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
                               r['frac_gemm'], '>= 0.50',
                               None if r.get('share_problem') else r['frac_gemm'] >= 0.5,
                               r.get('share_problem', '')))
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
