"""The public SwinV2 checkpoint layouts, and how each maps onto this package's names.

Layouts: official (Microsoft), simmim (the official SimMIM releases: official names, older
`rpe_mlp` for `cpb_mlp`, weights under `encoder.` in pre-training checkpoints), timm,
transformers, mmpretrain, torchvision, and this package's own files.

Ours: patch_embed.{projection,norm}, stages.S.downsample.{reduction,norm} (S >= 1, merging
at the start of a stage), stages.S.blocks.B.{attn.*,norm1,norm2,mlp.fc1,mlp.fc2}, norm{i}.
The attention parameters keep the official names (qkv, q_bias, v_bias, logit_scale,
cpb_mlp.{0,2}, proj). The classifier's final norm is the last stage's output norm.

A format is (name, detect(keys) -> bool, rename(key) -> new key or None). Position buffers
(relative_position_index, relative_coords_table, attn_mask) are rebuilt by the model and never
loaded; coordinate tables are kept aside so the loader can check the pretrained windows.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from .io import ACCEPTED, CheckpointError, RawCheckpoint

OURS = 'swinv2_mm'
BUFFERS = ('relative_position_index', 'relative_coords_table', 'attn_mask')
# Classification / pre-training parts that a backbone never uses.
HEAD_PREFIXES = ('head.', 'classifier.', 'pooler.', 'neck.', 'data_preprocessor.', 'decoder.')
# SimMIM's learnt mask token (official `encoder.mask_token`, transformers
# `swinv2.embeddings.mask_token`, mmpretrain `backbone.mask_token`) maps to the backbone's
# optional top-level `mask_token`; the loader loads it only into a backbone built with one.
MASK_TOKEN = 'mask_token'
# The classifier of each layout, kept aside (Converted.head) for tools/classify.py.
_HEADS = {'official': r'^head\.(weight|bias)$', 'simmim': r'^head\.(weight|bias)$',
          'torchvision': r'^head\.(weight|bias)$', 'timm': r'^head\.fc\.(weight|bias)$',
          'mmpretrain': r'^head\.fc\.(weight|bias)$',
          'transformers': r'^classifier\.(weight|bias)$'}
# What wraps the backbone's keys in some layouts' checkpoints (stripped before renaming).
_WRAPPERS = {'transformers': 'swinv2.', 'mmpretrain': 'backbone.', 'simmim': 'encoder.'}


@dataclass
class Converted:
    """A checkpoint in this package's names."""
    format: str
    state_dict: Dict[str, Tensor]
    coords_tables: Dict[Tuple[int, int], Tensor] = field(default_factory=dict)  # (stage, block)
    ignored: List[str] = field(default_factory=list)  # head and buffers, by original name
    head: Dict[str, Tensor] = field(default_factory=dict)  # classifier 'weight' / 'bias'
    unknown: List[str] = field(default_factory=list)  # names no rule knows
    summary: str = ''  # the loader's one-line report


def _sub(rules, key: str) -> Optional[str]:
    for pattern, repl in rules:
        new, n = re.subn(pattern, repl, key)
        if n:
            return new
    return None


def _shift_stage(offset: int):
    return lambda m: f'stages.{int(m.group(1)) + offset}.downsample.'


