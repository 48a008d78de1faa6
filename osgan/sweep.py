r"""``python -m osgan sweep NAME``: a named grid of training runs, recorded with its provenance.

A sweep (:data:`osgan.settings.SWEEPS`, a typed spec of :mod:`osgan.sweeps`) is objectives x
schemes x seeds at one profile: for the book's Table 1 and Figure 4, the ten objectives of Table 1
in one stage (Algorithm 1) and in two (Eq. 13-15), plus the hinge objectives in one stage with
``exact=True``, over paired seeds (a seed fixes initialisation and data order for both schemes).
Each cell is an ordinary training run (:func:`osgan.training.train`) in
``results/<sweep>/<cell>/``: ``config.json``, ``metrics.jsonl`` with the evaluations, the last
sample grid and ``done.json``. Checkpoints stay out of the record, under
``cache_root()/sweeps/<sweep>/<cell>/``, so that the record is small enough to commit and a
killed sweep resumes where its cells left off.

``results/<sweep>/sweep.json`` marks the folder as this sweep's; ``provenance.json`` holds one
entry per invocation (commit, library versions, CPU model, threads, workers, command, start and
end, and the cells it finished), updated as each cell finishes. Finished cells are skipped,
unfinished ones resumed. ``--dry-run`` lists the cells and estimates the time left from the
measured cost of a step at the sweep's settings.

A distillation sweep (:class:`osgan.sweeps.DFADSweep`) holds distillation runs
(:func:`osgan.dfad.distill`, Sec. 4.4 and Table 2) through the same machinery: schemes (one, two,
kd) x a grid of learning rates for the student and the generator (Adam, the same grid for every
scheme; kd has no generator, so its grid is the student's rates alone) plus published recipes
(``hparams="dfad_mnist"``, DFAD's for the LeNet-5 pair) x paired seeds. Each cell is an ordinary
``dfad`` run folder; the rates are chosen afterwards on the validation split
(:func:`osgan.record.dfad_table2`). With ``extend=k`` in its spec, each scheme's chosen point
(the verdict's cells, on every seed) runs on past the grid's length until its validation accuracy
passes the plateau rule, by the grid's length at a time (resumed from its checkpoint), at most
``k`` times the grid's length (:func:`verdict_rounds`); the choice still reads every run at the
grid's length.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from osgan import dfad, dfad_rounds, harness, plans, settings, slurm, sweeps, training
from osgan.runkind import RunKind
from osgan.sweeps import DFADSweep, TrainSweep
from osgan.training import TrainConfig
from osgan.util import UsageError, cache_root, write_json

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"


@dataclass(frozen=True)
class Cell:
    gan: str
    stages: str
    exact: bool
    seed: int
    variant: str = ""  # a named change of the sweep's settings (spec.variants); "" for none

    @property
    def name(self) -> str:
        variant = f"-{self.variant}" if self.variant else ""
        return f"{self.gan}{variant}-{self.stages}{'-exact' if self.exact else ''}-seed{self.seed}"

    @property
    def scheme(self) -> str:
        return self.stages + ("-exact" if self.exact else "")


@dataclass(frozen=True)
class DFADCell:
    scheme: str  # one, two or kd
    hparams: str  # the recipe (osgan.dfad.HPARAMS)
    lr_s: float | None  # the student's rate (None: the recipe's)
    lr_g: float | None  # the generator's rate (None: the recipe's; always None for kd)
    seed: int
    g_every: int = 1  # one stage: the generator moves every g_every rounds (an ablation above 1)
    # the length to run to when not the sweep's for the scheme (a chosen point run on to its
    # plateau, verdict_rounds); not part of the cell's name: a longer run resumes the same folder
    rounds: int | None = field(default=None, compare=False)

    @property
    def point(self) -> str:
        """The grid point, the same name for every seed: ``adam-s0.001-g0.0003``, ``dfad``,
        ``adam-s0.001-g0.001-every5``."""
        rates = [f"{k}{v:g}" for k, v in (("s", self.lr_s), ("g", self.lr_g)) if v is not None]
        every = [f"every{self.g_every}"] if self.g_every != 1 else []
        return "-".join([self.hparams, *rates, *every])

    @property
    def name(self) -> str:
        return f"{self.scheme}-{self.point}-seed{self.seed}"


# the kind of run of a sweep's cells, by the spec's kind (osgan.sweeps)
RUN_KINDS: dict[str, RunKind] = {k.name: k for k in (training.KIND, dfad.KIND)}


def kind(name: str) -> str:
    """``train`` (GAN training runs, Table 1) or ``dfad`` (distillation runs, Table 2)."""
    return sweep_spec(name).kind


def run_kind(name: str) -> RunKind:
    """The run kind of sweep ``name``'s cells (:mod:`osgan.runkind`)."""
    return RUN_KINDS[kind(name)]


