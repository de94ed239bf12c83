"""PyTorch state dicts of the reference codes' generators <-> jaxgan generator variables.

A layout is the reference network's parameterised layers in forward order, each a state-dict prefix and
a kind (``conv``, ``conv_t``: transposed, ``norm``). jaxgan's module calls the matching layers in the
same order (recorded by intercepting its calls), so the two lists are zipped; each kind converts its
tensors (``Conv2d`` weight ``[out, in, kh, kw]`` -> kernel ``[kh, kw, in, out]``, ``ConvTranspose2d``
weight ``[in, out, kh, kw]`` -> ``[kh, kw, in, out]``, batch norm's weight / bias / running statistics,
instance norm's affine weight and bias if any). Layouts of the pytorch-CycleGAN-and-pix2pix code's
``define_G`` networks (``resnet_*blocks``, ``unet_*``), StarGAN's ``Generator`` and ``Discriminator``, and
BasicSR's ``RRDBNet`` (also under the ESRGAN repository's key names) and ``MSRResNet``.

``conv_t_skip``: a U-Net up-convolution whose input concatenates the skip connection *first*
(``torch.cat([x, up])``), where jaxgan's U-Net puts it second: its input channels' halves are swapped.
"""
from __future__ import annotations

from typing import Any

import flax
import flax.linen as nn
import jax
import numpy as np

from jaxgan.errors import CheckpointError
from jaxgan.nn import Conv, ConvTranspose, ConvWeights
from jaxgan.nn.norm import BatchNorm, InstanceNorm

Layer = tuple[str, str]
_KINDS = {Conv: "conv", ConvWeights: "conv", ConvTranspose: "conv_t", BatchNorm: "norm", InstanceNorm: "norm",
          nn.LayerNorm: "norm"}
#: keys a state dict may carry that no jaxgan variable holds: batch norm's step counter, and the
#: running statistics old versions of the reference code kept for instance norm (it deletes them too)
_IGNORED = ("num_batches_tracked",)


def _translator_layout(seq: str, first: int, block: str, convs: tuple[int, int], num_blocks: int,
                       last: int) -> list[Layer]:
    """An encoder / residual blocks / decoder generator held in one ``nn.Sequential`` ``seq``: (conv,
    norm) at ``first``, ``first + 3`` and ``first + 6``; residual block ``b`` at ``seq.<first + 9 + b>``
    ``block``, its (conv, norm) pairs at ``convs``; two (conv_t, norm) three apart, and the last conv
    ``last`` after the first conv_t."""
    layers = []
    for i in (first, first + 3, first + 6):
        layers += [(f"{seq}.{i}", "conv"), (f"{seq}.{i + 1}", "norm")]
    for b in range(first + 9, first + 9 + num_blocks):
        for i in convs:
            layers += [(f"{seq}.{b}{block}.{i}", "conv"), (f"{seq}.{b}{block}.{i + 1}", "norm")]
    j = first + 9 + num_blocks
    return layers + [(f"{seq}.{j}", "conv_t"), (f"{seq}.{j + 1}", "norm"), (f"{seq}.{j + 3}", "conv_t"),
                     (f"{seq}.{j + 4}", "norm"), (f"{seq}.{j + last}", "conv")]


def resnet_layout(num_blocks: int, dropout: bool) -> list[Layer]:
    """The reference code's ``ResnetGenerator``: ``model.<i>`` of one ``nn.Sequential`` (reflection pads,
    ReLUs and the dropout inside each block take indices too)."""
    return _translator_layout("model", 1, ".conv_block", (1, 6 if dropout else 5), num_blocks, last=7)


def unet_layout(num_downs: int) -> list[Layer]:
    """The reference code's ``UnetGenerator``: nested ``UnetSkipConnectionBlock``s, each an
    ``nn.Sequential`` (``model``) holding the next one (index 1 in the outermost, 3 in the others)."""
    def block(level: int) -> str:
        return "model.model" if level == 0 else "model.model.1" + ".model.3" * (level - 1) + ".model"

    inner = num_downs - 1
    down = [(f"{block(0)}.0", "conv")]
    for level in range(1, inner):
        down += [(f"{block(level)}.1", "conv"), (f"{block(level)}.2", "norm")]
    down += [(f"{block(inner)}.1", "conv")]
    up = [(f"{block(inner)}.3", "conv_t"), (f"{block(inner)}.4", "norm")]
    for level in range(inner - 1, 0, -1):
        up += [(f"{block(level)}.5", "conv_t_skip"), (f"{block(level)}.6", "norm")]
    return down + up + [(f"{block(0)}.3", "conv_t_skip")]


