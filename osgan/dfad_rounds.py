r"""DFAD's networks, optimiser recipes and rounds (Sec. 4.4): the game of :mod:`osgan.dfad`.

A generator :math:`G` synthesises images on which a frozen teacher :math:`T` and a student
:math:`S` disagree; both play :func:`distill_loss`, the student down, the generator up. One round
of each scheme: :func:`one_stage_round` (this paper: one forward and one backward, the
generator's gradient reversed by :math:`\gamma = -1`), :func:`two_stage_round` (DFAD's
alternation) and :func:`kd_round` (the real-data baseline). :func:`round_seconds` measures a
round's cost at a config's settings, on random data.

Two options of ours, off by default (the recorded Table 2 ran without them):

* the generator's output in the teacher's input statistics (:func:`output_map`): DFAD's generator
  ends in an affine-free BatchNorm, so its images are standardised (mean 0, std 1 per channel),
  which is what DFAD's teachers, trained on ``Normalize``-d images, were trained on; a teacher
  trained on osgan's [-1, 1] images (Fashion-MNIST: mean -0.56, std 0.66) is shown
  :math:`\hat x = \mu + s\,\sigma\,\mathrm{BN}(\cdot)` instead, with :math:`\mu, \sigma` the
  training images' per-channel mean and std and :math:`s` a scale (1: their statistics);
* DAFL's class-balance term (Chen et al. 2019, the information entropy loss),
  :math:`\mathcal{B} = \sum_k \bar p_k \log \bar p_k` with :math:`\bar p` the teacher's
  softmax averaged over the batch (:func:`class_balance`), added to the generator's loss with a
  weight :math:`\lambda`: :math:`\mathcal{L}_G = -\mathcal{L} + \lambda\mathcal{B}`, which
  pushes :math:`G` to show the teacher every class. Runs with it are "DFAD + DAFL balance term",
  not DFAD. In one stage it rides in the same single backward pass: :math:`\mathcal{B}` reaches
  no parameter of :math:`S`, so backpropagating :math:`J = \mathcal{L} - \lambda\mathcal{B}`
  gives :math:`S` the gradient of :math:`\mathcal{L}` and, through the reversal
  (:math:`\gamma = -1`), gives :math:`G` that of :math:`-\mathcal{L} + \lambda\mathcal{B}
  = \mathcal{L}_G` (Eq. 5's "one loss for both", with the generator-only term signed so that the
  reversal restores it).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from osgan import classifiers, timing
from osgan.resnet import resnet18, resnet34
from osgan.scale import scale_grad
from osgan.steps import to_floats

# --------------------------------------------------------------------------- networks


class Generator(nn.Module):
    """DFAD's generator: z (B, nz) -> (B, C, S, S), standardised by an affine-free BatchNorm;
    with ``mean`` and ``std`` (per channel, :func:`output_map`) then mapped to
    ``mean + std * x`` (kept as buffers: the checkpoint holds the map)."""

    def __init__(self, nz: int = 256, width: int = 64, channels: int = 1, image_size: int = 32,
                 mean: Tensor | None = None, std: Tensor | None = None):
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
            nn.BatchNorm2d(channels, affine=False),  # standardised images, DFAD's teachers' input
        )
        self.mapped = mean is not None
        if (mean is None) != (std is None):
            raise ValueError("give the generator's output map as both mean and std, or neither")
        if self.mapped:  # no buffers otherwise: the state of the recorded runs' generators
            self.register_buffer("out_mean", torch.as_tensor(mean, dtype=torch.float32)
                                 .reshape(1, channels, 1, 1).clone())
            self.register_buffer("out_std", torch.as_tensor(std, dtype=torch.float32)
                                 .reshape(1, channels, 1, 1).clone())

    def forward(self, z: Tensor) -> Tensor:
        B = z.shape[0]
        h = self.bn0(self.fc(z).view(B, -1, self.s0, self.s0))  # (B, 2w, S/4, S/4)
        h = self.block1(F.interpolate(h, scale_factor=2))  # (B, 2w, S/2, S/2)
        x = self.block2(F.interpolate(h, scale_factor=2))  # (B, C, S, S), standardised
        if self.mapped:
            # x_hat = mu + s sigma x: the statistics of the teacher's input
            x = self.out_mean + self.out_std * x
        return x


# what the generator's standardised output is mapped to (DFADConfig.g_output)
G_OUTPUTS = ("standard", "data")


def output_map(g_output: str, g_scale: float, images: Tensor | None
               ) -> tuple[Tensor, Tensor] | tuple[None, None]:
    """``(mean, std)`` per channel for :class:`Generator`: ``"data"``, the training ``images``'
    mean and ``g_scale`` times their std (over images and pixels); ``"standard"``, mean 0 and std
    ``g_scale``. ``(None, None)`` for ``"standard"`` at scale 1: DFAD's output as it is."""
    if g_output not in G_OUTPUTS:
        raise ValueError(f"g_output must be one of {', '.join(G_OUTPUTS)}; got {g_output!r}")
    if g_output == "standard":
        return (None, None) if g_scale == 1.0 else (torch.zeros(1), torch.full((1,), g_scale))
    var, mu = torch.var_mean(images, dim=(0, 2, 3), unbiased=False)  # over (N, S, S)
    return mu.float(), (g_scale * var.sqrt()).float()


