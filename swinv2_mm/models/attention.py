"""Window attention of Swin Transformer V2: scaled cosine attention with a continuous
position bias (CPB), paper sections 3.2-3.3 (arXiv 2111.09883).

`cosine_attention` is the one function that computes attention. It runs one of three paths,
chosen by `attention_path` (tests can force any of them on a CPU with `force_attention_path`):

- 'plain': the paper's formula spelt out; the reference the other paths are tested against.
- 'sdpa':  `scaled_dot_product_attention` with the bias (and shift mask) as `attn_mask` in q's
           dtype; autograd through PyTorch's kernels. The path on CUDA, and on CPU wherever
           attention dropout is on.
- 'cpu':   CPU flash attention; with a float32 mask next to low-precision q/k/v, and, when
           gradients are needed, its own backward (`_FlashWindowAttentionCPU`), because
           PyTorch's CPU flash kernel has no gradient for the mask.

Windows come in groups (see windows.py) that share one shift mask, so every kernel call
broadcasts a single (heads, N, N) mask over all of its windows and images.
"""
import math
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .windows import WindowGroup, cached, capturing

# The paper bounds the learnt temperature tau from below by 0.01, i.e. the scale by 100.
LOGIT_SCALE_MAX = math.log(1.0 / 0.01)
PATHS = ('plain', 'sdpa', 'cpu')
# Largest (windows, heads, N, N) score tensor the plain path builds at once without autograd:
# larger groups are attended a chunk of windows at a time (the paper's "sequential
# self-attention"), so a window of 48 (N = 2304) at high resolution stays in memory.
_PLAIN_CHUNK = 1 << 25
# Without autograd, a block works on this many elements of its largest activation (the MLP's
# hidden map, the attention's q/k/v) at a time: 16 MiB in float32, so that at high
# resolution the intermediate tensors stay in cache and the cost per pixel stays flat.
INFERENCE_CHUNK = 1 << 22
# Elements of one (windows, heads, N, N) chunk that the CPU backward works on at a time:
# 2 MiB in float32, so the chunk's element-wise softmax backward runs from cache (measured
# ~20 % faster than 16 MiB chunks for SwinV2-T window 16).
_BACKWARD_CHUNK = 1 << 19

_forced_path: Optional[str] = None


@contextmanager
def force_attention_path(path: Optional[str]) -> Iterator[None]:
    """Run every fused attention through `path` ('sdpa' or 'cpu'), whatever the device.

    For tests: the 'sdpa' path is the one CUDA takes, and this is how a CPU-only machine
    trains through it.
    """
    global _forced_path
    if path is not None and path not in PATHS:
        raise ValueError(f'attention path {path!r} is not one of {PATHS}')
    previous, _forced_path = _forced_path, path
    try:
        yield
    finally:
        _forced_path = previous


