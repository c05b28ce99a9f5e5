"""Swin V1 configs migrate by changing the type: every argument of mmdet's and mmseg's
SwinTransformer is accepted where its value means what V2 does (one warning line at most),
and refused at construction, in one line that says why, where V2 cannot honour it."""
import warnings

import pytest
import torch

from swinv2_mm import SwinTransformerV2
from swinv2_mm.models.v1_compat import V1_ARGUMENTS

SMALL = dict(embed_dims=16, depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 4))


def _build(**kwargs):
    """(model, the warnings its construction gave)"""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        model = SwinTransformerV2(arch=SMALL, window_size=7, **kwargs)
    return model, [str(w.message) for w in caught]


def test_v1_defaults_are_accepted_with_one_warning_line():
    """V1's own defaults for every V1-only argument (what mmseg's upernet_swin base passes)."""
    model, caught = _build(**V1_ARGUMENTS)
    assert len(caught) == 1 and '\n' not in caught[0], caught
    assert 'pretrain_img_size=224' in caught[0] and 'convert_weights=False' in caught[0]
    plain, _ = _build()
    x = torch.randn(1, 3, 60, 76)
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(model.eval()(x), plain.eval()(x)))


@pytest.mark.parametrize('kwargs', [
    dict(qkv_bias=True), dict(qk_scale=None), dict(patch_norm=True),
    dict(strides=(4, 2, 2, 2)), dict(strides=[4, 2, 2, 2]), dict(use_abs_pos_embed=False),
    dict(act_cfg=dict(type='GELU')), dict(norm_cfg=dict(type='LN')),
    dict(norm_cfg=dict(type='LN', requires_grad=True)), dict(norm_cfg=dict(type='LayerNorm')),
])
def test_values_that_mean_what_v2_does_are_silent(kwargs):
    assert _build(**kwargs)[1] == []


def test_strides_follow_patch_size():
    model, caught = _build(patch_size=2, strides=(2, 2, 2, 2))
    assert caught == [] and model.patch_embed.patch_size == 2


@pytest.mark.parametrize('kwargs, message', [
    (dict(qk_scale=0.125), 'learnt per-head temperature (logit_scale)'),
    (dict(qkv_bias=False), 'learnt q and v biases'),
    (dict(patch_norm=False), 'always ends in a LayerNorm'),
    (dict(use_abs_pos_embed=True), 'no absolute position embedding'),
    (dict(strides=(4, 2, 2, 1)), 'strides must be (4, 2, 2, 2)'),
    (dict(strides=(4, 2, 2)), 'strides must be (4, 2, 2, 2)'),
    (dict(act_cfg=dict(type='ReLU')), 'exact GELU'),
    (dict(act_cfg=dict(type='GELU', approximate='tanh')), 'exact GELU'),
    (dict(norm_cfg=dict(type='BN')), 'LayerNorms (eps 1e-5) that train'),
    (dict(norm_cfg=dict(type='LN', requires_grad=False)), 'frozen_stages freezes'),
])
def test_values_v2_cannot_honour_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ValueError) as e:
        _build(**kwargs)
    text = str(e.value)
    name, value = next(iter(kwargs.items()))
    assert '\n' not in text and message in text, text
    assert text.startswith(f'SwinTransformerV2: Swin V1 argument {name}={value!r} cannot be '
                           'honoured: ')


@pytest.mark.parametrize('kwargs, message', [
    (dict(pretrain_img_size='224'), 'pretrain_img_size'),
    (dict(pretrain_img_size=(224, 224, 3)), 'pretrain_img_size'),
    (dict(convert_weights='yes'), 'convert_weights'),
    (dict(qkvbias=True), "unexpected keyword argument 'qkvbias'; did you mean 'qkv_bias'?"),
    (dict(windowsize=7), "unexpected keyword argument 'windowsize'; did you mean "
                         "'window_size'?"),
])
def test_wrong_kinds_and_misspellings_are_type_errors(kwargs, message):
    with pytest.raises(TypeError) as e:
        _build(**kwargs)
    assert message in str(e.value)


# -- the V1 configs of mmdet and mmseg, with only the type changed --------------------------
def _v1_config(tmp_path, base):
    path = tmp_path / 'v1_to_v2.py'
    path.write_text(f'_base_ = {base!r}\n'
                    "custom_imports = dict(imports=['swinv2_mm'], allow_failed_imports=False)\n"
                    "model = dict(backbone=dict(type='SwinTransformerV2'))\n")
    return str(path)


@pytest.mark.parametrize('scope, base, warned', [
    ('mmdet', 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', 'convert_weights=True'),
    ('mmseg', 'mmseg::_base_/models/upernet_swin.py', 'pretrain_img_size=224'),
])
def test_openmmlab_swin_v1_configs_build_with_the_type_changed(scope, base, warned, tmp_path):
    """mmdet's Swin-T Mask R-CNN and mmseg's UperNet Swin base: the whole model builds through
    the package's registry with SwinV2-T in it, one warning line from the backbone, and
    extracts features of the channels the V1 necks expect."""
    pytest.importorskip(scope)
    from mmengine.config import Config
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    __import__(f'{scope}.utils', fromlist=['register_all_modules']).register_all_modules(
        init_default_scope=False)
    cfg = Config.fromfile(_v1_config(tmp_path, base))
    assert cfg.model.backbone.type == 'SwinTransformerV2'
    assert 'qkv_bias' in cfg.model.backbone  # the V1 arguments all reach the backbone
    if scope == 'mmseg':  # SyncBN in the heads needs a process group: not the point here
        for head in ('decode_head', 'auxiliary_head'):
            cfg.model[head].norm_cfg = dict(type='BN', requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        model = registry.build(cfg.model).eval()
    ours = [str(w.message) for w in caught if 'SwinTransformerV2' in str(w.message)]
    assert len(ours) == 1 and warned in ours[0] and '\n' not in ours[0], ours
    backbone = model.backbone
    assert type(backbone) is SwinTransformerV2 and backbone.window_sizes == (7, 7, 7, 7)
    assert backbone.embed_dims == 96 and backbone.depths == (2, 2, 6, 2)
    with torch.no_grad():
        feats = backbone(torch.randn(1, 3, 96, 128))
    assert [f.shape[1] for f in feats] == [96, 192, 384, 768]
    assert [tuple(f.shape[2:]) for f in feats] == [(24, 32), (12, 16), (6, 8), (3, 4)]