def generator(cfg, channels: int, images: Tensor | None = None) -> Generator:
    """The generator of ``cfg`` (a :class:`osgan.dfad.DFADConfig`): its width and latent size,
    its output map from the training ``images`` (needed for ``g_output="data"``)."""
    mean, std = output_map(cfg.g_output, cfg.g_scale, images)
    if mean is not None and mean.numel() == 1:
        mean, std = mean.expand(channels), std.expand(channels)
    return Generator(cfg.nz, cfg.g_width, channels, 32, mean, std)


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


def split_val(train, val_n: int):
    """``(train, val)``: the training images without their last ``val_n``, and those last
    ``val_n`` as the validation split (None when ``val_n`` is 0)."""
    if val_n == 0:
        return train, None
    N = len(train)
    if val_n >= N:
        raise ValueError(f"val_n ({val_n}) must be smaller than the {N} training images")
    keep = train.head(N - val_n)
    val = type(train)(train.images[N - val_n:], train.labels[N - val_n:], train.num_classes,
                      train.name, "val")
    return keep, val


# How a teacher is trained (``DFADConfig.teacher_recipe``), for ``teacher_epochs`` passes: ours
# (Adam, cosine) or DFAD's train_teacher.py for MNIST as run_mnist.sh calls it (SGD 0.01,
# momentum 0.9, weight decay 1e-4, batch 256, no schedule; DFAD keeps the best test epoch, we
# the last)
TEACHER_RECIPES = {"ours": dict(optimizer="adam", lr=1e-3, batch_size=128),
                   "dfad": dict(optimizer="sgd", lr=0.01, batch_size=256, weight_decay=1e-4)}


def teacher_fit(cfg) -> classifiers.FitConfig:
    """How the teacher of ``cfg`` is trained when none is given: its recipe for its epochs."""
    return classifiers.FitConfig(epochs=cfg.teacher_epochs, seed=0,
                                 **TEACHER_RECIPES[cfg.teacher_recipe])


def teacher_for(cfg, train, test, device) -> tuple[nn.Module, float]:
    """The frozen teacher of ``cfg`` (a :class:`osgan.dfad.DFADConfig`) and its test accuracy:
    from ``cfg.teacher`` or trained and cached on ``train`` (the caller's training images, the
    validation split already held out)."""
    arch = cfg.archs[0]
    T = network(arch, test.num_classes, test.channels, cfg.resnet_width)
    if cfg.teacher is not None:
        try:
            blob = torch.load(cfg.teacher, map_location="cpu", weights_only=True)
        except Exception as e:  # a text file, a truncated file, pickled code
            raise ValueError(f"teacher checkpoint {cfg.teacher} is not a readable torch file "
                             f"({type(e).__name__}: {str(e).splitlines()[0][:100]}); give a "
                             "state_dict saved with torch.save") from None
        state = blob.get("state_dict", blob) if isinstance(blob, dict) else blob
        try:
            T.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as e:
            raise ValueError(f"teacher checkpoint {cfg.teacher} does not fit {arch} "
                             f"(width {cfg.resnet_width}): {str(e).splitlines()[0]}") from e
        T.to(device)
        acc = classifiers.accuracy(T, test, device=device)
    else:
        res = classifiers.fit(T, train, test, teacher_fit(cfg), device=device, cache_dir=cfg.cache_dir,
                              name=f"teacher-{cfg.dataset}-{arch}")
        T, acc = res.model, res.accuracy
    return freeze(T), acc


