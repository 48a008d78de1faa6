"""osgan.analysis: reading a record, the plateau rule, paired intervals against scipy.stats, verdict
values, Figure 4, the update-order test and Table 2, as findings."""

import json
import math

import pytest
from fixtures_data import write_dfad_cell
from pytest import approx
from scipy import stats

from osgan.analysis import paired, records, table2_record
from osgan.analysis import table1_record as t1
from osgan.render import table2_record as show2
from osgan.render import table2_tuning as tuning


def curve(fids, every=100):
    return [{"step": every * (i + 1), "time": 0.5 * every * (i + 1), "FID": f, "KID": f / 100,
             "feature_space": "domain:x"} for i, f in enumerate(fids)]


def test_plateau_rule_catches_a_curve_still_falling():
    falling = curve([40, 20, 10, 6, 4, 3, 2.4, 2.0, 1.7])  # last third: 2.4, 2.0, 1.7
    p = t1.plateau(falling)
    assert not p["plateaued"] and p["best_before"] == 3 and p["best_last_third"] == 1.7
    flat = curve([40, 20, 10, 6, 4, 3, 3.1, 2.9, 3.0])
    assert t1.plateau(flat)["plateaued"]
    assert t1.plateau(flat)["gain"] == pytest.approx((3 - 2.9) / 3)


def test_loglog_slope_recovers_a_power_law():
    power = [{"step": t, "FID": 50.0 * t ** -1.5} for t in range(100, 1100, 100)]
    assert t1.loglog_slope(power) == pytest.approx(-1.5, abs=1e-9)
    assert t1.plateau(curve([40, 20, 10]))["slope"] == pytest.approx(
        math.log(10 / 20) / math.log(300 / 200))  # second half: steps 200 and 300
    assert t1.loglog_slope(curve([40, 20]), steps=300) is None


def test_time_to_plateau_is_the_first_evaluation_near_the_best():
    tp = t1.time_to_plateau(curve([40, 20, 10, 2.1, 2.5, 2.0, 2.2]))
    assert (tp["step"], tp["time"], tp["best"]) == (400, 200.0, 2.0)


@pytest.mark.parametrize("a,b", [([3.1, 2.9, 3.4], [3.6, 3.3, 3.5]),
                                 ([1.0, 2.0, 3.0, 4.5], [1.1, 1.9, 3.3, 4.4])])
def test_paired_interval_matches_scipy(a, b):
    m, lo, hi = paired.paired_interval(a, b)
    ref = stats.ttest_rel(a, b)
    ci = ref.confidence_interval(0.95)
    assert m == pytest.approx(sum(x - y for x, y in zip(a, b)) / len(a))
    assert (lo, hi) == pytest.approx((ci.low, ci.high), rel=1e-10)
    mean, std = paired.mean_std(a)
    assert std == pytest.approx(stats.tstd(a)) and mean == pytest.approx(sum(a) / len(a))


def test_verdict_values():
    assert paired.verdict(-0.5, -0.1) == "one better"
    assert paired.verdict(0.1, 0.5) == "two better"
    assert paired.verdict(-0.1, 0.5) == paired.INCONCLUSIVE == "inconclusive"
    assert paired.verdict(float("nan"), float("nan")) == paired.INCONCLUSIVE
    assert paired.verdict(0.1, 0.5, "two-simultaneous", "two") == "two better"
    # accuracy: higher is better
    assert paired.verdict_higher(0.1, 0.5) == "one better"
    assert paired.verdict_higher(-0.5, -0.1) == "two better"
    assert paired.verdict_higher(-0.1, 0.5) == paired.INCONCLUSIVE


def _run(gan, stages, seed, fids, exact=False):
    return {"gan": gan, "stages": stages, "exact": exact,
            "scheme": stages + ("-exact" if exact else ""), "seed": seed, "done": True,
            "steps": 100 * len(fids), "evals": curve(fids)}


