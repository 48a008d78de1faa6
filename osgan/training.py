r"""Training runs on real data: one config, a loop that measures itself, the ``train`` command.

Each step is :func:`osgan.one_stage_step` (Algorithm 1, cost Eq. 16) or
:func:`osgan.two_stage_step` (Eq. 13-15), with Adam for G and D (Sec. 4.1.2: batch 128, DCGAN
backbone, GroupNorm in D). A run directory is an :class:`osgan.harness.RunFolder` of kind
``"train"``; it holds:

* ``config.json`` (written at the start) and ``done.json`` (a summary, written only at the end, so
  a killed run never looks finished);
* ``metrics.jsonl``: one row per logged step with the step's statistics (``Loss/D``, ``Loss/G``,
  ``Gamma/mean`` ...), ``Time/step`` (mean seconds per step since the previous row),
  ``Time/train`` (cumulative training wall-clock, evaluation, sampling, checkpointing and logging
  excluded), ``Time/eval`` (cumulative evaluation time) and, at evaluation steps, ``Eval/FID``,
  ``Eval/KID``, ``Eval/KID_std`` and their labels;
* ``samples/step_NNNNNN.png``: grids of G's samples from one fixed z (and fixed labels for CGAN);
* ``checkpoint.pt``: see :mod:`osgan.checkpoint`; ``resume=True`` continues from it and gives the
  losses an uninterrupted run gives (on CPU; cuDNN may not be deterministic).

:func:`train` is a run of kind :class:`TrainKind` (:mod:`osgan.runkind`), made of short pieces:
:func:`_setup` (data, models, optimizers), :func:`_state` and :func:`_restore` (the checkpoint),
:func:`_step` (one round), :func:`_evaluate` and :func:`_save_grid`; :func:`osgan.harness.run`
drives them with the folder, the clock, the rows, the checkpoints and ``done.json``.

In this implementation we:

* log the statistics of the logged step only (no averaging over the interval) and read them from
  the device only at log steps, so a GPU run has no host-device sync per step; on CUDA the clocks
  synchronise at log, sample, evaluation and checkpoint steps only;
* draw real batches uniformly with replacement (not epoch by epoch);
* sample the grids and evaluate with G in eval mode (BatchNorm's running statistics);
* use the same GroupNorm D for one- and two-stage runs, so they differ in the schedule only;
* let ``threads`` set torch's CPU threads for the whole process (the quick profile uses one:
  on a shared CPU, more threads stall each other).

Evaluation: every ``eval.every`` steps the loop calls ``osgan.metrics.fid_kid`` on
:func:`sampler` (``eval.n_gen`` images against ``eval.n_real`` test images in
``eval.feature_space``) and logs what it returns under ``Eval/``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from osgan import checkpoint, data, harness, layout, losses, runkind, settings, timing
from osgan.models import Generator, ModelConfig, models_for
from osgan.runkind import RunKind
from osgan.settings import EvalConfig, setting
from osgan.steps import TWO_STAGE_VARIANTS, one_stage_step, two_stage_step
from osgan.util import UsageError, check_count, check_rate, check_seed, eval_mode, seeded

STAGES = ("one", "two")


@dataclass
class TrainConfig:
    gan: str = setting("dcgan_ns", "objective of Table 1: dcgan, cgan, wgan, dcgan_ns, lsgan, ...")
    stages: str = setting("one", "one (Algorithm 1) or two (alternating, Eq. 13-15)")
    variant: str = setting("paper", "two-stage variant: paper (new z, G run twice), reuse (G run "
                           "once) or simultaneous (G's stage on D before D's update)")
    exact: bool = setting(False, "one stage: recover G's gradient on inactive hinge samples")
    dataset: str = setting("fashion_mnist", "fashion_mnist, cifar10, cifar100, celeba, "
                           "lsun_churches, ffhq")
    data_root: str | None = setting(None, "folder holding the data set (None: Fashion-MNIST's "
                                    "system copy)")
    data_limit: int | None = setting(None, "read only the first N training images (big image "
                                     "folders)")
    image_size: int = setting(32, "32 or 64")
    width: int = setting(64, "DCGAN width: channels of G's last and D's first hidden layer")
    nz: int = setting(100, "dimension of z")
    d_norm: str = setting("group", "D's normalisation: group (the paper), batch or none")
    batch_size: int = setting(128, "real and fake samples per step (Sec. 4.1.2)")
    steps: int = setting(20000, "training steps (one update of G and of D each)")
    lr_g: float = setting(2e-4, "Adam learning rate of G")
    lr_d: float = setting(2e-4, "Adam learning rate of D")
    beta1_g: float = setting(0.5, "Adam beta1 of G (DCGAN's value)")
    beta2_g: float = setting(0.999, "Adam beta2 of G")
    beta1_d: float = setting(0.5, "Adam beta1 of D")
    beta2_d: float = setting(0.999, "Adam beta2 of D")
    seed: int = setting(0, "seeds models, data sampling, z and the fixed sample grid")
    ema: float = setting(0.0, "decay of an exponential moving average of G's weights and "
                         "buffers, evaluated beside G at each evaluation (Eval/EMA/*; ours, not "
                         "the paper's); it changes nothing in how G and D train (0: none)")
    device: str = setting("auto", "auto (CUDA if available), cpu, cuda, cuda:N")
    threads: int = setting(0, "CPU threads torch may use (0: the process's count, torch's "
                           "default; 1 helps on a shared CPU). Part of what a run's numbers "
                           "depend on: sums split over threads round differently")
    layout: str = setting("auto", "the step's memory formats and D passes (osgan.layout): auto "
                          "(the fastest for this machine: its record, else measured once and "
                          "cached), or a named one, the same arithmetic on every machine: "
                          "nhwc (the CPU record's), plain")
    precision: str = setting("float32", "float32 (the paper's), or bfloat16: torch.autocast "
                             "around G's and D's passes, losses and gamma in float32; faster "
                             "where the device has bfloat16 kernels, rounded differently")
    log_every: int = setting(50, "steps between rows of metrics.jsonl (the last step is always "
                             "logged)")
    eval: EvalConfig = setting(help="FID/KID during training", factory=EvalConfig)
    sample_every: int = setting(1000, "steps between sample grids (the last step always gets one)")
    sample_n: int = setting(64, "images per sample grid")
    checkpoint_every: int = setting(1000, "steps between checkpoints (the last step always gets "
                                    "one)")
    out_dir: str = setting("", "run directory ('': runs/<gan>-<stages>-<dataset>-seed<seed>)")
    checkpoint_dir: str = setting("", "where checkpoint.pt goes ('': the run directory); a sweep "
                                  "keeps checkpoints out of its record")
    resume: bool = setting(False, "continue the run in out_dir from its checkpoint")
    overwrite: bool = setting(False, "start the run in out_dir afresh, replacing the train run "
                              "there (never another kind's files)")
    progress: bool = setting(True, "show a tqdm progress bar with the current losses")
    plan: str = setting("", "SHA-256 of the analysis plan (osgan.plans) a sweep records this run "
                        "under; recorded in config.json, changes nothing in training")

    def __post_init__(self):
        if isinstance(self.eval, dict):
            self.eval = EvalConfig(**self.eval)
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` saying what is wrong and what to do."""
        if self.gan not in losses.names():
            raise ValueError(f"unknown gan {self.gan!r}; choose one of: "
                             f"{', '.join(losses.names())}")
        if self.stages not in STAGES:
            raise ValueError(f"stages must be 'one' or 'two'; got {self.stages!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; "
                             f"got {self.precision!r}")
        if self.layout != "auto" and self.layout not in layout.NAMED:
            raise ValueError(f"layout must be auto or one of {', '.join(layout.NAMED)}; "
                             f"got {self.layout!r}")
        if self.variant not in TWO_STAGE_VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(TWO_STAGE_VARIANTS)}; "
                             f"got {self.variant!r}")
        if self.dataset not in data.DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of: "
                             f"{', '.join(data.DATASETS)}")
        if self.image_size not in (32, 64):
            raise ValueError(f"image_size must be 32 or 64 (the DCGAN layouts); "
                             f"got {self.image_size}")
        for name in ("batch_size", "steps", "width", "nz", "log_every", "sample_n"):
            check_count(name, getattr(self, name))
        for name in ("sample_every", "checkpoint_every", "threads"):
            check_count(name, getattr(self, name), minimum=0)
        check_count("data_limit", self.data_limit, optional=True)
        check_seed("seed", self.seed)
        if isinstance(self.ema, bool) or not isinstance(self.ema, (int, float)) \
                or not 0 <= self.ema < 1:
            raise ValueError(f"ema must be a decay in [0, 1) (0: no average); got {self.ema!r}")
        for name in ("lr_g", "lr_d"):
            check_rate(name, getattr(self, name))
        for name in ("beta1_g", "beta2_g", "beta1_d", "beta2_d"):
            b = getattr(self, name)
            if isinstance(b, bool) or not isinstance(b, (int, float)) or not 0 <= b < 1:
                raise ValueError(f"{name} must be in [0, 1); got {b!r}")
        if self.resume and self.overwrite:
            raise ValueError("give resume (--resume) or overwrite (--overwrite), not both")
        self.eval.validate()
        if self.device != "auto":
            try:
                torch.device(self.device)  # availability is checked when a run starts
            except (RuntimeError, TypeError):
                raise ValueError(f"unknown device {self.device!r}; "
                                 "use auto, cpu, cuda or cuda:N") from None

    @classmethod
    def for_profile(cls, profile: str = "auto", *, role: str | None = None, **overrides
                    ) -> TrainConfig:
        """The config of ``profile`` (full, reference, quick, smoke; auto: by device), then
        ``overrides`` (``eval=dict(...)`` for the nested evaluation settings)."""
        return settings.for_profile(cls, profile, role=role, **overrides)

    def run_dir(self) -> Path:
        return Path(self.out_dir or f"runs/{self.gan}-{self.stages}-{self.dataset}-seed{self.seed}")


