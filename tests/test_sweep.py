"""osgan.sweep: the grid, a record with provenance, skip and resume, refusals that touch nothing."""

import json
import math
from dataclasses import replace
from pathlib import Path
from shutil import rmtree

import pytest
import torch
from fixtures_data import write_fashion_mnist

from osgan import cli, data, plans, sweep, sweep_command, sweeps, training, util
from osgan.util import UsageError


def test_table1_grid_is_ten_objectives_two_schemes_eight_seeds_exact_hinges_on_three():
    cells = sweep.cells("table1")
    assert len(cells) == 10 * 2 * 8 + 2 * 3  # the exact variants on seeds 0-2 only
    assert {c.gan for c in cells} == set(sweeps.SWEEPS["table1"].gans)
    assert {(c.gan, c.scheme) for c in cells if c.exact} == {("geogan", "one-exact"),
                                                             ("sngan", "one-exact")}
    assert {c.seed for c in cells if c.exact} == {0, 1, 2}
    assert [c.seed for c in cells] == sorted(c.seed for c in cells)  # seed by seed: 3, 4 first
    # paired: every (gan, scheme) has the plan's seeds, fixed before seeds 3-7 ran
    pairs = {(c.gan, c.scheme) for c in cells if not c.exact}
    assert all(sorted(c.seed for c in cells if (c.gan, c.scheme) == p) == list(range(8))
               for p in pairs)
    assert sweeps.SWEEPS["table1"].seeds == plans.TABLE1.seeds
    assert len({c.name for c in cells}) == len(cells)


def test_a_planned_sweep_writes_its_plan_hash_and_ema_into_each_cell(tmp_path):
    cfg = sweep.cell_config("table1", sweep.Cell("dcgan", "one", False, 5), tmp_path)
    assert cfg.plan == plans.plan_hash(plans.TABLE1) and len(cfg.plan) == 64
    assert cfg.ema == 0.999
    assert sweep.cell_config("smoke", sweep.Cell("dcgan", "one", False, 0), tmp_path).plan == ""


def test_variants_repeat_the_grid_with_their_settings(tmp_path, monkeypatch):
    spec = dict(gans=("bgan",), stages=("two",), seeds=(0, 1), profile="smoke",
                train=dict(steps=9), variants={"base": {}, "big": dict(batch_size=32, lr_d=4e-4)})
    monkeypatch.setitem(sweeps.SWEEPS, "probe", spec)
    cells = sweep.cells("probe")
    assert [c.name for c in cells] == ["bgan-base-two-seed0", "bgan-big-two-seed0",
                                       "bgan-base-two-seed1", "bgan-big-two-seed1"]
    base, big = (sweep.cell_config("probe", c, tmp_path) for c in cells[:2])
    plain = sweep.cell_config("smoke", sweep.Cell("bgan", "two", False, 0), tmp_path)
    assert (base.batch_size, base.lr_d, base.steps) == (plain.batch_size, plain.lr_d, 9)
    assert (big.batch_size, big.lr_d, big.steps, big.stages) == (32, 4e-4, 9, "two")
    assert big.out_dir == str(tmp_path / "bgan-big-two-seed0")
    # a sweep without variants keeps its cell names
    assert sweep.Cell("bgan", "two", False, 0).name == "bgan-two-seed0"