def test_update_order_pairs_the_variant_with_table1_by_seed():
    ends = {"one": [0.70, 0.66, 0.68], "two": [0.65, 0.61, 0.62],
            "two-simultaneous": [0.69, 0.67, 0.67]}
    runs = [_run("fishergan", sc, s, [3, 1, 0.9, 0.8, e])
            for sc in ("one", "two") for s, e in enumerate(ends[sc])]
    runs.append(_run("fishergan", "two", 5, [3, 1, 0.5]))  # no partners on seed 5: left out
    runs.append(_run("lsgan", "one", 0, [3, 1, 0.1]))  # another objective: ignored
    variant = [_run("fishergan", "two", s, [3, 1, 0.9, 0.8, e])
               for s, e in enumerate(ends["two-simultaneous"])]
    for r in variant:
        r["variant"] = "simultaneous"
    out = t1.update_order(runs, variant, "fishergan", last=2)
    assert out["n"] == 3 and [r["seed"] for r in out["seeds"]] == [0, 0, 1, 1, 2, 2]
    pairs = {(p["a"], p["b"], p["at"]): p for p in out["pairs"]}
    order = pairs[("two-simultaneous", "two", "end")]
    ci = stats.ttest_rel(ends["two-simultaneous"], ends["two"]).confidence_interval(0.95)
    assert (order["low"], order["high"]) == pytest.approx((ci.low, ci.high))
    assert order["verdict"] == "two better"
    shared = pairs[("one", "two-simultaneous", "end")]
    assert shared["a-b"] == pytest.approx((0.01 - 0.01 + 0.01) / 3)
    assert shared["verdict"] == paired.INCONCLUSIVE
    late = pairs[("one", "two", "mean of the last 2 evaluations")]
    assert late["a-b"] == pytest.approx(sum((0.8 + a) / 2 - (0.8 + b) / 2 for a, b in
                                            zip(ends["one"], ends["two"])) / 3)
    none = t1.update_order(runs, [], "fishergan")  # no variant run: no pairs
    assert none["n"] == 0 and none["pairs"] == [] and none["seeds"] == []
    assert none["cause"] == t1.NOT_RUN and none["excluding"] == []


def test_table1_of_reads_one_objective_over_the_seeds_given():
    runs = [_run("fishergan", "one", s, [9, 1 + d]) for s, d in enumerate([0.05, 0.06, 0.05, 0.4])]
    runs += [_run("fishergan", "two", s, [9, 1.0]) for s in range(4)]
    first = t1.table1_of(runs, "fishergan", seeds=[0, 1, 2])
    ci = stats.ttest_rel([1.05, 1.06, 1.05], [1.0] * 3).confidence_interval(0.95)
    assert first["FID one-two"] == approx(0.16 / 3)
    assert (first["FID low"], first["FID high"]) == (approx(ci.low), approx(ci.high))
    assert first["verdict"] == "two better" and first["n"] == 3
    every = t1.table1_of(runs, "fishergan")
    assert every["verdict"] == paired.INCONCLUSIVE and every["n"] == 4
    assert t1.table1_of(runs, "lsgan") is None


def _order(ends):
    runs = [_run("fishergan", sc, s, [3, 1, 0.9, 0.8, e])
            for sc in ("one", "two") for s, e in enumerate(ends[sc])]
    variant = [_run("fishergan", "two", s, [3, 1, 0.9, 0.8, e])
               for s, e in enumerate(ends["two-simultaneous"])]
    for r in variant:
        r["variant"] = "simultaneous"
    return t1.update_order(runs, variant, "fishergan", last=2)


