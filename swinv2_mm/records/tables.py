"""The docs' generated tables, each a function of the records (`<!-- table: NAME -->`).

A table shows what its record holds and nothing else: a peer added to the benchmark (a new
`--impl`) appears as a new row or column when its record is refreshed."""
from typing import Callable, Dict, List, Optional

from .store import Records, RecordError, format_value

TABLES: Dict[str, Callable[[Records], str]] = {}


def table(name: str):
    def register(fn):
        TABLES[name] = fn
        return fn
    return register


def _f(v, spec: str) -> str:
    return '-' if v is None else format(v, spec)


def _md(header: List[str], align: List[str], rows: List[List[str]]) -> str:
    out = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(align) + '|']
    out += ['| ' + ' | '.join(r) + ' |' for r in rows]
    return '\n'.join(out) + '\n'


def _is_peer(impl: str) -> bool:
    return not impl.startswith('ours')


def _peer_label(record: dict, impl: str) -> str:
    version = (record.get('machine', {}).get('packages') or {}).get(impl)
    return f'{impl} {version}' if version else impl


def _share(r: dict) -> str:
    if r.get('frac_gemm') is None:
        return '-'
    mark = ' (measurement problem)' if r.get('share_problem') else ''
    return f"{100 * r['frac_gemm']:.1f} %{mark}"


def _rounds(r: dict) -> str:
    rr = r.get('round_ratios') or []
    return ' '.join(f'{v:.2f}' for v in rr)


def _targets(record: dict) -> str:
    lines = []
    for t in record.get('targets', []):
        verdict = {True: 'reached', False: '**not reached**', None: 'no verdict'}[t['reached']]
        detail = f"; {t['detail']}" if t.get('detail') else ''
        lines.append(f"- {t['target']}: {t['value']:.3f} (target {t['goal']}): "
                     f"{verdict}{detail}")
    return '\n'.join(lines) + ('\n' if lines else '')


def _ours_first(rows: List[dict]) -> List[dict]:
    return sorted(rows, key=lambda r: (not r['impl'].startswith('ours'), r['impl'] != 'ours'))


def matrix_table(record: dict, with_dtype: bool) -> str:
    """Every row of a matrix record: time, rate, share of the GEMM rate, memory, ratios."""
    header = (['dtype'] if with_dtype else []) + [
        'impl', 'median ms', 'GFLOP/s', '% of GEMM (same dtype)', 'peak MiB',
        'x fastest peer (per round)', 'x timm', 'mem / leanest peer']
    align = ['---'] * (2 if with_dtype else 1) + ['---:'] * 7
    rows = []
    for dtype in dict.fromkeys(r['dtype'] for r in record['rows']):
        for r in _ours_first([r for r in record['rows'] if r['dtype'] == dtype]):
            ours = r['impl'].startswith('ours')
            ratio = _f(r.get('x_fastest_peer'), '.2f')
            if ours and r.get('round_ratios'):
                ratio += f' ({_rounds(r)})'
            rows.append(([dtype] if with_dtype else []) + [
                r['impl'], f"{r['median_ms']:.0f}", f"{r['gflops']:.1f}", _share(r),
                _f(r.get('peak_mib'), '.0f'), ratio, _f(r.get('x_timm'), '.2f'),
                _f(r.get('mem_vs_leanest_peer'), '.2f')])
    return _md(header, align, rows)


def gemm_line(record: dict) -> str:
    """The run's GEMM reference and where it ran (older records: one 2048^3 sample)."""
    m = record['machine']
    default = 8192 if m.get('device') == 'cuda' else 2048
    sizes = record.get('gemm_sizes') or {}
    samples = record.get('gemm_samples') or {}
    parts = []
    for k, v in (record.get('gemm_gflops') or {}).items():
        s = samples.get(k) or []
        spread = f', samples {min(s):.0f}-{max(s):.0f}' if len(s) > 1 else ''
        parts.append(f'{k} {v:.1f} ({sizes.get(k, default)}³{spread})')
    load = record['settings'].get('load_average_start', [None])[0]
    end = record['settings'].get('load_average_end', [None])[0]
    cpu = m['cpu'] + (f" ({m['cpu_capability']})" if m.get('cpu_capability') else '')
    return (f"GEMM reference in the same run, GFLOP/s: {', '.join(parts)}. Load average "
            f"{_f(load, '.1f')} at the start, {_f(end, '.1f')} at the end; {cpu}, "
            f"{m['threads']} threads, torch {m['torch']}, {record.get('started_utc', '?')[:10]}.\n")


