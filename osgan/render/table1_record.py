"""Rendering a recorded training sweep (:mod:`osgan.analysis.table1_record`'s findings) in a
chapter: its provenance, Table 1 and Figure 4 on the last evaluation with their intervals, the
plateau rule, the floor and the classes covered, the curves and sample grids; the variants; the
update-order test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from osgan import losses, sweep
from osgan.analysis import records, table1_record
from osgan.paper import PAPER_NAMES, paper_table
from osgan.render.tables import interval, markdown_table, pm, show_grids


def real_classes(floor: Mapping | None) -> str:
    """A sentence on the classes real images cover, from a record's ``floor.json`` ("" without)."""
    if not floor or floor.get("classes_eff") is None:
        return ""
    return f" Real training images cover {floor['classes_eff']:.2f} (`floor.json`)."


def why_still_falling(slopes: list[float], steps: int) -> str:
    """Why runs still falling fail the plateau rule, from their log-log slopes: a curve that
    falls as step^-a gains 1 - (2/3)^a in its last third, whatever its length."""
    if not slopes:
        return ""
    a = -float(np.median(slopes))
    if a <= 0:
        return ""
    return (f" **Why so many runs fail the rule.** FID that falls as a power of the step count, "
            f"step$^{{-a}}$, improves in the last third of a run by 1 - (2/3)$^a$ of the best "
            f"before it, whatever the run's length: at these runs' median power, a = {a:.1f}, "
            f"that is {1 - (2 / 3) ** a:.0%}. Such a curve passes the rule only where it bends "
            f"toward its floor, and at {steps:,} steps, the budget of this CPU, it has not bent "
            "yet. The verdicts above therefore compare the two schemes at an equal number of "
            "steps, both still improving, not at convergence.")


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


