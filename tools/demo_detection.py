"""The embedded detection demo (tools/demo.sh det): generate a small COCO-format dataset,
train a small SwinV2 Cascade Mask R-CNN on CPU, evaluate it with CocoMetric on held-out
images, and save pictures of its predictions (outputs/demo_detection/)."""
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

if __name__ == '__main__':
    import os
    os.chdir(ROOT)  # the config and data paths are relative to the repository
    from swinv2_mm.engine.demo import main
    sys.exit(main())
