"""The embedded detection demo: generate data, train, evaluate, draw (tools/demo_detection.py).

The same path as a user's: tools/train.py's and tools/test.py's functions, the real mmengine
Runner, mmdet's Cascade Mask R-CNN and CocoMetric on the generated coloured-shapes dataset.
"""
import glob
import os
import os.path as osp
import time
from typing import Dict, Optional

from .launch import prepare_test_config, prepare_train_config, run_test, run_train

DEMO_CONFIG = 'configs/demo/cascade_swinv2_demo_synthetic.py'
# What "visibly learnt" means for the demo, on the held-out split.
AP50_TARGET = 0.5


def run_detection_demo(config: str = DEMO_CONFIG, data_root: str = 'data/synthetic_coco',
                       work_dir: str = 'work_dirs/demo_detection',
                       show_dir: str = 'outputs/demo_detection',
                       max_iters: Optional[int] = None, threads: Optional[int] = None
                       ) -> Dict[str, float]:
    """Train on the generated train split, test on the held-out split; returns the metrics."""
    import torch

    from ..demo.coco_shapes import generate
    if threads:
        torch.set_num_threads(threads)
    start = time.time()
    files = generate(data_root)
    print(f'[demo] dataset: {files["train"]} (train), {files["val"]} (held out) '
          f'in {time.time() - start:.1f} s')
    data_root = data_root.rstrip('/') + '/'
    options = {
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'val_evaluator.ann_file': osp.join(data_root, 'annotations/instances_val.json'),
        'test_evaluator.ann_file': osp.join(data_root, 'annotations/instances_val.json'),
    }
    train_options = dict(options)
    train_options['train_cfg.val_interval'] = 10**9  # evaluated once, below, by the test
    if max_iters is not None:
        train_options['train_cfg.max_iters'] = max_iters
    cfg = prepare_train_config(config, work_dir=work_dir, cfg_options=train_options)
    runner = run_train(cfg)
    trained = time.time()
    iters = runner.iter
    checkpoint = osp.join(work_dir, f'iter_{iters}.pth')
    print(f'[demo] trained {iters} iterations in {trained - start:.0f} s -> {checkpoint}')

    show_dir = osp.abspath(show_dir)
    cfg = prepare_test_config(config, checkpoint, work_dir=work_dir, show_dir=show_dir,
                              cfg_options=options)
    metrics = run_test(cfg)
    end = time.time()
    pictures = sorted(glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True))
    print(f'[demo] held-out evaluation in {end - trained:.0f} s; total {end - start:.0f} s')
    print(f'[demo] {len(pictures)} pictures of ground truth (left) and predicted boxes + masks '
          f'(right) in {show_dir}/')
    for kind in ('bbox', 'segm'):
        print(f'[demo] {kind} AP {metrics[f"coco/{kind}_mAP"]:.3f}  '
              f'AP50 {metrics[f"coco/{kind}_mAP_50"]:.3f}  '
              f'AP75 {metrics[f"coco/{kind}_mAP_75"]:.3f}')
    metrics['wall_s'] = end - start
    return metrics


def main() -> int:
    os.environ.setdefault('PYTHONHASHSEED', '0')
    metrics = run_detection_demo()
    ok = all(metrics[f'coco/{k}_mAP_50'] >= AP50_TARGET for k in ('bbox', 'segm'))
    print(f'[demo] {"PASS" if ok else "FAIL"}: bbox and segm AP50 >= {AP50_TARGET} on the '
          'held-out split' + ('' if ok else ' NOT reached'))
    return 0 if ok else 1
