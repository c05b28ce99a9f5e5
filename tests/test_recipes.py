"""The shipped configs hold the SwinV2 paper's settings (arXiv 2111.09883, appendix
"Experimental Settings"; docs/recipes.md has the table): every number the paper gives is
checked here against the config as mmengine reads it."""
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
STORAGE = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/'


def _cfg(name: str) -> Config:
    return Config.fromfile(osp.join(ROOT, 'configs', name))


def _step(pipeline, kind):
    (step,) = [t for t in pipeline if t['type'] == kind]
    return step


def _no_decay_keys_present(paramwise):
    base = Config.fromfile(osp.join(ROOT, 'configs/_base_/swinv2_no_decay.py')).swinv2_no_decay
    for key, value in base.items():
        assert paramwise.custom_keys[key].decay_mult == 0.0, key


# (config, arch, pretrained file, pretrained windows)
ADE_512 = [
    ('upernet_swinv2_tiny_ade20k.py', 'tiny', 'swinv2_tiny_patch4_window8_256.pth', [8] * 4),
    ('upernet_swinv2_small_ade20k.py', 'small', 'swinv2_small_patch4_window8_256.pth', [8] * 4),
    ('upernet_swinv2_base_ade20k.py', 'base', 'swinv2_base_patch4_window8_256.pth', [8] * 4),
]
ADE_640 = [
    ('upernet_swinv2_base_w40_ade20k_640.py', 'base', 'swinv2_base_patch4_window12_192_22k.pth'),
    ('upernet_swinv2_large_w40_ade20k_640.py', 'large',
     'swinv2_large_patch4_window12_192_22k.pth'),
]
COCO_ABLATION = [
    ('cascade_swinv2_tiny_coco.py', 'tiny', 'swinv2_tiny_patch4_window8_256.pth'),
    ('cascade_swinv2_small_coco.py', 'small', 'swinv2_small_patch4_window8_256.pth'),
    ('cascade_swinv2_base_coco.py', 'base', 'swinv2_base_patch4_window8_256.pth'),
]
COCO_1536 = [
    ('htc_swinv2_base_w32_coco_1536.py', 'base', 'swinv2_base_patch4_window12_192_22k.pth'),
    ('htc_swinv2_large_w32_coco_1536.py', 'large', 'swinv2_large_patch4_window12_192_22k.pth'),
]


def _ade_common(cfg, crop):
    assert cfg.crop_size == (crop, crop) and cfg.model.data_preprocessor.size == (crop, crop)
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert _step(pipeline, 'RandomResize').ratio_range == (0.5, 2.0)  # rescale [0.5, 2.0]
    assert _step(pipeline, 'RandomResize').scale == (4 * crop, crop)
    assert _step(pipeline, 'RandomCrop').crop_size == (crop, crop)
    assert _step(pipeline, 'RandomFlip').prob == 0.5
    _step(pipeline, 'PhotoMetricDistortion')
    assert cfg.model.backbone.drop_path_rate == 0.3  # stochastic depth 0.3
    optim = cfg.optim_wrapper
    assert (optim.optimizer.type, optim.optimizer.weight_decay) == ('AdamW', 0.05)
    assert optim.constructor == 'SwinV2LayerDecayOptimWrapperConstructor'
    assert optim.paramwise_cfg.layer_decay_rate == 0.95
    assert optim.paramwise_cfg.flat_decay_mult == 0.0
    _no_decay_keys_present(optim.paramwise_cfg)
    warmup, decay = cfg.param_scheduler
    assert (warmup.type, warmup.by_epoch, warmup.begin) == ('LinearLR', False, 0)
    # linear decay: poly with power 1 to 0, right after the warm-up, to the last iteration
    assert (decay.type, decay.power, decay.eta_min, decay.begin) == ('PolyLR', 1.0, 0.0,
                                                                      warmup.end)
    assert decay.end == cfg.train_cfg.max_iters
    return warmup


@pytest.mark.parametrize('name, arch, checkpoint, pretrained', ADE_512)
def test_ade20k_ablation_512_w16(name, arch, checkpoint, pretrained):
    cfg = _cfg(name)
    warmup = _ade_common(cfg, 512)
    backbone = cfg.model.backbone
    assert (backbone.arch, backbone.window_size) == (arch, 16)
    assert list(backbone.pretrained_window_sizes) == pretrained
    assert backbone.init_cfg.checkpoint == STORAGE + checkpoint
    assert cfg.optim_wrapper.optimizer.lr == 4e-5
    assert warmup.end == 1500
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size * 8 == 16  # 8 GPUs x 2
    assert 'ablation setting' in open(osp.join(ROOT, 'configs', name)).read()


@pytest.mark.parametrize('name, arch, checkpoint', ADE_640)
def test_ade20k_system_640_w40(name, arch, checkpoint):
    cfg = _cfg(name)
    warmup = _ade_common(cfg, 640)
    backbone = cfg.model.backbone
    assert (backbone.arch, backbone.window_size) == (arch, 40)
    assert list(backbone.pretrained_window_sizes) == [12, 12, 12, 6]
    assert backbone.init_cfg.checkpoint == STORAGE + checkpoint
    assert cfg.optim_wrapper.optimizer.lr == 6e-5
    assert warmup.end == 375
    assert cfg.train_cfg.max_iters == 40000
    assert cfg.train_dataloader.batch_size * 32 == 64 == cfg.auto_scale_lr.base_batch_size
    assert _step(cfg.test_dataloader.dataset.pipeline, 'Resize').scale == (2560, 640)
    channels = {'base': 128, 'large': 192}[arch]
    assert cfg.model.decode_head.in_channels == [channels * 2**i for i in range(4)]
    assert cfg.model.auxiliary_head.in_channels == channels * 4
    assert 'system-level ADE20K setting' in open(osp.join(ROOT, 'configs', name)).read()