def kind_of(cfg) -> RunKind:
    """The run kind whose config ``cfg`` is."""
    return next(k for k in RUN_KINDS.values() if isinstance(cfg, k.config))


def _grid(spec: DFADSweep, scheme: str, seed: int) -> list[DFADCell]:
    """A scheme's grid on one seed: the rates, and for one stage each of ``spec.g_every``."""
    rates = [(s, None) for s in spec.lr_s] if scheme == "kd" else \
        [(s, g) for s in spec.lr_s for g in spec.lr_g]
    every = spec.g_every if scheme == "one" else (1,)
    return [DFADCell(scheme, "adam", s, g, seed, k) for s, g in rates for k in every]


def grid_progress(spec: DFADSweep | dict[str, Any], runs: list[dict[str, Any]]
                  ) -> dict[str, tuple[set[str], set[str]]]:
    """Per scheme of a dfad sweep ``spec`` (or its dict form, a record's ``sweep.json``), its
    grid points and those of them finished in ``runs`` (:func:`osgan.record.load_dfad`'s, on the
    seeds the caller keeps)."""
    spec = sweeps.as_spec(spec)
    out = {}
    for scheme in spec.schemes:
        grid = {c.point for c in _grid(spec, scheme, 0)}  # a point names the same rates per seed
        out[scheme] = grid, {r["point"] for r in runs if r["scheme"] == scheme and r["done"]
                             and r["point"] in grid}
    return out


def tuned_points(name: str, results: Path | None) -> dict[str, str]:
    """Per scheme, the grid point with the best validation accuracy over the sweep's tune seeds,
    once every grid cell of the scheme on those seeds is done (:func:`osgan.record.choose`);
    schemes still tuning are left out."""
    from osgan import record

    spec = sweep_spec(name)
    if results is None or not (results / "provenance.json").exists():
        return {}  # nothing recorded yet
    runs = record.at_grid([r for r in record.load_dfad(results)["runs"]
                           if r["seed"] in spec.tune_seeds], spec.rounds)
    out = {}
    for scheme, (grid, done) in grid_progress(spec, runs).items():
        if grid <= done:
            best = [r for r in record.choose(runs, scheme) if r["point"] in grid]
            out[scheme] = best[0]["point"]
    return out


def _started_length(folder: Path) -> int | None:
    """The rounds a dfad cell under way (or killed) was started for: its ``config.json``'s, while
    it has no ``done.json``; None for a cell not started or finished."""
    config = folder / "config.json"
    if not config.exists() or _finished_length(folder, "rounds") is not None:
        return None
    return json.loads(config.read_text())["config"]["rounds"]


def verdict_rounds(spec: DFADSweep, scheme: str, folder: Path) -> int:
    """The length a chosen point's cell runs to in a sweep with ``extend`` (k): the grid's
    length for the scheme (``spec.rounds``), and once that run is done, as long again each
    time its validation accuracy fails the plateau rule (:func:`osgan.record.dfad_plateau`), up
    to k times the grid's length. A run under way keeps the length it was started for."""
    from osgan import record

    base = spec.rounds[scheme]
    cap = (spec.extend or 1) * base
    started = _started_length(folder)
    if started is not None:  # under way (or killed): where it was started for
        return started
    done = _finished_length(folder, "rounds")
    if done is None:
        return base
    rows = harness.read_rows(folder / "metrics.jsonl", upto=done, key="round")
    if done >= cap or record.dfad_plateau({"records": rows, "rounds": done})["plateaued"]:
        return done
    return min(done + base, cap)


def _dfad_cells(spec: DFADSweep, chosen: dict[str, str],
                results: Path | None = None) -> list[DFADCell]:
    """The tune seeds first, each with every scheme's recipes (one cell each, the first curves
    to read) and then the grids; then the other seeds' chosen points, once known (the verdict's
    pairs); and their recipes last. With ``spec.extend`` and the record at ``results``, each
    chosen point's cell (on every seed) carries its :func:`verdict_rounds`."""
    tune = spec.seeds if spec.tune_seeds is None else spec.tune_seeds

    def verdict(c: DFADCell) -> DFADCell:
        if spec.extend is None or results is None:
            return c
        folder = results / c.name
        if c.point == chosen.get(c.scheme):
            return replace(c, rounds=verdict_rounds(spec, c.scheme, folder))
        # under way: the length it was started for, even while the choice is open again (the
        # grid reads as unfinished while its chosen cell runs on)
        return replace(c, rounds=_started_length(folder))

    def recipes(seed: int) -> list[DFADCell]:
        return [DFADCell(sc, r, None, None, seed) for sc in spec.schemes for r in spec.recipes]

    out = []
    for seed in tune:
        out += recipes(seed) + [verdict(c) for sc in spec.schemes
                                for c in _grid(spec, sc, seed)]
    others = [seed for seed in spec.seeds if seed not in tune]
    for seed in others:
        out += [verdict(c) for sc in spec.schemes for c in _grid(spec, sc, seed)
                if c.point == chosen.get(sc)]
    for seed in others:
        out += recipes(seed)
    return out


