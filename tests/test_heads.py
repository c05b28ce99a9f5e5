"""Mask2Former (mmdet COCO panoptic / instance, mmseg ADE20K) and DINO (mmdet COCO) with the
SwinV2 backbone: each config against the V1 Swin config it follows, the optimizer's parameter
groups of every parameter at full size, a training step of each model (backbone shrunk), and
the Mask2Former demo through the Runner.

All real parts: mmdet's and mmseg's registries, heads, losses, matchers and metrics, mmcv's
multi-scale deformable attention (its PyTorch path on CPU), mmengine's optimizer constructor.
"""
import copy
import math
import os
import os.path as osp
from dataclasses import dataclass
from typing import Optional, Tuple

import pytest
import torch

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
pytest.importorskip('mmcv._ext')

from mmengine.config import Config  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
URL = 'https://github.com/SwinTransformer/storage/releases/download/v2.0.0/'
T_CKPT = ('swinv2_tiny_patch4_window16_256.pth', [16, 16, 16, 8])
S_CKPT = ('swinv2_small_patch4_window16_256.pth', [16, 16, 16, 8])
B_CKPT = ('swinv2_base_patch4_window12to24_192to384_22kto1k_ft.pth', [12, 12, 12, 6])
L_CKPT = ('swinv2_large_patch4_window12to24_192to384_22kto1k_ft.pth', [12, 12, 12, 6])
DIMS = {'tiny': 96, 'small': 96, 'base': 128, 'large': 192}
M2F_LARGE_SCHEDULE = {'model.panoptic_head.num_queries', 'train_dataloader.batch_size',
                      'train_dataloader.num_workers', 'max_iters', 'param_scheduler',
                      'train_cfg'}


@dataclass
class Case:
    family: str                   # 'm2f_coco', 'm2f_ade', 'dino'
    arch: str
    window: int
    checkpoint: Tuple[str, list]
    v1: str                       # the V1 config it follows (a scope:: path)
    crop: Optional[int] = None    # the fixed training size the window must tile
    # dotted paths that may differ from V1 besides the backbone and optimizer keys
    also_differs: frozenset = frozenset()


def _cases():
    m2f = 'mmdet::mask2former/mask2former_swin-{}_8xb2-lsj-50e_coco{}.py'
    m2f_l = 'mmdet::mask2former/mask2former_swin-l-p4-w12-384-in21k_16xb1-lsj-100e_coco-panoptic.py'
    cases = {
        'mask2former_swinv2_tiny_coco-panoptic': Case(
            'm2f_coco', 'tiny', 16, T_CKPT, m2f.format('t-p4-w7-224', '-panoptic'), 1024),
        'mask2former_swinv2_small_coco-panoptic': Case(
            'm2f_coco', 'small', 16, S_CKPT, m2f.format('s-p4-w7-224', '-panoptic'), 1024),
        'mask2former_swinv2_base_coco-panoptic': Case(
            'm2f_coco', 'base', 32, B_CKPT, m2f.format('b-p4-w12-384-in21k', '-panoptic'), 1024),
        'mask2former_swinv2_large_coco-panoptic': Case('m2f_coco', 'large', 32, L_CKPT, m2f_l,
                                                       1024),
        'mask2former_swinv2_tiny_coco': Case(
            'm2f_coco', 'tiny', 16, T_CKPT, m2f.format('t-p4-w7-224', ''), 1024),
        'mask2former_swinv2_small_coco': Case(
            'm2f_coco', 'small', 16, S_CKPT, m2f.format('s-p4-w7-224', ''), 1024),
        # mmdet has no Swin-B/L instance config: the Swin-T one with the panoptic B/L changes
        'mask2former_swinv2_base_coco': Case(
            'm2f_coco', 'base', 32, B_CKPT, m2f.format('t-p4-w7-224', ''), 1024,
            frozenset({'model.panoptic_head.in_channels'})),
        'mask2former_swinv2_large_coco': Case(
            'm2f_coco', 'large', 32, L_CKPT, m2f.format('t-p4-w7-224', ''), 1024,
            frozenset({'model.panoptic_head.in_channels', 'interval',
                       'dynamic_intervals'} | M2F_LARGE_SCHEDULE)),
        'mask2former_swinv2_tiny_ade20k': Case(
            'm2f_ade', 'tiny', 16, T_CKPT,
            'mmseg::mask2former/mask2former_swin-t_8xb2-160k_ade20k-512x512.py', 512),
        'mask2former_swinv2_small_ade20k': Case(
            'm2f_ade', 'small', 16, S_CKPT,
            'mmseg::mask2former/mask2former_swin-s_8xb2-160k_ade20k-512x512.py', 512),
        'mask2former_swinv2_base_ade20k': Case(
            'm2f_ade', 'base', 40, B_CKPT,
            'mmseg::mask2former/mask2former_swin-b-in22k-384x384-pre_8xb2-160k_ade20k-640x640.py',
            640),
        'mask2former_swinv2_large_ade20k': Case(
            'm2f_ade', 'large', 40, L_CKPT,
            'mmseg::mask2former/mask2former_swin-l-in22k-384x384-pre_8xb2-160k_ade20k-640x640.py',
            640),
    }
    for epochs in (12, 36):
        v1 = f'mmdet::dino/dino-5scale_swin-l_8xb2-{epochs}e_coco.py'
        for arch, window, ckpt in (('tiny', 16, T_CKPT), ('small', 16, S_CKPT),
                                   ('base', 24, B_CKPT), ('large', 24, L_CKPT)):
            # mmdet has only Swin-L: the other sizes change its neck's input channels
            also = frozenset() if arch == 'large' else frozenset({'model.neck.in_channels'})
            cases[f'dino_swinv2_{arch}_coco_{epochs}e'] = Case('dino', arch, window, ckpt, v1,
                                                               also_differs=also)
    return cases


