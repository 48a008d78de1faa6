r"""Data-free adversarial distillation (DFAD) in one stage or two (Sec. 4.4, Table 2).

DFAD (Fang et al. 2019) distils a teacher :math:`T` into a student :math:`S` without data: a
generator :math:`G` synthesises images :math:`\hat x = G(z)` on which the two disagree, and the
student learns to agree with the teacher on them. Both play one loss, the mean absolute
difference of the logits,

.. math::
   \mathcal{L}(\hat x) = \tfrac{1}{BK}\textstyle\sum_i \lVert S(\hat x_i) - T(\hat x_i)\rVert_1,
   \qquad \min_S \max_G \mathcal{L}(G(z)),

so the game is symmetric (Sec. 3.1.1): :math:`\mathcal{L}_G = -\mathcal{L}` and the ratio of
Eq. 7 is :math:`\gamma_i = -1` for every sample, whatever the networks (a constant ratio needs no
per-sample layers: BatchNorm in G, S or T does not break it).

**Two stages** (DFAD): per round, ``student_steps`` (5) student updates on detached images, each
with a new :math:`z`, then one generator update on :math:`-\mathcal{L}` with the student fixed.

**One stage** (Sec. 4.4, the paper's method): per round, one forward of :math:`G`, :math:`S` and
:math:`T`, one backward of :math:`\mathcal{L}`; the generator receives the reversed gradient
through :func:`osgan.scale.scale_grad` with :math:`\gamma = -1` placed between G and the two
classifiers (Algorithm 1 with D = (S, T)); one update of the student and one of the generator.
The teacher's parameters are frozen (``requires_grad=False``, eval mode), but its input gradient
reaches the generator.

In this implementation we:

* run the paper's setting (CIFAR-10/100, ResNet-34 teacher, ResNet-18 student, batch 256) when the
  data and, optionally, a teacher checkpoint (one that takes osgan's [-1, 1] images: there is no
  ``Normalize`` wrapper) are given, and default to a setting a CPU can run:
  Fashion-MNIST at 32x32 with a LeNet-5 teacher and a half-width LeNet-5 student (DFAD's MNIST
  pair);
* hold the last ``val_n`` training images out as a validation split for choosing learning rates
  (``Accuracy/val`` beside ``Accuracy/student`` at every evaluation); the teacher and KD never
  train on them, and the test split is never used to choose anything;
* train the teacher ourselves on the rest of the training split (cached on disk with its test
  accuracy) when no checkpoint is given;
* use DFAD's generator (a linear layer to 8x8, two nearest-neighbour upsamplings with 3x3
  convolutions, tanh, then BatchNorm without affine parameters) with a ``g_width`` argument, its
  standardised output as it is (``g_output="standard"``, the recorded Table 2) or mapped to the
  training images' per-channel mean and std (``"data"``), times ``g_scale``;
* default to Adam (1e-3) for both student and generator, the same for both schemes, with
  ``lr_s`` / ``lr_g`` to set the rates of a recipe (a sweep's grid, :mod:`osgan.sweep`);
  ``hparams`` selects one of DFAD's published recipes instead (``"dfad"``: CIFAR, with our
  cosine decay in place of its steps; ``"dfad_mnist"``: LeNet-5, SGD 0.01), and
  :meth:`DFADConfig.for_recipe` also its network pair's generator, batch and output statistics;
* offer DAFL's class-balance term (``balance``, :math:`\lambda`; :mod:`osgan.dfad_rounds`) in
  both schemes: a run with it is "DFAD + DAFL balance term", not DFAD;
* add the baseline "KD" (Hinton et al. 2015) of Table 2: the student trained on real training
  images with the teacher's soft targets at temperature ``kd_temperature``, no labels;
* measure the student's accuracy on the real test split every ``eval_every`` rounds, against
  rounds and against a training clock that excludes the evaluations.

DFAD as published for the LeNet-5 pair (``DFADConfig.for_recipe("dfad_mnist")``, after Fang et
al.'s ``DFAD_mnist.py``: nz 100, ngf 64, batch 512, student SGD 0.01 / generator Adam 1e-3,
5 student steps per round, the teacher shown images in its input statistics) still differs here:

* Fashion-MNIST, not MNIST; 28x28 padded with background to 32x32 (DFAD resizes);
* our teacher: trained with Adam and a cosine decay for ``teacher_epochs`` on [-1, 1] images less
  the validation split (DFAD: SGD 0.01 for 10 epochs on all of MNIST, ``Normalize``-d, which
  ``teacher_recipe="dfad"`` follows but for the data, the split and the last epoch kept), shown
  :math:`\mu + \sigma\,\mathrm{BN}(\cdot)`, which equals DFAD's standardised images to a teacher
  whose first layer absorbs the affine map; :math:`\mu, \sigma` measured on the training split
  (DFAD: MNIST's constants 0.1307, 0.3081);
* the result read at the end of the run and on the validation split (DFAD keeps the student of
  its best test epoch: a choice on the test split);
* its length (DFAD: 40 epochs of 50 rounds, 2000 two-stage rounds) and, in a sweep, its
  generator and batch, both set by what a CPU can run (a two-stage round at DFAD's batch and
  width costs about 26 CPU-seconds on one thread, 14 hours for 2000 rounds; a one-stage round 9:
  the sweep's comment in :mod:`osgan.sweeps` gives the settings it runs and their cost);
* its seeds and noise streams (DFAD: seed 1, torch's global generator).

The networks, recipes and rounds live in :mod:`osgan.dfad_rounds` (and are read here as this
module's own). :func:`distill` is a run of kind :class:`DFADKind` (:mod:`osgan.runkind`):
:func:`osgan.harness.run` gives it its folder, clock, rows, checkpoints and ``done.json``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from osgan import checkpoint as ckpt
from osgan import classifiers, data, harness, runkind, settings
from osgan.dfad_rounds import (  # the game's pieces, also read as osgan.dfad's own
    DEFAULT_PAIRS,
    G_OUTPUTS,
    HPARAMS,
    NETWORKS,
    TEACHER_RECIPES,
    accuracy_at,
    decays,
    generator,
    kd_round,
    network,
    one_stage_round,
    optimizers,
    round_seconds,
    split_val,
    teacher_for,
    two_stage_round,
)
from osgan.dfad_rounds import kd_loss as kd_loss  # read as osgan.dfad.kd_loss
from osgan.runkind import RunKind
from osgan.settings import setting
from osgan.util import UsageError, check_count, check_rate, check_seed, seeded

SCHEMES = ("one", "two", "kd")


# --------------------------------------------------------------------------- configuration


@dataclass
class DFADConfig:
    dataset: str = setting("fashion_mnist", "fashion_mnist (LeNet-5 pair) or cifar10/cifar100 "
                           "(ResNets)")
    data_root: str | None = setting(None, "where osgan.data finds the data set (None: its "
                                    "defaults)")
    scheme: str = setting("one", "one (this paper), two (DFAD) or kd (student on real data)")
    rounds: int = setting(4000, "adversarial rounds (kd: student steps)")
    batch_size: int = setting(256, "images per step (DFAD and Table 2: 256)")
    student_steps: int = setting(5, "two-stage only: student updates per round (DFAD: 5)")
    g_every: int = setting(1, "one-stage only: the generator moves in one round of every "
                           "g_every, the student in every round (1: the paper's one stage; "
                           "above 1 an ablation of ours)")
    nz: int = setting(256, "latent dimension of the generator (DFAD: 256)")
    g_width: int = setting(64, "generator width ngf (DFAD: 64)")
    g_output: str = setting("standard", "the generator's output: standard (DFAD's BatchNorm "
                            "output as it is, mean 0 and std 1: what DFAD's Normalize-d teachers "
                            "take; the recorded Table 2) or data (mapped to the training images' "
                            "per-channel mean and std: what a teacher trained on them takes)")
    g_scale: float = setting(1.0, "the generator's output std, in units of g_output's (1: "
                             "those statistics); schemes one and two")
    balance: float = setting(0.0, "weight lambda of DAFL's class-balance term added to the "
                             "generator's loss (0: DFAD's loss; above 0: DFAD + DAFL balance "
                             "term); schemes one and two")
    hparams: str = setting("adam", "optimiser recipe: adam (Adam 1e-3 both), dfad (DFAD's "
                           "CIFAR recipe: student SGD 0.1, cosine) or dfad_mnist (DFAD's LeNet-5 "
                           "recipe: student SGD 0.01)")
    lr_s: float | None = setting(None, "the student's learning rate (None: the recipe's, adam "
                                 "1e-3, dfad 0.1, dfad_mnist 0.01)")
    lr_g: float | None = setting(None, "the generator's learning rate (None: the recipe's, 1e-3)")
    cosine: bool | None = setting(None, "both rates decayed to 0 over the run by a cosine (None: "
                                  "the recipe's: dfad decays, adam and dfad_mnist keep them "
                                  "constant); the run's length is then part of its schedule")
    kd_temperature: float = setting(4.0, "kd only: softmax temperature of the soft targets")
    teacher: str | None = setting(None, "teacher checkpoint (state_dict .pt); None: train it and "
                                  "cache")
    teacher_arch: str | None = setting(None, "teacher network (None: lenet5 / resnet34 by data "
                                       "set)")
    student_arch: str | None = setting(None, "student network (None: lenet5_half / resnet18)")
    resnet_width: int = setting(64, "channels of the ResNets' first stage (paper: 64)")
    # LeNet-5 on Fashion-MNIST (55000 training images, Adam 1e-3 cosine, batch 128, seed 0), test
    # accuracy by teacher_epochs: 1: 0.802, 2: 0.832, 4: 0.860, 8: 0.887, 16: 0.900, 32: 0.905.
    # A doubling gained about 3 points up to 8 epochs, 1.3 from 8 to 16 and 0.5 from 16 to 32: the
    # plateau; 32 epochs take about 5 minutes once on one CPU thread, then the teacher is cached.
    teacher_epochs: float = setting(32.0, "passes over the training split when training the "
                                    "teacher (its plateau for the LeNet-5 pair)")
    teacher_recipe: str = setting("ours", "how the teacher is trained for teacher_epochs: ours "
                                  "or dfad (osgan.dfad_rounds.TEACHER_RECIPES; DFAD: 10 epochs)")
    val_n: int = setting(5000, "the last val_n training images, held out as a validation split "
                         "for choosing learning rates: the teacher and KD never train on them "
                         "(0: none)")
    eval_every: int = setting(200, "rounds between test-accuracy evaluations (also at 0 and the "
                              "end)")
    eval_n: int | None = setting(None, "test images per evaluation in the run (None: all; last: "
                                 "all)")
    seed: int = setting(0, "seed of the student, generator and z (the teacher always uses seed 0)")
    device: str = setting("auto", "auto (CUDA if present), cpu, cuda, cuda:1, ...")
    threads: int = setting(0, "CPU threads torch may use (0: torch's default)")
    out_dir: str | None = setting(None, "run folder: config.json, metrics.jsonl, checkpoint.pt "
                                  "(None: no files)")
    checkpoint_dir: str | None = setting(None, "where checkpoint.pt goes (None: out_dir); a "
                                         "sweep keeps checkpoints out of its record")
    checkpoint_every: int = setting(0, "rounds between checkpoints (0: only at the end)")
    resume: bool = setting(False, "continue the run in out_dir from its checkpoint")
    overwrite: bool = setting(False, "start the run in out_dir afresh, replacing the dfad run "
                              "there (never another kind's files)")
    cache_dir: str | None = setting(None, "cache of trained teachers (None: $OSGAN_CACHE or "
                                    "~/.cache)")
    progress: bool = setting(True, "show a progress bar")
    plan: str = setting("", "SHA-256 of the analysis plan (osgan.plans) a sweep records this run "
                        "under; recorded in config.json, changes nothing in the run")

    def validate(self) -> DFADConfig:
        for name, valid in (("dataset", DEFAULT_PAIRS), ("scheme", SCHEMES), ("hparams", HPARAMS),
                            ("g_output", G_OUTPUTS), ("teacher_recipe", TEACHER_RECIPES)):
            if getattr(self, name) not in valid:
                raise ValueError(f"{name} must be one of {', '.join(valid)}; "
                                 f"got {getattr(self, name)!r}")
        for name in (self.teacher_arch, self.student_arch):
            if name is not None and name not in NETWORKS:
                raise ValueError(f"unknown network {name!r}; valid: {', '.join(NETWORKS)}")
        if self.g_every != 1 and self.scheme != "one":
            raise ValueError(f"g_every applies to scheme one only; give g_every 1 with scheme "
                             f"{self.scheme!r}")
        check_rate("g_scale", self.g_scale)
        if isinstance(self.balance, bool) or not isinstance(self.balance, (int, float)) \
                or not math.isfinite(self.balance) or self.balance < 0:
            raise ValueError(f"balance must be finite and >= 0; got {self.balance!r}")
        if self.balance and self.scheme == "kd":
            raise ValueError("balance weighs a term of the generator's loss; kd has no "
                             "generator: give balance 0 with scheme 'kd'")
        for name in ("rounds", "batch_size", "student_steps", "eval_every", "nz", "g_width",
                     "resnet_width", "g_every"):
            check_count(name, getattr(self, name))
        for name in ("threads", "checkpoint_every"):
            check_count(name, getattr(self, name), minimum=0)
        check_count("eval_n", self.eval_n, optional=True)
        check_count("val_n", self.val_n, minimum=0)
        for name in ("lr_s", "lr_g"):
            if getattr(self, name) is not None:
                check_rate(name, getattr(self, name))
        if self.cosine is not None and not isinstance(self.cosine, bool):
            raise ValueError(f"cosine must be true, false or None (the recipe's); "
                             f"got {self.cosine!r}")
        check_seed("seed", self.seed)
        check_rate("kd_temperature", self.kd_temperature)
        check_rate("teacher_epochs", self.teacher_epochs)
        if self.resume and self.overwrite:
            raise ValueError("give resume (--resume) or overwrite (--overwrite), not both")
        if self.teacher is not None and not Path(self.teacher).is_file():
            raise ValueError(f"teacher checkpoint {self.teacher!r} not found; give a state_dict "
                             "file, or leave --teacher out to train the teacher")
        return self

    @property
    def archs(self) -> tuple[str, str]:
        t, s = DEFAULT_PAIRS[self.dataset]
        return self.teacher_arch or t, self.student_arch or s

    @classmethod
    def for_profile(cls, profile: str = "auto", **overrides) -> DFADConfig:
        """The settings of a profile (:data:`osgan.settings.PROFILES`), then ``overrides``."""
        return settings.for_profile(cls, profile, **overrides)

    @classmethod
    def for_recipe(cls, hparams: str, profile: str = "auto", **overrides) -> DFADConfig:
        """A published recipe as published: the profile's settings, then the recipe's optimisers
        and its network pair's settings (generator, batch, output statistics:
        ``HPARAMS[hparams].settings``), then ``overrides``."""
        if hparams not in HPARAMS:
            raise ValueError(f"hparams must be one of {', '.join(HPARAMS)}; got {hparams!r}")
        return cls.for_profile(profile, **(dict(hparams=hparams) | HPARAMS[hparams].settings
                                           | overrides))


# Settings that change the trajectory: a resumed run must agree with its checkpoint on these.
TRAJECTORY = ("dataset", "scheme", "batch_size", "student_steps", "nz", "g_width", "hparams",
              "kd_temperature", "teacher", "teacher_arch", "student_arch", "resnet_width",
              "teacher_epochs", "seed", "lr_s", "lr_g", "val_n", "g_every", "g_output", "g_scale",
              "balance", "teacher_recipe", "cosine")
# what a setting was in checkpoints written before it existed
TRAJECTORY_DEFAULTS = {"g_every": 1, "g_output": "standard", "g_scale": 1.0, "balance": 0.0,
                       "teacher_recipe": "ours", "cosine": None}


# --------------------------------------------------------------------------- the run


@dataclass
class DistillResult:
    config: DFADConfig  # what ran
    records: list[dict]  # one per evaluation: round, Time/train, Accuracy/student, losses
    accuracy: float  # the student's final top-1 accuracy on the whole test split
    teacher_accuracy: float  # the teacher's top-1 accuracy on the whole test split
    seconds: float  # training clock at the end (evaluations excluded)
    student: nn.Module
    generator: nn.Module | None  # None for kd
    teacher: nn.Module
    out_dir: Path | None


@dataclass
class _Run:
    """What the rounds of one distillation read and change."""

    cfg: DFADConfig
    device: torch.device
    train: object  # osgan.data.ImageData without the validation images, on the device for kd
    val: object | None  # the held-out validation images (None when val_n is 0)
    test: object
    eval_set: object  # the test images of the evaluations during the run
    T: nn.Module
    teacher_acc: float
    S: nn.Module
    G: nn.Module
    opt_s: torch.optim.Optimizer
    opt_g: torch.optim.Optimizer
    scheds: list
    data_gen: torch.Generator  # kd's real batches
    noise_gen: torch.Generator  # every z of the rounds (osgan.checkpoint.noise_generator)


def _setup(cfg: DFADConfig, device: torch.device) -> _Run:
    kw = dict(data_root=cfg.data_root, image_size=32)
    train, val = split_val(data.load(cfg.dataset, "train", **kw), cfg.val_n)
    test = data.load(cfg.dataset, "test", **kw)
    T, teacher_acc = teacher_for(cfg, train, test, device)
    if cfg.scheme == "kd":  # real batches, drawn on the device
        train = train.to(device)
    data_gen = torch.Generator(device=device).manual_seed(cfg.seed)
    with seeded(cfg.seed, device):  # the initial weights, and where the noise stream starts
        S = network(cfg.archs[1], test.num_classes, test.channels, cfg.resnet_width)
        G = generator(cfg, test.channels, train.images)
        noise_gen = ckpt.noise_generator(device)
    S, G = S.to(device), G.to(device)
    opt_s, opt_g, scheds = optimizers(cfg.hparams, S, G, cfg.rounds, cfg.lr_s, cfg.lr_g,
                                      cfg.cosine)
    eval_set = test if cfg.eval_n is None else test.head(cfg.eval_n)
    return _Run(cfg, device, train, val, test, eval_set, T, teacher_acc, S, G, opt_s, opt_g,
                scheds, data_gen, noise_gen)


def _state(run: _Run) -> dict:
    """What the next round reads (the harness adds the round, the clocks and the config)."""
    return {"student": run.S.state_dict(), "generator": run.G.state_dict(),
            "opt_s": run.opt_s.state_dict(), "opt_g": run.opt_g.state_dict(),
            "scheds": [s.state_dict() for s in run.scheds],
            "rng": ckpt.rng_state(run.noise_gen, run.data_gen),
            "teacher_accuracy": run.teacher_acc}


def _restore(run: _Run, state: dict) -> None:
    run.S.load_state_dict(state["student"])
    run.G.load_state_dict(state["generator"])
    run.opt_s.load_state_dict(state["opt_s"])
    run.opt_g.load_state_dict(state["opt_g"])
    for sched, s in zip(run.scheds, state["scheds"]):
        sched.load_state_dict(s)
    ckpt.set_rng_state(state["rng"], run.noise_gen, run.data_gen)


def _round(run: _Run, r: int) -> dict:
    """Round ``r`` (from 1) of the configured scheme (statistics on the device)."""
    cfg = run.cfg
    if cfg.scheme == "kd":
        x, _ = run.train.sample(cfg.batch_size, generator=run.data_gen)
        stats = kd_round(run.S, run.T, run.opt_s, x.to(run.device),
                         temperature=cfg.kd_temperature, as_float=False)
    else:
        z = torch.randn(cfg.batch_size, cfg.nz, device=run.device, generator=run.noise_gen)
        if cfg.scheme == "one":
            stats = one_stage_round(run.G, run.S, run.T, run.opt_g, run.opt_s, z,
                                    update_g=r % cfg.g_every == 0, balance=cfg.balance,
                                    as_float=False)
        else:
            stats = two_stage_round(run.G, run.S, run.T, run.opt_g, run.opt_s, z,
                                    student_steps=cfg.student_steps, balance=cfg.balance,
                                    as_float=False, generator=run.noise_gen)
    for sched in run.scheds[:1] if cfg.scheme == "kd" else run.scheds:  # kd has no generator
        sched.step()
    return stats


class DFADKind(RunKind):
    """Distillation runs (``"dfad"``), counted in rounds: a row at each evaluation (and at round
    0) with the student's accuracy, the losses of the round and the training clock."""

    name, config, count, length = "dfad", DFADConfig, "round", "rounds"
    trajectory_defaults = TRAJECTORY_DEFAULTS
    row_events = frozenset({"eval"})
    row = ("Time/train", "eval", "stats")
    evaluate_at_start = True

    def trajectory_of(self, cfg: DFADConfig) -> tuple[str, ...]:
        # a cosine decay's schedule spans the whole run: its length is part of the trajectory;
        # a constant rate's run may be resumed to more rounds (run on to its plateau)
        return TRAJECTORY + (("rounds",) if decays(cfg.hparams, cfg.cosine) else ())

    def describe(self, cfg: DFADConfig) -> str:
        return f"dfad {cfg.scheme}"

    def setup(self, cfg: DFADConfig, device: torch.device) -> _Run:
        run = _setup(cfg, device)
        run.S.train()
        run.G.train()
        return run

    def step(self, run: _Run, i: int) -> dict:
        return _round(run, i)

    def state(self, run: _Run) -> dict:
        return _state(run)

    def restore(self, run: _Run, state: dict) -> None:
        _restore(run, state)

    def modules(self, run: _Run) -> dict[str, nn.Module]:
        return {"student": run.S, "generator": run.G}

    def schedule(self, cfg: DFADConfig) -> harness.Schedule:
        return harness.Schedule(log=0, eval=cfg.eval_every, checkpoint=cfg.checkpoint_every)

    def evaluate(self, run: _Run) -> dict:
        acc = classifiers.accuracy(run.S, run.eval_set, device=run.device)
        return {"Accuracy/student": acc} | ({} if run.val is None else {
            "Accuracy/val": classifiers.accuracy(run.S, run.val, device=run.device)})

    def postfix(self, row: dict) -> dict[str, str]:
        return {"acc": f"{row['Accuracy/student']:.3f}"}

    def summary(self, run: _Run, records: list[dict]) -> dict:
        final = records[-1]["Accuracy/student"]
        if run.cfg.eval_n is not None:  # the last evaluation saw part of the test split
            final = classifiers.accuracy(run.S, run.test, device=run.device)
        return {"accuracy": final, "val_accuracy": records[-1].get("Accuracy/val"),
                "teacher_accuracy": run.teacher_acc}

    def result(self, run: _Run, records, summary, folder) -> DistillResult:
        return DistillResult(run.cfg, records, summary["accuracy"], run.teacher_acc,
                             summary["Time/train"], run.S,
                             None if run.cfg.scheme == "kd" else run.G, run.T, folder.path)

    def prepare(self, cfg: DFADConfig) -> None:
        """Train (or load) the cached teacher once, before parallel workers each want it."""
        if cfg.teacher is not None:
            return
        kw = dict(data_root=cfg.data_root, image_size=32)
        train = split_val(data.load(cfg.dataset, "train", **kw), cfg.val_n)[0]
        teacher_for(cfg, train, data.load(cfg.dataset, "test", **kw),
                    settings.resolve_device(cfg.device))

    def cost_key(self, cfg: DFADConfig) -> str:
        return cfg.scheme

    def cost_configs(self, cfgs: list[DFADConfig]) -> dict[str, DFADConfig]:
        """Each scheme at its first config's rates."""
        return {c.scheme: c for c in reversed(cfgs)}

    def step_seconds(self, cfg: DFADConfig) -> float:
        return round_seconds(cfg)


