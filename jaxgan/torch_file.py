"""Reading and writing PyTorch ``torch.save`` files (state dicts of tensors) as numpy arrays, without torch.

Three formats, told apart by their contents: the zip archive (torch >= 1.6: ``<name>/data.pkl`` + one
``<name>/data/<key>`` entry per storage), the legacy stream (a magic number, a protocol version, system
info, the pickled object, its storage keys, then each storage's element count and raw bytes), and a
TorchScript archive (``torch.jit.save``: the zip layout plus ``code/``, its ``data.pkl`` the module tree,
each module an object of a ``__torch__.*`` class whose attributes are its tensors and submodules). The
pickle is read with an allow-list of the few globals tensors need (tensors, storages, ``OrderedDict``;
in a TorchScript archive, its own ``__torch__`` classes as plain attribute holders), so a file cannot run
code; anything else is a `CheckpointError` naming it. Tensors come back as numpy arrays in their own
dtype and shape (bfloat16 as float32); a TorchScript module comes back as the state dict of its tensors
(``{"layers.conv.weight": ...}``, in the module tree's order).
"""
from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from jaxgan.errors import CheckpointError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
#: storage class name -> numpy dtype of its elements
STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                  "BFloat16Storage": np.uint16, "LongStorage": np.int64, "IntStorage": np.int32,
                  "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
                  "BoolStorage": np.bool_}


class _StorageType:
    """Stands for a ``torch.<X>Storage`` class in the pickle: its element dtype."""

    def __init__(self, name: str):
        self.name, self.dtype = name, np.dtype(STORAGE_DTYPES[name])


def _tensor(storage: np.ndarray, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any) -> np.ndarray:
    """``torch._utils._rebuild_tensor(_v2)``: a strided view of ``storage``, copied."""
    if not size:
        return storage[offset].copy()
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * storage.itemsize for s in stride))
    return np.array(view)


def _parameter(data: np.ndarray, *_: Any) -> np.ndarray:
    return data


class ScriptModule:
    """Stands for one module of a TorchScript archive: ``kind`` (its ``__torch__`` class) and the attributes
    the pickle sets (tensors, submodules, flags)."""

    kind = ""

    def __setstate__(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            raise CheckpointError(f"a TorchScript {self.kind} holds a state of type {type(state).__name__}")
        self.__dict__.update(state)


#: the helpers TorchScript pickles call for typed lists and type tags (each returns its first argument)
_SCRIPT_HELPERS = {"build_intlist", "build_doublelist", "build_boollist", "build_tensorlist", "build_genericlist",
                   "restore_type_tag"}


def _script_class(module: str, name: str) -> type:
    return type(name, (ScriptModule,), {"kind": f"{module}.{name}"})


def script_state_dict(module: ScriptModule, prefix: str = "") -> dict[str, np.ndarray]:
    """Every tensor under ``module`` by its dotted path, in the order the archive holds them."""
    out: dict[str, np.ndarray] = {}
    for name, value in vars(module).items():
        if isinstance(value, np.ndarray):
            out[prefix + name] = value
        elif isinstance(value, ScriptModule):
            out.update(script_state_dict(value, f"{prefix}{name}."))
    return out


_GLOBALS: dict[tuple[str, str], Callable[..., Any]] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _tensor,
    ("torch._utils", "_rebuild_parameter"): _parameter,
}


class _Unpickler(pickle.Unpickler):
    """Unpickles with the allow-list; ``storage(pid)`` supplies each storage; ``build=False`` skips
    rebuilding tensors (a first pass that only learns which storages there are)."""

    def __init__(self, data: io.BytesIO, storage: Callable[[tuple[Any, ...]], Any], build: bool = True,
                 script: bool = False):
        super().__init__(data)
        self._storage, self._build, self._script = storage, build, script

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        if self._script and module.startswith("__torch__."):
            return _script_class(module, name)
        if self._script and module == "torch.jit._pickle" and name in _SCRIPT_HELPERS:
            return lambda value, *_: value
        if (module, name) in _GLOBALS:
            found = _GLOBALS[(module, name)]
            return found if self._build or found is collections.OrderedDict else (lambda *args: None)
        raise CheckpointError(f"the PyTorch file holds a {module}.{name}, which is not part of a state dict of "
                              f"tensors; save model.state_dict() instead")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise CheckpointError(f"unknown persistent record {pid!r} in the PyTorch file")
        return self._storage(pid)


def _as_array(raw: bytes, kind: _StorageType, count: int | None = None) -> np.ndarray:
    array = np.frombuffer(raw, kind.dtype, count=-1 if count is None else count)
    if kind.name == "BFloat16Storage":             # the upper half of a float32
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _load_zip(archive: zipfile.ZipFile) -> Any:
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("data.pkl")]
    if not pickles:
        raise CheckpointError("the zip file holds no data.pkl: not a torch.save file")
    prefix = pickles[0][:-len("data.pkl")]
    script = any(n.startswith(f"{prefix}code/") for n in names)             # torch.jit.save's archive
    cache: dict[str, np.ndarray] = {}

    def storage(pid: tuple[Any, ...]) -> np.ndarray:
        _, kind, key, _location, _count = pid[:5]
        if key not in cache:
            cache[key] = _as_array(archive.read(f"{prefix}data/{key}"), kind)
        return cache[key]

    loaded = _Unpickler(io.BytesIO(archive.read(pickles[0])), storage, script=script).load()
    return script_state_dict(loaded) if isinstance(loaded, ScriptModule) else loaded


