"""Importing and exporting the PyTorch reference codes' generators (state dicts written here, no torch)."""
import jax
import pytest
import numpy as np
from PIL import Image

from jaxgan import torch_file, torch_layouts
from jaxgan.models.image_to_image import ResNetGenerator, UNetGenerator
from conftest import assert_trees_equal, run_script


def _random_state(module, layout, *args, seed=0, **kwargs):
    """A state dict in the reference layout with random values (every tensor, running statistics too)."""
    variables = jax.jit(lambda *a: module.init(jax.random.PRNGKey(seed), *a, train=False, **kwargs))(*args)
    rng = np.random.default_rng(seed)
    variables = jax.tree.map(lambda x: np.asarray(x) + rng.normal(0, 0.1, np.shape(x)).astype(np.float32), variables)
    state = torch_layouts.to_state_dict(variables, layout, module, *args, train=False, **kwargs)
    return state, variables


def _assert_exports_back(tmp_path, to, expected, *flags, key=None):
    """``jaxgan.convert --to <to>`` of the run in ``tmp_path/run`` writes ``expected``'s tensors, in order
    (under ``key`` of the file where the layout nests them)."""
    back = run_script("-m", "jaxgan.convert", "--to", to, "--workdir", tmp_path / "run", *flags, tmp_path / "back.pth")
    assert back.returncode == 0, back.stderr[-2000:]
    exported = torch_file.load(tmp_path / "back.pth")
    exported = exported[key] if key else exported
    assert list(exported) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(exported[name], expected[name])


def test_the_reference_key_layouts_of_resnet_and_unet_generators():
    image = np.zeros((1, 32, 32, 3), np.float32)
    resnet = ResNetGenerator(3, 6, 4, "instance")
    state, _ = _random_state(resnet, torch_layouts.resnet_layout(6, dropout=False), image)
    assert state["model.1.weight"].shape == (4, 3, 7, 7) and "model.1.bias" in state
    assert state["model.4.weight"].shape == (8, 4, 3, 3) and state["model.7.weight"].shape == (16, 8, 3, 3)
    assert state["model.10.conv_block.1.weight"].shape == (16, 16, 3, 3) and "model.15.conv_block.5.bias" in state
    assert state["model.16.weight"].shape == (16, 8, 3, 3) and state["model.19.weight"].shape == (8, 4, 3, 3)
    assert state["model.23.weight"].shape == (3, 4, 7, 7) and list(state)[-1] == "model.23.bias"
    assert len(state) == 2 * (3 + 12 + 2 + 1)                       # every conv's weight and bias, no norm tensors
    unet = UNetGenerator(3, 7, 2, "batch")
    image = np.zeros((1, 128, 128, 3), np.float32)
    state, _ = _random_state(unet, torch_layouts.unet_layout(7), image)
    inner = "model.model.1" + ".model.3" * 5 + ".model"
    assert state["model.model.0.weight"].shape == (2, 3, 4, 4) and "model.model.0.bias" not in state
    assert state["model.model.1.model.1.weight"].shape == (4, 2, 4, 4)
    assert state["model.model.1.model.2.running_var"].shape == (4,)
    assert state["model.model.1.model.2.num_batches_tracked"].shape == ()
    assert state[f"{inner}.1.weight"].shape == (16, 16, 4, 4) and state[f"{inner}.3.weight"].shape == (16, 16, 4, 4)
    assert state["model.model.1.model.5.weight"].shape == (8, 2, 4, 4)       # ConvTranspose2d: [in, out, k, k]
    assert state["model.model.3.weight"].shape == (4, 3, 4, 4) and "model.model.3.bias" in state


def test_a_state_dict_maps_back_exactly_and_old_instance_norm_statistics_are_ignored():
    image = np.zeros((1, 16, 16, 3), np.float32)
    resnet = ResNetGenerator(3, 6, 4, "instance", use_bias=True, tail_bias=True)
    layout = torch_layouts.resnet_layout(6, dropout=False)
    state, variables = _random_state(resnet, layout, image)
    state["model.2.running_mean"], state["model.2.running_var"] = np.zeros(4, np.float32), np.ones(4, np.float32)
    back = torch_layouts.from_state_dict(state, layout, resnet, image, train=False)
    assert_trees_equal(back["params"], variables["params"])
    unet = UNetGenerator(3, 5, 2, "batch")
    image = np.zeros((1, 32, 32, 3), np.float32)
    state, variables = _random_state(unet, torch_layouts.unet_layout(5), image)
    back = torch_layouts.from_state_dict(state, torch_layouts.unet_layout(5), unet, image, train=False)
    assert_trees_equal(back, variables)


