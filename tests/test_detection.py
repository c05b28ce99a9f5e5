"""Detection: the shipped Cascade Mask R-CNN configs, training / resuming / testing through the
real mmengine Runner (tools' code path), checkpoint safety, and 2-process CPU training."""
import copy
import glob
import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip('mmdet')
pytest.importorskip('mmcv._ext')

from mmengine.config import Config  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.registry import HOOKS  # noqa: E402

from swinv2_mm.demo.coco_shapes import generate  # noqa: E402
from swinv2_mm.checkpoint import read_torch_file  # noqa: E402
from swinv2_mm.engine import (ToolError, UnsafeCheckpointError, prepare_test_config,  # noqa
                              prepare_train_config, run_test, run_train)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = {arch: osp.join(ROOT, 'configs', f'cascade_swinv2_{arch}_coco.py')
           for arch in ('tiny', 'small', 'base', 'large')}
DEMO = osp.join(ROOT, 'configs', 'demo', 'cascade_swinv2_demo_synthetic.py')
PYTHON = sys.executable

# (embed_dims, window, pretrained windows) each size config must carry
# (T/S/B: the SwinV2 paper's COCO ablation, 1K window-8 checkpoints at window 16)
EXPECTED = {'tiny': (96, 16, [8, 8, 8, 8]), 'small': (96, 16, [8, 8, 8, 8]),
            'base': (128, 16, [8, 8, 8, 8]), 'large': (192, 24, [12, 12, 12, 6])}


# -- shipped configs ------------------------------------------------------------------------
def _build_detector(config):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(config)
    model_cfg = cfg.model.copy()
    model_cfg.backbone = dict(model_cfg.backbone, init_cfg=None)  # no download: random weights
    model = MODELS.build(model_cfg)
    model.init_weights()
    return cfg, model


def _one_image_batch(size=128):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    sample = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                         pad_shape=(size, size), batch_input_shape=(size, size),
                                         scale_factor=(1.0, 1.0)))
    masks = np.zeros((1, size, size), dtype=np.uint8)
    masks[0, 30:90, 20:100] = 1
    sample.gt_instances = InstanceData(bboxes=torch.tensor([[20., 30., 100., 90.]]),
                                       labels=torch.tensor([3]),
                                       masks=BitmapMasks(masks, size, size))
    return torch.rand(1, 3, size, size), [sample]


@pytest.mark.parametrize('arch', list(CONFIGS))
def test_size_config_builds_and_trains_one_step(arch):
    cfg, model = _build_detector(CONFIGS[arch])
    dims, window, pretrained = EXPECTED[arch]
    backbone = model.backbone
    assert type(backbone).__name__ == 'SwinTransformerV2'
    assert backbone.embed_dims == dims
    assert list(backbone.window_sizes) == [window] * 4
    assert list(backbone.pretrained_window_sizes) == pretrained
    assert cfg.model.neck.in_channels == [dims * 2**i for i in range(4)]
    assert cfg.custom_imports == dict(imports=['swinv2_mm'], allow_failed_imports=False)
    assert cfg.model.backbone.init_cfg.checkpoint.startswith(
        'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/swinv2_')
    heads = cfg.model.roi_head.bbox_head
    assert [h.type for h in heads] == ['Shared4Conv1FCBBoxHead'] * 3
    assert all(h.loss_bbox.type == 'GIoULoss' and h.reg_decoded_bbox for h in heads)
    assert cfg.train_cfg.max_epochs == 36
    assert cfg.param_scheduler[1].milestones == [27, 33]
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    for key in ('norm', 'logit_scale', 'cpb_mlp', 'q_bias', 'v_bias'):
        assert keys[key].decay_mult == 0.0
    assert cfg.optim_wrapper.optimizer.type == 'AdamW' and cfg.optim_wrapper.optimizer.lr == 1e-4

    # forward + backward of the whole detector (SyncBN -> BN, as the Runner does off-GPU)
    from mmengine.model import revert_sync_batchnorm
    model = revert_sync_batchnorm(model).train()
    torch.manual_seed(0)
    inputs, samples = _one_image_batch()
    losses = model.loss(inputs, samples)
    total = sum(v for k, v in losses.items() if 'loss' in k and torch.is_tensor(v))
    assert torch.isfinite(total)
    total.backward()
    # Res-post-norm starts every branch at zero (norm1/norm2 weights 0), so at init the
    # gradient reaches the attention through norm1's weight, the stem through the residuals.
    # (Stage 3 gets none at 128 px: its anchors, 256 px, never fit inside the image.)
    for param in (backbone.stages[0].blocks[0].norm1.weight,
                  backbone.patch_embed.projection.weight, model.neck.lateral_convs[0].conv.weight):
        assert param.grad is not None and torch.isfinite(param.grad).all()
        assert param.grad.abs().sum() > 0


