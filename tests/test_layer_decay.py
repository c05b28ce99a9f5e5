"""Layer-wise learning-rate decay (swinv2_mm/optim.py): layer ids as the official SwinV2 code
counts them, the lr and weight decay of every parameter of the real UperNet, Cascade Mask
R-CNN and HTC models the configs build, the custom keys combining, mmengine's schedulers on
top, the registry from every scope, and one-line errors for bad settings."""
import os.path as osp
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import DefaultOptimWrapperConstructor, build_optim_wrapper
from mmengine.registry import DefaultScope

from reference_models import SMALL
from swinv2_mm import SwinTransformerV2, SwinV2LayerDecayOptimWrapperConstructor
from swinv2_mm.optim import swin_layer_id

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
NO_DECAY_KEYS = ('norm', 'logit_scale', 'cpb_mlp', 'q_bias', 'v_bias', 'mask_token')


# -- the official rule, restated here from microsoft/Swin-Transformer optimizer.py
# (get_swin_layer) on the official model's parameter names ------------------------------------
def official_name(name: str) -> str:
    """Our backbone names -> the official model's: merging ends stage s-1 there
    (`layers.{s-1}.downsample`), starts stage s here (`stages.s.downsample`)."""
    parts = name.split('.')
    if parts[0] == 'stages' and parts[2] == 'downsample':
        return '.'.join(['layers', str(int(parts[1]) - 1)] + parts[2:])
    if parts[0] == 'stages':
        return '.'.join(['layers'] + parts[1:])
    return name


def official_layer_id(name: str, depths) -> int:
    if name.startswith('patch_embed') or name == 'mask_token':
        return 0
    if name.startswith('layers.'):
        stage, kind, index = name.split('.')[1:4]
        if kind == 'downsample':  # `index` is 'reduction' / 'norm': the stage's last id
            return sum(depths[:int(stage) + 1])
        return sum(depths[:int(stage)]) + int(index) + 1
    return sum(depths) + 1  # the final norm and the head


def test_layer_ids_are_the_official_ones():
    depths = (2, 2, 6, 2)
    model = SwinTransformerV2(arch=dict(SMALL, depths=depths), window_size=4)
    ids = {n: swin_layer_id(n, depths) for n, _ in model.named_parameters()}
    for name, layer in ids.items():
        assert layer == official_layer_id(official_name(name), depths), name
    # spelt out: 14 ids, the merging with the block before it, the outputs' norms as heads
    assert ids['patch_embed.projection.weight'] == 0
    assert ids['stages.0.blocks.0.attn.qkv.weight'] == 1
    assert ids['stages.0.blocks.1.mlp.fc2.bias'] == 2
    assert ids['stages.1.downsample.reduction.weight'] == 2
    assert ids['stages.1.blocks.0.norm1.weight'] == 3
    assert ids['stages.3.downsample.norm.bias'] == 10
    assert ids['stages.3.blocks.1.attn.cpb_mlp.0.weight'] == 12
    assert ids['norm0.weight'] == ids['norm3.bias'] == 13
    assert swin_layer_id('mask_token', depths) == 0


# -- the real models of the configs --------------------------------------------------------------
def _build(config: str, scope: str, **options):
    """The model the Runner builds from a shipped config (no checkpoint download), and the
    optimizer wrapper built as the Runner builds it (in the config's scope)."""
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.merge_from_dict(options)
    init_default_scope(scope)
    if scope == 'mmdet':
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
    else:
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    model_cfg = cfg.model.copy()
    model_cfg.backbone.init_cfg = None
    model = MODELS.build(model_cfg)
    with DefaultScope.overwrite_default_scope(scope):
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return cfg, model, wrapper


def _settings_of(model, wrapper):
    """name -> (lr, weight_decay, group layer_id), checking every trainable parameter is in
    exactly one group and the groups hold one setting each."""
    names = {id(p): n for n, p in model.named_parameters()}
    seen = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            assert names[id(p)] not in seen, names[id(p)]
            seen[names[id(p)]] = (group['lr'], group['weight_decay'], group['layer_id'])
    assert set(seen) == {n for n, p in model.named_parameters() if p.requires_grad}
    return seen


