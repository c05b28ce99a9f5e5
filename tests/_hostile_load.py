"""Hostile checkpoints through every loading entry point, as an attacker would try them.

    python tests/_hostile_load.py SPEC_JSON   (tests/test_hostile_files.py runs it)

SPEC: {"work": folder, "det_ckpt", "seg_ckpt": Runner checkpoints our tools wrote,
       "mmdet_ckpt", "mmseg_ckpt": ones mmdet's / mmseg's own tools/train.py wrote,
       "coco", "ade": data roots, "det_image", "seg_image", "heavy_cases": [...],
       "mutants": N, "seed": S}
The fuzzer's seed is a small checkpoint written by a real mmengine Runner (toy_checkpoint).

This process imports everything once, writes the hostile files, then runs each
(case, entry point) in a forked child: a crash (a signal) is a result of its own, never a lost
test. Each child watches itself with an audit hook (a process, a shell, ctypes or pickle's own
find_class is code running) and compares the process's state before and after (mmengine's
HistoryBuffer class and statistics table, torch's allow-list, copyreg's registries, attributes
of builtins/os/numpy/torch/pickle). The fuzzer mutates the seed's pickle stream and reads every
mutant the same way. One JSON line per result on stdout: RESULT {...}.
"""
import contextlib
import io
import json
import os
import os.path as osp
import pickle
import random
import runpy
import select
import shutil
import struct
import sys
import time
import zipfile
from collections import OrderedDict

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
DET = osp.join(ROOT, 'configs', 'demo', 'cascade_swinv2_demo_synthetic.py')
SEG = osp.join(ROOT, 'configs', 'demo', 'upernet_swinv2_demo_synthetic.py')
SITE_TOOLS = {}

# -- a pickle assembler: the attacks need instruction sequences no pickler writes ------------
G = lambda module, name: b'c' + f'{module}\n{name}\n'.encode()  # noqa: E731 - GLOBAL
HB = G('mmengine.logging.history_buffer', 'HistoryBuffer')
PUT = lambda i: b'r' + struct.pack('<I', i)  # noqa: E731 - LONG_BINPUT (clear of sub-pickles)
GET = lambda i: b'j' + struct.pack('<I', i)  # noqa: E731 - LONG_BINGET


def emb(obj) -> bytes:
    """`obj` as pickle instructions to splice in (protocol 2, without PROTO and STOP)."""
    return pickle.dumps(obj, protocol=2)[2:-1]


def text(s: str) -> bytes:
    data = s.encode()
    return b'X' + struct.pack('<I', len(data)) + data


def program(*parts: bytes) -> bytes:
    return b'\x80\x02' + b''.join(parts) + b'.'


def runner_shaped(payload: bytes) -> bytes:
    """{'meta': {...}, 'state_dict': {}, 'message_hub': <payload>}: what our tools check."""
    return program(b'}', text('meta'), emb({'iter': 1, 'epoch': 0}), b's',
                   text('state_dict'), b'}', b's', text('message_hub'), payload, b's')


class Reduce:
    """Pickles as the call it is given: (callable, args[, state])."""

    def __init__(self, *reduce):
        self.reduce = reduce

    def __reduce__(self):
        return self.reduce


def with_pickle(template: str, data_pkl: bytes, out: str, drop=(), extra=None) -> str:
    """A torch zip archive: the template's records with data.pkl replaced."""
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            name = info.filename
            if any(name.endswith(d) for d in drop):
                continue
            dst.writestr(name, data_pkl if name.endswith('/data.pkl') else src.read(name))
        for name, (data, how) in (extra or {}).items():
            dst.writestr(zipfile.ZipInfo(name), data, compress_type=how)
    return out


