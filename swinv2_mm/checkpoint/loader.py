"""Loading a pretrained SwinV2 checkpoint into the backbone: every weight or a clear error."""
import os.path as osp
import re
import reprlib
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from .formats import BUFFERS, HEAD_PREFIXES, MASK_TOKEN, Converted, convert
from .io import CheckpointError, RawCheckpoint, read_checkpoint
from .zoo import expected_windows


def infer_arch(state: Dict[str, Tensor]) -> dict:
    """embed_dims, depths, num_heads (and patch size, channels, mlp_ratio) of a state dict
    in our names, read off the tensors' shapes."""
    depths: Dict[int, int] = {}
    for key in state:
        # Bounded indices: int() of a hostile key's thousands of digits raises ValueError.
        m = re.match(r'stages\.(\d{1,6})\.blocks\.(\d{1,6})\.', key)
        if m:
            s, b = int(m.group(1)), int(m.group(2))
            depths[s] = max(depths.get(s, 0), b + 1)
    arch = dict(depths=tuple(depths[s] for s in sorted(depths)))
    # Shapes come from the file (and this runs inside error messages): read only those of the
    # right rank, and never divide by a zero width.
    proj = state.get('patch_embed.projection.weight')
    if proj is not None and proj.dim() == 4:
        arch.update(embed_dims=proj.shape[0], in_channels=proj.shape[1],
                    patch_size=proj.shape[-1])
    heads = [state.get(f'stages.{s}.blocks.0.attn.logit_scale') for s in sorted(depths)]
    if all(h is not None and h.dim() > 0 for h in heads):
        arch['num_heads'] = tuple(h.shape[0] for h in heads)
    fc1 = state.get('stages.0.blocks.0.mlp.fc1.weight')
    if fc1 is not None and fc1.dim() == 2 and fc1.shape[1] > 0:
        arch['mlp_ratio'] = fc1.shape[0] / fc1.shape[1]
    return arch


def arch_name(arch: dict) -> Optional[str]:
    """The arch_zoo name of an (embed_dims, depths, num_heads), if it is one."""
    from ..models import SwinTransformerV2
    for name, spec in SwinTransformerV2.arch_zoo.items():
        if all(tuple(spec[k]) == tuple(arch.get(k, ())) if k != 'embed_dims'
               else spec[k] == arch.get(k) for k in ('embed_dims', 'depths', 'num_heads')):
            return name
    return None


def describe_arch(state: Dict[str, Tensor]) -> str:
    """embed_dims, depths and num_heads a state dict in our names was trained with (and the
    arch name, when it is one)."""
    arch = infer_arch(state)
    name = arch_name(arch)
    return (f'{f"arch={name!r}: " if name else ""}embed_dims={arch.get("embed_dims", "?")}, '
            f'depths={arch["depths"]}, num_heads={arch.get("num_heads", "?")}')


# Windows (and their normalisers) read from a file are bounded: the released checkpoints use
# 6..24, and anything far beyond is a damaged or hostile file, not a model to build.
MAX_WINDOW = 1024


def _malformed(source: str, what: str, shown: str, expected: str) -> CheckpointError:
    return CheckpointError(
        f'{source}: malformed {what}: {shown} ({expected} expected). The file is damaged or '
        'was not written by a SwinV2 tool: re-download the checkpoint, or re-convert it from '
        'the original with tools/convert_checkpoint.py')


