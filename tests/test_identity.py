"""Numerical identity with the reference implementations (timm, transformers, mmpretrain).

Random weights, moved away from their init, are written in each public layout and loaded
through `init_cfg` exactly as a user would; every stage must agree within 1e-4 (float32).
"""
import pytest
import torch
import torch.nn.functional as F

from reference_models import (SMALL, perturb_, save_all_formats, timm_model, timm_stage_outputs,
                              transformers_backbone, transformers_stage_outputs)
from swinv2_mm import SwinTransformerV2

TOL = 1e-4


def build_ours(checkpoint, window_size, pretrained_window_sizes=0, arch=SMALL, **kwargs):
    model = SwinTransformerV2(
        arch=arch, window_size=window_size, pretrained_window_sizes=pretrained_window_sizes,
        drop_path_rate=0.0, init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint)),
        **kwargs)
    model.init_weights()
    return model.eval()


def plain_norm(x):
    """The output norms the checkpoints lack stay at their init (weight 1, bias 0)."""
    return F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],)).permute(0, 3, 1, 2)


def assert_stages_match(ours, refs, normed_last=True):
    assert len(ours) == len(refs) == 4
    for i, (a, b) in enumerate(zip(ours, refs)):
        if i < 3 or not normed_last:
            b = plain_norm(b)
        assert a.shape == b.shape, (i, a.shape, b.shape)
        err = (a - b).abs().max().item()
        assert err < TOL, f'stage {i}: max abs error {err:.3g}'


# (input H, W), window, pretrained windows: plain; smaller pretrained window -> larger window
# (the 1K window8 -> detection case); the 22K checkpoints' 12/6 -> 16; an odd window.
TIMM_CASES = [
    pytest.param((256, 256), 8, (0, 0, 0, 0), id='256-w8'),
    pytest.param((256, 256), 16, (8, 8, 8, 4), id='256-w16-from-w8'),
    pytest.param((512, 512), 16, (12, 12, 12, 6), id='512-w16-from-12-6'),
    pytest.param((224, 224), 7, (0, 0, 0, 0), id='224-w7-odd'),
]


@pytest.mark.parametrize('img_size,window,pretrained', TIMM_CASES)
def test_identity_with_timm_in_every_file_layout(tmp_path, img_size, window, pretrained):
    ref = timm_model(img_size, window, pretrained)
    x = torch.randn(2, 3, *img_size)
    expected = timm_stage_outputs(ref, x)
    paths = save_all_formats(ref, str(tmp_path))
    for fmt, path in paths.items():
        model = build_ours(path, window, pretrained)
        with torch.no_grad():
            ours = model(x)
        try:
            assert_stages_match(ours, expected)
        except AssertionError as e:
            raise AssertionError(f'{fmt}: {e}') from e


# Inputs that need padding at some stage (and windows clipped to small maps): transformers
# pads, then shifts, as mmdet's Swin and this package do. 224x320 at window 8 pads stages 2-4
# and clips the last one to 7, so that checkpoint's last stage learnt its bias at window 7:
# the loader (reading config.json) insists on pretrained_window_sizes [8, 8, 8, 7]. At window
# 7 the odd window pads every stage but the first.
HF_CASES = [
    pytest.param((224, 320), 8, (0, 0, 0, 0), (8, 8, 8, 7), id='224x320-w8-padded'),
    pytest.param((224, 320), 7, (0, 0, 0, 0), (0, 0, 0, 0), id='224x320-w7-padded'),
    pytest.param((256, 384), 16, (8, 8, 8, 4), (8, 8, 8, 4), id='256x384-w16-from-w8-padded'),
]


@pytest.mark.parametrize('img_size,window,ref_pretrained,pretrained', HF_CASES)
def test_identity_with_transformers_on_padded_inputs(tmp_path, img_size, window,
                                                     ref_pretrained, pretrained):
    ref = transformers_backbone(img_size, window, ref_pretrained)
    x = torch.randn(2, 3, *img_size)
    expected = transformers_stage_outputs(ref, x)
    ref.save_pretrained(tmp_path / 'hf')  # model.safetensors + config.json
    model = build_ours(tmp_path / 'hf', window, pretrained)
    with torch.no_grad():
        ours = model(x)
    assert_stages_match(ours, expected, normed_last=False)