def test_order_cause_names_the_cause_the_intervals_single_out():
    one, two = [0.70, 0.66, 0.68], [0.65, 0.61, 0.62]
    order = _order({"one": one, "two": two, "two-simultaneous": [0.69, 0.67, 0.67]})
    assert order["cause"] == t1.ORDER
    end = {(q["a"], q["b"]): q for q in order["pairs"] if q["at"] == "end"}
    # simultaneous - two at the end: mean of 0.04, 0.06, 0.05
    assert end[("two-simultaneous", "two")]["a-b"] == approx(0.05)
    assert order["excluding"] == [("two-simultaneous", "two", "end"),
                                  ("two-simultaneous", "two", "mean of the last 2 evaluations")]
    shared = _order({"one": one, "two": two, "two-simultaneous": [0.651, 0.606, 0.624]})
    assert shared["cause"] == t1.SHARED_BATCH
    mixed = _order({"one": one, "two": two, "two-simultaneous": [0.60, 0.70, 0.66]})
    assert mixed["cause"] == t1.UNTIED and mixed["excluding"] == [] and mixed["n"] == 3
    # the variant worse than both on the means: the order matters, the shared batch helps
    opposed = _order({"one": one, "two": two, "two-simultaneous": [0.69, 0.73, 0.70]})
    assert opposed["cause"] == t1.ORDER_AGAINST_SHARED and opposed["excluding"] == []
    assert opposed["n"] == 3
    # the order singled out while one stage is level with the variant: the order accounts for it
    alone = _order({"one": [0.70, 0.60, 0.69], "two": two,
                    "two-simultaneous": [0.73, 0.70, 0.705]})
    assert alone["cause"] == t1.ORDER
    assert t1.order_cause([]) == t1.NOT_RUN


def test_table1_pairs_seeds_and_states_the_paper_direction():
    runs = [_run("dcgan", "one", s, [9, 5, 3 + d]) for s, d in enumerate([0.0, 0.1, -0.1])]
    runs += [_run("dcgan", "two", s, [9, 6, 4 + d]) for s, d in enumerate([0.0, 0.2, 0.1])]
    runs.append(_run("dcgan", "two", 3, [9, 6, 1]))  # seed 3 has no one-stage pair: left out
    (row,) = t1.table1(runs)
    assert row["n"] == 3 and row["FID one"] == pytest.approx(3.0)
    ci = stats.ttest_rel([3, 3.1, 2.9], [4, 4.2, 4.1]).confidence_interval(0.95)
    assert (row["FID low"], row["FID high"]) == pytest.approx((ci.low, ci.high))
    assert row["verdict"] == "one better"
    assert row["paper (celeba)"] == "one better"  # Table 1: 22.66 (one) < 23.78 (two)


def test_figure4_ratio_of_times_to_plateau():
    runs = [_run("lsgan", "one", s, [9, 3, 3, 3]) for s in range(3)]  # plateau at step 200
    runs += [_run("lsgan", "two", s, [9, 6, 3, 3]) for s in range(3)]  # at step 300
    (row,) = t1.figure4(runs, step_cost={"lsgan": {"one": 1.0, "two": 1.5}})
    assert row["two / one"] == pytest.approx(300 * 1.5 / 200)
    assert row["low"] == pytest.approx(row["two / one"]) and row["high"] == pytest.approx(2.25)
    (own,) = t1.figure4(runs)
    assert own["two / one"] == pytest.approx(1.5) and own["clock"] == "the runs' own clock"
    assert not math.isnan(own["low"])


def test_figure4_time_to_the_fid_both_schemes_reach():
    # one reaches 3 at step 200 and goes on to 1; two ends at 3, reached at step 400: both
    # reach 3 (x 1.1), one first. Neither has flattened: time to plateau would say 5/4.
    runs = [_run("lsgan", "one", s, [9, 3, 2, 1.5, 1]) for s in range(2)]
    runs += [_run("lsgan", "two", s, [9, 6, 4, 3, 3.2]) for s in range(2)]
    (row,) = t1.figure4(runs, step_cost={"lsgan": {"one": 1.0, "two": 2.0}})
    assert row["common: two / one"] == pytest.approx(400 * 2.0 / (200 * 1.0))
    assert row["two / one"] == pytest.approx(400 * 2.0 / (500 * 1.0))
    assert t1.first_reach(curve([9, 3, 2]), 2.5)["step"] == 300
    assert t1.first_reach(curve([9, 3, 2]), 1.0) is None


