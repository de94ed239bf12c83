"""InceptionV3 as FID computes it: the 2015-12-05 TensorFlow graph as pytorch-fid ports it, in Flax.

It differs from the usual InceptionV3 where that graph does (pytorch-fid's ``FIDInception*`` blocks): the
average pools of the A, C and E blocks exclude the zero padding from their averages, the last E block pools
by maximum, and the head has 1008 classes. Inputs are images in [0, 1], resized to 299x299 bilinearly
without antialiasing (PyTorch's ``align_corners=False``) and scaled to [-1, 1], as pytorch-fid does.
Outputs: pool3 features [B, 2048] (FID, KID, precision/recall) and logits [B, 1008] (Inception Score).

`load_fid_inception` reads pytorch-fid's weight file ``pt_inception-2015-12-05-6726825d.pth`` (no torch
needed, see `jaxgan.torch_file`); its keys are the module paths below (``Mixed_5b.branch1x1.conv.weight``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import torch_file
from jaxgan.errors import CheckpointError

#: pytorch-fid's file name, and where torch's hub cache keeps it
WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
DEFAULT_WEIGHTS = Path.home() / ".cache" / "torch" / "hub" / "checkpoints" / WEIGHTS_FILE
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
SIZE = 299


class BasicConv(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3, running statistics), ReLU."""

    features: int
    kernel: tuple[int, int] = (1, 1)
    stride: int = 1
    padding: tuple[int, int] = (0, 0)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        (ph, pw) = self.padding
        x = nn.Conv(self.features, self.kernel, self.stride, padding=((ph, ph), (pw, pw)), use_bias=False,
                    name="conv")(x)
        return nn.relu(nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x))


def _average_pool(x: jax.Array) -> jax.Array:
    """3x3, stride 1, padding 1, the padding left out of each average (TensorFlow's)."""
    return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)), count_include_pad=False)


def _max_pool(x: jax.Array, stride: int, padding: int = 0) -> jax.Array:
    return nn.max_pool(x, (3, 3), (stride, stride), ((padding, padding), (padding, padding)))


class InceptionA(nn.Module):
    pool_features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b1 = BasicConv(64, name="branch1x1")(x)
        b5 = BasicConv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(BasicConv(48, name="branch5x5_1")(x))
        b3 = BasicConv(64, name="branch3x3dbl_1")(x)
        b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
        b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
        pool = BasicConv(self.pool_features, name="branch_pool")(_average_pool(x))
        return jnp.concatenate([b1, b5, b3, pool], axis=-1)


