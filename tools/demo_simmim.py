"""The embedded SimMIM demo (`bash tools/demo.sh simmim`): pre-train a small SwinV2 with SimMIM
on generated unlabeled images (CPU, minutes), draw reconstructions of held-out images
(outputs/demo_simmim/reconstructions.png), then fine-tune the detection demo from that
checkpoint and from scratch with the same short schedule and report both held-out AP50s.
Exit 0 if the SimMIM loss fell (training; held-out below the loss of predicting every masked
pixel as the mean of the visible ones). docs/simmim.md.

    .venv/bin/python tools/demo_simmim.py [--pretrain-iters N] [--finetune-iters N] [--threads 2]
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

if __name__ == '__main__':
    sys.path.insert(0, ROOT)
    os.chdir(ROOT)  # the config and data paths are relative to the repository
    from swinv2_mm.engine.cli import pop_debug, run_guarded
    from swinv2_mm.engine.simmim_demo import main
    argv, debug = pop_debug(None)
    sys.exit(run_guarded(lambda: main(argv), debug))