# Settings that change the trajectory: a resumed run must agree with its checkpoint on these.
TRAJECTORY = ("gan", "stages", "variant", "exact", "dataset", "data_limit", "image_size", "width",
              "nz", "d_norm", "batch_size", "lr_g", "lr_d", "beta1_g", "beta2_g", "beta1_d",
              "beta2_d", "seed", "precision")
# what a checkpoint written before a setting existed was trained with
TRAJECTORY_DEFAULTS = {"precision": "float32"}
PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}  # autocast dtype (None: no autocast)


@dataclass
class TrainResult:
    out_dir: Path  # the run directory
    records: list[dict[str, Any]]  # the rows of metrics.jsonl
    G: nn.Module  # the generator after the last step
    D: nn.Module  # the discriminator after the last step
    config: TrainConfig = field(repr=False, default=None)  # the config of the run


def sampler(G: nn.Module, cfg: TrainConfig, device: str | torch.device = "cpu"):
    """``fn(n) -> (n, C, S, S)`` images in [-1, 1] from G in eval mode, new ones at every call
    (a generator seeded from ``cfg.seed``); class labels uniform for a conditional G."""
    device = torch.device(device)
    gen = torch.Generator(device).manual_seed(cfg.seed + 1_000_003)
    nz, k = G.cfg.nz, G.cfg.num_classes

    @torch.no_grad()
    def sample(n: int, batch: int = 500) -> torch.Tensor:
        out = []
        with eval_mode(G):
            for i in range(0, n, batch):
                b = min(batch, n - i)
                z = torch.randn(b, nz, generator=gen, device=device)
                y = torch.randint(k, (b,), generator=gen, device=device) if k else None
                out.append(G(z, y))
        return torch.cat(out)

    return sample


