"""Tiny GAN / DCGAN / WGAN / WGAN-GP runs: losses finite and moving, shapes, clipping, 8 vs 1 devices."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import assert_one_and_eight_devices_agree, run_steps
from jaxgan.train import Trainer


@pytest.mark.parametrize("name", ["gan", "dcgan", "wgan", "wgan_gp"])
def test_recipe_trains_with_finite_moving_losses(name, tiny, tmp_path):
    config = tiny(name, num_steps=6)
    trainer = Trainer(config, tmp_path)
    losses = run_steps(trainer, config.num_steps)
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        values = np.array([m[key] for m in losses])
        assert np.all(np.isfinite(values)), key
        assert np.ptp(values) > 0, f"{key} did not move: {values}"
    assert int(trainer.state.step) == config.num_steps
    images = trainer.sample_grid()
    assert images.shape == (8, 16, 16, 1) and np.std(images) > 0
    if name == "wgan":
        limit = config.optim.d.weight_clip
        for leaf in jax.tree.leaves(trainer.state.nets["D"].params):
            assert jnp.max(jnp.abs(leaf)) <= jnp.float32(limit)
    trainer.close()


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp"])
def test_eight_devices_match_one(name, tiny, tmp_path):
    assert_one_and_eight_devices_agree(lambda: tiny(name, num_steps=3), tmp_path, 3)


def test_r1_adds_half_gamma_times_its_penalty_to_the_discriminator_loss(tiny, tmp_path):
    runs = {}
    for gamma in (0.0, 4.0):
        trainer = Trainer(tiny("gan", num_steps=3, **{"gan.r1_gamma": gamma}), tmp_path / str(gamma))
        runs[gamma] = run_steps(trainer, 3)
        trainer.close()
    plain, r1 = runs[0.0], runs[4.0]
    assert "r1_penalty" not in plain[0] and all(m["r1_penalty"] > 0 for m in r1)
    # the same start: at step 1 the losses differ by exactly gamma / 2 x the penalty
    np.testing.assert_allclose(r1[0]["d_loss"] - plain[0]["d_loss"], 2.0 * r1[0]["r1_penalty"], rtol=1e-4)
    assert r1[-1]["d_real"] != plain[-1]["d_real"]               # and the penalty's gradient changes D


def test_batch_not_divisible_by_devices_is_a_clear_error(tiny, tmp_path):
    from jaxgan.errors import ConfigError
    with pytest.raises(ConfigError, match="multiple of the 8 devices"):
        Trainer(tiny("gan", batch_size=12), tmp_path)


def test_a_run_that_cannot_start_leaves_no_workdir_behind(tiny, tmp_path):
    from jaxgan.errors import DataError
    with pytest.raises(DataError, match="is not a folder"):
        Trainer(tiny("dcgan", **{"data.source": "folder", "data.path": str(tmp_path / "nope")}), tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_the_steady_state_step_reads_nothing_back_from_the_device(tiny, tmp_path):
    """The trainer hands the step number to the recipe: no hidden device-to-host copy of the step."""
    trainer = Trainer(tiny("dcgan"), tmp_path)
    trainer.step()
    with jax.transfer_guard_device_to_host("disallow"):
        for _ in range(2):
            trainer.step()
    assert trainer.step_number == int(trainer.state.step) == 3
    trainer.close()


def test_progress_is_one_line_per_log_step_when_stderr_is_not_a_terminal(tmp_path, capsys):
    from jaxgan.reporting import Reporter
    reporter = Reporter(tmp_path, 10, 0, 4)
    reporter.scalars(5, {"d_loss": 1.25, "g_loss": 0.5, "images_per_second": 12.0})
    reporter.close()
    assert "step 5/10: d_loss=1.25  g_loss=0.5  12.0 img/s" in capsys.readouterr().err


def test_the_generator_average_follows_its_formula_and_is_what_samples_and_inference_use(tiny, tmp_path):
    from jaxgan.inference import load_generator
    trainer = Trainer(tiny("dcgan", num_steps=3, checkpoint_every=3, ema_decay=0.9), tmp_path)
    before = jax.device_get(trainer.state)
    np.testing.assert_array_equal(before.ema["G"]["params"]["Dense_0"]["kernel"],
                                  before.nets["G"].params["Dense_0"]["kernel"])        # starts at G
    trainer.step()
    after = jax.device_get(trainer.state)
    d = min(0.9, 2 / 11)                                      # warm-up after update 1: (1 + 1) / (10 + 1)
    for e0, live, e1 in zip(jax.tree.leaves(before.ema["G"]), jax.tree.leaves(after.nets["G"].variables),
                            jax.tree.leaves(after.ema["G"])):
        np.testing.assert_allclose(e1, d * e0 + (1 - d) * live, rtol=1e-6, atol=1e-7)
    trainer.fit()
    final = jax.device_get(trainer.state)
    _, variables, step = load_generator(tmp_path)
    assert step == 3
    for averaged, loaded, live in zip(jax.tree.leaves(final.ema), jax.tree.leaves(variables),
                                      jax.tree.leaves({"G": final.nets["G"].variables})):
        np.testing.assert_array_equal(averaged, loaded)
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(final.ema),
                                                        jax.tree.leaves({"G": final.nets["G"].variables})))


def test_several_steps_per_dispatch_train_as_one_step_per_dispatch(tiny, tmp_path, monkeypatch):
    """Runs of up to 3 steps in one device loop (moving average and metric sums inside) end at each log
    step and give the same logged losses and weights as one step per dispatch."""
    import json
    runs, lengths = {}, []
    advance = Trainer.advance
    monkeypatch.setattr(Trainer, "advance", lambda self, steps, acc: lengths.append(steps) or advance(self, steps, acc))
    for k in (1, 3):
        config = tiny("gan", num_steps=7, log_every=4, checkpoint_every=4, ema_decay=0.9, steps_per_dispatch=k)
        trainer = Trainer(config, tmp_path / str(k))
        trainer.fit()
        logged = [json.loads(line) for line in (tmp_path / str(k) / "metrics.jsonl").read_text().splitlines()]
        runs[k] = (jax.device_get(trainer.state), logged)
    assert lengths == [1] * 7 + [3, 1, 3]
    (one, one_log), (three, three_log) = runs[1], runs[3]
    assert int(three.step) == 7 and [r["step"] for r in three_log] == [r["step"] for r in one_log] == [4, 7]
    for a, b in zip(one_log, three_log):
        np.testing.assert_allclose(a["train/d_loss"], b["train/d_loss"], rtol=1e-5)
        np.testing.assert_allclose(a["train/g_loss"], b["train/g_loss"], rtol=1e-5)
    for a, b in zip(jax.tree.leaves((one.nets, one.ema)), jax.tree.leaves((three.nets, three.ema))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_dispatches_end_at_a_phase_change_and_recipes_needing_the_host_refuse_them(tiny_sr, tiny_i2i, tmp_path):
    from jaxgan.errors import ConfigError
    trainer = Trainer(tiny_sr(pretrain_steps=3, num_steps=10, log_every=100, checkpoint_every=100,
                              steps_per_dispatch=4), tmp_path / "sr", devices=jax.devices()[:1])
    ends, acc = [], None
    while trainer.step_number < 10:
        acc = trainer.advance(trainer.dispatch_length(), acc)
        ends.append(trainer.step_number)
    assert ends == [3, 7, 10] and int(trainer.state.step) == 10
    assert trainer.host_work(3) == {"log": False, "samples": False, "checkpoint": True, "evaluate": False,
                                    "stop": False}                  # SRGAN's milestone: the end of pre-training
    assert trainer.host_work(10, stop_step=12)["log"] and trainer.host_work(6, stop_step=6)["stop"]
    trainer.close()
    with pytest.raises(ConfigError, match="steps_per_dispatch=2: recipe cyclegan needs the host"):
        Trainer(tiny_i2i("cyclegan", batch_size=8, steps_per_dispatch=2), tmp_path / "c")
    assert not (tmp_path / "c").exists()
