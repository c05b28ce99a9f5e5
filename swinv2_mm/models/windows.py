"""From a feature map to attention windows and back, in one gather each way.

A block pads its map to a multiple of the window, rolls it by -shift (shifted blocks),
partitions it into windows, and after attention does the inverse. Here those steps are one
row gather with a precomputed index (`WindowLayout`), in the backward too, so the block makes
two copies of its input instead of five (pad, roll, partition, reverse, roll back).

The gather also chooses the order of the windows. After the cyclic shift only the windows of
the last row and the last column of the map mix regions that were not neighbours; every
interior window needs no shift mask at all. So the windows are ordered in four groups —
interior, last row, last column, corner — and each group needs one (N, N) shift mask (or
none) for all of its windows: nothing per window is ever materialised, and the memory of the
masks does not grow with the image.

Windows are laid out window-major, (num_windows, B, N, C) flattened to rows, so that a group
of windows of every image is one contiguous slice (a view) for the attention kernels.
"""
from functools import lru_cache
from typing import List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

# Added to the logits of token pairs that the cyclic shift made neighbours but are not.
SHIFT_MASK_VALUE = -100.0


def capturing() -> bool:
    """Whether the forward is being recorded as a graph of aten ops: torch.jit.trace (and what
    builds on it: mmengine's FLOP counter, the TorchScript ONNX exporter) or torch.export.

    The graph then holds the network's math in plain ops: the window gathers without their
    custom backward, attention spelt out (matmul, softmax), the position bias computed from
    the CPB MLP, no chunk loops. That is what FLOP counters count and what exporters know;
    eager keeps its fused kernels and caches. Sizes are decided in Python from the example,
    as in eager, so a recorded graph is for its example's input size (a dynamic-size ONNX
    graph comes from swinv2_mm/deploy/swin_rewrite.py).
    """
    return torch.jit.is_tracing() or torch.compiler.is_exporting()


def static_size(size) -> int:
    """A size as a Python int. torch.jit.trace hands sizes out as 0-d tensors; the window
    layout is decided from them in Python, which specialises the trace to this size."""
    return int(size) if isinstance(size, Tensor) else size


def cached(fn, *args):
    """Call an lru_cached helper through its cache, except while torch.compile traces: then
    the wrapped function is traced (its result becomes a constant of the graph)."""
    if torch.compiler.is_compiling():
        return fn.__wrapped__(*args)
    return fn(*args)


def effective_window(height: int, width: int, window_size: int) -> Tuple[int, int]:
    """(window, shift) a block uses on an H x W map.

    As in the official code: a map no larger than the window is one window, unshifted.
    """
    if min(height, width) <= window_size:
        return min(height, width), 0
    return window_size, window_size // 2


class WindowGroup(NamedTuple):
    """`rows` consecutive windows (counted over all images) sharing one shift mask."""
    rows: int
    shift_mask: Optional[Tensor]  # (N, N) of 0 / SHIFT_MASK_VALUE, or None


class WindowLayout(NamedTuple):
    """Index tensors that take a (B*H*W, C) map to (num_windows*B*N, C) window rows and back.

    `to_windows[r]` is the map row that window row r reads; padding reads a zero
    (`to_windows_zero` lists those window rows). `from_windows[p]` is the window row that
    holds map row p. Each is the other's adjoint, which is the backward of the gather.
    """
    to_windows: Tensor
    to_windows_zero: Tensor
    from_windows: Tensor
    groups: Tuple[Tuple[int, int], ...]  # (windows per image, mask kind) in order


def _grid_order(rows: int, cols: int, shift: int) -> Tuple[Tensor, Tensor, Tuple[Tuple[int, int], ...]]:
    """Window grid coordinates in group order, and the (count, mask kind) of each group.

    Mask kind: 0 none, 1 last row (regions split along rows), 2 last column, 3 corner.
    """
    def block(r: Tensor, c: Tensor) -> Tuple[Tensor, Tensor]:
        return r.repeat_interleave(len(c)), c.repeat(len(r))

    if not shift:
        r, c = block(torch.arange(rows), torch.arange(cols))
        return r, c, ((rows * cols, 0),)
    last_r, last_c = torch.tensor([rows - 1]), torch.tensor([cols - 1])
    parts = [block(torch.arange(rows - 1), torch.arange(cols - 1)),
             block(last_r, torch.arange(cols - 1)),
             block(torch.arange(rows - 1), last_c),
             block(last_r, last_c)]
    groups = (((rows - 1) * (cols - 1), 0), (cols - 1, 1), (rows - 1, 2), (1, 3))
    return (torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]), groups)


