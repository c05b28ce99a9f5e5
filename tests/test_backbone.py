"""The OpenMMLab backbone contract: shapes, registration, frozen stages, checkpointing."""
import subprocess
import sys

import pytest
import torch

from reference_models import SMALL, perturb_
from swinv2_mm import SwinTransformerV2


@pytest.mark.parametrize('hw', [(97, 131), (64, 64), (33, 250)])
def test_any_input_size_gives_strided_nchw_maps(hw):
    model = SwinTransformerV2(arch=SMALL, window_size=7).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, *hw))
    h, w = hw
    for i, out in enumerate(outs):
        stride = 4 * 2**i
        # each stage pads odd maps before merging: ceil at every step
        eh, ew = h, w
        for s in range(i + 1):
            eh, ew = -(-eh // (4 if s == 0 else 2)), -(-ew // (4 if s == 0 else 2))
        assert out.shape == (2, 32 * 2**i, eh, ew), (i, out.shape, stride)
        assert torch.isfinite(out).all()


def test_out_indices_and_arch_zoo():
    model = SwinTransformerV2(arch='tiny', out_indices=(1, 3))
    assert model.num_features == [96, 192, 384, 768]
    assert not hasattr(model, 'norm0') and hasattr(model, 'norm3')
    with torch.no_grad():
        outs = model.eval()(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [192, 768]
    for arch, dims, heads in [('small', 96, 3), ('base', 128, 4), ('large', 192, 6)]:
        zoo = SwinTransformerV2.arch_zoo[arch]
        assert zoo['embed_dims'] == dims and zoo['num_heads'][0] == heads


# Argument checks, the empty batch and the in_channels message: tests/test_arguments.py.


def _frozen_names(model):
    return {n for n, p in model.named_parameters() if not p.requires_grad}


@pytest.mark.parametrize('k', [-1, 0, 1, 2, 4])
def test_frozen_stages_freeze_what_mmdets_swin_freezes(k):
    """mmdet: 0 -> patch_embed (+ drop_after_pos); k -> also stages < k, their norms and the
    patch merging at the end of stage k-1, which here is the start of stage k."""
    model = SwinTransformerV2(arch=SMALL, out_indices=(0, 1, 2, 3), frozen_stages=k)
    expected = set()
    if k >= 0:
        expected |= {n for n, _ in model.named_parameters() if n.startswith('patch_embed.')}
    for i in range(max(k, 0)):
        expected |= {n for n, _ in model.named_parameters()
                     if n.startswith((f'stages.{i}.', f'norm{i}.'))}
    if 0 < k < 4:
        expected |= {n for n, _ in model.named_parameters()
                     if n.startswith(f'stages.{k}.downsample.')}
    model.train()
    assert _frozen_names(model) == expected
    assert model.drop_after_pos.training == (k < 0)
    if 0 < k < 4:
        assert not model.stages[k].downsample.training
        assert all(b.training for b in model.stages[k].blocks)  # stage k itself trains
    # the modules that still train are exactly those with trainable parameters
    for name, module in model.named_modules():
        params = list(module.parameters(recurse=False))
        if params:
            assert module.training == params[0].requires_grad, name


def test_frozen_stages_stay_frozen_and_deterministic_in_train():
    torch.manual_seed(0)
    model = SwinTransformerV2(arch=SMALL, window_size=4, frozen_stages=2, drop_rate=0.5,
                              attn_drop_rate=0.5, drop_path_rate=0.5)
    model.init_weights()
    perturb_(model)  # res-post-norms start at zero: the branches (and dropout) would not show
    model.train()  # (perturb_ leaves it in eval) train() must keep the frozen parts frozen
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        first, second = model(x), model(x)
    # stages 0 and 1 (and their norms) are frozen: no dropout, no stochastic depth
    for i in (0, 1):
        assert torch.equal(first[i], second[i]), i
    # stage 2 trains, so dropout makes its outputs differ run to run
    assert not torch.equal(first[2], second[2])


def test_frozen_weights_do_not_move_in_a_training_step():
    model = SwinTransformerV2(arch=SMALL, window_size=4, frozen_stages=2)
    model.init_weights()
    model.train()
    frozen = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    trainable = {n: p.clone() for n, p in model.named_parameters() if p.requires_grad}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0)
    sum((o ** 2).mean() for o in model(torch.randn(1, 3, 64, 64))).backward()
    opt.step()
    params = dict(model.named_parameters())
    assert 'stages.2.downsample.reduction.weight' in frozen
    assert all(torch.equal(v, params[n]) for n, v in frozen.items())
    assert any(not torch.equal(v, params[n]) for n, v in trainable.items())


def test_with_cp_gives_the_same_outputs_and_gradients():
    torch.manual_seed(0)
    plain = SwinTransformerV2(arch=SMALL, window_size=4, drop_path_rate=0.0)
    plain.init_weights()
    cp = SwinTransformerV2(arch=SMALL, window_size=4, drop_path_rate=0.0, with_cp=True)
    cp.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 64, 96)
    grads = []
    for model in (plain, cp):
        model.train()
        model.zero_grad()
        sum((o**2).mean() for o in model(x)).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-6)


def test_drop_path_rises_linearly():
    model = SwinTransformerV2(arch=SMALL, drop_path_rate=0.3)
    rates = [b.drop_path_rate for s in model.stages for b in s.blocks]
    assert rates[0] == 0.0 and abs(rates[-1] - 0.3) < 1e-6
    assert all(b > a for a, b in zip(rates, rates[1:]))


def test_windows_clip_to_small_maps_and_stop_shifting():
    from swinv2_mm.models.swin_transformer_v2 import effective_window
    assert effective_window(64, 64, 16) == (16, 8)
    assert effective_window(16, 40, 16) == (16, 0)  # no larger than the window: one window
    assert effective_window(7, 10, 8) == (7, 0)


def test_import_pulls_in_neither_mmdet_nor_mmseg_nor_compiled_ops():
    # (mmengine itself probes for transformers' optimizers when that is installed.)
    code = ('import sys, swinv2_mm; '
            'bad = [m for m in ("mmdet", "mmseg", "mmcv", "mmcv._ext", "mmpretrain", "timm") '
            'if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize('scope,registry', [('mmdet', 'mmdet.registry'),
                                            ('mmseg', 'mmseg.registry')])
def test_custom_imports_registers_in_mmdet_and_mmseg_scopes(scope, registry):
    code = f'''
import importlib
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope
cfg = Config(dict(custom_imports=dict(imports=['swinv2_mm'], allow_failed_imports=False),
                  default_scope='{scope}',
                  backbone=dict(type='SwinTransformerV2', arch='tiny', window_size=16,
                                pretrained_window_sizes=[12, 12, 12, 6])))
from mmengine.utils import import_modules_from_strings
import_modules_from_strings(**cfg.custom_imports)
init_default_scope(cfg.default_scope)
MODELS = importlib.import_module('{registry}').MODELS
backbone = MODELS.build(cfg.backbone)
print(type(backbone).__module__, backbone.window_sizes, backbone.pretrained_window_sizes)
'''
    pytest.importorskip(scope)
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'swinv2_mm.models.swin_transformer_v2 (16, 16, 16, 16) (12, 12, 12, 6)' in proc.stdout
