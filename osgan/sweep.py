r"""``python -m osgan sweep NAME``: a named grid of training runs, recorded with its provenance.

A sweep (:data:`osgan.sweeps.SWEEPS`, a typed spec of :mod:`osgan.sweeps`) is objectives x
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
(:func:`osgan.analysis.table2_record.dfad_table2`). With ``extend=k`` in its spec, each scheme's chosen point
(the verdict's cells, on every seed) runs on past the grid's length until its validation accuracy
passes the plateau rule, by the grid's length at a time (resumed from its checkpoint), at most
``k`` times the grid's length (:func:`verdict_rounds`); the choice still reads every run at the
grid's length.
"""

from __future__ import annotations

import datetime
import itertools
import json
import platform
import shutil
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from osgan import (
    dfad,
    ensemble,
    harness,
    plans,
    runkind,
    slurm,
    sweeps,
    training,
)
from osgan.analysis import records, table2_record
from osgan.runkind import RunKind
from osgan.sweeps import DFADSweep, TrainSweep
from osgan.training import TrainConfig
from osgan.util import UsageError, cache_root, device_name, git, write_json

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
    balance: float = 0.0  # weight of DAFL's class-balance term in the generator's loss (0: none)
    g_scale: float = 1.0  # the generator's output std in units of its g_output's
    # the length to run to when not the sweep's for the scheme (a chosen point run on to its
    # plateau, verdict_rounds); not part of the cell's name: a longer run resumes the same folder
    rounds: int | None = field(default=None, compare=False)

    @property
    def point(self) -> str:
        """The grid point, the same name for every seed: ``adam-s0.001-g0.0003``, ``dfad``,
        ``adam-s0.001-g0.001-every5``, ``adam-s0.001-g0.001-b5-x0.5`` (balance 5, scale 0.5)."""
        rates = [f"{k}{v:g}" for k, v in (("s", self.lr_s), ("g", self.lr_g)) if v is not None]
        every = [f"every{self.g_every}"] if self.g_every != 1 else []
        extra = [f"b{self.balance:g}"] * (self.balance != 0) + [f"x{self.g_scale:g}"] * \
            (self.g_scale != 1)
        return "-".join([self.hparams, *rates, *every, *extra])

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
    """A scheme's grid on one seed: for one and two each balance weight and output scale (the
    first of each first), then the rates, and for one stage each of ``spec.g_every``."""
    rates = [(s, None) for s in spec.lr_s] if scheme == "kd" else \
        [(s, g) for s in spec.lr_s for g in spec.lr_g]
    every = spec.g_every if scheme == "one" else (1,)
    games = [(0.0, 1.0)] if scheme == "kd" else [(b, x) for b in spec.balance
                                                  for x in spec.g_scale]
    return [DFADCell(scheme, "adam", s, g, seed, k, b, x) for b, x in games for s, g in rates
            for k in every]


def grid_progress(spec: DFADSweep | dict[str, Any], runs: list[dict[str, Any]]
                  ) -> dict[str, tuple[set[str], set[str]]]:
    """Per scheme of a dfad sweep ``spec`` (or its dict form, a record's ``sweep.json``), its
    grid points and those of them finished in ``runs`` (:func:`osgan.analysis.records.load_dfad`'s, on the
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
    once every grid cell of the scheme on those seeds is done (:func:`osgan.analysis.table2_record.choose`);
    schemes still tuning are left out."""
    spec = sweep_spec(name)
    if results is None or not (results / "provenance.json").exists():
        return {}  # nothing recorded yet
    runs = records.at_grid([r for r in records.load_dfad(results)["runs"]
                           if r["seed"] in spec.tune_seeds], spec.rounds)
    out = {}
    for scheme, (grid, done) in grid_progress(spec, runs).items():
        if grid <= done:
            best = [r for r in table2_record.choose(runs, scheme) if r["point"] in grid]
            out[scheme] = best[0]["point"]
    return out


def level_reached(spec: DFADSweep, chosen: dict[str, str], results: Path | None
                  ) -> bool | None:
    """Whether the chosen point of one or two ends its runs on the tune seeds at ``spec.level``
    test accuracy or more (their mean; True without a level): the other seeds run only then
    (osgan.plans.TABLE2_TUNING.if_short). None while it cannot tell yet: a scheme still tuning, or
    a chosen cell still running or going on to its plateau (:func:`verdict_rounds`)."""
    if spec.level is None:
        return True
    schemes = [sc for sc in spec.schemes if sc != "kd"]
    if results is None or any(sc not in chosen for sc in schemes):
        return None
    ends = {}
    for sc in schemes:
        folders = [results / c.name for seed in spec.tune_seeds for c in _grid(spec, sc, seed)
                   if c.point == chosen[sc]]
        done = [_finished_length(f, "rounds") for f in folders]
        if any(n is None or n != verdict_rounds(spec, sc, f) for n, f in zip(done, folders)):
            return None
        ends[sc] = statistics.mean(json.loads((f / "done.json").read_text())["accuracy"]
                                   for f in folders)
    return max(ends.values()) >= spec.level


