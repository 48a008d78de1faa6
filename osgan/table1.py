"""Table 1 read under its analysis plan (:data:`osgan.plans.TABLE1`), as findings: numbers and
verdict values, no prose.

Per objective, the paired difference one minus two of each run's reading (the primary: the mean
of log domain-FID over the last 4 evaluations) over the plan's seeds that both schemes finished;
its mean as the ratio one/two with the 95% t-interval; the t-test's p-value, Holm-adjusted over
the objectives; equivalence within the plan's margin by two one-sided tests; the verdict; and the
smallest ratio the achieved n detects with the plan's power. Pooled over the objectives: a
random-effects meta-analysis of their mean differences (DerSimonian-Laird tau^2 with the
Hartung-Knapp t-interval), and, beside it, a plain t-test over the objectives' mean differences.
The secondary readings get the same per-objective numbers, labelled secondary; they never change
a verdict.

A cell's ``config.json`` carries the hash of the plan it was run under (``plan``); a record whose
cells carry another plan's hash is refused, and cells recorded before the plan (no hash) are
listed as such.

A pair is formed within one instrument (:mod:`osgan.analysis.instrument`): the cells recorded
on an AMD EPYC were measured with its domain classifier, those since with the one frozen on an
Intel Xeon. A seed whose two cells were measured with different classifiers is no pair: it is
listed (``mixed``) until one of its cells is measured with the other's. Beside the primary
findings, the same comparison within each instrument alone (``by_instrument``), a sensitivity
analysis fixed with the second instrument, before any of its cells was read; it never changes
a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from osgan import losses, paper, plans, stats
from osgan.analysis import records
from osgan.util import UsageError

ONE, TWO = "one", "two"


def reading(evals: list[dict[str, Any]], name: str) -> float:
    """One run's reading ``name`` (:data:`osgan.plans.READINGS`) from its evaluations (dicts with
    ``FID``, ``KID`` and, with an EMA generator, ``EMA/FID``); NaN when the run lacks it (no
    EMA, a KID at or below 0)."""
    if name not in plans.READINGS:
        raise UsageError(f"unknown reading {name!r}; choose one of: {', '.join(plans.READINGS)}")
    if not evals:
        return math.nan

    def logs(key: str, last: int | None) -> np.ndarray:
        xs = np.array([e.get(key, math.nan) for e in (evals[-last:] if last else evals)], float)
        return np.log(xs) if (xs > 0).all() else np.full(len(xs), math.nan)

    if name == "log_fid_last4":
        return float(logs("FID", 4).mean())
    if name == "log_fid_last":
        return float(logs("FID", 1)[0])
    if name == "log_fid_best":
        return float(logs("FID", None).min())
    if name == "log_fid_ema_last4":
        return float(logs("EMA/FID", 4).mean())
    return float(logs("KID", 4).mean())  # log_kid_last4


@dataclass(frozen=True)
class Comparison:
    """One objective under one reading: one/two as a ratio (exp of the mean log difference)."""

    gan: str
    reading: str
    seeds: tuple[int, ...]  # the plan's seeds both schemes finished with this reading
    instruments: tuple[str, ...]  # the domain classifier of each seed's pair
    n: int
    ratio: float
    low: float
    high: float
    p: float
    p_holm: float  # over the objectives, this reading
    tost_p: float
    detectable: float  # the smallest ratio (> 1) the n pairs detect at the plan's power
    mean: float  # the mean log difference one - two, and its sd over seeds
    sd: float
    verdict: str  # one of the plan's verdicts (secondary readings: for reference only)
    machines: tuple[str, ...] = ()  # where each seed's pair ran: "cpu" or the GPU's name
    diffs: tuple[float, ...] = ()  # each seed's log difference one - two, in the order of seeds


@dataclass(frozen=True)
class Findings:
    plan: str
    plan_hash: str
    primary: list[Comparison]
    secondary: dict[str, list[Comparison]]
    pooled: stats.Pooled | None  # on the log scale of the primary reading
    over_objectives: stats.Paired | None  # a t-test over the objectives' mean differences
    paper: dict[str, float]  # the paper's CelebA FID one/two per objective (its Table 1)
    before_plan: list[str]  # cells recorded before the plan (no hash)
    missing: dict[str, list[int]] = field(default_factory=dict)  # plan seeds not yet paired
    mixed: dict[str, list[int]] = field(default_factory=dict)  # done, but two instruments
    by_instrument: dict[str, list[Comparison]] = field(default_factory=dict)  # sensitivity

    def by_gan(self) -> dict[str, Comparison]:
        return {c.gan: c for c in self.primary}

    def pooled_ratio(self) -> tuple[float, float, float]:
        p = self.pooled
        return (math.exp(p.estimate), math.exp(p.low), math.exp(p.high)) if p else (math.nan,) * 3


def verdict(p_holm: float, mean: float, tost_p: float, plan: plans.Plan) -> str:
    """The plan's verdict: a scheme better when the adjusted p is below alpha (lower log FID is
    better), else equivalent when TOST's p is below alpha, else inconclusive."""
    better_one, better_two, equivalent, inconclusive = plan.verdicts
    if math.isfinite(p_holm) and p_holm < plan.alpha:
        return better_one if mean < 0 else better_two
    if math.isfinite(tost_p) and tost_p < plan.alpha:
        return equivalent
    return inconclusive


