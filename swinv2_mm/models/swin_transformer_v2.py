"""Swin Transformer V2 backbone for OpenMMLab detection and segmentation.

Liu et al., "Swin Transformer V2: Scaling Up Capacity and Resolution", arXiv 2111.09883.
The network is the official one; what is added is what dense prediction needs: any input
size (padding to the patch size and to the window, then shifting, as mmdet's Swin does),
multi-scale NCHW outputs with their own norms, and OpenMMLab's `init_cfg` / `frozen_stages` /
`with_cp` contract. Needs only torch and mmengine.
"""
import math
import numbers
import os
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from mmengine.model.weight_init import PretrainedInit, initialize, trunc_normal_
from mmengine.registry import MODELS, WEIGHT_INITIALIZERS
from torch import Tensor, nn

from .attention import INFERENCE_CHUNK, WindowAttentionV2
from .v1_compat import check_v1_arguments
from .windows import (cached, capturing, effective_window, from_windows, static_size,
                      to_windows, window_groups, window_layout)

IntOrSeq = Union[int, Sequence[int]]


def drop_path(x: Tensor, drop_prob: float, training: bool) -> Tensor:
    """Stochastic depth per sample (residual branch dropped, kept ones rescaled)."""
    if drop_prob == 0.0 or not training:
        return x
    keep = 1.0 - drop_prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


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
        """(B, H, W, C) -> (B, H, W, C): pad to the window, shift, attend, unshift, crop.

        Padding, the cyclic shift and the partition are one gather (windows.py), which also
        orders the windows so that only the last row and column of windows carry a mask.
        """
        B, H, W, C = (static_size(s) for s in x.shape)  # ints, also under torch.jit.trace
        window, shift = effective_window(H, W, self.window_size)
        if not self.shift:
            shift = 0
        layout = cached(window_layout, B, H, W, window, shift, x.device)
        groups = window_groups(layout, B, window, shift, x.device)
        rows = to_windows(x, layout).reshape(-1, window * window, C)
        rows = self.attn(rows, window, groups)
        return from_windows(rows, layout, x.shape)

    def _forward(self, x: Tensor) -> Tensor:
        x = x + drop_path(self.norm1(self.window_attention(x)), self.drop_path_rate,
                          self.training)
        if self.training or torch.is_grad_enabled() or capturing():
            return x + drop_path(self.norm2(self.mlp(x)), self.drop_path_rate, self.training)
        # Inference: the MLP a chunk of tokens at a time, so that its (tokens, 4C) hidden map
        # stays in cache; over the whole map a large image pays more per pixel.
        rows = x.reshape(-1, x.shape[-1])
        step = max(1024, INFERENCE_CHUNK // self.mlp.fc1.out_features)
        if rows.shape[0] <= step:
            return x + self.norm2(self.mlp(x))
        out = torch.empty_like(rows)
        for i in range(0, rows.shape[0], step):
            torch.add(rows[i:i + step], self.norm2(self.mlp(rows[i:i + step])),
                      out=out[i:i + step])
        return out.view_as(x)

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


# -- argument checks: every bad argument fails at construction, naming itself, its value and
# what is allowed (not later as a ZeroDivisionError or a reshape error deep in forward) -----
def _invalid(name: str, value, allowed: str, exc: type = ValueError) -> Exception:
    return exc(f'SwinTransformerV2: invalid {name}={value!r}; {name} must be {allowed}')


def _is_int(value) -> bool:
    # bool is an int to Python, but window_size=True is a mistake, not a window of 1
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_int(name: str, value, low: int, high: Optional[int] = None) -> int:
    allowed = f'an int >= {low}' if high is None else f'an int in [{low}, {high}]'
    if not _is_int(value):
        raise _invalid(name, value, allowed, TypeError)
    if value < low or (high is not None and value > high):
        raise _invalid(name, value, allowed)
    return int(value)


def _check_rate(name: str, value) -> float:
    allowed = 'a probability in [0, 1)'
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise _invalid(name, value, allowed, TypeError)
    if not 0.0 <= value < 1.0:
        raise _invalid(name, value, allowed)
    return float(value)


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise _invalid(name, value, 'True or False', TypeError)
    return value


def _per_stage(value: IntOrSeq, num_stages: int, name: str, low: int,
               stages: str = '') -> Tuple[int, ...]:
    """One int for every stage, or a list/tuple of one int (>= low) per stage."""
    allowed = f'an int >= {low}, or a list of {num_stages} such ints (one per stage{stages})'
    values = (value,) * num_stages if _is_int(value) else value
    if not isinstance(values, (list, tuple)) or not all(_is_int(v) for v in values):
        raise _invalid(name, value, allowed, TypeError)
    if len(values) != num_stages or any(v < low for v in values):
        raise _invalid(name, value, allowed)
    return tuple(int(v) for v in values)


def _check_out_indices(value, num_stages: int) -> Tuple[int, ...]:
    allowed = (f'a list or tuple of distinct stage indices in [0, {num_stages - 1}], in '
               'increasing order (outputs come in stage order)')
    if _is_int(value):  # mmdet's Swin does not take a bare int either; say what it means
        raise _invalid('out_indices', value, allowed + f', e.g. ({value},)', TypeError)
    if not isinstance(value, (list, tuple)) or not all(_is_int(i) for i in value):
        raise _invalid('out_indices', value, allowed, TypeError)
    indices = tuple(int(i) for i in value)
    if not indices or any(not 0 <= i < num_stages for i in indices) or \
            any(b <= a for a, b in zip(indices, indices[1:])):
        raise _invalid('out_indices', value, allowed)
    return indices


def _is_pretrained(cfg: dict) -> bool:
    return cfg.get('type') in ('Pretrained', PretrainedInit)


def _resolve_init_cfg(init_cfg, pretrained) -> Union[dict, List[dict], None]:
    """The init_cfg to use, from `init_cfg` (a dict or a list of dicts, as mmengine's
    BaseModule takes) or the deprecated `pretrained=PATH` (as mmdet's and mmseg's Swin take,
    and as mmseg's EncoderDecoder passes its own `pretrained` on to the backbone)."""
    if pretrained is not None:
        if isinstance(pretrained, os.PathLike):
            pretrained = os.fspath(pretrained)
        if not isinstance(pretrained, str) or not pretrained:
            raise _invalid('pretrained', pretrained, 'a checkpoint path or URL (str), or None',
                           TypeError if not isinstance(pretrained, str) else ValueError)
        if init_cfg:
            raise ValueError(
                f'SwinTransformerV2: pretrained={pretrained!r} and init_cfg={init_cfg!r} are '
                "both set; give only init_cfg=dict(type='Pretrained', checkpoint=...). (In an "
                "mmseg config the segmentor's own pretrained= is passed to the backbone: set "
                'model.pretrained=None there.)')
        warnings.warn(
            'SwinTransformerV2: pretrained= is deprecated (as in mmdet\'s and mmseg\'s Swin); '
            f"use init_cfg=dict(type='Pretrained', checkpoint={pretrained!r})", FutureWarning)
        return dict(type='Pretrained', checkpoint=pretrained)
    if not init_cfg:
        return None
    allowed = ("a dict with a 'type' (e.g. dict(type='Pretrained', checkpoint=PATH)), a list "
               'of such dicts, or None')
    cfgs = [init_cfg] if isinstance(init_cfg, dict) else init_cfg
    if not isinstance(cfgs, (list, tuple)) or \
            not all(isinstance(c, dict) and 'type' in c for c in cfgs):
        raise _invalid('init_cfg', init_cfg, allowed, TypeError)
    for cfg in cfgs:
        if _is_pretrained(cfg):
            checkpoint = cfg.get('checkpoint')
            if not isinstance(checkpoint, (str, os.PathLike)) or not os.fspath(checkpoint):
                raise _invalid('init_cfg', init_cfg, "Pretrained with checkpoint=PATH_OR_URL "
                               "(and optionally prefix='backbone.')")
            if cfg.get('prefix') is not None and not isinstance(cfg['prefix'], str):
                raise _invalid('init_cfg', init_cfg, "Pretrained with a str prefix, e.g. "
                               "prefix='backbone.'", TypeError)
        elif not (isinstance(cfg['type'], type) or WEIGHT_INITIALIZERS.get(cfg['type'])):
            raise _invalid('init_cfg', init_cfg, "'Pretrained' or one of mmengine's weight "
                           f'initializers {sorted(WEIGHT_INITIALIZERS.module_dict)}')
    return list(cfgs) if isinstance(init_cfg, tuple) else init_cfg


def _normalise_prefix(prefix: Optional[str]) -> Optional[str]:
    """mmengine takes prefix='backbone' and 'backbone.' alike (it adds the dot)."""
    if not prefix:
        return None
    return prefix if prefix.endswith('.') else prefix + '.'


@MODELS.register_module()
class SwinTransformerV2(BaseModule):
    """Swin Transformer V2 backbone returning multi-scale feature maps.

    Args:
        arch: 'tiny', 'small', 'base', 'large', 'huge' or 'giant' (the released sizes;
            docs/model_zoo.md), or a dict with
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
        frozen_stages: as mmdet's Swin: -1 freezes nothing; 0 the patch embedding (and the
            dropout after it); k in [1, num_stages] also stages [0, k), their output norms
            and the patch merging that feeds stage k (`stages[k].downsample`). Frozen parts
            have no gradient and stay in eval mode after `train()` (deterministic).
        with_cp: gradient checkpointing of every block (less memory, more compute).
        use_mask_token: add the learnt `mask_token` (1, 1, embed_dims) that `forward(x, mask)`
            puts in place of masked patch embeddings (SimMIM pre-training).
        fused_attention: attention through `scaled_dot_product_attention` (the fast path,
            default; models/attention.py picks its CPU or generic kernel path). False spells
            the paper's formula out
            (slower, more memory; for checking). Each block's `attn.fused` can also be
            switched after construction: `model.set_fused_attention(False)`.
        init_cfg: `dict(type='Pretrained', checkpoint=PATH_OR_URL)` loads any public
            SwinV2 classification checkpoint (official, timm, transformers, mmpretrain)
            or one written by tools/convert_checkpoint.py; `prefix='backbone'` (with or
            without the dot) takes the backbone out of a detector or segmentor checkpoint.
            A list of dicts and mmengine's other initializers (Constant, TruncNormal, ...)
            are applied as mmengine's BaseModule applies them: Pretrained last.
        pretrained: deprecated form of `init_cfg=dict(type='Pretrained', checkpoint=...)`,
            as in mmdet's and mmseg's Swin (mmseg segmentors pass theirs on to the
            backbone). Giving both is an error.
        **swin_v1_args: the arguments of mmdet's / mmseg's Swin V1 `SwinTransformer` that V2
            has no parameter for (`qkv_bias`, `qk_scale`, `patch_norm`, `strides`, `act_cfg`,
            `norm_cfg`, `use_abs_pos_embed`, `pretrain_img_size`, `convert_weights`), so that
            a V1 config migrates by changing its type: accepted where the value means what
            V2 does, refused in one line where it cannot (models/v1_compat.py,
            docs/migration.md).

    Every argument is checked at construction (docs/backbone.md lists what is allowed).
    """
    arch_zoo: Dict[str, dict] = {
        'tiny': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
        'small': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
        'base': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
        'large': dict(embed_dims=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48)),
        # The released SimMIM SwinV2-H (655M) and SwinV2-giant (1.06B) of "On Data Scaling
        # in Masked Image Modeling": the official code with these sizes (32 channels per
        # head, no extra norms). The paper's 3B SwinV2-G (512, depths 2-2-42-4, an extra
        # norm every 6 blocks) was never released. docs/model_zoo.md.
        'huge': dict(embed_dims=352, depths=(2, 2, 18, 2), num_heads=(11, 22, 44, 88)),
        'giant': dict(embed_dims=448, depths=(2, 2, 18, 2), num_heads=(14, 28, 56, 112)),
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
                 use_mask_token: bool = False,
                 init_cfg: Union[dict, List[dict], None] = None,
                 pretrained: Optional[str] = None,
                 **swin_v1_args) -> None:
        super().__init__(init_cfg=_resolve_init_cfg(init_cfg, pretrained))
        arch = self._resolve_arch(arch, embed_dims, depths, num_heads)
        self.embed_dims = arch['embed_dims']
        self.depths = arch['depths']
        self.num_stages = len(self.depths)
        self.num_heads = arch['num_heads']
        self.window_sizes = _per_stage(window_size, self.num_stages, 'window_size', 1)
        self.pretrained_window_sizes = _per_stage(pretrained_window_sizes, self.num_stages,
                                                  'pretrained_window_sizes', 0)
        if not isinstance(mlp_ratio, numbers.Real) or isinstance(mlp_ratio, bool) or \
                not math.isfinite(mlp_ratio) or int(self.embed_dims * mlp_ratio) < 1:
            raise _invalid('mlp_ratio', mlp_ratio, 'a finite number > 0 (hidden width '
                           f'int(embed_dims * mlp_ratio) >= 1, embed_dims={self.embed_dims})',
                           ValueError if isinstance(mlp_ratio, numbers.Real) else TypeError)
        drop_rate = _check_rate('drop_rate', drop_rate)
        attn_drop_rate = _check_rate('attn_drop_rate', attn_drop_rate)
        drop_path_rate = _check_rate('drop_path_rate', drop_path_rate)
        patch_size = _check_int('patch_size', patch_size, 1)
        if swin_v1_args:
            check_v1_arguments(swin_v1_args, patch_size, self.num_stages)
        self.in_channels = _check_int('in_channels', in_channels, 1)
        self.out_indices = _check_out_indices(out_indices, self.num_stages)
        # mmdet's meaning: 0 freezes the patch embedding, k also stages [0, k)
        self.frozen_stages = _check_int('frozen_stages', frozen_stages, -1, self.num_stages)
        with_cp = _check_bool('with_cp', with_cp)
        fused_attention = _check_bool('fused_attention', fused_attention)
        self.num_features = [self.embed_dims * 2**i for i in range(self.num_stages)]
        for i, (dims, heads) in enumerate(zip(self.num_features, self.num_heads)):
            if dims % heads:
                raise _invalid('num_heads', self.num_heads,
                               f'a divisor of every stage\'s channels {self.num_features} '
                               f'(stage {i}: {dims} channels do not split into {heads} heads)')

        self.patch_embed = PatchEmbed(in_channels, self.embed_dims, patch_size)
        self.drop_after_pos = nn.Dropout(drop_rate)
        # SimMIM: a learnt embedding that replaces masked patches (swinv2_mm/selfsup). Only
        # built on request, so that a detector's backbone carries no unused parameter.
        self.mask_token = None
        if _check_bool('use_mask_token', use_mask_token):
            self.mask_token = nn.Parameter(trunc_normal_(torch.zeros(1, 1, self.embed_dims),
                                                         std=0.02))
        # on the CPU even under a `torch.device('meta')` context (building without memory)
        rates = torch.linspace(0, drop_path_rate, sum(self.depths), device='cpu').tolist()
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

    @classmethod
    def _resolve_arch(cls, arch, embed_dims, depths, num_heads) -> dict:
        """embed_dims, depths and num_heads from `arch` (a name or a dict), checked; those
        given directly override the arch's."""
        keys = ('embed_dims', 'depths', 'num_heads')
        if isinstance(arch, str):
            if arch not in cls.arch_zoo:
                raise _invalid('arch', arch, f'one of {sorted(cls.arch_zoo)}, or a dict with '
                               'embed_dims, depths and num_heads')
            arch = cls.arch_zoo[arch]
        elif isinstance(arch, dict):
            given = dict(embed_dims=embed_dims, depths=depths, num_heads=num_heads)
            missing = [k for k in keys if k not in arch and given[k] is None]
            unknown = sorted(set(arch) - set(keys))
            if missing or unknown:
                raise _invalid('arch', arch, 'a dict with exactly the keys embed_dims, depths '
                               f'and num_heads (missing: {missing}, unknown: {unknown})')
        else:
            raise _invalid('arch', arch, f'one of {sorted(cls.arch_zoo)} or a dict with '
                           'embed_dims, depths and num_heads', TypeError)
        out = dict(arch)
        out.update({k: v for k, v in (('embed_dims', embed_dims), ('depths', depths),
                                      ('num_heads', num_heads)) if v is not None})
        out['embed_dims'] = _check_int('embed_dims', out['embed_dims'], 1)
        depths = out['depths']
        allowed = 'a non-empty list of ints >= 1 (blocks per stage)'
        if not isinstance(depths, (list, tuple)) or not all(_is_int(d) for d in depths):
            raise _invalid('depths', depths, allowed, TypeError)
        if not depths or any(d < 1 for d in depths):
            raise _invalid('depths', depths, allowed)
        out['depths'] = tuple(int(d) for d in depths)
        out['num_heads'] = _per_stage(out['num_heads'], len(depths), 'num_heads', 1,
                                      f': depths={depths!r} has {len(depths)}')
        return out

    # -- weights --------------------------------------------------------------------------
    def init_weights(self) -> None:
        """Official initialisation; then, in mmengine's order, the other initializers of
        `init_cfg` (Constant, TruncNormal, ...) and last the `Pretrained` checkpoint(s)."""
        self.apply(self._init_module)
        for stage in self.stages:
            for block in stage.blocks:
                # Res-post-norm starts every residual branch at zero, as the official code.
                for norm in (block.norm1, block.norm2):
                    nn.init.zeros_(norm.weight)
                    nn.init.zeros_(norm.bias)
        cfgs = [] if not self.init_cfg else (
            [self.init_cfg] if isinstance(self.init_cfg, dict) else list(self.init_cfg))
        others = [cfg for cfg in cfgs if not _is_pretrained(cfg)]
        if others:
            initialize(self, others)
        for cfg in cfgs:
            if _is_pretrained(cfg):
                from ..checkpoint import load_pretrained
                load_pretrained(self, os.fspath(cfg['checkpoint']),
                                prefix=_normalise_prefix(cfg.get('prefix')))
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
        """As mmdet's Swin: frozen_stages >= 0 freezes the patch embedding and the dropout
        after it; k > 0 also stages [0, k), their output norms and the patch merging that
        feeds stage k (mmdet ends stage k-1 with it; here it starts stage k)."""
        frozen: List[nn.Module] = []
        if self.frozen_stages >= 0:
            frozen += [self.patch_embed, self.drop_after_pos]
            if self.mask_token is not None:  # it stands in for patch embeddings
                self.mask_token.requires_grad = False
        for i in range(self.frozen_stages):
            frozen.append(self.stages[i])
            if i in self.out_indices:
                frozen.append(getattr(self, f'norm{i}'))
        if 0 < self.frozen_stages < self.num_stages:
            frozen.append(self.stages[self.frozen_stages].downsample)
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'SwinTransformerV2':
        super().train(mode)
        self._freeze_stages()
        return self

    # -- forward --------------------------------------------------------------------------
    def feature_sizes(self, height: int, width: int) -> List[Tuple[int, int]]:
        """(h, w) of every stage's map for an H x W image: the patch embedding and every
        patch merging pad to a multiple of their stride, so each step rounds up."""
        h, w = -(-height // self.patch_embed.patch_size), -(-width // self.patch_embed.patch_size)
        sizes = [(h, w)]
        for _ in range(1, self.num_stages):
            h, w = -(-h // 2), -(-w // 2)
            sizes.append((h, w))
        return sizes

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """(B, in_channels, H, W), any H and W -> tuple of NCHW maps for out_indices.

        mask (SimMIM, needs use_mask_token=True): which patches to hide, (B, h, w) or
        (B, h * w) over the patch grid (h, w) = feature_sizes(H, W)[0], 1 / True where
        masked; those patch embeddings become `mask_token` after the patch LayerNorm.
        """
        if x.dim() != 4:
            raise ValueError(f'SwinTransformerV2 expects (B, C, H, W) images, got {tuple(x.shape)}')
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f'SwinTransformerV2 was built with in_channels={self.in_channels} but got '
                f'images of shape {tuple(x.shape)} ({x.shape[1]} channels); build it with '
                f'in_channels={x.shape[1]} or feed {self.in_channels}-channel images')
        if mask is not None and self.mask_token is None:
            raise ValueError('SwinTransformerV2: forward got a mask, but the model has no mask '
                             'token; build it with use_mask_token=True (SimMIM pre-training)')
        if x.numel() == 0:
            # An empty batch (or an empty image) has empty maps of the usual shapes; the
            # window partition cannot reshape zero windows, so stop before the stages.
            sizes = self.feature_sizes(*x.shape[-2:])
            return tuple(x.new_zeros(x.shape[0], self.num_features[i], *sizes[i])
                         for i in self.out_indices)
        x = self.patch_embed(x)
        if mask is not None:
            x = self._mask_patches(x, mask)
        x = self.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(x)
                outs.append(out.permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def _mask_patches(self, x: Tensor, mask: Tensor) -> Tensor:
        """SimMIM: x * (1 - w) + mask_token * w on the (B, h, w, C) patch embeddings."""
        B, h, w, _ = x.shape
        if tuple(mask.shape) not in ((B, h, w), (B, h * w)):
            raise ValueError(
                f'SwinTransformerV2: mask of shape {tuple(mask.shape)} does not fit images of '
                f'{h}x{w} patches; give (B, h, w) = ({B}, {h}, {w}) or (B, h * w) = '
                f'({B}, {h * w}), 1 / True where a patch is masked')
        weight = mask.reshape(B, h, w, 1).to(x.dtype)
        return x * (1.0 - weight) + self.mask_token * weight
