r"""One- vs two-stage runs with FID/KID against training time: the experiments of Table 1 and
Figure 4, as the book's chapters 02 (symmetric GANs) and 03 (asymmetric GANs) and the recorded
sweeps (:mod:`osgan.sweep`) run them.

Each run is :func:`osgan.training.train` (one stage: Algorithm 1, cost Eq. 16; two stages:
Eq. 13-15) with ``evals`` evaluations of G at equal step intervals (FID, Eq. 18; KID, Eq. 19) by
the training loop itself, so a curve's x axis is the run's own training wall-clock
(``Time/train``, evaluation excluded). Independent runs go to ``workers`` processes
(:func:`run_many`), each on one CPU thread, so a 2-core machine trains two at once; a run's
numbers do not depend on which process ran it.

In this implementation we:

* choose the number of generated images and the feature space per profile
  (:data:`osgan.settings.PROFILES`, role ``chapter``): the smoke profile uses the tiny
  ``domain_smoke`` classifier, whose numbers mean nothing and are labelled so;
* report FID/KID in the feature space named in every row (``feature_space``): by default
  ``domain``, a CNN trained by osgan on the data set, never the paper's Inception space unless
  asked for (and its weights are on disk);
* write a chapter's runs under a folder the chapter owns (a ``book-runs.json`` marker): a
  chapter replaces its own earlier runs there, and refuses a folder that holds anything else.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from osgan import harness, settings
from osgan.settings import setting
from osgan.training import TrainConfig, train
from osgan.util import UsageError, write_json

MARKER = "book-runs.json"  # marks a folder of runs a chapter owns


@dataclass
class ChapterConfig:
    evals: int = setting(8, "FID/KID evaluations per run, at equal step intervals, the last at "
                         "the end")
    runs_root: str = setting("", "where the chapter's runs go ('': runs/book/<profile>)")
    workers: int = setting(0, "runs trained at once, one process each (0: one per CPU core, "
                           "at most the number of runs)")

    def validate(self) -> None:
        if self.evals <= 0:
            raise ValueError(f"evals must be a positive integer; got {self.evals}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0 (0: one per core); got {self.workers}")


def configs_for(profile: str, device: str = "auto", **overrides
                ) -> tuple[TrainConfig, ChapterConfig]:
    """The training and chapter configs of ``profile`` (auto: full on CUDA, quick on CPU);
    ``overrides`` set fields of either (TrainConfig's first; ``eval=dict(...)`` for the
    evaluation settings; ``None`` leaves the profile's value, as a chapter's parameters cell
    does). Runs go to ``runs/book/<profile>`` unless ``runs_root`` is given."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    name = settings.resolve(profile, device)
    chapter_fields = set(ChapterConfig.__dataclass_fields__)
    c_over = {k: v for k, v in overrides.items() if k in chapter_fields}
    t_over = {k: v for k, v in overrides.items() if k not in chapter_fields}
    cfg = TrainConfig.for_profile(name, role="chapter", device=device, **t_over)
    chapter = settings.for_profile(ChapterConfig, name, role="chapter", **c_over)
    chapter.runs_root = chapter.runs_root or f"runs/book/{name}"
    chapter.validate()
    return cfg, chapter


def with_evals(cfg: TrainConfig, evals: int, out_dir: str | Path) -> TrainConfig:
    """``cfg`` evaluated ``evals`` times at equal step intervals, written to ``out_dir``."""
    every = -(-cfg.steps // evals)  # ceil: the last evaluation is at the last step
    return replace(cfg, out_dir=str(out_dir), eval=replace(cfg.eval, every=every))


def run_name(cfg: TrainConfig) -> str:
    return f"{cfg.gan}-{cfg.stages}{'-exact' if cfg.exact else ''}-{cfg.dataset}-seed{cfg.seed}"


def own_root(root: str | Path, kind: str = "chapter") -> Path:
    """Make ``root`` a folder of runs this code owns, or refuse one that holds anything else."""
    root = Path(root)
    marker = root / MARKER
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} is a file, not a folder of runs; choose another runs folder")
    if root.exists() and any(root.iterdir()) and not marker.exists():
        raise UsageError(f"{root} holds files that no chapter wrote; it is left alone: choose "
                         "another runs folder (runs_dir)")
    if marker.exists() and json.loads(marker.read_text()).get("kind") != kind:
        raise UsageError(f"{root} holds runs of a {json.loads(marker.read_text()).get('kind')}, "
                         f"not of a {kind}; choose another runs folder")
    root.mkdir(parents=True, exist_ok=True)
    if not marker.exists():
        write_json(marker, {"kind": kind, "runs": []})  # runs: what it may replace
    return root


def claim_runs(root: Path, names: list[str]) -> None:
    """Record ``names`` in ``root``'s marker as runs the chapter writes, after refusing any that
    exists and is not the chapter's (a ``train`` run of the same name, say) or is in use. A
    marker written before the list existed claims every run in the folder, as it did then."""
    marker = json.loads((root / MARKER).read_text())
    ours = set(marker.get("runs", names))
    for name in names:
        out = root / name
        if out.exists() and name not in ours:
            raise UsageError(f"{out} holds a run the chapter did not write; it is left alone: "
                             "move it, or choose another runs folder (runs_dir)")
        if (out / harness.LOCK).exists() and harness.lock_holder(out / harness.LOCK):
            raise UsageError(f"{out} is in use by another process; wait for it to finish")
    write_json(root / MARKER, marker | {"runs": sorted(ours | set(names))})


