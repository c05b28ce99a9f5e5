#!/usr/bin/env python
"""Convert a SwinV2 checkpoint of any public format to swinv2_mm's layout (safetensors).

    .venv/bin/python tools/convert_checkpoint.py \
        swinv2_base_patch4_window12to16_192to256_22kto1k_ft.pth swinv2_base_22kto1k_mm.safetensors

A whole model's checkpoint (detector, segmentor, SimMIM pre-training: tools/train.py's
iter_N.pth / epoch_N.pth) gives its backbone (keys under `backbone.`). The source is read and
checked completely first; the result is written beside the output, verified, and only then
renamed onto it. An existing output is kept unless --force.
"""
import argparse
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout
# mmengine's import warns about pkg_resources on stderr: keep stderr for our one line
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official .pth, timm .pth/.safetensors, transformers '
                        'file or folder, mmpretrain .pth, or an http(s) URL')
    parser.add_argument('dst', help='output .safetensors')
    parser.add_argument('--force', action='store_true',
                        help='replace an existing output (only with a verified result)')
    from swinv2_mm.engine.cli import pop_debug, run_guarded
    argv, debug = pop_debug(None)
    args = parser.parse_args(argv)

    def body():
        from swinv2_mm.checkpoint.export import convert_file
        # Runner checkpoints (a detector's, a SimMIM pre-training's) are read like weights:
        # with the restricted unpickler, which takes the Runner's own state and nothing else.
        lines = convert_file(args.src, args.dst, force=args.force)
        for line in lines:
            print(line)
    return run_guarded(body, debug)


if __name__ == '__main__':
    sys.exit(main())
