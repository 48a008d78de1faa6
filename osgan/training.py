r"""Training runs on real data: one config, a loop that measures itself, the ``train`` command.

Each step is :func:`osgan.one_stage_step` (Algorithm 1, cost Eq. 16) or
:func:`osgan.two_stage_step` (Eq. 13-15), with Adam for G and D (Sec. 4.1.2: batch 128, DCGAN
backbone, GroupNorm in D). A run directory holds:

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

In this implementation we:

* log the statistics of the logged step only (no averaging over the interval) and read them from
  the device only at log steps, so a GPU run has no host-device sync per step; on CUDA the clocks
  synchronise at log, sample, evaluation and checkpoint steps only;
* draw real batches uniformly with replacement (not epoch by epoch);
* sample the grids and evaluate with G in eval mode (BatchNorm's running statistics);
* use the same GroupNorm D for one- and two-stage runs, so they differ in the schedule only;
* let ``threads`` set torch's CPU threads for the whole process (the quick profile uses one:
  on a shared CPU, more threads stall each other).

Evaluation: every ``eval_every`` steps the loop calls ``osgan.metrics.fid_kid`` on
:func:`sampler` (``eval_n_gen`` images against ``eval_n_real`` test images in
``eval_feature_space``) and logs what it returns under ``Eval/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from osgan import checkpoint, data, losses, profiles
from osgan.models import Generator, ModelConfig, models_for
from osgan.steps import TWO_STAGE_VARIANTS, one_stage_step, to_floats, two_stage_step

STAGES = ("one", "two")


@dataclass
class TrainConfig:
    gan: str = "dcgan_ns"  # objective of Table 1: dcgan, cgan, wgan, dcgan_ns, lsgan, ...
    stages: str = "one"  # "one" (Algorithm 1) or "two" (alternating, Eq. 13-15)
    variant: str = "paper"  # two-stage variant: "paper" (new z, G run twice) or "reuse"
    exact: bool = False  # one stage: recover G's gradient on inactive hinge samples
    dataset: str = "fashion_mnist"  # fashion_mnist, cifar10, cifar100, celeba, lsun_churches, ffhq
    data_root: str | None = None  # folder holding the data set (None: Fashion-MNIST system copy)
    data_limit: int | None = None  # read only the first N training images (big image folders)
    image_size: int = 32  # 32 or 64
    width: int = 64  # DCGAN width: channels of G's last and D's first hidden layer
    nz: int = 100  # dimension of z
    d_norm: str = "group"  # D's normalisation: group (the paper), batch or none
    batch_size: int = 128  # real and fake samples per step (Sec. 4.1.2)
    steps: int = 20000  # training steps (one update of G and of D each)
    lr_g: float = 2e-4  # Adam learning rate of G
    lr_d: float = 2e-4  # Adam learning rate of D
    beta1_g: float = 0.5  # Adam beta1 of G (DCGAN's value)
    beta2_g: float = 0.999  # Adam beta2 of G
    beta1_d: float = 0.5  # Adam beta1 of D
    beta2_d: float = 0.999  # Adam beta2 of D
    seed: int = 0  # seeds models, data sampling, z and the fixed sample grid
    device: str = "auto"  # auto (CUDA if available), cpu, cuda, cuda:N
    threads: int = 0  # CPU threads torch may use (0: torch's default; 1 helps on a shared CPU)
    log_every: int = 50  # steps between rows of metrics.jsonl (the last step is always logged)
    eval_every: int = 0  # steps between FID/KID evaluations (0: never)
    eval_n_real: int = 10000  # real test images in the FID/KID reference
    eval_n_gen: int = 10000  # generated images per FID/KID evaluation
    eval_feature_space: str = "domain"  # FID/KID features: domain (osgan's CNN), inception, ...
    sample_every: int = 1000  # steps between sample grids (the last step always gets one)
    sample_n: int = 64  # images per sample grid
    checkpoint_every: int = 1000  # steps between checkpoints (the last step always gets one)
    out_dir: str = ""  # run directory ("": runs/<gan>-<stages>-<dataset>-seed<seed>)
    resume: bool = False  # continue the run in out_dir from its checkpoint
    progress: bool = True  # show a tqdm progress bar with the current losses

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` saying what is wrong and what to do."""
        if self.gan not in losses.names():
            raise ValueError(f"unknown gan {self.gan!r}; choose one of: "
                             f"{', '.join(losses.names())}")
        if self.stages not in STAGES:
            raise ValueError(f"stages must be 'one' or 'two'; got {self.stages!r}")
        if self.variant not in TWO_STAGE_VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(TWO_STAGE_VARIANTS)}; "
                             f"got {self.variant!r}")
        if self.dataset not in data.DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of: "
                             f"{', '.join(data.DATASETS)}")
        if self.image_size not in (32, 64):
            raise ValueError(f"image_size must be 32 or 64 (the DCGAN layouts); "
                             f"got {self.image_size}")
        for name in ("batch_size", "steps", "width", "nz", "log_every", "sample_n", "eval_n_real",
                     "eval_n_gen"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive integer; got {getattr(self, name)}")
        for name in ("eval_every", "sample_every", "checkpoint_every", "threads"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 turns it off); got {getattr(self, name)}")
        for name in ("lr_g", "lr_d"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive; got {getattr(self, name)}")
        for name in ("beta1_g", "beta2_g", "beta1_d", "beta2_d"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1); got {getattr(self, name)}")
        if self.device != "auto":
            try:
                torch.device(self.device)  # availability is checked when a run starts
            except (RuntimeError, TypeError):
                raise ValueError(f"unknown device {self.device!r}; "
                                 "use auto, cpu, cuda or cuda:N") from None

    @classmethod
    def for_profile(cls, profile: str = "auto", **overrides) -> TrainConfig:
        """The config of ``profile`` (full, quick, smoke; auto: by device), then ``overrides``."""
        name = profiles.resolve(profile, overrides.get("device", "auto"))
        return cls(**(PROFILE_SETTINGS[name] | overrides))

    def run_dir(self) -> Path:
        return Path(self.out_dir or f"runs/{self.gan}-{self.stages}-{self.dataset}-seed{self.seed}")


# What each profile changes from TrainConfig's defaults (which are the paper's scale).
PROFILE_SETTINGS: dict[str, dict[str, Any]] = {
    "full": {},
    # chosen by measurement on a 2-core CPU: about 0.07 CPU-seconds a step, so 2000 steps take
    # 2-3 minutes on an idle machine; by step 2000 the grid shows tops, shirts and dresses (at
    # 1000 only blobs). One thread: on a shared CPU more threads stall each other.
    "quick": dict(width=32, batch_size=64, steps=2000, log_every=25, sample_every=250,
                  checkpoint_every=500, threads=1),
    "smoke": dict(width=8, batch_size=16, steps=12, log_every=2, sample_every=6,
                  checkpoint_every=6, sample_n=16, eval_n_real=128, eval_n_gen=64,
                  eval_feature_space="domain_smoke"),
}

# Settings that change the trajectory: a resumed run must agree with its checkpoint on these.
_TRAJECTORY = ("gan", "stages", "variant", "exact", "dataset", "data_limit", "image_size", "width",
               "nz", "d_norm", "batch_size", "lr_g", "lr_d", "beta1_g", "beta2_g", "beta1_d",
               "beta2_d", "seed")


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
        was_training = G.training
        G.eval()
        out = []
        try:
            for i in range(0, n, batch):
                b = min(batch, n - i)
                z = torch.randn(b, nz, generator=gen, device=device)
                y = torch.randint(k, (b,), generator=gen, device=device) if k else None
                out.append(G(z, y) if k else G(z))
        finally:
            G.train(was_training)
        return torch.cat(out)

    return sample


def load_generator(run_dir: str | Path, device: str | torch.device = "cpu"
                   ) -> tuple[Generator, TrainConfig]:
    """G of a run (its latest checkpoint) in eval mode, and the run's config."""
    run_dir = Path(run_dir)
    try:
        meta = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{run_dir} is not a run directory ({e}); "
                         "train one with `python -m osgan train`") from None
    cfg = TrainConfig(**(meta["config"] | {"resume": False}))
    G = Generator(ModelConfig(**meta["model"]))
    G.load_state_dict(checkpoint.load(run_dir / "checkpoint.pt", map_location="cpu")["G"])
    return G.to(device).eval(), cfg


def _evaluate(G, cfg: TrainConfig, device) -> dict[str, Any]:
    from osgan.metrics import fid_kid  # imported here: evaluation is optional and heavier

    out = fid_kid(sampler(G, cfg, device), dataset=cfg.dataset, split="test",
                  feature_space=cfg.eval_feature_space, n_real=cfg.eval_n_real,
                  n_gen=cfg.eval_n_gen, data_root=cfg.data_root, image_size=cfg.image_size,
                  device=str(device), seed=cfg.seed)
    return {f"Eval/{k}": v for k, v in out.items()}


@torch.no_grad()
def _save_grid(G, z, y, path: Path, nrow: int) -> None:
    from torchvision.utils import save_image

    was_training = G.training
    G.eval()
    x_hat = G(z, y) if y is not None else G(z)
    G.train(was_training)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(x_hat.float().cpu(), path, nrow=nrow, normalize=True, value_range=(-1, 1), padding=1)


def _read_records(path: Path, upto: int) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a kill: the resumed run redoes it
            continue
    return [r for r in rows if r["step"] <= upto]


def train(cfg: TrainConfig) -> TrainResult:
    """Train ``cfg.gan`` for ``cfg.steps`` steps in one or two stages; see the module docstring."""
    cfg.validate()
    device = profiles.resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)  # process-wide, as torch has it
    out = cfg.run_dir()
    ckpt_path, metrics_path = out / "checkpoint.pt", out / "metrics.jsonl"
    if (out / "config.json").exists() and not cfg.resume:
        raise ValueError(f"{out} already holds a run: pass resume (--resume) to continue it, "
                         "or choose another out_dir (--out-dir)")
    state = checkpoint.load(ckpt_path) if cfg.resume and ckpt_path.exists() else None
    if state is not None:
        old = state["config"]
        diff = [k for k in _TRAJECTORY if old.get(k) != getattr(cfg, k)]
        if diff:
            was = ", ".join(f"{k}={old.get(k)!r}" for k in diff)
            raise ValueError(f"cannot resume {out}: its checkpoint was trained with {was}; "
                             "use those values or another out_dir")

    # data before anything is written: a missing data set leaves no run directory behind
    images = data.load(cfg.dataset, "train", data_root=cfg.data_root, image_size=cfg.image_size,
                       limit=cfg.data_limit).to(device)
    torch.manual_seed(cfg.seed)
    objective = losses.get(cfg.gan)
    G, D = models_for(objective, image_size=cfg.image_size, channels=images.channels, nz=cfg.nz,
                      width=cfg.width, num_classes=images.num_classes, d_norm=cfg.d_norm)
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1_g, cfg.beta2_g))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1_d, cfg.beta2_d))
    data_gen = torch.Generator(device).manual_seed(cfg.seed + 1)

    # the fixed z (and labels) of every sample grid, drawn apart from the training generators
    grid_gen = torch.Generator().manual_seed(cfg.seed + 2)
    z_grid = torch.randn(cfg.sample_n, cfg.nz, generator=grid_gen).to(device)
    k = images.num_classes if objective.conditional else 0
    y_grid = (torch.arange(cfg.sample_n) % k).to(device) if k else None
    nrow = k if k else int(cfg.sample_n**0.5)

    start, t_train, t_eval = 0, 0.0, 0.0
    if state is not None:
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        objective.load_state_dict(state["objective"])
        checkpoint.set_rng_state(state["rng"], data_gen)
        start, t_train, t_eval = state["step"], state["time_train"], state["time_eval"]
    records = _read_records(metrics_path, upto=start)
    out.mkdir(parents=True, exist_ok=True)
    (out / "done.json").unlink(missing_ok=True)
    checkpoint.write_json(out / "config.json", {"config": asdict(cfg), "model": asdict(G.cfg)})
    # rows a killed run logged after its last checkpoint are dropped: the resumed run redoes them
    checkpoint.atomic_write(metrics_path, lambda f: f.writelines(
        (json.dumps(r) + "\n").encode() for r in records))

    def save_checkpoint(step: int) -> None:
        checkpoint.save(ckpt_path, {
            "step": step, "G": G.state_dict(), "D": D.state_dict(),
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
            "objective": objective.state_dict(), "rng": checkpoint.rng_state(data_gen),
            "time_train": t_train, "time_eval": t_eval, "config": asdict(cfg),
        })

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    from tqdm.auto import tqdm

    bar = tqdm(total=cfg.steps, initial=start, disable=not cfg.progress, unit="step",
               desc=f"{cfg.gan} {cfg.stages}-stage", dynamic_ncols=True)
    metrics_file = open(metrics_path, "a")
    last_log_step, last_log_time = start, t_train
    G.train()
    D.train()
    t_mark = time.perf_counter()
    try:
        for step in range(start + 1, cfg.steps + 1):
            x, y = images.sample(cfg.batch_size, data_gen)
            y = y if objective.conditional else None
            z = torch.randn(cfg.batch_size, cfg.nz, device=device)
            if cfg.stages == "one":
                stats = one_stage_step(G, D, opt_g, opt_d, objective, x, z, y, exact=cfg.exact,
                                       as_float=False)
            else:
                stats = two_stage_step(G, D, opt_g, opt_d, objective, x, z, y,
                                       variant=cfg.variant, as_float=False)
            bar.update(1)

            last = step == cfg.steps
            do_log = last or step % cfg.log_every == 0
            do_eval = cfg.eval_every > 0 and (last or step % cfg.eval_every == 0)
            do_sample = last or (cfg.sample_every > 0 and step % cfg.sample_every == 0)
            do_ckpt = last or (cfg.checkpoint_every > 0 and step % cfg.checkpoint_every == 0)
            if not (do_log or do_eval or do_sample or do_ckpt):
                continue
            # stop the training clock: what follows is not training
            sync()
            t_train += time.perf_counter() - t_mark
            row: dict[str, Any] | None = None
            if do_log or do_eval:
                row = {"step": step} | to_floats(stats)
                row["Time/step"] = (t_train - last_log_time) / (step - last_log_step)
                row["Time/train"] = t_train
                last_log_step, last_log_time = step, t_train
                bar.set_postfix({"D": f"{row['Loss/D']:.3f}", "G": f"{row['Loss/G']:.3f}"})
            if do_eval:
                t0 = time.perf_counter()
                row |= _evaluate(G, cfg, device)
                sync()
                t_eval += time.perf_counter() - t0
            if row is not None:
                row["Time/eval"] = t_eval
                records.append(row)
                metrics_file.write(json.dumps(row) + "\n")
                metrics_file.flush()
            if do_sample:
                _save_grid(G, z_grid, y_grid, out / "samples" / f"step_{step:06d}.png", nrow)
            if do_ckpt:
                save_checkpoint(step)
            sync()
            t_mark = time.perf_counter()
    finally:
        metrics_file.close()
        bar.close()

    summary = {"steps": cfg.steps, "Time/train": t_train, "Time/eval": t_eval,
               "last": records[-1] if records else None}
    checkpoint.write_json(out / "done.json", summary)
    return TrainResult(out, records, G, D, cfg)


