"""The random keys that parameter initialisation draws from: a counter-based hash generator in place of
JAX's threefry, for a fraction of the compile time.

A threefry draw compiles to a loop of several kernels per parameter, and XLA's CPU backend spends most of
an initialisation's compile time generating code for them: the full-size SRGAN's initial state took
21.3 s to compile, CycleGAN's 20.4 s (7.5 s and 6.1 s with these keys; ``benchmarks/init_compile.py``).
Here each value is three rounds of a 32-bit integer mixer over (key, position): one small fused kernel per
parameter. Initial weights need well-spread, independent values, not a cryptographic generator; the
distributions drawn (normal(0.02), PyTorch's uniform bounds, ...) are unchanged. Only `init_net` uses
these keys: noise, dropout, augmentation and everything else in training still draw from threefry.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend.random import define_prng_impl

_GOLDEN = 0x9E3779B9          # 2^32 / golden ratio: spreads consecutive integers over the 32-bit range


def _mix(h: jax.Array) -> jax.Array:
    """A 32-bit integer finaliser (xor-shift / multiply; every input bit reaches every output bit)."""
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x7FEB352D)
    h = h ^ (h >> 15)
    h = h * jnp.uint32(0x846CA68B)
    return h ^ (h >> 16)


def _stream(key: jax.Array, count: int) -> jax.Array:
    """``count`` 32-bit words: position i hashed with both key words."""
    position = lax.iota(jnp.uint32, count)
    return _mix(_mix(_mix(position * jnp.uint32(_GOLDEN) + key[0]) ^ key[1]) + key[0])


def _seed(seed: jax.Array) -> jax.Array:
    seed = jnp.asarray(seed)
    high = (seed >> 32).astype(jnp.uint32) if seed.dtype.itemsize == 8 else jnp.uint32(0)
    return jnp.stack([high, seed.astype(jnp.uint32)])


def _fold_in(key: jax.Array, data: jax.Array) -> jax.Array:
    data = _mix(jnp.asarray(data).astype(jnp.uint32) + jnp.uint32(_GOLDEN))
    return jnp.stack([_mix(key[0] ^ data), _mix(key[1] + _mix(data ^ key[0]))])


def _split(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    count = int(np.prod(shape))
    return _stream(_fold_in(key, jnp.uint32(0xFFFFFFFF)), 2 * count).reshape(*shape, 2)


def _random_bits(key: jax.Array, bit_width: int, shape: tuple[int, ...]) -> jax.Array:
    count = int(np.prod(shape))
    if bit_width == 64:
        high, low = _stream(key, 2 * count).reshape(2, count).astype(jnp.uint64)
        return ((high << 32) | low).reshape(shape)
    words = _stream(key, count)
    if bit_width < 32:
        words = (words >> (32 - bit_width)).astype(jnp.dtype(f"uint{bit_width}"))
    return words.reshape(shape)


HASHED = define_prng_impl(key_shape=(2,), seed=_seed, split=_split, fold_in=_fold_in, random_bits=_random_bits,
                          name="jaxgan_hashed")


def init_key(rng: jax.Array) -> jax.Array:
    """The initialisation key of a raw ``uint32[2]`` key (``jax.random.PRNGKey``'s data): same bits,
    drawn from by the hash generator."""
    return jax.random.wrap_key_data(rng, impl=HASHED)