def test_no_decay_keys_reach_backbone_parameters():
    from mmengine.optim import build_optim_wrapper
    cfg, model = _build_detector(CONFIGS['tiny'])
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay_of = {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            decay_of[names[id(p)]] = group['weight_decay']
    for part in ('patch_embed.norm.weight', 'stages.1.downsample.norm.weight',
                 'stages.0.blocks.0.norm1.weight', 'norm3.weight', 'attn.logit_scale',
                 'attn.cpb_mlp.0.weight', 'attn.q_bias', 'attn.v_bias'):
        matching = [n for n in decay_of if n.startswith('backbone.') and part in n]
        assert matching, part
        assert all(decay_of[n] == 0.0 for n in matching), part
    assert decay_of['backbone.stages.0.blocks.0.attn.qkv.weight'] == pytest.approx(0.05)


def test_import_swinv2_mm_stays_light():
    """`import swinv2_mm` (what custom_imports runs) registers the backbone and installs the
    checkpoint allow-list; it loads no mmdet/mmseg/mmcv and none of the tools' launch code,
    whose names swinv2_mm.engine still gives on first use."""
    code = ('import sys, swinv2_mm; bad = [m for m in sys.modules if m.split(".")[0] in '
            '("mmdet", "mmseg", "mmcv") or m == "swinv2_mm.engine.launch"]; print(bad); '
            'from swinv2_mm.engine import run_train, ToolError; '
            'assert "swinv2_mm.engine.launch" in sys.modules; '
            'sys.exit(1 if bad else 0)')
    assert subprocess.run([PYTHON, '-c', code], cwd=ROOT).returncode == 0


# -- training, resuming, testing through the Runner ------------------------------------------
@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('shapes'))
    generate(root, num_train=8, num_val=4, image_size=128, seed=3)
    return root + '/'


def _options(data_root, **extra):
    ann_val = osp.join(data_root, 'annotations/instances_val.json')
    opts = {
        'train_dataloader.dataset.data_root': data_root,
        'train_dataloader.batch_size': 2,
        'val_dataloader.dataset.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'val_evaluator.ann_file': ann_val,
        'test_evaluator.ann_file': ann_val,
        'train_cfg.max_iters': 4,
        'train_cfg.val_interval': 4,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.checkpoint.max_keep_ckpts': 3,
        'default_hooks.logger.interval': 1,
        'param_scheduler': [dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0,
                                 end=4)],
    }
    opts.update(extra)
    return opts


RECORDED = {}


@HOOKS.register_module(force=True)
class RecordStartStateHook(Hook):
    """What the Runner starts training from (after loading or resuming)."""

    def before_train(self, runner):
        RECORDED['iter'] = runner.iter
        # a copy: the optimizer updates its state tensors in place as training goes on
        RECORDED['optimizer'] = copy.deepcopy(runner.optim_wrapper.state_dict())
        RECORDED['lr'] = runner.optim_wrapper.get_lr()['lr'][0]


@pytest.fixture(scope='module')
def trained(data_root, tmp_path_factory):
    """4 iterations of the demo model, checkpoints at 2 and 4 (and a validation at 4)."""
    work_dir = str(tmp_path_factory.mktemp('train'))
    cfg = prepare_train_config(DEMO, work_dir=work_dir,
                               cfg_options=_options(data_root, experiment_name='first'))
    runner = run_train(cfg)
    assert runner.iter == 4
    return work_dir


def test_train_writes_checkpoints_and_validates(trained):
    assert osp.isfile(osp.join(trained, 'iter_2.pth'))
    assert osp.isfile(osp.join(trained, 'iter_4.pth'))
    logs = glob.glob(osp.join(trained, '*', 'vis_data', 'scalars.json'))
    text = ''.join(open(p).read() for p in logs)
    assert 'coco/bbox_mAP' in text and 'coco/segm_mAP' in text
    assert 'loss_mask' in text and 's2.loss_bbox' in text


