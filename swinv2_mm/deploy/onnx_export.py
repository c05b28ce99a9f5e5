"""ONNX export of SwinV2 backbones, mmseg segmentors and mmdet backbone + neck, checked with
onnxruntime against eager PyTorch at several input sizes (what tools/export_onnx.py runs).

Exporter: torch.onnx's TorchScript exporter (`dynamo=False`) with `dynamic_axes`. While it
traces, tensor sizes are graph values, so the size arithmetic of swin_rewrite (windows,
shifts, pads, masks, CPB tables) becomes Shape/Min/Range/... nodes. torch 2.13's dynamo
exporter (`dynamo=True`, `dynamic_shapes`) was tried on the same rewrite: its symbolic
reasoning over the nested min/mod size expressions took ~150 s for an 8-block model, its
graph failed in onnxruntime (a broadcast of 8 against 64 at the export size) and it has no
ONNX form of `remainder` by a symbolic size; see docs/deployment.md.
"""
import math
import os
import os.path as osp
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..checkpoint.io import new_file_mode
from ..engine.errors import ToolError
from .models import (BackboneExport, DetectorFeatureExport, SegmentorExport,
                     eager_reference)

OPSET = 17
TOLERANCE = 1e-4  # max abs difference to eager PyTorch, float32


@dataclass
class ExportModel:
    kind: str               # 'backbone' | 'segmentor' | 'detector'
    model: nn.Module        # the OpenMMLab model (eval), the eager reference
    wrapper: nn.Module      # what is exported
    backbone: nn.Module     # its SwinTransformerV2
    output_names: List[str]
    reference: Callable[[Tensor], List[Tensor]]


# -- building the model from a config --------------------------------------------------------
def _build(cfg) -> Tuple[str, nn.Module]:
    from mmengine.config import ConfigDict
    model_cfg = cfg.get('model')
    if not isinstance(model_cfg, (dict, ConfigDict)) or 'type' not in model_cfg:
        raise ToolError('the config has no model=dict(type=...); give an mmdet or mmseg '
                        'config, or one whose model is a SwinTransformerV2 backbone dict')
    import swinv2_mm  # noqa: F401 - registers SwinTransformerV2 in the root registry
    scope = cfg.get('default_scope')
    if model_cfg['type'] == 'SwinTransformerV2':
        from mmengine.registry import MODELS
        return 'backbone', MODELS.build(model_cfg)
    if scope == 'mmseg':
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules
        register_all_modules(init_default_scope=True)
        kind = 'segmentor'
    elif scope == 'mmdet':
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
        register_all_modules(init_default_scope=True)
        kind = 'detector'
    else:
        raise ToolError(f"config's default_scope is {scope!r} and its model is "
                        f"{model_cfg['type']}: give an mmdet or mmseg config (default_scope "
                        "'mmdet' / 'mmseg'), or one whose model is a SwinTransformerV2 dict")
    backbone_type = (model_cfg.get('backbone') or {}).get('type')
    if backbone_type != 'SwinTransformerV2':
        raise ToolError(f'the model\'s backbone is {backbone_type!r}: this exporter rewrites '
                        'SwinTransformerV2 only')
    if kind == 'segmentor' and model_cfg['type'] != 'EncoderDecoder':
        raise ToolError(f'segmentor type {model_cfg["type"]} is not supported: export '
                        'handles EncoderDecoder (e.g. UperNet); use --backbone-only for the '
                        'backbone alone')
    try:
        return kind, MODELS.build(model_cfg)
    except Exception as e:  # noqa: BLE001 - a config that does not build is a user error
        raise ToolError(f'the config\'s model does not build: {type(e).__name__}: {e}') from e


def _load_weights(kind: str, model: nn.Module, checkpoint: str) -> None:
    """Backbone configs take any SwinV2 weight file (official, timm, transformers,
    mmpretrain, ours) through the package's loader; detectors and segmentors take a Runner
    checkpoint (or state dict) of the whole model, which must fit it key for key."""
    if kind == 'backbone':
        from ..checkpoint import load_pretrained
        load_pretrained(model, checkpoint)
        return
    from ..engine.checkpoint_files import (check_fits_model, read_checkpoint_file,
                                           state_dict_of)
    obj = read_checkpoint_file(checkpoint, 'checkpoint')
    state = state_dict_of(obj, checkpoint, 'checkpoint')
    check_fits_model(model, state, checkpoint, 'checkpoint')
    model.load_state_dict(state, strict=True)


