"""Test set-up: 8 simulated CPU devices, a persistent compilation cache, and tiny configs."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".pytest_cache" / "jax_compilation_cache"
os.environ.setdefault("JAX_NUM_CPU_DEVICES", "8")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402

from jaxgan.config import set_field  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_num_cpu_devices", int(os.environ["JAX_NUM_CPU_DEVICES"]))


def load_config(name: str):
    """``configs/<name>.py``'s config."""
    spec = importlib.util.spec_from_file_location(f"configs_{name}", ROOT / "configs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def tiny_config(name: str, **overrides):
    """A recipe's config shrunk to train in seconds: 16x16, batch 8, narrow nets, no evaluation."""
    c = load_config(name)
    c.image_size = 16
    c.batch_size = 8
    c.num_steps = 4
    c.log_every = 1
    c.sample_every = 1000
    c.checkpoint_every = 1000
    c.num_samples = 8
    c.evaluate = False
    c.model.latent_dim = 16
    if c.model.arch == "dcgan":
        c.model.g_features = 8
        c.model.d_features = 8
    else:
        c.model.g_hidden = (32, 32)
        c.model.d_hidden = (32,)
    for key, value in overrides.items():
        set_field(c, key, value)
    return c


@pytest.fixture
def tiny():
    return tiny_config


def tiny_translation_config(name: str, **overrides):
    """pix2pix / CycleGAN shrunk: 32x32 (load 36), narrow nets, batch 2 (pix2pix) or 1."""
    c = load_config(name)
    c.image_size, c.data.load_size = 32, 36
    c.num_steps, c.log_every, c.sample_every, c.checkpoint_every = 4, 1, 1000, 1000
    c.num_samples, c.evaluate = 2, False
    c.model.g_features = c.model.d_features = 8
    c.model.n_layers = 2
    if name == "pix2pix":
        c.model.num_downs, c.batch_size = 5, 2
    else:
        c.model.num_blocks, c.batch_size = 2, 1
    for key, value in overrides.items():
        set_field(c, key, value)
    return c


@pytest.fixture
def tiny_i2i():
    return tiny_translation_config
