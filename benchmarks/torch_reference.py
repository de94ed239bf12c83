"""The PyTorch yardstick `bench.py` times jaxgan against: each recipe's training step in plain PyTorch.

The architectures, losses, optimisers, batch and image sizes are those of the widely used PyTorch code
(the pytorch/examples DCGAN, the pix2pix / CycleGAN reference code, the StarGAN, SRGAN and GAN-CLS papers,
BasicSR's ESRGAN)
at the sizes `bench.py` runs jaxgan at. Needs only torch (no torchvision), so the comparison runs from a
clone after ``pip install torch``:

    python benchmarks/torch_reference.py --model dcgan              # one JSON line per model
    python benchmarks/torch_reference.py --model all --device cuda --compile

A step is one generator update with every discriminator update that goes with it (WGAN and StarGAN:
n_critic = 5), on fixed random batches; ``step_s`` is the median of the timed steps. ``--model inception``
(not in ``all``) is FID's feature extraction instead: pytorch-fid's network to pool3 (its FID blocks, the
same modules), one batch of 299x299 images in eval mode without gradients. CycleGAN's image
pool is left out (it moves no arithmetic). Random weights throughout, SRGAN's VGG19 included: timing only.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

Step = Callable[[], None]


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def lsgan(out: torch.Tensor, target: float) -> torch.Tensor:
    return F.mse_loss(out, torch.full_like(out, target))


def adam(modules: list[nn.Module], lr: float, beta1: float) -> torch.optim.Optimizer:
    return torch.optim.Adam([p for m in modules for p in m.parameters()], lr, betas=(beta1, 0.999))


def update(optimizer: torch.optim.Optimizer, loss: Callable[[], torch.Tensor]) -> None:
    """zero_grad, ``loss()``, backward, step: the loss is built after zero_grad, as the reference codes do
    (under torch.compile the gradient reset then splits G's forward graph from D's loss graph, so D's
    backward does not free what G's update still needs)."""
    optimizer.zero_grad(set_to_none=True)
    loss().backward()
    optimizer.step()


def images(batch: int, size: int, device: torch.device, channels: int = 3) -> torch.Tensor:
    return torch.randn(batch, channels, size, size, device=device).tanh()


# ------------------------------------------------------------------------------------- DCGAN family
def dcgan_generator(latent: int = 100, features: int = 64, channels: int = 3, size: int = 64) -> nn.Sequential:
    """1x1 noise -> transposed 4x4 convs, BN + ReLU, tanh output."""
    stages = size.bit_length() - 3                    # 64 -> 4 upsamplings after the 4x4 projection
    width = features * 2 ** (stages - 1)
    layers: list[nn.Module] = [nn.ConvTranspose2d(latent, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    for _ in range(stages - 1):
        layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU()]
        width //= 2
    return nn.Sequential(*layers, nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh())


def dcgan_body(features: int = 64, channels: int = 3, size: int = 64) -> nn.Sequential:
    """Strided 4x4 convs down to 4x4, LeakyReLU(0.2), BN after all but the first."""
    width = features
    layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
    for _ in range(size.bit_length() - 4):
        layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2)]
        width *= 2
    return nn.Sequential(*layers)


def dcgan_discriminator(features: int = 64, channels: int = 3, size: int = 64) -> nn.Sequential:
    width = features * 2 ** (size.bit_length() - 4)
    return nn.Sequential(dcgan_body(features, channels, size), nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Flatten())


def dcgan(batch: int, size: int, device: torch.device) -> tuple[Step, list[nn.Module]]:
    """Non-saturating GAN loss, Adam 2e-4 (0.5, 0.999); G's update reuses the D update's fakes."""
    G, D = dcgan_generator(size=size).to(device), dcgan_discriminator(size=size).to(device)
    g_opt, d_opt = adam([G], 2e-4, 0.5), adam([D], 2e-4, 0.5)
    real = images(batch, size, device)

    def step() -> None:
        fake = G(torch.randn(batch, 100, 1, 1, device=device))
        update(d_opt, lambda: bce(D(real), 1.0) + bce(D(fake.detach()), 0.0))
        update(g_opt, lambda: bce(D(fake), 1.0))

    return step, [G, D]


