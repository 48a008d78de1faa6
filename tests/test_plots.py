"""osgan.render: Markdown tables, image grids, the paper's tables and the chapters' renderings of
a record, against hand-written expectations; the verdicts they show are checked as values."""

import csv
import json

import numpy as np
import pytest
import torch
from pytest import approx

from osgan import paper, sweep
from osgan.analysis import table1_record as a1
from osgan.analysis import table2_record as a2
from osgan.render import summary as intro
from osgan.render import table1_record as show1
from osgan.render import table2_record as show2
from osgan.render import table2_tuning as tuning
from osgan.render import tables


def test_markdown_table_formats_and_escapes():
    rows = [{"a": 1.23456, "b|c": "x|y", "d": None}, {"a": float("nan"), "b|c": True, "d": 2}]
    text = tables.markdown_table(rows, formats={"a": "{:.2f}"})
    assert text.splitlines() == [
        r"| a | b\|c | d |",
        "| --- | --- | --- |",
        r"| 1.23 | x\|y | – |",
        "| – | yes | 2 |",
    ]


def test_markdown_table_column_choice_and_empty():
    assert tables.markdown_table([{"a": 1, "b": 2}], columns=["b"]) == "| b |\n| --- |\n| 2 |"
    assert tables.markdown_table([], columns=["a"]) == "| a |\n| --- |"
    with pytest.raises(ValueError, match="columns"):
        tables.markdown_table([])


def test_image_grid_places_images_in_unit_range():
    # two grey 2x2 images: all -1 (black) and all +1 (white), one row, padding 1 of white
    images = torch.stack([torch.full((1, 2, 2), -1.0), torch.full((1, 2, 2), 1.0)])
    grid = tables.image_grid(images, nrow=2, padding=1)
    expected = np.ones((4, 7), np.float32)
    expected[1:3, 1:3] = 0.0
    np.testing.assert_array_equal(grid, expected)
    rgb = tables.image_grid(torch.zeros(3, 3, 4, 4), nrow=2, padding=0)
    assert rgb.shape == (8, 8, 3)
    np.testing.assert_allclose(rgb[:4, :8], 0.5)  # first row: two mid-grey images
    np.testing.assert_allclose(rgb[4:, 4:], 1.0)  # the empty slot stays white
    with pytest.raises(ValueError, match="channels"):
        tables.image_grid(torch.zeros(1, 2, 4, 4))


def test_paper_table1_matches_the_csv():
    with (paper.PAPER_DIR / "table1.csv").open() as f:
        raw = [r for r in csv.DictReader(f) if r["gan"] == "LSGAN"]
    rows = tables.paper_table1(["lsgan"], dataset="ffhq")
    assert [r["stages"] for r in rows] == [r["stages"] for r in raw]
    assert [r["FID (paper)"] for r in rows] == [
        f"{float(r['ffhq_fid']):.2f} ± {float(r['ffhq_fid_std']):.2f}" for r in raw
    ]
    cgan = tables.paper_table1(["cgan"], dataset="lsun_churches")
    assert [r["FID (paper)"] for r in cgan] == [None, None]  # "/" in the paper


def test_paper_tables_reject_unknown_names():
    with pytest.raises(ValueError, match="dcgan, cgan, wgan"):
        tables.paper_table1(["nogan"])
    with pytest.raises(ValueError, match="celeba"):
        tables.paper_table1(["dcgan"], dataset="mnist")
    with pytest.raises(ValueError, match="table1"):
        paper.paper_table("table9")