def test_a_file_of_another_architecture_is_one_line_naming_the_key(tmp_path):
    image = np.zeros((1, 16, 16, 3), np.float32)
    state, _ = _random_state(ResNetGenerator(3, 6, 4, "instance"), torch_layouts.resnet_layout(6, False), image)
    torch_file.save(tmp_path / "G.pth", state)
    wrong = run_script("-m", "jaxgan.convert", "--from", "pytorch-cyclegan-pix2pix", tmp_path / "G.pth", "--arch",
                       "resnet_9blocks", "--workdir", tmp_path / "run")
    assert wrong.returncode == 1 and wrong.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'G.pth'}: the file has no model.16.conv_block.1.weight (expected by this architecture)"]
    norm = run_script("-m", "jaxgan.convert", "--from", "pytorch-cyclegan-pix2pix", tmp_path / "G.pth", "--arch",
                      "resnet_6blocks", "--norm", "batch", "--workdir", tmp_path / "run")
    assert norm.returncode == 1 and "model.2.weight" in norm.stderr and len(norm.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_imported_cyclegan_generators_translate_with_infer_and_export_back_exactly(tmp_path):
    image = np.zeros((1, 16, 16, 3), np.float32)
    layout = torch_layouts.resnet_layout(6, False)
    (a, va), (b, vb) = (_random_state(ResNetGenerator(3, 6, 4, "instance"), layout, image, seed=s) for s in (1, 2))
    torch_file.save(tmp_path / "latest_net_G_A.pth", a)
    torch_file.save(tmp_path / "latest_net_G_B.pth", b, legacy=True)             # an old torch's file
    done = run_script("-m", "jaxgan.convert", "--from", "pytorch-cyclegan-pix2pix", tmp_path / "latest_net_G_A.pth",
                      tmp_path / "latest_net_G_B.pth", "--arch", "resnet_6blocks", "--workdir", tmp_path / "run")
    assert done.returncode == 0, done.stderr[-2000:]
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (30, 22, 3), np.uint8)).save(photos / "x.png")
    for direction in ("AtoB", "BtoA"):
        out = run_script("infer.py", "--workdir", tmp_path / "run", "--input", photos, "--output",
                         tmp_path / direction, "--direction", direction)
        assert out.returncode == 0, out.stderr[-2000:]
        assert Image.open(tmp_path / direction / "x.png").size == (22, 30)
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "AtoB" / "x.png")),
                              np.asarray(Image.open(tmp_path / "BtoA" / "x.png")))
    _assert_exports_back(tmp_path, "pytorch-cyclegan-pix2pix", b, "--direction", "BtoA")


def test_a_stargan_generator_and_discriminator_import_and_the_generator_exports_back(tmp_path):
    from jaxgan import recipes
    from jaxgan.convert import stargan_config
    from jaxgan.inference import load_generator

    names = ["Black_Hair", "Blond_Hair", "Male"]
    config = stargan_config({"main.0.weight": np.zeros((8, 6, 7, 7), np.float32),
                             **{f"main.{9 + i}.main.0.weight": 0 for i in range(2)}}, "x", names, False, 64)
    recipe = recipes.build(config)
    image, labels = np.zeros((1, 64, 64, 3), np.float32), np.zeros((1, 3), np.float32)
    state, variables = _random_state(recipe.G, torch_layouts.stargan_layout(2), image, labels)
    state = torch_layouts.to_state_dict(variables, torch_layouts.stargan_layout(2), recipe.G, image, labels,
                                        train=False, instance_running_stats=True)
    assert state["main.1.running_var"].shape == (8,) and state["main.0.weight"].shape == (8, 6, 7, 7)
    assert state["main.11.weight"].shape == (32, 16, 4, 4) and list(state)[-1] == "main.17.weight"
    d_state, d_variables = _random_state(recipe.D, torch_layouts.stargan_discriminator_layout(6), image)
    assert list(d_state)[:3] == ["main.0.weight", "main.0.bias", "main.2.weight"]
    assert d_state["conv1.weight"].shape == (1, 256, 3, 3) and d_state["conv2.weight"].shape == (3, 256, 1, 1)
    assert list(d_state)[-2:] == ["conv1.weight", "conv2.weight"]
    torch_file.save(tmp_path / "G.ckpt", state)
    torch_file.save(tmp_path / "D.ckpt", d_state)
    flags = ("--attributes", ",".join(names), "--image-size", 64)
    alone = run_script("-m", "jaxgan.convert", "--from", "stargan", tmp_path / "G.ckpt", *flags, "--workdir",
                       tmp_path / "run")
    assert alone.returncode == 1 and "give the discriminator file" in alone.stderr
    done = run_script("-m", "jaxgan.convert", "--from", "stargan", tmp_path / "G.ckpt", tmp_path / "D.ckpt", *flags,
                      "--workdir", tmp_path / "run")
    assert done.returncode == 0, done.stderr[-2000:]
    _, loaded, _ = load_generator(tmp_path / "run")
    assert_trees_equal(loaded["G"]["params"], variables["params"])
    assert_trees_equal(loaded["D"]["params"], d_variables["params"])
    _assert_exports_back(tmp_path, "stargan", state)