def load_generator(run_dir: str | Path, device: str | torch.device = "cpu"
                   ) -> tuple[Generator, TrainConfig]:
    """G of a run (its latest checkpoint) in eval mode, and the run's config."""
    return load_final(run_dir, device)[:2]


def load_final(run_dir: str | Path, device: str | torch.device = "cpu"
               ) -> tuple[Generator, TrainConfig, int]:
    """:func:`load_generator`, and the step of the checkpoint G comes from."""
    folder = harness.RunFolder(run_dir, "train")
    try:
        meta = folder.meta()
        if meta is not None and meta["config"].get("checkpoint_dir"):
            folder = harness.RunFolder(run_dir, "train",
                                       checkpoint_dir=meta["config"]["checkpoint_dir"])
    except UsageError:
        meta = None
    if meta is None or meta.get("kind", "train") != "train":
        raise ValueError(f"{run_dir} is not a run directory of `python -m osgan train`; "
                         "train one with `python -m osgan train`")
    cfg = settings.from_dict(TrainConfig, meta["config"] | {"resume": False})
    G = Generator(ModelConfig(**meta["model"]))
    state = checkpoint.load(folder.checkpoint_path, map_location="cpu")
    G.load_state_dict(state["G"])
    return G.to(device).eval(), cfg, state["step"]