def _fake_record(root, fids, sweep="table1", variant=""):
    """A sweep record folder as osgan.sweep writes it: marker, provenance, cell folders (of
    ``variant``, a two-stage variant, when given)."""
    import json

    spec = {"variants": {variant: {"variant": variant}}} if variant else {}
    (root / "sweep.json").write_text(json.dumps({"sweep": sweep, "spec": spec}))
    session = {"start": "2026-11-24T05:00:00+00:00", "end": "2026-11-24T06:00:00+00:00",
               "command": "python -m osgan sweep table1", "workers": 2, "threads": 1,
               "commit": "0123456789abcdef", "dirty": False, "torch": "2.15.0",
               "clean-fid": "0.1.35", "cpu": "AMD EPYC", "cpu_count": 2, "cells_finished": []}
    (root / "provenance.json").write_text(json.dumps({"sweep": "table1", "sessions": [session]}))
    for (gan, stages, seed), curve in fids.items():
        d = root / f"{gan}{'-' + variant if variant else ''}-{stages}-seed{seed}"
        d.mkdir()
        cfg = {"gan": gan, "stages": stages, "exact": False, "seed": seed, "steps": 300,
               "variant": variant or "paper"}
        (d / "config.json").write_text(json.dumps({"kind": "train", "config": cfg}))
        rows = [{"step": 100 * (i + 1), "Time/train": 10.0 * (i + 1), "Eval/FID": f,
                 "Eval/KID": f / 100, "Eval/feature_space": "domain:fashion_mnist@32/cnn"}
                for i, f in enumerate(curve)]
        (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (d / "done.json").write_text(json.dumps({"steps": 300}))


def test_show_record_tables_and_plots_a_record(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    fids = {("dcgan", st, s): [9, 5, base + 0.1 * s] for s in range(3)
            for st, base in (("one", 3.0), ("two", 4.0))}
    _fake_record(tmp_path, fids)
    d = show1.load_record(tmp_path, ["dcgan", "wgan"])
    rows = d["rows"]
    assert [r["gan"] for r in rows] == ["dcgan"] and rows[0]["n"] == 3
    assert rows[0]["verdict"] == "one better" and rows[0]["paper (celeba)"] == "one better"
    values = show1.record_values(d)
    assert "commit(s) 0123456789" in values["rec_provenance"]
    assert f"6 of {len(sweep.cells('table1'))} runs finished" in values["rec_provenance"]
    assert values["rec_steps"] == "300" and values["rec_floor"] == show1.MISSING
    assert values["rec_plateau_n"] == "6" and values["rec_clock"].startswith("the runs' own clock")
    show1.show_table1(d)
    show1.show_record(d)
    assert "| dcgan | 3 |" in shown[0].data  # Table 1, then the classes and Figure 4 tables


def test_show_record_plots_time_by_the_bench_and_by_the_runs_clock(tmp_path, monkeypatch):
    import json

    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    shown, figures = [], []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    monkeypatch.setattr(plt, "show", lambda: figures.append(plt.gcf()))
    _fake_record(tmp_path, {("dcgan", st, 0): [9, 5, f] for st, f in (("one", 3), ("two", 4))})
    (tmp_path / "bench").mkdir()
    rows = [{"objective": "dcgan", "scheme": sc, "option": "layout", "measured_s": t}
            for sc, t in (("one_stage", 0.5), ("two_stage_paper", 1.0))]
    (tmp_path / "bench" / "bench.json").write_text(json.dumps({"rows": rows}))
    d = show1.load_record(tmp_path, ["dcgan"])
    show1.show_record(d)
    verdicts, curves = figures[:2]
    # at a glance: one - two over two's mean FID (here -1 over 4), the paper's beside it
    left, right = verdicts.axes
    (ours,) = [ln for ln in left.get_lines() if ln.get_marker() == "o"]
    (paper,) = [ln for ln in left.get_lines() if ln.get_marker() == "s"]
    assert list(ours.get_xdata()) == [-0.25]
    assert paper.get_xdata()[0] == pytest.approx((22.66 - 23.78) / 23.78)  # celeba, Table 1
    assert [t.get_text() for t in left.get_yticklabels()] == ["dcgan"]
    (ratio,) = [ln for ln in right.get_lines() if ln.get_marker() == "o"]
    (paper4,) = [ln for ln in right.get_lines() if ln.get_marker() == "s"]
    assert paper4.get_xdata()[0] == 1.7 and ratio.get_xdata()[0] > 0
    (bench_ax,), (own_ax,) = [[a for a in curves.axes if a.get_xlabel() == label] for label in (
        "training time (s): steps x bench step cost", "training time (s): the runs' own clock")]
    lines = {ln.get_label(): list(ln.get_xdata()) for ln in bench_ax.get_lines()}
    assert lines == {"one": [50.0, 100.0, 150.0], "two": [100.0, 200.0, 300.0]}
    own = {ln.get_label(): list(ln.get_xdata()) for ln in own_ax.get_lines()}
    assert own["one"] == [10.0, 20.0, 30.0]
    assert show1.record_values(d)["rec_clock"].startswith("steps times the step cost")


def test_show_record_measures_the_runs_against_the_recorded_floor(tmp_path, monkeypatch):
    import json

    import matplotlib

    matplotlib.use("Agg")
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    _fake_record(tmp_path, {("dcgan", st, 0): [9, 5, f] for st, f in (("one", 3.0), ("two", 4.0))})
    (tmp_path / "floor.json").write_text(json.dumps({
        "FID": 0.5, "FID min": 0.4, "FID max": 0.6, "n_draws": 3, "n_gen": 5000,
        "n_real": 10000, "feature_space": "domain:fashion_mnist@32/cnn",
        "date": "2026-11-24T09:00:00+00:00", "commit": "abcdef0123"}))
    d = show1.load_record(tmp_path, ["dcgan"])
    assert d["over_floor"] == (approx(6.0), approx(8.0))  # final FIDs 3 and 4 over 0.5
    values = show1.record_values(d)
    assert values["rec_floor"] == "0.500 (range 0.400 to 0.600 over 3 draws of 5000)"
    assert values["rec_over_floor"] == "6 to 8" and "abcdef0" in values["rec_floor_source"]
    show1.show_table1(d)
    # one seed: no std, no interval, and never "nan"
    assert "| 3.000 | 4.000 | -1.000 [–] |" in shown[0].data and "nan" not in shown[0].data


def test_show_record_says_when_there_is_none(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    assert show1.load_record(tmp_path / "nothing", ["dcgan"]) is None
    assert "No recorded sweep" in shown[0].data
    assert set(show1.record_values(None).values()) == {show1.MISSING}


def test_show_update_order_pairs_the_variant_with_table1(tmp_path, monkeypatch):
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    shown, figures = [], []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    monkeypatch.setattr(plt, "show", lambda: figures.append(plt.gcf()))
    assert show1.show_update_order(tmp_path / "t1", tmp_path / "why") is None
    assert "Nothing recorded" in shown[-1].data and "sweep why" in shown[-1].data
    (tmp_path / "t1").mkdir()
    (tmp_path / "why").mkdir()
    _fake_record(tmp_path / "t1", {("fishergan", st, s): [9, 5, base + 0.01 * s] for s in range(3)
                                   for st, base in (("one", 0.70), ("two", 0.65))})
    _fake_record(tmp_path / "why", {("fishergan", "two", s): [9, 5, 0.70 + 0.011 * s]
                                    for s in range(3)}, sweep="table1_why",
                 variant="simultaneous")
    out = show1.show_update_order(tmp_path / "t1", tmp_path / "why")
    assert out["n"] == 3
    text = " ".join(getattr(o, "data", "") for o in shown)
    assert "two-simultaneous - two" in text and "the order of the updates" in text
    assert "| 0 | end | 0.7000 | 0.6500 | 0.7000 |" in text
    (ax0, ax1) = figures[-1].axes
    # per seed, one stage and the variant minus the paper's two stages in the second half
    lines = [ln for ln in ax0.get_lines() if list(ln.get_xdata()) == [200, 300]]
    assert sorted(round(float(ln.get_ydata()[-1]), 4) for ln in lines) == \
        [0.05, 0.05, 0.05, 0.05, 0.051, 0.052]
    assert len(ax1.get_lines()) == 9  # three schemes, three seeds


@pytest.fixture
def shown(monkeypatch):
    """What the chapters display (IPython's display), kept in a list; figures on Agg."""
    import matplotlib

    matplotlib.use("Agg")
    out = []
    monkeypatch.setattr("IPython.display.display", lambda obj: out.append(obj))
    return out


def _dfad_record(root, sweep: str, spec: dict) -> None:
    """An empty DFAD record folder: its marker and provenance, no cells."""
    (root / "sweep.json").write_text(json.dumps({"sweep": sweep, "spec": spec}))
    (root / "provenance.json").write_text(json.dumps({"sweep": sweep, "sessions": []}))


def test_show_dfad_record_tables_and_plots_a_record(tmp_path, shown):
    from fixtures_data import write_dfad_cell

    assert show2.show_dfad_record(tmp_path / "nothing") == {}
    assert "No recorded DFAD sweep" in shown[0].data
    spec = {"kind": "dfad", "schemes": ["one", "two"], "lr_s": [1e-3], "lr_g": [1e-3, 3e-3],
            "seeds": [0, 1], "tune_seeds": [0], "profile": "smoke",
            "rounds": {"one": 10, "two": 10}, "extend": 2}
    _dfad_record(tmp_path, "dfad_smoke", spec)
    for seed in (0, 1):
        for scheme, acc in (("one", 0.7), ("two", 0.6)):
            write_dfad_cell(tmp_path, scheme, "dfad", None, None, seed,
                       [(0, 0, 0.1), (10, 1.0, acc + 0.01 * seed)], acc + 0.01 * seed, 0.8, 10)
    # one's grid point, run on past the grid's 10 rounds to 20, where it ends lower
    write_dfad_cell(tmp_path, "one", "adam", 1e-3, 1e-3, 0,
                    [(0, 0, 0.1, 0.1), (10, 1.0, 0.5, 0.6), (20, 2.0, 0.4, 0.5)], 0.4, 0.5, 20)
    (tmp_path / "round_costs.json").write_text(json.dumps({
        "seconds_per_round": {"one": 0.2, "two": 0.7}, "command": "python -m osgan sweep x "
        "--bench", "date": "2026-11-29T15:00:00", "cpu": "AMD EPYC", "threads": 1,
        "repeats": 30}))
    import matplotlib.pyplot as plt

    plt.close("all")
    t2 = show2.show_dfad_record(tmp_path)
    # one's grid point (the recipe is reported at the shared setting), two's recipe (no grid)
    assert t2["chosen"] == {"one": "adam-s0.001-g0.001", "two": "dfad"}
    text = " ".join(getattr(o, "data", "") for o in shown)
    assert "Table 2 on Fashion-MNIST" in text and "equal student updates" in text
    assert "**Share of the teacher's test accuracy** (0.9000) at each scheme's chosen point: one 44%" \
        in text
    # the run that went on past the grid: read at the grid's length, its best, its end
    assert "| `one-adam-s0.001-g0.001-seed0` | 0.6000 / 0.5000 (10) | 0.6000 (10) | " \
        "0.5000 / 0.4000 (20) | yes |" in text
    assert "Ended below its test accuracy at the grid's length: `one-adam-s0.001-g0.001-seed0`." \
        in text
    # the time axis from the bench, and equal time by it as well as by the runs' clocks
    assert "Time axis" in text and "one 0.2000 s, two 0.7000 s" in text
    assert "equal time (bench)" in text and "equal time (runs' clock)" in text
    # every finished run by the plateau rule: each recipe's curve rises in its last third
    assert "1 of 5 finished runs have flattened; still rising at the end" in text
    # how much of the grid has run, and the comparison at the shared setting
    assert "grid points finished there: one 1 of 2, two 0 of 2" in text
    assert "At the shared setting" in text and "both at the recipe `dfad`" in text
    # curves (rounds, student updates, time) and the grid's map, its unrun points named
    curves, grid = (plt.figure(n) for n in plt.get_fignums())
    assert [ax.get_title() for ax in curves.axes] == [
        "against rounds", "against student updates", "against training time",
        "the disagreement on generated images"]
    assert "rounds x round cost (bench)" in curves.axes[2].get_xlabel()
    updates = curves.axes[1].lines  # two's student updates: 5 a round
    assert max(max(line.get_xdata()) for line in updates) == 50
    one_map = grid.axes[0]
    assert sorted(t.get_text() for t in one_map.texts) == ["0.600", "not run"]


def test_show_dfad_ablation_pairs_each_one_stage_point_with_two(tmp_path, shown):
    from fixtures_data import write_dfad_cell

    assert show2.show_dfad_ablation(tmp_path / "table2_why") == {}
    assert "No recorded ablation" in shown[0].data
    _dfad_record(tmp_path, "table2_why", {})
    for seed in (0, 1, 2):
        for scheme, every, acc, rounds in (("one", 1, 0.1, 50), ("one", 5, 0.6, 50),
                                           ("two", 1, 0.5, 10)):
            write_dfad_cell(tmp_path, scheme, "adam", 1e-3, 1e-3, seed,
                            [(0, 0, 0.1), (rounds, 1.0, acc + 0.01 * seed)], acc + 0.01 * seed,
                            acc, rounds, g_every=every)
    # one stage's rounds are cheaper when its generator moves in every fifth round only
    (tmp_path / "round_costs.json").write_text(json.dumps({
        "seconds_per_round": {"one": 0.2, "one-every5": 0.1, "two": 0.6},
        "command": "python -m osgan sweep table2_why --bench", "date": "2026-11-29T18:00:00",
        "cpu": "AMD EPYC", "threads": 1, "repeats": 30}))
    import matplotlib.pyplot as plt

    plt.close("all")
    out = show2.show_dfad_ablation(tmp_path)
    assert set(out) == {"adam-s0.001-g0.001", "adam-s0.001-g0.001-every5"}
    # equal time by the bench: one 50 x 0.2 s, every5 50 x 0.1 s, two 10 x 0.6 s
    timed = {pt: next(p for p in rows if p["at"] == "equal time (bench)")
             for pt, rows in out.items()}
    assert timed["adam-s0.001-g0.001"]["points"][0] == {"round": approx(30)}
    assert timed["adam-s0.001-g0.001-every5"]["points"][0] == {"round": 50}
    assert "one-every5 0.1000 s" in " ".join(getattr(o, "data", "") for o in shown)
    assert [ax.get_title() for ax in plt.gcf().axes] == [
        "the ablation, against student updates", "against training time",
        "the disagreement on generated images (the loss)"]
    assert "bench" in plt.gcf().axes[1].get_xlabel()
    ends = {pt: next(p for p in rows if p["at"] == "end") for pt, rows in out.items()}
    assert ends["adam-s0.001-g0.001"]["one-two"] == approx(-0.4)
    assert ends["adam-s0.001-g0.001"]["verdict"] == "two better"
    assert ends["adam-s0.001-g0.001-every5"]["verdict"] == "one better"
    text = " ".join(getattr(o, "data", "") for o in shown)
    assert "one at `adam-s0.001-g0.001-every5`, two at `adam-s0.001-g0.001`" in text
    # the introduction's table of it, and its values
    (tmp_path / "table2_why").mkdir()
    for f in tmp_path.iterdir():
        if f.name != "table2_why":
            f.rename(tmp_path / "table2_why" / f.name)
    table = intro.table2_tables(tmp_path)["table2_why"]
    assert "| one at `adam-s0.001-g0.001-every5`, two at `adam-s0.001-g0.001` | end | 3 | 0.610 " \
           "| 0.510 | +0.100 [" in table and "| one better |" in table
    assert "not recorded yet" in intro.table2_tables(tmp_path / "nothing")["table2_why"]
    assert intro.intro_values(tmp_path)["t2why_eff"] == intro.MISSING  # no rescore yet
    # with a class-by-class reading, a line on the classes the generators show
    share = [0.5, 0.0, 0.0, 0.0, 0.0, 0.25, 0.0, 0.0, 0.25, 0.0]
    (tmp_path / "table2_why" / "rescore.json").write_text(json.dumps({"cells": {
        f"one-adam-s0.001-g0.001-seed{s}": {
            "accuracy": 0.4, "recorded accuracy": 0.4, "class_fractions": share,
            "classes_eff": 2.83 + s, "agreement": 0.7, "images": 100,
            "per_class": [0.9, 0.0, 0.1, 0.0, 0.0, 0.8, 0.05, 0.0, 0.7, 0.0]} for s in (0, 1)},
        "date": "2026-11-29T19:00:00", "commit": "0123456789", "missing": []}))
    values = intro.intro_values(tmp_path)
    assert values["t2why_eff"] == "2.8 to 3.8" and values["t2why_pairs"] == "20"
    assert values["t2why_rare"] == "trouser, pullover, dress, coat, shirt, sneaker, ankle boot"
    assert values["t2why_follows"] == "follows"
    reading = a2.dfad_classes(json.loads((tmp_path / "table2_why" / "rescore.json").read_text()))
    assert reading["follows"] and reading["eff"] == [2.83, 3.83] and reading["pairs"] == 20


def test_show_dfad_classes_pairs_what_the_generator_shows_with_what_the_student_learns(
        tmp_path, shown):
    from scipy import stats

    assert show2.show_dfad_classes(tmp_path) == {}
    assert "No class-by-class reading" in shown[0].data
    # two adversarial cells that show the teacher four classes, one KD cell (no generator)
    share = [0.3, 0.0, 0.01, 0.2, 0.0, 0.3, 0.0, 0.0, 0.19, 0.0]
    acc = [0.8, 0.0, 0.1, 0.7, 0.05, 0.6, 0.2, 0.0, 0.9, 0.1]
    cells = {f"{sc}-adam-s0.001-g0.001-seed0": {
        "round": 10, "accuracy": 0.4, "recorded accuracy": 0.4, "per_class": acc,
        "class_fractions": share, "classes_eff": 4.0, "agreement": 0.7, "images": 100}
        for sc in ("one", "two")}
    cells["kd-dfad_mnist-seed0"] = {"round": 10, "accuracy": 0.9, "recorded accuracy": 0.9,
                                    "per_class": [0.9] * 10}
    (tmp_path / "rescore.json").write_text(json.dumps({
        "cells": cells, "date": "2026-11-29T19:00:00", "commit": "0123456789", "missing": []}))
    import matplotlib.pyplot as plt

    plt.close("all")
    out = show2.show_dfad_classes(tmp_path)
    assert out["cells"] == ["one-adam-s0.001-g0.001-seed0", "two-adam-s0.001-g0.001-seed0"]
    ref = stats.spearmanr(share * 2, acc * 2)
    assert out["spearman"] == approx(ref.statistic) and out["p"] == approx(ref.pvalue)
    text = shown[-1].data
    assert f"rho = {ref.statistic:.2f} over 20 pairs" in text
    # classes under 2% of every generator's images, by name
    assert "trouser, pullover, coat, shirt, sneaker, ankle boot." in text
    assert [ax.get_title() for ax in plt.gcf().axes][:2] == [
        "what the generator shows the teacher (final G, 100 images)",
        "what the student learned (final student, test split)"]
    # a choice of points keeps only their cells
    assert show2.show_dfad_classes(tmp_path, {"two": "adam-s0.001-g0.001"})["cells"] == [
        "two-adam-s0.001-g0.001-seed0"]
    assert show2.show_dfad_classes(tmp_path, {"two": "adam-s0.001-g0.001"})["paired"] == []


def test_classes_shown_one_against_two_paired_by_seed_against_scipy(tmp_path, shown):
    from scipy import stats

    eff = {"one": [3.0, 4.0, 5.0], "two": [5.0, 5.0, 6.0]}
    agree = {"one": [0.70, 0.75, 0.76], "two": [0.77, 0.77, 0.78]}
    cells = {f"{sc}-{pt}-seed{k}": {
        "round": 10, "accuracy": 0.4, "recorded accuracy": 0.4, "per_class": [0.5] * 10,
        "class_fractions": [0.1] * 10, "classes_eff": eff[sc][k], "agreement": agree[sc][k],
        "images": 100} for sc, pt in (("one", "p1"), ("two", "p2")) for k in range(3)}
    cells["one-other-seed0"] = dict(cells["one-p1-seed0"], classes_eff=9.0)  # another point
    (tmp_path / "rescore.json").write_text(json.dumps({
        "cells": cells, "date": "2026-11-30T00:00:00", "commit": "0123456789", "missing": []}))
    paired = show2.show_dfad_classes(tmp_path, {"one": "p1", "two": "p2"})["paired"]
    for row, key in zip(paired, (eff, agree), strict=True):
        ref = stats.ttest_rel(key["one"], key["two"]).confidence_interval(0.95)
        assert row["n"] == 3 and row["one"] == approx(sum(key["one"]) / 3)
        assert row["one - two"] == approx(sum(key["one"]) / 3 - sum(key["two"]) / 3)
        assert (row["low"], row["high"]) == (approx(ref.low), approx(ref.high))
    assert "one against two" in shown[-1].data and "-1.333 [" in shown[-1].data


def test_record_summary_cites_the_recorded_verdicts_and_costs(tmp_path):
    import json

    assert set(intro.intro_values(tmp_path).values()) == {intro.MISSING}
    t1 = tmp_path / "table1"
    t1.mkdir()
    fids = {("dcgan", st, s): [9, 5, base + 0.1 * s] for s in range(3)
            for st, base in (("one", 3.0), ("two", 4.0))}
    _fake_record(t1, fids)
    (t1 / "bench").mkdir()
    rows = [{"objective": o, "scheme": sc, "option": "layout", "measured_s": t}
            for o, sc, t in (("dcgan", "one_stage", 0.5), ("dcgan", "two_stage_paper", 0.7),
                             ("lsgan", "one_stage", 0.5), ("lsgan", "two_stage_paper", 0.6))]
    (t1 / "bench" / "bench.json").write_text(json.dumps({"rows": rows}))
    values = intro.intro_values(tmp_path)
    assert values["t1rec_done"] == "6" and values["t1rec_total"] == str(len(sweep.cells('table1')))
    assert values["t1rec_steps"] == "300" and values["t1rec_plateau_n"] == "6"
    assert values["bench_span"] == "1.20x to 1.40x" and values["bench_k"] == "2"
    assert values["order_cause"] == intro.MISSING  # no update-order test recorded
    (tmp_path / "table1_why").mkdir()
    _fake_record(tmp_path / "table1_why", {("fishergan", "two", 0): [9, 5, 3]},
                 sweep="table1_why", variant="simultaneous")
    values = intro.intro_values(tmp_path)
    assert values["order_cause"] == f"*{a1.NOT_RUN}*" and values["order_n"] == "0"


def test_show_record_names_runs_worse_at_the_end_than_before(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    _fake_record(tmp_path, {("dcgan", "one", 0): [9, 5, 3], ("dcgan", "two", 0): [9, 4, 6]})
    d = show1.load_record(tmp_path, ["dcgan"])
    assert [(p["gan"], p["scheme"]) for p in d["falling"]] == [("dcgan", "one")]
    assert [(p["best_before"], p["best_last_third"]) for p in d["worse"]] == [(4, 6)]
    values = show1.record_values(d)
    assert values["rec_falling"].startswith("dcgan one seed 0 (40%")
    assert values["rec_worse"] == "dcgan two seed 0 (4.00 before, 6.00 in the last third)"


def test_why_still_falling_is_the_last_thirds_gain_of_a_power_law():
    # FID = c * step^-a: the best of the last third over the best before it is (2/3)^a, at any
    # length; here from a real curve's own slope and gain
    for a in (0.5, 1.0, 2.0):
        ev = [{"step": s, "FID": 3.0 * s ** -a} for s in range(500, 10_001, 500)]
        p = a1.plateau(ev, 10_000)
        # evaluations every 500 steps: the best before is at 6500, the last third's at 10000
        assert p["gain"] == approx(1 - 0.65 ** a) and p["slope"] == approx(-a)
        assert a1.falling_power([p["slope"]]) == approx(a)
    assert a1.falling_power([]) is None and a1.falling_power([0.2]) is None  # rising: no power


def test_gpu_summary_reads_the_recorded_gpu_timings(tmp_path):
    from osgan import bench

    assert intro.intro_values(tmp_path)["gpu_span"] == intro.MISSING  # nothing recorded
    values = intro.intro_values(bench.RESULTS_DIR)
    grids = [r for r in bench.recorded() if bench.is_grid(r.rows)]
    med = [s["S measured median"] for r in grids for s in bench.speedup_summary(r.rows)]
    assert values["gpu_names"] == "NVIDIA H200"
    assert values["gpu_span"] == f"{min(med):.2f}x to {max(med):.2f}x"
    kern = [row["two/one kernel"] for d in bench.recorded_profiles()
            for row in bench.profile_summary(d)]
    assert values["gpu_kernel"] == tables.span(kern, '{:.2f}x')
    assert tables.span([1.0, 1.001], "{:.2f}") == "1.00" and tables.span([1, 2], "{}") == "1 to 2"
    # the compile run times one point only: not a grid
    assert not bench.is_grid(bench.load(bench.RESULTS_DIR / "bench-cuda-h200-compile"
                                        / "bench.json").rows)


def test_tuning_marks_the_choice_on_validation_and_the_cells_that_reach_the_level(tmp_path, shown):
    from fixtures_data import write_dfad_cell

    assert tuning.show_tuning(tmp_path / "nothing") == []
    assert "not recorded" in shown[0].data
    spec = {"kind": "dfad", "schemes": ["one", "two"], "lr_s": [1e-3], "lr_g": [1e-3, 3e-3],
            "seeds": [0, 1], "tune_seeds": [0], "profile": "smoke", "rounds": {"one": 4, "two": 4}}
    _dfad_record(tmp_path, "table2_tune", spec)
    session = {"start": "2026-12-03T17:45:00+00:00", "end": None, "command": "python -m osgan "
               "sweep table2_tune --workers 1", "workers": 1, "threads": 1, "commit": "0123456789",
               "dirty": False, "torch": "2.15.0", "clean-fid": "0.1.35", "cpu": "AMD EPYC",
               "cpu_count": 2, "cells_finished": ["one-adam-s0.001-g0.001-seed0"]}
    # a session on a lent GPU ran two's cell (scripts/gpu_grid.sh); no session lists one's g0.003
    gpu = session | {"start": "2026-12-04T17:32:00+00:00", "cpu": "Intel(R) Xeon(R) Processor",
                     "gpu": "NVIDIA H200", "cells_finished": ["two-adam-s0.001-g0.001-seed0"]}
    (tmp_path / "provenance.json").write_text(json.dumps({"sweep": "table2_tune",
                                                          "sessions": [gpu, session]}))
    # (test, validation) at the end: one's best on validation is not its best on test
    for scheme, lr_g, test, val in (("one", 1e-3, 0.82, 0.70), ("one", 3e-3, 0.85, 0.60),
                                    ("two", 1e-3, 0.75, 0.72), ("one", 1e-3, 0.9, 0.9)):
        seed = 1 if test == 0.9 else 0  # a seed outside the grid's: not read
        write_dfad_cell(tmp_path, scheme, "adam", 1e-3, lr_g, seed, [(0, 0, 0.1)], test, val, 4)
    # the final generators scored (sweep --rescore): one of them
    (tmp_path / "rescore.json").write_text(json.dumps({"cells": {
        "one-adam-s0.001-g0.001-seed0": {"round": 4, "classes_eff": 9.71}}}))
    # the teacher each cell distilled, named by its accuracy: one cell the frozen Xeon's
    done = tmp_path / "one-adam-s0.001-g0.001-seed0" / "done.json"
    done.write_text(json.dumps(json.loads(done.read_text()) | {"teacher_accuracy": 0.9052}))
    rows = {(r["scheme"], r["point"]): r for r in tuning.show_tuning(tmp_path)}
    assert len(rows) == 3
    one, one_fast, two = (rows[k] for k in (("one", "adam-s0.001-g0.001"),
                                            ("one", "adam-s0.001-g0.003"),
                                            ("two", "adam-s0.001-g0.001")))
    assert one["chosen"] and not one_fast["chosen"] and two["chosen"]  # on validation
    assert (one["reached"], one_fast["reached"], two["reached"]) == (True, True, False)
    assert (one["balance"], one["scale"]) == (0.0, 1.0)
    assert (one["classes"], one_fast["classes"]) == (9.71, None)
    table = shown[-2].data  # then the caption of its classes column
    # one's grid is done: its choice; two's is not (g0.003 still to run): its best so far
    assert ("| one | adam-s0.001-g0.001 | 0 | 1 | 4 | 0.700 | 0.820 | yes | 9.7 | Xeon | CPU | yes |"
            in table)
    assert ("| one | adam-s0.001-g0.003 | 0 | 1 | 4 | 0.600 | 0.850 | yes | - | unknown 0.9000 "
            "| unknown |  |" in table)
    assert ("| two | adam-s0.001-g0.001 | 0 | 1 | 4 | 0.720 | 0.750 | no | - | unknown 0.9000 "
            "| H200 | best so far |" in table)
    assert "effective number of classes" in shown[-1].data
    # the record's provenance names the GPU and how many cells ran on it
    assert "AMD EPYC; 1 cell(s) on an NVIDIA H200 (float32, TF32 off)" in shown[1].data
    assert "epochs by our recipe, Adam with a cosine decay (test accuracy" in shown[1].data


def test_tuning_chooses_at_the_grid_length_as_the_sweep_does(tmp_path):
    from fixtures_data import write_dfad_cell

    from osgan.analysis import records
    from osgan.analysis import table2_record as a2

    _dfad_record(tmp_path, "table2_tune", {"kind": "dfad"})
    # g0.001 led at the grid's 4 rounds (0.66 against 0.6) and ran on to 8, ending at 0.45
    vals = (0.1, 0.2, 0.65, 0.66, 0.66, 0.4, 0.3, 0.45, 0.45)
    write_dfad_cell(tmp_path, "one", "adam", 1e-3, 1e-3, 0,
                    [(r, r, v - 0.1, v) for r, v in enumerate(vals)], 0.35, 0.45, 8)
    write_dfad_cell(tmp_path, "one", "adam", 1e-3, 3e-3, 0,
                    [(r, r, 0.5, 0.6) for r in range(5)], 0.5, 0.6, 4)
    runs = records.load_dfad(tmp_path)["runs"]
    chosen = {r["point"]: r["chosen"] for r in a2.tuning(runs, grid_rounds={"one": 4})}
    assert chosen == {"adam-s0.001-g0.001": True, "adam-s0.001-g0.003": False}
    # each row says how long its run went: the chosen point's past the grid's 4 rounds
    assert {r["point"]: r["rounds"] for r in a2.tuning(runs, grid_rounds={"one": 4})} == {
        "adam-s0.001-g0.001": 8, "adam-s0.001-g0.003": 4}
    # read at the runs' ends instead, the other point would look chosen
    assert {r["point"]: r["chosen"] for r in a2.tuning(runs)}["adam-s0.001-g0.003"]


def test_every_substitution_the_introduction_places_is_staged(tmp_path):
    """book/intro.md's ``{{ key }}`` are all among the values scripts/build_book.py stages (the
    record summary's, Table 1's findings and the instruments' spread), so no key shows raw."""
    import re
    from pathlib import Path

    from osgan import forest, plans, table1
    from osgan.analysis import instrument

    text = (Path(__file__).parents[1] / "book" / "intro.md").read_text()
    placed = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", text))
    staged = (intro.intro_values(tmp_path) | forest.values(table1.analyse([], plans.TABLE1))
              | instrument.spread_values(tmp_path / "spread.json"))
    assert {"t2p_verdict", "t2p_progress", "t1rec_done"} <= placed
    assert placed <= set(staged), sorted(placed - set(staged))


def test_class_gaps_find_where_the_students_fall_short_of_kd(tmp_path, shown):
    assert tuning.show_class_gaps(tmp_path)["gap_top"] == "not scored yet"
    assert "No class-by-class gap" in shown[-1].data
    kd = [0.9, 1.0, 0.8, 0.9, 0.8, 1.0, 0.6, 1.0, 1.0, 1.0]
    students = {  # short of KD on coat (4) and shirt (6) above all; one beats KD on trouser
        "one-p1-seed0": [0.9, 1.0, 0.8, 0.9, 0.2, 1.0, 0.2, 1.0, 1.0, 1.0],
        "two-p2-seed0": [0.8, 1.0, 0.8, 0.9, 0.5, 1.0, 0.4, 0.9, 1.0, 1.0],
        "two-p2-seed1": [0.0] * 10,  # no KD cell of seed 1: not read
    }
    cells = {n: {"accuracy": sum(a) / 10, "recorded accuracy": sum(a) / 10, "per_class": a,
                 "class_fractions": [0.1] * 10, "classes_eff": 10.0, "agreement": 0.8,
                 "images": 100} for n, a in students.items()}
    cells["kd-adam-s0.001-seed0"] = {"accuracy": 0.9, "per_class": kd}
    cells["kd-adam-s0.003-seed0"] = {"accuracy": 0.9, "per_class": [k - 0.1 for k in kd]}
    rescore = {"cells": cells, "date": "2026-12-05T00:00:00", "commit": "0123456789",
               "missing": []}
    (tmp_path / "rescore.json").write_text(json.dumps(rescore))
    g = a2.class_gaps(rescore)
    ref = [k - 0.05 for k in kd]  # KD's two cells of seed 0, averaged
    assert sorted(g["gaps"]) == ["one-p1-seed0", "two-p2-seed0"]
    assert g["gaps"]["one-p1-seed0"] == approx([r - a for r, a in
                                                zip(ref, students["one-p1-seed0"])])
    # each cell's mean gap is KD's accuracy minus its own (classes equally often)
    for n in g["gaps"]:
        assert sum(g["gaps"][n]) / 10 == approx(sum(ref) / 10 - cells[n]["accuracy"])
    summed = [sum(g["gaps"][n][k] for n in g["gaps"]) for k in range(10)]
    assert g["share"] == approx([x / sum(summed) for x in summed]) and sum(g["share"]) == approx(1)
    assert g["share"][1] < 0  # both students beat KD's mean (0.95) on trouser
    assert g["top"] == ["coat", "shirt"]
    assert g["top_share"] == approx((summed[4] + summed[6]) / sum(summed))
    best = "two-p2-seed0"  # 0.83 against 0.80
    assert g["best"] == best and g["best_acc"] == approx(0.83)
    assert g["best_if"] == approx(0.83 + (0.25 + 0.15) / 10)
    values = tuning.show_class_gaps(tmp_path)
    assert values["gap_top"] == "coat and shirt" and values["gap_cells"] == "2"
    assert values["gap_best"] == "`two-p2` (0.830)" and values["gap_if"] == "0.870"
    assert "| coat | 0.750 |" in shown[-1].data
    # without a KD cell there is no reference
    del cells["kd-adam-s0.001-seed0"], cells["kd-adam-s0.003-seed0"]
    assert a2.class_gaps(rescore) is None and a2.class_gaps(None) is None
