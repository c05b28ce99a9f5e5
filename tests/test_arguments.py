"""Every invalid argument is refused at construction, naming the argument, the value and what
is allowed; an empty batch gives empty maps; the wrong channel count names in_channels."""
import re

import pytest
import torch

from reference_models import SMALL
from swinv2_mm import SwinTransformerV2

# (arguments, exception, text the message must hold besides the argument's name and value)
INVALID = [
    (dict(window_size=0), ValueError, 'an int >= 1'),
    (dict(window_size=-8), ValueError, 'an int >= 1'),
    (dict(window_size=7.5), TypeError, 'an int >= 1'),
    (dict(window_size=True), TypeError, 'an int >= 1'),
    (dict(window_size=(8, 8)), ValueError, 'list of 4 such ints'),
    (dict(window_size='8'), TypeError, 'an int >= 1'),
    (dict(pretrained_window_sizes=-1), ValueError, 'an int >= 0'),
    (dict(pretrained_window_sizes=(12, 12, 12, -6)), ValueError, 'an int >= 0'),
    (dict(out_indices=3), TypeError, 'e.g. (3,)'),
    (dict(out_indices=(0, 4)), ValueError, 'in [0, 3]'),
    (dict(out_indices=(-1,)), ValueError, 'in [0, 3]'),
    (dict(out_indices=(1, 1, 2)), ValueError, 'distinct'),
    (dict(out_indices=(2, 1)), ValueError, 'increasing order'),
    (dict(out_indices=()), ValueError, 'stage indices'),
    (dict(out_indices=(0.0, 1)), TypeError, 'stage indices'),
    (dict(arch='gigantic'), ValueError, "['base', 'giant', 'huge', 'large', 'small', 'tiny']"),
    (dict(arch=7), TypeError, 'or a dict'),
    (dict(arch=dict(embed_dims=32, depths=(2, 2, 2, 2))), ValueError, "missing: ['num_heads']"),
    (dict(arch=dict(SMALL, window_size=8)), ValueError, "unknown: ['window_size']"),
    (dict(depths=(2, 2, 2)), ValueError, 'list of 3 such ints'),  # num_heads has 4
    (dict(depths=(2, 0, 2, 2)), ValueError, 'ints >= 1'),
    (dict(depths=()), ValueError, 'non-empty'),
    (dict(depths=2), TypeError, 'list of ints'),
    (dict(num_heads=(1, 2, 4)), ValueError, 'list of 4 such ints'),
    (dict(num_heads=(1, 2, 4, 0)), ValueError, 'an int >= 1'),
    (dict(num_heads=(1, 2, 4, 7)), ValueError, 'do not split into 7 heads'),
    (dict(embed_dims=0), ValueError, 'an int >= 1'),
    (dict(mlp_ratio=0), ValueError, 'a finite number > 0'),
    (dict(mlp_ratio=-4.0), ValueError, 'a finite number > 0'),
    (dict(mlp_ratio=float('nan')), ValueError, 'a finite number > 0'),
    (dict(mlp_ratio='4'), TypeError, 'a finite number > 0'),
    (dict(drop_rate=1.0), ValueError, 'in [0, 1)'),
    (dict(attn_drop_rate=-0.1), ValueError, 'in [0, 1)'),
    (dict(drop_path_rate=1.5), ValueError, 'in [0, 1)'),
    (dict(drop_path_rate=None), TypeError, 'in [0, 1)'),
    (dict(patch_size=0), ValueError, 'an int >= 1'),
    (dict(patch_size=(4, 4)), TypeError, 'an int >= 1'),
    (dict(in_channels=0), ValueError, 'an int >= 1'),
    (dict(in_channels=3.0), TypeError, 'an int >= 1'),
    (dict(frozen_stages=5), ValueError, 'an int in [-1, 4]'),
    (dict(frozen_stages=-2), ValueError, 'an int in [-1, 4]'),
    (dict(with_cp='yes'), TypeError, 'True or False'),
    (dict(fused_attention=None), TypeError, 'True or False'),
]


@pytest.mark.parametrize('kwargs,exc,allowed', INVALID,
                         ids=[repr(k)[5:-1] for k, _, _ in INVALID])
def test_invalid_argument_is_refused_at_construction(kwargs, exc, allowed):
    args = dict(arch=SMALL)
    args.update(kwargs)
    with pytest.raises(exc) as e:
        SwinTransformerV2(**args)
    message = str(e.value)
    (name, value), = kwargs.items()
    assert '\n' not in message
    assert f'{name}=' in message, message
    assert repr(value) in message, message
    assert allowed in message, message


def test_valid_edge_values_are_accepted():
    model = SwinTransformerV2(arch=SMALL, window_size=[1, 2, 3, 4], pretrained_window_sizes=0,
                              out_indices=[3], frozen_stages=4, mlp_ratio=0.5, drop_rate=0.0,
                              in_channels=1, patch_size=2, depths=[1, 1, 1, 1])
    assert model.window_sizes == (1, 2, 3, 4) and model.out_indices == (3,)
    outs = model.eval()(torch.randn(1, 1, 30, 30))
    assert [tuple(o.shape) for o in outs] == [(1, 256, 2, 2)]


@pytest.mark.parametrize('shape', [(0, 3, 64, 96), (0, 3, 37, 50), (2, 3, 0, 64)])
def test_empty_batch_gives_empty_maps_of_the_right_shapes(shape):
    model = SwinTransformerV2(arch=SMALL, window_size=4, out_indices=(0, 2, 3)).eval()
    outs = model(torch.zeros(shape))
    n, c, h, w = shape
    # the shapes a non-empty batch of the same size gets
    reference = [o.shape[1:] for o in model(torch.zeros(1, c, max(h, 1), w))]
    assert len(outs) == 3
    for out, ref in zip(outs, reference):
        assert out.shape[0] == n and out.shape[1] == ref[0]
        if h:
            assert out.shape[2:] == ref[1:]
        else:
            assert out.shape[2] == 0 and out.shape[3] == ref[2]
        assert out.numel() == 0 and out.dtype == torch.float32


def test_feature_sizes_match_the_maps():
    model = SwinTransformerV2(arch=SMALL, window_size=4).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 97, 131))
    assert model.feature_sizes(97, 131) == [tuple(o.shape[-2:]) for o in outs]


def test_wrong_channel_count_names_in_channels():
    model = SwinTransformerV2(arch=SMALL)
    with pytest.raises(ValueError, match=re.escape('built with in_channels=3')) as e:
        model(torch.randn(1, 4, 64, 64))
    assert 'in_channels=4' in str(e.value)
    with pytest.raises(ValueError, match=re.escape('built with in_channels=3')):
        model(torch.randn(0, 1, 64, 64))  # even for an empty batch
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        model(torch.randn(3, 64, 64))
