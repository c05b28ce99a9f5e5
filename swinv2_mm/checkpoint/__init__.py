"""Reading SwinV2 weight files of every public format (or by name) and mapping them to our
names."""
from .formats import Converted, convert, detect_format
from .io import CheckpointError, RawCheckpoint, read_checkpoint
from .loader import load_pretrained
from .zoo import ZOO, lookup

__all__ = ['CheckpointError', 'Converted', 'RawCheckpoint', 'ZOO', 'convert', 'detect_format',
           'load_pretrained', 'lookup', 'read_checkpoint']
