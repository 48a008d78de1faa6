"""osgan.table2: Table 2's planned verdict, against scipy computed another way (a paired t-test
and two one-sided t-tests by hand) on a record of known readings."""

import math

import numpy as np
import pytest
from pytest import approx
from scipy import stats as sps

from osgan import plans, table2
from osgan.util import UsageError

ONE_PT, TWO_PT = "adam-s0.001-g0.001-b5", "adam-s0.001-g0.003"


def _run(scheme, point, seed, accs, final):
    return {"scheme": scheme, "point": point, "seed": seed, "done": True, "accuracy": final,
            "records": [{"round": 100 * k, "Accuracy/student": a} for k, a in enumerate(accs)]}


def _record(one, two, other_point_too=True):
    """Per seed, the last four evaluations end at the given readings (a run's earlier
    evaluations are lower and must not count)."""
    runs = []
    for s, (a, b) in enumerate(zip(one, two, strict=True)):
        runs += [_run("one", ONE_PT, s, [0.1, 0.2, a - 0.01, a + 0.01, a - 0.02, a + 0.02], a),
                 _run("two", TWO_PT, s, [0.1, 0.3, b, b, b, b], b),
                 _run("kd", "adam-s0.001", s, [0.88] * 4, 0.88)]
        if other_point_too:  # a grid point not chosen: never read
            runs.append(_run("one", "adam-s0.001-g0.001", s, [0.1] * 4, 0.1))
    return runs


CHOSEN = {"one": ONE_PT, "two": TWO_PT, "kd": "adam-s0.001"}


def test_reading_is_the_mean_of_the_last_four_evaluations():
    assert table2.reading([{"Accuracy/student": a} for a in (0.1, 0.5, 0.6, 0.7, 0.8)]) == \
        approx(0.65)
    assert math.isnan(table2.reading([{"round": 0}]))


def test_verdicts_against_scipy():
    one = [0.84, 0.86, 0.85, 0.83, 0.87]
    two = [0.80, 0.81, 0.82, 0.80, 0.81]
    f = table2.analyse(_record(one, two), CHOSEN)
    d = np.subtract(one, two)
    ref = sps.ttest_rel(one, two)
    assert f.seeds == (0, 1, 2, 3, 4) and f.missing == ()
    assert f.difference.mean == approx(d.mean()) and f.difference.p == approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (f.difference.low, f.difference.high) == (approx(ci.low), approx(ci.high))
    assert f.verdict == "one stage better" and f.kd == approx(0.88)
    assert f.level == approx(np.mean(one)) and f.level_reached
    # equivalent: differences well inside 2 points; TOST by hand, the larger one-sided p
    one = [0.851, 0.849, 0.850, 0.852, 0.848]
    two = [0.850, 0.850, 0.851, 0.850, 0.849]
    f = table2.analyse(_record(one, two), CHOSEN)
    d = np.subtract(one, two)
    se = d.std(ddof=1) / math.sqrt(5)
    p_low = sps.t.sf((d.mean() + 0.02) / se, 4)
    p_high = sps.t.cdf((d.mean() - 0.02) / se, 4)
    assert f.tost_p == approx(max(p_low, p_high))
    assert f.verdict == "equivalent within 2 points"
    # two seeds, a wide spread: inconclusive, and students below the level
    f = table2.analyse(_record([0.3, 0.6], [0.5, 0.4]), CHOSEN)
    assert f.verdict == "inconclusive" and not f.level_reached and f.missing == (2, 3, 4)
    assert f.detectable > abs(f.difference.mean)


def test_only_the_chosen_points_and_the_plans_seeds_are_read():
    runs = _record([0.84, 0.86, 0.85], [0.80, 0.81, 0.82])
    runs.append(_run("one", ONE_PT, 9, [0.99] * 4, 0.99))  # a seed outside the plan
    runs.append(_run("two", TWO_PT, 9, [0.1] * 4, 0.1))
    f = table2.analyse(runs, CHOSEN)
    assert f.seeds == (0, 1, 2) and f.one == approx(np.mean([0.84, 0.86, 0.85]))
    assert plans.TABLE2.seeds == (0, 1, 2, 3, 4)
    with pytest.raises(UsageError, match="no chosen point for two"):
        table2.analyse(runs, {"one": ONE_PT})  # two's grid not done: nothing pairs
