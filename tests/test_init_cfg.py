"""init_cfg in every form mmengine accepts, and the deprecated pretrained= of mmdet's and
mmseg's Swin, loading real checkpoint files written here."""
import os.path as osp

import pytest
import torch

from reference_models import SMALL, perturb_
from swinv2_mm import SwinTransformerV2

ARGS = dict(arch=SMALL, window_size=4)


@pytest.fixture(scope='module')
def saved(tmp_path_factory):
    """Random (non-init) weights of a SMALL model, saved as a backbone checkpoint and as a
    whole detector checkpoint (backbone under 'backbone.', a neck beside it)."""
    folder = tmp_path_factory.mktemp('init_cfg')
    model = SwinTransformerV2(**ARGS)
    model.init_weights()
    state = {k: v.clone() for k, v in perturb_(model, seed=1).state_dict().items()}
    paths = dict(backbone=osp.join(folder, 'backbone.pth'),
                 detector=osp.join(folder, 'detector.pth'))
    torch.save({'state_dict': state}, paths['backbone'])
    detector = {f'backbone.{k}': v for k, v in state.items()}
    detector['neck.lateral_convs.0.conv.weight'] = torch.zeros(8, 32, 1, 1)
    torch.save({'meta': {'epoch': 12}, 'state_dict': detector}, paths['detector'])
    return paths, state


def assert_loaded(model, state):
    params = dict(model.named_parameters())
    assert params, 'no parameters'
    for name, value in params.items():
        assert torch.equal(value.detach(), state[name]), name


@pytest.mark.parametrize('form', ['dict', 'list', 'tuple'])
def test_pretrained_init_cfg_as_dict_or_list(saved, form):
    paths, state = saved
    cfg = dict(type='Pretrained', checkpoint=paths['backbone'])
    init_cfg = {'dict': cfg, 'list': [cfg], 'tuple': (cfg,)}[form]
    model = SwinTransformerV2(init_cfg=init_cfg, **ARGS)
    model.init_weights()
    assert_loaded(model, state)


@pytest.mark.parametrize('prefix', ['backbone', 'backbone.'])
def test_prefix_with_or_without_the_dot(saved, prefix):
    paths, state = saved
    model = SwinTransformerV2(
        init_cfg=dict(type='Pretrained', checkpoint=paths['detector'], prefix=prefix), **ARGS)
    model.init_weights()
    assert_loaded(model, state)


def test_other_initializers_apply_and_pretrained_comes_last(saved):
    paths, state = saved
    # alone, an mmengine initializer is applied over the official init (not ignored)
    model = SwinTransformerV2(init_cfg=dict(type='Constant', layer='LayerNorm', val=2.0,
                                            bias=0.5), **ARGS)
    model.init_weights()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and all(bool((m.weight == 2.0).all() and (m.bias == 0.5).all())
                         for m in norms)
    wide = SwinTransformerV2(init_cfg=dict(type='TruncNormal', layer='Linear', std=1.0,
                                           a=-4.0, b=4.0), **ARGS)
    wide.init_weights()
    assert wide.stages[0].blocks[0].mlp.fc1.weight.std() > 0.5  # the official init: 0.02
    # in a list, Pretrained is applied last whatever its place (mmengine's rule)
    model = SwinTransformerV2(init_cfg=[
        dict(type='Pretrained', checkpoint=paths['detector'], prefix='backbone'),
        dict(type='Constant', layer=['LayerNorm', 'Linear'], val=3.0)], **ARGS)
    model.init_weights()
    assert_loaded(model, state)


def test_init_cfg_is_applied_when_the_backbone_is_a_child(saved):
    """Inside a detector, mmengine's BaseModule.init_weights calls ours."""
    from mmengine.model import BaseModule
    paths, state = saved

    class Detector(BaseModule):
        def __init__(self):
            super().__init__()
            self.backbone = SwinTransformerV2(init_cfg=[dict(
                type='Pretrained', checkpoint=paths['detector'], prefix='backbone')], **ARGS)

    detector = Detector()
    detector.init_weights()
    assert_loaded(detector.backbone, state)