def check_plan(runs: list[dict[str, Any]], plan: plans.Plan) -> list[str]:
    """Refuse a record with cells run under another plan; return the cells with no plan."""
    want = plans.plan_hash(plan)
    other = sorted(r["path"].name for r in runs if r["config"].get("plan") not in ("", None, want))
    if other:
        raise UsageError(f"{len(other)} cell(s) were run under another analysis plan than "
                         f"{plan.name!r} ({other[0]} ...): analyse them under their own plan, or "
                         "record them apart")
    return sorted(r["path"].name for r in runs if not r["config"].get("plan"))


def compare(runs: list[dict[str, Any]], plan: plans.Plan, name: str
            ) -> tuple[list[Comparison], dict[str, list[int]], dict[str, list[int]]]:
    """Per objective of the plan, the paired comparison of ``name`` over the plan's seeds that
    both schemes finished (plain one- and two-stage cells) measured with one instrument on one
    kind of machine, Holm-adjusted over the objectives; per objective the plan's seeds not
    paired yet; and those whose two cells are done but were measured with different instruments
    or ran on different kinds of machine (a CPU and a GPU)."""
    read: dict[tuple[str, str, int], tuple[float, tuple[str, str]]] = {}
    for r in runs:
        if r["done"] and not r.get("exact") and not r.get("variant") and r["seed"] in plan.seeds:
            # a pair is formed within one instrument and one kind of machine
            read[(r["gan"], r["stages"], r["seed"])] = (
                reading(r["evals"], name),
                (r.get("instrument", "none"), records.pairing_machine(r)))
    rows, missing, mixed = [], {}, {}
    for gan in plan.objectives:
        done = [s for s in plan.seeds
                if all(math.isfinite(read.get((gan, st, s), (math.nan,))[0]) for st in (ONE, TWO))]
        seeds = tuple(s for s in done if read[(gan, ONE, s)][1] == read[(gan, TWO, s)][1])
        mixed[gan] = [s for s in done if s not in seeds]
        missing[gan] = [s for s in plan.seeds if s not in seeds]
        one = [read[(gan, ONE, s)][0] for s in seeds]
        two = [read[(gan, TWO, s)][0] for s in seeds]
        diffs = tuple(float(d) for d in np.subtract(one, two))
        t = stats.paired(diffs, plan.alpha)
        rows.append((gan, seeds, tuple(read[(gan, ONE, s)][1][0] for s in seeds), t,
                     stats.tost(one, two, plan.margin),
                     stats.detectable(t.sd, t.n, plan.alpha, plan.power),
                     tuple(read[(gan, ONE, s)][1][1] for s in seeds), diffs))
    adjusted = stats.holm([row[3].p for row in rows])
    out = [Comparison(gan, name, seeds, inst, t.n, math.exp(t.mean), math.exp(t.low),
                      math.exp(t.high), t.p, p_adj, tost_p, math.exp(det), t.mean, t.sd,
                      verdict(p_adj, t.mean, tost_p, plan), where, diffs)
           for (gan, seeds, inst, t, tost_p, det, where, diffs), p_adj in zip(rows, adjusted)]
    return out, missing, mixed