def test_curves_on_the_bench_clock_are_steps_times_the_step_cost():
    runs = [_run("lsgan", "one", s, [9, 6, 3]) for s in range(2)]
    steps, mean, lo, hi = t1.curves(runs, "lsgan", "one")
    assert steps == [100, 200, 300] and mean == [9, 6, 3] and lo == hi == mean
    timed, *_ = t1.curves(runs, "lsgan", "one", x="step", step_cost=0.25)
    assert timed == [25.0, 50.0, 75.0]
    with pytest.raises(ValueError, match="x='step'"):
        t1.curves(runs, "lsgan", "one", x="time", step_cost=0.25)
    assert t1.curves(runs, "lsgan", "two") == ([], [], [], [])


def test_bench_costs_read_the_layout_rows(tmp_path):
    rows = [{"objective": o, "scheme": sc, "option": op, "measured_s": t}
            for o, sc, op, t in [("dcgan", "one_stage", "baseline", 0.09),
                                 ("dcgan", "two_stage_paper", "baseline", 0.12),
                                 ("dcgan", "one_stage", "layout", 0.08),
                                 ("dcgan", "two_stage_paper", "layout", 0.10),
                                 ("dcgan", "two_stage_reuse", "layout", 0.5)]]
    (tmp_path / "bench.json").write_text(json.dumps({"rows": rows}))
    assert records.bench_costs(tmp_path / "bench.json") == {"dcgan": {"one": 0.08, "two": 0.10}}


# ----------------------------------------------------------------------------------------------
# Table 2 from a DFAD record


def test_dfad_table2_chooses_on_validation_and_pairs_seeds(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"sweep": "dfad_smoke"}))
    (tmp_path / "provenance.json").write_text(json.dumps({"sweep": "dfad_smoke", "sessions": []}))
    # one: point s0.001 wins on validation, s0.003 has the better test accuracy: not chosen
    for seed, bump in ((0, 0.0), (1, 0.02), (2, 0.01)):
        write_dfad_cell(tmp_path, "one", "adam", 1e-3, 1e-3, seed,
                   [(0, 0, 0.1), (10, 1.0, 0.5 + bump), (50, 5.0, 0.7 + bump)], 0.71 + bump,
                   0.8, 50)
        write_dfad_cell(tmp_path, "one", "adam", 3e-3, 1e-3, seed,
                   [(0, 0, 0.1), (50, 5.0, 0.95)], 0.95, 0.7, 50)
        write_dfad_cell(tmp_path, "two", "dfad", None, None, seed,
                   [(0, 0, 0.1), (5, 2.0, 0.55), (10, 4.0, 0.6 + 2 * bump)], 0.61 + 2 * bump,
                   0.75, 10)
    rec = records.load_dfad(tmp_path)
    assert [r["point"] for r in table2_record.choose(rec["runs"], "one")] == ["adam-s0.001-g0.001",
                                                                      "adam-s0.003-g0.001"]
    t2 = table2_record.dfad_table2(rec["runs"])
    assert t2["chosen"] == {"one": "adam-s0.001-g0.001", "two": "dfad"}
    by = {p["at"]: p for p in t2["paired"]}
    # end: one's whole-split final vs two's; paired differences 0.10, 0.08, 0.09
    assert by["end"]["one-two"] == approx(0.09, abs=1e-12)
    ref = stats.ttest_rel([0.71, 0.73, 0.72], [0.61, 0.65, 0.63]).confidence_interval(0.95)
    assert (by["end"]["low"], by["end"]["high"]) == (approx(ref.low, abs=1e-12),
                                                     approx(ref.high, abs=1e-12))
    assert by["end"]["verdict"] == "one better"
    # equal rounds (10): one's evaluation at round 10 against two's end
    assert by["equal rounds"]["one"] == approx(0.51, abs=1e-12)
    assert by["equal rounds"]["two"] == approx(0.63, abs=1e-12)
    # equal student updates: min(50 x 1, 10 x 5) = 50: both at their ends
    assert by["equal student updates"]["one-two"] == approx(0.09, abs=1e-12)
    # equal time by the runs' clocks: min(5.0, 4.0) = 4 s: one's evaluation at 1 s against
    # two's last; no bench given, so no row by the bench's costs
    assert by["equal time (runs' clock)"]["one"] == approx(0.51, abs=1e-12)
    assert by["equal time (runs' clock)"]["verdict"] == "two better"
    assert "equal time (bench)" not in by
    assert "best on validation" not in by  # the fixture's evaluations have no validation split
    # by a bench's costs: one 0.1 s a round, two 0.5: min(50 x 0.1, 10 x 0.5) = 5 s, both ends;
    # two at 1 s a round: min(5, 10) = 5 s, two at its round 5 (0.55 + 2 bump), one at its end
    for two_cost, one_at, two_at in ((0.5, [0.71, 0.73, 0.72], [0.61, 0.65, 0.63]),
                                     (1.0, [0.71, 0.73, 0.72], [0.55, 0.55, 0.55])):
        t2c = table2_record.dfad_table2(rec["runs"], costs={"one": 0.1, "two": two_cost})
        bench = {p["at"]: p for p in t2c["paired"]}["equal time (bench)"]
        diff = [x - y for x, y in zip(one_at, two_at)]
        assert bench["one-two"] == approx(sum(diff) / 3, abs=1e-12)
        assert [p["round"] for p in bench["points"]] == [50, 50, 50]
    rows = {r["scheme"]: r for r in t2["rows"]}
    assert rows["one"]["val"] == approx(0.8) and rows["one"]["n"] == 3
    # at the shared setting (the recipe): only two ran it, so a row and no pairing
    (recipe,) = t2["recipes"]["dfad"]["rows"]
    assert (recipe["scheme"], recipe["n"], recipe["test"]) == ("two", 3, approx(0.63))
    assert t2["recipes"]["dfad"]["paired"] == []
    text = show2.provenance_text(rec)
    # runs the sweep's plan does not hold (another grid, seeds it would not run a point on) are
    # counted apart: here one's seed-0 point and two's recipe are in dfad_smoke's plan
    assert text.startswith("Recorded sweep `dfad_smoke`: 3 of 14 runs finished (besides, 6 "
                           "finished run(s) of points the sweep no longer runs: ")


