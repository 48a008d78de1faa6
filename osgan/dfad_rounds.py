r"""DFAD's networks, optimiser recipes and rounds (Sec. 4.4): the game of :mod:`osgan.dfad`.

A generator :math:`G` synthesises images on which a frozen teacher :math:`T` and a student
:math:`S` disagree; both play :func:`distill_loss`, the student down, the generator up. One round
of each scheme: :func:`one_stage_round` (this paper: one forward and one backward, the
generator's gradient reversed by :math:`\gamma = -1`), :func:`two_stage_round` (DFAD's
alternation) and :func:`kd_round` (the real-data baseline). :func:`round_seconds` measures a
round's cost at a config's settings, on random data.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from osgan import classifiers
from osgan.resnet import resnet18, resnet34
from osgan.scale import scale_grad
from osgan.steps import to_floats

# --------------------------------------------------------------------------- networks


class Generator(nn.Module):
    """DFAD's generator: z (B, nz) -> (B, C, S, S), standardised by an affine-free BatchNorm."""

    def __init__(self, nz: int = 256, width: int = 64, channels: int = 1, image_size: int = 32):
        super().__init__()
        self.nz, self.s0 = nz, image_size // 4  # two x2 upsamplings reach image_size
        self.fc = nn.Linear(nz, 2 * width * self.s0**2)
        self.bn0 = nn.BatchNorm2d(2 * width)
        self.block1 = nn.Sequential(
            nn.Conv2d(2 * width, 2 * width, 3, 1, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2)
        )
        self.block2 = nn.Sequential(
            nn.Conv2d(2 * width, width, 3, 1, 1), nn.BatchNorm2d(width), nn.LeakyReLU(0.2),
            nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh(),
            nn.BatchNorm2d(channels, affine=False),  # the teacher sees standardised images
        )

    def forward(self, z: Tensor) -> Tensor:
        B = z.shape[0]
        h = self.bn0(self.fc(z).view(B, -1, self.s0, self.s0))  # (B, 2w, S/4, S/4)
        h = self.block1(F.interpolate(h, scale_factor=2))  # (B, 2w, S/2, S/2)
        return self.block2(F.interpolate(h, scale_factor=2))  # (B, C, S, S)


# name -> (num_classes, channels, width argument) -> classifier
NETWORKS = {
    "lenet5": lambda k, c, w: classifiers.build("lenet5", c, k, 32),
    "lenet5_half": lambda k, c, w: classifiers.build("lenet5_half", c, k, 32),
    "resnet18": lambda k, c, w: resnet18(k, c, w),
    "resnet34": lambda k, c, w: resnet34(k, c, w),
}
# data set -> (teacher, student), as in DFAD and Table 2
DEFAULT_PAIRS = {
    "fashion_mnist": ("lenet5", "lenet5_half"),
    "cifar10": ("resnet34", "resnet18"),
    "cifar100": ("resnet34", "resnet18"),
}