@table('bench-det-eval')
def bench_det_eval(records: Records) -> str:
    rec = records['cpu_tiny_w16_det_eval']
    return matrix_table(rec, with_dtype=True) + '\n' + gemm_line(rec) + '\n' + _targets(rec)


@table('bench-seg-train')
def bench_seg_train(records: Records) -> str:
    rec = records['cpu_tiny_w16_seg_train']
    return matrix_table(rec, with_dtype=False) + '\n' + gemm_line(rec) + '\n' + _targets(rec)


@table('bench-train-1024')
def bench_train_1024(records: Records) -> str:
    rec = records['cpu_tiny_w32_1024_train']
    rows = [[r['impl'], f"{r['median_ms']:.0f}", _f(r.get('peak_mib'), '.0f'),
             _f(r.get('mem_vs_timm'), '.2f')] for r in _ours_first(rec['rows'])]
    load = rec['settings'].get('load_average_start', [None])[0]
    return (_md(['impl', 'time of 1 step, ms', 'peak MiB', 'memory / timm'],
                ['---', '---:', '---:', '---:'], rows)
            + f"\nLoad average {_f(load, '.1f')} at the start; {rec.get('started_utc', '?')[:10]}."
            '\n')


@table('bench-sweep')
def bench_sweep(records: Records) -> str:
    rec = records['cpu_sweep_tiny']
    cases: Dict[tuple, Dict[str, dict]] = {}
    for r in rec['sweep']:
        cases.setdefault((r['window'], r['shape']), {})[r['impl']] = r
    peers = sorted({r['impl'] for r in rec['sweep'] if _is_peer(r['impl'])})
    header = ['window', 'input', 'ours best ms', 'ours ns/px', 'ours peak MiB']
    for p in peers:
        header += [f'{p} best ms', f'{p} ns/px', f'{p} peak MiB', f'time / {p}',
                   f'memory / {p}']
    rows = []
    for (window, shape), by_impl in cases.items():
        side = int(shape.split('x')[-1])
        row = [str(window), f'{side}²']
        for impl in ['ours'] + peers:
            r = by_impl.get(impl)
            if r is None or r['status'] != 'ok':
                why = r.get('reason', 'not run') if r else 'not run'
                row += [why] + [''] * (2 if impl == 'ours' else 4)
                continue
            row += [f"{r['best_ms']:.0f}", f"{r['ns_px_best']:.0f}", _f(r.get('peak_mib'), '.0f')]
            if impl != 'ours':
                ours = by_impl.get('ours')
                ok = ours and ours['status'] == 'ok'
                row += [_f(ours['best_ms'] / r['best_ms'] if ok else None, '.2f'),
                        _f(ours['peak_mib'] / r['peak_mib'] if ok and ours.get('peak_mib')
                           and r.get('peak_mib') else None, '.2f')]
        rows.append(row)
    load = rec['settings'].get('load_average_start', [None])[0]
    return (_md(header, ['---', '---'] + ['---:'] * (len(header) - 2), rows)
            + f"\nBest of {rec['settings']['repeats']} after {rec['settings']['warmup']} warm-up, "
            f"a fresh process per case; load average {_f(load, '.1f')} at the start; "
            f"{rec.get('started_utc', '?')[:10]}.\n\n" + _targets(rec))


@table('bench-compile')
def bench_compile(records: Records) -> str:
    rec = records['cpu_tiny_w16_seg_compile']
    rows = []
    for r in rec['rows']:
        if r['impl'].endswith('+compile'):
            eager = next(e for e in rec['rows'] if e['impl'] == r['impl'][:-len('+compile')]
                         and e['mode'] == r['mode'])
            rows.append([f"{r['shape']} {r['mode']}", f"{eager['median_ms']:.0f} ms",
                         f"{r['median_ms']:.0f} ms (x{eager['median_ms'] / r['median_ms']:.2f})",
                         f"{r.get('compile_s', 0):.0f} s"])
    load = rec['settings'].get('load_average_start', [None])[0]
    return (_md(['input, mode', 'eager (median)', '`torch.compile` (Inductor)',
                 'compilation (first call)'], ['---', '---:', '---:', '---:'], rows)
            + f"\nMedian of {rec['settings']['repeats']} after {rec['settings']['warmup']} warm-up, "
            f"interleaved; load average {_f(load, '.1f')} at the start; "
            f"{rec.get('started_utc', '?')[:10]}.\n")


