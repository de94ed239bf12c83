"""Text-to-image GAN-CLS / GAN-INT: tokenisation, caption loaders, mismatched captions, the three D terms,
training with resume, the evaluation, fixed embeddings, TFDS captions, and infer.py --prompt / --prompts."""
import functools
import json
import logging
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from conftest import (CONV_FLAG, eval_arrays, run_script,
                      run_steps, shared_workdir, tiny_config, train_batches)
from jaxgan import losses, recipes, text
from jaxgan.config import set_field
from jaxgan.data import resolve
from jaxgan.errors import ConfigError, DataError
from jaxgan.recipes.text_to_image import mismatched
from jaxgan.train import Trainer



tiny_text2img = functools.partial(tiny_config, "text2img")


# ------------------------------------------------------------------------------------------------ text
def test_words_are_lower_cased_letters_and_digits_and_unknown_ones_are_dropped_and_named():
    assert text.tokenize("A red 7, the RED_one!") == ["a", "red", "7", "the", "red", "one"]
    vocabulary = text.build_vocabulary(["a red seven", "a blue seven", "a red 7"], max_size=4)
    assert vocabulary == ("a", "red", "seven", "7")              # by frequency, ties alphabetical, capped
    ids = text.encode(["A crimson seven 7 a a a", ""], vocabulary, max_words=4)
    np.testing.assert_array_equal(ids, [[1, 3, 4, 1], [0, 0, 0, 0]])     # crimson dropped, cut at 4, padded
    assert text.unknown_words("a crimson 7 in crimson ink", vocabulary) == ["crimson", "in", "ink"]
    table = text.caption_table([["a red seven", "red 7", "seven", "7"], ["a"]], vocabulary, 3, 2)
    np.testing.assert_array_equal(table["caption_count"], [3, 1])
    np.testing.assert_array_equal(table["caption"][1], [[1, 0], [0, 0], [0, 0]])


def test_the_embedded_set_keeps_its_unseen_combinations_and_phrasings_out_of_training():
    from jaxgan.data import embedded

    train = embedded.load_captioned("coloured_digits", "train", 8)
    seen = set(zip(train["digit"].tolist(), train["colour"].tolist()))
    assert not seen & embedded.UNSEEN_COMBINATIONS and len(seen) == 50
    held = embedded.load_captioned("coloured_digits", "test", 8)
    assert set(zip(held["digit"].tolist(), held["colour"].tolist())) & embedded.UNSEEN_COMBINATIONS
    train_captions = {c for captions in train["captions"] for c in captions}
    held_captions = {c for captions in held["captions"] for c in captions}
    assert not train_captions & held_captions                  # new phrasings only...
    words = {w for c in train_captions for w in text.tokenize(c)}
    assert {w for c in held_captions for w in text.tokenize(c)} <= words      # ...of known words


# ------------------------------------------------------------------------------------------ the step
@pytest.mark.parametrize("n", [2, 3, 8, 17])
def test_mismatched_captions_come_from_another_example_never_the_matching_one(n):
    for seed in range(20):
        index = np.asarray(mismatched(jax.random.PRNGKey(seed), n))
        assert sorted(index) == list(range(n)) and np.all(index != np.arange(n))


def test_each_example_draws_one_of_its_own_captions():
    texts = jnp.arange(3 * 4 * 2).reshape(3, 4, 2)
    count = jnp.array([1, 2, 4])
    drawn = np.stack([np.asarray(recipes.TextToImage.draw_captions(jax.random.PRNGKey(s), texts, count))
                      for s in range(200)])
    for row, k in enumerate([1, 2, 4]):
        assert {tuple(x) for x in drawn[:, row]} == {tuple(np.asarray(texts[row, i])) for i in range(k)}


