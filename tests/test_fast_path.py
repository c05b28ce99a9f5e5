"""The fast attention path: fused == plain, the position-bias and shift-mask caches, low
precision without NaN/inf on padded inputs, torch.compile without graph breaks."""
import copy

import pytest
import torch

from swinv2_mm import SwinTransformerV2
from swinv2_mm.models import swin_transformer_v2 as swin_module
from swinv2_mm.models.attention import WindowAttentionV2, cosine_attention

TINY = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))


def tiny_model(window=8, seed=0, **kwargs):
    """A small SwinV2 whose weights are moved away from init (res-post-norm starts at 0)."""
    torch.manual_seed(seed)
    model = SwinTransformerV2(arch=TINY, window_size=window, drop_path_rate=0.0, **kwargs)
    model.init_weights()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return model


def attention_modules(model):
    return [m for m in model.modules() if isinstance(m, WindowAttentionV2)]


def max_err(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a, b))


# 2 images (the per-image path of shifted windows) of a size that needs patch and window
# padding (zero tokens), and one image (windows and images flattened together).
@pytest.mark.parametrize('shape', [(2, 3, 100, 140), (1, 3, 136, 72)])
def test_fused_matches_plain_fp32(shape):
    fused = tiny_model()
    plain = copy.deepcopy(fused)
    plain.set_fused_attention(False)
    assert all(not m.fused for m in attention_modules(plain))
    assert all(m.fused for m in attention_modules(fused))
    x = torch.randn(*shape)
    fused.eval(), plain.eval()
    with torch.no_grad():
        assert max_err(fused(x), plain(x)) < 1e-5
    # Training: every gradient (input, q/k/v path, logit scale, CPB MLP) agrees too.
    fused.train(), plain.train()
    grads = []
    for model in (fused, plain):
        xi = x.clone().requires_grad_()
        loss = sum((o * o).sum() for o in model(xi))
        grads.append(torch.autograd.grad(loss, [xi] + list(model.parameters())))
    for (name, _), a, b in zip([('input', None)] + list(fused.named_parameters()), *grads):
        scale = b.abs().max().item() + 1e-6
        assert (a - b).abs().max().item() / scale < 1e-4, name


def test_fused_attention_argument():
    model = SwinTransformerV2(arch=TINY, window_size=4, fused_attention=False)
    assert all(not m.fused for m in attention_modules(model))
    model.set_fused_attention(True)
    assert all(m.fused for m in attention_modules(model))


def test_cosine_attention_function_paths_agree():
    """The function itself, with a shift mask, fused vs plain, values and gradients."""
    g = torch.Generator().manual_seed(0)
    B, nW, heads, N, d = 2, 3, 2, 16, 8
    q, k, v = (torch.randn(B, nW, heads, N, d, generator=g, requires_grad=True)
               for _ in range(3))
    logit_scale = torch.randn(heads, 1, 1, generator=g, requires_grad=True)
    bias = torch.rand(heads, N, N, generator=g, requires_grad=True)
    shift = torch.zeros(nW, N, N)
    shift[1:, :8, 8:] = -100.0
    shift[1:, 8:, :8] = -100.0
    outs, grads = [], []
    for fused in (True, False):
        out = cosine_attention(q, k, v, logit_scale, bias, fused=fused, shift_mask=shift)
        outs.append(out)
        grads.append(torch.autograd.grad((out * out).sum(), (q, k, v, logit_scale, bias)))
    assert (outs[0] - outs[1]).abs().max().item() < 1e-5
    for a, b in zip(*grads):
        assert (a - b).abs().max().item() < 1e-4


def test_bias_cache_reused_and_invalidated():
    model = tiny_model().eval()
    attn = attention_modules(model)[0]
    with torch.no_grad():
        first = attn.position_bias(8)
        assert attn.position_bias(8) is first  # reused while nothing changed
        fresh = attn._position_bias_from_mlp(8)
    assert torch.equal(first, fresh)

    # An optimizer step changes the CPB weights in place: the next eval call recomputes.
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    x = torch.randn(1, 3, 64, 64)
    trained_bias = attn.position_bias(8)
    assert trained_bias.requires_grad  # training: recomputed with its gradient, not cached
    sum(o.mean() for o in model(x)).backward()
    optimizer.step()
    model.eval()
    with torch.no_grad():
        after_step = attn.position_bias(8)
        assert after_step is not first
        assert not torch.equal(after_step, first)
        assert torch.equal(after_step, attn._position_bias_from_mlp(8))

        # load_state_dict copies into the parameters: the cache follows.
        other = tiny_model(seed=1)
        model.load_state_dict(other.state_dict())
        after_load = attn.position_bias(8)
        assert torch.equal(after_load, attention_modules(other)[0]._position_bias_from_mlp(8))
        assert attn.position_bias(8) is after_load

    # The eval forward uses the cached value: no CPB MLP call at all.
    calls = []
    handle = attn.cpb_mlp.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        model(x)
        model(x)
    handle.remove()
    assert calls == []


