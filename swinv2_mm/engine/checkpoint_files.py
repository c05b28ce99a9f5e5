"""Reading the Runner's checkpoint files for --resume, tools/test.py and tools/image_demo.py,
with a one-line answer for every file that cannot serve.

A file is classified before torch sees it (missing, folder, empty, safetensors, JSON or other
bytes that are no torch file, a torch zip archive cut short), then read with the restricted
unpickler of checkpoint/safe_pickle.py, so nothing in the file can run code or touch the
process. What was read is then checked against what the command needs: a Runner
checkpoint (meta + optimizer) for --resume, and for every command weights that fit the model
built from the config, key for key and shape for shape.
"""
import os
import os.path as osp
import re
import zipfile
from typing import Dict, List, Optional, Tuple

import torch

from ..checkpoint.safe_pickle import (DamagedCheckpointError, UnsafeCheckpointError,
                                      read_torch_file)
from .errors import ToolError


class CheckpointFileError(ToolError):
    """A file given as a checkpoint that cannot be used; the message says why and what to do."""


_URL = ('http://', 'https://', 's3://')


def is_url(path: str) -> bool:
    return str(path).startswith(_URL)


def fetch_if_url(path: str) -> str:
    """A local path for `path`: URLs are downloaded once into torch's hub cache, with a
    one-line error when that fails (no network, 404) instead of urllib's traceback."""
    if not is_url(path):
        return path
    if path.startswith('s3://'):
        raise CheckpointFileError(f'{path}: s3 checkpoints are not read by these tools; copy '
                                  'the file to this machine and pass its local path')
    from ..checkpoint.io import CheckpointError, download_to_cache
    try:
        return download_to_cache(path, use_local='pass the local file')
    except CheckpointError as e:
        raise CheckpointFileError(str(e)) from e


def _kind_of_bytes(head: bytes) -> str:
    if head[:4] == b'PK\x03\x04':
        return 'zip'
    if head[:1] == b'\x80':  # pickle protocol 2+: torch's legacy (non-zip) format
        return 'pickle'
    if len(head) >= 9 and head[8:9] == b'{' and int.from_bytes(head[:8], 'little') < 1 << 30:
        return 'safetensors'
    if head.lstrip()[:1] in (b'{', b'['):
        return 'json'
    return 'other'


def read_checkpoint_file(path: str, role: str) -> dict:
    """The object in a Runner checkpoint (or weights) file, read safely.

    role names the argument in messages, e.g. '--resume' or 'checkpoint'.
    Raises CheckpointFileError (not a usable file) or UnsafeCheckpointError (refused).
    """
    if not osp.exists(path):
        raise CheckpointFileError(f'{role} {path}: no such file')
    if osp.isdir(path):
        raise CheckpointFileError(f'{role} {path}: is a folder; give the checkpoint file in it '
                                  '(e.g. iter_N.pth or epoch_N.pth)')
    size = osp.getsize(path)
    if size == 0:
        raise CheckpointFileError(f'{role} {path}: the file is empty (0 bytes), probably a save '
                                  'that was interrupted; use an earlier checkpoint')
    with open(path, 'rb') as f:
        head = f.read(16)
    kind = _kind_of_bytes(head)
    if kind == 'safetensors':
        raise CheckpointFileError(
            f'{role} {path}: is a safetensors weights file (a backbone), not a checkpoint of '
            "the whole model: use it as model.backbone.init_cfg=dict(type='Pretrained', "
            'checkpoint=...) and train, or test a checkpoint written by tools/train.py')
    if kind in ('json', 'other'):
        what = 'a JSON/text file' if kind == 'json' else f'{size} bytes of something else'
        raise CheckpointFileError(
            f'{role} {path}: not a checkpoint ({what}, not a file written by torch.save); '
            'give a .pth written by tools/train.py (work_dir/iter_N.pth or epoch_N.pth)')
    if kind == 'zip' and not zipfile.is_zipfile(path):
        raise CheckpointFileError(
            f'{role} {path}: the checkpoint is truncated or damaged ({size} bytes, the zip '
            'archive torch.save writes has no end); use an earlier checkpoint')
    try:
        return read_torch_file(path, map_location='cpu')
    except DamagedCheckpointError as e:
        raise CheckpointFileError(f'{role} {path}: the checkpoint is damaged or truncated and '
                                  f'cannot be read ({e.reason}); use an '
                                  'earlier checkpoint') from e