def test_the_gan_cls_discriminator_loss_weights_its_three_terms_1_half_half():
    real, wrong, fake = jnp.array([0.3, -1.0]), jnp.array([2.0, 0.5]), jnp.array([-0.2, 1.5])
    sp = lambda x: np.log1p(np.exp(np.asarray(x)))                                   # noqa: E731
    expected = sp(-real).mean() + 0.5 * sp(wrong).mean() + 0.5 * sp(fake).mean()
    np.testing.assert_allclose(losses.matching_aware_discriminator_loss("non_saturating", real, wrong, fake),
                               expected, rtol=1e-6)
    # least squares: real -> 1 (weight 1), mismatch and fake -> 0 (weight 1/2 each)
    expected = np.mean((real - 1) ** 2) + 0.5 * np.mean(wrong ** 2) + 0.5 * np.mean(fake ** 2)
    np.testing.assert_allclose(losses.matching_aware_discriminator_loss("least_squares", real, wrong, fake),
                               expected, rtol=1e-6)


def test_the_discriminator_scores_several_captions_of_one_batch_as_separate_calls_would():
    from jaxgan.models.text_to_image import MatchingAwareDiscriminator

    D = MatchingAwareDiscriminator(features=8, projection=4)
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 16, 16, 3))
    e1, e2 = jax.random.normal(jax.random.PRNGKey(1), (2, 4, 6))
    variables = D.init(jax.random.PRNGKey(2), x, e1, train=False)
    (s1, s2), _ = D.apply(variables, x, (e1, e2), mutable=["batch_stats"])
    for e, s in ((e1, s1), (e2, s2)):
        np.testing.assert_allclose(D.apply(variables, x, e, mutable=["batch_stats"])[0], s, rtol=1e-5, atol=1e-6)
    assert not np.allclose(s1, s2)                                   # the text changes the score


def test_the_discriminator_learns_to_reject_real_images_with_mismatched_captions():
    """D (with the text encoder) alone, on a fixed batch: matching pairs go up, the same images with other
    examples' captions go down; that gap only opens if the mismatched pairs really carry other captions."""
    config = resolve(tiny_text2img(batch_size=16, **{"optim.d.lr": 2e-3, "optim.t.lr": 2e-3}))
    recipe = recipes.build(config)
    batch = jax.tree.map(jnp.asarray, next(train_batches(config)))
    state = recipe.init(jax.random.PRNGKey(0), batch)
    d, t = state.nets["D"], state.nets["T"]
    captions = recipe.draw_captions(jax.random.PRNGKey(1), batch["caption"], batch["caption_count"])
    wrong = mismatched(jax.random.PRNGKey(2), 16)
    fake = jnp.zeros_like(batch["image"])
    update = jax.jit(lambda d, t: recipe.discriminator_update(d, t, batch["image"], captions, wrong, fake))
    for _ in range(100):
        d, t, metrics = update(d, t)
    assert metrics["d_real"] > 0.8 and metrics["d_mismatch"] < 0.2 and metrics["d_fake"] < 0.2, metrics


def test_the_contrastive_loss_has_its_closed_form_in_both_directions():
    from jaxgan.models.text_to_image import contrastive_loss

    n, tau = 5, 0.5
    codes = jnp.eye(n, 8)                                   # each image's code equals its own caption's
    own = -np.log(np.exp(1 / tau) / (np.exp(1 / tau) + n - 1))
    np.testing.assert_allclose(contrastive_loss(codes, codes, tau), own, rtol=1e-5)
    images = jax.random.normal(jax.random.PRNGKey(0), (n, 8))
    texts = jax.random.normal(jax.random.PRNGKey(1), (n, 8))
    logits = np.asarray(images @ texts.T / tau)
    rows = -np.mean(np.diag(logits) - np.log(np.exp(logits).sum(1)))
    columns = -np.mean(np.diag(logits) - np.log(np.exp(logits).sum(0)))
    np.testing.assert_allclose(contrastive_loss(images, texts, tau), 0.5 * (rows + columns), rtol=1e-5)
    np.testing.assert_allclose(contrastive_loss(images, texts, tau), contrastive_loss(texts, images, tau), rtol=1e-6)


