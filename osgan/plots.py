"""Small helpers the book's chapters share: Markdown tables, image grids, the paper's tables.

Nothing here computes a result of the paper; it only formats what the chapters computed, so that
every chapter prints its tables and grids the same way.

In this implementation we read the paper's published numbers from ``book/paper/*.csv`` in the
repository (copied unchanged from the paper, see ``book/paper/README.md``); they are only ever
shown beside our own numbers, labelled as the paper's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from osgan.paper import PAPER_DIR, PAPER_NAMES, paper_table  # noqa: F401  (re-exported)


def _cell(v, fmt: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        return fmt.format(float(v))
    return str(v).replace("|", r"\|")


def markdown_table(
    rows: Iterable[Mapping[str, object]],
    columns: Sequence[str] | None = None,
    fmt: str = "{:.3g}",
    formats: Mapping[str, str] | None = None,
) -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (dicts). ``columns`` picks and orders the
    keys (default: the first row's); floats use ``formats[column]`` or ``fmt``; ``None`` and NaN
    print as a dash. Display it in a notebook with ``IPython.display.Markdown``."""
    rows = list(rows)
    if columns is None:
        if not rows:
            raise ValueError("markdown_table needs rows, or columns to print an empty table")
        columns = list(rows[0])
    formats = dict(formats or {})
    head = "| " + " | ".join(str(c).replace("|", r"\|") for c in columns) + " |"
    rule = "| " + " | ".join("---" for _ in columns) + " |"
    body = [
        "| " + " | ".join(_cell(r.get(c), formats.get(c, fmt)) for c in columns) + " |"
        for r in rows
    ]
    return "\n".join([head, rule, *body])


def image_grid(images: Tensor, nrow: int = 8, padding: int = 2) -> np.ndarray:
    """Images ``(B, C, H, W)`` in [-1, 1] -> one ``(rows*(H+p)+p, nrow*(W+p)+p[, 3])`` array in
    [0, 1] for ``plt.imshow`` (grey images come back 2-D: use ``cmap="gray"``)."""
    if images.dim() != 4:
        raise ValueError(f"image_grid expects (B, C, H, W); got shape {tuple(images.shape)}")
    B, C, H, W = images.shape
    if C not in (1, 3):
        raise ValueError(f"image_grid shows 1- or 3-channel images; got {C} channels")
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) / 2).numpy()
    n_rows = math.ceil(B / nrow)
    grid = np.ones(
        (C, n_rows * (H + padding) + padding, nrow * (W + padding) + padding), np.float32
    )
    for k in range(B):
        r, c = divmod(k, nrow)
        top, left = padding + r * (H + padding), padding + c * (W + padding)
        grid[:, top : top + H, left : left + W] = x[k]
    return grid[0] if C == 1 else grid.transpose(1, 2, 0)


def paper_table1(names: Iterable[str], dataset: str = "celeba") -> list[dict[str, object]]:
    """Table 1 rows for the objectives ``names`` (``osgan.losses`` keys) on one of the paper's
    data sets (``celeba``, ``lsun_churches``, ``ffhq``), with columns ``gan``, ``stages``,
    ``FID (paper)``, ``KID (paper)``: the paper's numbers, to print beside ours."""
    rows = paper_table("table1")
    if f"{dataset}_fid" not in rows[0]:
        raise ValueError(
            f"Table 1 has no data set {dataset!r}; choose celeba, lsun_churches or ffhq"
        )
    out = []
    for name in names:
        if name not in PAPER_NAMES:
            raise ValueError(f"unknown GAN {name!r}; choose one of: {', '.join(PAPER_NAMES)}")
        for r in rows:
            if r["gan"] == PAPER_NAMES[name]:
                fid, kid = r[f"{dataset}_fid"], r[f"{dataset}_kid"]
                out.append(
                    {
                        "gan": name,
                        "stages": r["stages"],
                        "FID (paper)": None
                        if fid is None
                        else f"{fid:.2f} ± {r[f'{dataset}_fid_std']:.2f}",
                        "KID (paper)": None
                        if kid is None
                        else f"{kid:.3f} ± {r[f'{dataset}_kid_std']:.3f}",
                    }
                )
    return out


def to_numpy(t: Tensor | Sequence[float]) -> np.ndarray:
    """A tensor on any device (or a list) as a float64 NumPy array, for plotting."""
    if torch.is_tensor(t):
        return t.detach().double().cpu().numpy()
    return np.asarray(t, dtype=np.float64)