def test_upernet_ade20k_every_group_is_the_papers():
    """SwinV2-T UperNet (configs/upernet_swinv2_tiny_ade20k.py): lr 4e-5 x 0.95^(13 - id), no
    decay where BEiT's and the official SwinV2 fine-tuning put none: every 1-D parameter or
    bias, logit_scale and the CPB MLP."""
    cfg, model, wrapper = _build('configs/upernet_swinv2_tiny_ade20k.py', 'mmseg')
    depths = model.backbone.depths
    assert sum(depths) + 2 == 14
    settings = _settings_of(model, wrapper)
    for name, (lr, wd, layer) in settings.items():
        p = model.get_parameter(name)
        expected_layer = 13
        if name.startswith('backbone.'):
            expected_layer = official_layer_id(official_name(name[len('backbone.'):]), depths)
        assert layer == expected_layer, name
        assert lr == pytest.approx(4e-5 * 0.95 ** (13 - expected_layer), rel=1e-12), name
        free = p.ndim == 1 or name.endswith('.bias') or 'cpb_mlp' in name or \
            'logit_scale' in name
        assert wd == (0.0 if free else 0.05), name
    # the heads at the config's lr, the patch embedding at 0.95^13 of it
    assert settings['decode_head.conv_seg.weight'][:2] == (pytest.approx(4e-5), 0.05)
    assert settings['backbone.patch_embed.projection.weight'][0] == pytest.approx(
        4e-5 * 0.95 ** 13)
    assert settings['decode_head.fpn_bottleneck.bn.weight'][1] == 0.0
    assert wrapper.optimizer.param_groups[0]['lr'] == pytest.approx(4e-5)  # what mmengine logs
    # merged groups: one per (layer, lr, decay), not one per tensor
    assert len(wrapper.optimizer.param_groups) <= 2 * 14


def test_cascade_layer_decay_with_backbone_lr_mult_and_no_decay_keys():
    """configs/cascade_swinv2_tiny_coco.py with layer decay, a backbone lr_mult and the no-decay
    keys in one optimizer: every factor applies (mmengine's constructor would let the longer key
    'backbone' win and decay the backbone's norms)."""
    base = Config.fromfile(osp.join(ROOT, 'configs/_base_/swinv2_no_decay.py')).swinv2_no_decay
    keys = dict(base, backbone=dict(lr_mult=0.1))
    cfg, model, wrapper = _build(
        'configs/cascade_swinv2_tiny_coco.py', 'mmdet', **{
            'optim_wrapper.constructor': 'SwinV2LayerDecayOptimWrapperConstructor',
            'optim_wrapper.paramwise_cfg': dict(layer_decay_rate=0.9, custom_keys=keys)})
    assert type(model).__name__ == 'CascadeRCNN'
    depths = model.backbone.depths
    last = sum(depths) + 1
    for name, (lr, wd, layer) in _settings_of(model, wrapper).items():
        in_backbone = name.startswith('backbone.')
        expected_layer = official_layer_id(official_name(name[9:]), depths) \
            if in_backbone else last
        assert layer == expected_layer, name
        assert lr == pytest.approx(1e-4 * (0.1 if in_backbone else 1.0)
                                   * 0.9 ** (last - expected_layer), rel=1e-12), name
        assert wd == (0.0 if any(k in name for k in NO_DECAY_KEYS) else 0.05), name
    settings = _settings_of(model, wrapper)
    assert settings['backbone.stages.0.blocks.0.norm1.weight'][:2] == (
        pytest.approx(1e-4 * 0.1 * 0.9 ** (last - 1)), 0.0)
    assert settings['roi_head.bbox_head.0.fc_cls.weight'][:2] == (pytest.approx(1e-4), 0.05)

    # mmengine's own constructor on the same keys: the longer key wins, the norm decays
    with DefaultScope.overwrite_default_scope('mmdet'):
        plain = build_optim_wrapper(model, dict(
            type='OptimWrapper', optimizer=cfg.optim_wrapper.optimizer,
            paramwise_cfg=dict(custom_keys=keys)))
    norm = model.backbone.stages[0].blocks[0].norm1.weight
    (group,) = [g for g in plain.optimizer.param_groups if any(p is norm for p in g['params'])]
    assert group['weight_decay'] == pytest.approx(0.05)