def plan(name: str, results: Path | None = None) -> tuple[list, int]:
    """:func:`cells` and the number of cells still to come: a tuned dfad sweep lists one cell
    per (scheme, seed) off the tune seeds only once that scheme's grid is done there (0 for
    other sweeps). Reads the record at ``results`` once."""
    spec = sweep_spec(name)
    if spec.kind != "dfad":
        return cells(name), 0
    if spec.tune_seeds is None:
        return _dfad_cells(spec, {}), 0
    chosen = tuned_points(name, results)
    later = sum(sc not in chosen for sc in spec.schemes) * \
        sum(seed not in spec.tune_seeds for seed in spec.seeds)
    return _dfad_cells(spec, chosen, results), later


def pending(name: str, results: Path | None = None) -> int:
    """Cells of a tuned dfad sweep not listed yet (:func:`plan`)."""
    return plan(name, results)[1]


def total_cells(name: str, results: Path | None = None) -> int:
    """Every cell the sweep will run: those listed now and those still to come."""
    listed, later = plan(name, results)
    return len(listed) + later


def cells(name: str, results: Path | None = None) -> list:
    """The cells of sweep ``name``, seed by seed (so the first seeds finish first). A dfad sweep
    with ``tune_seeds`` lists the whole grid on those seeds, and on the others, once a scheme's
    grid is done there, its best point (read from the record at ``results``), then the recipes."""
    spec = sweep_spec(name)
    if spec.kind == "dfad":
        return plan(name, results)[0]

    def of(gan: str, seed: int) -> list[Cell]:
        out = []
        for variant in spec.variants or {"": {}}:
            out += [Cell(gan, st, False, seed, variant) for st in spec.stages]
            if gan in spec.exact_for and (spec.exact_seeds is None or seed in spec.exact_seeds):
                out.append(Cell(gan, "one", True, seed, variant))
        return out

    # the grid seed by seed, then the seeds some objectives get beyond it (more_seeds)
    return [c for seed in spec.seeds for gan in spec.gans for c in of(gan, seed)] + \
        [c for gan, seeds in spec.more_seeds.items() for seed in seeds for c in of(gan, seed)]


def sweep_spec(name: str) -> TrainSweep | DFADSweep:
    """The spec of sweep ``name`` (:data:`osgan.settings.SWEEPS`; a plain dict there is built
    into one), its settings checked against the cells' config; a one-line
    :class:`~osgan.util.UsageError` naming the sweep for a bad one."""
    if name not in settings.SWEEPS:
        raise UsageError(f"unknown sweep {name!r}; choose one of: {', '.join(settings.SWEEPS)}")
    try:
        spec = sweeps.as_spec(settings.SWEEPS[name])
        spec.check_settings()
    except UsageError as e:
        raise UsageError(f"sweep {name!r}: {e}") from None
    return spec


def cell_config(name: str, cell, results: Path, **overrides):
    """The config of one cell (a ``TrainConfig``, or a ``DFADConfig`` for a dfad sweep), writing
    into ``results/<cell>``, its checkpoint under ``cache_root()/sweeps/<sweep>/<cell>``."""
    spec = sweep_spec(name)
    if spec.kind == "dfad":
        given = dict(scheme=cell.scheme, hparams=cell.hparams, lr_s=cell.lr_s, lr_g=cell.lr_g,
                     seed=cell.seed, rounds=cell.rounds or spec.rounds[cell.scheme],
                     progress=False, g_every=cell.g_every)
        cfg = dfad.DFADConfig.for_profile(spec.profile, **(given | spec.dfad | overrides))
    else:
        variant = spec.variants.get(cell.variant, {})
        plan = {"plan": plans.plan_hash(plans.get(spec.plan))} if spec.plan is not None else {}
        cfg = TrainConfig.for_profile(spec.profile, gan=cell.gan, stages=cell.stages,
                                      exact=cell.exact, seed=cell.seed, progress=False,
                                      **(spec.train | variant | plan | overrides))
    out = results / cell.name
    ckpt = cache_root() / "sweeps" / name / cell.name
    return replace(cfg, out_dir=str(out), checkpoint_dir=str(ckpt),
                   resume=(out / "config.json").exists())


def _total(cfg) -> tuple[str, int]:
    """The length of a cell's run: ``("steps", n)`` for training, ``("rounds", n)`` for dfad."""
    length = kind_of(cfg).length
    return length, getattr(cfg, length)


