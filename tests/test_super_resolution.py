"""SRResNet / SRGAN discriminator shapes and the Keras VGG19 weight loader (layout, order, preprocessing)."""
import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.errors import ConfigError
from jaxgan.models.super_resolution import SRGANDiscriminator, SRResNet
from jaxgan.models.vgg import VGG19Features, layer_names, load_vgg19_h5


def test_srresnet_upscales_and_discriminator_scores():
    lr = jnp.zeros((2, 12, 12, 3))
    for scale in (2, 4):
        g = SRResNet(scale=scale, num_blocks=2, features=8)
        variables = g.init(jax.random.PRNGKey(0), lr, train=False)
        assert g.apply(variables, lr, train=False).shape == (2, 12 * scale, 12 * scale, 3)
    d = SRGANDiscriminator(features=8)
    hr = jnp.zeros((2, 48, 48, 3))
    assert d.apply(d.init(jax.random.PRNGKey(0), hr, train=False), hr, train=False).shape == (2,)


def write_keras_vgg19(path, rng):
    """A file in the layout of vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5, random weights."""
    weights, cin = {}, 3
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"input_1"] + [n.encode() for n in layer_names()]
        for name in layer_names():
            width = {"1": 64, "2": 128, "3": 256, "4": 512, "5": 512}[name[5]]
            kernel = rng.standard_normal((3, 3, cin, width)).astype(np.float32) * 0.05
            bias = rng.standard_normal(width).astype(np.float32) * 0.1
            group = f.create_group(name)
            group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
            group[f"{name}/kernel:0"], group[f"{name}/bias:0"] = kernel, bias
            weights[name] = (kernel, bias)
            cin = width
    return weights


def reference_features(x, weights, upto):
    """Keras 'caffe' preprocessing and VGG19 convs written out independently with lax."""
    h = (np.asarray(x) + 1.0) * 127.5
    h = h[..., [2, 1, 0]] - np.array([103.939, 116.779, 123.68])
    for name in layer_names():
        if name.endswith("conv1") and name != "block1_conv1":
            h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        kernel, bias = weights[name]
        h = jax.lax.conv_general_dilated(h, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = jnp.maximum(h + bias, 0.0)
        if name == upto:
            return h


@pytest.mark.parametrize("layer", ["block2_conv2", "block3_conv1"])
def test_vgg19_loader_maps_keras_layout(layer, tmp_path):
    weights = write_keras_vgg19(tmp_path / "vgg19.h5", np.random.default_rng(0))
    variables = load_vgg19_h5(tmp_path / "vgg19.h5", layer)
    assert list(variables["params"]) == layer_names()[:layer_names().index(layer) + 1]
    x = jax.random.uniform(jax.random.PRNGKey(0), (1, 16, 16, 3), minval=-1, maxval=1)
    ours = VGG19Features(layer).apply(variables, x)
    np.testing.assert_allclose(ours, reference_features(x, weights, layer), rtol=1e-3, atol=1e-2)
    # Channel order matters: swapping R and B changes the features (the file expects BGR).
    assert not np.allclose(VGG19Features(layer).apply(variables, x[..., ::-1]), ours, atol=1e-2)


def test_missing_or_wrong_vgg_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_vgg19_h5(tmp_path / "absent.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ConfigError, match="not a Keras VGG19 weights file"):
        load_vgg19_h5(tmp_path / "junk.h5")
