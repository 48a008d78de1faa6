"""Reading a recorded sweep (:mod:`osgan.sweep` writes it under ``results/``): its marker, its
provenance, and per cell folder the config, the metrics and the outcome; the bench's step and
round costs beside it.

A cell folder's name is the record's key for the cell: ``<gan>[-<variant>]-<scheme>-seed<s>`` in a
training sweep, ``<scheme>-<point>-seed<s>`` in a distillation sweep; the loader reads the
variant and the point from it, as the sweep wrote them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from osgan import harness
from osgan.analysis import instrument
from osgan.util import UsageError


def read_provenance(results: str | Path) -> dict[str, Any]:
    """A record's ``provenance.json`` (one entry per invocation of the sweep)."""
    path = Path(results) / "provenance.json"
    if not path.exists():
        raise UsageError(f"{results} has no provenance.json: a record without provenance is "
                         "not shown; run `python -m osgan sweep` to make one")
    return json.loads(path.read_text())


def read_optional(path: str | Path) -> dict[str, Any] | None:
    """A JSON file beside the cells (``floor.json``, ``rescore.json``), None where absent."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def _variant(folder: str, cfg: dict[str, Any], variants: dict[str, Any]) -> str:
    """The variant a training cell's folder name carries ("" for none)."""
    scheme = cfg["stages"] + ("-exact" if cfg.get("exact", False) else "")
    middle = folder.removeprefix(f"{cfg['gan']}-").removesuffix(f"{scheme}-seed{cfg['seed']}")
    return next((v for v in variants if middle == f"{v}-"), "")


def _point(folder: str, cfg: dict[str, Any]) -> str:
    """The grid point a distillation cell's folder name carries."""
    return folder.removeprefix(f"{cfg['scheme']}-").removesuffix(f"-seed{cfg['seed']}")


def evals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The evaluation rows of a run: ``step``, ``time`` (training clock), ``FID``, ``KID``,
    ``classes`` (effective number of classes, :func:`osgan.metrics.fid.class_spread`; None where
    the run did not record it), ``domain_acc`` (the test accuracy of the domain classifier that
    measured it, :mod:`osgan.analysis.instrument`; None in other feature spaces) and, for a run
    that keeps an EMA generator, its ``EMA/FID`` and ``EMA/KID``."""
    return [{"step": r["step"], "time": r["Time/train"], "FID": r["Eval/FID"],
             "KID": r["Eval/KID"], "classes": r.get("Eval/classes_eff"),
             "feature_space": r.get("Eval/feature_space"),
             "domain_acc": r.get("Eval/domain_acc")}
            | {k: r[f"Eval/{k}"] for k in ("EMA/FID", "EMA/KID") if f"Eval/{k}" in r}
            for r in records if "Eval/FID" in r]


def gpu_of(session: dict[str, Any]) -> str | None:
    """The GPU a provenance session ran its cells on (its ``gpu`` entry), None for a CPU's."""
    return session.get("gpu") if session.get("gpu") not in (None, "none") else None


def gpus(prov: dict[str, Any]) -> set[str]:
    """The GPUs a record's sessions ran cells on (:func:`gpu_of`)."""
    return {g for s in prov.get("sessions", []) if (g := gpu_of(s))}


def pairing_machine(run: dict[str, Any]) -> str:
    """The kind of machine a run's pair must share (a loaded run's ``machine`` and ``on_gpu``):
    ``cpu`` for any CPU, else the GPU's name. A cell that ran on a GPU rounds differently from
    the same cell on a CPU, so a verdict pairs one stage with two on one kind of machine only."""
    return run["machine"] if run.get("on_gpu") else "cpu"


def machines(prov: dict[str, Any]) -> dict[str, str]:
    """Where each cell of a record ran, from its provenance: cell -> the GPU's name for a
    session on a GPU (:func:`gpu_of`), else the session's CPU; the last session that finished
    the cell. A cell no session lists is absent."""
    out: dict[str, str] = {}
    for s in sorted(prov.get("sessions", []), key=lambda s: s["start"]):
        where = gpu_of(s) or s.get("cpu", "unknown")
        out |= dict.fromkeys(s.get("cells_finished", []), where)
    return out


