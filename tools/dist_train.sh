#!/usr/bin/env bash
# Distributed training on one machine: tools/dist_train.sh CONFIG NPROC [train.py args...]
# GPUs: one process per GPU (nccl). CPU only: NPROC processes on gloo.
# NNODES, NODE_RANK, PORT, MASTER_ADDR as in mmdet's dist_train.sh.
set -euo pipefail
if [[ $# -lt 2 || ! "$2" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: usage: bash tools/dist_train.sh CONFIG NPROC [train.py args...] (NPROC: number of processes, e.g. 2)" >&2
  exit 2
fi
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON=${PYTHON:-"$ROOT/.venv/bin/python"}
[[ -x "$PYTHON" ]] || PYTHON=python
# Each process would otherwise use every core: share them out.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( ($(nproc) + NPROC - 1) / NPROC ))}
# A mistake in the config, the data or the flags ends here, in one process and one line,
# not once per process followed by torchrun's report.
"$PYTHON" "$ROOT/tools/train.py" "$CONFIG" --check-only "${@:3}" >/dev/null || exit $?
# torchrun, with its report of a failed process cut to one line (swinv2_mm/engine/dist_run.py)
PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "$PYTHON" -m swinv2_mm.engine.dist_run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