def test_shift_masks_cached_per_padded_size():
    swin_module._shift_mask.cache_clear()
    model = tiny_model().eval()
    with torch.no_grad():
        model(torch.randn(1, 3, 100, 140))
        misses = swin_module._shift_mask.cache_info().misses
        model(torch.randn(1, 3, 100, 140))
    info = swin_module._shift_mask.cache_info()
    assert misses > 0
    assert info.misses == misses  # the second forward built no mask
    assert info.hits >= misses


def _finite(tensors):
    return all(torch.isfinite(t.float()).all().item() for t in tensors)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_autocast_no_nan_on_padded_input(dtype):
    model = tiny_model().train()
    x = torch.randn(2, 3, 100, 140, requires_grad=True)
    with torch.autocast('cpu', dtype=dtype):
        outs = model(x)
        loss = sum(o.float().mean() for o in outs)
    loss.backward()
    assert _finite(outs) and _finite([x.grad])
    assert _finite([p.grad for p in model.parameters() if p.grad is not None])
    model.eval()
    with torch.no_grad(), torch.autocast('cpu', dtype=dtype):
        outs = model(x)
    assert _finite(outs)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_model_no_nan_on_padded_input(dtype):
    """model.half() / .bfloat16(): the padded tokens' zero keys must not give 0/0."""
    model = tiny_model().to(dtype).train()
    x = torch.randn(1, 3, 100, 140, dtype=dtype, requires_grad=True)
    outs = model(x)
    sum(o.float().mean() for o in outs).backward()
    assert all(o.dtype == dtype for o in outs)
    assert _finite(outs) and _finite([x.grad])
    assert _finite([p.grad for p in model.parameters() if p.grad is not None])
    ref = tiny_model().eval()
    with torch.no_grad():
        expected = ref(x.detach().float())
        got = model.eval()(x.detach())
    # Low precision stays close to float32 (a loose bound: 3 stages of bf16 rounding).
    for a, b in zip(got, expected):
        assert (a.float() - b).abs().max().item() < 0.25 * b.abs().max().item() + 0.05


@pytest.mark.parametrize('mode', ['eval', 'train'])
def test_compiles_without_graph_breaks(mode):
    """fullgraph=True fails on any graph break; the 'eager' backend checks the capture
    without spending minutes in Inductor (the benchmark's --compile runs Inductor)."""
    torch._dynamo.reset()
    model = tiny_model(window=4)
    model.train(mode == 'train')
    x = torch.randn(1, 3, 72, 96)
    compiled = torch.compile(model, fullgraph=True, backend='eager', dynamic=False)
    if mode == 'eval':
        with torch.no_grad():
            assert max_err(compiled(x), model(x)) < 1e-5
    else:
        xi = x.clone().requires_grad_()
        sum(o.mean() for o in compiled(xi)).backward()
        assert xi.grad is not None and _finite([xi.grad])
    explanation = torch._dynamo.explain(model)(x)
    assert explanation.graph_break_count == 0, explanation.break_reasons


def test_benchmark_quick_smoke(capsys):
    """tools/benchmark.py runs end to end (CI-sized) and prints its Markdown table."""
    import importlib.util
    import os.path as osp
    path = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools', 'benchmark.py')
    spec = importlib.util.spec_from_file_location('swinv2_benchmark', path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    threads = torch.get_num_threads()
    try:
        bench.main(['--quick', '--impl', 'ours', 'ours-plain', 'timm', '--mode', 'eval',
                    '--shape', '1x96x128', '--repeats', '1'])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith('| tiny | 8 | 1x3x96x128')]
    assert [r.split('|')[6].strip() for r in rows] == ['ours', 'ours-plain', 'timm']
    assert all(float(r.split('|')[7]) > 0 for r in rows)
    # The FLOP formula: a 1-window map per stage is easy to count by hand for stage 4.
    arch = dict(embed_dims=8, depths=(0, 0, 0, 1), num_heads=(1, 1, 1, 1))
    # 256x256 -> 64x64 tokens of 8 channels; stage 4: 8x8 tokens (one 8x8 window) of 64.
    tokens = 8 * 8
    stage4 = (2.0 * tokens * 64 * 3 * 64 + 2 * 2 * tokens * 64 * 64 + 2.0 * tokens * 64 * 64
              + 2 * 2 * tokens * 64 * 256)
    merges = 2.0 * (32 * 32 * 32 * 16 + 16 * 16 * 64 * 32 + 8 * 8 * 128 * 64)
    embed = 2.0 * 64 * 64 * 8 * 48
    assert bench.swinv2_flops(arch, 8, 1, 256, 256) == pytest.approx(embed + merges + stage4)