CASES = _cases()
# The distinct models: the 36-epoch DINO configs differ only in schedule.
MODELS_TO_STEP = [n for n in CASES if not n.endswith('_36e')]
# With the backbone shrunk, S and B add nothing T and L do not have (T: window 16; L: the
# B/L window and L's head): their full-size steps are the records in docs/heads.md.
MODELS_TO_TRAIN = [n for n in MODELS_TO_STEP if CASES[n].arch in ('tiny', 'large')]


def _config(name: str) -> Config:
    return Config.fromfile(osp.join(ROOT, 'configs', name + '.py'))


def _v1_config(v1: str) -> Config:
    """A `mmdet::` / `mmseg::` config path as shipped in the package (its .mim/configs)."""
    import importlib
    scope, rel = v1.split('::')
    package = osp.dirname(importlib.import_module(scope).__file__)
    return Config.fromfile(osp.join(package, '.mim', 'configs', rel))


def _flat(node, prefix=''):
    """{'a.b.c': leaf} of a config, lists and tuples as leaves."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == '_scope_':
                continue
            out.update(_flat(v, f'{prefix}{k}.'))
        return out
    return {prefix[:-1]: node}


def _differing(ours: Config, v1: Config):
    a, b = _flat(ours.to_dict()), _flat(v1.to_dict())
    return {k for k in set(a) | set(b)
            if k not in a or k not in b or _norm(a[k]) != _norm(b[k])}


def _norm(v):
    return [_norm(x) for x in v] if isinstance(v, (list, tuple)) else (
        {k: _norm(x) for k, x in v.items() if k != '_scope_'} if isinstance(v, dict) else v)


# -- each config: what it follows and what it changes ----------------------------------------
@pytest.mark.parametrize('name', list(CASES))
def test_config_is_its_v1_config_with_the_v2_changes(name):
    case = CASES[name]
    cfg = _config(name)
    text = open(osp.join(ROOT, 'configs', name + '.py')).read()
    header = text.split('\n_base_ = ')[0]
    # the header names the V1 config it follows, or says that mmdet has none for this size
    assert osp.basename(case.v1) in header or f'mmdet has no Swin-{case.arch[0].upper()}' \
        in header
    v1 = _v1_config(case.v1)

    # Everything but the backbone, the optimizer keys, the imports and names of our own is V1's.
    ours_only = {'custom_imports', 'pretrained', 'depths', 'swinv2_backbone_keys',
                 'swinv2_mask2former_keys'}
    differs = {k for k in _differing(cfg, v1) if not (
        k.startswith('model.backbone.') or k.split('.')[0] in ours_only
        or k.startswith('custom_keys.') or k.startswith('swinv2_')
        or k.startswith('optim_wrapper.paramwise_cfg.custom_keys.'))}
    unexpected = {k for k in differs if not any(k == a or k.startswith(a + '.')
                                                for a in case.also_differs)}
    assert not unexpected, sorted(unexpected)

    imports = ['mmdet.models', 'swinv2_mm'] if case.family == 'm2f_ade' else ['swinv2_mm']
    assert cfg.custom_imports == dict(imports=imports, allow_failed_imports=False)
    backbone = cfg.model.backbone
    file, pretrained_windows = case.checkpoint
    assert backbone.type == 'SwinTransformerV2' and backbone.arch == case.arch
    assert backbone.window_size == case.window
    assert list(backbone.pretrained_window_sizes) == pretrained_windows
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint=URL + file)
    assert tuple(backbone.out_indices) == (0, 1, 2, 3)
    assert backbone.with_cp == (case.family == 'dino')  # as V1 DINO Swin-L; Mask2Former: off
    head = cfg.model.get('panoptic_head') or cfg.model.get('decode_head') or cfg.model.neck
    assert list(head.in_channels) == [DIMS[case.arch] * 2**i for i in range(4)]
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert set(keys) >= {'backbone', 'attn.cpb_mlp', 'attn.logit_scale'}
    assert not {'relative_position_bias_table', 'absolute_pos_embed'} & set(keys)
    assert cfg.custom_keys == keys if 'custom_keys' in cfg else case.family == 'dino'

    if case.crop:  # the window tiles every stage map of the fixed training crop
        maps = [case.crop // 4 // 2**i for i in range(4)]
        assert all(m % case.window == 0 or m <= case.window for m in maps), maps
        size = (cfg.model.data_preprocessor.batch_augments[0].size if case.family == 'm2f_coco'
                else cfg.model.data_preprocessor.size)
        assert tuple(size) == (case.crop, case.crop)
    if case.family == 'dino':
        assert cfg.train_cfg.max_epochs == int(name[-3:-1])
        assert cfg.param_scheduler[0].milestones == ([11] if name.endswith('12e') else [27, 33])
        assert cfg.model.num_feature_levels == 5 and cfg.model.neck.num_outs == 5


def test_v1_keys_and_naive_keys_are_wrong_for_v2():
    """Why the configs carry their own keys (docs/heads.md): on a V2 backbone, mmdet's V1 Swin
    keys decay the CPB MLP, the q/v biases, logit_scale and stage 3's merging norm; adding
    _base_/swinv2_no_decay.py's keys to {'backbone': lr_mult=0.1} decays the norms, CPB MLP and
    biases anyway and trains logit_scale at 1x."""
    from mmengine.optim import build_optim_wrapper
    ours = _config('mask2former_swinv2_tiny_coco-panoptic')
    model = _build_full_size(ours, device='meta')
    v1 = _v1_config(CASES['mask2former_swinv2_tiny_coco-panoptic'].v1)
    naive = dict(v1.optim_wrapper.paramwise_cfg, custom_keys=dict(
        {'backbone': dict(lr_mult=0.1)}, **Config.fromfile(
            osp.join(ROOT, 'configs/_base_/swinv2_no_decay.py')).swinv2_no_decay))
    lr, wd = ours.optim_wrapper.optimizer.lr, ours.optim_wrapper.optimizer.weight_decay
    for paramwise, wrong in (
            (v1.optim_wrapper.paramwise_cfg, {
                'backbone.stages.0.blocks.0.attn.cpb_mlp.0.weight': (0.1 * lr, wd),
                'backbone.stages.0.blocks.0.attn.logit_scale': (0.1 * lr, wd),
                'backbone.stages.0.blocks.0.attn.q_bias': (0.1 * lr, wd),
                'backbone.stages.3.downsample.norm.weight': (0.1 * lr, wd)}),
            (naive, {
                'backbone.stages.0.blocks.0.attn.cpb_mlp.0.weight': (0.1 * lr, wd),
                'backbone.stages.0.blocks.0.attn.logit_scale': (lr, 0.0),
                'backbone.stages.0.blocks.0.norm1.weight': (0.1 * lr, wd),
                'backbone.norm0.weight': (0.1 * lr, wd)})):
        wrapper = build_optim_wrapper(model, dict(ours.optim_wrapper, paramwise_cfg=paramwise))
        got = _groups(model, wrapper)
        for name, expected in wrong.items():
            assert got[name] == pytest.approx(expected), name


# -- every parameter's learning rate and weight decay, at full size --------------------------
def _build_full_size(cfg: Config, device: str = 'meta'):
    """The config's model at its real size. On the meta device: parameters without storage,
    enough for the optimizer constructor (names, module types) and seconds to build."""
    import importlib

    from mmengine.registry import init_default_scope
    scope = cfg.default_scope
    init_default_scope(scope)
    importlib.import_module(f'{scope}.utils').register_all_modules(init_default_scope=False)
    import swinv2_mm  # noqa: F401 - the config's custom_imports
    registry = importlib.import_module(f'{scope}.registry').MODELS
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None  # no download
    with torch.device(device):
        return registry.build(model_cfg)


def _groups(model, wrapper):
    """{parameter name: (lr, weight_decay)} from the built optimizer's groups."""
    name_of = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            out[name_of[id(p)]] = (group['lr'], group['weight_decay'])
    return out


