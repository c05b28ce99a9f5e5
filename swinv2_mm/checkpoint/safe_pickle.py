"""Reading torch files (torch.save's zip archive, or its legacy format) so that nothing in a file
can run code, read or write memory outside its own data, or change any state of the process.

One restricted unpickler of our own serves every reader of this package and mmengine's
checkpoint loaders once `swinv2_mm` is imported (engine/checkpoint_safety.py), on every torch
version (it goes through `torch.load(pickle_module=...)`, which torch has had since 1.x).
What a file may hold:

- tensors and parameters: torch's rebuild functions, called with checked arguments, on
  storages whose declared size is the size of their record in the archive;
- dicts, lists, tuples, sets, OrderedDicts (and a state dict's `_metadata`), Counters (a
  MultiStepLR's milestones), str, bytes, numbers, None; torch dtypes, `torch.Size`, `torch.device`;
- numpy arrays of plain numeric dtypes, numpy scalars and dtypes, rebuilt from their bytes
  with every size checked against the data;
- mmengine's `HistoryBuffer` (the message hub's), rebuilt through its constructor from its
  three fields; the statistics methods it pickles are only named, never resolved, and never
  written into the class;
- the yacs config the official Swin training scripts save, read as a plain dict.

Anything else — another global, a call of something that is not one of the stand-ins below,
BUILD on anything but the objects they start, a dunder key in a state — is refused with one
line naming it and the file.

Why not torch's `weights_only` with `add_safe_globals`: that unpickler calls an allowed class
with file-controlled arguments and its BUILD calls `__setstate__`, even one planted in an
instance dict; with numpy.ndarray or HistoryBuffer on the list, a file forges object pointers,
views memory past a buffer and rewrites HistoryBuffer's class-level table. The list is also
process-wide, and torch < 2.4 cannot extend it at all.
"""
import os
import pickle
import re
import struct
import tarfile
import types
import zipfile
from collections import Counter, OrderedDict
from typing import Any, Dict, Optional

import numpy as np
import torch


class CheckpointReadError(pickle.UnpicklingError):
    """A torch file that was not read. str(): one line naming the file and saying why;
    `reason`: the why alone, for callers that name the file their own way."""

    def __init__(self, message: str, reason: str = ''):
        super().__init__(message)
        self.reason = reason or message


class UnsafeCheckpointError(CheckpointReadError):
    """The file holds something other than weights and mmengine Runner state."""


class DamagedCheckpointError(CheckpointReadError):
    """The file is truncated or malformed."""


class _Refused(Exception):
    """Raised inside the unpickler; read_torch_file adds the file and the advice."""


class _Damaged(Exception):
    """A malformed archive; read_torch_file adds the file."""


# -- what names in a file may stand for ---------------------------------------------------------
class _Marker:
    """A global a file may name but never call (numpy.ndarray, HistoryBuffer, ...)."""
    __slots__ = ('name',)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


class _Statistic:
    """What `getattr(HistoryBuffer, 'mean')` reads as: the method's name, not the method."""
    __slots__ = ('name',)

    def __init__(self, name: str):
        self.name = name


class _Pending:
    """An object an allowed call or NEWOBJ started and exactly one BUILD completes.

    memo_keys: the memo slots holding it, so that later references get the finished object.
    """
    __slots__ = ('kind', 'spec', 'memo_keys', 'done')

    def __init__(self, kind: str, spec: Any = None):
        self.kind, self.spec, self.memo_keys, self.done = kind, spec, [], False


class _YacsConfig(dict):
    """The official training scripts' yacs CfgNode, as plain data (its flags are dropped)."""


NDARRAY = _Marker('numpy.ndarray')
HISTORY_BUFFER = _Marker('mmengine.logging.history_buffer.HistoryBuffer')
YACS_CFG_NODE = _Marker('yacs.config.CfgNode')
STATISTICS = ('min', 'max', 'mean', 'current')  # HistoryBuffer's own, registered by mmengine
MAX_DEPTH = 200  # Runner checkpoints nest < 10 deep
# numpy dtypes a file may use: booleans, integers, floats, complex numbers; never objects,
# strings, records or datetimes.
_DTYPE_SPEC = re.compile(r'^[<>|=]?(b1|\?|[iu][1248]|f[248]|f16|c8|c16|c32)$')
_LOCATION = re.compile(r'^[a-z_]+(:\d+)?$')


