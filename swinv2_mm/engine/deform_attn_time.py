"""What mmcv's multi-scale deformable attention (MSDA) costs in a training step on a CPU
(tools/deform_attn_time.py).

mmcv 2.1 has no CPU kernel for MSDA: on a CPU tensor `MultiScaleDeformableAttention` calls
`multi_scale_deformable_attn_pytorch`, a `grid_sample` per feature level (Mask2Former's pixel
decoder, DINO's encoder and decoder). Here the config's model (random weights) runs training
steps on a synthetic batch while every call of that function is recorded; the recorded calls
are then replayed alone, forward and backward, and timed. The result: the step's time, the
fallback's time within it, and the shapes it ran at.
"""
import statistics
import time
from typing import List, Optional

import torch

from .errors import ToolError
from .step_memory import build_train_step


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(config: str, size, batch: int = 1, cfg_options: Optional[dict] = None,
            threads: Optional[int] = None, repeats: int = 3) -> dict:
    """Median seconds of a training step of `config` on `batch` synthetic images (size: an
    int, or (height, width) for mmdet), and of the PyTorch MSDA calls it makes, replayed."""
    import mmcv.ops.multi_scale_deform_attn as msda
    if threads:
        torch.set_num_threads(threads)
    _, _, model, optim_wrapper, data = build_train_step(config, size, batch, cfg_options)
    model.init_weights()

    calls: List[tuple] = []
    original = msda.multi_scale_deformable_attn_pytorch

    def recording(value, shapes, locations, weights):
        calls.append(tuple(t.detach().clone() for t in (value, shapes, locations, weights)))
        return original(value, shapes, locations, weights)

    msda.multi_scale_deformable_attn_pytorch = recording
    try:
        model.train_step(data, optim_wrapper)  # warm-up; records the calls of one step
    finally:
        msda.multi_scale_deformable_attn_pytorch = original
    if not calls:
        raise ToolError(f'{config}: the training step made no call of mmcv\'s PyTorch '
                        'multi-scale deformable attention (no deformable attention in this '
                        'model, or it ran on a GPU kernel)')
    step = _median_seconds(lambda: model.train_step(data, optim_wrapper), repeats)

    def replay():
        for value, shapes, locations, weights in calls:
            inputs = [t.requires_grad_() for t in (value.clone(), locations.clone(),
                                                   weights.clone())]
            out = original(inputs[0], shapes, inputs[1], inputs[2])
            out.backward(torch.ones_like(out))

    replay()  # warm-up
    msda_s = _median_seconds(replay, repeats)
    value, shapes, locations, _ = calls[0]
    # what the model saw: the data preprocessor may pad to a fixed size (Mask2Former's
    # BatchFixedSizePad, mmseg's `size`)
    inputs = model.data_preprocessor(data, True)['inputs']
    return dict(config=config, input=list(inputs.shape), threads=torch.get_num_threads(),
                repeats=repeats, step_seconds=step, msda_seconds=msda_s,
                msda_share=msda_s / step, msda_calls=len(calls),
                msda_levels=[list(map(int, s)) for s in shapes],
                msda_queries=int(locations.shape[1]), msda_points=int(locations.shape[-2]),
                msda_heads=int(value.shape[2]))