# --------------------------------------------------------------------------- optimisers


def _adam(params, lr):
    return torch.optim.Adam(params, lr=lr)


def _sgd(weight_decay):
    def make(params, lr):
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)

    return make


# the settings a recipe may fix beside its optimisers (its network pair's published run)
RECIPE_SETTINGS = ("nz", "g_width", "batch_size", "g_output")


@dataclass(frozen=True)
class Recipe:
    student: object  # (params, lr) -> optimiser of the student
    lr_s: float  # the student's learning rate unless the config gives lr_s
    generator: object  # (params, lr) -> optimiser of the generator
    lr_g: float  # the generator's learning rate unless the config gives lr_g
    cosine: bool  # cosine decay of both rates over the run
    about: str = ""  # what the recipe is, in words, for tables
    # DFADConfig settings of the published run for the recipe's network pair (generator, batch,
    # output statistics): what osgan.dfad.DFADConfig.for_recipe sets; a config with
    # hparams=<recipe> alone keeps its own (the recorded Table 2 ran dfad_mnist at nz 64,
    # width 16, batch 128)
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("lr_s", "lr_g"):
            rate = getattr(self, name)
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) \
                    or not math.isfinite(rate) or rate <= 0:
                raise ValueError(f"a recipe's {name} must be a finite rate > 0; got {rate!r}")
        for k, v in self.settings.items():
            if k not in RECIPE_SETTINGS:
                raise ValueError(f"a recipe's settings may fix {', '.join(RECIPE_SETTINGS)}; "
                                 f"not {k!r}")
            if k == "g_output":
                if v not in G_OUTPUTS:
                    raise ValueError(f"a recipe's g_output must be one of "
                                     f"{', '.join(G_OUTPUTS)}; got {v!r}")
            elif isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"a recipe's {k} must be a positive integer; got {v!r}")


# DFAD publishes one recipe per network pair (Fang et al.'s DFAD_cifar.py and DFAD_mnist.py):
# the student by SGD with momentum 0.9, the generator by Adam 1e-3; its generator GeneratorA
# (ngf 64) ends in an affine-free BatchNorm and its teachers were trained on Normalize-d images,
# so they see images in their input statistics: g_output "data" here.
HPARAMS = {
    "adam": Recipe(_adam, 1e-3, _adam, 1e-3, cosine=False, about="Adam for both"),
    # the ResNet pair on CIFAR: SGD 0.1, weight decay 5e-4; cosine decay in place of DFAD's steps;
    # nz 256, batch 256
    "dfad": Recipe(_sgd(5e-4), 0.1, _adam, 1e-3, cosine=True,
                   about="DFAD's CIFAR recipe: student SGD 0.1, momentum 0.9, weight decay 5e-4, "
                         "generator Adam 1e-3, cosine decay",
                   settings=dict(nz=256, g_width=64, batch_size=256, g_output="data")),
    # the LeNet-5 pair on MNIST: SGD 0.01, weight decay 1e-4, constant rates; nz 100, batch 512
    # (DFAD_mnist.py's defaults: 40 epochs of 50 rounds, 2000 rounds)
    "dfad_mnist": Recipe(_sgd(1e-4), 0.01, _adam, 1e-3, cosine=False,
                         about="DFAD's LeNet-5 recipe: student SGD 0.01, momentum 0.9, weight "
                               "decay 1e-4, generator Adam 1e-3, constant rates",
                         settings=dict(nz=100, g_width=64, batch_size=512, g_output="data")),
}


