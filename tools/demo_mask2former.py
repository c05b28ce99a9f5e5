"""The embedded Mask2Former demo (`bash tools/demo.sh mask2former`): on the segmentation
demo's generated ADE20K-format data, train a small SwinV2 Mask2Former (mmseg + mmdet's head)
on CPU, evaluate it with IoUMetric on the held-out images and write colour overlays
(outputs/demo_mask2former/). Exit 0 if mIoU >= 0.5. docs/heads.md shows its results.

    .venv/bin/python tools/demo_mask2former.py [--iters N] [--threads 2] [--metrics-out FILE]
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

if __name__ == '__main__':
    sys.path.insert(0, ROOT)
    os.chdir(ROOT)  # the config and data paths are relative to the repository
    from swinv2_mm.engine.demo import demo_cli
    sys.exit(demo_cli('mask2former'))
