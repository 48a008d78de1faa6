r"""DCGAN-style generator and discriminator for 32x32 and 64x64 images (Radford et al. 2016).

The paper uses DCGAN as the backbone of every experiment (Sec. 4.1.2) and replaces BatchNorm in D
by GroupNorm, because Eq. 6, and hence the constant ratio of Eq. 7, fails under BatchNorm: a
BatchNorm output depends on every sample of the batch, so the gradient of sample i mixes in the
others'. GroupNorm normalises each sample on its own.

In this implementation we:

* keep ``norm="batch"`` in D as an option, for the derivation chapter that shows how BatchNorm
  breaks Eq. 7; one-stage training with it is not exact;
* give D no normalisation in its first layer (as DCGAN does) and GroupNorm with 32 groups (or
  gcd(32, channels) for narrow layers) elsewhere;
* make SNGAN's D spectrally normalised with no other normalisation (Miyato et al. 2018);
* condition CGAN by concatenating a one-hot label to z in G and as constant feature maps to the
  image in D (Mirza & Osindero 2014).

Shapes: ``G(z)`` takes ``z`` of shape ``(B, nz)`` and returns ``(B, C, S, S)`` in [-1, 1];
``D(x)`` returns one logit per sample, ``(B,)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

IMAGE_SIZES = (32, 64)


@dataclass
class ModelConfig:
    image_size: int = 32  # 32 (Fashion-MNIST, CIFAR) or 64 (CelebA, LSUN, FFHQ)
    channels: int = 1  # image channels: 1 for Fashion-MNIST, 3 for colour data sets
    nz: int = 100  # latent dimension of z ~ N(0, I)
    width: int = 64  # ngf = ndf: channels of G's last and D's first hidden layer
    num_classes: int = 0  # > 0 makes G and D conditional (CGAN)
    d_norm: str = "group"  # D's normalisation: "group" (the paper), "batch" or "none"
    spectral_norm: bool = False  # spectrally normalise D's layers (SNGAN)


def check_size(image_size: int) -> int:
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be 32 or 64 (the DCGAN layouts here); got {image_size}")
    return image_size


def _n_up(image_size: int) -> int:
    # 4x4 -> image_size by stride-2 layers: 3 for 32x32, 4 for 64x64
    return {32: 3, 64: 4}[check_size(image_size)]


class Generator(nn.Module):
    """z (B, nz) -> 4x4 -> ... -> image (B, C, S, S); BatchNorm + ReLU, tanh output (DCGAN)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        n = _n_up(cfg.image_size)
        ch = [cfg.width * 2 ** (n - 1 - i) for i in range(n)]  # e.g. 64x64: 512, 256, 128, 64
        nin = cfg.nz + cfg.num_classes
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(nin, ch[0], 4, 1, 0, bias=False),  # (B, nin, 1, 1) -> 4x4
            nn.BatchNorm2d(ch[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in zip(ch[:-1], ch[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(ch[-1], cfg.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(_dcgan_init)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.cfg.num_classes:
            if y is None:
                raise ValueError("this generator is conditional: call G(z, y) with class labels y")
            z = torch.cat([z, F.one_hot(y, self.cfg.num_classes).to(z.dtype)], dim=1)
        return self.net(z[:, :, None, None])  # (B, nz) -> (B, nz, 1, 1)


def _d_norm(kind: str, c: int) -> nn.Module:
    if kind == "group":
        return nn.GroupNorm(math.gcd(32, c), c)  # 32 groups where c allows it
    if kind == "batch":
        return nn.BatchNorm2d(c)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"d_norm must be 'group', 'batch' or 'none'; got {kind!r}")


class Discriminator(nn.Module):
    """image (B, C, S, S) -> logit (B,); strided convs + LeakyReLU(0.2), GroupNorm by default."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        n = _n_up(cfg.image_size)
        sn = _spectral_norm if cfg.spectral_norm else (lambda m: m)
        norm = "none" if cfg.spectral_norm else cfg.d_norm
        ch = [cfg.width * 2**i for i in range(n)]  # e.g. 64x64: 64, 128, 256, 512
        c_in = cfg.channels + cfg.num_classes
        layers: list[nn.Module] = [sn(nn.Conv2d(c_in, ch[0], 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        for a, b in zip(ch[:-1], ch[1:]):
            conv = sn(nn.Conv2d(a, b, 4, 2, 1, bias=norm == "none"))  # a norm layer has its own shift
            layers += [conv, _d_norm(norm, b), nn.LeakyReLU(0.2, True)]
        layers += [sn(nn.Conv2d(ch[-1], 1, 4, 1, 0))]  # 4x4 -> 1x1: the logit
        self.net = nn.Sequential(*layers)
        self.apply(_dcgan_init)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        B, C, H, W = x.shape
        if (C, H) != (self.cfg.channels, self.cfg.image_size) or H != W:
            raise ValueError(
                f"D expects images of shape (B, {self.cfg.channels}, {self.cfg.image_size}, "
                f"{self.cfg.image_size}); got {tuple(x.shape)}: resize the data or set image_size"
            )
        if self.cfg.num_classes:
            if y is None:
                raise ValueError("this discriminator is conditional: call D(x, y) with class labels y")
            # one constant map per class, the label's map set to 1
            maps = F.one_hot(y, self.cfg.num_classes).to(x.dtype)[:, :, None, None].expand(B, -1, H, W)
            x = torch.cat([x, maps], dim=1)
        return self.net(x).reshape(B)


def _dcgan_init(m: nn.Module) -> None:
    # DCGAN's initialisation: N(0, 0.02) weights, norm layers N(1, 0.02) scale and 0 shift
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
        nn.init.normal_(w, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def call(net: nn.Module, inp: Tensor, y: Tensor | None = None) -> Tensor:
    """``net(inp, y)`` with class labels, ``net(inp)`` without: the one way the steps call G and
    D. osgan's models take ``y=None``; a user's unconditional D may take its input alone."""
    return net(inp) if y is None else net(inp, y)


def is_per_sample(D: nn.Module) -> bool:
    """True when D treats every sample independently (no BatchNorm), so real and fake samples may
    share one forward pass and Eq. 7 holds."""
    return not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules())


def build(cfg: ModelConfig) -> tuple[Generator, Discriminator]:
    """A DCGAN generator and discriminator for ``cfg``."""
    return Generator(cfg), Discriminator(cfg)


def models_for(objective, **cfg_kwargs) -> tuple[Generator, Discriminator]:
    """G and D as ``objective`` needs them: spectral norm for SNGAN; for CGAN, ``num_classes``
    must be given."""
    cfg = ModelConfig(**cfg_kwargs)
    if objective.spectral_norm:
        cfg.spectral_norm = True
    if objective.conditional and cfg.num_classes <= 0:
        raise ValueError(f"{objective.name} is conditional: give num_classes > 0")
    if not objective.conditional:
        cfg.num_classes = 0
    return build(cfg)
