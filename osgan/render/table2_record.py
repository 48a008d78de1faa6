"""Rendering a recorded distillation sweep (:mod:`osgan.analysis.table2_record`'s findings) in
chapter 05: its provenance and progress through the sweep's plan, the chosen learning rates,
Table 2 with paired intervals and verdicts, the runs run on to a plateau, the curves and the
grid; the ablation; the class-by-class reading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from osgan import data, dfad, sweep
from osgan.analysis import records, table2_record
from osgan.render.tables import interval, markdown_table, pm


def _show_pairs(paired: list[dict[str, object]], a: str, b: str, where: str) -> None:
    """Schemes ``a`` against ``b`` every way (:func:`osgan.table2_record.dfad_table2`'s ``paired``)."""
    from IPython.display import Markdown, display  # optional: only where a notebook displays

    if paired:
        display(Markdown(
            f"**{a} against {b}**, {where}, paired by seed; {a} - {b}: mean paired difference "
            "of test accuracy with its 95% interval:\n\n" + markdown_table([{
                "at": p["at"], "n": p["n"], a: pm(p[a], p[f"{a} std"], "{:.4f}"),
                b: pm(p[b], p[f"{b} std"], "{:.4f}"),
                f"{a} - {b} [95%]": interval(p[f"{a}-{b}"], p["low"], p["high"], "{:+.4f}"),
                "verdict": p["verdict"]} for p in paired])))


def _show_round_costs(results: Path) -> dict[str, float] | None:
    """Display a DFAD record's time axis (``round_costs.json``, timed side by side) and return
    its costs (:func:`osgan.table2_record.dfad_round_costs`); None where it has none."""
    from IPython.display import Markdown, display  # optional: only where a notebook displays


    bench = results / "round_costs.json"
    if not bench.exists():
        return None
    costs = records.dfad_round_costs(bench)
    meta = json.loads(bench.read_text())
    display(Markdown(
        "**Time axis**: rounds times each scheme's CPU seconds a round, timed side by side "
        f"at the sweep's settings (`{meta['command']}`, {meta['date'][:10]}, {meta['cpu']}, "
        f"{meta['threads']} thread(s), median of {meta['repeats']}): "
        + ", ".join(f"{sc} {t:.4f} s" for sc, t in costs.items())
        + ". The runs' own clocks, which other load on the machine stretches, are the "
        "secondary axis."))
    return costs


def show_dfad_record(results: str | Path, a: str = "one", b: str = "two") -> dict[str, object]:
    """Display a recorded DFAD sweep (``results/<sweep>``, :func:`osgan.table2_record.dfad_table2`): its
    provenance, the learning rates chosen on validation accuracy, Table 2 (test accuracy, mean ±
    std over seeds), schemes ``a`` against ``b`` every way with paired 95% intervals and
    verdicts, and the chosen points' test-accuracy curves against rounds and training time. Says
    so plainly where there is no table2_record. Returns :func:`osgan.table2_record.dfad_table2`'s dict ({}
    without a record)."""
    from IPython.display import Markdown, display  # optional: only where a notebook displays


    results = Path(results)
    if not (results / "sweep.json").exists():
        display(Markdown(f"**No recorded DFAD sweep** at `{results}`: this page shows the live "
                         "run below only, which is a pipeline check, not a result. Record one "
                         "with `python -m osgan sweep table2`."))
        return {}
    rec = records.load_dfad(results)
    display(Markdown(provenance_text(rec)))
    spec = rec["sweep"].get("spec", {})
    tune = spec.get("tune_seeds")
    costs = _show_round_costs(results)
    t2 = table2_record.dfad_table2(rec["runs"], a, b, tune_seeds=tune, costs=costs,
                            grid_rounds=spec.get("rounds"))
    if not t2["rows"]:
        display(Markdown("No scheme has a finished run in the record yet."))
        return t2
    grid = sweep.grid_progress(spec, [r for r in rec["runs"] if tune is None or r["seed"] in tune]
                               ) if "lr_s" in spec else {}
    progress = ", ".join(f"{sc} {len(done)} of {len(points)}"
                         for sc, (points, done) in grid.items())
    display(Markdown(
        "**Table 2 on Fashion-MNIST** (recorded). Per scheme, the grid point (a recipe only "
        "for a scheme without a grid) with the best mean validation accuracy (held-out training "
        "images) at the end of the grid's runs"
        + (f", over seed(s) {', '.join(map(str, tune))}, where the grid runs" if tune else "")
        + (f" (grid points finished there: {progress}; until a scheme's grid is done, its "
           "choice is among those finished)" if progress else "")
        + "; its test accuracy at the end, on the whole test split, mean ± std over seeds"
        + (f". A chosen point runs on past the grid's length until it passes the plateau rule "
           f"below, by the grid's length at a time and at most {spec['extend']} times it (rounds: "
           "the range over seeds); the choice reads every run at the grid's length"
           if spec.get("extend") else "") + ":\n\n"
        + markdown_table([{
            "scheme": r["scheme"], "chosen": r["point"], "n": r["n"], "rounds": r["rounds"],
            "val": f"{r['val']:.4f}", "test": pm(r["test"], r["test std"], "{:.4f}"),
        } for r in t2["rows"]])))
    teacher = next((r["teacher_accuracy"] for r in rec["runs"] if r["teacher_accuracy"]), None)
    if teacher and t2["rows"]:
        display(Markdown(f"**Share of the teacher's test accuracy** ({teacher:.4f}) at each "
                         "scheme's chosen point: " + ", ".join(
                             f"{r['scheme']} {r['test'] / teacher:.0%}" for r in t2["rows"])
                         + "."))
    _show_pairs(t2["paired"], a, b, "each at its chosen point")
    for recipe, at in t2["recipes"].items():
        if at["rows"]:
            display(Markdown(
                f"**At the shared setting**, the published recipe `{recipe}` for every scheme "
                + (f"({dfad.HPARAMS[recipe].about}; " if recipe in dfad.HPARAMS else "(")
                + "no tuning), test accuracy at the end, mean ± std over seeds:\n\n"
                + markdown_table([{"scheme": r["scheme"], "n": r["n"], "rounds": r["rounds"],
                                   "val": f"{r['val']:.4f}",
                                   "test": pm(r["test"], r["test std"], "{:.4f}")}
                                  for r in at["rows"]])))
            _show_pairs(at["paired"], a, b, f"both at the recipe `{recipe}`")
    flat = [(r, table2_record.dfad_plateau(r)) for r in rec["runs"] if r["done"]]
    still = [f"`{r['path'].name}` (+{p['gain']:.3f})" for r, p in flat
             if p["gain"] is not None and not p["plateaued"]]
    display(Markdown(
        f"**Plateau rule** (the best validation accuracy of a run's last third beats the best "
        f"before it by less than {table2_record.ACC_PLATEAU_GAIN:.2f}): "
        f"{sum(p['plateaued'] for _, p in flat)} of {len(flat)} finished runs have flattened"
        + (f"; still rising at the end: {', '.join(still)}" if still else "") + "."))
    _show_run_on(table2_record.run_on(rec["runs"], spec.get("rounds")))
    _plot_dfad_curves(rec["runs"], t2["chosen"], costs)
    if "lr_s" in spec:
        _plot_dfad_grid(records.at_grid(rec["runs"], spec.get("rounds")), spec, tune)
    return t2


def _show_run_on(rows: list[dict[str, object]]) -> None:
    """The runs that went on past the grid's length (:func:`osgan.table2_record.run_on`): accuracy at
    the grid's length, at the best validation evaluation, and at the end."""
    from IPython.display import Markdown, display  # optional: only where a notebook displays

    if not rows:
        return
    fell = [r["name"] for r in rows if r["test"] < r["grid test"]]
    display(Markdown(
        "**Run on to a plateau.** The chosen points that went on past the grid's length, "
        "because their validation accuracy was still rising there: validation and test accuracy "
        "at the grid's length, the best validation evaluation (its round), and the end.\n\n"
        + markdown_table([{
            "run": f"`{r['name']}`", "grid: val / test":
            f"{r['grid val']:.4f} / {r['grid test']:.4f} ({r['grid']})",
            "best val (round)": "–" if r["best val"] is None else
            f"{r['best val']:.4f} ({r['best round']})",
            "end: val / test": f"{r['val']:.4f} / {r['test']:.4f} ({r['rounds']})",
            "flat at the end": "yes" if r["plateaued"] else "no (at the cap)",
        } for r in rows])
        + "\n\nEnded below its test accuracy at the grid's length: "
        + (", ".join(f"`{n}`" for n in fell) or "none") + "."))


def _plot_dfad_curves(runs: list[dict[str, object]], chosen: dict[str, str],
                      costs: dict[str, float] | None) -> None:
    """Test accuracy of each scheme's chosen point (every seed) against rounds, student updates
    and training time (rounds x ``costs`` where given, else the runs' own clocks), and the loss
    both adversarial schemes play, the student's L1 disagreement with the teacher on generated
    images, against student updates."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn


    fig, axes = plt.subplots(1, 4, figsize=(20, 4))
    for i, (sc, pt) in enumerate(chosen.items()):
        for k, r in enumerate(x for x in runs if x["scheme"] == sc and x["point"] == pt):
            rounds = [row["round"] for row in r["records"]]
            acc = [row["Accuracy/student"] for row in r["records"]]
            kw = dict(color=f"C{i}", alpha=0.8, label=f"{sc} ({pt})" if k == 0 else None)
            axes[0].plot(rounds, acc, **kw)
            axes[1].plot([n * table2_record.UPDATES[sc](r["config"]) for n in rounds], acc, **kw)
            clock = [n * costs[sc] for n in rounds] if costs and sc in costs else \
                [row["Time/train"] for row in r["records"]]
            axes[2].plot(clock, acc, **kw)
            if sc != "kd":  # kd's loss is another (KL on real images)
                rows = [row for row in r["records"] if "Loss/S" in row]
                axes[3].plot([row["round"] * table2_record.UPDATES[sc](r["config"]) for row in rows],
                             [row["Loss/S"] for row in rows], **kw)
    for ax in axes[1:3]:
        ax.sharey(axes[0])
    axes[3].set(xlabel="student updates", ylabel="L1 of logits, student vs teacher",
                yscale="log", title="the disagreement on generated images")
    axes[0].set(xlabel="round", ylabel="student test accuracy", title="against rounds")
    axes[1].set(xlabel="student updates", title="against student updates")
    axes[2].set(xlabel="training time (s): " + ("rounds x round cost (bench)" if costs else
                                                "the runs' own clock"),
                title="against training time")
    axes[0].legend()
    plt.tight_layout()
    plt.show()


def _plot_dfad_grid(runs: list[dict[str, object]], spec: dict[str, object],
                    tune: list[int] | None) -> None:
    """Validation accuracy of every grid point on the tune seeds at the grid's length (``runs``
    read there, :func:`osgan.table2_record.at_grid`): per adversarial scheme a
    map over the student's rate x the generator's, and every scheme against the ratio of the
    two rates (kd, which has no generator, as a line at each student rate)."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn

    lr_s, lr_g = list(spec["lr_s"]), list(spec["lr_g"])
    done = [r for r in runs if r["done"] and r["config"]["hparams"] == "adam"
            and (tune is None or r["seed"] in tune) and r["val_accuracy"] is not None]
    adversarial = [sc for sc in spec["schemes"] if sc != "kd"]
    fig, axes = plt.subplots(1, len(adversarial) + 1, figsize=(5 * len(adversarial) + 6, 4),
                             layout="constrained")
    for ax, sc in zip(axes, adversarial):
        m = np.full((len(lr_s), len(lr_g)), np.nan)
        for r in done:
            if r["scheme"] == sc:
                m[lr_s.index(r["config"]["lr_s"]), lr_g.index(r["config"]["lr_g"])] = \
                    r["val_accuracy"]
        im = ax.imshow(m, vmin=0.0, vmax=1.0, cmap="viridis", origin="lower")
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, "not run" if np.isnan(v) else f"{v:.3f}", ha="center", va="center",
                    color="grey" if np.isnan(v) else "white" if v < 0.6 else "black",
                    fontsize=9)
        ax.set(xticks=range(len(lr_g)), xticklabels=[f"{g:g}" for g in lr_g],
               yticks=range(len(lr_s)), yticklabels=[f"{x:g}" for x in lr_s],
               xlabel="generator's rate", ylabel="student's rate",
               title=f"{sc}: validation accuracy, grid length")
    fig.colorbar(im, ax=axes[:len(adversarial)].tolist(), shrink=0.8)
    ax = axes[-1]
    for i, sc in enumerate(adversarial):
        pts = sorted((r["config"]["lr_s"] / r["config"]["lr_g"], r["val_accuracy"])
                     for r in done if r["scheme"] == sc)
        if pts:
            ax.plot(*zip(*pts), "o", color=f"C{i}", alpha=0.8, label=sc)
    for r in done:
        if r["scheme"] == "kd":
            ax.axhline(r["val_accuracy"], color="grey", lw=0.8, ls=":")
    ax.set(xscale="log", xlabel="student's rate / generator's rate", ylim=(0, 1),
           ylabel="validation accuracy at the grid length",
           title="against the ratio of the rates (dotted: kd)")
    ax.legend()
    plt.show()


