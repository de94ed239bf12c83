"""Evaluation figures and schedules against closed forms."""
import ml_collections
import numpy as np
import pytest

from conftest import eval_arrays
from jaxgan.metrics import classifier_eval
from jaxgan.metrics.frechet import frechet_distance
from jaxgan.optim import learning_rate


def samples_with_moments(mean, cov, n=400, seed=0):
    """``n`` samples whose sample mean and (unbiased) covariance are exactly ``mean`` and ``cov``."""
    z = np.random.default_rng(seed).standard_normal((n, len(mean)))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T      # sample covariance = I
    return z @ np.linalg.cholesky(cov).T + mean


def test_frechet_distance_matches_the_gaussian_closed_form():
    rotation = np.linalg.qr(np.random.default_rng(1).standard_normal((4, 4)))[0]
    s_a, s_b = np.array([1.0, 2.0, 0.5, 3.0]), np.array([4.0, 0.5, 0.5, 1.0])
    mu_a, mu_b = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    a = samples_with_moments(mu_a, rotation @ np.diag(s_a) @ rotation.T)
    b = samples_with_moments(mu_b, rotation @ np.diag(s_b) @ rotation.T, seed=2)
    # Commuting covariances: ||mu_a - mu_b||^2 + sum (sqrt(s_a) - sqrt(s_b))^2
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(s_a) - np.sqrt(s_b)) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_class_spread_counts_entropy_and_covered_classes():
    logits = np.eye(10)[[0] * 50 + [1] * 49 + [2]]            # 50%, 49%, 1% of predictions
    entropy, covered = classifier_eval.class_spread(logits, 10)
    assert entropy == pytest.approx(-(0.5 * np.log(0.5) + 0.49 * np.log(0.49) + 0.01 * np.log(0.01)))
    assert covered == 2                                        # 1% is below a quarter of an even 10% share


def test_confident_fraction_thresholds_the_top_softmax_probability():
    # Two classes: p(top) = 1 / (1 + exp(-d)) for a logit gap d; > 0.9 exactly when d > log(9) = 2.197.
    gaps = np.array([0.0, 2.1, 2.3, 10.0, 1000.0])
    logits = np.stack([gaps, np.zeros_like(gaps)], axis=-1)
    assert classifier_eval.confident_fraction(logits) == pytest.approx(3 / 5)


def test_classifier_evaluation_of_a_perfect_generator_equals_the_held_out_figures(tiny):
    config = tiny("dcgan")
    train, held_out = eval_arrays(config, "train"), eval_arrays(config, "test")
    count = len(held_out["image"])
    results = classifier_eval.evaluate(lambda n: held_out["image"][np.arange(n) % count], train, held_out, seed=0)
    assert results["fd_generated"] == results["fd_held_out"] > 0
    # class figures over GENERATED_SAMPLES images: the held-out set repeated, so nearly its own figures
    assert results["class_entropy_generated"] == pytest.approx(results["class_entropy_held_out"], abs=0.01)
    assert results["class_entropy_held_out"] > 2.0
    assert results["classes_covered_generated"] == 10 and results["classifier_accuracy"] > 0.85
    assert results["confident_generated"] == pytest.approx(results["confident_held_out"], abs=0.01)
    assert results["confident_held_out"] > 0.5
    # the confident fraction counts every generated image, not only the first ``count`` (FD's)
    noise = np.random.default_rng(0).uniform(-1, 1, (classifier_eval.GENERATED_SAMPLES - count,)
                                             + held_out["image"].shape[1:]).astype(np.float32)
    half = classifier_eval.evaluate(lambda n: np.concatenate([held_out["image"], noise])[:n], train, held_out, seed=0)
    assert half["fd_generated"] == results["fd_generated"]
    assert half["confident_generated"] < results["confident_held_out"] - 0.2   # noise is rarely named
    collapsed = classifier_eval.evaluate(lambda n: np.repeat(held_out["image"][:1], n, 0), train, held_out, seed=0)
    assert collapsed["class_entropy_generated"] == 0 and collapsed["classes_covered_generated"] == 1
    assert collapsed["fd_generated"] > 3 * results["fd_generated"]


