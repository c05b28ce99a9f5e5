"""Test-time window adjustment (SwinV2 paper, Sec. 4 and Tables 3-4: a model trained with
window 32 evaluated at 48 on COCO, 40 -> 56 on ADE20K): `tools/test.py CONFIG CKPT --window 48`.

The continuous position bias is an MLP over relative coordinates *normalised* by a window:
`pretrained_window_sizes` where it is set, else the window in use. A trained model's MLP has
learnt its curve on the normalisation it was trained with, so a larger window must keep that
normalisation — then the bias table is the same MLP evaluated on a wider coordinate range
(extrapolation, as the paper intends) and nothing is re-initialised. Changing only
`window_size` of a model whose `pretrained_window_sizes` are 0 would silently re-scale every
coordinate instead.

So, per stage whose window changes: `pretrained_window_sizes` stays where it is set (> 0);
where it is 0 it becomes the window the stage trained with — the configured window, or the
stage's map size where a fixed training input (mmseg's `data_preprocessor.size`, mmdet's
`BatchFixedSizePad`) made the map no larger than the window (the official rule that then runs
the map as one window, normalised by its own size). Stages whose window stays are untouched.
"""
from typing import List, Optional, Sequence, Tuple

from mmengine.config import Config

from ..models.swin_transformer_v2 import SwinTransformerV2, _per_stage
from ..models.windows import effective_window
from .errors import ToolError

WINDOW_KEY = 'model.backbone.window_size'
PRETRAINED_KEY = 'model.backbone.pretrained_window_sizes'


def _backbone_cfg(cfg: Config) -> dict:
    backbone = (cfg.get('model') or {}).get('backbone')
    kind = backbone.get('type') if isinstance(backbone, dict) else None
    if kind is not SwinTransformerV2 and str(kind).split('.')[-1] != 'SwinTransformerV2':
        raise ToolError(f'--window: the config\'s model.backbone is {kind!r}; the test-time '
                        'window applies to a SwinTransformerV2 backbone')
    return backbone


def _num_stages(backbone: dict) -> int:
    try:
        arch = SwinTransformerV2._resolve_arch(
            backbone.get('arch', 'tiny'), backbone.get('embed_dims'), backbone.get('depths'),
            backbone.get('num_heads'))
    except (TypeError, ValueError) as e:
        raise ToolError(f'--window: {e}') from e
    return len(arch['depths'])


def fixed_train_size(cfg: Config) -> Optional[Tuple[int, int]]:
    """(H, W) of every training batch where the config fixes it, else None."""
    pre = (cfg.get('model') or {}).get('data_preprocessor') or {}
    if pre.get('size'):  # mmseg pads every training batch to its crop size
        return tuple(pre['size'])
    for aug in pre.get('batch_augments') or []:
        if isinstance(aug, dict) and aug.get('type') == 'BatchFixedSizePad':
            return tuple(aug['size'])
    return None


def trained_normalisation(backbone: dict, train_size: Optional[Tuple[int, int]] = None
                          ) -> List[int]:
    """Per stage, the window whose coordinate normalisation the trained CPB uses (module
    docstring)."""
    stages = _num_stages(backbone)
    windows = _per_stage(backbone.get('window_size', 8), stages, 'window_size', 1)
    pretrained = _per_stage(backbone.get('pretrained_window_sizes', 0), stages,
                            'pretrained_window_sizes', 0)
    sizes = None
    if train_size is not None:
        h, w = train_size
        patch = backbone.get('patch_size', 4)
        h, w = -(-h // patch), -(-w // patch)
        sizes = []
        for _ in range(stages):  # each patch merging pads to even, then halves
            sizes.append((h, w))
            h, w = -(-h // 2), -(-w // 2)
    out = []
    for i, (window, trained) in enumerate(zip(windows, pretrained)):
        if trained > 0:
            out.append(trained)
        elif sizes is not None:
            out.append(effective_window(*sizes[i], window)[0])
        else:
            out.append(window)
    return out


def set_test_window(cfg: Config, window: Sequence[int]) -> str:
    """Set the backbone's window for testing, keeping the trained CPB normalisation; returns
    a line that says what changed and the equivalent --cfg-options (for mmdet's and mmseg's
    own tools)."""
    backbone = _backbone_cfg(cfg)
    stages = _num_stages(backbone)
    values = list(window) if isinstance(window, (list, tuple)) else [window]
    if len(values) not in (1, stages) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
        raise ToolError(f'--window {" ".join(map(str, values))}: give one window (an int >= '
                        f'1) for every stage, or {stages} (one per stage)')
    new = values * stages if len(values) == 1 else values
    trained = list(_per_stage(backbone.get('window_size', 8), stages, 'window_size', 1))
    pretrained = list(_per_stage(backbone.get('pretrained_window_sizes', 0), stages,
                                 'pretrained_window_sizes', 0))
    reference = trained_normalisation(backbone, fixed_train_size(cfg))
    keep = [p if n == t else r for n, t, p, r in zip(new, trained, pretrained, reference)]
    backbone['window_size'] = new
    backbone['pretrained_window_sizes'] = keep
    return (f'test-time window: window_size {trained} -> {new}, pretrained_window_sizes '
            f'{pretrained} -> {keep} (the coordinate normalisation the model was trained '
            f'with); with mmdet\'s/mmseg\'s own tools: --cfg-options '
            f'{WINDOW_KEY}={_arg(new)} {PRETRAINED_KEY}={_arg(keep)}')


def _arg(values: Sequence[int]) -> str:
    return '[' + ','.join(map(str, values)) + ']'  # one shell word


def window_from_options(window: Optional[Sequence[int]], cfg_options: Optional[dict]
                        ) -> Tuple[Optional[Sequence[int]], Optional[dict]]:
    """`--cfg-options model.backbone.window_size=48` alone is read as `--window 48`, so that
    it cannot silently change the position bias's normalisation; given together with
    model.backbone.pretrained_window_sizes it is taken as written."""
    if not cfg_options or WINDOW_KEY not in cfg_options:
        return window, cfg_options
    if window is not None:
        raise ToolError(f'--window and --cfg-options {WINDOW_KEY}=... both set the window; '
                        'give one of them')
    if PRETRAINED_KEY in cfg_options:
        return None, cfg_options
    options = dict(cfg_options)
    return options.pop(WINDOW_KEY), options