KIND = DFADKind()


def distill(cfg: DFADConfig) -> DistillResult:
    """Run one scheme for ``cfg.rounds`` rounds; evaluate the student every ``eval_every``."""
    return runkind.run(KIND, cfg)


# --------------------------------------------------------------------------- diagnosis


def diagnose(run_dir: str | Path, n_batches: int = 80, seed: int = 0) -> dict:
    """What a finished run's final networks do, read from its last checkpoint (kept outside the
    record by a sweep): ``round`` (the checkpoint's), ``accuracy`` (the student's on the whole
    test split again: the record's final accuracy reproduced), ``per_class`` (its test accuracy
    on each class, None for a class the split lacks) and, for the adversarial schemes, what the
    generator gives it to learn from: ``class_fractions`` (the shares of the teacher's predicted
    classes over ``n_batches`` batches of the run's size of G(z), drawn with ``seed``; G in
    training mode, its BatchNorm on batch statistics as in the rounds), ``classes_eff`` (exp of
    their entropy: 10 for balanced classes, 1 for one) and ``agreement`` (the share of those
    images on which the student predicts the teacher's class). A student cannot learn a class
    its generator never shows the teacher."""
    from osgan.metrics.fid import class_shares  # the metrics package: only a diagnosis needs it

    folder = harness.RunFolder(run_dir, "dfad")
    meta = folder.meta()
    if meta is None or meta.get("kind") != "dfad":
        raise ValueError(f"{run_dir} is not a run folder of `python -m osgan dfad`")
    cfg = settings.from_dict(DFADConfig, meta["config"])
    folder = harness.RunFolder(run_dir, "dfad", checkpoint_dir=cfg.checkpoint_dir)
    state = ckpt.load(folder.checkpoint_path, map_location="cpu")
    kw = dict(data_root=cfg.data_root, image_size=32)
    train = split_val(data.load(cfg.dataset, "train", **kw), cfg.val_n)[0]
    test = data.load(cfg.dataset, "test", **kw)
    T = teacher_for(cfg, train, test, torch.device("cpu"))[0]
    S = network(cfg.archs[1], test.num_classes, test.channels, cfg.resnet_width)
    S.load_state_dict(state["student"])
    S.eval()
    with torch.no_grad():
        pred = torch.cat([S(test.images[i:i + 1000]).argmax(1)
                          for i in range(0, len(test.labels), 1000)])
    hit = pred == test.labels
    out = {"round": state["round"], "accuracy": hit.double().mean().item(),
           "per_class": [hit[test.labels == k].double().mean().item()
                         if (test.labels == k).any() else None
                         for k in range(test.num_classes)]}
    if cfg.scheme == "kd":  # no generator: the student learns from real images
        return out
    G = generator(cfg, test.channels, train.images)  # the checkpoint holds its output map
    G.load_state_dict(state["generator"])
    G.train()  # batch statistics, as in the rounds
    gen = torch.Generator().manual_seed(seed)
    t_cls, s_cls = [], []
    with torch.no_grad():
        for _ in range(n_batches):
            x = G(torch.randn(cfg.batch_size, cfg.nz, generator=gen))
            t_cls.append(T(x).argmax(1))
            s_cls.append(S(x).argmax(1))
    t_cls, s_cls = torch.cat(t_cls), torch.cat(s_cls)
    return out | class_shares(t_cls.numpy(), test.num_classes) | {
        "agreement": (t_cls == s_cls).double().mean().item(), "images": len(t_cls)}


