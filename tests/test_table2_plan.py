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


def test_a_verdict_short_of_the_plans_seeds_is_not_yet_the_plans():
    """table2_plan.verdict_so_far: the plan's verdict at all its seeds; before that "not yet",
    with the count and, from two pairs, the interim verdict, whatever that one says."""
    from osgan.render import table2_plan

    one, two = [0.84, 0.86, 0.85, 0.83, 0.87], [0.80, 0.81, 0.82, 0.80, 0.81]
    f = table2.analyse(_record(one, two), CHOSEN)
    assert table2_plan.verdict_so_far(f) == f.verdict == "one stage better"
    f = table2.analyse(_record(one[:3], two[:3]), CHOSEN)
    assert f.verdict == "one stage better"
    assert table2_plan.verdict_so_far(f) == \
        "not yet (3 of 5 paired seeds in; interim: one stage better)"
    f = table2.analyse(_record(one[:1], two[:1]), CHOSEN)
    assert table2_plan.verdict_so_far(f) == "not yet (1 of 5 paired seeds in)"


def test_only_the_chosen_points_and_the_plans_seeds_are_read():
    runs = _record([0.84, 0.86, 0.85], [0.80, 0.81, 0.82])
    runs.append(_run("one", ONE_PT, 9, [0.99] * 4, 0.99))  # a seed outside the plan
    runs.append(_run("two", TWO_PT, 9, [0.1] * 4, 0.1))
    f = table2.analyse(runs, CHOSEN)
    assert f.seeds == (0, 1, 2) and f.one == approx(np.mean([0.84, 0.86, 0.85]))
    assert plans.TABLE2.seeds == (0, 1, 2, 3, 4)
    with pytest.raises(UsageError, match="no chosen point for two"):
        table2.analyse(runs, {"one": ONE_PT})  # two's grid not done: nothing pairs


def test_a_pair_is_formed_within_one_teacher():
    from osgan.analysis import instrument
    runs = _record([0.84, 0.86, 0.85, 0.83], [0.80, 0.81, 0.82, 0.79])
    for r in runs:  # seeds 0-1 distilled the AMD EPYC's teacher, 2-3 the frozen Xeon's
        r["instrument"] = instrument.AMD if r["seed"] < 2 else instrument.XEON
    odd = next(r for r in runs if r["scheme"] == "two" and r["seed"] == 1)
    odd["instrument"] = instrument.XEON  # run again on the Xeon: its pair has two teachers
    f = table2.analyse(runs, CHOSEN)
    assert f.seeds == (0, 2, 3) and f.mixed == (1,) and 1 in f.missing
    assert f.teachers == (instrument.AMD, instrument.XEON, instrument.XEON)
    assert f.one == approx(np.mean([0.84, 0.85, 0.83])) and f.two == approx(np.mean([0.80, 0.82, 0.79]))
    # seed 2's two-stage cell ran on a GPU, its partner on the CPU: no pair either; seed 3's
    # three cells all on the GPU: a pair
    for r in runs:
        if (r["seed"] == 2 and r["scheme"] == "two") or r["seed"] == 3:
            r["on_gpu"], r["machine"] = True, "NVIDIA H200"
    f = table2.analyse(runs, CHOSEN)
    assert f.seeds == (0, 3) and f.mixed == (1, 2) and f.kd == approx(0.88)


# ---------------------------------------------------------------------------------------------
# the record under the plan: where the tuned sweep stands, and the chapter's rendering of it


@pytest.fixture
def tuned(tmp_path, monkeypatch):
    """An empty record of the tiny tuned sweep ``dfad_smoke`` with the level 0.80 of
    ``table2_tune``, its display captured."""
    import json
    from dataclasses import replace

    import matplotlib

    from osgan import sweep, sweeps

    matplotlib.use("Agg")
    monkeypatch.setitem(sweeps.SWEEPS, "dfad_smoke",
                        replace(sweeps.SWEEPS["dfad_smoke"], level=0.8))
    results = sweep.own_results("dfad_smoke", tmp_path / "t2")
    (results / "provenance.json").write_text(json.dumps({"sweep": "dfad_smoke", "sessions": []}))
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    return results, shown


