"""Default data sets built from data shipped inside installed packages: no network, ever.

- ``digits``: scikit-learn's 1,797 handwritten 8x8 digits (labels 0-9), upscaled bicubically.
- ``faces``: the 100 face crops (25x25 grayscale) of scikit-image's LFW subset, upscaled.

- ``grey2photo`` (paired, pix2pix): crops of scikit-image's colour photos, A = grayscale, B = colour; its
  held-out photos add scikit-learn's two (china, flower), photos from another source than training's.
- ``photo2sketch`` (unpaired, CycleGAN): A = colour photo crops, B = edge sketches of other images.
- ``photos`` (super-resolution): the colour photos at their own size (layouts in `data.registry`).
- ``digit_styles`` (domains, StarGAN): the digits drawn in four visually distinct styles, light strokes
  on dark grounds (grainy chalk on a green board, a magenta neon glow on black, thick gold on dark wood,
  thin pale strokes on a blueprint grid); each digit image appears in one style, and its digit is kept as
  ``content`` so evaluation can check that a translation keeps the digit.
- ``coloured_digits`` (captions, text-to-image): the digits drawn in one of six colours on a dark ground,
  each with three captions naming the digit and the colour in varied phrasing ("a red seven", "the number
  7 drawn in red ink"). Training never shows ten digit/colour combinations (`UNSEEN_COMBINATIONS`) nor
  the held-out phrasings (`HELD_OUT_TEMPLATES`, made of training words), so evaluation can ask for both.

Each is split deterministically into ``train`` and ``test`` (held out for evaluation); the photo sets
are split by file, so held-out photos never appear in training.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import numpy as np
from PIL import Image

from jaxgan.errors import DataError

EMBEDDED = ("digits", "faces")
PAIRED = ("grey2photo",)
#: the styles of ``digit_styles``, in domain order
DIGIT_STYLES = ("chalk", "neon", "gold", "blueprint")
UNPAIRED = ("photo2sketch",)
_HELD_OUT = {"digits": 297, "faces": 20}
_Loaded = TypeVar("_Loaded")


def _shared(value: Any) -> Any:
    """``value`` with its containers copied and its arrays the same objects, made read-only."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
        return value
    if isinstance(value, dict):
        return {k: _shared(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_shared(v) for v in value)
    return value


def _kept(load: Callable[..., _Loaded]) -> Callable[..., _Loaded]:
    """``load`` computed once per arguments in a process (training, sample grids and every evaluation ask
    for the same sets; building one takes up to ~0.7 s); each caller gets read-only arrays in containers
    of its own, so none can change what is kept."""
    cached = functools.lru_cache(maxsize=8)(load)

    @functools.wraps(load)
    def kept(*args: Any) -> _Loaded:
        return _shared(cached(*args))

    return kept


def _upscale(images: np.ndarray, size: int) -> np.ndarray:
    """float [N, h, w] in [0, 1] -> uint8 [N, size, size, 1] (``size`` 0: the images' own square side)."""
    size = size or images.shape[1]
    out = np.empty((len(images), size, size, 1), np.uint8)
    for i, im in enumerate(images):
        pil = Image.fromarray(np.clip(im * 255.0, 0, 255).astype(np.uint8))
        out[i, ..., 0] = np.asarray(pil.resize((size, size), Image.BICUBIC))
    return out


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (float [1797, 8, 8] in [0, 1], int32 labels), the values `load_digits`
    gives, read straight from the file inside its wheel: importing scikit-learn takes ~2.5 s of start-up."""
    import gzip
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz" if spec else None
    if path is None or not path.is_file():
        raise DataError("the embedded digits ship inside scikit-learn, which is not installed: "
                        "pip install -r requirements.txt")
    with gzip.open(path) as f:
        table = np.loadtxt(f, delimiter=",")
    return table[:, :-1].reshape(-1, 8, 8) / 16.0, table[:, -1].astype(np.int32)


@_kept
def load_embedded(name: str, split: str, size: int) -> dict[str, np.ndarray]:
    """``{"image": uint8 [N, size, size, 1], "label": int32 [N]}`` for ``split`` in train | test (``size`` 0:
    the set's own side)."""
    if name == "digits":
        images, labels = sklearn_digits()
    elif name == "faces":
        from skimage.data import lfw_subset

        images = lfw_subset()[:100]                         # the first 100 are faces, the rest not
        labels = np.zeros(len(images), np.int32)
    else:
        raise ValueError(f"unknown embedded data set {name!r}; choose one of {', '.join(EMBEDDED)}")
    order = np.random.default_rng(0).permutation(len(images))
    held = _HELD_OUT[name]
    if split == "train":
        idx = order[held:]
    elif split == "test":
        idx = order[:held]
    else:
        raise DataError(f"embedded data set {name!r} has splits train and test, not {split!r}")
    out = {"image": _upscale(images[idx], size), "label": labels[idx]}
    if name == "faces":
        del out["label"]
    return out


# ----------------------------------------------------------------------------- image-to-image sets
# scikit-image's bundled colour photos, split by file: held-out photos never appear in training.
_PHOTOS = {"train": ("astronaut", "chelsea", "hubble_deep_field", "immunohistochemistry", "rocket", "retina",
                     "motorcycle_left"),
           "test": ("coffee", "motorcycle_right")}
# grey2photo's held-out whole photos: scikit-image's two and scikit-learn's two (another source than training's)
_COLOURISATION_TEST = _PHOTOS["test"] + ("china", "flower")
# Grayscale textures and scenes, the source of the "sketch" domain.
_SKETCH_SOURCES = {"train": ("camera", "brick", "grass", "gravel", "coins", "moon", "page", "text"),
                   "test": ("clock", "cell")}


def _photo(name: str) -> np.ndarray:
    import skimage.data

    if name == "motorcycle_left":
        return skimage.data.stereo_motorcycle()[0]
    if name == "motorcycle_right":
        return skimage.data.stereo_motorcycle()[1]
    if name == "clock":
        from skimage import io
        import os
        return io.imread(os.path.join(os.path.dirname(skimage.data.__file__), "clock_motion.png"))
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image
        return load_sample_image(f"{name}.jpg")
    image = getattr(skimage.data, name)()
    return image[..., :3] if image.ndim == 3 else image


@_kept
def rgb_photo(name: str) -> np.ndarray:
    """A bundled photo as uint8 RGB at its own size (grayscale ones replicated to 3 channels)."""
    image = _photo(name)
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else np.ascontiguousarray(image)


def super_resolution_photos(split: str) -> tuple[str, ...]:
    """The ``photos`` super-resolution set: the colour photos above, plus grayscale textures and scenes
    for training and the camera man (a classic SR test image) held out."""
    extra = {"train": ("brick", "grass", "gravel", "coins", "moon", "page", "text"), "test": ("camera",)}
    return _PHOTOS[split] + extra[split]


def photo_crops(names: tuple[str, ...], size: int, per_photo: int = 24, crop_fraction: float = 0.35,
                seed: int = 0) -> np.ndarray:
    """uint8 [N, size, size, C] random square crops (side ``crop_fraction`` of the shorter side)."""
    rng = np.random.default_rng(seed)
    out = []
    for name in names:
        image = _photo(name)
        h, w = image.shape[:2]
        side = int(min(h, w) * crop_fraction)
        for _ in range(per_photo):
            top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
            crop = Image.fromarray(image[top:top + side, left:left + side])
            out.append(np.asarray(crop.resize((size, size), Image.BICUBIC)))
    return np.stack(out)


def grey(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> uint8 BT.601 luminance (rounded) replicated to 3 channels: ``grey2photo``'s inputs."""
    y = np.round(rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
    return np.repeat(y[..., None], 3, axis=-1)


def _sketch(gray: np.ndarray) -> np.ndarray:
    """Dark edge strokes on white (Sobel magnitude), 3 channels: the unpaired 'sketch' domain."""
    from skimage.filters import sobel

    g = gray.astype(np.float32) / 255.0
    if g.ndim == 3:
        g = g[..., 0]
    edges = sobel(g)
    edges = edges / (np.percentile(edges, 99) + 1e-6)
    line = np.clip(255.0 * (1.0 - edges), 0, 255).astype(np.uint8)
    return np.repeat(line[..., None], 3, axis=-1)


@_kept
def load_paired(name: str, split: str, size: int) -> dict[str, Any]:
    """``grey2photo``: A = grayscale, B = the same image in colour (paired): crops resized to ``size``,
    or (``size`` 0) the whole photos at their own size, as lists."""
    if name != "grey2photo":
        raise ValueError(f"unknown paired embedded set {name!r}")
    if not size:
        names = _COLOURISATION_TEST if check_split(split) == "test" else _PHOTOS["train"]
        photos = [rgb_photo(n) for n in names]
        return {"A": [grey(p) for p in photos], "B": photos}
    photos = photo_crops(_PHOTOS[check_split(split)], size, seed=0 if split == "train" else 1)
    return {"A": np.stack([grey(p) for p in photos]), "B": photos}


@_kept
def load_unpaired(name: str, split: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``photo2sketch``: A = colour photo crops, B = edge sketches of other images (unpaired)."""
    if name != "photo2sketch":
        raise ValueError(f"unknown unpaired embedded set {name!r}")
    s = check_split(split)
    photos = photo_crops(_PHOTOS[s], size, seed=2 if s == "train" else 3)
    gray = photo_crops(_SKETCH_SOURCES[s], size, seed=4 if s == "train" else 5)
    return photos, np.stack([_sketch(g) for g in gray])


def check_split(split: str) -> str:
    if split not in ("train", "test"):
        raise DataError(f"the embedded photo sets have splits train and test, not {split!r}")
    return split


# ------------------------------------------------------------------------------------ domain sets
def _styled(m: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    """A digit's stroke map ``m`` [S, S] in [0, 1] drawn in ``style`` -> uint8 RGB [S, S, 3]."""
    from PIL import ImageFilter

    side = m.shape[0]
    noise = rng.normal(0.0, 1.0, m.shape + (1,))
    jitter = rng.uniform(-12.0, 12.0, 3)                               # each image's own tint
    w = m[..., None]

    def blurred(a: np.ndarray, radius: float) -> np.ndarray:
        pil = Image.fromarray(np.uint8(np.clip(a, 0, 1) * 255))
        return np.asarray(pil.filter(ImageFilter.GaussianBlur(radius)), np.float32)[..., None] / 255.0

    if style == "chalk":                     # grainy white chalk on a green board
        board, chalk = np.array([45, 80, 55]) + 8 * noise, np.array([235, 235, 225])
        grain = np.clip(w * (0.8 + 0.25 * rng.normal(0.0, 1.0, w.shape)), 0, 1)
        image = board * (1 - grain) + chalk * grain
    elif style == "neon":                    # a magenta glow around a bright core, on black
        glow = blurred(m, side / 14)
        image = np.array([12, 6, 24]) + np.array([255, 30, 190]) * np.clip(1.6 * glow, 0, 1) \
            + np.array([255, 225, 250]) * np.clip(w - 0.4, 0, 1) / 0.6
    elif style == "gold":                    # thick gold strokes, darker at their edges, on dark wood
        thick = np.asarray(Image.fromarray(np.uint8(m * 255)).filter(ImageFilter.MaxFilter(3)), np.float32) / 255.0
        core = blurred(thick * thick, 0.8)
        wood = np.array([62, 38, 22]) + 6 * noise + 10 * np.sin(np.linspace(0, 9, side))[:, None, None]
        metal = np.array([175, 115, 25]) + np.array([80, 90, 45]) * core
        image = wood * (1 - thick[..., None]) + metal * thick[..., None]
    elif style == "blueprint":               # thin pale-cyan strokes on blueprint blue with a grid
        thin = np.asarray(Image.fromarray(np.uint8(m * 255)).filter(ImageFilter.MinFilter(3)), np.float32) / 255.0
        grid = np.zeros((side, side, 1))
        grid[::max(side // 8, 2)], grid[:, ::max(side // 8, 2)] = 1.0, 1.0
        paper = np.array([25, 65, 150]) + 4 * noise + 35 * grid
        image = paper * (1 - thin[..., None]) + np.array([215, 240, 255]) * thin[..., None]
    else:
        raise ValueError(f"unknown style {style!r}")
    return np.clip(np.round(image + jitter), 0, 255).astype(np.uint8)


@_kept
def load_domains(name: str, split: str, size: int) -> dict[str, np.ndarray]:
    """``digit_styles``: ``{"image": uint8 [N, size, size, 3], "domain": float32 one-hot [N, 4],
    "content": int32 [N] (the digit)}``; the held-out split is the digits' own (``size`` 0: 32)."""
    if name != "digit_styles":
        raise ValueError(f"unknown domain embedded set {name!r}")
    digits = load_embedded("digits", check_split(split), size or 32)
    rng = np.random.default_rng(11 if split == "train" else 12)
    styles = rng.permutation(len(digits["label"])) % len(DIGIT_STYLES)
    strokes = np.clip(digits["image"][..., 0].astype(np.float32) / 255.0 * 1.25, 0.0, 1.0)
    images = np.stack([_styled(m, DIGIT_STYLES[k], rng) for m, k in zip(strokes, styles)])
    return {"image": images, "domain": np.eye(len(DIGIT_STYLES), dtype=np.float32)[styles],
            "content": digits["label"]}


# ------------------------------------------------------------------------------------ captioned set
#: the colours of ``coloured_digits``, with their RGB
COLOURS = {"red": (230, 45, 40), "green": (40, 200, 70), "blue": (55, 95, 245), "yellow": (240, 220, 40),
           "purple": (165, 65, 225), "white": (235, 235, 235)}
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TRAIN_TEMPLATES = ("a {colour} {word}", "the digit {word} in {colour}", "a {colour} number {numeral}",
                   "{word} written in {colour}", "the number {numeral} drawn in {colour} ink",
                   "a handwritten {colour} {numeral}")
HELD_OUT_TEMPLATES = ("{colour} {numeral}", "a {word} drawn in {colour}", "the {colour} digit {word}")
#: (digit, colour index) pairs no training image shows
UNSEEN_COMBINATIONS = frozenset((d, d % len(COLOURS)) for d in range(10))


def digit_caption(template: str, digit: int, colour: str) -> str:
    return template.format(colour=colour, word=DIGIT_WORDS[digit], numeral=digit)


@_kept
def load_captioned(name: str, split: str, size: int) -> dict[str, Any]:
    """``coloured_digits``: ``{"image": uint8 [N, size, size, 3], "captions": [[str] * 3] * N, "digit":
    int32 [N], "colour": int32 [N]}`` (``size`` 0: 32). Training images avoid `UNSEEN_COMBINATIONS` and
    use `TRAIN_TEMPLATES`; held-out images (the digits' own 297) take any colour and `HELD_OUT_TEMPLATES`."""
    if name != "coloured_digits":
        raise ValueError(f"unknown captioned embedded set {name!r}")
    digits = load_embedded("digits", check_split(split), size or 32)
    rng = np.random.default_rng(21 if split == "train" else 22)
    names, rgb = list(COLOURS), np.array(list(COLOURS.values()), np.float32)
    templates = TRAIN_TEMPLATES if split == "train" else HELD_OUT_TEMPLATES
    images, colours, captions = [], [], []
    for image, digit in zip(digits["image"], digits["label"]):
        allowed = [k for k in range(len(names)) if split != "train" or (int(digit), k) not in UNSEEN_COMBINATIONS]
        k = int(rng.choice(allowed))
        stroke = np.clip(image.astype(np.float32) / 255.0 * 1.25, 0.0, 1.0)
        ground = np.array([18, 18, 24], np.float32) + rng.uniform(-6, 6, 3) + 5 * rng.normal(0, 1, stroke.shape)
        ink = rgb[k] + rng.uniform(-15, 15, 3)
        images.append(np.clip(np.round(ground * (1 - stroke) + ink * stroke), 0, 255).astype(np.uint8))
        colours.append(k)
        chosen = rng.choice(len(templates), 3, replace=False)
        captions.append([digit_caption(templates[t], int(digit), names[k]) for t in chosen])
    return {"image": np.stack(images), "captions": captions, "digit": digits["label"],
            "colour": np.array(colours, np.int32)}
