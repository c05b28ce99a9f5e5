"""Swin Transformer V2 backbone for OpenMMLab detection and segmentation.

Liu et al., "Swin Transformer V2: Scaling Up Capacity and Resolution", arXiv 2111.09883.
The network is the official one; what is added is what dense prediction needs: any input
size (padding to the patch size and to the window, then shifting, as mmdet's Swin does),
multi-scale NCHW outputs with their own norms, and OpenMMLab's `init_cfg` / `frozen_stages` /
`with_cp` contract. Needs only torch and mmengine.
"""
from functools import lru_cache
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS
from torch import Tensor, nn

from .attention import SHIFT_MASK_VALUE, WindowAttentionV2, cached

IntOrSeq = Union[int, Sequence[int]]


def drop_path(x: Tensor, drop_prob: float, training: bool) -> Tensor:
    """Stochastic depth per sample (residual branch dropped, kept ones rescaled)."""
    if drop_prob == 0.0 or not training:
        return x
    keep = 1.0 - drop_prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


def effective_window(height: int, width: int, window_size: int) -> Tuple[int, int]:
    """(window, shift) a block uses on an H x W map.

    As in the official code: a map no larger than the window is one window, unshifted.
    """
    if min(height, width) <= window_size:
        return min(height, width), 0
    return window_size, window_size // 2


@lru_cache(maxsize=64)
def _shift_mask(height: int, width: int, window: int, shift: int, device: torch.device) -> Tensor:
    """(num_windows, N, N) mask: 0 within a region, SHIFT_MASK_VALUE across regions.

    H and W are the padded sizes, so padding stays in the last region as in mmdet's Swin.
    """
    region = torch.zeros(height, width, device=device)
    label = 0
    for hs in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
        for ws in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
            region[hs, ws] = label
            label += 1
    region = window_partition(region[None, :, :, None], window).squeeze(-1)[0]  # nW, N
    mask = region[:, None, :] != region[:, :, None]
    return torch.zeros(mask.shape, device=device).masked_fill_(mask, SHIFT_MASK_VALUE)