def test_early_stopping_on_validation_reads_each_run_at_its_own_best_evaluation(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"sweep": "dfad_smoke"}))
    (tmp_path / "provenance.json").write_text(json.dumps({"sweep": "dfad_smoke", "sessions": []}))
    # (round, seconds, test, validation): two swings, its best validation in the middle; one's
    # best validation is tied at rounds 20 and 40: the first is kept
    curves = {"one": [(0, 0, 0.1, 0.1), (20, 1, 0.40, 0.5), (40, 2, 0.45, 0.5), (50, 3, 0.3, 0.3)],
              "two": [(0, 0, 0.1, 0.1), (5, 1, 0.6, 0.62), (10, 2, 0.4, 0.41)]}
    for seed in (0, 1):
        for scheme, curve in curves.items():
            rounds = curve[-1][0]
            shifted = [(r, t, a + 0.01 * seed, v) for r, t, a, v in curve]
            write_dfad_cell(tmp_path, scheme, "adam", 1e-3, 1e-3, seed, shifted,
                            shifted[-1][2], shifted[-1][3], rounds)
    runs = records.load_dfad(tmp_path)["runs"]
    assert {(r["scheme"], r["seed"]): table2_record.best_val_round(r) for r in runs} == {
        ("one", 0): 20, ("one", 1): 20, ("two", 0): 5, ("two", 1): 5}
    by = {p["at"]: p for p in table2_record.dfad_table2(runs)["paired"]}
    early = by["best on validation"]
    assert [p["round"] for p in early["points"]] == [20, 20]
    assert (early["one"], early["two"]) == (approx(0.405), approx(0.605))
    assert early["one-two"] == approx(-0.2) and early["verdict"] == "two better"
    # at the end both have swung down, and the gap is half as large: the reason to read both
    assert by["end"]["one-two"] == approx(0.3 - 0.4)
    # a run without validation evaluations has no such round
    assert table2_record.best_val_round({"records": [{"round": 0, "Accuracy/student": 0.1}]}) is None


