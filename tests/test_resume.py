"""Crash-proof checkpoints and bit-identical resume, through tools/train.py as a user runs it.

A seeded run of the demo configs (small sizes) is killed with SIGKILL — after an iteration,
half-way through writing a checkpoint, between writing and renaming one, at a random moment —
and resumed with `--resume`; its final weights and optimizer state must equal those of the
uninterrupted run bit for bit. max_keep_ckpts=1 throughout: the hardest case for "the
previous checkpoint is kept until the new one is complete".
"""
import os
import os.path as osp
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
pytest.importorskip('mmcv._ext')

from swinv2_mm.checkpoint import read_torch_file  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN = osp.join(ROOT, 'tools', 'train.py')
DET = osp.join(ROOT, 'configs', 'demo', 'cascade_swinv2_demo_synthetic.py')
SEG = osp.join(ROOT, 'configs', 'demo', 'upernet_swinv2_demo_synthetic.py')
MAX_ITERS = 6


@pytest.fixture(scope='module')
def det_setup(tmp_path_factory):
    from swinv2_mm.demo.coco_shapes import generate
    tmp = tmp_path_factory.mktemp('resume_det')
    root = str(tmp / 'data') + '/'
    generate(root, num_train=8, num_val=2, image_size=128, seed=3)
    ann = osp.join(root, 'annotations/instances_val.json')
    options = {
        'train_dataloader.dataset.data_root': root, 'train_dataloader.batch_size': 2,
        'val_dataloader.dataset.data_root': root, 'test_dataloader.dataset.data_root': root,
        'val_evaluator.ann_file': ann, 'test_evaluator.ann_file': ann,
    }
    return _config(tmp, DET), options


