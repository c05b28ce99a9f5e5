"""Swin Transformer V2 for OpenMMLab.

`custom_imports=dict(imports=['swinv2_mm'], allow_failed_imports=False)` imports this package
before mmdet's / mmseg's tools and inference APIs build anything or read a checkpoint. What the
import changes in the process (docs/migration.md#what-importing-swinv2_mm-changes):

- `SwinTransformerV2` is registered in mmengine's root MODELS registry, which the mmdet and
  mmseg registries look up as their parent (and the layer-decay constructor in the root
  OPTIM_WRAPPER_CONSTRUCTORS);
- mmengine's checkpoint loading (its local and http(s) schemes: `load_checkpoint`,
  `_load_checkpoint`, `Runner.load_or_resume`, the inferencers) reads files with our
  restricted unpickler (engine/checkpoint_safety.py, checkpoint/safe_pickle.py), so Runner
  checkpoints load under torch >= 2.6 and a file can neither run code nor touch memory or
  state. torch's own allow-list is left as torch ships it.

Importing this package pulls in torch and mmengine only.
"""
from .engine.checkpoint_safety import register_checkpoint_loaders
from .models import SwinTransformerV2
# Registers SwinV2LayerDecayOptimWrapperConstructor (layer-wise lr decay) in mmengine's root
# OPTIM_WRAPPER_CONSTRUCTORS, which mmdet's and mmseg's registries look up.
from .optim import SwinV2LayerDecayOptimWrapperConstructor

register_checkpoint_loaders()

__version__ = '0.1.0'
__all__ = ['SwinTransformerV2', 'SwinV2LayerDecayOptimWrapperConstructor', '__version__']
