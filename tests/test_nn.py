"""The shared building blocks against XLA's reference convolutions: values and gradients."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.nn import Conv, ConvTranspose, conv2d, pixel_shuffle, set_conv_impl


def reference_conv_transpose(x, kernel, stride, padding, output_padding):
    """PyTorch ConvTranspose2d semantics via lax's dilated convolution (kernel [k, k, cin, cout])."""
    k = kernel.shape[0]
    lo, hi = k - 1 - padding, k - 1 - padding + output_padding
    return jax.lax.conv_general_dilated(x, kernel[::-1, ::-1], (1, 1), ((lo, hi), (lo, hi)),
                                        lhs_dilation=(stride, stride), dimension_numbers=("NHWC", "HWIO", "NHWC"))


@pytest.mark.parametrize("k,s,p,op,size", [(4, 2, 1, 0, 5), (3, 2, 1, 1, 6), (4, 2, 1, 0, 1), (5, 3, 1, 0, 2)])
def test_conv_transpose_matches_dilated_conv(k, s, p, op, size):
    x = jax.random.normal(jax.random.PRNGKey(0), (2, size, size, 3))
    layer = ConvTranspose(5, k, s, p, op, use_bias=False)
    variables = layer.init(jax.random.PRNGKey(1), x)
    kernel = variables["params"]["kernel"]
    y = layer.apply(variables, x)
    assert y.shape == (2, s * size, s * size, 5)
    np.testing.assert_allclose(y, reference_conv_transpose(x, kernel, s, p, op), atol=1e-5)

    def loss(fn):
        return lambda kern, x: jnp.sum(jnp.sin(fn(kern, x)))
    ours = jax.grad(loss(lambda kern, x: layer.apply({"params": {"kernel": kern}}, x)), (0, 1))(kernel, x)
    ref = jax.grad(loss(lambda kern, x: reference_conv_transpose(x, kern, s, p, op)), (0, 1))(kernel, x)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_conv_transpose_rejects_non_exact_upsampling():
    with pytest.raises(ValueError, match="does not upsample"):
        ConvTranspose(4, 3, 2, 0).init(jax.random.PRNGKey(0), jnp.zeros((1, 4, 4, 2)))


@pytest.mark.parametrize("k,s,p,cout", [(4, 2, 1, 6), (3, 1, 1, 6), (3, 2, 1, 6), (9, 1, 4, 6), (4, 1, 0, 6),
                                        (7, 1, 3, 6), (7, 1, 3, 2), (4, 2, 1, 1), (1, 1, 0, 6)])
def test_matmul_conv_matches_xla(k, s, p, cout):
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 11, 11, 16))
    w = jax.random.normal(jax.random.PRNGKey(1), (k, k, 16, cout))
    try:
        set_conv_impl("matmul")
        ours = conv2d(x, w, s, p)
        grads = jax.grad(lambda w, x: jnp.sum(jnp.sin(conv2d(x, w, s, p))), (0, 1))(w, x)
        set_conv_impl("xla")
        ref = conv2d(x, w, s, p)
        ref_grads = jax.grad(lambda w, x: jnp.sum(jnp.sin(conv2d(x, w, s, p))), (0, 1))(w, x)
    finally:
        set_conv_impl("auto")
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    for a, b in zip(grads, ref_grads):
        np.testing.assert_allclose(a, b, atol=1e-3)


def test_conv_reflect_padding_and_flax_equivalence():
    x = jax.random.normal(jax.random.PRNGKey(0), (1, 8, 8, 3))
    ours = Conv(4, 3, 1, 1, padding_mode="reflect")
    v = ours.init(jax.random.PRNGKey(1), x)
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    ref = nn.Conv(4, (3, 3), padding="VALID").apply(v, padded)
    np.testing.assert_allclose(ours.apply(v, x), ref, atol=1e-5)


def test_pixel_shuffle_places_channels_as_offsets():
    x = jnp.arange(2 * 2 * 4, dtype=jnp.float32).reshape(1, 2, 2, 4)
    y = pixel_shuffle(x, 2)
    assert y.shape == (1, 4, 4, 1)
    assert float(y[0, 0, 1, 0]) == float(x[0, 0, 0, 1]) and float(y[0, 1, 0, 0]) == float(x[0, 0, 0, 2])