def test_htc_1536_groups_backbone_lr_mult_and_no_decay():
    """configs/htc_swinv2_base_w32_coco_1536.py (SwinV2-B HTC): AdamW 4e-4, the backbone at
    0.1x, no decay on the SwinV2 no-decay keys, no layer decay."""
    cfg, model, wrapper = _build('configs/htc_swinv2_base_w32_coco_1536.py', 'mmdet')
    assert type(model).__name__ == 'HybridTaskCascade'
    assert model.backbone.embed_dims == 128 and model.backbone.window_sizes == (32,) * 4
    for name, (lr, wd, _) in _settings_of(model, wrapper).items():
        assert lr == pytest.approx(4e-4 * (0.1 if name.startswith('backbone.') else 1.0),
                                   rel=1e-12), name
        assert wd == (0.0 if any(k in name for k in NO_DECAY_KEYS) else 0.05), name


# -- against mmengine, with schedulers, frozen stages ----------------------------------------------
class _Segmentor(torch.nn.Module):
    def __init__(self, **backbone):
        super().__init__()
        self.backbone = SwinTransformerV2(arch=SMALL, window_size=4, **backbone)
        self.head = torch.nn.Sequential(torch.nn.Conv2d(SMALL['embed_dims'] * 8, 8, 3),
                                        torch.nn.BatchNorm2d(8), torch.nn.Conv2d(8, 3, 1))


def _per_param(model, wrapper):
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: (g['lr'], g.get('weight_decay')) for g in
            wrapper.optimizer.param_groups for p in g['params']}


def _both(paramwise, model):
    optimizer = dict(type='AdamW', lr=1e-3, weight_decay=0.05)
    ours = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=optimizer,
        constructor='SwinV2LayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(paramwise, layer_decay_rate=1.0)))
    theirs = DefaultOptimWrapperConstructor(dict(type='OptimWrapper', optimizer=optimizer),
                                            paramwise)(model)
    return _per_param(model, ours), _per_param(model, theirs)


def test_equals_mmengine_without_layer_decay_where_the_longest_key_sets_both():
    model = _Segmentor()
    rules = dict(norm_decay_mult=0.0, bias_lr_mult=2.0, bias_decay_mult=0.5)
    ours, theirs = _both(dict(rules, custom_keys={
        'cpb_mlp': dict(lr_mult=1.0, decay_mult=0.0),
        'head.2': dict(lr_mult=0.5, decay_mult=1.0),
        'head.2.bias': dict(lr_mult=3.0, decay_mult=0.1)}), model)
    assert ours == theirs
    assert ours['head.2.bias'] == (pytest.approx(3e-3), pytest.approx(0.005))
    assert ours['backbone.norm0.weight'] == (1e-3, 0.0)  # no key: the generic rules

    # A key that sets one multiplier leaves the other to the generic rules here; mmengine
    # takes 1 for it instead (the bias's 2x lr and the norm's 0 decay are lost).
    ours, theirs = _both(dict(rules, custom_keys={
        'cpb_mlp': dict(decay_mult=0.0), 'backbone': dict(lr_mult=0.1),
        'head.0': dict(decay_mult=0.2)}), model)
    bias = 'backbone.stages.0.blocks.0.attn.cpb_mlp.0.bias'
    assert ours[bias] == (pytest.approx(1e-4), 0.0) and theirs[bias] == (1e-4, 0.05)
    norm = 'backbone.stages.0.blocks.0.norm1.weight'
    assert ours[norm] == (pytest.approx(1e-4), 0.0) and theirs[norm] == (1e-4, 0.05)
    bias = 'head.0.bias'
    assert ours[bias] == (2e-3, pytest.approx(0.01)) and theirs[bias] == (
        1e-3, pytest.approx(0.01))


def test_schedulers_keep_the_layer_ratios_and_frozen_stages_stay_out():
    from mmengine.optim import LinearLR, PolyLR
    model = _Segmentor(frozen_stages=1)
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        constructor='SwinV2LayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay_rate=0.8)))
    params = {id(p) for g in wrapper.optimizer.param_groups for p in g['params']}
    frozen = [p for p in model.backbone.stages[0].parameters()] + \
        list(model.backbone.patch_embed.parameters())
    assert frozen and not any(id(p) in params for p in frozen)
    groups = wrapper.optimizer.param_groups
    start = [g['lr'] for g in groups]
    schedulers = [LinearLR(wrapper, start_factor=0.1, by_epoch=False, begin=0, end=4),
                  PolyLR(wrapper, eta_min=0.0, power=1.0, by_epoch=False, begin=4, end=20)]
    for _ in range(9):
        wrapper.step()
        for s in schedulers:
            s.step()
    factor = groups[0]['lr'] / start[0]
    assert 0.0 < factor < 1.0
    for g, lr in zip(groups, start):
        assert g['lr'] == pytest.approx(lr * factor, rel=1e-9)