def _cells(results: str | Path) -> tuple[dict, dict, list[tuple[Path, dict]]]:
    """A record folder's marker, provenance, and (folder, config) of each cell in it."""
    results = Path(results)
    marker = json.loads((results / "sweep.json").read_text())
    cells = [(d, json.loads((d / "config.json").read_text())["config"])
             for d in sorted(p for p in results.iterdir() if (p / "config.json").exists())]
    return marker, read_provenance(results), cells


def load(results: str | Path) -> dict[str, Any]:
    """A sweep's record: ``sweep`` (its marker), ``provenance``, ``runs`` (one per cell
    folder: ``gan``, ``stages``, ``exact``, ``scheme``, ``seed``, ``done``, ``steps``, ``evals``,
    ``samples``, and in a sweep with variants the cell's ``variant`` and the settings it
    ``changes``; ``instrument``, the domain classifier that measured it,
    :func:`osgan.analysis.instrument.of_evals`; ``machine``, where it ran (:func:`machines`),
    and ``on_gpu``; ``rescore``, the cell's entry in
    ``rescore.json`` or None), ``floor``
    (``floor.json``, the FID of real images at the record's evaluation settings, when recorded;
    else None) and ``rescore`` (``rescore.json``: the final generators evaluated again)."""
    marker, prov, cells = _cells(results)
    variants = marker["spec"].get("variants", {})
    where, on_gpu = machines(prov), gpus(prov)
    runs = []
    for d, cfg in cells:
        rows = evals(harness.read_rows(d / "metrics.jsonl", upto=cfg["steps"]))
        grids = sorted((d / "samples").glob("step_*.png"))
        exact = cfg.get("exact", False)
        variant = _variant(d.name, cfg, variants)
        runs.append({"gan": cfg["gan"], "stages": cfg["stages"], "exact": exact,
                     "scheme": cfg["stages"] + ("-exact" if exact else ""),
                     "seed": cfg["seed"], "done": (d / "done.json").exists(),
                     "steps": cfg["steps"], "config": cfg, "evals": rows,
                     "variant": variant, "changes": variants.get(variant, {}),
                     "instrument": instrument.of_evals(rows),
                     "machine": where.get(d.name, "unknown"),
                     "on_gpu": where.get(d.name) in on_gpu,
                     "samples": grids[-1] if grids else None, "path": d})
    floor = read_optional(Path(results) / "floor.json")  # python -m osgan sweep NAME --floor
    rescore = read_optional(Path(results) / "rescore.json")  # ... NAME --rescore
    for r in runs:
        r["rescore"] = rescore["cells"].get(r["path"].name) if rescore else None
    return {"sweep": marker, "provenance": prov, "runs": runs, "path": Path(results),
            "floor": floor, "rescore": rescore}


def bench_costs(path: str | Path) -> dict[str, dict[str, float]]:
    """Seconds per step from a ``bench.json`` (``python -m osgan bench``), per objective and
    scheme: ``{"dcgan": {"one": ..., "two": ...}, ...}`` (the two-stage scheme is the paper's),
    from the rows of the layout a run uses (option ``layout``, else ``baseline``)."""
    rows = json.loads(Path(path).read_text())["rows"]
    out: dict[str, dict[str, float]] = {}
    for option in ("baseline", "layout"):  # layout last: it wins where both are there
        for r in rows:
            if r.get("option") == option and r["scheme"] in ("one_stage", "two_stage_paper"):
                key = "one" if r["scheme"] == "one_stage" else "two"
                out.setdefault(r["objective"], {})[key] = r["measured_s"]
    return out