def checked_int(value, what: str, source: str, lo: int = 1, hi: int = MAX_WINDOW) -> int:
    """`value`, read from a file's config.json, metadata or tables, as an int in lo..hi.
    Anything else (a string, list, None, bool, NaN, a negative or absurd number) is refused
    in one line instead of surfacing later as a ValueError/TypeError/ZeroDivisionError."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 8.0: a JSON writer's integer
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        # reprlib: a hostile value may be huge or deeply nested; the message stays short.
        raise _malformed(source, what, reprlib.repr(value), f'an integer in {lo}..{hi}')
    return value


def pretrained_window_of_table(table: Tensor, what: str = 'relative_coords_table',
                               source: str = 'the checkpoint') -> Tuple[int, Optional[int]]:
    """(window, normalising window) a stored relative_coords_table was built with.

    The table's last entry is the offset W-1 after x = (W-1) * 8 / (P-1) and
    sign(x) * log2(|x| + 1) / 3; invert it for P. None when W == 1 (nothing to tell).
    """
    # Stored as (1, 2W-1, 2W-1, 2) floats; the file may hold any tensor under that name.
    if (not table.is_floating_point() or table.dim() < 2 or table.shape[-1] != 2
            or table.shape[-2] % 2 == 0 or table.numel() == 0):
        raise _malformed(source, what, f'{table.dtype} tensor of shape {tuple(table.shape)}',
                         'a float tensor of shape (1, 2W-1, 2W-1, 2)')
    table = table.reshape(-1, table.shape[-2], 2) if table.dim() == 4 else table
    window = (table.shape[-2] + 1) // 2
    if window == 1:
        return window, None
    t = float(table.reshape(-1, 2)[-1, 0])
    # A real table ends in (0, ~5): zero, negative, NaN, inf or huge entries would divide by
    # zero, overflow or not invert at all.
    x = 2.0 ** (t * 3.0) - 1.0 if 0.0 < t < 64.0 else 0.0
    if not x > 0.0:
        raise _malformed(source, what, f'last entry {t!r}', 'a positive finite coordinate')
    return window, checked_int(round((window - 1) * 8.0 / x + 1), f'{what} (the window its '
                                 'last entry implies)', source)


def checkpoint_pretrained_windows(conv: Converted, hf_config: Optional[dict],
                                  source: str = 'the checkpoint') -> Dict[int, int]:
    """Per stage, the window the checkpoint's position bias was normalised with, where the
    file tells (official and mmpretrain tables; a transformers config.json). `source`: the
    weights file (config.json is beside it)."""
    found: Dict[int, int] = {}
    for (stage, block), table in sorted(conv.coords_tables.items()):
        _, pretrained = pretrained_window_of_table(
            table, f'relative_coords_table of stages.{stage}.blocks.{block}', source)
        if pretrained is not None:
            found.setdefault(stage, pretrained)
    if found or hf_config is None:
        return found
    config = osp.join(osp.dirname(source), 'config.json')
    # json.load hands over any JSON value; a transformers config.json is an object.
    if not isinstance(hf_config, dict):
        raise _malformed(config, 'config.json', reprlib.repr(hf_config), 'a JSON object')
    if 'window_size' not in hf_config:
        return found

    def side(key: str, default):  # image_size / patch_size: an int or [h, w] (h is used)
        value = hf_config.get(key, default)
        value = value[0] if isinstance(value, (list, tuple)) and value else value
        return checked_int(value, f'config.json {key!r}', config, hi=1 << 16)

    window = checked_int(hf_config['window_size'], "config.json 'window_size'", config)
    pws = hf_config.get('pretrained_window_sizes')
    if not pws:  # none recorded: one 0 per stage
        depths = hf_config.get('depths', [])
        if not isinstance(depths, (list, tuple)):
            raise _malformed(config, "config.json 'depths'", reprlib.repr(depths), 'a list')
        pws = [0] * len(depths)
    if not isinstance(pws, (list, tuple)):
        raise _malformed(config, "config.json 'pretrained_window_sizes'", reprlib.repr(pws),
                         'a list of integers')
    pws = [checked_int(p, f"config.json 'pretrained_window_sizes'[{s}]", config, lo=0)
           for s, p in enumerate(pws)]
    grid = side('image_size', None) // side('patch_size', 4) if 'image_size' in hf_config else 0
    for stage, p in enumerate(pws):
        if p:
            found[stage] = p
        elif grid >> stage:  # unpretrained stages ran with the window clipped to the map
            found[stage] = min(window, grid >> stage)
    return found


def expected_pretrained_windows(raw: RawCheckpoint, conv: Converted) -> Dict[int, int]:
    """Per stage, the position-bias window the checkpoint was trained with: what the file
    records (coordinate tables, config.json, our metadata), else what the release of a named
    checkpoint says (zoo.py); {} where neither tells."""
    expected = checkpoint_pretrained_windows(conv, raw.hf_config, raw.source)
    stored = raw.metadata.get('pretrained_window_sizes')
    if not expected and stored is not None:
        # Ours: 'P0,P1,...', 0 where the source recorded none. Plain digits only: int() also
        # takes '+3', ' 3', '1_0' and (slowly, then failing) thousands of digits.
        values = [int(v) if re.fullmatch(r'[0-9]{1,6}', v) else v for v in stored.split(',')]
        stored = [checked_int(v, f"safetensors metadata 'pretrained_window_sizes'[{s}]",
                                raw.source, lo=0) for s, v in enumerate(values)]
        expected = {s: p for s, p in enumerate(stored) if p > 0}
    return expected or expected_windows(raw.weights)


def check_pretrained_windows(model: nn.Module, expected: Dict[int, int], source: str) -> None:
    """The configured pretrained_window_sizes must be those the checkpoint was trained with;
    otherwise the position bias is evaluated at the wrong coordinates, silently."""
    configured = [p if p > 0 else w for p, w in zip(model.pretrained_window_sizes,
                                                     model.window_sizes)]
    wrong = {s: p for s, p in expected.items() if s < len(configured) and configured[s] != p}
    if wrong:
        suggestion = [expected.get(s, configured[s]) for s in range(len(configured))]
        details = ', '.join(f'stage {s}: checkpoint {p}, model {configured[s]}'
                            for s, p in sorted(wrong.items()))
        raise CheckpointError(
            f'{source} was trained with position-bias windows that differ from the model\'s '
            f'pretrained_window_sizes={list(model.pretrained_window_sizes)} '
            f'(window_size={list(model.window_sizes)}) — {details}. Set '
            f'pretrained_window_sizes={suggestion} to transfer its continuous position bias '
            'correctly.')


def _check_fits(model: nn.Module, state: Dict[str, Tensor], source: str,
                fmt: str) -> List[str]:
    """Raise unless every checkpoint tensor has a place of its shape in the model; return the
    model's names the checkpoint does not have (allowed: the extra output norms only)."""
    own = model.state_dict()
    unexpected = sorted(k for k in state if k not in own)
    mismatched = [(k, tuple(state[k].shape), tuple(own[k].shape))
                  for k in state if k in own and state[k].shape != own[k].shape]
    missing = sorted(k for k in own if k not in state)
    # Output norms no classifier has, and a mask token no supervised checkpoint has.
    allowed_missing = [k for k in missing if re.match(r'norm\d+\.', k) or k == MASK_TOKEN]
    missing = [k for k in missing if k not in allowed_missing]
    if not (unexpected or mismatched or missing):
        return allowed_missing
    arch = (f'the checkpoint is {describe_arch(state)}; the model is '
            f'embed_dims={model.embed_dims}, depths={tuple(model.depths)}')
    lines = [f'{source} ({fmt} format) does not fit this SwinTransformerV2: {arch}.']
    if mismatched:
        lines.append('shape mismatch (key: checkpoint vs model): ' + '; '.join(
            f'{k}: {a} vs {b}' for k, a, b in mismatched[:8])
            + (f' (+{len(mismatched) - 8} more)' if len(mismatched) > 8 else ''))
    if unexpected:
        lines.append(f'in the checkpoint but not the model: {unexpected[:8]}'
                     + (f' (+{len(unexpected) - 8} more)' if len(unexpected) > 8 else ''))
    if missing:
        lines.append(f'in the model but not the checkpoint: {missing[:8]}'
                     + (f' (+{len(missing) - 8} more)' if len(missing) > 8 else ''))
    lines.append('Choose the arch (or embed_dims/depths/num_heads) the checkpoint was trained '
                 'with.')
    raise CheckpointError('\n'.join(lines))


