"""Unlabeled images for SimMIM: a dataset over a folder of images of any sizes, and the
official SimMIM pipeline (microsoft/Swin-Transformer data/data_simmim_pt.py) as mmengine
transforms:

    LoadRGBImage -> SimMIMRandomResizedCrop(192, scale (0.67, 1), ratio (3/4, 4/3))
    -> SimMIMRandomFlip(0.5) -> SimMIMMaskGenerator(192, 32, 4, 0.6) -> PackSimMIMInputs

Normalisation (ImageNet mean/std) is the model's data preprocessor's job, as in OpenMMLab.
Everything here needs numpy and Pillow only; randomness is numpy's global generator, which
mmengine seeds per worker.
"""
import math
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.registry import DATASETS, TRANSFORMS
from mmengine.structures import BaseDataElement

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp')


class ImageDataError(ValueError):
    """An image folder or file that cannot be used; the message says which and what to do."""


@DATASETS.register_module()
class UnlabeledImageFolder(BaseDataset):
    """Every image under `data_root` (sub-folders included, e.g. an ImageNet-style
    train/<class>/ tree, whose class names are ignored), in sorted order. Any sizes and
    formats Pillow reads; labels none.

    Args:
        data_root: the folder of images.
        data_prefix: dict(img=SUBFOLDER) to read a sub-folder of data_root (default: all).
        extensions: file endings counted as images (case-insensitive).
        pipeline, and BaseDataset's other arguments (indices, serialize_data, ...).
    """

    def __init__(self, data_root: str = '', data_prefix: Optional[dict] = None,
                 pipeline: Sequence = (), extensions: Sequence[str] = IMAGE_EXTENSIONS,
                 **kwargs) -> None:
        if not data_root and not (data_prefix or {}).get('img'):
            raise ImageDataError('UnlabeledImageFolder: no data_root; set it to your folder of '
                                 'images, e.g. --cfg-options '
                                 'train_dataloader.dataset.data_root=/path/to/images')
        self.extensions = tuple(e.lower() for e in extensions)
        super().__init__(ann_file='', data_root=data_root,
                         data_prefix=dict(img='') if data_prefix is None else data_prefix,
                         pipeline=list(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        folder = self.data_prefix['img']
        if not osp.isdir(folder):
            raise ImageDataError(f'UnlabeledImageFolder: {folder} is not a folder; point '
                                 'data_root at a folder of images (any sizes, sub-folders '
                                 'included)')
        paths = []
        for root, dirs, files in os.walk(folder, followlinks=True):
            dirs.sort()
            paths += [osp.join(root, f) for f in sorted(files)
                      if f.lower().endswith(self.extensions) and not f.startswith('.')]
        if not paths:
            raise ImageDataError(f'UnlabeledImageFolder: no images ({", ".join(self.extensions)}'
                                 f') under {folder}; put your images there or point data_root '
                                 'at the folder that has them')
        return [dict(img_path=p) for p in paths]


@TRANSFORMS.register_module()
class LoadRGBImage:
    """results['img_path'] -> results['img'] (H, W, 3) uint8 RGB (any mode converted, as the
    official ImageFolder loader does)."""

    def __call__(self, results: dict) -> dict:
        from PIL import Image
        path = results['img_path']
        try:
            with Image.open(path) as image:
                img = np.asarray(image.convert('RGB'))
        except (OSError, ValueError, SyntaxError) as e:  # Pillow's ways of saying "not an image"
            raise ImageDataError(f'{path}: cannot be read as an image ({type(e).__name__}: '
                                 f'{e}); remove or replace the file') from e
        results['img'] = img
        results['ori_shape'] = img.shape[:2]
        return results


def _check_range(name: str, value, low: float, high: float) -> Tuple[float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) for v in value)
            and low < value[0] <= value[1] <= high):
        raise ValueError(f'{name}={value!r} must be (min, max) with {low} < min <= max <= {high}')
    return float(value[0]), float(value[1])


@TRANSFORMS.register_module()
class SimMIMRandomResizedCrop:
    """A random crop of `scale` of the image's area and aspect ratio in `ratio` (log-uniform),
    resized to size x size, bilinear (Pillow, antialiased): the crop of torchvision's
    RandomResizedCrop, which the official recipe uses. After 10 tries without a crop that
    fits, the largest centred crop whose ratio is within `ratio`."""

    def __init__(self, size: int = 192, scale: Sequence[float] = (0.67, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3)) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f'SimMIMRandomResizedCrop: size={size!r} must be an int >= 1')
        self.size = size
        self.scale = _check_range('SimMIMRandomResizedCrop: scale', scale, 0.0, 1.0)
        self.ratio = _check_range('SimMIMRandomResizedCrop: ratio', ratio, 0.0, math.inf)

    def crop_box(self, height: int, width: int) -> Tuple[int, int, int, int]:
        """(top, left, h, w) of the crop."""
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * np.random.uniform(*self.scale)
            aspect = math.exp(np.random.uniform(*log_ratio))
            w = int(round(math.sqrt(target * aspect)))
            h = int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return (int(np.random.randint(0, height - h + 1)),
                        int(np.random.randint(0, width - w + 1)), h, w)
        aspect = width / height
        if aspect < self.ratio[0]:
            w, h = width, int(round(width / self.ratio[0]))
        elif aspect > self.ratio[1]:
            w, h = int(round(height * self.ratio[1])), height
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, results: dict) -> dict:
        from PIL import Image
        img = results['img']
        top, left, h, w = self.crop_box(*img.shape[:2])
        crop = Image.fromarray(img[top:top + h, left:left + w])
        results['img'] = np.asarray(crop.resize((self.size, self.size), Image.BILINEAR))
        results['crop_box'] = (top, left, h, w)
        return results