def _is_int(v) -> bool:
    return type(v) is int


def _ints(values, name: str, min_value: int = 0) -> tuple:
    if type(values) not in (tuple, list, torch.Size) or len(values) > 64 or \
            not all(_is_int(v) and v >= min_value for v in values):
        raise _Refused(f'{name} must be a short tuple of integers >= {min_value}, got '
                       f'{_describe(values)}')
    return tuple(values)


def _describe(obj) -> str:
    if isinstance(obj, _Marker):
        return obj.name
    if isinstance(obj, _Pending):
        return f'a {obj.kind} being built'
    if isinstance(obj, type):
        return f'{obj.__module__}.{obj.__qualname__}'
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return f'{getattr(obj, "__module__", "?")}.{obj.__qualname__}'
    return type(obj).__name__


def _empty_hooks(hooks, name: str) -> None:
    if type(hooks) not in (OrderedDict, dict) or hooks:
        raise _Refused(f'{name} with backward hooks ({_describe(hooks)}); hooks are never '
                       'loaded')


# -- stand-ins: the only functions a file can call ----------------------------------------------
def _ordered_dict(*args):
    if not args:
        return OrderedDict()
    if len(args) == 1 and type(args[0]) is list and \
            all(type(p) is tuple and len(p) == 2 for p in args[0]):
        return OrderedDict(args[0])
    raise _Refused(f'OrderedDict called with {len(args)} argument(s) that are not pairs')


def _counter(counts=None):
    # MultiStepLR keeps its milestones as a Counter of {iteration: count}
    if counts is None:
        return Counter()
    if type(counts) is not dict or not all(_is_int(v) for v in counts.values()):
        raise _Refused('a Counter of anything but counts')
    return Counter(counts)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       metadata=None):
    if not isinstance(storage, torch.storage.TypedStorage):
        raise _Refused(f'a tensor over {_describe(storage)}, not a storage of the file')
    if not _is_int(storage_offset) or storage_offset < 0:
        raise _Refused(f'a tensor with storage offset {_describe(storage_offset)}')
    size, stride = _ints(size, 'a tensor size'), _ints(stride, 'a tensor stride')
    if len(size) != len(stride) or type(requires_grad) is not bool:
        raise _Refused('a tensor whose size, stride and requires_grad do not agree')
    _empty_hooks(backward_hooks, 'a tensor')
    if metadata is not None and (type(metadata) is not dict or not all(
            type(k) is str and type(v) is bool for k, v in metadata.items())):
        raise _Refused('a tensor with metadata other than flags')
    if all(size):  # the last element it reaches must lie inside the storage
        last = storage_offset + sum((s - 1) * st for s, st in zip(size, stride))
        if last >= storage._size():  # (size() warns that TypedStorage is deprecated)
            raise _Refused(f'a tensor of size {list(size)} / stride {list(stride)} at offset '
                           f'{storage_offset} reaching past its storage of {storage._size()} '
                           'elements')
    return torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
                                           requires_grad, OrderedDict(), metadata)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    if type(data) is not torch.Tensor or type(requires_grad) is not bool:
        raise _Refused(f'a parameter of {_describe(data)}')
    _empty_hooks(backward_hooks, 'a parameter')
    return torch.nn.Parameter(data, requires_grad)


def _torch_size(dims=()):
    return torch.Size(_ints(dims, 'torch.Size'))


def _torch_device(kind, index=None):
    text = kind if index is None else f'{kind}:{index}'
    if type(kind) is not str or (index is not None and not _is_int(index)) or \
            not _LOCATION.match(text):
        raise _Refused(f'torch.device({kind!r}, {index!r})')
    return torch.device(text)


def _set(items=()):
    if type(items) not in (list, tuple):
        raise _Refused(f'a set of {_describe(items)}')
    return set(items)


def _frozenset(items=()):
    return frozenset(_set(items))


