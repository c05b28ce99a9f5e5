"""The memory of one training step of an mmdet or mmseg config, measured on this machine
(tools/step_memory.py): the model the config builds (random weights, no checkpoint download),
one synthetic batch at a fixed size, one `train_step` as the Runner runs it (data
preprocessor, losses, backward, the config's optimizer wrapper and its constructor).

On a CPU the figure is the process's resident-set high-water mark (VmHWM) against the resident
set before the step: what the step itself added — activations kept for the backward (with_cp
keeps one map per block), gradients, the optimizer's state — plus the weights already there.
It is an estimate of a GPU's need, not a GPU measurement: the kernels differ (on CUDA the
attention runs through memory-efficient SDPA kernels, on CPU through this package's own
backward), and CUDA's caching allocator adds fragmentation."""
import json
import os
import time
from typing import Optional

import numpy as np
import torch

from .errors import ToolError
from .launch import load_config, task_of


def _rss_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise ToolError(f'/proc/self/status has no {field}: memory can only be measured on Linux')


def _det_batch(batch: int, size, stuff_label: Optional[int] = None):
    """size: an int (square) or (height, width). stuff_label: for panoptic heads, the
    semantic map's label of the background (mmdet's convention: things 0..T-1 there too,
    stuff T.., 255 void)."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData, PixelData
    h, w = (size, size) if isinstance(size, int) else size
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(batch):
        boxes = torch.tensor([[0.1, 0.1, 0.4, 0.5], [0.5, 0.3, 0.9, 0.8], [0.2, 0.6, 0.35, 0.9]])
        boxes = boxes * torch.tensor([w, h, w, h])
        masks = np.zeros((len(boxes), h, w), dtype=np.uint8)
        for m, (x0, y0, x1, y1) in zip(masks, boxes.int().tolist()):
            m[y0:y1, x0:x1] = 1
        sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                             scale_factor=(1.0, 1.0)))
        labels = torch.tensor([0, 1, 2])
        sample.gt_instances = InstanceData(bboxes=boxes, labels=labels,
                                           masks=BitmapMasks(masks, h, w))
        if stuff_label is not None:
            sem = torch.full((1, h, w), stuff_label, dtype=torch.long)
            for m, label in zip(masks, labels):
                sem[0][torch.from_numpy(m).bool()] = label
            sample.gt_sem_seg = PixelData(sem_seg=sem)
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _seg_batch(batch: int, size: int, num_classes: int):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                             pad_shape=(size, size)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, size, size),
                                                         generator=g))
        inputs.append(torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def build_train_step(config: str, size, batch: int = 1, cfg_options: Optional[dict] = None):
    """What a training step of `config` needs, as the Runner builds it: the loaded config,
    its task, the model (random weights: no checkpoint download), the config's optimizer
    wrapper and a synthetic batch of `batch` images (size: an int, or (height, width) for
    mmdet configs)."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope, init_default_scope
    cfg = load_config(config, cfg_options)
    task = task_of(cfg)
    if task not in ('mmdet', 'mmseg'):
        raise ToolError(f'{config}: a detection (mmdet) or segmentation (mmseg) config is '
                        f'needed, not {task!r}')
    init_default_scope(task)
    if task == 'mmdet':
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
    else:
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    import swinv2_mm  # noqa: F401 - the config's custom_imports, as the Runner does
    model_cfg = cfg.model.copy()
    if isinstance(model_cfg.get('backbone'), dict):
        model_cfg.backbone.init_cfg = None  # random weights: no download
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(model_cfg)).train()  # one process, as the Runner
    with DefaultScope.overwrite_default_scope(task):
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    if task == 'mmdet':
        head = getattr(model, 'panoptic_head', None)  # Mask2Former / MaskFormer
        panoptic = getattr(head, 'num_stuff_classes', 0) > 0
        data = _det_batch(batch, size, head.num_things_classes if panoptic else None)
    else:
        data = _seg_batch(batch, size, model.decode_head.num_classes)
    return cfg, task, model, optim_wrapper, data


def measure_train_step(config: str, size: int, batch: int = 1,
                       cfg_options: Optional[dict] = None, threads: Optional[int] = None) -> dict:
    """One training step of `config` on `batch` synthetic images of size x size (size may
    be (height, width) for mmdet configs)."""
    if threads:
        torch.set_num_threads(threads)
    cfg, task, model, optim_wrapper, data = build_train_step(config, size, batch, cfg_options)
    params = sum(p.numel() for p in model.parameters())

    before = _rss_kib('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:  # VmHWM := VmRSS from here on
        f.write('5')
    start = time.perf_counter()
    losses = model.train_step(data, optim_wrapper)
    seconds = time.perf_counter() - start
    peak = _rss_kib('VmHWM')
    loss = float(losses['loss'])  # mmengine's total of the loss terms
    if not np.isfinite(loss):
        raise ToolError(f'the training step gave a non-finite loss ({loss})')
    h, w = (size, size) if isinstance(size, int) else size
    return dict(config=config, task=task, input=[batch, 3, h, w], threads=torch.get_num_threads(),
                parameters=params, rss_before_gib=before / 2**20, peak_rss_gib=peak / 2**20,
                step_added_gib=(peak - before) / 2**20, step_seconds=seconds, loss=loss,
                backbone=dict((k, cfg.model.backbone.get(k)) for k in (
                    'type', 'arch', 'window_size', 'with_cp')))


def write_json(path: str, record: dict) -> None:
    """Whole or not at all (records are quoted by the docs)."""
    from ..records.store import machine, write_record
    record = dict(record, date=time.strftime('%Y-%m-%d'), machine=machine(),
                  load_average=list(os.getloadavg()))
    write_record(path, json.loads(json.dumps(record)))