def load_dfad(results: str | Path) -> dict[str, Any]:
    """A DFAD sweep's record: ``sweep``, ``provenance`` and ``runs`` (one per cell folder:
    ``scheme``, ``point``, ``seed``, ``done``, ``rounds``, ``config``, ``records``, and from
    ``done.json`` ``accuracy`` (whole test split), ``val_accuracy``, ``teacher_accuracy``, and
    the teacher it names, ``instrument``: :func:`osgan.analysis.instrument.name`; where it ran,
    ``machine``: :func:`machines`) and
    ``rescore`` (``rescore.json``, the class-by-class reading of the final checkpoints, or
    None)."""
    marker, prov, cells = _cells(results)
    where, on_gpu = machines(prov), gpus(prov)
    runs = []
    for d, cfg in cells:
        rows = harness.read_rows(d / "metrics.jsonl", upto=cfg["rounds"], key="round")
        done = json.loads((d / "done.json").read_text()) if (d / "done.json").exists() else {}
        point = _point(d.name, cfg)
        runs.append({"scheme": cfg["scheme"], "point": point, "seed": cfg["seed"],
                     "done": done.get("rounds", -1) >= cfg["rounds"], "rounds": cfg["rounds"],
                     "config": cfg, "records": rows, "accuracy": done.get("accuracy"),
                     "val_accuracy": done.get("val_accuracy"),
                     "teacher_accuracy": done.get("teacher_accuracy"),
                     "instrument": instrument.name("teacher", done.get("teacher_accuracy")),
                     "machine": where.get(d.name, "unknown"),
                     "on_gpu": where.get(d.name) in on_gpu, "path": d})
    return {"sweep": marker, "provenance": prov, "runs": runs, "path": Path(results),
            "rescore": read_optional(Path(results) / "rescore.json")}


def at_length(run: dict[str, Any], rounds: int) -> dict[str, Any]:
    """``run`` as a run of ``rounds`` rounds would read: its evaluations up to there, and its
    test and validation accuracy there (the last evaluation at or before ``rounds``; the
    whole-split final ones when that is its end). A run no longer than ``rounds`` is returned
    as it is. How a tuned sweep reads its grid at the grid's length once a chosen point runs on
    to its plateau (``extend`` in :data:`osgan.sweeps.SWEEPS`)."""
    if not run["done"] or run["rounds"] <= rounds:
        return run
    rows = [r for r in run["records"] if r["round"] <= rounds]
    last = rows[-1]
    return run | {"rounds": rounds, "records": rows, "accuracy": last["Accuracy/student"],
                  "val_accuracy": last.get("Accuracy/val")}


def at_grid(runs: list[dict[str, Any]], grid_rounds: dict[str, int] | None
            ) -> list[dict[str, Any]]:
    """Every run of ``runs`` read at its scheme's grid length (:func:`at_length`; scheme ->
    rounds, a sweep spec's ``rounds``); ``runs`` unchanged when None."""
    if not grid_rounds:
        return runs
    return [at_length(r, grid_rounds[r["scheme"]]) if r["scheme"] in grid_rounds else r
            for r in runs]


def dfad_round_costs(path: str | Path) -> dict[str, float]:
    """Seconds per round of each scheme (:func:`cost_key`) from a dfad sweep's
    ``round_costs.json`` (``python -m osgan sweep NAME --bench``: timed side by side)."""
    return dict(json.loads(Path(path).read_text())["seconds_per_round"])


def cost_key(scheme: str, g_every: int = 1) -> str:
    """A round cost's name in ``round_costs.json``: the scheme, ``one-every5`` for one stage
    whose generator moves in every fifth round only (its rounds are cheaper)."""
    return scheme if g_every == 1 else f"{scheme}-every{g_every}"


def round_cost(costs: dict[str, float] | None, run: dict[str, Any]) -> float | None:
    """Seconds a round of ``run`` from ``costs``, None when not timed."""
    return (costs or {}).get(cost_key(run["scheme"], run["config"].get("g_every", 1)))


