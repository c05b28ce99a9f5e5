"""A small COCO-format instance-segmentation dataset of coloured shapes, made on the spot.

Every image is drawn from a seed, so the same call writes the same files everywhere: the
embedded detection demo and the tests train and evaluate on it without any download. Each
class is one shape in one colour family (red discs, green squares, blue triangles, ...) on a
noisy background, so a small detector learns it in minutes on a CPU. Masks are the filled
polygons that the annotations store, so mask AP measures the model, not the rasteriser.

Layout written under `root` (the same as COCO's, with the split names chosen here):
    root/annotations/instances_{train,val}.json
    root/{train,val}/000000.png ...
"""
import argparse
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

# name, colour (RGB, varied by +-30 per image), polygon maker
CLASSES: Tuple[str, ...] = ('disc', 'square', 'triangle')
BASE_COLOURS: Dict[str, Tuple[int, int, int]] = {
    'disc': (220, 50, 50),
    'square': (50, 190, 60),
    'triangle': (60, 80, 230),
}
# What a full generation writes; a change here changes the data, so it is part of the stamp.
FORMAT_VERSION = 1


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """(K, 2) float vertices (x, y) of a shape centred at (cx, cy) with circumradius r."""
    if shape == 'disc':
        t = np.linspace(0, 2 * math.pi, 24, endpoint=False)
    elif shape == 'square':
        t = angle + np.arange(4) * (math.pi / 2) + math.pi / 4
    elif shape == 'triangle':
        t = angle + np.arange(3) * (2 * math.pi / 3) - math.pi / 2
    else:
        raise ValueError(f'unknown shape {shape!r}; known: {CLASSES}')
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _draw_image(rng: np.random.Generator, size: int, max_objects: int
                ) -> Tuple[np.ndarray, List[dict]]:
    """One image (H, W, 3) uint8 RGB and its objects (class index, polygon)."""
    import cv2

    # Smooth random background: low-resolution noise upsampled, plus pixel noise.
    low = rng.uniform(70, 170, size=(6, 6, 3)).astype(np.float32)
    img = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 8, size=img.shape).astype(np.float32)

    objects: List[dict] = []
    placed: List[Tuple[float, float, float]] = []
    wanted = int(rng.integers(1, max_objects + 1))
    for _ in range(wanted * 20):  # rejection sampling: shapes do not overlap
        if len(objects) == wanted:
            break
        r = float(rng.uniform(0.08, 0.2) * size)
        cx, cy = (float(v) for v in rng.uniform(r + 2, size - r - 2, size=2))
        if any(math.hypot(cx - x, cy - y) < r + q + 3 for x, y, q in placed):
            continue
        label = int(rng.integers(len(CLASSES)))
        shape = CLASSES[label]
        poly = _polygon(shape, cx, cy, r, float(rng.uniform(0, math.pi)))
        colour = np.clip(np.array(BASE_COLOURS[shape]) + rng.integers(-30, 31, size=3), 0, 255)
        cv2.fillPoly(img, [np.round(poly).astype(np.int32)], colour.tolist())
        placed.append((cx, cy, r))
        objects.append(dict(label=label, polygon=poly))
    return np.clip(img, 0, 255).astype(np.uint8), objects


def _coco_annotation(ann_id: int, image_id: int, label: int, poly: np.ndarray) -> dict:
    # Vertices as drawn (rounded), so the mask CocoMetric decodes is the painted shape.
    poly = np.round(poly)
    x0, y0 = poly.min(axis=0)
    x1, y1 = poly.max(axis=0)
    return dict(id=ann_id, image_id=image_id, category_id=label + 1, iscrowd=0,
                bbox=[float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1)],
                area=_polygon_area(poly),
                segmentation=[[float(v) for v in poly.reshape(-1)]])


def generate_split(root: str, split: str, num_images: int, seed: int, image_size: int = 160,
                   max_objects: int = 4) -> str:
    """Write `num_images` images and their COCO annotation file; return the file's path."""
    import cv2

    rng = np.random.default_rng(seed)
    img_dir = osp.join(root, split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        img, objects = _draw_image(rng, image_size, max_objects)
        file_name = f'{image_id:06d}.png'
        cv2.imwrite(osp.join(img_dir, file_name), img[:, :, ::-1])  # RGB -> BGR for cv2
        images.append(dict(id=image_id, file_name=file_name, height=image_size,
                           width=image_size))
        for obj in objects:
            annotations.append(_coco_annotation(len(annotations) + 1, image_id, obj['label'],
                                                obj['polygon']))
    coco = dict(
        info=dict(description='swinv2_mm synthetic shapes', version=str(FORMAT_VERSION)),
        images=images, annotations=annotations,
        categories=[dict(id=i + 1, name=name, supercategory='shape')
                    for i, name in enumerate(CLASSES)])
    ann_file = osp.join(root, 'annotations', f'instances_{split}.json')
    with open(ann_file, 'w', encoding='utf-8') as f:
        json.dump(coco, f)
    return ann_file


def generate_stamped(root: str, stamp: dict, splits: Dict[str, Tuple[int, int]],
                     image_size: int, force: bool = False) -> Dict[str, str]:
    """Write each split {name: (num_images, seed)} under `root` unless a generation with the
    same `stamp` (and this format version) is already there. Returns the annotation files by
    split."""
    stamp = dict(stamp, version=FORMAT_VERSION)
    stamp_file = osp.join(root, 'generated.json')
    files = {s: osp.join(root, 'annotations', f'instances_{s}.json') for s in splits}
    if not force and osp.isfile(stamp_file) and all(osp.isfile(f) for f in files.values()):
        with open(stamp_file, encoding='utf-8') as f:
            if json.load(f) == stamp:
                return files
    for split, (num_images, seed) in splits.items():
        generate_split(root, split, num_images, seed=seed, image_size=image_size)
    with open(stamp_file, 'w', encoding='utf-8') as f:
        json.dump(stamp, f)
    return files


def generate(root: str = 'data/synthetic_coco', num_train: int = 240, num_val: int = 40,
             image_size: int = 160, seed: int = 0, force: bool = False) -> Dict[str, str]:
    """Write the train and held-out (val) splits unless the same ones are already there.

    Returns the two annotation files by split. The splits use different seeds, so no
    held-out image is a training image.
    """
    stamp = dict(num_train=num_train, num_val=num_val, image_size=image_size, seed=seed)
    return generate_stamped(root, stamp, {'train': (num_train, seed * 2 + 1),
                                          'val': (num_val, seed * 2 + 2)}, image_size, force)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', default='data/synthetic_coco')
    parser.add_argument('--num-train', type=int, default=240)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--image-size', type=int, default=160)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='regenerate even if present')
    args = parser.parse_args(argv)
    files = generate(args.root, args.num_train, args.num_val, args.image_size, args.seed,
                     args.force)
    for split, path in files.items():
        print(f'{split}: {path}')


if __name__ == '__main__':
    main()
