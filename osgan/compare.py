r"""One- vs two-stage runs with FID/KID against training time: the experiments of Table 1 and
Figure 4, as the book's chapters 02 (symmetric GANs) and 03 (asymmetric GANs) run them.

Each run is :func:`osgan.training.train` (one stage: Algorithm 1, cost Eq. 16; two stages:
Eq. 13-15) with ``evals`` evaluations of G at equal step intervals (FID, Eq. 18; KID, Eq. 19) by
the training loop itself, so a curve's x axis is the run's own training wall-clock
(``Time/train``, evaluation excluded).

In this implementation we:

* choose the number of generated images and the feature space per profile: the smoke profile
  uses the tiny ``domain_smoke`` classifier, whose numbers mean nothing and are labelled so;
* report FID/KID in the feature space named in every row (``feature_space``): by default
  ``domain``, a CNN trained by osgan on the data set, never the paper's Inception space unless
  asked for (and its weights are on disk);
* run one seed per setting (the paper averages five runs).
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from osgan import profiles
from osgan.training import TrainConfig, train


@dataclass
class EvalConfig:
    evals: int = 8  # FID/KID evaluations per run, at equal step intervals, the last at the end
    n_gen: int = 10_000  # generated images per evaluation
    n_real: int = 10_000  # test images in the reference statistics
    feature_space: str = "domain"  # "domain" (osgan's CNN), "domain_smoke" or "inception"
    out_root: str = "runs/book"  # run directories: OUT_ROOT/<gan>-<stages>-<dataset>-seed<seed>


# What each profile changes in the runs (TrainConfig.for_profile) and in their evaluation. The
# quick profile keeps a whole chapter within a few minutes of a 2-core CPU.
PROFILE_RUNS: dict[str, dict[str, Any]] = {
    "full": {},
    "quick": dict(width=16, batch_size=64, steps=800, log_every=20, sample_every=800,
                  checkpoint_every=0),
    "smoke": dict(steps=6, log_every=2, sample_every=6, checkpoint_every=0),
}
PROFILE_EVALS: dict[str, dict[str, Any]] = {
    "full": {},
    "quick": dict(evals=4, n_gen=1000, n_real=2000),
    "smoke": dict(evals=2, n_gen=64, n_real=128, feature_space="domain_smoke"),
}


def configs_for(profile: str, device: str = "auto", **overrides) -> tuple[TrainConfig, EvalConfig]:
    """The training and evaluation configs of ``profile`` (auto: full on CUDA, quick on CPU);
    ``overrides`` set fields of either (TrainConfig first). Runs go to ``runs/book/<profile>``
    unless ``out_root`` is given."""
    name = profiles.resolve(profile, device)
    train_fields = set(TrainConfig.__dataclass_fields__)
    t_over = {k: v for k, v in overrides.items() if k in train_fields}
    e_over = {k: v for k, v in overrides.items() if k not in train_fields}
    unknown = set(e_over) - set(EvalConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}: neither TrainConfig nor EvalConfig")
    cfg = TrainConfig.for_profile(name, device=device, progress=False,
                                  **(PROFILE_RUNS[name] | t_over))
    # one folder per profile, so that a smoke test and a quick build do not share run folders
    e_over.setdefault("out_root", f"{EvalConfig.out_root}/{name}")
    return cfg, EvalConfig(**(PROFILE_EVALS[name] | e_over))


def run_with_evals(cfg: TrainConfig, ev: EvalConfig) -> dict[str, Any]:
    """Train ``cfg`` from scratch with ``ev.evals`` evaluations; returns ``gan``, ``stages``,
    ``out_dir``, ``records`` (metrics.jsonl rows), ``evals`` (one dict per evaluation: ``step``,
    ``time``, ``FID``, ``KID``, ``KID_std``, ``feature_space``, ``n_gen``, ``n_real``, ...),
    ``G`` and ``samples`` (the last sample grid, a PNG path)."""
    if ev.evals <= 0:
        raise ValueError(f"evals must be a positive integer; got {ev.evals}")
    out = Path(ev.out_root) / f"{cfg.gan}-{cfg.stages}-{cfg.dataset}-seed{cfg.seed}"
    shutil.rmtree(out, ignore_errors=True)  # a fresh run: the book's numbers are this build's
    res = train(replace(cfg, out_dir=str(out), resume=False,
                        eval_every=math.ceil(cfg.steps / ev.evals), eval_n_gen=ev.n_gen,
                        eval_n_real=ev.n_real, eval_feature_space=ev.feature_space))
    evals = [{"gan": cfg.gan, "stages": cfg.stages, "step": r["step"], "time": r["Time/train"]}
             | {k.removeprefix("Eval/"): v for k, v in r.items() if k.startswith("Eval/")}
             for r in res.records if "Eval/FID" in r]
    grids = sorted((out / "samples").glob("step_*.png"))
    return {"gan": cfg.gan, "stages": cfg.stages, "out_dir": out, "records": res.records,
            "evals": evals, "G": res.G, "samples": grids[-1] if grids else None}


def one_vs_two(cfg: TrainConfig, ev: EvalConfig, gans: list[str]) -> list[dict[str, Any]]:
    """:func:`run_with_evals` for each objective in ``gans``, one stage then two stages."""
    return [run_with_evals(replace(cfg, gan=gan, stages=stages), ev)
            for gan in gans for stages in ("one", "two")]


# how the chapters print the columns of final_rows
FINAL_FORMATS = {"train time (s)": "{:.1f}", "s/step": "{:.4f}", "FID": "{:.2f}", "KID": "{:.4f}",
                 "KID std": "{:.4f}"}


def final_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per run: its last evaluation, training time and seconds per step, labelled with
    the feature space, sample sizes and reference split."""
    rows = []
    for r in results:
        last = r["evals"][-1]
        rows.append({"gan": r["gan"], "stages": r["stages"], "steps": last["step"],
                     "train time (s)": last["time"], "s/step": last["time"] / last["step"],
                     "FID": last["FID"], "KID": last["KID"], "KID std": last["KID_std"],
                     "feature space": last["feature_space"],
                     "n_gen / n_real": f"{last['n_gen']} / {last['n_real']}",
                     "reference": f"{last['dataset']}/{last['ref_split']}"})
    return rows