def plot_curves(results: Sequence[Mapping], metric: str = "FID", ax=None, x: str = "time"):
    """FID or KID of each run (``osgan.compare.run_with_evals`` results) against its training
    time (``x="time"``, seconds) or step (``x="step"``); one-stage runs solid, two-stage dashed.
    The y label names the feature space."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    colours = {}
    spaces = set()
    for r in results:
        c = colours.setdefault(r["gan"], f"C{len(colours) % 10}")
        xs = [e[x] for e in r["evals"]]
        ys = [e[metric] for e in r["evals"]]
        spaces.update(e["feature_space"] for e in r["evals"])
        style = "o-" if r["stages"] == "one" else "s--"
        ax.plot(xs, ys, style, color=c, ms=4, label=f"{r['gan']}, {r['stages']} stage")
    ax.set_xlabel("training time (s, evaluation excluded)" if x == "time" else "step")
    ax.set_ylabel(f"{metric} in {', '.join(sorted(spaces))}")
    return ax


def show_grids(results: Sequence[Mapping], ncols: int = 2, size: float = 3.2):
    """The last sample grid of each run, titled with its GAN and number of stages."""
    import matplotlib.pyplot as plt

    results = [r for r in results if r.get("samples")]
    nrows = max(1, math.ceil(len(results) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, r in zip(axes.flat, results, strict=False):
        ax.imshow(plt.imread(r["samples"]), cmap="gray")
        ax.set_title(f"{r['gan']}, {r['stages']} stage", fontsize=9)
    fig.tight_layout()
    return fig


def side_by_side(rows: Sequence[Mapping], paper_dataset: str = "celeba") -> list[dict[str, object]]:
    """Our final FID/KID per (gan, stages) (``osgan.compare.final_rows``) beside the paper's
    Table 1 on ``paper_dataset``, in columns that name the data set and feature space of each."""
    paper = {(p["gan"], p["stages"]): p for p in paper_table1(sorted({r["gan"] for r in rows}),
                                                              dataset=paper_dataset)}
    out = []
    for r in rows:
        p = paper.get((r["gan"], r["stages"]), {})
        out.append({"gan": r["gan"], "stages": r["stages"],
                    f"FID ours ({r['feature space']})": r["FID"],
                    "KID ours": r["KID"],
                    f"FID paper ({paper_dataset}, Inception)": p.get("FID (paper)"),
                    "KID paper": p.get("KID (paper)")})
    return out


def stage_verdicts(rows: Sequence[Mapping], paper_dataset: str = "celeba") -> list[dict[str, object]]:
    """Per GAN: is one stage better (lower FID) than two, in our runs and in the paper's Table 1
    on ``paper_dataset``, and do the two agree?"""
    table = {(p["gan"], p["stages"]): p for p in paper_table("table1")}
    ours = {(r["gan"], r["stages"]): r["FID"] for r in rows}
    out = []
    for gan in dict.fromkeys(r["gan"] for r in rows):
        if (gan, "one") not in ours or (gan, "two") not in ours:
            continue
        one, two = table.get((PAPER_NAMES[gan], "one")), table.get((PAPER_NAMES[gan], "two"))
        p_one = one and one[f"{paper_dataset}_fid"]
        p_two = two and two[f"{paper_dataset}_fid"]
        paper_better = None if p_one is None or p_two is None else p_one < p_two
        ours_better = ours[(gan, "one")] < ours[(gan, "two")]
        out.append({"gan": gan, "FID one - two (ours)": ours[(gan, "one")] - ours[(gan, "two")],
                    "one stage better (ours)": ours_better,
                    f"one stage better (paper, {paper_dataset})": paper_better,
                    "agree": None if paper_better is None else ours_better == paper_better})
    return out


def _pm(mean: float, std: float, fmt: str) -> str:
    """``mean ± std``; the mean alone where there is no std (one seed)."""
    return fmt.format(mean) + ("" if math.isnan(std) else " ± " + fmt.format(std).lstrip("+"))


def _interval(mean: float, low: float, high: float, fmt: str) -> str:
    """``mean [low, high]``; ``mean [–]`` where there is no interval (one seed)."""
    if math.isnan(low) or math.isnan(high):
        return fmt.format(mean) + " [–]"
    return f"{fmt.format(mean)} [{fmt.format(low)}, {fmt.format(high)}]"


def _real_classes(floor: Mapping | None) -> str:
    """A sentence on the classes real images cover, from a record's ``floor.json`` ("" without)."""
    if not floor or floor.get("classes_eff") is None:
        return ""
    return f" Real training images cover {floor['classes_eff']:.2f} (`floor.json`)."


