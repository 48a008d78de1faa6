"""Analysis plans: how a sweep's runs will be read and tested, fixed before the runs they judge.

A plan is frozen data: the reading of each run, the test, the correction for several comparisons,
the equivalence margin, the pooled estimate, the power target and the seeds. Its hash
(:func:`plan_hash`, SHA-256 of its canonical JSON) is written into the ``config.json`` of every
cell a sweep runs under it, and the analysis refuses a record whose cells carry another plan's
hash. Cells recorded before a plan existed carry none; the analysis lists them as such.

Changing a plan changes its hash: a plan in force is never edited, a new one is added beside it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

from osgan.util import UsageError

TABLE1_OBJECTIVES = ("dcgan", "cgan", "wgan", "dcgan_ns", "lsgan", "geogan", "relgan",
                     "fishergan", "bgan", "sngan")

# the readings of one run a plan may name (osgan's analysis computes each from metrics.jsonl)
READINGS = {
    "log_fid_last4": "mean of log domain-FID over the run's last 4 evaluations",
    "log_fid_last": "log domain-FID at the last evaluation",
    "log_fid_best": "log of the lowest domain-FID over the run's evaluations",
    "log_fid_ema_last4": "mean of log domain-FID of the EMA generator over the last 4 evaluations",
    "log_kid_last4": "mean of log domain-KID over the run's last 4 evaluations",
}


@dataclass(frozen=True)
class Plan:
    """One experiment's analysis, decided before its confirmation runs."""

    name: str
    objectives: tuple[str, ...]
    seeds: tuple[int, ...]  # every objective's paired seeds; none added or dropped after a result
    primary: str  # the reading a verdict is made on (a key of READINGS)
    secondary: tuple[str, ...]  # shown in a table of their own; never change a verdict
    difference: str  # per seed: the scheme "one" minus "two" of the reading (log: ratio one/two)
    test: str  # the per-objective test of the mean paired difference
    alpha: float  # two-sided level of the test, of the intervals (1 - alpha) and of each TOST side
    correction: str  # over the objectives (statsmodels' multipletests method)
    equivalence_ratio: float  # TOST margin: one/two within [1/r, r]
    pooled: str  # the meta-analysis over the objectives
    power: float  # the smallest detectable ratio is given at this power
    verdicts: tuple[str, ...]

    @property
    def margin(self) -> float:
        """The equivalence margin on the log scale of the reading."""
        return math.log(self.equivalence_ratio)

    def to_json(self) -> dict:
        return asdict(self)


TABLE1 = Plan(
    name="table1",
    objectives=TABLE1_OBJECTIVES,
    seeds=tuple(range(8)),
    primary="log_fid_last4",
    secondary=("log_fid_last", "log_fid_best", "log_fid_ema_last4", "log_kid_last4"),
    difference="one - two, paired by seed",
    test="paired t-test: mean difference over seeds with its 95% t-interval (scipy.stats)",
    alpha=0.05,
    correction="holm",
    equivalence_ratio=1.10,
    pooled="random effects over the objectives' mean differences: DerSimonian-Laird tau^2, "
           "Hartung-Knapp-Sidik-Jonkman t-interval (statsmodels.stats.meta_analysis)",
    power=0.80,
    verdicts=("one stage better", "two stages better", "equivalent within 10%", "inconclusive"),
)

PLANS = {p.name: p for p in (TABLE1,)}


def plan_hash(plan: Plan) -> str:
    """SHA-256 of the plan's canonical JSON."""
    text = json.dumps(plan.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def get(name: str) -> Plan:
    if name not in PLANS:
        raise UsageError(f"unknown analysis plan {name!r}; choose one of: {', '.join(PLANS)}")
    return PLANS[name]
