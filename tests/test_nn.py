"""The shared building blocks against reference implementations and closed forms: values and gradients."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.nn import (BatchNorm, Conv, ConvTranspose, SubPixelConv, conv2d, make_norm, max_pool, pixel_shuffle,
                       residual_dense_block)


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


@pytest.mark.parametrize("k,s,p,cout,batch", [(4, 2, 1, 6, 2), (3, 1, 1, 6, 2), (3, 2, 1, 6, 2), (9, 1, 4, 6, 2),
                                              (4, 1, 0, 6, 2), (7, 1, 3, 6, 2), (7, 1, 3, 2, 2), (4, 2, 1, 1, 2),
                                              (1, 1, 0, 6, 2), (4, 2, 1, 6, 16), (3, 2, 1, 6, 16)])
def test_cpu_lowerings_match_xla(k, s, p, cout, batch):
    """Batch 16: strided layers run natively forward and for the weight gradient (`NATIVE_STRIDED_BATCH`)."""
    x = jax.random.normal(jax.random.PRNGKey(0), (batch, 11, 11, 16))
    w = jax.random.normal(jax.random.PRNGKey(1), (k, k, 16, cout))
    outputs = {}
    for impl in ("matmul", "space_to_depth", "xla"):              # jitted, as training runs them
        outputs[impl] = jax.jit(lambda w, x: (conv2d(x, w, s, p, impl), *jax.grad(
            lambda w, x: jnp.sum(jnp.sin(conv2d(x, w, s, p, impl))), (0, 1))(w, x)))(w, x)
    for impl in ("matmul", "space_to_depth"):
        for a, b in zip(outputs[impl], outputs["xla"]):
            np.testing.assert_allclose(a, b, atol=1e-3, err_msg=impl)


@pytest.mark.parametrize("k,s,p,batch", [(4, 2, 1, 2), (3, 1, 1, 2), (4, 2, 1, 16)])
def test_cpu_lowerings_second_derivatives_match_xla(k, s, p, batch):
    """A gradient penalty differentiates a convolution's input gradient: `_stride_one_conv`'s own VJP."""
    x = jax.random.normal(jax.random.PRNGKey(0), (batch, 8, 8, 5))
    w = jax.random.normal(jax.random.PRNGKey(1), (k, k, 5, 3))

    def penalty_grad(impl):
        critic = lambda w, x: jnp.sum(jnp.tanh(conv2d(x, w, s, p, impl)))
        return jax.jit(jax.grad(lambda w, x: jnp.sum(jax.grad(critic, 1)(w, x) ** 2), (0, 1)))(w, x)

    want = penalty_grad("xla")
    for impl in ("matmul", "space_to_depth"):
        for a, b in zip(penalty_grad(impl), want):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3, err_msg=impl)


@pytest.mark.parametrize("batch", [1, 16])
def test_conv_lowering_is_a_layer_field_not_global_state(batch):
    from jaxgan.nn.conv import NATIVE_STRIDED_BATCH
    x = jnp.ones((batch, 6, 6, 2))
    variables = Conv(3).init(jax.random.PRNGKey(0), x)
    for impl in ("matmul", "space_to_depth", "xla"):
        layer = Conv(3, 3, 2, 1, impl=impl)
        text = jax.jit(layer.apply).lower(variables, x).as_text()
        assert ("convolution" in text) == (impl != "matmul"), impl
        strides = impl == "xla" or (impl == "space_to_depth" and batch >= NATIVE_STRIDED_BATCH)
        assert ("stride = [2, 2]" in text) == strides, impl
        input_gradient = jax.jit(jax.grad(lambda x: jnp.sum(layer.apply(variables, x)))).lower(x).as_text()
        assert ("lhs_dilate = [2, 2]" in input_gradient) == (impl == "xla"), impl  # the CPU lowerings never dilate


def test_auto_lowering_picks_space_to_depth_where_ynnpack_runs_it(monkeypatch):
    from jaxgan import xla_cpu
    from jaxgan.nn import conv
    for ynnpack, want in ((True, "space_to_depth"), (False, "matmul")):
        monkeypatch.setattr(xla_cpu, "ynnpack_convolutions", lambda ynnpack=ynnpack: ynnpack)
        assert conv.resolved_impl("auto") == want
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert conv.resolved_impl("auto") == "xla"


def test_auto_lowering_runs_small_layers_as_one_matmul_where_ynnpack_runs_the_rest(monkeypatch):
    from jaxgan import xla_cpu
    from jaxgan.nn import conv
    monkeypatch.setattr(xla_cpu, "ynnpack_convolutions", lambda: True)

    def primitives(x_shape, k_shape, stride):
        x, k = jnp.zeros(x_shape), jnp.zeros(k_shape)
        return str(jax.make_jaxpr(lambda x, k: conv.conv2d(x, k, stride, 1))(x, k))

    small = primitives((1, 4, 4, 512), (4, 4, 512, 512), 2)          # a U-Net's inner layer: 128 KiB im2col
    assert "dot_general" in small and "conv_general_dilated" not in small
    large = primitives((1, 128, 128, 64), (3, 3, 64, 64), 1)        # 36 MiB im2col
    assert "conv_general_dilated" in large and "dot_general" not in large
    many_pixels = primitives((64, 16, 16, 3), (3, 3, 3, 32), 1)     # 1.7 MiB im2col, but 16,384 output pixels
    assert "conv_general_dilated" in many_pixels and "dot_general" not in many_pixels
    # the choice sees one device's share of the batch: 8 x 8 x 8 output pixels, 64 on each of 8 devices
    assert "conv_general_dilated" in primitives((8, 8, 8, 64), (3, 3, 64, 64), 1)
    from jaxgan import parallel
    with jax.set_mesh(parallel.make_mesh()):
        assert "conv_general_dilated" not in primitives((8, 8, 8, 64), (3, 3, 64, 64), 1)


def test_auto_lowering_never_materialises_an_im2col_above_its_bound(monkeypatch):
    from jaxgan import xla_cpu
    from jaxgan.nn import conv
    monkeypatch.setattr(xla_cpu, "ynnpack_convolutions", lambda: False)
    x, kernel = jax.random.normal(jax.random.PRNGKey(0), (2, 20, 20, 4)), jax.random.normal(jax.random.PRNGKey(1), (3, 3, 4, 5))
    want = conv2d(x, kernel, 1, 1, impl="xla")
    for limit, native in ((2**40, False), (2 * 20 * 20 * 36 * 4 - 1, True)):    # the im2col: 2*20*20 rows of 36
        monkeypatch.setattr(conv, "MATMUL_MAX_BYTES", limit)
        lowered = jax.jit(lambda x, k: conv2d(x, k, 1, 1, impl="auto")).lower(x, kernel)
        assert ("convolution" in lowered.as_text()) == native, limit
        np.testing.assert_allclose(lowered.compile()(x, kernel), want, rtol=1e-5, atol=1e-5)


def test_conv_reflect_padding_and_flax_equivalence():
    x = jax.random.normal(jax.random.PRNGKey(0), (1, 8, 8, 3))
    ours = Conv(4, 3, 1, 1, padding_mode="reflect")
    v = ours.init(jax.random.PRNGKey(1), x)
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    ref = nn.Conv(4, (3, 3), padding="VALID").apply(v, padded)
    np.testing.assert_allclose(ours.apply(v, x), ref, atol=1e-5)


@pytest.mark.parametrize("factor", [2, 3])
def test_max_pool_matches_flax_with_ties_routed_to_the_first_maximum(factor):
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 6 * factor, 3 * factor, 5))
    x = jnp.round(jax.nn.relu(x) * 2) / 2         # zeros and equal values: ties in most windows
    g = jax.random.normal(jax.random.PRNGKey(1), (2, 6, 3, 5))

    def flax_pool(x):
        return nn.max_pool(x, (factor, factor), (factor, factor))
    np.testing.assert_array_equal(max_pool(x, factor), flax_pool(x))
    ours = jax.vjp(lambda x: max_pool(x, factor), x)[1](g)[0]
    np.testing.assert_array_equal(ours, jax.vjp(flax_pool, x)[1](g)[0])
    assert int(jnp.sum(ours != 0)) == g.size       # one position per window takes its gradient
    with pytest.raises(ValueError, match="not divisible"):
        max_pool(x[:, 1:], factor)


def test_pixel_shuffle_follows_torch_channel_order():
    # torch.nn.functional.pixel_shuffle: out[c, f*h + a, f*w + b] = in[c*f*f + a*f + b, h, w] (NCHW)
    f, c_out, h, w = 2, 3, 2, 4
    x = np.random.default_rng(0).standard_normal((1, h, w, c_out * f * f)).astype(np.float32)
    y = np.asarray(pixel_shuffle(jnp.asarray(x), f))
    assert y.shape == (1, f * h, f * w, c_out)
    for c in range(c_out):
        for a in range(f):
            for b in range(f):
                np.testing.assert_array_equal(y[0, a::f, b::f, c], x[0, :, :, c * f * f + a * f + b])


def test_sub_pixel_conv_starts_as_nearest_neighbour_upsampling():
    """ICNR: at initialisation the f*f outputs of each input pixel are equal (no checkerboard), and equal
    to one ordinary convolution of the input; the kernel itself is random, not tied after training."""
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 6, 5, 4))
    layer = SubPixelConv(3, 2)
    variables = layer.init(jax.random.PRNGKey(1), x)
    y = np.asarray(layer.apply(variables, x))
    assert y.shape == (2, 12, 10, 3)
    nearest = np.repeat(np.repeat(y[:, ::2, ::2], 2, axis=1), 2, axis=2)
    np.testing.assert_array_equal(y, nearest)
    kernel = variables["params"]["Conv_0"]["kernel"]
    single = conv2d(x, kernel[..., ::4], 1, 1) + variables["params"]["Conv_0"]["bias"][::4]
    np.testing.assert_allclose(y[:, ::2, ::2], single, rtol=1e-5, atol=1e-6)
    assert np.std(np.asarray(kernel)) > 0


@pytest.mark.parametrize("shape", [(16, 4, 4, 8), (3, 5, 7, 6), (16, 3), (4, 8, 8, 1)])
def test_channel_sums_and_broadcasts_equal_numpys_with_their_gradients(shape):
    from jaxgan.nn.channels import channel_broadcast, channel_sum
    x = jax.random.normal(jax.random.PRNGKey(0), shape)
    np.testing.assert_allclose(channel_sum(x), np.asarray(x, np.float64).reshape(-1, shape[-1]).sum(0), rtol=1e-5,
                               atol=1e-5)
    v = jax.random.normal(jax.random.PRNGKey(1), shape[-1:])
    np.testing.assert_array_equal(channel_broadcast(v, shape), np.broadcast_to(v, shape))
    ours = jax.grad(lambda v: jnp.sum(jnp.sin(channel_broadcast(v, shape)) * x))(v)
    np.testing.assert_allclose(ours, jax.grad(lambda v: jnp.sum(jnp.sin(jnp.broadcast_to(v, shape)) * x))(v),
                               rtol=1e-5, atol=1e-5)


def _dense_block_weights(features: int, growth: int) -> list[tuple[jax.Array, jax.Array]]:
    keys = jax.random.split(jax.random.PRNGKey(1), 10)
    shapes = [(features + growth * k, features if k == 4 else growth) for k in range(5)]
    return [(0.2 * jax.random.normal(keys[2 * k], (3, 3, cin, cout)), 0.1 * jax.random.normal(keys[2 * k + 1], (cout,)))
            for k, (cin, cout) in enumerate(shapes)]


def _dense_block_and_gradients(weights, x, impl):
    loss = lambda w, x: jnp.sum(jnp.sin(residual_dense_block(x, w, impl)))
    return jax.jit(lambda w, x: (residual_dense_block(x, w, impl), jax.grad(loss, (0, 1))(w, x)))(weights, x)


@pytest.mark.parametrize("batch,height,width", [(2, 5, 7), (16, 8, 8)])
def test_the_fused_residual_dense_block_equals_the_concatenation_form_with_its_gradients(batch, height, width):
    """Where YNNPACK runs (`space_to_depth`) the block is fused with hand-written gradients; the plain
    concatenation form through XLA's own convolution is the reference."""
    x = jax.random.normal(jax.random.PRNGKey(0), (batch, height, width, 8))
    weights = _dense_block_weights(8, 4)
    assert "custom_vjp" in str(jax.make_jaxpr(lambda x: residual_dense_block(x, weights, "space_to_depth"))(x))
    assert "custom_vjp" not in str(jax.make_jaxpr(lambda x: residual_dense_block(x, weights, "xla"))(x))
    want = _dense_block_and_gradients(weights, x, "xla")
    for a, b in zip(jax.tree.leaves(_dense_block_and_gradients(weights, x, "space_to_depth")), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_the_fused_residual_dense_block_shards_over_the_batch_like_one_device():
    from jax.sharding import Mesh, NamedSharding, PartitionSpec
    x = jax.random.normal(jax.random.PRNGKey(0), (16, 6, 6, 8))
    weights = _dense_block_weights(8, 4)
    sharded = jax.device_put(x, NamedSharding(Mesh(np.array(jax.devices()), ("batch",)), PartitionSpec("batch")))
    assert len(sharded.sharding.device_set) == 8
    for a, b in zip(jax.tree.leaves(_dense_block_and_gradients(weights, sharded, "space_to_depth")),
                    jax.tree.leaves(_dense_block_and_gradients(weights, x, "space_to_depth"))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_a_residual_dense_block_takes_five_3x3_convolutions():
    weights = _dense_block_weights(8, 4)
    with pytest.raises(ValueError, match="five 3x3"):
        residual_dense_block(jnp.zeros((1, 4, 4, 8)), weights[:4])


def test_batch_norm_keeps_pytorchs_unbiased_running_variance():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 1, 2, 3)) * 3.0 + 1.0     # 4 values per channel
    bn = BatchNorm()
    variables = bn.init(jax.random.PRNGKey(1), x)
    y, updates = bn.apply(variables, x, mutable=["batch_stats"])
    flat = np.asarray(x).reshape(-1, 3)
    np.testing.assert_allclose(updates["batch_stats"]["var"], 0.9 + 0.1 * flat.var(0, ddof=1), rtol=1e-5)
    np.testing.assert_allclose(updates["batch_stats"]["mean"], 0.1 * flat.mean(0), rtol=1e-5, atol=1e-7)
    # Training mode normalises with the biased variance, as PyTorch does.
    np.testing.assert_allclose(np.asarray(y).reshape(-1, 3), (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5),
                               rtol=1e-4, atol=1e-5)


