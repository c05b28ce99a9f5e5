"""Reading weight files without executing anything in them."""
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, Optional
from urllib.parse import urlparse

import torch
from torch import Tensor

from .safe_pickle import CheckpointReadError, read_torch_file

ACCEPTED = ('the official Microsoft release (.pth with weights under "model") and its SimMIM '
            'releases, timm (.pth or .safetensors), Hugging Face transformers '
            '(model.safetensors / pytorch_model.bin, or their folder), mmpretrain (.pth with '
            '"state_dict", keys "backbone.*"), torchvision (swin_v2_t/s/b .pth), a file written '
            'by tools/convert_checkpoint.py, or a checkpoint name from docs/model_zoo.md')


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, unknown, or not this architecture."""


@dataclass
class RawCheckpoint:
    """A file's tensors by name, and what the file says about itself."""
    state_dict: Dict[str, Tensor]
    source: str
    metadata: Dict[str, str] = field(default_factory=dict)  # safetensors header metadata
    hf_config: Optional[dict] = None  # config.json beside a transformers file
    weights: Optional[object] = None  # zoo.Weights, when the source is a known checkpoint


# What to do with a checkpoint downloaded elsewhere; each caller names its own way (a tool
# must suggest only flags it has).
USE_LOCAL_INIT_CFG = ('point init_cfg.checkpoint at the local file, e.g. --cfg-options '
                      'model.backbone.init_cfg.checkpoint=/path/to/file')


def download_to_cache(url: str, use_local: str = USE_LOCAL_INIT_CFG,
                      model_dir: Optional[str] = None, progress: bool = True) -> str:
    """The torch hub cache's copy of `url` (where torch.hub, torchvision and mmengine keep
    theirs), downloaded only if it is not there."""
    cache = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    path = osp.join(cache, osp.basename(urlparse(url).path))
    if not osp.exists(path):
        os.makedirs(cache, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, path, progress=progress)
        except Exception as e:  # no network, 404, ...
            raise CheckpointError(
                f'could not download {url} ({type(e).__name__}: {e}). Download it where there '
                f'is internet and {use_local}') from e
    return path


def torchvision_url(source: str) -> str:
    """The URL of `torchvision://NAME[.TAG]`, from mmengine's table of torchvision weights
    (a bare model name means its default weights)."""
    name = source[len('torchvision://'):]
    try:
        from mmengine.runner.checkpoint import get_torchvision_models
        urls = get_torchvision_models()
    except ImportError as e:
        raise CheckpointError(f'{source} needs torchvision installed ({e})') from e
    url = urls.get(name) or urls.get(f'{name}.default')
    if url is None:
        known = sorted(k for k in urls if k.startswith('swin_v2'))
        raise CheckpointError(f'{source}: torchvision has no weights named {name!r} '
                              f'(SwinV2: {", ".join(known)})')
    return url


def _hub():
    try:
        import huggingface_hub
        from huggingface_hub import constants
    except ImportError as e:
        raise CheckpointError('Hugging Face Hub checkpoints need huggingface_hub: pip install '
                              f'huggingface_hub ({e})') from e
    return huggingface_hub, constants


def hub_file(repo_id: str, filename: str, use_local: str = USE_LOCAL_INIT_CFG,
             required: bool = True) -> Optional[str]:
    """A file of a Hugging Face Hub repo: from the local cache if it is there, else
    downloaded (never while HF_HUB_OFFLINE is set). None when not `required` and absent."""
    hf, constants = _hub()
    cached = hf.try_to_load_from_cache(repo_id, filename)
    if isinstance(cached, str):
        return cached
    if constants.HF_HUB_OFFLINE:
        if not required:
            return None
        raise CheckpointError(
            f'{repo_id}/{filename} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) '
            'and HF_HUB_OFFLINE is set: unset it, or download the file where there is internet '
            f'(hf download {repo_id} {filename}) and {use_local}')
    try:
        return hf.hf_hub_download(repo_id, filename)
    except Exception as e:  # noqa: BLE001 - no network, no such repo or file, ...: one line
        if not required and 'NotFound' in type(e).__name__:
            return None
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(
            f'could not get {repo_id}/{filename} from the Hugging Face Hub ({type(e).__name__}: '
            f'{first}). Download it where there is internet (hf download {repo_id} {filename}) '
            f'and {use_local}') from e


def hub_model_file(repo_id: str, use_local: str = USE_LOCAL_INIT_CFG) -> str:
    """The weights of a Hub model repo (model.safetensors, else pytorch_model.bin), with its
    config.json beside them where the repo has one (it records the position-bias windows)."""
    hub_file(repo_id, 'config.json', use_local, required=False)
    for filename in ('model.safetensors', 'pytorch_model.bin'):
        path = hub_file(repo_id, filename, use_local, required=False)
        if path:
            return path
    # Neither cached (offline) nor on the Hub: the error names the file those repos have.
    return hub_file(repo_id, 'pytorch_model.bin', use_local)


def new_file_mode() -> int:
    """The mode a plain open() gives a new file: 0666 minus the umask. Files written to a
    temporary name (mkstemp, safetensors) start private (0600); they get this before they are
    renamed into place."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


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


def read_checkpoint(source: str, use_local: str = USE_LOCAL_INIT_CFG) -> RawCheckpoint:
    """Tensors from a path, folder, http(s) URL, `torchvision://` or `hf-hub:` id, or a known
    checkpoint name (zoo.py); safetensors or `torch.load(weights_only)`.
    `use_local`: what the download error tells the user to do with a local copy."""
    from .zoo import locate  # the name table downloads through this module
    located = locate(str(source), use_local)
    path = located.path
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
            # The restricted unpickler: tensors, plain containers and what an mmengine Runner
            # (or the official training scripts: their yacs config) saves beside the weights;
            # a pickle that would run code or build anything else is refused, never executed.
            obj = read_torch_file(path, map_location='cpu')
        except CheckpointReadError as e:
            raise CheckpointError(f'{e}. Accepted: {ACCEPTED}') from e
        state = _unwrap(obj, path)

    hf_config = None
    config_json = osp.join(osp.dirname(path), 'config.json')
    if osp.isfile(config_json):
        try:
            with open(config_json, encoding='utf-8') as f:
                hf_config = json.load(f)
        except (OSError, ValueError, RecursionError):  # not UTF-8, not JSON, too deep: ignored
            hf_config = None
    return RawCheckpoint(state, path, metadata, hf_config, located.weights)
