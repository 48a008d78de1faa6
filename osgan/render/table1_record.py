"""Rendering a recorded training sweep (:mod:`osgan.analysis.table1_record`'s findings) in a
chapter: its provenance, Table 1 and Figure 4 on the last evaluation with their intervals, the
plateau rule, the floor and the classes covered, the curves and sample grids; the variants; the
update-order test."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from osgan import sweep
from osgan.analysis import instrument, records, table1_record
from osgan.paper import PAPER_NAMES, paper_table
from osgan.render.tables import interval, markdown_table, pm, show_grids


def plot_verdicts(rows: list[dict[str, object]], fig4: list[dict[str, object]],
                  paper_dataset: str = "celeba"):
    """Table 1's verdicts and Figure 4's ratios at a glance, a row per objective: left, FID one
    minus two with its 95% interval divided by two stages' mean FID (the same interval, on a
    scale shared by objectives whose FIDs differ a hundredfold); right, time to plateau two
    over one with its interval (log scale). The paper's values beside ours, hollow and
    labelled as the paper's. Returns the figure."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn

    paper = {(p["gan"], p["stages"]): p.get(f"{paper_dataset}_fid")
             for p in paper_table("table1")}
    paper_fig4 = {p["gan"]: p["speedup"] for p in paper_table("figure4_speedups")}
    panels = 2 if fig4 else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 0.45 * len(rows) + 1.4),
                             squeeze=False)
    def row(ax, y, m, lo, hi, theirs, labels):
        """Our interval at height y (a point where there is none), the paper's value hollow;
        each label once per panel."""
        ax.errorbar([m], [y], xerr=None if lo != lo else [[m - lo], [hi - m]], fmt="o",
                    color="C0", capsize=3, label=labels.pop("ours", None))
        if theirs is not None:
            ax.plot([theirs], [y], "s", mfc="none", color="C3", label=labels.pop("paper", None))

    ax = axes[0, 0]
    labels = {"ours": "ours (95% interval)", "paper": f"paper ({paper_dataset}, Inception)"}
    for y, r in enumerate(rows):
        two = r["FID two"]
        p1, p2 = (paper.get((PAPER_NAMES[r["gan"]], st)) for st in ("one", "two"))
        row(ax, y, *(r[k] / two for k in ("FID one-two", "FID low", "FID high")),
            None if p1 is None or p2 is None else (p1 - p2) / p2, labels)
    ax.axvline(0, color="k", lw=0.6)
    ax.set(yticks=range(len(rows)), yticklabels=[r["gan"] for r in rows],
           xlabel="FID one - two, over two stages' mean FID\n(left of 0: one stage better)",
           title="Table 1: the paired difference")
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="best")
    if fig4:
        ax = axes[0, 1]
        order = {r["gan"]: y for y, r in enumerate(rows)}
        labels = {"ours": "ours (95% interval)", "paper": "paper (Sec. 4.3, GPU)"}
        for f in fig4:
            if f["gan"] in order:
                row(ax, order[f["gan"]], f["two / one"], f["low"], f["high"],
                    paper_fig4.get(PAPER_NAMES[f["gan"]]), labels)
        ax.axvline(1, color="k", lw=0.6)
        ax.axvline(4 / 3, color="k", lw=0.6, ls=":")
        ax.set(xscale="log", yticks=range(len(rows)), yticklabels=[r["gan"] for r in rows],
               xlabel="time to plateau, two stages over one\n(dotted: Eq. 17's 4/3 per round)",
               title="Figure 4: the time ratio")
        ax.invert_yaxis()
        lo, hi = ax.get_xlim()
        ticks = [t for t in (0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20) if lo <= t <= hi]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_xticks([], minor=True)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def load_record(results: str | Path, gans: Sequence[str], dataset: str = "fashion_mnist",
                paper_dataset: str = "celeba") -> dict[str, Any] | None:
    """The recorded sweep at ``results`` read for the objectives ``gans``
    (:func:`osgan.analysis.table1_record.details`, with ``rec``: the record and ``space``: its
    feature space), or None, with a line saying why, where there is no record of ``dataset``."""
    from IPython.display import Markdown, display  # optional: only where a notebook displays

    results = Path(results)
    if not (results / "sweep.json").exists():
        display(Markdown(f"**No recorded sweep** at `{results}`: this page shows the live run "
                         "below only. Record one with `python -m osgan sweep table1`."))
        return None
    rec = records.load(results)
    spec_dataset = rec["sweep"]["spec"].get("dataset", "fashion_mnist")
    if spec_dataset != dataset:
        display(Markdown(f"**No recorded sweep for {dataset}**: the record at `{results}` is of "
                         f"{spec_dataset}. This page shows the live run below only."))
        return None
    bench = results / "bench" / "bench.json"  # step costs measured side by side, if recorded
    d = table1_record.details(rec, list(gans), paper_dataset,
                              records.bench_costs(bench) if bench.exists() else None)
    if not d["rows"]:
        display(Markdown("No objective of this chapter has a finished pair of runs in the "
                         "record yet."))
        return None
    return d | {"rec": rec, "bench": bench if bench.exists() else None,
                "space": instrument.space_label(rec["runs"]), "paper_dataset": paper_dataset}