@pytest.fixture(scope='module')
def seg_setup(tmp_path_factory):
    from swinv2_mm.demo.ade_shapes import generate
    tmp = tmp_path_factory.mktemp('resume_seg')
    root = generate(str(tmp / 'data'), num_train=6, num_val=1, seed=1)
    options = {f'{d}.dataset.data_root': root
               for d in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
    options['train_dataloader.batch_size'] = 2
    return _config(tmp, SEG), options


def _config(tmp, base):
    """The demo config plus the test's kill switch (tests/_kill_hooks.py)."""
    path = tmp / f'kill_{osp.basename(base)}'
    path.write_text(f'_base_ = {base!r}\n'
                    "custom_imports = dict(imports=['swinv2_mm', '_kill_hooks'], "
                    'allow_failed_imports=False)\n'
                    "custom_hooks = [dict(type='KillHook')]\n")
    return str(path)


def _train(config, options, work_dir, *extra, kill=None, popen=False):
    opts = dict(options, **{
        'train_cfg.max_iters': MAX_ITERS, 'train_cfg.val_begin': 10**6,
        'default_hooks.checkpoint.interval': 2, 'default_hooks.checkpoint.max_keep_ckpts': 1,
        'default_hooks.logger.interval': 1, 'randomness.seed': 0,
        'randomness.deterministic': True})
    cmd = [sys.executable, TRAIN, config, '--work-dir', str(work_dir), *extra,
           '--cfg-options', *[f'{k}={v}' for k, v in opts.items()]]
    env = dict(os.environ, PYTHONPATH=osp.join(ROOT, 'tests'), OMP_NUM_THREADS='1',
               SWINV2_TEST_KILL=kill or '')
    if popen:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _load(path):
    return read_torch_file(path, map_location='cpu')


def _assert_identical(got_path, want_path):
    got, want = _load(got_path), _load(want_path)
    assert got['meta']['iter'] == want['meta']['iter'] == MAX_ITERS
    assert got['state_dict'].keys() == want['state_dict'].keys()
    for k, v in want['state_dict'].items():
        assert torch.equal(got['state_dict'][k], v), f'weights differ at {k}'
    g_opt, w_opt = got['optimizer'], want['optimizer']
    assert g_opt['state'].keys() == w_opt['state'].keys() and len(w_opt['state']) > 10
    for k, state in w_opt['state'].items():
        for name, value in state.items():
            other = g_opt['state'][k][name]
            assert torch.equal(torch.as_tensor(other), torch.as_tensor(value)), \
                f'optimizer {name} differs for parameter {k}'
    assert g_opt['param_groups'] == w_opt['param_groups']


@pytest.fixture(scope='module')
def det_reference(det_setup, tmp_path_factory):
    config, options = det_setup
    work = tmp_path_factory.mktemp('det_ref')
    start = time.time()
    proc = _train(config, options, work)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # max_keep_ckpts=1: only the last one is left, and last_checkpoint names it
    assert sorted(p for p in os.listdir(work) if p.endswith('.pth')) == ['iter_6.pth']
    assert open(work / 'last_checkpoint').read().strip().endswith('iter_6.pth')
    return str(work / 'iter_6.pth'), time.time() - start


@pytest.mark.slow
@pytest.mark.parametrize('kill', ['iter:3', 'save-partial:4', 'save-before-rename:4'])
def test_killed_detection_run_resumes_bit_identical(det_setup, det_reference, tmp_path, kill):
    config, options = det_setup
    reference, _ = det_reference
    work = tmp_path / 'work'
    proc = _train(config, options, work, kill=kill)
    assert proc.returncode == -signal.SIGKILL, proc.stdout[-2000:] + proc.stderr[-2000:]
    # Whatever moment it died at, the last complete checkpoint (iter 2) is still there and
    # nothing unfinished carries a checkpoint's name.
    names = sorted(os.listdir(work))
    assert 'iter_2.pth' in names, names
    assert open(work / 'last_checkpoint').read().strip().endswith('iter_2.pth')
    assert 'iter_4.pth' not in names, names
    if kill.startswith('save'):
        assert any(n.startswith('.iter_4.pth.tmp-') for n in names), names

    resumed = _train(config, options, work, '--resume')
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log[-3000:]
    assert 'restored the random-number states of the checkpoint' in log
    assert not any(n.startswith('.iter_') for n in os.listdir(work))  # cleaned up
    _assert_identical(work / 'iter_6.pth', reference)


@pytest.mark.slow
def test_killed_at_a_random_moment_resumes_bit_identical(det_setup, det_reference, tmp_path):
    config, options = det_setup
    reference, duration = det_reference
    work = tmp_path / 'work'
    delay = random.Random(os.getpid()).uniform(0.4, 0.95) * duration
    proc = _train(config, options, work, popen=True)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    resumed = _train(config, options, work, '--resume')
    assert resumed.returncode == 0, (delay, (resumed.stdout + resumed.stderr)[-3000:])
    _assert_identical(work / 'iter_6.pth', reference)


@pytest.mark.slow
def test_auto_resume_skips_damaged_checkpoints_and_says_why(det_setup, det_reference,
                                                            tmp_path):
    """A truncated newest checkpoint (as an older tool or a full disk leaves it) and an empty
    one: --resume takes the newest that loads, logs why it skipped the others."""
    config, options = det_setup
    reference, _ = det_reference
    work = tmp_path / 'work'
    proc = _train(config, options, work, kill='iter:3')
    assert proc.returncode == -signal.SIGKILL
    data = (work / 'iter_2.pth').read_bytes()
    (work / 'iter_4.pth').write_bytes(data[:len(data) // 3])  # truncated
    (work / 'iter_5.pth').write_bytes(b'')  # empty
    (work / 'last_checkpoint').write_text(str(work / 'iter_4.pth'))
    resumed = _train(config, options, work, '--resume')
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log[-3000:]
    assert f'skipped {work / "iter_4.pth"}: the checkpoint is truncated' in log
    assert f'skipped {work / "iter_5.pth"}: the file is empty' in log
    assert f'resuming from {work / "iter_2.pth"}' in log
    _assert_identical(work / 'iter_6.pth', reference)


@pytest.mark.slow
def test_killed_segmentation_run_resumes_bit_identical(seg_setup, tmp_path):
    """UperNet with drop path (torch RNG in the model) and random resize/crop/flip (numpy
    RNG in the pipeline), InfiniteSampler."""
    config, options = seg_setup
    ref = _train(config, options, tmp_path / 'ref')
    assert ref.returncode == 0, (ref.stdout + ref.stderr)[-3000:]
    work = tmp_path / 'work'
    proc = _train(config, options, work, kill='save-partial:4')
    assert proc.returncode == -signal.SIGKILL
    assert (work / 'iter_2.pth').is_file()
    resumed = _train(config, options, work, '--resume')
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    _assert_identical(work / 'iter_6.pth', tmp_path / 'ref' / 'iter_6.pth')


@pytest.mark.slow
def test_without_restoring_random_states_the_run_differs(seg_setup, tmp_path):
    """The control: the same kill and resume, but from a checkpoint with the random states
    removed, does not reproduce the run — so the identity above is the states' doing."""
    config, options = seg_setup
    ref = tmp_path / 'ref'
    assert _train(config, options, ref).returncode == 0
    work = tmp_path / 'work'
    assert _train(config, options, work, kill='iter:3').returncode == -signal.SIGKILL
    ckpt = _load(work / 'iter_2.pth')
    del ckpt['rng_state']
    torch.save(ckpt, work / 'iter_2.pth')
    resumed = _train(config, options, work, '--resume')
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log[-3000:]
    assert 'holds no random-number states' in log
    with pytest.raises(AssertionError, match='differ'):
        _assert_identical(work / 'iter_6.pth', ref / 'iter_6.pth')
    shutil.rmtree(work)
