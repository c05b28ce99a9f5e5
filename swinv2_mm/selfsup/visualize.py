"""What a SimMIM model makes of masked images: pictures and the held-out reconstruction loss.

One row per image: input | masked (hidden units grey) | reconstruction (every pixel, as the
decoder outputs it) | the visible pixels with the masked units filled in by the
reconstruction. With the normalised target the decoder predicts locally normalised pixels;
they are drawn back in colour with the input's local mean and deviation.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.structures import BaseDataElement

from .data import SimMIMMaskGenerator, load_for_reconstruction
from .simmim import SimMIM, local_statistics


def fixed_masks(generator: SimMIMMaskGenerator, count: int, seed: int = 0) -> List[np.ndarray]:
    """The same `count` token masks on every call (held-out checks compare like with like)."""
    rng = np.random.default_rng(seed)
    return [generator.generate(rng) for _ in range(count)]


def _batch(model: SimMIM, images: Sequence[np.ndarray], masks: Sequence[np.ndarray]):
    data = dict(inputs=[torch.from_numpy(np.ascontiguousarray(i.transpose(2, 0, 1)))
                        for i in images],
                data_samples=[BaseDataElement(mask=torch.from_numpy(m)) for m in masks])
    data = model.data_preprocessor(data, training=False)
    return data['inputs'], model.masks_of(data['data_samples'])


def _visible_mean(model: SimMIM, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A reconstruction that knows nothing of space: every pixel the mean of the image's
    visible pixels (per channel), in the target's space."""
    target = model.reconstruction_loss.target(inputs)
    visible = 1 - model.pixel_mask(mask).to(target)
    mean = (target * visible).sum((2, 3), keepdim=True) / visible.sum((2, 3), keepdim=True)
    return mean.expand_as(target)


@torch.no_grad()
def held_out_loss(model: SimMIM, paths: Sequence[str], size: int,
                  generator: SimMIMMaskGenerator, seed: int = 0, batch_size: int = 8,
                  baseline: bool = False) -> float:
    """The model's SimMIM loss over `paths` (resized whole to size x size), with fixed masks:
    mean over images (each batch weighted by its images). baseline=True: the same loss for
    `_visible_mean` instead of the model's reconstruction, the bar a model must pass to have
    learnt anything about where things are."""
    was_training = model.training
    model.eval()
    masks = fixed_masks(generator, len(paths), seed)
    total = 0.0
    for i in range(0, len(paths), batch_size):
        images = [load_for_reconstruction(p, size) for p in paths[i:i + batch_size]]
        inputs, mask = _batch(model, images, masks[i:i + batch_size])
        if baseline:
            token_mask = model.token_mask(mask, inputs)
            loss = model.reconstruction_loss(_visible_mean(model, inputs, token_mask), inputs,
                                             model.pixel_mask(token_mask))
        else:
            loss, _ = model.loss_and_reconstruction(inputs, mask)
        total += float(loss) * len(images)
    model.train(was_training)
    return total / len(paths)


def _to_uint8(pixels: torch.Tensor, model: SimMIM) -> np.ndarray:
    """(3, H, W) normalised pixels -> (H, W, 3) uint8 RGB (undoing the data preprocessor)."""
    pre = model.data_preprocessor
    img = pixels * pre.std.to(pixels) + pre.mean.to(pixels)
    return img.clamp(0, 255).round().byte().permute(1, 2, 0).cpu().numpy()


@torch.no_grad()
def draw_reconstructions(model: SimMIM, paths: Sequence[str], out_file: str, size: int,
                         generator: SimMIMMaskGenerator, seed: int = 0) -> Dict[str, float]:
    """Write the picture (PNG, via a temporary file renamed when complete); return the
    held-out loss of these images with these masks and the masked pixels' mean absolute
    error in 0..255 RGB of the filled-in image."""
    from PIL import Image, ImageDraw
    was_training = model.training
    model.eval()
    images = [load_for_reconstruction(p, size) for p in paths]
    masks = fixed_masks(generator, len(paths), seed)
    inputs, mask = _batch(model, images, masks)
    loss, rec = model.loss_and_reconstruction(inputs, mask)
    rec = rec.float()
    loss_module = model.reconstruction_loss
    if loss_module.norm_target:
        mean, std = local_statistics(inputs.float(), loss_module.norm_target_window)
        rec = rec * std + mean
    pixel_mask = model.pixel_mask(mask).to(rec)  # (B, 1, H, W)
    filled = inputs * (1 - pixel_mask) + rec * pixel_mask
    grey = torch.zeros_like(inputs)  # the normalised mean colour
    masked = inputs * (1 - pixel_mask) + grey * pixel_mask
    model.train(was_training)

    columns = ('input', 'masked', 'reconstruction', 'visible + reconstructed')
    gap, header = 4, 14
    width = len(columns) * size + (len(columns) - 1) * gap
    canvas = Image.new('RGB', (width, header + len(paths) * (size + gap)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, name in enumerate(columns):
        draw.text((c * (size + gap) + 2, 1), name, fill=(0, 0, 0))
    errors = []
    for r in range(len(paths)):
        tiles = [images[r], _to_uint8(masked[r], model), _to_uint8(rec[r], model),
                 _to_uint8(filled[r], model)]
        m = pixel_mask[r, 0].bool().cpu().numpy()
        errors.append(np.abs(tiles[3].astype(np.float32) - images[r].astype(np.float32))[m])
        for c, tile in enumerate(tiles):
            canvas.paste(Image.fromarray(tile), (c * (size + gap), header + r * (size + gap)))
    folder = osp.dirname(osp.abspath(out_file))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(out_file)}.tmp-{os.getpid()}')
    try:
        canvas.save(tmp, format='PNG')
        os.replace(tmp, out_file)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return dict(loss=float(loss), masked_mae_rgb=float(np.concatenate(errors).mean()))


def image_paths(folder: str, limit: Optional[int] = None) -> List[str]:
    """The images of a folder as UnlabeledImageFolder lists them (sorted), the first `limit`."""
    from .data import UnlabeledImageFolder
    paths = [d['img_path'] for d in UnlabeledImageFolder(data_root=folder, lazy_init=True)
             .load_data_list()]
    return paths[:limit] if limit else paths
