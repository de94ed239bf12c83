"""SRResNet pre-training then SRGAN (Ledig et al. 2017), x4, on the embedded photos (<= 30 min on 2 CPU cores).

The default trains SRResNet on the pixel MSE for ``pretrain_steps`` (64x64 HR crops and a fast decaying
learning rate, to beat bicubic within a CPU budget), then SRGAN with the MSE content loss (no VGG file
needed). Two measured departures from the paper make that budget convincing: G learns the residual over
bicubic upscaling (``model.bicubic_skip``), and samples, evaluation and infer.py use a moving average of
G's weights (``ema_decay``), which keeps the adversarial phase's sharpening without its noise. The
paper's network and raw weights: --config.model.bicubic_skip=False --config.ema_decay=0.

The paper's setting (on a GPU; 96x96 crops, 10^6 SRResNet steps then SRGAN with the VGG54 loss, the
paper's network and raw weights; `benchmarks/bench.py`'s row), with DIV2K prepared by
`tfds build div2k/bicubic_x4`: --config configs/srgan.py:paper
--config.vgg_weights=/path/to/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5
Your own HR images: --config.data.source=folder --config.data.path=/data/hr (train/ and test/ sub-folders
for a held-out split); given LR/HR pairs: --config.data.layout=lr_hr with HR/ and LR/ sub-folders.
"""
from jaxgan.config import adam, base_config, check_variant


def get_config(variant: str = ""):
    paper = check_variant(variant, __file__, "paper") == "paper"
    c = base_config("srgan", batch_size=16)
    c.scale = 4                              # 2 or 4
    c.image_size = 64                        # HR crop side (LR crops are image_size / scale); paper: 96
    c.pretrain_steps = 900                   # phase 1: SRResNet on the pixel loss
    c.pretrain_loss = "mse"                  # mse | l1
    c.num_steps = 1000                       # then phase 2 (SRGAN) to here
    c.content_loss = "mse"                   # mse | l1 | vgg22 | vgg54 | vgg54_pre (VGG needs vgg_weights)
    c.content_weight = 1.0
    c.vgg_weights = ""                       # Keras vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5
    c.pixel_weight = 0.0                     # phase 2: + this x L1 of pixels
    c.adversarial_loss = "non_saturating"    # non_saturating | relativistic_average
    c.adversarial_weight = 1e-3
    c.tile = 256                             # LR tile side for evaluation and infer.py (bounded memory)
    c.data.update(channels=3, random_flip=True)   # random_flip: flips and 90-degree rotations
    c.data.source = "photos"                 # photos (embedded) | folder | tfds
    c.data.layout = "hr"                     # hr (LR made by bicubic downsampling) | lr_hr (given pairs)
    c.model.arch = "srresnet"                # srresnet | rrdb (ESRGAN) | msrresnet (BasicSR's, no batch norm)
    c.model.num_blocks = 16
    c.model.features = 64
    c.model.growth = 32                      # arch=rrdb: the dense blocks' growth channels
    c.model.bicubic_skip = True              # G adds bicubic upscaling to its output (not in the papers)
    c.model.d_arch = "srgan"                 # srgan | vgg (BasicSR's VGG-style discriminator)
    c.model.d_norm = "batch"                 # d_arch=vgg: batch | spectral | none
    c.model.d_features = 64
    c.model.tile_margin = 0                  # tiles' overlap in LR pixels (0: G's whole receptive radius, exact)
    c.optim.pretrain = dict(lr=1e-3, schedule="linear_decay", decay_start=0.5)    # phase 1 (G's Adam)
    c.ema_decay = 0.999                      # samples / evaluation / infer.py use G's moving average
    c.optim.g = adam(1e-4, 0.9)              # phase 2 (the paper: 1e-4, then 1e-5 for as long again)
    c.optim.d = adam(1e-4, 0.9)
    c.update(log_every=20, sample_every=200, checkpoint_every=200, eval_every=200, num_samples=3)
    c.eval.figures = "restoration"           # PSNR / SSIM (Y channel) against bicubic on the held-out images
    if paper:
        c.data.update(source="tfds", name="div2k/bicubic_x4", eval_split="validation")
        c.image_size, c.pretrain_steps, c.num_steps = 96, 1_000_000, 1_100_000
        c.optim.pretrain.update(lr=1e-4, schedule="constant")
        c.content_loss = "vgg54"
        c.model.bicubic_skip = False
        c.ema_decay = 0.0
    return c
