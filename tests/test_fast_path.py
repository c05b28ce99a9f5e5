"""Every path of the attention function equals the plain one (values and gradients, every
dtype and mode), the window layout with its grouped shift masks, low precision without
NaN/inf on padded inputs, torch.compile without graph breaks."""
import copy

import pytest
import torch

from swinv2_mm import SwinTransformerV2
from swinv2_mm.models import attention as attention_module
from swinv2_mm.models import windows as windows_module
from swinv2_mm.models.attention import (PATHS, WindowAttentionV2, cosine_attention,
                                        force_attention_path)
from swinv2_mm.models.windows import SHIFT_MASK_VALUE, WindowGroup

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


def test_fused_attention_argument():
    model = SwinTransformerV2(arch=TINY, window_size=4, fused_attention=False)
    assert all(not m.fused for m in attention_modules(model))
    model.set_fused_attention(True)
    assert all(m.fused for m in attention_modules(model))


def _attention_inputs(M=6, heads=2, N=16, d=8, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(M, heads, N, d, generator=g, dtype=dtype).requires_grad_()
               for _ in range(3))
    logit_scale = torch.randn(heads, 1, 1, generator=g, dtype=dtype).requires_grad_()
    bias = (16 * torch.rand(heads, N, N, generator=g, dtype=dtype)).requires_grad_()
    shift = torch.zeros(N, N, dtype=dtype)
    shift[:8, 8:] = shift[8:, :8] = SHIFT_MASK_VALUE
    # Windows 0-2 interior (no mask), 3-5 a boundary group with one shift mask.
    groups = [WindowGroup(3, None), WindowGroup(M - 3, shift)]
    return (q, k, v, logit_scale, bias), groups


@pytest.mark.parametrize('path', PATHS)
def test_cosine_attention_every_path_matches_plain(path):
    """The function itself, with mask groups: every path equals the spelt-out formula in
    values and in the gradients of q, k, v, the logit scale and the position bias."""
    inputs, groups = _attention_inputs()
    expected = cosine_attention(*inputs, groups, fused=False)
    ref_grads = torch.autograd.grad((expected * expected).sum(), inputs)
    with force_attention_path(path):
        out = cosine_attention(*inputs, groups, fused=True)
        grads = torch.autograd.grad((out * out).sum(), inputs)
    assert out.shape == (6, 16, 2, 8)
    assert (out - expected).abs().max().item() < 1e-5
    for a, b in zip(grads, ref_grads):
        assert (a - b).abs().max().item() < 1e-5 * max(1.0, b.abs().max().item())


@pytest.mark.parametrize('path', ['sdpa', 'cpu', 'plain'])
@pytest.mark.parametrize('shape', [(2, 3, 100, 140), (1, 3, 136, 72)])
def test_every_path_trains_like_plain(path, shape):
    """The whole network through each attention path: training step (values and every
    parameter's gradient) and eval with and without autograd, 1 and 2 images, shifted and
    padded windows. 'sdpa' is the branch CUDA takes, run here on the CPU."""
    model = tiny_model()
    plain = copy.deepcopy(model)
    plain.set_fused_attention(False)
    if path == 'plain':
        model.set_fused_attention(False)
    x = torch.randn(*shape)
    for mode in ('train', 'eval'):
        model.train(mode == 'train'), plain.train(mode == 'train')
        results = []
        for net in (model, plain):
            with force_attention_path(None if path == 'plain' else path):
                xi = x.clone().requires_grad_()
                outs = net(xi)
                loss = sum((o * o).mean() for o in outs)
                grads = torch.autograd.grad(loss, [xi] + list(net.parameters()))
            results.append((outs, grads))
        (outs, grads), (ref_outs, ref_grads) = results
        assert max_err(outs, ref_outs) < 1e-5, mode
        names = ['input'] + [n for n, _ in model.named_parameters()]
        for name, a, b in zip(names, grads, ref_grads):
            assert a.abs().sum() > 0 or b.abs().sum() == 0, (mode, name)
            assert (a - b).abs().max().item() < 1e-5 * max(1.0, b.abs().max().item()), (mode, name)
        with torch.no_grad(), force_attention_path(None if path == 'plain' else path):
            assert max_err(net(x), ref_outs) < 1e-5


@pytest.mark.parametrize('path', ['sdpa', 'cpu'])
def test_training_with_attention_dropout(path):
    """attn_drop_rate > 0 (and dropout elsewhere): a training step runs on every fused path,
    dropout is really on (two steps differ), every parameter gets a gradient, and eval is
    deterministic and equals the plain path."""
    model = tiny_model(attn_drop_rate=0.3, drop_rate=0.1).train()
    x = torch.randn(2, 3, 100, 140)
    with force_attention_path(path):
        first = model(x)
        outs = model(x)
        sum(o.mean() for o in outs).backward()
    assert max_err(first, outs) > 1e-3
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    model.eval()
    plain = copy.deepcopy(model)
    plain.set_fused_attention(False)
    with torch.no_grad(), force_attention_path(path):
        assert max_err(model(x), model(x)) == 0
        assert max_err(model(x), plain(x)) < 1e-5