NONE = "none"  # a list of runs with no member
MISSING = "–"  # a value the record does not have


def _runs(ps: list[dict[str, Any]], fmt) -> str:
    return ", ".join(f"{p['gan']} {p['scheme']} seed {p['seed']} ({fmt(p)})" for p in ps) or NONE


def record_values(d: dict[str, Any] | None) -> dict[str, str]:
    """The values the chapters' prose about a record places (``book/_table1_record.md``, glue
    keys ``rec_*``) from :func:`load_record`'s reading; :data:`MISSING` for each without one."""
    keys = ("provenance", "steps", "space", "plateau_pass", "plateau_n", "plateau_gain",
            "falling", "worse", "power", "third_gain", "floor", "floor_real", "floor_source",
            "over_floor", "real_classes", "rescore", "near_best", "clock")
    if d is None:
        return {f"rec_{k}": MISSING for k in keys}
    fl, over = d["floor"], d["over_floor"]
    values = {
        "provenance": provenance_text(d["rec"]),
        "steps": " or ".join(f"{n:,}" for n in d["steps"]), "space": d["space"],
        "plateau_pass": str(sum(p["plateaued"] for p in d["plateaus"])),
        "plateau_n": str(len(d["plateaus"])), "plateau_gain": f"{table1_record.PLATEAU_GAIN:.0%}",
        "falling": _runs(d["falling"], lambda p: f"{p['gain']:.0%}" + (
            f", FID ∝ step^{p['slope']:.1f}" if p["slope"] is not None else "")),
        "worse": _runs(d["worse"], lambda p: f"{p['best_before']:.2f} before, "
                                             f"{p['best_last_third']:.2f} in the last third"),
        "power": MISSING if d["power"] is None else f"{d['power']:.1f}",
        "third_gain": MISSING if d["third_gain"] is None else f"{d['third_gain']:.0%}",
        "floor": MISSING if fl is None else
        f"{fl['FID']:.3f} (range {fl['FID min']:.3f} to {fl['FID max']:.3f} over "
        f"{fl['n_draws']} draws of {fl['n_gen']})",
        "floor_real": MISSING if fl is None else str(fl["n_real"]),
        "floor_source": "not recorded" if fl is None else
        f"`floor.json`, recorded {fl['date'][:10]} at commit {fl['commit'][:7]}",
        "over_floor": MISSING if over is None else f"{over[0]:.0f} to {over[1]:.0f}",
        "real_classes": MISSING if not fl or fl.get("classes_eff") is None else
        f"{fl['classes_eff']:.2f}",
        "rescore": MISSING if d["rescore_error"] is None else f"{d['rescore_error']:.1e}",
        "near_best": f"{table1_record.NEAR_BEST:.0%}",
        "clock": f"steps times the step cost `python -m osgan bench` measured side by side "
                 f"(`{d['bench']}`)" if d["costs"] else "the runs' own clock (no bench recorded)",
    }
    return {f"rec_{k}": values[k] for k in keys}


def show_table1(d: dict[str, Any] | None) -> None:
    """Table 1 on the last evaluation (:func:`load_record`'s ``rows``): FID and KID mean ± std
    over seeds, the paired differences with their 95% intervals, the verdicts, the paper's
    direction."""
    from IPython.display import Markdown, display  # optional: only where a notebook displays

    if d is None:
        return
    pd = d["paper_dataset"]
    display(Markdown(markdown_table([{
        "gan": r["gan"], "n": r["n"],
        "FID one": pm(r["FID one"], r["FID one std"], "{:.3f}"),
        "FID two": pm(r["FID two"], r["FID two std"], "{:.3f}"),
        "FID one - two [95%]": interval(r["FID one-two"], r["FID low"], r["FID high"], "{:+.3f}"),
        "KID one - two [95%]": interval(r["KID one-two"], r["KID low"], r["KID high"], "{:+.4f}"),
        "verdict (last evaluation)": r["verdict"], f"paper ({pd})": r[f"paper ({pd})"],
    } for r in d["rows"]])))


