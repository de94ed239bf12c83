"""VGG19 convolutional features for perceptual (content) losses, with weights from a local Keras file.

The weights come from the standard Keras file ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``
(layers ``block{b}_conv{c}``, kernels ``[3, 3, in, out]``, trained on BGR images minus the ImageNet
mean on a 0-255 scale). Nothing is downloaded: `load_vgg19_h5` reads a file the user provides.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.errors import ConfigError
from jaxgan.nn import Conv, max_pool

# (block, convs) of VGG19; features are taken after a conv's ReLU, before the block's pooling.
VGG19_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)
# SRGAN's names: VGG{i}{j} = features of the j-th conv (after ReLU) before the i-th max-pooling; ESRGAN
# takes them before the ReLU (``_pre``). Name -> (layer, before its ReLU).
LAYERS = {"vgg22": ("block2_conv2", False), "vgg54": ("block5_conv4", False), "vgg54_pre": ("block5_conv4", True)}


def layer_names() -> list[str]:
    return [f"block{b}_conv{c}" for b, n, _ in VGG19_BLOCKS for c in range(1, n + 1)]


class VGG19Features(nn.Module):
    """``images in [-1, 1] (RGB) -> features of ``layer`` (e.g. block5_conv4), after its ReLU (or before
    it, ``before_activation``)."""

    layer: str = "block5_conv4"
    before_activation: bool = False
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.layer not in layer_names():
            raise ValueError(f"unknown VGG19 layer {self.layer!r}")
        h = (x + 1.0) * 127.5                          # [-1, 1] -> [0, 255]
        h = h[..., ::-1] - BGR_MEAN                    # RGB -> BGR, minus the ImageNet mean
        for block, convs, width in VGG19_BLOCKS:
            if block > 1:
                h = max_pool(h, 2)
            for c in range(1, convs + 1):
                name = f"block{block}_conv{c}"
                h = Conv(width, 3, 1, 1, name=name, impl=self.conv_impl)(h)
                if name == self.layer and self.before_activation:
                    return h
                h = nn.relu(h)
                if name == self.layer:
                    return h
        raise AssertionError("unreachable")


def load_vgg19_h5(path: str | Path, layer: str = "block5_conv4") -> dict[str, Any]:
    """Flax params for `VGG19Features` up to ``layer`` from a Keras VGG19 ``.h5`` weights file."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"VGG19 weights file {str(path)!r} not found. Download "
                          f"vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 (the Keras VGG19 'notop' "
                          f"weights) once and pass its path, or use the MSE content loss")
    names = layer_names()
    wanted = names[:names.index(layer) + 1]
    params = {}
    try:
        with h5py.File(path, "r") as f:
            for name in wanted:
                group = f[name]
                weight_names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
                kernel, bias = (np.asarray(group[w]) for w in weight_names)
                params[name] = {"kernel": jnp.asarray(kernel, jnp.float32), "bias": jnp.asarray(bias, jnp.float32)}
    except (OSError, KeyError, ValueError) as e:
        raise ConfigError(f"{path} is not a Keras VGG19 weights file ({type(e).__name__}: {e})") from None
    expected_in = 3
    for name, (_, _, width) in zip(wanted, [b for b in VGG19_BLOCKS for _ in range(b[1])]):
        shape = params[name]["kernel"].shape
        if shape != (3, 3, expected_in, width):
            raise ConfigError(f"{path}: {name} has kernel shape {shape}, expected {(3, 3, expected_in, width)}")
        expected_in = width
    return {"params": params}


def write_random_vgg19_h5(path: str | Path, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A file in the Keras VGG19 'notop' layout with random weights (for tests and timing, not for
    training); returns ``{layer: (kernel, bias)}`` as written."""
    import h5py

    rng = np.random.default_rng(seed)
    weights, cin = {}, 3
    widths = [width for _, convs, width in VGG19_BLOCKS for _ in range(convs)]
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"input_1"] + [n.encode() for n in layer_names()]
        for name, width in zip(layer_names(), widths):
            kernel = (rng.standard_normal((3, 3, cin, width)) * np.sqrt(2.0 / (9 * cin))).astype(np.float32)
            bias = (rng.standard_normal(width) * 0.1).astype(np.float32)
            group = f.create_group(name)
            group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
            group[f"{name}/kernel:0"], group[f"{name}/bias:0"] = kernel, bias
            weights[name] = (kernel, bias)
            cin = width
    return weights