def test_dfad_plateau_rule_catches_a_student_still_learning():
    def run(vals, key="Accuracy/val"):
        rounds = 10 * (len(vals) - 1)
        return {"rounds": rounds, "records": [
            {"round": 10 * i, "Accuracy/student": 0.0, key: v} for i, v in enumerate(vals)]}

    # rounds 0..60, cut at 40: best before 0.50, best of the last third 0.55: still learning
    rising = table2_record.dfad_plateau(run([0.1, 0.3, 0.4, 0.45, 0.5, 0.52, 0.55]))
    assert not rising["plateaued"] and rising["gain"] == approx(0.05)
    flat = table2_record.dfad_plateau(run([0.1, 0.6, 0.7, 0.7, 0.71, 0.705, 0.709]))
    assert flat["plateaued"] and flat["best_last_third"] == approx(0.709)
    # without a validation split, the test accuracy; a run too short for thirds fails
    assert table2_record.dfad_plateau(run([0.1, 0.2, 0.8, 0.9], "Accuracy/student"))["gain"] == \
        approx(0.1)
    assert table2_record.dfad_plateau(run([0.1]))["plateaued"] is False


def test_class_table_means_each_scheme_over_seeds_from_evaluations_or_the_rescore():
    a, b = _run("dcgan", "one", 0, [3.0, 2.0]), _run("dcgan", "one", 1, [3.0, 2.0])
    a["evals"][-1]["classes"] = 9.0
    b["evals"][-1]["classes"] = None  # recorded before evaluations reported it: the rescore's
    b["rescore"] = {"classes_eff": 8.0}
    c = _run("dcgan", "two", 0, [3.0, 2.5])
    c["evals"][-1]["classes"] = 5.0
    d = _run("bgan", "two", 0, [3.0, 2.5])  # no classes at all: left out
    (row,) = t1.class_table([a, b, c, d])
    # the fewest of each scheme names its seed: seed 1's rescored 8.0, below seed 0's 9.0
    assert row == {"gan": "dcgan", "classes one": 8.5, "fewest one": 8.0, "fewest one seed": 1,
                   "classes two": 5.0, "fewest two": 5.0, "fewest two seed": 0, "seeds": 2}


def test_dfad_table2_chooses_among_the_grid_where_a_scheme_has_one(tmp_path):
    # as the sweep does (tuned_points): a recipe better on validation than every grid point is
    # reported at the shared setting, not as the scheme's chosen point
    (tmp_path / "sweep.json").write_text(json.dumps({"sweep": "dfad_smoke"}))
    (tmp_path / "provenance.json").write_text(json.dumps({"sweep": "dfad_smoke", "sessions": []}))
    write_dfad_cell(tmp_path, "kd", "adam", 1e-3, None, 0, [(0, 0, 0.1), (4, 1, 0.8)], 0.8,
                    0.80, 4)
    write_dfad_cell(tmp_path, "kd", "dfad_mnist", None, None, 0, [(0, 0, 0.1), (4, 1, 0.9)],
                    0.9, 0.90, 4)
    t2 = table2_record.dfad_table2(records.load_dfad(tmp_path)["runs"])
    assert table2_record.choose(records.load_dfad(tmp_path)["runs"], "kd")[0]["point"] == "dfad_mnist"
    assert t2["chosen"] == {"kd": "adam-s0.001"}
    assert [r["test"] for r in t2["recipes"]["dfad_mnist"]["rows"]] == [0.9]


def test_the_loader_reads_variant_and_point_from_the_names_the_sweep_gives():
    from osgan.sweep import Cell, DFADCell

    variants = {"simultaneous": {}, "batch128": {}}
    for v in ("", "simultaneous", "batch128"):
        cell = Cell("dcgan_ns", "one", True, 3, v)
        cfg = {"gan": "dcgan_ns", "stages": "one", "exact": True, "seed": 3}
        assert records._variant(cell.name, cfg, variants) == v
    for cell in (DFADCell("one", "adam", 1e-3, 3e-4, 2, 5), DFADCell("kd", "dfad_mnist", None,
                                                                     None, 0)):
        assert records._point(cell.name, {"scheme": cell.scheme, "seed": cell.seed}) == cell.point