def missed_level(name: str, results: Path | None) -> str | None:
    """One line saying that tuned dfad sweep ``name`` ends after its tune seeds because no
    chosen point reached its level (:func:`level_reached` False); None otherwise."""
    spec = sweep_spec(name)
    if spec.kind != "dfad" or spec.tune_seeds is None or \
            level_reached(spec, tuned_points(name, results), results) is not False:
        return None
    return (f"sweep {name} ends after its tune seeds: no scheme's chosen point ended its run at "
            f"{spec.level:.2f} test accuracy or more, so the other seeds do not run (the plan's "
            "if_short)")


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
    time its validation accuracy fails the plateau rule
    (:func:`osgan.analysis.table2_record.dfad_plateau`), up
    to k times the grid's length. A run under way keeps the length it was started for."""
    base = spec.rounds[scheme]
    cap = (spec.extend or 1) * base
    started = _started_length(folder)
    if started is not None:  # under way (or killed): where it was started for
        return started
    done = _finished_length(folder, "rounds")
    if done is None:
        return base
    rows = harness.read_rows(folder / "metrics.jsonl", upto=done, key="round")
    if done >= cap or table2_record.dfad_plateau({"records": rows, "rounds": done})["plateaued"]:
        return done
    return min(done + base, cap)


def _dfad_cells(spec: DFADSweep, chosen: dict[str, str],
                results: Path | None = None, confirm: bool = True) -> list[DFADCell]:
    """The tune seeds first, each with every scheme's recipes (one cell each, the first curves
    to read) and then the grids, the schemes' points interleaved; then, with ``confirm``, the
    other seeds' chosen points, once known (the verdict's pairs); and their recipes last. With
    ``spec.extend`` and the record at ``results``, each chosen point's cell (on every seed)
    carries its :func:`verdict_rounds`."""
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
    for seed in tune:  # the schemes' grids interleaved point by point: pairs finish together
        grids = itertools.zip_longest(*(_grid(spec, sc, seed) for sc in spec.schemes))
        out += recipes(seed) + [verdict(c) for point in grids for c in point if c is not None]
    others = [seed for seed in spec.seeds if seed not in tune] if confirm else []
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
    reached = level_reached(spec, chosen, results)
    others = sum(seed not in spec.tune_seeds for seed in spec.seeds)
    if reached is None:  # not told yet: every scheme's chosen point and recipes to come
        later = len(spec.schemes) * (1 + len(spec.recipes)) * others
    elif reached:  # listed, but for the chosen points of schemes still tuning
        later = sum(sc not in chosen for sc in spec.schemes) * others
    else:  # the level was missed: the other seeds never run
        later = 0
    return _dfad_cells(spec, chosen, results, confirm=bool(reached)), later


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
    """The spec of sweep ``name`` (:data:`osgan.sweeps.SWEEPS`; a plain dict there is built
    into one), its settings checked against the cells' config; a one-line
    :class:`~osgan.util.UsageError` naming the sweep for a bad one."""
    if name not in sweeps.SWEEPS:
        raise UsageError(f"unknown sweep {name!r}; choose one of: {', '.join(sweeps.SWEEPS)}")
    try:
        spec = sweeps.as_spec(sweeps.SWEEPS[name])
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
                     progress=False, g_every=cell.g_every, balance=cell.balance,
                     g_scale=cell.g_scale)
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


def environment() -> dict[str, Any]:
    """Where and with what a sweep ran: commit, versions, CPU."""
    import importlib.metadata

    import numpy
    import torchvision

    # dirty: code that differs from the commit; a record the sweep is writing under results/
    # is not (a pinned worktree's own cells and provenance)
    return {"commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".",
                               ":(exclude)results")),
            "python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "clean-fid": importlib.metadata.version("clean-fid"),
            "numpy": numpy.__version__, "cpu": device_name(torch.device("cpu")),
            "cpu_count": __import__("os").cpu_count(), "platform": platform.platform(),
            "mkl_instructions": __import__("os").environ.get("MKL_ENABLE_INSTRUCTIONS")}


