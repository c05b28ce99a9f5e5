"""Loading a pretrained SwinV2 checkpoint into the backbone: every weight or a clear error."""
import re
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
        m = re.match(r'stages\.(\d+)\.blocks\.(\d+)\.', key)
        if m:
            s, b = int(m.group(1)), int(m.group(2))
            depths[s] = max(depths.get(s, 0), b + 1)
    arch = dict(depths=tuple(depths[s] for s in sorted(depths)))
    proj = state.get('patch_embed.projection.weight')
    if proj is not None:
        arch.update(embed_dims=proj.shape[0], in_channels=proj.shape[1],
                    patch_size=proj.shape[-1])
    heads = [state.get(f'stages.{s}.blocks.0.attn.logit_scale') for s in sorted(depths)]
    if all(h is not None for h in heads):
        arch['num_heads'] = tuple(h.shape[0] for h in heads)
    fc1 = state.get('stages.0.blocks.0.mlp.fc1.weight')
    if fc1 is not None:
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


def pretrained_window_of_table(table: Tensor) -> Tuple[int, Optional[int]]:
    """(window, normalising window) a stored relative_coords_table was built with.

    The table's last entry is the offset W-1 after x = (W-1) * 8 / (P-1) and
    sign(x) * log2(|x| + 1) / 3; invert it for P. None when W == 1 (nothing to tell).
    """
    table = table.reshape(-1, table.shape[-2], 2) if table.dim() == 4 else table
    window = (table.shape[-2] + 1) // 2
    if window == 1:
        return window, None
    t = float(table.reshape(-1, 2)[-1, 0])
    x = 2.0 ** (t * 3.0) - 1.0
    return window, int(round((window - 1) * 8.0 / x + 1))


def checkpoint_pretrained_windows(conv: Converted, hf_config: Optional[dict]) -> Dict[int, int]:
    """Per stage, the window the checkpoint's position bias was normalised with, where the
    file tells (official and mmpretrain tables; a transformers config.json)."""
    found: Dict[int, int] = {}
    for (stage, _), table in sorted(conv.coords_tables.items()):
        _, pretrained = pretrained_window_of_table(table)
        if pretrained is not None:
            found.setdefault(stage, pretrained)
    if not found and hf_config and 'window_size' in hf_config:
        window = int(hf_config['window_size'])
        pws = hf_config.get('pretrained_window_sizes') or [0] * len(hf_config.get('depths', []))
        size = hf_config.get('image_size', 0)
        size = size[0] if isinstance(size, (list, tuple)) else size
        grid = int(size) // int(hf_config.get('patch_size', 4)) if size else 0
        for stage, p in enumerate(pws):
            if p:
                found[stage] = int(p)
            elif grid:  # unpretrained stages ran with the window clipped to the map
                found[stage] = min(window, grid // 2**stage)
    return found


def expected_pretrained_windows(raw: RawCheckpoint, conv: Converted) -> Dict[int, int]:
    """Per stage, the position-bias window the checkpoint was trained with: what the file
    records (coordinate tables, config.json, our metadata), else what the release of a named
    checkpoint says (zoo.py); {} where neither tells."""
    expected = checkpoint_pretrained_windows(conv, raw.hf_config)
    if not expected and raw.metadata.get('pretrained_window_sizes'):
        stored = [int(v) for v in raw.metadata['pretrained_window_sizes'].split(',')]
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