# --------------------------------------------------------------------------- summaries


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _mean_std(xs: list[float]) -> tuple[float, float]:
    xs = torch.tensor(xs, dtype=torch.float64)
    std = xs.std().item() if len(xs) > 1 else float("nan")  # sample std (n - 1)
    return xs.mean().item(), std


def summarise(runs: dict[str, list[DistillResult]], *, rounds: int, seconds: float) -> list[dict]:
    """One row per method (``runs`` maps a label to its runs over seeds): mean and std of the
    final accuracy, of the accuracy after ``rounds`` rounds and after ``seconds`` of training
    clock, and the mean training clock."""
    rows = []
    for label, results in runs.items():
        acc = _mean_std([r.accuracy for r in results])
        at_r = _mean_std([accuracy_at(r.records, round=rounds) for r in results])
        at_t = _mean_std([accuracy_at(r.records, seconds=seconds) for r in results])
        rows.append({
            "method": label, "seeds": len(results), "rounds": results[0].config.rounds,
            "params": n_params(results[0].student),
            "acc": acc[0], "acc_std": acc[1], "acc_at_rounds": at_r[0], "acc_at_rounds_std": at_r[1],
            "acc_at_time": at_t[0], "acc_at_time_std": at_t[1],
            "seconds": _mean_std([r.seconds for r in results])[0],
        })
    return rows