# One table of (pattern, replacement) per format; the first matching rule wins.
_OFFICIAL = [
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^patch_embed\.norm\.', 'patch_embed.norm.'),
    (r'^layers\.(\d+)\.downsample\.', _shift_stage(1)),  # end of stage S -> start of S + 1
    (r'^layers\.(\d+)\.blocks\.', r'stages.\1.blocks.'),
    (r'^norm\.', 'norm{last}.'),
    (r'^mask_token$', MASK_TOKEN),
]
_TIMM = [
    (r'^layers\.(\d+)\.downsample\.', _shift_stage(0)),
] + [r for r in _OFFICIAL if 'downsample' not in r[0]]
_TRANSFORMERS = [
    (r'^embeddings\.patch_embeddings\.projection\.', 'patch_embed.projection.'),
    (r'^embeddings\.norm\.', 'patch_embed.norm.'),
    (r'^encoder\.layers\.(\d+)\.downsample\.', _shift_stage(1)),
    (r'^encoder\.layers\.(\d+)\.blocks\.(\d+)\.layernorm_before\.', r'stages.\1.blocks.\2.norm1.'),
    (r'^encoder\.layers\.(\d+)\.blocks\.(\d+)\.layernorm_after\.', r'stages.\1.blocks.\2.norm2.'),
    (r'^encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.self\.continuous_position_bias_mlp\.',
     r'stages.\1.blocks.\2.attn.cpb_mlp.'),
    (r'^encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.self\.logit_scale$',
     r'stages.\1.blocks.\2.attn.logit_scale'),
    # query/key/value are fused into qkv (and q_bias, v_bias) after renaming; see _fuse_qkv.
    (r'^encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.self\.(query|key|value)\.',
     r'stages.\1.blocks.\2.attn.\3.'),
    (r'^encoder\.layers\.(\d+)\.blocks\.(\d+)\.attention\.output\.dense\.',
     r'stages.\1.blocks.\2.attn.proj.'),
    (r'^encoder\.layers\.(\d+)\.blocks\.(\d+)\.intermediate\.dense\.', r'stages.\1.blocks.\2.mlp.fc1.'),
    (r'^encoder\.layers\.(\d+)\.blocks\.(\d+)\.output\.dense\.', r'stages.\1.blocks.\2.mlp.fc2.'),
    (r'^layernorm\.', 'norm{last}.'),
    (r'^embeddings\.mask_token$', MASK_TOKEN),
]
_MMPRETRAIN = [
    (r'^patch_embed\.(projection|norm)\.', r'patch_embed.\1.'),
    (r'^stages\.(\d+)\.downsample\.', r'stages.\1.downsample.'),
    (r'^stages\.(\d+)\.blocks\.(\d+)\.attn\.w_msa\.', r'stages.\1.blocks.\2.attn.'),
    (r'^stages\.(\d+)\.blocks\.(\d+)\.ffn\.layers\.0\.0\.', r'stages.\1.blocks.\2.mlp.fc1.'),
    (r'^stages\.(\d+)\.blocks\.(\d+)\.ffn\.layers\.1\.', r'stages.\1.blocks.\2.mlp.fc2.'),
    (r'^stages\.(\d+)\.blocks\.(\d+)\.(norm1|norm2)\.', r'stages.\1.blocks.\2.\3.'),
    (r'^(norm\d+)\.', r'\1.'),
    (r'^mask_token$', MASK_TOKEN),
]
# torchvision: features.0 is the patch embedding (conv, permute, norm); features.1, 3, 5, 7
# are the stages and features.2, 4, 6 the patch merging between them (before stage k / 2);
# the MLP is a Sequential (Linear, GELU, Dropout, Linear, Dropout); qkv has one full bias.
_TORCHVISION = [
    (r'^features\.0\.0\.', 'patch_embed.projection.'),
    (r'^features\.0\.2\.', 'patch_embed.norm.'),
    (r'^features\.(\d*[13579])\.(\d+)\.mlp\.(0|3)\.',
     lambda m: f'stages.{int(m[1]) // 2}.blocks.{m[2]}.mlp.fc{1 if m[3] == "0" else 2}.'),
    (r'^features\.(\d*[13579])\.(\d+)\.', lambda m: f'stages.{int(m[1]) // 2}.blocks.{m[2]}.'),
    (r'^features\.(\d*[02468])\.(reduction|norm)\.',
     lambda m: f'stages.{int(m[1]) // 2}.downsample.{m[2]}.'),
    (r'^norm\.', 'norm{last}.'),
]
_OURS = [(r'^(.*)$', r'\1')]


def _has(keys, pattern):
    return any(re.search(pattern, k) for k in keys)


def detect_format(raw: RawCheckpoint) -> str:
    """Name of the checkpoint's layout, from its keys (and our own files' metadata)."""
    keys = list(raw.state_dict)
    if raw.metadata.get('format') == OURS:
        return OURS
    # V1 keeps a learnt bias table per block (mmdet/mmpretrain under attn.w_msa.); V2 an MLP.
    if _has(keys, r'relative_position_bias_table$') and not _has(keys, r'cpb_mlp'):
        raise CheckpointError(f'{raw.source} is a Swin Transformer V1 checkpoint (it has '
                              'relative_position_bias_table, V2 has cpb_mlp): use mmdet\'s '
                              'SwinTransformer for it, or a SwinV2 checkpoint here')
    if _has(keys, r'^(backbone\.)?stages\.\d+\.blocks\.\d+\.attn\.w_msa\.'):
        return 'mmpretrain'
    if _has(keys, r'^(swinv2\.)?encoder\.layers\.\d+\.blocks\.\d+\.attention\.self\.'):
        return 'transformers'
    if _has(keys, r'^features\.\d+\.\d+\.attn\.cpb_mlp\.'):
        return 'torchvision'
    # The SimMIM releases: the official names, but the position-bias MLP under its earlier
    # name rpe_mlp, and a pre-training checkpoint's backbone under encoder. beside decoder.
    if _has(keys, r'^(encoder\.)?layers\.\d+\.blocks\.\d+\.attn\.rpe_mlp\.') or _has(
            keys, r'^encoder\.layers\.\d+\.blocks\.\d+\.attn\.cpb_mlp\.'):
        return 'simmim'
    if _has(keys, r'^layers\.\d+\.blocks\.\d+\.attn\.cpb_mlp\.'):
        # The official code downsamples at the end of a stage, timm at the start.
        return 'official' if _has(keys, r'^layers\.0\.downsample\.') else 'timm'
    if _has(keys, r'^stages\.\d+\.blocks\.\d+\.attn\.cpb_mlp\.') and _has(
            keys, r'^patch_embed\.projection\.'):
        return OURS
    if _has(keys, r'^backbone\.stages\.\d+\.blocks\.\d+\.attn\.cpb_mlp\.'):
        raise CheckpointError(
            f'{raw.source} is a whole detector/segmentor checkpoint with this backbone under '
            "'backbone.': load it with init_cfg=dict(type='Pretrained', prefix='backbone.', "
            'checkpoint=...), or as the whole model with load_from / tools/test.py')
    raise CheckpointError(
        f'{raw.source} is not a Swin Transformer V2 checkpoint in any known layout '
        f'(first keys: {keys[:4]}). Accepted: {ACCEPTED}')