def _finished_length(cell: Path, key: str) -> int | None:
    """Steps (rounds) a finished cell folder ran, from its ``done.json``; None if unfinished."""
    done = cell / "done.json"
    return json.loads(done.read_text()).get(key, 0) if done.exists() else None


def status(cfg) -> str:
    """``done``, ``partial`` (started, or finished with fewer steps than the sweep now asks for:
    resumes from its checkpoint, or afresh without one) or ``todo``."""
    out = Path(cfg.out_dir)
    key, total = _total(cfg)
    steps = _finished_length(out, key)
    if steps is not None:
        return "done" if steps >= total else "partial"
    return "partial" if (out / "config.json").exists() else "todo"


# ----------------------------------------------------------------------------------------------
# the record's folder and provenance


def own_results(name: str, results: Path) -> Path:
    """Make ``results`` this sweep's folder (a ``sweep.json`` marker with the sweep's spec as
    the code now has it), or refuse one that holds another sweep or files no sweep wrote."""
    marker = results / "sweep.json"
    if results.exists() and not results.is_dir():
        raise UsageError(f"{results} is a file; give a folder for the sweep's record")
    if marker.exists():
        held = json.loads(marker.read_text()).get("sweep")
        if held != name:
            raise UsageError(f"{results} holds sweep {held!r}, not {name!r}; choose another "
                             "--results folder")
    elif results.exists() and any(results.iterdir()):
        raise UsageError(f"{results} holds files no sweep wrote; it is left alone: choose "
                         "another --results folder")
    results.mkdir(parents=True, exist_ok=True)
    # the spec the sweep runs by now (the cells keep their own configs; provenance the commits)
    spec = json.loads(json.dumps(sweep_spec(name).to_dict()))  # as JSON stores it: lists
    if not marker.exists() or json.loads(marker.read_text()).get("spec") != spec:
        write_json(marker, {"sweep": name, "spec": spec})
    return results


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=RESULTS_DIR.parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    """Where and with what a sweep ran: commit, versions, CPU."""
    import importlib.metadata

    import numpy
    import torchvision

    # dirty: code that differs from the commit; a record the sweep is writing under results/
    # is not (a pinned worktree's own cells and provenance)
    return {"commit": _git("rev-parse", "HEAD"),
            "dirty": bool(_git("status", "--porcelain", "--untracked-files=no", "--", ".",
                               ":(exclude)results")),
            "python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "clean-fid": importlib.metadata.version("clean-fid"),
            "numpy": numpy.__version__, "cpu": cpu_model(),
            "cpu_count": __import__("os").cpu_count(), "platform": platform.platform()}


def read_provenance(results: Path) -> dict[str, Any]:
    path = results / "provenance.json"
    if not path.exists():
        raise UsageError(f"{results} has no provenance.json: a record without provenance is "
                         "not shown; run `python -m osgan sweep` to make one")
    return json.loads(path.read_text())


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------------------
# cost estimate


def write_round_bench(name: str, results: Path, *, repeats: int = 30, warmup: int = 3,
                      command: str | None = None) -> dict[str, Any]:
    """``results/round_costs.json`` of a dfad sweep: the CPU seconds of one round of each scheme
    (and of one stage at each ``g_every`` above 1, averaged over its cycle of rounds) at the
    sweep's settings, timed side by side (one call of each in turn, ``repeats`` turns after
    ``warmup``; :func:`osgan.timing.round_robin`, process CPU time on the sweep's threads), the
    median and quartiles of each, with the environment and command. The record's time axis
    (:func:`osgan.record.dfad_table2`) is rounds times these costs. Returns what it wrote."""
    from osgan import record, timing

    if kind(name) != "dfad":
        raise UsageError(f"sweep {name!r} holds training runs: time their steps with "
                         "python -m osgan bench (results/table1/bench)")
    if repeats < 1 or warmup < 0:
        raise UsageError(f"a bench needs repeats >= 1 and warmup >= 0; got {repeats}, {warmup}")
    results = own_results(name, results)
    spec = sweep_spec(name)
    # each scheme (and each g_every of one stage: record.cost_key) at its first grid point:
    # Adam, as in the grid (a recipe's SGD costs about the same); a round's cost does not
    # depend on the rates
    cfgs = {}
    for sc in spec.schemes:
        for c in _grid(spec, sc, spec.seeds[0]):
            cfgs.setdefault(record.cost_key(sc, c.g_every), cell_config(name, c, results))
    settings.set_threads(next(iter(cfgs.values())).threads)
    # a call of g_every rounds, the generator moving in the last: the cycle's mean round
    fns = {k: dfad_rounds.rounds_fn(c) for k, c in cfgs.items()}
    times = timing.round_robin(fns, "cpu", repeats, warmup, clock="cpu")
    times = {k: [t / cfgs[k].g_every for t in ts] for k, ts in times.items()}
    out = {"seconds_per_round": {k: statistics.median(t) for k, t in times.items()},
           "quartiles": {k: list(timing.quartiles(t)) for k, t in times.items()},
           "student_updates_per_round": {k: (c.student_steps if c.scheme == "two" else 1)
                                         for k, c in cfgs.items()},
           "times": times, "repeats": repeats, "warmup": warmup, "clock": "cpu",
           "threads": torch.get_num_threads(),
           "settings": {k: getattr(next(iter(cfgs.values())), k) for k in
                        ("dataset", "batch_size", "g_width", "nz", "student_steps", "hparams",
                         "g_every")},
           "date": _now(), "command": command, **environment()}
    write_json(results / "round_costs.json", out)
    return out