def test_a_cell_ran_where_the_last_session_that_finished_it_ran():
    cpu = {"start": "2026-12-04T10:00:00+00:00", "cpu": "AMD EPYC", "cells_finished": ["a", "b"]}
    gpu = {"start": "2026-12-04T12:00:00+00:00", "cpu": "Intel(R) Xeon(R) Processor",
           "gpu": "NVIDIA H200", "cells_finished": ["b", "c"]}
    off = {"start": "2026-12-04T11:00:00+00:00", "cpu": "Intel Xeon", "gpu": "none",
           "cells_finished": ["d"]}
    # listed in any order: by start, the GPU session re-ran b; "none" is no GPU
    assert records.machines({"sessions": [gpu, off, cpu]}) == {
        "a": "AMD EPYC", "b": "NVIDIA H200", "c": "NVIDIA H200", "d": "Intel Xeon"}
    assert records.machines({"sessions": []}) == {}


def test_the_grid_read_by_balance_weight_takes_each_weights_best_on_validation():
    def row(scheme, point, balance, val, test, machine="AMD EPYC", chosen=False, rounds=1000):
        return {"scheme": scheme, "point": point, "balance": balance, "val": val, "test": test,
                "machine": machine, "reached": test >= 0.80, "chosen": chosen, "rounds": rounds,
                "tuned": True, "going_on": False}

    rows = [row("one", "adam-s0.001-g0.001", 0.0, 0.40, 0.41),
            row("one", "adam-s0.003-g0.001", 0.0, 0.45, 0.30),  # best at 0 on validation
            row("one", "adam-s0.003-g0.001-b5", 5.0, 0.65, 0.64, "NVIDIA H200", True, 15000),
            row("one", "dfad_mnist", 0.0, 0.90, 0.90),  # a recipe: not the grid's
            row("kd", "adam-s0.001", 0.0, 0.88, 0.88),  # not a data-free scheme
            row("two", "adam-s0.001-g0.001-b1", 1.0, 0.60, 0.61, "NVIDIA H200")]
    best = table2_record.best_by_balance(rows)
    assert {sc: {b: r["point"] for b, r in by.items()} for sc, by in best.items()} == {
        "one": {0.0: "adam-s0.003-g0.001", 5.0: "adam-s0.003-g0.001-b5"},
        "two": {1.0: "adam-s0.001-g0.001-b1"}}
    v = tuning.tuning_values(rows)
    assert v["t2g_balance"] == ("one stage: 0.450 (test 0.300) at balance 0, 0.650 (test 0.640) "
                                "at balance 5; two stages: 0.600 (test 0.610) at balance 1")
    assert v["t2g_gpu"] == "2 of 6 ran on the H200"
    assert tuning.tuning_values(rows[:2])["t2g_gpu"] == "none of 2 ran on a GPU"
    # the data-free cells at the level, the recipe's too (kd is not data-free)
    assert v["t2g_reached"] == "one stage `dfad_mnist` (0.900), of 5 finished"
    assert tuning.tuning_values(rows[:2])["t2g_reached"] == "none, of 2 finished"
    assert tuning.tuning_values([])["t2g_balance"] == "nothing recorded yet"
    # each scheme's chosen point read at the end of its run, with its length
    assert v["t2g_chosen_end"] == ("one stage `adam-s0.003-g0.001-b5` 0.640 (validation 0.650) "
                                   "after 15,000 rounds")
    assert tuning.tuning_values(rows[:2])["t2g_chosen_end"] == "nothing chosen yet"
    # while its scheme's grid runs, the chosen point is the best so far, and says so
    running = [r | {"tuned": False} for r in rows]
    assert tuning.tuning_values(running)["t2g_chosen_end"] == (
        "one stage `adam-s0.003-g0.001-b5` (best so far) 0.640 (validation 0.650) after 15,000 "
        "rounds")
