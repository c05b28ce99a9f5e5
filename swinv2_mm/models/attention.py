"""Window attention of Swin Transformer V2: scaled cosine attention with a continuous
position bias (CPB), paper sections 3.2-3.3 (arXiv 2111.09883).

`cosine_attention` is the one function that computes attention, with a fused path
(`scaled_dot_product_attention`) and a plain path that spells the paper's formula out; the
tests hold the two together.
"""
import math
from functools import lru_cache
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The paper bounds the learnt temperature tau from below by 0.01, i.e. the scale by 100.
LOGIT_SCALE_MAX = math.log(1.0 / 0.01)
# Added to the logits of token pairs that the cyclic shift made neighbours but are not.
SHIFT_MASK_VALUE = -100.0


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


def cached(fn, *args):
    """Call an lru_cached helper through its cache, except while torch.compile traces: then
    the wrapped function is traced (its result becomes a constant of the graph)."""
    if torch.compiler.is_compiling():
        return fn.__wrapped__(*args)
    return fn(*args)


def _attention_mask(attn_bias: Tensor, shift_mask: Optional[Tensor]) -> Tensor:
    """(1 or nW, heads, N, N): the position bias, plus the shift mask when there is one."""
    if attn_bias.dim() == 3:
        attn_bias = attn_bias.unsqueeze(0)
    if shift_mask is None:
        return attn_bias
    # Written contiguous once: the fused kernels make their mask contiguous, and a broadcast
    # sum can come out in another memory order (then each call would copy it again).
    mask = attn_bias.new_empty(shift_mask.shape[0], *attn_bias.shape[1:])
    return torch.add(attn_bias, shift_mask.unsqueeze(1).to(attn_bias.dtype), out=mask)


def _sdpa_windows(q: Tensor, k: Tensor, v: Tensor, mask: Tensor, dropout_p: float = 0.0) -> Tensor:
    """SDPA over (B, nW, heads, N, d) windows with a (1 or nW, heads, N, N) mask.

    The fused kernels (CPU flash, CUDA memory-efficient) take 4-D inputs and broadcast a
    mask only over size-1 dimensions: windows and images are flattened into one batch
    dimension; a per-window mask is not broadcastable over images, so then the images go
    one at a time (a loop over the batch, never over windows).
    """
    B, nW = q.shape[:2]
    if mask.shape[0] == 1 or B == 1:
        out = F.scaled_dot_product_attention(q.flatten(0, 1), k.flatten(0, 1), v.flatten(0, 1),
                                             attn_mask=mask, dropout_p=dropout_p, scale=1.0)
        return out.unflatten(0, (B, nW))
    return torch.stack([
        F.scaled_dot_product_attention(q[b], k[b], v[b], attn_mask=mask, dropout_p=dropout_p,
                                       scale=1.0) for b in range(B)])


# Elements of one (windows, heads, N, N) chunk that the CPU backward works on at a time:
# 2 MiB in float32, so the chunk's element-wise softmax backward runs from cache (measured
# ~20 % faster than 16 MiB chunks for SwinV2-T window 16).
_BACKWARD_CHUNK = 1 << 19


