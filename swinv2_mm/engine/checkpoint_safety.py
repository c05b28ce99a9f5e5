"""Loading the mmengine Runner's own checkpoints with `torch.load(weights_only=True)`.

torch >= 2.6 loads with `weights_only=True` by default, which refuses anything but tensors and
plain containers. mmengine 0.10.7 calls `torch.load` without `weights_only`, and the Runner's
checkpoints hold a few more objects (the message hub's `HistoryBuffer`s, the numpy arrays inside
them, numpy scalars), so `--resume` and `tools/test.py CONFIG CHECKPOINT` fail out of the box.

Rather than turning the safety off (`weights_only=False` or TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD,
which would run whatever a hostile file contains), we allow exactly the classes the Runner
pickles, for the duration of a train or test run. Any other global in a file is still refused.
"""
import contextlib
import pickle
from typing import Iterator, List

import numpy as np
import torch


def _numpy_globals() -> List[object]:
    """What numpy arrays, dtypes and scalars pickle as (names differ across numpy 1.x / 2.x)."""
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore
    found: List[object] = [_reconstruct, scalar, np.ndarray, np.dtype]
    # numpy >= 1.25 pickles a dtype as its class (numpy.dtypes.Float64DType, ...).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [getattr(dtypes, name) for name in dir(dtypes)
                  if name.endswith('DType') and isinstance(getattr(dtypes, name), type)]
    return found


def _history_buffer_getattr(obj, name: str):
    """The one use of `getattr` in a Runner checkpoint, and only that.

    A HistoryBuffer pickles its statistics methods (min, max, mean, current) as
    `builtins.getattr(<buffer>, 'min')`. Allowing the real getattr would let a file reach any
    attribute of any allowed object; this stand-in resolves HistoryBuffer methods only.
    """
    from mmengine.logging import HistoryBuffer
    if (isinstance(obj, HistoryBuffer) or obj is HistoryBuffer) and isinstance(name, str) \
            and not name.startswith('_') and callable(getattr(HistoryBuffer, name, None)):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({type(obj).__name__}, {name!r}); only HistoryBuffer '
        'statistics methods are allowed')


def runner_checkpoint_globals() -> List[object]:
    """The classes and functions an mmengine Runner checkpoint needs besides tensors."""
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'), *_numpy_globals()]


@contextlib.contextmanager
def trusted_runner_checkpoints() -> Iterator[None]:
    """Within this block, `torch.load(weights_only=True)` (torch's default) also accepts
    what the mmengine Runner writes into its checkpoints, and nothing else."""
    with torch.serialization.safe_globals(runner_checkpoint_globals()):
        yield


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint that holds something other than weights and Runner state."""


def explain_refused_checkpoint(path: str, err: BaseException) -> UnsafeCheckpointError:
    """A clear error for a checkpoint that `weights_only` loading refused."""
    # torch's message is long; its last informative line names the refused global.
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    first = next((ln for ln in lines if 'WeightsUnpickler error' in ln or 'Unsupported global'
                  in ln or 'unrecognized function' in ln), lines[0] if lines else type(err).__name__)
    return UnsafeCheckpointError(
        f'refused to load checkpoint {path!r}: it holds objects that are neither tensors nor '
        f'the mmengine Runner state this tool trusts ({first}). Checkpoints are read with '
        'torch.load(weights_only=True) so that a file cannot run code on load; only files '
        'written by the mmengine Runner (or plain state dicts) are accepted. If you produced '
        'this file yourself and trust it, re-save its tensors with torch.save(state_dict).')


def is_refused_load(err: BaseException) -> bool:
    """Whether an exception is torch's weights_only refusal (as opposed to e.g. a bad path)."""
    if isinstance(err, pickle.UnpicklingError):
        return True
    return isinstance(err, (RuntimeError, AttributeError)) and 'weights_only' in str(err)