def attention_path(q: Tensor, fused: bool) -> str:
    if not fused or capturing():  # a recorded graph spells attention out (windows.capturing)
        return 'plain'
    if _forced_path is not None:
        return _forced_path
    return 'cpu' if q.device.type == 'cpu' else 'sdpa'


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half types (bias, masks, the CPU backward), else the dtype itself."""
    return torch.promote_types(dtype, torch.float32)


def _unit(x: Tensor, eps: float, scale: Optional[Tensor] = None) -> Tensor:
    """x / max(|x|, eps) over the last dim, times the per-head `scale` if given.

    The norm and the factor are float32 (compute_dtype): in float16 a sum of squares
    overflows once |x| passes ~256, and scale / eps for a zero vector (a padded token: V2 has
    no key bias, and q's is zero at init) passes 65504, so padded rows became 0 * inf = NaN
    and every gradient upstream NaN (SimMIM under fp16 AMP). |x| * factor <= scale: the
    product fits, and so does the factor once clamped (it only exceeds the range for x ~ 0).
    """
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True, dtype=compute_dtype(x.dtype))
    factor = (1.0 if scale is None else scale.to(norm.dtype)) / norm.clamp_min(eps)
    return x * factor.clamp_max(torch.finfo(x.dtype).max).to(x.dtype)


@lru_cache(maxsize=None)
def _relative_coords_table(window_size: int, pretrained_window_size: int) -> Tensor:
    """Log-spaced relative coordinates, (2W-1)^2 x 2, the CPB MLP's input.

    Offsets -(W-1)..(W-1) per axis are normalised by the window the weights were trained
    with (so a checkpoint transfers to a larger window as extrapolation of the same curve),
    scaled to [-8, 8] and mapped by sign(x) * log2(1 + |x|) / log2(8).
    """
    offsets = torch.arange(-(window_size - 1), window_size, dtype=torch.float32)
    table = torch.stack(torch.meshgrid(offsets, offsets, indexing='ij'), dim=-1)
    reference = pretrained_window_size if pretrained_window_size > 0 else window_size
    # A 1x1 window has only offset 0; max(.., 1) avoids the 0/0 the official code hits there.
    table = table / max(reference - 1, 1) * 8
    table = torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(8)
    return table.reshape(-1, 2)


@lru_cache(maxsize=None)
def _relative_position_index(window_size: int) -> Tensor:
    """(N, N) index into the (2W-1)^2 table for every pair of tokens of a window, N = W*W."""
    coords = torch.stack(torch.meshgrid(torch.arange(window_size), torch.arange(window_size),
                                        indexing='ij')).flatten(1)  # 2, N
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window_size - 1)
    return relative[..., 0] * (2 * window_size - 1) + relative[..., 1]


def _group_mask(attn_bias: Tensor, shift_mask: Optional[Tensor], dtype: torch.dtype) -> Tensor:
    """(1, heads, N, N): the position bias plus the group's shift mask, broadcast over
    windows and images by every kernel."""
    mask = attn_bias if shift_mask is None else attn_bias + shift_mask.to(attn_bias.dtype)
    return mask.to(dtype).unsqueeze(0)


def _plain_attention(q: Tensor, k: Tensor, v: Tensor, scale: Tensor, attn_bias: Tensor,
                     shift_mask: Optional[Tensor], dropout_p: float) -> Tensor:
    """softmax(q_n k_n^T * scale + bias + mask) v for normalised q, k, as the paper writes it."""
    if not torch.is_grad_enabled() and q.shape[0] > 1 and not capturing():
        step = max(1, _PLAIN_CHUNK // (q.shape[1] * q.shape[2] * k.shape[2]))
        if step < q.shape[0]:
            return torch.cat([
                _plain_attention(q[i:i + step], k[i:i + step], v[i:i + step], scale, attn_bias,
                                 shift_mask, dropout_p) for i in range(0, q.shape[0], step)])
    attn = (q @ k.transpose(-2, -1)) * scale + attn_bias.to(q.dtype)
    if shift_mask is not None:
        attn = attn + shift_mask.to(q.dtype)
    attn = F.dropout(attn.softmax(dim=-1), p=dropout_p)
    return attn @ v


class _FlashWindowAttentionCPU(torch.autograd.Function):
    """softmax(q k^T + bias + shift_mask) v with a gradient for the position bias, on CPU.

    PyTorch's CPU flash-attention kernel has no gradient for the mask, so with a bias that
    needs one SDPA falls back to its math path, which keeps the (windows, heads, N, N)
    probabilities of every block for the backward. Here the forward runs the flash kernel
    and keeps only q, k, v and the output (which the projection keeps anyway); the backward
    recomputes the probabilities a chunk of windows at a time (in float32, or float64 for
    float64 inputs) and sums the bias gradient over windows and images.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, attn_bias: Tensor,
                shift_mask: Optional[Tensor]) -> Tensor:
        mask = _group_mask(attn_bias.detach(), shift_mask, compute_dtype(q.dtype))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1.0)
        ctx.save_for_backward(q, k, v, out, attn_bias, shift_mask)
        return out

    @staticmethod
    @torch.autocast('cpu', enabled=False)  # backward() may be called inside autocast
    def backward(ctx, grad_out: Tensor):
        q, k, v, out, attn_bias, shift_mask = ctx.saved_tensors
        M, heads, N, d = q.shape
        dtype = compute_dtype(q.dtype)
        mask = _group_mask(attn_bias, shift_mask, dtype)
        grad_q, grad_k, grad_v = (torch.empty(t.shape, dtype=dtype) for t in (q, k, v))
        grad_bias = torch.zeros(heads, N, N, dtype=dtype) if ctx.needs_input_grad[3] else None
        step = max(1, _BACKWARD_CHUNK // (heads * N * N))
        for i in range(0, M, step):
            sl = slice(i, min(i + step, M))
            qc, kc, vc, oc, go = (t[sl].to(dtype) for t in (q, k, v, out, grad_out))
            attn = torch.matmul(qc, kc.transpose(-2, -1)).add_(mask).softmax(dim=-1)  # P
            torch.matmul(attn.transpose(-2, -1), go, out=grad_v[sl])
            grad_attn = torch.matmul(go, vc.transpose(-2, -1))  # dP
            # dS = P * (dP - rowsum(P * dP)), the softmax backward; rowsum(P * dP) equals
            # rowsum(dO * O), a pass over (N, d) instead of (N, N).
            grad_attn.sub_((go * oc).sum(-1, keepdim=True)).mul_(attn)
            torch.matmul(grad_attn, kc, out=grad_q[sl])
            torch.matmul(grad_attn.transpose(-2, -1), qc, out=grad_k[sl])
            if grad_bias is not None:
                grad_bias += grad_attn.sum(0)
        grads = [g.to(t.dtype) for g, t in zip((grad_q, grad_k, grad_v), (q, k, v))]
        if grad_bias is not None:
            grad_bias = grad_bias.to(attn_bias.dtype)
        return grads[0], grads[1], grads[2], grad_bias, None


def _cpu_attention(q: Tensor, k: Tensor, v: Tensor, attn_bias: Tensor,
                   shift_mask: Optional[Tensor], dropout_p: float) -> Tensor:
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v, attn_bias))
    if dropout_p > 0.0:
        # Dropout's random mask cannot be replayed by the recomputing backward.
        return _sdpa_attention(q, k, v, attn_bias, shift_mask, dropout_p)
    if needs_grad:
        return _FlashWindowAttentionCPU.apply(q, k, v, attn_bias, shift_mask)
    # The CPU flash kernel reads a float32 mask next to bfloat16/float16 q, k, v.
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=_group_mask(attn_bias, shift_mask, compute_dtype(q.dtype)), scale=1.0)