def test_the_contrastive_discriminator_learns_to_find_each_real_image_s_own_caption():
    """D and the text encoder on a fixed batch with only the contrastive term's gradient to speak of: the
    image codes come to pick a caption of their own digit and colour among the batch's (chance ~1/10)."""
    config = resolve(tiny_text2img(batch_size=16, **{"optim.d.lr": 2e-3, "optim.t.lr": 2e-3,
                                                     "gan.contrastive_weight": 10.0}))
    recipe = recipes.build(config)
    batch = jax.tree.map(jnp.asarray, next(train_batches(config)))
    state = recipe.init(jax.random.PRNGKey(0), batch)
    d, t = state.nets["D"], state.nets["T"]
    captions = batch["caption"][:, 0]
    wrong = mismatched(jax.random.PRNGKey(2), 16)
    update = jax.jit(lambda d, t: recipe.discriminator_update(d, t, batch["image"], captions, wrong,
                                                                jnp.zeros_like(batch["image"])))
    codes = jax.jit(lambda d, t: recipe.D.apply({"params": d.params, "batch_stats": d.batch_stats}, batch["image"],
                                                recipe.embed(t.params, captions), mutable=["batch_stats"])[0][1:])
    first = None
    for _ in range(150):
        d, t, metrics = update(d, t)
        first = metrics["d_contrastive"] if first is None else first
    image_codes, text_codes = codes(d, t)
    picked = np.asarray(jnp.argmax(image_codes @ text_codes.T, axis=1))
    same_content = [batch["digit"][i] == batch["digit"][j] and batch["colour"][i] == batch["colour"][j]
                    for i, j in enumerate(picked)]
    assert float(metrics["d_contrastive"]) < 0.5 * float(first) and np.mean(same_content) >= 0.75, same_content


def test_training_moves_every_loss_evaluates_and_records_its_vocabulary(tmp_path, short_classifier_training):
    devices = jax.devices()[:1]
    straight = Trainer(tiny_text2img(), tmp_path / "straight", devices=devices)
    metrics = run_steps(straight, 4)
    assert all(np.isfinite(list(m.values())).all() for m in metrics)
    assert {"d_real", "d_mismatch", "d_fake", "d_contrastive", "g_adversarial", "g_interpolated", "g_contrastive",
            "g_image_contrastive"} <= set(metrics[0])
    assert metrics[0]["g_loss"] != metrics[-1]["g_loss"] and metrics[0]["d_loss"] != metrics[-1]["d_loss"]
    grid = straight.sample_grid()
    assert grid.shape == (4, 16, 16, 3)                          # 2 x 2: one caption row, one interpolation row
    recipe = straight.recipe
    results = recipe.evaluate(recipe.generator_variables(straight.state), eval_arrays(straight.config, "train"),
                              eval_arrays(straight.config, "test"))
    assert results["digit_real"] > 0.8 and results["colour_real"] > 0.95
    assert 0 <= results["both_agreement_unseen_combinations"] <= 1 and results["both_chance"] == pytest.approx(1 / 60)
    straight.close()

    recorded = json.loads((tmp_path / "straight" / "config.json").read_text())
    assert recorded["data"]["vocabulary"][:2] == ["in", "a"]     # the vocabulary travels with the run


def test_eight_devices_match_one(tmp_path):
    """With SGD: Adam turns gradients at float-noise level (a bias right before batch norm) into +-lr steps."""
    from conftest import assert_one_and_eight_devices_agree

    sgd = {f"optim.{net}.{field}": value for net in "gdt" for field, value in (("name", "sgd"), ("lr", 1e-2))}
    assert_one_and_eight_devices_agree(lambda: tiny_text2img(**sgd), tmp_path, 2)


# ------------------------------------------------------------------------------------------ your data
def _image(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (20, 24, 3), np.uint8)).save(path)