def test_resume_from_path_restores_iteration_and_optimizer(trained, data_root, tmp_path):
    ckpt_path = osp.join(trained, 'iter_2.pth')
    opts = _options(data_root, experiment_name='resumed',
                    custom_hooks=[dict(type='RecordStartStateHook')])
    cfg = prepare_train_config(DEMO, work_dir=str(tmp_path), resume=ckpt_path,
                               cfg_options=opts)
    RECORDED.clear()
    runner = run_train(cfg)
    assert RECORDED['iter'] == 2 and runner.iter == 4
    saved = read_torch_file(ckpt_path, map_location='cpu')
    assert saved['meta']['iter'] == 2
    got, want = RECORDED['optimizer'], saved['optimizer']
    assert got['state'].keys() == want['state'].keys() and len(got['state']) > 0
    for k, state in want['state'].items():
        assert int(got['state'][k]['step']) == int(state['step']) == 2
        assert torch.equal(got['state'][k]['exp_avg'], state['exp_avg'])
        assert torch.equal(got['state'][k]['exp_avg_sq'], state['exp_avg_sq'])
    assert RECORDED['lr'] == pytest.approx(saved['optimizer']['param_groups'][0]['lr'])


def test_resume_auto_continues_from_last_checkpoint(trained, data_root):
    opts = _options(data_root, experiment_name='auto', **{'train_cfg.max_iters': 6},
                    custom_hooks=[dict(type='RecordStartStateHook')])
    cfg = prepare_train_config(DEMO, work_dir=trained, resume='auto', cfg_options=opts)
    RECORDED.clear()
    runner = run_train(cfg)
    assert RECORDED['iter'] == 4 and runner.iter == 6


def test_test_loads_runner_checkpoint_dumps_and_draws(trained, data_root, tmp_path):
    out = str(tmp_path / 'preds.pkl')
    show = str(tmp_path / 'show')
    cfg = prepare_test_config(DEMO, osp.join(trained, 'iter_4.pth'), work_dir=str(tmp_path),
                              out=out, show_dir=show,
                              cfg_options=_options(data_root, experiment_name='test'))
    metrics = run_test(cfg, out=out)
    assert {'coco/bbox_mAP', 'coco/segm_mAP', 'coco/bbox_mAP_50'} <= set(metrics)
    with open(out, 'rb') as f:
        preds = pickle.load(f)  # our own file, written just now
    assert len(preds) == 4 and 'pred_instances' in preds[0]
    assert len(glob.glob(osp.join(show, '*.png'))) == 4


def test_image_demo_draws_boxes_and_masks(trained, data_root, tmp_path):
    from swinv2_mm.engine.inference import detect_images
    image = sorted(glob.glob(osp.join(data_root, 'val', '*.png')))[0]
    saved = detect_images(image, DEMO, osp.join(trained, 'iter_4.pth'),
                          out_dir=str(tmp_path), device='cpu', score_thr=0.0)
    assert len(saved) == 1
    import cv2
    drawn, original = cv2.imread(saved[0]), cv2.imread(image)
    assert drawn.shape == original.shape and not np.array_equal(drawn, original)