def decays(hparams: str, cosine: bool | None = None) -> bool:
    """Whether a run of recipe ``hparams`` decays its rates by a cosine over the run: ``cosine``
    where given, else the recipe's own schedule."""
    return HPARAMS[hparams].cosine if cosine is None else cosine


def optimizers(hparams: str, student: nn.Module, generator: nn.Module, rounds: int,
               lr_s: float | None = None, lr_g: float | None = None,
               cosine: bool | None = None):
    """(opt_s, opt_g, schedulers) of a recipe in ``HPARAMS``, its learning rates replaced by
    ``lr_s`` / ``lr_g`` where given, decayed by a cosine over ``rounds`` where :func:`decays`;
    the schedulers step once a round."""
    if hparams not in HPARAMS:
        raise ValueError(f"unknown hparams {hparams!r}; valid: {', '.join(HPARAMS)}")
    rec = HPARAMS[hparams]
    opt_s = rec.student(student.parameters(), rec.lr_s if lr_s is None else lr_s)
    opt_g = rec.generator(generator.parameters(), rec.lr_g if lr_g is None else lr_g)
    scheds = []
    if decays(hparams, cosine):
        cos = torch.optim.lr_scheduler.CosineAnnealingLR
        scheds = [cos(o, max(1, rounds)) for o in (opt_s, opt_g)]
    return opt_s, opt_g, scheds


# --------------------------------------------------------------------------- one round


def distill_loss(s: Tensor, t: Tensor) -> Tensor:
    r"""DFAD's loss, :math:`\frac{1}{BK}\sum_i \lVert s_i - t_i\rVert_1`, on logits ``(B, K)``."""
    return (s - t).abs().mean()


def class_balance(t: Tensor) -> Tensor:
    r"""DAFL's information-entropy term on the teacher's logits ``t`` (B, K):
    :math:`\mathcal{B} = \sum_k \bar p_k \log \bar p_k`, :math:`\bar p = \frac{1}{B}\sum_i
    \mathrm{softmax}(t_i)`, the negative entropy of the batch's mean prediction: :math:`-\log K`
    when the batch shows every class equally, 0 when it shows one. In log space, so that a class
    no image shows gives 0, not NaN."""
    B = t.shape[0]
    # log p_bar_k = logsumexp_i log softmax(t_i)_k - log B
    log_p_bar = torch.logsumexp(F.log_softmax(t, dim=1), dim=0) - math.log(B)
    return (log_p_bar.exp() * log_p_bar).sum()


def freeze(teacher: nn.Module) -> nn.Module:
    """Eval mode and no parameter gradients; gradients still flow through it to its input."""
    return teacher.eval().requires_grad_(False)


def one_stage_round(G, S, T, opt_g, opt_s, z: Tensor, *, update_g: bool = True,
                    balance: float = 0.0, as_float: bool = True) -> dict:
    """One forward and one backward: the student descends :math:`\\mathcal{L}`, the generator
    ascends it through the reversed gradient (:math:`\\gamma = -1`). ``z``: ``(B, nz)``.
    ``balance`` (:math:`\\lambda`) adds DAFL's class-balance term to the generator's loss, in the
    same backward pass. ``update_g=False`` (an ablation of ours, ``DFADConfig.g_every``) updates
    the student alone, on the generator's images, and leaves the generator as it is."""
    opt_s.zero_grad(set_to_none=True)
    opt_g.zero_grad(set_to_none=True)
    if update_g:
        x_hat = G(z)
        # gamma = -1: grad_{x_hat} L_G = -grad_{x_hat} L (Eq. 7 for a symmetric game)
        x_hat = scale_grad(x_hat, -1.0)
    else:
        with torch.no_grad():
            x_hat = G(z)
    s, t = S(x_hat), T(x_hat)  # the recorded runs' order of the forwards
    # L = mean |S(x_hat) - T(x_hat)|
    loss = distill_loss(s, t)
    stats = {"Loss/S": loss.detach()}
    if balance:
        # B = sum_k p_bar_k log p_bar_k on the teacher's logits; it reaches no parameter of S
        loss_b = class_balance(t)
        stats |= {"Loss/G": -loss.detach() + balance * loss_b.detach(),
                  "Loss/balance": loss_b.detach()}
        if update_g:
            # J = L - lambda B: S gets grad L; G, reversed, grad (-L + lambda B) = grad L_G
            loss = loss - balance * loss_b
    else:
        stats["Loss/G"] = -loss.detach()
    loss.backward()  # S: grad of L; G: grad of L_G; T: input gradient only
    opt_s.step()
    if update_g:
        opt_g.step()
    return to_floats(stats) if as_float else stats


