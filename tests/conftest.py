import os
import os.path as osp
import runpy
import sys

import pytest

# Tests import their helpers (reference_models) by plain name.
sys.path.insert(0, os.path.dirname(__file__))


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` run wherever CUDA is present and are skipped, with the reason, on
    CPU-only machines (CI): collected and reported, never silently absent."""
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='gpu: torch.cuda.is_available() is False on this machine '
                                   '(run tools/gpu_run.sh on a GPU machine)')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    """Print the largest identity error per reference implementation (float32)."""
    for name, what in (('test_identity', 'stages'), ('test_weights', 'stages (weights by layout '
                       'and name)'), ('test_classify', 'logits (tools/classify.py)')):
        errors = getattr(sys.modules.get(name), 'MAX_ERRORS', None)
        if errors:
            terminalreporter.write_sep('-', f'identity: largest |ours - reference| over all {what}')
            for reference, err in sorted(errors.items()):
                terminalreporter.write_line(f'{reference:>22}: {err:.3g}')


# -- one set of demo data and Runner checkpoints per test run, for the tests that load them ----
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_DET = osp.join(ROOT, 'configs', 'demo', 'cascade_swinv2_demo_synthetic.py')
DEMO_SEG = osp.join(ROOT, 'configs', 'demo', 'upernet_swinv2_demo_synthetic.py')
# a couple of iterations, no validation: the demo configs shrunk for a test
SHORT = ['train_dataloader.batch_size=2', 'default_hooks.checkpoint.interval=1',
         'default_hooks.logger.interval=1', 'val_cfg=None', 'val_dataloader=None',
         'val_evaluator=None']


def det_data_options(root):
    return [f'train_dataloader.dataset.data_root={root}']


def seg_data_options(root):
    return [f'{loader}.dataset.data_root={root}'
            for loader in ('train_dataloader', 'test_dataloader')]


@pytest.fixture(scope='session')
def data(tmp_path_factory):
    """Two images a split of the detection and the segmentation demo's generated data."""
    from swinv2_mm.demo import ade_shapes, coco_shapes
    root = tmp_path_factory.mktemp('data')
    coco = str(root / 'coco') + '/'
    coco_shapes.generate(coco, num_train=2, num_val=2, image_size=128, seed=3)
    ade = ade_shapes.generate(str(root / 'ade'), num_train=2, num_val=2)
    seg_image = osp.join(ade, 'images', 'validation', 'ade_shapes_00000.jpg')
    import cv2
    return dict(coco=coco, ade=ade, det_image=osp.join(coco, 'val', '000001.png'),
                seg_image=seg_image, seg_image_hw=list(cv2.imread(seg_image).shape[:2]))


@pytest.fixture(scope='session')
def ours(data, tmp_path_factory):
    """Runner checkpoints written by our tools/train.py: one iteration of each demo."""
    work = tmp_path_factory.mktemp('ours')

    def train(argv):  # tools/train.py's main() in this process
        assert runpy.run_path(osp.join(ROOT, 'tools', 'train.py'))['main'](argv) == 0
    train([DEMO_DET, '--work-dir', str(work / 'det'), '--cfg-options', *det_data_options(data['coco']),
           *SHORT, 'train_cfg.max_iters=1'])
    train([DEMO_SEG, '--work-dir', str(work / 'seg'), '--cfg-options', *seg_data_options(data['ade']),
           *SHORT, 'train_cfg.max_iters=1'])
    return dict(det=str(work / 'det' / 'iter_1.pth'), seg=str(work / 'seg' / 'iter_1.pth'))


@pytest.fixture(scope='session')
def openmmlab_written(data, ours, tmp_path_factory):
    """Runner checkpoints written by mmdet's and mmseg's own packaged tools/train.py, as their
    users run them (a subprocess each): mmdet's resumes ours for one more iteration, mmseg's
    trains one. {'mmdet': path, 'mmseg': path, 'mmdet_proc', 'mmseg_proc'}."""
    import subprocess
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    out = {}
    for pkg, config, argv in (
            ('mmdet', DEMO_DET, ['--resume', ours['det'], '--cfg-options',
                                 *det_data_options(data['coco']), *SHORT,
                                 'train_cfg.max_iters=2']),
            ('mmseg', DEMO_SEG, ['--cfg-options', *seg_data_options(data['ade']), *SHORT,
                                 'train_cfg.max_iters=1'])):
        tool = osp.join(osp.dirname(__import__(pkg).__file__), '.mim', 'tools', 'train.py')
        work = str(tmp_path_factory.mktemp(f'{pkg}_train'))
        out[f'{pkg}_proc'] = subprocess.run(
            [sys.executable, tool, config, '--work-dir', work, *argv], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=600)
        out[pkg] = osp.join(work, 'iter_2.pth' if pkg == 'mmdet' else 'iter_1.pth')
    return out
