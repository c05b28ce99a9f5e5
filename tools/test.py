"""Test (and evaluate) a checkpoint with an mmdet or mmseg config, as mmdet's tools/test.py.

    .venv/bin/python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]
        [--show-dir DIR] [--tta] [--dtype fp32|bf16] [--window W [W W W]]
        [--cfg-options k=v ...] [--launcher ...]
        [--debug]

A checkpoint whose weights do not fit the config's model is refused before any metric is
computed. A mistake ends in one line on stderr and exit code 1.
"""
import argparse
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout
# mmengine's import warns about pkg_resources on stderr: keep stderr for our one line
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

from swinv2_mm.engine import (add_launch_args, parse_launch_args,  # noqa: E402
                              prepare_test_config, run_test)
from swinv2_mm.engine.cli import pop_debug, run_guarded  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file (a Runner checkpoint, or weights)')
    parser.add_argument('--work-dir', help='where the evaluation metrics are saved')
    parser.add_argument('--out', help='mmdet: dump predictions to this .pkl file; '
                        'mmseg: save predicted maps as images in this folder')
    parser.add_argument('--show-dir', help='save pictures of the predictions here (mmdet: '
                        'a relative path lies under work_dir/<timestamp>/)')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation from the config's tta_model and "
                        'tta_pipeline')
    parser.add_argument('--dtype', choices=['fp32', 'bf16'], default='fp32',
                        help='bf16: run the model under autocast in bfloat16 (CPU or GPU)')
    parser.add_argument('--window', type=int, nargs='+', metavar='W',
                        help='test with this SwinV2 window (one, or one per stage), e.g. 48 '
                        'for a model trained at 32; keeps the position bias\'s trained '
                        'coordinate normalisation (docs/recipes.md#test-time-window)')
    add_launch_args(parser)
    return parse_launch_args(parser, argv)


def main(argv=None) -> int:
    argv, debug = pop_debug(argv)
    args = parse_args(argv)

    # --check-only: no process group (nothing is launched)
    launcher = 'none' if args.check_only else args.launcher

    def body():
        cfg = prepare_test_config(args.config, args.checkpoint, work_dir=args.work_dir,
                                  out=args.out, show_dir=args.show_dir, tta=args.tta,
                                  cfg_options=args.cfg_options, launcher=launcher,
                                  dtype=args.dtype, window=args.window)
        if args.check_only:
            print(f'{args.config}: config, data and flags checked; nothing was run')
            return
        run_test(cfg, out=args.out)
    return run_guarded(body, debug)


if __name__ == '__main__':
    sys.exit(main())
