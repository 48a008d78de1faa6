"""Rendering of Table 1's planned findings (:mod:`osgan.table1`): the forest plot, the verdict
table and the secondary table. Numbers and verdict values only: the chapters write the prose
around them and place the values with glue."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from osgan import paper, plans, table1
from osgan.analysis import instrument
from osgan.render.tables import markdown_table
from osgan.table1 import Comparison, Findings, TimeRatio

SECONDARY_NAMES = {
    "log_fid_last": "FID, last evaluation",
    "log_fid_best": "FID, best evaluation",
    "log_fid_ema_last4": "FID of the EMA generator (ours), last 4",
    "log_kid_last4": "KID, last 4 evaluations",
}


def _ratio(c: Comparison) -> str:
    if c.n == 0:
        return "–"
    if not math.isfinite(c.low):
        return f"{c.ratio:.3f} [–]"
    return f"{c.ratio:.3f} [{c.low:.3f}, {c.high:.3f}]"


def _num(x: float, fmt: str = "{:.3f}") -> str:
    return fmt.format(x) if math.isfinite(x) else "–"


def _instruments(names) -> str:
    """``AMD EPYC 4, Xeon 1``: how many pairs each domain classifier measured."""
    counts = Counter(names)
    return ", ".join(f"{instrument.LABEL.get(k, k)} {v}" for k, v in sorted(counts.items())) or "–"


def _machines(names) -> str:
    """``CPU 5, NVIDIA H200 3``: how many pairs ran on each kind of machine."""
    return ", ".join(f"{'CPU' if k == 'cpu' else k} {v}" for k, v
                     in sorted(Counter(names).items(), key=lambda kv: (kv[0] != "cpu", kv[0]))
                     ) or "–"


def verdict_rows(f: Findings, gans: list[str] | None = None) -> list[dict[str, Any]]:
    """The verdict table: per objective n (the classifier that measured each pair and, once a
    GPU ran some, where the pairs ran), one/two [95%], p, Holm-adjusted p, TOST p, the verdict,
    the smallest ratio the n pairs detect, and the paper's CelebA ratio."""
    plan = plans.get(f.plan)
    gpu = any(m != "cpu" for c in f.primary for m in c.machines)
    return [{"objective": c.gan, "seeds": c.n, "classifier (pairs)": _instruments(c.instruments)}
            | ({"ran on (pairs)": _machines(c.machines)} if gpu else {})
            | {"FID one / two [95%]": _ratio(c),
               "p": _num(c.p), "p (Holm)": _num(c.p_holm),
               f"TOST p (±{plan.equivalence_ratio - 1:.0%})": _num(c.tost_p),
               "verdict": c.verdict if c.n >= 2 else "–",
               f"detectable at {plan.power:.0%} power": _num(c.detectable, "x/{:.2f}"),
               "paper, CelebA one / two": _num(f.paper.get(c.gan, math.nan))}
            for c in f.primary if gans is None or c.gan in gans]


def _columns(f: Findings, tables: dict[str, list[Comparison]], gans: list[str] | None
             ) -> list[dict[str, Any]]:
    """Per objective, one column per table of comparisons (column name -> the comparisons, in
    the order of ``f.primary``): one/two [95%] and n."""
    return [{"objective": c.gan} | {col: f"{_ratio(cs[i])} ({cs[i].n})" for col, cs in tables.items()}
            for i, c in enumerate(f.primary) if gans is None or c.gan in gans]


def secondary_rows(f: Findings, gans: list[str] | None = None) -> list[dict[str, Any]]:
    """The secondary readings, one column each (one/two [95%] and n): never a verdict."""
    return _columns(f, {f"{SECONDARY_NAMES.get(name, name)} (n)": cs
                        for name, cs in f.secondary.items()}, gans)


def instrument_rows(f: Findings, gans: list[str] | None = None) -> list[dict[str, Any]]:
    """The sensitivity analysis: the primary reading within each domain classifier's pairs alone,
    one column each (one/two [95%], n); never a verdict."""
    return _columns(f, {f"{instrument.LABEL.get(name, name)} pairs only (n)": cs
                        for name, cs in f.by_instrument.items()}, gans)