def test_unknown_sweep_is_one_line(capsys):
    assert cli.main(["sweep", "table9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "table1" in err


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    monkeypatch.setenv("OSGAN_CACHE", str(tmp_path / "cache"))
    write_fashion_mnist(tmp_path / "fmnist", n_train=48, n_test=16)
    return tmp_path


@pytest.mark.slow
def test_smoke_sweep_records_skips_and_resumes(env):
    results = env / "results"
    kw = dict(data_root=str(env / "fmnist"), steps=4, log_every=2, width=4, nz=8, batch_size=6,
              eval=dict(every=2, n_gen=16, n_real=16))
    done = sweep.run_sweep("smoke", results=results, workers=1, only=2, **kw)
    assert [p.name for p in done] == ["dcgan-one-seed0", "dcgan-two-seed0"]
    cell = results / "dcgan-one-seed0"
    assert sorted(p.name for p in cell.iterdir()) == ["config.json", "done.json",
                                                      "metrics.jsonl", "samples"]
    assert not list(results.rglob("checkpoint.pt"))  # checkpoints stay out of the record
    assert (env / "cache" / "sweeps" / "smoke" / "dcgan-one-seed0" / "checkpoint.pt").exists()
    rows = [json.loads(x) for x in (cell / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "Eval/FID" in r] == [2, 4]
    prov = sweep.read_provenance(results)
    (session,) = prov["sessions"]
    assert session["cells_finished"] == ["dcgan-one-seed0", "dcgan-two-seed0"]
    for key in ("commit", "torch", "torchvision", "clean-fid", "cpu", "threads", "workers",
                "start", "end"):
        assert session[key] not in (None, ""), key
    before = (cell / "metrics.jsonl").read_bytes()
    # a second invocation skips the finished cells and goes on with the next
    again = sweep.run_sweep("smoke", results=results, workers=1, only=1, **kw)
    assert [p.name for p in again] == ["geogan-one-seed0"]
    assert (cell / "metrics.jsonl").read_bytes() == before
    assert len(sweep.read_provenance(results)["sessions"]) == 2
    # a session that trains nothing (here: only=0; likewise a complete sweep) adds no session
    prov = (results / "provenance.json").read_bytes()
    assert sweep.run_sweep("smoke", results=results, workers=1, only=0, **kw) == []
    assert (results / "provenance.json").read_bytes() == prov


def test_results_folder_of_another_sweep_or_foreign_files_is_refused(env):
    other = env / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="no sweep wrote"):
        sweep.own_results("smoke", other)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    mine = sweep.own_results("smoke", env / "mine")
    with pytest.raises(UsageError, match="holds sweep 'smoke'"):
        sweep.own_results("table1", mine)
    with pytest.raises(UsageError, match="no provenance"):
        sweep.read_provenance(mine)


def test_table2_grid_is_the_same_rates_for_both_schemes_plus_dfads_recipe():
    spec = sweeps.SWEEPS["table2"]
    cells = sweep.cells("table2")  # nothing recorded: the tune seed's grid, every seed's recipe
    tune = [c for c in cells if c.seed in spec.tune_seeds]
    points = {sc: {c.point for c in tune if c.scheme == sc} for sc in ("one", "two", "kd")}
    assert points["one"] == points["two"]
    assert len(points["one"]) == len(spec.lr_s) * len(spec.lr_g) + 1
    # DFAD's recipe for the LeNet-5 pair that Table 2 runs here, not its CIFAR recipe
    assert "dfad_mnist" in points["one"] and "dfad_mnist" in points["kd"]
    assert all(c.lr_g is None for c in cells if c.scheme == "kd")
    others = [c for c in cells if c.seed not in spec.tune_seeds]
    assert {(c.scheme, c.point) for c in others} == {(sc, "dfad_mnist")
                                                     for sc in spec.schemes}
    assert sweep.pending("table2") == 3 * 2  # each scheme's chosen point on seeds 1 and 2
    assert len({c.name for c in cells}) == len(cells)
    cfg = sweep.cell_config("table2", cells[0], sweep.RESULTS_DIR / "table2")
    assert (cfg.lr_s, cfg.lr_g, cfg.rounds, cfg.val_n) == (cells[0].lr_s, cells[0].lr_g,
                                                           spec.rounds["one"], 5000)


def test_table2_why_pairs_one_stage_with_and_without_its_generator_every_round_against_two():
    cells = sweep.cells("table2_why")
    assert [c.name for c in cells if c.seed == 0] == [
        "one-adam-s0.001-g0.001-seed0", "two-adam-s0.001-g0.001-seed0",
        "one-adam-s0.001-g0.001-every5-seed0"]  # the schemes' points interleaved
    assert {c.seed for c in cells} == {0, 1, 2} and len(cells) == 9
    cfg = sweep.cell_config("table2_why", cells[2], sweep.RESULTS_DIR / "table2_why")
    assert (cfg.scheme, cfg.g_every, cfg.rounds, cfg.lr_s, cfg.lr_g) == ("one", 5, 5000, 1e-3,
                                                                         1e-3)
    # Table 2's grid is untouched: no g_every there, every cell moves G every round
    assert all(c.g_every == 1 for c in sweep.cells("table2"))


def test_tuned_sweep_runs_each_schemes_best_point_on_the_other_seeds(tmp_path):
    from fixtures_data import write_dfad_cell

    results = sweep.own_results("dfad_smoke", tmp_path / "t2")
    (results / "provenance.json").write_text(json.dumps({"sweep": "dfad_smoke", "sessions": []}))
    # seed 0: scheme one's grid done (g0.003 best on validation, though worse on test);
    # scheme two's grid not done yet
    for lr_g, val, test in ((1e-3, 0.6, 0.9), (3e-3, 0.8, 0.5)):
        write_dfad_cell(results, "one", "adam", 1e-3, lr_g, 0, [(0, 0, 0.1)], test, val, 4)
    write_dfad_cell(results, "two", "adam", 1e-3, 1e-3, 0, [(0, 0, 0.1)], 0.5, 0.9, 2)
    assert sweep.tuned_points("dfad_smoke", results) == {"one": "adam-s0.001-g0.003"}
    seed1 = {(c.scheme, c.point) for c in sweep.cells("dfad_smoke", results) if c.seed == 1}
    assert seed1 == {("one", "adam-s0.001-g0.003"), ("one", "dfad"), ("two", "dfad"),
                     ("kd", "dfad")}
    assert sweep.pending("dfad_smoke", results) == 2  # two and kd, on seed 1
    # off the tune seeds the chosen points (the verdict's pairs) come before the recipes
    later = [c.point for c in sweep.cells("dfad_smoke", results) if c.seed == 1]
    assert later == ["adam-s0.001-g0.003", "dfad", "dfad", "dfad"]
    # a seed off the tune seeds never takes part in the choice
    write_dfad_cell(results, "one", "adam", 1e-3, 1e-3, 1, [(0, 0, 0.1)], 0.9, 0.99, 4)
    assert sweep.tuned_points("dfad_smoke", results)["one"] == "adam-s0.001-g0.003"
    from osgan.analysis import records as record
    from osgan.analysis import table2_record

    t2 = table2_record.dfad_table2(record.load_dfad(results)["runs"], tune_seeds=[0])
    assert t2["chosen"]["one"] == "adam-s0.001-g0.003"


def test_a_chosen_point_runs_on_until_it_plateaus_and_the_choice_reads_the_grid_length(
        tmp_path, monkeypatch):
    from fixtures_data import write_dfad_cell

    from osgan.analysis import records as record
    from osgan.analysis import table2_record

    spec = replace(sweeps.SWEEPS["dfad_smoke"], extend=3)  # one's grid: 4 rounds, cap 12
    monkeypatch.setitem(sweeps.SWEEPS, "dfad_smoke", spec)
    results = sweep.own_results("dfad_smoke", tmp_path / "t2")
    (results / "provenance.json").write_text(json.dumps({"sweep": "dfad_smoke", "sessions": []}))
    rising = [(r, r, 0.1 * r, 0.1 + 0.1 * r) for r in range(5)]  # 0.1 .. 0.5: still learning
    flat = [(r, r, 0.5, v) for r, v in enumerate((0.1, 0.6, 0.6, 0.6, 0.6))]
    write_dfad_cell(results, "one", "adam", 1e-3, 1e-3, 0, flat, 0.5, 0.6, 4)
    write_dfad_cell(results, "one", "adam", 1e-3, 3e-3, 0, rising, 0.4, 0.5, 4)
    assert sweep.tuned_points("dfad_smoke", results) == {"one": "adam-s0.001-g0.001"}

    def one(seed):
        return {c.seed: c for c in sweep.cells("dfad_smoke", results) if c.scheme == "one"
                and c.point == "adam-s0.001-g0.001" and c.hparams == "adam"}[seed]

    # flat at its grid length: the chosen cell is done as it is; off the tune seed, not run yet
    assert one(0).rounds == 4 and one(1).rounds == 4
    assert sweep.status(sweep.cell_config("dfad_smoke", one(0), results)) == "done"
    # a chosen cell still learning runs on by the grid's length, resumed in its own folder
    rmtree(results / one(0).name)
    write_dfad_cell(results, "one", "adam", 1e-3, 1e-3, 0,
                    [(r, r, 0.5, v) for r, v in enumerate((0.1, 0.2, 0.65, 0.66, 0.7))],
                    0.5, 0.7, 4)
    cfg = sweep.cell_config("dfad_smoke", one(0), results)
    assert (cfg.rounds, cfg.resume, sweep.status(cfg)) == (8, True, "partial")
    assert Path(cfg.out_dir).name == "one-adam-s0.001-g0.001-seed0"
    # one batch at a time, so that the sweep plans again once each run so far is done: the first
    # `workers` cells, then every other cell of the grid's length (they fill the workers), never
    # a cell whose length waits on a run before it (the chosen cell, run on to 8)
    everything = [c.name for c in sweep.cells("dfad_smoke", results) if c.seed == 0  # tune seed
                  and sweep.status(sweep.cell_config("dfad_smoke", c, results)) != "done"]
    fixed = [n for n in everything if n != one(0).name]
    assert one(0).name in everything and len(fixed) > 2

    def batch(workers):
        return [Path(c.out_dir).name for c in sweep._todo("dfad_smoke", results, None,
                                                            workers=workers)]

    at = everything.index(one(0).name)
    assert batch(at) == fixed  # the chosen cell behind the first `workers`: the next batch's
    assert batch(at + 1) == everything  # among them: it runs, and the fixed ones beside it
    # under way (done.json gone, config.json asks 8): still 8, never back to the grid's 4
    (results / one(0).name / "done.json").unlink()
    cfg_json = json.loads((results / one(0).name / "config.json").read_text())
    cfg_json["config"]["rounds"] = 8
    (results / one(0).name / "config.json").write_text(json.dumps(cfg_json))
    assert sweep.tuned_points("dfad_smoke", results) == {}  # the grid reads unfinished again
    assert one(0).rounds == 8 and sweep.cell_config("dfad_smoke", one(0), results).rounds == 8
    # done at 8 and falling back below the other point at its end: the choice is unchanged,
    # read at the grid's length (0.66 at round 4 against the other's 0.5)
    rmtree(results / one(0).name)
    vals = (0.1, 0.2, 0.65, 0.66, 0.66, 0.4, 0.3, 0.45, 0.45)  # best before the last third wins
    write_dfad_cell(results, "one", "adam", 1e-3, 1e-3, 0,
                    [(r, r, v - 0.1, v) for r, v in enumerate(vals)], 0.35, 0.45, 8)
    assert sweep.tuned_points("dfad_smoke", results) == {"one": "adam-s0.001-g0.001"}
    runs = record.load_dfad(results)["runs"]
    assert table2_record.choose(runs, "one")[0]["point"] == "adam-s0.001-g0.003"  # at the ends
    assert one(0).rounds == 8  # it passes the rule at 8: no further
    grid = record.at_grid(runs, spec.rounds)
    cut = next(r for r in grid if r["point"] == "adam-s0.001-g0.001")
    assert (cut["rounds"], cut["accuracy"], cut["val_accuracy"]) == (4, 0.56, 0.66)
    assert [r["round"] for r in cut["records"]] == [0, 1, 2, 3, 4]
    t2 = table2_record.dfad_table2(runs, tune_seeds=[0], grid_rounds=spec.rounds)
    assert t2["chosen"]["one"] == "adam-s0.001-g0.001"
    assert t2["rows"][0]["rounds"] == 8 and t2["rows"][0]["test"] == 0.35  # the verdict: the end
    (on,) = table2_record.run_on(runs, spec.rounds)  # the one run longer than its grid
    assert on["name"] == "one-adam-s0.001-g0.001-seed0" and on["plateaued"]
    assert (on["grid"], on["grid val"], on["grid test"]) == (4, 0.66, 0.56)
    assert (on["best val"], on["best round"]) == (0.66, 3)  # the first of the tied best
    assert (on["rounds"], on["val"], on["test"]) == (8, 0.45, 0.35)
    # the cap: still rising at 12 rounds (3 x 4), it stops there
    rmtree(results / one(0).name)
    write_dfad_cell(results, "one", "adam", 1e-3, 1e-3, 0,
                    [(r, r, 0.5, 0.6 + 0.01 * r) for r in range(13)], 0.5, 0.72, 12)
    assert one(0).rounds == 12


@pytest.mark.slow
def test_dfad_smoke_sweep_records_skips_and_resumes(env):
    results = env / "results"
    kw = dict(data_root=str(env / "fmnist"), batch_size=6, val_n=8, eval_n=None,
              teacher_epochs=0.1, device="cpu")
    done = sweep.run_sweep("dfad_smoke", results=results, workers=1, only=3, **kw)
    # the recipes first: a first curve of every scheme before the grids
    names = ["one-dfad-seed0", "two-dfad-seed0", "kd-dfad-seed0"]
    assert [p.name for p in done] == names
    cell = results / names[0]
    assert sorted(p.name for p in cell.iterdir()) == ["config.json", "done.json", "metrics.jsonl"]
    assert (env / "cache" / "sweeps" / "dfad_smoke" / names[0] / "checkpoint.pt").exists()
    rows = [json.loads(x) for x in (cell / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows] == [0, 2, 4]
    assert all("Accuracy/val" in r for r in rows)
    before = (cell / "metrics.jsonl").read_bytes()
    again = sweep.run_sweep("dfad_smoke", results=results, workers=1, only=1, **kw)
    assert [p.name for p in again] == ["one-adam-s0.001-g0.001-seed0"]
    assert (cell / "metrics.jsonl").read_bytes() == before
    assert [s["cells_finished"] for s in sweep.read_provenance(results)["sessions"]] == [
        names, ["one-adam-s0.001-g0.001-seed0"]]
    # the rest in one invocation: the tune seed's grid, then seed 1's chosen points, which the
    # sweep lists once the grid it is chosen from is done
    sweep.run_sweep("dfad_smoke", results=results, workers=1, **kw)
    chosen = sweep.tuned_points("dfad_smoke", results)
    assert set(chosen) == {"one", "two", "kd"} and sweep.pending("dfad_smoke", results) == 0
    # the book's Table 2 reports the points the sweep ran on every seed
    from osgan.analysis.records import load_dfad
    from osgan.analysis.table2_record import dfad_table2

    spec = sweep.sweep_spec("dfad_smoke")
    t2 = dfad_table2(load_dfad(results)["runs"], tune_seeds=spec.tune_seeds,
                     grid_rounds=spec.rounds)
    assert t2["chosen"] == chosen
    seed1 = sorted(p.name for p in results.iterdir() if p.name.endswith("seed1"))
    assert seed1 == sorted(f"{sc}-{pt}-seed1" for sc, pt in
                           [*chosen.items(), ("one", "dfad"), ("two", "dfad"), ("kd", "dfad")])
    assert all((results / n / "done.json").exists() for n in seed1)
    # in that order: the tune seed's grid, then (planned again) seed 1's chosen points, then its
    # recipes, although the recipes were listed from the start
    last = sweep.read_provenance(results)["sessions"][-1]["cells_finished"]
    assert [n.endswith("seed1") for n in last] == [False] * (len(last) - 6) + [True] * 6
    assert last[-6:] == [f"{sc}-{chosen[sc]}-seed1" for sc in ("one", "two", "kd")] + [
        f"{sc}-dfad-seed1" for sc in ("one", "two", "kd")]
    # Table 2 at the recipe, the setting every scheme shares: one against two paired over seeds
    from osgan.analysis import records as record
    from osgan.analysis import table2_record

    at_recipe = table2_record.dfad_table2(record.load_dfad(results)["runs"], tune_seeds=[0])["recipes"]
    assert {r["scheme"]: r["n"] for r in at_recipe["dfad"]["rows"]} == {"one": 2, "two": 2, "kd": 2}
    assert [(p["at"], p["n"]) for p in at_recipe["dfad"]["paired"]] == [
        (at, 2) for at in ("end", "equal rounds", "equal student updates",
                           "equal time (runs' clock)", "best on validation")]


@pytest.mark.slow
def test_dfad_rescore_reproduces_each_students_accuracy_and_reads_its_generators_classes(env):
    from scipy import stats

    from osgan.analysis import records as record

    results = env / "results"
    kw = dict(data_root=str(env / "fmnist"), batch_size=6, val_n=8, eval_n=None,
              teacher_epochs=0.1, device="cpu")
    sweep.run_sweep("dfad_smoke", results=results, workers=1, only=3, **kw)  # the recipe cells
    out = sweep_command.write_rescore("dfad_smoke", results)
    assert sorted(out["cells"]) == ["kd-dfad-seed0", "one-dfad-seed0", "two-dfad-seed0"]
    assert not out["missing"]
    labels = data.load("fashion_mnist", "test", data_root=str(env / "fmnist"),
                       image_size=32).labels
    counts = torch.bincount(labels, minlength=10).double()
    for run in record.load_dfad(results)["runs"]:
        c = out["cells"][run["path"].name]
        assert c["round"] == run["rounds"]
        assert c["accuracy"] == pytest.approx(run["accuracy"], abs=1e-12)  # the record's end
        # the per-class accuracies, weighted by the classes' counts, give the whole accuracy
        # (None for a class the small test split lacks)
        assert [x is None for x in c["per_class"]] == (counts == 0).tolist()
        per = torch.tensor([x or 0.0 for x in c["per_class"]], dtype=torch.float64)
        assert (per * counts).sum().item() / counts.sum().item() == pytest.approx(c["accuracy"])
        if run["scheme"] == "kd":  # no generator
            assert "class_fractions" not in c
            continue
        frac = c["class_fractions"]
        assert sum(frac) == pytest.approx(1.0) and c["images"] == 80 * 6
        assert c["classes_eff"] == pytest.approx(math.exp(stats.entropy(frac)))
        assert 0.0 <= c["agreement"] <= 1.0
    # a cell scored already is not scored again; bad records refuse as for training sweeps
    saved = json.loads((results / "rescore.json").read_text())
    saved["cells"]["one-dfad-seed0"]["accuracy"] = -1.0
    (results / "rescore.json").write_text(json.dumps(saved))
    assert sweep_command.write_rescore("dfad_smoke", results)["cells"]["one-dfad-seed0"]["accuracy"] == -1


@pytest.mark.slow
def test_a_sweep_with_variants_is_recorded_read_and_shown(env, monkeypatch):
    import matplotlib

    from osgan.analysis import records as record
    from osgan.render import table1_record as show1

    matplotlib.use("Agg")
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    monkeypatch.setitem(sweeps.SWEEPS, "probe", dict(
        gans=("bgan",), stages=("two",), seeds=(0,), profile="smoke",
        train=dict(eval=dict(every=2, n_gen=16, n_real=16)),
        variants={"base": {}, "fast-d": dict(lr_d=1e-3)}))
    results = env / "results"
    kw = dict(data_root=str(env / "fmnist"), steps=4, log_every=2, width=4, nz=8, batch_size=6)
    done = sweep.run_sweep("probe", results=results, workers=1, **kw)
    assert [p.name for p in done] == ["bgan-base-two-seed0", "bgan-fast-d-two-seed0"]
    runs = {r["variant"]: r for r in record.load(results)["runs"]}
    assert runs["fast-d"]["changes"] == {"lr_d": 1e-3} and runs["fast-d"]["config"]["lr_d"] == 1e-3
    assert runs["base"]["changes"] == {} and runs["base"]["config"]["lr_d"] != 1e-3
    rows = show1.show_variants(results, early=2)
    assert [(r["variant"], r["changes"]) for r in rows] == [("base", "none"),
                                                            ("fast-d", "lr_d=0.001")]
    for r, run in zip(rows, (runs["base"], runs["fast-d"]), strict=True):
        fids = [e["FID"] for e in run["evals"]]
        assert (r["FID at 2"], r["best FID"], r["last FID"]) == (fids[0], min(fids), fids[-1])
        assert 1 <= r["classes"] <= 10  # recorded at every evaluation
    text = " ".join(getattr(x, "data", "") for x in shown)
    assert "lr_d=0.001" in text and "base setting" in text


@pytest.mark.slow
def test_rescore_reproduces_the_last_fid_from_the_checkpoint_and_keeps_what_it_cannot_redo(
        env, monkeypatch, capsys):
    import matplotlib

    from osgan.analysis import records as record
    from osgan.render import table1_record as show1

    results = env / "results"
    assert cli.main(["sweep", "smoke", "--rescore", "--results", str(results)]) == 2
    assert "run the sweep first" in capsys.readouterr().err and not results.exists()
    assert cli.main(["sweep", "dfad_smoke", "--rescore", "--results", str(results)]) == 2
    kw = dict(data_root=str(env / "fmnist"), steps=4, log_every=2, width=4, nz=8, batch_size=6,
              eval=dict(every=2, n_gen=16, n_real=16))
    sweep.run_sweep("smoke", results=results, workers=1, only=2, **kw)
    # stopped part way (Ctrl-C at the second cell): the first cell's score is on disk
    real, calls = training.evaluate_generator, []

    def stop_at_second(G, cfg):
        calls.append(G)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(G, cfg)
    monkeypatch.setattr(training, "evaluate_generator", stop_at_second)
    with pytest.raises(KeyboardInterrupt):
        sweep_command.write_rescore("smoke", results)
    first = json.loads((results / "rescore.json").read_text())["cells"]
    assert list(first) == ["dcgan-one-seed0"]
    monkeypatch.setattr(training, "evaluate_generator", real)
    out = sweep_command.write_rescore("smoke", results)
    assert out["cells"]["dcgan-one-seed0"] == first["dcgan-one-seed0"]  # not scored again
    assert sorted(out["cells"]) == ["dcgan-one-seed0", "dcgan-two-seed0"] and not out["missing"]
    for name, c in out["cells"].items():
        last = record.load(results)["runs"][0 if "one" in name else 1]["evals"][-1]
        assert c["step"] == 4 and c["FID"] == pytest.approx(last["FID"], rel=1e-9, abs=1e-12)
        assert c["classes_eff"] == pytest.approx(last["classes"], rel=1e-9)
    # a cell scored already is left as it is
    saved = json.loads((results / "rescore.json").read_text())
    saved["cells"]["dcgan-one-seed0"]["FID"] = 123.0
    (results / "rescore.json").write_text(json.dumps(saved))
    assert sweep_command.write_rescore("smoke", results)["cells"]["dcgan-one-seed0"]["FID"] == 123.0
    # a checkpoint gone (another machine): its entry stays, and the cell is named
    (env / "cache" / "sweeps" / "smoke" / "dcgan-two-seed0" / "checkpoint.pt").unlink()
    again = sweep_command.write_rescore("smoke", results)
    assert again["missing"] == ["dcgan-two-seed0"]
    assert again["cells"]["dcgan-two-seed0"] == out["cells"]["dcgan-two-seed0"]
    # each entry says when, at which commit and on which CPU it was scored
    scored = out["cells"]["dcgan-two-seed0"]["scored"]
    assert (scored["commit"], scored["cpu"]) == (out["commit"], sweep.environment()["cpu"])
    assert scored["date"] <= out["date"] and set(scored) == {"date", "commit", "cpu"}
    assert record.load(results)["runs"][1]["rescore"]["FID"] == out["cells"]["dcgan-two-seed0"]["FID"]
    # the chapter's table of classes
    matplotlib.use("Agg")
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    record_ = show1.load_record(results, ["dcgan"])
    assert show1.record_values(record_)["rec_rescore"] == f"{record_['rescore_error']:.1e}"
    show1.show_record(record_)
    assert any("classes one" in getattr(x, "data", "") for x in shown)


def test_floor_is_real_images_at_the_sweeps_settings_recorded_beside_it(env):
    import torch

    from osgan import metrics

    results = env / "results"
    kw = dict(data_root=str(env / "fmnist"), eval=dict(n_gen=16, n_real=16))
    floor = sweep_command.write_floor("smoke", results, n_draws=2, **kw)
    assert json.loads((results / "floor.json").read_text())["FID"] == floor["FID"]
    assert (results / "sweep.json").exists()  # the folder is the sweep's, as a run would make it
    fids = [d["FID"] for d in floor["draws"]]
    assert fids[0] != fids[1]  # two different draws of real images
    assert floor["FID min"] <= floor["FID"] <= floor["FID max"]
    assert (floor["n_gen"], floor["n_real"]) == (16, 16) and floor["commit"]
    assert floor["feature_space"] == "domain:fashion_mnist@32/smoke-cnn"
    assert 1 <= floor["classes_eff"] <= 10  # recorded (the fixture's classifier is not a real one)
    # a generator of noise scores far above real images, in the same space and sizes
    noise = torch.rand(16, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    bad = metrics.fid_kid(noise, dataset="fashion_mnist", split="test", n_gen=16, n_real=16,
                          feature_space="domain_smoke", data_root=str(env / "fmnist"))
    assert bad["FID"] > 3 * floor["FID max"]


def test_floor_refuses_a_distillation_sweep_and_the_reference_split(env, capsys):
    from osgan import metrics

    assert cli.main(["sweep", "dfad_smoke", "--floor"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no FID floor" in err
    with pytest.raises(ValueError, match="reference split itself"):
        metrics.floor(1, images_split="test", data_root=str(env / "fmnist"), n_gen=8)
    with pytest.raises(ValueError, match="lower n_gen"):
        metrics.floor(1, data_root=str(env / "fmnist"), n_gen=100, feature_space="domain_smoke")


def test_round_bench_times_every_scheme_side_by_side_and_refuses_a_training_sweep(env, capsys):
    out = sweep_command.write_round_bench("dfad_smoke", env / "t2", repeats=3, warmup=0, command="c")
    spec = sweeps.SWEEPS["dfad_smoke"]
    assert set(out["seconds_per_round"]) == set(spec.schemes)
    assert all(len(t) == 3 for t in out["times"].values()) and out["clock"] == "cpu"
    assert all(lo <= out["seconds_per_round"][sc] <= hi for sc, (lo, hi) in
               out["quartiles"].items())
    assert out["student_updates_per_round"] == {"one": 1, "two": 5, "kd": 1}
    written = json.loads((env / "t2" / "round_costs.json").read_text())
    assert written["seconds_per_round"] == out["seconds_per_round"]
    from osgan.analysis import records as record

    assert record.dfad_round_costs(env / "t2" / "round_costs.json") == out["seconds_per_round"]
    # a training sweep has its own bench; a bad count; a folder of another sweep: one line each
    for argv, says in ((["sweep", "table1", "--bench"], "python -m osgan bench"),
                       (["sweep", "dfad_smoke", "--bench", "--results", str(env / "fmnist")],
                        "holds files no sweep wrote")):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err, err
    with pytest.raises(UsageError, match="repeats >= 1"):
        sweep_command.write_round_bench("dfad_smoke", env / "t2", repeats=0)


def test_round_bench_times_one_stage_at_each_g_every_by_its_own_name(env, monkeypatch):
    from osgan import dfad_rounds
    from osgan.analysis import records as record

    monkeypatch.setitem(sweeps.SWEEPS, "why_smoke", dict(
        kind="dfad", schemes=("one", "two"), lr_s=(1e-3,), lr_g=(1e-3,), g_every=(1, 3),
        seeds=(0,), profile="smoke", rounds=dict(two=2, one=4)))
    calls = []
    real = dfad_rounds.round_fn

    def counted(cfg):
        fn = real(cfg)
        return lambda: (calls.append(record.cost_key(cfg.scheme, cfg.g_every)), fn())[1]

    monkeypatch.setattr(dfad_rounds, "round_fn", counted)
    out = sweep_command.write_round_bench("why_smoke", env / "why", repeats=2, warmup=0)
    assert set(out["seconds_per_round"]) == {"one", "one-every3", "two"}
    assert out["student_updates_per_round"] == {"one": 1, "one-every3": 1, "two": 5}
    # a timed call of one-every3 is its whole cycle: three rounds, the generator in the last
    assert calls.count("one-every3") == 3 * calls.count("one") == 6


def _record(root, sweep_name, cells, start):
    """A record folder as run_sweep leaves it: marker, one provenance session, cell folders
    (name -> steps done, None for a cell still running)."""
    root.mkdir(parents=True)
    (root / "sweep.json").write_text(json.dumps({"sweep": sweep_name, "spec": {}}))
    session = {"start": start, "end": None, "command": "python -m osgan sweep smoke",
               "commit": start[-2:], "cells_finished": []}
    (root / "provenance.json").write_text(json.dumps({"sweep": sweep_name,
                                                      "sessions": [session]}))
    for name, steps in cells.items():
        (root / name).mkdir()
        (root / name / "metrics.jsonl").write_text(json.dumps({"step": steps or 3}) + "\n")
        if steps is not None:
            (root / name / "done.json").write_text(json.dumps({"steps": steps}))


def test_collect_copies_finished_cells_and_merges_provenance(tmp_path, capsys):
    src, dst = tmp_path / "worktree", tmp_path / "main"
    _record(src, "smoke", {"dcgan-one-seed0": 8, "dcgan-two-seed0": 8, "geogan-one-seed0": None,
                           "geogan-two-seed0": 4}, "2026-11-24T09:00:00+00:00")
    _record(dst, "smoke", {"dcgan-one-seed0": 8, "geogan-two-seed0": 6},
            "2026-11-24T08:00:00+00:00")
    (dst / "dcgan-one-seed0" / "mine").write_text("kept")
    assert cli.main(["sweep", "smoke", "--collect", str(src), "--results", str(dst)]) == 0
    assert "1 finished cell(s) collected" in capsys.readouterr().out
    assert sorted(p.name for p in dst.iterdir() if p.is_dir()) == [
        "dcgan-one-seed0", "dcgan-two-seed0", "geogan-two-seed0"]  # not the unfinished one
    assert (dst / "dcgan-one-seed0" / "mine").exists()  # as long a run was there: untouched
    assert json.loads((dst / "geogan-two-seed0" / "done.json").read_text())["steps"] == 6
    starts = [s["start"][11:16] for s in sweep.read_provenance(dst)["sessions"]]
    assert starts == ["08:00", "09:00"]
    # again: nothing new, provenance unchanged
    assert sweep_command.collect("smoke", src, dst) == []
    assert len(sweep.read_provenance(dst)["sessions"]) == 2
    # a longer run at the source replaces the shorter one here
    (src / "dcgan-one-seed0" / "done.json").write_text(json.dumps({"steps": 12}))
    assert sweep_command.collect("smoke", src, dst) == ["dcgan-one-seed0"]
    assert not (dst / "dcgan-one-seed0" / "mine").exists()


def test_collect_refuses_another_sweep_and_touches_nothing(tmp_path):
    src, dst = tmp_path / "other", tmp_path / "main"
    _record(src, "table1", {"dcgan-one-seed0": 8}, "2026-11-24T09:00:00+00:00")
    _record(dst, "smoke", {}, "2026-11-24T08:00:00+00:00")
    before = sorted(p.name for p in dst.iterdir())
    with pytest.raises(UsageError, match="holds no record of sweep 'smoke' \\(it holds 'table1'\\)"):
        sweep_command.collect("smoke", src, dst)
    with pytest.raises(UsageError, match="holds no record"):
        sweep_command.collect("smoke", tmp_path / "nowhere", dst)
    assert sorted(p.name for p in dst.iterdir()) == before


def test_provenance_calls_a_tree_dirty_for_its_code_not_for_the_record_it_writes(tmp_path,
                                                                                  monkeypatch):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "provenance.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    monkeypatch.setattr(util, "REPO", tmp_path)  # the checkout util.git asks
    assert sweep.environment()["dirty"] is False
    (tmp_path / "results" / "provenance.json").write_text('{"sessions": []}')  # the sweep's own
    assert sweep.environment()["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert sweep.environment()["dirty"] is True


def test_the_record_marker_holds_the_spec_the_sweep_runs_by_now(tmp_path, monkeypatch):
    results = sweep.own_results("dfad_smoke", tmp_path / "t2")
    marker = json.loads((results / "sweep.json").read_text())
    assert marker == {"sweep": "dfad_smoke",
                      "spec": json.loads(json.dumps(sweeps.SWEEPS["dfad_smoke"].to_dict()))}
    before = (results / "sweep.json").stat().st_mtime_ns
    sweep.own_results("dfad_smoke", results)  # unchanged: not rewritten
    assert (results / "sweep.json").stat().st_mtime_ns == before
    monkeypatch.setitem(sweeps.SWEEPS, "dfad_smoke", replace(sweeps.SWEEPS["dfad_smoke"], extend=2))
    sweep.own_results("dfad_smoke", results)
    assert json.loads((results / "sweep.json").read_text())["spec"]["extend"] == 2
    with pytest.raises(UsageError, match="holds sweep 'dfad_smoke'"):
        sweep.own_results("table2", results)


def test_a_tuned_sweep_with_a_level_runs_the_other_seeds_only_once_a_chosen_point_reaches_it(
        tmp_path, monkeypatch, capsys):
    from fixtures_data import write_dfad_cell

    monkeypatch.setitem(sweeps.SWEEPS, "dfad_smoke",
                        replace(sweeps.SWEEPS["dfad_smoke"], level=0.8))
    results = sweep.own_results("dfad_smoke", tmp_path / "t2")
    (results / "provenance.json").write_text(json.dumps({"sweep": "dfad_smoke", "sessions": []}))

    def seed1():
        return [c for c in sweep.cells("dfad_smoke", results) if c.seed == 1]

    # seed 0: one and kd tuned, two still tuning: nothing can be told, nothing on seed 1 yet
    for lr_g, val, test in ((1e-3, 0.6, 0.7), (3e-3, 0.5, 0.9)):
        write_dfad_cell(results, "one", "adam", 1e-3, lr_g, 0, [(4, 0, test, val)], test, val, 4)
    write_dfad_cell(results, "kd", "adam", 1e-3, None, 0, [(4, 0, 0.88, 0.88)], 0.88, 0.88, 4)
    write_dfad_cell(results, "two", "adam", 1e-3, 1e-3, 0, [(2, 0, 0.6, 0.7)], 0.6, 0.7, 2)
    assert set(sweep.tuned_points("dfad_smoke", results)) == {"one", "kd"}
    assert seed1() == [] and sweep.pending("dfad_smoke", results) == 6  # 3 schemes x (1 + recipe)
    # two's grid done: the chosen points end at 0.70 and 0.75 (one's 0.9 is not chosen, on
    # validation, and kd's 0.88 is the ceiling): the level is missed, the sweep ends at seed 0
    write_dfad_cell(results, "two", "adam", 1e-3, 3e-3, 0, [(2, 0, 0.75, 0.8)], 0.75, 0.8, 2)
    assert sweep.tuned_points("dfad_smoke", results) == {
        "one": "adam-s0.001-g0.001", "two": "adam-s0.001-g0.003", "kd": "adam-s0.001"}
    assert seed1() == [] and sweep.pending("dfad_smoke", results) == 0
    assert "no scheme's chosen point ended its run at 0.80" in sweep.missed_level("dfad_smoke",
                                                                                 results)
    assert {c.seed for c in sweep._todo("dfad_smoke", results, None)} == {0}  # its recipes
    # two's chosen point at 0.82: the other seeds run each scheme's chosen point, then recipes
    rmtree(results / "two-adam-s0.001-g0.003-seed0")
    write_dfad_cell(results, "two", "adam", 1e-3, 3e-3, 0, [(2, 0, 0.82, 0.8)], 0.82, 0.8, 2)
    assert [(c.scheme, c.point) for c in seed1()] == [
        ("one", "adam-s0.001-g0.001"), ("two", "adam-s0.001-g0.003"), ("kd", "adam-s0.001"),
        ("one", "dfad"), ("two", "dfad"), ("kd", "dfad")]
    assert sweep.pending("dfad_smoke", results) == 0
    assert sweep.missed_level("dfad_smoke", results) is None


@pytest.mark.parametrize("change, message", [
    (dict(level=1.5), "level must be a test accuracy in (0, 1]"),
    (dict(level=True), "level must be a test accuracy in (0, 1]"),
    (dict(level=0.8, tune_seeds=None), "level gates the seeds after the tune seeds"),
])
def test_a_bad_level_is_refused_in_one_line(change, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace("]", r"\]")):
        replace(sweeps.SWEEPS["dfad_smoke"], **change)


def test_the_dry_run_estimate_is_cpu_seconds_left_over_the_cores_the_workers_take(env,
                                                                                 monkeypatch):
    from osgan import training

    cost = {"one": 0.5, "two": 1.25}
    monkeypatch.setattr(training, "step_seconds", lambda cfg: cost[cfg.stages])
    results = env / "results"
    cfgs = [sweep.cell_config("smoke", c, results) for c in sweep.cells("smoke")]
    half = cfgs[0]  # a cell half done: its checkpoint in the cache says so
    Path(half.checkpoint_dir).mkdir(parents=True)
    torch.save({"step": half.steps // 2}, Path(half.checkpoint_dir) / "checkpoint.pt")
    est = sweep_command.estimate("smoke", cfgs, workers=3)
    left = sum(c.steps * cost[c.stages] for c in cfgs) - half.steps // 2 * cost[half.stages]
    assert est["step_seconds"] == cost
    assert est["cpu_seconds_left"] == pytest.approx(left)
    assert est["wall_seconds_left"] == pytest.approx(left / (3 * torch.get_num_threads()))


@pytest.mark.parametrize("measure", ["training", "dfad"])
def test_a_step_is_costed_in_process_cpu_time_not_wall_time(monkeypatch, measure):
    # a fake process clock that ticks one second a reading; the wall clock stands still
    from osgan import dfad, dfad_rounds, timing, training

    ticks = iter(range(10**6))
    monkeypatch.setattr(timing.time, "process_time", lambda: float(next(ticks)))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: 0.0)
    if measure == "training":
        cfg = training.TrainConfig.for_profile("smoke", gan="dcgan", stages="one")
        assert training.step_seconds(cfg, steps=4) == 1 / 4
    else:
        cfg = dfad.DFADConfig.for_profile("smoke", scheme="one")
        assert dfad_rounds.round_seconds(cfg, rounds=4) == 1 / 4