def load_export_model(config: str, checkpoint: Optional[str] = None,
                      backbone_only: bool = False,
                      cfg_options: Optional[dict] = None) -> ExportModel:
    """Build the config's model (no init_cfg: without a checkpoint the weights are PyTorch's
    default random initialisation, which exercises every path of the graph), load the
    checkpoint if given, and wrap the part that is exported."""
    from mmengine.config import Config
    if not osp.isfile(config):
        raise ToolError(f'config file not found: {config}')
    try:
        cfg = Config.fromfile(config)
    except Exception as e:  # noqa: BLE001 - syntax errors, missing bases, ...
        raise ToolError(f'cannot read config {config}: {type(e).__name__}: '
                        f'{str(e).strip().splitlines()[0] if str(e).strip() else ""}') from e
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    kind, model = _build(cfg)
    if checkpoint is not None:
        if not osp.isfile(checkpoint) and not osp.isdir(checkpoint):
            raise ToolError(f'checkpoint file not found: {checkpoint}')
        _load_weights(kind, model, checkpoint)
    model.eval()
    backbone = model if kind == 'backbone' else model.backbone
    if backbone_only and kind != 'backbone':
        kind, model = 'backbone', backbone
    if kind == 'backbone':
        wrapper: nn.Module = BackboneExport(backbone)
        names = [f'stage{i}' for i in backbone.out_indices]
    elif kind == 'segmentor':
        wrapper = SegmentorExport(model)
        names = ['seg_logits']
    else:
        wrapper = DetectorFeatureExport(model)
        with torch.no_grad():
            n = len(wrapper(torch.zeros(1, 3, 64, 64)))
        names = [f'feat{i}' for i in range(n)]
    return ExportModel(kind, model, wrapper.eval(), backbone, names,
                       eager_reference(kind, model))


# -- the sizes the export is checked at ------------------------------------------------------
def stage_maps(backbone: nn.Module, height: int, width: int) -> List[Tuple[int, int]]:
    h = math.ceil(height / backbone.patch_embed.patch_size)
    w = math.ceil(width / backbone.patch_embed.patch_size)
    maps = []
    for i in range(len(backbone.stages)):
        if i > 0:
            h, w = (h + 1) // 2, (w + 1) // 2
        maps.append((h, w))
    return maps


def describe_size(backbone: nn.Module, height: int, width: int) -> str:
    """Per stage: the map, and whether it is padded to the window or is one clipped window."""
    parts = []
    for stage, (h, w) in zip(backbone.stages, stage_maps(backbone, height, width)):
        ws = stage.blocks[0].window_size
        if min(h, w) <= ws:
            parts.append(f'{h}x{w} one window (<= {ws}, unshifted)')
        elif h % ws or w % ws:
            parts.append(f'{h}x{w} padded to {math.ceil(h / ws) * ws}x{math.ceil(w / ws) * ws}')
        else:
            parts.append(f'{h}x{w}')
    return '; '.join(parts)


def _padded_stages(backbone, h, w) -> int:
    n = 0
    for stage, (mh, mw) in zip(backbone.stages, stage_maps(backbone, h, w)):
        ws = stage.blocks[0].window_size
        n += min(mh, mw) > ws and bool(mh % ws or mw % ws)
    return n