def analyse(runs: list[dict[str, Any]], plan: plans.Plan = plans.TABLE1) -> Findings:
    """The plan's findings from a Table 1 record's runs (:func:`osgan.analysis.records.load`'s)."""
    for name in (plan.primary, *plan.secondary):
        if name not in plans.READINGS:
            raise UsageError(f"plan {plan.name!r} names an unknown reading {name!r}; choose "
                             f"from: {', '.join(plans.READINGS)}")
    known = losses.SYMMETRIC + losses.ASYMMETRIC  # Table 1's ten
    unknown = [g for g in plan.objectives if g not in known]
    if unknown:
        raise UsageError(f"plan {plan.name!r} names an unknown objective {unknown[0]!r}; choose "
                         f"from Table 1's: {', '.join(known)}")
    runs = [r for r in runs if r["gan"] in plan.objectives]
    before = check_plan(runs, plan)
    primary, missing, mixed = compare(runs, plan, plan.primary)
    secondary = {name: compare(runs, plan, name)[0] for name in plan.secondary}
    by_instrument = {i: compare([r for r in runs if r.get("instrument", "none") == i], plan,
                                plan.primary)[0]
                     for i in sorted({r.get("instrument", "none") for r in runs})}
    usable = [c for c in primary if c.n >= 2 and c.sd > 0]
    pooled = stats.pooled([c.mean for c in usable], [c.sd ** 2 / c.n for c in usable],
                          plan.alpha) if len(usable) >= 2 else None
    means = [c.mean for c in primary if c.n >= 1]
    over = stats.paired(means, plan.alpha) if len(means) >= 2 else None
    published = {g: paper.table1_ratio(g) for g in plan.objectives}
    return Findings(plan.name, plans.plan_hash(plan), primary, secondary, pooled, over,
                    published, before, missing, {g: s for g, s in mixed.items() if s},
                    by_instrument)


# ---------------------------------------------------------------------------------------------
# Figure 4 on the primary reading: time to the FID both schemes reach


RUNNING = 3  # evaluations in the running mean of log FID that decides when a level is reached


def running_log_fid(evals: list[dict[str, Any]], k: int = RUNNING) -> list[tuple[int, float]]:
    """``(step, mean of log FID over the evaluations up to it, at most k)`` per evaluation from
    the k-th on."""
    logs = [math.log(e["FID"]) for e in evals]
    return [(evals[i]["step"], float(np.mean(logs[i - k + 1:i + 1])))
            for i in range(k - 1, len(evals))]


def steps_to_common(one: list[dict[str, Any]], two: list[dict[str, Any]]
                    ) -> tuple[int, int, float] | None:
    """The steps each run takes to first reach the running log FID both reach (the higher of
    their two best running values), and that level; None when a run has too few evaluations."""
    a, b = running_log_fid(one), running_log_fid(two)
    if not a or not b:
        return None
    level = max(min(v for _, v in a), min(v for _, v in b))
    first = [next(s for s, v in curve if v <= level) for curve in (a, b)]
    return first[0], first[1], level


@dataclass(frozen=True)
class TimeRatio:
    """Per objective, two stages over one to the common FID, over the paired seeds: in time
    (geometric mean [95%]), split into steps (progress per step) times the cost of a step (the
    bench's ratio, one number)."""

    gan: str
    n: int
    time: float
    time_low: float
    time_high: float
    steps: float
    steps_low: float
    steps_high: float
    cost: float  # seconds per step, two over one (results/table1/bench)


def figure4(runs: list[dict[str, Any]], costs: dict[str, dict[str, float]],
            plan: plans.Plan = plans.TABLE1) -> list[TimeRatio]:
    """Per objective of the plan with a bench cost for both schemes, :class:`TimeRatio` over the
    plan's seeds that both schemes finished: log(time ratio) = log(steps ratio) + log(cost
    ratio), each seed's steps from :func:`steps_to_common`."""
    done = {(r["gan"], r["stages"], r["seed"]): r["evals"] for r in runs
            if r["done"] and not r.get("exact") and not r.get("variant") and r["evals"]}
    out = []
    for gan in plan.objectives:
        c = costs.get(gan, {})
        if "one" not in c or "two" not in c:
            continue
        logs = []
        for s in plan.seeds:
            if (gan, ONE, s) in done and (gan, TWO, s) in done:
                got = steps_to_common(done[(gan, ONE, s)], done[(gan, TWO, s)])
                if got is not None:
                    logs.append(math.log(got[1] / got[0]))
        t = stats.paired(logs, plan.alpha)
        cost = c["two"] / c["one"]
        e = math.exp
        out.append(TimeRatio(gan, t.n, e(t.mean) * cost, e(t.low) * cost, e(t.high) * cost,
                             e(t.mean), e(t.low), e(t.high), cost))
    return out


def recorded(record_dir: str | Path, plan: plans.Plan = plans.TABLE1
             ) -> tuple[Findings, list[TimeRatio]]:
    """The plan's findings and Figure 4 from the Table 1 record in ``record_dir``, its time axis
    from the bench recorded beside it (``bench/bench.json``; no time ratios without one)."""
    runs = records.load(record_dir)["runs"]
    bench_json = Path(record_dir) / "bench" / "bench.json"
    costs = records.bench_costs(bench_json) if bench_json.exists() else {}
    return analyse(runs, plan), figure4(runs, costs, plan)