def _bytes(*args):
    # protocol 2 writes b'' (the data of an empty numpy array) as bytes()
    if args:
        raise _Refused('bytes() called with arguments')
    return b''


def _codecs_encode(text, encoding='utf-8'):
    # protocol 2 writes bytes as _codecs.encode(<latin-1 text>, 'latin1')
    if type(text) is not str or type(encoding) is not str or \
            encoding not in ('latin1', 'latin-1'):
        raise _Refused(f'_codecs.encode of {_describe(text)} as {encoding!r}')
    return text.encode('latin1')


def _numpy_reconstruct(subtype, shape, typecode):
    if subtype is not NDARRAY or type(shape) is not tuple or shape != (0,) or \
            type(typecode) not in (bytes, str) or typecode not in (b'b', 'b'):
        raise _Refused(f'numpy _reconstruct of {_describe(subtype)} {shape!r}')
    return _Pending('ndarray')


def _numpy_dtype(spec, align=False, copy=False):
    if type(spec) is not str or not _DTYPE_SPEC.match(spec) or \
            type(align) is not bool or type(copy) is not bool:
        raise _Refused(f'numpy dtype {spec!r} (only booleans, integers, floats and complex '
                       'numbers are read)')
    return _Pending('dtype', spec)


def _numpy_scalar(dtype, data):
    _check_dtype(dtype, 'a numpy scalar')
    if type(data) is not bytes or len(data) != dtype.itemsize:
        raise _Refused(f'a numpy {dtype} scalar of {len(data) if type(data) is bytes else 0} '
                       f'bytes (needs {dtype.itemsize})')
    return np.frombuffer(data, dtype=dtype)[0]


def _getattr(owner, name):
    if owner is HISTORY_BUFFER and type(name) is str and name in STATISTICS:
        return _Statistic(name)
    raise _Refused(f'getattr({_describe(owner)}, {name!r}); only HistoryBuffer statistics '
                   f'methods ({", ".join(STATISTICS)}) are named in a Runner checkpoint')


_NUMPY_CORE = ('numpy.core.multiarray', 'numpy._core.multiarray')
GLOBALS: Dict[tuple, Any] = {
    ('collections', 'OrderedDict'): _ordered_dict,
    ('collections', 'Counter'): _counter,
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor_v2,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch', 'Size'): _torch_size,
    ('torch', 'device'): _torch_device,
    ('torch', 'UntypedStorage'): torch.UntypedStorage,  # a storage's type, never called
    ('builtins', 'set'): _set,
    ('builtins', 'frozenset'): _frozenset,
    ('builtins', 'getattr'): _getattr,
    ('builtins', 'bytes'): _bytes,
    ('_codecs', 'encode'): _codecs_encode,
    ('numpy', 'ndarray'): NDARRAY,
    ('numpy', 'dtype'): _numpy_dtype,
    **{(m, name): fn for m in _NUMPY_CORE
       for name, fn in (('_reconstruct', _numpy_reconstruct), ('scalar', _numpy_scalar))},
    ('mmengine.logging.history_buffer', 'HistoryBuffer'): HISTORY_BUFFER,
    ('yacs.config', 'CfgNode'): YACS_CFG_NODE,
}
# looked up in a table: getattr(torch, name) could import a lazy submodule
TORCH_DTYPES = {name: v for name, v in vars(torch).items() if isinstance(v, torch.dtype)}
STANDINS = frozenset(id(f) for f in GLOBALS.values() if isinstance(f, types.FunctionType))


def _find_global(module: str, name: str):
    if module == '__builtin__':  # protocol 2 spells builtins the Python 2 way
        module = 'builtins'
    found = GLOBALS.get((module, name)) or (TORCH_DTYPES.get(name) if module == 'torch' else None)
    if found is not None:
        return found
    raise _Refused(f'it names {module}.{name}, which is neither a tensor nor part of an '
                   'mmengine Runner checkpoint')


# -- completing what a stand-in started ----------------------------------------------------------
def _check_dtype(dtype, what: str) -> None:
    if not isinstance(dtype, np.dtype) or dtype.kind not in 'biufc' or dtype.hasobject or dtype.names is not None or \
            dtype.subdtype is not None:
        raise _Refused(f'{what} of dtype {_describe(dtype)}')


