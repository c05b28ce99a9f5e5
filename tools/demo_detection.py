"""The embedded detection demo (`bash tools/demo.sh det`): generate a small COCO-format
dataset, train a small SwinV2 Cascade Mask R-CNN on CPU, evaluate it with CocoMetric on the
held-out images and draw its predictions (outputs/demo_detection/). Exit 0 if bbox and segm
AP50 >= 0.5.

    .venv/bin/python tools/demo_detection.py [--iters N] [--threads 2]
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

if __name__ == '__main__':
    sys.path.insert(0, ROOT)
    os.chdir(ROOT)  # the config and data paths are relative to the repository
    from swinv2_mm.engine.demo import demo_cli
    sys.exit(demo_cli('detection'))