def test_identity_with_transformers_classifier_bin(tmp_path):
    """Swinv2ForImageClassification weights ('swinv2.' prefix, separate q/k/v, final
    layernorm, classifier) saved as pytorch_model.bin: the last stage goes through the
    loaded final norm; the classifier is ignored."""
    from transformers import Swinv2Config, Swinv2ForImageClassification
    config = Swinv2Config(image_size=256, embed_dim=32, depths=[2, 2, 2, 2],
                          num_heads=[1, 2, 4, 8], window_size=8, num_labels=7)
    ref = perturb_(Swinv2ForImageClassification(config))
    torch.save(ref.state_dict(), tmp_path / 'pytorch_model.bin')
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        last = ref.swinv2(x).last_hidden_state  # B, L, C after the final norm
    model = build_ours(tmp_path / 'pytorch_model.bin', 8)
    with torch.no_grad():
        ours = model(x)[-1]
    expected = last.reshape(1, 8, 8, -1).permute(0, 3, 1, 2)
    assert (ours - expected).abs().max().item() < TOL


def _import_mmpretrain_backbone():
    """mmpretrain 1.2.0's package __init__ imports its multimodal models, which import
    `apply_chunking_to_forward` from where older transformers kept it. Its SwinV2 backbone
    needs none of that: point the old name at the helper's current home, then import."""
    pytest.importorskip('mmcv._ext')
    import transformers.modeling_utils as modeling_utils
    import transformers.pytorch_utils as pytorch_utils
    for name in ('apply_chunking_to_forward', 'find_pruneable_heads_and_indices',
                 'prune_linear_layer'):
        if not hasattr(modeling_utils, name) and hasattr(pytorch_utils, name):
            setattr(modeling_utils, name, getattr(pytorch_utils, name))
    try:
        from mmpretrain.models.backbones import SwinTransformerV2 as MMPretrainSwinV2
    except Exception as e:  # pragma: no cover - depends on the reference's imports
        pytest.skip(f'mmpretrain not importable here: {type(e).__name__}: {e}')
    return MMPretrainSwinV2


@pytest.mark.parametrize('img_size,window,pretrained', [
    pytest.param((256, 256), 8, (0, 0, 0, 0), id='256-w8'),
    pytest.param((224, 320), 8, (4, 4, 4, 2), id='224x320-w8-padded-from-w4'),
])
def test_identity_with_mmpretrain(tmp_path, img_size, window, pretrained):
    MMPretrainSwinV2 = _import_mmpretrain_backbone()
    ref = MMPretrainSwinV2(
        arch=dict(embed_dims=SMALL['embed_dims'], depths=list(SMALL['depths']),
                  num_heads=list(SMALL['num_heads']), extra_norm_every_n_blocks=0),
        img_size=img_size, window_size=window, pretrained_window_sizes=list(pretrained),
        out_indices=(0, 1, 2, 3), drop_path_rate=0.0)
    ref.init_weights()
    perturb_(ref)
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in ref.state_dict().items()},
                'meta': {}}, tmp_path / 'mmpretrain.pth')
    x = torch.randn(2, 3, *img_size)
    with torch.no_grad():
        expected = ref(x)
    model = build_ours(tmp_path / 'mmpretrain.pth', window, pretrained)
    # mmpretrain's output norms are in the file (norm0..norm3): nothing left at init.
    with torch.no_grad():
        ours = model(x)
    for i, (a, b) in enumerate(zip(ours, expected)):
        err = (a - b).abs().max().item()
        assert err < TOL, f'stage {i}: max abs error {err:.3g}'


def test_plain_attention_path_agrees(tmp_path):
    """The unfused attention (the paper's formula spelled out) gives the same network."""
    ref = timm_model((256, 256), 8)
    x = torch.randn(1, 3, 256, 256)
    paths = save_all_formats(ref, str(tmp_path))
    model = build_ours(paths['timm_pth'], 8)
    with torch.no_grad():
        fused = model(x)
        for m in model.modules():
            if hasattr(m, 'fused'):
                m.fused = False
        plain = model(x)
    for a, b in zip(fused, plain):
        assert (a - b).abs().max().item() < 1e-5
