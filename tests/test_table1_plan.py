"""Table 1's planned analysis (osgan.plans, osgan.stats, osgan.table1) on fixtures, against
scipy and closed forms."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from osgan import paper, plans, stats, table1
from osgan.util import UsageError

PLAN = plans.TABLE1
HASH = plans.plan_hash(PLAN)


def run(gan, stages, seed, fids, plan=HASH, ema=None, exact=False):
    evals = [{"step": 500 * (i + 1), "FID": f, "KID": f / 100} | ({"EMA/FID": ema[i]} if ema else {})
             for i, f in enumerate(fids)]
    return {"gan": gan, "stages": stages, "seed": seed, "done": True, "exact": exact,
            "variant": "", "evals": evals, "config": {"plan": plan},
            "path": Path(f"{gan}-{stages}{'-exact' if exact else ''}-seed{seed}")}


def record(diffs: dict[str, list[float]], base: float = 1.0, plan=HASH):
    """Runs whose reading (every evaluation equal) differs one - two by ``diffs[gan][i]`` on the
    log scale, seed i; the other objectives of the plan: no runs."""
    out = []
    for gan, ds in diffs.items():
        for seed, d in enumerate(ds):
            two = base + 0.1 * seed
            out += [run(gan, "two", seed, [math.exp(two)] * 5, plan),
                    run(gan, "one", seed, [math.exp(two + d)] * 5, plan)]
    return out


NOISE = [0.3, -0.2, 0.1, -0.4, 0.25, -0.05, 0.2, -0.15]  # mean 0.00625: nothing to find


def test_the_plan_is_fixed_data_with_a_stable_hash():
    assert PLAN.seeds == tuple(range(8)) and PLAN.primary == "log_fid_last4"
    assert len(HASH) == 64 and HASH == plans.plan_hash(plans.TABLE1)
    assert plans.plan_hash(dataclasses.replace(PLAN, equivalence_ratio=1.2)) != HASH
    assert math.isclose(PLAN.margin, math.log(1.10))
    assert set(PLAN.secondary) <= set(plans.READINGS) and PLAN.primary in plans.READINGS
    with pytest.raises(UsageError, match="unknown analysis plan"):
        plans.get("table9")


def test_readings_of_one_run():
    ev = [{"FID": f, "KID": f / 10, "EMA/FID": f / 2} for f in (8.0, 4.0, 2.0, 1.0, 2.0, 4.0)]
    assert table1.reading(ev, "log_fid_last4") == pytest.approx(np.log([2, 1, 2, 4]).mean())
    assert table1.reading(ev, "log_fid_last") == pytest.approx(math.log(4))
    assert table1.reading(ev, "log_fid_best") == pytest.approx(0.0)
    assert table1.reading(ev, "log_fid_ema_last4") == pytest.approx(np.log([1, .5, 1, 2]).mean())
    assert table1.reading(ev, "log_kid_last4") == pytest.approx(np.log([.2, .1, .2, .4]).mean())
    assert math.isnan(table1.reading([{"FID": 1.0}], "log_fid_ema_last4"))  # a run with no EMA
    assert math.isnan(table1.reading([{"FID": 1.0, "KID": -0.01}], "log_kid_last4"))
    with pytest.raises(UsageError, match="unknown reading"):
        table1.reading(ev, "fid_median")


def test_paired_interval_and_p_are_scipys():
    d = np.array([0.12, 0.31, -0.05, 0.2, 0.18])
    t = stats.paired(d)
    ref = sps.ttest_rel(d + 1.0, np.ones(5))
    lo, hi = ref.confidence_interval(0.95)
    assert (t.n, t.mean, t.p) == (5, pytest.approx(d.mean()), pytest.approx(ref.pvalue))
    assert (t.low, t.high) == (pytest.approx(lo), pytest.approx(hi))
    assert math.isnan(stats.paired([0.1]).p) and stats.paired([]).n == 0


def test_tost_is_the_larger_of_two_one_sided_scipy_tests():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    b = a + np.array([0.01, -0.02, 0.015, 0.0, -0.01])
    m = 0.05
    d = a - b
    ref = max(sps.ttest_1samp(d, -m, alternative="greater").pvalue,
              sps.ttest_1samp(d, m, alternative="less").pvalue)
    assert stats.tost(a, b, m) == pytest.approx(ref)


def test_the_detectable_difference_has_the_plans_power():
    sd, n = 0.14, 8
    delta = stats.detectable(sd, n, 0.05, 0.80)
    # power of the two-sided paired t-test at delta, from the noncentral t distribution
    crit = sps.t.ppf(0.975, n - 1)
    nc = delta / (sd / math.sqrt(n))
    power = sps.nct.sf(crit, n - 1, nc) + sps.nct.cdf(-crit, n - 1, nc)
    assert power == pytest.approx(0.80, abs=1e-6)
    assert math.exp(delta) == pytest.approx(1.176, abs=0.01)  # x/1.18 at n = 8, sd 0.14


def test_holm_is_statsmodels_step_down_and_keeps_nans():
    p = [0.01, 0.04, 0.03, math.nan]
    adj = stats.holm(p)
    assert adj[:3] == pytest.approx([0.03, 0.06, 0.06]) and math.isnan(adj[3])


def test_the_pooled_estimate_is_dersimonian_laird_with_a_hartung_knapp_interval():
    y = np.array([0.1, 0.35, -0.05, 0.3, 0.15, 0.5])
    v = np.array([0.004, 0.01, 0.006, 0.02, 0.005, 0.01])
    k = len(y)
    w = 1 / v
    q = np.sum(w * (y - np.sum(w * y) / w.sum()) ** 2)
    tau2 = max(0.0, (q - (k - 1)) / (w.sum() - np.sum(w ** 2) / w.sum()))
    ws = 1 / (v + tau2)
    mu = np.sum(ws * y) / ws.sum()
    se = math.sqrt(np.sum(ws * (y - mu) ** 2) / ((k - 1) * ws.sum()))
    crit = sps.t.ppf(0.975, k - 1)
    p = stats.pooled(y, v)
    assert tau2 > 0  # the fixture is heterogeneous: the random effect matters
    assert (p.estimate, p.tau2, p.q) == (pytest.approx(mu), pytest.approx(tau2), pytest.approx(q))
    assert (p.low, p.high) == (pytest.approx(mu - crit * se), pytest.approx(mu + crit * se))
    assert p.i2 == pytest.approx(max(0.0, (q - (k - 1)) / q))
    with pytest.raises(ValueError, match="2 studies"):
        stats.pooled([0.1], [0.01])


def test_holm_turns_a_significant_objective_inconclusive_among_ten():
    strong = [0.30, 0.22, 0.35, 0.18, 0.41, 0.26, 0.33, 0.15]  # one stage worse: p about 1e-5
    borderline = [0.2, 0.05, 0.3, -0.02, 0.25, 0.1, 0.18, 0.02]
    diffs = {g: NOISE for g in PLAN.objectives} | {"dcgan": borderline, "cgan": strong}
    f = table1.analyse(record(diffs))
    dc = f.by_gan()["dcgan"]
    assert dc.p < 0.05 <= dc.p_holm and dc.verdict == "inconclusive"
    assert f.by_gan()["cgan"].verdict == "two stages better"
    # the same runs under a plan of dcgan alone: no correction, and the verdict decides
    alone = dataclasses.replace(PLAN, objectives=("dcgan",))
    runs = [dict(r, config={"plan": plans.plan_hash(alone)}) for r in record(diffs)]
    assert table1.analyse(runs, alone).by_gan()["dcgan"].verdict == "two stages better"
    # a lower reading for one stage is "one stage better"
    flipped = {g: [-x for x in d] for g, d in diffs.items()}
    assert table1.analyse(record(flipped)).by_gan()["cgan"].verdict == "one stage better"


def test_tost_declares_equivalence_within_ten_percent():
    close = [0.01, -0.012, 0.02, -0.015, 0.0, 0.012, -0.01, 0.005]
    f = table1.analyse(record({g: NOISE for g in PLAN.objectives} | {"lsgan": close}))
    ls = f.by_gan()["lsgan"]
    assert ls.tost_p < 0.05 and ls.verdict == "equivalent within 10%"
    assert ls.low > 1 / 1.1 and ls.high < 1.1
    assert f.by_gan()["wgan"].verdict == "inconclusive"  # wide: neither a difference nor within


def test_findings_ratio_interval_pooled_and_secondary():
    diffs = {g: [0.1 + x / 4 for x in NOISE] for g in PLAN.objectives}
    runs = record(diffs)
    f = table1.analyse(runs)
    c = f.by_gan()["wgan"]
    ref = sps.ttest_1samp(np.array(diffs["wgan"]), 0.0)
    assert c.n == 8 and c.seeds == PLAN.seeds
    assert c.ratio == pytest.approx(math.exp(np.mean(diffs["wgan"])))
    assert (c.low, c.high) == tuple(pytest.approx(math.exp(x)) for x in ref.confidence_interval())
    assert f.pooled.k == 10 and f.pooled_ratio()[0] == pytest.approx(math.exp(0.1 + 0.00625 / 4))
    assert f.over_objectives.n == 10
    # the EMA reading counts only runs that kept one; the others are secondary readings
    assert {c.n for c in f.secondary["log_fid_ema_last4"]} == {0}
    assert f.secondary["log_fid_last"][0].ratio == pytest.approx(f.primary[0].ratio)
    assert f.paper["dcgan"] == pytest.approx(paper.table1_ratio("dcgan")) and f.paper["dcgan"] < 1
    assert f.before_plan == []


def test_cells_before_the_plan_are_listed_and_another_plan_is_refused():
    runs = record({"dcgan": NOISE[:3]}, plan="") + record({"cgan": NOISE})
    f = table1.analyse(runs)
    assert f.before_plan == sorted(f"dcgan-{st}-seed{s}" for st in ("one", "two") for s in range(3))
    assert f.by_gan()["dcgan"].n == 3 and f.missing["dcgan"] == [3, 4, 5, 6, 7]
    assert f.by_gan()["sngan"].n == 0 and math.isnan(f.by_gan()["sngan"].ratio)
    other = record({"dcgan": NOISE}, plan="0" * 64)
    with pytest.raises(UsageError, match="another analysis plan") as e:
        table1.analyse(other + runs)
    assert "\n" not in str(e.value)
    bad = dataclasses.replace(PLAN, secondary=("fid_median",))
    with pytest.raises(UsageError, match="unknown reading"):
        table1.analyse(runs, bad)
    bad = dataclasses.replace(PLAN, objectives=("dcgan", "stylegan"))
    with pytest.raises(UsageError, match="unknown objective 'stylegan'") as e:
        table1.analyse(runs, bad)
    assert "\n" not in str(e.value)


def test_exact_variants_and_seeds_off_the_plan_are_not_read():
    runs = record({"geogan": NOISE})
    runs += [run("geogan", "one", 0, [100.0] * 5, exact=True), run("geogan", "one", 9, [1.0] * 5),
             run("geogan", "two", 9, [100.0] * 5)]
    c = table1.analyse(runs).by_gan()["geogan"]
    assert c.n == 8 and c.ratio == pytest.approx(math.exp(np.mean(NOISE)))


def test_steps_to_the_common_fid_on_a_running_mean_of_three():
    one = [{"step": 100 * (i + 1), "FID": f} for i, f in enumerate([8, 4, 2, 1, 1, 1])]
    two = [{"step": 100 * (i + 1), "FID": f} for i, f in enumerate([8, 8, 4, 4, 2, 2, 2, 2])]
    run1 = table1.running_log_fid(one)
    assert run1[0] == (300, pytest.approx(np.log([8, 4, 2]).mean()))
    s1, s2, level = table1.steps_to_common(one, two)
    # two's best running value is log(2) (its last evaluations all at 2); one gets there at
    # step 400 (mean of log 4, 2, 1 = log 2), two at step 700 (log 2, 2, 2)
    assert level == pytest.approx(math.log(2)) and (s1, s2) == (400, 700)
    assert table1.steps_to_common(one[:2], two) is None


def test_figure4_is_steps_ratio_times_cost_over_paired_seeds():
    def evals(reach):  # FID 8 until step `reach`, then 1
        return [{"step": s, "FID": 8.0 if s < reach else 1.0} for s in range(100, 1100, 100)]

    runs = []
    for seed, (a, b) in enumerate([(300, 600), (400, 600), (200, 600)]):
        runs += [dict(run("lsgan", "one", seed, [1.0]), evals=evals(a)),
                 dict(run("lsgan", "two", seed, [1.0]), evals=evals(b))]
    costs = {"lsgan": {"one": 0.10, "two": 0.13}}
    (r,) = table1.figure4(runs, costs)
    # the running mean of 3 reaches log 1 two evaluations after the FID drops
    logs = [math.log((b + 200) / (a + 200)) for a, b in [(300, 600), (400, 600), (200, 600)]]
    ref = sps.ttest_1samp(logs, 0.0).confidence_interval()
    assert r.n == 3 and r.cost == pytest.approx(1.3)
    assert r.steps == pytest.approx(math.exp(np.mean(logs)))
    assert r.time == pytest.approx(r.steps * 1.3)
    assert (r.steps_low, r.steps_high) == tuple(pytest.approx(math.exp(x)) for x in ref)
    assert table1.figure4(runs, {}) == []  # no bench: no time


def test_rendered_findings_hold_the_numbers():
    import matplotlib

    matplotlib.use("Agg")
    from osgan import forest

    diffs = {g: [0.1 + x / 4 for x in NOISE] for g in PLAN.objectives}
    f = table1.analyse(record(diffs))
    rows = forest.verdict_rows(f, ["wgan"])
    c = f.by_gan()["wgan"]
    assert rows[0]["objective"] == "wgan" and rows[0]["seeds"] == 8
    assert rows[0]["FID one / two [95%]"] == f"{c.ratio:.3f} [{c.low:.3f}, {c.high:.3f}]"
    assert rows[0]["verdict"] == c.verdict
    v = forest.values(f)
    m, lo, hi = f.pooled_ratio()
    assert v["t1_pooled"] == f"{m:.3f} [{lo:.3f}, {hi:.3f}]" and v["t1_n"] == "8"
    assert v["t1_plan"] == HASH[:12]
    # each seed pair's difference, whose mean is the objective's ratio, drawn as a dot per seed
    assert c.diffs == pytest.approx(diffs["wgan"]) and math.exp(np.mean(c.diffs)) == \
        pytest.approx(c.ratio)
    fig = forest.plot_forest(f, gans=["wgan"])
    assert len(fig.axes[0].get_yticks()) == 11  # ten objectives and the pooled row
    dots = [ln for ln in fig.axes[0].lines if ln.get_marker() == "."]
    assert len(dots) == 10 and sorted(dots[2].get_xdata()) == pytest.approx(sorted(np.exp(c.diffs)))
    sec = forest.secondary_rows(f)
    assert len(sec) == 10 and all(k.endswith("(n)") for k in list(sec[0])[1:])


def test_pairs_are_formed_within_one_instrument_and_each_instrument_is_read_alone():
    from osgan.analysis import instrument
    diffs = {"lsgan": [0.1 + x / 4 for x in NOISE]}
    runs = record(diffs)
    for r in runs:  # seeds 0-3 on the AMD EPYC's classifier, 4-7 on the frozen Xeon's
        r["instrument"] = instrument.AMD if r["seed"] < 4 else instrument.XEON
    # seed 3's one-stage cell measured again on the Xeon: its pair is two instruments, no pair
    mixed = next(r for r in runs if r["gan"] == "lsgan" and r["seed"] == 3 and r["stages"] == "one")
    mixed["instrument"] = instrument.XEON
    f = table1.analyse(runs)
    c = f.by_gan()["lsgan"]
    kept = [0, 1, 2, 4, 5, 6, 7]
    assert c.seeds == tuple(kept) and f.mixed == {"lsgan": [3]} and 3 in f.missing["lsgan"]
    assert c.instruments == (instrument.AMD,) * 3 + (instrument.XEON,) * 4
    assert c.ratio == pytest.approx(math.exp(np.mean([diffs["lsgan"][s] for s in kept])))
    # within each instrument alone: the same test on its own pairs
    amd = {x.gan: x for x in f.by_instrument[instrument.AMD]}["lsgan"]
    xeon = {x.gan: x for x in f.by_instrument[instrument.XEON]}["lsgan"]
    assert amd.seeds == (0, 1, 2) and xeon.seeds == (4, 5, 6, 7)
    ref = sps.ttest_1samp(np.array([diffs["lsgan"][s] for s in (4, 5, 6, 7)]), 0.0)
    assert xeon.p == pytest.approx(ref.pvalue)
    # rendered: the pairs per classifier, the mixed seed, and the table within each classifier
    from osgan import forest
    row = forest.verdict_rows(f, ["lsgan"])[0]
    assert row["classifier (pairs)"] == "AMD EPYC 3, Xeon 4"
    v = forest.values(f)
    assert v["t1_mixed"] == "lsgan seed 3" and v["t1_instruments"] == "AMD EPYC 3, Xeon 4"
    sens = forest.instrument_rows(f, ["lsgan"])[0]
    assert sens["Xeon pairs only (n)"] == f"{xeon.ratio:.3f} [{xeon.low:.3f}, {xeon.high:.3f}] (4)"


def test_a_pair_is_formed_on_one_kind_of_machine_and_the_table_says_where_pairs_ran():
    """Seeds 5-7 ran on a GPU, both cells; seed 4's two-stage cell too, but its one-stage cell on
    the CPU: no pair. Until a GPU ran a pair the table has no column for it."""
    from osgan import forest
    diffs = {"wgan": [0.1 + x / 4 for x in NOISE]}
    runs = record(diffs)
    assert "ran on (pairs)" not in forest.verdict_rows(table1.analyse(runs), ["wgan"])[0]
    for r in runs:
        gpu = r["seed"] >= 5 or (r["seed"] == 4 and r["stages"] == "two")
        r["on_gpu"], r["machine"] = gpu, "NVIDIA H200" if gpu else "Intel Xeon"
    f = table1.analyse(runs)
    c = f.by_gan()["wgan"]
    assert c.seeds == (0, 1, 2, 3, 5, 6, 7) and f.mixed == {"wgan": [4]}
    assert c.machines == ("cpu",) * 4 + ("NVIDIA H200",) * 3
    assert c.ratio == pytest.approx(math.exp(np.mean([diffs["wgan"][s] for s in c.seeds])))
    assert forest.verdict_rows(f, ["wgan"])[0]["ran on (pairs)"] == "CPU 4, NVIDIA H200 3"


def test_records_name_where_each_cell_ran_from_its_provenance(tmp_path):
    import json

    from osgan.analysis import records
    (tmp_path / "sweep.json").write_text(json.dumps({"sweep": "table1", "spec": {}}))
    sessions = [{"start": "1", "cpu": "Intel Xeon", "cells_finished": ["a-one-seed0"]},
                {"start": "2", "gpu": "NVIDIA H200", "cpu": "AMD", "cells_finished": ["a-two-seed0"]}]
    (tmp_path / "provenance.json").write_text(json.dumps({"sessions": sessions}))
    for name, st in (("a-one-seed0", "one"), ("a-two-seed0", "two")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({"config": {
            "gan": "dcgan", "stages": st, "seed": 0, "steps": 10}}))
        (tmp_path / name / "metrics.jsonl").write_text("")
    got = {r["path"].name: (r["machine"], r["on_gpu"]) for r in records.load(tmp_path)["runs"]}
    assert got == {"a-one-seed0": ("Intel Xeon", False), "a-two-seed0": ("NVIDIA H200", True)}


def test_an_instrument_is_named_by_the_accuracy_every_cell_records():
    from osgan.analysis import instrument
    assert instrument.name("domain", 0.9072) == instrument.AMD
    assert instrument.name("domain", 0.9049) == instrument.XEON
    assert instrument.name("teacher", 0.9052) == instrument.XEON
    assert instrument.name("domain", 0.9050) == "unknown 0.9050"
    assert instrument.name("teacher", None) == "none"
    assert instrument.of_evals([{"domain_acc": 0.9072}, {"domain_acc": 0.9049}]) == "mixed"
    with pytest.raises(ValueError, match="unknown kind"):
        instrument.name("inception", 0.9)


def test_every_frozen_instrument_is_known_by_the_accuracy_its_manifest_records():
    """instrument.KNOWN names the frozen classifiers by their test accuracy: it must agree with
    osgan/instruments/MANIFEST.json, so that a cell measured with one is read as that one."""
    from osgan import classifiers
    from osgan.analysis import instrument
    entries = classifiers.manifest()
    assert entries
    for file, entry in entries.items():
        kind = file.split("-")[0]
        who = instrument.name(kind, entry["accuracy"])
        assert who in instrument.LABEL and who != instrument.AMD, (file, who)
        assert "frozen" in instrument.DESCRIPTION[who]


def test_the_feature_space_label_names_each_classifier_and_its_cells():
    from osgan.analysis import instrument

    def cell(inst):
        return {"done": True, "evals": [{"feature_space": "domain:fashion_mnist@32/cnn"}],
                "instrument": inst}

    one = [cell(instrument.AMD)] * 3
    assert instrument.space_label(one) == "`domain:fashion_mnist@32/cnn`"
    both = instrument.space_label(one + [cell(instrument.XEON)])
    assert both == ("`domain:fashion_mnist@32/cnn`; 2 classifiers of its recipe: the AMD EPYC's "
                    "3 cells, the Xeon's (frozen) 1 cell")
    assert instrument.space_label([]) == "–"


def test_a_chapters_lead_returns_the_findings_values_and_the_classifier_spread(tmp_path):
    """forest.answer, what chapters 02 and 03 open with: on the committed record, the values of
    its findings and of the spread between classifiers recorded beside it; with no spread file,
    a dash for each of those."""
    import matplotlib

    matplotlib.use("Agg")
    from osgan import forest
    from osgan.analysis import instrument

    record = Path(__file__).resolve().parents[1] / "results" / "table1"
    v = forest.answer(record, ["dcgan"])
    f, _ = table1.recorded(record)
    spread = instrument.spread_values(record.parent / "instruments" / "spread.json")
    assert v == forest.values(f) | spread and spread["inst_seeds"] != "–"
    elsewhere = tmp_path / "table1"  # a record with no instruments/ beside it
    elsewhere.mkdir()
    for name in ("sweep.json", "provenance.json"):
        (elsewhere / name).write_text((record / name).read_text())
    assert forest.answer(elsewhere, ["dcgan"])["inst_seeds"] == "–"