# Keyed by size: multi-scale training meets many sizes, and each entry holds ~3 int64 per pixel.
@lru_cache(maxsize=64)
def window_layout(batch: int, height: int, width: int, window: int, shift: int,
                  device: torch.device) -> WindowLayout:
    """The gather indices of a block for a B x H x W map (see WindowLayout)."""
    hp, wp = -(-height // window) * window, -(-width // window) * window
    grid_r, grid_c, groups = _grid_order(hp // window, wp // window, shift)
    tok = torch.arange(window * window)
    # Position in the rolled, padded map of every token of every window: (nW, N).
    r = grid_r[:, None] * window + tok[None] // window
    c = grid_c[:, None] * window + tok[None] % window
    # Rolled by -shift: position (r, c) holds the padded map's ((r+s) % Hp, (c+s) % Wp).
    r, c = (r + shift) % hp, (c + shift) % wp
    valid = (r < height) & (c < width)
    source = r * width + c  # row of one image's map; only meaningful where valid
    num_windows, n = source.shape
    pixels = height * width
    # Window-major rows: (window, image, token) -> (w * B + b) * N + t.
    images = torch.arange(batch)
    to_windows = (source[:, None, :] + images[None, :, None] * pixels)
    valid_rows = valid[:, None, :].expand(num_windows, batch, n)
    keep = valid_rows.reshape(-1)
    to_windows = torch.where(keep, to_windows.reshape(-1), 0)
    # Shapes below follow from the sizes alone (no nonzero / boolean indexing), so that
    # torch.compile traces this without data-dependent shapes.
    num_zero = batch * (hp * wp - pixels)
    to_windows_zero = torch.argsort(keep.int(), stable=True)[:num_zero]
    row_ids = torch.arange(num_windows * batch * n)
    # Scatter each window row to the map row it reads; padding goes to a spare last slot.
    from_windows = torch.zeros(batch * pixels + 1, dtype=torch.long)
    from_windows.scatter_(0, torch.where(keep, to_windows, batch * pixels), row_ids)
    from_windows = from_windows[:-1]
    return WindowLayout(to_windows.to(device), to_windows_zero.to(device),
                        from_windows.to(device), groups)


@lru_cache(maxsize=64)
def group_shift_masks(window: int, shift: int, device: torch.device) -> Tuple[Optional[Tensor], ...]:
    """Shift masks by kind (none, last row, last column, corner), each (N, N).

    In the last row of windows the first `window - shift` rows of a window came from the
    bottom of the map and the rest wrapped round from its top; likewise for columns.
    """
    tok = torch.arange(window * window, device=device)
    row_region = (tok // window >= window - shift).long()
    col_region = (tok % window >= window - shift).long()

    def mask(region: Tensor) -> Tensor:
        different = region[:, None] != region[None, :]
        return torch.zeros(different.shape, device=device).masked_fill_(different,
                                                                         SHIFT_MASK_VALUE)
    return (None, mask(row_region), mask(col_region), mask(row_region * 2 + col_region))


def _take_rows(rows: Tensor, index: Tensor, zero_rows: Optional[Tensor]) -> Tensor:
    out = rows.index_select(0, index)
    if zero_rows is not None and zero_rows.numel():
        out.index_fill_(0, zero_rows, 0)
    return out


class _GatherRows(torch.autograd.Function):
    """rows[index] with listed rows zeroed; the backward is the adjoint gather.

    Used for a permutation of map rows into window rows (plus zero padding) and back; the
    adjoint of such a gather is again a gather, so no scatter-add is needed (index_select's
    own backward is an index_add, serial on CPU).
    """

    @staticmethod
    def forward(ctx, rows: Tensor, index: Tensor, zero_rows: Optional[Tensor],
                adjoint: Tensor, adjoint_zero_rows: Optional[Tensor]) -> Tensor:
        ctx.save_for_backward(index, zero_rows, adjoint, adjoint_zero_rows)
        return _take_rows(rows, index, zero_rows)

    @staticmethod
    def backward(ctx, grad: Tensor):
        index, zero_rows, adjoint, adjoint_zero_rows = ctx.saved_tensors
        # Differentiable again (double backward, gradcheck of gradients).
        grad = _GatherRows.apply(grad.contiguous(), adjoint, adjoint_zero_rows, index, zero_rows)
        return grad, None, None, None, None


def to_windows(x: Tensor, layout: WindowLayout) -> Tensor:
    """(B, H, W, C) map -> (num_windows * B * N, C) window rows (padded, rolled)."""
    rows = x.reshape(-1, x.shape[-1])
    if capturing():  # the gather itself; autograd gives it index_select's backward
        return _take_rows(rows, layout.to_windows, layout.to_windows_zero)
    return _GatherRows.apply(rows, layout.to_windows, layout.to_windows_zero,
                             layout.from_windows, None)


def from_windows(rows: Tensor, layout: WindowLayout, shape: torch.Size) -> Tensor:
    """Inverse of `to_windows`: window rows -> (B, H, W, C) map (unrolled, cropped)."""
    rows = rows.reshape(-1, rows.shape[-1])
    if capturing():
        return _take_rows(rows, layout.from_windows, None).reshape(shape)
    out = _GatherRows.apply(rows, layout.from_windows, None, layout.to_windows,
                            layout.to_windows_zero)
    return out.reshape(shape)


def window_groups(layout: WindowLayout, batch: int, window: int, shift: int,
                  device: torch.device) -> List[WindowGroup]:
    """The attention groups of a layout: rows counted over all images, with their mask."""
    masks = cached(group_shift_masks, window, shift, device) if shift else (None,)
    return [WindowGroup(count * batch, masks[kind]) for count, kind in layout.groups]
