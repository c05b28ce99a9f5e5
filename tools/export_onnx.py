#!/usr/bin/env python
"""Export a SwinV2 backbone, an mmseg segmentor or an mmdet detector's backbone + neck to ONNX,
then check it with onnxruntime against eager PyTorch at the export size and three others.

    .venv/bin/python tools/export_onnx.py CONFIG [CHECKPOINT] --out FILE.onnx
        [--shape H W] [--batch N] [--dynamic] [--backbone-only] [--check-size H W ...]
        [--atol 1e-4] [--benchmark REPEATS] [--threads N] [--cfg-options k=v ...] [--debug]

CONFIG: an mmseg config (EncoderDecoder, e.g. UperNet: output the logits at the input size),
an mmdet config (output the neck's maps), or a config whose `model` is a SwinTransformerV2
dict (output the stage maps); --backbone-only exports just the backbone of any of them.
The input is the image batch after the data preprocessor (normalised, RGB, float32).
Without CHECKPOINT the weights are random (PyTorch's default initialisation).
Any mismatch above 1e-4, and any mistake, ends in one line on stderr and exit code 1.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from swinv2_mm.engine.cli import pop_debug, run_guarded  # noqa: E402
from swinv2_mm.engine.errors import ToolError  # noqa: E402


def parse_args(argv):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='mmdet / mmseg config, or a config whose model is a '
                        'SwinTransformerV2 dict')
    parser.add_argument('checkpoint', nargs='?', help='weights: a Runner checkpoint of the '
                        'detector/segmentor; any SwinV2 weight file for a backbone config')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--shape', nargs=2, type=int, metavar=('H', 'W'), default=None,
                        help='example input size (default: 512 512 for a segmentor, '
                        '800 1344 otherwise)')
    parser.add_argument('--batch', type=int, default=1, help='example batch size')
    parser.add_argument('--dynamic', action='store_true',
                        help='batch, height and width dynamic in the graph')
    parser.add_argument('--backbone-only', action='store_true',
                        help='export only the SwinTransformerV2 backbone of the config')
    parser.add_argument('--check-size', nargs=2, type=int, action='append', default=[],
                        metavar=('H', 'W'), help='also check at this size (repeatable)')
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest max abs difference to eager PyTorch accepted (float32; '
                        'raise it for models whose outputs are in the thousands)')
    parser.add_argument('--benchmark', type=int, default=0, metavar='REPEATS',
                        help='time onnxruntime and eager PyTorch at the export size: median '
                        'of REPEATS runs each')
    parser.add_argument('--threads', type=int, default=2, help='threads for --benchmark')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv, debug = pop_debug(argv)
    args = parse_args(argv)

    def body():
        from swinv2_mm.deploy import (benchmark, check_sizes, export_onnx, load_export_model,
                                      verify)
        if not args.out.endswith('.onnx'):
            raise ToolError(f'--out {args.out}: name the output *.onnx')
        if args.batch < 1 or (args.shape and min(args.shape) < 1) \
                or any(min(s) < 1 for s in args.check_size):
            raise ToolError('--batch, --shape and --check-size take positive integers')
        em = load_export_model(args.config, args.checkpoint, args.backbone_only,
                               args.cfg_options)
        h, w = args.shape or ((512, 512) if em.kind == 'segmentor' else (800, 1344))
        if args.dynamic:
            sizes = check_sizes(em.backbone, args.batch, h, w)
            sizes += [(args.batch, ch, cw) for ch, cw in args.check_size]
        else:
            if args.check_size:
                raise ToolError('--check-size needs --dynamic: a static graph runs at the '
                                'export size only')
            sizes = [(args.batch, h, w)]

        def check(path):
            print(f'exported {em.kind} ({", ".join(em.output_names)}) at '
                  f'{args.batch}x3x{h}x{w}, '
                  f'{"dynamic batch/height/width" if args.dynamic else "static shape"}')
            print(f'onnxruntime vs eager PyTorch (float32, max abs error <= {args.atol:g}):')
            verify(em, path, sizes, tol=args.atol)
        export_onnx(em, args.out, args.batch, h, w, dynamic=args.dynamic, check=check)
        print(f'wrote {args.out}')
        if args.benchmark:
            ort_s, torch_s = benchmark(em, args.out, args.batch, h, w, args.benchmark,
                                       args.threads)
            print(f'speed at {args.batch}x3x{h}x{w}, {args.threads} threads, median of '
                  f'{args.benchmark}: onnxruntime {ort_s * 1000:.0f} ms, eager PyTorch '
                  f'{torch_s * 1000:.0f} ms ({torch_s / ort_s:.2f}x)')
    return run_guarded(body, debug)


if __name__ == '__main__':
    sys.exit(main())
