"""tools/benchmark.py (swinv2_mm/benchmark/): the Markdown report, the JSON record and where it
goes, autocast dtypes, the FLOP counts (formula and FlopCounterMode), the GEMM reference and
shares above 100 %, the resolution sweep with its plot and skips, the targets' verdicts, and
one-line errors on bad input. CI-sized: tiny models and inputs, seconds each."""
import json
import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, 'tools', 'benchmark.py')


@pytest.fixture(scope='module')
def bench():
    import swinv2_mm.benchmark
    return swinv2_mm.benchmark


def run(bench, argv):
    """main() in this process; it sets torch's thread count, which is put back."""
    threads = torch.get_num_threads()
    try:
        bench.main(argv)
    finally:
        torch.set_num_threads(threads)


def table_rows(out, prefix):
    return [line.split('|') for line in out.splitlines() if line.startswith(prefix)]


def test_quick_smoke_prints_the_table(bench, capsys, tmp_path, monkeypatch):
    """Without --json the record goes to outputs/benchmark/ under the working directory
    (untracked), never beside the tracked files."""
    monkeypatch.chdir(tmp_path)
    run(bench, ['--quick', '--impl', 'ours', 'ours-plain', 'timm', '--mode', 'eval',
                '--shape', '1x96x128', '--repeats', '1'])
    out = capsys.readouterr().out
    rows = table_rows(out, '| tiny | 8 | 1x3x96x128')
    assert [r[6].strip() for r in rows] == ['ours', 'ours-plain', 'timm']
    assert all(float(r[7]) > 0 for r in rows)
    assert all(float(r[13]) > 0 for r in rows)  # x timm: timm ran in the same rounds
    (record,) = (tmp_path / 'outputs' / 'benchmark').glob('benchmark-*.json')
    assert [p.name for p in tmp_path.iterdir()] == ['outputs']
    assert f'Record: {os.path.join("outputs", "benchmark", record.name)}' in out
    assert json.loads(record.read_text())['complete'] is True


def test_flop_formula_by_hand(bench):
    # 256x256 -> 64x64 tokens of 8 channels; stage 4: 8x8 tokens (one 8x8 window) of 64.
    arch = dict(embed_dims=8, depths=(0, 0, 0, 1), num_heads=(1, 1, 1, 1))
    tokens = 8 * 8
    stage4 = (2.0 * tokens * 64 * 3 * 64 + 2 * 2 * tokens * 64 * 64 + 2.0 * tokens * 64 * 64
              + 2 * 2 * tokens * 64 * 256)
    merges = 2.0 * (32 * 32 * 32 * 16 + 16 * 16 * 64 * 32 + 8 * 8 * 128 * 64)
    embed = 2.0 * 64 * 64 * 8 * 48
    assert bench.swinv2_flops(arch, 8, 1, 256, 256) == pytest.approx(embed + merges + stage4)


@pytest.mark.parametrize('shape', [(2, 512, 512), (1, 800, 1344)], ids=['seg', 'det-padded'])
@pytest.mark.parametrize('mode,factor', [('eval', 1), ('train', 3)])
def test_flop_counter_agrees_with_formula(bench, shape, mode, factor):
    """FlopCounterMode on timm's model (meta device: no compute) counts the network's matmul,
    conv and attention work; the formula leaves out only the CPB MLP (independent of the
    input size), and in training the input's gradient that nobody asks for. 800x1344 pads
    every stage to whole windows: attention runs on the padded map, the MLP does not."""
    arch = bench.ARCHS['tiny']
    formula = bench.swinv2_flops(arch, 16, *shape) * factor
    counted = bench.counted_flops(arch, 16, *shape, mode)
    assert counted == pytest.approx(formula, rel=0.01)


