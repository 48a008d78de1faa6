r"""Table 2's verdict under its analysis plan (:data:`osgan.plans.TABLE2`), decided before its
verdict seeds ran: data-free distillation in one stage against two, each scheme at the point its
tuning chose on seed 0's validation split (:data:`osgan.plans.TABLE2_TUNING`).

**Reading.** Per run, the mean student test accuracy over its last 4 evaluations,

.. math:: a = \tfrac14 \textstyle\sum_{k=K-3}^{K} \mathrm{acc}_k ,

less noisy than the last evaluation alone (an adversarial student's accuracy moves by points
between evaluations).

**Comparison.** Per seed the difference :math:`d_s = a^{one}_s - a^{two}_s`; its mean with the
95% t-interval and the paired t-test's p-value (:func:`osgan.stats.paired`), equivalence by two
one-sided paired t-tests within the plan's margin (:func:`osgan.stats.tost`), and the smallest
difference the seeds detect with 80% power (:func:`osgan.stats.detectable`). One comparison: no
correction for several.

**Verdict.** A scheme better when p < 0.05; else equivalent when TOST's p < 0.05; else
inconclusive. Beside it, the level the better of the two reaches (mean final test accuracy over
the seeds) against 0.80: a verdict between students that do not learn says little.

**The teacher.** The student distils a teacher, so a pair is formed within one teacher only
(:mod:`osgan.analysis.instrument`): the cells recorded on an AMD EPYC distilled its teacher,
those since the one frozen on an Intel Xeon. A seed whose two cells distilled different
teachers is no pair (``mixed``) until one of them is run again with the other's; so is a seed
whose two cells ran on different kinds of machine (a CPU and a GPU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from osgan import plans, stats, sweep
from osgan.analysis import records
from osgan.analysis.table2_record import LEVEL, compare_points
from osgan.table1 import check_plan
from osgan.util import UsageError

ONE, TWO, KD = "one", "two", "kd"
LAST = 4  # evaluations in the reading


def reading(records: list[dict[str, Any]], last: int = LAST) -> float:
    """The mean student test accuracy over a run's last ``last`` evaluations; NaN without."""
    acc = [row["Accuracy/student"] for row in records if "Accuracy/student" in row]
    return float(np.mean(acc[-last:])) if acc else math.nan


@dataclass(frozen=True)
class Findings:
    """The plan's findings: the chosen points, the seeds both schemes finished (and those
    missing), each scheme's mean reading, one - two with its interval, the tests, the verdict
    and the level."""

    plan: str
    chosen: dict[str, str]
    seeds: tuple[int, ...]
    missing: tuple[int, ...]
    teachers: tuple[str, ...]  # the teacher of each seed's pair
    mixed: tuple[int, ...]  # seeds both schemes finished with different teachers or machines
    one: float
    two: float
    kd: float
    difference: stats.Paired
    tost_p: float
    detectable: float
    verdict: str
    level: float  # the better scheme's mean final test accuracy over the paired seeds
    level_reached: bool


def verdict(p: float, mean: float, tost_p: float, plan: plans.DistillPlan) -> str:
    """One stage or two better when p < alpha, else equivalent when TOST's p < alpha, else
    inconclusive (higher accuracy is better)."""
    better_one, better_two, equivalent, inconclusive = plan.verdicts
    if math.isfinite(p) and p < plan.alpha:
        return better_one if mean > 0 else better_two
    if math.isfinite(tost_p) and tost_p < plan.alpha:
        return equivalent
    return inconclusive


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else math.nan