class _FlashWindowAttentionCPU(torch.autograd.Function):
    """softmax(q k^T + bias + shift_mask) v with a gradient for the position bias, on CPU.

    PyTorch's CPU flash-attention kernel has no gradient for the mask, so with a bias that
    needs one SDPA falls back to its math path, which keeps the (B*nW, heads, N, N)
    probabilities of every block for the backward. Here the forward runs the flash kernel
    and keeps only q, k, v and the output (which the projection keeps anyway); the backward
    recomputes the probabilities a chunk of windows at a time (float32) and sums the mask
    gradient over windows and images.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, attn_bias: Tensor,
                shift_mask: Optional[Tensor]) -> Tensor:
        out = _sdpa_windows(q, k, v, _attention_mask(attn_bias.detach(), shift_mask))
        ctx.save_for_backward(q, k, v, out, attn_bias, shift_mask)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        q, k, v, out, attn_bias, shift_mask = ctx.saved_tensors
        B, nW, heads, N, d = q.shape
        bias = attn_bias.reshape(1, heads, N, N).float()
        shift = shift_mask.unsqueeze(1).float() if shift_mask is not None else None
        grad_q, grad_k, grad_v = (torch.empty(t.shape, dtype=torch.float32) for t in (q, k, v))
        grad_bias = torch.zeros(heads, N, N) if ctx.needs_input_grad[3] else None
        step = max(1, _BACKWARD_CHUNK // (heads * N * N))
        for b in range(B):
            for w in range(0, nW, step):
                sl = slice(w, min(w + step, nW))
                qc, kc, vc, oc, go = (t[b, sl].float() for t in (q, k, v, out, grad_out))
                attn = torch.matmul(qc, kc.transpose(-2, -1)).add_(bias)
                if shift is not None:
                    attn.add_(shift[sl])
                attn = torch.softmax(attn, dim=-1)  # P
                torch.matmul(attn.transpose(-2, -1), go, out=grad_v[b, sl])
                grad_attn = torch.matmul(go, vc.transpose(-2, -1))  # dP
                # dS = P * (dP - rowsum(P * dP)), the softmax backward; rowsum(P * dP) equals
                # rowsum(dO * O), a pass over (N, d) instead of (N, N).
                grad_attn.sub_((go * oc).sum(-1, keepdim=True)).mul_(attn)
                torch.matmul(grad_attn, kc, out=grad_q[b, sl])
                torch.matmul(grad_attn.transpose(-2, -1), qc, out=grad_k[b, sl])
                if grad_bias is not None:
                    grad_bias += grad_attn.sum(0)
        grads = [g.to(t.dtype) for g, t in zip((grad_q, grad_k, grad_v), (q, k, v))]
        if grad_bias is not None:
            grad_bias = grad_bias.reshape(attn_bias.shape).to(attn_bias.dtype)
        return grads[0], grads[1], grads[2], grad_bias, None


def _cpu_attention(q: Tensor, k: Tensor, v: Tensor, attn_bias: Tensor,
                   shift_mask: Optional[Tensor], dropout_p: float) -> Tensor:
    if (torch.is_grad_enabled() and dropout_p == 0.0
            and any(t.requires_grad for t in (q, k, v, attn_bias))):
        return _FlashWindowAttentionCPU.apply(q, k, v, attn_bias, shift_mask)
    return _sdpa_windows(q, k, v, _attention_mask(attn_bias, shift_mask), dropout_p)


def cosine_attention(q: Tensor, k: Tensor, v: Tensor, logit_scale: Tensor, attn_bias: Tensor,
                     fused: bool = True, dropout_p: float = 0.0,
                     shift_mask: Optional[Tensor] = None) -> Tensor:
    """softmax(cos(q, k) * exp(min(logit_scale, log 100)) + attn_bias + shift_mask) @ v.

    q, k, v: (B, nW, num_heads, N, head_dims); logit_scale: (num_heads, 1, 1); attn_bias:
    the (num_heads, N, N) position bias (or anything broadcastable to (B, nW, heads, N, N) on
    the plain path); shift_mask: (nW, N, N) with 0 / SHIFT_MASK_VALUE, or None.
    """
    # F.normalize's default eps (1e-12) is 0 in float16, and a padded token's key is exactly
    # zero (V2 has no key bias): 0 / 0. The smallest normal number of the dtype is safe.
    eps = max(1e-12, torch.finfo(q.dtype).tiny)
    scale = torch.clamp(logit_scale, max=LOGIT_SCALE_MAX).exp().to(q.dtype)
    if fused:
        # Folding the per-head scale into q turns cosine attention into plain SDPA (scale 1);
        # it rides on q's normalisation: one pass over q instead of two.
        q = q * (scale / torch.linalg.vector_norm(q, dim=-1, keepdim=True).clamp_min(eps))
        k = F.normalize(k, dim=-1, eps=eps)
    else:
        q = F.normalize(q, dim=-1, eps=eps)
        k = F.normalize(k, dim=-1, eps=eps)
        attn = (q @ k.transpose(-2, -1)) * scale + attn_bias.to(q.dtype)
        if shift_mask is not None:
            attn = attn + shift_mask.unsqueeze(1).to(q.dtype)
        attn = F.dropout(attn.softmax(dim=-1), p=dropout_p)
        return attn @ v
    if q.device.type == 'cpu':
        # CPU flash attention reads a float32 mask next to low-precision q/k/v, but autocast
        # would round the mask too (a bias of up to 16 by up to 0.06 in bfloat16): cast
        # q, k, v only and run the kernel outside autocast.
        if torch.is_autocast_enabled('cpu'):
            dtype = torch.get_autocast_dtype('cpu')
            with torch.autocast('cpu', enabled=False):
                return _cpu_attention(q.to(dtype), k.to(dtype), v.to(dtype), attn_bias,
                                      shift_mask, dropout_p)
        return _cpu_attention(q, k, v, attn_bias, shift_mask, dropout_p)
    # CUDA kernels want the mask in the dtype of q.
    return _sdpa_windows(q, k, v, _attention_mask(attn_bias, shift_mask).to(q.dtype), dropout_p)


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
        # window_size -> (bias, parameter versions it was computed from); eval mode only.
        self._bias_cache: dict = {}

    def _position_bias_from_mlp(self, window_size: int) -> Tensor:
        device = self.logit_scale.device
        table = cached(_relative_coords_table, window_size, self.pretrained_window_size)
        table = table.to(device)
        index = cached(_relative_position_index, window_size).to(device)
        bias_table = self.cpb_mlp(table.to(self.cpb_mlp[0].weight.dtype))  # (2W-1)^2, heads
        num_tokens = window_size * window_size
        bias = bias_table[index.reshape(-1)].reshape(num_tokens, num_tokens, self.num_heads)
        return 16 * torch.sigmoid(bias.permute(2, 0, 1).float())  # heads, N, N

    def position_bias(self, window_size: int) -> Tensor:
        """The (num_heads, N, N) position bias for a window, 16 * sigmoid(CPB-MLP(table)).

        While training with autograd it is recomputed every call (its gradient is needed).
        Otherwise it is computed once per window size and reused until a CPB parameter
        changes in place (an optimizer step, load_state_dict) or moves to another device.
        """
        if (self.training and torch.is_grad_enabled()) or torch.compiler.is_compiling():
            # Under torch.compile the bias is part of the graph (a parameter-pointer cache
            # cannot be traced; the CPB MLP is small next to the blocks).
            return self._position_bias_from_mlp(window_size)
        params = tuple(self.cpb_mlp.parameters())
        key = tuple((p._version, p.data_ptr()) for p in params)
        entry = self._bias_cache.get(window_size)
        if entry is None or entry[1] != key:
            with torch.no_grad():
                entry = (self._position_bias_from_mlp(window_size), key)
            self._bias_cache[window_size] = entry
        return entry[0]

    def forward(self, windows: Tensor, window_size: int,
                shift_mask: Optional[Tensor] = None) -> Tensor:
        """windows: (B, num_windows, N, C) -> same shape.

        shift_mask: (num_windows, N, N) with 0 or SHIFT_MASK_VALUE, or None (no shift).
        """
        B, num_windows, N, C = windows.shape
        qkv_bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(windows, self.qkv.weight, qkv_bias)
        qkv = qkv.reshape(B, num_windows, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(3, 0, 1, 4, 2, 5).unbind(0)  # each B, nW, heads, N, d
        x = cosine_attention(q, k, v, self.logit_scale, self.position_bias(window_size),
                             fused=self.fused, dropout_p=self.attn_drop if self.training else 0.0,
                             shift_mask=shift_mask)
        x = x.transpose(2, 3).reshape(B, num_windows, N, C)
        return self.proj_drop(self.proj(x))