def estimate(name: str, cfgs: list, workers: int) -> dict[str, Any]:
    """Seconds left: steps (rounds) left per cell times the measured cost of a step of its
    scheme, measured once per scheme (training: on dcgan_ns; dfad: at the first cell's rates)
    at the sweep's settings."""
    settings.set_threads(cfgs[0].threads)
    run = run_kind(name)
    cost = {key: run.step_seconds(c) for key, c in run.cost_configs(cfgs).items()}
    left = 0.0
    for cfg in cfgs:
        if status(cfg) == "done":
            continue
        total = getattr(cfg, run.length)
        ckpt = Path(cfg.checkpoint_dir) / "checkpoint.pt"
        done = torch.load(ckpt, map_location="cpu", weights_only=True)[run.count] \
            if ckpt.exists() else 0
        left += (total - done) * cost[run.cost_key(cfg)]
    return {"step_seconds": cost, "cpu_seconds_left": left,
            "wall_seconds_left": left / max(1, workers)}


# ----------------------------------------------------------------------------------------------
# collecting cells recorded elsewhere (a pinned worktree, another machine)


def collect(name: str, source: Path, results: Path) -> list[str]:
    """Copy into ``results`` the finished cells of sweep ``name`` recorded at ``source`` (those
    with ``done.json``, where ``results`` has no finished cell of as many steps), and merge the
    provenance sessions; returns the names of the cells copied. A sweep whose workers import
    ``osgan`` as each cell starts must not see the code change under it, so long sweeps run in a
    pinned worktree and are collected from there. Unfinished cells are never copied: their
    ``metrics.jsonl`` runs past their checkpoint."""
    import shutil

    source, results = Path(source), Path(results)
    marker = source / "sweep.json"
    held = json.loads(marker.read_text()).get("sweep") if marker.exists() else None
    if held != name:
        raise UsageError(f"{source} holds no record of sweep {name!r}"
                         + (f" (it holds {held!r})" if held else "") + "; nothing copied")
    theirs = read_provenance(source)
    results = own_results(name, results)
    copied = []
    key = run_kind(name).length
    for cell in sorted(p for p in source.iterdir() if (p / "done.json").exists()):
        mine = _finished_length(results / cell.name, key)
        if mine is not None and mine >= _finished_length(cell, key):
            continue  # as long a run is recorded here already
        tmp = results / f".{cell.name}.collecting"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(cell, tmp)
        shutil.rmtree(results / cell.name, ignore_errors=True)
        tmp.rename(results / cell.name)
        copied.append(cell.name)
    path = results / "provenance.json"
    ours = json.loads(path.read_text()) if path.exists() else {"sweep": name, "sessions": []}
    key = lambda s: (s["start"], s.get("command"), s.get("commit"))  # noqa: E731
    sessions = {key(s): s for s in ours["sessions"]} | {key(s): s for s in theirs["sessions"]}
    ours["sessions"] = sorted(sessions.values(), key=lambda s: s["start"])
    write_json(path, ours)
    return copied


# ----------------------------------------------------------------------------------------------
# the floor: what a perfect generator would score at the sweep's evaluation settings