def _finish_dtype(pending: _Pending, state) -> np.dtype:
    # numpy's dtype state: (3, byte order, subarray, names, fields, elsize, alignment, flags)
    # (types first: nothing of the file's is compared with ==)
    if type(state) is not tuple or len(state) != 8 or \
            not all(type(v) is int for v in state[:1] + state[5:]) or \
            state[:1] + state[5:] != (3, -1, -1, 0) or type(state[1]) is not str or \
            state[1] not in ('<', '>', '|', '=') or any(v is not None for v in state[2:5]):
        raise _Refused(f'numpy dtype {pending.spec!r} with state {_describe(state)}')
    dtype = np.dtype(pending.spec)
    return dtype.newbyteorder(state[1]) if state[1] in '<>' else dtype


def _finish_ndarray(state) -> np.ndarray:
    # numpy's array state: (1, shape, dtype, is_fortran, raw bytes)
    if type(state) is not tuple or len(state) != 5 or type(state[0]) is not int or \
            state[0] != 1:
        raise _Refused(f'a numpy array with state {_describe(state)}')
    _, shape, dtype, fortran, data = state
    shape = _ints(shape, 'a numpy array shape')
    _check_dtype(dtype, 'a numpy array')
    count = 1
    for n in shape:
        count *= n
    if type(fortran) is not bool or type(data) is not bytes or \
            len(data) != count * dtype.itemsize:
        raise _Refused(f'a numpy array of shape {list(shape)} ({dtype}) with '
                       f'{len(data) if type(data) is bytes else 0} bytes of data (needs '
                       f'{count * dtype.itemsize})')
    flat = np.frombuffer(data, dtype=dtype, count=count)
    return flat.reshape(shape, order='F' if fortran else 'C').copy(order='K')


def _finish_history_buffer(state):
    from mmengine.logging import HistoryBuffer
    fields = {'max_length', '_log_history', '_count_history'}
    if type(state) is not dict or not all(type(k) is str for k in state) or \
            not fields <= set(state) or \
            not set(state) <= fields | {'statistics_methods'}:
        keys = sorted(map(str, state)) if type(state) is dict else _describe(state)
        raise _Refused(f'a HistoryBuffer with fields {keys} (it has max_length, _log_history, '
                       '_count_history)')
    methods = state.get('statistics_methods', {})
    if type(methods) is not dict or not all(
            type(k) is str and k in STATISTICS and type(v) is _Statistic and v.name == k
            for k, v in methods.items()):
        raise _Refused('a HistoryBuffer whose statistics_methods are not its own min, max, '
                       'mean and current')
    logs, counts, max_length = state['_log_history'], state['_count_history'], \
        state['max_length']
    if not (type(logs) is np.ndarray and type(counts) is np.ndarray and logs.ndim == 1 and
            counts.shape == logs.shape and _is_int(max_length) and max_length > 0):
        raise _Refused('a HistoryBuffer whose histories are not two numeric arrays of one '
                       'length, or whose max_length is not a positive integer')
    return HistoryBuffer(logs, counts, max_length)


def _finish_ordered_dict(inst: OrderedDict, state) -> OrderedDict:
    # a state dict carries its modules' versions as `_metadata`, nothing else
    if type(state) is not dict or len(state) != 1 or \
            type(next(iter(state))) is not str or '_metadata' not in state or \
            type(state['_metadata']) not in (dict, OrderedDict):
        raise _Refused(f'an OrderedDict with attributes {_describe(state)}')
    inst._metadata = state['_metadata']
    return inst


def _finish_yacs(inst: _YacsConfig, state) -> _YacsConfig:
    if type(state) is not dict or not all(type(k) is str for k in state):
        raise _Refused('a yacs config whose flags are not a dict')
    return inst  # the flags (immutable, new_allowed, ...) mean nothing to us


# -- the unpickler -----------------------------------------------------------------------------
_op = pickle._Unpickler.dispatch  # the pure-Python opcode table: we replace what builds objects


