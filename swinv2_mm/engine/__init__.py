"""Training and testing entry points behind tools/ (mmdet and mmseg configs alike).

`import swinv2_mm` imports checkpoint_safety from here to register mmengine's checkpoint
loaders, and must stay light (torch and mmengine only). So this package's names are
resolved lazily (PEP 562): the launch code, and the mmdet/mmseg/mmcv it imports inside its
functions, load on first use, not with the package.
"""
import importlib

# name -> submodule that defines it
_EXPORTS = {
    'CheckpointFileError': 'checkpoint_files',
    'CheckpointReadError': 'checkpoint_safety',
    'DamagedCheckpointError': 'checkpoint_safety',
    'UnsafeCheckpointError': 'checkpoint_safety',
    'register_checkpoint_loaders': 'checkpoint_safety',
    'ToolError': 'errors',
    **{name: 'launch' for name in (
        'add_launch_args', 'build_runner', 'load_config', 'parse_launch_args',
        'prepare_test_config', 'prepare_train_config', 'run_test', 'run_train', 'task_of')},
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(f'.{_EXPORTS[name]}', __name__), name)
    globals()[name] = value  # resolved once
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
