"""Train a detector (mmdet config) or segmentor (mmseg config), as mmdet's tools/train.py.

    .venv/bin/python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi] [--debug]

Checkpoints are written atomically and hold the random-number states; `--resume` without a
path takes the newest checkpoint of the work dir that loads. A mistake ends in one line on
stderr and exit code 1 (`--debug` or SWINV2_MM_DEBUG=1 shows the traceback).
"""
import argparse
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout
# mmengine's import warns about pkg_resources on stderr: keep stderr for our one line
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

from swinv2_mm.engine import (add_launch_args, parse_launch_args,  # noqa: E402
                              prepare_train_config, run_train)
from swinv2_mm.engine.cli import pop_debug, run_guarded  # noqa: E402


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


def main(argv=None) -> int:
    argv, debug = pop_debug(argv)
    args = parse_args(argv)

    # --check-only: no process group (nothing is launched)
    launcher = 'none' if args.check_only else args.launcher

    def body():
        cfg = prepare_train_config(args.config, work_dir=args.work_dir, resume=args.resume,
                                   amp=args.amp, auto_scale_lr=args.auto_scale_lr,
                                   cfg_options=args.cfg_options, launcher=launcher)
        if args.check_only:
            print(f'{args.config}: config, data and flags checked; nothing was run')
            return
        run_train(cfg)
    return run_guarded(body, debug)


if __name__ == '__main__':
    sys.exit(main())