def window_partition(x: Tensor, window: int) -> Tensor:
    """(B, H, W, C) -> (B, num_windows, window*window, C); H, W multiples of window."""
    B, H, W, C = x.shape
    x = x.reshape(B, H // window, window, W // window, window, C)
    return x.transpose(2, 3).reshape(B, -1, window * window, C)


def window_reverse(windows: Tensor, window: int, height: int, width: int) -> Tensor:
    """Inverse of window_partition."""
    B, _, _, C = windows.shape
    x = windows.reshape(B, height // window, width // window, window, window, C)
    return x.transpose(2, 3).reshape(B, height, width, C)


class PatchEmbed(nn.Module):
    """Non-overlapping patches -> tokens: conv (kernel = stride = patch size), LayerNorm."""

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.projection = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, ceil(H/p), ceil(W/p), C), padding right and bottom."""
        H, W = x.shape[-2:]
        p = self.patch_size
        x = F.pad(x, (0, (p - W % p) % p, 0, (p - H % p) % p))
        return self.norm(self.projection(x).permute(0, 2, 3, 1))


class PatchMergingV2(nn.Module):
    """2x2 neighbours concatenated (4C), linear reduction to 2C, then LayerNorm (V2 order).

    The concatenation order is the official one: (0,0), (1,0), (0,1), (1,1) as (row, col).
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * in_channels, 2 * in_channels, bias=False)
        self.norm = nn.LayerNorm(2 * in_channels)

    def forward(self, x: Tensor) -> Tensor:
        """(B, H, W, C) -> (B, ceil(H/2), ceil(W/2), 2C)."""
        B, H, W, C = x.shape
        x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        x = x.reshape(B, (H + 1) // 2, 2, (W + 1) // 2, 2, C).permute(0, 1, 3, 4, 2, 5)
        return self.norm(self.reduction(x.flatten(3)))


class SwinBlockV2(nn.Module):
    """(Shifted) window attention and MLP with res-post-norm:
    x = x + drop_path(norm1(attn(x))); x = x + drop_path(norm2(mlp(x))).
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, shift: bool,
                 pretrained_window_size: int = 0, mlp_ratio: float = 4.0,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, with_cp: bool = False,
                 fused_attention: bool = True) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift = shift
        self.drop_path_rate = drop_path_rate
        self.with_cp = with_cp
        self.attn = WindowAttentionV2(embed_dims, num_heads, pretrained_window_size,
                                      attn_drop=attn_drop_rate, proj_drop=drop_rate,
                                      fused=fused_attention)
        self.norm1 = nn.LayerNorm(embed_dims)
        hidden = int(embed_dims * mlp_ratio)
        self.mlp = nn.Sequential()
        self.mlp.add_module('fc1', nn.Linear(embed_dims, hidden))
        self.mlp.add_module('act', nn.GELU())
        self.mlp.add_module('drop1', nn.Dropout(drop_rate))
        self.mlp.add_module('fc2', nn.Linear(hidden, embed_dims))
        self.mlp.add_module('drop2', nn.Dropout(drop_rate))
        self.norm2 = nn.LayerNorm(embed_dims)

    def window_attention(self, x: Tensor) -> Tensor:
        """(B, H, W, C) -> (B, H, W, C): pad to the window, shift, attend, unshift, crop."""
        B, H, W, C = x.shape
        window, shift = effective_window(H, W, self.window_size)
        if not self.shift:
            shift = 0
        pad_h, pad_w = (window - H % window) % window, (window - W % window) % window
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
        Hp, Wp = H + pad_h, W + pad_w
        mask = None
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
            mask = cached(_shift_mask, Hp, Wp, window, shift, x.device)
        x = self.attn(window_partition(x, window), window, mask)
        x = window_reverse(x, window, Hp, Wp)
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        return x[:, :H, :W, :]

    def _forward(self, x: Tensor) -> Tensor:
        x = x + drop_path(self.norm1(self.window_attention(x)), self.drop_path_rate,
                          self.training)
        return x + drop_path(self.norm2(self.mlp(x)), self.drop_path_rate, self.training)

    def forward(self, x: Tensor) -> Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)


class SwinStageV2(nn.Module):
    """Patch merging (stages 1..3) then `depth` blocks alternating regular / shifted windows."""

    def __init__(self, in_channels: int, embed_dims: int, depth: int, num_heads: int,
                 window_size: int, pretrained_window_size: int, downsample: bool,
                 drop_path_rates: Sequence[float], **block_kwargs) -> None:
        super().__init__()
        self.downsample = PatchMergingV2(in_channels) if downsample else None
        self.blocks = nn.ModuleList([
            SwinBlockV2(embed_dims, num_heads, window_size, shift=i % 2 == 1,
                        pretrained_window_size=pretrained_window_size,
                        drop_path_rate=drop_path_rates[i], **block_kwargs)
            for i in range(depth)
        ])

    def forward(self, x: Tensor) -> Tensor:
        if self.downsample is not None:
            x = self.downsample(x)
        for block in self.blocks:
            x = block(x)
        return x


def _per_stage(value: IntOrSeq, num_stages: int, name: str) -> Tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * num_stages
    value = tuple(int(v) for v in value)
    if len(value) != num_stages:
        raise ValueError(f'{name} needs one value per stage ({num_stages}), got {value}')
    return value


@MODELS.register_module()
class SwinTransformerV2(BaseModule):
    """Swin Transformer V2 backbone returning multi-scale feature maps.

    Args:
        arch: 'tiny', 'small', 'base' or 'large' (paper sizes), or a dict with
            `embed_dims`, `depths`, `num_heads`; `embed_dims`/`depths`/`num_heads` given
            directly override the arch's.
        window_size: attention window, one int or one per stage.
        pretrained_window_sizes: per stage, the window whose coordinate normalisation the
            loaded weights were trained with (0: none, i.e. the window in use). This is what
            transfers a checkpoint's position bias to a new window size.
        mlp_ratio: MLP hidden width over embed_dims.
        drop_rate, attn_drop_rate: dropout after projections / on attention weights.
        drop_path_rate: stochastic depth, rising linearly from 0 to this over all blocks.
        patch_size, in_channels: patch embedding.
        out_indices: stages whose outputs are returned, each through its own LayerNorm
            (`norm{i}`), as NCHW with embed_dims * 2**i channels at stride patch_size * 2**i.
        frozen_stages: freeze the patch embedding (>= 0) and stages [0, frozen_stages)
            with their output norms; -1 freezes nothing. Stays frozen after `train()`.
        with_cp: gradient checkpointing of every block (less memory, more compute).
        fused_attention: attention through `scaled_dot_product_attention` with the cached
            position bias (the fast path, default). False spells the paper's formula out
            (slower, more memory; for checking). Each block's `attn.fused` can also be
            switched after construction: `model.set_fused_attention(False)`.
        init_cfg: `dict(type='Pretrained', checkpoint=PATH_OR_URL)` loads any public
            SwinV2 classification checkpoint (official, timm, transformers, mmpretrain)
            or one written by tools/convert_checkpoint.py.
    """
    arch_zoo: Dict[str, dict] = {
        'tiny': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
        'small': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
        'base': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
        'large': dict(embed_dims=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48)),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 embed_dims: Optional[int] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 window_size: IntOrSeq = 8,
                 pretrained_window_sizes: IntOrSeq = 0,
                 mlp_ratio: float = 4.0,
                 drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.1,
                 patch_size: int = 4,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 fused_attention: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch not in self.arch_zoo:
                raise ValueError(f'arch {arch!r} is not one of {sorted(self.arch_zoo)}; '
                                 'or pass a dict with embed_dims, depths and num_heads')
            arch = self.arch_zoo[arch]
        self.embed_dims = int(embed_dims if embed_dims is not None else arch['embed_dims'])
        self.depths = tuple(depths if depths is not None else arch['depths'])
        self.num_stages = len(self.depths)
        self.num_heads = _per_stage(num_heads if num_heads is not None else arch['num_heads'],
                                    self.num_stages, 'num_heads')
        self.window_sizes = _per_stage(window_size, self.num_stages, 'window_size')
        self.pretrained_window_sizes = _per_stage(pretrained_window_sizes, self.num_stages,
                                                  'pretrained_window_sizes')
        self.out_indices = tuple(out_indices)
        if not all(0 <= i < self.num_stages for i in self.out_indices):
            raise ValueError(f'out_indices {self.out_indices} must lie in [0, {self.num_stages})')
        self.frozen_stages = frozen_stages
        self.num_features = [self.embed_dims * 2**i for i in range(self.num_stages)]
        for i, (dims, heads) in enumerate(zip(self.num_features, self.num_heads)):
            if dims % heads:
                raise ValueError(f'stage {i}: {dims} channels do not split into {heads} heads')

        self.patch_embed = PatchEmbed(in_channels, self.embed_dims, patch_size)
        self.drop_after_pos = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, sum(self.depths)).tolist()
        self.stages = nn.ModuleList()
        for i, depth in enumerate(self.depths):
            self.stages.append(SwinStageV2(
                in_channels=self.num_features[max(i - 1, 0)],
                embed_dims=self.num_features[i], depth=depth, num_heads=self.num_heads[i],
                window_size=self.window_sizes[i],
                pretrained_window_size=self.pretrained_window_sizes[i],
                downsample=i > 0,
                drop_path_rates=rates[sum(self.depths[:i]):sum(self.depths[:i + 1])],
                mlp_ratio=mlp_ratio, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                with_cp=with_cp, fused_attention=fused_attention))
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]))
        self._freeze_stages()

    # -- weights --------------------------------------------------------------------------
    def init_weights(self) -> None:
        """Official initialisation, then the `Pretrained` checkpoint if `init_cfg` names one."""
        self.apply(self._init_module)
        for stage in self.stages:
            for block in stage.blocks:
                # Res-post-norm starts every residual branch at zero, as the official code.
                for norm in (block.norm1, block.norm2):
                    nn.init.zeros_(norm.weight)
                    nn.init.zeros_(norm.bias)
        cfg = dict(self.init_cfg) if isinstance(self.init_cfg, dict) else None
        if cfg is not None and cfg.get('type') == 'Pretrained':
            from ..checkpoint import load_pretrained
            if not cfg.get('checkpoint'):
                raise ValueError("init_cfg type 'Pretrained' needs checkpoint=PATH_OR_URL")
            load_pretrained(self, cfg['checkpoint'], prefix=cfg.get('prefix'))
        elif cfg is not None:
            print_log(f'SwinTransformerV2: init_cfg {cfg} ignored (only Pretrained applies)',
                      logger='current')
        self._is_init = True

    @staticmethod
    def _init_module(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def set_fused_attention(self, fused: bool = True) -> None:
        """Switch every block between the fused (SDPA) and the plain attention path."""
        for module in self.modules():
            if isinstance(module, WindowAttentionV2):
                module.fused = fused

    # -- frozen stages --------------------------------------------------------------------
    def _freeze_stages(self) -> None:
        frozen = []
        if self.frozen_stages >= 0:
            frozen.append(self.patch_embed)
        for i in range(min(self.frozen_stages, self.num_stages)):
            frozen.append(self.stages[i])
            if i in self.out_indices:
                frozen.append(getattr(self, f'norm{i}'))
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'SwinTransformerV2':
        super().train(mode)
        self._freeze_stages()
        return self

    # -- forward --------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(B, in_channels, H, W), any H and W -> tuple of NCHW maps for out_indices."""
        if x.dim() != 4:
            raise ValueError(f'SwinTransformerV2 expects (B, C, H, W) images, got {tuple(x.shape)}')
        x = self.drop_after_pos(self.patch_embed(x))
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(x)
                outs.append(out.permute(0, 3, 1, 2).contiguous())
        return tuple(outs)
