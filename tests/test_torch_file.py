"""Reading torch.save files without torch: files written here in torch's exact zip and legacy layouts."""
import collections
import zipfile

import numpy as np
import pytest

from jaxgan import torch_file
from jaxgan.errors import CheckpointError


@pytest.mark.parametrize("legacy", [False, True])
def test_tensors_come_back_with_their_dtype_shape_and_strides(tmp_path, legacy):
    rng = np.random.default_rng(0)
    shared = torch_file.Storage(np.arange(12, dtype=np.float32), "shared")
    state = {"conv.weight": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
             "bn.num_batches_tracked": np.array(7, np.int64),
             "half": rng.normal(size=(2, 5)).astype(np.float16),
             "transposed": torch_file.Tensor(shared, 0, (4, 3), (1, 4)),          # a non-contiguous view
             "slice": torch_file.Tensor(shared, 5, (3,), (1,))}                     # an offset into the same storage
    torch_file.save(tmp_path / "w.pth", state, legacy)
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


def test_a_torchscript_archive_is_read_as_the_state_dict_of_its_module_tree(tmp_path):
    from conftest import write_torchscript

    rng = np.random.default_rng(1)
    weight, beta = rng.normal(size=(8, 3, 3, 3)).astype(np.float32), rng.normal(size=8).astype(np.float32)
    write_torchscript(tmp_path / "net.pt", {"training": False, "layers": ("Sequential", {
        "conv": ("Conv2dLayer", {"weight": weight, "beta": beta, "stride": 2}),
        "pool": ("MaxPool2d", {"training": False})})})
    loaded = torch_file.load(tmp_path / "net.pt")
    assert list(loaded) == ["layers.conv.weight", "layers.conv.beta"]
    np.testing.assert_array_equal(loaded["layers.conv.weight"], weight)
    np.testing.assert_array_equal(loaded["layers.conv.beta"], beta)
    with zipfile.ZipFile(tmp_path / "net.pt") as archive, zipfile.ZipFile(tmp_path / "plain.pth", "w") as plain:
        for name in archive.namelist():                     # the same pickle without code/: not TorchScript
            if "/code/" not in name:
                plain.writestr(name, archive.read(name))
    with pytest.raises(CheckpointError, match="holds a __torch__.model.Top, which is not part of a state dict"):
        torch_file.load(tmp_path / "plain.pth")
