"""Training and testing entry points behind tools/ (mmdet and mmseg configs alike).

Not imported by `swinv2_mm/__init__.py`: `import swinv2_mm` stays free of mmdet/mmseg/mmcv.
"""
from .checkpoint_files import CheckpointFileError
from .checkpoint_safety import (UnsafeCheckpointError, runner_checkpoint_globals,
                                trusted_runner_checkpoints)
from .errors import ToolError
from .launch import (add_launch_args, build_runner, load_config, parse_launch_args,
                     prepare_test_config, prepare_train_config, run_test, run_train, task_of)

__all__ = ['CheckpointFileError', 'ToolError', 'UnsafeCheckpointError', 'add_launch_args',
           'build_runner', 'load_config', 'parse_launch_args', 'prepare_test_config',
           'prepare_train_config', 'run_test', 'run_train', 'runner_checkpoint_globals',
           'task_of', 'trusted_runner_checkpoints']
