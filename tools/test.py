"""Test (and evaluate) a checkpoint with an mmdet or mmseg config, as mmdet's tools/test.py.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE] [--show-dir DIR]
                         [--tta] [--cfg-options k=v ...] [--launcher ...]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from swinv2_mm.engine import (ToolError, add_launch_args, parse_launch_args,  # noqa: E402
                              prepare_test_config, run_test)
from swinv2_mm.engine.checkpoint_safety import UnsafeCheckpointError  # noqa: E402


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
    add_launch_args(parser)
    return parse_launch_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = prepare_test_config(args.config, args.checkpoint, work_dir=args.work_dir,
                                  out=args.out, show_dir=args.show_dir, tta=args.tta,
                                  cfg_options=args.cfg_options, launcher=args.launcher)
        run_test(cfg, out=args.out)
    except (ToolError, UnsafeCheckpointError) as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