def test_json_record_with_dtypes(bench, capsys, tmp_path):
    out = tmp_path / 'run.json'
    out.write_text('{"an older record": true}\n')  # replaced only by a complete, verified one
    argv = ['--quick', '--impl', 'ours', 'timm', '--mode', 'eval', '--shape', '1x64x64',
            '--dtype', 'fp32', 'bf16', '--repeats', '3', '--threads', '1', '--json', str(out)]
    run(bench, argv)
    printed = capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record['complete'] is True
    assert record['command'][1:] == ['tools/benchmark.py'] + argv
    machine = record['machine']
    assert machine['threads'] == 1 and machine['torch'] == torch.__version__
    assert machine['cpu'] and machine['device'] == 'cpu' and 'gpu' in machine
    assert set(record['gemm_gflops']) == {'fp32', 'bf16'}
    # one GEMM sample at the start, one after each of the two configurations, one at the end
    assert all(len(v) == 4 for v in record['gemm_samples'].values())
    assert all(v > 0 for v in record['gemm_gflops'].values())
    rows = record['rows']
    assert sorted((r['impl'], r['dtype']) for r in rows) == [
        ('ours', 'bf16'), ('ours', 'fp32'), ('timm', 'bf16'), ('timm', 'fp32')]
    for r in rows:
        assert len(r['times_ms']) == 3 and r['median_ms'] == pytest.approx(
            sorted(r['times_ms'])[1])
        # The share of the GEMM rate uses the row's own dtype.
        assert r['frac_gemm'] == pytest.approx(r['gflops'] / record['gemm_gflops'][r['dtype']])
        # At 64x64 the input-independent CPB MLP is ~1.5 % of the work (well under 0.2 % at
        # real sizes, see test_flop_counter_agrees_with_formula).
        assert r['flops_counted'] and r['counted_over_formula'] == pytest.approx(1, rel=0.03)
    ours = next(r for r in rows if r['impl'] == 'ours' and r['dtype'] == 'bf16')
    timm = next(r for r in rows if r['impl'] == 'timm' and r['dtype'] == 'bf16')
    assert ours['x_timm'] == pytest.approx(timm['median_ms'] / ours['median_ms'])
    assert len(ours['round_ratios']) == 3
    assert 'Per-round ratios' in printed and 'FlopCounterMode' in printed
    assert [p.name for p in tmp_path.iterdir()] == ['run.json']  # no temporary file left


def test_sweep_with_plot_and_skips(bench, capsys, tmp_path):
    """Fresh processes per case; a peer above --peers-up-to and a case over --timeout are
    recorded as skipped, not lost; the plot is a PNG."""
    plot, out = tmp_path / 'sweep.png', tmp_path / 'sweep.json'
    run(bench, ['--sweep', '--arch', 'tiny', '--window', '8', '--shape', '64', '--mode', 'eval',
                '--impl', 'ours', 'timm', '--peers-up-to', '32', '--repeats', '2',
                '--threads', '1', '--plot', str(plot), '--json', str(out)])
    sweep = json.loads(out.read_text())['sweep']
    ours, timm = sweep
    assert ours['impl'] == 'ours' and ours['status'] == 'ok' and len(ours['times_ms']) == 2
    assert ours['ns_px_best'] == pytest.approx(min(ours['times_ms']) * 1e6 / (64 * 64))
    assert ours['peak_mib'] is not None and ours['peak_mib'] >= 0
    assert timm['status'] == 'skipped' and '--peers-up-to' in timm['reason']
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert '| tiny | 8 | 1x3x64x64 | eval | fp32 | ours |' in capsys.readouterr().out

    # --plot alone: the picture beside the record (here the default results folder).
    results = tmp_path / 'results'
    run(bench, ['--sweep', '--arch', 'tiny', '--window', '8', '--shape', '64', '--mode', 'eval',
                '--impl', 'ours', '--timeout', '0.5', '--plot', '--results-dir', str(results)])
    (record,) = results.glob('*.json')
    (case,) = json.loads(record.read_text())['sweep']
    assert case['status'] == 'skipped' and case['reason'].startswith('timeout')
    assert not list(results.glob('*.png'))  # nothing measured, nothing drawn


def row(impl, median, rounds=None, **kw):
    r = dict(arch='tiny', window=16, shape='2x3x512x512', mode='train', dtype='fp32',
             impl=impl, median_ms=median, times_ms=rounds or [median], peak_mib=None)
    r.update(kw)
    return r


