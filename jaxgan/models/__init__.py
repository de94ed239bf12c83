"""Architectures (Flax Linen, NHWC). Each takes ``train`` so batch norm knows its mode."""
from jaxgan.models.classifier import DigitClassifier
from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jaxgan.models.image_to_image import (PatchGAN, ResNetGenerator, StarGANDiscriminator, UNetGenerator,
                                         receptive_field, tile_condition)
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator
from jaxgan.models.super_resolution import (MSRResNet, RRDBNet, SRGANDiscriminator, SRResNet, UnitRange,
                                            VGGStyleDiscriminator)

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "DigitClassifier", "MLPDiscriminator", "MLPGenerator",
           "MSRResNet", "PatchGAN", "RRDBNet", "ResNetGenerator", "SRGANDiscriminator", "SRResNet",
           "StarGANDiscriminator", "UNetGenerator", "UnitRange", "VGGStyleDiscriminator", "receptive_field",
           "tile_condition"]