def plot_forest(f: Findings, ax=None, gans: list[str] | None = None):
    """Each objective's one/two ratio of the primary reading with its 95% interval (log scale),
    the plan's equivalence band shaded, the pooled estimate as a diamond (random effects,
    Hartung-Knapp interval), and the paper's CelebA ratio as a hollow marker labelled as the
    paper's; each seed pair's ratio as a small dot on its objective's row, so that a pair far
    from the rest (a run that collapsed) shows where it widens an interval. ``gans``: draw these
    objectives' rows darker. Returns the figure."""
    import matplotlib.pyplot as plt

    plan = plans.get(f.plan)
    rows = f.primary
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.42 * (len(rows) + 2) + 2.0))
    band = plan.equivalence_ratio
    ax.axvspan(1 / band, band, color="0.88", zorder=0,
               label=f"equivalence margin (±{band - 1:.0%})")
    ax.axvline(1, color="k", lw=0.7)
    labels = {"ours": "ours: one / two, 95% interval", "paper": "paper (CelebA, Inception FID)",
              "seeds": "ours: one seed pair"}
    for y, c in enumerate(rows):
        faded = gans is not None and c.gan not in gans
        color = "0.6" if faded else "C0"
        if c.diffs:
            ax.plot([math.exp(d) for d in c.diffs], [y + 0.22] * len(c.diffs), ".", ms=4, alpha=0.6,
                    color=color, label=labels.pop("seeds", None))
        if c.n >= 2 and math.isfinite(c.low):
            ax.errorbar([c.ratio], [y], xerr=[[c.ratio - c.low], [c.high - c.ratio]], fmt="o",
                        color=color, capsize=3, label=labels.pop("ours", None))
        elif c.n == 1:
            ax.plot([c.ratio], [y], "o", color=color)
        theirs = f.paper.get(c.gan, math.nan)
        if math.isfinite(theirs):
            ax.plot([theirs], [y], "s", mfc="none", color="C3", label=labels.pop("paper", None))
    ticks = [f"{c.gan} (n={c.n})" for c in rows]
    if f.pooled is not None:
        y = len(rows) + 0.6
        m, lo, hi = f.pooled_ratio()
        ax.fill([lo, m, hi, m], [y, y - 0.3, y, y + 0.3], color="k",
                label="pooled: random effects, Hartung-Knapp 95%")
        ticks.append(f"pooled ({f.pooled.k} objectives)")
    ax.set_yticks([*range(len(rows)), *([len(rows) + 0.6] if f.pooled is not None else [])],
                  ticks)
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    xt = [t for t in (1 / 32, 0.125, 0.25, 0.5, 0.8, 1, 1.25, 2, 4, 8, 32) if lo <= t <= hi]
    ax.set_xticks(xt, [f"{t:g}" if t > 0.1 else f"1/{1 / t:g}" for t in xt])
    ax.set_xticks([], minor=True)
    ax.set_xlabel("domain FID, one stage over two stages (left of 1: one stage better)\n"
                  f"reading: {plans.READINGS[plan.primary]}", fontsize=9)
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    ax.figure.tight_layout()
    return ax.figure


def figure4_rows(rows: list[TimeRatio]) -> list[dict[str, Any]]:
    """Figure 4's table: per objective, two / one in time to the common FID [95%], in steps
    [95%], and in the cost of a step; the paper's speed-up (its Figure 4, GPU) beside them."""
    theirs = {r["gan"]: r["speedup"] for r in paper.paper_table("figure4_speedups")}
    return [{"objective": r.gan, "seeds": r.n,
             "time two / one [95%]": f"{r.time:.2f} [{r.time_low:.2f}, {r.time_high:.2f}]"
             if r.n >= 2 else "–",
             "= steps two / one [95%]": f"{r.steps:.2f} [{r.steps_low:.2f}, {r.steps_high:.2f}]"
             if r.n >= 2 else "–",
             "x cost of a step two / one": f"{r.cost:.2f}",
             "paper's speed-up (GPU)": _num(theirs.get(paper.PAPER_NAMES[r.gan], math.nan),
                                            "{:.1f}")}
            for r in rows]


def plot_figure4(rows: list[TimeRatio], ax=None):
    """Per objective: the time two stages take over one to reach the FID both reach (filled,
    95% interval), the steps ratio it is made of (hollow, 95% interval) and the cost of a step
    (a cross); the paper's speed-up (its Figure 4, time to plateau on a GPU) as a red square,
    labelled as the paper's. Log scale; Eq. 17's 4/3 dotted. Returns the figure."""
    import matplotlib.pyplot as plt

    theirs = {r["gan"]: r["speedup"] for r in paper.paper_table("figure4_speedups")}
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.42 * len(rows) + 2.2))
    labels = {"time": "time two / one (95%)", "steps": "steps two / one (95%)",
              "cost": "cost of a step two / one", "paper": "paper's speed-up (Figure 4, GPU)"}
    for y, r in enumerate(rows):
        if r.n >= 2:
            ax.errorbar([r.time], [y - 0.12], xerr=[[r.time - r.time_low], [r.time_high - r.time]],
                        fmt="o", color="C0", capsize=3, label=labels.pop("time", None))
            ax.errorbar([r.steps], [y + 0.12], xerr=[[r.steps - r.steps_low],
                                                     [r.steps_high - r.steps]],
                        fmt="o", mfc="none", color="C2", capsize=3,
                        label=labels.pop("steps", None))
        ax.plot([r.cost], [y], "x", color="k", label=labels.pop("cost", None))
        p = theirs.get(paper.PAPER_NAMES[r.gan])
        if p is not None:
            ax.plot([p], [y], "s", mfc="none", color="C3", label=labels.pop("paper", None))
    ax.axvline(1, color="k", lw=0.7)
    ax.axvline(4 / 3, color="k", lw=0.7, ls=":")
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    xt = [t for t in (0.25, 0.5, 0.75, 1, 1.33, 2, 4, 8) if lo <= t <= hi]
    ax.set_xticks(xt, [f"{t:g}" for t in xt])
    ax.set_xticks([], minor=True)
    ax.set_yticks(range(len(rows)), [f"{r.gan} (n={r.n})" for r in rows])
    ax.set_xlabel("two stages over one, to the domain FID both reach (running mean of 3 "
                  "evaluations)\nright of 1: one stage faster; dotted: Eq. 17's 4/3 per round",
                  fontsize=9)
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    ax.figure.tight_layout()
    return ax.figure