class RestrictedUnpickler(pickle._Unpickler):
    """pickle's own Python unpickler, with every opcode that calls, builds or mutates
    something replaced by a checked version. `check_storage(pid)` (set per file) bounds what a
    persistent id may declare."""

    dispatch = dict(_op)
    check_storage = None  # set by the per-file subclass

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._torch_persistent_load = None

    # torch assigns its storage loader here; every call goes through _persistent_load's checks
    @property
    def persistent_load(self):
        return self._persistent_load

    @persistent_load.setter
    def persistent_load(self, fn):
        self._torch_persistent_load = fn

    def _persistent_load(self, pid):
        if self._torch_persistent_load is None or type(pid) is not tuple or not pid or \
                pid[0] not in ('storage', b'storage'):
            raise _Refused(f'a persistent id {_describe(pid)} that is no storage')
        self.check_storage(pid)  # raises unless the file holds what the id declares
        return self._torch_persistent_load(pid)

    def find_class(self, module, name):
        if type(module) is not str or type(name) is not str:
            raise _Refused('a global whose name is not text')
        return _find_global(module, name)

    def _replace(self, pending: _Pending, obj) -> None:
        pending.done = True
        self.stack[-1] = obj
        for key in pending.memo_keys:
            if self.memo.get(key) is pending:
                self.memo[key] = obj

    def _memo_put(self, key) -> None:
        top = self.stack[-1]
        self.memo[key] = top
        if type(top) is _Pending:
            top.memo_keys.append(key)

    def load_memoize(self):
        self._memo_put(len(self.memo))

    def load_put(self):
        key = int(self.readline()[:-1])
        if key < 0:
            raise ValueError('negative PUT argument')
        self._memo_put(key)

    def load_binput(self):
        self._memo_put(self.read(1)[0])

    def load_long_binput(self):
        self._memo_put(struct.unpack('<I', self.read(4))[0])

    def load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        if id(func) not in STANDINS or type(args) is not tuple:
            raise _Refused(f'it calls {_describe(func)}, which is not one of the few functions '
                           'a checkpoint may use')
        self.stack[-1] = func(*args)

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        if type(args) is not tuple or args:
            raise _Refused(f'it creates {_describe(cls)} with arguments')
        if cls is HISTORY_BUFFER:
            self.append(_Pending('history_buffer'))
        elif cls is YACS_CFG_NODE:
            self.append(_YacsConfig())
        else:
            raise _Refused(f'it creates {_describe(cls)}')

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) is _Pending and not inst.done:
            finish = {'ndarray': lambda: _finish_ndarray(state),
                      'dtype': lambda: _finish_dtype(inst, state),
                      'history_buffer': lambda: _finish_history_buffer(state)}[inst.kind]
            self._replace(inst, finish())
        elif type(inst) is OrderedDict:
            _finish_ordered_dict(inst, state)
        elif type(inst) is _YacsConfig:
            _finish_yacs(inst, state)
        else:
            raise _Refused(f'it sets the state of {_describe(inst)}')

    def _container(self, kinds) -> Any:
        target = self.stack[-1]
        if type(target) not in kinds:
            raise _Refused(f'it adds items to {_describe(target)}')
        return target

    def load_append(self):
        value = self.stack.pop()
        self._container((list,)).append(value)

    def load_appends(self):
        items = self.pop_mark()
        self._container((list,)).extend(items)

    def load_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        self._container((dict, OrderedDict, _YacsConfig))[key] = value

    def load_setitems(self):
        items = self.pop_mark()
        target = self._container((dict, OrderedDict, _YacsConfig))
        if len(items) % 2:
            raise _Refused('it sets a key without a value')
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def load_additems(self):
        items = self.pop_mark()
        self._container((set,)).update(items)

    def load_binpersid(self):
        pid = self.stack.pop()
        self.append(self.persistent_load(pid))

    def _refuse_opcode(self):
        raise _Refused('it uses a pickle instruction (INST, OBJ, NEWOBJ_EX, EXT or a text '
                       'persistent id) that checkpoints never use')

    for _code, _fn in ((pickle.MEMOIZE, load_memoize), (pickle.PUT, load_put),
                       (pickle.BINPUT, load_binput), (pickle.LONG_BINPUT, load_long_binput),
                       (pickle.REDUCE, load_reduce), (pickle.NEWOBJ, load_newobj),
                       (pickle.BUILD, load_build), (pickle.APPEND, load_append),
                       (pickle.APPENDS, load_appends), (pickle.SETITEM, load_setitem),
                       (pickle.SETITEMS, load_setitems), (pickle.ADDITEMS, load_additems),
                       (pickle.BINPERSID, load_binpersid)):
        dispatch[_code[0]] = _fn
    for _code in (pickle.INST, pickle.OBJ, pickle.NEWOBJ_EX, pickle.EXT1, pickle.EXT2,
                  pickle.EXT4, pickle.PERSID):
        dispatch[_code[0]] = _refuse_opcode
    del _code, _fn