def wgan(batch: int, size: int, device: torch.device) -> tuple[Step, list[nn.Module]]:
    """Weight clipping: 5 critic updates (RMSProp 5e-5, clip 0.01), each on fresh noise, per G update."""
    G, D = dcgan_generator(size=size).to(device), dcgan_discriminator(size=size).to(device)
    g_opt, d_opt = torch.optim.RMSprop(G.parameters(), 5e-5), torch.optim.RMSprop(D.parameters(), 5e-5)
    real = images(batch, size, device)

    def noise() -> torch.Tensor:
        return torch.randn(batch, 100, 1, 1, device=device)

    def step() -> None:
        for _ in range(5):
            update(d_opt, lambda: D(G(noise()).detach()).mean() - D(real).mean())
            with torch.no_grad():
                for p in D.parameters():
                    p.clamp_(-0.01, 0.01)
        update(g_opt, lambda: -D(G(noise())).mean())

    return step, [G, D]


# ------------------------------------------------------------------------------------------ pix2pix
class UNetLevel(nn.Module):
    """One level of the pix2pix U-Net: down, the inner levels, up, and the skip concatenation (except at
    the outermost level, which maps to the image)."""

    def __init__(self, outer: int, inner: int, child: nn.Module | None = None, in_channels: int | None = None,
                 outermost: bool = False, dropout: bool = False):
        super().__init__()
        self.outermost = outermost
        down = nn.Conv2d(in_channels or outer, inner, 4, 2, 1, bias=False)
        up_in = inner if child is None else inner * 2
        if outermost:
            layers = [down, child, nn.ReLU(), nn.ConvTranspose2d(up_in, outer, 4, 2, 1), nn.Tanh()]
        else:
            layers = [nn.LeakyReLU(0.2), down]
            if child is not None:
                layers += [nn.BatchNorm2d(inner), child]
            layers += [nn.ReLU(), nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]
            layers += [nn.Dropout(0.5)] if dropout else []
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return y if self.outermost else torch.cat([x, y], 1)


def unet(size: int, features: int = 64) -> nn.Module:
    """The 256x256 U-Net has 8 downsamplings (the innermost at 1x1); the three below the top 512-wide
    level use dropout."""
    level = UNetLevel(features * 8, features * 8)
    for _ in range(size.bit_length() - 6):
        level = UNetLevel(features * 8, features * 8, level, dropout=True)
    for width in (4, 2, 1):
        level = UNetLevel(features * width, features * width * 2, level)
    return UNetLevel(3, features, level, in_channels=3, outermost=True)


def patch_discriminator(in_channels: int, norm: type[nn.Module], features: int = 64) -> nn.Sequential:
    """The 70x70 PatchGAN: three stride-2 4x4 convs, one stride-1, then a 1-channel map."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, features, 4, 2, 1), nn.LeakyReLU(0.2)]
    width = features
    for mult, stride in ((2, 2), (4, 2), (8, 1)):
        layers += [nn.Conv2d(width, features * mult, 4, stride, 1, bias=False), norm(features * mult), nn.LeakyReLU(0.2)]
        width = features * mult
    return nn.Sequential(*layers, nn.Conv2d(width, 1, 4, 1, 1))


def pix2pix(batch: int, size: int, device: torch.device) -> tuple[Step, list[nn.Module]]:
    """Conditional GAN on (input, output) pairs, + 100 x L1; D's loss halved."""
    G, D = unet(size).to(device), patch_discriminator(6, nn.BatchNorm2d).to(device)
    g_opt, d_opt = adam([G], 2e-4, 0.5), adam([D], 2e-4, 0.5)
    a, b = images(batch, size, device), images(batch, size, device)

    def step() -> None:
        fake = G(a)
        update(d_opt, lambda: 0.5 * (bce(D(torch.cat([a, fake.detach()], 1)), 0.0) + bce(D(torch.cat([a, b], 1)), 1.0)))
        update(g_opt, lambda: bce(D(torch.cat([a, fake], 1)), 1.0) + 100.0 * F.l1_loss(fake, b))

    return step, [G, D]