def test_a_caption_folder_reads_text_files_beside_images_and_skips_the_uncaptioned(tmp_path, caplog):
    for i in range(5):
        _image(tmp_path / f"img{i}.png", i)
    (tmp_path / "img0.txt").write_text("a red square\n\nA BLUE square\n")       # two captions
    (tmp_path / "img1.txt").write_text("green noise")
    (tmp_path / "img2.txt").write_text("  \n")                                 # empty
    (tmp_path / "img3.txt").write_bytes(b"\xff\xfe\xfa bad")                  # not UTF-8
    config = tiny_text2img(**{"data.source": "folder", "data.layout": "captions", "data.path": str(tmp_path)})
    with caplog.at_level(logging.WARNING):
        config = resolve(config)
        batch = next(train_batches(config))
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "empty caption file" in messages and "unreadable caption file" in messages
    assert "skipped 1 image(s)" in messages and "no caption file" in messages            # img4
    assert set(config.data.vocabulary) == {"square", "a", "blue", "green", "noise", "red"}
    assert sorted(set(batch["caption_count"].tolist())) == [1, 2] and batch["image"].shape == (8, 16, 16, 3)


def test_a_jsonl_manifest_gives_several_captions_per_image_and_reports_bad_lines(tmp_path, caplog):
    for name in ("a.png", "sub/b.png", "c.png"):
        _image(tmp_path / name, len(name))
    lines = [{"image": "a.png", "text": "first of a"}, {"image": "sub/b.png", "text": "only b"},
             {"image": "a.png", "text": "second of a"}, {"image": "gone.png", "text": "missing"}]
    (tmp_path / "captions.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\nnot json\n")
    config = tiny_text2img(**{"data.source": "folder", "data.layout": "captions", "data.path": str(tmp_path)})
    with caplog.at_level(logging.WARNING):
        config = resolve(config)
        arrays = eval_arrays(config, "train")
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "1 line(s) of captions.jsonl" in messages and "whose image does not exist" in messages
    assert "skipped 1 image(s)" in messages                                           # c.png
    np.testing.assert_array_equal(arrays["caption_count"], [2, 1])
    first, second = (text.encode([s], config.data.vocabulary, 16)[0] for s in ("first of a", "second of a"))
    np.testing.assert_array_equal(arrays["caption"][0, :2], [first, second])


def test_a_folder_without_captions_is_one_clear_error(tmp_path):
    _image(tmp_path / "x.png", 0)
    config = tiny_text2img(**{"data.source": "folder", "data.layout": "captions", "data.path": str(tmp_path)})
    with pytest.raises(DataError, match="no captioned images.*image.txt"):
        resolve(config)


def test_fixed_sentence_embeddings_train_in_place_of_the_encoder(tmp_path):
    for i in range(6):
        _image(tmp_path / "imgs" / f"{i:03d}.jpg", i)
    names = np.array([f"{i:03d}" for i in (5, 4, 3, 2, 1, 0)])
    np.savez(tmp_path / "emb.npz", embeddings=np.random.default_rng(0).normal(size=(6, 3, 32)), filenames=names)
    config = tiny_text2img(batch_size=4, **{"data.source": "folder", "data.layout": "captions",
                                            "data.path": str(tmp_path / "imgs"), "model.text_encoder": "fixed",
                                            "model.text_dim": 32, "data.embeddings": str(tmp_path / "emb.npz")})
    with pytest.raises(ConfigError, match="eval.figures=captions prompts the generator in words"):
        Trainer(config, tmp_path / "run", devices=jax.devices()[:1])
    set_field(config, "eval.figures", "")
    trainer = Trainer(config, tmp_path / "run", devices=jax.devices()[:1])
    assert set(trainer.state.nets) == {"G", "D"}
    metrics = run_steps(trainer, 2)
    assert np.isfinite(list(metrics[-1].values())).all()
    trainer.close()
    np.save(tmp_path / "short.npy", np.zeros((4, 32)))
    set_field(config, "data.embeddings", str(tmp_path / "short.npy"))
    with pytest.raises(DataError, match="embeddings for 4 images, but .* has 6"):
        next(train_batches(config))