def compare(cfg: DFADConfig, seeds: list[int], rounds: dict[str, int], workers: int = 1
            ) -> dict[str, list]:
    """Every scheme in ``rounds`` (scheme -> rounds) over ``seeds``, from the base ``cfg``;
    the same hyperparameters for all, ``workers`` runs at a time in separate processes (0: one
    per core; :func:`osgan.harness.parallel_map`). Returns scheme -> list of
    :class:`DistillResult`, the same as one after the other."""
    cfgs = [dataclasses.replace(cfg, scheme=scheme, rounds=n, seed=seed)
            for scheme, n in rounds.items() for seed in seeds]
    if workers != 1:  # train (or load) the cached teacher once, here
        KIND.prepare(cfg)
    results = harness.parallel_map(distill, cfgs, workers, desc=f"{len(cfgs)} runs",
                                   progress=cfg.progress)
    out: dict[str, list] = {}
    for c, r in zip(cfgs, results):
        out.setdefault(c.scheme, []).append(r)
    return out


def plus_minus(mean: float, std: float) -> str:
    """``"0.812 ± 0.004"``, or ``"0.812"`` where the std is undefined (one seed)."""
    return f"{mean:.3f}" if math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def higher(rows: list[dict], a: str = "one", b: str = "two") -> dict[str, dict]:
    """Which of schemes ``a`` and ``b`` has the higher mean accuracy at equal rounds
    (``acc_at_rounds``) and at equal training clock (``acc_at_time``): per way, both means,
    the difference a - b and the scheme ahead ("neither" on a tie)."""
    ra, rb = ({r["method"]: r for r in rows}[k] for k in (a, b))
    out = {}
    for key in ("acc_at_rounds", "acc_at_time"):
        d = ra[key] - rb[key]
        out[key] = {a: ra[key], b: rb[key], "difference": d,
                    "ahead": a if d > 0 else b if d < 0 else "neither"}
    return out