def read_provenance(results: Path) -> dict[str, Any]:
    path = results / "provenance.json"
    if not path.exists():
        raise UsageError(f"{results} has no provenance.json: a record without provenance is "
                         "not shown; run `python -m osgan sweep` to make one")
    return json.loads(path.read_text())


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _run_cell(cfg) -> str:
    # a worker process's whole job: one run of its kind (one thread, set by the config), its
    # folder's path (not its modules)
    return str(runkind.run(kind_of(cfg), cfg).out_dir)


def _run_group(cfgs: list) -> list[str]:
    # with seeds_per_process: the seeds of one cell as one ensemble (osgan.ensemble), a seed
    # alone as an ordinary run; their folders' paths
    if len(cfgs) == 1:
        return [_run_cell(cfgs[0])]
    return [str(r.out_dir) for r in ensemble.train(cfgs)]


def _listed(paths: str | list[str]) -> list[str]:
    return paths if isinstance(paths, list) else [paths]


def _todo(name: str, results: Path, only: int | None, workers: int = 1, **overrides) -> list:
    """The configs of the cells to run next (at most ``only``): those not done, and in a tuned
    dfad sweep those of the tune seeds alone while any is left, so that the sweep plans again
    once they are done and runs the other seeds' chosen points before their recipes. In a sweep
    whose chosen points run on to their plateau (``extend``), the first ``workers`` cells and
    behind them every other cell of the grid's length: a chosen point's length is known only
    once its run so far is done, so the sweep plans again after the batch, and a run that must
    go on does so before the recipes; the cells of fixed length fill the workers meanwhile (a
    batch of ``workers`` cells alone kept a worker idle while a one-stage cell ran beside a
    two-stage or kd cell of a third of its time)."""
    cfgs = [cell_config(name, c, results, **overrides) for c in cells(name, results)]
    todo = [c for c in cfgs if status(c) != "done"]
    spec = sweep_spec(name)
    if spec.kind == "dfad" and spec.tune_seeds:
        todo = [c for c in todo if c.seed in spec.tune_seeds] or todo
    if spec.kind == "dfad" and spec.extend:
        todo = todo[:workers] + [c for c in todo[workers:] if c.rounds == spec.rounds[c.scheme]]
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
              slurm_options: slurm.SlurmOptions | None = None, seeds_per_process: int = 1,
              **overrides) -> list[Path]:
    """Run the cells of sweep ``name`` that are not done (resuming unfinished ones), ``workers``
    at a time here or, with ``executor="slurm"``, as Slurm jobs (:mod:`osgan.slurm`); returns
    the finished cells' folders. ``only`` stops after that many cells; ``overrides`` change
    every cell's training config (``data_root`` for a test). ``seeds_per_process`` above 1
    trains up to that many seeds of a cell as one stacked ensemble in one worker or job
    (:mod:`osgan.ensemble`; for a GPU)."""
    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    if isinstance(seeds_per_process, bool) or not isinstance(seeds_per_process, int) \
            or seeds_per_process < 1:
        raise UsageError(f"--seeds-per-process must be at least 1; got {seeds_per_process!r}")
    if seeds_per_process > 1 and kind(name) != "train":
        raise UsageError(f"sweep {name!r} holds {kind(name)} runs: only training runs stack "
                         "(leave out --seeds-per-process)")
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
    if seeds_per_process > 1:
        session["seeds_per_process"] = seeds_per_process
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
        # a worker's (a job's) item: one cell, or with seeds_per_process one cell's seeds
        groups = ensemble.groups(todo, seeds_per_process)  # one cell each when 1
        in_order = [c for g in groups for c in g]
        items, fn = (groups, _run_group) if seeds_per_process > 1 else (todo, _run_cell)
        if executor == "slurm":
            jobs = slurm.submit(name, items, fn, options)
            jobs = [j for g, j in zip(groups, jobs) for _ in g]  # each cell's job
            session.setdefault("jobs", {}).update(
                {Path(c.out_dir).name: str(j.job_id) for c, j in zip(in_order, jobs)})
            write_json(prov_path, prov)
            try:
                dirs += slurm.follow(jobs, in_order, finished, poll=options.poll)
            finally:
                session["hosts"] = slurm.hosts(name, list(session["jobs"]))
                write_json(prov_path, prov)
        else:
            paths = harness.parallel_map(
                fn, items, workers, desc=f"sweep {name}",
                on_done=lambda i, p: [finished(i, Path(q)) for q in _listed(p)])
            dirs += [Path(q) for p in paths for q in _listed(p)]
        if only is not None and len(dirs) >= only:
            break
        # a tuned dfad sweep lists the other seeds' chosen points once the tune seeds are done
        todo = _todo(name, results, None if only is None else only - len(dirs), workers,
                     **overrides)
    session["end"] = _now()
    write_json(prov_path, prov)
    return dirs