@pytest.mark.parametrize('name', MODELS_TO_STEP)
def test_every_parameter_lr_and_decay_in_the_built_optimizer(name):
    """Backbone: 0.1x the lr (as V1), no decay exactly where _base_/swinv2_no_decay.py says (its
    keys as substrings of the parameter name); head: as V1 (Mask2Former: no decay on norms and
    the query / level embeddings; DINO: decay everywhere)."""
    import logging

    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    from torch.nn import GroupNorm, LayerNorm
    from torch.nn.modules.batchnorm import _BatchNorm
    cfg = _config(name)
    model = _build_full_size(cfg)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # one INFO line per parameter otherwise
    try:
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    finally:
        logger.setLevel(level)
    got = _groups(model, wrapper)
    assert len(got) == sum(1 for _ in model.parameters())

    shared = Config.fromfile(osp.join(ROOT, 'configs/_base_/swinv2_no_decay.py')).swinv2_no_decay
    no_decay_parts = [k for k, v in shared.items() if v.get('decay_mult', 1.0) == 0.0]
    norm_params = {f'{m}.{p}' if m else p for m, module in model.named_modules()
                   if isinstance(module, (_BatchNorm, GroupNorm, LayerNorm))
                   for p, _ in module.named_parameters(recurse=False)}
    lr, wd = cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.weight_decay
    mask2former = name.startswith('mask2former')
    wrong = []
    for pname, actual in got.items():
        if pname.startswith('backbone.'):
            free = any(part in pname for part in no_decay_parts)
            expected = (0.1 * lr, 0.0 if free else wd)
        elif mask2former:
            free = pname in norm_params or any(
                k in pname for k in ('query_embed', 'query_feat', 'level_embed'))
            expected = (lr, 0.0 if free else wd)
        else:
            expected = (lr, wd)
        if not (math.isclose(actual[0], expected[0]) and math.isclose(actual[1], expected[1])):
            wrong.append((pname, actual, expected))
    assert not wrong, wrong[:10]

    # The rule is not vacuous: per block the two post-norms, logit_scale, the CPB MLP and the
    # q/v biases (10 tensors), plus the patch embedding's, merging and output norms.
    backbone = model.backbone
    free = [n for n in got if n.startswith('backbone.') and got[n][1] == 0.0]
    assert len(free) == 10 * sum(backbone.depths) + 2 + 2 * 3 + 2 * 4
    assert sum(p.numel() for n, p in model.named_parameters() if n.startswith('backbone.')) \
        > {'tiny': 27e6, 'small': 48e6, 'base': 86e6, 'large': 195e6}[CASES[name].arch]


