#!/usr/bin/env bash
# Distributed testing on one machine: tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...]
set -euo pipefail
if [[ $# -lt 3 || ! "$3" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: usage: bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...] (NPROC: number of processes, e.g. 2)" >&2
  exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON=${PYTHON:-"$ROOT/.venv/bin/python"}
[[ -x "$PYTHON" ]] || PYTHON=python
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( ($(nproc) + NPROC - 1) / NPROC ))}
# A mistake in the config, the checkpoint file, the data or the flags ends here, in one
# process and one line, not once per process followed by torchrun's report.
"$PYTHON" "$ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" --check-only "${@:4}" >/dev/null || exit $?
# torchrun, with its report of a failed process cut to one line (swinv2_mm/engine/dist_run.py)
PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "$PYTHON" -m swinv2_mm.engine.dist_run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
