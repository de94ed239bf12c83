"""ESRGAN (Wang et al. 2018) in the super-resolution recipe, x4, on the embedded photos (6 min on 2 CPU cores).

RRDBNet (no batch norm), a PSNR-oriented L1 pre-training phase, then the relativistic average GAN against
BasicSR's VGG-style discriminator. The default needs no weights file: its content loss is the L1 of
pixels (a small RRDB, 64x64 HR crops), and as configs/srgan.py it departs from the paper where the CPU
budget needs it: G learns the residual over bicubic upscaling (``model.bicubic_skip``) and samples,
evaluation and infer.py use G's moving average (``ema_decay``). The paper's losses (VGG54 before the ReLU, weight 1; L1 pixels
1e-2; RaGAN 5e-3) with a VGG19 file:
--config.content_loss=vgg54_pre --config.pixel_weight=1e-2
--config.vgg_weights=/path/to/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5

The paper's setting (23 blocks, 128 crops, on a GPU; `benchmarks/bench.py`'s row): --config esrgan:paper
with DIV2K (as configs/srgan.py:paper) and the VGG file above.
"""
from jaxgan.config import adam, check_variant, config_beside


def get_config(variant: str = ""):
    paper = check_variant(variant, __file__, "paper") == "paper"
    c = config_beside(__file__, "srgan", variant)
    c.model.arch = "rrdb"
    c.model.num_blocks, c.model.features, c.model.growth = 3, 32, 16
    c.model.d_arch, c.model.d_norm, c.model.d_features = "vgg", "batch", 32
    c.pretrain_loss = "l1"
    c.content_loss = "l1"
    c.adversarial_loss = "relativistic_average"
    c.adversarial_weight = 5e-3
    c.pretrain_steps, c.num_steps = 900, 1000
    c.optim.pretrain = dict(lr=1e-3, schedule="linear_decay", decay_start=0.5)
    c.optim.g = adam(1e-4, 0.9, 0.99)
    c.optim.d = adam(1e-4, 0.9, 0.99)
    c.ema_decay = 0.999
    if paper:
        c.image_size = 128
        c.model.num_blocks, c.model.features, c.model.growth, c.model.d_features = 23, 64, 32, 64
        c.content_loss, c.content_weight, c.pixel_weight = "vgg54_pre", 1.0, 1e-2
        c.pretrain_steps, c.num_steps = 1_000_000, 1_400_000
        c.optim.pretrain.update(lr=2e-4, schedule="constant")
        c.ema_decay = 0.999
    return c