# labels of the schemes in Table 2's rows
LABELS = {"kd": "KD (real data)", "two": "DFAD (two)", "one": "Ours (one)"}


def table2_rows(runs: dict[str, list[DistillResult]], rows: list[dict]) -> list[dict]:
    """Table 2's analogue: the teacher, then one row per scheme of :func:`summarise` with its
    accuracies written as mean ± std."""
    first = next(iter(runs.values()))[0]
    arch = first.config.archs[0]
    table = [{"method": f"Teacher ({arch})", "params": n_params(first.teacher),
              "acc": f"{first.teacher_accuracy:.3f}"}]
    for r in rows:
        table.append(r | {"method": LABELS.get(r["method"], r["method"]),
                          "acc": plus_minus(r["acc"], r["acc_std"]),
                          "acc_at_rounds": plus_minus(r["acc_at_rounds"], r["acc_at_rounds_std"]),
                          "acc_at_time": plus_minus(r["acc_at_time"], r["acc_at_time_std"])})
    return table


@dataclass
class DFADChapter:
    n_seeds: int = setting(3, "seeds per scheme (the runs use seed, seed + 1, ...)")
    one_stage_factor: int = setting(3, "one-stage (and KD) rounds per two-stage round: about "
                                    "equal wall-clock")


# --------------------------------------------------------------------------- command line


def configure_parser(parser) -> None:
    """``python -m osgan dfad``: one option per ``DFADConfig`` field, plus ``--profile``."""
    settings.add_profile_argument(parser)
    settings.add_arguments(parser, DFADConfig)


def run(args) -> int:
    try:
        cfg = settings.from_args(DFADConfig, args)
        if cfg.out_dir is None:
            cfg.out_dir = f"runs/dfad-{cfg.dataset}-{cfg.scheme}-seed{cfg.seed}"
        res = distill(cfg.validate())
    except ValueError as e:  # bad values, missing data (osgan.data.DataNotFound), bad checkpoint
        raise UsageError(str(e)) from None
    print(f"teacher {res.teacher_accuracy:.4f}  student ({cfg.scheme}) {res.accuracy:.4f}  "
          f"after {cfg.rounds} rounds, {res.seconds:.1f} s of training; wrote {res.out_dir}")
    return 0
