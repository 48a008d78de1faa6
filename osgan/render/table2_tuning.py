"""Rendering a DFAD tuning grid (:mod:`osgan.analysis.table2_record`'s ``tuning``) in chapter
05: each finished cell of the seed-0 grid against the level, each scheme's choice (the best so far
while its grid runs), the values the chapter's prose places about it, and where the students fall
short of KD, class by class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from osgan import sweep
from osgan.analysis import instrument, records, table2_record
from osgan.render.table2_record import provenance_text
from osgan.render.tables import markdown_table

GOING_ON = " (running on to its plateau)"  # a chosen point's end that is not its last yet


def tuning_values(rows: list[dict[str, object]]) -> dict[str, str]:
    """The values chapter 05 places under its tuning table (glue keys ``t2g_*``), from
    :func:`show_tuning`'s rows: ``t2g_balance`` (per scheme and balance weight, the best
    validation accuracy with its test accuracy: :func:`osgan.analysis.table2_record.
    best_by_balance`), ``t2g_chosen_end`` (each scheme's chosen point, "best so far" while its
    grid runs: its test and validation accuracy at the end of its run, and the rounds it ran),
    ``t2g_reached`` (the one- and two-stage cells whose student ended at the level or above,
    with their test accuracy),
    ``t2g_gpu`` (how many of the grid's cells ran on a GPU, and which)."""
    names = {"one": "one stage", "two": "two stages"}
    best = table2_record.best_by_balance(rows)
    balance = "; ".join(
        f"{names[sc]}: " + ", ".join(f"{r['val']:.3f} (test {r['test']:.3f}) at balance {b:g}"
                                     for b, r in by.items())
        for sc, by in best.items()) or "nothing recorded yet"
    gpus = sorted({ran_on(r["machine"]) for r in rows} - {"CPU", "unknown"})
    n = sum(ran_on(r["machine"]) in gpus for r in rows)
    adversarial = [r for r in rows if r["scheme"] in names]
    at_level = [f"{names[r['scheme']]} `{r['point']}` ({r['test']:.3f})"
                for r in adversarial if r["reached"]]
    ends = [f"{names[r['scheme']]} `{r['point']}`{'' if r['tuned'] else ' (best so far)'}"
            f" {r['test']:.3f} (validation {r['val']:.3f}) after {r['rounds']:,} rounds"
            + (GOING_ON if r["going_on"] else "") for r in adversarial if r["chosen"]]
    return {"t2g_balance": balance,
            "t2g_chosen_end": "; ".join(ends) or "nothing chosen yet",
            "t2g_reached": (", ".join(at_level) if at_level else "none") +
                           f", of {len(adversarial)} finished",
            "t2g_gpu": f"{n} of {len(rows)} ran on the {', '.join(gpus)}" if n
            else f"none of {len(rows)} ran on a GPU"}


def chosen_end(results: str | Path) -> str:
    """Where the chosen points of the dfad record at ``results`` ended (:func:`tuning_values`'s
    ``t2g_chosen_end``): the one reading the introduction and chapter 05's lead both place."""
    return tuning_values(tuning_of(results))["t2g_chosen_end"]


def ran_on(machine: str) -> str:
    """A cell's machine (:func:`osgan.analysis.records.machines`) in a table's few words:
    ``CPU`` or the GPU's model (``H200``)."""
    return machine.split()[-1] if machine.startswith("NVIDIA") else \
        "unknown" if machine == "unknown" else "CPU"


def tuning_of(results: str | Path) -> list[dict[str, Any]]:
    """:func:`osgan.analysis.table2_record.tuning` of the dfad record at ``results`` on its
    tune seeds (:func:`_tuning_rows`); [] where nothing is recorded there."""
    results = Path(results)
    if not (results / "sweep.json").exists():
        return []
    return _tuning_rows(records.load_dfad(results))


def _tuning_rows(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """The tuning grid of a loaded dfad record (:func:`osgan.analysis.records.load_dfad`) on its
    tune seeds, read at its grid's length as the sweep chooses, each row with ``tuned``:
    whether its scheme's grid is done there (else its ``chosen`` is the best so far)."""
    spec = rec["sweep"]["spec"]
    tune = tuple(spec.get("tune_seeds") or spec["seeds"])
    grid = sweep.grid_progress(spec, records.at_grid(
        [r for r in rec["runs"] if r["seed"] in tune], spec["rounds"]))
    tuned = {sc for sc, (points, done) in grid.items() if points <= done}
    return [r | {"tuned": r["scheme"] in tuned, "going_on": r["chosen"] and r["scheme"] in tuned
                 and _goes_on(rec, r, tune)}
            for r in table2_record.tuning(rec["runs"], seeds=tune, rescore=rec["rescore"],
                                          grid_rounds=spec["rounds"])]


def _goes_on(rec: dict[str, Any], row: dict[str, Any], tune: tuple[int, ...]) -> bool:
    """Whether a chosen point's run on the ``tune`` seeds is to go on past where it ended, to its
    plateau (:func:`osgan.sweep.verdict_rounds`): its end is not its last yet."""
    spec = sweep.sweep_spec(rec["sweep"]["sweep"])
    if spec.kind != "dfad" or not spec.extend:
        return False
    return any(sweep.verdict_rounds(spec, r["scheme"], r["path"]) > r["rounds"]
               for r in rec["runs"] if r["done"] and r["scheme"] == row["scheme"]
               and r["point"] == row["point"] and r["seed"] in tune)


def show_tuning(results: str | Path) -> list[dict[str, object]]:
    """The tuning grid of Table 2 with a generator that covers the classes (``results``, sweep
    ``table2_tune``): each finished cell's validation and test accuracy against the level a
    working student reaches (figure) and as a table with the classes each final generator
    shows (``rescore.json``), each scheme's choice marked ("best so far" while its grid runs).
    Says so where nothing is recorded yet. Returns :func:`tuning_of`'s rows."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn
    from IPython.display import Markdown, display  # optional: only where a notebook displays

    results = Path(results)
    if not (results / "sweep.json").exists():
        display(Markdown(f"*The tuning grid is not recorded in this checkout yet* (`python -m "
                         f"osgan sweep {results.name}`)."))
        return []
    rec = records.load_dfad(results)
    display(Markdown(provenance_text(rec)))
    rows = _tuning_rows(rec)
    if not rows:
        display(Markdown("No cell of the grid has finished yet."))
        return rows
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for i, sc in enumerate(dict.fromkeys(r["scheme"] for r in rows)):
        mine = [r for r in rows if r["scheme"] == sc]
        ax.scatter([r["val"] for r in mine], [r["test"] for r in mine], color=f"C{i}",
                   label=sc, s=[60 if r["chosen"] else 20 for r in mine])
    ax.axhline(table2_record.LEVEL, color="k", ls="--", lw=0.8, label="level")
    ax.set(xlabel="validation accuracy at the end (chooses)",
           ylabel="test accuracy at the end (reported)", title="Table 2's tuning grid, seed 0")
    ax.legend(fontsize=7)
    fig.tight_layout()
    plt.show()
    mark = lambda r: "" if not r["chosen"] else "yes" if r["tuned"] else "best so far"  # noqa: E731
    display(Markdown(markdown_table(
        [r | {"reached": "yes" if r["reached"] else "no", "chosen": mark(r),
              "classes": "-" if r["classes"] is None else f"{r['classes']:.1f}",
              "teacher": instrument.LABEL.get(r["teacher"], r["teacher"]),
              "ran on": ran_on(r["machine"])}
         for r in sorted(rows, key=lambda r: (r["scheme"], -r["val"]))],
        ["scheme", "point", "balance", "scale", "rounds", "val", "test", "reached", "classes",
         "teacher", "ran on", "chosen"],
        formats={"val": "{:.3f}", "test": "{:.3f}", "balance": "{:g}", "scale": "{:g}",
                 "rounds": "{:,}"})))
    display(Markdown(f"*classes*: the effective number of classes (of 10) the final generator "
                     f"shows the teacher (exp of the entropy of its predicted classes); \"-\": "
                     f"KD, a cell whose checkpoint stayed on the GPU machine it ran on, or not "
                     f"scored yet (`python -m osgan sweep {results.name} --rescore`). "
                     f"*teacher*: the LeNet-5 the cell distilled, the AMD EPYC's (0.9054, not "
                     f"kept), the Xeon's (0.9052) or the Xeon's trained by DFAD's recipe "
                     f"(0.8812, `table2_dt`), both frozen in `osgan/instruments`. *ran on*: "
                     f"this record's CPU (one thread) or the GPU a session was lent "
                     f"(`scripts/gpu_grid.sh`: the same cell configs and code, float32 with TF32 "
                     f"off)."))
    return rows


def show_class_gaps(results: str | Path) -> dict[str, str]:
    """Display where a DFAD record's data-free students fall short of KD on real images, class
    by class (:func:`osgan.analysis.table2_record.class_gaps`): a heat map of KD's test accuracy
    on each class minus each adversarial cell's student's, the cells in order of their test
    accuracy, with each class's share of the summed gap. Returns the values chapter 05 places
    (glue keys ``gap_*``; "not scored yet" where the record has no such reading)."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn
    from IPython.display import Markdown, display  # optional: only where a notebook displays

    results = Path(results)
    rescore = records.read_optional(results / "rescore.json")
    g = table2_record.class_gaps(rescore)
    if g is None:
        display(Markdown(f"*No class-by-class gap to KD for `{results.name}` yet* (it needs a "
                         f"KD cell and adversarial cells scored by `python -m osgan sweep "
                         f"{results.name} --rescore`)."))
        return {k: "not scored yet" for k in ("gap_top", "gap_share", "gap_cells", "gap_best",
                                              "gap_if")}
    acc = rescore["cells"]
    names = sorted(g["gaps"], key=lambda n: -acc[n]["accuracy"])
    gap = np.array([g["gaps"][n] for n in names])
    lim = float(np.nanmax(np.abs(gap))) or 1.0
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(9, 2.2 + 0.25 * len(names)), sharex=True,
                                 gridspec_kw={"height_ratios": [len(names), 4]})
    im = ax.imshow(gap, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_yticks(range(len(names)),
                  [f"{n.rsplit('-seed', 1)[0]} ({acc[n]['accuracy']:.3f})" for n in names],
                  fontsize=7)
    ax.set_title("KD's test accuracy on the class minus the data-free student's "
                 "(red: the student falls short)")
    fig.colorbar(im, ax=ax, fraction=0.03)
    bx.bar(range(len(g["classes"])), g["share"], color="C3")
    bx.set_xticks(range(len(g["classes"])), g["classes"], rotation=30, ha="right")
    bx.set(ylabel="share of the gap")
    fig.tight_layout()
    plt.show()
    display(Markdown(markdown_table(
        [{"class": c, "KD": k, "mean gap": m, "share of the gap": s}
         for c, k, m, s in zip(g["classes"], g["kd"], g["mean_gap"], g["share"], strict=True)],
        fmt="{:.3f}")))
    return {"gap_top": " and ".join(g["top"]), "gap_share": f"{g['top_share']:.0%}",
            "gap_cells": str(len(names)),
            "gap_best": f"`{g['best'].rsplit('-seed', 1)[0]}` ({g['best_acc']:.3f})",
            "gap_if": f"{g['best_if']:.3f}"}