def test_linear_decay_schedule_values():
    cfg = ml_collections.ConfigDict(dict(lr=2e-4, schedule="linear_decay", decay_start=0.5))
    schedule = learning_rate(cfg, 100)
    for step, expected in ((0, 2e-4), (50, 2e-4), (75, 1e-4), (99, 2e-4 * 1 / 50), (100, 0.0)):
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5, abs=1e-12), step
    assert learning_rate(ml_collections.ConfigDict(dict(lr=1e-3, schedule="constant")), 10) == 1e-3


def test_an_extended_run_continues_its_decay_instead_of_jumping_back_up():
    cfg = ml_collections.ConfigDict(dict(lr=1.0, schedule="linear_decay", decay_start=0.5))
    # 100 -> 200 steps at step 75 (lr 0.5, decaying): on from 0.5 linearly to 0 at 200.
    extended = learning_rate(cfg, 200, extensions=[(75, 100)])
    for count, expected in ((0, 1.0), (60, 0.8), (75, 0.5), (137.5, 0.25), (200, 0.0)):
        assert float(extended(count)) == pytest.approx(expected, abs=1e-6), count
    # Extended before its decay began: the new length's own schedule.
    early = learning_rate(cfg, 200, extensions=[(40, 100)])
    assert [float(early(c)) for c in (40, 100, 150)] == pytest.approx([1.0, 1.0, 0.5])
    # Twice, and in a schedule that starts later (SRGAN's phase 2 counts from its first step).
    twice = learning_rate(cfg, 400, extensions=[(75, 100), (100, 200)])
    assert [float(twice(c)) for c in (100, 250, 400)] == pytest.approx([0.4, 0.2, 0.0])
    offset = learning_rate(cfg, 300, first_step=100, extensions=[(175, 200)])
    assert [float(offset(c)) for c in (75, 200)] == pytest.approx([0.5, 0.0])


def test_high_frequency_ratio_is_one_for_the_target_below_for_blur_above_for_a_checkerboard():
    from jaxgan.metrics import image_quality
    checker = np.indices((8, 8)).sum(0) % 2 * 2.0 - 1.0                  # +-1: Laplacian 8 at every pixel
    assert image_quality.laplacian_energy(0.25 * checker[..., None]) == pytest.approx(64 * 0.25 ** 2)
    rng = np.random.default_rng(0)
    target = np.clip(rng.normal(0, 0.3, (32, 32, 1)), -1, 1)
    blurred = (target + np.roll(target, 1, 0) + np.roll(target, 1, 1) + np.roll(target, (1, 1), (0, 1))) / 4
    noisy = np.clip(target + 0.2 * np.indices((32, 32)).sum(0)[..., None] % 2, -1, 1)
    ratio = {name: image_quality.paired_scores([x], [target])["hf_ratio"]
             for name, x in (("nearly", target + 1e-3), ("blurred", blurred), ("checker", noisy))}
    assert ratio["nearly"] == pytest.approx(1.0, rel=1e-3) and ratio["blurred"] < 0.5 and ratio["checker"] > 1.1


def test_colourfulness_is_zero_for_grey_its_closed_form_for_one_colour_and_grows_with_saturation():
    from jaxgan.metrics import image_quality
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(0, 256, (16, 16, 1)), 3, axis=-1)
    assert image_quality.colourfulness(grey) == pytest.approx(0.0, abs=1e-9)
    red = np.broadcast_to(np.array([200.0, 50.0, 50.0]), (8, 8, 3))     # rg = 150, yb = 75, no spread
    assert image_quality.colourfulness(red) == pytest.approx(0.3 * np.hypot(150.0, 75.0))
    photo = rng.uniform(0, 255, (16, 16, 3))
    luma = photo.mean(-1, keepdims=True)
    values = [image_quality.colourfulness(luma + s * (photo - luma)) for s in (0.25, 0.5, 1.0)]
    assert values == pytest.approx([0.25 * values[2], 0.5 * values[2], values[2]])


def test_psnr_of_an_image_is_its_closed_form_on_the_unit_scale():
    from jaxgan.metrics import image_quality
    target = np.zeros((4, 4, 3))
    assert image_quality.psnr(target + 0.2, target) == pytest.approx(10 * np.log10(1 / 0.1 ** 2))