@TRANSFORMS.register_module()
class SimMIMRandomFlip:
    """Horizontal flip with probability `prob`."""

    def __init__(self, prob: float = 0.5) -> None:
        if not isinstance(prob, (int, float)) or not 0.0 <= prob <= 1.0:
            raise ValueError(f'SimMIMRandomFlip: prob={prob!r} must be in [0, 1]')
        self.prob = float(prob)

    def __call__(self, results: dict) -> dict:
        flip = bool(np.random.rand() < self.prob)
        if flip:
            results['img'] = np.ascontiguousarray(results['img'][:, ::-1])
        results['flip'] = flip
        return results


@TRANSFORMS.register_module()
class SimMIMMaskGenerator:
    """SimMIM's random masking: the input_size² image in mask_patch_size² units, ceil(units ·
    mask_ratio) of them masked, as a token mask over the model's patches (1 = masked).

    Official defaults: 192 px, 32 px units, patch 4, ratio 0.6 -> 22 of 36 units masked,
    a 48 x 48 mask. Writes results['mask'] (int64 numpy array)."""

    def __init__(self, input_size: int = 192, mask_patch_size: int = 32,
                 model_patch_size: int = 4, mask_ratio: float = 0.6) -> None:
        for name, value in (('input_size', input_size), ('mask_patch_size', mask_patch_size),
                            ('model_patch_size', model_patch_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f'SimMIMMaskGenerator: {name}={value!r} must be an int >= 1')
        if input_size % mask_patch_size or mask_patch_size % model_patch_size:
            raise ValueError(
                f'SimMIMMaskGenerator: input_size={input_size} must be a multiple of '
                f'mask_patch_size={mask_patch_size}, and that of model_patch_size='
                f'{model_patch_size} (official: 192, 32, 4)')
        if not isinstance(mask_ratio, (int, float)) or not 0.0 <= mask_ratio <= 1.0:
            raise ValueError(f'SimMIMMaskGenerator: mask_ratio={mask_ratio!r} must be in [0, 1]')
        self.input_size = input_size
        self.units = input_size // mask_patch_size          # units per side
        self.scale = mask_patch_size // model_patch_size    # tokens per unit side
        self.num_masked = int(math.ceil(self.units**2 * mask_ratio))

    def generate(self, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        """One (tokens, tokens) mask; numpy's global generator unless `rng` is given."""
        order = rng.permutation(self.units**2) if rng is not None \
            else np.random.permutation(self.units**2)
        units = np.zeros(self.units**2, dtype=np.int64)
        units[order[:self.num_masked]] = 1
        units = units.reshape(self.units, self.units)
        return units.repeat(self.scale, axis=0).repeat(self.scale, axis=1)

    def __call__(self, results: dict) -> dict:
        shape = tuple(results['img'].shape[:2])
        if shape != (self.input_size, self.input_size):
            raise ValueError(f'SimMIMMaskGenerator: the image is {shape[0]}x{shape[1]} but the '
                             f'mask is for input_size={self.input_size}; crop to that size '
                             '(SimMIMRandomResizedCrop) before masking')
        results['mask'] = self.generate()
        return results


@TRANSFORMS.register_module()
class PackSimMIMInputs:
    """results -> dict(inputs=(3, H, W) uint8 tensor, data_samples=BaseDataElement(mask=
    (h, w) tensor, metainfo: img_path, ori_shape, ...))."""

    meta_keys = ('img_path', 'ori_shape', 'crop_box', 'flip')

    def __call__(self, results: dict) -> dict:
        img = results['img']
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = BaseDataElement(metainfo={k: results[k] for k in self.meta_keys
                                           if k in results})
        if 'mask' in results:
            sample.mask = torch.from_numpy(results['mask'])
        return dict(inputs=inputs, data_samples=sample)


def load_for_reconstruction(path: str, size: int) -> np.ndarray:
    """An image resized whole (no crop, no flip) to size x size RGB: what the reconstruction
    pictures show."""
    from PIL import Image
    img = LoadRGBImage()(dict(img_path=path))['img']
    return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))


__all__ = [
    'IMAGE_EXTENSIONS', 'ImageDataError', 'UnlabeledImageFolder', 'LoadRGBImage',
    'SimMIMRandomResizedCrop', 'SimMIMRandomFlip', 'SimMIMMaskGenerator', 'PackSimMIMInputs',
    'load_for_reconstruction']