@pytest.mark.parametrize('init_cfg,exc,text', [
    (dict(type='Nonsense'), ValueError, "one of mmengine's weight initializers"),
    (dict(type='Pretrained'), ValueError, 'checkpoint=PATH_OR_URL'),
    (dict(type='Pretrained', checkpoint='x.pth', prefix=1), TypeError, 'a str prefix'),
    ('x.pth', TypeError, "a dict with a 'type'"),
    ([dict(checkpoint='x.pth')], TypeError, "a dict with a 'type'"),
])
def test_bad_init_cfg_is_refused_at_construction(init_cfg, exc, text):
    with pytest.raises(exc) as e:
        SwinTransformerV2(init_cfg=init_cfg, **ARGS)
    assert 'init_cfg=' in str(e.value) and text in str(e.value)


def test_pretrained_argument_is_the_deprecated_init_cfg(saved):
    paths, state = saved
    with pytest.warns(FutureWarning, match='pretrained= is deprecated'):
        model = SwinTransformerV2(pretrained=paths['backbone'], **ARGS)
    assert model.init_cfg == dict(type='Pretrained', checkpoint=paths['backbone'])
    model.init_weights()
    assert_loaded(model, state)
    # None means "no checkpoint", as in mmdet's and mmseg's Swin
    assert SwinTransformerV2(pretrained=None, **ARGS).init_cfg is None


def test_pretrained_and_init_cfg_together_or_wrong_type_are_refused(saved):
    paths, _ = saved
    with pytest.raises(ValueError, match='both set') as e:
        SwinTransformerV2(pretrained=paths['backbone'],
                          init_cfg=dict(type='Pretrained', checkpoint=paths['backbone']), **ARGS)
    assert 'model.pretrained=None' in str(e.value)
    with pytest.raises(TypeError, match=r'invalid pretrained=3; pretrained must be'):
        SwinTransformerV2(pretrained=3, **ARGS)
    with pytest.raises(ValueError, match=r"invalid pretrained=''"):
        SwinTransformerV2(pretrained='', **ARGS)


def _upernet_r50_with_swinv2(folder, pretrained, init_cfg=None):
    """mmseg's own upernet_r50 base (whose model sets pretrained='open-mmlab://resnet50_v1c')
    with the backbone swapped, as a user's config file does, built through mmseg's MODELS."""
    pytest.importorskip('mmseg')
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    path = folder / 'upernet_swinv2.py'
    # 'base' keeps the base's own pretrained (the ResNet checkpoint)
    keep = '' if pretrained == 'base' else f'pretrained={pretrained!r}, '
    path.write_text(
        "_base_ = ['mmseg::_base_/models/upernet_r50.py']\n"
        "custom_imports = dict(imports=['swinv2_mm'], allow_failed_imports=False)\n"
        f'model = dict({keep}backbone=dict(_delete_=True, type="SwinTransformerV2", '
        f'arch={SMALL!r}, window_size=4, init_cfg={init_cfg!r}),\n'
        '             decode_head=dict(in_channels=[32, 64, 128, 256], channels=16),\n'
        '             auxiliary_head=dict(in_channels=128, channels=16))\n')
    cfg = Config.fromfile(str(path))
    if pretrained == 'base':
        assert cfg.model.pretrained == 'open-mmlab://resnet50_v1c'
    init_default_scope('mmseg')
    return MODELS.build(cfg.model)


def test_mmseg_segmentor_pretrained_reaches_the_backbone(saved, tmp_path):
    paths, state = saved
    with pytest.warns(FutureWarning, match='pretrained= is deprecated'):
        segmentor = _upernet_r50_with_swinv2(tmp_path, paths['backbone'])
    assert isinstance(segmentor.backbone, SwinTransformerV2)
    segmentor.init_weights()
    assert_loaded(segmentor.backbone, state)


def test_mmseg_base_pretrained_with_backbone_init_cfg_says_what_to_do(saved, tmp_path):
    paths, _ = saved
    with pytest.raises(ValueError, match=r'both set.*model\.pretrained=None'):
        _upernet_r50_with_swinv2(tmp_path, 'base',
                                 dict(type='Pretrained', checkpoint=paths['backbone']))
    # and with model.pretrained=None, init_cfg alone loads
    segmentor = _upernet_r50_with_swinv2(
        tmp_path, None, dict(type='Pretrained', checkpoint=paths['backbone']))
    segmentor.init_weights()
    assert_loaded(segmentor.backbone, saved[1])
