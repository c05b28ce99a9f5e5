"""Records: JSON files the code wrote, which the docs quote. Where they live, how one is read,
how a figure is picked out of one and printed, how one is written (whole or not at all)."""
import json
import os
import platform
import tempfile
from typing import Any, Dict, List

from ..checkpoint.io import new_file_mode

# docs/records/: demo metrics, identity figures, onnxruntime speed; docs/benchmarks/: the
# benchmark's own records (tools/benchmark.py --json).
RECORD_DIRS = (os.path.join('docs', 'records'), os.path.join('docs', 'benchmarks'))


class RecordError(ValueError):
    pass


def record_path(root: str, name: str) -> str:
    for folder in RECORD_DIRS:
        path = os.path.join(root, folder, name + '.json')
        if os.path.isfile(path):
            return path
    raise RecordError(f'no record {name!r}: neither {RECORD_DIRS[0]}/{name}.json nor '
                      f'{RECORD_DIRS[1]}/{name}.json exists; make it with '
                      f'`.venv/bin/python tools/docs_records.py refresh {name}`')


class Records:
    """Records by name, read once."""

    def __init__(self, root: str):
        self.root = root
        self._cache: Dict[str, dict] = {}

    def __getitem__(self, name: str) -> dict:
        if name not in self._cache:
            path = record_path(self.root, name)
            try:
                with open(path, encoding='utf-8') as f:
                    self._cache[name] = json.load(f)
            except ValueError as e:
                raise RecordError(f'{path}: not valid JSON ({e})') from e
        return self._cache[name]


def pick(record: Any, path: str, name: str = 'record') -> Any:
    """record['a']['b'][0] for path 'a/b/0'. A key may hold '/' itself (mmengine's metric
    names: 'coco/bbox_mAP'): 'metrics/coco/bbox_mAP' finds record['metrics']['coco/bbox_mAP']."""
    node, parts = record, path.split('/')
    while parts:
        if isinstance(node, list) and parts[0].lstrip('-').isdigit() \
                and -len(node) <= int(parts[0]) < len(node):
            node, parts = node[int(parts[0])], parts[1:]
            continue
        key = next((n for n in range(1, len(parts) + 1)
                    if isinstance(node, dict) and '/'.join(parts[:n]) in node), None)
        if key is None:
            raise RecordError(f'{name}: no {path!r} (stopped at {parts[0]!r})')
        node, parts = node['/'.join(parts[:key])], parts[key:]
    return node


def format_value(value: Any, spec: str) -> str:
    """A Python format spec, or 'e': scientific with two digits and a short exponent
    (2.5e-6, as the docs write small errors)."""
    if value is None:
        return 'not measured'
    if spec == 'e':
        mantissa, exp = f'{value:.1e}'.split('e')
        return f'{mantissa}e{int(exp)}'
    return format(value, spec)


def machine() -> dict:
    """Enough to tell two machines apart."""
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(ln.split(':', 1)[1].strip() for ln in f if ln.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return dict(cpu=cpu, cpu_capability=torch.backends.cpu.get_cpu_capability(),
                cpu_count=os.cpu_count(), python=platform.python_version(),
                torch=torch.__version__)


def write_record(path: str, record: dict) -> None:
    """Temporary file beside `path`, read back and compared, then renamed over it: an existing
    record is only ever replaced by a complete, verified one."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix='.json', prefix='.record-', dir=folder)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(record, f, indent=1, allow_nan=False, sort_keys=False)
            f.write('\n')
            f.flush()
            os.fsync(f.fileno())
        with open(tmp, encoding='utf-8') as f:
            if json.load(f) != json.loads(json.dumps(record)):
                raise RecordError(f'{tmp}: read back differs from what was written')
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def names(root: str) -> List[str]:
    out = []
    for folder in RECORD_DIRS:
        d = os.path.join(root, folder)
        if os.path.isdir(d):
            out += sorted(f[:-5] for f in os.listdir(d) if f.endswith('.json'))
    return out
