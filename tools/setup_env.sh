#!/usr/bin/env bash
# Build .venv (torch 2.13 + torchvision 0.28, mmcv 2.1.0 compiled with ops, mmdet, mmseg, timm, ...)
# in the repository root. Idempotent: a second run with nothing changed returns in about a second,
# and mmcv is compiled once per machine (the wheel is cached outside the repo).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
UV_VERSION=0.13.8
MMCV_VERSION=2.1.0
WHEEL_CACHE="${SWINV2_MM_WHEEL_CACHE:-$HOME/.cache/swinv2_mm/wheels}"

# Everything that decides the environment's content; a change to any of it triggers a rebuild.
fingerprint() {
  cat tools/setup_env.sh requirements/*.txt setup.py 2>/dev/null \
    | sha256sum | cut -d' ' -f1
}
STAMP="$VENV/.swinv2_mm_env"
if [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$(fingerprint)" ]]; then
  exit 0
fi
# One build at a time per checkout (tests started in parallel would otherwise install into the
# same .venv at once); whoever waited re-checks the stamp.
exec 9>"${TMPDIR:-/tmp}/swinv2_mm_setup_env.$(printf %s "$ROOT" | sha256sum | cut -c1-12).lock"
flock 9
if [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$(fingerprint)" ]]; then
  exit 0
fi
log() { echo "[setup_env] $*" >&2; }
start=$SECONDS

if [[ ! -x "$PY" ]]; then
  log "creating $VENV"
  python3.11 -m venv "$VENV" 2>/dev/null || python3 -m venv "$VENV"
fi
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { log "need Python 3.11 for .venv; remove .venv and put python3.11 on PATH"; exit 1; }

# uv resolves from the package index only. That matters here: this machine's pip is configured
# with a local CPU-only torch wheel for which no torchvision exists; the index's torch 2.13.0
# (CUDA build) runs on CPU too and imports together with torchvision 0.28.0.
if [[ ! -x "$VENV/bin/uv" ]] || [[ "$("$VENV/bin/uv" --version)" != *"$UV_VERSION"* ]]; then
  log "installing uv $UV_VERSION"
  "$PY" -m pip install -q "uv==$UV_VERSION"
fi
UV=("$VENV/bin/uv" pip)
CONSTRAINTS=()
[[ -f requirements/constraints.txt ]] && CONSTRAINTS=(-c requirements/constraints.txt)

log "installing requirements/build.txt"
"${UV[@]}" install -q --python "$PY" -r requirements/build.txt "${CONSTRAINTS[@]}"

# mmcv 2.1.0 ships only as a source archive. It must be built inside this environment (an isolated
# build has no torch and silently yields an mmcv without ops) and with MMCV_WITH_OPS=1.
TORCH_TAG=$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')
MMCV_DIR="$WHEEL_CACHE/mmcv-$MMCV_VERSION-torch$TORCH_TAG-cp311"
MMCV_WHEEL=$(ls "$MMCV_DIR"/mmcv-*.whl 2>/dev/null | head -n 1 || true)
if [[ -z "$MMCV_WHEEL" ]] && ! "$PY" -c "import mmcv._ext; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
    log "compiling mmcv $MMCV_VERSION with ops (about 9 minutes on 2 cores; cached in $MMCV_DIR)"
    mkdir -p "$MMCV_DIR"
    MMCV_WITH_OPS=1 MAX_JOBS="$(nproc)" FORCE_CUDA=0 \
      "$PY" -m pip wheel -q --no-build-isolation --no-deps --no-binary mmcv \
      -w "$MMCV_DIR" "mmcv==$MMCV_VERSION"
  MMCV_WHEEL=$(ls "$MMCV_DIR"/mmcv-*.whl | head -n 1)
fi

log "installing requirements/env.txt"
# The local mmcv wheel satisfies mmdet/mmseg's mmcv<2.2 so the resolver never builds one itself.
"${UV[@]}" install -q --python "$PY" ${MMCV_WHEEL:+"$MMCV_WHEEL"} -r requirements/env.txt "${CONSTRAINTS[@]}"

# mmpretrain 1.2.0 is a test reference only, kept off the default path: installed in
# site-packages it breaks `import mmdet.models` (mmdet probes it, and with transformers 5 it fails
# with a TypeError that mmdet does not catch). tests/mmpretrain_reference.py adds the folder.
"${UV[@]}" install -q --python "$PY" --no-deps --target "$VENV/reference" -r requirements/reference.txt

"${UV[@]}" install -q --python "$PY" --no-deps -e .
"$PY" -c 'import torch, torchvision, mmcv._ext, mmdet, mmseg, timm, transformers, swinv2_mm'
fingerprint > "$STAMP"
log "environment ready in $((SECONDS - start)) s: $PY"
