#!/usr/bin/env bash
# The README's main command: build the environment if needed, then train and evaluate the
# embedded demos on generated data. `bash tools/demo.sh det` or `seg` runs one of them;
# `bash tools/demo.sh simmim` the SimMIM pre-training demo.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
what="${1:-all}"
if [[ "$what" == det || "$what" == all ]]; then
  .venv/bin/python tools/demo_detection.py
fi
if [[ "$what" == seg || "$what" == all ]]; then
  .venv/bin/python tools/demo_segmentation.py
fi
# Not part of "all": SimMIM pre-training, then the detection demo fine-tuned twice (docs/simmim.md)
if [[ "$what" == simmim ]]; then
  .venv/bin/python tools/demo_simmim.py
fi
# Not part of "all": Mask2Former on the segmentation demo's data (docs/heads.md)
if [[ "$what" == mask2former ]]; then
  .venv/bin/python tools/demo_mask2former.py
fi
