"""Imported PyTorch generators give the reference code's outputs: a one-time check with torch installed.

    python benchmarks/check_torch_generators.py --pix2pix-code ~/pytorch-CycleGAN-and-pix2pix/models/networks.py \\
        --stargan-code ~/stargan/model.py --basicsr-code ~/BasicSR/basicsr/archs

For each reference architecture (the pix2pix / CycleGAN code's ``define_G``: resnet_9blocks and
resnet_6blocks with instance norm, unet_256 and unet_128 with batch norm, a resnet with batch norm and
dropout; StarGAN's ``Generator`` and ``Discriminator``; BasicSR's ``RRDBNet`` with 23 and 6 blocks, x4 and
x2, and ``MSRResNet``, on [0, 1] images), with random weights (and random batch-norm
running statistics): the network's ``state_dict`` is saved with ``torch.save``, imported with
``python -m jaxgan.convert``, run through jaxgan on a random input and compared with PyTorch; then
exported back and loaded into a fresh PyTorch network with ``load_state_dict(strict=True)``. Prints the
largest differences (outputs in [-1, 1]; BasicSR's in [0, 1]), and for BasicSR the whole image through
``infer.py`` (tiled) against the untiled PyTorch output, in levels of 255. Without torch it says so and
exits 0. BasicSR's ``arch_util`` imports torchvision and its compiled ops: the check stands in empty
modules for those (the architectures used never touch them).
"""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _module(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _convert(*args) -> None:
    done = subprocess.run([sys.executable, "-m", "jaxgan.convert", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"jaxgan.convert {' '.join(map(str, args))} failed:\n{done.stderr[-2000:]}")


def _randomise_running_stats(net, torch) -> None:
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0.0, 0.2)
            m.running_var.uniform_(0.5, 1.5)


def _same_tensors(a: dict, b: dict) -> float:
    if list(a) != list(b):
        raise SystemExit(f"exported keys differ: {sorted(set(a) ^ set(b))[:3]}")
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def check_pix2pix(code: str, work: Path, torch) -> list[str]:
    from jaxgan.inference import Predictor, load_generator

    ref = _module(code, "reference_networks")
    cases = [("resnet_9blocks", "instance", False, 128), ("resnet_6blocks", "instance", False, 96),
             ("unet_256", "batch", True, 256), ("unet_128", "batch", True, 128), ("resnet_6blocks", "batch", True, 64)]
    lines = []
    for arch, norm, dropout, size in cases:
        torch.manual_seed(0)
        net = ref.define_G(3, 3, 64, arch, norm, dropout)
        _randomise_running_stats(net, torch)
        name = f"{arch}_{norm}{'_dropout' if dropout else ''}"
        torch.save(net.state_dict(), work / f"{name}.pth")
        x = torch.rand(1, 3, size, size) * 2 - 1
        x_nhwc = x.permute(0, 2, 3, 1).numpy()
        _convert("--from", "pytorch-cyclegan-pix2pix", work / f"{name}.pth", "--arch", arch, "--norm", norm,
                 "--eval", "--workdir", work / name)
        recipe, variables, _ = load_generator(work / name)
        net.eval()
        with torch.no_grad():
            theirs = net(x).permute(0, 2, 3, 1).numpy()
        eval_diff = float(np.abs(Predictor(recipe, variables)(x_nhwc) - theirs).max())
        # the reference test.py's default: the test batch's statistics (dropout off here to compare)
        net.train()
        for m in net.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
        with torch.no_grad():
            theirs = net(x).permute(0, 2, 3, 1).numpy()
        ours, _ = recipe.G.clone(dropout=0.0).apply(variables["G"], x_nhwc, train=True, mutable=["batch_stats"])
        batch_diff = float(np.abs(np.asarray(ours) - theirs).max())
        _convert("--to", "pytorch-cyclegan-pix2pix", "--workdir", work / name, work / f"{name}_back.pth")
        fresh = ref.define_G(3, 3, 64, arch, norm, dropout)
        fresh.load_state_dict(torch.load(work / f"{name}_back.pth"), strict=True)
        back = _same_tensors(torch.load(work / f"{name}.pth"), fresh.state_dict())
        lines.append(f"| {name} | {size} | {eval_diff:.1e} | {batch_diff:.1e} | {back:.1e} |")
    return lines


def check_stargan(code: str, work: Path, torch) -> list[str]:
    import jax.numpy as jnp

    from jaxgan.inference import load_generator

    ref = _module(code, "reference_stargan")
    torch.manual_seed(0)
    names = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
    g, d = ref.Generator(64, len(names), 6), ref.Discriminator(128, 64, len(names), 6)
    torch.save(g.state_dict(), work / "G.ckpt")
    torch.save(d.state_dict(), work / "D.ckpt")
    _convert("--from", "stargan", work / "G.ckpt", work / "D.ckpt", "--attributes", ",".join(names),
             "--workdir", work / "stargan")
    recipe, variables, _ = load_generator(work / "stargan")
    x, c = torch.rand(2, 3, 128, 128) * 2 - 1, torch.tensor([[1.0, 0, 0, 1, 0], [0, 1.0, 0, 0, 1]])
    with torch.no_grad():                 # train mode: instance statistics, as StarGAN's solver tests
        theirs = g(x, c).permute(0, 2, 3, 1).numpy()
        src, cls = d(x)
    x_nhwc = x.permute(0, 2, 3, 1).numpy()
    g_diff = float(np.abs(np.asarray(recipe.translate(variables, x_nhwc, jnp.asarray(c.numpy()))) - theirs).max())
    patches, domains = recipe.D.apply(variables["D"], x_nhwc, train=False)
    d_diff = max(float(np.abs(np.asarray(patches) - src[:, 0].numpy()).max()),
                 float(np.abs(np.asarray(domains) - cls.numpy()).max()))
    _convert("--to", "stargan", "--workdir", work / "stargan", work / "G_back.ckpt")
    fresh = ref.Generator(64, len(names), 6)
    fresh.load_state_dict(torch.load(work / "G_back.ckpt"), strict=True)
    back = _same_tensors({k: v for k, v in g.state_dict().items() if "running" not in k and "tracked" not in k},
                         {k: v for k, v in fresh.state_dict().items() if "running" not in k and "tracked" not in k})
    return [f"| stargan G (5 attributes) | 128 | {g_diff:.1e} (instance statistics) | | {back:.1e} |",
            f"| stargan D | 128 | {d_diff:.1e} | | |"]


def _basicsr_archs(folder: str):
    """``(rrdbnet_arch, srresnet_arch)`` of a BasicSR checkout's ``basicsr/archs``, loaded without the rest
    of BasicSR (its registry, logger, deformable-conv ops and torchvision stood in for)."""
    import types

    class Registry:
        def register(self, *args, **kwargs):
            return lambda obj: obj

    stubs = {"basicsr": {}, "basicsr.archs": {"__path__": [folder]}, "basicsr.utils": {"get_root_logger": print},
             "basicsr.utils.registry": {"ARCH_REGISTRY": Registry()},
             "basicsr.ops": {}, "basicsr.ops.dcn": {"ModulatedDeformConvPack": object, "modulated_deform_conv": None}}
    if importlib.util.find_spec("torchvision") is None:
        stubs["torchvision"] = {}
    for name, attrs in stubs.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        sys.modules.setdefault(name, module)
    sys.modules["basicsr.archs.arch_util"] = _module(f"{folder}/arch_util.py", "basicsr.archs.arch_util")
    return (_module(f"{folder}/rrdbnet_arch.py", "basicsr.archs.rrdbnet_arch"),
            _module(f"{folder}/srresnet_arch.py", "basicsr.archs.srresnet_arch"))


def check_basicsr(folder: str, work: Path, torch) -> list[str]:
    from PIL import Image

    from jaxgan.inference import Predictor, load_generator

    rrdbnet, srresnet = _basicsr_archs(folder)
    cases = [("RRDBNet 23 blocks x4", lambda: rrdbnet.RRDBNet(3, 3, 4, 64, 23, 32), 4, 48, "params_ema"),
             ("RRDBNet 6 blocks x4 (anime_6B)", lambda: rrdbnet.RRDBNet(3, 3, 4, 64, 6, 32), 4, 64, "params_ema"),
             ("RRDBNet 23 blocks x2 (x2plus)", lambda: rrdbnet.RRDBNet(3, 3, 2, 64, 23, 32), 2, 48, "params_ema"),
             ("MSRResNet x4", lambda: srresnet.MSRResNet(3, 3, 64, 16, 4), 4, 64, "params")]
    lines = []
    rng = np.random.default_rng(0)
    for i, (name, build, scale, size, key) in enumerate(cases):
        torch.manual_seed(i)
        net = build().eval()
        torch.save({key: net.state_dict()}, work / f"basicsr{i}.pth")
        _convert("--from", "basicsr", work / f"basicsr{i}.pth", "--workdir", work / f"basicsr{i}")
        recipe, variables, _ = load_generator(work / f"basicsr{i}")
        x = torch.rand(1, 3, size, size)
        with torch.no_grad():
            theirs = net(x).permute(0, 2, 3, 1).numpy()
        ours = (Predictor(recipe, variables)(x.permute(0, 2, 3, 1).numpy() * 2 - 1) + 1) / 2
        inside = np.abs(np.clip(ours, 0, 1) - np.clip(theirs, 0, 1)).max()
        # a whole photo-sized image through infer.py, tiled, against PyTorch on it untiled
        image = rng.integers(0, 256, (150, 200, 3), np.uint8)
        (work / "in").mkdir(exist_ok=True)
        Image.fromarray(image).save(work / "in" / "x.png")
        done = subprocess.run([sys.executable, "infer.py", "--workdir", str(work / f"basicsr{i}"), "--input",
                               str(work / "in"), "--output", str(work / f"out{i}"), "--tile", "96"], cwd=ROOT,
                              capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"infer.py failed:\n{done.stderr[-2000:]}")
        tiled = np.asarray(Image.open(work / f"out{i}" / "x.png"), np.float64)
        with torch.no_grad():
            whole = net(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255).clamp(0, 1)
        levels = np.abs(tiled - np.round(whole[0].permute(1, 2, 0).numpy() * 255)).max()
        _convert("--to", "basicsr", "--workdir", work / f"basicsr{i}", work / f"basicsr{i}_back.pth")
        fresh = build()
        fresh.load_state_dict(torch.load(work / f"basicsr{i}_back.pth")["params"], strict=True)
        back = _same_tensors(net.state_dict(), fresh.state_dict())
        lines.append(f"| {name} | {size} | {inside:.1e} (outputs in [0, 1]) | tiled 200x150 via infer.py: "
                     f"{levels:.0f} levels | {back:.1e} |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pix2pix-code", help="the pytorch-CycleGAN-and-pix2pix code's models/networks.py")
    p.add_argument("--stargan-code", help="StarGAN's model.py")
    p.add_argument("--basicsr-code", help="a BasicSR checkout's basicsr/archs folder")
    args = p.parse_args()
    if importlib.util.find_spec("torch") is None:
        print("torch is not installed: nothing to compare against (pip install torch)")
        return
    import torch

    torch.set_num_threads(2)
    lines = ["| network | size | max |jaxgan - torch|, eval mode | batch statistics | export -> load_state_dict |",
             "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        if args.pix2pix_code:
            lines += check_pix2pix(args.pix2pix_code, Path(tmp), torch)
        if args.stargan_code:
            lines += check_stargan(args.stargan_code, Path(tmp), torch)
        if args.basicsr_code:
            lines += check_basicsr(args.basicsr_code, Path(tmp), torch)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
