"""Layer-wise learning-rate decay for Swin Transformer V2, as an mmengine optimizer-wrapper
constructor that mmdet and mmseg configs name:

    optim_wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=4e-5, betas=(0.9, 0.999), weight_decay=0.05),
        constructor='SwinV2LayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay_rate=0.95, flat_decay_mult=0.0,
                           custom_keys={{_base_.swinv2_no_decay}}))

The SwinV2 paper fine-tunes on ADE20K with BEiT's layer-wise decay (0.95): a parameter of
layer id i out of L = sum(depths) + 2 gets lr * rate ** (L - 1 - i). Ids as the official SwinV2
code counts them (`get_swin_layer` in microsoft/Swin-Transformer's optimizer.py) and BEiT:

  * 0: the patch embedding (and a SimMIM mask token);
  * 1 .. sum(depths): the blocks, in order (stage s, block b -> sum(depths[:s]) + b + 1);
  * patch merging: the id of the block it follows, the last block of the previous stage. The
    official model ends stage s with its merging (`layers.s.downsample`) and gives it that
    stage's last id; our merging starts stage s + 1 (`stages.{s+1}.downsample`, the timm and
    mmdet layout), so it is mapped back to sum(depths[:s + 1]) to keep the official count;
  * L - 1: everything else, as the heads: the necks and heads, and the backbone's output norms
    `norm{i}` (new layers; `norm3` is the classifier's final norm, which the official code also
    puts at the head's id).

Every other option is mmengine's DefaultOptimWrapperConstructor's (bias/norm/flat decay mults,
custom_keys, ...), with one difference that makes no-decay keys and multipliers combine: for
the learning rate and for the weight decay separately, the longest custom key that *sets* it
(`lr_mult` / `decay_mult`) decides, and where no key sets it, mmengine's generic rule does. So
`'backbone': dict(lr_mult=0.1)` and `'norm': dict(decay_mult=0.0)` give a backbone norm lr 0.1x
and no decay; mmengine's constructor uses only the longest matching key, 'backbone', for
both, with multiplier 1 for what it leaves out, and decays the norm. Where no key matches, or
the longest sets both multipliers, the result is mmengine's. The layer scale multiplies last.

Parameters with equal settings share one group; groups go from the heads down to the patch
embedding, so the lr that mmengine logs (the first group's) is the config's lr.
"""
import difflib
import logging
import numbers
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.logging import MMLogger, print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

from .models import SwinTransformerV2

# What mmengine's DefaultOptimWrapperConstructor reads from paramwise_cfg.
MMENGINE_KEYS = ('custom_keys', 'bias_lr_mult', 'bias_decay_mult', 'norm_decay_mult',
                 'dwconv_decay_mult', 'flat_decay_mult', 'dcn_offset_lr_mult', 'bypass_duplicate')
# mmseg's LearningRateDecayOptimizerConstructor (BEiT, ConvNeXt) spells these differently.
MMSEG_NAMES = {'decay_rate': 'layer_decay_rate', 'num_layers': None, 'decay_type': None}


def swin_layer_id(name: str, depths: Sequence[int]) -> int:
    """Layer id of a SwinTransformerV2 parameter, `name` relative to the backbone
    ('stages.1.blocks.0.attn.qkv.weight'); see the module docstring."""
    num_layers = sum(depths) + 2
    parts = name.split('.')
    if parts[0] in ('patch_embed', 'mask_token'):
        return 0
    if parts[0] == 'stages' and len(parts) > 3:
        stage = int(parts[1])
        if parts[2] == 'downsample':  # the block it follows: the previous stage's last
            return sum(depths[:stage])
        if parts[2] == 'blocks':
            return sum(depths[:stage]) + int(parts[3]) + 1
    return num_layers - 1


