"""Loading the mmengine Runner's own checkpoints with `torch.load(weights_only=True)`,
in every entry point of the process, not only in this package's tools.

torch >= 2.6 loads with `weights_only=True` by default, which refuses anything but tensors and
plain containers. mmengine 0.10.7 calls `torch.load` without `weights_only`, and the Runner's
checkpoints hold a few more objects (the message hub's `HistoryBuffer`s, the numpy arrays inside
them, numpy scalars), so mmdet's `init_detector` / `DetInferencer`, mmseg's `init_model` /
`MMSegInferencer`, `--resume` and `tools/test.py CONFIG CHECKPOINT` of every OpenMMLab tool
fail out of the box.

Rather than turning the safety off (`weights_only=False` or TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD,
which would run whatever a hostile file contains), `install_runner_checkpoint_allowlist()`
adds exactly the globals the Runner pickles to torch's process-wide allow-list
(`torch.serialization.add_safe_globals`). `import swinv2_mm` calls it, and a config's
`custom_imports` imports the package before any checkpoint is read, so every `torch.load` of
the process accepts Runner checkpoints; any other global in a file is still refused and
nothing in it runs.

Each entry is registered as a (object, 'module.name') pair: torch's `safe_globals` context
manager removes on exit the very entries it added, so someone else's
`with safe_globals([HistoryBuffer]):` leaves our pair in place.
"""
import contextlib
import pickle
from typing import Iterator, List, Tuple

import numpy as np
import torch


def _full_name(obj) -> str:
    return f'{obj.__module__}.{obj.__qualname__}'


def _numpy_globals() -> List[Tuple[object, str]]:
    """What numpy arrays, dtypes and scalars pickle as. numpy 2 writes
    `numpy._core.multiarray.*`, numpy 1.x `numpy.core.multiarray.*`: a checkpoint written in
    an environment with numpy 1.x loads here too."""
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore
    found = [(fn, f'{module}.multiarray.{fn.__name__}') for fn in (_reconstruct, scalar)
             for module in ('numpy.core', 'numpy._core')]
    found += [(np.ndarray, 'numpy.ndarray'), (np.dtype, 'numpy.dtype')]
    # numpy >= 1.25 pickles a dtype as its class (numpy.dtypes.Float64DType, ...).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [(cls, _full_name(cls)) for cls in
                  (getattr(dtypes, name) for name in dir(dtypes) if name.endswith('DType'))
                  if isinstance(cls, type)]
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
    owner = obj.__name__ if isinstance(obj, type) else type(obj).__name__
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({owner}, {name!r}); only HistoryBuffer statistics '
        'methods are allowed')


def runner_checkpoint_globals() -> List[Tuple[object, str]]:
    """The classes and functions an mmengine Runner checkpoint needs besides tensors, as
    (object, the name a pickle refers to it by)."""
    from mmengine.logging import HistoryBuffer
    return [(HistoryBuffer, _full_name(HistoryBuffer)),
            (_history_buffer_getattr, 'builtins.getattr'), *_numpy_globals()]


def install_runner_checkpoint_allowlist() -> None:
    """Make every `torch.load(weights_only=True)` of this process (torch's default, and what
    mmengine's loaders call) accept what the mmengine Runner writes into its checkpoints, and
    nothing else. Idempotent; `import swinv2_mm` calls it."""
    missing = set(runner_checkpoint_globals()) - set(torch.serialization.get_safe_globals())
    if missing:
        torch.serialization.add_safe_globals(sorted(missing, key=lambda g: g[1]))


@contextlib.contextmanager
def trusted_runner_checkpoints() -> Iterator[None]:
    """Within this block, `torch.load(weights_only=True)` accepts Runner checkpoints.

    Since the allow-list is installed process-wide on import, this only re-installs it (in
    case something cleared torch's list) and, unlike `torch.serialization.safe_globals`,
    leaves it in place on exit."""
    install_runner_checkpoint_allowlist()
    yield


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint that holds something other than weights and Runner state."""


def explain_refused_checkpoint(path: str, err: BaseException) -> UnsafeCheckpointError:
    """A clear error for a checkpoint that `weights_only` loading refused."""
    # torch's message is long; its last informative line names the refused global.
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    first = next((ln for ln in lines if _names_disallowed(ln)),
                 lines[0] if lines else type(err).__name__)
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


# What torch's weights_only unpickler (and the getattr stand-in above) say when a file asks
# for something outside the allow-list, as opposed to bytes that are no pickle at all.
_DISALLOWED = ('unsupported global', 'unrecognized function', 'is blocked',
               'can only create new object', 'can only build', 'checkpoint asks for getattr')


def _names_disallowed(text: str) -> bool:
    return any(m in text.lower() for m in _DISALLOWED)


def asks_for_disallowed_objects(err: BaseException) -> bool:
    """Whether a refused load was refused for what the file holds (a function to call, a
    class), e.g. a hostile pickle in torch's legacy (non-zip) format, rather than damage."""
    return isinstance(err, pickle.UnpicklingError) and _names_disallowed(str(err))