# -- checkpoint safety -----------------------------------------------------------------------
class _Payload:
    """Unpickling this would create a folder: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def hostile(tmp_path):
    marker = str(tmp_path / 'code_ran')
    path = str(tmp_path / 'hostile.pth')
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': _Payload(marker)}, path)
    return path, marker


def test_hostile_checkpoint_refused_by_resume(hostile, data_root, tmp_path):
    path, marker = hostile
    cfg = prepare_train_config(DEMO, work_dir=str(tmp_path), resume=path,
                               cfg_options=_options(data_root, experiment_name='evil1'))
    with pytest.raises(UnsafeCheckpointError, match='refused to load checkpoint'):
        run_train(cfg)
    assert not osp.exists(marker)


def test_hostile_checkpoint_refused_by_test_tool(hostile, data_root, tmp_path, capsys):
    path, marker = hostile
    import runpy
    tool = runpy.run_path(osp.join(ROOT, 'tools', 'test.py'))
    opts = [f'{k}={v}' for k, v in _options(data_root).items() if 'param_scheduler' not in k]
    code = tool['main']([DEMO, path, '--work-dir', str(tmp_path), '--cfg-options', *opts])
    err = capsys.readouterr().err
    assert code == 1 and 'refused to load checkpoint' in err and 'Traceback' not in err
    assert not osp.exists(marker)
    # and the image demo
    from swinv2_mm.engine.inference import detect_images
    image = sorted(glob.glob(osp.join(data_root, 'val', '*.png')))[0]
    with pytest.raises(UnsafeCheckpointError):
        detect_images(image, DEMO, path, out_dir=str(tmp_path / 'vis'), device='cpu')
    assert not osp.exists(marker)


# -- flags that cannot work here say so ------------------------------------------------------
def test_unusable_flags_give_clear_errors(tmp_path):
    if not torch.cuda.is_available():
        with pytest.raises(ToolError, match='--amp needs a CUDA GPU'):
            prepare_train_config(DEMO, work_dir=str(tmp_path), amp=True)
    ckpt = tmp_path / 'w.pth'
    torch.save({}, ckpt)
    with pytest.raises(ToolError, match='tta_model'):
        prepare_test_config(DEMO, str(ckpt), work_dir=str(tmp_path), tta=True)
    with pytest.raises(ToolError, match='no such checkpoint'):
        prepare_train_config(DEMO, work_dir=str(tmp_path), resume=str(tmp_path / 'nope.pth'))
    with pytest.raises(ToolError, match='.pkl'):
        prepare_test_config(DEMO, str(ckpt), work_dir=str(tmp_path), out='x.json')


# -- distributed ------------------------------------------------------------------------------
@pytest.mark.slow
def test_dist_train_two_cpu_ranks_stay_in_sync(data_root, tmp_path):
    config = tmp_path / 'dist_cfg.py'
    config.write_text(
        f'_base_ = {DEMO!r}\n'
        "custom_imports = dict(imports=['swinv2_mm', '_det_dist_hooks'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='SaveRankParamsHook')]\n")
    work_dir = tmp_path / 'work'
    opts = [f'{k}={v}' for k, v in _options(data_root, **{'train_cfg.max_iters': 3,
                                                          'train_cfg.val_interval': 100,
                                                          'default_hooks.checkpoint.interval': 100}
                                            ).items() if 'param_scheduler' not in k]
    env = dict(os.environ, PYTHONPATH=osp.join(ROOT, 'tests'), PORT='29517',
               OMP_NUM_THREADS='1', PYTHON=PYTHON)
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), str(config), '2',
                           '--work-dir', str(work_dir), '--cfg-options', *opts],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "backend='gloo'" in proc.stdout + proc.stderr  # CPU: gloo, not nccl
    load = lambda tag, r: torch.load(work_dir / f'params_{tag}_rank{r}.pth')  # noqa: E731
    before0, after0, after1 = load('before', 0), load('after', 0), load('after', 1)
    assert after0.keys() == after1.keys() and len(after0) > 100
    for k in after0:
        assert torch.equal(after0[k], after1[k]), f'ranks differ at {k}'
    changed = [k for k in after0 if not torch.equal(after0[k], before0[k])]
    assert len(changed) > len(after0) // 2  # they trained, they did not just stand still


# -- bfloat16 inference ---------------------------------------------------------------------------
def test_bf16_test_runs_mmcv_ops_and_reports_metrics(trained, data_root, tmp_path):
    """--dtype bf16: autocast through the whole detector; mmcv's RoIAlign/NMS (float32-only
    kernels) get float32 inputs. The untrained model's metrics are not compared here (the
    demo comparison is in docs/detection.md); that it runs and evaluates is."""
    from mmcv.ops import RoIAlign
    from swinv2_mm.engine.precision import bf16_inference
    feats = torch.randn(1, 4, 16, 16)
    rois = torch.tensor([[0., 1., 1., 12., 12.]])
    with bf16_inference('cpu'):
        half = torch.nn.functional.conv2d(feats, torch.randn(4, 4, 1, 1))
        assert half.dtype == torch.bfloat16
        assert RoIAlign((7, 7), 1.0, 0)(half, rois).dtype == torch.bfloat16
    with pytest.raises(NotImplementedError):  # why the wrapper exists
        RoIAlign((7, 7), 1.0, 0)(half, rois)
    cfg = prepare_test_config(DEMO, osp.join(trained, 'iter_4.pth'), work_dir=str(tmp_path),
                              dtype='bf16', cfg_options=_options(data_root,
                                                                 experiment_name='bf16'))
    assert cfg.test_cfg.fp16 is True
    metrics = run_test(cfg)
    assert {'coco/bbox_mAP', 'coco/segm_mAP'} <= set(metrics)