def _error(message: str, exc: type = ValueError) -> Exception:
    return exc(f'SwinV2LayerDecayOptimWrapperConstructor: {message}')


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class _DropParamwiseLines(logging.Filter):
    """mmengine logs every parameter's options before the custom keys and the layer scale are
    applied here; those lines would show values the optimizer does not get."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith('paramwise_options --')


@contextmanager
def _quiet_paramwise_lines() -> Iterator[None]:
    logger, drop = MMLogger.get_current_instance(), _DropParamwiseLines()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SwinV2LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor plus layer-wise lr decay over a SwinTransformerV2
    backbone and custom keys that combine (module docstring).

    paramwise_cfg:
        layer_decay_rate (required): in (0, 1]; 1.0 turns layer decay off (and keeps the
            combining custom keys).
        custom_keys, bias_lr_mult, bias_decay_mult, norm_decay_mult, dwconv_decay_mult,
        flat_decay_mult, dcn_offset_lr_mult, bypass_duplicate: as mmengine's.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        if paramwise_cfg is None or 'layer_decay_rate' not in paramwise_cfg:
            raise _error('paramwise_cfg needs layer_decay_rate, e.g. paramwise_cfg=dict('
                         'layer_decay_rate=0.95) (the SwinV2 paper\'s ADE20K value; 1.0 for none)')
        if not isinstance(paramwise_cfg, dict):
            raise _error(f'paramwise_cfg must be a dict, got {type(paramwise_cfg).__name__}',
                         TypeError)
        allowed = ('layer_decay_rate',) + MMENGINE_KEYS
        for key in paramwise_cfg:
            if key in allowed:
                continue
            hint = MMSEG_NAMES.get(key, '') if key in MMSEG_NAMES else next(
                iter(difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)), '')
            if key in MMSEG_NAMES and hint is None:
                hint = 'nothing (layers are counted from the SwinTransformerV2 backbone)'
            raise _error(f'unknown paramwise_cfg key {key!r}'
                         + (f'; did you mean {hint}?' if hint else '')
                         + f' (allowed: {", ".join(allowed)})')
        rate = paramwise_cfg['layer_decay_rate']
        if not _is_number(rate) or not 0.0 < rate <= 1.0:
            raise _error(f'layer_decay_rate={rate!r} must be a number in (0, 1] (1.0: no '
                         'layer decay)', TypeError if not _is_number(rate) else ValueError)
        self.layer_decay_rate = float(rate)
        self.custom_keys: Dict[str, dict] = dict(paramwise_cfg.get('custom_keys') or {})
        # mmengine applies the generic rules (bias/norm/flat mults ...); the custom keys are
        # combined here. layer_decay_rate stays in paramwise_cfg, which keeps it non-empty, so
        # mmengine calls add_params even without other options.
        generic = {k: v for k, v in paramwise_cfg.items() if k != 'custom_keys'}
        super().__init__(optim_wrapper_cfg, generic)
        if self.base_lr is None:
            raise _error('the optimizer needs an lr (each group gets lr x multipliers)')
        self._check_custom_keys()

    def _check_custom_keys(self) -> None:
        if not isinstance(self.custom_keys, dict):
            raise _error('custom_keys must be a dict of {substring: dict(lr_mult=..., '
                         'decay_mult=...)}', TypeError)
        for key, value in self.custom_keys.items():
            if not isinstance(value, dict):
                raise _error(f'custom_keys[{key!r}] must be a dict such as dict(lr_mult=0.1) '
                             f'or dict(decay_mult=0.0), got {value!r}', TypeError)
            direct = sorted(set(value) & {'lr', 'weight_decay', 'params'})
            if direct:
                raise _error(f'custom_keys[{key!r}] sets {direct}: give lr_mult / decay_mult '
                             '(multipliers of the optimizer\'s lr and weight_decay) instead')
            for mult in ('lr_mult', 'decay_mult'):
                if mult in value and (not _is_number(value[mult]) or value[mult] < 0):
                    raise _error(f'custom_keys[{key!r}][{mult!r}]={value[mult]!r} must be a '
                                 'number >= 0')
            if 'decay_mult' in value and self.base_wd is None:
                raise _error(f'custom_keys[{key!r}] sets decay_mult but the optimizer has no '
                             'weight_decay to multiply')

    # -- building the groups ------------------------------------------------------------------
    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module=None) -> None:
        if prefix:  # mmengine's recursion into submodules: its generic rules
            return super().add_params(params, module, prefix, is_dcn_module)
        generic: List[dict] = []
        with _quiet_paramwise_lines():
            super().add_params(generic, module, prefix, is_dcn_module)
        names = {id(p): n for n, p in module.named_parameters(remove_duplicate=False)}
        backbone_prefix, depths = self._find_backbone(module)
        num_layers = sum(depths) + 2 if depths else 2
        merged: Dict[tuple, dict] = {}
        for group in generic:
            (param,) = group['params']
            name = names[id(param)]
            layer = num_layers - 1
            if depths and name.startswith(backbone_prefix):
                layer = swin_layer_id(name[len(backbone_prefix):], depths)
            settings = self._settings(name, group)
            scale = self.layer_decay_rate ** (num_layers - 1 - layer)
            settings['lr'] = settings['lr'] * scale
            key = (layer, repr(sorted(settings.items())))  # values may be lists (betas)
            if key not in merged:
                merged[key] = dict(params=[], layer_id=layer, lr_scale=scale, **settings)
            merged[key]['params'].append(param)
        # heads first, the largest lr first: mmengine logs the first group's lr as "lr"
        ordered = sorted(merged.values(), key=lambda g: (-g['layer_id'], -g['lr']))
        params.extend(ordered)
        self._log(ordered, num_layers, names)

    def _settings(self, name: str, group: dict) -> dict:
        """lr, weight_decay and other keys of one parameter: per setting, the longest custom
        key that sets it, else mmengine's generic rule (already in `group`)."""
        settings = {'lr': group.get('lr', self.base_lr)}
        if self.base_wd is not None:
            settings['weight_decay'] = group.get('weight_decay', self.base_wd)
        matched = [k for k in sorted(sorted(self.custom_keys), key=len, reverse=True)
                   if k in name]
        decided = set()
        for key in matched:  # longest first
            for option, value in self.custom_keys[key].items():
                if option in decided:
                    continue
                decided.add(option)
                if option == 'lr_mult':
                    settings['lr'] = self.base_lr * value
                elif option == 'decay_mult':
                    settings['weight_decay'] = self.base_wd * value
                else:  # any other optimizer setting (momentum, betas, ...), as mmengine
                    settings[option] = value
        return settings

    def _find_backbone(self, model: nn.Module) -> Tuple[str, Optional[Tuple[int, ...]]]:
        found = [(n, m) for n, m in model.named_modules() if isinstance(m, SwinTransformerV2)]
        if len(found) == 1:
            name, backbone = found[0]
            return (name + '.' if name else ''), tuple(backbone.depths)
        if self.layer_decay_rate == 1.0:
            return '', None
        what = 'none' if not found else f'{len(found)}: {[n for n, _ in found]}'
        raise _error(f'layer_decay_rate={self.layer_decay_rate} needs exactly one '
                     f'SwinTransformerV2 in the model ({type(model).__name__}); found {what}')

    def _log(self, groups: List[dict], num_layers: int, names: Dict[int, str]) -> None:
        lines = [f'layer-wise lr decay {self.layer_decay_rate} over {num_layers} layers '
                 f'(base lr {self.base_lr}, weight decay {self.base_wd}); groups:']
        for g in groups:
            first = names[id(g['params'][0])]
            lines.append(f'  layer {g["layer_id"]:>3}  lr {g["lr"]:.4g} (x{g["lr_scale"]:.4g})'
                         f'  weight_decay {g.get("weight_decay")}  {len(g["params"])} '
                         f'tensor(s), e.g. {first}')
        print_log('\n'.join(lines), logger='current')
