"""How one step is timed, the machine's GEMM reference rate, and peak memory in a fresh
process (which is also how the sweep times a case)."""
import gc
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from .models import ARCHS, ROOT, build

DTYPES = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def timed(fn: Callable[[], None], device: str) -> float:
    """Wall time of fn; on CUDA the queue is drained before and after (kernels are async)."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def set_tf32(enabled: bool) -> None:
    """TF32 for fp32 matmuls and convolutions on CUDA: off unless --tf32 (then 'fp32' rows
    run on the TF32 tensor cores and are compared with the TF32 peak)."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def make_step(model: nn.Module, x: torch.Tensor, mode: str, device: str,
              dtype: Optional[torch.dtype]) -> Callable[[], None]:
    """eval: forward under no_grad. train: forward + backward of a scalar loss over every
    stage output (grads set to None first, as `optimizer.zero_grad()` does). Both under
    autocast in `dtype` when one is given (CPU and CUDA alike), for every implementation."""
    amp = torch.autocast(device, dtype=dtype) if dtype is not None else nullcontext()
    if mode == 'eval':
        model.eval()

        def step():
            with torch.no_grad(), amp:
                model(x)
    else:
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]

        def step():
            for p in params:
                p.grad = None
            with amp:
                outs = model(x)
                loss = sum(o.float().mean() for o in outs)
            loss.backward()
    return step


# -- the GEMM reference ----------------------------------------------------------------------------
def gemm_size(device: str, dtype: torch.dtype, budget_s: float = 0.5) -> int:
    """The matmul size of the reference: 2048 on CPU (the size the issues quote), 8192 on CUDA
    (2048^3 is too small to fill a GPU: launch latency would dominate). A CPU without native
    kernels for the dtype (bf16 on a CPU without AVX-512: ~0.2 GFLOP/s, minutes per 2048^3
    product) gets the largest multiple of 256 whose product takes about `budget_s`."""
    if device == 'cuda':
        return 8192
    a = torch.randn(256, 256).to(dtype)
    torch.mm(a, a)
    start = time.perf_counter()
    torch.mm(a, a)
    rate = 2.0 * 256**3 / max(time.perf_counter() - start, 1e-9)
    fits = int((budget_s * rate / 2.0) ** (1 / 3)) // 256 * 256
    return max(256, min(2048, fits))


def gemm_rate(device: str, dtype: torch.dtype = torch.float32, n: Optional[int] = None,
              repeats: int = 5) -> float:
    """Measured GFLOP/s of an n^3 matmul in `dtype` (median of `repeats` after one warm-up);
    n from gemm_size unless given."""
    n = n or gemm_size(device, dtype)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    times = []
    for i in range(repeats + 1):
        t = timed(lambda: torch.mm(a, b), device)
        if i:
            times.append(t)
    return 2.0 * n**3 / statistics.median(times) / 1e9


class GemmReference:
    """The machine's GEMM rate per dtype, the denominator of every "% of GEMM". One sample is
    the median of 5 matmuls; samples are taken at the start, after every configuration and
    at the end, and the reference is their median: one sample taken while another process
    held the cores would otherwise inflate every share (a share above 100 % is impossible
    for a network made of these GEMMs and is flagged as a measurement problem)."""

    def __init__(self, device: str, dtypes: List[str]):
        self.device = device
        self.samples: Dict[str, List[float]] = {name: [] for name in dtypes}
        self.sizes = {name: gemm_size(device, DTYPES[name] or torch.float32) for name in dtypes}

    def sample(self) -> None:
        for name, values in self.samples.items():
            values.append(gemm_rate(self.device, DTYPES[name] or torch.float32,
                                    self.sizes[name]))

    def rates(self) -> Dict[str, float]:
        return {k: statistics.median(v) for k, v in self.samples.items() if v}

    def spread(self, name: str) -> Tuple[float, float]:
        values = self.samples[name]
        return min(values), max(values)


# -- fresh processes: peak memory, and the sweep's cases ------------------------------------------
def _rss_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def _child_setup(spec: dict):
    torch.set_num_threads(spec['threads'])
    if spec['device'] == 'cuda':
        set_tf32(spec.get('tf32', False))
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    arch, (B, H, W) = ARCHS[spec['arch']], spec['shape']
    device = spec['device']
    torch.manual_seed(0)
    model = build(spec['impl'], arch, spec['window'], (H, W)).to(device)
    x = torch.randn(B, 3, H, W, device=device)
    return make_step(model, x, spec['mode'], device, DTYPES[spec['dtype']])


