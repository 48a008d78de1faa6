r"""Verdicts from a recorded sweep (:mod:`osgan.sweep`): Table 1 and Figure 4 with their
uncertainty.

**Plateau rule.** A run has reached its plateau when the best FID of the last third of its
evaluations improves on the best FID before it by less than 10%:

.. math:: \min_{t > 2T/3} \mathrm{FID}(t) \;\ge\; 0.9 \min_{t \le 2T/3} \mathrm{FID}(t).

A curve that is still falling fails it; noise around a flat curve passes it.

**Table 1.** Per objective and scheme, the final FID and KID, mean and sample standard deviation
over seeds. The paired difference one minus two (the same seed fixes initialisation and data
order for both schemes) gets a 95% confidence interval from Student's t with n - 1 degrees of
freedom,

.. math:: \bar d \pm t_{0.975,\,n-1}\, s_d / \sqrt n,

and the verdict in words: "one stage better" when the interval lies below 0, "two stages better"
when it lies above 0, else "no difference detected at n = ...".

**Figure 4.** Time to plateau: the training time of the first evaluation whose FID is within 10%
of the run's best, :math:`t^\star = \min\{t : \mathrm{FID}(t) \le 1.1 \min_s \mathrm{FID}(s)\}`.
The step count at :math:`t^\star` times a step cost measured side by side for both schemes
(``python -m osgan bench``) gives a time free of the sweep's own load; the run's own clock is
kept as the secondary axis. The ratio two over one is summarised by its geometric mean over
seeds with a 95% interval from the t interval of the paired log-ratios.

In this implementation we use the last evaluation as "final" (every run of a recorded sweep has
the same number of steps), and compute the t quantile with SciPy (``scipy.stats.t.ppf``); the
tests check the intervals against ``scipy.stats.ttest_rel``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from osgan import harness, plots

PLATEAU_GAIN = 0.10  # the last third may improve on the best before it by less than this
NEAR_BEST = 0.10  # time to plateau: first FID within this fraction of the run's best


def evals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The evaluation rows of a run: ``step``, ``time`` (training clock), ``FID``, ``KID`` and
    ``classes`` (effective number of classes, :func:`osgan.metrics.fid.class_spread`; None where
    the run did not record it)."""
    return [{"step": r["step"], "time": r["Time/train"], "FID": r["Eval/FID"],
             "KID": r["Eval/KID"], "classes": r.get("Eval/classes_eff"),
             "feature_space": r.get("Eval/feature_space")}
            for r in records if "Eval/FID" in r]


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
    import numpy as np

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


# ----------------------------------------------------------------------------------------------
# statistics


def mean_std(xs: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1); the std is NaN for one value."""
    n = len(xs)
    m = sum(xs) / n
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1)) if n > 1 else float("nan")
    return m, s


def paired_interval(a: list[float], b: list[float], level: float = 0.95
                    ) -> tuple[float, float, float]:
    """Mean of the paired differences a - b and its ``level`` confidence interval (Student's t,
    n - 1 degrees of freedom): ``(mean, low, high)``; NaN bounds for fewer than two pairs."""
    from scipy.stats import t

    d = [x - y for x, y in zip(a, b, strict=True)]
    m, s = mean_std(d)
    if len(d) < 2:
        return m, float("nan"), float("nan")
    half = t.ppf(0.5 + level / 2, len(d) - 1) * s / math.sqrt(len(d))
    return m, m - half, m + half


def verdict(low: float, high: float, n: int) -> str:
    """Words for an interval of one minus two (lower FID is better)."""
    return verdict_named(low, high, n, "one stage", "two stages")


def verdict_named(low: float, high: float, n: int, a: str, b: str) -> str:
    """Words for an interval of FID ``a`` minus ``b`` (lower is better)."""
    if high < 0:
        return f"{a} better"
    if low > 0:
        return f"{b} better"
    return f"no difference detected at n = {n}"


# ----------------------------------------------------------------------------------------------
# reading a record


def _cells(results: str | Path) -> tuple[dict, dict, list[tuple[Path, dict]]]:
    """A record folder's marker, provenance, and (folder, config) of each cell in it."""
    from osgan.sweep import read_provenance

    results = Path(results)
    marker = json.loads((results / "sweep.json").read_text())
    cells = [(d, json.loads((d / "config.json").read_text())["config"])
             for d in sorted(p for p in results.iterdir() if (p / "config.json").exists())]
    return marker, read_provenance(results), cells