def state_dict_of(obj, path: str, role: str) -> Dict[str, torch.Tensor]:
    """The model weights in a checkpoint object: 'state_dict' of a Runner checkpoint, or a
    plain {name: tensor} dict; 'module.' (DDP) stripped as mmengine does."""
    state = obj.get('state_dict', obj) if isinstance(obj, dict) else None
    if isinstance(state, dict) and 'model' in state and isinstance(state['model'], dict) \
            and 'state_dict' not in obj:
        state = state['model']  # official classifier releases
    if not isinstance(state, dict) or not any(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise CheckpointFileError(f'{role} {path}: holds no model weights (found '
                                  f'{type(obj).__name__} without tensors); give a .pth written '
                                  'by tools/train.py')
    return {re.sub(r'^module\.', '', k): v for k, v in state.items()
            if isinstance(v, torch.Tensor)}


def require_runner_checkpoint(obj, path: str) -> None:
    """--resume needs the Runner's training state, not only weights."""
    if not isinstance(obj, dict) or not isinstance(obj.get('meta'), dict) \
            or 'iter' not in obj['meta']:
        raise CheckpointFileError(
            f'--resume {path}: holds weights only, no training state (meta/optimizer); to '
            f'start a new run from these weights use --cfg-options load_from={path} '
            'instead of --resume')
    absent = [k for k in ('state_dict', 'message_hub') if k not in obj]
    if absent:
        raise CheckpointFileError(
            f'--resume {path}: not a complete tools/train.py checkpoint (no {absent[0]!r}); '
            'resume from a checkpoint the training run wrote (work_dir/iter_N.pth)')


def _looks_like_backbone_file(state: Dict[str, torch.Tensor]) -> Optional[str]:
    """The layout name if `state` is an ImageNet SwinV2 (or V1) classifier/backbone file."""
    from ..checkpoint.formats import detect_format
    from ..checkpoint.io import CheckpointError, RawCheckpoint
    try:
        return detect_format(RawCheckpoint(state, 'file'))
    except CheckpointError as e:
        return 'Swin V1' if 'V1' in str(e) else None


def check_fits_model(model: torch.nn.Module, state: Dict[str, torch.Tensor], path: str,
                     role: str) -> None:
    """Refuse weights that would leave the model partly random: every parameter and buffer
    of the model must be in the file with its shape, and the file must hold nothing else.

    mmengine loads with strict=False and only warns; a detector tested that way prints mAP 0
    or random boxes with exit code 0.
    """
    own = {k: v for k, v in model.state_dict().items()}
    missing = sorted(k for k in own if k not in state)
    unexpected = sorted(k for k in state if k not in own)
    mismatched = [(k, tuple(state[k].shape), tuple(own[k].shape)) for k in own
                  if k in state and state[k].shape != own[k].shape]
    if not (missing or unexpected or mismatched):
        return
    layout = None
    if len(missing) > len(own) // 2:
        layout = _looks_like_backbone_file(state)
        inner = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
        if layout is None and inner and _looks_like_backbone_file(inner) == 'Swin V1':
            layout = 'Swin V1'
    if layout == 'Swin V1':
        raise CheckpointFileError(
            f'{role} {path}: this is a Swin Transformer V1 checkpoint (it has '
            'relative_position_bias_table; V2 has cpb_mlp), this config\'s backbone is Swin V2: '
            "use it with mmdet's/mmseg's own Swin (V1) configs, or a SwinV2 checkpoint here")
    if layout is not None and len(missing) == len(own):
        raise CheckpointFileError(
            f'{role} {path}: this looks like a backbone-only ImageNet file ({layout} layout), '
            f'not a checkpoint of this {type(model).__name__}: use it as init_cfg, not as a '
            f"model checkpoint (--cfg-options model.backbone.init_cfg.type=Pretrained "
            f'model.backbone.init_cfg.checkpoint={path}, then train)')

    def _few(keys: List[str]) -> str:
        return ', '.join(keys[:3]) + (f' (+{len(keys) - 3} more)' if len(keys) > 3 else '')
    parts = []
    if missing:
        parts.append(f'{len(missing)} of the model\'s {len(own)} weights are missing '
                     f'({_few(missing)})')
    if unexpected:
        parts.append(f'{len(unexpected)} unexpected ({_few(unexpected)})')
    if mismatched:
        k, a, b = mismatched[0]
        parts.append(f'{len(mismatched)} of another shape ({k}: file {a}, model {b})')
    raise CheckpointFileError(
        f'{role} {path}: does not fit the model of this config ({type(model).__name__}): '
        + '; '.join(parts) + '. Use a checkpoint trained with this config (same architecture '
        'and classes)')


_STEP = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


def checkpoints_newest_first(work_dir: str) -> List[str]:
    """Candidates for `--resume` without a path: the file `last_checkpoint` names, then
    every iter_N.pth / epoch_N.pth of the work dir (and of that file's folder), highest N
    first. Temporary files of unfinished saves are never candidates."""
    found: List[Tuple[int, float, str]] = []
    folders = [work_dir]
    last = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(last):
        with open(last, encoding='utf-8', errors='replace') as f:
            named = f.read().strip() or None
        if named and osp.dirname(named) and osp.isdir(osp.dirname(named)):
            folders.append(osp.dirname(named))
    seen = set()
    for folder in folders:
        if not osp.isdir(folder):
            continue
        for name in os.listdir(folder):
            m = _STEP.match(name)
            path = osp.join(folder, name)
            if m and osp.realpath(path) not in seen:
                seen.add(osp.realpath(path))
                found.append((int(m.group(2)), osp.getmtime(path), path))
    ordered = [p for _, _, p in sorted(found, reverse=True)]
    if named:
        ordered = [named] + [p for p in ordered if osp.realpath(p) != osp.realpath(named)]
    return ordered


def pick_resume_checkpoint(model: torch.nn.Module, work_dir: str,
                           log=print) -> Tuple[Optional[str], List[str]]:
    """(newest checkpoint of work_dir that loads and fits, [skipped: reason, ...])."""
    skipped = []
    for path in checkpoints_newest_first(work_dir):
        try:
            obj = read_checkpoint_file(path, '--resume')
            check_fits_model(model, state_dict_of(obj, path, '--resume'), path, '--resume')
            require_runner_checkpoint(obj, path)
        except (CheckpointFileError, UnsafeCheckpointError) as e:
            reason = str(e).split(': ', 1)[-1] if str(e).startswith('--resume') else str(e)
            skipped.append(f'{path}: {reason}')
            log(f'[swinv2_mm] --resume: skipped {path}: {reason}')
            continue
        return path, skipped
    return None, skipped
