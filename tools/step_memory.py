"""Peak memory of one training step of an mmdet or mmseg config on synthetic images, as the
Runner runs it (model from the config with random weights, the config's optimizer wrapper).

    .venv/bin/python tools/step_memory.py CONFIG --size 1536 [--batch 1] [--threads 2]
        [--json FILE] [--cfg-options k=v ...] [--debug]

Prints the resident memory before the step, its peak during the step and the step's time;
--json also writes them (whole or not at all). Check `free -g` first: a SwinV2-B detector at
1536x1536 needs many GiB. A mistake ends in one line on stderr and exit code 1.
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
    parser = argparse.ArgumentParser(description='Peak memory of one training step')
    parser.add_argument('config', help='mmdet or mmseg config')
    add_training_step_args(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv, debug = pop_debug(argv)
    args = parse_args(argv)

    def body():
        from swinv2_mm.engine.step_memory import measure_train_step, write_json
        size = training_step_size(args)
        r = measure_train_step(args.config, size, args.batch, args.cfg_options,
                               args.threads)
        print(f'one training step of {args.config} at {"x".join(map(str, r["input"]))} '
              f'({r["parameters"] / 1e6:.1f} M parameters, {r["threads"]} threads): '
              f'resident memory {r["rss_before_gib"]:.2f} GiB before the step, peak '
              f'{r["peak_rss_gib"]:.2f} GiB (the step added {r["step_added_gib"]:.2f} GiB); '
              f'{r["step_seconds"]:.0f} s; loss {r["loss"]:.3f}')
        if args.json:
            write_json(args.json, r)
            print(f'written: {args.json}')
    return run_guarded(body, debug)


if __name__ == '__main__':
    sys.exit(main())
