"""The backbone's own forward records as a graph: torch.jit.trace, torch.export and mmengine's
FLOP counter (which traces with torch.jit) work on SwinTransformerV2 itself, match eager
within 1e-5 on sizes that pad, shift and clip, and count the FLOPs of the formula; the
dynamic-size export forward (deploy/swin_rewrite.py) is held to the recorded one."""
import warnings

import pytest
import torch

from swinv2_mm import SwinTransformerV2
from swinv2_mm.benchmark.flops import swinv2_flops
from swinv2_mm.deploy import swin_v2_forward

TINY = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))
WINDOW = 8
# (B, H, W) and what the stages do with window 8 (stage maps are H/4, H/8, H/16, H/32):
SIZES = {
    'shifted': (2, 256, 256),   # 64, 32, 16: no padding, shifted; 8: one window, unshifted
    'padded': (1, 200, 328),    # 50x82, 25x41, 13x21 padded and shifted; 7x11 clipped to 7
    'clipped': (2, 150, 70),    # 38x18 and 19x9 padded; 10x5 and 5x3 one clipped window
}
TOL = 1e-5


def tiny_model(seed=0, **kwargs):
    """Random weights away from the init (res-post-norm starts every branch at zero)."""
    torch.manual_seed(seed)
    model = SwinTransformerV2(arch=TINY, window_size=WINDOW, drop_path_rate=0.0, **kwargs)
    model.init_weights()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.1)
    return model.eval()


def _err(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape
    return max((x - y).abs().max().item() for x, y in zip(a, b))


def _trace(model, x):
    # TracerWarnings say that the sizes became constants: a trace is for its example's size.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        warnings.simplefilter('ignore', DeprecationWarning)  # torch.jit.trace is deprecated
        return torch.jit.trace(model, x, check_trace=False)


@pytest.fixture(scope='module')
def model():
    return tiny_model()


@pytest.mark.parametrize('name', list(SIZES))
def test_jit_trace_matches_eager_and_the_export_rewrite(model, name):
    """The traced forward equals eager, and so does deploy/swin_rewrite.py (the forward of
    the dynamic-size ONNX graph): the two forwards are held to each other at each size."""
    x = torch.randn(SIZES[name][0], 3, *SIZES[name][1:])
    with torch.no_grad():
        expected = model(x)
        traced = _trace(model, x)
        got = traced(x)
        rewrite = swin_v2_forward(model, x)
    assert _err(expected, got) <= TOL
    assert _err(got, rewrite) <= TOL and _err(expected, rewrite) <= TOL
    kinds = {n.kind() for n in traced.inlined_graph.nodes()}
    # plain aten ops only: no Python autograd Function (prim::PythonOp) that counters and
    # exporters cannot see into; attention spelt out as matmuls
    assert 'prim::PythonOp' not in kinds and 'aten::matmul' in kinds, sorted(kinds)
    # the eager model is unchanged by having been traced (no trace value left in a cache)
    with torch.no_grad():
        assert _err(expected, model(x)) == 0


@pytest.mark.parametrize('dtype, rel', [(torch.float64, 1e-12), (torch.bfloat16, 0.03)])
def test_jit_trace_in_other_dtypes(dtype, rel):
    """A model cast to float64 or bfloat16 traces in that dtype. The trace spells attention
    out where eager runs the fused kernel, so bfloat16 differs by its rounding (about 1 % of
    the outputs' scale here)."""
    model = tiny_model().to(dtype)
    x = torch.randn(1, 3, *SIZES['padded'][1:], dtype=dtype)
    with torch.no_grad():
        expected = model(x)
        got = _trace(model, x)(x)
    assert all(o.dtype == dtype for o in got)
    scale = max(o.abs().max().item() for o in expected)
    assert _err(expected, got) <= rel * scale


def test_jit_trace_with_autograd_gives_eager_gradients():
    """Traced with autograd on (as mmengine's counter traces), in train mode: the traced
    module's outputs and parameter gradients are eager's."""
    x = torch.randn(1, 3, *SIZES['padded'][1:])
    grads = []
    for traced in (False, True):
        model = tiny_model().train()
        fn = _trace(model, x) if traced else model
        outs = fn(x)
        sum((o * o).mean() for o in outs).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
        if not traced:
            expected = [o.detach() for o in outs]
        else:
            assert _err(expected, [o.detach() for o in outs]) <= TOL
    assert max((a - b).abs().max().item() for a, b in zip(*grads)) <= 1e-4


def test_torch_export_matches_eager():
    """One export (tens of seconds per thousand graph nodes here, so a two-stage model) at a
    size whose first stage is padded and shifted and whose last is one clipped window."""
    torch.manual_seed(0)
    model = SwinTransformerV2(arch=dict(embed_dims=16, depths=(2, 1), num_heads=(1, 2)),
                              window_size=(8, 32), out_indices=(0, 1)).eval()
    x = torch.randn(1, 3, *SIZES['padded'][1:])  # maps 50x82 (window 8), 25x41 (one of 25)
    with torch.no_grad():
        expected = model(x)
    program = torch.export.export(model, (x,))
    targets = {str(n.target) for n in program.graph.nodes if n.op == 'call_function'}
    assert not any('autograd' in t or 'higher_order' in t for t in targets), targets
    got = program.module()(x)
    assert _err(expected, got) <= TOL


def test_mmengine_flop_counter_agrees_with_the_formula():
    """mmengine.analysis.get_model_complexity_info (what mmdet's / mmseg's get_flops tools
    call) on the backbone itself, at a size with padded, shifted and clipped stages.
    mmengine counts one FLOP per multiply-add, the benchmark's formula two. The formula leaves
    out the norms and the CPB MLP, which weigh more the narrower the model: 64 channels here
    (1.0 % apart; SwinV2-T/B 0.5-0.8 %, docs/migration.md), 16 would be 4 %."""
    from mmengine.analysis import get_model_complexity_info
    arch = dict(embed_dims=64, depths=(2, 2, 2, 2), num_heads=(2, 4, 8, 16))
    model = SwinTransformerV2(arch=arch, window_size=WINDOW).eval()
    b, h, w = SIZES['padded']
    info = get_model_complexity_info(model, inputs=(torch.randn(b, 3, h, w),),
                                     show_table=False, show_arch=False)
    assert info['flops'] * 2 == pytest.approx(swinv2_flops(arch, WINDOW, b, h, w), rel=0.02)
    assert info['params'] == sum(p.numel() for p in model.parameters())