def measure_memory_child(spec: dict) -> dict:
    """Runs inside a fresh process: build, one warm-up step, then the peak memory the next
    step adds: on CPU the resident-set high-water mark (VmHWM, reset through
    /proc/self/clear_refs) over the resident set before the step; on CUDA the peak of torch's
    allocator (reset after the warm-up) over what was allocated before the step."""
    step = _child_setup(spec)
    step()
    gc.collect()
    if spec['device'] == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        torch.cuda.synchronize()
        return dict(peak_mib=(torch.cuda.max_memory_allocated() - base) / 2**20)
    base = _rss_kib('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets VmHWM to the current RSS
    step()
    return dict(peak_mib=(_rss_kib('VmHWM') - base) / 1024)


def time_case_child(spec: dict) -> dict:
    """Runs inside a fresh process (the sweep): build, warm up, time `repeats` steps."""
    step = _child_setup(spec)
    device = spec['device']
    for _ in range(spec['warmup']):
        step()
    return dict(times_ms=[1e3 * timed(step, device) for _ in range(spec['repeats'])])


def run_child(kind: str, spec: dict, timeout: Optional[float]) -> Tuple[Optional[dict], str]:
    """One measurement in a fresh interpreter (`python -m swinv2_mm.benchmark --KIND-child`);
    returns (result, '') or (None, why not)."""
    env = dict(os.environ)
    env['OMP_NUM_THREADS'] = str(spec['threads'])
    # The child imports this package from where the parent did (a checkout or site-packages).
    env['PYTHONPATH'] = os.pathsep.join(p for p in (ROOT, env.get('PYTHONPATH')) if p)
    if kind == 'memory':
        # A fixed mmap threshold makes glibc return every freed large tensor to the OS, so RSS
        # follows live memory (the default threshold adapts upwards and keeps freed blocks).
        # Not for timing: every large allocation would then page-fault afresh.
        env['MALLOC_MMAP_THRESHOLD_'] = '65536'
    cmd = [sys.executable, '-m', 'swinv2_mm.benchmark', f'--{kind}-child', json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f'timeout: over {timeout:g} s'
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith('RESULT '):
            return json.loads(line[len('RESULT '):]), ''
    err = proc.stderr.strip().splitlines()
    return None, f'failed (exit {proc.returncode}): {err[-1][:200] if err else "no output"}'


def measure_memory(spec: dict, timeout: Optional[float] = None) -> Optional[float]:
    result, why = run_child('memory', spec, timeout)
    if result is None:
        print(f'  memory of {spec["impl"]}: {why}', file=sys.stderr)
        return None
    return result['peak_mib']


def profile_table(device: str, arch_name: str, window: int, shape: Tuple[int, int, int],
                  mode: str, dtype_name: str, impl: str = 'ours', rows: int = 20) -> str:
    """torch.profiler's table of one step (after one warm-up step), sorted by self time."""
    from torch.profiler import ProfilerActivity, profile
    B, H, W = shape
    torch.manual_seed(0)
    model = build(impl, ARCHS[arch_name], window, (H, W)).to(device)
    x = torch.randn(B, 3, H, W, device=device)
    step = make_step(model, x, mode, device, DTYPES[dtype_name])
    step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == 'cuda' else [])
    with (nullcontext() if device == 'cuda' else kineto_lines_dropped()):
        with profile(activities=activities) as prof:
            step()
            sync(device)
        key = 'self_cuda_time_total' if device == 'cuda' else 'self_cpu_time_total'
        return prof.key_averages().table(sort_by=key, row_limit=rows)


# What libkineto (torch.profiler's engine) writes to the stderr file descriptor itself, e.g.
# on a CPU machine with a CUDA build of torch:
#   ERROR:2026-11-30 13:41:02 19431:19431 DeviceProperties.cpp:50] gpuGetDeviceCount failed ...
KINETO_LINE = re.compile(r'^[A-Z]+:\d{4}-\d\d-\d\d [\d:]+ \d+:\d+ \w+\.cpp:\d+\]')


@contextmanager
def kineto_lines_dropped():
    """The C++ profiler's own log lines (profiler start/stop, a CUDA device count that fails
    where there is no GPU) are noise on a CPU run; everything else written to stderr
    meanwhile is passed on."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors='replace').splitlines():
                if not KINETO_LINE.match(line):
                    print(line, file=sys.stderr)