def test_a_basicsr_rrdbnet_imports_under_either_key_naming_upscales_with_infer_and_exports_back(tmp_path):
    from jaxgan import convert
    from jaxgan.errors import ConfigError
    from jaxgan.models.super_resolution import RRDBNet

    net = RRDBNet(scale=2, num_blocks=2, features=8, growth=4)
    lr = np.zeros((1, 8, 8, 3), np.float32)
    state, variables = _random_state(net, torch_layouts.rrdbnet_layout(2), lr)
    assert state["body.1.rdb3.conv5.weight"].shape == (8, 8 + 4 * 4, 3, 3) and state["conv_first.weight"].shape[1] == 12
    renamed = {"conv_body": "trunk_conv", "conv_up1": "upconv1", "conv_up2": "upconv2", "conv_hr": "HRconv"}
    old_names = {renamed.get(k.split(".")[0], k.split(".")[0]) + k[k.index("."):]: v for k, v in state.items()}
    old_names = {k.replace("body.", "RRDB_trunk.", 1).replace(".rdb", ".RDB") if k.startswith("body.") else k: v
                 for k, v in old_names.items()}                                # the ESRGAN repository's names
    assert list(convert.basicsr_state(old_names)) == list(state)
    config = convert.basicsr_config(state, "x2.pth", None, 32)
    assert (config.scale, config.model.arch, config.model.num_blocks, config.model.features, config.model.growth) == \
        (2, "rrdb", 2, 8, 4)
    with pytest.raises(ConfigError, match="x2.pth is a x2 model, not x4"):
        convert.basicsr_config(state, "x2.pth", 4, 32)

    torch_file.save(tmp_path / "x2.pth", {"params_ema": state, "params": {k: v * 0 for k, v in state.items()}})
    done = run_script("-m", "jaxgan.convert", "--from", "basicsr", tmp_path / "x2.pth", "--workdir", tmp_path / "run",
                      "--scale", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    photos = tmp_path / "photos"
    photos.mkdir()
    image = np.random.default_rng(0).integers(0, 255, (30, 22, 3), np.uint8)
    Image.fromarray(image).save(photos / "x.png")
    out = run_script("infer.py", "--workdir", tmp_path / "run", "--input", photos, "--output", tmp_path / "out")
    assert out.returncode == 0, out.stderr[-2000:]
    ours = np.asarray(Image.open(tmp_path / "out" / "x.png"), np.float64)
    expected = np.round(np.clip(np.asarray(net.apply(variables, image[None] / np.float32(255), train=False))[0], 0, 1) * 255)
    assert ours.shape == (60, 44, 3) and np.abs(ours - expected).max() <= 1.0          # params_ema's weights
    _assert_exports_back(tmp_path, "basicsr", state, key="params")
    del state["body.1.rdb2.conv3.bias"]
    torch_file.save(tmp_path / "broken.pth", state)
    broken = run_script("-m", "jaxgan.convert", "--from", "basicsr", tmp_path / "broken.pth", "--workdir", tmp_path / "w")
    assert broken.returncode == 1 and broken.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'broken.pth'}: the file has no body.1.rdb2.conv3.bias (expected by this architecture)"]
