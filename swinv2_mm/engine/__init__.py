"""Training and testing entry points behind tools/ (mmdet and mmseg configs alike).

Free of mmdet/mmseg/mmcv at import (they are imported inside the functions that need them):
`swinv2_mm/__init__.py` imports checkpoint_safety from here to install the Runner-checkpoint
allow-list, and `import swinv2_mm` must stay light.
"""
from .checkpoint_files import CheckpointFileError
from .checkpoint_safety import (UnsafeCheckpointError, install_runner_checkpoint_allowlist,
                                runner_checkpoint_globals, trusted_runner_checkpoints)
from .errors import ToolError
from .launch import (add_launch_args, build_runner, load_config, parse_launch_args,
                     prepare_test_config, prepare_train_config, run_test, run_train, task_of)

__all__ = ['CheckpointFileError', 'ToolError', 'UnsafeCheckpointError', 'add_launch_args',
           'build_runner', 'install_runner_checkpoint_allowlist', 'load_config',
           'parse_launch_args', 'prepare_test_config', 'prepare_train_config', 'run_test',
           'run_train', 'runner_checkpoint_globals', 'task_of', 'trusted_runner_checkpoints']
