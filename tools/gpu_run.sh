#!/usr/bin/env bash
# The GPU run (issue 10): the CUDA tests and the CUDA benchmark on a lent GPU machine.
#
# NOT YET EXECUTED ON A GPU: written, syntax-checked and its `prepare` step run on a CPU-only
# machine; no GPU was lent to the task that wrote it. The first session that runs it on a GPU
# fixes what breaks and removes this paragraph.
#
# Here (the CPU machine, with .venv built by tools/setup_env.sh), once:
#   bash tools/gpu_run.sh prepare
# collects what the GPU image lacks into .venv/gpu_wheels (mmengine and its small pure-Python
# dependencies, mmpretrain 1.2.0 and its import-path dependencies, mmcv 2.1.0 built here without
# ops as mmcv-lite - mmpretrain's backbone needs mmcv.cnn only). The GPU image already has torch, timm,
# transformers, safetensors, matplotlib, pytest (see the device tool's KINDS.md); it has no
# package registry, so everything else travels as wheels.
#
# There, through the device tool (`run`, repository root; each call at most 10 minutes, so one
# or two steps per call), carrying the wheels:
#   run(command="bash tools/gpu_run.sh tests bench-tiny", carry=[".venv/gpu_wheels"])
#   run(command="bash tools/gpu_run.sh bench-base compile", carry=[".venv/gpu_wheels"])
#   run(command="bash tools/gpu_run.sh sweep", carry=[".venv/gpu_wheels"])
# Steps: tests | bench-tiny | bench-base | compile | sweep (in the order given). Every step
# writes its JSON record / log / plot under $OUT (the device tool's folder that comes back; at
# most 8 files a call), default ./gpu_out elsewhere. Copy the JSON records into docs/benchmarks/
# and regenerate the tables in docs/benchmark.md from them.
#
# Not covered here: the detectors' training on the GPU (Cascade Mask R-CNN / UperNet need mmcv
# compiled WITH its CUDA ops, a ~10+ minute build: start it there under `setsid` in one call and
# use it in the next while the machine stays warm), and mmdet/mmseg wheels for that.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WHEELS=.venv/gpu_wheels
OUT="${OUT:-$ROOT/gpu_out}"
STEP_LIMIT=570  # seconds: each step ends inside the device tool's 10-minute limit per call
log() { echo "[gpu_run] $*" >&2; }

prepare() {
  local py=.venv/bin/python
  [[ -x $py ]] || { log "build .venv first: bash tools/setup_env.sh"; exit 1; }
  rm -rf "$WHEELS.new" "$WHEELS.src" && mkdir -p "$WHEELS.new"
  # Pure-Python wheels (any platform), exact versions where this project pins them.
  "$py" -m pip download -q --no-deps --only-binary=:all: -d "$WHEELS.new" \
    mmengine==0.10.7 addict==2.4.0 yapf termcolor platformdirs \
    mmpretrain==1.2.0 importlib-metadata==10.2.0 lazy-importer==0.1.0 model-index==0.1.11 \
    modelindex==0.0.2 ordered-set==4.1.0
  # mmcv 2.1.0 is a source archive; built without ops it names itself mmcv-lite (the same
  # `mmcv` package, pure Python, any Python version). Built from the downloaded archive with
  # --no-cache-dir: pip would otherwise hand back its cached build WITH ops (cp311 only).
  "$py" -m pip download -q --no-deps --no-binary :all: -d "$WHEELS.src" mmcv==2.1.0
  MMCV_WITH_OPS=0 "$py" -m pip wheel -q --no-cache-dir --no-deps --no-build-isolation \
    -w "$WHEELS.new" "$WHEELS.src"/mmcv-2.1.0.tar.gz
  rm -rf "$WHEELS.src"
  ls "$WHEELS.new"/*.whl >/dev/null
  rm -rf "$WHEELS" && mv "$WHEELS.new" "$WHEELS"
  du -sh "$WHEELS" >&2
  log "carry $WHEELS (well under the device tool's 64 MiB)"
}

setup_there() {
  python3 -c 'import torch; assert torch.cuda.is_available(), "torch sees no CUDA device"'
  [[ -d $WHEELS ]] || { log "no $WHEELS: run 'bash tools/gpu_run.sh prepare' here and carry it"; exit 1; }
  mkdir -p "$OUT"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$WHEELS"/*.whl
  export PYTHONPATH="/tmp/site:$ROOT" PYTHONUNBUFFERED=1
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv \
    > "$OUT/gpu.txt" 2>&1 || true
  python3 -c 'import torch, mmengine, timm, transformers, swinv2_mm
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn",
      torch.backends.cudnn.version(), torch.cuda.get_device_name(),
      "| mmengine", mmengine.__version__, "timm", timm.__version__,
      "transformers", transformers.__version__)' | tee -a "$OUT/gpu.txt"
}

bench() {  # name, then benchmark.py arguments
  local name=$1
  shift
  timeout "$STEP_LIMIT" python3 tools/benchmark.py --device cuda "$@" --json "$OUT/$name.json" \
    2>&1 | tee "$OUT/$name.md" || log "$name: exit $? (partial record kept in $OUT/$name.json)"
}

[[ $# -gt 0 ]] || { log "usage: bash tools/gpu_run.sh prepare | {tests|bench-tiny|bench-base|compile|sweep}..."; exit 2; }
if [[ $1 == prepare ]]; then
  prepare
  exit 0
fi
setup_there
for step in "$@"; do
  log "step $step"
  case $step in
    tests)
      timeout "$STEP_LIMIT" python3 -m pytest -p no:cacheprovider -m gpu -v tests/test_gpu.py \
        2>&1 | tee "$OUT/tests_gpu.log" || log "tests: failures (see $OUT/tests_gpu.log)" ;;
    bench-tiny)  # issue 10's matrix for SwinV2-T: det 2x800x1344, seg 8x512x512, w16/24
      bench cuda_tiny --arch tiny --window 16 24 --shape 2x800x1344 8x512x512 \
        --mode eval train --dtype bf16 fp32 --memory --warmup 3 --repeats 10 ;;
    bench-base)
      bench cuda_base --arch base --window 16 24 --shape 2x800x1344 8x512x512 \
        --mode eval train --dtype bf16 --memory --warmup 3 --repeats 10 ;;
    compile)  # compiled vs compiled (each implementation that compiles), bf16
      bench cuda_compile --arch tiny --window 16 --shape 2x800x1344 --mode eval train \
        --dtype bf16 --compile --warmup 2 --repeats 10 ;;
    sweep)  # issue 13 on the GPU: ns/px and allocator peak against pixels
      bench cuda_sweep --sweep --arch tiny --window 16 32 --shape 512 1024 1536 2048 \
        --mode eval --dtype bf16 --timeout 120 --plot "$OUT/cuda_sweep.png" ;;
    *) log "unknown step '$step' (tests, bench-tiny, bench-base, compile, sweep)"; exit 2 ;;
  esac
done
