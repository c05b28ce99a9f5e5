"""Reading weight files without executing anything in them."""
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, Optional
from urllib.parse import urlparse

import torch
from torch import Tensor

ACCEPTED = ('the official Microsoft release (.pth with weights under "model"), timm (.pth or '
            '.safetensors), Hugging Face transformers (model.safetensors / pytorch_model.bin, '
            'or their folder), mmpretrain (.pth with "state_dict", keys "backbone.*"), or a '
            'file written by tools/convert_checkpoint.py')


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, unknown, or not this architecture."""


@dataclass
class RawCheckpoint:
    """A file's tensors by name, and what the file says about itself."""
    state_dict: Dict[str, Tensor]
    source: str
    metadata: Dict[str, str] = field(default_factory=dict)  # safetensors header metadata
    hf_config: Optional[dict] = None  # config.json beside a transformers file


def _download(url: str) -> str:
    cache = osp.join(torch.hub.get_dir(), 'checkpoints')
    path = osp.join(cache, osp.basename(urlparse(url).path))
    if not osp.exists(path):
        os.makedirs(cache, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, path, progress=True)
        except Exception as e:  # no network, 404, ...
            raise CheckpointError(
                f'could not download {url} ({type(e).__name__}: {e}). Download it where there '
                'is internet and point init_cfg.checkpoint at the local file, e.g. '
                '--cfg-options model.backbone.init_cfg.checkpoint=/path/to/file') from e
    return path


def _is_safetensors(path: str) -> bool:
    # 8-byte little-endian header length, then a JSON object.
    with open(path, 'rb') as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b'{' and int.from_bytes(head[:8], 'little') < 1 << 30


def _unwrap(obj, path: str) -> Dict[str, Tensor]:
    """Training checkpoints nest the weights: official under 'model', mmengine/mmpretrain
    under 'state_dict'; DataParallel adds 'module.'."""
    for key in ('model', 'state_dict', 'module'):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f'{path} holds no state dict (found {type(obj).__name__}). '
                              f'Accepted: {ACCEPTED}')
    tensors = {k: v for k, v in obj.items() if isinstance(v, Tensor)}
    if not tensors:
        raise CheckpointError(f'{path} holds no tensors. Accepted: {ACCEPTED}')
    if all(k.startswith('module.') for k in tensors):
        tensors = {k[len('module.'):]: v for k, v in tensors.items()}
    return tensors


def read_checkpoint(source: str) -> RawCheckpoint:
    """Tensors from a path, folder or http(s) URL; safetensors or `torch.load(weights_only)`."""
    source = str(source)
    path = _download(source) if source.startswith(('http://', 'https://')) else source
    path = osp.expanduser(path)
    if osp.isdir(path):
        for name in ('model.safetensors', 'pytorch_model.bin'):
            if osp.isfile(osp.join(path, name)):
                path = osp.join(path, name)
                break
        else:
            raise CheckpointError(f'{path} is a folder without model.safetensors or '
                                  f'pytorch_model.bin. Accepted: {ACCEPTED}')
    if not osp.isfile(path):
        raise CheckpointError(f'checkpoint file not found: {path}')

    metadata: Dict[str, str] = {}
    if _is_safetensors(path):
        from safetensors import SafetensorError, safe_open
        try:
            with safe_open(path, framework='pt') as f:
                metadata = dict(f.metadata() or {})
                state = {k: f.get_tensor(k) for k in f.keys()}
        except SafetensorError as e:
            raise CheckpointError(f'{path} is a damaged safetensors file: {e}') from e
    else:
        try:
            # weights_only: tensors and plain containers only; a pickle that would run code
            # (or construct arbitrary objects) is refused, never executed.
            obj = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as e:  # UnpicklingError, struct.error, EOFError, ...: all 'unreadable'
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            first_line = first_line.split('. ')[0]  # torch appends paragraphs of advice
            raise CheckpointError(
                f'{path} cannot be read as weights ({first_line}). Files are read with '
                'safetensors or torch.load(weights_only=True), which refuses pickles that hold '
                f'code or arbitrary objects. Accepted: {ACCEPTED}') from e
        state = _unwrap(obj, path)

    hf_config = None
    config_json = osp.join(osp.dirname(path), 'config.json')
    if osp.isfile(config_json):
        try:
            with open(config_json, encoding='utf-8') as f:
                hf_config = json.load(f)
        except (OSError, json.JSONDecodeError):
            hf_config = None
    return RawCheckpoint(state, path, metadata, hf_config)
