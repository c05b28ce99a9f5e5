"""Swin Transformer V2 for OpenMMLab.

`custom_imports=dict(imports=['swinv2_mm'], allow_failed_imports=False)` registers the
`SwinTransformerV2` backbone in mmengine's root MODELS registry, which the mmdet and mmseg
registries look up as their parent. Importing this package pulls in torch and mmengine only.
"""
from .models import SwinTransformerV2
# Registers SwinV2LayerDecayOptimWrapperConstructor (layer-wise lr decay) in mmengine's root
# OPTIM_WRAPPER_CONSTRUCTORS, which mmdet's and mmseg's registries look up.
from .optim import SwinV2LayerDecayOptimWrapperConstructor

__version__ = '0.1.0'
__all__ = ['SwinTransformerV2', 'SwinV2LayerDecayOptimWrapperConstructor', '__version__']