# ---------------------------------------------------------------------------------------------
# the `train` command


def _field_help() -> dict[str, str]:
    """The comment after each field of TrainConfig: the one place its meaning is written."""
    try:
        src = inspect.getsource(TrainConfig)
    except (OSError, TypeError):
        return {}
    return dict(re.findall(r"^\s+(\w+): [^=]+=.*?  # (.*)$", src, flags=re.M))


def _parse_optional(type_):
    def parse(s: str):
        return None if s.lower() == "none" else type_(s)

    parse.__name__ = type_.__name__
    return parse


def configure_parser(parser: argparse.ArgumentParser) -> None:
    helps = _field_help()
    parser.add_argument("--profile", default="auto", choices=("auto",) + profiles.PROFILES,
                        help="sets width, batch, steps and intervals (auto: full on CUDA, quick on "
                        "CPU); options given explicitly override it")
    base = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        default = getattr(base, f.name)
        per_profile = ", ".join(f"{p}: {PROFILE_SETTINGS[p][f.name]}" for p in profiles.PROFILES
                                if f.name in PROFILE_SETTINGS[p])
        help_ = helps.get(f.name, "") + (f" [{per_profile}]" if per_profile else "")
        help_ = help_.replace("%", "%%") + f" (default: {default})"
        flag = "--" + f.name.replace("_", "-")
        # SUPPRESS: an option not given stays unset, so the profile's value applies
        kw: dict[str, Any] = dict(dest=f.name, default=argparse.SUPPRESS, help=help_)
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif f.name in ("data_root",):
            parser.add_argument(flag, type=str, metavar="DIR", **kw)
        elif f.name == "data_limit":
            parser.add_argument(flag, type=_parse_optional(int), metavar="N", **kw)
        else:
            parser.add_argument(flag, type=type(default), **kw)


def run(args: argparse.Namespace) -> int:
    from osgan.cli import UsageError

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    overrides = {k: v for k, v in vars(args).items() if k in names}
    try:
        cfg = TrainConfig.for_profile(args.profile, **overrides)
        result = train(cfg)
    except ValueError as e:  # bad values, missing data (DataNotFound), unreadable checkpoint
        raise UsageError(str(e)) from None
    last = result.records[-1] if result.records else {}
    nan = float("nan")
    print(f"{result.out_dir}: {cfg.steps} steps, Time/train {last.get('Time/train', 0):.1f} s, "
          f"Loss/D {last.get('Loss/D', nan):.4f}, Loss/G {last.get('Loss/G', nan):.4f}")
    return 0
