"""SwinTransformerV2's window attention written for a dynamic-size export: every
size-dependent quantity is computed from the input's symbolic size, so one exported graph is
right for every input size.

The model's own forward records cleanly (torch.jit.trace, torch.export, mmengine's FLOP
counter; tests/test_trace.py), but it decides the effective window, the shift, the pads, the
window gather indices and the shift masks in Python from the actual map size, and caches them
per size: that is what makes eager fast, and it makes any recorded graph one for its
example's size. A graph for every size needs those decisions as arithmetic on the symbolic
sizes, in the graph. Here, in the spirit of mmdeploy's function rewriters for Swin, that part
is spelt out branch-free; everything else is the model's own modules (the patch embedding, the
patch merging, the MLPs, the norms, the projections):

  window = min(window_size, H, W)                   (a map no larger than the window is one window)
  shift  = window_size // 2 * min(1, max(0, min(H, W) - window_size))   (0 when clipped)
  pads, number of windows, the 3x3-region shift mask and the CPB table of the window: all
  arithmetic on the symbolic sizes (sym_min / sym_max / arange), never a Python `if` on a size.

Only the model's public submodules and attributes are read (see ARCHITECTURE.md): the
backbone's internals (caches, how eager builds masks, window order helpers) can change without
touching this file. tests/test_export.py and tests/test_trace.py hold this forward to the
eager one and to the model's own recorded forward.
"""
import math
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The paper's values (Liu et al. 2022, sec. 3.2-3.3), as the eager model uses them.
from ..models.attention import LOGIT_SCALE_MAX   # temperature tau >= 0.01
from ..models.windows import SHIFT_MASK_VALUE    # logits of pairs the shift made neighbours
CPB_TABLE_RANGE = 8.0                    # relative coordinates scaled to [-8, 8], then log2