# -- what comes out ----------------------------------------------------------------------------
_LEAVES = (str, bytes, int, float, complex, bool, type(None), torch.dtype, torch.device)
_CONTAINERS = (dict, OrderedDict, Counter, _YacsConfig, list, tuple, torch.Size, set, frozenset)


def _check_result(obj) -> None:
    """Walk what was read (without recursion, each object once) and refuse anything that is
    not finished data: a started object without its BUILD, a marker, a storage on its own."""
    from mmengine.logging import HistoryBuffer
    seen = set()
    todo = [(obj, 0)]
    while todo:
        item, depth = todo.pop()
        kind = type(item)
        if kind in _LEAVES or kind is HistoryBuffer or isinstance(item, torch.Tensor):
            continue
        if isinstance(item, np.dtype):  # numpy 2: Float64DType, ... (subclasses of np.dtype)
            _check_dtype(item, 'a numpy dtype')
            continue
        if kind is np.ndarray or isinstance(item, np.generic):
            _check_dtype(item.dtype, f'a numpy {"array" if kind is np.ndarray else "scalar"}')
            continue
        if kind not in _CONTAINERS:
            raise _Refused(f'it leaves {_describe(item)} in the result (an object that is not '
                           'finished data)')
        if id(item) in seen:
            continue
        seen.add(id(item))
        if depth >= MAX_DEPTH:
            raise _Refused(f'its data is nested deeper than {MAX_DEPTH} levels')
        if kind in (dict, OrderedDict, Counter, _YacsConfig):
            children = [*item.keys(), *item.values()]
            children += [getattr(item, '_metadata')] if hasattr(item, '_metadata') else []
        else:
            children = item
        todo.extend((child, depth + 1) for child in children)


# -- files -------------------------------------------------------------------------------------
def _zip_records(path: str, size: int) -> Dict[str, int]:
    """{record name without the archive folder: bytes} of a torch zip archive, checked: one
    folder, no '..' or absolute names, every record stored uncompressed within the file (so
    no record can expand beyond what the file holds), the pickle present."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise _Damaged(f'the zip archive is truncated or damaged ({e})') from e
    names = [i.filename for i in infos]
    prefix = names[0].split('/', 1)[0] if names else ''
    records: Dict[str, int] = {}
    for info in infos:
        name = info.filename
        parts = name.split('/')
        if len(parts) < 2 or parts[0] != prefix or '..' in parts or name.startswith('/') or \
                '\\' in name or '\x00' in name or name in records:
            raise _Damaged(f'the archive has a record named {name!r} (torch '
                                         'writes one folder of plain names)')
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size \
                or info.flag_bits & 0x1 or info.header_offset + info.file_size > size:
            raise _Damaged(
                f'record {name!r} is compressed, encrypted or larger than the file (torch '
                'stores records uncompressed)')
        records[name[len(prefix) + 1:]] = info.file_size
    if 'data.pkl' not in records:
        raise _Damaged('the archive has no data.pkl (not written by torch.save)')
    if sum(records.values()) > size:
        raise _Damaged('the records add up to more than the file')
    return records


def _element_size(storage_type) -> Optional[int]:
    """Bytes per element of what torch's find_class made of a '...Storage' name."""
    if storage_type is torch.UntypedStorage:
        return 1
    if isinstance(storage_type, torch.serialization.StorageType):
        return torch._utils._element_size(storage_type.dtype)
    return None