@pytest.mark.parametrize('path', ['sdpa', 'cpu', 'plain'])
def test_float64_matches_and_gradcheck(path):
    """float64 end to end: fused paths equal the plain path to float64 precision, and the
    network's gradients pass gradcheck (input and the CPB MLP, through a shifted block)."""
    torch.manual_seed(0)
    arch = dict(embed_dims=8, depths=(2, 2), num_heads=(1, 2))
    model = SwinTransformerV2(arch=arch, window_size=4, drop_path_rate=0.0,
                              out_indices=(0, 1)).double()
    model.init_weights()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    model.double().eval()
    plain = copy.deepcopy(model)
    plain.set_fused_attention(False)
    if path == 'plain':
        model.set_fused_attention(False)
    x = torch.randn(2, 3, 40, 36, dtype=torch.float64)  # 10x9 tokens: padded and shifted
    with torch.no_grad(), force_attention_path(None if path == 'plain' else path):
        assert max_err(model(x), plain(x)) < 1e-12
    cpb = model.stages[0].blocks[1].attn.cpb_mlp[2].weight
    params = {n: p for n, p in model.named_parameters() if p is cpb}
    (name,) = params

    def fn(inp, weight):
        out = torch.func.functional_call(model, {name: weight}, (inp,))
        return tuple(o.sum(dim=(2, 3)) for o in out)
    with force_attention_path(None if path == 'plain' else path):
        assert torch.autograd.gradcheck(fn, (x[:1].clone().requires_grad_(),
                                             cpb.detach().clone().requires_grad_()),
                                        fast_mode=True)


def test_eval_mode_gradients_reach_every_parameter():
    """Saliency, adversarial inputs, test-time adaptation: backward in eval mode reaches the
    CPB MLP (the position bias is in the graph, not a no_grad cache)."""
    model = tiny_model().eval()
    sum(o.mean() for o in model(torch.randn(1, 3, 100, 140))).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_position_bias_follows_every_weight_change():
    """No cached bias can go stale: optimizer step, load_state_dict, and the `.data` swaps
    of EMA hooks (which do not bump the version counter) all change the eval output."""
    model = tiny_model().eval()
    x = torch.randn(1, 3, 64, 64)
    other = tiny_model(seed=1).eval()
    with torch.no_grad():
        before = model(x)
        for p, q in zip(model.parameters(), other.parameters()):
            p.data.copy_(q.data)  # as mmengine's ExponentialMovingAverage / EMAHook swap
        assert max_err(model(x), other(x)) == 0
        assert max_err(model(x), before) > 1e-3
        model.load_state_dict(tiny_model(seed=2).state_dict())
        assert max_err(model(x), tiny_model(seed=2).eval()(x)) == 0
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model.train()
    sum(o.mean() for o in model(x)).backward()
    optimizer.step()
    model.eval()
    fresh = tiny_model(seed=2).eval()
    fresh.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert max_err(model(x), fresh(x)) == 0


def test_cpb_table_cached_only_without_autograd():
    """Without autograd the CPB MLP runs once per window size and parameter values; with
    autograd (train or eval) it runs every call; a `.to(float64)` recomputes it."""
    model = tiny_model().eval()
    calls = []
    for m in attention_modules(model):
        m.cpb_mlp.register_forward_hook(lambda *a: calls.append(1))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        model(x)
        first = len(calls)
        model(x)
    assert first > 0 and len(calls) == first
    model(x)  # autograd on, eval mode: in the graph again
    assert len(calls) == 2 * first
    model.double()
    with torch.no_grad():
        out = model(x.double())
    assert len(calls) == 3 * first and out[0].dtype == torch.float64