def evaluate_generator(G: nn.Module, cfg: TrainConfig, device: str | torch.device = "cpu"
                       ) -> dict[str, Any]:
    """:func:`osgan.metrics.fid_kid` of G at ``cfg``'s evaluation settings and sampler: what a run
    logs under ``Eval/`` at each evaluation."""
    from osgan.metrics import fid_kid  # imported here: evaluation is optional and heavier

    ev = cfg.eval
    return fid_kid(sampler(G, cfg, device), dataset=cfg.dataset, split="test",
                   feature_space=ev.feature_space, n_real=ev.n_real, n_gen=ev.n_gen,
                   data_root=cfg.data_root, image_size=cfg.image_size, device=str(device),
                   seed=cfg.seed)


# ---------------------------------------------------------------------------------------------
# the pieces of a run


@dataclass
class _Run:
    """What the steps of one run read and change."""

    cfg: TrainConfig
    device: torch.device
    images: data.ImageData
    objective: losses.Objective
    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    noise_gen: torch.Generator  # every z of the steps (osgan.checkpoint.noise_generator)
    data_gen: torch.Generator  # the real batches
    layout: layout.Layout  # memory formats, fused or separate D pass, fused Adam (osgan.layout)
    z_grid: torch.Tensor  # the fixed z of every sample grid
    y_grid: torch.Tensor | None  # and its labels (conditional objectives)
    ema: AveragedModel | None = None  # the moving average of G (cfg.ema), or None


def _setup(cfg: TrainConfig, device: torch.device, images: data.ImageData | None = None) -> _Run:
    """Data, models, optimizers and random generators, seeded by ``cfg.seed``; ``images``: the
    training split already loaded on ``device`` (the seeds of an ensemble share one copy)."""
    if images is None:
        images = data.load(cfg.dataset, "train", data_root=cfg.data_root,
                           image_size=cfg.image_size, limit=cfg.data_limit).to(device)
    objective = losses.get(cfg.gan)
    with seeded(cfg.seed, device):  # the initial weights, and where the noise stream starts
        G, D = models_for(objective, image_size=cfg.image_size, channels=images.channels,
                          nz=cfg.nz, width=cfg.width, num_classes=images.num_classes,
                          d_norm=cfg.d_norm)
        noise_gen = checkpoint.noise_generator(device)
    G, D = G.to(device), D.to(device)
    # the step's layout for this device, the same optimisations for one and two stages
    lay = layout.prepare(G, D, images.images[:cfg.batch_size], device, objective=objective,
                         stages=cfg.stages, layout=None if cfg.layout == "auto"
                         else layout.named(cfg.layout, D, device))
    opt_g, opt_d, ema = _optimizers(cfg, G, D, lay)
    data_gen = torch.Generator(device).manual_seed(cfg.seed + 1)
    # the fixed z (and labels) of every sample grid, drawn apart from the training generators
    grid_gen = torch.Generator().manual_seed(cfg.seed + 2)
    z_grid = torch.randn(cfg.sample_n, cfg.nz, generator=grid_gen).to(device)
    k = images.num_classes if objective.conditional else 0
    y_grid = (torch.arange(cfg.sample_n) % k).to(device) if k else None
    return _Run(cfg, device, images, objective, G, D, opt_g, opt_d, noise_gen, data_gen, lay, z_grid,
                y_grid, ema)


