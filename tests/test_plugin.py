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
# through every entry point; 'runner_getattr' (the allow-list's one function abused) is
# read by torch.load alone: the same unpickler sits behind every entry point
HOSTILE = ('raw_pickle', 'torch_zip', 'runner_shaped')
# a couple of iterations, no validation: the demo configs shrunk for a test
SHORT = ['train_dataloader.batch_size=2', 'default_hooks.checkpoint.interval=1',
         'default_hooks.logger.interval=1', 'val_cfg=None', 'val_dataloader=None',
         'val_evaluator=None']


def _det_data(root):
    return [f'train_dataloader.dataset.data_root={root}']


def _seg_data(root):
    return [f'{loader}.dataset.data_root={root}'
            for loader in ('train_dataloader', 'test_dataloader')]


def _run(args, timeout=600):
    """A command as a user runs it, from the repository root."""
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def _our_train(argv):
    """tools/train.py's main() in this process (its own tests run it as a subprocess)."""
    code = runpy.run_path(osp.join(ROOT, 'tools', 'train.py'))['main'](argv)
    assert code == 0


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    from swinv2_mm.demo import ade_shapes, coco_shapes
    root = tmp_path_factory.mktemp('data')
    coco = str(root / 'coco') + '/'
    coco_shapes.generate(coco, num_train=2, num_val=2, image_size=128, seed=3)
    ade = ade_shapes.generate(str(root / 'ade'), num_train=2, num_val=2)
    seg_image = osp.join(ade, 'images', 'validation', 'ade_shapes_00000.jpg')
    import cv2
    return dict(coco=coco, ade=ade, det_image=osp.join(coco, 'val', '000001.png'),
                seg_image=seg_image, seg_image_hw=list(cv2.imread(seg_image).shape[:2]))


@pytest.fixture(scope='module')
def ours(data, tmp_path_factory):
    """Runner checkpoints written by our tools/train.py: one iteration of each demo."""
    work = tmp_path_factory.mktemp('ours')
    _our_train([osp.join(ROOT, DET), '--work-dir', str(work / 'det'), '--cfg-options',
                *_det_data(data['coco']), *SHORT, 'train_cfg.max_iters=1'])
    _our_train([osp.join(ROOT, SEG), '--work-dir', str(work / 'seg'), '--cfg-options',
                *_seg_data(data['ade']), *SHORT, 'train_cfg.max_iters=1'])
    return dict(det=str(work / 'det' / 'iter_1.pth'), seg=str(work / 'seg' / 'iter_1.pth'))


@pytest.fixture(scope='module')
def mmdet_resumed(data, ours, tmp_path_factory):
    """mmdet's own tools/train.py --resume from our checkpoint, one more iteration."""
    work = str(tmp_path_factory.mktemp('mmdet_resume'))
    proc = _run([osp.join(SITE_TOOLS['mmdet'], 'train.py'), DET, '--work-dir', work,
                 '--resume', ours['det'], '--cfg-options', *_det_data(data['coco']), *SHORT,
                 'train_cfg.max_iters=2'])
    return proc, work


class _Payload:
    """Unpickling this would create a folder: the proof that code from a file ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


class _Escalation:
    """builtins.getattr is allowed for HistoryBuffer's statistics only; a file that reaches
    for anything else through it (here a dunder of the allowed class) is refused."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


@pytest.fixture(scope='module')
def hostile(ours, tmp_path_factory):
    """kind -> (file, marker folder that must never appear)."""
    folder = tmp_path_factory.mktemp('hostile')
    runner = torch.load(ours['det'], map_location='cpu')  # a real Runner checkpoint
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
    return 'Weights only load failed' in message or 'refused to load checkpoint' in message


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
    # without the plugin, torch refuses the Runner's checkpoint; with it, it loads
    status, message = results.pop('torch.load/before_custom_imports')
    assert status == 'error' and 'Weights only load failed' in message, message
    assert results.pop('torch.load/after_custom_imports') == [
        'ok', ['message_hub', 'meta', 'optimizer', 'param_schedulers', 'rng_state',
               'state_dict']]
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
                 str(tmp_path), '--cfg-options', *_seg_data(data['ade'])[1:]])
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
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        _mm_tool('mmdet', 'train.py', [DET, '--work-dir', str(tmp_path / 'det'), '--resume',
                                       path, '--cfg-options', *_det_data(data['coco']),
                                       *SHORT, 'train_cfg.max_iters=2'], monkeypatch)
    assert not osp.exists(osp.join(tmp_path, 'det', 'iter_2.pth'))
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        _mm_tool('mmseg', 'test.py', [SEG, path, '--work-dir', str(tmp_path / 'seg'),
                                      '--cfg-options', *_seg_data(data['ade'])[1:]],
                 monkeypatch)
    # and this package's own reader (tools/test.py, --resume, image_demo.py)
    from swinv2_mm.engine import UnsafeCheckpointError
    from swinv2_mm.engine.checkpoint_files import read_checkpoint_file
    with pytest.raises(UnsafeCheckpointError, match='refused to load checkpoint'):
        read_checkpoint_file(path, 'checkpoint')
    assert not osp.exists(marker)


def test_allow_list_admits_nothing_else(hostile):
    """Every kind of hostile file, read by torch.load itself: refused, nothing run."""
    for kind, (path, marker) in hostile.items():
        with pytest.raises(pickle.UnpicklingError, match='Weights only load failed') as e:
            torch.load(path, map_location='cpu')
        if kind == 'runner_getattr':
            assert "getattr(HistoryBuffer, '__init__')" in str(e.value)
        assert not osp.exists(marker)


def test_allow_list_survives_other_safe_globals_users():
    """torch's safe_globals context manager removes what it added on exit; a user's
    `with safe_globals([HistoryBuffer])` must not take the Runner allow-list with it, and
    our own tools' context does not remove it either."""
    from mmengine.logging import HistoryBuffer

    from swinv2_mm.engine.checkpoint_safety import (runner_checkpoint_globals,
                                                    trusted_runner_checkpoints)
    wanted = set(runner_checkpoint_globals())
    with torch.serialization.safe_globals([HistoryBuffer]):
        pass
    with trusted_runner_checkpoints():
        pass
    assert wanted <= set(torch.serialization.get_safe_globals())
    names = {name for _, name in wanted}
    assert {'mmengine.logging.history_buffer.HistoryBuffer', 'builtins.getattr',
            'numpy.core.multiarray._reconstruct', 'numpy._core.multiarray._reconstruct',
            'numpy.ndarray', 'numpy.dtype'} <= names
    # nothing beyond numpy's array/dtype/scalar machinery, HistoryBuffer and its getattr
    assert all(n.startswith(('numpy.', 'mmengine.logging.')) or n == 'builtins.getattr'
               for n in names), sorted(names)