def stargan_layout(num_blocks: int) -> list[Layer]:
    """StarGAN's ``Generator``: ``main.<i>`` of one ``nn.Sequential`` (each residual block's
    ``main.<j>`` inside it)."""
    return _translator_layout("main", 0, ".main", (0, 3), num_blocks, last=6)


def stargan_discriminator_layout(num_layers: int) -> list[Layer]:
    """StarGAN's ``Discriminator``: ``main.<2i>`` convolutions (LeakyReLUs between), then ``conv1`` (the
    real/fake patches) and ``conv2`` (the domain logits)."""
    return [(f"main.{2 * i}", "conv") for i in range(num_layers)] + [("conv1", "conv"), ("conv2", "conv")]


#: RRDBNet's key names: BasicSR's (and Real-ESRGAN's), and the ESRGAN repository's (RRDB_ESRGAN_x4.pth)
RRDB_NAMES = {"basicsr": ("conv_first", "body", "rdb", "conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"),
              "esrgan": ("conv_first", "RRDB_trunk", "RDB", "trunk_conv", "upconv1", "upconv2", "HRconv", "conv_last")}


def rrdbnet_layout(num_blocks: int) -> list[Layer]:
    """BasicSR's ``RRDBNet``: the head conv, ``num_blocks`` RRDBs of three dense blocks of five convs, the
    body conv, two upsampling convs, ``conv_hr``, ``conv_last``."""
    first, trunk, rdb, body, up1, up2, hr, last = RRDB_NAMES["basicsr"]
    dense = [(f"{trunk}.{i}.{rdb}{j}.conv{k}", "conv") for i in range(num_blocks) for j in (1, 2, 3)
             for k in range(1, 6)]
    return [(first, "conv"), *dense, *[(name, "conv") for name in (body, up1, up2, hr, last)]]


def msrresnet_layout(num_blocks: int, stages: int) -> list[Layer]:
    """BasicSR's ``MSRResNet``: the head conv, ``num_blocks`` residual blocks of two convs, ``stages``
    sub-pixel convs (``upconv1``, ``upconv2``), ``conv_hr``, ``conv_last``."""
    body = [(f"body.{i}.conv{k}", "conv") for i in range(num_blocks) for k in (1, 2)]
    ups = [(f"upconv{i}", "conv") for i in range(1, stages + 1)]
    return [("conv_first", "conv"), *body, *ups, ("conv_hr", "conv"), ("conv_last", "conv")]


def call_order(module: nn.Module, *args: Any, **kwargs: Any) -> tuple[list[tuple[tuple[str, ...], nn.Module]], Any]:
    """``([(path, layer module) ...], abstract variables)``: the parameterised layers ``module`` calls on
    ``args``, in call order, and its variables' shapes."""
    calls = []

    def record(next_fun: Any, call_args: Any, call_kwargs: Any, context: Any) -> Any:
        if context.method_name == "__call__" and type(context.module) in _KINDS:
            calls.append((tuple(context.module.path), context.module))
        return next_fun(*call_args, **call_kwargs)

    def init() -> Any:
        with nn.intercept_methods(record):
            return module.init(jax.random.PRNGKey(0), *args, **kwargs)

    abstract = jax.eval_shape(init)
    seen, layers = set(), []
    for path, layer in calls:                      # (init may trace a layer more than once)
        if path not in seen:
            seen.add(path)
            layers.append((path, layer))
    return layers, abstract


def _tensors(layer: nn.Module, kind: str) -> dict[str, tuple[str, str]]:
    """``{torch name: (collection, jaxgan name)}`` of one layer."""
    if kind in ("conv", "conv_t", "conv_t_skip"):
        return {"weight": ("params", "kernel"), **({"bias": ("params", "bias")} if layer.use_bias else {})}
    if isinstance(layer, BatchNorm):
        return {"weight": ("params", "scale"), "bias": ("params", "bias"), "running_mean": ("batch_stats", "mean"),
                "running_var": ("batch_stats", "var")}
    if isinstance(layer, InstanceNorm) and not layer.affine:
        return {}
    return {"weight": ("params", "scale"), "bias": ("params", "bias")}


def _swap_halves(value: np.ndarray, axis: int) -> np.ndarray:
    return np.concatenate(np.split(value, 2, axis=axis)[::-1], axis=axis)


def _to_ours(kind: str, value: np.ndarray) -> np.ndarray:
    if value.ndim != 4:
        return value
    if kind == "conv":
        return value.transpose(2, 3, 1, 0)
    if kind == "conv_t_skip":
        value = _swap_halves(value, 0)
    return value.transpose(2, 3, 0, 1) if kind.startswith("conv_t") else value


