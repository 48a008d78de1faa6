r"""Table 1 and Figure 4 from a recorded training sweep (:mod:`osgan.sweep`) on the last
evaluation, the plateau rule, the update-order test, the variants and the classes covered, as
findings: numbers and verdict values (:mod:`osgan.analysis.paired`). The planned analysis of
Table 1 is :mod:`osgan.table1`'s; this module reads the record the way the chapters describe it
around that.

**Plateau rule.** A run has reached its plateau when the best FID of the last third of its
evaluations improves on the best FID before it by less than 10%:

.. math:: \min_{t > 2T/3} \mathrm{FID}(t) \;\ge\; 0.9 \min_{t \le 2T/3} \mathrm{FID}(t).

A curve that is still falling fails it; noise around a flat curve passes it.

**Table 1 on the last evaluation.** Per objective and scheme, the final FID and KID, mean and
sample standard deviation over seeds. The paired difference one minus two (the same seed fixes
initialisation and data order for both schemes) gets a 95% confidence interval from Student's t
with n - 1 degrees of freedom,

.. math:: \bar d \pm t_{0.975,\,n-1}\, s_d / \sqrt n,

and the verdict: "one better" when the interval lies below 0, "two better" when it lies above 0,
else "inconclusive" (no equivalence margin here: the plan's analysis in :mod:`osgan.table1`
has one).

**Figure 4 on time to plateau.** The training time of the first evaluation whose FID is within
10% of the run's best, :math:`t^\star = \min\{t : \mathrm{FID}(t) \le 1.1 \min_s
\mathrm{FID}(s)\}`. The step count at :math:`t^\star` times a step cost measured side by side for
both schemes (``python -m osgan bench``) gives a time free of the sweep's own load; the run's
own clock is kept as the secondary axis. The ratio two over one is summarised by its geometric
mean over seeds with a 95% interval from the t interval of the paired log-ratios.

In this implementation we use the last evaluation as "final" (every run of a recorded sweep has
the same number of steps); the t-intervals are :func:`osgan.stats.paired`'s (SciPy).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from osgan import losses, paper
from osgan.analysis.paired import better, excludes_zero, mean_std, paired_interval, verdict

PLATEAU_GAIN = 0.10  # the last third may improve on the best before it by less than this


NEAR_BEST = 0.10  # time to plateau: first FID within this fraction of the run's best


def plateau(ev: list[dict[str, Any]], steps: int | None = None) -> dict[str, Any]:
    """The plateau rule on one run's evaluations: ``plateaued``, ``best_before``,
    ``best_last_third``, ``gain`` (relative improvement of the last third) and ``slope``
    (:func:`loglog_slope`)."""
    steps = steps or ev[-1]["step"]
    before = [e["FID"] for e in ev if e["step"] <= 2 * steps / 3]
    last = [e["FID"] for e in ev if e["step"] > 2 * steps / 3]
    if not before or not last:
        return {"plateaued": False, "best_before": None, "best_last_third": None, "gain": None,
                "slope": None}
    b, a = min(before), min(last)
    gain = (b - a) / b
    return {"plateaued": gain < PLATEAU_GAIN, "best_before": b, "best_last_third": a,
            "gain": gain, "slope": loglog_slope(ev, steps)}


def loglog_slope(ev: list[dict[str, Any]], steps: int | None = None) -> float | None:
    """Least-squares slope of log FID against log step over the second half of the run: FID
    falls about as step to this power there (None with fewer than two evaluations)."""
    steps = steps or ev[-1]["step"]
    half = [e for e in ev if e["step"] > steps / 2]
    if len(half) < 2:
        return None
    return float(np.polyfit(np.log([e["step"] for e in half]), np.log([e["FID"] for e in half]),
                            1)[0])


def time_to_plateau(ev: list[dict[str, Any]]) -> dict[str, float]:
    """Step and training time of the first evaluation within :data:`NEAR_BEST` of the run's
    best FID."""
    best = min(e["FID"] for e in ev)
    first = next(e for e in ev if e["FID"] <= (1 + NEAR_BEST) * best)
    return {"step": first["step"], "time": first["time"], "best": best}


def table1(runs: list[dict[str, Any]], a: str = "one", b: str = "two",
           paper_dataset: str = "celeba") -> list[dict[str, Any]]:
    """Per objective: FID and KID mean ± std of schemes ``a`` and ``b`` over the seeds both
    finished, the paired difference a - b with its 95% interval, the verdict (a value of
    :func:`osgan.analysis.paired.verdict`), and the paper's direction on ``paper_dataset``
    beside it ("one better", "two better", or None where the paper has no number)."""
    published = {(p["gan"], p["stages"]): p for p in paper.paper_table("table1")}
    out = []
    for gan in dict.fromkeys(r["gan"] for r in runs):
        final = {(r["scheme"], r["seed"]): r["evals"][-1] for r in runs
                 if r["gan"] == gan and r["done"] and r["evals"]}
        seeds = sorted({s for (sc, s) in final if sc == a} & {s for (sc, s) in final if sc == b})
        if not seeds:
            continue
        row: dict[str, Any] = {"gan": gan, "n": len(seeds)}
        for metric in ("FID", "KID"):
            xa = [final[(a, s)][metric] for s in seeds]
            xb = [final[(b, s)][metric] for s in seeds]
            row[f"{metric} {a}"], row[f"{metric} {a} std"] = mean_std(xa)
            row[f"{metric} {b}"], row[f"{metric} {b} std"] = mean_std(xb)
            m, lo, hi = paired_interval(xa, xb)
            row[f"{metric} {a}-{b}"], row[f"{metric} low"], row[f"{metric} high"] = m, lo, hi
        row["verdict"] = verdict(row["FID low"], row["FID high"], a, b)
        p_one = published.get((paper.PAPER_NAMES[gan], "one"), {}).get(f"{paper_dataset}_fid")
        p_two = published.get((paper.PAPER_NAMES[gan], "two"), {}).get(f"{paper_dataset}_fid")
        row[f"paper ({paper_dataset})"] = (None if p_one is None or p_two is None else
                                           better(a, b)[0] if p_one < p_two else
                                           better(a, b)[1])
        row["feature space"] = final[(a, seeds[0])]["feature_space"]
        out.append(row)
    return out


# the schemes of the update-order test (sweep table1_why) and the pairs it reads; the variant's
# runs are keyed "two-<variant>"
ORDER_SCHEMES = {"one": "one stage", "two": "two stages (paper)",
                 "two-simultaneous": "two stages, G on D before its update"}


ORDER_PAIRS = (("two-simultaneous", "two", "the order of the updates"),
               ("one", "two-simultaneous", "one stage's shared fake batch, at the same order"),
               ("one", "two", "both together (Table 1)"))


def update_order(runs: list[dict[str, Any]], variant_runs: list[dict[str, Any]], gan: str,
                 last: int = 4) -> dict[str, Any]:
    """Does the order of the updates explain one against two stages for ``gan``? ``runs``: a
    Table 1 record's (schemes one and two); ``variant_runs``: the same cells re-run with a
    two-stage variant (sweep ``table1_why``), paired by seed. Returns ``seeds`` (per seed, each
    scheme's FID at the end and its mean over the last ``last`` evaluations) and ``pairs`` (per
    pair of :data:`ORDER_PAIRS` and reading, the paired difference with its 95% interval and
    the verdict), over the seeds where all three finished; ``cause`` (:func:`order_cause`) and
    ``excluding`` (the pairs of the two causes, with their reading, whose interval excludes
    0)."""
    ev: dict[str, dict[int, list]] = {}
    for r in runs:
        if r["gan"] == gan and r["done"] and r["evals"] and r["scheme"] in ("one", "two"):
            ev.setdefault(r["scheme"], {})[r["seed"]] = r["evals"]
    for r in variant_runs:
        if r["gan"] == gan and r["done"] and r["evals"] and r["variant"]:
            ev.setdefault(f"{r['scheme']}-{r['variant']}", {})[r["seed"]] = r["evals"]
    seeds = sorted(set.intersection(*(set(ev.get(k, {})) for k in ORDER_SCHEMES)))
    readings = {"end": lambda e: e[-1]["FID"],
                f"mean of the last {last} evaluations":
                    lambda e: sum(x["FID"] for x in e[-last:]) / len(e[-last:])}
    fid = {(k, s, at): f(ev[k][s]) for k in ORDER_SCHEMES for s in seeds
           for at, f in readings.items()}
    pairs = []
    for a, b, what in ORDER_PAIRS if seeds else ():
        for at in readings:
            m, lo, hi = paired_interval([fid[(a, s, at)] for s in seeds],
                                        [fid[(b, s, at)] for s in seeds])
            pairs.append({"a": a, "b": b, "what": what, "at": at, "n": len(seeds),
                          "a-b": m, "low": lo, "high": hi,
                          "verdict": verdict(lo, hi, a, b)})
    rows = [{"seed": s, "at": at, **{k: fid[(k, s, at)] for k in ORDER_SCHEMES}}
            for s in seeds for at in readings]
    return {"gan": gan, "seeds": rows, "pairs": pairs, "n": len(seeds),
            "cause": order_cause(pairs),
            # the intervals of the two causes' pairs that exclude 0
            "excluding": [(q["a"], q["b"], q["at"]) for q in pairs
                          if (q["a"], q["b"]) != ("one", "two")
                          and excludes_zero(q["low"], q["high"])],
            "evals": {k: {s: ev[k][s] for s in seeds} for k in ORDER_SCHEMES}}


# what the update-order test ties the one-against-two difference to (update_order's "cause")
NOT_RUN = "not run"  # no seed has all three schemes yet
ORDER = "the order of the updates"  # the variant away from two, level with one
SHARED_BATCH = "one stage's shared fake batch"  # the variant level with two, away from one
ORDER_AGAINST_SHARED = "the order, partly made up by the shared batch"  # worse than both
UNTIED = "neither alone"
CAUSES = (NOT_RUN, ORDER, SHARED_BATCH, ORDER_AGAINST_SHARED, UNTIED)


def order_cause(pairs: list[dict[str, Any]]) -> str:
    """One of :data:`CAUSES` from :func:`update_order`'s pairs: :data:`ORDER` where the variant
    minus two stages excludes 0 in every reading and one stage minus the variant in none;
    :data:`SHARED_BATCH` the other way round; else :data:`ORDER_AGAINST_SHARED` where, on the
    means, the variant is worse than both in every reading (the intervals need not exclude 0);
    else :data:`UNTIED`."""
    if not pairs:
        return NOT_RUN
    order = [q for q in pairs if (q["a"], q["b"]) == ("two-simultaneous", "two")]
    shared = [q for q in pairs if (q["a"], q["b"]) == ("one", "two-simultaneous")]

    def excl(q):
        return excludes_zero(q["low"], q["high"])

    if all(map(excl, order)) and not any(map(excl, shared)):
        return ORDER
    if all(map(excl, shared)) and not any(map(excl, order)):
        return SHARED_BATCH
    if all(q["a-b"] > 0 for q in order) and all(q["a-b"] < 0 for q in shared):
        return ORDER_AGAINST_SHARED
    return UNTIED


def table1_of(runs: list[dict[str, Any]], gan: str, seeds: list[int] | None = None
              ) -> dict[str, Any] | None:
    """:func:`table1`'s row of ``gan`` over ``seeds`` (default: every finished one); None where
    no pair finished."""
    rows = table1([r for r in runs if r["gan"] == gan and (seeds is None or r["seed"] in seeds)])
    return rows[0] if rows else None


def variant_rows(runs: list[dict[str, Any]], early: int = 1000) -> list[dict[str, Any]]:
    """Per finished run of a sweep with variants: what its variant changes, its FID at ``early``
    steps (the last evaluation at or before), its best FID and the step of it, its last FID, and
    the effective number of classes its samples cover at the last evaluation (None if not
    recorded). A run whose last FID is well above its best lost ground as it trained."""
    out = []
    for r in runs:
        ev = r["evals"]
        if not (r["done"] and ev):
            continue
        before = [e for e in ev if e["step"] <= early] or ev[:1]
        best = min(ev, key=lambda e: e["FID"])
        out.append({"variant": r["variant"] or "(none)", "gan": r["gan"], "scheme": r["scheme"],
                    "seed": r["seed"],
                    "changes": ", ".join(f"{k}={v}" for k, v in r["changes"].items()) or "none",
                    f"FID at {early}": before[-1]["FID"], "best FID": best["FID"],
                    "best at step": best["step"], "last FID": ev[-1]["FID"],
                    "last / best": ev[-1]["FID"] / best["FID"], "classes": ev[-1]["classes"],
                    "steps": ev[-1]["step"]})
    return out


def class_table(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per objective, the classes the final samples cover (effective number, from the last
    evaluation where it reported them, else from ``rescore.json``): per scheme the mean over
    seeds (``classes one``) and the fewest with its seed (``fewest one``, ``fewest one seed``),
    where a single collapsed run shows that the mean hides; with the number of seeds.
    Objectives with none are left out."""
    out: dict[str, dict[str, list[tuple[float, int]]]] = {}
    for r in runs:
        if not (r["done"] and r["evals"]):
            continue
        c = r["evals"][-1].get("classes")
        if c is None and r.get("rescore"):
            c = r["rescore"].get("classes_eff")
        if c is not None:
            out.setdefault(r["gan"], {}).setdefault(r["scheme"], []).append((c, r["seed"]))
    rows = []
    for g, by in out.items():
        row: dict[str, Any] = {"gan": g}
        for sc, v in by.items():
            fewest = min(v)
            row |= {f"classes {sc}": sum(c for c, _ in v) / len(v), f"fewest {sc}": fewest[0],
                    f"fewest {sc} seed": fewest[1]}
        rows.append(row | {"seeds": max(len(v) for v in by.values())})
    return rows


