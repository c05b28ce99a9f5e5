"""A small ADE20K-format segmentation dataset drawn from a seed (no downloads).

Layout and conventions are ADE20K's (`ADEChallengeData2016`), so mmseg reads it exactly as
it reads the real data:

    ROOT/ADEChallengeData2016/images/{training,validation}/ade_shapes_NNNNN.jpg
    ROOT/ADEChallengeData2016/annotations/{training,validation}/ade_shapes_NNNNN.png

Label PNGs are single-channel uint8 with ADE's reduce-zero-label convention: 0 is
"other / unlabelled" (ignored after `reduce_zero_label=True` maps it to 255) and classes
1..N become 0..N-1. As in ADE, unlabelled pixels appear as thin rings around objects and as
clutter of no class.

Each scene: a `wall` (vertical gradient) above a `floor` (checkerboard), then 1-3 objects
(`disc`, `box`, `roof` triangle) with jittered colours, JPEG-compressed. Every image is drawn
from `np.random.default_rng((seed, split, index))`, so the data does not depend on the order
or number of images generated.

    python -m swinv2_mm.demo.ade_shapes [--root data/synthetic_ade] [--force]
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, Tuple

import numpy as np
from PIL import Image

CLASSES = ('wall', 'floor', 'disc', 'box', 'roof')
# Colour overlays use this palette (RGB), one per class.
PALETTE = ((120, 120, 120), (80, 50, 50), (6, 230, 230), (204, 5, 255), (255, 82, 0))
# Base RGB colours of the classes in the images (jittered per image and per pixel).
_BASE_COLOURS = {
    'wall': (170, 160, 140),
    'floor': (90, 70, 50),
    'disc': (40, 170, 210),
    'box': (200, 60, 60),
    'roof': (70, 160, 60),
}
DEFAULT_ROOT = 'data/synthetic_ade'
SPLITS = {'training': 0, 'validation': 1}
_VERSION = 1  # bump when the drawing changes, so stale data is regenerated


def _label(name: str) -> int:
    """ADE-style label value of a class in the PNG (1..N; 0 is 'other')."""
    return CLASSES.index(name) + 1


def _jitter(rng: np.random.Generator, colour, amount: float = 25.0) -> np.ndarray:
    return np.clip(np.asarray(colour, np.float32) + rng.uniform(-amount, amount, 3), 0, 255)


def _object_mask(kind: str, rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray,
                 height: int, width: int) -> np.ndarray:
    size = rng.uniform(0.15, 0.35) * min(height, width)
    cy = rng.uniform(size, height - size)
    cx = rng.uniform(size, width - size)
    if kind == 'disc':
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= size ** 2
    if kind == 'box':
        hh, hw = size * rng.uniform(0.6, 1.0), size * rng.uniform(0.6, 1.0)
        return (np.abs(yy - cy) <= hh) & (np.abs(xx - cx) <= hw)
    # 'roof': upward triangle with apex above the centre and a horizontal base below it
    top, bottom = cy - size, cy + size * 0.8
    half = (yy - top) / (bottom - top) * size
    return (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)


def _ring(mask: np.ndarray) -> np.ndarray:
    """Pixels just outside `mask` (4-neighbourhood dilation minus the mask)."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown & ~mask


def draw_scene(rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """One (RGB uint8 H x W x 3 image, uint8 H x W ADE label map) pair."""
    height, width = (int(v) for v in rng.integers(112, 177, size=2))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width, 3), np.float32)
    label = np.zeros((height, width), np.uint8)

    horizon = int(height * rng.uniform(0.45, 0.7))
    wall = _jitter(rng, _BASE_COLOURS['wall'])
    shade = (1.0 - 0.35 * yy[:horizon] / max(horizon, 1))[..., None]
    image[:horizon] = wall * shade
    label[:horizon] = _label('wall')
    floor = _jitter(rng, _BASE_COLOURS['floor'])
    tile = int(rng.integers(6, 14))
    checker = ((yy[horizon:] // tile + xx[horizon:] // tile) % 2)[..., None]
    image[horizon:] = floor * (0.8 + 0.3 * checker)
    label[horizon:] = _label('floor')

    # Clutter of no class: ADE's "other" (0), ignored in training and evaluation.
    for _ in range(int(rng.integers(0, 3))):
        r = rng.uniform(4, 10)
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        blob = ((yy - cy) / r) ** 2 + ((xx - cx) / (r * rng.uniform(0.5, 2))) ** 2 <= 1
        image[blob] = rng.uniform(0, 255, 3)
        label[blob] = 0

    for _ in range(int(rng.integers(1, 4))):
        kind = ('disc', 'box', 'roof')[int(rng.integers(0, 3))]
        mask = _object_mask(kind, rng, yy, xx, height, width)
        image[mask] = _jitter(rng, _BASE_COLOURS[kind])
        label[mask] = _label(kind)
        # ADE leaves thin unlabelled seams between objects; so do we.
        label[_ring(mask)] = 0

    image += rng.normal(0.0, 6.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), label


def _complete(root: str, expected: Dict) -> bool:
    path = osp.join(root, 'ade_shapes.json')
    if not osp.isfile(path):
        return False
    with open(path) as f:
        return json.load(f) == expected


def generate(root: str = DEFAULT_ROOT, num_train: int = 240, num_val: int = 48,
             seed: int = 0, force: bool = False) -> str:
    """Write the dataset under `root`/ADEChallengeData2016 (skipped when already there with
    the same parameters); returns that data root."""
    if num_train < 1 or num_val < 1:
        raise ValueError(f'need at least one image per split, got {num_train}, {num_val}')
    data_root = osp.join(root, 'ADEChallengeData2016')
    expected = dict(version=_VERSION, num_train=num_train, num_val=num_val, seed=seed,
                    classes=list(CLASSES))
    if not force and _complete(data_root, expected):
        return data_root
    for split, count in (('training', num_train), ('validation', num_val)):
        img_dir = osp.join(data_root, 'images', split)
        ann_dir = osp.join(data_root, 'annotations', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for stale in os.listdir(img_dir) + os.listdir(ann_dir):
            if stale.startswith('ade_shapes_'):
                for d in (img_dir, ann_dir):
                    if osp.exists(osp.join(d, stale)):
                        os.remove(osp.join(d, stale))
        for index in range(count):
            rng = np.random.default_rng((seed, SPLITS[split], index))
            image, label = draw_scene(rng)
            name = f'ade_shapes_{index:05d}'
            Image.fromarray(image).save(osp.join(img_dir, name + '.jpg'), quality=92)
            Image.fromarray(label).save(osp.join(ann_dir, name + '.png'))
    # Written last: its presence means the whole set is there.
    with open(osp.join(data_root, 'ade_shapes.json'), 'w') as f:
        json.dump(expected, f)
    return data_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default=DEFAULT_ROOT)
    parser.add_argument('--num-train', type=int, default=240)
    parser.add_argument('--num-val', type=int, default=48)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='regenerate even if present')
    args = parser.parse_args()
    print(generate(args.root, args.num_train, args.num_val, args.seed, args.force))


if __name__ == '__main__':
    main()
