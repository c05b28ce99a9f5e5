"""Train a detector (mmdet config) or segmentor (mmseg config), as mmdet's tools/train.py.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--auto-scale-lr]
                          [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from swinv2_mm.engine import (ToolError, add_launch_args, parse_launch_args,  # noqa: E402
                              prepare_train_config, run_train)
from swinv2_mm.engine.checkpoint_safety import UnsafeCheckpointError  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector or segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (float16; needs a CUDA GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by total batch size / '
                        'auto_scale_lr.base_batch_size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint, or without a value from the latest '
                        'checkpoint in the work dir')
    add_launch_args(parser)
    return parse_launch_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = prepare_train_config(args.config, work_dir=args.work_dir, resume=args.resume,
                                   amp=args.amp, auto_scale_lr=args.auto_scale_lr,
                                   cfg_options=args.cfg_options, launcher=args.launcher)
        run_train(cfg)
    except (ToolError, UnsafeCheckpointError) as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
