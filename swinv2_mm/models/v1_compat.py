"""The arguments of mmdet's and mmseg's Swin Transformer (V1) that SwinTransformerV2 has no
parameter for, so that a V1 config moves over by changing `type` alone.

A value that means what V2 does is accepted (`qkv_bias=True`: V2's q and v biases;
`patch_norm=True`; `strides=(4, 2, 2, 2)`; GELU; LayerNorm; no absolute position embedding).
Two arguments have no effect here and are named in one warning line: `pretrain_img_size`
(V1 sizes its absolute position embedding with it, which V2 does not have) and
`convert_weights` (every public checkpoint layout is recognised and converted on load). A
value V2 cannot honour is refused at construction, in one line that says why.
docs/migration.md has the table, argument by argument.
"""
import difflib
import inspect
import numbers
import warnings
from typing import Dict, Optional

# name -> V1's default in mmdet 3.3 and mmseg 1.2 (`SwinTransformer.__init__`)
V1_ARGUMENTS: Dict[str, object] = dict(
    pretrain_img_size=224, strides=(4, 2, 2, 2), qkv_bias=True, qk_scale=None,
    patch_norm=True, use_abs_pos_embed=False, act_cfg=dict(type='GELU'),
    norm_cfg=dict(type='LN'), convert_weights=False)
NO_EFFECT = {'pretrain_img_size': 'V2 has no absolute position embedding to size',
             'convert_weights': 'every public checkpoint layout is converted on load'}


def _refuse(name: str, value, why: str, exc: type = ValueError) -> Exception:
    return exc(f'SwinTransformerV2: Swin V1 argument {name}={value!r} cannot be honoured: {why}')


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _cfg_type(cfg) -> Optional[str]:
    return cfg.get('type') if isinstance(cfg, dict) else None


def _unknown_argument(name: str) -> TypeError:
    """Python's own message for a misspelt argument, with the closest known name."""
    from .swin_transformer_v2 import SwinTransformerV2  # the caller's class (no cycle at run time)
    known = [p for p in inspect.signature(SwinTransformerV2.__init__).parameters
             if p not in ('self', 'swin_v1_args')] + list(V1_ARGUMENTS)
    close = difflib.get_close_matches(name, known, n=1)
    return TypeError(f'SwinTransformerV2.__init__() got an unexpected keyword argument {name!r}'
                     + (f'; did you mean {close[0]!r}?' if close else ''))


def check_v1_arguments(v1_args: dict, patch_size: int, num_stages: int) -> None:
    """Accept or refuse the V1-only arguments a config passed (see the module docstring)."""
    for name in v1_args:
        if name not in V1_ARGUMENTS:
            raise _unknown_argument(name)
    get = v1_args.get
    if 'qkv_bias' in v1_args and get('qkv_bias') is not True:
        raise _refuse('qkv_bias', get('qkv_bias'),
                      'every SwinV2 block has learnt q and v biases (k has none: it would '
                      'cancel in the cosine), and every SwinV2 checkpoint carries them; use '
                      'qkv_bias=True or leave it out')
    if get('qk_scale') is not None:
        raise _refuse('qk_scale', get('qk_scale'),
                      'SwinV2 scales cosine attention by a learnt per-head temperature '
                      '(logit_scale), not q.k by a fixed qk_scale; leave it out or None')
    if 'patch_norm' in v1_args and get('patch_norm') is not True:
        raise _refuse('patch_norm', get('patch_norm'),
                      'the SwinV2 patch embedding always ends in a LayerNorm (its checkpoints '
                      'have patch_embed.norm); use patch_norm=True or leave it out')
    if 'use_abs_pos_embed' in v1_args and get('use_abs_pos_embed') is not False:
        raise _refuse('use_abs_pos_embed', get('use_abs_pos_embed'),
                      'SwinV2 has no absolute position embedding (positions come from the '
                      'continuous relative position bias); use False or leave it out')
    if 'strides' in v1_args:
        strides = get('strides')
        expected = (patch_size,) + (2,) * (num_stages - 1)
        if not isinstance(strides, (list, tuple)) or \
                tuple(s if _is_int(s) else None for s in strides) != expected:
            raise _refuse('strides', strides,
                          f'SwinV2 embeds patches with stride patch_size={patch_size} and merges '
                          f'2x2 patches between stages, so strides must be {expected}')
    if 'act_cfg' in v1_args:
        act = get('act_cfg')
        if _cfg_type(act) != 'GELU' or set(act) - {'type', 'approximate'} or \
                act.get('approximate', 'none') != 'none':
            raise _refuse('act_cfg', act, "the SwinV2 MLP's activation is exact GELU, as its "
                          "checkpoints were trained; use dict(type='GELU') or leave it out")
    if 'norm_cfg' in v1_args:
        norm = get('norm_cfg')
        if _cfg_type(norm) not in ('LN', 'LayerNorm') or \
                set(norm) - {'type', 'requires_grad', 'eps'} or \
                norm.get('requires_grad', True) is not True or norm.get('eps', 1e-5) != 1e-5:
            raise _refuse('norm_cfg', norm, "SwinV2's norms are LayerNorms (eps 1e-5) that "
                          "train; use dict(type='LN') or leave it out (frozen_stages freezes "
                          'stages)')
    if 'pretrain_img_size' in v1_args:
        size = get('pretrain_img_size')
        pair = size if isinstance(size, (list, tuple)) else (size,)
        if not pair or len(pair) > 2 or not all(_is_int(s) and s > 0 for s in pair):
            raise TypeError('SwinTransformerV2: Swin V1 argument pretrain_img_size='
                            f'{size!r} must be an int or an (h, w) pair of ints > 0')
    if 'convert_weights' in v1_args and not isinstance(get('convert_weights'), bool):
        raise TypeError(f'SwinTransformerV2: Swin V1 argument convert_weights='
                        f'{get("convert_weights")!r} must be True or False')
    ignored = [name for name in NO_EFFECT if name in v1_args]
    if ignored:
        warnings.warn(
            'SwinTransformerV2: Swin V1 arguments without effect here: '
            + '; '.join(f'{name}={v1_args[name]!r} ({NO_EFFECT[name]})' for name in ignored)
            + ' (docs/migration.md)', UserWarning, stacklevel=3)
