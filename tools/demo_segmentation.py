"""The embedded segmentation demo (`bash tools/demo.sh seg`): generate a small ADE20K-format
dataset (reduce-zero-label convention), train a small SwinV2 UperNet on CPU, evaluate it with
IoUMetric (aAcc / mIoU / mAcc and the per-class table) on the held-out images and write colour
overlays (outputs/demo_segmentation/). Exit 0 if mIoU >= 0.5.

    .venv/bin/python tools/demo_segmentation.py [--iters N] [--threads 2]
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

if __name__ == '__main__':
    sys.path.insert(0, ROOT)
    os.chdir(ROOT)  # the config and data paths are relative to the repository
    from swinv2_mm.engine.demo import demo_cli
    sys.exit(demo_cli('segmentation'))
