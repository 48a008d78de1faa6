"""Rendering Table 2 under its plan (:func:`osgan.table2.recorded`) in chapter 05: where the tuned
sweep stands (the grid on the tune seed, the choice, the level), then, once a chosen point has
reached the level and the verdict seeds run, the verdict with its interval, the plan's secondary
readings in a table of their own, the chosen points' accuracy curves with their bands over
seeds, and the classes each final generator shows. The chapter's prose places the values
(:func:`values`); nothing here says what they mean."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from osgan import paper, plans, table2
from osgan.analysis import records, table2_record
from osgan.render.table2_record import show_dfad_classes
from osgan.render.table2_tuning import GOING_ON, tuning_of
from osgan.render.tables import interval, markdown_table, pm

NOT_YET = "not yet"
NOT_RUN = "not run (the level was missed)"  # the plan's rule for a missed level


def values(r: table2.Record | None) -> dict[str, str]:
    """The chapter's glue values (``t2p_*``) of a record's state under the plan; ``not yet``
    (or ``not recorded``) for what it cannot give yet, and :data:`NOT_RUN` for the verdict's
    values where the level was missed (the plan ends there)."""
    if r is None:
        return dict.fromkeys(("t2p_progress", "t2p_chosen", "t2p_reached", "t2p_n", "t2p_one",
                              "t2p_two", "t2p_kd", "t2p_diff", "t2p_verdict", "t2p_detectable",
                              "t2p_level"), "not recorded")
    f = r.findings
    out = {
        "t2p_progress": ", ".join(f"{sc} {done} of {grid}" for sc, (grid, done)
                                  in r.progress.items()),
        "t2p_chosen": ", ".join(f"{sc} {pt}" for sc, pt in r.chosen.items()) or NOT_YET,
        "t2p_reached": {None: NOT_YET, True: "yes", False: "no"}[r.reached],
    }
    if f is None:  # a missed level ends the plan without its verdict seeds: never "not yet"
        return out | dict.fromkeys(("t2p_n", "t2p_one", "t2p_two", "t2p_kd", "t2p_diff",
                                    "t2p_verdict", "t2p_detectable", "t2p_level"),
                                   NOT_RUN if r.reached is False else NOT_YET)
    d = f.difference
    return out | {
        "t2p_n": f"{len(f.seeds)} of {len(f.seeds) + len(f.missing)}",
        "t2p_one": _acc(f.one), "t2p_two": _acc(f.two), "t2p_kd": _acc(f.kd),
        "t2p_diff": (f"{d.mean:+.3f}" if d.n < 2 else
                     interval(d.mean, d.low, d.high, "{:+.3f}") + f" (p {d.p:.2g})"),
        "t2p_verdict": verdict_so_far(f),
        "t2p_detectable": _acc(f.detectable),
        "t2p_level": f"{f.level:.3f} ({'reached' if f.level_reached else 'below'} "
                     f"{table2_record.LEVEL:.2f})",
    }


def verdict_so_far(f: table2.Findings) -> str:
    """The plan's verdict once every seed of the plan is paired; before that, ``not yet`` with
    how many are in and, from two pairs on, the verdict they would give (interim: a pair short
    of the plan's seeds decides nothing)."""
    if not f.missing:
        return f.verdict
    n, total = len(f.seeds), len(f.seeds) + len(f.missing)
    return f"{NOT_YET} ({n} of {total} paired seeds in" + (
        f"; interim: {f.verdict})" if f.difference.n >= 2 else ")")


def _acc(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else "–"


def show_secondary(results: Path, r: table2.Record) -> list[dict]:
    """Display the plan's secondary readings of the verdict's pairs (:func:`osgan.table2.secondary`),
    labelled as such, with the record's time axis where it was timed (``round_costs.json``);
    returns their rows."""
    from IPython.display import Markdown, display  # optional: only where a notebook displays

    bench = results / "round_costs.json"
    costs = records.dfad_round_costs(bench) if bench.exists() else None
    rows = table2.secondary(r.runs, r.findings, costs)
    if rows:
        display(Markdown(
            "**Secondary readings** (the plan's list, read on the same pairs; they never change "
            "the verdict). Test accuracy of one stage and two, mean ± std over seeds, and one - "
            "two paired by seed with its 95% t-interval"
            + ("" if costs else "; equal time by the runs' own clocks only, which other load on "
               "the machine stretches (no `round_costs.json`: `python -m osgan sweep "
               f"{results.name} --bench`)") + ":\n\n" + markdown_table([{
                "at": p["at"], "n": p["n"], "one": pm(p["one"], p["one std"], "{:.3f}"),
                "two": pm(p["two"], p["two std"], "{:.3f}"),
                "one - two [95%]": "–" if p["n"] < 2 else
                interval(p["one-two"], p["low"], p["high"], "{:+.3f}")} for p in rows])))
    return rows


def recorded(results: str | Path, plan: plans.DistillPlan) -> table2.Record | None:
    """:func:`osgan.table2.recorded`'s record at ``results`` under ``plan``; None where nothing
    is recorded there yet (a plan not started in this checkout)."""
    results = Path(results)
    return table2.recorded(results, plan) if (results / "sweep.json").exists() else None


def show(results: str | Path, plan: plans.DistillPlan = plans.TABLE2) -> table2.Record | None:
    """Display where the tuned sweep at ``results`` stands under ``plan`` and, once its verdict
    seeds run, the verdict table, the curves with bands and the classes shown. Says so where
    nothing is recorded. Returns :func:`osgan.table2.recorded`'s record (None without one)."""
    from IPython.display import Markdown, display  # optional: only where a notebook displays

    results = Path(results)
    if not (results / "sweep.json").exists():
        display(Markdown(f"*Table 2's tuned sweep is not recorded in this checkout yet* "
                         f"(`python -m osgan sweep {results.name}`)."))
        return None
    r = table2.recorded(results, plan)
    display(Markdown(markdown_table([{
        "scheme": sc, "grid points finished on the tune seed": f"{done} of {grid}",
        "chosen on validation": f"`{r.chosen[sc]}`" if sc in r.chosen else "(grid running)"}
        for sc, (grid, done) in r.progress.items()])))
    if r.reached is False:
        tuning = plans.get(plan.tuning)
        display(Markdown(f"**The plan's rule for a missed level** (`{tuning.name}`): "
                         f"{tuning.if_short}."))
    if r.findings is None:
        return r
    f, d = r.findings, r.findings.difference
    display(Markdown(
        f"**Table 2 under plan `{f.plan}`** ({plan.primary}; seeds with both schemes finished: "
        f"{', '.join(map(str, f.seeds)) or 'none'}"
        + (f"; still to run: {', '.join(map(str, f.missing))}" if f.missing else "") + "):\n\n"
        + markdown_table([{
            "n": d.n, "one": _acc(f.one), "two": _acc(f.two), "kd (ceiling)": _acc(f.kd),
            "one - two [95%]": "–" if d.n < 2 else interval(d.mean, d.low, d.high, "{:+.3f}"),
            "p": "–" if d.n < 2 else f"{d.p:.3g}",
            f"TOST ±{plan.equivalence_margin:g} p": "–" if d.n < 2 else f"{f.tost_p:.3g}",
            "detectable (80%)": _acc(f.detectable), "verdict": verdict_so_far(f),
            "best scheme's final test": _acc(f.level)}])))
    display(Markdown(
        "**Beside the paper's Table 2** (the paper's numbers: CIFAR, a ResNet-34 teacher and a "
        "ResNet-18 student; ours: Fashion-MNIST, LeNet-5 and half a LeNet-5, each run read as "
        "above). The settings differ, so read the share of the teacher each row recovers, not "
        "the accuracies:\n\n" + markdown_table(beside_paper(f, _teacher(r.runs)))))
    show_secondary(results, r)
    plot_bands(r.runs, r.chosen, f.seeds or plan.seeds)
    show_dfad_classes(results, r.chosen)
    return r


# Table 2's plans in the order they were written, each beside the one before it when that one
# missed its level: (record, tuning plan, verdict plan)
SO_FAR = (("table2_tune", plans.TABLE2_TUNING, plans.TABLE2),
          ("table2_dt", plans.TABLE2_DT_TUNING, plans.TABLE2_DT),
          ("table2_w32", plans.TABLE2_W32_TUNING, plans.TABLE2_W32),
          ("table2_cos", plans.TABLE2_COS_TUNING, plans.TABLE2_COS))
# records whose seed-0 grid stopped before its end, neither reaching nor missing the level: when
# and why (a restart, ``scripts/sweep_pinned.sh NAME``, resumes it)
PAUSED = {"table2_tune": "its grid paused on 2026-12-04, when the plan beside it began (no "
                         "data-free cell above 0.68)"}


def plans_so_far(root: str | Path = "results") -> list[dict[str, str]]:
    """What it has taken so far to reach the level: one row per plan of :data:`SO_FAR`, from
    its record under ``root``: its teacher and generator width, how much of its seed-0 grid
    finished, each adversarial scheme's chosen point (the best so far while its grid runs) with
    its test accuracy at the end of its run and the rounds it ran, and whether the level was
    reached (:func:`values`)."""
    rows = []
    for name, tune, plan in SO_FAR:
        folder = Path(root) / name
        r = recorded(folder, plan)
        v = values(r)
        teachers = sorted({f"{float(x['teacher_accuracy']):.4f}" for x in (r.runs if r else [])
                           if x.get("teacher_accuracy")})
        kind = "DFAD's recipe" if "train_teacher" in tune.fixed["teacher"] else "ours"
        row = {"plan (record)": f"`{tune.name}` (`results/{name}`)",
               "teacher (test accuracy)": f"{kind} ({', '.join(teachers) or '–'})",
               "generator width": str(tune.fixed["g_width"]),
               "rates": "decayed by a cosine" if tune.fixed.get("cosine") else "constant",
               "seed-0 grid finished": v["t2p_progress"]}
        chosen = {x["scheme"]: x for x in tuning_of(folder) if x["chosen"]}
        for sc, words in (("one", "one stage"), ("two", "two stages")):
            x = chosen.get(sc)
            row[f"{words}: chosen, test at its end"] = "–" if x is None else (
                f"`{x['point']}`{'' if x['tuned'] else ' (best so far)'}: {x['test']:.3f} "
                f"after {x['rounds']:,} rounds" + (GOING_ON if x["going_on"] else ""))
        reached = v["t2p_reached"]
        row["level 0.80 reached"] = f"not decided: {PAUSED[name]}" \
            if reached == NOT_YET and name in PAUSED else reached
        rows.append(row)
    return rows


PAPER_ROWS = {"teacher": "Teacher (ResNet34)", "kd": "KD (ResNet18)", "two": "DFAD",
              "one": "OSGAN-DFAD"}  # our row -> the paper's (``paper/table2.csv``)


def _teacher(runs: list[dict[str, object]]) -> float:
    return next((float(r["teacher_accuracy"]) for r in runs if r.get("teacher_accuracy")),
                math.nan)


def beside_paper(f: table2.Findings, teacher: float) -> list[dict[str, str]]:
    """Our planned readings (teacher, KD on real images, two stages, one stage) beside the
    paper's Table 2 rows, each with the share of its own teacher it recovers."""
    theirs = {row["method"]: row for row in paper.paper_table("table2")}
    ours = {"teacher": teacher, "kd": f.kd, "two": f.two, "one": f.one}
    t10, t100 = (theirs[PAPER_ROWS["teacher"]][f"{d}_accuracy"] for d in ("cifar10", "cifar100"))

    def share(x: float, t: float) -> str:
        return f"{x / t:.0%}" if math.isfinite(x) and math.isfinite(t) else "–"

    rows = []
    for key, method in PAPER_ROWS.items():
        p = theirs[method]
        rows.append({"row": {"teacher": "teacher", "kd": "KD on real images",
                             "two": "two stages (DFAD)", "one": "one stage (OSGAN)"}[key],
                     "ours, Fashion-MNIST": _acc(ours[key]),
                     "ours, of the teacher": share(ours[key], teacher),
                     "paper's, CIFAR-10": f"{p['cifar10_accuracy']:.3f}",
                     "paper's CIFAR-10, of the teacher": share(p["cifar10_accuracy"], t10),
                     "paper's, CIFAR-100": f"{p['cifar100_accuracy']:.3f}",
                     "paper's CIFAR-100, of the teacher": share(p["cifar100_accuracy"], t100)})
    return rows


def plot_bands(runs: list[dict[str, object]], chosen: dict[str, str], seeds) -> None:
    """Each scheme's chosen point, test accuracy against student updates: the mean over
    ``seeds`` with the band from the lowest to the highest seed at each evaluation, the level
    (0.80) and the teacher."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn

    fig, ax = plt.subplots(figsize=(8, 4.2))
    teacher = next((r["teacher_accuracy"] for r in runs if r["teacher_accuracy"]), None)
    for i, (sc, pt) in enumerate(chosen.items()):
        mine = [r for r in runs if r["scheme"] == sc and r["point"] == pt and r["done"]
                and r["seed"] in seeds]
        at: dict[int, list[float]] = {}
        for r in mine:
            for row in r["records"]:
                if "Accuracy/student" in row:
                    at.setdefault(row["round"] * table2_record.UPDATES[sc](r["config"]),
                                  []).append(row["Accuracy/student"])
        if not at:
            continue
        x = sorted(at)
        ax.plot(x, [np.mean(at[k]) for k in x], color=f"C{i}",
                label=f"{sc} {pt} (n = {len(mine)})")
        ax.fill_between(x, [min(at[k]) for k in x], [max(at[k]) for k in x], color=f"C{i}",
                        alpha=0.2, lw=0)
    ax.axhline(table2_record.LEVEL, color="k", ls="--", lw=0.8, label="level")
    if teacher:
        ax.axhline(teacher, color="grey", ls=":", lw=1, label="teacher")
    ax.set(xlabel="student updates", ylabel="student test accuracy", ylim=(0, 1),
           title="chosen points: mean over seeds, band from lowest to highest seed")
    ax.legend(fontsize=7)
    fig.tight_layout()
    plt.show()
