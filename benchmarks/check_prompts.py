"""Prompt fidelity of the text-to-image recipe on a caption folder of a user's own, as a user runs it.

    python benchmarks/check_prompts.py --root /tmp/prompts [--json out.json] [-- --config.num_steps=...]

It writes a caption folder unlike the embedded ``coloured_digits`` (``ROOT/data``): the digits of
scikit-learn in three other colours (orange, cyan, pink) on a lighter, noisier ground, two captions per
image from a phrasing set of its own (`TRAIN_PHRASINGS`); ``test/`` holds the held-out digits captioned
in other phrasings (`TEST_PHRASINGS`). Then it trains ``configs/text2img.py`` on it (``train.py
--config.data.source=folder --config.data.layout=captions``, the default budget; arguments after ``--``
are added), asks ``infer.py --prompts`` for each of the 30 digit/colour combinations in a held-out
phrasing, ``--num`` images each, and reads them with a digit classifier (stroke maps) and a colour
classifier trained on the folder's real training images alone: the fraction of images showing the
prompt's digit, its colour, both, next to the classifiers' accuracy on the real held-out images.
A workdir already trained under ``ROOT/run`` is reused.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLOURS = {"orange": (250, 140, 20), "cyan": (30, 210, 225), "pink": (245, 105, 190)}
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TRAIN_PHRASINGS = ("digit {numeral}, {colour}", "an image of the number {word} in {colour}",
                   "{colour} coloured {word}", "this is a {word}, painted {colour}",
                   "{word} in {colour} colour", "the numeral {numeral} shown in {colour}")
TEST_PHRASINGS = ("a {colour} {numeral}", "picture of a {colour} {word}", "{numeral} painted in {colour}")


def caption(template: str, digit: int, colour: str) -> str:
    return template.format(numeral=digit, word=WORDS[digit], colour=colour)


def build_folder(root: Path) -> dict[str, dict[str, np.ndarray]]:
    """Writes ``root/train`` and ``root/test`` (PNG + captions ``.txt``); returns each split's images and labels."""
    from jaxgan.data.embedded import load_embedded

    names, rgb = list(COLOURS), np.array(list(COLOURS.values()), np.float32)
    splits = {}
    for split, phrasings, seed in (("train", TRAIN_PHRASINGS, 31), ("test", TEST_PHRASINGS, 32)):
        digits = load_embedded("digits", split, 32)
        rng = np.random.default_rng(seed)
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        images, colours = [], []
        for i, (image, digit) in enumerate(zip(digits["image"], digits["label"])):
            k = int(rng.integers(len(names)))
            stroke = np.clip(image.astype(np.float32) / 255.0 * 1.25, 0.0, 1.0)
            ground = np.array([60, 55, 50], np.float32) + rng.uniform(-10, 10, 3) + 9 * rng.normal(0, 1, stroke.shape)
            pixels = np.clip(np.round(ground * (1 - stroke) + rgb[k] * stroke), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i:05d}.png")
            chosen = rng.choice(len(phrasings), 2, replace=False)
            (folder / f"{i:05d}.txt").write_text("\n".join(caption(phrasings[t], int(digit), names[k]) for t in chosen)
                                                 + "\n")
            images.append(pixels)
            colours.append(k)
        splits[split] = {"image": np.stack(images), "digit": np.asarray(digits["label"]), "colour": np.array(colours)}
    return splits


def _run(cmd: list[str]) -> float:
    start = time.time()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"error: {' '.join(cmd[:3])} failed:\n{done.stderr.strip()[-3000:]}")
    return time.time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="where the folder, the run and the images go")
    parser.add_argument("--num", type=int, default=8, help="images per prompt")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args, overrides = parser.parse_known_args()
    overrides = [o for o in overrides if o != "--"]

    from jaxgan.metrics.classifiers import stroke_map, train_classifier

    splits = build_folder(args.root / "data")
    workdir = args.root / "run"
    train_s = 0.0
    if not (workdir / "checkpoints").is_dir():
        train_s = _run([sys.executable, "train.py", "--config", "configs/text2img.py", "--workdir", str(workdir),
                        "--config.data.source=folder", "--config.data.layout=captions",
                        f"--config.data.path={args.root / 'data'}", *overrides])
    combos = [(d, k) for d in range(10) for k in range(len(COLOURS))]
    prompts = [caption(TEST_PHRASINGS[i % len(TEST_PHRASINGS)], d, list(COLOURS)[k]) for i, (d, k) in enumerate(combos)]
    (args.root / "prompts.txt").write_text("\n".join(prompts) + "\n")
    out = args.root / "images"
    _run([sys.executable, "infer.py", "--workdir", str(workdir), "--prompts", str(args.root / "prompts.txt"),
          "--num", str(args.num), "--output", str(out), "--overwrite"])
    folders = sorted(out.iterdir(), key=lambda p: int(p.name.split("_")[0]))
    images = np.stack([np.asarray(Image.open(f).convert("RGB")) for folder in folders
                       for f in sorted(folder.glob("*.png"))]).astype(np.float32) / 127.5 - 1.0
    digits = np.repeat([d for d, _ in combos], args.num)
    phrasings = np.repeat(np.arange(len(combos)) % len(TEST_PHRASINGS), args.num)
    colours = np.repeat([k for _, k in combos], args.num)

    train, test = ({k: (v.astype(np.float32) / 127.5 - 1.0 if k == "image" else v) for k, v in s.items()}
                   for s in (splits["train"], splits["test"]))
    read_digit = train_classifier(stroke_map(train["image"]), train["digit"], 10, 0, steps=1000)
    read_colour = train_classifier(train["image"], train["colour"], len(COLOURS), 1)
    digit_ok = read_digit(stroke_map(images))[0].argmax(-1) == digits
    colour_ok = read_colour(images)[0].argmax(-1) == colours
    real_digit = read_digit(stroke_map(test["image"]))[0].argmax(-1) == test["digit"]
    real_colour = read_colour(test["image"])[0].argmax(-1) == test["colour"]
    figures = {"digit_agreement": float(digit_ok.mean()), "colour_agreement": float(colour_ok.mean()),
               "both_agreement": float((digit_ok & colour_ok).mean()), "digit_real": float(real_digit.mean()),
               "colour_real": float(real_colour.mean()), "train_seconds": round(train_s, 1),
               "per_digit": [float(digit_ok[digits == d].mean()) for d in range(10)],
               "per_phrasing": {t: float(digit_ok[phrasings == i].mean()) for i, t in enumerate(TEST_PHRASINGS)}}
    print(f"caption folder {args.root / 'data'}: {len(prompts)} held-out prompts x {args.num} images")
    print(f"  digit {figures['digit_agreement']:.1%}  colour {figures['colour_agreement']:.1%}  "
          f"both {figures['both_agreement']:.1%}   (real held-out images: digit {figures['digit_real']:.1%}, "
          f"colour {figures['colour_real']:.1%}; chance 10%, 33%)")
    print("  digit agreement per digit: " + " ".join(f"{d}:{a:.0%}" for d, a in enumerate(figures["per_digit"])))
    print("  digit agreement per phrasing: " + ", ".join(f"{t!r} {a:.0%}" for t, a in figures["per_phrasing"].items()))
    if train_s:
        print(f"  training took {train_s / 60:.1f} min")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