def show_record(d: dict[str, Any] | None) -> None:
    """The evidence under a record (:func:`load_record`'s reading): the classes the final
    samples cover, Figure 4's time ratios as a table and beside the verdicts, the FID curves
    (mean and band over seeds, by the bench's step costs and by the runs' own clock) and seed
    0's sample grids."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn
    from IPython.display import Markdown, display  # optional: only where a notebook displays

    if d is None:
        return
    runs, rows, costs, fig4 = d["runs"], d["rows"], d["costs"], d["fig4"]
    if d["classes"]:
        schemes = [sc for sc in ("one", "two", "one-exact")
                   if any(f"classes {sc}" in c for c in d["classes"])]
        display(Markdown(markdown_table(
            [c | {f"fewest {sc} (seed)": f"{c[f'fewest {sc}']:.2f} (seed {c[f'fewest {sc} seed']})"
                  for sc in schemes if f"fewest {sc}" in c} for c in d["classes"]],
            ["gan", *(f"classes {sc}" for sc in schemes),
             *(f"fewest {sc} (seed)" for sc in schemes), "seeds"], fmt="{:.2f}")))
    paper_fig4 = {p["gan"]: p["speedup"] for p in paper_table("figure4_speedups")}
    if fig4:
        display(Markdown(markdown_table(
            [r | {"paper": paper_fig4.get(PAPER_NAMES[r["gan"]]),
                  "to common FID: two / one [95%]": interval(
                      r["common: two / one"], r["common low"], r["common high"], "{:.2f}")}
             for r in fig4],
            ["gan", "n", "time one (s)", "time two (s)", "two / one", "low", "high", "paper",
             "to common FID: two / one [95%]", "clock"],
            formats={"time one (s)": "{:.0f}", "time two (s)": "{:.0f}", "two / one": "{:.2f}",
                     "low": "{:.2f}", "high": "{:.2f}", "paper": "{:.1f}"})))
    plot_verdicts(rows, fig4, d["paper_dataset"])
    plt.show()
    # Figure 4 analogue: FID against training time, by the bench's step costs (both schemes
    # timed side by side) where recorded, and by the runs' own clock (the sweep's load included)
    axes_rows = ([("bench", "training time (s): steps x bench step cost")] if costs else []) \
        + [("own", "training time (s): the runs' own clock")]
    fig, axes = plt.subplots(len(axes_rows), len(rows), figsize=(3.4 * len(rows),
                             3 * len(axes_rows)), squeeze=False)
    for (clock, xlabel), ax_row in zip(axes_rows, axes, strict=True):
        for ax, r in zip(ax_row, rows, strict=True):
            cost = costs.get(r["gan"]) if costs else None
            if clock == "bench" and not cost:
                ax.set_title(f"{r['gan']}: no bench step cost")
                continue
            # the bench times one and two stages; exact=True's extra passes it does not
            schemes = ("one", "two") if clock == "bench" else ("one", "two", "one-exact")
            for scheme, style in zip(schemes, ("-", "--", ":")):
                xs, mean, lo, hi = table1_record.curves(
                    runs, r["gan"], scheme, x="step" if clock == "bench" else "time",
                    step_cost=cost[scheme] if clock == "bench" else None)
                if xs:
                    ax.plot(xs, mean, style, label=scheme)
                    ax.fill_between(xs, lo, hi, alpha=0.2)
            ax.set(yscale="log", title=r["gan"], xlabel=xlabel)
            ax.legend(fontsize=7)
        ax_row[0].set_ylabel(f"FID ({d['space']})")
    fig.suptitle("recorded: mean and min-max band over seeds")
    fig.tight_layout()
    plt.show()
    grids = [{"gan": r["gan"], "stages": r["scheme"], "samples": r["samples"]}
             for r in runs if r["seed"] == 0 and r["done"] and r["samples"]]
    if grids:
        show_grids(grids, ncols=min(4, len(grids)))
        plt.show()


def show_variants(results: str | Path, early: int = 1000) -> list[dict[str, object]]:
    """Display a recorded sweep with variants (e.g. ``results/bgan_probe``): its provenance, per
    run what its variant changes with its FID early, at its best and at its end and the classes
    its samples cover, the FID and class curves of every variant, and their last sample grids.
    Says so plainly where nothing is recorded. Returns the rows."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn
    from IPython.display import Markdown, display  # optional: only where a notebook displays


    results = Path(results)
    if not (results / "sweep.json").exists():
        display(Markdown(f"**Nothing recorded** at `{results}` yet (`python -m osgan sweep "
                         f"{results.name}` records it)."))
        return []
    rec = records.load(results)
    runs = [r for r in rec["runs"] if r["done"] and r["evals"]]
    display(Markdown(provenance_text(rec)))
    rows = table1_record.variant_rows(runs, early=early)
    if not rows:
        display(Markdown("No run of this record has finished yet."))
        return []
    space = runs[0]["evals"][-1]["feature_space"]
    fl = rec.get("floor")
    real = "" if not fl or fl.get("classes_eff") is None else \
        f" Real training images cover {fl['classes_eff']:.2f} (`floor.json`)."
    display(Markdown(
        f"FID in `{space}`; classes: the effective number of classes (exp of the entropy of the "
        "domain classifier's predicted classes) of the last evaluation's samples, 10 for a "
        f"balanced sample of all ten classes.{real}\n\n"
        + markdown_table(rows, ["variant", "changes", f"FID at {early}", "best FID",
                                "best at step", "last FID", "last / best", "classes", "steps"],
                         formats={f"FID at {early}": "{:.2f}", "best FID": "{:.2f}",
                                  "last FID": "{:.2f}", "last / best": "{:.2f}",
                                  "classes": "{:.2f}"})))
    has_classes = any(e["classes"] is not None for r in runs for e in r["evals"])
    fig, axes = plt.subplots(1, 2 if has_classes else 1, figsize=(11 if has_classes else 5.5, 3.4),
                             squeeze=False)
    for r in runs:
        label = r["variant"] or r["gan"]
        steps = [e["step"] for e in r["evals"]]
        axes[0, 0].plot(steps, [e["FID"] for e in r["evals"]], marker=".", label=label)
        if has_classes:
            axes[0, 1].plot(steps, [e["classes"] for e in r["evals"]], marker=".", label=label)
    axes[0, 0].set(yscale="log", xlabel="step", ylabel=f"FID ({space})")
    if has_classes:
        axes[0, 1].set(xlabel="step", ylabel="classes covered (effective)", ylim=(0, 10.5))
        if real:
            axes[0, 1].axhline(fl["classes_eff"], color="k", lw=0.6, ls=":")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"recorded: {rec['sweep']['sweep']}")
    fig.tight_layout()
    plt.show()
    show_grids([{"gan": r["variant"] or r["gan"], "stages": r["scheme"], "samples": r["samples"]}
                for r in runs if r["samples"]], ncols=min(4, len(runs)), size=2.8)
    plt.show()
    return rows