def show_record(results: str | Path, gans: Sequence[str], dataset: str = "fashion_mnist",
                paper_dataset: str = "celeba") -> list[dict[str, object]]:
    """Display a recorded sweep (``results/<sweep>``, :mod:`osgan.analysis.records`) for the objectives
    ``gans``: its provenance, Table 1 with intervals and verdicts, the plateau rule, Figure 4's
    time-to-plateau ratios, FID curves (mean and band over seeds) and seed 0's sample grids.
    Says so plainly where there is no record for ``dataset``. Returns the Table 1 rows."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn
    from IPython.display import Markdown, display  # optional: only where a notebook displays


    results = Path(results)
    if not (results / "sweep.json").exists():
        display(Markdown(f"**No recorded sweep** at `{results}`: this page shows the live run "
                         "below only. Record one with `python -m osgan sweep table1`."))
        return []
    rec = records.load(results)
    spec_dataset = rec["sweep"]["spec"].get("dataset", "fashion_mnist")
    if spec_dataset != dataset:
        display(Markdown(f"**No recorded sweep for {dataset}**: the record at `{results}` is of "
                         f"{spec_dataset}. This page shows the live run below only."))
        return []
    runs = [r for r in rec["runs"] if r["gan"] in gans]
    display(Markdown(provenance_text(rec)))
    rows = table1_record.table1(runs, paper_dataset=paper_dataset)
    if not rows:
        display(Markdown("No objective of this chapter has a finished pair of runs in the record "
                         "yet."))
        return []
    space = rows[0]["feature space"]
    display(Markdown(
        f"**Table 1 on {dataset}**, the last evaluation of runs of "
        f"{' or '.join(f'{n:,}' for n in sorted({r['steps'] for r in runs}))} steps "
        f"(recorded; FID and KID in `{space}`, mean ± std over the "
        "seeds both schemes finished; one - two: mean paired difference with its 95% interval; "
        f"the paper's direction from its Table 1 on {paper_dataset}, Inception features):\n\n"
        + markdown_table([{
            "gan": r["gan"], "n": r["n"],
            "FID one": pm(r["FID one"], r["FID one std"], "{:.3f}"),
            "FID two": pm(r["FID two"], r["FID two std"], "{:.3f}"),
            "FID one - two [95%]": interval(r["FID one-two"], r["FID low"], r["FID high"],
                                             "{:+.3f}"),
            "KID one - two [95%]": interval(r["KID one-two"], r["KID low"], r["KID high"],
                                             "{:+.4f}"),
            "verdict (ours)": r["verdict"], f"paper ({paper_dataset})": r[f"paper ({paper_dataset})"],
        } for r in rows])))
    flat = table1_record.plateaus(runs)
    not_flat = [f"{p['gan']} {p['scheme']} seed {p['seed']} ({p['gain']:.0%}"
                + (f", FID ∝ step$^{{{p['slope']:.1f}}}$" if p["slope"] is not None else "")
                + ")"
                for p in flat if not p["plateaued"] and p["gain"] >= 0]
    worse = [f"{p['gan']} {p['scheme']} seed {p['seed']} ({p['best_before']:.2f} before, "
             f"{p['best_last_third']:.2f} in the last third)" for p in flat if p["gain"] < 0]
    display(Markdown(
        f"Plateau rule (the best FID of the last third improves on the best before it by less "
        f"than {table1_record.PLATEAU_GAIN:.0%}): {sum(p['plateaued'] for p in flat)} of {len(flat)} "
        "finished "
        "runs pass" + (f"; still falling (the gain of the last third, and the power of the "
                       f"step count FID falls as over the second half): {', '.join(not_flat)}."
                       if not_flat else ".")
        + (f" **Worse at the end than before** (best FID of the last third above the best "
           f"before it): {', '.join(worse)}. These runs lost ground as they trained; their "
           "sample grids show what they dropped, and their verdicts compare runs past their "
           "best." if worse else "")
        + why_still_falling([p["slope"] for p in flat if not p["plateaued"]
                              and p["gain"] >= 0 and p["slope"] is not None],
                             runs[0]["steps"] if runs else 0)))
    fl = rec.get("floor")
    finals = [r["evals"][-1]["FID"] for r in runs if r["done"] and r["evals"]]
    if fl is None:
        display(Markdown(f"No FID floor recorded for this sweep (`python -m osgan sweep "
                         f"{rec['sweep']['sweep']} --floor` records it)."))
    elif finals:
        display(Markdown(
            f"**How far from converged.** Real training images score FID {fl['FID']:.3f} "
            f"(range {fl['FID min']:.3f} to {fl['FID max']:.3f} over {fl['n_draws']} draws of "
            f"{fl['n_gen']}) against the same {fl['n_real']} reference images in "
            f"`{fl['feature_space']}`: what a perfect generator would score at these sample "
            f"sizes. The finished runs end at {min(finals) / fl['FID']:.0f} to "
            f"{max(finals) / fl['FID']:.0f} times that (`floor.json`, recorded "
            f"{fl['date'][:10]} at commit {fl['commit'][:7]})."))
    classes = table1_record.class_table(runs)
    if classes:
        real = real_classes(fl)
        rs = rec.get("rescore")
        check = [abs(c["FID"] - c["recorded FID"]) for c in (rs or {}).get("cells", {}).values()]
        display(Markdown(
            "**Classes the final samples cover**: the effective number of Fashion-MNIST's ten "
            "classes (exp of the entropy of the domain classifier's predictions over the last "
            "evaluation's samples; 10 for a balanced sample), mean over seeds. A generator that "
            f"has dropped modes covers few, whatever its FID.{real}"
            + (f" Cells recorded before evaluations reported it are scored from their final "
               f"checkpoints (`rescore.json`, {rs['date'][:10]}, commit {rs['commit'][:7]}), "
               f"which reproduce the recorded last FID to within {max(check):.1e}."
               if check else "") + "\n\n"
            + markdown_table(classes, ["gan", *(f"classes {sc}" for sc in
                                                 ("one", "two", "one-exact")
                                                 if any(f"classes {sc}" in c for c in classes)),
                                       "seeds"], fmt="{:.2f}")))
    bench = results / "bench" / "bench.json"  # step costs measured side by side, if recorded
    costs = None
    if bench.exists():
        per = records.bench_costs(bench)
        # each objective's own cost where the bench measured it, else its kind's (dcgan, dcgan_ns)
        costs = {g: per.get(g) or per.get("dcgan" if losses.get(g).symmetric else "dcgan_ns")
                 for g in gans}
    fig4 = table1_record.figure4(runs, costs)
    paper_fig4 = {p["gan"]: p["speedup"] for p in paper_table("figure4_speedups")}
    if fig4:
        display(Markdown(
            "**Figure 4's measure**, time to plateau (first evaluation within "
            f"{table1_record.NEAR_BEST:.0%} of the run's best FID), two stages over one, geometric mean "
            "over seeds with its 95% interval, on "
            + ("steps times the step cost `python -m osgan bench` measured side by side "
               f"(`{bench}`)" if costs else "the runs' own clock (no bench recorded)")
            + "; beside it the paper's ratio (Sec. 4.3, time to plateau, GPU, CelebA/LSUN) where "
            "it gives one. A run still falling has its best FID near its end, so its \"time to "
            "plateau\" is the time to reach its final level, close to its whole length; where "
            "the plateau rule above names both schemes' runs, read the ratio that way. The "
            "columns \"to common FID\" need no plateau: per seed, the time each scheme takes to "
            "first come within "
            f"{table1_record.NEAR_BEST:.0%} of the FID both reach (the worse of their two bests), "
            "two over one, with its interval:\n\n"
            + markdown_table(
                [r | {"paper": paper_fig4.get(PAPER_NAMES[r["gan"]]),
                      "to common FID: two / one [95%]": interval(
                          r["common: two / one"], r["common low"], r["common high"], "{:.2f}")}
                 for r in fig4],
                ["gan", "n", "time one (s)", "time two (s)", "two / one", "low", "high", "paper",
                 "to common FID: two / one [95%]", "clock"],
                formats={"time one (s)": "{:.0f}", "time two (s)": "{:.0f}",
                         "two / one": "{:.2f}", "low": "{:.2f}", "high": "{:.2f}",
                         "paper": "{:.1f}"})))
    plot_verdicts(rows, fig4, paper_dataset)
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
        ax_row[0].set_ylabel(f"FID ({space})")
    fig.suptitle("recorded: mean and min-max band over seeds")
    fig.tight_layout()
    plt.show()
    grids = [{"gan": r["gan"], "stages": r["scheme"], "samples": r["samples"]}
             for r in runs if r["seed"] == 0 and r["done"] and r["samples"]]
    if grids:
        show_grids(grids, ncols=min(4, len(grids)))
        plt.show()
    return rows


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
    real = real_classes(fl)
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




def order_line(out: Mapping[str, Any] | None) -> str:
    """:func:`osgan.analysis.table1_record.update_order`'s finding in a line: the cause it ties
    the difference to (one of :data:`~osgan.analysis.table1_record.CAUSES`), and each pair's
    paired FID difference with its 95% interval at each reading."""
    if not out or not out["n"]:
        return f"finding: *{table1_record.NOT_RUN}* (no seed has all three schemes yet)."
    parts = []
    for at in dict.fromkeys(q["at"] for q in out["pairs"]):
        parts.append(f"{at}: " + "; ".join(
            f"{q['a']} - {q['b']} {interval(q['a-b'], q['low'], q['high'], '{:+.3f}')}"
            for q in out["pairs"] if q["at"] == at))
    return f"finding: *{out['cause']}* (n = {out['n']}). " + ". ".join(parts) + "."
