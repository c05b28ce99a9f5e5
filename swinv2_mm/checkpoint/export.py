"""Writing any public SwinV2 checkpoint in this package's own layout (safetensors)."""
import json
from typing import Dict, List

import torch
from safetensors.torch import save_file

from .formats import OURS, convert
from .io import CheckpointError, read_checkpoint
from .loader import checkpoint_pretrained_windows, infer_arch, load_pretrained


def convert_file(src: str, dst: str) -> List[str]:
    """Convert `src` (any accepted layout) to `dst`, then load `dst` into a backbone built
    for it and compare every tensor. Returns the lines of a report."""
    if not dst.endswith('.safetensors'):
        raise CheckpointError(f'{dst}: the output is written as safetensors; name it *.safetensors')
    raw = read_checkpoint(src)
    conv = convert(raw)
    if conv.unknown:
        raise CheckpointError(f'{src} ({conv.format} format) has weights no backbone part '
                              f'takes: {conv.unknown[:8]}')
    arch = infer_arch(conv.state_dict)
    pretrained = checkpoint_pretrained_windows(conv, raw.hf_config)
    num_stages = len(arch['depths'])
    pretrained_list = [pretrained.get(s, 0) for s in range(num_stages)]
    metadata: Dict[str, str] = {
        'format': OURS, 'source_format': conv.format, 'arch': json.dumps(arch),
        'pretrained_window_sizes': ','.join(str(p) for p in pretrained_list)}
    save_file({k: v.contiguous() for k, v in conv.state_dict.items()}, dst, metadata=metadata)

    # Verify: the written file loads into a backbone of that architecture, all of it, and
    # every tensor is the one the source had.
    from ..models import SwinTransformerV2
    model_args = {k: v for k, v in arch.items() if k != 'depths'}
    window = [p if p > 0 else 8 for p in pretrained_list]
    model = SwinTransformerV2(depths=arch['depths'], window_size=window,
                              pretrained_window_sizes=pretrained_list, **model_args)
    load_pretrained(model, dst)
    own = model.state_dict()
    bad = [k for k, v in conv.state_dict.items() if not torch.equal(own[k], v)]
    if bad:
        raise CheckpointError(f'verification failed: {bad[:8]} differ after reloading {dst}')
    return [
        f'read {src}: {conv.format} format, {len(raw.state_dict)} tensors',
        f'architecture: {arch}',
        f'position-bias windows recorded: {pretrained_list if pretrained else "none in the file"}',
        f'mapped {len(conv.state_dict)} tensors to swinv2_mm names; dropped {len(conv.ignored)} '
        f'(classifier head, rebuilt position buffers)' + (
            f': {", ".join(sorted(conv.ignored)[:6])}{" ..." if len(conv.ignored) > 6 else ""}'
            if conv.ignored else ''),
        f'wrote {dst}',
        f'verified: {dst} loads into SwinTransformerV2 and every tensor matches the source',
    ]