def load(results: str | Path) -> dict[str, Any]:
    """A sweep's record: ``sweep`` (its marker), ``provenance``, ``runs`` (one per cell
    folder: ``gan``, ``stages``, ``exact``, ``scheme``, ``seed``, ``done``, ``steps``, ``evals``,
    ``samples``, and in a sweep with variants the cell's ``variant`` and the settings it
    ``changes``; ``rescore``, the cell's entry in ``rescore.json`` or None), ``floor``
    (``floor.json``, the FID of real images at the record's evaluation settings, when recorded;
    else None) and ``rescore`` (``rescore.json``: the final generators evaluated again)."""
    from osgan.sweep import Cell

    marker, prov, cells = _cells(results)
    variants = marker["spec"].get("variants", {})
    runs = []
    for d, cfg in cells:
        rows = harness.read_rows(d / "metrics.jsonl", upto=cfg["steps"])
        grids = sorted((d / "samples").glob("step_*.png"))
        exact = cfg.get("exact", False)
        # the variant whose cell name this folder has ("" in a sweep without variants)
        variant = next((v for v in variants if Cell(cfg["gan"], cfg["stages"], exact, cfg["seed"],
                                                    v).name == d.name), "")
        runs.append({"gan": cfg["gan"], "stages": cfg["stages"], "exact": exact,
                     "scheme": cfg["stages"] + ("-exact" if exact else ""),
                     "seed": cfg["seed"], "done": (d / "done.json").exists(),
                     "steps": cfg["steps"], "config": cfg, "evals": evals(rows),
                     "variant": variant, "changes": variants.get(variant, {}),
                     "samples": grids[-1] if grids else None, "path": d})
    floor_path = Path(results) / "floor.json"  # python -m osgan sweep NAME --floor
    floor = json.loads(floor_path.read_text()) if floor_path.exists() else None
    rescore_path = Path(results) / "rescore.json"  # python -m osgan sweep NAME --rescore
    rescore = json.loads(rescore_path.read_text()) if rescore_path.exists() else None
    for r in runs:
        r["rescore"] = rescore["cells"].get(r["path"].name) if rescore else None
    return {"sweep": marker, "provenance": prov, "runs": runs, "path": Path(results),
            "floor": floor, "rescore": rescore}


def table1(runs: list[dict[str, Any]], a: str = "one", b: str = "two",
           paper_dataset: str = "celeba") -> list[dict[str, Any]]:
    """Per objective: FID and KID mean ± std of schemes ``a`` and ``b`` over the seeds both
    finished, the paired difference a - b with its 95% interval, the verdict, and the paper's
    direction on ``paper_dataset`` beside it."""
    paper = {(p["gan"], p["stages"]): p for p in plots.paper_table("table1")}
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
        row["verdict"] = verdict(row["FID low"], row["FID high"], len(seeds))
        p_one = paper.get((plots.PAPER_NAMES[gan], "one"), {}).get(f"{paper_dataset}_fid")
        p_two = paper.get((plots.PAPER_NAMES[gan], "two"), {}).get(f"{paper_dataset}_fid")
        row[f"paper ({paper_dataset})"] = (None if p_one is None or p_two is None else
                                           "one stage better" if p_one < p_two else
                                           "two stages better")
        row["feature space"] = final[(a, seeds[0])]["feature_space"]
        out.append(row)
    return out