def test_tfds_captions_are_read_like_coco_captions(tmp_path):
    import tensorflow_datasets as tfds

    class FakeCocoCaptions(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3)),
                "captions": tfds.features.Sequence({"text": tfds.features.Text()})}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(6), "val": self._generate_examples(4)}

        def _generate_examples(self, count):
            rng = np.random.default_rng(count)
            for i in range(count):
                yield i, {"image": rng.integers(0, 255, (24, 20, 3), np.uint8),
                          "captions": {"text": [f"a photo number {i}", "a cat"][: 1 + i % 2]}}

    FakeCocoCaptions(data_dir=str(tmp_path)).download_and_prepare()
    config = resolve(tiny_text2img(**{"data.source": "tfds", "data.name": "fake_coco_captions", "data.layout": "captions",
                                      "data.data_dir": str(tmp_path), "data.eval_split": "val", "batch_size": 4}))
    assert config.data.vocabulary[:3] == ("a", "number", "photo")
    batch = next(train_batches(config))
    assert batch["caption"].shape == (4, 5, 16) and set(batch["caption_count"].tolist()) == {1, 2}
    assert eval_arrays(config, "val")["image"].shape == (4, 16, 16, 3)


# ------------------------------------------------------------------------------------------ infer.py
@pytest.fixture(scope="session")
def text2img_workdir(tmp_path_factory):
    flags = ("--config.num_steps=2", "--config.image_size=16", "--config.batch_size=4", "--config.model.g_features=8",
             "--config.model.d_features=8", "--config.num_samples=4", "--config.evaluate=False", CONV_FLAG)

    def train(workdir):
        result = run_script("train.py", "--config", "configs/text2img.py", "--workdir", workdir, *flags)
        assert result.returncode == 0, result.stderr[-3000:]

    return shared_workdir(tmp_path_factory, "text2img", train)


def test_infer_writes_num_images_per_prompt_and_names_unknown_words_once(text2img_workdir, tmp_path):
    result = run_script("infer.py", "--workdir", text2img_workdir, "--prompt", "a red seven", "--num", 5, "--output",
                 tmp_path / "one", "--seed", 3)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == [f"sample_{i:05d}.png" for i in range(5)]
    again = run_script("infer.py", "--workdir", text2img_workdir, "--prompt", "a red seven", "--num", 5, "--output",
                tmp_path / "again", "--seed", 3, "--batch", 2)
    assert again.returncode == 0
    import jaxgan

    generator = jaxgan.load(text2img_workdir)
    from_python, = generator.from_prompts(["a red seven"], num=5, seed=3)           # the Python API: the same images
    for i in range(5):                                                   # --seed reproduces, whatever --batch
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "one" / f"sample_{i:05d}.png")),
                                      np.asarray(Image.open(tmp_path / "again" / f"sample_{i:05d}.png")))
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "one" / f"sample_{i:05d}.png")), from_python[i])
    assert generator.unknown_words(["The number 3, in crimson ink!"]) == ["crimson"]
    with pytest.raises(ConfigError, match="generate does not apply: this run's generator consumes text"):
        generator.generate(2)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red seven\n\nThe number 3, in crimson ink!\nzzz qqq\n")
    result = run_script("infer.py", "--workdir", text2img_workdir, "--prompts", prompts, "--num", 3, "--output",
                 tmp_path / "many")
    assert result.returncode == 0, result.stderr[-2000:]
    folders = sorted(p.name for p in (tmp_path / "many").iterdir())
    assert folders == ["1_a_red_seven", "3_the_number_3_in_crimson_ink", "4_zzz_qqq"]
    assert all(len(list((tmp_path / "many" / f).iterdir())) == 3 for f in folders)
    warnings = [line for line in result.stderr.splitlines() if "vocabulary does not know" in line]
    assert len(warnings) == 1 and all(w in warnings[0] for w in ("'crimson'", "'zzz'", "'qqq'"))


def test_infer_needs_exactly_one_prompt_source_and_refuses_image_flags(text2img_workdir, tmp_path):
    result = run_script("infer.py", "--workdir", text2img_workdir, "--output", tmp_path)
    assert result.returncode != 0 and result.stderr.strip().splitlines()[-1].startswith("error: this run generates from text")
    result = run_script("infer.py", "--workdir", text2img_workdir, "--prompt", "a", "--input", tmp_path, "--output", tmp_path)
    assert "--input does not apply" in result.stderr and "Traceback" not in result.stderr