def show_update_order(record_dir: str | Path, why_dir: str | Path, gan: str = "fishergan"
                      ) -> dict[str, object] | None:
    """Display the update-order test (``results/table1_why`` beside ``results/table1``,
    :func:`osgan.table1_record.update_order`): its provenance, each seed's FID under one stage, the
    paper's two stages and two stages with G's stage on D before its update, the paired
    differences with their intervals, and the differences from the paper's two stages along
    training. Says so plainly where either record is missing. Returns the comparison or None."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn
    from IPython.display import Markdown, display  # optional: only where a notebook displays


    missing = [str(d) for d in (record_dir, why_dir) if not (Path(d) / "sweep.json").exists()]
    if missing:
        display(Markdown(f"**Nothing recorded** at {', '.join(f'`{m}`' for m in missing)} "
                         f"(`python -m osgan sweep {Path(why_dir).name}` records the test)."))
        return None
    why = records.load(why_dir)
    out = table1_record.update_order(records.load(record_dir)["runs"], why["runs"], gan)
    display(Markdown(provenance_text(why)))
    if not out["n"]:
        display(Markdown(f"No seed of {gan} has finished under all three schemes yet."))
        return None
    names = table1_record.ORDER_SCHEMES
    space = next(iter(out["evals"]["one"].values()))[-1]["feature_space"]
    display(Markdown(
        f"**{gan}, FID per seed** (`{space}`; the first two columns are Table 1's cells):\n\n"
        + markdown_table([{"seed": r["seed"], "reading": r["at"],
                           **{names[k]: f"{r[k]:.4f}" for k in names}} for r in out["seeds"]])))
    display(Markdown(
        "**Paired by seed** (a - b, mean with its 95% t-interval; lower FID is better):\n\n"
        + markdown_table([{"a - b": f"{p['a']} - {p['b']}", "what differs": p["what"],
                           "reading": p["at"], "n": p["n"],
                           "a - b [95%]": interval(p["a-b"], p["low"], p["high"], "{:+.4f}"),
                           "verdict": p["verdict"]} for p in out["pairs"]])))
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.6))
    colours = dict(zip(names, ("C0", "C1", "C2")))
    for k, by_seed in out["evals"].items():
        for i, (seed, ev) in enumerate(sorted(by_seed.items())):
            label = names[k] if i == 0 else None
            steps = [e["step"] for e in ev]
            ax1.plot(steps, [e["FID"] for e in ev], color=colours[k], lw=0.8, label=label)
            if k == "two":
                continue
            ref = {e["step"]: e["FID"] for e in out["evals"]["two"][seed]}
            late = [e for e in ev if e["step"] > steps[-1] / 2 and e["step"] in ref]
            ax0.plot([e["step"] for e in late], [e["FID"] - ref[e["step"]] for e in late],
                     color=colours[k], lw=0.8, marker=".", label=label)
    ax0.axhline(0, color=colours["two"], lw=1)
    ax0.set(xlabel="step", ylabel="FID minus the paper's two stages",
            title="second half of training, each seed")
    ax1.set(yscale="log", xlabel="step", ylabel=f"FID ({space})", title="whole runs")
    ax0.legend(fontsize=7)
    ax1.legend(fontsize=7)
    fig.suptitle(f"recorded: {gan}, the order of the updates")
    fig.tight_layout()
    plt.show()
    return out


def provenance_text(rec: dict[str, Any]) -> str:
    """Where a record came from, in one paragraph: machines, commits, dates, commands, and how
    many of its cells are finished."""
    sessions = rec["provenance"]["sessions"]
    runs = rec["runs"]
    total = sweep.total_cells(rec["sweep"]["sweep"], rec["path"])
    done = sum(r["done"] for r in runs)
    cpus = sorted({s["cpu"] for s in sessions})
    commits = sorted({s["commit"][:10] + ("+dirty" if s.get("dirty") else "") for s in sessions})
    versions = sorted({f"torch {s['torch']}, clean-fid {s['clean-fid']}" for s in sessions})
    start = min(s["start"] for s in sessions)
    end = max((s["end"] or s["start"]) for s in sessions)
    commands = sorted({s["command"] for s in sessions if s["command"]})
    # the setting every run shares; in a sweep with variants, the one a variant changes nothing of
    base = next((r for r in runs if not r.get("changes")), runs[0] if runs else None)
    c = base["config"] if base else {}
    varies = bool(rec["sweep"]["spec"].get("variants"))
    who = "The base setting, which each variant changes as its name and row say" if varies \
        else "Every run"
    why = "" if varies or c.get("lr_d", 0) >= c.get("lr_g", 0) else \
        " (D's below G's, as in the paper's released configurations, for every objective and " \
        "both schemes)"
    setting = (f" {who}: width {c.get('width')}, batch {c.get('batch_size')}, "
               f"{c.get('steps')} steps, Adam with G's rate {c.get('lr_g')} and D's "
               f"{c.get('lr_d')}{why}, an evaluation of "
               f"{c.get('eval', {}).get('n_gen')} images every {c.get('eval', {}).get('every')} "
               "steps." if c else "")
    return (f"Recorded sweep `{rec['sweep']['sweep']}`: {done} of {total} runs finished, "
            f"{len(sessions)} invocation(s) from {start} to {end} on {', '.join(cpus)} "
            f"({sessions[-1]['cpu_count']} cores; workers: "
            f"{', '.join(str(w) for w in sorted({s['workers'] for s in sessions}))}), "
            f"commit(s) {', '.join(commits)}, {'; '.join(versions)}; command: "
            f"`{'`, `'.join(commands)}`." + setting)