def network(name: str, num_classes: int, channels: int, width: int = 64) -> nn.Module:
    """A classifier by name (``NETWORKS``); ``width`` is the ResNets' first-stage channels."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; valid: {', '.join(NETWORKS)}")
    return NETWORKS[name](num_classes, channels, width)


# --------------------------------------------------------------------------- optimisers


def _adam(params, lr):
    return torch.optim.Adam(params, lr=lr)


def _sgd(weight_decay):
    def make(params, lr):
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)

    return make


@dataclass(frozen=True)
class Recipe:
    student: object  # (params, lr) -> optimiser of the student
    lr_s: float  # the student's learning rate unless the config gives lr_s
    generator: object  # (params, lr) -> optimiser of the generator
    lr_g: float  # the generator's learning rate unless the config gives lr_g
    cosine: bool  # cosine decay of both rates over the run
    about: str = ""  # what the recipe is, in words, for tables


# DFAD publishes one recipe per network pair (Fang et al.'s DFAD_cifar.py and DFAD_mnist.py):
# the student by SGD with momentum 0.9, the generator by Adam 1e-3.
HPARAMS = {
    "adam": Recipe(_adam, 1e-3, _adam, 1e-3, cosine=False, about="Adam for both"),
    # the ResNet pair on CIFAR: SGD 0.1, weight decay 5e-4; cosine decay in place of DFAD's steps
    "dfad": Recipe(_sgd(5e-4), 0.1, _adam, 1e-3, cosine=True,
                   about="DFAD's CIFAR recipe: student SGD 0.1, momentum 0.9, weight decay 5e-4, "
                         "generator Adam 1e-3, cosine decay"),
    # the LeNet-5 pair on MNIST: SGD 0.01, weight decay 1e-4, constant rates
    "dfad_mnist": Recipe(_sgd(1e-4), 0.01, _adam, 1e-3, cosine=False,
                         about="DFAD's LeNet-5 recipe: student SGD 0.01, momentum 0.9, weight "
                               "decay 1e-4, generator Adam 1e-3, constant rates"),
}


def optimizers(hparams: str, student: nn.Module, generator: nn.Module, rounds: int,
               lr_s: float | None = None, lr_g: float | None = None):
    """(opt_s, opt_g, schedulers) of a recipe in ``HPARAMS``, its learning rates replaced by
    ``lr_s`` / ``lr_g`` where given; the schedulers step once a round."""
    if hparams not in HPARAMS:
        raise ValueError(f"unknown hparams {hparams!r}; valid: {', '.join(HPARAMS)}")
    rec = HPARAMS[hparams]
    opt_s = rec.student(student.parameters(), rec.lr_s if lr_s is None else lr_s)
    opt_g = rec.generator(generator.parameters(), rec.lr_g if lr_g is None else lr_g)
    cosine = rec.cosine
    scheds = []
    if cosine:
        cos = torch.optim.lr_scheduler.CosineAnnealingLR
        scheds = [cos(o, max(1, rounds)) for o in (opt_s, opt_g)]
    return opt_s, opt_g, scheds


# --------------------------------------------------------------------------- one round


def distill_loss(s: Tensor, t: Tensor) -> Tensor:
    r"""DFAD's loss, :math:`\frac{1}{BK}\sum_i \lVert s_i - t_i\rVert_1`, on logits ``(B, K)``."""
    return (s - t).abs().mean()


def freeze(teacher: nn.Module) -> nn.Module:
    """Eval mode and no parameter gradients; gradients still flow through it to its input."""
    return teacher.eval().requires_grad_(False)


def one_stage_round(G, S, T, opt_g, opt_s, z: Tensor, *, update_g: bool = True,
                    as_float: bool = True) -> dict:
    """One forward and one backward: the student descends :math:`\\mathcal{L}`, the generator
    ascends it through the reversed gradient (:math:`\\gamma = -1`). ``z``: ``(B, nz)``.
    ``update_g=False`` (an ablation of ours, ``DFADConfig.g_every``) updates the student alone,
    on the generator's images, and leaves the generator as it is."""
    opt_s.zero_grad(set_to_none=True)
    opt_g.zero_grad(set_to_none=True)
    if update_g:
        x_hat = G(z)
        # gamma = -1: grad_{x_hat} L_G = -grad_{x_hat} L (Eq. 7 for a symmetric game)
        x_hat = scale_grad(x_hat, -1.0)
    else:
        with torch.no_grad():
            x_hat = G(z)
    # L = mean |S(x_hat) - T(x_hat)|
    loss = distill_loss(S(x_hat), T(x_hat))
    loss.backward()  # S: grad of L; G: grad of -L; T: input gradient only
    opt_s.step()
    if update_g:
        opt_g.step()
    stats = {"Loss/S": loss.detach(), "Loss/G": -loss.detach()}
    return to_floats(stats) if as_float else stats


