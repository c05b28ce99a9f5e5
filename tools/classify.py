#!/usr/bin/env python
"""Before you fine-tune, check the file: classify images with a checkpoint's own ImageNet head.

    .venv/bin/python tools/classify.py cats.jpg --checkpoint microsoft/swinv2-tiny-patch4-window8-256

prints the top-5 ImageNet-1K (or 22K) classes with their probabilities for each image. The
checkpoint is a file of any SwinV2 format with its classifier, or a name from
docs/model_zoo.md (read from the local caches, downloaded only if absent). The window comes
from the file or its name; --window runs it at another one (its position bias transferred).
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
    parser.add_argument('images', nargs='+', metavar='IMAGE', help='image files')
    parser.add_argument('--checkpoint', required=True, metavar='FILE_OR_NAME',
                        help='a SwinV2 classifier checkpoint (any format) or a known name')
    parser.add_argument('--window', type=int, default=None,
                        help='window size to run at (default: the one it was trained with)')
    parser.add_argument('--size', type=int, default=None,
                        help='input size (default: the one it was trained with, else 256)')
    parser.add_argument('--topk', type=int, default=5, help='classes to print per image')
    from swinv2_mm.engine.cli import pop_debug, run_guarded
    argv, debug = pop_debug(None)
    args = parser.parse_args(argv)

    def body():
        from swinv2_mm.engine.classify import build_classifier, classify
        from swinv2_mm.engine.errors import ToolError
        for value, flag in ((args.window, '--window'), (args.size, '--size'),
                            (args.topk, '--topk')):
            if value is not None and value < 1:
                raise ToolError(f'{flag} {value}: must be a positive integer')
        classifier = build_classifier(args.checkpoint, args.window, args.size)
        print(classifier.description)
        for image, top in zip(args.images, classify(classifier, args.images, args.topk)):
            print(image)
            for rank, (index, label, prob) in enumerate(top, 1):
                print(f'  {rank}. {prob:7.4f}  {label}  [{index}]')
    return run_guarded(body, debug)


if __name__ == '__main__':
    sys.exit(main())
