"""FLOPs of a SwinV2 step, two counts: a formula (used for every rate, the same for every
implementation) and torch's FlopCounterMode on timm's model (the check of the formula)."""
import torch

from .models import ARCHS, build_timm, reason


def swinv2_flops(arch: dict, window: int, batch: int, height: int, width: int) -> float:
    """Forward FLOPs (2 per multiply-add) of the work a SwinV2 backbone must do: patch
    embedding; per block the qkv / attention (q k^T and attn v) / projection matmuls on the
    window-padded map (a window attends as a whole) and the MLP on the map itself (padding is
    cropped after attention, in every implementation); patch merging. Element-wise ops
    (norms, softmax, GELU) and the CPB MLP (independent of the input size) are left out.
    FlopCounterMode on timm's model agrees within 1 % at SwinV2-T sizes (see
    tests/test_benchmark.py)."""
    C, depths = arch['embed_dims'], arch['depths']
    ceil = lambda a, b: -(-a // b)  # noqa: E731
    H, W = ceil(height, 4), ceil(width, 4)
    flops = 2.0 * H * W * C * 3 * 16  # patch embedding, 4x4x3 -> C
    for i, depth in enumerate(depths):
        dims = C * 2**i
        if i > 0:
            H, W = ceil(H, 2), ceil(W, 2)
            flops += 2.0 * H * W * 4 * (dims // 2) * dims  # merging 4C -> 2C (of the stage before)
        win = min(window, H, W)
        Hp, Wp = ceil(H, win) * win, ceil(W, win) * win
        padded, n = Hp * Wp, win * win
        per_block = (2.0 * padded * dims * 3 * dims      # qkv
                     + 2.0 * 2 * padded * n * dims       # q k^T and attn v, all heads
                     + 2.0 * padded * dims * dims        # proj
                     + 2.0 * 2 * H * W * dims * 4 * dims)  # MLP, on the unpadded map
        flops += depth * per_block
    return batch * flops


def counted_flops(arch: dict, window: int, batch: int, height: int, width: int,
                  mode: str) -> float:
    """FLOPs that torch.utils.flop_counter.FlopCounterMode counts on timm's model (matmuls,
    convolutions, attention; a train step adds the backward). The model and input live on
    the meta device: only shapes are propagated, nothing is computed, so this is free even at
    2048^2. timm's model is the count of record because it spells every matmul out."""
    from torch.utils.flop_counter import FlopCounterMode
    with torch.device('meta'):
        model = build_timm(arch, window, (height, width))
        x = torch.empty(batch, 3, height, width)
    model.train(mode == 'train')
    counter = FlopCounterMode(display=False)
    with counter:
        if mode == 'train':
            sum(o.float().mean() for o in model(x)).backward()
        else:
            with torch.no_grad():
                model(x)
    return float(counter.get_total_flops())


def config_flops(arch_name: str, window: int, B: int, H: int, W: int, mode: str) -> dict:
    """The formula count (used for every rate) and the FlopCounterMode count on timm's model
    (the check that the formula counts the network's work)."""
    arch = ARCHS[arch_name]
    formula = swinv2_flops(arch, window, B, H, W) * (3 if mode == 'train' else 1)
    try:
        counted, why = counted_flops(arch, window, B, H, W, mode), ''
    except Exception as e:  # timm missing or not traceable on meta: say so, keep the formula
        counted, why = None, reason(e)
    return dict(flops_formula=formula, flops_counted=counted,
                counted_over_formula=counted / formula if counted else None,
                flops_counted_error=why or None)