def show_dfad_classes(results: str | Path, points: dict[str, str] | None = None
                      ) -> dict[str, object]:
    """Display what a DFAD record's generators show the teacher and what the students learn,
    class by class (``rescore.json``, :func:`osgan.dfad.diagnose`): per adversarial cell of the
    given points (scheme -> point; all adversarial cells when None), the shares of the teacher's
    classes on G(z) and the student's test accuracy per class, and the rank correlation of the
    two over every (cell, class). Says so where the record has no rescore. Returns
    ``{"cells": [names], "spearman": rho, "p": p-value}`` ({} without a rescore)."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn
    from IPython.display import Markdown, display  # optional: only where a notebook displays


    reading = table2_record.dfad_classes(records.read_optional(Path(results) / "rescore.json"),
                                         points)
    if reading is None:
        display(Markdown(f"*No class-by-class reading of `{Path(results).name}` yet* "
                         f"(`python -m osgan sweep {Path(results).name} --rescore`, from the "
                         "final checkpoints)."))
        return {}
    cells, rs = reading["cells"], reading["rescore"]
    if not cells:
        display(Markdown("No adversarial cell of these points has a class-by-class reading yet."))
        return {}
    names = data.CLASS_NAMES["fashion_mnist"]
    fig, axes = plt.subplots(1, 2, figsize=(15, 4), sharey=False)
    width = 0.8 / len(cells)
    for i, (n, c) in enumerate(cells.items()):
        at = [k + (i - (len(cells) - 1) / 2) * width for k in range(len(names))]
        axes[0].bar(at, c["class_fractions"], width, label=n, color=f"C{i}")
        axes[1].bar(at, [x if x is not None else float("nan") for x in c["per_class"]], width,
                    label=n, color=f"C{i}")
    for ax, what in zip(axes, ("share of G(z) the teacher puts in the class",
                               "student's test accuracy on the class"), strict=True):
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set(ylabel=what)
    axes[0].axhline(0.1, color="grey", ls=":", lw=1)  # a balanced generator
    n_img = sorted({c["images"] for c in cells.values()})
    axes[0].set_title(f"what the generator shows the teacher (final G, "
                      f"{'/'.join(f'{n:,}' for n in n_img)} images)")
    axes[1].set_title("what the student learned (final student, test split)")
    axes[1].legend(fontsize=7)
    plt.tight_layout()
    plt.show()
    rho, p, pairs, rare = (reading[k] for k in ("spearman", "p", "pairs", "rare"))
    display(Markdown(
        "**Class by class** (`rescore.json`, from each cell's final checkpoint, "
        f"{rs['date'][:10]}, commit {rs['commit'][:7]}; it reproduces every recorded final "
        "accuracy to within "
        f"{max(abs(c['accuracy'] - c['recorded accuracy']) for c in cells.values()):.1e}):\n\n"
        + markdown_table([{"cell": n, "test accuracy": c["accuracy"],
                           "classes shown (effective, of 10)": c["classes_eff"],
                           "student = teacher on G(z)": c["agreement"]}
                          for n, c in cells.items()], fmt="{:.3f}")
        + f"\n\nOver every (cell, class), the share of generated images the teacher puts in a "
        f"class and the student's test accuracy on it have Spearman's rho = {rho:.2f} "
        f"over {pairs} pairs (a description: the pairs of one cell are not independent, "
        f"so its p = {p:.1e} overstates the evidence)."
        + (f" Under 2% of every generator's images: {', '.join(rare)}." if rare else "")))
    paired = table2_record.dfad_classes_paired(cells, points) if points else []
    if paired:
        display(Markdown(
            "**one against two** in what their final generators show and teach, each at its "
            "chosen point, paired by seed (one - two with its 95% interval):\n\n"
            + markdown_table([{"measure": r["measure"], "n": r["n"], "one": r["one"],
                               "two": r["two"], "one - two [95%]":
                               interval(r["one - two"], r["low"], r["high"], "{:+.3f}")}
                              for r in paired], fmt="{:.3f}")))
    return {"cells": list(cells), "spearman": rho, "p": p, "paired": paired}


def show_dfad_ablation(results: str | Path, a: str = "one", b: str = "two") -> dict[str, object]:
    """Display a recorded DFAD ablation sweep (``results/table2_why``): its provenance, every
    point's test accuracy at the end (mean ± std over seeds), each point of scheme ``a`` against
    ``b``'s paired by seed (:func:`osgan.table2_record.dfad_table2`'s ways, equal time by the record's
    ``round_costs.json`` where it has one), and the curves against student updates and training
    time. Says so where there is no table2_record. Returns {point of a: paired rows}."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn
    from IPython.display import Markdown, display  # optional: only where a notebook displays


    results = Path(results)
    if not (results / "sweep.json").exists():
        display(Markdown(f"**No recorded ablation** at `{results}` yet: record it with "
                         f"`python -m osgan sweep {results.name}`."))
        return {}
    rec = records.load_dfad(results)
    display(Markdown(provenance_text(rec)))
    costs = _show_round_costs(results)
    done = [r for r in rec["runs"] if r["done"]]
    points = {sc: list(dict.fromkeys(r["point"] for r in done if r["scheme"] == sc))
              for sc in (a, b)}
    rows = []
    for sc, pts in points.items():
        for pt in pts:
            rows += table2_record.compare_points(done, {sc: pt}, a, b)["rows"]
    if not rows:
        display(Markdown("No run of the ablation has finished yet."))
        return {}
    display(Markdown("Test accuracy at the end, whole test split, mean ± std over seeds:\n\n"
                     + markdown_table([{"scheme": r["scheme"], "point": r["point"], "n": r["n"],
                                        "rounds": r["rounds"],
                                        "test": pm(r["test"], r["test std"], "{:.4f}")}
                                       for r in rows])))
    out = {}
    for (pt_a, pt_b), paired in table2_record.ablation_pairs(done, a, b, costs).items():
        out[pt_a] = paired
        _show_pairs(paired, a, b, f"{a} at `{pt_a}`, {b} at `{pt_b}`")
    fig, axes = plt.subplots(1, 3, figsize=(17, 4))
    for i, (sc, pt) in enumerate((sc, pt) for sc, pts in points.items() for pt in pts):
        for k, r in enumerate(x for x in done if x["scheme"] == sc and x["point"] == pt):
            kw = dict(color=f"C{i}", alpha=0.8, label=f"{sc} ({pt})" if k == 0 else None)
            losses = [row for row in r["records"] if "Loss/S" in row]
            updates = table2_record.UPDATES[sc](r["config"])
            cost = records.round_cost(costs, r)
            acc = [row["Accuracy/student"] for row in r["records"]]
            axes[0].plot([row["round"] * updates for row in r["records"]], acc, **kw)
            axes[1].plot([row["round"] * cost if cost else row["Time/train"]
                          for row in r["records"]], acc, **kw)
            axes[2].plot([row["round"] * updates for row in losses],
                         [row["Loss/S"] for row in losses], **kw)
    axes[0].set(xlabel="student updates", ylabel="student test accuracy",
                title="the ablation, against student updates")
    axes[1].set(xlabel="training time (s): " + ("rounds x round cost (bench)" if costs else
                                                 "the runs' own clocks"),
                ylabel="student test accuracy", title="against training time")
    axes[2].set(xlabel="student updates", ylabel="L1 of logits, student vs teacher",
                yscale="log", title="the disagreement on generated images (the loss)")
    axes[0].legend()
    plt.tight_layout()
    plt.show()
    return out


