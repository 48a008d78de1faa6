"""Paired comparisons of two schemes over seeds, and their verdict values.

The interval is :func:`osgan.stats.paired`'s (Student's t, n - 1 degrees of freedom). A verdict
is one of three values: ``"<a> better"``, ``"<b> better"`` (``a`` and ``b`` are the schemes'
names, e.g. ``"one better"``) or :data:`INCONCLUSIVE`: an interval that holds 0 decides
nothing, and these comparisons have no equivalence margin to decide "equivalent" by (the
plans' analyses, :mod:`osgan.table1` and :mod:`osgan.table2`, have one). n is a finding of its
own, beside it.
"""

from __future__ import annotations

import math

from osgan import stats

INCONCLUSIVE = "inconclusive"


def mean_std(xs: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1); the std is NaN for one value."""
    n = len(xs)
    m = sum(xs) / n
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1)) if n > 1 else float("nan")
    return m, s


def paired_interval(a: list[float], b: list[float], alpha: float = 0.05
                    ) -> tuple[float, float, float]:
    """Mean of the paired differences a - b and its (1 - alpha) t-interval: ``(mean, low,
    high)``; NaN bounds for fewer than two pairs."""
    d = [x - y for x, y in zip(a, b, strict=True)]
    t = stats.paired(d, alpha)
    return mean_std(d)[0], t.low, t.high


def better(a: str, b: str) -> tuple[str, str]:
    """The two verdict values that name a scheme: ``("<a> better", "<b> better")``."""
    return f"{a} better", f"{b} better"


def verdict(low: float, high: float, a: str = "one", b: str = "two") -> str:
    """The verdict on an interval of ``a`` minus ``b`` where lower is better (FID)."""
    a_better, b_better = better(a, b)
    return a_better if high < 0 else b_better if low > 0 else INCONCLUSIVE


def verdict_higher(low: float, high: float, a: str = "one", b: str = "two") -> str:
    """The verdict on an interval of ``a`` minus ``b`` where higher is better (accuracy)."""
    return verdict(-high, -low, a, b)


def excludes_zero(low: float, high: float) -> bool:
    """Does the interval exclude 0 (False for a missing interval)?"""
    return low > 0 or high < 0