def write_floor(name: str, results: Path, n_draws: int = 3, command: str | None = None,
                **overrides) -> dict[str, Any]:
    """``results/floor.json``: FID and KID of real training images against the sweep's reference
    at its evaluation settings (:func:`osgan.metrics.floor`, ``n_draws`` draws), with the
    environment and command, for :func:`osgan.record.load`. Returns what it wrote."""
    from osgan import metrics

    if kind(name) == "dfad":
        raise UsageError(f"sweep {name!r} holds distillation runs: they have no FID floor")
    results = own_results(name, results)
    cfg = cell_config(name, cells(name)[0], results, **overrides)
    settings.set_threads(cfg.threads)
    ev = cfg.eval
    draws = metrics.floor(n_draws, dataset=cfg.dataset, split="test",
                          feature_space=ev.feature_space, n_real=ev.n_real, n_gen=ev.n_gen,
                          data_root=cfg.data_root, image_size=cfg.image_size, device="cpu")
    fids = [d["FID"] for d in draws]
    floor = {"FID": sum(fids) / n_draws, "FID min": min(fids), "FID max": max(fids),
             "KID": sum(d["KID"] for d in draws) / n_draws, "n_draws": n_draws,
             **({"classes_eff": sum(d["classes_eff"] for d in draws) / n_draws}
                if all("classes_eff" in d for d in draws) else {}),
             "draws": draws, "n_gen": ev.n_gen, "n_real": draws[0]["n_real"],
             "feature_space": draws[0]["feature_space"], "images": "train split",
             "date": _now(), "command": command, **environment()}
    write_json(results / "floor.json", floor)
    return floor


# ----------------------------------------------------------------------------------------------
# the command


def write_rescore(name: str, results: Path, command: str | None = None) -> dict[str, Any]:
    """``results/rescore.json``: each finished cell's final generator (its last checkpoint, kept
    outside the record) evaluated again at the cell's own evaluation settings and sampler. It
    checks that the checkpoint gives the FID the record holds for the last step, and adds what
    evaluations did not report when the cell ran, such as the classes its samples cover
    (:func:`osgan.metrics.fid.class_spread`). For a distillation sweep, each cell's final
    student and generator instead (:func:`osgan.dfad.diagnose`: the final accuracy reproduced,
    per class, and the classes the generator shows the teacher). A cell scored already at its
    length is not scored again; cells whose checkpoint is gone (another machine) keep the entry
    they had and are listed under ``missing``. Returns what it wrote."""
    from osgan import record

    if not (results / "sweep.json").exists():
        raise UsageError(f"{results} holds no record of sweep {name!r}: run the sweep first")
    own_results(name, results)
    path = results / "rescore.json"
    cells = json.loads(path.read_text())["cells"] if path.exists() else {}
    missing = []
    if kind(name) == "dfad":
        _rescore_dfad(results, cells, missing)
    for r in record.load(results)["runs"] if kind(name) != "dfad" else []:
        if not (r["done"] and r["evals"]):
            continue
        try:
            G, run_cfg, step = training.load_final(r["path"])
        except (ValueError, OSError, UsageError):
            missing.append(r["path"].name)
            continue
        if step != r["evals"][-1]["step"]:  # a checkpoint of another length than the record's
            missing.append(r["path"].name)
            continue
        if cells.get(r["path"].name, {}).get("step") == step:  # scored already, at this length
            continue
        settings.set_threads(run_cfg.threads)
        out = training.evaluate_generator(G, run_cfg)
        cells[r["path"].name] = {"step": step, "recorded FID": r["evals"][-1]["FID"], **out}
    rescore = {"cells": dict(sorted(cells.items())), "missing": sorted(missing), "date": _now(),
               "command": command, **environment()}
    write_json(path, rescore)
    return rescore


def _rescore_dfad(results: Path, cells: dict[str, Any], missing: list[str]) -> None:
    """:func:`write_rescore` for distillation runs: each finished cell's final student and
    generator (:func:`osgan.dfad.diagnose`) into ``cells``, the names of those whose checkpoint
    is gone or of another length into ``missing``."""
    from osgan import record

    for r in record.load_dfad(results)["runs"]:
        if not r["done"]:
            continue
        name = r["path"].name
        if cells.get(name, {}).get("round") == r["rounds"]:  # scored already, at this length
            continue
        settings.set_threads(r["config"].get("threads", 1))
        try:
            out = dfad.diagnose(r["path"])
        except (ValueError, OSError, UsageError):
            missing.append(name)
            continue
        if out["round"] != r["rounds"]:  # a checkpoint of another length than the record's
            missing.append(name)
            continue
        cells[name] = {"recorded accuracy": r["accuracy"], **out}


def _run_cell(cfg) -> str:
    # a worker process's whole job: one run of its kind (one thread, set by the config), its
    # folder's path (not its modules)
    return str(harness.run(kind_of(cfg), cfg).out_dir)


def _todo(name: str, results: Path, only: int | None, workers: int = 1, **overrides) -> list:
    """The configs of the cells to run next (at most ``only``): those not done, and in a tuned
    dfad sweep those of the tune seeds alone while any is left, so that the sweep plans again
    once they are done and runs the other seeds' chosen points before their recipes. In a sweep
    whose chosen points run on to their plateau (``extend``), one batch of ``workers`` cells: a
    chosen point's length is known only once its run so far is done, so the sweep plans again
    after each, and a run that must go on does so before the recipes."""
    cfgs = [cell_config(name, c, results, **overrides) for c in cells(name, results)]
    todo = [c for c in cfgs if status(c) != "done"]
    spec = sweep_spec(name)
    if spec.kind == "dfad" and spec.tune_seeds:
        todo = [c for c in todo if c.seed in spec.tune_seeds] or todo
    if spec.kind == "dfad" and spec.extend:
        todo = todo[:workers]
    return todo[:only]