def plot_verdicts(rows: list[dict[str, object]], fig4: list[dict[str, object]],
                  paper_dataset: str = "celeba"):
    """Table 1's verdicts and Figure 4's ratios at a glance, a row per objective: left, FID one
    minus two with its 95% interval divided by two stages' mean FID (the same interval, on a
    scale shared by objectives whose FIDs differ a hundredfold); right, time to plateau two
    over one with its interval (log scale). The paper's values beside ours, hollow and
    labelled as the paper's. Returns the figure."""
    import matplotlib.pyplot as plt

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
    """Display a recorded sweep (``results/<sweep>``, :mod:`osgan.record`) for the objectives
    ``gans``: its provenance, Table 1 with intervals and verdicts, the plateau rule, Figure 4's
    time-to-plateau ratios, FID curves (mean and band over seeds) and seed 0's sample grids.
    Says so plainly where there is no record for ``dataset``. Returns the Table 1 rows."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    from osgan import record

    results = Path(results)
    if not (results / "sweep.json").exists():
        display(Markdown(f"**No recorded sweep** at `{results}`: this page shows the live run "
                         "below only. Record one with `python -m osgan sweep table1`."))
        return []
    rec = record.load(results)
    spec_dataset = rec["sweep"]["spec"].get("dataset", "fashion_mnist")
    if spec_dataset != dataset:
        display(Markdown(f"**No recorded sweep for {dataset}**: the record at `{results}` is of "
                         f"{spec_dataset}. This page shows the live run below only."))
        return []
    runs = [r for r in rec["runs"] if r["gan"] in gans]
    display(Markdown(record.provenance_text(rec)))
    rows = record.table1(runs, paper_dataset=paper_dataset)
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
            "FID one": _pm(r["FID one"], r["FID one std"], "{:.3f}"),
            "FID two": _pm(r["FID two"], r["FID two std"], "{:.3f}"),
            "FID one - two [95%]": _interval(r["FID one-two"], r["FID low"], r["FID high"],
                                             "{:+.3f}"),
            "KID one - two [95%]": _interval(r["KID one-two"], r["KID low"], r["KID high"],
                                             "{:+.4f}"),
            "verdict (ours)": r["verdict"], f"paper ({paper_dataset})": r[f"paper ({paper_dataset})"],
        } for r in rows])))
    flat = record.plateaus(runs)
    not_flat = [f"{p['gan']} {p['scheme']} seed {p['seed']} ({p['gain']:.0%}"
                + (f", FID ∝ step$^{{{p['slope']:.1f}}}$" if p["slope"] is not None else "")
                + ")"
                for p in flat if not p["plateaued"] and p["gain"] >= 0]
    worse = [f"{p['gan']} {p['scheme']} seed {p['seed']} ({p['best_before']:.2f} before, "
             f"{p['best_last_third']:.2f} in the last third)" for p in flat if p["gain"] < 0]
    display(Markdown(
        f"Plateau rule (the best FID of the last third improves on the best before it by less "
        f"than {record.PLATEAU_GAIN:.0%}): {sum(p['plateaued'] for p in flat)} of {len(flat)} "
        "finished "
        "runs pass" + (f"; still falling (the gain of the last third, and the power of the "
                       f"step count FID falls as over the second half): {', '.join(not_flat)}."
                       if not_flat else ".")
        + (f" **Worse at the end than before** (best FID of the last third above the best "
           f"before it): {', '.join(worse)}. These runs lost ground as they trained; their "
           "sample grids show what they dropped, and their verdicts compare runs past their "
           "best." if worse else "")
        + _why_still_falling([p["slope"] for p in flat if not p["plateaued"]
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
    classes = record.class_table(runs)
    if classes:
        real = _real_classes(fl)
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
        from osgan import losses

        per = record.bench_costs(bench)
        # each objective's own cost where the bench measured it, else its kind's (dcgan, dcgan_ns)
        costs = {g: per.get(g) or per.get("dcgan" if losses.get(g).symmetric else "dcgan_ns")
                 for g in gans}
    fig4 = record.figure4(runs, costs)
    paper_fig4 = {p["gan"]: p["speedup"] for p in paper_table("figure4_speedups")}
    if fig4:
        display(Markdown(
            "**Figure 4's measure**, time to plateau (first evaluation within "
            f"{record.NEAR_BEST:.0%} of the run's best FID), two stages over one, geometric mean "
            "over seeds with its 95% interval, on "
            + ("steps times the step cost `python -m osgan bench` measured side by side "
               f"(`{bench}`)" if costs else "the runs' own clock (no bench recorded)")
            + "; beside it the paper's ratio (Sec. 4.3, time to plateau, GPU, CelebA/LSUN) where "
            "it gives one. A run still falling has its best FID near its end, so its \"time to "
            "plateau\" is the time to reach its final level, close to its whole length; where "
            "the plateau rule above names both schemes' runs, read the ratio that way. The "
            "columns \"to common FID\" need no plateau: per seed, the time each scheme takes to "
            "first come within "
            f"{record.NEAR_BEST:.0%} of the FID both reach (the worse of their two bests), "
            "two over one, with its interval:\n\n"
            + markdown_table(
                [r | {"paper": paper_fig4.get(PAPER_NAMES[r["gan"]]),
                      "to common FID: two / one [95%]": _interval(
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
                xs, mean, lo, hi = record.curves(
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
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    from osgan import record

    results = Path(results)
    if not (results / "sweep.json").exists():
        display(Markdown(f"**Nothing recorded** at `{results}` yet (`python -m osgan sweep "
                         f"{results.name}` records it)."))
        return []
    rec = record.load(results)
    runs = [r for r in rec["runs"] if r["done"] and r["evals"]]
    display(Markdown(record.provenance_text(rec)))
    rows = record.variant_rows(runs, early=early)
    if not rows:
        display(Markdown("No run of this record has finished yet."))
        return []
    space = runs[0]["evals"][-1]["feature_space"]
    fl = rec.get("floor")
    real = _real_classes(fl)
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
    :func:`osgan.record.update_order`): its provenance, each seed's FID under one stage, the
    paper's two stages and two stages with G's stage on D before its update, the paired
    differences with their intervals, and the differences from the paper's two stages along
    training. Says so plainly where either record is missing. Returns the comparison or None."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    from osgan import record

    missing = [str(d) for d in (record_dir, why_dir) if not (Path(d) / "sweep.json").exists()]
    if missing:
        display(Markdown(f"**Nothing recorded** at {', '.join(f'`{m}`' for m in missing)} "
                         f"(`python -m osgan sweep {Path(why_dir).name}` records the test)."))
        return None
    why = record.load(why_dir)
    out = record.update_order(record.load(record_dir)["runs"], why["runs"], gan)
    display(Markdown(record.provenance_text(why)))
    if not out["n"]:
        display(Markdown(f"No seed of {gan} has finished under all three schemes yet."))
        return None
    names = record.ORDER_SCHEMES
    space = next(iter(out["evals"]["one"].values()))[-1]["feature_space"]
    display(Markdown(
        f"**{gan}, FID per seed** (`{space}`; the first two columns are Table 1's cells):\n\n"
        + markdown_table([{"seed": r["seed"], "reading": r["at"],
                           **{names[k]: f"{r[k]:.4f}" for k in names}} for r in out["seeds"]])))
    display(Markdown(
        "**Paired by seed** (a - b, mean with its 95% t-interval; lower FID is better):\n\n"
        + markdown_table([{"a - b": f"{p['a']} - {p['b']}", "what differs": p["what"],
                           "reading": p["at"], "n": p["n"],
                           "a - b [95%]": _interval(p["a-b"], p["low"], p["high"], "{:+.4f}"),
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


def record_summary(results: str | Path = "results", paper_dataset: str = "celeba") -> str:
    """Markdown for the book's introduction: the verdicts of the recorded Table 1 sweep
    (``results/table1``: per objective, seeds, FID one - two with its 95% interval, our verdict
    and the paper's direction) and the per-round cost ratio its bench measured, each labelled
    with where it comes from; a line saying so where nothing is recorded."""
    from osgan import record
    from osgan.sweep import total_cells

    results = Path(results)
    t1 = results / "table1"
    if not (t1 / "sweep.json").exists():
        return ("*No recorded Table 1 sweep in this checkout* (`python -m osgan sweep table1` "
                "records one); chapters 2 and 3 show their live runs only.")
    rec = record.load(t1)
    rows = record.table1(rec["runs"], paper_dataset=paper_dataset)
    done = sum(r["done"] for r in rec["runs"])
    steps = sorted({r["steps"] for r in rec["runs"]})
    flat = record.plateaus(rec["runs"])
    total = total_cells(rec["sweep"]["sweep"], rec["path"])
    # the verdicts themselves are the planned analysis's (osgan.table1, drawn above this summary
    # in the introduction); this says what the record is
    out = [f"**The Table 1 record** (`results/table1`): {done} of {total} runs finished; each run "
           f"{' or '.join(f'{n:,}' for n in steps)} steps; {sum(p['plateaued'] for p in flat)} "
           f"of {len(flat)} passed the plateau rule, so the schemes are compared at an equal "
           f"budget, not at convergence; FID in "
           f"`{rows[0]['feature space'] if rows else '-'}`."]
    why = results / "table1_why"
    if (why / "sweep.json").exists():
        order = record.update_order(rec["runs"], record.load(why)["runs"], "fishergan")
        out += ["", "**The order of the updates on Fisher GAN** (`results/table1_why`, chapter 03: "
                "the paper's two-stage round with G's stage on D from before D's update, paired "
                "by seed with the cells above): " + record.order_text(order)]
    bench = t1 / "bench" / "bench.json"
    if bench.exists():
        ratios = [c["two"] / c["one"] for c in record.bench_costs(bench).values()
                  if "one" in c and "two" in c]
        if ratios:
            out += ["", f"Per round at the sweep's settings on this project's CPU (one thread, "
                    f"timed side by side, `results/table1/bench`), two stages took "
                    f"{min(ratios):.2f}x to {max(ratios):.2f}x as long as one, over "
                    f"{len(ratios)} objectives (Eq. 17 predicts 4/3; the paper measured about 1.5 on a GPU)."]
    gpu = gpu_summary(results)
    if gpu:
        out += ["", gpu]
    return "\n".join(out + ["", dfad_summary(results / "table2"),
                             "", dfad_ablation_summary(results / "table2_why")])


def gpu_summary(results: str | Path) -> str:
    """A line for the introduction from the recorded GPU timings (``osgan.bench.recorded``,
    ``recorded_profiles``): two stages' time per round over one stage's, the median per
    objective and D pass over each recorded grid, and in GPU kernel time where a profile is
    recorded; "" where none is."""
    from osgan import bench

    grids = [r for r in bench.recorded(results) if bench.is_grid(r.rows)]
    if not grids:
        return ""
    med = [s["S measured median"] for r in grids for s in bench.speedup_summary(r.rows)]
    names = sorted({r.meta["device_name"] for r in grids})
    text = (f"Per round on a GPU ({', '.join(names)}, recorded by `scripts/device_check.sh`), "
            f"two stages took {span(med, '{:.2f}x')} as long as one (medians per objective and "
            "D pass over the recorded DCGAN grids)")
    prof = [row for d in bench.recorded_profiles(results) for row in bench.profile_summary(d)]
    if prof:
        kern = [row["two/one kernel"] for row in prof]
        busy = [row[f"{s} GPU busy"] for row in prof for s in ("one", "two")]
        text += (f"; in GPU kernel time {span(kern, '{:.2f}x')}, the GPU being busy for "
                 f"{span(busy, '{:.0%}')} of a round (chapter 04)")
    return text + "."


def span(xs: Sequence[float], fmt: str) -> str:
    """``"lo to hi"`` of ``xs`` in ``fmt``, or one value where both read the same."""
    lo, hi = fmt.format(min(xs)), fmt.format(max(xs))
    return lo if lo == hi else f"{lo} to {hi}"


def dfad_ablation_summary(results: str | Path) -> str:
    """Markdown for the introduction: the recorded ablation of Table 2 (``table2_why``), each
    one-stage point against two stages at the end, paired by seed; a line where none is
    recorded."""
    from osgan import record

    results = Path(results)
    if not (results / "sweep.json").exists():
        return ("*The ablation of how often one stage moves its generator is not recorded yet* "
                "(`python -m osgan sweep table2_why`).")
    lines = []
    for (pt, two), paired in record.ablation_pairs(record.load_dfad(results)["runs"]).items():
        if any(p["at"] == "end" for p in paired):
            lines.append(f"* one stage at `{pt}` against two at `{two}`: {_end_and_early(paired)}")
    reading = record.dfad_classes(results)
    if reading and reading["cells"]:
        lines.append(f"* class by class (final checkpoints, `rescore.json`): the generators show "
                     f"the teacher {min(reading['eff']):.1f} to {max(reading['eff']):.1f} of the "
                     "ten classes (effective number)"
                     + (f"; under 2% of every generator's images: {', '.join(reading['rare'])}"
                        if reading["rare"] else "")
                     + "; per class, the students' test accuracy "
                     + ("follows" if reading["spearman"] > 0.3 else "does not follow")
                     + f" those shares (Spearman's rho {reading['spearman']:.2f} over "
                     f"{reading['pairs']} cell-class pairs).")
    return ("**How often the generator moves, Table 2's ablation (ours)** (`results/table2_why`; "
            "`every5`: one stage whose generator moves in every fifth round only, the student "
            "in every round; student test accuracy at the end of the runs, and at each run's "
            "best evaluation on the validation split):"
            + ("\n\n" + "\n".join(lines) if lines else " no pair has finished yet."))


def dfad_summary(results: str | Path) -> str:
    """Markdown for the introduction: Table 2's recorded verdict at the end of the runs, one
    stage against two, at each scheme's chosen point and at each published recipe, or a line
    saying what is not recorded yet."""
    from osgan import dfad, record
    from osgan.sweep import tuned_points

    results = Path(results)
    if not (results / "sweep.json").exists():
        return "*No recorded Table 2 sweep in this checkout* (`python -m osgan sweep table2`)."
    rec = record.load_dfad(results)
    done, total, _ = record.dfad_progress(rec)
    spec = rec["sweep"]["spec"]
    t2 = record.dfad_table2(rec["runs"], tune_seeds=spec.get("tune_seeds"),
                            grid_rounds=spec.get("rounds"))
    tuned = tuned_points(rec["sweep"]["sweep"], results)  # schemes whose grid is done
    lines = [] if {"one", "two"} <= set(tuned) else [
        "* at chosen rates: not yet, the grids of "
        + " and ".join(sc for sc in ("one", "two") if sc not in tuned) + " are still running."]
    for where, at in [*([("each scheme at its chosen rates", t2)] if not lines else []),
                      *((f"both at {dfad.HPARAMS[rp].about if rp in dfad.HPARAMS else rp}", a)
                        for rp, a in t2["recipes"].items()  # those the sweep runs now
                        if rp in spec.get("recipes", [rp]))]:
        if any(p["at"] == "end" for p in at["paired"]):
            lines.append(f"* {where}: {_end_and_early(at['paired'])}")
    return (f"**Recorded verdicts, Table 2 on Fashion-MNIST** (`results/table2`, {done} of "
            f"{total} runs finished; student test accuracy at the end of the runs, and at each "
            "run's best evaluation on the validation split, one stage against two paired by "
            "seed; the paper: one stage on par or better):" + ("\n\n" + "\n".join(lines) if lines else
                          " no pair of one- and two-stage runs has finished yet."))


def _end_and_early(paired: list[dict[str, object]]) -> str:
    """One line of a pairing of one against two: at the end of the runs and, where the record
    has validation evaluations, at each run's best of them (early stopping)."""
    parts = []
    for at, words in (("end", "at the end"), ("best on validation", "early-stopped on validation")):
        p = next((p for p in paired if p["at"] == at), None)
        if p:
            parts.append(f"{words}, one {p['one']:.3f}, two {p['two']:.3f}, one - two "
                         + _interval(p["one-two"], p["low"], p["high"], "{:+.3f}")
                         + f" (n = {p['n']}): {p['verdict']}")
    return "; ".join(parts) + "."


def _show_pairs(paired: list[dict[str, object]], a: str, b: str, where: str) -> None:
    """Schemes ``a`` against ``b`` every way (:func:`osgan.record.dfad_table2`'s ``paired``)."""
    from IPython.display import Markdown, display

    if paired:
        display(Markdown(
            f"**{a} against {b}**, {where}, paired by seed; {a} - {b}: mean paired difference "
            "of test accuracy with its 95% interval:\n\n" + markdown_table([{
                "at": p["at"], "n": p["n"], a: _pm(p[a], p[f"{a} std"], "{:.4f}"),
                b: _pm(p[b], p[f"{b} std"], "{:.4f}"),
                f"{a} - {b} [95%]": _interval(p[f"{a}-{b}"], p["low"], p["high"], "{:+.4f}"),
                "verdict": p["verdict"]} for p in paired])))


def _show_round_costs(results: Path) -> dict[str, float] | None:
    """Display a DFAD record's time axis (``round_costs.json``, timed side by side) and return
    its costs (:func:`osgan.record.dfad_round_costs`); None where it has none."""
    from IPython.display import Markdown, display

    from osgan import record

    bench = results / "round_costs.json"
    if not bench.exists():
        return None
    costs = record.dfad_round_costs(bench)
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
    """Display a recorded DFAD sweep (``results/<sweep>``, :func:`osgan.record.dfad_table2`): its
    provenance, the learning rates chosen on validation accuracy, Table 2 (test accuracy, mean ±
    std over seeds), schemes ``a`` against ``b`` every way with paired 95% intervals and
    verdicts, and the chosen points' test-accuracy curves against rounds and training time. Says
    so plainly where there is no record. Returns :func:`osgan.record.dfad_table2`'s dict ({}
    without a record)."""
    from IPython.display import Markdown, display

    from osgan import dfad, record, sweep

    results = Path(results)
    if not (results / "sweep.json").exists():
        display(Markdown(f"**No recorded DFAD sweep** at `{results}`: this page shows the live "
                         "run below only, which is a pipeline check, not a result. Record one "
                         "with `python -m osgan sweep table2`."))
        return {}
    rec = record.load_dfad(results)
    display(Markdown(record.dfad_provenance_text(rec)))
    spec = rec["sweep"].get("spec", {})
    tune = spec.get("tune_seeds")
    costs = _show_round_costs(results)
    t2 = record.dfad_table2(rec["runs"], a, b, tune_seeds=tune, costs=costs,
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
            "val": f"{r['val']:.4f}", "test": _pm(r["test"], r["test std"], "{:.4f}"),
        } for r in t2["rows"]])))
    teacher = next((r["teacher_accuracy"] for r in rec["runs"] if r["teacher_accuracy"]), None)
    best = {r["scheme"]: r["test"] for r in t2["rows"]}
    if teacher and best:
        display(Markdown(
            f"**Against the teacher** ({teacher:.4f} on the test split): "
            + ", ".join(f"{sc} reaches {acc / teacher:.0%} of it" for sc, acc in best.items())
            + " at its chosen point. KD trains the same student on real images, so a data-free "
            "student below it is held back by the images its generator provides."))
    _show_pairs(t2["paired"], a, b, "each at its chosen point")
    for recipe, at in t2["recipes"].items():
        if at["rows"]:
            display(Markdown(
                f"**At the shared setting**, the published recipe `{recipe}` for every scheme "
                + (f"({dfad.HPARAMS[recipe].about}; " if recipe in dfad.HPARAMS else "(")
                + "no tuning), test accuracy at the end, mean ± std over seeds:\n\n"
                + markdown_table([{"scheme": r["scheme"], "n": r["n"], "rounds": r["rounds"],
                                   "val": f"{r['val']:.4f}",
                                   "test": _pm(r["test"], r["test std"], "{:.4f}")}
                                  for r in at["rows"]])))
            _show_pairs(at["paired"], a, b, f"both at the recipe `{recipe}`")
    flat = [(r, record.dfad_plateau(r)) for r in rec["runs"] if r["done"]]
    still = [f"`{r['path'].name}` (+{p['gain']:.3f})" for r, p in flat
             if p["gain"] is not None and not p["plateaued"]]
    display(Markdown(
        f"**Plateau rule** (the best validation accuracy of a run's last third beats the best "
        f"before it by less than {record.ACC_PLATEAU_GAIN:.2f}): "
        f"{sum(p['plateaued'] for _, p in flat)} of {len(flat)} finished runs have flattened"
        + (f"; still rising at the end: {', '.join(still)}" if still else "") + "."))
    _show_run_on(record.run_on(rec["runs"], spec.get("rounds")))
    _plot_dfad_curves(rec["runs"], t2["chosen"], costs)
    if "lr_s" in spec:
        _plot_dfad_grid(record.at_grid(rec["runs"], spec.get("rounds")), spec, tune)
    return t2


