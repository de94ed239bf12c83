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