def two_stage_round(
    G, S, T, opt_g, opt_s, z: Tensor, *, student_steps: int = 5, as_float: bool = True,
    generator: torch.Generator | None = None,
) -> dict:
    """DFAD's round: ``student_steps`` student updates on detached images (the first with ``z``,
    then a new z each), then one generator update on :math:`-\\mathcal{L}` with S fixed. New z
    come from ``generator`` (None: torch's global one)."""

    def new_z() -> Tensor:
        return torch.randn(z.shape, dtype=z.dtype, device=z.device, generator=generator)

    # Stage 1: imitation, G fixed
    for k in range(student_steps):
        with torch.no_grad():
            x_hat = G(z if k == 0 else new_z())
            t = T(x_hat)
        loss_s = distill_loss(S(x_hat), t)
        opt_s.zero_grad(set_to_none=True)
        loss_s.backward()
        opt_s.step()

    # Stage 2: generation, S fixed: L_G = -L on a new z
    opt_g.zero_grad(set_to_none=True)
    S.requires_grad_(False)  # no parameter gradients for the fixed student
    try:
        x_hat = G(new_z())
        loss_g = -distill_loss(S(x_hat), T(x_hat))
        loss_g.backward()
    finally:
        S.requires_grad_(True)
    opt_g.step()
    stats = {"Loss/S": loss_s.detach(), "Loss/G": loss_g.detach()}
    return to_floats(stats) if as_float else stats


def kd_loss(s: Tensor, t: Tensor, temperature: float) -> Tensor:
    r"""Hinton's KD loss,
    :math:`\tau^2\,\mathrm{KL}(\mathrm{softmax}(t/\tau)\,\|\,\mathrm{softmax}(s/\tau))`."""
    log_p_s = F.log_softmax(s / temperature, dim=1)
    log_p_t = F.log_softmax(t / temperature, dim=1)
    return temperature**2 * F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True)


def kd_round(S, T, opt_s, x: Tensor, *, temperature: float = 4.0, as_float: bool = True) -> dict:
    """The real-data baseline: one student step on real images ``x`` with the teacher's targets."""
    with torch.no_grad():
        t = T(x)
    loss = kd_loss(S(x), t, temperature)
    opt_s.zero_grad(set_to_none=True)
    loss.backward()
    opt_s.step()
    stats = {"Loss/S": loss.detach()}
    return to_floats(stats) if as_float else stats


# --------------------------------------------------------------------------- cost of a round


def round_fn(cfg):
    """One distillation round of ``cfg``'s scheme (a :class:`osgan.dfad.DFADConfig`) as a
    callable, at its settings (random teacher and data, the same networks and optimisers)."""
    torch.manual_seed(0)
    K, C = (100 if cfg.dataset == "cifar100" else 10), (1 if cfg.dataset == "fashion_mnist" else 3)
    T = freeze(network(cfg.archs[0], K, C, cfg.resnet_width))
    S = network(cfg.archs[1], K, C, cfg.resnet_width)
    G = Generator(cfg.nz, cfg.g_width, C, 32)
    opt_s, opt_g, _ = optimizers(cfg.hparams, S, G, cfg.rounds, cfg.lr_s, cfg.lr_g)
    x, z = torch.rand(cfg.batch_size, C, 32, 32) * 2 - 1, torch.randn(cfg.batch_size, cfg.nz)

    count = itertools.count(1)  # the round's number, for g_every

    def round_():
        if cfg.scheme == "kd":
            kd_round(S, T, opt_s, x, temperature=cfg.kd_temperature, as_float=False)
        elif cfg.scheme == "one":
            one_stage_round(G, S, T, opt_g, opt_s, z, update_g=next(count) % cfg.g_every == 0,
                            as_float=False)
        else:
            two_stage_round(G, S, T, opt_g, opt_s, z, student_steps=cfg.student_steps,
                            as_float=False)

    return round_


def rounds_fn(cfg):
    """``cfg.g_every`` rounds of :func:`round_fn` as one callable (one round for most cells)."""
    round_ = round_fn(cfg)

    def rounds():
        for _ in range(cfg.g_every):
            round_()

    return rounds


def round_seconds(cfg, rounds: int = 5) -> float:
    """Measured seconds per distillation round at ``cfg``'s settings, after a warm-up round, on
    this process's threads."""
    round_ = round_fn(cfg)
    round_()
    t0 = time.perf_counter()
    for _ in range(rounds):
        round_()
    return (time.perf_counter() - t0) / rounds