def verdict_line(runs: list[dict[str, Any]], gan: str, seeds: list[int] | None = None) -> str:
    """``gan``'s Table 1 verdict in a line, over ``seeds`` (default: all finished):
    "one - two +0.053 [+0.049, +0.057], two stages better (n = 3)"; "" where no pair finished."""
    rows = table1([r for r in runs if r["gan"] == gan and (seeds is None or r["seed"] in seeds)])
    if not rows:
        return ""
    (r,) = rows
    diff = plots._interval(r["FID one-two"], r["FID low"], r["FID high"], "{:+.3f}")
    return f"one - two {diff}, {r['verdict']}" + ("" if "n = " in r["verdict"] else
                                                   f" (n = {r['n']})")


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
    the verdict), over the seeds where all three finished."""
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
                          "verdict": verdict_named(lo, hi, len(seeds), a, b)})
    rows = [{"seed": s, "at": at, **{k: fid[(k, s, at)] for k in ORDER_SCHEMES}}
            for s in seeds for at in readings]
    return {"gan": gan, "seeds": rows, "pairs": pairs, "n": len(seeds),
            "evals": {k: {s: ev[k][s] for s in seeds} for k in ORDER_SCHEMES}}


def order_text(out: dict[str, Any] | None) -> str:
    """What :func:`update_order` says, in words: which of the order of the updates and one
    stage's shared fake batch the record ties the one-against-two difference to, with the
    numbers at the end of the runs and over their last evaluations."""
    if not out or not out["n"]:
        return ("The test has not run to the end on any seed yet, so the record does not say "
                "whether the order of the updates explains the difference.")
    p = {(q["a"], q["b"], q["at"]): q for q in out["pairs"]}
    readings = list(dict.fromkeys(q["at"] for q in out["pairs"]))

    def num(q):
        return plots._interval(q["a-b"], q["low"], q["high"], "{:+.3f}")

    def excl(q):
        return q["low"] > 0 or q["high"] < 0

    order = [p[("two-simultaneous", "two", at)] for at in readings]
    shared = [p[("one", "two-simultaneous", at)] for at in readings]
    total = [p[("one", "two", at)] for at in readings]
    n = out["n"]
    said = (f"At the end of the runs (n = {n}), two stages with G on D before its update minus "
            f"the paper's two stages: {num(order[0])}; one stage minus that variant: "
            f"{num(shared[0])}; one stage minus the paper's two stages: {num(total[0])}. Over "
            f"the {readings[1].removeprefix('mean of the ')}: {num(order[1])}, "
            f"{num(shared[1])} and {num(total[1])}.")
    if all(map(excl, order)) and not any(map(excl, shared)):
        lead = ("**The order of the updates accounts for it.** Moved through D from before D's "
                "update, the paper's two-stage round loses its edge and lands with one stage. "
                "What helps two stages here is G reading the D that has just been updated, "
                "which one stage cannot do with one pass; the one-stage gradient itself is "
                "exact (chapter 01).")
    elif all(map(excl, shared)) and not any(map(excl, order)):
        lead = ("**Not the order of the updates.** At the same order the paper's two-stage round "
                "keeps its edge; what is left between the schemes is one stage's shared fake "
                "batch: D and G update on the same generated images, where two stages draw new "
                "ones for G.")
    else:
        sure = [("the variant against the paper's two stages" if q["b"] == "two" else
                 "one stage against the variant") + f", {q['at']}"
                for q in (*order, *shared) if excl(q)]
        which = (f"{len(sure)} of these {2 * len(readings)} intervals exclude"
                 f"{'s' if len(sure) == 1 else ''} 0 ({'; '.join(sure)})" if sure else
                 "none of these intervals excludes 0")
        if all(q["a-b"] > 0 for q in order) and all(q["a-b"] < 0 for q in shared):
            lead = ("**The order of the updates matters, and one stage's shared fake batch "
                    "makes up part of it.** In every reading the variant is worse, on the means, "
                    "than both the paper's two stages and one stage: moved through D from "
                    "before D's update, the two-stage round loses more than the gap between the "
                    "schemes, and at that same order one stage does better than it. "
                    f"At n = {n}, {which}, so the record suggests this rather than shows it.")
        else:
            lead = ("**The record does not tie the difference to either cause alone** at "
                    f"n = {n}; {which}.")
    return f"{lead} {said}"


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
    evaluation where it reported them, else from ``rescore.json``), mean over seeds per scheme,
    with the number of seeds; objectives with none are left out."""
    out: dict[str, dict[str, Any]] = {}
    for r in runs:
        if not (r["done"] and r["evals"]):
            continue
        c = r["evals"][-1].get("classes")
        if c is None and r.get("rescore"):
            c = r["rescore"].get("classes_eff")
        if c is not None:
            out.setdefault(r["gan"], {}).setdefault(r["scheme"], []).append(c)
    return [{"gan": g, **{f"classes {sc}": sum(v) / len(v) for sc, v in by.items()},
             "seeds": max(len(v) for v in by.values())} for g, by in out.items()]