# -- a training step of each model -----------------------------------------------------------
def _small(cfg: Config, name: str, size: int) -> Config:
    """The config with a 4-block, 16-dim backbone (its windows kept), few queries and sampled
    points, and the fixed-size pad at `size`: the same modules and losses, small."""
    cfg = copy.deepcopy(cfg)
    backbone = cfg.model.backbone
    backbone.update(embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4),
                    with_cp=False, init_cfg=None)
    channels = [16 * 2**i for i in range(4)]
    if name.startswith('dino'):
        cfg.model.neck.in_channels = channels
        cfg.model.num_queries = 30
        cfg.model.dn_cfg.group_cfg.num_dn_queries = 10
        cfg.model.test_cfg.max_per_img = 30
    else:
        head = cfg.model.get('panoptic_head') or cfg.model.decode_head
        head.update(in_channels=channels, num_queries=8)
        train_cfg = cfg.model.train_cfg if 'panoptic_head' in cfg.model else head.train_cfg
        train_cfg.num_points = (size // 4)**2
        if name.startswith('mask2former') and 'coco' in name:
            cfg.model.data_preprocessor.batch_augments[0].size = (size, size)
        else:
            cfg.model.data_preprocessor.size = (size, size)
    return cfg


@pytest.mark.parametrize('name', MODELS_TO_TRAIN)
def test_training_step(name):
    """One Runner training step (data preprocessor with its batch augments, losses, backward,
    gradient clipping, AdamW with the config's groups) on a synthetic 96x96 batch."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper

    from swinv2_mm.engine.step_memory import _det_batch, _seg_batch
    size = 96
    cfg = _small(_config(name), name, size)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(_build_full_size(cfg, device='cpu')).train()
    model.init_weights()
    # Res-post-norm starts every block's branch at zero (norm1/norm2 weights 0), which leaves
    # the attention without gradient on the first step: open the branches.
    for name_, param in model.backbone.named_parameters():
        if name_.endswith(('norm1.weight', 'norm2.weight')):
            torch.nn.init.ones_(param)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    if cfg.default_scope == 'mmseg':
        data = _seg_batch(2, size, cfg.model.decode_head.num_classes)
    else:
        head = cfg.model.get('panoptic_head', {})
        data = _det_batch(2, size, head.num_things_classes
                          if head.get('num_stuff_classes', 0) else None)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = model.train_step(data, wrapper)

    if name.startswith('dino'):
        expected = {'loss_cls', 'loss_bbox', 'loss_iou', 'enc_loss_cls', 'dn_loss_cls',
                    'd0.loss_cls'}
    else:
        expected = {'loss_cls', 'loss_mask', 'loss_dice', 'd0.loss_cls', 'd8.loss_dice'}
        expected = {f'decode.{k}' for k in expected} if 'ade20k' in name else expected
    assert expected <= set(losses), sorted(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert float(losses['loss']) > 0
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    # The stem and V2's attention parameters got gradients (those without weight decay move
    # only through their gradient), and so did the head.
    block = 'backbone.stages.2.blocks.0.attn.'
    for part in ('backbone.patch_embed.projection.weight', block + 'qkv.weight',
                 block + 'logit_scale', block + 'cpb_mlp.0.weight', block + 'q_bias'):
        assert part in moved, part
    head_prefix = 'neck.' if name.startswith('dino') else (
        'decode_head.' if 'ade20k' in name else 'panoptic_head.')
    assert any(n.startswith(head_prefix) for n in moved)


# -- the Mask2Former demo through the Runner -------------------------------------------------
DEMO = 'configs/demo/mask2former_swinv2_demo_synthetic.py'


def test_demo_config_is_the_ade20k_family_small():
    demo, full = Config.fromfile(osp.join(ROOT, DEMO)), _config('mask2former_swinv2_tiny_ade20k')
    upernet_demo = Config.fromfile(osp.join(ROOT, 'configs/demo/upernet_swinv2_demo_synthetic.py'))
    assert demo.model.type == full.model.type == 'EncoderDecoder'
    assert demo.model.decode_head.type == full.model.decode_head.type == 'Mask2FormerHead'
    assert demo.model.decode_head.pixel_decoder.type == 'mmdet.MSDeformAttnPixelDecoder'
    # same data, pipelines and metric as the UperNet demo: the two heads compare directly
    for key in ('train_pipeline', 'test_pipeline', 'metainfo', 'val_evaluator', 'crop_size'):
        assert _norm(demo[key]) == _norm(upernet_demo[key]), key
    assert demo.train_dataloader.dataset.data_prefix == \
        upernet_demo.train_dataloader.dataset.data_prefix
    # the full configs' groups, with the backbone at the head's rate (trained from scratch)
    keys = demo.optim_wrapper.paramwise_cfg.custom_keys
    assert set(keys) == set(full.optim_wrapper.paramwise_cfg.custom_keys)
    assert all(v.lr_mult == 1.0 for v in keys.values())
    assert [v.decay_mult for v in keys.values()] == \
        [v.decay_mult for v in full.optim_wrapper.paramwise_cfg.custom_keys.values()]
    from swinv2_mm.engine.demo import TARGETS, TASKS
    assert TASKS['mask2former'].config == DEMO
    assert TARGETS['mask2former'] == 'mIoU >= 0.5'
    assert TASKS['mask2former'].passed({'mIoU': 50.0})
    assert not TASKS['mask2former'].passed({'mIoU': 49.9})


def test_demo_trains_evaluates_and_draws(tmp_path):
    """A few Runner iterations of the demo config on freshly generated data, then the
    held-out evaluation (IoUMetric) with overlays, as tools/demo_mask2former.py runs them."""
    from swinv2_mm.demo.ade_shapes import generate
    from swinv2_mm.engine import prepare_test_config, prepare_train_config, run_test, run_train
    data_root = generate(str(tmp_path / 'data'), num_train=4, num_val=2, seed=2)
    options = {f'{d}.dataset.data_root': data_root
               for d in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
    work_dir = str(tmp_path / 'work')
    train = dict(options, **{
        'train_cfg.max_iters': 2, 'train_cfg.val_begin': 10**9,
        'default_hooks.checkpoint.interval': 2, 'default_hooks.logger.interval': 1,
        'train_dataloader.batch_size': 2,
        'param_scheduler': [dict(type='ConstantLR', factor=1.0, by_epoch=False)]})
    runner = run_train(prepare_train_config(osp.join(ROOT, DEMO), work_dir=work_dir,
                                            cfg_options=train))
    assert runner.iter == 2
    assert math.isfinite(runner.message_hub.get_scalar('train/loss').current())
    checkpoint = osp.join(work_dir, 'iter_2.pth')
    show_dir = str(tmp_path / 'show')
    options['visualizer.name'] = 'test_heads_demo'  # a fresh visualizer for the second Runner
    metrics = run_test(prepare_test_config(osp.join(ROOT, DEMO), checkpoint, work_dir=work_dir,
                                           show_dir=show_dir, cfg_options=options))
    assert set(metrics) >= {'aAcc', 'mIoU', 'mAcc'}
    assert 0.0 <= metrics['mIoU'] <= 100.0
    pictures = [f for _, _, files in os.walk(show_dir) for f in files if f.endswith('.png')]
    assert len(pictures) == 2


# -- tools/deform_attn_time.py ---------------------------------------------------------------
def test_deform_attn_time_tool_records_the_pytorch_path(tmp_path, capsys):
    import json
    import sys
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import deform_attn_time
    out = str(tmp_path / 'msda.json')
    assert deform_attn_time.main([osp.join(ROOT, DEMO), '--size', '96', '--batch', '2',
                                  '--repeats', '1', '--threads', '1', '--json', out]) == 0
    record = json.load(open(out))
    # The demo pads every batch to its 128 crop; its pixel decoder has 2 encoder layers over
    # 3 levels (1/32, 1/16, 1/8 of 128 px).
    assert record['input'] == [2, 3, 128, 128] and 'machine' in record
    assert record['msda_calls'] == 2 and record['msda_levels'] == [[4, 4], [8, 8], [16, 16]]
    assert record['msda_queries'] == 16 + 64 + 256
    assert 0 < record['msda_seconds'] and 0 < record['msda_share'] < 1
    assert 'of the step' in capsys.readouterr().out

    # bad input: one line on stderr, exit 1, nothing built
    assert deform_attn_time.main([osp.join(ROOT, DEMO), '--size', '16']) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: --size 16') and '\n' not in err
