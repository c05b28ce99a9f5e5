#!/usr/bin/env bash
# The README's test command (and CI's): build .venv if needed, then run the test suite.
# Extra arguments go to pytest, e.g. `bash tools/run_tests.sh -k identity`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
exec .venv/bin/python -m pytest "$@"
