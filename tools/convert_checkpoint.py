#!/usr/bin/env python
"""Convert a SwinV2 checkpoint of any public format to swinv2_mm's layout (safetensors).

    python tools/convert_checkpoint.py swinv2_base_patch4_window12to16_192to256_22kto1k_ft.pth \
        swinv2_base_22kto1k_mm.safetensors
"""
import argparse
import sys

from swinv2_mm.checkpoint import CheckpointError
from swinv2_mm.checkpoint.export import convert_file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official .pth, timm .pth/.safetensors, transformers '
                        'file or folder, mmpretrain .pth, or an http(s) URL')
    parser.add_argument('dst', help='output .safetensors')
    args = parser.parse_args()
    try:
        for line in convert_file(args.src, args.dst):
            print(line)
    except CheckpointError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