class InceptionB(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b3 = BasicConv(384, (3, 3), 2, name="branch3x3")(x)
        d = BasicConv(64, name="branch3x3dbl_1")(x)
        d = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(d)
        d = BasicConv(96, (3, 3), 2, name="branch3x3dbl_3")(d)
        return jnp.concatenate([b3, d, _max_pool(x, 2)], axis=-1)


class InceptionC(nn.Module):
    channels_7x7: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = self.channels_7x7
        row, column = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        b1 = BasicConv(192, name="branch1x1")(x)
        b7 = BasicConv(c, name="branch7x7_1")(x)
        b7 = BasicConv(c, **row, name="branch7x7_2")(b7)
        b7 = BasicConv(192, **column, name="branch7x7_3")(b7)
        d = BasicConv(c, name="branch7x7dbl_1")(x)
        for i, (width, shape) in enumerate(((c, column), (c, row), (c, column), (192, row)), start=2):
            d = BasicConv(width, **shape, name=f"branch7x7dbl_{i}")(d)
        pool = BasicConv(192, name="branch_pool")(_average_pool(x))
        return jnp.concatenate([b1, b7, d, pool], axis=-1)


class InceptionD(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b3 = BasicConv(320, (3, 3), 2, name="branch3x3_2")(BasicConv(192, name="branch3x3_1")(x))
        b7 = BasicConv(192, name="branch7x7x3_1")(x)
        b7 = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
        b7 = BasicConv(192, (3, 3), 2, name="branch7x7x3_4")(b7)
        return jnp.concatenate([b3, b7, _max_pool(x, 2)], axis=-1)


class InceptionE(nn.Module):
    """``max_pool``: the last block of the FID graph pools by maximum (pytorch-fid's ``FIDInceptionE_2``)."""

    max_pool: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        def split(h: jax.Array, prefix: str) -> jax.Array:
            return jnp.concatenate([BasicConv(384, (1, 3), padding=(0, 1), name=f"{prefix}a")(h),
                                    BasicConv(384, (3, 1), padding=(1, 0), name=f"{prefix}b")(h)], axis=-1)

        b1 = BasicConv(320, name="branch1x1")(x)
        b3 = split(BasicConv(384, name="branch3x3_1")(x), "branch3x3_2")
        d = BasicConv(448, name="branch3x3dbl_1")(x)
        d = split(BasicConv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(d), "branch3x3dbl_3")
        pooled = _max_pool(x, 1, 1) if self.max_pool else _average_pool(x)
        pool = BasicConv(192, name="branch_pool")(pooled)
        return jnp.concatenate([b1, b3, d, pool], axis=-1)


class FIDInceptionV3(nn.Module):
    """``images [B, H, W, 3] in [0, 1] -> (pool3 [B, 2048], logits [B, 1008])``."""

    @nn.compact
    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = jax.image.resize(images.astype(jnp.float32), (images.shape[0], SIZE, SIZE, images.shape[-1]),
                             "linear", antialias=False)
        x = 2.0 * x - 1.0
        x = BasicConv(32, (3, 3), 2, name="Conv2d_1a_3x3")(x)
        x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)
        x = BasicConv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
        x = BasicConv(80, name="Conv2d_3b_1x1")(_max_pool(x, 2))
        x = _max_pool(BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x), 2)
        for name, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
            x = InceptionA(pool_features, name=name)(x)
        x = InceptionB(name="Mixed_6a")(x)
        for name, channels in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
            x = InceptionC(channels, name=name)(x)
        x = InceptionD(name="Mixed_7a")(x)
        x = InceptionE(name="Mixed_7b")(x)
        x = InceptionE(max_pool=True, name="Mixed_7c")(x)
        pool3 = jnp.mean(x, axis=(1, 2))
        return pool3, nn.Dense(1008, name="fc")(pool3)


def _torch_name(path: tuple[str, ...]) -> tuple[str, str]:
    """A Flax variable path -> (its pytorch-fid key, how to convert it)."""
    *modules, leaf = path
    kind = {"kernel": "weight", "scale": "weight", "bias": "bias", "mean": "running_mean", "var": "running_var"}[leaf]
    return ".".join(modules + [kind]), leaf


def load_fid_inception(path: str | Path | None = None) -> dict[str, Any]:
    """`FIDInceptionV3`'s variables from pytorch-fid's weight file (default: torch's hub cache)."""
    path = Path(path) if path else DEFAULT_WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"no Inception weights at {path}: get pytorch-fid's {WEIGHTS_FILE} once from "
                              f"{WEIGHTS_URL} and pass its path (--inception-weights)")
    state = torch_file.load(path)
    abstract = jax.eval_shape(FIDInceptionV3().init, jax.random.PRNGKey(0), jnp.zeros((1, 75, 75, 3)))
    flat, problems = {}, []
    for key_path, leaf in flax.traverse_util.flatten_dict(flax.core.unfreeze(abstract)).items():
        collection, *rest = key_path
        name, kind = _torch_name(tuple(rest))
        value = state.get(name) if hasattr(state, "get") else None
        if value is None:
            problems.append(f"missing {name}")
            continue
        value = np.asarray(value, np.float32)
        if kind == "kernel":
            value = value.transpose(2, 3, 1, 0) if value.ndim == 4 else value.T
        if value.shape != leaf.shape:
            problems.append(f"{name} has shape {value.shape}, expected {leaf.shape}")
            continue
        flat[key_path] = jnp.asarray(value)
    if problems:
        raise CheckpointError(f"{path} is not pytorch-fid's Inception weights: {'; '.join(problems[:3])}"
                              f"{' ...' if len(problems) > 3 else ''}")
    return flax.traverse_util.unflatten_dict(flat)
