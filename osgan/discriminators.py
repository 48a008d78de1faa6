r"""Discriminators users bring, beside DCGAN's: a PatchGAN and layers that mix the batch.

Eq. 6-7 (Sec. 3.1.3) need a D that treats samples independently and gives one output per image.
Users' discriminators often do neither:

* a **PatchGAN** (Isola et al. 2017) scores every patch, ``D(x)`` of shape ``(B, 1, H, W)``:
  :math:`\gamma` is then a ratio per output, and varies inside an image for asymmetric objectives;
* **minibatch standard deviation** (Karras et al. 2018, ProGAN/StyleGAN) appends the batch's
  feature spread as a channel, so sample i's output depends on every sample;
* **attention across the batch** (here: each image attends to the pooled features of the others)
  mixes samples the same way; BatchNorm in training mode is the classic case
  (:class:`osgan.models.Discriminator` with ``d_norm="batch"``).

:func:`osgan.check_one_stage` tells which of them keeps one-stage training exact; the tests and
chapter 06 use these. In this implementation we keep them small (32x32 inputs, two strided
convolutions) so that float64 checks take milliseconds.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from osgan.models import Discriminator, ModelConfig

KINDS = ("plain", "patch", "mbstd", "attention")


class MinibatchStd(nn.Module):
    """Append the standard deviation over the batch, averaged over features, as one channel."""

    def forward(self, h: Tensor) -> Tensor:
        B, C, H, W = h.shape
        # sigma = mean over (C, H, W) of std over the batch: one number shared by every sample
        sigma = (h.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        return torch.cat([h, sigma.expand(B, 1, H, W)], dim=1)


class BatchAttention(nn.Module):
    """Each image attends to the pooled features of every image of the batch (itself included)."""

    def __init__(self, channels: int):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.5))  # strength of the mixing

    def forward(self, h: Tensor) -> Tensor:
        B, C, H, W = h.shape
        t = h.mean(dim=(2, 3))  # (B, C): one token per image
        a = torch.softmax(t @ t.T / math.sqrt(C), dim=1)  # (B, B) attention over the batch
        return h + self.scale * (a @ t)[:, :, None, None]


class SmallDiscriminator(nn.Module):
    """image (B, C, 32, 32) -> (B,) logits, or (B, 1, 8, 8) patch logits with ``kind="patch"``.

    conv 4x4/2 -> LeakyReLU -> conv 4x4/2 -> GroupNorm -> LeakyReLU -> [kind's layer] -> conv.
    ``kind``: ``"plain"`` (per sample, one output), ``"patch"`` (per sample, 64 outputs),
    ``"mbstd"`` (:class:`MinibatchStd`) or ``"attention"`` (:class:`BatchAttention`).
    """

    def __init__(self, kind: str = "plain", channels: int = 1, width: int = 8):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
        self.kind = kind
        w = width
        layers: list[nn.Module] = [nn.Conv2d(channels, w, 4, 2, 1), nn.LeakyReLU(0.2),  # 16x16
                                   nn.Conv2d(w, 2 * w, 4, 2, 1), nn.GroupNorm(math.gcd(4, 2 * w), 2 * w),
                                   nn.LeakyReLU(0.2)]  # 8x8
        c = 2 * w
        if kind == "mbstd":
            layers.append(MinibatchStd())
            c += 1
        elif kind == "attention":
            layers.append(BatchAttention(c))
        # patch: a 3x3 conv keeps the 8x8 grid, one logit per patch; else 8x8 -> 1x1
        layers.append(nn.Conv2d(c, 1, 3, 1, 1) if kind == "patch" else nn.Conv2d(c, 1, 8, 1, 0))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x)  # (B, 1, 8, 8) or (B, 1, 1, 1)
        return out if self.kind == "patch" else out.reshape(x.shape[0])


NAMES = ("groupnorm", "batchnorm", "patch", "mbstd", "attention")


def make(name: str, *, channels: int = 1, width: int = 8) -> nn.Module:
    """A 32x32 discriminator by name: ``"groupnorm"`` and ``"batchnorm"`` are DCGAN's
    (:class:`osgan.models.Discriminator`, the paper's and the original), the others
    :class:`SmallDiscriminator` kinds."""
    if name in ("groupnorm", "batchnorm"):
        return Discriminator(ModelConfig(image_size=32, channels=channels, width=width,
                                         d_norm=name[:-4]))
    if name not in NAMES:
        raise ValueError(f"unknown discriminator {name!r}; choose one of: {', '.join(NAMES)}")
    return SmallDiscriminator(name, channels=channels, width=width)
