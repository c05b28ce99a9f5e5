"""A plugin for all of OpenMMLab: checkpoints that an mmengine Runner wrote (ours or mmdet's /
mmseg's own tools/train.py) load through every OpenMMLab entry point once `custom_imports`
has imported swinv2_mm — mmdet's and mmseg's inference APIs, mmdet's own tools/train.py
--resume, mmseg's own tools/test.py — run as a user runs them; and hostile files (a raw
pickle, a torch zip, a Runner-shaped checkpoint) are refused by each of them, with nothing
in them run.
"""
import json
import os
import os.path as osp
import pickle
import runpy
import subprocess
import sys

import pytest
import torch

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
pytest.importorskip('mmcv._ext')

import swinv2_mm  # noqa: E402,F401 - what custom_imports does

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DET = 'configs/demo/cascade_swinv2_demo_synthetic.py'
SEG = 'configs/demo/upernet_swinv2_demo_synthetic.py'
SITE_TOOLS = {pkg: osp.join(osp.dirname(__import__(pkg).__file__), '.mim', 'tools')
              for pkg in ('mmdet', 'mmseg')}
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
# through every entry point; 'runner_getattr' (getattr reaching past HistoryBuffer's
# statistics) through our reader alone: the same unpickler sits behind every entry point
# (tests/test_hostile_files.py takes every attack through every entry point)
HOSTILE = ('raw_pickle', 'torch_zip', 'runner_shaped')
from conftest import SHORT, det_data_options, seg_data_options  # noqa: E402 - the demo fixtures' options


def _run(args, timeout=600):
    """A command as a user runs it, from the repository root."""
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope='module')
def mmdet_resumed(openmmlab_written):
    """mmdet's own tools/train.py --resume from our checkpoint, one more iteration."""
    return openmmlab_written['mmdet_proc'], osp.dirname(openmmlab_written['mmdet'])


class _Payload:
    """Unpickling this would create a folder: the proof that code from a file ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


class _Escalation:
    """getattr names HistoryBuffer's statistics only; a file that reaches for anything else
    through it (here a dunder of the class) is refused."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


@pytest.fixture(scope='module')
def hostile(ours, tmp_path_factory):
    """kind -> (file, marker folder that must never appear)."""
    folder = tmp_path_factory.mktemp('hostile')
    from swinv2_mm.checkpoint import read_torch_file
    runner = read_torch_file(ours['det'], map_location='cpu')  # a real Runner checkpoint
    files = {}
    for kind in HOSTILE + ('runner_getattr',):
        path, marker = str(folder / f'{kind}.pth'), str(folder / f'{kind}_code_ran')
        if kind == 'raw_pickle':
            with open(path, 'wb') as f:
                pickle.dump({'state_dict': runner['state_dict'], 'meta': _Payload(marker)}, f,
                            protocol=2)
        elif kind == 'torch_zip':
            torch.save(_Payload(marker), path)
        else:
            evil = dict(runner)
            hub = dict(evil['message_hub'])
            hub['runtime_info'] = dict(hub['runtime_info'], iter=_Payload(marker) if
                                       kind == 'runner_shaped' else _Escalation())
            evil['message_hub'] = hub
            torch.save(evil, path)
        files[kind] = (path, marker)
    return files


def _refused(message):
    return 'refused to load checkpoint' in message


# -- the inference APIs, in a fresh process as a notebook uses them ---------------------------
def test_inference_apis_load_runner_checkpoints_and_refuse_hostile_files(data, ours,
                                                                          mmdet_resumed,
                                                                          hostile):
    mmdet_written = osp.join(mmdet_resumed[1], 'iter_2.pth')
    assert osp.isfile(mmdet_written), mmdet_resumed[0].stderr[-3000:]
    bad = {kind: hostile[kind][0] for kind in HOSTILE}
    spec = dict(
        det=dict(config=DET, image=data['det_image'],
                 checkpoints=dict(ours=ours['det'], mmdet_train=mmdet_written, **bad)),
        seg=dict(config=SEG, image=data['seg_image'], checkpoints=dict(ours=ours['seg'], **bad)))
    proc = _run([osp.join(ROOT, 'tests', '_inference_apis.py'), json.dumps(spec)])
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
    assert proc.returncode == 0 and line, proc.stderr[-3000:]
    results = json.loads(line[0][len('RESULT '):])
    # torch's own torch.load refuses the Runner's checkpoint, before and after the plugin's
    # import: the import widens nothing outside OpenMMLab's checkpoint loading
    for when in ('before', 'after'):
        status, message = results.pop(f'torch.load/{when}_custom_imports')
        assert status == 'error' and 'Weights only load failed' in message, (when, message)
    for api in ('init_detector', 'DetInferencer'):
        for name in ('ours', 'mmdet_train'):
            status, found = results.pop(f'{api}/{name}')
            assert status == 'ok' and isinstance(found, int), (api, name, found)
    for api in ('init_model', 'MMSegInferencer'):
        status, shape = results.pop(f'{api}/ours')
        assert status == 'ok' and shape[-2:] == data['seg_image_hw'], (api, shape)
    assert len(results) == 4 * len(HOSTILE)
    for key, (status, message) in results.items():
        assert status == 'error' and _refused(message), (key, message)
    assert not any(osp.exists(marker) for _, marker in hostile.values())


