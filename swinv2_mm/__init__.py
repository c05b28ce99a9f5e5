"""Swin Transformer V2 for OpenMMLab.

`custom_imports=dict(imports=['swinv2_mm'], allow_failed_imports=False)` imports this package
before mmdet's / mmseg's tools and inference APIs build anything or read a checkpoint. What the
import changes in the process (docs/migration.md#what-importing-swinv2_mm-changes):

- `SwinTransformerV2` is registered in mmengine's root MODELS registry, which the mmdet and
  mmseg registries look up as their parent (and the layer-decay constructor in the root
  OPTIM_WRAPPER_CONSTRUCTORS);
- torch's `weights_only` allow-list gains the few globals an mmengine Runner checkpoint holds
  (engine/checkpoint_safety.py), so every `torch.load` of the process reads Runner
  checkpoints, as torch >= 2.6 refuses them otherwise; a file holding anything else is still
  refused and nothing in it runs.

Importing this package pulls in torch and mmengine only.
"""
from .engine.checkpoint_safety import install_runner_checkpoint_allowlist
from .models import SwinTransformerV2
# Registers SwinV2LayerDecayOptimWrapperConstructor (layer-wise lr decay) in mmengine's root
# OPTIM_WRAPPER_CONSTRUCTORS, which mmdet's and mmseg's registries look up.
from .optim import SwinV2LayerDecayOptimWrapperConstructor

install_runner_checkpoint_allowlist()

__version__ = '0.1.0'
__all__ = ['SwinTransformerV2', 'SwinV2LayerDecayOptimWrapperConstructor', '__version__']