def craft(spec) -> dict:
    """case -> (path, what it is). Files an attacker hands a user; markers are what code
    from them would leave behind."""
    from mmengine.logging import HistoryBuffer
    work, det = spec['work'], spec['det_ckpt']
    marker = osp.join(work, 'CODE_RAN')
    files = {}

    def put(name, data, what, **kw):
        path = osp.join(work, f'{name}.pth')
        if isinstance(data, bytes):
            with_pickle(det, data, path, **kw)
        files[name] = (path, what)
        return path

    def saved(name, obj, what, **kw):
        path = osp.join(work, f'{name}.pth')
        torch.save(obj, path, **kw)
        files[name] = (path, what)

    runner = torch.load(det, map_location='cpu', weights_only=False)  # ours, trusted
    files['benign_det'] = (det, 'a Runner checkpoint of the detection demo (control)')
    files['benign_seg'] = (spec['seg_ckpt'], 'a Runner checkpoint of the segmentation demo')
    files['mmdet_written'] = (spec['mmdet_ckpt'], "written by mmdet's own tools/train.py")
    files['mmseg_written'] = (spec['mmseg_ckpt'], "written by mmseg's own tools/train.py")
    # Attacks reported against the allow-list, using only its globals and torch's defaults.
    put('forged_pointer', runner_shaped(
        G('numpy', 'ndarray') + emb(((1,), np.dtype('O'), struct.pack('<Q', id(os.system))))
        + b'R'), 'numpy.ndarray((1,), "O", <8 bytes>): an object array of a forged pointer')
    put('oob_view', runner_shaped(G('numpy', 'ndarray') + emb(((4096,), 'u1', b'\0', 0, (1,)))
                                  + b'R'), 'numpy.ndarray view of 4 KiB over a 1-byte buffer')
    interface = {'__array_interface__': {'data': (4096, False), 'shape': (64,),
                                         'typestr': '|u1', 'version': 3}}
    # HistoryBuffer([x], [0]) passes its length check, then numpy reads x's interface
    put('array_interface', runner_shaped(
        HB + b')\x81' + emb(interface) + b'b' + PUT(9000) + HB + b']' + GET(9000) + b'a'
        + emb([0]) + b'\x86R'), 'HistoryBuffer([x], [0]) with x.__array_interface__ at 4096')
    state = {'max_length': 10, '_log_history': np.zeros(1), '_count_history': np.ones(1, np.int64),
             'statistics_methods': {'mean': HistoryBuffer.max}}
    put('class_table', runner_shaped(
        b'}' + text('log_scalars') + b'}' + text('train/loss') + HB + b')\x81' + emb(state) + b'b'
        + b's' + b's'), 'HistoryBuffer state whose statistics_methods map mean to max')
    fields = {'max_length': 10, '_log_history': np.zeros(1), '_count_history': np.ones(1)}
    put('two_build', runner_shaped(
        HB + b')\x81' + PUT(9000) + emb(fields)[:-1] + text('__setstate__')
        + G('builtins', 'getattr') + GET(9000) + text('update') + b'\x86R' + b'u' + b'b'
        + emb(1.0) + b'b'),
        'BUILD plants __setstate__ = getattr(buffer, "update"); a second BUILD calls it')
    system = struct.pack('<Q', id(os.system))
    put('code_given_addresses', runner_shaped(
        G('numpy', 'ndarray') + emb(((1,), np.dtype('O'), system)) + b'R' + PUT(9001)
        + HB + b')\x81' + b'}' + text('__setstate__') + GET(9001) + b's' + b'b'
        + emb(f'touch {marker}') + b'b'),
        'a forged pointer to os.system planted as __setstate__ and called with a command')
    # Classic hostile pickles: every format torch reads.
    with open(osp.join(work, 'raw_pickle.pth'), 'wb') as f:
        pickle.dump({'state_dict': {}, 'meta': Reduce(os.system, (f'touch {marker}',))}, f,
                    protocol=2)
    files['raw_pickle'] = (osp.join(work, 'raw_pickle.pth'), 'a plain pickle calling os.system')
    saved('legacy_format', {'meta': Reduce(os.system, (f'touch {marker}',))},
          "torch's legacy (non-zip) format calling os.system",
          _use_new_zipfile_serialization=False)
    saved('zip_eval', dict(runner, meta=Reduce(eval, (f'open({marker!r}, "w")',))),
          'a Runner checkpoint whose meta calls builtins.eval')
    import subprocess
    saved('zip_subprocess', dict(runner, meta=Reduce(subprocess.check_output,
                                                      (['touch', marker],))),
          'a Runner checkpoint whose meta calls subprocess.check_output')
    # Malformed archives.
    with open(det, 'rb') as f:
        whole = f.read()
    with open(osp.join(work, 'truncated.pth'), 'wb') as f:
        f.write(whole[:len(whole) * 2 // 3])
    files['truncated'] = (osp.join(work, 'truncated.pth'), 'two thirds of a checkpoint')
    with zipfile.ZipFile(det) as z:
        pkl = z.read(next(n for n in z.namelist() if n.endswith('/data.pkl')))
        prefix = z.namelist()[0].split('/')[0]
    short = osp.join(work, 'record_sizes.pth')
    with zipfile.ZipFile(det) as src, zipfile.ZipFile(short, 'w') as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info.filename, data[:1] if info.filename.endswith('/data/0') else data)
    files['record_sizes'] = (short, 'a tensor record shorter than its storage declares')
    bomb = program(b'}', text('meta'), b'X' + struct.pack('<I', 256 << 20) + b'\0' * (256 << 20),
                   b's')
    put('zip_bomb', bomb, 'data.pkl deflated: 256 MiB from a few hundred KiB', drop=('data.pkl',),
        extra={f'{prefix}/data.pkl': (bomb, zipfile.ZIP_DEFLATED)})
    put('dotdot_names', pkl, 'records named with ..',
        extra={f'{prefix}/../../evil': (b'x', zipfile.ZIP_STORED)})
    deep = 100_000
    put('deep_nesting', program(b'}', text('meta'), b']' * deep + b'a' * (deep - 1), b's'),
        'a list nested 100,000 deep')
    huge = program(b'}', text('state_dict'), b'}', text('w'),
                   G('torch._utils', '_rebuild_tensor_v2'), b'(', b'(', text('storage'),
                   G('torch', 'FloatStorage'), text('0'), text('cpu'), emb(1 << 38), b't',
                   b'Q', emb(0), emb((1 << 38,)), emb((1,)), b'\x89', emb(OrderedDict()),
                   b't', b'R', b's', b's')
    put('huge_storage', huge, 'a tensor declaring a 1 TiB storage over a 4-byte record')
    return files


# -- the entry points ----------------------------------------------------------------------
class Context:
    """What the entry points share, built once before any fork."""

    def __init__(self, spec):
        from mmengine.config import Config
        self.spec = spec
        self.det_cfg = Config.fromfile(DET)
        self.seg_cfg = Config.fromfile(SEG)
        from mmdet.utils import register_all_modules
        register_all_modules(init_default_scope=True)
        from mmdet.registry import MODELS
        self.det_model = MODELS.build(self.det_cfg.model)
        import mmdet
        import mmseg
        for pkg in (mmdet, mmseg):
            SITE_TOOLS[pkg.__name__] = osp.join(osp.dirname(pkg.__file__), '.mim', 'tools')


def _tool(path, argv):
    """A command-line tool in this (forked) process, as its user runs it."""
    old = sys.argv
    sys.argv = [path, *argv]
    try:
        runpy.run_path(path, run_name='__main__')
    except SystemExit as e:  # our tools end with sys.exit(code)
        if e.code not in (0, None):
            raise RuntimeError(f'exit code {e.code}') from None
        return 'ok'
    finally:
        sys.argv = old
    return 'ok'


def _ours(name, argv):
    code = runpy.run_path(osp.join(ROOT, 'tools', f'{name}.py'))['main'](argv)
    if code != 0:
        raise RuntimeError(f'{name}.py exit code {code}')
    return 'ok'


def _det_data(spec):
    return [f'train_dataloader.dataset.data_root={spec["coco"]}', 'train_dataloader.batch_size=2',
            'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
            'default_hooks.logger.interval=1']


def _seg_test_data(spec):
    return [f'test_dataloader.dataset.data_root={spec["ade"]}']


def entry_points(ctx: Context) -> dict:
    spec, work = ctx.spec, ctx.spec['work']
    from mmengine.runner import checkpoint as mmckpt

    def runner_load_or_resume(path, resume=True):
        from mmengine.runner import Runner
        cfg = ctx.det_cfg.copy()
        cfg.work_dir = osp.join(work, 'runner')
        cfg.train_dataloader.dataset.data_root = spec['coco']
        runner = Runner.from_cfg(cfg)
        runner._load_from, runner._resume = path, resume
        runner.load_or_resume()
        return runner.iter

    def init_detector(path):
        from mmdet.apis import inference_detector, init_detector
        model = init_detector(ctx.det_cfg, path, device='cpu')
        return len(inference_detector(model, spec['det_image']).pred_instances)

    def det_inferencer(path):
        from mmdet.apis import DetInferencer
        inferencer = DetInferencer(model=ctx.det_cfg, weights=path, device='cpu',
                                   show_progress=False)
        return len(inferencer(spec['det_image'], return_datasamples=True)['predictions'])

    def init_model(path):
        from mmseg.apis import inference_model, init_model
        model = init_model(ctx.seg_cfg, path, device='cpu')
        return list(inference_model(model, spec['seg_image']).pred_sem_seg.data.shape)

    def seg_inferencer(path):
        from mmseg.apis import MMSegInferencer
        inferencer = MMSegInferencer(model=ctx.seg_cfg, weights=path, device='cpu')
        return list(inferencer(spec['seg_image'], return_datasamples=True)
                    .pred_sem_seg.data.shape)

    def out(name):
        return osp.join(work, f'{name}_{os.getpid()}')

    return {
        'torch.load': lambda p: sorted(torch.load(p, map_location='cpu')),
        'mmengine._load_checkpoint': lambda p: sorted(mmckpt._load_checkpoint(p, 'cpu')),
        'mmengine.load_checkpoint': lambda p: sorted(
            mmckpt.load_checkpoint(ctx.det_model, p, map_location='cpu')),
        'Runner.load_or_resume': runner_load_or_resume,
        'Runner load_from': lambda p: runner_load_or_resume(p, resume=False),
        'checkpoint.io.read_checkpoint': lambda p: len(
            __import__('swinv2_mm.checkpoint.io', fromlist=['x']).read_checkpoint(p)
            .state_dict),
        'engine.checkpoint_files': lambda p: sorted(
            __import__('swinv2_mm.engine.checkpoint_files', fromlist=['x'])
            .read_checkpoint_file(p, 'checkpoint')),
        'tools/convert_checkpoint.py': lambda p: _tool(
            osp.join(ROOT, 'tools', 'convert_checkpoint.py'), [p, out('conv') + '.safetensors']),
        # the heavy ones: an API or a whole tool around the load
        'mmdet.apis.init_detector': init_detector,
        'mmdet.apis.DetInferencer': det_inferencer,
        'mmseg.apis.init_model': init_model,
        'mmseg.apis.MMSegInferencer': seg_inferencer,
        'mmdet tools/train.py --resume': lambda p: _tool(
            osp.join(SITE_TOOLS['mmdet'], 'train.py'),
            [DET, '--work-dir', out('mmdet_train'), '--resume', p, '--cfg-options',
             *_det_data(spec), 'train_cfg.max_iters=2']),
        'mmseg tools/test.py': lambda p: _tool(
            osp.join(SITE_TOOLS['mmseg'], 'test.py'),
            [SEG, p, '--work-dir', out('mmseg_test'), '--cfg-options', *_seg_test_data(spec)]),
        'tools/test.py': lambda p: _ours('test', [SEG, p, '--work-dir', out('test'),
                                                  '--cfg-options', *_seg_test_data(spec)]),
        'tools/train.py --resume': lambda p: _ours(
            'train', [DET, '--work-dir', out('train'), '--resume', p, '--cfg-options',
                      *_det_data(spec), 'train_cfg.max_iters=2']),
    }


HEAVY_START = 'mmdet.apis.init_detector'
# the control files go only where they fit (a detector's checkpoint into detection entries)
_SEG_ONLY = ('mmseg.apis.init_model', 'mmseg.apis.MMSegInferencer', 'mmseg tools/test.py',
             'tools/test.py')
_DET_ONLY = ('mmdet.apis.init_detector', 'mmdet.apis.DetInferencer',
             'mmdet tools/train.py --resume', 'tools/train.py --resume', 'Runner.load_or_resume',
             'Runner load_from', 'mmengine.load_checkpoint')
CONTROL = {'benign_det': _SEG_ONLY, 'mmdet_written': _SEG_ONLY,
           'benign_seg': _DET_ONLY, 'mmseg_written': _DET_ONLY}


def toy_checkpoint(folder: str) -> str:
    """A checkpoint the mmengine Runner itself wrote after 2 iterations of a toy model: the
    message hub's HistoryBuffers, numpy scalars, a BatchNorm's int64 buffer and state-dict
    metadata, AdamW state, LinearLR and MultiStepLR (a Counter) — all a Runner file holds, in
    a 10 KB pickle the fuzzer can mutate thousands of times."""
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Toy(BaseModel):
        def __init__(self):
            super().__init__()
            self.lin, self.bn = torch.nn.Linear(2, 1), torch.nn.BatchNorm1d(1)

        def forward(self, x, y=None, mode='loss'):
            out = self.bn(self.lin(torch.stack(x) if isinstance(x, list) else x))
            return {'loss': out.pow(2).mean()} if mode == 'loss' else [out]
    runner = Runner(
        model=Toy(), work_dir=folder, experiment_name='toy',
        train_dataloader=dict(dataset=[dict(x=torch.randn(2), y=0) for _ in range(8)],
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=2),
        param_scheduler=[dict(type='LinearLR', begin=0, end=1, by_epoch=False),
                         dict(type='MultiStepLR', milestones=[1], by_epoch=False)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
        randomness=dict(seed=0))
    with contextlib.redirect_stdout(io.StringIO()):
        runner.train()
    return osp.join(folder, 'iter_2.pth')


# -- watching a child ------------------------------------------------------------------------
WATCHED_EVENTS = ('os.system', 'subprocess.Popen', 'os.exec', 'os.posix_spawn', 'os.spawn',
                  'os.fork', 'os.forkpty', 'pty.spawn', 'ctypes.', 'pickle.find_class',
                  'os.kill', 'shutil.rmtree')


def state_snapshot() -> dict:
    """What loading must never change, as comparable values."""
    import builtins
    import copyreg
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader

    def attrs(obj):
        return {k: id(v) for k, v in vars(obj).items()}
    snap = {
        'HistoryBuffer': attrs(HistoryBuffer),
        'HistoryBuffer._statistics_methods': {k: id(v) for k, v in
                                              HistoryBuffer._statistics_methods.items()},
        'torch safe globals': sorted(map(str, torch.serialization.get_safe_globals())),
        'copyreg': [sorted(map(str, copyreg._extension_registry.items())),
                    sorted(map(str, copyreg._extension_cache.items()))],
        'mmengine schemes': {k: id(v) for k, v in CheckpointLoader._schemes.items()},
        'numpy.ndarray': attrs(np.ndarray), 'numpy.dtype': attrs(np.dtype),
        'collections.OrderedDict': attrs(OrderedDict),
    }
    for module in (builtins, os, np, torch, torch.serialization, pickle, copyreg):
        snap[module.__name__] = attrs(module)
    return snap


def state_changes(before: dict, after: dict) -> list:
    """Names whose value changed or vanished, and new names that are not submodules (a lazy
    import of a submodule is not a change a file made)."""
    import types
    changed = []
    for key, was in before.items():
        now = after[key]
        if isinstance(was, dict):
            changed += [f'{key}.{k}' for k in was if now.get(k) != was[k]]
            new = [k for k in now if k not in was]
            if key in ('numpy', 'torch', 'torch.serialization', 'os', 'pickle', 'builtins',
                       'copyreg'):
                module = sys.modules[key]
                new = [k for k in new if not isinstance(getattr(module, k), types.ModuleType)
                       and not k.startswith('__')]
            changed += [f'{key}.{k} (new)' for k in new]
        elif now != was:
            changed.append(key)
    return changed


def in_child(fn, timeout: float):
    """Run fn() in a forked child; its JSON-able result, or what became of the child."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        events = []

        def hook(event, args):
            # code from a file: a shell, a process or a file touching our marker, pickle's
            # own find_class (someone unpickling without our restrictions), ctypes
            if event.startswith(WATCHED_EVENTS) and (
                    event in ('os.system', 'pickle.find_class') or
                    'CODE_RAN' in str(args)):
                events.append(f'{event}{str(args)[:120]}')
        sys.addaudithook(hook)
        try:
            result = fn(events)
        except BaseException as e:  # noqa: BLE001 - reported, the child exits either way
            result = {'status': 'error', 'error': f'{type(e).__name__}: {e}'}
        result['events'] = sorted(set(events))
        try:
            data = json.dumps(result, default=str).encode()
        except Exception as e:  # noqa: BLE001
            data = json.dumps({'status': 'error', 'error': f'unreportable: {e}'}).encode()
        with os.fdopen(write_fd, 'wb') as f:
            f.write(data)
        os._exit(0)
    os.close(write_fd)
    chunks, start = [], time.time()
    while True:  # until the child closes its end (it reported, or it died)
        ready, _, _ = select.select([read_fd], [], [], 0.05)
        if ready:
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        elif time.time() - start > timeout:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            os.close(read_fd)
            return {'status': 'hang', 'error': f'no answer in {timeout:.0f} s'}
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {'status': 'crash', 'error': f'killed by signal {os.WTERMSIG(status)}'}
    data = b''.join(chunks)
    return json.loads(data) if data else {'status': 'crash', 'error': 'no report'}


def load_case(entry, path, marker):
    def run(events):
        import logging
        logging.disable(logging.CRITICAL)  # the tools' logs are not what is being tested
        before = state_snapshot()
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                value = entry(path)
                result = {'status': 'loaded', 'value': value}
            except BaseException as e:  # noqa: BLE001
                message = str(e)
                result = {'status': 'refused', 'type': type(e).__name__,
                          'message': message[:600], 'lines': len(message.splitlines())}
        result['stderr_last'] = (err.getvalue().strip().splitlines() or [''])[-1][:600]
        result['changed'] = state_changes(before, state_snapshot())
        result['code_ran'] = osp.exists(marker)
        return result
    return run


# -- the fuzzer ------------------------------------------------------------------------------
def mutate(data: bytes, rng: random.Random) -> bytes:
    """One seeded mutation of a pickle stream: flip, overwrite with an opcode, insert, delete,
    duplicate or splice a run."""
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        i = rng.randrange(len(b))
        kind = rng.randrange(6)
        if kind == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif kind == 1:
            b[i] = rng.choice(b'cRbq\x81\x85\x86\x87(tu]}sea.jrhQNKJX\x88\x89\x8a)')
        elif kind == 2:
            b[i:i] = bytes([rng.randrange(256)])
        elif kind == 3:
            del b[i:i + rng.randrange(1, 16)]
        elif kind == 4:
            j = rng.randrange(len(b))
            b[i:i] = b[j:j + rng.randrange(1, 64)]
        else:
            b[i] = rng.randrange(256)
    return bytes(b)


def fuzz(spec, template: str, count: int, seed: int, batch: int = 200) -> dict:
    from swinv2_mm.checkpoint.safe_pickle import CheckpointReadError, read_torch_file
    with zipfile.ZipFile(template) as z:
        seed_pkl = z.read(next(n for n in z.namelist() if n.endswith('/data.pkl')))
    folder = osp.join(spec['work'], 'fuzz')
    os.makedirs(folder, exist_ok=True)
    marker = osp.join(spec['work'], 'CODE_RAN')
    rng = random.Random(seed)
    mutants = [mutate(seed_pkl, rng) for _ in range(count)]

    def run_batch(indices):
        def run(events):
            counts = {'loaded': 0, 'refused': 0, 'damaged': 0}
            bad = []
            before = state_snapshot()
            for i in indices:
                path = with_pickle(template, mutants[i], osp.join(folder, f'm{i % 2}.pth'))
                try:
                    read_torch_file(path)
                    counts['loaded'] += 1
                except CheckpointReadError as e:
                    counts['damaged' if 'damaged' in str(e) else 'refused'] += 1
                    if '\n' in str(e):
                        bad.append((i, 'a refusal of several lines'))
                except BaseException as e:  # noqa: BLE001 - not one of our one-line errors
                    bad.append((i, f'{type(e).__name__}: {str(e)[:200]}'))
                changed = state_changes(before, state_snapshot())
                if changed or events or osp.exists(marker):
                    bad.append((i, f'changed {changed[:5]} events {events[:3]}'))
                    break
            return {'status': 'ok', 'counts': counts, 'bad': bad}
        return run

    totals = {'loaded': 0, 'refused': 0, 'damaged': 0, 'crashed': 0}
    problems = []
    for start in range(0, count, batch):
        indices = list(range(start, min(start + batch, count)))
        result = in_child(run_batch(indices), timeout=600)
        if result['status'] != 'ok':  # a crash or hang: find the mutant, one per process
            for i in indices:
                one = in_child(run_batch([i]), timeout=60)
                if one['status'] != 'ok':
                    totals['crashed'] += 1
                    problems.append((i, one['status'], one.get('error')))
                else:
                    for k, v in one['counts'].items():
                        totals[k] += v
                    problems += one['bad']
            continue
        for k, v in result['counts'].items():
            totals[k] += v
        problems += result['bad']
    return {'counts': totals, 'problems': problems[:20], 'mutants': count, 'seed': seed,
            'seed_pickle_bytes': len(seed_pkl)}


def main():
    spec = json.loads(sys.argv[1])
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    torch.set_num_threads(1)
    import swinv2_mm  # noqa: F401 - what custom_imports does, before anything is read
    ctx = Context(spec)
    files = craft(spec)
    marker = osp.join(spec['work'], 'CODE_RAN')
    entries = entry_points(ctx)
    names = list(entries)
    heavy = names[names.index(HEAVY_START):]
    only = spec.get('only')  # a quick run for debugging: only these cases
    for case, (path, what) in files.items():
        if only and case not in only:
            continue
        for entry in names:
            if entry in heavy and case not in spec['heavy_cases'] or \
                    entry in CONTROL.get(case, ()):
                continue
            start = time.time()
            result = in_child(load_case(entries[entry], path, marker), timeout=300)
            result.update(case=case, entry=entry, what=what,
                          seconds=round(time.time() - start, 2))
            print('RESULT ' + json.dumps(result, default=str), flush=True)
            if osp.exists(marker):  # a case that ran code must not taint the next one
                os.remove(marker)
    if spec.get('mutants'):
        seed_file = toy_checkpoint(osp.join(spec['work'], 'toy'))
        result = fuzz(spec, seed_file, spec['mutants'], spec['seed'])
        print('FUZZ ' + json.dumps(result, default=str), flush=True)
    shutil.rmtree(osp.join(spec['work'], 'fuzz'), ignore_errors=True)


if __name__ == '__main__':
    main()