def _optimizers(cfg: TrainConfig, G: nn.Module, D: nn.Module, lay: layout.Layout
                ) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer, AveragedModel | None]:
    """G's and D's Adams (fused as ``lay`` says) and G's moving average (a copy of G in its
    memory format): what is built over G and D once their layout is set."""
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1_g, cfg.beta2_g),
                             **lay.optimizer_kwargs())
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1_d, cfg.beta2_d),
                             **lay.optimizer_kwargs())
    # torch's own EMA (weights and BatchNorm buffers alike); it reads G and draws no random number
    ema = AveragedModel(G, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True) \
        if cfg.ema else None
    return opt_g, opt_d, ema


def _state(run: _Run) -> dict[str, Any]:
    """What the next step reads (the harness adds the step, the clocks and the config)."""
    return {"G": run.G.state_dict(), "D": run.D.state_dict(),
            "opt_g": run.opt_g.state_dict(), "opt_d": run.opt_d.state_dict(),
            "objective": run.objective.state_dict(),
            "rng": checkpoint.rng_state(run.noise_gen, run.data_gen),
            "layout": asdict(run.layout)} \
        | ({"ema": run.ema.state_dict()} if run.ema is not None else {})


def _restore(run: _Run, state: dict[str, Any]) -> None:
    """Load a checkpoint into the run, under the layout it was started with (one written before
    runs kept theirs: under the one chosen now)."""
    if "layout" in state:
        _adopt(run, layout.Layout(**state["layout"]))
    run.G.load_state_dict(state["G"])
    run.D.load_state_dict(state["D"])
    run.opt_g.load_state_dict(state["opt_g"])
    run.opt_d.load_state_dict(state["opt_d"])
    run.objective.load_state_dict(state["objective"])
    checkpoint.set_rng_state(state["rng"], run.noise_gen, run.data_gen)
    if run.ema is not None:
        if "ema" not in state:
            raise UsageError("cannot resume with ema: the checkpoint was trained without a moving "
                             "average of G; resume with ema=0 or start afresh (--overwrite)")
        run.ema.load_state_dict(state["ema"])


def _adopt(run: _Run, lay: layout.Layout) -> None:
    """Continue under ``lay``, not the layout chosen at set-up: layouts round differently, and a
    resumed run must continue to the same bits on any machine, whatever its record or cache."""
    if lay.arithmetic() == run.layout.arithmetic():
        return
    lay.apply(run.G, run.D)
    run.opt_g, run.opt_d, run.ema = _optimizers(run.cfg, run.G, run.D, lay)
    print(f"osgan: {run.cfg.run_dir()} resumes with the layout it was started with, "
          f"{lay.describe()}; not this machine's {run.layout.describe()}", file=sys.stderr)
    run.layout = lay