def two_stage_round(
    G, S, T, opt_g, opt_s, z: Tensor, *, student_steps: int = 5, balance: float = 0.0,
    as_float: bool = True, generator: torch.Generator | None = None,
) -> dict:
    """DFAD's round: ``student_steps`` student updates on detached images (the first with ``z``,
    then a new z each), then one generator update on :math:`-\\mathcal{L}` (plus
    :math:`\\lambda\\mathcal{B}` with ``balance``) with S fixed. New z come from ``generator``
    (None: torch's global one)."""

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

    # Stage 2: generation, S fixed: L_G = -L (+ lambda B) on a new z
    opt_g.zero_grad(set_to_none=True)
    S.requires_grad_(False)  # no parameter gradients for the fixed student
    try:
        x_hat = G(new_z())
        s, t = S(x_hat), T(x_hat)
        loss_g = -distill_loss(s, t)
        if balance:
            loss_b = class_balance(t)
            loss_g = loss_g + balance * loss_b
        loss_g.backward()
    finally:
        S.requires_grad_(True)
    opt_g.step()
    stats = {"Loss/S": loss_s.detach(), "Loss/G": loss_g.detach()}
    if balance:
        stats["Loss/balance"] = loss_b.detach()
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
    G = generator(cfg, C, torch.rand(4, C, 32, 32) * 2 - 1)  # its output map costs the same
    opt_s, opt_g, _ = optimizers(cfg.hparams, S, G, cfg.rounds, cfg.lr_s, cfg.lr_g, cfg.cosine)
    x, z = torch.rand(cfg.batch_size, C, 32, 32) * 2 - 1, torch.randn(cfg.batch_size, cfg.nz)

    count = itertools.count(1)  # the round's number, for g_every

    def round_():
        if cfg.scheme == "kd":
            kd_round(S, T, opt_s, x, temperature=cfg.kd_temperature, as_float=False)
        elif cfg.scheme == "one":
            one_stage_round(G, S, T, opt_g, opt_s, z, update_g=next(count) % cfg.g_every == 0,
                            balance=cfg.balance, as_float=False)
        else:
            two_stage_round(G, S, T, opt_g, opt_s, z, student_steps=cfg.student_steps,
                            balance=cfg.balance, as_float=False)

    return round_


def rounds_fn(cfg):
    """``cfg.g_every`` rounds of :func:`round_fn` as one callable (one round for most cells)."""
    round_ = round_fn(cfg)

    def rounds():
        for _ in range(cfg.g_every):
            round_()

    return rounds


def round_seconds(cfg, rounds: int = 5) -> float:
    """Measured CPU seconds per distillation round at ``cfg``'s settings, after a warm-up round,
    on this process's threads (its CPU time, as :func:`osgan.training.step_seconds`)."""
    round_ = round_fn(cfg)
    round_()

    def rounds_():
        for _ in range(rounds):
            round_()

    return timing.Timer(torch.device("cpu"), "cpu")(rounds_) / rounds


# --------------------------------------------------------------------------- a run's record


def accuracy_at(records: list[dict], *, round: int | None = None, seconds: float | None = None):
    """The student's accuracy at the last evaluation at or before ``round`` rounds, or at or
    before ``seconds`` on the training clock (give exactly one)."""
    if (round is None) == (seconds is None):
        raise ValueError("give exactly one of round= or seconds=")
    key, limit = ("round", round) if round is not None else ("Time/train", seconds)
    seen = [r["Accuracy/student"] for r in records if r[key] <= limit]
    return seen[-1] if seen else float("nan")
