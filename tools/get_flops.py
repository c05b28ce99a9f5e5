#!/usr/bin/env python
"""FLOPs of SwinV2 backbones by mmengine's counter, next to the benchmark's formula.

    .venv/bin/python tools/get_flops.py --arch tiny base --shape 512 512 --window 16

mmengine.analysis.get_model_complexity_info (what mmdet's and mmseg's get_flops tools call)
traces the backbone's own forward with torch.jit and counts one FLOP per multiply-add, as
fvcore does; the formula of tools/benchmark.py (swinv2_mm/benchmark/flops.py) counts two and
leaves out the norms and the CPB MLP. The table gives both and their ratio. Random weights,
one image, CPU.
"""
import argparse
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--arch', nargs='+', default=['tiny'],
                        help='one or more of tiny, small, base, large, ...')
    parser.add_argument('--shape', type=int, nargs='+', default=[224, 224],
                        help='input H W (one value: square)')
    parser.add_argument('--window', type=int, default=7, help='window size, every stage')
    parser.add_argument('--batch', type=int, default=1)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from swinv2_mm.engine.cli import pop_debug, run_guarded
    from swinv2_mm.engine.errors import ToolError
    argv, debug = pop_debug(argv)
    args = parse_args(argv)

    def body():
        import logging

        import torch
        from mmengine.analysis import get_model_complexity_info
        from mmengine.logging import MMLogger

        from swinv2_mm import SwinTransformerV2
        from swinv2_mm.benchmark.flops import swinv2_flops
        if len(args.shape) not in (1, 2) or min(args.shape) < 1:
            raise ToolError(f'--shape {" ".join(map(str, args.shape))}: give H W (or one '
                            'size), each >= 1')
        h, w = args.shape * 2 if len(args.shape) == 1 else args.shape
        if args.window < 1 or args.batch < 1:
            raise ToolError('--window and --batch must be >= 1')
        unknown = [a for a in args.arch if a not in SwinTransformerV2.arch_zoo]
        if unknown:
            raise ToolError(f'--arch {unknown[0]}: choose from '
                            f'{", ".join(SwinTransformerV2.arch_zoo)}')
        # the counter's notes on ops it does not count (norms, softmax, ...) go to its log
        MMLogger.get_current_instance().setLevel(logging.ERROR)
        print('| arch | window | input | mmengine counter (G multiply-adds) | formula '
              '(GFLOP, 2 per multiply-add) | counter x 2 / formula |')
        print('|---|---:|---|---:|---:|---:|')
        for arch in args.arch:
            model = SwinTransformerV2(arch=arch, window_size=args.window).eval()
            x = torch.randn(args.batch, 3, h, w)
            counted = get_model_complexity_info(model, inputs=(x,), show_table=False,
                                                show_arch=False)['flops']
            formula = swinv2_flops(SwinTransformerV2.arch_zoo[arch], args.window, args.batch,
                                   h, w)
            print(f'| {arch} | {args.window} | {args.batch}x3x{h}x{w} | {counted / 1e9:.2f} | '
                  f'{formula / 1e9:.2f} | {2 * counted / formula:.4f} |', flush=True)
    return run_guarded(body, debug)


if __name__ == '__main__':
    sys.exit(main())