def plateaus(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plateau rule for every finished run."""
    return [{"gan": r["gan"], "scheme": r["scheme"], "seed": r["seed"]}
            | plateau(r["evals"], r["steps"]) for r in runs if r["done"] and r["evals"]]


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


def provenance_text(rec: dict[str, Any]) -> str:
    """Where a record came from, in one paragraph: machines, commits, dates, commands, and how
    many of its cells are finished."""
    sessions = rec["provenance"]["sessions"]
    runs = rec["runs"]
    from osgan.sweep import total_cells

    total = total_cells(rec["sweep"]["sweep"], rec["path"])
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


# ----------------------------------------------------------------------------------------------
# Table 2: a recorded DFAD sweep (osgan.sweep, kind "dfad")
#
# Per scheme, the grid point (recipe and learning rates) with the highest validation accuracy at
# the end of its runs, averaged over seeds, is chosen; the test split is read only for the chosen
# points. The schemes are then compared on the test split, seed by seed (paired): at the end of
# their runs, at equal rounds, at equal student updates (a two-stage round updates the student
# student_steps times, a one-stage or KD round once), at equal training time (by the bench's
# round costs, and by the shorter run's clock of each pair), and at each run's best evaluation
# on the validation split (early stopping: an adversarial student's accuracy swings by several
# points between evaluations, so the last one is a noisy end). Higher accuracy is better.

# Plateau rule for a distillation run: the best validation accuracy of the last third of its
# evaluations beats the best before it by less than this (accuracy, absolute): a student still
# learning fails it.
ACC_PLATEAU_GAIN = 0.01

# student updates per round
UPDATES = {"one": lambda cfg: 1, "two": lambda cfg: cfg["student_steps"], "kd": lambda cfg: 1}


def load_dfad(results: str | Path) -> dict[str, Any]:
    """A DFAD sweep's record: ``sweep``, ``provenance`` and ``runs`` (one per cell folder:
    ``scheme``, ``point``, ``seed``, ``done``, ``rounds``, ``config``, ``records``, and from
    ``done.json`` ``accuracy`` (whole test split), ``val_accuracy``, ``teacher_accuracy``)."""
    from osgan.sweep import DFADCell

    marker, prov, cells = _cells(results)
    runs = []
    for d, cfg in cells:
        rows = harness.read_rows(d / "metrics.jsonl", upto=cfg["rounds"], key="round")
        done = json.loads((d / "done.json").read_text()) if (d / "done.json").exists() else {}
        point = DFADCell(cfg["scheme"], cfg["hparams"], cfg["lr_s"], cfg["lr_g"], 0,
                         cfg.get("g_every", 1)).point
        runs.append({"scheme": cfg["scheme"], "point": point, "seed": cfg["seed"],
                     "done": done.get("rounds", -1) >= cfg["rounds"], "rounds": cfg["rounds"],
                     "config": cfg, "records": rows, "accuracy": done.get("accuracy"),
                     "val_accuracy": done.get("val_accuracy"),
                     "teacher_accuracy": done.get("teacher_accuracy"), "path": d})
    return {"sweep": marker, "provenance": prov, "runs": runs, "path": Path(results)}


def at_length(run: dict[str, Any], rounds: int) -> dict[str, Any]:
    """``run`` as a run of ``rounds`` rounds would read: its evaluations up to there, and its
    test and validation accuracy there (the last evaluation at or before ``rounds``; the
    whole-split final ones when that is its end). A run no longer than ``rounds`` is returned
    as it is. How a tuned sweep reads its grid at the grid's length once a chosen point runs on
    to its plateau (``extend`` in :data:`osgan.settings.SWEEPS`)."""
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


def run_on(runs: list[dict[str, Any]], grid_rounds: dict[str, int] | None
           ) -> list[dict[str, Any]]:
    """What running on past the grid's length showed: per finished run longer than its
    scheme's grid length (a chosen point run on to its plateau), ``name``, ``scheme``, ``seed``,
    ``grid`` (rounds) with ``grid val`` and ``grid test`` there (:func:`at_length`), ``best val``
    and ``best round`` (its best validation evaluation, :func:`best_val_round`), ``rounds``
    with ``val`` and ``test`` at its end, and ``plateaued`` (:func:`dfad_plateau`)."""
    out = []
    for r in runs:
        grid = (grid_rounds or {}).get(r["scheme"])
        if not r["done"] or grid is None or r["rounds"] <= grid:
            continue
        cut, best = at_length(r, grid), best_val_round(r)
        out.append({"name": r["path"].name, "scheme": r["scheme"], "seed": r["seed"],
                    "grid": grid, "grid val": cut["val_accuracy"], "grid test": cut["accuracy"],
                    "best val": None if best is None else next(
                        x["Accuracy/val"] for x in r["records"] if x["round"] == best),
                    "best round": best, "rounds": r["rounds"], "val": r["val_accuracy"],
                    "test": r["accuracy"], "plateaued": dfad_plateau(r)["plateaued"]})
    return sorted(out, key=lambda x: (x["scheme"], x["seed"]))


def choose(runs: list[dict[str, Any]], scheme: str) -> list[dict[str, Any]]:
    """The grid points of ``scheme`` with their mean final validation accuracy over the seeds
    that finished, best first (ties: the first in the record's order)."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        if r["scheme"] == scheme and r["done"] and r["val_accuracy"] is not None:
            by.setdefault(r["point"], []).append(r)
    rows = [{"scheme": scheme, "point": pt, "n": len(rs),
             "val": mean_std([r["val_accuracy"] for r in rs])[0],
             "seeds": sorted(r["seed"] for r in rs)} for pt, rs in by.items()]
    return sorted(rows, key=lambda r: -r["val"])


def _at(run: dict[str, Any], *, round: float | None = None, seconds: float | None = None):
    """Test accuracy of the last evaluation at or before ``round`` (or ``seconds`` of training
    clock); the whole-split final accuracy when that is the run's end."""
    from osgan.dfad import accuracy_at

    if round is not None and round >= run["rounds"]:
        return run["accuracy"]
    return accuracy_at(run["records"], round=round, seconds=seconds)


def verdict_acc(low: float, high: float, n: int, a: str = "one", b: str = "two") -> str:
    """Words for an interval of accuracy ``a`` minus ``b`` (higher is better)."""
    if low > 0:
        return f"{a} better"
    if high < 0:
        return f"{b} better"
    return f"no difference detected at n = {n}"


def dfad_plateau(run: dict[str, Any]) -> dict[str, Any]:
    """The plateau rule on one distillation run (:data:`ACC_PLATEAU_GAIN`), on its validation
    accuracy (test accuracy where a run has no validation split): ``plateaued``,
    ``best_before`` and ``best_last_third`` (accuracies), ``gain`` (their difference)."""
    key = "Accuracy/val" if all("Accuracy/val" in r for r in run["records"]) else \
        "Accuracy/student"
    cut = 2 * run["rounds"] / 3
    before = [r[key] for r in run["records"] if r["round"] <= cut]
    last = [r[key] for r in run["records"] if r["round"] > cut]
    if not before or not last:
        return {"plateaued": False, "best_before": None, "best_last_third": None, "gain": None}
    b, a = max(before), max(last)
    return {"plateaued": a - b < ACC_PLATEAU_GAIN, "best_before": b, "best_last_third": a,
            "gain": a - b}


def best_val_round(run: dict[str, Any]) -> int | None:
    """The round of ``run``'s evaluation with the highest validation accuracy (the first of
    ties): where early stopping on the validation split would keep the student. None for a run
    without a validation split."""
    rows = [r for r in run["records"] if "Accuracy/val" in r]
    if not rows or len(rows) < len(run["records"]):
        return None
    return max(rows, key=lambda r: (r["Accuracy/val"], -r["round"]))["round"]


def ablation_pairs(runs: list[dict[str, Any]], a: str = "one", b: str = "two",
                   costs: dict[str, float] | None = None
                   ) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every finished point of scheme ``a`` against every finished point of ``b``, paired by
    seed (:func:`compare_points`' ``paired``, at equal time by ``costs`` too where given):
    (point of a, point of b) -> paired rows."""
    done = [r for r in runs if r["done"]]
    points = {sc: list(dict.fromkeys(r["point"] for r in done if r["scheme"] == sc))
              for sc in (a, b)}
    return {(pa, pb): compare_points(done, {a: pa, b: pb}, a, b, costs)["paired"]
            for pb in points[b] for pa in points[a]}


def dfad_classes(results: str | Path, points: dict[str, str] | None = None
                 ) -> dict[str, Any] | None:
    """A DFAD record's class-by-class reading (its ``rescore.json``, :func:`osgan.dfad.diagnose`)
    for the adversarial cells of ``points`` (scheme -> point; every adversarial cell when None):
    ``cells`` (name -> entry), ``eff`` (each cell's effective number of classes shown), ``rare``
    (the names of the classes under 2% of every generator's images), ``spearman`` and ``p`` (the
    rank correlation of a class's share of G(z) and the student's test accuracy on it, over every
    (cell, class)), ``pairs`` and ``rescore`` (the file). None where the record has no
    rescore."""
    from scipy import stats

    from osgan import data

    path = Path(results) / "rescore.json"
    if not path.exists():
        return None
    rs = json.loads(path.read_text())
    cells = {n: c for n, c in rs["cells"].items() if "class_fractions" in c and (
        points is None or any(n.startswith(f"{sc}-{pt}-seed") for sc, pt in points.items()))}
    share = [f for c in cells.values() for f, a in zip(c["class_fractions"], c["per_class"],
                                                       strict=True) if a is not None]
    acc = [a for c in cells.values() for a in c["per_class"] if a is not None]
    rho, p = stats.spearmanr(share, acc) if len(acc) > 2 else (float("nan"), float("nan"))
    names = data.CLASS_NAMES["fashion_mnist"]
    rare = [names[k] for k in range(len(names))
            if cells and all(c["class_fractions"][k] < 0.02 for c in cells.values())]
    return {"cells": cells, "eff": [c["classes_eff"] for c in cells.values()], "rare": rare,
            "spearman": float(rho), "p": float(p), "pairs": len(acc), "rescore": rs}


def dfad_classes_paired(cells: dict[str, dict], points: dict[str, str], a: str = "one",
                        b: str = "two") -> list[dict[str, Any]]:
    """``a`` against ``b`` at their ``points``, paired by seed, in what the final generators show
    and teach (:func:`dfad_classes`'s ``cells``): for the effective number of classes shown and
    for the student's agreement with the teacher on G(z), each scheme's mean, the mean paired
    difference a - b with its 95% interval, and n. Empty where no seed has both."""
    def by_seed(scheme):
        prefix = f"{scheme}-{points.get(scheme)}-seed"
        return {int(n[len(prefix):]): c for n, c in cells.items()
                if n.startswith(prefix) and n[len(prefix):].isdigit()}

    ca, cb = by_seed(a), by_seed(b)
    seeds = sorted(set(ca) & set(cb))
    if not seeds:
        return []
    out = []
    for key, what in (("classes_eff", "classes shown (effective)"),
                      ("agreement", "student = teacher on G(z)")):
        xa, xb = [ca[s][key] for s in seeds], [cb[s][key] for s in seeds]
        m, lo, hi = paired_interval(xa, xb)
        out.append({"measure": what, "n": len(seeds), a: mean_std(xa)[0], b: mean_std(xb)[0],
                    f"{a} - {b}": m, "low": lo, "high": hi})
    return out


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


def dfad_table2(runs: list[dict[str, Any]], a: str = "one", b: str = "two",
                tune_seeds: list[int] | None = None,
                costs: dict[str, float] | None = None,
                grid_rounds: dict[str, int] | None = None) -> dict[str, Any]:
    """Table 2 from a record: ``chosen`` (scheme -> best point by validation accuracy, over
    ``tune_seeds`` only when given: the seeds the whole grid ran on; among the grid's points
    where the scheme has any, as :func:`osgan.sweep.tuned_points` chooses the points it runs on
    every seed, the recipes being reported on their own below),
    ``rows`` (one per scheme: the chosen point, its validation and final test accuracy, mean and
    std over seeds) and ``paired`` (``a`` against ``b`` at their chosen points: at the end, at
    equal rounds, at equal student updates, at equal time, and each run at its best evaluation
    on the validation split (:func:`best_val_round`); mean ± std of each, the paired
    difference a - b with its 95% interval, and the verdict); and ``recipes`` (recipe name ->
    the same ``rows`` and ``paired`` at that shared setting, the same point for every scheme).
    Equal time is by ``costs`` (scheme -> seconds a round, :func:`dfad_round_costs`) when given,
    and always by the runs' own training clock too. ``grid_rounds`` (scheme -> rounds): the
    choice reads every run at the grid's length (:func:`at_grid`), so that a chosen point run
    on to its plateau does not change the choice it came from; the rows and pairs read each
    run at its end."""
    tuning = at_grid([r for r in runs if tune_seeds is None or r["seed"] in tune_seeds],
                     grid_rounds)
    grid = [r for r in tuning if r["config"]["hparams"] == "adam"]
    chosen = {}
    for sc in dict.fromkeys(r["scheme"] for r in runs):
        best = choose(grid, sc) or choose(tuning, sc)  # a recipe only where no grid ran
        if best:
            chosen[sc] = best[0]["point"]
    # a recipe's cells are the same published setting for every scheme (the grid's are "adam")
    recipes = dict.fromkeys(r["point"] for r in runs if r["config"]["hparams"] != "adam")
    out = {"chosen": chosen, **compare_points(runs, chosen, a, b, costs)}
    out["recipes"] = {rp: compare_points(runs, {sc: rp for sc in dict.fromkeys(
        r["scheme"] for r in runs if r["point"] == rp)}, a, b, costs) for rp in recipes}
    return out


def compare_points(runs: list[dict[str, Any]], points: dict[str, str], a: str, b: str,
                   costs: dict[str, float] | None = None) -> dict[str, Any]:
    """``rows`` and ``paired`` of :func:`dfad_table2` for the given point of each scheme."""
    pick = {sc: {r["seed"]: r for r in runs if r["scheme"] == sc and r["point"] == pt
                 and r["done"]} for sc, pt in points.items()}
    rows = []
    for sc, by_seed in pick.items():
        rs = list(by_seed.values())
        if not rs:
            continue
        val, test = mean_std([r["val_accuracy"] for r in rs]), mean_std([r["accuracy"] for r in rs])
        lengths = sorted({r["rounds"] for r in rs})  # several where runs went on to a plateau
        rows.append({"scheme": sc, "point": points[sc], "n": len(rs), "val": val[0],
                     "val std": val[1], "test": test[0], "test std": test[1],
                     "rounds": lengths[0] if len(lengths) == 1 else
                     f"{lengths[0]}-{lengths[-1]}"})
    paired = []
    seeds = sorted(set(pick.get(a, {})) & set(pick.get(b, {})))
    ways = ["end", "equal rounds", "equal student updates"]
    ways += ["equal time (bench)"] if costs and all(round_cost(costs, pick[sc][s]) for sc in (a, b)
                                          for s in seeds) else []
    ways += ["equal time (runs' clock)"]
    ways += ["best on validation"] if all(best_val_round(pick[sc][s]) is not None
                                          for sc in (a, b) for s in seeds) else []
    if seeds:
        for what in ways:
            xa, xb, at = [], [], []
            for s in seeds:
                ra, rb = pick[a][s], pick[b][s]
                if what == "end":
                    pa, pb = dict(round=ra["rounds"]), dict(round=rb["rounds"])
                elif what == "equal rounds":
                    n = min(ra["rounds"], rb["rounds"])
                    pa = pb = dict(round=n)
                elif what == "equal student updates":
                    ua, ub = UPDATES[a](ra["config"]), UPDATES[b](rb["config"])
                    u = min(ra["rounds"] * ua, rb["rounds"] * ub)
                    pa, pb = dict(round=u / ua), dict(round=u / ub)
                elif what == "equal time (bench)":  # rounds x the cost timed side by side
                    ca, cb = round_cost(costs, ra), round_cost(costs, rb)
                    t = min(ra["rounds"] * ca, rb["rounds"] * cb)
                    pa, pb = dict(round=t / ca), dict(round=t / cb)
                elif what == "equal time (runs' clock)":
                    t = min(ra["records"][-1]["Time/train"], rb["records"][-1]["Time/train"])
                    pa = pb = dict(seconds=t)
                else:  # each run at its own best evaluation on the validation split
                    pa, pb = dict(round=best_val_round(ra)), dict(round=best_val_round(rb))
                xa.append(_at(ra, **pa))
                xb.append(_at(rb, **pb))
                at.append(pa)
            m, lo, hi = paired_interval(xa, xb)
            paired.append({"at": what, "n": len(seeds), a: mean_std(xa)[0],
                           f"{a} std": mean_std(xa)[1], b: mean_std(xb)[0],
                           f"{b} std": mean_std(xb)[1], f"{a}-{b}": m, "low": lo, "high": hi,
                           "verdict": verdict_acc(lo, hi, len(seeds), a, b), "points": at})
    return {"rows": rows, "paired": paired}


def dfad_progress(rec: dict[str, Any]) -> tuple[int, int, list[dict[str, Any]]]:
    """How far a DFAD record (:func:`load_dfad`) is through its sweep's plan: the finished runs
    the plan holds (as long as it asks: a chosen point still to run on to its plateau is not
    counted), the cells the plan will run in all, and the finished runs it no longer holds
    (cells of an earlier plan kept in the record, e.g. a recipe it ran first)."""
    from osgan.sweep import plan

    listed, later = plan(rec["sweep"]["sweep"], rec["path"])
    length = {c.name: c.rounds or 0 for c in listed}  # a chosen point's, where it runs on
    done = [r for r in rec["runs"] if r["done"]]
    return (sum(r["rounds"] >= length.get(r["path"].name, r["rounds"] + 1) for r in done),
            len(listed) + later, [r for r in done if r["path"].name not in length])


def dfad_provenance_text(rec: dict[str, Any]) -> str:
    """Where a DFAD record came from, in one paragraph, with the settings every run shares."""
    sessions, runs = rec["provenance"]["sessions"], rec["runs"]
    done, total, off = dfad_progress(rec)
    extra = (f" (besides, {len(off)} finished run(s) of points the sweep no longer runs: "
             f"{', '.join(sorted({r['point'] for r in off}))})" if off else "")
    if not sessions:
        return f"Recorded sweep `{rec['sweep']['sweep']}`: {done} of {total} runs finished{extra}."
    cpus = sorted({s["cpu"] for s in sessions})
    commits = sorted({s["commit"][:10] + ("+dirty" if s.get("dirty") else "") for s in sessions})
    start = min(s["start"] for s in sessions)
    end = max((s["end"] or s["start"]) for s in sessions)
    commands = sorted({s["command"] for s in sessions if s["command"]})
    c = runs[0]["config"] if runs else {}
    teacher = next((r["teacher_accuracy"] for r in runs if r["teacher_accuracy"]), None)
    setting = (f" Every run: {c.get('dataset')}, batch {c.get('batch_size')}, generator width "
               f"{c.get('g_width')}, nz {c.get('nz')}, teacher trained {c.get('teacher_epochs')} "
               f"epochs (test accuracy {teacher:.4f}), the last {c.get('val_n')} training images "
               "held out for choosing the learning rates." if c and teacher else "")
    return (f"Recorded sweep `{rec['sweep']['sweep']}`: {done} of {total} runs finished{extra}, "
            f"{len(sessions)} invocation(s) from {start} to {end} on {', '.join(cpus)}, "
            f"commit(s) {', '.join(commits)}, torch {sessions[-1]['torch']}; command: "
            f"`{'`, `'.join(commands)}`." + setting)
