"""mmengine's checkpoint loading reads Runner checkpoints safely, and nothing else changes.

torch >= 2.6 loads with `weights_only=True` by default, which refuses the objects an mmengine
Runner pickles beside the weights (the message hub's `HistoryBuffer`s and their numpy arrays,
numpy scalars); mmengine 0.10.7 calls `torch.load` without the argument, so mmdet's
`init_detector` / `DetInferencer`, mmseg's `init_model` / `MMSegInferencer`, `--resume`,
`load_from` and `tools/test.py CONFIG CHECKPOINT` fail on the checkpoints their own tools wrote.

`register_checkpoint_loaders()` (run by `import swinv2_mm`, i.e. by a config's `custom_imports`)
registers our readers for mmengine's local and http(s) schemes with mmengine's own
`CheckpointLoader.register_scheme`: every loading that goes through mmengine's
`CheckpointLoader` (`load_checkpoint`, `_load_checkpoint`, `Runner.load_or_resume`,
`load_from`, the inferencers) reads files with the restricted unpickler of
checkpoint/safe_pickle.py. Nothing else in the process changes: torch's global allow-list stays
as torch ships it, so a plain `torch.load` anywhere else still refuses numpy arrays and
HistoryBuffers. The other schemes (`torchvision://`, `open-mmlab://`, ...) keep mmengine's
loaders: they fetch published weights, which torch's own `weights_only` reads.
"""
import os
import os.path as osp

from ..checkpoint.safe_pickle import (CheckpointReadError, DamagedCheckpointError,
                                      UnsafeCheckpointError, read_torch_file)

__all__ = ['CheckpointReadError', 'DamagedCheckpointError', 'UnsafeCheckpointError',
           'load_from_http', 'load_from_local', 'register_checkpoint_loaders']


# The names matter: mmengine logs "Loads checkpoint by {name[10:]} backend".
def load_from_local(filename, map_location=None):
    """mmengine's local scheme, reading with the restricted unpickler."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')  # mmengine's own message
    return read_torch_file(filename, map_location)


def load_from_http(filename, map_location=None, model_dir=None, progress=os.isatty(0)):
    """mmengine's http(s) scheme: downloaded once into torch's hub cache (rank 0 first, as
    mmengine does), then read with the restricted unpickler."""
    from mmengine.dist import barrier, get_dist_info

    from ..checkpoint.io import USE_LOCAL_INIT_CFG, download_to_cache
    rank, world_size = get_dist_info()
    if rank == 0:
        path = download_to_cache(filename, USE_LOCAL_INIT_CFG, model_dir, progress)
    if world_size > 1:
        barrier()
        if rank > 0:
            path = download_to_cache(filename, USE_LOCAL_INIT_CFG, model_dir, progress)
    return read_torch_file(path, map_location)


def register_checkpoint_loaders() -> None:
    """Route mmengine's local and http(s) checkpoint loading through our reader. Idempotent."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    CheckpointLoader.register_scheme(prefixes=('http://', 'https://'), loader=load_from_http,
                                     force=True)
