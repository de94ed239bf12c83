"""Building blocks shared by every jaxgan architecture (NHWC, Flax Linen)."""
from jaxgan.nn.blocks import ResidualBlock, activation
from jaxgan.nn.conv import CONV_IMPLS, Conv, ConvWeights, conv2d
from jaxgan.nn.dense import residual_dense_block
from jaxgan.nn.layers import SubPixelConv, icnr, max_pool, pixel_shuffle, pixel_unshuffle
from jaxgan.nn.norm import NORMS, BatchNorm, InstanceNorm, make_norm
from jaxgan.nn.upsample import ConvTranspose

__all__ = ["BatchNorm", "CONV_IMPLS", "Conv", "ConvTranspose", "ConvWeights", "InstanceNorm", "NORMS",
           "ResidualBlock", "SubPixelConv", "activation", "conv2d", "icnr", "make_norm", "max_pool",
           "pixel_shuffle", "pixel_unshuffle", "residual_dense_block"]
