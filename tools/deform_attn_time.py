"""How long mmcv's multi-scale deformable attention takes in a training step on this CPU, where
it runs as PyTorch code (mmcv 2.1 has no CPU kernel): the step's median time and that of the
deformable-attention calls it made, replayed alone (forward + backward).

    .venv/bin/python tools/deform_attn_time.py CONFIG --size PIXELS [PIXELS] [--batch 1]
        [--threads 2] [--repeats 3] [--json FILE] [--cfg-options k=v ...] [--debug]

A mistake ends in one line on stderr and exit code 1.
"""
import argparse
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

from swinv2_mm.engine.cli import (add_training_step_args, pop_debug, run_guarded,  # noqa: E402
                                  training_step_size)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Time of multi-scale deformable attention in '
                                     'a training step')
    parser.add_argument('config', help='mmdet or mmseg config with deformable attention')
    add_training_step_args(parser)
    parser.add_argument('--repeats', type=int, default=3, help='timed steps (median)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv, debug = pop_debug(argv)
    args = parse_args(argv)

    def body():
        from swinv2_mm.engine.deform_attn_time import measure
        from swinv2_mm.engine.step_memory import write_json
        size = training_step_size(args, args.repeats)
        r = measure(args.config, size, args.batch, args.cfg_options, args.threads,
                    args.repeats)
        print(f'training step of {args.config} at {"x".join(map(str, r["input"]))} '
              f'({r["threads"]} threads, median of {r["repeats"]}): {r["step_seconds"]:.2f} s; '
              f'multi-scale deformable attention (PyTorch path, {r["msda_calls"]} calls, '
              f'forward + backward) {r["msda_seconds"]:.2f} s = {100 * r["msda_share"]:.0f} % '
              f'of the step; levels {r["msda_levels"]}, {r["msda_queries"]} queries')
        if args.json:
            write_json(args.json, r)
            print(f'written: {args.json}')
    return run_guarded(body, debug)


if __name__ == '__main__':
    sys.exit(main())