def _sdpa_attention(q: Tensor, k: Tensor, v: Tensor, attn_bias: Tensor,
                    shift_mask: Optional[Tensor], dropout_p: float) -> Tensor:
    # The CUDA kernels want the mask in q's dtype; it carries the bias's gradient.
    return F.scaled_dot_product_attention(q, k, v, attn_mask=_group_mask(attn_bias, shift_mask,
                                                                          q.dtype),
                                          dropout_p=dropout_p, scale=1.0)


def cosine_attention(q: Tensor, k: Tensor, v: Tensor, logit_scale: Tensor, attn_bias: Tensor,
                     groups: Optional[Sequence[WindowGroup]] = None, fused: bool = True,
                     dropout_p: float = 0.0) -> Tensor:
    """softmax(cos(q, k) * exp(min(logit_scale, log 100)) + attn_bias + shift_mask) @ v.

    q, k, v: (M, num_heads, N, head_dims), M windows over all images; logit_scale:
    (num_heads, 1, 1); attn_bias: the (num_heads, N, N) position bias; groups: consecutive
    row ranges of q sharing one (N, N) shift mask (None: one group, no mask).
    Returns (M, N, num_heads, head_dims), ready for the output projection.
    """
    if groups is None:
        groups = [WindowGroup(q.shape[0], None)]
    if sum(g.rows for g in groups) != q.shape[0]:
        raise ValueError(f'window groups cover {sum(g.rows for g in groups)} rows, '
                         f'q has {q.shape[0]}')
    # F.normalize's default eps (1e-12) is 0 in float16, and a padded token's key is exactly
    # zero (V2 has no key bias): 0 / 0. The smallest normal number of the dtype is safe.
    eps = max(1e-12, torch.finfo(q.dtype).tiny)
    # in logit_scale's dtype (a float32 parameter): _unit folds it in at float32
    scale = torch.clamp(logit_scale, max=LOGIT_SCALE_MAX).exp()
    path = attention_path(q, fused)
    if path == 'plain':
        q, k = F.normalize(q, dim=-1, eps=eps), F.normalize(k, dim=-1, eps=eps)
        scale = scale.to(q.dtype)

        def attend(qg, kg, vg, shift_mask):
            return _plain_attention(qg, kg, vg, scale, attn_bias, shift_mask, dropout_p)
    else:
        # Folding the per-head scale into q turns cosine attention into plain SDPA (scale 1);
        # it rides on q's normalisation: one pass over q instead of two.
        q = _unit(q, eps, scale)
        k = _unit(k, eps)
        kernel = _sdpa_attention if path == 'sdpa' else _cpu_attention
        if path == 'cpu' and torch.is_autocast_enabled('cpu'):
            # Autocast would round the mask too (a bias of up to 16 by up to 0.06 in
            # bfloat16): cast q, k, v only and run the kernel outside autocast.
            dtype = torch.get_autocast_dtype('cpu')
            q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)

            def attend(qg, kg, vg, shift_mask):
                with torch.autocast('cpu', enabled=False):
                    return kernel(qg, kg, vg, attn_bias, shift_mask, dropout_p)
        else:
            def attend(qg, kg, vg, shift_mask):
                return kernel(qg, kg, vg, attn_bias, shift_mask, dropout_p)
    outs, start = [], 0
    for group in groups:
        sl = slice(start, start + group.rows)
        start += group.rows
        if group.rows:
            outs.append(attend(q[sl], k[sl], v[sl], group.shift_mask).transpose(1, 2))
    # One copy: the concatenation also writes the (M, N, heads, d) layout the projection reads.
    return torch.cat(outs) if len(outs) > 1 else outs[0].contiguous()


