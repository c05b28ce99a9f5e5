"""The JSON record of a run: where it goes, what machine it names, how it is written (never
half: temporary file, read back, renamed)."""
import datetime
import json
import os
import platform
import sys
import tempfile
from typing import List, Sequence

import torch

from ..checkpoint.io import new_file_mode
from .errors import BenchmarkError
from .models import ROOT

# Without --json a run's record (and plot) goes here, relative to the working directory;
# /outputs/ is ignored by git, so a documented command never touches a tracked file.
RESULTS_DIR = os.path.join('outputs', 'benchmark')


def default_paths(results_dir: str, stamp: str):
    """(record, plot) names of a run without --json."""
    base = os.path.join(results_dir, f'benchmark-{stamp}')
    return base + '.json', base + '.png'


def check_writable(path: str, flag: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BenchmarkError(f'{flag} {path}: folder {folder} does not exist; create it or pick '
                             'another path')
    if not os.access(folder, os.W_OK):
        raise BenchmarkError(f'{flag} {path}: folder {folder} is not writable; pick another '
                             'path')
    if os.path.isdir(path):
        raise BenchmarkError(f'{flag} {path} is a folder; give a file name')


def publish(tmp: str, path: str) -> None:
    """Rename a verified temporary file over `path`, with the permissions a plain open()
    would have given it (mkstemp makes files private)."""
    os.chmod(tmp, new_file_mode())
    os.replace(tmp, path)


def write_json(path: str, record: dict) -> None:
    """Temporary file in the same folder, read back and compared, then renamed over `path`:
    a crash never leaves a half-written record, and a good record is only ever replaced by
    a verified one."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix='.json', prefix='.benchmark-', dir=folder)
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(record, f, indent=1, allow_nan=False)
            f.write('\n')
            f.flush()
            os.fsync(f.fileno())
        with open(tmp) as f:
            if json.load(f) != json.loads(json.dumps(record)):
                raise RuntimeError(f'{tmp}: read back differs from what was written')
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            return next(ln.split(':', 1)[1].strip() for ln in f if ln.startswith('model name'))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def machine_info(device: str, tf32: bool) -> dict:
    """What the numbers were measured on (the JSON record's `machine`)."""
    versions = {}
    for name in ('timm', 'transformers', 'mmengine', 'mmpretrain', 'torchvision', 'swinv2_mm'):
        module = sys.modules.get(name)
        versions[name] = getattr(module, '__version__', None) if module else None
    # cpu_capability: AVX512 or AVX2 decides whether bf16 has native kernels (a 'AMD EPYC'
    # of either kind has the same model name).
    info = dict(device=device, cpu=cpu_model(),
                cpu_capability=torch.backends.cpu.get_cpu_capability(), cpu_count=os.cpu_count(),
                threads=torch.get_num_threads(), python=platform.python_version(),
                platform=platform.platform(), torch=torch.__version__,
                torch_cuda_build=torch.version.cuda, cudnn=None, gpu=None,
                gpu_capability=None, tf32=None, packages=versions)
    if device == 'cuda':
        info.update(gpu=torch.cuda.get_device_name(),
                    gpu_capability='.'.join(map(str, torch.cuda.get_device_capability())),
                    cudnn=torch.backends.cudnn.version(), tf32=tf32)
    return info


def command_line(argv: Sequence[str]) -> List[str]:
    """The command as a user types it from the repository root."""
    exe = sys.executable
    if exe.startswith(ROOT + os.sep):
        exe = os.path.relpath(exe, ROOT)
    return [exe, 'tools/benchmark.py'] + list(argv)