def test_train_target_needs_every_round(bench):
    """x1.5 on the median is not enough: every interleaved round must be >= x1.3."""
    def verdict(ours_rounds):
        rows = [row('ours', sorted(ours_rounds)[1], ours_rounds),
                row('timm', 300, [300, 300, 300]), row('transformers', 320, [320, 320, 320])]
        bench.add_ratios(rows, lambda r: r['impl'].endswith(bench.COMPILED))
        (t,) = [t for t in bench.targets(rows, [], 'cpu') if 'every round' in t['target']]
        return t
    ok = verdict([190, 195, 200])
    assert ok['reached'] and ok['value'] == pytest.approx(300 / 195)
    one_slow_round = verdict([190, 195, 240])  # median x1.54, one round x1.25
    assert one_slow_round['value'] > 1.5 and not one_slow_round['reached']


@pytest.mark.parametrize('argv,message', [
    (['--shape', '12x'], "--shape '12x'"),
    (['--plot', 'x.png'], '--plot draws the resolution sweep'),
    (['--json', '/nonexistent-dir/run.json'], 'does not exist'),
    (['--timeout', '5'], 'add --sweep'),
])
def test_bad_input_is_one_line(bench, argv, message):
    with pytest.raises(SystemExit) as e:
        bench.main(argv)
    assert message in str(e.value) and '\n' not in str(e.value)


def test_bad_input_exits_without_traceback():
    proc = subprocess.run([sys.executable, SCRIPT, '--shape', 'huge'], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "tools/benchmark.py: error: --shape 'huge': use one of ['det', 'seg', 'small'], BxHxW "
        "(e.g. 1x800x1344) or a square size N (e.g. 1024)"]


def test_gemm_reference_is_a_median_and_shares_above_100_percent_are_flagged(bench):
    """One slow GEMM sample must not move the reference; a row above 100 % of it is a
    measurement problem: flagged in the row, marked in the table, no target verdict."""
    from swinv2_mm.benchmark.measure import GemmReference
    from swinv2_mm.benchmark.report import markdown
    ref = GemmReference('cpu', ['fp32', 'bf16'])
    ref.samples = {'fp32': [160.0, 40.0, 165.0], 'bf16': [400.0, 380.0, 150.0]}
    assert ref.rates() == {'fp32': 160.0, 'bf16': 380.0}
    rows = [row('ours', 1000, mode='eval', shape='1x3x800x1344', dtype='bf16', gflops=413.0,
                img_s=1.0),
            row('timm', 3000, mode='eval', shape='1x3x800x1344', dtype='bf16', gflops=137.0,
                img_s=0.3)]
    bench.add_ratios(rows, lambda r: False)
    flagged = bench.apply_shares(rows, ref.rates())
    assert [r['impl'] for r in flagged] == ['ours']
    assert rows[0]['frac_gemm'] == pytest.approx(413 / 380)
    assert 'measurement problem' in rows[0]['share_problem'] and 'share_problem' not in rows[1]
    (share,) = [t for t in bench.targets(rows, [], 'cpu') if 'GEMM' in t['target']]
    assert share['reached'] is None and 'measurement problem' in share['detail']
    assert '| 108.7 (!) |' in markdown(rows, 'cpu')


def test_profile_on_cpu_prints_no_cuda_noise(tmp_path):
    proc = subprocess.run([sys.executable, SCRIPT, '--quick', '--impl', 'ours', '--mode', 'eval',
                           '--shape', '1x64x64', '--repeats', '1', '--warmup', '1', '--profile',
                           '--threads', '1', '--json', str(tmp_path / 'p.json')],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'Profile of ours' in proc.stdout and 'aten::' in proc.stdout
    # stderr: the progress lines only (libkineto's "gpuGetDeviceCount failed" and its
    # profiler_start/stop lines are dropped on CPU)
    noise = [ln for ln in proc.stderr.splitlines() if not ln.startswith(('...', '    '))]
    assert not noise, proc.stderr