# -- registry: every scope, every form -------------------------------------------------------------
def test_import_registers_in_mmengine_root():
    """`import swinv2_mm` registers it in mmengine's root registry (that the import stays free
    of mmdet/mmseg/mmcv is tests/test_detection.py::test_import_swinv2_mm_stays_light)."""
    from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
    assert OPTIM_WRAPPER_CONSTRUCTORS.get('SwinV2LayerDecayOptimWrapperConstructor') is \
        SwinV2LayerDecayOptimWrapperConstructor
    assert 'SwinV2LayerDecayOptimWrapperConstructor' in OPTIM_WRAPPER_CONSTRUCTORS.module_dict


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
@pytest.mark.parametrize('form', ['name', 'scoped name', 'class'])
def test_found_from_mmdet_and_mmseg_scopes(scope, form):
    if scope == 'mmdet':
        from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
    else:
        from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS
    constructor = {'name': 'SwinV2LayerDecayOptimWrapperConstructor',
                   'scoped name': 'mmengine.SwinV2LayerDecayOptimWrapperConstructor',
                   'class': SwinV2LayerDecayOptimWrapperConstructor}[form]
    if form == 'name':
        assert OPTIM_WRAPPER_CONSTRUCTORS.get(constructor) is \
            SwinV2LayerDecayOptimWrapperConstructor
    model = _Segmentor()
    with DefaultScope.overwrite_default_scope(scope):
        wrapper = build_optim_wrapper(model, dict(
            type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
            constructor=constructor, paramwise_cfg=dict(layer_decay_rate=0.5)))
    lrs = {g['layer_id']: g['lr'] for g in wrapper.optimizer.param_groups}
    top = sum(SMALL['depths']) + 1
    assert lrs[top] == pytest.approx(1e-3) and lrs[0] == pytest.approx(1e-3 * 0.5 ** top)


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize('paramwise, message', [
    (None, 'needs layer_decay_rate'),
    (dict(custom_keys={}), 'needs layer_decay_rate'),
    (dict(layer_decay_rate=1.5), 'must be a number in (0, 1]'),
    (dict(layer_decay_rate='0.9'), 'must be a number in (0, 1]'),
    (dict(layer_decay_rate=0.9, decay_rate=0.9), 'did you mean layer_decay_rate'),
    (dict(layer_decay_rate=0.9, num_layers=12), 'layers are counted from the'),
    (dict(layer_decay_rate=0.9, flat_decay_mul=0.0), 'did you mean flat_decay_mult'),
    (dict(layer_decay_rate=0.9, custom_keys={'head': dict(lr=0.1)}), 'give lr_mult'),
    (dict(layer_decay_rate=0.9, custom_keys={'head': 0.1}), 'must be a dict'),
    (dict(layer_decay_rate=0.9, custom_keys={'head': dict(lr_mult=-1)}), 'a number >= 0'),
])
def test_bad_settings_say_what_to_do(paramwise, message):
    with pytest.raises((TypeError, ValueError)) as err:
        SwinV2LayerDecayOptimWrapperConstructor(
            dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05)),
            paramwise)
    assert message in str(err.value)
    assert str(err.value).startswith('SwinV2LayerDecayOptimWrapperConstructor: ')
    assert '\n' not in str(err.value)


def test_layer_decay_needs_one_swinv2_backbone():
    constructor = SwinV2LayerDecayOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3)),
        dict(layer_decay_rate=0.9))
    with pytest.raises(ValueError, match='needs exactly one SwinTransformerV2.*found none'):
        constructor(torch.nn.Linear(2, 2))
    # without layer decay any model is fine (the combining custom keys alone)
    SwinV2LayerDecayOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3)),
        dict(layer_decay_rate=1.0))(torch.nn.Linear(2, 2))