def _show_run_on(rows: list[dict[str, object]]) -> None:
    """The runs that went on past the grid's length (:func:`osgan.record.run_on`): accuracy at
    the grid's length, at the best validation evaluation, and at the end."""
    from IPython.display import Markdown, display

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
        + ("\n\nRunning on did not help every run: "
           + ", ".join(f"`{n}`" for n in fell)
           + " ended below where it stood at the grid's length. The reading at the end above "
           "includes that fall; the reading at each run's best evaluation on the validation "
           "split is where early stopping would have kept the student." if fell else "")))


def _plot_dfad_curves(runs: list[dict[str, object]], chosen: dict[str, str],
                      costs: dict[str, float] | None) -> None:
    """Test accuracy of each scheme's chosen point (every seed) against rounds, student updates
    and training time (rounds x ``costs`` where given, else the runs' own clocks), and the loss
    both adversarial schemes play, the student's L1 disagreement with the teacher on generated
    images, against student updates."""
    import matplotlib.pyplot as plt

    from osgan import record

    fig, axes = plt.subplots(1, 4, figsize=(20, 4))
    for i, (sc, pt) in enumerate(chosen.items()):
        for k, r in enumerate(x for x in runs if x["scheme"] == sc and x["point"] == pt):
            rounds = [row["round"] for row in r["records"]]
            acc = [row["Accuracy/student"] for row in r["records"]]
            kw = dict(color=f"C{i}", alpha=0.8, label=f"{sc} ({pt})" if k == 0 else None)
            axes[0].plot(rounds, acc, **kw)
            axes[1].plot([n * record.UPDATES[sc](r["config"]) for n in rounds], acc, **kw)
            clock = [n * costs[sc] for n in rounds] if costs and sc in costs else \
                [row["Time/train"] for row in r["records"]]
            axes[2].plot(clock, acc, **kw)
            if sc != "kd":  # kd's loss is another (KL on real images)
                rows = [row for row in r["records"] if "Loss/S" in row]
                axes[3].plot([row["round"] * record.UPDATES[sc](r["config"]) for row in rows],
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
    read there, :func:`osgan.record.at_grid`): per adversarial scheme a
    map over the student's rate x the generator's, and every scheme against the ratio of the
    two rates (kd, which has no generator, as a line at each student rate)."""
    import matplotlib.pyplot as plt

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


def _why_still_falling(slopes: list[float], steps: int) -> str:
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


def show_dfad_classes(results: str | Path, points: dict[str, str] | None = None
                      ) -> dict[str, object]:
    """Display what a DFAD record's generators show the teacher and what the students learn,
    class by class (``rescore.json``, :func:`osgan.dfad.diagnose`): per adversarial cell of the
    given points (scheme -> point; all adversarial cells when None), the shares of the teacher's
    classes on G(z) and the student's test accuracy per class, and the rank correlation of the
    two over every (cell, class). Says so where the record has no rescore. Returns
    ``{"cells": [names], "spearman": rho, "p": p-value}`` ({} without a rescore)."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    from osgan import data, record

    reading = record.dfad_classes(results, points)
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
    paired = record.dfad_classes_paired(cells, points) if points else []
    if paired:
        display(Markdown(
            "**one against two** in what their final generators show and teach, each at its "
            "chosen point, paired by seed (one - two with its 95% interval):\n\n"
            + markdown_table([{"measure": r["measure"], "n": r["n"], "one": r["one"],
                               "two": r["two"], "one - two [95%]":
                               _interval(r["one - two"], r["low"], r["high"], "{:+.3f}")}
                              for r in paired], fmt="{:.3f}")))
    return {"cells": list(cells), "spearman": rho, "p": p, "paired": paired}