def _cell(results, scheme, lr_g, seed, accs, val=0.7):
    from fixtures_data import write_dfad_cell

    rounds = 2 if scheme == "two" else 4
    curve = [(k * rounds // (len(accs) - 1), k, a, val) for k, a in enumerate(accs)]
    write_dfad_cell(results, scheme, "adam", 1e-3, lr_g, seed, curve, accs[-1], val, rounds)


def test_the_record_under_the_plan_stands_where_the_sweep_does(tuned):
    from osgan.render import table2_plan

    results, shown = tuned
    plan = replace_seeds(plans.TABLE2, (0, 1))
    assert table2_plan.show(results.parent / "nothing", plan) is None
    assert "not recorded" in shown[-1].data
    assert set(table2_plan.values(None).values()) == {"not recorded"}
    # seed 0: one's and kd's grids done, two's running
    _cell(results, "one", 1e-3, 0, [0.1, 0.5, 0.6, 0.7, 0.85], val=0.8)
    _cell(results, "one", 3e-3, 0, [0.1, 0.2, 0.3, 0.3, 0.3], val=0.3)
    _cell(results, "kd", None, 0, [0.5, 0.8, 0.85, 0.88, 0.88], val=0.88)
    _cell(results, "two", 1e-3, 0, [0.1, 0.3, 0.5, 0.6, 0.7], val=0.6)
    r = table2_plan.show(results, plan)
    assert r.progress == {"one": (2, 2), "two": (2, 1), "kd": (1, 1)}
    assert r.chosen == {"one": "adam-s0.001-g0.001", "kd": "adam-s0.001"}
    assert (r.reached, r.findings) == (None, None)
    assert "| two | 1 of 2 | (grid running) |" in shown[-1].data
    v = table2_plan.values(r)
    assert (v["t2p_progress"], v["t2p_reached"], v["t2p_verdict"]) == (
        "one 2 of 2, two 1 of 2, kd 1 of 1", "not yet", "not yet")
    # two's grid done: its choice on validation ends at 0.75, one's at 0.85: the better of the
    # two reached the level, so the verdict seeds run
    _cell(results, "two", 3e-3, 0, [0.1, 0.3, 0.5, 0.6, 0.75], val=0.65)
    r = table2.recorded(results, plan)
    assert r.chosen["two"] == "adam-s0.001-g0.003" and r.reached is True
    assert r.findings.seeds == (0,) and r.findings.missing == (1,)
    v = table2_plan.values(r)
    assert v["t2p_n"] == "1 of 2" and v["t2p_verdict"] == "not yet (1 of 2 paired seeds in)"
    assert r.findings.verdict == "inconclusive"  # what a lone pair reads: not the plan's verdict
    # seed 1 of each chosen point: the verdict's findings, against the readings by hand
    _cell(results, "one", 1e-3, 1, [0.1, 0.5, 0.7, 0.8, 0.82])
    _cell(results, "two", 3e-3, 1, [0.1, 0.4, 0.6, 0.7, 0.72])
    _cell(results, "kd", None, 1, [0.5, 0.8, 0.86, 0.87, 0.87])
    r = table2_plan.show(results, plan)
    f = r.findings
    one = [np.mean([0.5, 0.6, 0.7, 0.85]), np.mean([0.5, 0.7, 0.8, 0.82])]
    two = [np.mean([0.3, 0.5, 0.6, 0.75]), np.mean([0.4, 0.6, 0.7, 0.72])]
    t = sps.ttest_rel(one, two)
    ci = t.confidence_interval(0.95)
    assert f.seeds == (0, 1) and f.missing == ()
    assert (f.one, f.two) == (approx(np.mean(one)), approx(np.mean(two)))
    assert (f.difference.low, f.difference.high, f.difference.p) == (
        approx(ci.low), approx(ci.high), approx(t.pvalue))
    v = table2_plan.values(r)
    assert v["t2p_n"] == "2 of 2" and v["t2p_verdict"] == f.verdict
    assert v["t2p_diff"].startswith(f"{np.mean(one) - np.mean(two):+.3f} [{ci.low:+.3f}")
    table = next(s.data for s in shown if "under plan" in getattr(s, "data", ""))
    assert f"| 2 | {np.mean(one):.3f} | {np.mean(two):.3f} |" in table and f.verdict in table
    # the secondary readings, their own table: at the end (the finals), at equal student
    # updates (two's 2 rounds are 10 updates, one's 4 are 4: two read at round 4 / 5, i.e. its
    # last evaluation at round 0, the second of its curve) and at each run's best validation
    # evaluation (every evaluation ties here: the first)
    second = {p["at"]: p for p in table2.secondary(r.runs, f)}
    assert list(second) == ["end", "equal student updates", "equal time (runs' clock)",
                            "best on validation"]  # no round_costs.json: no bench time axis
    assert (second["end"]["one"], second["end"]["two"]) == (approx((0.85 + 0.82) / 2),
                                                           approx((0.75 + 0.72) / 2))
    assert second["equal student updates"]["two"] == approx((0.3 + 0.4) / 2)
    d = sps.ttest_rel([0.85, 0.82], [0.3, 0.4]).confidence_interval(0.95)
    assert (second["equal student updates"]["low"], second["equal student updates"]["high"]) \
        == (approx(d.low), approx(d.high))
    table = next(s.data for s in shown if "Secondary readings" in getattr(s, "data", ""))
    assert "never change the verdict" in table and "| equal student updates | 2 |" in table
    # with the record's time axis timed side by side: two's 2 rounds at 3 s are 6 s, one's 4 at
    # 1 s are 4: two read at round 4 / 3, its evaluation at round 1 (the fourth of its curve)
    import json
    (results / "round_costs.json").write_text(json.dumps({"seconds_per_round": {"one": 1.0,
                                                                              "two": 3.0}}))
    bench = {p["at"]: p for p in table2_plan.show_secondary(results, r)}["equal time (bench)"]
    assert (bench["one"], bench["two"]) == (approx((0.85 + 0.82) / 2), approx((0.6 + 0.7) / 2))
    # beside the paper's Table 2: each row's share of its own teacher (ours 0.9 in the fixture)
    beside = next(s.data for s in shown if "the paper's Table 2" in getattr(s, "data", ""))
    assert (f"| one stage (OSGAN) | {f.one:.3f} | {f.one / 0.9:.0%} | 0.934 | "
            f"{0.934 / 0.955:.0%} | 0.700 | {0.700 / 0.775:.0%} |") in beside
    assert "| teacher | 0.900 | 100% | 0.955 | 100% | 0.775 | 100% |" in beside


def test_a_missed_level_shows_the_plans_rule_and_no_verdict(tuned):
    from osgan.render import table2_plan

    results, shown = tuned
    for scheme, lr_g, end in (("one", 1e-3, 0.7), ("one", 3e-3, 0.6), ("two", 1e-3, 0.75),
                              ("two", 3e-3, 0.5), ("kd", None, 0.88)):
        _cell(results, scheme, lr_g, 0, [0.1, 0.2, 0.3, 0.4, end], val=end)
    r = table2_plan.show(results, replace_seeds(plans.TABLE2, (0, 1)))
    assert r.reached is False and r.findings is None
    assert plans.TABLE2_TUNING.if_short in shown[-1].data
    v = table2_plan.values(r)
    assert v["t2p_reached"] == "no"
    assert v["t2p_verdict"] == v["t2p_n"] == v["t2p_level"] == table2_plan.NOT_RUN  # not "not yet"


def test_a_record_under_another_plan_is_refused_in_one_line(tuned):
    import json

    results, _ = tuned
    _cell(results, "one", 1e-3, 0, [0.1, 0.2, 0.3, 0.4, 0.5])
    cfg = next(results.glob("one-*")) / "config.json"
    meta = json.loads(cfg.read_text())
    meta["config"]["plan"] = "0" * 64
    cfg.write_text(json.dumps(meta))
    with pytest.raises(UsageError, match="another analysis plan"):
        table2.recorded(results)
    with pytest.raises(UsageError, match="holds no recorded sweep"):
        table2.recorded(results.parent / "nothing")


def replace_seeds(plan, seeds):
    from dataclasses import replace

    return replace(plan, seeds=seeds)


def test_the_introduction_tells_each_plan_from_its_own_record(tuned, monkeypatch):
    """osgan.render.summary: the newest plan's values (t2p_*) and the one before's (t2pb_*),
    each read from its own folder, with where each plan's chosen points ended."""
    from osgan.render import summary, table2_plan

    results, _ = tuned
    for scheme, lr_g, end in (("one", 1e-3, 0.7), ("one", 3e-3, 0.6), ("two", 1e-3, 0.75),
                              ("two", 3e-3, 0.5), ("kd", None, 0.88)):
        _cell(results, scheme, lr_g, 0, [0.1, 0.2, 0.3, 0.4, end], val=end)
    plan = replace_seeds(plans.TABLE2, (0, 1))
    monkeypatch.setattr(summary, "T2_PLANS", {"t2p": ("not-started", plan),
                                              "t2pb": (results.name, plan)})
    v = summary._table2_plan_values(results.parent)
    assert {k: x for k, x in v.items() if k.startswith("t2p_")} == \
        dict.fromkeys(("t2p_" + k.removeprefix("t2p_") for k in table2_plan.values(None)),
                      summary.MISSING) | {"t2p_chosen_end": summary.MISSING}
    assert v["t2pb_reached"] == "no" and v["t2pb_verdict"] == table2_plan.NOT_RUN
    assert v["t2pb_chosen"] == "one adam-s0.001-g0.001, two adam-s0.001-g0.001, kd adam-s0.001"
    assert v["t2pb_chosen_end"] == (
        "one stage `adam-s0.001-g0.001` 0.700 (validation 0.700) after 4 rounds; "
        "two stages `adam-s0.001-g0.001` 0.750 (validation 0.750) after 2 rounds")


def test_the_plans_so_far_each_read_from_its_own_record(tuned, monkeypatch):
    """table2_plan.plans_so_far: a row per plan, its teacher and width from its tuning plan, its
    chosen points' ends from its record (the best so far while a grid runs); a plan with no
    record says so."""
    from osgan.render import table2_plan

    results, _ = tuned
    for scheme, lr_g, end in (("one", 1e-3, 0.7), ("one", 3e-3, 0.6), ("two", 1e-3, 0.75),
                              ("kd", None, 0.88)):  # two's grid still running
        _cell(results, scheme, lr_g, 0, [0.1, 0.2, 0.3, 0.4, end], val=end)
    plan = replace_seeds(plans.TABLE2, (0, 1))
    monkeypatch.setattr(table2_plan, "SO_FAR", (
        (results.name, plans.TABLE2_DT_TUNING, plan), ("absent", plans.TABLE2_TUNING, plan)))
    mine, absent = table2_plan.plans_so_far(results.parent)
    assert mine["rates"] == "constant"
    assert mine["generator width"] == "16" and mine["teacher (test accuracy)"].startswith(
        "DFAD's recipe (")
    assert mine["seed-0 grid finished"] == "one 2 of 2, two 1 of 2, kd 1 of 1"
    assert mine["one stage: chosen, test at its end"] == \
        "`adam-s0.001-g0.001`: 0.700 after 4 rounds"
    assert mine["two stages: chosen, test at its end"] == \
        "`adam-s0.001-g0.001` (best so far): 0.750 after 2 rounds"
    assert mine["level 0.80 reached"] == "not yet"
    monkeypatch.setattr(table2_plan, "PAUSED", {results.name: "paused for a reason"})
    assert table2_plan.plans_so_far(results.parent)[0]["level 0.80 reached"] == \
        "not decided: paused for a reason"
    assert absent["teacher (test accuracy)"] == "ours (–)"
    assert absent["seed-0 grid finished"] == absent["level 0.80 reached"] == "not recorded"
    assert absent["one stage: chosen, test at its end"] == "–"


def test_a_chosen_point_still_to_run_on_to_its_plateau_says_so(tuned, monkeypatch):
    """table2_tuning: a chosen point whose run ends at the grid's length still rising on
    validation goes on (osgan.sweep.verdict_rounds), so its end is marked as not its last; a
    flat one's is its last."""
    from dataclasses import replace

    from fixtures_data import write_dfad_cell

    from osgan import sweeps
    from osgan.render import table2_tuning

    results, _ = tuned
    monkeypatch.setitem(sweeps.SWEEPS, "dfad_smoke",
                        replace(sweeps.SWEEPS["dfad_smoke"], extend=2))
    rising = [(k, k, a, a) for k, a in enumerate((0.1, 0.3, 0.5, 0.6, 0.8))]
    flat = lambda a: [(k, k, a, a) for k in range(5)]  # noqa: E731
    write_dfad_cell(results, "one", "adam", 1e-3, 1e-3, 0, rising, 0.8, 0.8, 4)
    write_dfad_cell(results, "one", "adam", 1e-3, 3e-3, 0, flat(0.3), 0.3, 0.3, 4)
    for lr_g, a in ((1e-3, 0.6), (3e-3, 0.5)):
        write_dfad_cell(results, "two", "adam", 1e-3, lr_g, 0, flat(a)[:3], a, a, 2)
    write_dfad_cell(results, "kd", "adam", 1e-3, None, 0, flat(0.88), 0.88, 0.88, 4)
    rows = table2_tuning.tuning_of(results)
    assert {r["scheme"]: r["going_on"] for r in rows if r["chosen"]} == \
        {"one": True, "two": False, "kd": False}
    assert not any(r["going_on"] for r in rows if not r["chosen"])
    end = table2_tuning.tuning_values(rows)["t2g_chosen_end"]
    assert f"after 4 rounds{table2_tuning.GOING_ON}; two stages" in end
    assert end.endswith("after 2 rounds")
    assert table2_tuning.chosen_end(results) == end  # the introduction's and the chapter's reading
    assert table2_tuning.chosen_end(results / "absent") == "nothing chosen yet"