def _step(run: _Run) -> dict[str, torch.Tensor]:
    """One round: a real batch, a z, one step of one or two stages (statistics on the device)."""
    cfg = run.cfg
    x, y = run.images.sample(cfg.batch_size, run.data_gen)
    x = run.layout.batch(x)
    y = y if run.objective.conditional else None
    z = torch.randn(cfg.batch_size, cfg.nz, device=run.device, generator=run.noise_gen)
    dtype = PRECISIONS[cfg.precision]
    with torch.autocast(run.device.type, dtype=dtype, enabled=dtype is not None):
        if cfg.stages == "one":
            stats = one_stage_step(run.G, run.D, run.opt_g, run.opt_d, run.objective, x, z, y,
                                   exact=cfg.exact, fused=run.layout.fused, as_float=False)
        else:
            stats = two_stage_step(run.G, run.D, run.opt_g, run.opt_d, run.objective, x, z, y,
                                   variant=cfg.variant, fused=run.layout.fused, as_float=False,
                                   generator=run.noise_gen)
    if run.ema is not None:
        run.ema.update_parameters(run.G)
    return stats


def _evaluate(run: _Run) -> dict[str, Any]:
    """G's evaluation under ``Eval/``, and its moving average's (the same z) under
    ``Eval/EMA/``."""
    out = {f"Eval/{k}": v for k, v in evaluate_generator(run.G, run.cfg, run.device).items()}
    if run.ema is not None:
        out |= {f"Eval/EMA/{k}": v
                for k, v in evaluate_generator(run.ema.module, run.cfg, run.device).items()}
    return out


@torch.no_grad()
def _save_grid(run: _Run, path: Path) -> None:
    from torchvision.utils import save_image

    k = run.y_grid is not None and run.images.num_classes
    nrow = k or int(run.cfg.sample_n**0.5)
    with eval_mode(run.G):
        x_hat = run.G(run.z_grid, run.y_grid)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(x_hat.float().cpu(), path, nrow=nrow, normalize=True, value_range=(-1, 1), padding=1)


def _check_eval(cfg: TrainConfig) -> None:
    """The evaluation settings, checked before step 1 rather than at the first evaluation."""
    if not cfg.eval.every:
        return
    import osgan.metrics as metrics  # the registry of feature spaces, loaded with it

    spaces = getattr(metrics, "FEATURE_SPACES", None) or {cfg.eval.feature_space: None}
    if cfg.eval.feature_space not in spaces:
        raise ValueError(f"unknown eval.feature_space {cfg.eval.feature_space!r}; choose one "
                         f"of: {', '.join(sorted(spaces))}")
    for name in ("n_gen", "n_real"):
        if getattr(cfg.eval, name) < 4:
            raise ValueError(f"eval.{name} must be at least 4 (KID compares subsets of each "
                             f"side); got {getattr(cfg.eval, name)}")
    if cfg.eval.feature_space == "inception":
        from osgan.metrics.inception import InceptionWeightsNotFound, find_weights  # as above

        try:
            find_weights()
        except InceptionWeightsNotFound as e:
            raise ValueError(str(e)) from None