def show_dfad_ablation(results: str | Path, a: str = "one", b: str = "two") -> dict[str, object]:
    """Display a recorded DFAD ablation sweep (``results/table2_why``): its provenance, every
    point's test accuracy at the end (mean ± std over seeds), each point of scheme ``a`` against
    ``b``'s paired by seed (:func:`osgan.record.dfad_table2`'s ways, equal time by the record's
    ``round_costs.json`` where it has one), and the curves against student updates and training
    time. Says so where there is no record. Returns {point of a: paired rows}."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    from osgan import record

    results = Path(results)
    if not (results / "sweep.json").exists():
        display(Markdown(f"**No recorded ablation** at `{results}` yet: record it with "
                         f"`python -m osgan sweep {results.name}`."))
        return {}
    rec = record.load_dfad(results)
    display(Markdown(record.dfad_provenance_text(rec)))
    costs = _show_round_costs(results)
    done = [r for r in rec["runs"] if r["done"]]
    points = {sc: list(dict.fromkeys(r["point"] for r in done if r["scheme"] == sc))
              for sc in (a, b)}
    rows = []
    for sc, pts in points.items():
        for pt in pts:
            rows += record.compare_points(done, {sc: pt}, a, b)["rows"]
    if not rows:
        display(Markdown("No run of the ablation has finished yet."))
        return {}
    display(Markdown("Test accuracy at the end, whole test split, mean ± std over seeds:\n\n"
                     + markdown_table([{"scheme": r["scheme"], "point": r["point"], "n": r["n"],
                                        "rounds": r["rounds"],
                                        "test": _pm(r["test"], r["test std"], "{:.4f}")}
                                       for r in rows])))
    out = {}
    for (pt_a, pt_b), paired in record.ablation_pairs(done, a, b, costs).items():
        out[pt_a] = paired
        _show_pairs(paired, a, b, f"{a} at `{pt_a}`, {b} at `{pt_b}`")
    fig, axes = plt.subplots(1, 3, figsize=(17, 4))
    for i, (sc, pt) in enumerate((sc, pt) for sc, pts in points.items() for pt in pts):
        for k, r in enumerate(x for x in done if x["scheme"] == sc and x["point"] == pt):
            kw = dict(color=f"C{i}", alpha=0.8, label=f"{sc} ({pt})" if k == 0 else None)
            losses = [row for row in r["records"] if "Loss/S" in row]
            updates = record.UPDATES[sc](r["config"])
            cost = record.round_cost(costs, r)
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