def _train_one(cfg: TrainConfig) -> str:
    # a worker process's whole job: one run, one thread (set by the config), its folder's path
    return str(train(cfg).out_dir)


def run_many(cfgs: list[TrainConfig], workers: int = 0, *, desc: str = "runs",
             progress: bool = True, on_done=None) -> list[Path]:
    """Train every config (each into its ``out_dir``), ``workers`` at a time in separate
    processes (0: one per CPU core); returns the run folders in the order given. A progress bar
    counts finished runs; ``on_done(i, path)`` is called as run i finishes."""
    done = harness.parallel_map(_train_one, cfgs, workers, desc=desc, progress=progress,
                                on_done=None if on_done is None else
                                (lambda i, path: on_done(i, Path(path))))
    return [Path(p) for p in done]


def result_of(run_dir: str | Path) -> dict[str, Any]:
    """A finished run read back from its folder: ``gan``, ``stages``, ``exact``, ``seed``,
    ``out_dir``, ``config``, ``records`` (metrics.jsonl rows), ``evals`` (one dict per
    evaluation: ``step``, ``time``, ``FID``, ``KID``, ``KID_std``, ``feature_space``, ``n_gen``,
    ``n_real``, ...) and ``samples`` (the last sample grid, a PNG path, or None)."""
    run_dir = Path(run_dir)
    folder = harness.RunFolder(run_dir, "train")
    meta = folder.meta()
    if meta is None:
        raise UsageError(f"{run_dir} holds no run")
    cfg = meta["config"]
    records = harness.read_rows(folder.metrics_path, upto=cfg["steps"])
    evals = [{"gan": cfg["gan"], "stages": cfg["stages"], "step": r["step"],
              "time": r["Time/train"]}
             | {k.removeprefix("Eval/"): v for k, v in r.items() if k.startswith("Eval/")}
             for r in records if "Eval/FID" in r]
    grids = sorted((run_dir / "samples").glob("step_*.png"))
    return {"gan": cfg["gan"], "stages": cfg["stages"], "exact": cfg.get("exact", False),
            "seed": cfg["seed"], "out_dir": run_dir, "config": cfg, "records": records,
            "evals": evals, "samples": grids[-1] if grids else None,
            "done": (run_dir / "done.json").exists()}


def one_vs_two(cfg: TrainConfig, chapter: ChapterConfig, gans: list[str]) -> list[dict[str, Any]]:
    """Each objective in ``gans`` in one stage and in two, trained afresh under the chapter's
    runs folder (its earlier runs there are replaced), ``chapter.workers`` at a time."""
    root = own_root(chapter.runs_root)
    cfgs = [replace(cfg, gan=gan, stages=stages, resume=False, progress=False)
            for gan in gans for stages in ("one", "two")]
    outs = [root / run_name(c) for c in cfgs]
    claim_runs(root, [o.name for o in outs])
    for out in outs:
        shutil.rmtree(out, ignore_errors=True)  # ours: the book's numbers are this build's
    cfgs = [with_evals(c, chapter.evals, out) for c, out in zip(cfgs, outs, strict=True)]
    dirs = run_many(cfgs, chapter.workers, desc=f"{len(cfgs)} runs")
    return [result_of(d) for d in dirs]


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


def gamma_summary(result: dict[str, Any]) -> dict[str, Any]:
    """What a one-stage run's records say of gamma (Eq. 7): at how many logged steps every
    active gamma_i was negative, its extremes, and the fraction of inactive samples. Steps with
    no active sample carry no gamma and are counted apart."""
    rec = result["records"]
    # a step with no active sample has Gamma/no_active = 1 and no min/mean/max (null; NaN in
    # records written before the flag existed)
    with_gamma = [x for x in rec if not x.get("Gamma/no_active")
                  and x.get("Gamma/min") is not None and x["Gamma/min"] == x["Gamma/min"]]
    inactive = [x.get("Gamma/inactive", 0.0) for x in rec]
    return {
        "gan": result["gan"],
        "logged steps": len(rec),
        "steps with no active sample": len(rec) - len(with_gamma),
        "steps with every gamma < 0": (sum(x["Gamma/max"] < 0 for x in with_gamma)
                                       / len(with_gamma)) if with_gamma else None,
        "smallest gamma": min(x["Gamma/min"] for x in with_gamma) if with_gamma else None,
        "largest gamma": max(x["Gamma/max"] for x in with_gamma) if with_gamma else None,
        "inactive fraction (mean)": sum(inactive) / len(inactive) if inactive else 0.0,
        "inactive fraction (max)": max(inactive) if inactive else 0.0,
    }


def speedups(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Per objective, two-stage over one-stage seconds per step, from :func:`final_rows`."""
    per: dict[str, dict[str, float]] = {}
    for r in rows:
        per.setdefault(r["gan"], {})[r["stages"]] = r["s/step"]
    return {g: s["two"] / s["one"] for g, s in per.items() if {"one", "two"} <= set(s)}


def describe(cfg: TrainConfig, chapter: ChapterConfig, profile: str) -> str:
    """One line saying what a chapter's live runs are: profile, device, sizes, evaluation."""
    return (f"profile={profile} device={settings.resolve_device(cfg.device)} "
            f"dataset={cfg.dataset} steps={cfg.steps} batch={cfg.batch_size} width={cfg.width} "
            f"evaluations={chapter.evals} n_gen={cfg.eval.n_gen} n_real={cfg.eval.n_real} "
            f"feature space={cfg.eval.feature_space} "
            f"workers={chapter.workers or 'one per core'}")
