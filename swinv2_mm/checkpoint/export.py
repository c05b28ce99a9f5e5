"""Writing any public SwinV2 checkpoint in this package's own layout (safetensors)."""
import json
import os
import os.path as osp
from typing import Dict, List

import torch
from safetensors.torch import save_file

from .formats import MASK_TOKEN, OURS, convert
from .io import CheckpointError, new_file_mode, read_checkpoint
from .loader import expected_pretrained_windows, infer_arch, load_pretrained


def _check_destination(src: str, dst: str, force: bool) -> None:
    """Everything about the destination that can be told before reading the source."""
    if osp.isdir(dst):
        raise CheckpointError(f'{dst} is a folder; give the output file name, e.g. '
                              f'{osp.join(dst, "swinv2_mm.safetensors")}')
    if not dst.endswith('.safetensors'):
        raise CheckpointError(f'{dst}: the output is written as safetensors; name it '
                              '*.safetensors')
    folder = osp.dirname(osp.abspath(dst))
    if not osp.isdir(folder):
        raise CheckpointError(f'the destination folder {osp.dirname(dst) or "."} does not exist;'
                              ' create it first (mkdir -p) or choose another output path')
    if not os.access(folder, os.W_OK):
        raise CheckpointError(f'the destination folder {folder} is not writable')
    if osp.exists(src) and osp.exists(dst) and osp.samefile(src, dst):
        raise CheckpointError(f'{dst} is the source file itself; write to another file')
    if osp.exists(dst) and not force:
        raise CheckpointError(f'{dst} exists; pass --force to replace it (it is replaced only '
                              'after the new file has been written and verified)')


def convert_file(src: str, dst: str, force: bool = False) -> List[str]:
    """Convert `src` (any accepted layout) to `dst`, then load it into a backbone built for
    it and compare every tensor. Returns the lines of a report.

    Nothing is lost: the source is read and checked completely before the destination is
    touched; the result is written to a temporary file beside `dst`, verified, and renamed
    over `dst` only then (atomically). An existing `dst` is replaced only with force=True."""
    _check_destination(src, dst, force)
    raw = read_checkpoint(src, use_local='pass the local file as SRC')
    # A whole model's checkpoint (a detector, segmentor or SimMIM Runner file; mmpretrain's):
    # its backbone is what is wanted.
    conv = convert(raw, prefix='backbone.' if any(
        k.startswith('backbone.') for k in raw.state_dict) else None)
    if conv.unknown:
        raise CheckpointError(f'{src} ({conv.format} format) has weights no backbone part '
                              f'takes: {conv.unknown[:8]}')
    arch = infer_arch(conv.state_dict)
    pretrained = expected_pretrained_windows(raw, conv)  # the file's, else its name's
    num_stages = len(arch['depths'])
    pretrained_list = [pretrained.get(s, 0) for s in range(num_stages)]
    metadata: Dict[str, str] = {
        'format': OURS, 'source_format': conv.format, 'arch': json.dumps(arch),
        'pretrained_window_sizes': ','.join(str(p) for p in pretrained_list)}

    # The source must make a whole backbone before anything is written.
    from ..models import SwinTransformerV2
    model_args = {k: v for k, v in arch.items() if k != 'depths'}
    window = [p if p > 0 else 8 for p in pretrained_list]
    try:
        model = SwinTransformerV2(depths=arch['depths'], window_size=window,
                                  pretrained_window_sizes=pretrained_list, **model_args)
    except Exception as e:  # noqa: BLE001 - an incomplete source gives no architecture
        raise CheckpointError(f'{src} ({conv.format} format) does not describe a whole SwinV2 '
                              f'backbone ({type(e).__name__}: {e}); nothing was written') from e

    tmp = osp.join(osp.dirname(osp.abspath(dst)), f'.{osp.basename(dst)}.tmp-{os.getpid()}')
    try:
        save_file({k: v.contiguous() for k, v in conv.state_dict.items()}, tmp,
                  metadata=metadata)
        os.chmod(tmp, new_file_mode())  # safetensors writes 0600
        # Verify: the written file loads into a backbone of that architecture, all of it,
        # and every tensor is the one the source had.
        try:
            load_pretrained(model, tmp)
        except CheckpointError as e:
            raise CheckpointError(f'{src}: the converted weights do not load back '
                                  f'({str(e).replace(tmp, "the result")}); {dst} was not '
                                  'touched') from e
        own = model.state_dict()
        if MASK_TOKEN in conv.state_dict:  # kept for SimMIM; this backbone has none to load it
            from safetensors import safe_open
            with safe_open(tmp, framework='pt') as f:
                own[MASK_TOKEN] = f.get_tensor(MASK_TOKEN)
        bad = [k for k, v in conv.state_dict.items() if not torch.equal(own[k], v)]
        if bad:
            raise CheckpointError(f'verification failed: {bad[:8]} differ after reloading the '
                                  f'result; {dst} was not touched')
        with open(tmp, 'rb') as f:
            os.fsync(f.fileno())
        replaced = osp.exists(dst)
        os.replace(tmp, dst)
        dir_fd = os.open(osp.dirname(osp.abspath(dst)), os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return [
        f'read {src}: {conv.format} format, {len(raw.state_dict)} tensors',
        f'architecture: {arch}',
        f'position-bias windows recorded: {pretrained_list if pretrained else "none in the file"}',
        f'mapped {len(conv.state_dict)} tensors to swinv2_mm names; dropped {len(conv.ignored)} '
        f'(classifier head, rebuilt position buffers)' + (
            f': {", ".join(sorted(conv.ignored)[:6])}{" ..." if len(conv.ignored) > 6 else ""}'
            if conv.ignored else ''),
        f'wrote {dst}' + (' (replaced the previous file, --force)' if replaced else ''),
        f'verified: {dst} loads into SwinTransformerV2 and every tensor matches the source',
    ]