# ----------------------------------------------------------------------------------------- CycleGAN
class Residual(nn.Module):
    """x + (reflect-pad, 3x3 conv, norm, ReLU, reflect-pad, 3x3 conv, norm)(x)."""

    def __init__(self, width: int, norm: Callable[[int], nn.Module]):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3), norm(width), nn.ReLU(),
                                  nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3), norm(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet_generator(blocks: int, features: int = 64) -> nn.Sequential:
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(3, features, 7), nn.InstanceNorm2d(features), nn.ReLU()]
    width = features
    for _ in range(2):
        layers += [nn.Conv2d(width, width * 2, 3, 2, 1), nn.InstanceNorm2d(width * 2), nn.ReLU()]
        width *= 2
    layers += [Residual(width, nn.InstanceNorm2d) for _ in range(blocks)]
    for _ in range(2):
        layers += [nn.ConvTranspose2d(width, width // 2, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(width // 2),
                   nn.ReLU()]
        width //= 2
    return nn.Sequential(*layers, nn.ReflectionPad2d(3), nn.Conv2d(width, 3, 7), nn.Tanh())


def cyclegan(batch: int, size: int, device: torch.device) -> tuple[Step, list[nn.Module]]:
    """LSGAN losses, cycle 10 and identity 5 (0.5 x 10) L1 terms; one Adam for both G, one for both D."""
    blocks = 9 if size >= 256 else 6
    G_ab, G_ba = (resnet_generator(blocks).to(device) for _ in range(2))
    D_a, D_b = (patch_discriminator(3, nn.InstanceNorm2d).to(device) for _ in range(2))
    g_opt, d_opt = adam([G_ab, G_ba], 2e-4, 0.5), adam([D_a, D_b], 2e-4, 0.5)
    a, b = images(batch, size, device), images(batch, size, device)

    def step() -> None:
        fake_b, fake_a = G_ab(a), G_ba(b)
        cycle = F.l1_loss(G_ba(fake_b), a) + F.l1_loss(G_ab(fake_a), b)
        identity = F.l1_loss(G_ab(b), b) + F.l1_loss(G_ba(a), a)
        update(g_opt, lambda: lsgan(D_b(fake_b), 1.0) + lsgan(D_a(fake_a), 1.0) + 10.0 * cycle + 5.0 * identity)
        update(d_opt, lambda: 0.5 * (lsgan(D_a(a), 1.0) + lsgan(D_a(fake_a.detach()), 0.0))
               + 0.5 * (lsgan(D_b(b), 1.0) + lsgan(D_b(fake_b.detach()), 0.0)))

    return step, [G_ab, G_ba, D_a, D_b]


# ------------------------------------------------------------------------------------------ StarGAN
def affine_instance_norm(width: int) -> nn.Module:
    return nn.InstanceNorm2d(width, affine=True)


def stargan_generator(domains: int, features: int = 64, blocks: int = 6) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(3 + domains, features, 7, 1, 3, bias=False), affine_instance_norm(features),
                               nn.ReLU()]
    width = features
    for _ in range(2):
        layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), affine_instance_norm(width * 2), nn.ReLU()]
        width *= 2
    layers += [Residual(width, affine_instance_norm) for _ in range(blocks)]
    for _ in range(2):
        layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), affine_instance_norm(width // 2), nn.ReLU()]
        width //= 2
    return nn.Sequential(*layers, nn.Conv2d(width, 3, 7, 1, 3, bias=False), nn.Tanh())


class StarGANDiscriminator(nn.Module):
    """Six stride-2 4x4 convs with LeakyReLU(0.01), then two heads: a real/fake patch map and the domain
    logits (a conv over the whole final map)."""

    def __init__(self, size: int, domains: int, features: int = 64, layers: int = 6):
        super().__init__()
        body: list[nn.Module] = []
        width, in_channels = features, 3
        for _ in range(layers):
            body += [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.01)]
            in_channels, width = width, width * 2
        self.body = nn.Sequential(*body)
        self.source = nn.Conv2d(in_channels, 1, 3, 1, 1, bias=False)
        self.domain = nn.Conv2d(in_channels, domains, size >> layers, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.source(h), self.domain(h).flatten(1)


def stargan(batch: int, size: int, device: torch.device) -> tuple[Step, list[nn.Module]]:
    """WGAN-GP (weight 10) + domain classification + 10 x reconstruction L1; 5 critic updates per G update,
    the targets a shuffle of the batch's own labels; Adam 1e-4 (0.5, 0.999)."""
    domains = 5
    G, D = stargan_generator(domains).to(device), StarGANDiscriminator(size, domains).to(device)
    g_opt, d_opt = adam([G], 1e-4, 0.5), adam([D], 1e-4, 0.5)
    x = images(batch, size, device)
    labels = torch.randint(0, 2, (batch, domains), device=device).float()

    def translate(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        planes = target[:, :, None, None].expand(-1, -1, image.shape[2], image.shape[3])
        return G(torch.cat([image, planes], 1))

    def gradient_penalty(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        mix = torch.rand(batch, 1, 1, 1, device=device)
        between = (mix * real + (1 - mix) * fake).requires_grad_(True)
        grad = torch.autograd.grad(D(between)[0].sum(), between, create_graph=True)[0]
        return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

    def step() -> None:
        target = labels[torch.randperm(batch, device=device)]

        def critic_loss() -> torch.Tensor:
            real_source, real_domain = D(x)
            fake = translate(x, target).detach()
            return (-real_source.mean() + D(fake)[0].mean() + F.binary_cross_entropy_with_logits(real_domain, labels)
                    + 10.0 * gradient_penalty(x, fake))

        def generator_loss() -> torch.Tensor:
            fake = translate(x, target)
            fake_source, fake_domain = D(fake)
            return (-fake_source.mean() + F.binary_cross_entropy_with_logits(fake_domain, target)
                    + 10.0 * F.l1_loss(translate(fake, labels), x))

        for _ in range(5):
            update(d_opt, critic_loss)
        update(g_opt, generator_loss)

    return step, [G, D]


# -------------------------------------------------------------------------------------------- SRGAN
class SRResNet(nn.Module):
    """9x9 head + PReLU; 16 residual blocks (conv, BN, PReLU, conv, BN) and conv + BN under a long skip;
    two x2 sub-pixel stages (conv to 4x width, pixel shuffle, PReLU); 9x9 conv to RGB."""

    def __init__(self, blocks: int = 16, width: int = 64):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(3, width, 9, 1, 4), nn.PReLU())
        residual = [_SRBlock(width) for _ in range(blocks)]
        self.body = nn.Sequential(*residual, nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width))
        upsample = [layer for _ in range(2)
                    for layer in (nn.Conv2d(width, width * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU())]
        self.tail = nn.Sequential(*upsample, nn.Conv2d(width, 3, 9, 1, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        return self.tail(h + self.body(h))


class _SRBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width), nn.PReLU(),
                                  nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def srgan_discriminator(size: int) -> nn.Sequential:
    """Eight 3x3 convs (64 to 512 wide, every other one stride 2), BN after all but the first, then
    Dense 1024 and Dense 1."""
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, 1, 1), nn.LeakyReLU(0.2)]
    width = 64
    for out, stride in ((64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2)):
        layers += [nn.Conv2d(width, out, 3, stride, 1), nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
        width = out
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512 * (size // 16) ** 2, 1024), nn.LeakyReLU(0.2),
                         nn.Linear(1024, 1))


def vgg19_to_relu5_4() -> nn.Sequential:
    """VGG19's convolutions up to relu5_4 (SRGAN's VGG54 content loss); frozen."""
    layers: list[nn.Module] = []
    width = 3
    for stage, (out, convs) in enumerate(((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))):
        if stage:
            layers.append(nn.MaxPool2d(2))
        for _ in range(convs):
            layers += [nn.Conv2d(width, out, 3, 1, 1), nn.ReLU()]
            width = out
    vgg = nn.Sequential(*layers)
    for p in vgg.parameters():
        p.requires_grad_(False)
    return vgg


def srgan(batch: int, size: int, device: torch.device) -> tuple[Step, list[nn.Module]]:
    """The GAN phase: D on HR vs SR; G on the VGG54 feature MSE + 1e-3 x the adversarial loss; Adam 1e-4
    (0.9, 0.999); ``size`` is the HR side, the LR input a quarter of it."""
    G, D, vgg = SRResNet().to(device), srgan_discriminator(size).to(device), vgg19_to_relu5_4().to(device)
    g_opt, d_opt = adam([G], 1e-4, 0.9), adam([D], 1e-4, 0.9)
    hr = images(batch, size, device)
    lr = F.avg_pool2d(hr, 4)

    def step() -> None:
        sr = G(lr)
        update(d_opt, lambda: bce(D(hr), 1.0) + bce(D(sr.detach()), 0.0))
        update(g_opt, lambda: F.mse_loss(vgg(sr), vgg(hr)) + 1e-3 * bce(D(sr), 1.0))

    return step, [G, D, vgg]


# ------------------------------------------------------------------------------------------- ESRGAN
class DenseBlock(nn.Module):
    """BasicSR's ResidualDenseBlock: five 3x3 convs on the concatenation of everything before."""

    def __init__(self, width: int = 64, growth: int = 32):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(width + i * growth, growth if i < 4 else width, 3, 1, 1) for i in range(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen = [x]
        for conv in self.convs[:4]:
            seen.append(F.leaky_relu(conv(torch.cat(seen, 1)), 0.2))
        return x + 0.2 * self.convs[4](torch.cat(seen, 1))


class RRDBNet(nn.Module):
    """BasicSR's RRDBNet x4: conv, 23 RRDBs (three dense blocks, x 0.2 residual), conv, long skip, two
    nearest x2 + conv + LeakyReLU stages, conv + LeakyReLU, conv."""

    def __init__(self, blocks: int = 23, width: int = 64, growth: int = 32):
        super().__init__()
        self.head = nn.Conv2d(3, width, 3, 1, 1)
        self.body = nn.ModuleList(nn.ModuleList(DenseBlock(width, growth) for _ in range(3)) for _ in range(blocks))
        self.body_conv = nn.Conv2d(width, width, 3, 1, 1)
        self.ups = nn.ModuleList(nn.Conv2d(width, width, 3, 1, 1) for _ in range(2))
        self.hr, self.last = nn.Conv2d(width, width, 3, 1, 1), nn.Conv2d(width, 3, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(x)
        h = feat
        for rrdb in self.body:
            inner = h
            for dense in rrdb:
                inner = dense(inner)
            h = h + 0.2 * inner
        feat = feat + self.body_conv(h)
        for conv in self.ups:
            feat = F.leaky_relu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        return self.last(F.leaky_relu(self.hr(feat), 0.2))


def vgg_style_discriminator(size: int, width: int = 64) -> nn.Sequential:
    """BasicSR's VGGStyleDiscriminator: (3x3, 4x4 stride 2) conv pairs to 4x4 (BN after all but the
    first conv), dense 100, dense 1."""
    layers: list[nn.Module] = [nn.Conv2d(3, width, 3, 1, 1), nn.LeakyReLU(0.2)]
    cin, side = width, size
    for i, out in enumerate([width, 2 * width, 4 * width, 8 * width, 8 * width]):
        if i:
            layers += [nn.Conv2d(cin, out, 3, 1, 1, bias=False), nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(out, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
        cin, side = out, side // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * side * side, 100), nn.LeakyReLU(0.2), nn.Linear(100, 1))


def esrgan(batch: int, size: int, device: torch.device) -> tuple[Step, list[nn.Module]]:
    """BasicSR's ESRGAN step: D on the relativistic average loss (its two halves' backward passes); G on
    1e-2 x L1 + the L1 of VGG conv5_4 features before the ReLU + 5e-3 x RaGAN; Adam 1e-4 (0.9, 0.99)."""
    G, D = RRDBNet().to(device), vgg_style_discriminator(size).to(device)
    vgg = vgg19_to_relu5_4()[:-1].to(device)
    g_opt, d_opt = adam([G], 1e-4, 0.9), adam([D], 1e-4, 0.9)
    hr = images(batch, size, device)
    lr = F.avg_pool2d(hr, 4)

    def step() -> None:
        sr = G(lr)
        real_d = D(hr).detach()
        fake_g = D(sr)
        gan = 0.5 * (bce(real_d - fake_g.mean(), 0.0) + bce(fake_g - real_d.mean(), 1.0))
        g_loss = 1e-2 * F.l1_loss(sr, hr) + F.l1_loss(vgg(sr), vgg(hr).detach()) + 5e-3 * gan
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
        d_opt.zero_grad()
        fake_d = D(sr.detach()).detach()
        real_d = D(hr)
        (0.5 * bce(real_d - fake_d.mean(), 1.0)).backward()
        fake_d = D(sr.detach())
        (0.5 * bce(fake_d - real_d.detach().mean(), 0.0)).backward()
        d_opt.step()

    return step, [G, D, vgg]


#: the generator each super-resolution model's x4 inference runs
UPSCALERS = {"srgan": SRResNet, "esrgan": RRDBNet}


def upscale(model: str, tile: int, device: torch.device) -> Step:
    """x4 inference of ``model``'s generator on one LR ``tile`` x ``tile`` image (no gradients)."""
    G, x = UPSCALERS[model]().to(device).eval(), torch.randn(1, 3, tile, tile, device=device)

    def run() -> None:
        with torch.no_grad():
            G(x)

    return run


# ------------------------------------------------------------------------------------ text-to-image
class TextGenerator(nn.Module):
    """GAN-CLS's G: the sentence embedding projected to 128 (LeakyReLU 0.2), concatenated with z, decoded
    by the DCGAN generator."""

    def __init__(self, embedding: int = 1024, projected: int = 128, latent: int = 100):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(embedding, projected), nn.LeakyReLU(0.2))
        self.decode = dcgan_generator(latent + projected)

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.decode(torch.cat([z, self.project(text)], 1)[:, :, None, None])


class TextDiscriminator(nn.Module):
    """Matching-aware D: the DCGAN body to 4x4, the projected embedding tiled over it, 1x1 conv + BN +
    LeakyReLU, a 4x4 conv to one logit."""

    def __init__(self, embedding: int = 1024, projected: int = 128, features: int = 64):
        super().__init__()
        self.body = dcgan_body(features)
        self.project = nn.Sequential(nn.Linear(embedding, projected), nn.LeakyReLU(0.2))
        self.head = nn.Sequential(nn.Conv2d(features * 8 + projected, features * 8, 1), nn.BatchNorm2d(features * 8),
                                  nn.LeakyReLU(0.2), nn.Conv2d(features * 8, 1, 4), nn.Flatten())

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        h = self.body(image)
        tiled = self.project(text)[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
        return self.head(torch.cat([h, tiled], 1))


def text2img(batch: int, size: int, device: torch.device) -> tuple[Step, list[nn.Module]]:
    """GAN-CLS (real + matching text: real; real + mismatching and fake + matching: fake, weights 1/2) and
    GAN-INT (G also on the mean of two captions' embeddings), 1024-d pre-computed embeddings, 64x64."""
    del size                                            # the paper's 64x64
    G, D = TextGenerator().to(device), TextDiscriminator().to(device)
    g_opt, d_opt = adam([G], 2e-4, 0.5), adam([D], 2e-4, 0.5)
    real, text = images(batch, 64, device), torch.randn(batch, 1024, device=device)

    def step() -> None:
        mismatched = text.roll(1, 0)
        fake = G(torch.randn(batch, 100, device=device), text)
        update(d_opt, lambda: bce(D(real, text), 1.0)
               + 0.5 * (bce(D(real, mismatched), 0.0) + bce(D(fake.detach(), text), 0.0)))
        between = 0.5 * (text + mismatched)
        interpolated = G(torch.randn(batch, 100, device=device), between)
        update(g_opt, lambda: bce(D(fake, text), 1.0) + bce(D(interpolated, between), 1.0))

    return step, [G, D]


class FIDConv(nn.Module):
    """pytorch-fid's (torchvision's) BasicConv2d: convolution without bias, batch norm (eps 1e-3), ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int] = 1, stride: int = 1,
                 padding: int | tuple[int, int] = 0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _fid_pool(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class FIDInceptionA(nn.Module):
    def __init__(self, cin: int, pool: int):
        super().__init__()
        self.b1, self.b5 = FIDConv(cin, 64), nn.Sequential(FIDConv(cin, 48), FIDConv(48, 64, 5, padding=2))
        self.b3 = nn.Sequential(FIDConv(cin, 64), FIDConv(64, 96, 3, padding=1), FIDConv(96, 96, 3, padding=1))
        self.pool = FIDConv(cin, pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b5(x), self.b3(x), self.pool(_fid_pool(x))], 1)


class FIDInceptionB(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.b3 = FIDConv(cin, 384, 3, 2)
        self.d = nn.Sequential(FIDConv(cin, 64), FIDConv(64, 96, 3, padding=1), FIDConv(96, 96, 3, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b3(x), self.d(x), F.max_pool2d(x, 3, 2)], 1)


class FIDInceptionC(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        row, column = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        self.b1 = FIDConv(768, 192)
        self.b7 = nn.Sequential(FIDConv(768, c), FIDConv(c, c, **row), FIDConv(c, 192, **column))
        self.d = nn.Sequential(FIDConv(768, c), FIDConv(c, c, **column), FIDConv(c, c, **row), FIDConv(c, c, **column),
                               FIDConv(c, 192, **row))
        self.pool = FIDConv(768, 192)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b7(x), self.d(x), self.pool(_fid_pool(x))], 1)


class FIDInceptionD(nn.Module):
    def __init__(self):
        super().__init__()
        self.b3 = nn.Sequential(FIDConv(768, 192), FIDConv(192, 320, 3, 2))
        self.b7 = nn.Sequential(FIDConv(768, 192), FIDConv(192, 192, (1, 7), padding=(0, 3)),
                                FIDConv(192, 192, (7, 1), padding=(3, 0)), FIDConv(192, 192, 3, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b3(x), self.b7(x), F.max_pool2d(x, 3, 2)], 1)


class FIDInceptionE(nn.Module):
    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.b1, self.b3, self.d1 = FIDConv(cin, 320), FIDConv(cin, 384), FIDConv(cin, 448)
        self.b3a, self.b3b = FIDConv(384, 384, (1, 3), padding=(0, 1)), FIDConv(384, 384, (3, 1), padding=(1, 0))
        self.d2 = FIDConv(448, 384, 3, padding=1)
        self.d3a, self.d3b = FIDConv(384, 384, (1, 3), padding=(0, 1)), FIDConv(384, 384, (3, 1), padding=(1, 0))
        self.pool = FIDConv(cin, 192)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3, d = self.b3(x), self.d2(self.d1(x))
        pooled = F.max_pool2d(x, 3, 1, 1) if self.max_pool else _fid_pool(x)
        return torch.cat([self.b1(x), self.b3a(b3), self.b3b(b3), self.d3a(d), self.d3b(d), self.pool(pooled)], 1)


def fid_inception() -> nn.Sequential:
    """pytorch-fid's ``InceptionV3`` up to pool3 (its FID blocks), on 299x299 inputs in [-1, 1]."""
    return nn.Sequential(
        FIDConv(3, 32, 3, 2), FIDConv(32, 32, 3), FIDConv(32, 64, 3, padding=1), nn.MaxPool2d(3, 2),
        FIDConv(64, 80), FIDConv(80, 192, 3), nn.MaxPool2d(3, 2),
        FIDInceptionA(192, 32), FIDInceptionA(256, 64), FIDInceptionA(288, 64), FIDInceptionB(288),
        FIDInceptionC(128), FIDInceptionC(160), FIDInceptionC(160), FIDInceptionC(192), FIDInceptionD(),
        FIDInceptionE(1280, False), FIDInceptionE(2048, True), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def inception(batch: int, size: int, device: torch.device) -> tuple[Step, list[nn.Module]]:
    """FID feature extraction: pool3 features of a batch, in eval mode without gradients."""
    model = fid_inception().to(device).eval()
    x = images(batch, size, device)

    def step() -> None:
        with torch.no_grad():
            model(x)
    return step, []


# name -> (builder, the reference size, batch)
MODELS = {"dcgan": (dcgan, 64, 64), "wgan": (wgan, 64, 64), "pix2pix": (pix2pix, 256, 1),
          "cyclegan": (cyclegan, 256, 1), "stargan": (stargan, 128, 16), "srgan": (srgan, 96, 16),
          "esrgan": (esrgan, 128, 16),
          "text2img": (text2img, 64, 64), "inception": (inception, 299, 200)}


def median_seconds(run: Step, device: torch.device, warmup: int, steps: int) -> tuple[float, float]:
    """``(warm-up seconds, median seconds of the timed calls)``, synchronising CUDA after each call."""
    def synced() -> None:
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    t0 = time.perf_counter()
    for _ in range(warmup):
        synced()
    warm = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        synced()
        times.append(time.perf_counter() - t)
    return warm, statistics.median(times)


def bench(name: str, size: int, batch: int, device: torch.device, compiled: bool, warmup: int, steps: int) -> dict:
    build = MODELS[name][0]
    torch.manual_seed(0)
    step, modules = build(batch, size, device)
    for module in modules:
        module.train()                                  # VGG19 has no layer that train mode changes
    warm, median = median_seconds(torch.compile(step) if compiled else step, device, warmup, steps)
    return {"framework": "torch", "model": name, "device": str(device), "size": size, "batch": batch,
            "compile": compiled, "warmup_s": round(warm, 3), "step_s": round(median, 5),
            "images_per_s": round(batch / median, 2), "threads": torch.get_num_threads()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="all", choices=["all", *MODELS])
    p.add_argument("--size", type=int, default=None, help="image side (SRGAN: the HR side); default: the reference's")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--compile", action="store_true", help="wrap the step in torch.compile")
    p.add_argument("--upscale-tile", type=int, default=0,
                   help="instead of training steps: x4 inference of --model's generator (srgan: SRResNet, esrgan: "
                        "RRDBNet) on one LR tile this wide (output MP/s)")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if args.upscale_tile:
        _, median = median_seconds(upscale(args.model, args.upscale_tile, device), device, args.warmup, args.steps)
        print(json.dumps({"framework": "torch", "model": f"{args.model}_x4", "upscale_mp_s":
                          round(16 * args.upscale_tile ** 2 / 1e6 / median, 3)}))
        return
    for name in [m for m in MODELS if m != "inception"] if args.model == "all" else [args.model]:
        _, size, batch = MODELS[name]
        print(json.dumps(bench(name, args.size or size, args.batch or batch, device, args.compile,
                               args.warmup, args.steps)), flush=True)


if __name__ == "__main__":
    main()