def _load_legacy(data: bytes) -> Any:
    stream = io.BytesIO(data)
    if pickle.load(stream) != _LEGACY_MAGIC:
        raise CheckpointError("not a torch.save file (no zip archive, no legacy magic number)")
    pickle.load(stream)                              # protocol version
    pickle.load(stream)                              # system info (endianness, type sizes)
    start = stream.tell()
    kinds: dict[str, _StorageType] = {}

    def learn(pid: tuple[Any, ...]) -> None:
        _, kind, key, _location, _count, view = pid[:6]
        if view is not None:
            raise CheckpointError("legacy storage views are not supported; re-save the file with a recent torch")
        kinds[key] = kind

    # The storages' bytes follow the pickled object: a first pass learns their keys and types, then the
    # bytes are read, then the object is unpickled again with every storage at hand.
    _Unpickler(stream, learn, build=False).load()
    storages = {}
    for key in pickle.load(stream):
        (count,) = struct.unpack("<q", stream.read(8))
        kind = kinds[key]
        storages[key] = _as_array(stream.read(count * kind.dtype.itemsize), kind, count)
    return _Unpickler(io.BytesIO(data[start:]), lambda pid: storages[pid[2]]).load()


def load(path: str | Path) -> Any:
    """The object a ``torch.save`` file holds (usually a state dict), or a TorchScript archive's state
    dict, tensors as numpy arrays."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return _load_zip(archive)
        return _load_legacy(data)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, struct.error, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path} is not a readable torch.save file ({type(e).__name__}: {e})") from None


# ------------------------------------------------------------------------------------------- writing
class _Global:
    """A ``module.name`` reference as torch's pickles hold them (written without importing torch)."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> None:          # pickle's save_reduce wants a callable
        raise NotImplementedError


class Storage:
    """One tensor storage (flat array) and its key in the file."""

    def __init__(self, array: np.ndarray, key: str):
        self.array, self.key = np.ascontiguousarray(array).ravel(), key


class Tensor:
    """A view of ``storage``: what ``torch._utils._rebuild_tensor_v2`` rebuilds."""

    def __init__(self, storage: Storage, offset: int, shape: tuple[int, ...], stride: tuple[int, ...]):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Global("torch._utils", "_rebuild_tensor_v2"),
                (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()))


_STORAGE_NAMES = {np.dtype(dtype): name for name, dtype in STORAGE_DTYPES.items() if name != "BFloat16Storage"}


class _Pickler(pickle._Pickler):
    """protocol 2, globals written by name, storages as torch's persistent ids."""

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[_Global] = lambda self, g: self.write(pickle.GLOBAL + f"{g.module}\n{g.name}\n".encode())

    def __init__(self, file: Any, legacy: bool):
        super().__init__(file, protocol=2)
        self.legacy, self.storages = legacy, {}

    def persistent_id(self, obj: Any) -> tuple[Any, ...] | None:
        if not isinstance(obj, Storage):
            return None
        self.storages[obj.key] = obj
        kind = _Global("torch", _STORAGE_NAMES[obj.array.dtype])
        if self.legacy:
            return ("storage", kind, obj.key, "cpu", obj.array.size, None)
        return ("storage", kind, obj.key, "cpu", obj.array.size)


def save(path: str | Path, state: dict[str, Any], legacy: bool = False) -> None:
    """Writes ``state`` ({name: numpy array, `Tensor` or such a dict}: BasicSR's ``{"params": ...}``) as
    ``torch.save`` does: its zip layout (torch >= 1.6), or the legacy stream; ``torch.load`` reads either."""
    count = iter(range(1 << 62))

    def tensors_of(values: dict[str, Any]) -> collections.OrderedDict:
        out = collections.OrderedDict()
        for name, value in values.items():
            if isinstance(value, dict):
                value = tensors_of(value)
            elif not isinstance(value, Tensor):
                storage = Storage(value, str(next(count)))
                value = np.ascontiguousarray(value) if value.ndim else value        # (it makes 0-d arrays 1-d)
                strides = tuple(int(s) // value.itemsize for s in value.strides)
                value = Tensor(storage, 0, value.shape, strides)
            out[name] = value
        return out

    tensors = tensors_of(state)
    body = io.BytesIO()
    pickler = _Pickler(body, legacy)
    pickler.dump(tensors)
    if legacy:
        with open(path, "wb") as f:
            for header in (_LEGACY_MAGIC, 1001, {"little_endian": True}):
                pickle.dump(header, f, protocol=2)
            f.write(body.getvalue())
            pickle.dump(list(pickler.storages), f, protocol=2)
            for storage in pickler.storages.values():
                f.write(struct.pack("<q", storage.array.size) + storage.array.tobytes())
        return
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", body.getvalue())
        archive.writestr("archive/version", "3\n")
        for key, storage in pickler.storages.items():
            archive.writestr(f"archive/data/{key}", storage.array.tobytes())