def values(f: Findings) -> dict[str, str]:
    """The findings' numbers as short strings, for a chapter's glue and the introduction's
    substitutions: ``t1_pooled`` (ratio [95%]), ``t1_pooled_p``, ``t1_k``, ``t1_tau2``, ``t1_i2``,
    ``t1_over`` (the t-test over the objectives' mean differences, as a ratio [95%]),
    ``t1_over_p``, ``t1_n`` (seeds per objective, min-max), ``t1_counts`` (objectives per
    verdict), ``t1_before`` (cells recorded before the plan), ``t1_plan`` (the plan's hash, short),
    ``t1_instruments`` (pairs per domain classifier), ``t1_mixed`` (seeds whose two cells were
    measured with different classifiers: no pairs yet)."""
    out = {"t1_plan": f.plan_hash[:12], "t1_before": str(len(f.before_plan)),
           "t1_instruments": _instruments(i for c in f.primary for i in c.instruments),
           "t1_mixed": "; ".join(f"{g} seed {', '.join(map(str, s))}"
                                 for g, s in f.mixed.items()) or "none"}
    ns = [c.n for c in f.primary]
    out["t1_n"] = f"{min(ns)}" if min(ns) == max(ns) else f"{min(ns)} to {max(ns)}"
    counts = Counter(c.verdict if c.n >= 2 else "fewer than 2 seeds" for c in f.primary)
    out["t1_counts"] = ", ".join(f"{k} {v}" for k, v in counts.items())
    if f.pooled is not None:
        m, lo, hi = f.pooled_ratio()
        out |= {"t1_pooled": f"{m:.3f} [{lo:.3f}, {hi:.3f}]", "t1_pooled_p": f"{f.pooled.p:.3f}",
                "t1_k": str(f.pooled.k), "t1_tau2": f"{f.pooled.tau2:.4f}",
                "t1_i2": f"{f.pooled.i2:.0%}"}
    else:
        out |= {k: "–" for k in ("t1_pooled", "t1_pooled_p", "t1_k", "t1_tau2", "t1_i2")}
    o = f.over_objectives
    if o is not None and math.isfinite(o.low):
        out |= {"t1_over": f"{math.exp(o.mean):.3f} [{math.exp(o.low):.3f}, "
                           f"{math.exp(o.high):.3f}]", "t1_over_p": f"{o.p:.3f}"}
    else:
        out |= {"t1_over": "–", "t1_over_p": "–"}
    return out


def show(f: Findings, gans: list[str], fig4: list[TimeRatio] | None = None):
    """In a notebook: the forest plot (``gans`` drawn darker), then the verdict table and the
    secondary table of ``gans``; with ``fig4``, Figure 4's plot and table of ``gans``."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display  # IPython: only where a notebook displays

    plot_forest(f, gans=gans)
    plt.show()
    display(Markdown(markdown_table(verdict_rows(f, gans))))
    display(Markdown("**Secondary readings** (one / two [95%], seeds; they never change a "
                     "verdict):\n\n" + markdown_table(secondary_rows(f, gans))))
    if len(f.by_instrument) > 1:
        display(Markdown("**Within one domain classifier** (sensitivity; one / two [95%], seeds; "
                         "it never changes a verdict):\n\n"
                         + markdown_table(instrument_rows(f, gans))))
    if fig4:
        rows = [r for r in fig4 if r.gan in gans]
        plot_figure4(rows)
        plt.show()
        display(Markdown(markdown_table(figure4_rows(rows))))


def answer(record_dir: str | Path, gans: list[str]) -> dict[str, str]:
    """A chapter's lead on Table 1 (02 and 03 open with it): the findings of the record in
    ``record_dir`` shown (:func:`show`, ``gans`` drawn darker), and the values its included prose
    places, returned for the chapter to glue: :func:`values` and the spread between domain
    classifiers recorded beside the record (``../instruments/spread.json``)."""
    findings, fig4 = table1.recorded(record_dir)
    show(findings, gans, fig4)
    spread = Path(record_dir).parent / "instruments" / "spread.json"
    return values(findings) | instrument.spread_values(spread)
