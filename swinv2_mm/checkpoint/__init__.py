"""Reading SwinV2 weight files of every public format (or by name) and mapping them to our
names."""
from .formats import Converted, convert, detect_format
from .io import CheckpointError, RawCheckpoint, read_checkpoint
from .loader import load_pretrained
from .safe_pickle import (CheckpointReadError, DamagedCheckpointError, UnsafeCheckpointError,
                          read_torch_file)
from .zoo import ZOO, lookup

__all__ = ['CheckpointError', 'CheckpointReadError', 'Converted', 'DamagedCheckpointError',
           'RawCheckpoint', 'UnsafeCheckpointError', 'ZOO', 'convert', 'detect_format',
           'load_pretrained', 'lookup', 'read_checkpoint', 'read_torch_file']
