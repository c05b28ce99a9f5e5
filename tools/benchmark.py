"""Side-by-side speed and memory of SwinV2 backbones: this package vs timm vs transformers vs
mmpretrain, in one process, on the same inputs, with interleaved timed runs.

    .venv/bin/python tools/benchmark.py --quick                      # CI-sized smoke run
    .venv/bin/python tools/benchmark.py --arch tiny --window 16 \\
        --shape det seg --mode eval train --memory --with-cp         # the targets' matrix
    .venv/bin/python tools/benchmark.py --sweep --arch tiny --window 16 32 \\
        --shape 512 1024 1536 2048 --mode eval --plot                # resolution sweep

Prints a Markdown report and writes a JSON record (--json FILE, or by default
outputs/benchmark/benchmark-<UTC time>.json, untracked). The measuring code is
swinv2_mm/benchmark/; docs/benchmark.md says what every column means.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # a checkout

from swinv2_mm.benchmark import main  # noqa: E402

if __name__ == '__main__':
    main()