def plateaus(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plateau rule for every finished run."""
    return [{"gan": r["gan"], "scheme": r["scheme"], "seed": r["seed"]}
            | plateau(r["evals"], r["steps"]) for r in runs if r["done"] and r["evals"]]


def first_reach(ev: list[dict[str, Any]], level: float) -> dict[str, Any] | None:
    """The first evaluation whose FID is at or below ``level`` (None if none is)."""
    return next((e for e in ev if e["FID"] <= level), None)


def _geo_ratio(t: dict[tuple[str, int], float], seeds: list[int]) -> tuple[float, float, float]:
    """Geometric mean of t[two] / t[one] over ``seeds`` and its 95% interval."""
    logs = [math.log(t[("two", s)] / t[("one", s)]) for s in seeds]
    m, lo, hi = paired_interval(logs, [0.0] * len(logs))
    return math.exp(m), math.exp(lo) if lo == lo else lo, math.exp(hi) if hi == hi else hi


def figure4(runs: list[dict[str, Any]], step_cost: dict[str, dict[str, float]] | None = None
            ) -> list[dict[str, Any]]:
    """Per objective: time to plateau of each scheme (mean over seeds; by a bench's seconds per
    step when ``step_cost`` maps the objective to ``{"one": s, "two": s}``, else by the runs' own
    clock), and the ratio two over one: geometric mean and 95% interval over paired seeds.

    Also, per seed pair, the time each scheme takes to first reach the FID both reach (within
    :data:`NEAR_BEST` of the worse of the two schemes' best FIDs): a ratio that does not need the
    runs to have flattened (``common: two / one``, ``common low``, ``common high``)."""
    out = []
    for gan in dict.fromkeys(r["gan"] for r in runs):
        cost = step_cost.get(gan) if step_cost else None
        ev = {(r["stages"], r["seed"]): r["evals"] for r in runs
              if r["gan"] == gan and r["done"] and r["evals"] and not r["exact"]}
        seeds = sorted({s for (sc, s) in ev if sc == "one"} & {s for (sc, s) in ev if sc == "two"})
        if not seeds:
            continue
        plateau, common = {}, {}
        for s in seeds:
            level = (1 + NEAR_BEST) * max(min(e["FID"] for e in ev[(sc, s)])
                                          for sc in ("one", "two"))
            for sc in ("one", "two"):
                for t, e in ((plateau, time_to_plateau(ev[(sc, s)])),
                             (common, first_reach(ev[(sc, s)], level))):
                    t[(sc, s)] = e["step"] * cost[sc] if cost else e["time"]
        ratio, lo, hi = _geo_ratio(plateau, seeds)
        c_ratio, c_lo, c_hi = _geo_ratio(common, seeds)
        out.append({"gan": gan, "n": len(seeds),
                    "time one (s)": mean_std([plateau[("one", s)] for s in seeds])[0],
                    "time two (s)": mean_std([plateau[("two", s)] for s in seeds])[0],
                    "two / one": ratio, "low": lo, "high": hi,
                    "common: two / one": c_ratio, "common low": c_lo, "common high": c_hi,
                    "clock": "bench step cost x steps" if cost else "the runs' own clock"})
    return out


def curves(runs: list[dict[str, Any]], gan: str, scheme: str, x: str = "step",
           step_cost: float | None = None
           ) -> tuple[list[float], list[float], list[float], list[float]]:
    """Mean, min and max FID over the seeds of (gan, scheme) at each evaluation, against ``x``
    (``step``, times ``step_cost`` when given: seconds per step measured by a bench; ``time``
    averages the runs' clocks): ``(xs, mean, low, high)``."""
    if step_cost is not None and x != "step":
        raise ValueError(f"step_cost scales steps; give x='step', not {x!r}")
    ev = [r["evals"] for r in runs if r["gan"] == gan and r["scheme"] == scheme and r["done"]]
    if not ev:
        return [], [], [], []
    n = min(len(e) for e in ev)
    xs = [sum(e[i][x] for e in ev) / len(ev) * (step_cost or 1) for i in range(n)]
    f = [[e[i]["FID"] for e in ev] for i in range(n)]
    return xs, [sum(v) / len(v) for v in f], [min(v) for v in f], [max(v) for v in f]


def live_agrees(recorded: list[dict[str, Any]], live: list[dict[str, Any]]) -> dict[str, bool]:
    """Per objective in both: does a live build's FID one - two (``osgan.compare.final_rows``)
    have the sign of the record's mean paired difference?"""
    fid = {(r["gan"], r["stages"]): r["FID"] for r in live}
    out = {}
    for r in recorded:
        if (r["gan"], "one") in fid and (r["gan"], "two") in fid:
            d = fid[(r["gan"], "one")] - fid[(r["gan"], "two")]
            out[r["gan"]] = (d < 0) == (r["FID one-two"] < 0)
    return out




def falling_power(slopes: list[float]) -> float | None:
    """The median power a of curves falling as FID ~ step^-a, from their log-log ``slopes``
    (:func:`loglog_slope`); None where there are none or they do not fall."""
    a = -float(np.median(slopes)) if slopes else None
    return a if a is not None and a > 0 else None


def details(rec: dict[str, Any], gans: list[str] | tuple[str, ...], paper_dataset: str = "celeba",
            costs: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    """Everything the chapters show about a recorded sweep (:func:`osgan.analysis.records.load`)
    beyond its planned verdicts, for the objectives ``gans``, as plain data: Table 1 on the last
    evaluation (``rows``), the plateau rule (``plateaus``, the runs ``falling`` and ``worse``,
    and ``power``: the median a of the falling runs' FID ~ step^-a, with ``third_gain`` = 1 -
    (2/3)^a, what such a curve gains in its last third), the floor and the finished runs' final
    FID over it (``floor``, ``over_floor``), the classes covered (``classes``,
    ``rescore_error``: how far rescored checkpoints are from the recorded FID), and Figure 4 on
    time to plateau (``fig4``) with the step ``costs`` it used (per objective: its own bench
    cost, else that of its kind, dcgan or dcgan_ns)."""
    runs = [r for r in rec["runs"] if r["gan"] in gans]
    flat = plateaus(runs)
    falling = [p for p in flat if not p["plateaued"] and p["gain"] >= 0]
    power = falling_power([p["slope"] for p in falling if p["slope"] is not None])
    finals = [r["evals"][-1]["FID"] for r in runs if r["done"] and r["evals"]]
    floor = rec.get("floor")
    rescored = [abs(c["FID"] - c["recorded FID"])
                for c in (rec.get("rescore") or {}).get("cells", {}).values()]
    if costs is not None:
        kind = {True: "dcgan", False: "dcgan_ns"}
        costs = {g: costs.get(g) or costs.get(kind[losses.get(g).symmetric]) for g in gans}
    return {
        "runs": runs, "rows": table1(runs, paper_dataset=paper_dataset),
        "steps": sorted({r["steps"] for r in runs}),
        "plateaus": flat, "falling": falling, "worse": [p for p in flat if p["gain"] < 0],
        "power": power, "third_gain": None if power is None else 1 - (2 / 3) ** power,
        "floor": floor,
        "over_floor": (min(finals) / floor["FID"], max(finals) / floor["FID"])
        if floor and finals else None,
        "classes": class_table(runs), "rescore_error": max(rescored) if rescored else None,
        "costs": costs, "fig4": figure4(runs, costs),
    }