def check_sizes(backbone: nn.Module, batch: int, height: int,
                width: int) -> List[Tuple[int, int, int]]:
    """(batch, H, W): the export size and three others chosen for what they exercise:
    padding (and shifts) at several stages; a last stage smaller than its window; a narrow
    image whose early stages are clipped, at another batch size."""
    sizes = [(batch, height, width)]
    # 1. sides that are no multiple of patch * window, padded at >= 2 shifted stages
    for d in range(1, 512):
        h, w = height + 2 * d + 1, width + 4 * d + 3
        if _padded_stages(backbone, h, w) >= 2:
            sizes.append((batch, h, w))
            break
    # 2. the last stage smaller than its window (one unshifted window), earlier ones padded
    stride = backbone.patch_embed.patch_size * 2 ** (len(backbone.stages) - 1)
    last_ws = backbone.stages[-1].blocks[0].window_size
    small = stride * max(last_ws // 2, 1) + 7
    sizes.append((batch, small + 2 * stride + 5, small))
    # 3. narrow: one side just over the first window, so stage 1 on is clipped; batch + 1
    first_ws = backbone.stages[0].blocks[0].window_size
    narrow = backbone.patch_embed.patch_size * (first_ws + 1) - 1
    sizes.append((batch + 1, max(height // 2, narrow) + 3, narrow))
    return sizes


# -- export, verification, timing -----------------------------------------------------------
def _check_onnx_deps():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise ToolError(f'{e.name} is not installed: the export needs onnx and onnxruntime '
                        '(bash tools/setup_env.sh installs them into .venv)') from e


def export_onnx(em: ExportModel, out: str, batch: int, height: int, width: int,
                dynamic: bool = True, check: Optional[Callable[[str], object]] = None) -> None:
    """Trace em.wrapper at (batch, 3, height, width) and write the ONNX file: first to a
    temporary file beside `out`, which onnx's checker, an onnxruntime session and `check`
    (e.g. the comparison with eager PyTorch) must accept before it replaces `out`; an
    existing good file is never replaced by a broken or unverified one."""
    _check_onnx_deps()
    import onnx
    import onnxruntime as ort
    out_dir = osp.dirname(osp.abspath(out))
    if osp.isdir(out):
        raise ToolError(f'--out {out}: is a folder; give a file name ending in .onnx')
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise ToolError(f'--out {out}: cannot create folder {out_dir} ({e.strerror})') from e
    example = torch.randn(batch, 3, height, width)
    axes = {0: 'batch', 2: 'height', 3: 'width'}
    dynamic_axes = {'input': axes, **{n: {0: 'batch', 2: f'{n}_height', 3: f'{n}_width'}
                                      for n in em.output_names}} if dynamic else None
    fd, tmp = tempfile.mkstemp(suffix='.onnx.tmp', dir=out_dir)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # TracerWarnings for the (static) Python ints of the module attributes and the
            # exporter's deprecation notice; the result is checked at several sizes below.
            warnings.simplefilter('ignore')
            torch.onnx.export(em.wrapper, (example,), tmp, dynamo=False, opset_version=OPSET,
                              input_names=['input'], output_names=em.output_names,
                              dynamic_axes=dynamic_axes, do_constant_folding=True)
        onnx.checker.check_model(tmp)
        ort.InferenceSession(tmp, providers=['CPUExecutionProvider'])
        if check is not None:
            check(tmp)
        os.chmod(tmp, new_file_mode())  # mkstemp made it 0600; the .onnx is for others too
        os.replace(tmp, out)
    finally:
        if osp.exists(tmp):
            os.unlink(tmp)


def ort_session(path: str, threads: Optional[int] = None):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=['CPUExecutionProvider'])


def verify(em: ExportModel, path: str, sizes: Sequence[Tuple[int, int, int]],
           tol: float = TOLERANCE, seed: int = 0, log=print) -> List[Tuple[tuple, float]]:
    """Run the ONNX file with onnxruntime and the eager model at each size; max abs error
    over all outputs. Raises ToolError when one exceeds tol (after all sizes are printed)."""
    sess = ort_session(path)
    gen = torch.Generator().manual_seed(seed)
    rows, bad = [], []
    for b, h, w in sizes:
        x = torch.randn(b, 3, h, w, generator=gen)
        expected = em.reference(x)
        got = sess.run(None, {'input': x.numpy()})
        if len(got) != len(expected):
            raise ToolError(f'onnxruntime gave {len(got)} outputs, eager {len(expected)}')
        err, scale = 0.0, 0.0
        for e, g in zip(expected, got):
            if tuple(e.shape) != g.shape:
                raise ToolError(f'{b}x3x{h}x{w}: onnxruntime output {g.shape} != eager '
                                f'{tuple(e.shape)}')
            err = max(err, float((e - torch.from_numpy(g)).abs().max()))
            scale = max(scale, float(e.abs().max()))
        rows.append(((b, h, w), err))
        ok = err <= tol and math.isfinite(err)
        log(f'  {b}x3x{h}x{w}: max abs error {err:.2e} {"ok" if ok else "MISMATCH"} '
            f'(outputs up to {scale:.3g})   [{describe_size(em.backbone, h, w)}]')
        if not ok:
            bad.append(f'{b}x3x{h}x{w} ({err:.2e})')
    if bad:
        raise ToolError(f'exported model differs from eager PyTorch by more than {tol:g} at '
                        f'{", ".join(bad)}; nothing was written')
    return rows


def benchmark(em: ExportModel, path: str, batch: int, height: int, width: int,
              repeats: int = 5, threads: int = 2) -> Tuple[float, float]:
    """(onnxruntime, eager PyTorch) median seconds per forward, `threads` threads each,
    after one warm-up run each, alternating so that load on a shared CPU hits both alike."""
    x = torch.randn(batch, 3, height, width)
    sess = ort_session(path, threads)
    feed = {'input': x.numpy()}
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        sess.run(None, feed)
        em.reference(x)
        ort_t, torch_t = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            sess.run(None, feed)
            ort_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            em.reference(x)
            torch_t.append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(previous)
    return statistics.median(ort_t), statistics.median(torch_t)
