"""Check a checkpoint before fine-tuning on it: classify images with its own ImageNet head.

Any format with a classifier (official, SimMIM fine-tuned, timm, transformers, mmpretrain,
torchvision) or a name from docs/model_zoo.md; the backbone is configured from what the file
and its name say (arch from the tensors' shapes, windows from the coordinate tables, the
transformers config.json or the name table), the head is the file's own. Labels are timm's
ImageNet class names (1K or 22K by the head's size).
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from ..checkpoint.formats import convert
from ..checkpoint.io import CheckpointError, read_checkpoint
from ..checkpoint.loader import (checked_int, expected_pretrained_windows, infer_arch,
                                 load_converted, pretrained_window_of_table)
from ..models.classifier import SwinV2Classifier
from .errors import ToolError

# The normalisation every SwinV2 release was trained with (timm's IMAGENET_DEFAULT_*).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# timm's ImageNet label sets by the number of classes a head has.
_SUBSETS = {1000: 'imagenet-1k', 21841: 'imagenet-22k', 21843: 'imagenet-21k-goog',
            11221: 'imagenet-21k-miil', 11821: 'imagenet-12k'}


@dataclass
class Classifier:
    model: SwinV2Classifier
    labels: List[str]
    image_size: int
    description: str  # one line: what was loaded and how it is configured


def _windows(raw, conv, num_stages: int, window: Optional[int]) -> Tuple[list, list]:
    """(window_size, pretrained_window_sizes) per stage the checkpoint runs with."""
    expected = expected_pretrained_windows(raw, conv)
    pretrained = [expected.get(s, 0) for s in range(num_stages)]
    if window is not None:
        return [window] * num_stages, pretrained
    tables = {}
    for (stage, _), table in sorted(conv.coords_tables.items()):
        tables.setdefault(stage, pretrained_window_of_table(table)[0])
    if len(tables) == num_stages:  # the windows each stage ran with, clipping included
        return [tables[s] for s in range(num_stages)], pretrained
    hf_config = raw.hf_config if isinstance(raw.hf_config, dict) else {}
    trained = hf_config.get('window_size') or getattr(raw.weights, 'window_size', None)
    if trained:
        return [checked_int(trained, 'config.json window_size', raw.source)] * num_stages, \
            pretrained
    raise CheckpointError(f'{raw.source} does not record the window it was trained with: pass '
                          '--window W (for a timm file, the number after "window" in its name)')


def _image_size(raw, size: Optional[int]) -> int:
    if size:
        return size
    hf_size = (raw.hf_config if isinstance(raw.hf_config, dict) else {}).get('image_size')
    if isinstance(hf_size, (list, tuple)) and hf_size:
        hf_size = hf_size[0]
    size = hf_size or getattr(raw.weights, 'img_size', None) or 256
    return checked_int(size, 'config.json image_size', raw.source, hi=65536)


def imagenet_labels(num_classes: int, hf_config: Optional[dict] = None) -> List[str]:
    """Class names: a transformers config's id2label, else timm's ImageNet names for a 1K or
    22K head, else 'class i'."""
    id2label = hf_config.get('id2label') if isinstance(hf_config, dict) else None
    if isinstance(id2label, dict) and len(id2label) == num_classes:
        return [str(id2label.get(str(i), id2label.get(i, f'class {i}'))) for i in
                range(num_classes)]
    subset = _SUBSETS.get(num_classes)
    if subset:
        try:
            from timm.data import ImageNetInfo
            info = ImageNetInfo(subset)
            return [info.index_to_description(i) for i in range(num_classes)]
        except ImportError:
            pass
    return [f'class {i}' for i in range(num_classes)]


def build_classifier(checkpoint: str, window: Optional[int] = None,
                     image_size: Optional[int] = None) -> Classifier:
    """The checkpoint's whole classifier (backbone, final norm, head), in eval mode."""
    raw = read_checkpoint(checkpoint, use_local='pass the local file as --checkpoint')
    conv = convert(raw)
    if conv.unknown:
        raise CheckpointError(f'{raw.source} ({conv.format} format) has weights a SwinV2 '
                              f'classifier has no place for: {conv.unknown[:8]}')
    if 'weight' not in conv.head:
        raise CheckpointError(
            f'{raw.source} ({conv.format} format) has no classification head (a SimMIM '
            'pre-training checkpoint, a converted backbone or a detector has none): give a '
            'classifier checkpoint')
    arch = infer_arch(conv.state_dict)
    depths = arch['depths']
    windows, pretrained = _windows(raw, conv, len(depths), window)
    head = conv.head['weight']
    model = SwinV2Classifier(
        head.shape[0], embed_dims=arch['embed_dims'], depths=depths,
        num_heads=arch['num_heads'], mlp_ratio=arch['mlp_ratio'],
        patch_size=arch['patch_size'], in_channels=arch['in_channels'],
        window_size=windows, pretrained_window_sizes=pretrained)
    load_converted(model.backbone, raw, conv, logger='silent')
    with torch.no_grad():
        model.head.weight.copy_(head)
        model.head.bias.copy_(conv.head.get('bias', torch.zeros(head.shape[0])))
    name = getattr(raw.weights, 'name', None)
    size = _image_size(raw, image_size)
    description = (f'{raw.source}{f" ({name})" if name else ""}: {conv.format} format, '
                   f'{head.shape[0]} classes, embed_dims={arch["embed_dims"]}, depths={depths}, '
                   f'window_size={windows}, pretrained_window_sizes={pretrained}, '
                   f'input {size}x{size}')
    return Classifier(model.eval(), imagenet_labels(head.shape[0], raw.hf_config), size,
                      description)


def load_image(path: str, size: int) -> Tensor:
    """(3, size, size): RGB, bicubic resize to size x size, ImageNet normalisation (the
    transformers image processor of the SwinV2 model cards)."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as img:
            img = img.convert('RGB').resize((size, size), Image.Resampling.BICUBIC)
    except (OSError, UnidentifiedImageError) as e:
        raise ToolError(f'{path}: cannot be read as an image ({e.__class__.__name__}: '
                        f'{str(e).splitlines()[0] if str(e) else ""})') from e
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (x - mean) / std


def classify(classifier: Classifier, images: Sequence[str],
             topk: int = 5) -> List[List[Tuple[int, str, float]]]:
    """Per image, the top-k (class index, label, probability)."""
    batch = torch.stack([load_image(p, classifier.image_size) for p in images])
    with torch.no_grad():
        probs = classifier.model(batch).softmax(dim=-1)
    top = probs.topk(min(topk, probs.shape[1]), dim=-1)
    return [[(int(i), classifier.labels[int(i)], float(p)) for p, i in zip(ps, ix)]
            for ps, ix in zip(top.values, top.indices)]