_RULES = {'official': _OFFICIAL, 'simmim': _OFFICIAL, 'timm': _TIMM,
          'transformers': _TRANSFORMERS, 'mmpretrain': _MMPRETRAIN,
          'torchvision': _TORCHVISION, OURS: _OURS}


def _fuse_qkv(state: Dict[str, Tensor]) -> None:
    """transformers keeps query/key/value apart; ours is one qkv with q_bias and v_bias."""
    for qkey in [k for k in state if k.endswith('.attn.query.weight')]:
        base = qkey[:-len('query.weight')]
        state[base + 'qkv.weight'] = torch.cat([state.pop(base + f'{n}.weight')
                                                for n in ('query', 'key', 'value')])
        state[base + 'q_bias'] = state.pop(base + 'query.bias')
        state[base + 'v_bias'] = state.pop(base + 'value.bias')
        state.pop(base + 'key.bias', None)  # zero by construction in V2


def _split_qkv_bias(state: Dict[str, Tensor]) -> None:
    """torchvision keeps one qkv bias and zeroes its key third in every forward; ours is
    q_bias and v_bias (V2 has no key bias)."""
    for key in [k for k in state if k.endswith('.attn.qkv.bias')]:
        bias = state.pop(key)
        c = bias.shape[0] // 3
        base = key[:-len('qkv.bias')]
        state[base + 'q_bias'], state[base + 'v_bias'] = bias[:c], bias[2 * c:]


def _unfold_to_official(weight: Tensor) -> Tensor:
    """mmpretrain merges patches with nn.Unfold: input columns ordered (channel, row, col);
    ours/official concatenate neighbours (col, row) first, then channel."""
    out, four_c = weight.shape
    c = four_c // 4
    return weight.reshape(out, c, 2, 2).permute(0, 3, 2, 1).reshape(out, four_c)


def convert(raw: RawCheckpoint, fmt: Optional[str] = None, prefix: Optional[str] = None,
            num_stages: Optional[int] = None) -> Converted:
    """Map a checkpoint to this package's names. `prefix` selects a sub-module's weights
    (e.g. 'backbone.' of a detector checkpoint). `num_stages` (where the classifier's final
    norm goes) is read off the checkpoint when not given."""
    state = dict(raw.state_dict)
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not state:
            raise CheckpointError(f'{raw.source} has no keys under prefix {prefix!r}')
        raw = RawCheckpoint(state, raw.source, raw.metadata, raw.hf_config)
    fmt = fmt or detect_format(raw)
    # Wrappers of the layouts: transformers' classifier under 'swinv2.', mmpretrain's
    # classifier under 'backbone.', a SimMIM pre-training checkpoint under 'encoder.'.
    wrapper = _WRAPPERS.get(fmt)
    if wrapper and any(k.startswith(wrapper) for k in state):
        state = {(k[len(wrapper):] if k.startswith(wrapper) else k): v for k, v in state.items()}
    if fmt == 'simmim':  # renamed in the official code after these files were released
        state = {k.replace('.attn.rpe_mlp.', '.attn.cpb_mlp.'): v for k, v in state.items()}
    out = Converted(fmt, {})
    rules = _RULES[fmt]
    head = _HEADS.get(fmt)
    for key, value in state.items():
        if re.search(r'\d{7}', key):  # no stage or block index is that long; int() of a
            out.unknown.append(key[:80])  # hostile key's thousands of digits would raise
            continue
        if key.endswith(BUFFERS):
            new = _sub(rules, key)
            if key.endswith('relative_coords_table') and new is not None:
                m = re.match(r'stages\.(\d+)\.blocks\.(\d+)\.', new)
                if m:
                    out.coords_tables[(int(m.group(1)), int(m.group(2)))] = value
            out.ignored.append(key)
            continue
        new = _sub(rules, key)
        if new is None:
            m = re.match(head, key) if head else None
            if m:
                out.head[m.group(1)] = value
            (out.ignored if key.startswith(HEAD_PREFIXES) else out.unknown).append(key)
            continue
        if fmt == 'mmpretrain' and new.endswith('downsample.reduction.weight'):
            value = _unfold_to_official(value)
        out.state_dict[new] = value
    if num_stages is None:
        stages = [int(m.group(1)) for k in out.state_dict
                  for m in [re.match(r'stages\.(\d+)\.', k)] if m]
        num_stages = max(stages) + 1 if stages else 1
    out.state_dict = {k.replace('{last}', str(num_stages - 1)): v
                      for k, v in out.state_dict.items()}
    if fmt == 'transformers':
        _fuse_qkv(out.state_dict)
    if fmt == 'torchvision':
        _split_qkv_bias(out.state_dict)
    return out
