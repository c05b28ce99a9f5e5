"""SimMIM self-supervised pre-training for the SwinV2 backbone (docs/simmim.md).

`custom_imports=dict(imports=['swinv2_mm.selfsup'])` registers, in mmengine's root registries
(visible from every scope, as the backbone is):
  MODELS      SimMIM, SimMIMLinearDecoder, SimMIMReconstructionLoss
  DATASETS    UnlabeledImageFolder
  TRANSFORMS  LoadRGBImage, SimMIMRandomResizedCrop, SimMIMRandomFlip, SimMIMMaskGenerator,
              PackSimMIMInputs
The mask token itself is the backbone's (SwinTransformerV2(use_mask_token=True)), so the
backbone keys of a pre-training checkpoint are a detector's. Needs torch, mmengine, numpy and
Pillow only.
"""
from .. import models  # noqa: F401 - registers SwinTransformerV2
from .data import (IMAGE_EXTENSIONS, ImageDataError, LoadRGBImage, PackSimMIMInputs,
                   SimMIMMaskGenerator, SimMIMRandomFlip, SimMIMRandomResizedCrop,
                   UnlabeledImageFolder)
from .simmim import (SimMIM, SimMIMLinearDecoder, SimMIMReconstructionLoss, local_statistics,
                     normalise_target)

__all__ = ['IMAGE_EXTENSIONS', 'ImageDataError', 'LoadRGBImage', 'PackSimMIMInputs', 'SimMIM',
           'SimMIMLinearDecoder', 'SimMIMMaskGenerator', 'SimMIMRandomFlip',
           'SimMIMRandomResizedCrop', 'SimMIMReconstructionLoss', 'UnlabeledImageFolder',
           'local_statistics', 'normalise_target']
