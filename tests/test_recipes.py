"""The recipe contract, checked the same way on every shipped config (tiny): it builds and initialises
abstractly, one step counts one step with finite losses, `predict` gives what its `GeneratorSpec`
promises, the exported generator reloads to the same outputs, and a resumed step equals an uninterrupted
one."""
import shutil
from pathlib import Path

import jax
import ml_collections
import numpy as np
import pytest

from conftest import TINY, assert_trees_equal, run_steps, tiny_config
from jaxgan import recipes
from jaxgan.data import resolve
from jaxgan.recipes.base import figure_names
from jaxgan.errors import ConfigError
from jaxgan.inference import Predictor, export_generator, load_generator
from jaxgan.train import Trainer

CONFIGS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "configs").glob("*.py"))


def test_every_shipped_config_is_covered():
    assert CONFIGS == sorted(TINY) and len(CONFIGS) == 10


def generator_inputs(recipe: recipes.Recipe, rows: int = 2):
    """Inputs for ``rows`` images of the kind the recipe's generator consumes, and the output shape."""
    spec, size = recipe.generator_spec, recipe.config.image_size
    noise = np.random.default_rng(0).standard_normal((rows, max(spec.latent_dim, 1))).astype(np.float32)
    if spec.consumes == "noise":
        return noise, (rows, size, size, spec.channels)
    if spec.consumes == "text":
        return {"noise": noise, "text": recipe.encode_prompts(["a red seven", "the digit one in blue"])[:rows]}, \
            (rows, size, size, spec.channels)
    side = spec.size_multiple * max(1, 16 // spec.size_multiple)
    images = np.tanh(np.random.default_rng(1).standard_normal((rows, side, side, spec.channels))).astype(np.float32)
    return images, (rows, side * spec.scale, side * spec.scale, spec.channels)


@pytest.mark.parametrize("name", CONFIGS)
def test_a_recipe_steps_predicts_exports_and_resumes_as_the_contract_says(name, tmp_path):
    config = resolve(tiny_config(name, num_steps=2, checkpoint_every=1))
    recipe = recipes.build(config)
    abstract = jax.eval_shape(recipe.init_state, jax.random.PRNGKey(0), recipe.example_batch())
    assert abstract.step.shape == () and set(recipe.generator_names) <= set(abstract.nets)
    named = figure_names(config)
    assert named and set(named) <= set(recipe.evaluators), "each shipped config names its recipe's figures"
    recorded = ml_collections.ConfigDict({"eval": {"figures": recipe.field_defaults["eval.figures"]}})
    assert set(figure_names(recorded)) <= set(recipe.evaluators)      # what older runs are filled in with

    devices = jax.devices()[:1]
    run = Trainer(config, tmp_path, devices=devices)
    metrics = run.fit()["metrics"]
    assert int(run.state.step) == 2, "the trainer counts each step once; an update leaves state.step alone"
    assert all(np.isfinite(v) for v in metrics.values()), metrics
    spec = recipe.generator_spec
    choices = {choice: spec.choices[choice][0] for choice in spec.required}
    inputs, shape = generator_inputs(recipe)
    predicted = Predictor(recipe, recipe.generator_variables(run.state), **choices)(inputs)
    assert predicted.shape == shape and np.all(np.abs(predicted) <= 1.0)

    export_generator(tmp_path, tmp_path / "g.msgpack")
    reloaded, variables, step = load_generator(tmp_path / "g.msgpack")
    assert step == 2 and reloaded.generator_spec == spec
    assert set(variables) == set(recipe.generator_names + recipe.auxiliary_names)     # no D, no optimiser state
    np.testing.assert_allclose(Predictor(reloaded, variables, **choices)(inputs), predicted, atol=1e-6)

    shutil.rmtree(tmp_path / "checkpoints" / "2")          # lost, as a crash before it was written loses it
    resumed = Trainer(config, tmp_path, devices=devices)
    assert resumed.start_step == 1 == int(resumed.state.step)
    step_two = run_steps(resumed, 1)[0]
    assert int(resumed.state.step) == 2 and all(np.isfinite(v) for v in step_two.values())
    assert_trees_equal(run.state.nets, resumed.state.nets)
    resumed.close()


@pytest.mark.parametrize("name", CONFIGS)
def test_a_recipe_s_own_names_and_ranges_are_checked_before_anything_runs(name):
    """`jaxgan.config.validate` checks each recipe's declared fields (config.py names no recipe): every
    declared field the config has refuses a value out of its set or range in one line naming it."""
    from jaxgan.config import set_field, validate
    from jaxgan.errors import ConfigError

    cls = recipes.RECIPES[tiny_config(name).recipe]
    checked = 0
    for field, bad in [*((f, "no-such-name") for f in cls.option_names),
                       *((f, low - 1) for f, (low, _) in cls.option_ranges.items())]:
        config = tiny_config(name)
        parent, _, leaf = field.rpartition(".")
        holder = config[parent] if parent else config
        if leaf not in holder:
            continue
        set_field(config, field, type(holder[leaf])(bad) if not isinstance(bad, str) else bad)
        with pytest.raises(ConfigError, match=f"config.{field}"):
            validate(config)
        checked += 1
    assert checked or not (cls.option_names or cls.option_ranges)


def test_a_run_recorded_before_a_field_existed_loads_with_the_value_it_ran_with(tmp_path):
    from jaxgan.config import load_json, save_json

    recorded = tiny_config("text2img")
    del recorded.gan["contrastive_weight"], recorded.model["encoder_window"], recorded["compile_cache"]
    save_json(recorded, tmp_path / "config.json")
    loaded = load_json(tmp_path / "config.json")
    assert loaded.gan.contrastive_weight == 0.0 and loaded.model.encoder_window == 3      # the recipe's record
    assert loaded.compile_cache == "auto" and loaded.gan.diversity_weight == recorded.gan.diversity_weight
    assert recipes.build(loaded).D.contrastive_dim == 0                 # the network that run trained


def test_the_config_names_the_evaluators_and_one_without_its_data_field_stops_the_run_before_it_starts(tmp_path):
    """The embedded faces have a held-out split and no labels: the digit classifier's figures cannot be
    measured on them, which the run says before creating anything, and runs once they are not named."""
    devices = jax.devices()[:1]
    with pytest.raises(ConfigError, match="noise_to_image has no evaluator 'fid' \\(it has: classifier\\)"):
        Trainer(tiny_config("dcgan", **{"eval.figures": "classifier,fid"}), tmp_path / "unknown", devices=devices)
    faces = {"evaluate": True, "data.source": "faces"}
    with pytest.raises(ConfigError, match="eval.figures=classifier needs the evaluation data's label field "
                                          "\\(this data has image\\)"):
        Trainer(tiny_config("dcgan", **faces), tmp_path / "faces", devices=devices)
    assert not (tmp_path / "faces").exists()
    run = Trainer(tiny_config("dcgan", num_steps=1, **faces, **{"eval.figures": ""}), tmp_path / "faces", devices=devices)
    assert run.fit()["eval"] == {} and int(run.state.step) == 1
    run.close()


def test_a_config_sets_top_level_fields_through_base_config_and_a_misspelt_one_is_refused():
    from jaxgan.config import adam, base_config

    c = base_config("cyclegan", image_size=64, num_steps=7)
    assert (c.recipe, c.image_size, c.num_steps, c.batch_size) == ("cyclegan", 64, 7, 64)
    assert adam(1e-4, 0.5, schedule="linear_decay").schedule == "linear_decay"
    for wrong in ({"imagesize": 64}, {"data": 3}):
        with pytest.raises(TypeError, match="not a top-level field"):
            base_config("cyclegan", **wrong)
