"""Loading a checkpoint never runs code, reads memory or changes the process — tried as an
attacker who hands a user a file, through every entry point that loads one.

tests/_hostile_load.py writes the files and runs each (file, entry point) in a forked process
of its own (a crash is a result, not a lost test), watching for code (an audit hook, a marker
file) and comparing the process's state before and after. Cases:
- the attacks reported against the old process-wide allow-list: a forged object pointer, a
  view past a buffer, `__array_interface__` through HistoryBuffer(...), a rewrite of
  HistoryBuffer's class-level statistics table, a __setstate__ planted by one BUILD and
  called by a second, a forged pointer to os.system planted and called;
- classic hostile pickles: os.system in a raw pickle and in torch's legacy format,
  builtins.eval and subprocess in a torch zip;
- malformed archives: truncated, a record shorter than its storage, a deflated 256 MiB
  data.pkl (zip bomb), record names with '..', a list nested 100,000 deep, a tensor declaring
  a 1 TiB storage;
- and a fuzzer: seeded mutants of a real Runner checkpoint's pickle stream
  (SWINV2_MM_FUZZ_MUTANTS, 2,000 by default; docs/detection.md gives the long run).
The Runner checkpoints of the demos (ours) load through every entry point: the control.
"""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
pytest.importorskip('mmcv._ext')

from conftest import ROOT  # noqa: E402

ATTACKS = ['forged_pointer', 'oob_view', 'array_interface', 'class_table', 'two_build',
           'code_given_addresses']
CLASSIC = ['raw_pickle', 'legacy_format', 'zip_eval', 'zip_subprocess']
MALFORMED = ['truncated', 'record_sizes', 'zip_bomb', 'dotdot_names', 'deep_nesting',
             'huge_storage']
CONTROL = ['benign_det', 'benign_seg', 'mmdet_written', 'mmseg_written']
# Through the APIs and whole tools too (they load after building a model: seconds each)
HEAVY = ATTACKS + ['zip_eval', 'huge_storage'] + CONTROL
MUTANTS = int(os.environ.get('SWINV2_MM_FUZZ_MUTANTS', '2000'))
# torch's own torch.load (weights_only=True, as torch ships it) may read plain data that is
# merely unusual; every other entry point goes through our reader and must refuse.
STOCK = 'torch.load'
PLAIN_DATA = ('zip_bomb', 'deep_nesting')


@pytest.fixture(scope='module')
def report(data, ours, openmmlab_written, tmp_path_factory):
    work = tmp_path_factory.mktemp('hostile')
    for pkg in ('mmdet', 'mmseg'):
        proc = openmmlab_written[f'{pkg}_proc']
        assert proc.returncode == 0, proc.stderr[-3000:]
    spec = dict(work=str(work), det_ckpt=ours['det'], seg_ckpt=ours['seg'],
                mmdet_ckpt=openmmlab_written['mmdet'], mmseg_ckpt=openmmlab_written['mmseg'],
                coco=data['coco'],
                ade=data['ade'], det_image=data['det_image'], seg_image=data['seg_image'],
                heavy_cases=HEAVY, mutants=MUTANTS, seed=0)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'tests', '_hostile_load.py'),
                           json.dumps(spec)], cwd=ROOT, capture_output=True, text=True,
                          timeout=1800, env=dict(os.environ, OMP_NUM_THREADS='1',
                                                 PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results, fuzz = {}, None
    for line in proc.stdout.splitlines():
        if line.startswith('RESULT '):
            r = json.loads(line[len('RESULT '):])
            results.setdefault(r['case'], {})[r['entry']] = r
        elif line.startswith('FUZZ '):
            fuzz = json.loads(line[len('FUZZ '):])
    return results, fuzz


def _clean(r):
    """Nothing ran, nothing changed, the child did not crash or hang."""
    assert r['status'] in ('loaded', 'refused'), r
    assert not r['code_ran'] and not r['events'], r
    assert r['changed'] == [], r


@pytest.mark.slow
@pytest.mark.parametrize('case', ATTACKS + CLASSIC + MALFORMED)
def test_hostile_file_is_refused_by_every_entry_point(report, case):
    results = report[0][case]
    expected = 16 if case in HEAVY else 8
    assert len(results) == expected, sorted(results)
    for entry, r in results.items():
        _clean(r)
        if entry == STOCK and case in PLAIN_DATA:
            continue
        assert r['status'] == 'refused', (entry, r)
        if entry.startswith('tools/'):  # our tools: one line on stderr, exit code 1
            assert r['stderr_last'].startswith('error: ') and f'{case}.pth' in \
                r['stderr_last'], r
        elif entry != STOCK:  # one line that names the file
            assert r['lines'] == 1 and f'{case}.pth' in r['message'], (entry, r)
    # the refusal names what was wrong
    ours = results['mmengine._load_checkpoint']['message']
    assert ('refused to load checkpoint' in ours) or ('damaged' in ours), ours


@pytest.mark.slow
@pytest.mark.parametrize('case', CONTROL)
def test_runner_checkpoints_load_through_every_entry_point(report, case):
    """Runner checkpoints written by our tools and by mmdet's / mmseg's own tools/train.py
    load through mmengine's loaders, the inferencers and the tools (torch's own torch.load
    still refuses them: the import widened nothing)."""
    results = report[0][case]
    assert len(results) >= 9, sorted(results)
    for entry, r in results.items():
        _clean(r)
        assert r['status'] == ('refused' if entry == STOCK else 'loaded'), (entry, r)


@pytest.mark.slow
def test_fuzzed_runner_checkpoints_never_crash_or_escape(report):
    fuzz = report[1]
    counts = fuzz['counts']
    print(f'fuzzer: {fuzz["mutants"]} mutants of a {fuzz["seed_pickle_bytes"]}-byte Runner '
          f'pickle (seed {fuzz["seed"]}): {counts}')
    assert counts['crashed'] == 0 and fuzz['problems'] == [], fuzz
    assert sum(counts.values()) == MUTANTS
    assert counts['refused'] > 0 and counts['damaged'] > 0  # the mutants did reach the checks