def _sym_min(a, b):
    """min of two sizes: Python ints in eager, 0-d int64 tensors while the exporter traces."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return torch.minimum(torch.as_tensor(a), torch.as_tensor(b))
    return torch.sym_min(a, b)


def _sym_max(a, b):
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return torch.maximum(torch.as_tensor(a), torch.as_tensor(b))
    return torch.sym_max(a, b)


def window_and_shift(height, width, window_size: int, shifted: bool):
    """(window, shift) as symbolic integers, without a branch on the size."""
    side = _sym_min(height, width)
    window = _sym_min(side, window_size)
    if not shifted:  # a block's own (static) attribute, not a size
        return window, 0
    # 1 when the map is larger than the window, else 0: the official code does not shift a
    # map that fits in one window.
    larger = _sym_min(_sym_max(side - window_size, 0), 1)
    return window, (window_size // 2) * larger


def _roll2d(x: Tensor, shift, height, width) -> Tensor:
    """torch.roll(x, (shift, shift), dims=(1, 2)) for a symbolic |shift| < size: two gathers
    with index (i - shift) mod size, which is size-independent in the graph."""
    def index(size):
        i = torch.arange(size, device=x.device) - shift
        # the wrap-around as two selects: the exporter has no remainder by a symbolic scalar
        i = torch.where(i < 0, i + size, i)
        return torch.where(i >= size, i - size, i)
    return x.index_select(1, index(height)).index_select(2, index(width))


def _partition(x: Tensor, window, Hp, Wp) -> Tensor:
    """(B, Hp, Wp, C) -> (B, num_windows, window*window, C), windows in row-major order."""
    B, C = x.shape[0], x.shape[-1]
    x = x.reshape(B, Hp // window, window, Wp // window, window, C)
    return x.transpose(2, 3).reshape(B, (Hp // window) * (Wp // window), window * window, C)


def _reverse(windows: Tensor, window, Hp, Wp) -> Tensor:
    B, C = windows.shape[0], windows.shape[-1]
    x = windows.reshape(B, Hp // window, Wp // window, window, window, C)
    return x.transpose(2, 3).reshape(B, Hp, Wp, C)


def shift_mask(window, shift, Hp, Wp, device) -> Tensor:
    """(num_windows, N, N): 0 within one of the 3x3 regions of the padded, rolled map,
    SHIFT_MASK_VALUE across regions. With shift 0 every window lies in one region (all 0)."""
    def region(size):
        # the slices (0, -window), (-window, -shift), (-shift, end) as labels 0, 1, 2
        i = torch.arange(size, device=device)
        return (i >= size - window).to(torch.int64) + (i >= size - shift).to(torch.int64)
    label = region(Hp)[:, None] * 3 + region(Wp)[None, :]          # Hp, Wp
    label = _partition(label[None, :, :, None], window, Hp, Wp)[0, :, :, 0]  # nW, N
    differ = label[:, None, :] != label[:, :, None]
    return differ.to(torch.float32) * SHIFT_MASK_VALUE


def position_bias(attn: nn.Module, window) -> Tensor:
    """(heads, N, N) continuous position bias 16 * sigmoid(CPB-MLP(log-spaced table)) for a
    (symbolic) window: the table and the pair index are built from arange(window) in-graph."""
    device = attn.logit_scale.device
    offsets = torch.arange(1 - window, window, device=device).to(torch.float32)  # 2W-1
    grid = torch.stack(torch.meshgrid(offsets, offsets, indexing='ij'), dim=-1)
    reference = attn.pretrained_window_size if attn.pretrained_window_size > 0 else window
    # max(.., 1): a 1x1 window has only offset 0 (as the eager model)
    grid = grid / _sym_max(reference - 1, 1) * CPB_TABLE_RANGE
    grid = torch.sign(grid) * torch.log2(grid.abs() + 1.0) / math.log2(CPB_TABLE_RANGE)
    table = attn.cpb_mlp(grid.reshape(-1, 2))                    # (2W-1)^2, heads
    token = torch.arange(window * window, device=device)
    ch, cw = token // window, token % window                     # row, column of each token
    index = (ch[:, None] - ch[None, :] + window - 1) * (2 * window - 1) \
        + (cw[:, None] - cw[None, :] + window - 1)               # N, N
    bias = table.index_select(0, index.reshape(-1)).reshape(window * window, window * window, -1)
    return 16 * torch.sigmoid(bias.permute(2, 0, 1))


def window_attention(attn: nn.Module, windows: Tensor, window, mask) -> Tensor:
    """Scaled cosine attention inside windows: (B, nW, N, C) -> (B, nW, N, C)."""
    B, nW, N, C = windows.shape
    heads = attn.num_heads
    qkv_bias = torch.cat((attn.q_bias, torch.zeros_like(attn.v_bias), attn.v_bias))
    qkv = F.linear(windows, attn.qkv.weight, qkv_bias)
    qkv = qkv.reshape(B, nW, N, 3, heads, C // heads).permute(3, 0, 1, 4, 2, 5)
    q, k, v = qkv[0], qkv[1], qkv[2]                             # B, nW, heads, N, d
    q = F.normalize(q, dim=-1, eps=1e-12)
    k = F.normalize(k, dim=-1, eps=1e-12)
    scale = torch.clamp(attn.logit_scale, max=LOGIT_SCALE_MAX).exp()   # heads, 1, 1
    logits = (q @ k.transpose(-2, -1)) * scale + position_bias(attn, window)
    if mask is not None:
        logits = logits + mask[:, None]
    x = logits.softmax(dim=-1) @ v
    x = x.transpose(2, 3).reshape(B, nW, N, C)
    return attn.proj(x)


def swin_block(block: nn.Module, x: Tensor) -> Tensor:
    """Res-post-norm block: x + norm1(W-MSA(x)), then x + norm2(MLP(x)) (eval: no drop path)."""
    B, H, W, C = x.shape
    window, shift = window_and_shift(H, W, block.window_size, block.shift)
    pad_h, pad_w = (window - H % window) % window, (window - W % window) % window
    y = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    Hp, Wp = H + pad_h, W + pad_w
    mask = None
    if block.shift:
        # shift may be 0 (clipped map): the roll is then the identity and the mask all zeros
        y = _roll2d(y, -shift, Hp, Wp)
        mask = shift_mask(window, shift, Hp, Wp, x.device)
    y = window_attention(block.attn, _partition(y, window, Hp, Wp), window, mask)
    y = _reverse(y, window, Hp, Wp)
    if block.shift:
        y = _roll2d(y, shift, Hp, Wp)
    x = x + block.norm1(y[:, :H, :W, :])
    return x + block.norm2(block.mlp(x))


def swin_v2_forward(backbone: nn.Module, x: Tensor) -> Tuple[Tensor, ...]:
    """SwinTransformerV2.forward (eval) for export: NCHW maps of `out_indices`."""
    # The patch embedding and merging pad and reshape by sizes read from their input, which
    # the exporter records as graph values: the model's own modules are size-independent.
    x = backbone.drop_after_pos(backbone.patch_embed(x))
    outs: List[Tensor] = []
    for i, stage in enumerate(backbone.stages):
        if stage.downsample is not None:
            x = stage.downsample(x)
        for block in stage.blocks:
            x = swin_block(block, x)
        if i in backbone.out_indices:
            outs.append(getattr(backbone, f'norm{i}')(x).permute(0, 3, 1, 2))
    return tuple(outs)

