"""jaxgan: classic GANs in JAX/Flax.

    import jaxgan
    summary = jaxgan.train("dcgan", "runs/dcgan", num_steps=2000)    # a shipped config's name, or a ConfigDict
    g = jaxgan.load("runs/dcgan")                                    # `jaxgan.generator.Generator`
    images = g.generate(16, seed=0)
    jaxgan.metrics.fid("generated/", "real/")                        # `jaxgan.metrics.image_scores`
"""
from typing import Any

from jaxgan import xla_cpu

__version__ = "0.9.0"

xla_cpu.enable_ynnpack()


def __getattr__(name: str) -> Any:
    """``load`` and ``train`` (and ``metrics``), imported when first used: ``import jaxgan`` stays light."""
    if name == "load":
        from jaxgan.generator import load

        return load
    if name == "train":
        from jaxgan.train import train

        return train
    if name == "metrics":
        import importlib

        return importlib.import_module("jaxgan.metrics")
    raise AttributeError(f"module 'jaxgan' has no attribute {name!r}")
