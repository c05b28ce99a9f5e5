"""Reading SwinV2 weight files of every public format and mapping them to our names."""
from .formats import Converted, convert, detect_format
from .io import CheckpointError, RawCheckpoint, read_checkpoint
from .loader import load_pretrained

__all__ = ['CheckpointError', 'Converted', 'RawCheckpoint', 'convert', 'detect_format',
           'load_pretrained', 'read_checkpoint']