@pytest.mark.parametrize('name, arch, checkpoint', COCO_ABLATION)
def test_coco_ablation_cascade_w16(name, arch, checkpoint):
    cfg = _cfg(name)
    assert cfg.model.type == 'CascadeRCNN'
    backbone = cfg.model.backbone
    assert (backbone.arch, backbone.window_size) == (arch, 16)
    assert list(backbone.pretrained_window_sizes) == [8, 8, 8, 8]
    assert backbone.init_cfg.checkpoint == STORAGE + checkpoint
    # multi-scale: shorter side 480..800, longer 1333
    branches = _step(cfg.train_dataloader.dataset.pipeline, 'AutoAugment').policies
    scales = branches[0][0].scales
    assert min(s[0] for s in scales) == 480 and max(s[0] for s in scales) == 800
    assert {s[1] for s in scales} == {1333}
    optim = cfg.optim_wrapper.optimizer
    assert (optim.type, optim.lr, optim.weight_decay) == ('AdamW', 1e-4, 0.05)
    _no_decay_keys_present(cfg.optim_wrapper.paramwise_cfg)
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.train_cfg.max_epochs == 36  # 3x
    assert 'ablation setting' in open(osp.join(ROOT, 'configs', name)).read()


@pytest.mark.parametrize('name, arch, checkpoint', COCO_1536)
def test_coco_system_1536_w32(name, arch, checkpoint):
    cfg = _cfg(name)
    assert cfg.model.type == 'HybridTaskCascade'
    assert cfg.model.roi_head.type == 'HybridTaskCascadeRoIHead'
    backbone = cfg.model.backbone
    assert (backbone.arch, backbone.window_size, backbone.with_cp) == (arch, 32, True)
    assert list(backbone.pretrained_window_sizes) == [12, 12, 12, 6]
    assert backbone.init_cfg.checkpoint == STORAGE + checkpoint
    pipeline = cfg.train_dataloader.dataset.pipeline
    resize = _step(pipeline, 'RandomResize')
    assert (resize.scale, resize.ratio_range) == ((1536, 1536), (0.1, 2.0))  # scale jitter
    assert _step(pipeline, 'RandomCrop').crop_size == (1536, 1536)
    (pad,) = cfg.model.data_preprocessor.batch_augments
    assert (pad.type, pad.size) == ('BatchFixedSizePad', (1536, 1536))
    optim = cfg.optim_wrapper
    assert (optim.optimizer.type, optim.optimizer.lr, optim.optimizer.weight_decay) == (
        'AdamW', 4e-4, 0.05)
    assert optim.paramwise_cfg.custom_keys.backbone.lr_mult == 0.1  # backbone lr 0.1x
    assert optim.paramwise_cfg.layer_decay_rate == 1.0
    _no_decay_keys_present(optim.paramwise_cfg)
    assert cfg.train_dataloader.batch_size * 64 == 64 == cfg.auto_scale_lr.base_batch_size
    assert cfg.train_cfg.max_epochs == 36
    assert cfg.param_scheduler[1].milestones == [27, 33]
    assert cfg.model.test_cfg.rcnn.nms.type == 'soft_nms'
    text = open(osp.join(ROOT, 'configs', name)).read()
    assert 'system-level COCO setting' in text and '--window 48' in text


def test_non_paper_configs_say_so():
    for name in ('upernet_swinv2_large_ade20k.py', 'cascade_swinv2_large_coco.py'):
        assert 'NOT a paper setting' in open(osp.join(ROOT, 'configs', name)).read()


# -- the memory tool behind docs/recipes.md's 1536/w32 estimate -----------------------------------
def test_step_memory_trains_a_640_w40_step_and_writes_its_record(tmp_path, capsys):
    """tools/step_memory.py on the 640/w40 config (a small backbone and head at 320 px, where
    stage 0 still runs 2x2 windows of 40: the point is the path, the Runner's train_step with
    the layer-decay constructor)."""
    import importlib.util
    import json
    spec = importlib.util.spec_from_file_location('swinv2_mm_step_memory_tool',
                                                  osp.join(ROOT, 'tools', 'step_memory.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / 'step.json'
    options = ['model.backbone.embed_dims=16', 'model.backbone.depths=[1,1,1,1]',
               'model.backbone.num_heads=[1,1,2,2]', 'model.decode_head.in_channels=[16,32,64,128]',
               'model.decode_head.channels=16', 'model.auxiliary_head.in_channels=64',
               'model.auxiliary_head.channels=16']
    config = osp.join(ROOT, 'configs', 'upernet_swinv2_base_w40_ade20k_640.py')
    # batch 2: UperNet's pooling branch has BatchNorm over 1x1 maps (one value per channel
    # with a single image), as in mmseg's training at 2 images per GPU
    assert tool.main([config, '--size', '320', '--batch', '2', '--threads', '1', '--json',
                      str(out), '--cfg-options'] + options) == 0
    assert 'one training step of' in capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record['input'] == [2, 3, 320, 320]
    assert record['backbone']['window_size'] == 40
    assert 0 < record['rss_before_gib'] < record['peak_rss_gib']
    assert record['step_seconds'] > 0 and record['loss'] > 0
    assert tool.main([config, '--size', '8']) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        'error: --size 8 --batch 1: need one size (or height and width) >= 32 and a batch >= 1']