class WindowAttentionV2(nn.Module):
    """Multi-head self-attention inside non-overlapping windows, with scaled cosine
    attention and a continuous position bias (CPB) that works for any window size.

    Args:
        embed_dims: channels C of the tokens.
        num_heads: attention heads.
        pretrained_window_size: window whose coordinate normalisation the weights were
            trained with (0: the window in use). See `_relative_coords_table`.
        attn_drop: dropout on attention weights; proj_drop: dropout after the projection.
        fused: use scaled_dot_product_attention (else the plain path, for checking).
    """

    def __init__(self, embed_dims: int, num_heads: int, pretrained_window_size: int = 0,
                 attn_drop: float = 0.0, proj_drop: float = 0.0, fused: bool = True) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.pretrained_window_size = pretrained_window_size
        self.fused = fused
        self.attn_drop = attn_drop

        self.logit_scale = nn.Parameter(torch.full((num_heads, 1, 1), math.log(10.0)))
        # The CPB meta network: coordinates -> one bias per head.
        self.cpb_mlp = nn.Sequential(
            nn.Linear(2, 512, bias=True), nn.ReLU(inplace=True),
            nn.Linear(512, num_heads, bias=False))
        # V2 has biases for q and v only; k's bias would cancel in the cosine anyway.
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(embed_dims))
        self.v_bias = nn.Parameter(torch.zeros(embed_dims))
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        # window_size -> (CPB parameter values, CPB table); used only without autograd.
        self._table_cache: dict = {}

    def _cpb_table(self, window_size: int) -> Tensor:
        """(num_heads, (2W-1)^2): 16 * sigmoid(CPB-MLP(coordinates)), one value per offset."""
        weight = self.cpb_mlp[0].weight
        coords = cached(_relative_coords_table, window_size, self.pretrained_window_size)
        coords = coords.to(device=weight.device, dtype=weight.dtype)
        return (16 * torch.sigmoid(self.cpb_mlp(coords).to(compute_dtype(weight.dtype)))).t()

    def position_bias(self, window_size: int) -> Tensor:
        """The (num_heads, N, N) position bias of a window: the CPB table gathered per pair.

        Wherever a gradient could flow (autograd on and a CPB parameter that wants one) it is
        computed in the graph. Otherwise the small per-offset table is reused while the CPB
        parameters hold exactly the values it was computed from — compared element by
        element (~15k numbers), so no way of changing weights (optimizer step,
        load_state_dict, the `.data` copies of EMA hooks, `.to()`) can leave it stale. The
        MLP is ~1-2 % of an eval forward at detection sizes (docs/benchmark.md); the
        (heads, N, N) gather is not cached (it would cost ~0.5 GB for SwinV2-B at window 24).
        """
        params = tuple(self.cpb_mlp.parameters())
        needs_grad = torch.is_grad_enabled() and any(p.requires_grad for p in params)
        if needs_grad or torch.compiler.is_compiling() or capturing():
            table = self._cpb_table(window_size)
        else:
            entry = self._table_cache.get(window_size)
            if entry is None or not all(
                    s.device == p.device and s.dtype == p.dtype and torch.equal(s, p)
                    for s, p in zip(entry[0], params)):
                entry = (tuple(p.detach().clone() for p in params),
                         self._cpb_table(window_size).contiguous())
                self._table_cache[window_size] = entry
            table = entry[1]
        index = cached(_relative_position_index, window_size).to(table.device)
        num_tokens = window_size * window_size
        return table.index_select(1, index.reshape(-1)).reshape(-1, num_tokens, num_tokens)

    def forward(self, windows: Tensor, window_size: int,
                groups: Optional[Sequence[WindowGroup]] = None) -> Tensor:
        """windows: (M, N, C), M windows over all images -> same shape.

        groups: consecutive windows sharing a shift mask (None: no shift, one group).
        """
        M, N, C = windows.shape
        bias = self.position_bias(window_size)
        step = max(1, INFERENCE_CHUNK // (3 * N * C))
        if torch.is_grad_enabled() or capturing() or M <= step:
            return self._attend(windows, bias, groups)
        # Inference on a large map: a chunk of windows at a time (within each group, which
        # keeps its one shift mask), so q/k/v and the output stay in cache.
        if groups is None:
            groups = [WindowGroup(M, None)]
        out, start = None, 0
        for group in groups:
            for i in range(start, start + group.rows, step):
                rows = slice(i, min(i + step, start + group.rows))
                res = self._attend(windows[rows], bias,
                                   [WindowGroup(rows.stop - rows.start, group.shift_mask)])
                if out is None:
                    out = res.new_empty(M, N, C)
                out[rows] = res
            start += group.rows
        return out

    def _attend(self, windows: Tensor, bias: Tensor,
                groups: Optional[Sequence[WindowGroup]]) -> Tensor:
        M, N, C = windows.shape
        qkv_bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(windows, self.qkv.weight, qkv_bias)
        qkv = qkv.reshape(M, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each M, heads, N, d
        x = cosine_attention(q, k, v, self.logit_scale, bias, groups, fused=self.fused,
                             dropout_p=self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(x.reshape(M, N, C)))