def _storage_check(records: Optional[Dict[str, int]], file_size: int):
    """A check of a persistent id: well formed, and declaring exactly its record's bytes
    (zip) or at most the file's (legacy), so no load allocates more than the file holds."""
    def check_storage(pid) -> None:
        if len(pid) != (5 if records is not None else 6):
            raise _Refused(f'a storage id of {len(pid)} fields')
        _, storage_type, key, location, numel, *view = pid
        view = view[0] if view else None
        element = _element_size(storage_type)
        if element is None or type(key) is not str or type(location) is not str or \
                not _LOCATION.match(location) or not _is_int(numel) or numel < 0:
            raise _Refused(f'a storage id ({_describe(storage_type)}, {_describe(key)}, '
                           f'{_describe(location)}, {_describe(numel)}) that is malformed')
        if view is not None and not (type(view) is tuple and len(view) == 3 and
                                     type(view[0]) is str and _is_int(view[1]) and
                                     _is_int(view[2]) and 0 <= view[1] and 0 <= view[2] and
                                     view[1] + view[2] <= numel):
            raise _Refused('a storage view outside its storage')
        nbytes = numel * element
        held = records.get(f'data/{key}') if records is not None else file_size
        if held is None or (nbytes != held if records is not None else nbytes > held):
            raise _Refused(f'a storage {key!r} declaring {nbytes} bytes, which the file does '
                           f'not hold ({"no record" if held is None else f"{held} bytes"})')
    return check_storage


def _pickle_module(records: Optional[Dict[str, int]], file_size: int) -> types.ModuleType:
    """What torch.load(pickle_module=...) gets: our Unpickler, bound to this file's records."""
    unpickler = type('Unpickler', (RestrictedUnpickler,),
                     {'check_storage': staticmethod(_storage_check(records, file_size))})
    module = types.ModuleType('swinv2_mm_restricted_pickle')
    module.Unpickler = unpickler
    module.load = lambda f, **kw: unpickler(f, **kw).load()
    return module


UNSAFE_ADVICE = ('only tensors, plain containers, numeric numpy data and the mmengine Runner\'s '
                 'own state are read, and nothing in the file was run; if you made this file '
                 'yourself and trust it, re-save its tensors with torch.save(state_dict)')


def read_torch_file(path: str, map_location=None):
    """The object in a file written by torch.save (zip or legacy format), read with the
    restricted unpickler. Raises UnsafeCheckpointError or DamagedCheckpointError, one line."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        head = f.read(4)
    if head == b'PK\x03\x04':  # torch's own test for its zip format
        try:
            records = _zip_records(path, size)
        except _Damaged as e:
            raise DamagedCheckpointError(f'{path!r} is damaged: {e}', str(e)) from None
    elif tarfile.is_tarfile(path):
        raise UnsafeCheckpointError(
            f'refused to load checkpoint {path!r}: it is in the tar format of torch < 0.4, '
            'which is not read; re-save it with a current torch')
    else:
        records = None
    try:
        obj = torch.load(path, map_location=map_location, weights_only=False,
                         pickle_module=_pickle_module(records, size))
        _check_result(obj)
        return obj
    except _Refused as e:
        raise UnsafeCheckpointError(f'refused to load checkpoint {path!r}: {e} ({UNSAFE_ADVICE})'
                                    ) from None
    except RecursionError:
        raise UnsafeCheckpointError(f'refused to load checkpoint {path!r}: its data is nested '
                                    'too deeply') from None
    except MemoryError:
        reason = 'the file declares more memory than there is'
        raise DamagedCheckpointError(f'{path!r}: {reason}; it is damaged', reason) from None
    except Exception as e:  # noqa: BLE001 - struct.error, EOFError, RuntimeError, ...
        first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()),
                     type(e).__name__)
        reason = f'{type(e).__name__}: {first[:160]}'
        raise DamagedCheckpointError(
            f'{path!r} is damaged or truncated and cannot be read ({reason})', reason) from None
