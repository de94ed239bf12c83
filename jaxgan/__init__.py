"""jaxgan: classic GANs in JAX/Flax."""
from jaxgan import xla_cpu

xla_cpu.enable_ynnpack()