def _ignored_summary(conv: Converted) -> str:
    """What was not loaded, by kind, for the one-line report."""
    kinds = {'classifier head': 0, 'rebuilt position buffers': 0, 'SimMIM decoder': 0,
             'other heads/necks': 0}
    for key in conv.ignored:
        if key.endswith(BUFFERS):
            kinds['rebuilt position buffers'] += 1
        elif key.startswith('decoder.'):
            kinds['SimMIM decoder'] += 1
        elif key.startswith(('head.', 'classifier.')):
            kinds['classifier head'] += 1
        elif key.startswith(HEAD_PREFIXES):
            kinds['other heads/necks'] += 1
    parts = [f'{n} {kind}' for kind, n in kinds.items() if n]
    if MASK_TOKEN in conv.ignored:
        parts.append('the mask token (this backbone has none: it is built without masked '
                     'image modeling)')
    return f'ignored {len(conv.ignored)}' + (f' ({", ".join(parts)})' if parts else '')


def load_pretrained(model: nn.Module, source: str, prefix: Optional[str] = None,
                    logger: str = 'current') -> Converted:
    """Load a SwinV2 checkpoint of any public format (or a name, see zoo.py) into `model`,
    all or nothing."""
    raw = read_checkpoint(source)
    conv = convert(raw, prefix=prefix, num_stages=model.num_stages)
    load_converted(model, raw, conv, logger)
    return conv


def load_converted(model: nn.Module, raw: RawCheckpoint, conv: Converted,
                   logger: str = 'current') -> None:
    """Check a converted checkpoint against `model` and load it, all or nothing."""
    if conv.unknown:
        raise CheckpointError(
            f'{raw.source} ({conv.format} format) has weights this backbone has no place '
            f'for: {conv.unknown[:8]}. If they belong to a detector or segmentor around '
            "the backbone, load with init_cfg=dict(type='Pretrained', prefix='backbone.', ...)")
    expected = expected_pretrained_windows(raw, conv)
    name = getattr(raw.weights, 'name', None)
    check_pretrained_windows(model, expected, raw.source if not name else
                             f'{raw.source} ({name})')
    if MASK_TOKEN in conv.state_dict and MASK_TOKEN not in model.state_dict():
        del conv.state_dict[MASK_TOKEN]
        conv.ignored.append(MASK_TOKEN)
    not_in_file = _check_fits(model, conv.state_dict, raw.source, conv.format)
    with torch.no_grad():
        model.load_state_dict(conv.state_dict, strict=False)
    conv.summary = (
        f'SwinTransformerV2: loaded {len(conv.state_dict)} tensors from {raw.source} '
        f'({conv.format} format{f", {name}" if name else ""}); {_ignored_summary(conv)}; '
        f'left at init (not in the file): '
        f'{", ".join(sorted({k.split(".")[0] for k in not_in_file})) or "none"}')
    print_log(conv.summary, logger=logger)
    if not expected:
        print_log(f'SwinTransformerV2: {raw.source} does not record its position-bias '
                  f'windows; using pretrained_window_sizes={list(model.pretrained_window_sizes)}'
                  ' as configured', logger=logger)