EXECUTORS = ("local", "slurm")


def _held(name: str, todo: list) -> None:
    """Refuse, in one line, cells whose folder another process or Slurm job still holds."""
    for cfg in todo:
        holder = harness.lock_holder(Path(cfg.out_dir) / harness.LOCK)
        if holder is not None:
            raise UsageError(f"{cfg.out_dir} is in use by process {holder}: wait for it to "
                             "finish (or stop it) and run the sweep again")
    jobs = {c: j["job_id"] for c, j in slurm.hosts(name, [Path(c.out_dir).name
                                                         for c in todo]).items()}
    live = slurm.running(list(jobs.values())) if jobs and shutil.which("squeue") else set()
    for cell, job in jobs.items():
        if job in live:
            raise UsageError(f"cell {cell} is held by Slurm job {job}: wait for it, or "
                             f"`scancel {job}`, and run the sweep again")


def run_sweep(name: str, *, results: Path | None = None, workers: int = 1,
              command: str | None = None, only: int | None = None, executor: str = "local",
              slurm_options: slurm.SlurmOptions | None = None, **overrides) -> list[Path]:
    """Run the cells of sweep ``name`` that are not done (resuming unfinished ones), ``workers``
    at a time here or, with ``executor="slurm"``, as Slurm jobs (:mod:`osgan.slurm`); returns
    the finished cells' folders. ``only`` stops after that many cells; ``overrides`` change
    every cell's training config (``data_root`` for a test)."""
    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    options = slurm_options or slurm.SlurmOptions()
    if executor == "slurm":  # before anything is written
        options.validate()
        slurm.check_cluster(options)
    results = results or RESULTS_DIR / name
    todo = _todo(name, results, only, workers, **overrides)
    _held(name, todo)  # before anything is written
    results = own_results(name, results)
    if not todo:  # a session that trains nothing leaves the record as it was
        return []
    prov_path = results / "provenance.json"
    prov = json.loads(prov_path.read_text()) if prov_path.exists() else {"sweep": name,
                                                                         "sessions": []}
    session = {"start": _now(), "end": None, "command": command, "executor": executor,
               "workers": workers,
               "threads": cell_config(name, cells(name, results)[0], results,
                                      **overrides).threads,
               **environment(), "cells_finished": []}
    prov["sessions"].append(session)
    write_json(prov_path, prov)

    def finished(i: int, path: Path) -> None:
        session["cells_finished"].append(Path(path).name)
        session["end"] = _now()
        write_json(prov_path, prov)

    dirs: list[Path] = []
    run = run_kind(name)
    while todo:
        if workers > 1 or executor == "slurm":  # what the cells share (dfad: the teacher)
            run.prepare(todo[0])
        if executor == "slurm":
            jobs = slurm.submit(name, todo, _run_cell, options)
            session.setdefault("jobs", {}).update(
                {Path(c.out_dir).name: str(j.job_id) for c, j in zip(todo, jobs)})
            write_json(prov_path, prov)
            try:
                dirs += slurm.follow(jobs, todo, finished, poll=options.poll)
            finally:
                session["hosts"] = slurm.hosts(name, list(session["jobs"]))
                write_json(prov_path, prov)
        else:
            paths = harness.parallel_map(_run_cell, todo, workers, desc=f"sweep {name}",
                                         on_done=lambda i, p: finished(i, Path(p)))
            dirs += [Path(p) for p in paths]
        if only is not None and len(dirs) >= only:
            break
        # a tuned dfad sweep lists the other seeds' chosen points once the tune seeds are done
        todo = _todo(name, results, None if only is None else only - len(dirs), workers,
                     **overrides)
    session["end"] = _now()
    write_json(prov_path, prov)
    return dirs


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help=f"the sweep: {', '.join(settings.SWEEPS)}")
    parser.add_argument("--workers", type=int, default=1,
                        help="cells trained at once, one process each (local executor)")
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="where the cells run: here (a pool of --workers processes) or as "
                             "Slurm jobs through submitit (--slurm-* options)")
    settings.add_arguments(parser, slurm.SlurmOptions, prefix="slurm_")
    parser.add_argument("--results", default=None,
                        help="the record's folder (default: results/<name>)")
    parser.add_argument("--only", type=int, default=None,
                        help="stop after this many cells (default: all)")
    parser.add_argument("--dry-run", action="store_true",
                        help="list the cells and the estimated time left; train nothing")
    parser.add_argument("--collect", default=None, metavar="FOLDER",
                        help="copy the finished cells and provenance of this sweep recorded in "
                             "FOLDER (e.g. a pinned worktree's results/<name>) into the record; "
                             "train nothing")
    parser.add_argument("--rescore", action="store_true",
                        help="evaluate each finished cell's final generator again (its "
                             "checkpoint) into rescore.json: the record's last FID reproduced, "
                             "and the classes its samples cover (dfad sweeps: the final "
                             "student's accuracy reproduced, per class, and the classes the "
                             "generator shows the teacher); train nothing")
    parser.add_argument("--bench", action="store_true",
                        help="dfad sweeps: record round_costs.json, each scheme's CPU seconds a round "
                             "at the sweep's settings, timed side by side (the time axis of "
                             "Table 2); train nothing")
    parser.add_argument("--floor", action="store_true",
                        help="record floor.json, the FID of real training images at the sweep's "
                             "evaluation settings (what a perfect generator would score); "
                             "train nothing")


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1; got {args.workers}")
    if args.only is not None and args.only < 1:
        raise UsageError(f"--only must be at least 1; got {args.only}")
    sweep_spec(args.name)
    results = Path(args.results) if args.results else RESULTS_DIR / args.name
    if args.collect:
        copied = collect(args.name, Path(args.collect), results)
        print(f"{len(copied)} finished cell(s) collected into {results}"
              + (f": {', '.join(copied)}" if copied else ""))
        return 0
    if args.rescore:
        command = "python -m osgan sweep " + " ".join(sys.argv[2:])
        out = write_rescore(args.name, results, command=command)
        what = "accuracy" if kind(args.name) == "dfad" else "FID"
        worst = max((abs(c[what] - c[f"recorded {what}"]) for c in out["cells"].values()),
                    default=0.0)
        print(f"{results / 'rescore.json'} holds {len(out['cells'])} cell(s); largest "
              f"|{what} - recorded {what}| {worst:.2e}"
              + (f"; no final checkpoint for: {', '.join(out['missing'])}"
                 if out["missing"] else ""))
        return 0
    if args.bench:
        command = "python -m osgan sweep " + " ".join(sys.argv[2:])
        b = write_round_bench(args.name, results, command=command)
        print("CPU seconds a round, median of " + f"{b['repeats']} side by side: " + ", ".join(
            f"{sc} {t:.4f}" for sc, t in b["seconds_per_round"].items())
            + f"; written to {results / 'round_costs.json'}")
        return 0
    if args.floor:
        command = "python -m osgan sweep " + " ".join(sys.argv[2:])
        f = write_floor(args.name, results, command=command)
        print(f"FID floor at {args.name}'s settings: {f['FID']:.4f} "
              f"[{f['FID min']:.4f}, {f['FID max']:.4f}] over {f['n_draws']} draws of "
              f"{f['n_gen']} real images vs {f['n_real']} ({f['feature_space']}); "
              f"written to {results / 'floor.json'}")
        return 0
    if args.dry_run:
        probe = results if results.exists() else Path("/nonexistent")
        listed, later = plan(args.name, probe if probe.exists() else None)
        cfgs = [cell_config(args.name, c, probe) for c in listed]
        for cfg, c in zip(cfgs, listed):
            print(f"{status(cfg):8s} {c.name}")
        if later:
            print(f"and {later} cell(s) to come: each scheme's best grid point on the seeds "
                  "off the tune seeds, listed once its grid there is done")
        est = estimate(args.name, cfgs, args.workers)
        s = est["step_seconds"]
        costs = (", ".join(f"scheme {k} {v:.4f} s a round" for k, v in s.items())
                 if kind(args.name) == "dfad" else
                 f"one stage {s['one']:.4f} s, two stages {s['two']:.4f} s")
        print(f"{len(cfgs)} cells; step cost measured here: {costs}; "
              f"left: {est['cpu_seconds_left'] / 3600:.1f} CPU-hours, "
              f"about {est['wall_seconds_left'] / 3600:.1f} h with {args.workers} worker(s) "
              "(evaluations not counted)")
        return 0
    command = "python -m osgan sweep " + " ".join(sys.argv[2:])
    options = slurm.SlurmOptions(**settings.given(args, slurm.SlurmOptions, prefix="slurm_"))
    dirs = run_sweep(args.name, results=results, workers=args.workers, command=command,
                     only=args.only, executor=args.executor, slurm_options=options)
    if not dirs and not _todo(args.name, results, None, args.workers):
        print(f"sweep {args.name} is complete: every cell is done; record in {results}")
        return 0
    print(f"{len(dirs)} cell(s) finished; record in {results}")
    return 0

