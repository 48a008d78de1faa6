"""The statistics of the book's verdicts, from maintained libraries (scipy, statsmodels): the
paired t-interval, Holm's adjustment, equivalence by two one-sided tests, the smallest effect a
paired design detects, and a random-effects meta-analysis with a Hartung-Knapp t-interval.

Every function takes and returns plain numbers; the experiment analyses above this module decide
what the numbers mean under their plan (:mod:`osgan.plans`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import ttost_paired


@dataclass(frozen=True)
class Paired:
    """A paired comparison of ``n`` differences: their mean with its two-sided (1 - alpha)
    t-interval and the t-test's p-value against 0 (NaN where n < 2)."""

    n: int
    mean: float
    sd: float
    low: float
    high: float
    p: float


def paired(d, alpha: float = 0.05) -> Paired:
    """Mean of the paired differences ``d`` with scipy's one-sample t-test and interval."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    if n == 0:
        return Paired(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    mean = float(d.mean())
    if n < 2:
        return Paired(1, mean, math.nan, math.nan, math.nan, math.nan)
    res = sps.ttest_1samp(d, 0.0)
    ci = res.confidence_interval(1 - alpha)
    return Paired(n, mean, float(d.std(ddof=1)), float(ci.low), float(ci.high), float(res.pvalue))


def holm(p) -> list[float]:
    """Holm's step-down adjustment of the p-values ``p`` (NaN entries are left out and stay
    NaN)."""
    p = np.asarray(p, dtype=float)
    out = np.full(len(p), math.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return [float(x) for x in out]


def tost(a, b, margin: float) -> float:
    """The p-value of equivalence by two one-sided paired t-tests: the mean of ``a - b`` lies
    within (-margin, margin) (statsmodels' ``ttost_paired``); NaN below 2 pairs."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2:
        return math.nan
    return float(ttost_paired(a, b, -margin, margin)[0])


def detectable(sd: float, n: int, alpha: float = 0.05, power: float = 0.80) -> float:
    """The smallest mean paired difference a two-sided paired t-test of ``n`` pairs at level
    ``alpha`` detects with probability ``power``, given the differences' standard deviation
    ``sd`` (statsmodels' ``TTestPower``); NaN below 2 pairs."""
    if n < 2 or not math.isfinite(sd):
        return math.nan
    effect = TTestPower().solve_power(nobs=n, alpha=alpha, power=power,
                                      alternative="two-sided")
    return float(effect) * sd


@dataclass(frozen=True)
class Pooled:
    """A random-effects estimate over ``k`` studies: DerSimonian-Laird tau^2, the estimate with
    the Hartung-Knapp-Sidik-Jonkman t-interval (k - 1 degrees of freedom), I^2 and Cochran's Q
    with its p-value."""

    k: int
    estimate: float
    low: float
    high: float
    p: float
    tau2: float
    i2: float
    q: float
    q_p: float


def pooled(effects, variances, alpha: float = 0.05) -> Pooled:
    """statsmodels' ``combine_effects(method_re="dl", use_t=True)``, read at its HKSJ row."""
    effects, variances = np.asarray(effects, float), np.asarray(variances, float)
    k = len(effects)
    if k < 2:
        raise ValueError(f"a meta-analysis needs 2 studies or more; got {k}")
    with warnings.catch_warnings():  # it warns that per-study intervals lack nobs: unused here
        warnings.simplefilter("ignore")
        res = combine_effects(effects, variances, method_re="dl", use_t=True, alpha=alpha)
    est = float(res.mean_effect_re)
    se = float(res.sd_eff_w_re_hksj)
    df = k - 1
    crit = float(sps.t.ppf(1 - alpha / 2, df))
    p = float(2 * sps.t.sf(abs(est / se), df)) if se > 0 else math.nan
    q_p = float(sps.chi2.sf(res.q, df))
    return Pooled(k, est, est - crit * se, est + crit * se, p, float(max(res.tau2, 0.0)),
                  float(max(res.i2, 0.0)), float(res.q), q_p)
