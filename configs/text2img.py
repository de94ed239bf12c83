"""Text-to-image GAN-CLS + GAN-INT (Reed et al. 2016) on the embedded coloured digits, 32x32, about 11
minutes on 2 CPU cores: captions such as "a red seven" in, images out. Evaluation asks for every
digit/colour combination (ten never seen in training) in phrasings never seen in training, and reports
how often independent classifiers agree with the caption.

Your own captioned images (image.png + image.txt beside it, one caption per line, or a JSONL manifest of
{"image": "relative/path.png", "text": "..."} lines; DIR/train and DIR/test where you have both):
--config.data.source=folder --config.data.layout=captions --config.data.path=DIR
COCO (prepare it once with `tfds build coco_captions`): --config.data.source=tfds
--config.data.name=coco_captions --config.data.layout=captions --config.data.eval_split=val
The paper's setting (64x64, 64 features, pre-computed 1024-d sentence embeddings, GAN-CLS + GAN-INT
alone; `benchmarks/bench.py`'s row): --config configs/text2img.py:paper --config.data.embeddings=FILE,
with your captioned images.
"""
from jaxgan.config import adam, base_config, check_variant


def get_config(variant: str = ""):
    paper = check_variant(variant, __file__, "paper") == "paper"
    c = base_config("text_to_image", image_size=32, batch_size=64, num_steps=3000, ema_decay=0.999)
    c.data.update(source="coloured_digits", channels=3)
    c.data.random_flip = False                # a flipped digit is another symbol
    c.data.vocabulary = ()                    # (): the training captions' most frequent words, recorded in the run
    c.data.vocabulary_size = 5000
    c.data.max_words = 16                     # longer captions are cut
    c.data.max_captions = 5                   # per image, one drawn per step
    c.data.embeddings = ""                    # model.text_encoder=fixed: .npy/.npz sentence embeddings per image
    c.model.text_encoder = "words"            # words: our encoder, trained with D | fixed: data.embeddings
    c.model.text_dim = 256                    # the sentence embedding's size (fixed: the file's, e.g. 1024)
    c.model.encoder_width = 128
    c.model.encoder_window = 1                # words the encoder reads at once: 1, a bag of words (rephrasings read
                                              # alike: what new phrasings need); 3, also word pairs and triples
    c.model.projection = 128                  # the embedding projected to this before G and D read it
    c.model.latent_dim = 100
    c.model.g_features = 32
    c.model.d_features = 32
    c.model.d_norm = "batch"
    c.model.contrastive_dim = 128             # the contrastive codes' size
    # Not in the paper (0 turns each off): diversity_weight, MSGAN's mode-seeking term (without it G ignores
    # z); contrastive_weight, an image-sentence contrastive term in D and G, and image_contrastive_weight, G's
    # fakes matched to their real images in D's contrastive codes (XMC-GAN): what makes prompts draw their digit
    c.gan = dict(loss="non_saturating", interpolation_weight=1.0, interpolation_beta=0.5, diversity_weight=0.5,
                 contrastive_weight=2.0, contrastive_temperature=0.1, image_contrastive_weight=1.0)
    c.optim.g = adam(2e-4, 0.5)
    c.optim.d = adam(2e-4, 0.5)
    c.optim.t = adam(2e-4, 0.5)               # the text encoder, updated with D
    c.num_samples = 64                        # an 8 x 8 grid: 7 captions x 8 samples, and an interpolation
    c.eval.figures = "captions"              # caption agreement (the embedded coloured digits only; '' for other data)
    if paper:
        c.image_size = 64
        c.model.update(text_encoder="fixed", text_dim=1024, g_features=64, d_features=64)
        c.gan.update(diversity_weight=0.0, contrastive_weight=0.0, image_contrastive_weight=0.0)
        c.eval.figures = ""
    return c
