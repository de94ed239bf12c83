"""Building blocks shared by every jaxgan architecture (NHWC, Flax Linen)."""
from jaxgan.nn.blocks import ResidualBlock, activation
from jaxgan.nn.conv import Conv, conv2d, set_conv_impl
from jaxgan.nn.layers import pixel_shuffle, reflect_pad
from jaxgan.nn.norm import NORMS, make_norm
from jaxgan.nn.upsample import ConvTranspose

__all__ = ["Conv", "ConvTranspose", "NORMS", "ResidualBlock", "activation", "conv2d", "make_norm", "pixel_shuffle",
           "reflect_pad", "set_conv_impl"]
