"""What is exported for each kind of config, as nn.Modules whose forward the exporter traces.

Each wrapper shares the parameters of the model built from the config (nothing is copied
into it but the module tree) and replaces only what cannot be exported for every input size:
the SwinV2 blocks' window attention (swin_rewrite; the rest of the backbone is its own
modules) and adaptive average pooling with a fixed output size (UperNet's pyramid pooling),
whose ONNX form needs the input size to be a constant.
The eager reference each one is checked against is the OpenMMLab model's own code path.
"""
import copy
from typing import Callable, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .swin_rewrite import swin_v2_forward


def _pool_matrix(size, out: int, dtype, device) -> Tensor:
    """(out, size) averaging weights of adaptive pooling along one axis: output bin i averages
    [floor(i*size/out), ceil((i+1)*size/out)), PyTorch's definition."""
    i = torch.arange(out, device=device)
    start = (i * size) // out
    end = ((i + 1) * size + out - 1) // out
    j = torch.arange(size, device=device)
    inside = (j[None, :] >= start[:, None]) & (j[None, :] < end[:, None])
    return inside.to(dtype) / (end - start)[:, None].to(dtype)


class DynamicAdaptiveAvgPool2d(nn.Module):
    """nn.AdaptiveAvgPool2d as two matrix products whose weights are built from the input's
    (symbolic) size in the graph. ONNX has no adaptive pooling, and the TorchScript exporter
    refuses a non-global one when height and width are dynamic ("input size not accessible")."""

    def __init__(self, output_size) -> None:
        super().__init__()
        out = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
        self.output_size = tuple(int(o) for o in out)

    def forward(self, x: Tensor) -> Tensor:
        H, W = x.shape[-2:]
        oh, ow = self.output_size
        rows = _pool_matrix(H, oh, x.dtype, x.device)           # oh, H
        cols = _pool_matrix(W, ow, x.dtype, x.device)           # ow, W
        return torch.matmul(torch.matmul(rows, x), cols.transpose(0, 1))


def replace_adaptive_pools(module: nn.Module) -> int:
    """Swap every nn.AdaptiveAvgPool2d whose output is not 1x1 (that one is ONNX's
    GlobalAveragePool) for DynamicAdaptiveAvgPool2d, in place. Returns how many."""
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.AdaptiveAvgPool2d) and child.output_size not in (1, (1, 1)):
            setattr(module, name, DynamicAdaptiveAvgPool2d(child.output_size))
            count += 1
        else:
            count += replace_adaptive_pools(child)
    return count


class BackboneExport(nn.Module):
    """The backbone alone: (B, 3, H, W) -> the stage maps of out_indices."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        return swin_v2_forward(self.backbone, x)


class DetectorFeatureExport(nn.Module):
    """An mmdet detector's backbone + neck (e.g. FPN): (B, 3, H, W) -> the neck's maps, what
    the RPN and RoI heads read. The heads themselves need mmcv's RoI ops (see the docs)."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.backbone = detector.backbone
        self.neck = detector.neck if getattr(detector, 'with_neck', False) else None

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        feats = swin_v2_forward(self.backbone, x)
        return tuple(self.neck(feats)) if self.neck is not None else feats


class SegmentorExport(nn.Module):
    """An mmseg EncoderDecoder: (B, 3, H, W) -> (B, num_classes, H, W) logits.

    As mmseg's `encode_decode` + `predict_by_feat`: decode head on the backbone (+ neck)
    features, then bilinear resize to the input size with the head's align_corners. The
    auxiliary head is a training loss only and is left out, as at inference."""

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.backbone = segmentor.backbone
        self.neck = segmentor.neck if getattr(segmentor, 'with_neck', False) else None
        self.decode_head = copy.deepcopy(segmentor.decode_head)
        replace_adaptive_pools(self.decode_head)

    def forward(self, x: Tensor) -> Tensor:
        feats = swin_v2_forward(self.backbone, x)
        if self.neck is not None:
            feats = self.neck(feats)
        logits = self.decode_head(feats)
        return F.interpolate(logits, size=x.shape[2:], mode='bilinear',
                             align_corners=self.decode_head.align_corners)


def eager_reference(kind: str, model: nn.Module) -> Callable[[Tensor], List[Tensor]]:
    """The OpenMMLab model's own inference path for the exported part (the backbone's eager
    forward with its caches and fused attention, mmseg's encode_decode, mmdet's extract_feat)."""
    def run(x: Tensor) -> List[Tensor]:
        with torch.no_grad():
            if kind == 'backbone':
                out: Sequence[Tensor] = model(x)
            elif kind == 'segmentor':
                metas = [dict(img_shape=tuple(x.shape[2:]), ori_shape=tuple(x.shape[2:]),
                              pad_shape=tuple(x.shape[2:]))] * x.shape[0]
                out = [model.encode_decode(x, metas)]
            else:
                out = model.extract_feat(x)
        return [t.detach() for t in out]
    return run
