"""StarGAN (Choi et al. 2018) on the embedded digit styles (chalk, neon, gold, blueprint), 32x32, about 15
minutes on 2 CPU cores: one generator translates a digit into any style, keeping the digit.

The paper's CelebA setting (prepare it once with `tfds build celeb_a`; `benchmarks/bench.py`'s row):
--config configs/stargan.py:paper (128x128, 64 features, a 6-layer critic, 200,000 steps; attributes:
--config.data.attributes; images are centre-cropped to a square, i.e. 178x178, then resized).
Your own domains: --config.data.source=folder --config.data.layout=domains --config.data.path=DIR with one
sub-folder per domain (DIR/<domain>/*.png, or DIR/train/<domain>/ and DIR/test/<domain>/).
"""
from jaxgan.config import adam, base_config, check_variant


def get_config(variant: str = ""):
    paper = check_variant(variant, __file__, "paper") == "paper"
    c = base_config("stargan", image_size=32, batch_size=16, num_steps=800)
    c.data.update(source="digit_styles", channels=3)
    c.data.random_flip = False                # a flipped digit is another symbol; True for faces
    c.data.domains = ()                       # layout=domains: the domains, in label order (): every sub-folder
    c.data.attributes = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")    # layout=attributes
    c.data.exclusive = ("Black_Hair,Blond_Hair,Brown_Hair,Gray_Hair",)   # at most one of each group is on
    c.model.num_blocks = 6
    c.model.g_features = 32
    c.model.d_features = 32
    c.model.d_layers = 4                      # 6 at 128 px (the paper); the image side must divide by 2**d_layers
    c.gan = dict(loss="wasserstein", n_critic=5, gp_weight=10.0, lambda_cls=1.0, lambda_rec=10.0)
    # Adam 1e-4 (0.5, 0.999), constant for the first half, then linearly to zero (the paper).
    c.optim.g = adam(1e-4, 0.5, schedule="linear_decay")
    c.optim.d = adam(1e-4, 0.5, schedule="linear_decay")
    c.update(log_every=50, sample_every=250, checkpoint_every=250, eval_every=500, num_samples=8)
    c.eval.figures = "domains,content"       # domain accuracy; content: digits kept (data with a content label)
    if paper:
        c.data.update(source="tfds", name="celeb_a", layout="attributes", random_flip=True)
        c.image_size, c.num_steps = 128, 200_000
        c.model.g_features = c.model.d_features = 64
        c.model.d_layers = 6
        c.eval.figures = "domains"
    return c