def analyse(runs: list[dict[str, Any]], chosen: dict[str, str],
            plan: plans.DistillPlan = plans.TABLE2, level: float = LEVEL) -> Findings:
    """The plan's findings from a record's runs (:func:`osgan.analysis.records.load_dfad`'s),
    each scheme read at its ``chosen`` point (scheme -> point, :func:`osgan.sweep.tuned_points`)
    over the plan's seeds."""
    if not {ONE, TWO} <= set(chosen):
        raise UsageError(f"no chosen point for {' and '.join(sorted({ONE, TWO} - set(chosen)))}: "
                         "the tuning grid on seed 0 is not done yet (python -m osgan sweep "
                         "table2_tune)")
    at = {(r["scheme"], r["seed"]): r for r in runs
          if r["done"] and r["seed"] in plan.seeds and r["point"] == chosen.get(r["scheme"])}
    done = [s for s in plan.seeds if (ONE, s) in at and (TWO, s) in at]
    teacher = {(sc, s): r.get("instrument", "none") for (sc, s), r in at.items()}
    # a pair: one teacher, and one kind of machine
    same = {k: (teacher[k], records.pairing_machine(r)) for k, r in at.items()}
    seeds = tuple(s for s in done if same[(ONE, s)] == same[(TWO, s)])
    one = [reading(at[(ONE, s)]["records"]) for s in seeds]
    two = [reading(at[(TWO, s)]["records"]) for s in seeds]
    kd = [reading(at[(KD, s)]["records"]) for s in seeds
          if (KD, s) in at and same[(KD, s)] == same[(ONE, s)]]
    t = stats.paired(np.subtract(one, two), plan.alpha)
    tost_p = stats.tost(one, two, plan.equivalence_margin)
    final = {sc: [at[(sc, s)]["accuracy"] for s in seeds] for sc in (ONE, TWO)}
    best = max((_mean(v) for v in final.values() if v), default=math.nan)
    return Findings(plan.name, dict(chosen), seeds,
                    tuple(s for s in plan.seeds if s not in seeds),
                    tuple(teacher[(ONE, s)] for s in seeds), tuple(s for s in done if s not in seeds),
                    _mean(one), _mean(two), _mean(kd),
                    t, tost_p, stats.detectable(t.sd, t.n, plan.alpha),
                    verdict(t.p, t.mean, tost_p, plan), best,
                    math.isfinite(best) and best >= level)


# the plan's secondary readings (plans.TABLE2.secondary), as compare_points names them; the
# classes each final generator shows are read from rescore.json on their own
SECONDARY = ("end", "equal student updates", "equal time (bench)", "equal time (runs' clock)",
             "best on validation")


def secondary(runs: list[dict[str, Any]], findings: Findings,
              costs: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """The plan's secondary readings of one against two on the verdict's pairs
    (``findings.seeds``, each scheme at its chosen point): the final test accuracy, at equal
    student updates, at equal training time (rounds times ``costs``, the record's
    ``round_costs.json``, where timed; and by the runs' own clocks) and at each run's best
    validation evaluation, each with the paired difference and its 95% t-interval
    (:func:`osgan.analysis.table2_record.compare_points`'s ``paired``). They never change the
    verdict."""
    pairs = [r for r in runs if r["seed"] in findings.seeds]
    points = {sc: findings.chosen[sc] for sc in (ONE, TWO)}
    return [p for p in compare_points(pairs, points, ONE, TWO, costs)["paired"]
            if p["at"] in SECONDARY]


@dataclass(frozen=True)
class Record:
    """Where a recorded tuned sweep (``table2_tune``) stands under the plan: per scheme its grid
    points and those finished on the tune seeds (``progress``), the points chosen so far
    (``chosen``: the schemes whose grid is done), whether a chosen point reached the level at
    the end of its tune-seed run (``reached``: None while that cannot be told yet), the
    findings once it did (``findings``: None before), and the record's ``runs``."""

    sweep: str
    progress: dict[str, tuple[int, int]]
    chosen: dict[str, str]
    reached: bool | None
    findings: Findings | None
    runs: list[dict[str, Any]]


def recorded(record_dir, plan: plans.DistillPlan = plans.TABLE2) -> Record:
    """The plan's reading of the tuned sweep recorded at ``record_dir``: the choice and the level
    as the sweep decides them (:func:`osgan.sweep.tuned_points`, :func:`osgan.sweep.level_reached`),
    and the verdict's findings (:func:`analyse`) once a chosen point reached the level. Refuses,
    in one line, a record with cells run under another plan."""
    record_dir = Path(record_dir)
    if not (record_dir / "sweep.json").exists():
        raise UsageError(f"{record_dir} holds no recorded sweep: run python -m osgan sweep "
                         "table2_tune first")
    rec = records.load_dfad(record_dir)
    name = rec["sweep"]["sweep"]
    spec = sweep.sweep_spec(name)
    if spec.kind != "dfad" or spec.tune_seeds is None:
        raise UsageError(f"{record_dir} holds sweep {name!r}, not a tuned distillation sweep; "
                         "give the folder of table2_tune")
    check_plan(rec["runs"], plan)
    tune = [r for r in rec["runs"] if r["seed"] in spec.tune_seeds]
    progress = {sc: (len(grid), len(done)) for sc, (grid, done)
                in sweep.grid_progress(spec, records.at_grid(tune, spec.rounds)).items()}
    chosen = sweep.tuned_points(name, record_dir)
    reached = sweep.level_reached(spec, chosen, record_dir)
    findings = analyse(rec["runs"], chosen, plan) if reached else None
    return Record(name, progress, chosen, reached, findings, rec["runs"])