def _summary_row(label: str, rows: List[dict], peers: List[str], note: str = '') -> List[str]:
    by = {r['impl']: r for r in rows}
    ours = by.get('ours')
    if ours is None:
        raise RecordError(f'{label}: no row of ours')
    cells = [label, f"{ours['median_ms']:.0f} ms, {_f(ours.get('peak_mib'), '.0f')} MiB"]
    for p in peers:
        r = by.get(p)
        cells.append(f"{r['median_ms']:.0f} ms, {_f(r.get('peak_mib'), '.0f')} MiB" if r else '-')
    rounds = ours.get('round_ratios') or []
    cells += [f"{_f(ours.get('x_fastest_peer'), '.2f')}"
              + (f' ({min(rounds):.2f})' if rounds else ''), _share(ours),
              _f(ours.get('mem_vs_leanest_peer'), '.2f')]
    return cells


@table('speed-summary')
def speed_summary(records: Records) -> str:
    """README: the detection-size eval (fp32, bf16) and the segmentation-size train step."""
    det, seg = records['cpu_tiny_w16_det_eval'], records['cpu_tiny_w16_seg_train']
    peers = list(dict.fromkeys(r['impl'] for rec in (det, seg) for r in rec['rows']
                               if _is_peer(r['impl'])))
    header = ['input, mode, dtype', 'this package'] + [_peer_label(det, p) for p in peers] + [
        'x fastest peer (slowest round)', '% of GEMM rate (same dtype)', 'memory / leanest peer']
    rows = []
    for rec in (det, seg):
        groups: Dict[tuple, List[dict]] = {}
        for r in rec['rows']:
            groups.setdefault((r['shape'], r['mode'], r['dtype']), []).append(r)
        for (shape, mode, dtype), rs in groups.items():
            label = f"{shape.replace('x', '×')} {mode} {dtype}" + (' autocast' if dtype != 'fp32'
                                                                     else '')
            rows.append(_summary_row(label, rs, peers))
    notes = []
    for rec in (det, seg):
        r = rec['rows'][0]
        counted = (f", FlopCounterMode on timm's model x{r['counted_over_formula']:.3f} of it"
                   if r.get('counted_over_formula') else '')
        notes.append(f"{r['shape'].replace('x', '×')} {r['mode']}: "
                     f"{r['flops_formula'] / 1e9:.0f} GFLOP per step by formula{counted}")
    by = {r['impl']: r for r in seg['rows']}
    if by.get('ours', {}).get('peak_mib') and by.get('ours-cp', {}).get('peak_mib'):
        notes.append(f"`with_cp=True` cuts the training step's peak memory by "
                     f"{100 * (1 - by['ours-cp']['peak_mib'] / by['ours']['peak_mib']):.0f} % "
                     f"({by['ours-cp']['peak_mib']:.0f} MiB)")
    return (_md(header, ['---'] + ['---:'] * (len(header) - 1), rows) + '\n'
            + ''.join(_targets(rec) for rec in (det, seg)) + '\n' + '; '.join(notes) + '.\n\n'
            + gemm_line(det) + '\n' + gemm_line(seg))


@table('demo-detection-ap')
def demo_detection_ap(records: Records) -> str:
    m = records['demo_detection']['metrics']
    cols = [('AP', 'mAP'), ('AP50', 'mAP_50'), ('AP75', 'mAP_75'), ('AP_s', 'mAP_s'),
            ('AP_m', 'mAP_m'), ('AP_l', 'mAP_l')]
    rows = []
    for kind in ('bbox', 'segm'):
        rows.append([kind] + [_ap(m.get(f'coco/{kind}_{key}')) for _, key in cols])
    return _md([''] + [c for c, _ in cols], ['---'] + ['---:'] * len(cols), rows)


def _ap(v: Optional[float]) -> str:
    # CocoMetric reports -1 where the split has no object of that size.
    return 'no such objects' if v is not None and v < 0 else _f(v, '.3f')


