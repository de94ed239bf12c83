"""pix2pix (Isola et al. 2017) on the embedded grey -> colour photos (minutes on 2 CPU cores).

The default trains on random 64x64 crops of the photos at their own scale (``data.resize=none``) and
evaluates on the whole held-out photos at native resolution, the way `infer.py` runs them, next to the
grey input's own figures. Two measured departures from the paper, for colourisation: G learns a change
of its input (``model.input_skip``: colourisation keeps the input's structure), and the output is the
input's luminance plus G's colour at 1/4 resolution (``model.keep_luminance``); the paper's U-Net:
--config.model.input_skip=False --config.model.keep_luminance=False.

The paper's setting (256 from 286, unet_256 with 64 features, batch 1; `benchmarks/bench.py`'s row):
--config configs/pix2pix.py:paper, with a pix2pix data set: --config.data.source=folder --config.data.layout=side_by_side --config.data.path=/data/facades
(or layout=two_folders with path/A/train, path/B/train).
"""
from jaxgan.config import adam, base_config, check_variant


def get_config(variant: str = ""):
    paper = check_variant(variant, __file__, "paper") == "paper"
    c = base_config("pix2pix", image_size=64, batch_size=4, num_steps=1600)
    c.direction = "AtoB"                     # AtoB | BtoA
    c.data.update(source="grey2photo", channels=3, random_flip=True)
    c.data.resize = "none"                   # crops at the photos' own scale; whole photos for evaluation
    c.data.load_size = 0                     # resize=crop: load at this size, crop image_size (paper 286 -> 256)
    c.model.arch = "unet"                    # unet | resnet (the reference code's resnet_9blocks / 6blocks)
    c.model.num_downs = 6                    # unet_256: 8, unet_128: 7, unet_64: 6
    c.model.num_blocks = 9                   # arch=resnet: residual blocks
    c.model.g_features = 32
    c.model.d_features = 32
    c.model.n_layers = 3                     # PatchGAN depth: 3 -> 70x70 receptive field
    c.model.norm = "batch"                   # batch | instance
    c.model.dropout = 0.5
    c.model.input_skip = True                # G learns a change of its input (not in the paper)
    c.model.keep_luminance = True            # the output keeps the input's luminance; G picks colour, at 1/4 res (not in the paper)
    c.model.test_batch_stats = True          # test time as the paper: BN on each image's statistics, dropout on
    c.gan = dict(loss="non_saturating", lambda_l1=100.0)
    c.optim.g = adam(2e-4, 0.5)
    c.optim.d = adam(2e-4, 0.5)
    c.update(log_every=20, sample_every=200, checkpoint_every=200, num_samples=8,
             eval_every=200)                 # held-out figures during training, too
    c.eval.figures = "paired"                # PSNR, SSIM, sharpness and colour against the held-out targets
    if paper:
        c.image_size, c.batch_size = 256, 1
        c.data.resize, c.data.load_size = "crop", 286
        c.model.num_downs = 8
        c.model.g_features = c.model.d_features = 64
        c.model.input_skip = c.model.keep_luminance = False
    return c