def _reference_windows(x, window, shift):
    """Pad, roll, partition (B, nW, N, C) and the per-window shift mask, as the official code
    and mmdet's Swin spell them out; the check for the gather layout."""
    B, H, W, C = x.shape
    Hp, Wp = -(-H // window) * window, -(-W // window) * window
    x = torch.nn.functional.pad(x, (0, 0, 0, Wp - W, 0, Hp - H))
    region = torch.zeros(Hp, Wp)
    if shift:
        x = torch.roll(x, (-shift, -shift), (1, 2))
        label = 0
        for hs in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
            for ws in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
                region[hs, ws] = label
                label += 1

    def partition(t):
        b, c = t.shape[0], t.shape[-1]
        t = t.reshape(b, Hp // window, window, Wp // window, window, c).transpose(2, 3)
        return t.reshape(b, -1, window * window, c)
    labels = partition(region[None, :, :, None])[0, :, :, 0]
    masks = (labels[:, None, :] != labels[:, :, None]).float() * SHIFT_MASK_VALUE
    return partition(x), masks


@pytest.mark.parametrize('H,W,window,shift', [(10, 13, 4, 2), (16, 16, 4, 2), (9, 20, 4, 0),
                                              (33, 17, 8, 4), (24, 40, 8, 4)])
def test_window_layout_is_pad_roll_partition(H, W, window, shift):
    """The one-gather layout holds exactly the padded, rolled windows, every window's group
    mask is its official per-window mask, and the inverse gather restores the map."""
    B, C = 2, 5
    x = torch.randn(B, H, W, C)
    layout = windows_module.window_layout(B, H, W, window, shift, x.device)
    groups = windows_module.window_groups(layout, B, window, shift, x.device)
    rows = windows_module.to_windows(x, layout).reshape(-1, B, window * window, C)
    expected, masks = _reference_windows(x, window, shift)
    # Window-major rows: each of ours is one of the reference's windows, all of them once.
    order = []
    for w in range(rows.shape[0]):
        match = [j for j in range(expected.shape[1]) if torch.equal(rows[w], expected[:, j])]
        assert match, w
        order.append(match[0] if len(match) == 1 else next(j for j in match if j not in order))
    assert sorted(order) == list(range(expected.shape[1]))
    start = 0
    for group in groups:
        for w in range(start // B, (start + group.rows) // B):
            mask = group.shift_mask if group.shift_mask is not None else torch.zeros(1)
            assert torch.equal(mask.expand_as(masks[order[w]]), masks[order[w]]), w
        start += group.rows
    back = windows_module.from_windows(rows.reshape(-1, C), layout, x.shape)
    assert torch.equal(back, x)
    # Interior windows need no mask; only O(rows + cols) windows carry one, 3 masks in all.
    if shift:
        rows_of_windows, cols_of_windows = -(-H // window), -(-W // window)
        assert groups[0].shift_mask is None
        assert sum(g.rows for g in groups[1:]) == B * (rows_of_windows + cols_of_windows - 1)
        assert len({id(g.shift_mask) for g in groups[1:]}) == 3


def test_no_per_window_mask_reaches_a_kernel(monkeypatch):
    """Every mask that reaches SDPA is one (1, heads, N, N) tensor shared by its windows and
    images, whatever the image size: mask memory does not grow with the image."""
    shapes = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def spy(q, k, v, attn_mask=None, **kwargs):
        shapes.append(tuple(attn_mask.shape))
        return sdpa(q, k, v, attn_mask=attn_mask, **kwargs)
    monkeypatch.setattr(torch.nn.functional, 'scaled_dot_product_attention', spy)
    model = tiny_model().eval()
    with torch.no_grad():
        model(torch.randn(2, 3, 260, 300))
    assert shapes and all(s[0] == 1 for s in shapes)


def test_plain_path_chunks_large_groups(monkeypatch):
    """Without autograd the plain path attends a chunk of windows at a time (sequential
    self-attention for large windows) with the same result."""
    model = tiny_model().eval()
    model.set_fused_attention(False)
    x = torch.randn(1, 3, 128, 160)
    with torch.no_grad():
        whole = model(x)
        monkeypatch.setattr(attention_module, '_PLAIN_CHUNK', 1)
        chunked = model(x)
    assert max_err(whole, chunked) == 0


def test_inference_in_chunks_is_exact(monkeypatch):
    """Without autograd a block runs its attention (per window group) and its MLP a chunk at
    a time (cache-sized at high resolution): the same numbers as the whole map at once."""
    from swinv2_mm.models import swin_transformer_v2 as backbone_module
    model = tiny_model().eval()
    x = torch.randn(2, 3, 260, 300)
    with torch.no_grad():
        whole = model(x)
        monkeypatch.setattr(attention_module, 'INFERENCE_CHUNK', 1 << 12)
        monkeypatch.setattr(backbone_module, 'INFERENCE_CHUNK', 1 << 12)
        chunked = model(x)
    assert max_err(whole, chunked) == 0


def test_window_layouts_cached_per_size():
    windows_module.window_layout.cache_clear()
    model = tiny_model().eval()
    with torch.no_grad():
        model(torch.randn(1, 3, 100, 140))
        misses = windows_module.window_layout.cache_info().misses
        model(torch.randn(1, 3, 100, 140))
    info = windows_module.window_layout.cache_info()
    assert misses > 0
    assert info.misses == misses  # the second forward built no index
    assert info.hits >= misses


def _finite(tensors):
    return all(torch.isfinite(t.float()).all().item() for t in tensors)


@pytest.mark.parametrize('backward_inside', [False, True])
@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_autocast_no_nan_on_padded_input(dtype, backward_inside):
    """Training under autocast; backward() outside the autocast block (as mmengine's
    AmpOptimWrapper does) and inside it (as many hand-written loops do)."""
    model = tiny_model().train()
    x = torch.randn(2, 3, 100, 140, requires_grad=True)
    with torch.autocast('cpu', dtype=dtype):
        outs = model(x)
        loss = sum(o.float().mean() for o in outs)
        if backward_inside:
            loss.backward()
    if not backward_inside:
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
