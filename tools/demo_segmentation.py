"""The embedded segmentation demo: generate data, train, evaluate, draw.

    .venv/bin/python tools/demo_segmentation.py [--iters N] [--threads 2]

1. writes the ADE20K-format shapes dataset (swinv2_mm/demo/ade_shapes.py) to
   data/synthetic_ade/ADEChallengeData2016 if it is not there yet;
2. trains configs/demo/upernet_swinv2_demo_synthetic.py (a small SwinV2 UperNet, from
   scratch) with the real mmengine Runner, through the same functions as tools/train.py;
3. evaluates the held-out split with mmseg's IoUMetric through tools/test.py's functions
   (aAcc / mIoU / mAcc and the per-class table) and writes colour overlays (ground truth left,
   prediction right) through mmseg's SegVisualizationHook, as `tools/test.py --show-dir` does.
Exit status 0 when mIoU >= 0.5 on the held-out split.
"""
import argparse
import glob
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # run from a checkout

DEMO_CONFIG = 'configs/demo/upernet_swinv2_demo_synthetic.py'
# What "visibly learnt" means for the demo, on the held-out split (IoUMetric reports percent).
MIOU_TARGET = 0.5


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train and evaluate the segmentation demo')
    parser.add_argument('--config', default=DEMO_CONFIG)
    parser.add_argument('--data-root', default='data/synthetic_ade',
                        help='folder that holds (or will hold) ADEChallengeData2016/')
    parser.add_argument('--work-dir', default='work_dirs/demo_segmentation')
    parser.add_argument('--show-dir', default='outputs/demo_segmentation',
                        help='where the colour overlays of the held-out images go')
    parser.add_argument('--iters', type=int, default=None,
                        help="training iterations (default: the config's)")
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.chdir(ROOT)
    import torch

    from swinv2_mm.demo.ade_shapes import generate
    from swinv2_mm.engine import (prepare_test_config, prepare_train_config, run_test,
                                  run_train)
    torch.set_num_threads(args.threads)
    start = time.time()
    data_root = generate(args.data_root)
    counts = {split: len(glob.glob(osp.join(data_root, 'images', split, '*.jpg')))
              for split in ('training', 'validation')}
    print(f'[demo] dataset: {data_root} ({counts["training"]} training, '
          f'{counts["validation"]} held-out images) in {time.time() - start:.1f} s')

    options = {f'{loader}.dataset.data_root': data_root
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
    train_options = dict(options)
    # Evaluated once, below, by the test (the train loop would also validate at its last
    # iteration whatever val_interval says; val_begin past the end stops that).
    train_options['train_cfg.val_begin'] = 10**9
    if args.iters is not None:
        train_options['train_cfg.max_iters'] = args.iters
        train_options['default_hooks.checkpoint.interval'] = args.iters
    cfg = prepare_train_config(args.config, work_dir=args.work_dir, cfg_options=train_options)
    runner = run_train(cfg)
    trained = time.time()
    checkpoint = osp.join(args.work_dir, f'iter_{runner.iter}.pth')
    print(f'[demo] trained {runner.iter} iterations in {trained - start:.0f} s -> {checkpoint}')
    del runner

    show_dir = osp.abspath(args.show_dir)
    # A visualizer of its own: mmengine would hand this second Runner the training Runner's
    # visualizer (same name), whose save_dir is the training log dir, not show_dir.
    test_options = dict(options, **{'visualizer.name': 'demo_segmentation_test'})
    cfg = prepare_test_config(args.config, checkpoint, work_dir=args.work_dir,
                              show_dir=show_dir, cfg_options=test_options)
    metrics = run_test(cfg)
    end = time.time()
    pictures = sorted(glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True))
    picture_dir = osp.dirname(pictures[0]) if pictures else show_dir
    print(f'[demo] held-out evaluation in {end - trained:.0f} s; total {end - start:.0f} s')
    print(f'[demo] aAcc {metrics["aAcc"]:.2f}  mIoU {metrics["mIoU"]:.2f}  '
          f'mAcc {metrics["mAcc"]:.2f}  (percent; per-class table above)')
    print(f'[demo] {len(pictures)} colour overlays, ground truth (left) and prediction '
          f'(right): {picture_dir}/')
    print(f'[demo] checkpoint: {checkpoint}; logs: {args.work_dir}/')
    ok = metrics['mIoU'] / 100.0 >= MIOU_TARGET
    print(f'[demo] {"PASS" if ok else "FAIL"}: mIoU >= {MIOU_TARGET} on the held-out split'
          + ('' if ok else ' NOT reached'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