class TrainKind(RunKind):
    """GAN training runs (``"train"``), counted in steps: the pieces above, in the harness."""

    name, config, count, length = "train", TrainConfig, "step", "steps"
    trajectory, trajectory_defaults = TRAJECTORY, TRAJECTORY_DEFAULTS

    def paths(self, cfg: TrainConfig):
        return cfg.run_dir(), cfg.checkpoint_dir or None

    def check(self, cfg: TrainConfig) -> None:
        _check_eval(cfg)

    def meta(self, run: _Run) -> dict[str, Any]:
        return {"model": asdict(run.G.cfg), "layout": asdict(run.layout)}

    def describe(self, cfg: TrainConfig) -> str:
        return f"{cfg.gan} {cfg.stages}-stage"

    def setup(self, cfg: TrainConfig, device: torch.device,
              images: data.ImageData | None = None) -> _Run:
        run = _setup(cfg, device, images)  # images: loaded already (osgan.ensemble's seeds)
        run.G.train()
        run.D.train()
        return run

    def step(self, run: _Run, i: int) -> dict[str, torch.Tensor]:
        return _step(run)

    def state(self, run: _Run) -> dict[str, Any]:
        return _state(run)

    def restore(self, run: _Run, state: dict[str, Any]) -> None:
        _restore(run, state)

    def modules(self, run: _Run) -> dict[str, nn.Module]:
        return {"G": run.G, "D": run.D}

    def schedule(self, cfg: TrainConfig) -> harness.Schedule:
        return harness.Schedule(log=cfg.log_every, eval=cfg.eval.every, sample=cfg.sample_every,
                                checkpoint=cfg.checkpoint_every)

    def evaluate(self, run: _Run) -> dict[str, Any]:
        return _evaluate(run)

    def sample(self, run: _Run, path: Path) -> None:
        _save_grid(run, path)

    def postfix(self, row: dict[str, Any]) -> dict[str, str]:
        return {"D": f"{row['Loss/D']:.3f}", "G": f"{row['Loss/G']:.3f}"}

    def summary(self, run: _Run, records: list[dict[str, Any]]) -> dict[str, Any]:
        return {"last": records[-1] if records else None}

    def result(self, run: _Run, records, summary, folder: harness.RunFolder) -> TrainResult:
        return TrainResult(folder.path, records, run.G, run.D, run.cfg)

    def cost_key(self, cfg: TrainConfig) -> str:
        return cfg.stages

    def cost_configs(self, cfgs: list[TrainConfig]) -> dict[str, TrainConfig]:
        """Both schemes on dcgan_ns at the first config's settings."""
        return {st: replace(cfgs[0], gan="dcgan_ns", stages=st, exact=False)
                for st in ("one", "two")}

    def step_seconds(self, cfg: TrainConfig) -> float:
        return step_seconds(cfg)


KIND = TrainKind()


def train(cfg: TrainConfig) -> TrainResult:
    """Train ``cfg.gan`` for ``cfg.steps`` steps in one or two stages; see the module docstring."""
    return runkind.run(KIND, cfg)


def step_seconds(cfg: TrainConfig, steps: int = 20) -> float:
    """Measured CPU seconds per training step at ``cfg``'s settings (random data, same models),
    after a few warm-up steps, on this process's threads: the process's CPU time, which the
    other work of a loaded machine does not inflate (:class:`osgan.timing.Timer`, ``"cpu"``)."""
    torch.manual_seed(0)
    obj = losses.get(cfg.gan)
    G, D = models_for(obj, image_size=cfg.image_size, channels=1, nz=cfg.nz, width=cfg.width,
                      num_classes=10 if obj.conditional else 0, d_norm=cfg.d_norm)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1_g, cfg.beta2_g))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1_d, cfg.beta2_d))
    B = cfg.batch_size
    x = torch.rand(B, 1, cfg.image_size, cfg.image_size) * 2 - 1
    y = torch.randint(10, (B,)) if obj.conditional else None

    def step():
        z = torch.randn(B, cfg.nz)
        if cfg.stages == "one":
            one_stage_step(G, D, opt_g, opt_d, obj, x, z, y, exact=cfg.exact, as_float=False)
        else:
            two_stage_step(G, D, opt_g, opt_d, obj, x, z, y, as_float=False)

    for _ in range(3):
        step()

    def steps_():
        for _ in range(steps):
            step()

    return timing.Timer(torch.device("cpu"), "cpu")(steps_) / steps


# ---------------------------------------------------------------------------------------------
# the `train` command


def configure_parser(parser: argparse.ArgumentParser) -> None:
    settings.add_profile_argument(parser)
    settings.add_arguments(parser, TrainConfig)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = settings.from_args(TrainConfig, args)
        result = train(cfg)
    except ValueError as e:  # bad values, missing data (DataNotFound), unreadable checkpoint
        raise UsageError(str(e)) from None
    last = result.records[-1] if result.records else {}
    nan = float("nan")
    print(f"{result.out_dir}: {cfg.steps} steps, Time/train {last.get('Time/train', 0):.1f} s, "
          f"Loss/D {last.get('Loss/D', nan):.4f}, Loss/G {last.get('Loss/G', nan):.4f}")
    return 0