def test_normalisation_is_precise_when_the_mean_dwarfs_the_spread():
    base = 1e4 + np.array([0.0, 0.5, 1.0, 1.5], np.float32)          # mean 1e4, spread 0.56
    x = jnp.asarray(base.reshape(1, 2, 2, 1))
    expected = (base - base.mean()) / np.sqrt(base.var() + 1e-5)
    for norm in (BatchNorm(), make_norm("instance", train=True)):     # (flax's one-pass variance: +-750)
        y, _ = norm.apply(norm.init(jax.random.PRNGKey(0), x), x, mutable=["batch_stats"])
        np.testing.assert_allclose(np.asarray(y).ravel(), expected, atol=1e-3, err_msg=type(norm).__name__)


def test_instance_norm_affine_is_a_choice():
    x = jnp.ones((1, 4, 4, 3))
    assert make_norm("instance", True).init(jax.random.PRNGKey(0), x) == {}
    params = make_norm("instance_affine", True).init(jax.random.PRNGKey(0), x)["params"]
    assert set(params) == {"scale", "bias"}


def test_initialisation_keys_draw_each_distribution_unchanged_and_every_parameter_independently():
    """`init_net`'s hash generator: the initialisers' distributions hold, equal keys give equal weights,
    and parameters of one network (or of one network under two keys) are uncorrelated."""
    from jaxgan.nn.init_keys import init_key
    from jaxgan.state import init_net

    class Two(nn.Module):
        @nn.compact
        def __call__(self, x, train=False):
            x = Conv(64, 3, 1, 1)(x)                                   # PyTorch's bound: 1 / sqrt(fan_in)
            return nn.Dense(64, kernel_init=nn.initializers.normal(0.02))(Conv(64, 3, 1, 1)(x))

    x = jnp.zeros((1, 4, 4, 64))
    params = init_net(Two(), None, jax.random.PRNGKey(0), x).params
    a, b = (np.asarray(params[f"Conv_{i}"]["kernel"]).ravel() for i in range(2))
    bound = 1 / np.sqrt(3 * 3 * 64)
    for kernel in (a, b):
        assert np.abs(kernel).max() <= bound and abs(kernel.mean()) < 0.01 * bound
        assert kernel.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)
    dense = np.asarray(params["Dense_0"]["kernel"]).ravel()
    assert dense.std() == pytest.approx(0.02, rel=0.05) and abs(dense.mean()) < 0.002
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.03
    again = init_net(Two(), None, jax.random.PRNGKey(0), x).params
    other = init_net(Two(), None, jax.random.PRNGKey(1), x).params
    np.testing.assert_array_equal(again["Conv_0"]["kernel"], params["Conv_0"]["kernel"])
    assert abs(np.corrcoef(a, np.asarray(other["Conv_0"]["kernel"]).ravel())[0, 1]) < 0.03
    # The words themselves: every byte value equally often (chi-square over 256 bins, 255 dof).
    bits = np.asarray(jax.random.bits(init_key(jax.random.PRNGKey(2)), (1 << 18,), jnp.uint32))
    counts = np.bincount((bits >> 24).astype(np.int64), minlength=256)
    expected = len(bits) / 256
    assert ((counts - expected) ** 2 / expected).sum() < 255 + 5 * np.sqrt(2 * 255)
    assert len(np.unique(bits)) > 0.99 * len(bits)
