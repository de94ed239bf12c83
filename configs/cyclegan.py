"""CycleGAN (Zhu et al. 2017) on the embedded photo <-> sketch domains, 64x64 (minutes on 2 CPU cores).

The paper's setting (256 from 286, 9 residual blocks, 64 features; `benchmarks/bench.py`'s row):
--config configs/cyclegan.py:paper, with your data:
--config.data.source=folder --config.data.layout=unpaired --config.data.path=/data/horse2zebra
(trainA/ trainB/ testA/ testB/), or --config.data.source=tfds --config.data.name=cycle_gan/horse2zebra
--config.data.layout=unpaired.
"""
from jaxgan.config import adam, base_config, check_variant


def get_config(variant: str = ""):
    paper = check_variant(variant, __file__, "paper") == "paper"
    c = base_config("cyclegan", image_size=64, batch_size=1, num_steps=600)
    c.data.update(source="photo2sketch", channels=3, load_size=72, random_flip=True)
    c.model.arch = "resnet"                  # resnet | unet (with model.num_downs)
    c.model.num_blocks = 6                   # 6 at 128, 9 at 256
    c.model.num_downs = 8                    # arch=unet: unet_256 8, unet_128 7
    c.model.g_features = 32
    c.model.d_features = 32
    c.model.n_layers = 3
    c.model.norm = "instance"
    c.model.dropout = 0.0                    # the reference code's --no_dropout default for CycleGAN
    c.model.input_skip = False               # arch=unet: G learns a change of its input
    c.model.keep_luminance = False           # arch=unet: the output keeps the input's luminance
    c.gan = dict(loss="least_squares", lambda_cycle=10.0, lambda_identity=0.5, pool_size=50)
    # Constant learning rate, then linear decay to zero over the second half (the paper: 100 + 100 epochs).
    c.optim.g = adam(2e-4, 0.5, schedule="linear_decay")
    c.optim.d = adam(2e-4, 0.5, schedule="linear_decay")
    c.update(log_every=20, sample_every=200, checkpoint_every=200, num_samples=4,
             eval_every=200)                 # held-out figures during training, too
    c.eval.figures = "cycle"                 # cycle-reconstruction L1 on the held-out images
    if paper:
        c.image_size, c.data.load_size = 256, 286
        c.model.num_blocks = 9
        c.model.g_features = c.model.d_features = 64
    return c
