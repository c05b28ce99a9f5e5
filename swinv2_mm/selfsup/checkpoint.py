"""Loading SimMIM checkpoints into the SimMIM model: the backbone (with its mask token) through
the checkpoint package's reading, layout detection and checks, the decoder from its
`decoder.0.*` tensors, which every layout names alike.

    official pre-training file   model: encoder.* (incl. encoder.mask_token), decoder.0.*
    official SimMIM release      model: the encoder's keys (rpe_mlp, mask_token), maybe decoder
    transformers MIM             swinv2.* (incl. swinv2.embeddings.mask_token), decoder.0.*
    this package (Runner)        state_dict: backbone.* (incl. backbone.mask_token), decoder.0.*
"""
import re
from typing import Dict, Optional

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from ..checkpoint import CheckpointError, RawCheckpoint, convert, read_checkpoint
from ..checkpoint.loader import load_converted

_DECODER_KEY = re.compile(r'^(.*?)decoder\.0\.(weight|bias)$')


def decoder_state(raw: RawCheckpoint) -> Optional[Dict[str, Tensor]]:
    """The decoder conv's {'0.weight', '0.bias'} in a checkpoint, or None if it has none."""
    found: Dict[str, Dict[str, Tensor]] = {}
    for key, value in raw.state_dict.items():
        m = _DECODER_KEY.match(key)
        if m:
            found.setdefault(m.group(1), {})[f'0.{m.group(2)}'] = value
    if not found:
        return None
    if len(found) > 1:
        raise CheckpointError(f'{raw.source} holds several SimMIM decoders '
                              f'({sorted(p + "decoder.0" for p in found)}); keep one')
    (prefix, state), = found.items()
    if set(state) != {'0.weight', '0.bias'}:
        raise CheckpointError(f'{raw.source}: the SimMIM decoder {prefix}decoder.0 is '
                              f'incomplete (has {sorted(state)}, needs weight and bias)')
    return state


def load_decoder_state(decoder: nn.Module, raw: RawCheckpoint,
                       logger: str = 'current') -> bool:
    """Load the checkpoint's decoder into `decoder` (all or nothing); False if it has none."""
    state = decoder_state(raw)
    if state is None:
        print_log(f'SimMIMLinearDecoder: {raw.source} has no SimMIM decoder (decoder.0.*); '
                  'the decoder starts from its initialisation', logger=logger)
        return False
    own = decoder.state_dict()
    wrong = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
             for k, v in state.items() if v.shape != own[k].shape]
    if wrong:
        raise CheckpointError(
            f'{raw.source}: its SimMIM decoder does not fit this one ({"; ".join(wrong)}). '
            'The 1x1 conv maps the last stage\'s channels to encoder_stride² · 3: build the '
            'backbone with the checkpoint\'s arch')
    with torch.no_grad():
        decoder.load_state_dict(state)
    print_log(f'SimMIMLinearDecoder: loaded the decoder (2 tensors) from {raw.source}',
              logger=logger)
    return True


def load_decoder(decoder: nn.Module, source: str, logger: str = 'current') -> bool:
    """SimMIMLinearDecoder's init_cfg=dict(type='Pretrained', checkpoint=source)."""
    return load_decoder_state(decoder, read_checkpoint(source), logger)


def load_simmim(model: nn.Module, source: str, logger: str = 'current') -> None:
    """A whole SimMIM checkpoint into a SimMIM model, the file read once: the backbone and
    its mask token (any public SwinV2 layout; `backbone.` of this package's and mmpretrain's
    files taken off), then the decoder where the file has one. A file without a mask token
    or decoder (an ImageNet classifier) leaves them at their initialisation, and says so."""
    raw = read_checkpoint(source)
    prefix = 'backbone.' if any(k.startswith('backbone.') for k in raw.state_dict) else None
    conv = convert(raw, prefix=prefix, num_stages=model.backbone.num_stages)
    load_converted(model.backbone, raw, conv, logger)
    load_decoder_state(model.decoder, raw, logger)