def _to_theirs(kind: str, value: np.ndarray) -> np.ndarray:
    if value.ndim != 4:
        return value
    if kind == "conv":
        return value.transpose(3, 2, 0, 1)
    if kind.startswith("conv_t"):
        value = value.transpose(2, 3, 0, 1)
    return _swap_halves(value, 0) if kind == "conv_t_skip" else value


def _pairs(layout: list[Layer], module: nn.Module, *args: Any, **kwargs: Any) -> tuple[list[Any], Any]:
    layers, abstract = call_order(module, *args, **kwargs)
    ours = [(path, layer, _KINDS[type(layer)]) for path, layer in layers]
    if [k for *_, k in ours] != [k.replace("_skip", "") for _, k in layout]:
        raise CheckpointError(f"jaxgan's {type(module).__name__} does not follow this layout "
                              f"({len(ours)} layers vs {len(layout)})")
    return [(prefix, path, layer, kind) for (prefix, kind), (path, layer, _) in zip(layout, ours)], abstract


def from_state_dict(state: dict[str, np.ndarray], layout: list[Layer], module: nn.Module, *args: Any,
                    **kwargs: Any) -> dict[str, Any]:
    """``module``'s variables from the PyTorch ``state`` of the network ``layout`` describes (example
    inputs ``args``); a missing, mis-shaped or unexpected key is one `CheckpointError` naming it."""
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}   # DataParallel
    pairs, abstract = _pairs(layout, module, *args, **kwargs)
    flat_shapes = flax.traverse_util.flatten_dict(abstract)
    flat, used = {}, set()
    for prefix, path, layer, kind in pairs:
        for theirs, (collection, name) in _tensors(layer, kind).items():
            key = f"{prefix}.{theirs}"
            if key not in state:
                raise CheckpointError(f"the file has no {key} (expected by this architecture)")
            value = _to_ours(kind, np.asarray(state[key], np.float32))
            target = (collection, *path, name)
            if value.shape != flat_shapes[target].shape:
                want = _to_theirs(kind, np.zeros(flat_shapes[target].shape)).shape
                raise CheckpointError(f"{key} has shape {list(state[key].shape)}, this architecture needs "
                                      f"{list(want)}")
            flat[target], used = value, used | {key}
    layer_prefixes = {prefix for prefix, *_ in pairs}
    for key in state:
        owner, _, name = key.rpartition(".")
        ignorable = name in _IGNORED or (name in ("running_mean", "running_var") and owner in layer_prefixes)
        if key not in used and not ignorable:
            raise CheckpointError(f"the file has {key}, which this architecture does not (another architecture, "
                                  f"norm or dropout setting?)")
    missing = set(flat_shapes) - set(flat)
    if missing:
        raise CheckpointError(f"no tensor for {'/'.join(sorted(missing)[0])}")
    return flax.traverse_util.unflatten_dict(flat)


def to_state_dict(variables: dict[str, Any], layout: list[Layer], module: nn.Module, *args: Any,
                  instance_running_stats: bool = False, **kwargs: Any) -> dict[str, np.ndarray]:
    """The PyTorch state dict (numpy arrays, the reference network's key names and order) of ``module``'s
    ``variables``; batch norms get ``num_batches_tracked`` = 0 as a fresh PyTorch module has, and with
    ``instance_running_stats`` instance norms the fresh running statistics of ``track_running_stats=True``
    (StarGAN's), which its test-time instance statistics never read."""
    pairs, _ = _pairs(layout, module, *args, **kwargs)
    flat = flax.traverse_util.flatten_dict(jax.device_get(variables))
    state = {}
    for prefix, path, layer, kind in pairs:
        for theirs, (collection, name) in _tensors(layer, kind).items():
            state[f"{prefix}.{theirs}"] = np.ascontiguousarray(_to_theirs(kind, np.asarray(flat[(collection, *path, name)])))
        if isinstance(layer, InstanceNorm) and instance_running_stats:
            width = np.asarray(flat[("params", *path, "scale")]).shape[0]
            state[f"{prefix}.running_mean"] = np.zeros(width, np.float32)
            state[f"{prefix}.running_var"] = np.ones(width, np.float32)
        if isinstance(layer, BatchNorm) or (isinstance(layer, InstanceNorm) and instance_running_stats):
            state[f"{prefix}.num_batches_tracked"] = np.array(0, np.int64)
    return state
