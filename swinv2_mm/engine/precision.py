"""bfloat16 inference (`--dtype bf16`) with mmcv's compiled ops.

Under torch.autocast the network's matrix products run in bfloat16; mmcv 2.1's CPU kernels
for RoIAlign and NMS exist for float32 only ("ROIAlign_forward not implemented for
'BFloat16'"). Inside `mmcv_ops_in_float32()` those entry points receive float32 inputs —
what autocast itself does for the ops it knows to need full precision. Their outputs are
float32; the layers after them go back to bfloat16 under autocast.
"""
import contextlib
import functools
import importlib
from typing import Iterator

import torch

# (module, function): the functions mmdet reaches these kernels through. RoIAlign.forward
# and batched_nms look them up in their module at call time, so replacing the module
# attribute is enough.
# RoI feature ops return their input's dtype: mmdet writes their output into a tensor made
# with feats.new_zeros (bfloat16). NMS returns float32 boxes (bfloat16 would round
# coordinates to 1 px at 256, 8 px at 1333).
_FLOAT32_ONLY = (('mmcv.ops.roi_align', 'roi_align', True),
                 ('mmcv.ops.roi_pool', 'roi_pool', True),
                 ('mmcv.ops.nms', 'nms', False), ('mmcv.ops.nms', 'soft_nms', False))


def _in_float32(fn, same_dtype_out: bool):
    def cast(x):
        return x.float() if isinstance(x, torch.Tensor) and x.dtype in (
            torch.bfloat16, torch.float16) else x

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*[cast(a) for a in args], **{k: cast(v) for k, v in kwargs.items()})
        first = args[0] if args else None
        if same_dtype_out and isinstance(first, torch.Tensor) and isinstance(out, torch.Tensor):
            out = out.to(first.dtype)
        return out
    wrapper.__swinv2_float32__ = True
    return wrapper


@contextlib.contextmanager
def mmcv_ops_in_float32() -> Iterator[None]:
    replaced = []
    try:
        for module_name, name, same_dtype_out in _FLOAT32_ONLY:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            fn = getattr(module, name, None)
            if fn is None or getattr(fn, '__swinv2_float32__', False):
                continue
            setattr(module, name, _in_float32(fn, same_dtype_out))
            replaced.append((module, name, fn))
        yield
    finally:
        for module, name, fn in reversed(replaced):
            setattr(module, name, fn)


@contextlib.contextmanager
def bf16_inference(device_type: str, enabled: bool = True) -> Iterator[None]:
    """autocast to bfloat16 on `device_type` ('cpu' or 'cuda'), mmcv ops in float32."""
    if not enabled:
        yield
        return
    with mmcv_ops_in_float32(), torch.autocast(device_type, dtype=torch.bfloat16):
        yield


def to_float32(obj):
    """Predictions back to float32 (in place for data samples): metrics and visualisers call
    .numpy(), which has no bfloat16."""
    from mmengine.structures import BaseDataElement
    if isinstance(obj, torch.Tensor):
        return obj.float() if obj.dtype in (torch.bfloat16, torch.float16) else obj
    if isinstance(obj, BaseDataElement):
        for key, value in list(obj.items()):
            setattr(obj, key, to_float32(value))
        return obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_float32(o) for o in obj)
    if isinstance(obj, dict):
        return {k: to_float32(v) for k, v in obj.items()}
    return obj


def float32_outputs(model) -> None:
    """Make `model.test_step` return float32 predictions whatever autocast computed."""
    step = model.test_step
    if getattr(step, '__swinv2_float32__', False):
        return

    @functools.wraps(step)
    def test_step(*args, **kwargs):
        return to_float32(step(*args, **kwargs))
    test_step.__swinv2_float32__ = True
    model.test_step = test_step
