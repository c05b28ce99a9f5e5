"""Pictures of a detector's predictions for a person: image in, boxes + masks + labels out."""
import os.path as osp
from typing import List, Optional, Sequence, Union

from .checkpoint_files import (check_fits_model, fetch_if_url, read_checkpoint_file,
                               state_dict_of)
from .launch import DTYPES, ToolError, load_config, task_of


def detect_images(inputs: Union[str, Sequence[str]], config: str, weights: str,
                  out_dir: str = 'outputs/image_demo', device: Optional[str] = None,
                  score_thr: float = 0.3, save_pred: bool = True,
                  dtype: str = 'fp32') -> List[str]:
    """Run mmdet's DetInferencer on images (files or a folder) and save pictures of the
    predictions (boxes, masks, class names and scores) to out_dir/vis/. Returns their paths.

    weights: a Runner checkpoint (read with the restricted unpickler) or a
    plain state dict; refused (one line) unless its weights fit the config's model.
    dtype 'bf16': the model runs under autocast in bfloat16.
    """
    cfg = load_config(config)
    if task_of(cfg) != 'mmdet':
        raise ToolError(f'{config} is not a detection config (default_scope must be mmdet)')
    if dtype not in DTYPES:
        raise ToolError(f'--dtype {dtype}: choose one of {", ".join(DTYPES)}')
    weights = fetch_if_url(weights)
    if not osp.isfile(weights):
        raise ToolError(f'checkpoint file not found: {weights}')
    state = state_dict_of(read_checkpoint_file(weights, 'checkpoint'), weights, 'checkpoint')
    paths = [inputs] if isinstance(inputs, str) else list(inputs)
    for p in paths:
        if not osp.exists(p):
            raise ToolError(f'input image or folder not found: {p}')
    import torch
    from mmdet.apis import DetInferencer
    if device is None:
        device = 'cuda:0' if torch.cuda.is_available() else 'cpu'
    # mmengine's loader, which reads with the restricted unpickler (checkpoint_safety)
    inferencer = DetInferencer(model=cfg, weights=weights, device=device, show_progress=False)
    check_fits_model(inferencer.model, state, weights, 'checkpoint')
    del state
    images = paths if len(paths) > 1 else paths[0]
    from .precision import bf16_inference, float32_outputs
    if dtype == 'bf16':
        float32_outputs(inferencer.model)
    with bf16_inference(torch.device(device).type, enabled=dtype == 'bf16'):
        inferencer(images, out_dir=out_dir, pred_score_thr=score_thr,
                   no_save_pred=not save_pred, no_save_vis=False)
    vis_dir = osp.join(out_dir, 'vis')
    import glob
    return sorted(glob.glob(osp.join(vis_dir, '*')))