# -- mmdet's and mmseg's own tools, as their users run them -----------------------------------
def test_mmdet_train_resumes_a_runner_checkpoint(mmdet_resumed):
    proc, work = mmdet_resumed
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'resumed epoch: 0, iter: 1' in log and 'Iter(train) [2/2]' in log
    assert osp.isfile(osp.join(work, 'iter_2.pth'))


def test_mmseg_test_tool_tests_a_runner_checkpoint(data, ours, tmp_path):
    proc = _run([osp.join(SITE_TOOLS['mmseg'], 'test.py'), SEG, ours['seg'], '--work-dir',
                 str(tmp_path), '--cfg-options', *seg_data_options(data['ade'])[1:]])
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'mIoU' in log and 'Iter(test) [2/2]' in log


def _mm_tool(pkg, name, argv, monkeypatch):
    """mmdet's / mmseg's own tool with its command line, in this process (the refusal is the
    same code path; a fresh process per hostile file would cost a minute of imports)."""
    monkeypatch.setattr(sys, 'argv', [name, *argv])
    runpy.run_path(osp.join(SITE_TOOLS[pkg], name), run_name='__main__')


@pytest.mark.parametrize('kind', HOSTILE)
def test_openmmlab_tools_refuse_hostile_checkpoints(kind, data, hostile, tmp_path,
                                                    monkeypatch):
    path, marker = hostile[kind]
    monkeypatch.chdir(ROOT)
    from swinv2_mm.engine import UnsafeCheckpointError
    with pytest.raises(UnsafeCheckpointError, match='refused to load checkpoint'):
        _mm_tool('mmdet', 'train.py', [DET, '--work-dir', str(tmp_path / 'det'), '--resume',
                                       path, '--cfg-options', *det_data_options(data['coco']),
                                       *SHORT, 'train_cfg.max_iters=2'], monkeypatch)
    assert not osp.exists(osp.join(tmp_path, 'det', 'iter_2.pth'))
    with pytest.raises(UnsafeCheckpointError, match='refused to load checkpoint'):
        _mm_tool('mmseg', 'test.py', [SEG, path, '--work-dir', str(tmp_path / 'seg'),
                                      '--cfg-options', *seg_data_options(data['ade'])[1:]],
                 monkeypatch)
    # and this package's own reader (tools/test.py, --resume, image_demo.py)
    from swinv2_mm.engine.checkpoint_files import read_checkpoint_file
    with pytest.raises(UnsafeCheckpointError, match='refused to load checkpoint'):
        read_checkpoint_file(path, 'checkpoint')
    assert not osp.exists(marker)


def test_hostile_files_refused_by_torch_and_by_our_reader(hostile, ours):
    """torch.load itself still refuses every hostile file and also the Runner's own
    checkpoint (the import widened nothing); our reader refuses the hostile ones, naming
    what they ask for, and reads the Runner's."""
    from swinv2_mm.checkpoint import UnsafeCheckpointError, read_torch_file
    for kind, (path, marker) in hostile.items():
        with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
            torch.load(path, map_location='cpu')
        with pytest.raises(UnsafeCheckpointError, match='refused to load checkpoint') as e:
            read_torch_file(path)
        assert len(str(e.value).splitlines()) == 1
        if kind == 'runner_getattr':
            assert "getattr(mmengine.logging.history_buffer.HistoryBuffer, '__init__')" in \
                str(e.value)
        elif kind != 'raw_pickle':  # (a raw pickle is refused at its first global already)
            assert 'os.mkdir' in str(e.value) or 'posix.mkdir' in str(e.value), str(e.value)
        assert not osp.exists(marker)
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        torch.load(ours['det'], map_location='cpu')
    assert set(read_torch_file(ours['det'])) >= {'meta', 'state_dict', 'message_hub'}


def test_import_changes_no_torch_allow_list_and_routes_mmengine_loading():
    """In a fresh process: `import swinv2_mm` adds nothing to torch's safe globals (torch
    registers its own DTensor classes when mmengine imports torch.distributed.tensor: only
    torch's own may appear); mmengine's local and http(s) schemes are ours afterwards, the
    others mmengine's."""
    code = (
        'import torch, json; g = torch.serialization.get_safe_globals; before = set(map(str, g()));'
        'import swinv2_mm; added = sorted(set(map(str, g())) - before);'
        'from mmengine.runner.checkpoint import CheckpointLoader as C;'
        'print(json.dumps([added, {p: f.__module__ for p, f in C._schemes.items()}]))')
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=ENV, capture_output=True,
                         text=True, timeout=300)
    added, schemes = json.loads(out.stdout.strip().splitlines()[-1])
    assert all(name.startswith("<class 'torch.distributed.") for name in added), added
    ours = 'swinv2_mm.engine.checkpoint_safety'
    assert schemes[''] == schemes['http://'] == schemes['https://'] == ours
    assert all(m == 'mmengine.runner.checkpoint' for p, m in schemes.items()
               if p not in ('', 'http://', 'https://'))