def progress(rec: dict[str, Any]) -> tuple[int, int, list[dict[str, Any]]]:
    """How far a DFAD record (:func:`load_dfad`) is through its sweep's plan: the finished runs
    the plan holds (as long as it asks: a chosen point still to run on to its plateau is not
    counted), the cells the plan will run in all, and the finished runs it no longer holds
    (cells of an earlier plan kept in the record, e.g. a recipe it ran first)."""
    listed, later = sweep.plan(rec["sweep"]["sweep"], rec["path"])
    length = {c.name: c.rounds or 0 for c in listed}  # a chosen point's, where it runs on
    done = [r for r in rec["runs"] if r["done"]]
    return (sum(r["rounds"] >= length.get(r["path"].name, r["rounds"] + 1) for r in done),
            len(listed) + later, [r for r in done if r["path"].name not in length])


# how a record's teacher was trained (osgan.dfad.DFADConfig.teacher_recipe), in its provenance
RECIPE_WORDS = {"ours": "our recipe, Adam with a cosine decay",
                "dfad": "DFAD's recipe, SGD at 0.01"}


def provenance_text(rec: dict[str, Any]) -> str:
    """Where a DFAD record came from, in one paragraph, with the settings every run shares."""
    sessions, runs = rec["provenance"]["sessions"], rec["runs"]
    done, total, off = progress(rec)
    extra = (f" (besides, {len(off)} finished run(s) of points the sweep no longer runs: "
             f"{', '.join(sorted({r['point'] for r in off}))})" if off else "")
    if not sessions:
        return f"Recorded sweep `{rec['sweep']['sweep']}`: {done} of {total} runs finished{extra}."
    where = records.machines(rec["provenance"]).values()
    cpus = sorted({s["cpu"] for s in sessions if not records.gpu_of(s)})
    gpus = sorted(records.gpus(rec["provenance"]))
    on = ", ".join(cpus) + "".join(f"; {list(where).count(g)} cell(s) on an {g} (float32, TF32 "
                                   "off)" for g in gpus)
    commits = sorted({s["commit"][:10] + ("+dirty" if s.get("dirty") else "") for s in sessions})
    torches = sorted({s["torch"] for s in sessions})
    start = min(s["start"] for s in sessions)
    end = max((s["end"] or s["start"]) for s in sessions)
    commands = sorted({s["command"] for s in sessions if s["command"]})
    c = runs[0]["config"] if runs else {}
    teacher = next((r["teacher_accuracy"] for r in runs if r["teacher_accuracy"]), None)
    setting = (f" Every run: {c.get('dataset')}, batch {c.get('batch_size')}, generator width "
               f"{c.get('g_width')}, nz {c.get('nz')}, teacher trained {c.get('teacher_epochs')} "
               f"epochs by {RECIPE_WORDS.get(c.get('teacher_recipe', 'ours'), '?')} (test "
               f"accuracy {teacher:.4f}), the last {c.get('val_n')} training images "
               "held out for choosing the learning rates." if c and teacher else "")
    return (f"Recorded sweep `{rec['sweep']['sweep']}`: {done} of {total} runs finished{extra}, "
            f"{len(sessions)} invocation(s) from {start} to {end} on {on}, "
            f"commit(s) {', '.join(commits)}, torch {', '.join(torches)}; command: "
            f"`{'`, `'.join(commands)}`." + setting)