@table('demo-detection-classes')
def demo_detection_classes(records: Records) -> str:
    rec = records['demo_detection']
    per_class = rec.get('per_class') or {}
    if not per_class:
        raise RecordError('demo_detection: no per_class figures')
    names = list(per_class)
    kinds = list(per_class[names[0]])
    return _md(['class'] + [f'{k} AP' for k in kinds], ['---'] + ['---:'] * len(kinds),
               [[n] + [_ap(per_class[n][k]) for k in kinds] for n in names])


def _load(rec: dict) -> str:
    load = rec.get('load_average') or (rec.get('provenance') or {}).get('load_average_start')
    return _f(load[0] if load else None, '.1f')


# docs/heads.md: one training step of each Mask2Former / DINO config (tools/step_memory.py)
HEADS_STEP_MEMORY = [f'train_step_memory_{n}' for n in (
    'mask2former_swinv2_tiny_coco-panoptic', 'mask2former_swinv2_small_coco-panoptic',
    'mask2former_swinv2_base_coco-panoptic', 'mask2former_swinv2_tiny_ade20k',
    'mask2former_swinv2_small_ade20k', 'mask2former_swinv2_base_ade20k',
    'dino_swinv2_tiny_coco_12e_400x667')]


@table('heads-memory')
def heads_memory(records: Records) -> str:
    rows = []
    for name in HEADS_STEP_MEMORY:
        r = records[name]
        b = r['backbone']
        rows.append([f"`{r['config']}`", 'x'.join(str(v) for v in r['input']),
                     f"{b['arch']}, window {b['window_size']}"
                     + (', with_cp' if b.get('with_cp') else ''),
                     f"{r['parameters'] / 1e6:.1f} M", f"{r['peak_rss_gib']:.1f}",
                     f"{r['step_added_gib']:.1f}", f"{r['step_seconds']:.0f}", _load(r),
                     r['date']])
    return _md(['config', 'input', 'backbone', 'parameters', 'peak RSS GiB',
                'added by the step GiB', 'step s (1 thread)', 'load average', 'measured'],
               ['---', '---', '---', '---:', '---:', '---:', '---:', '---:', '---'], rows)


@table('heads-msda')
def heads_msda(records: Records) -> str:
    rows = []
    for name in ('deform_attn_time_mask2former_demo',
                 'deform_attn_time_mask2former_swinv2_tiny_ade20k'):
        r = records[name]
        rows.append([f"`{r['config']}`", 'x'.join(str(v) for v in r['input']),
                     f"{r['msda_calls']} x {r['msda_queries']} queries, "
                     f"{len(r['msda_levels'])} levels",
                     f"{r['msda_seconds']:.2f}", f"{r['step_seconds']:.2f}",
                     f"{100 * r['msda_share']:.1f} %", _load(r), r['date']])
    return _md(['config', 'input', 'deformable attention calls', 'their forward + backward s',
                'training step s', 'share of the step', 'load average', 'measured'],
               ['---', '---', '---', '---:', '---:', '---:', '---:', '---'], rows)


def _checks(name: str):
    def render(records: Records) -> str:
        return '```text\n' + '\n'.join('  ' + ln for ln in records[name]['checks']) + '\n```\n'
    return render


for _name in ('onnx_speed_backbone', 'onnx_speed_upernet', 'onnx_checks_detector'):
    TABLES[f'onnx-checks-{_name.split("_")[-1]}'] = _checks(_name)


@table('onnx-speed')
def onnx_speed(records: Records) -> str:
    rows = []
    for name, label in (('onnx_speed_backbone', 'SwinV2-T backbone (window 16)'),
                        ('onnx_speed_upernet', 'SwinV2-T UperNet (tiny ADE20K config)')):
        rec = records[name]
        s = rec['speed']
        load = rec['provenance'].get('load_average_start')
        rows.append([f"{label}, {s['input']}", f"{s['onnxruntime_ms'] / 1e3:.2f} s",
                     f"{s['eager_ms'] / 1e3:.2f} s", f"{s['eager_ms'] / s['onnxruntime_ms']:.2f}×",
                     _f(load[0] if load else None, '.1f'),
                     rec['provenance']['started_utc'][:10]])
    return _md(['model, input', 'onnxruntime', 'eager PyTorch', 'eager / onnxruntime',
                'load average', 'measured'], ['---', '---:', '---:', '---:', '---:', '---'], rows)


__all__ = ['TABLES', 'format_value']
