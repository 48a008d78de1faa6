"""``python -m osgan sweep NAME``: the command, and what a sweep records beside its cells.

:mod:`osgan.sweep` plans a sweep's cells and runs them; this module is the command line over it
(run, ``--dry-run``, ``--collect``, ``--rescore``, ``--bench``, ``--floor``) and the files those
write into the record: ``round_costs.json`` (a distillation sweep's cost of a round per scheme,
timed side by side), ``floor.json`` (real images scored at the sweep's evaluation settings),
``rescore.json`` (each finished cell's final networks evaluated again from their checkpoint), and
the cells collected from a pinned worktree's record.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

from osgan import dfad, dfad_rounds, harness, settings, slurm, sweeps, timing, training
from osgan.analysis import records
from osgan.sweep import (
    EXECUTORS,
    RESULTS_DIR,
    _finished_length,
    _grid,
    _now,
    _todo,
    cell_config,
    cells,
    environment,
    kind,
    missed_level,
    own_results,
    plan,
    read_provenance,
    run_kind,
    run_sweep,
    status,
    sweep_spec,
)
from osgan.util import UsageError, write_json

# ----------------------------------------------------------------------------------------------
# cost estimate


def write_round_bench(name: str, results: Path, *, repeats: int = 30, warmup: int = 3,
                      command: str | None = None) -> dict[str, Any]:
    """``results/round_costs.json`` of a dfad sweep: the CPU seconds of one round of each scheme
    (and of one stage at each ``g_every`` above 1, averaged over its cycle of rounds) at the
    sweep's settings, timed side by side (one call of each in turn, ``repeats`` turns after
    ``warmup``; :func:`osgan.timing.round_robin`, process CPU time on the sweep's threads), the
    median and quartiles of each, with the environment and command. The record's time axis
    (:func:`osgan.analysis.table2_record.dfad_table2`) is rounds times these costs. Returns what it
    wrote."""
    if kind(name) != "dfad":
        raise UsageError(f"sweep {name!r} holds training runs: time their steps with "
                         "python -m osgan bench (results/table1/bench)")
    if repeats < 1 or warmup < 0:
        raise UsageError(f"a bench needs repeats >= 1 and warmup >= 0; got {repeats}, {warmup}")
    results = own_results(name, results)
    spec = sweep_spec(name)
    # each scheme (and each g_every of one stage: records.cost_key) at its first grid point:
    # Adam, as in the grid (a recipe's SGD costs about the same); a round's cost does not
    # depend on the rates
    cfgs = {}
    for sc in spec.schemes:
        for c in _grid(spec, sc, spec.seeds[0]):
            cfgs.setdefault(records.cost_key(sc, c.g_every), cell_config(name, c, results))
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
    """Seconds left: steps (rounds) left per cell times the measured CPU cost of a step of its
    scheme, measured once per scheme (training: on dcgan_ns; dfad: at the first cell's rates)
    at the sweep's settings; the wall clock is that over the cores the workers' threads take
    (a loaded machine inflates neither: it takes longer by its load)."""
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
    cores = max(1, workers) * torch.get_num_threads()
    return {"step_seconds": cost, "cpu_seconds_left": left, "wall_seconds_left": left / cores}


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
    environment and command, for :func:`osgan.analysis.records.load`. Returns what it wrote."""
    from osgan import metrics  # clean-fid and its features: only the floor needs them

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


def write_rescore(name: str, results: Path, command: str | None = None,
                  progress: bool = True) -> dict[str, Any]:
    """``results/rescore.json``: each finished cell's final generator (its last checkpoint, kept
    outside the record) evaluated again at the cell's own evaluation settings and sampler. It
    checks that the checkpoint gives the FID the record holds for the last step, and adds what
    evaluations did not report when the cell ran, such as the classes its samples cover
    (:func:`osgan.metrics.fid.class_spread`). For a distillation sweep, each cell's final
    student and generator instead (:func:`osgan.dfad.diagnose`: the final accuracy reproduced,
    per class, and the classes the generator shows the teacher). A cell scored already at its
    length is not scored again; cells whose checkpoint is gone (another machine) keep the entry
    they had and are listed under ``missing``. The file's header is the last rescore's
    environment; each entry's ``scored`` says when, at which commit and on which CPU that cell
    was scored, for the entries kept span machines. The file is written again after each cell
    scored (a bar counts them), so a rescore stopped part way keeps what it did. Returns what it
    wrote."""
    if not (results / "sweep.json").exists():
        raise UsageError(f"{results} holds no record of sweep {name!r}: run the sweep first")
    own_results(name, results)
    path = results / "rescore.json"
    cells = json.loads(path.read_text())["cells"] if path.exists() else {}
    missing: list[str] = []
    score = _dfad_to_score if kind(name) == "dfad" else _gan_to_score
    todo = score(results, cells, missing)

    def write() -> dict[str, Any]:
        rescore = {"cells": dict(sorted(cells.items())), "missing": sorted(missing),
                   "date": _now(), "command": command, **environment()}
        write_json(path, rescore)
        return rescore

    rescore = write()
    scored = {k: rescore[k] for k in ("date", "commit", "cpu")}
    with harness.progress(len(todo), 0, f"rescore {name}", progress, unit="cell") as bar:
        for cell, evaluate in todo:
            entry = evaluate()
            if entry is None:  # a checkpoint of another length than the record's
                missing.append(cell)
            else:
                cells[cell] = entry | {"scored": scored}
            rescore = write()
            bar.update()
    return rescore


def _gan_to_score(results: Path, cells: dict[str, Any], missing: list[str]) -> list:
    """:func:`write_rescore` for GAN training runs: (cell, scorer) per finished cell not scored
    at its length yet; the names of cells whose checkpoint is gone or of another length go into
    ``missing``. A scorer returns the cell's entry."""
    todo = []
    for r in records.load(results)["runs"]:
        if not (r["done"] and r["evals"]):
            continue
        name = r["path"].name
        try:
            G, run_cfg, step = training.load_final(r["path"])
        except (ValueError, OSError, UsageError):
            missing.append(name)
            continue
        if step != r["evals"][-1]["step"]:  # a checkpoint of another length than the record's
            missing.append(name)
            continue
        if cells.get(name, {}).get("step") == step:  # scored already, at this length
            continue

        def evaluate(G=G, run_cfg=run_cfg, step=step, fid=r["evals"][-1]["FID"]):
            settings.set_threads(run_cfg.threads)
            return {"step": step, "recorded FID": fid,
                    **training.evaluate_generator(G, run_cfg)}
        todo.append((name, evaluate))
    return todo


def _dfad_to_score(results: Path, cells: dict[str, Any], missing: list[str]) -> list:
    """:func:`write_rescore` for distillation runs: (cell, scorer) per finished cell not scored
    at its length yet, each scoring its final student and generator (:func:`osgan.dfad.diagnose`);
    a scorer returns None for a checkpoint of another length than the record's, and the names
    of cells whose checkpoint is gone go into ``missing``."""
    todo = []
    for r in records.load_dfad(results)["runs"]:
        name = r["path"].name
        if not r["done"] or cells.get(name, {}).get("round") == r["rounds"]:
            continue  # unfinished, or scored already at this length

        def evaluate(r=r, name=name):
            settings.set_threads(r["config"].get("threads", 1))
            try:
                out = dfad.diagnose(r["path"])
            except (ValueError, OSError, UsageError):
                return None
            if out["round"] != r["rounds"]:
                return None
            return {"recorded accuracy": r["accuracy"], **out}
        todo.append((name, evaluate))
    return todo


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help=f"the sweep: {', '.join(sweeps.SWEEPS)}")
    parser.add_argument("--workers", type=int, default=1,
                        help="cells trained at once, one process each (local executor)")
    parser.add_argument("--seeds-per-process", type=int, default=1, metavar="K",
                        help="for CUDA: train up to K seeds of a cell (same config) as one "
                             "stacked ensemble in one process or Slurm job (torch.func.vmap); "
                             "each seed's run folder is a separate run's. On a CPU it is no "
                             "faster than one seed a process (use --workers)")
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
    if args.seeds_per_process < 1:
        raise UsageError(f"--seeds-per-process must be at least 1; got {args.seeds_per_process}")
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
                  "off the tune seeds, listed once its grid there is done (and with a level, "
                  "once a chosen point reached it)")
        if (missed := missed_level(args.name, probe if probe.exists() else None)) is not None:
            print(missed)
        est = estimate(args.name, cfgs, args.workers)
        s = est["step_seconds"]
        costs = (", ".join(f"scheme {k} {v:.4f} s a round" for k, v in s.items())
                 if kind(args.name) == "dfad" else
                 f"one stage {s['one']:.4f} s, two stages {s['two']:.4f} s")
        print(f"{len(cfgs)} cells; CPU cost of a step measured here: {costs}; "
              f"left: {est['cpu_seconds_left'] / 3600:.1f} CPU-hours, "
              f"about {est['wall_seconds_left'] / 3600:.1f} h with {args.workers} worker(s) "
              "on cores of their own (evaluations not counted)")
        return 0
    command = "python -m osgan sweep " + " ".join(sys.argv[2:])
    options = slurm.SlurmOptions(**settings.given(args, slurm.SlurmOptions, prefix="slurm_"))
    dirs = run_sweep(args.name, results=results, workers=args.workers, command=command,
                     only=args.only, executor=args.executor, slurm_options=options,
                     seeds_per_process=args.seeds_per_process)
    if (missed := missed_level(args.name, results)) is not None:
        print(missed)
    if not dirs and not _todo(args.name, results, None, args.workers):
        print(f"sweep {args.name} is complete: every cell is done; record in {results}")
        return 0
    print(f"{len(dirs)} cell(s) finished; record in {results}")
    return 0

