"""Reading torch.save files without torch: files written here in torch's exact zip and legacy layouts."""
import collections
import io
import pickle
import struct
import zipfile

import numpy as np
import pytest

from jaxgan import torch_file
from jaxgan.errors import CheckpointError


class Global:
    """A ``module.name`` reference as torch's pickles hold them (written without importing torch)."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args):              # pickle's save_reduce wants a callable
        raise NotImplementedError


class Storage:
    def __init__(self, array: np.ndarray, key: str):
        self.array, self.key = np.ascontiguousarray(array).ravel(), key


class Tensor:
    """A view of ``storage``: what ``torch._utils._rebuild_tensor_v2`` rebuilds."""

    def __init__(self, storage: Storage, offset: int, shape: tuple, stride: tuple):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    def __reduce__(self):
        return (Global("torch._utils", "_rebuild_tensor_v2"),
                (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()))


STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage",
                 np.dtype(np.float16): "HalfStorage"}


class TorchPickler(pickle._Pickler):
    """protocol 2, globals written by name, storages as torch's persistent ids."""

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[Global] = lambda self, g: self.write(pickle.GLOBAL + f"{g.module}\n{g.name}\n".encode())

    def __init__(self, file, legacy: bool):
        super().__init__(file, protocol=2)
        self.legacy, self.storages = legacy, {}

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        self.storages[obj.key] = obj
        kind = Global("torch", STORAGE_NAMES[obj.array.dtype])
        if self.legacy:
            return ("storage", kind, obj.key, "cpu", obj.array.size, None)
        return ("storage", kind, obj.key, "cpu", obj.array.size)


def write_torch_file(path, state: dict, legacy: bool = False) -> None:
    """``state`` ({name: numpy array or Tensor}) in torch.save's zip layout, or its legacy stream."""
    tensors = collections.OrderedDict()
    for i, (name, value) in enumerate(state.items()):
        if not isinstance(value, Tensor):
            storage = Storage(value, str(i))
            value = np.ascontiguousarray(value) if value.ndim else value        # (it makes 0-d arrays 1-d)
            strides = tuple(int(s) // value.itemsize for s in value.strides)
            value = Tensor(storage, 0, value.shape, strides)
        tensors[name] = value
    body = io.BytesIO()
    pickler = TorchPickler(body, legacy)
    pickler.dump(tensors)
    if legacy:
        with open(path, "wb") as f:
            for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
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


@pytest.mark.parametrize("legacy", [False, True])
def test_tensors_come_back_with_their_dtype_shape_and_strides(tmp_path, legacy):
    rng = np.random.default_rng(0)
    shared = Storage(np.arange(12, dtype=np.float32), "shared")
    state = {"conv.weight": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
             "bn.num_batches_tracked": np.array(7, np.int64),
             "half": rng.normal(size=(2, 5)).astype(np.float16),
             "transposed": Tensor(shared, 0, (4, 3), (1, 4)),          # a non-contiguous view
             "slice": Tensor(shared, 5, (3,), (1,))}                     # an offset into the same storage
    write_torch_file(tmp_path / "w.pth", state, legacy)
    loaded = torch_file.load(tmp_path / "w.pth")
    assert list(loaded) == list(state) and isinstance(loaded, collections.OrderedDict)
    np.testing.assert_array_equal(loaded["conv.weight"], state["conv.weight"])
    assert loaded["bn.num_batches_tracked"] == 7 and loaded["half"].dtype == np.float16
    np.testing.assert_array_equal(loaded["transposed"], np.arange(12, dtype=np.float32).reshape(3, 4).T)
    np.testing.assert_array_equal(loaded["slice"], [5.0, 6.0, 7.0])


def test_a_file_that_is_not_a_state_dict_or_not_torch_is_one_clear_error(tmp_path):
    with zipfile.ZipFile(tmp_path / "model.pth", "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02cos\nsystem\n.")          # a pickle of os.system
    with pytest.raises(CheckpointError, match="not part of a state dict"):
        torch_file.load(tmp_path / "model.pth")
    (tmp_path / "junk.pth").write_bytes(b"\x80\x02junk")
    with pytest.raises(CheckpointError, match="not a readable torch.save file"):
        torch_file.load(tmp_path / "junk.pth")
    with pytest.raises(CheckpointError, match="cannot read"):
        torch_file.load(tmp_path / "missing.pth")
