"""osgan.compare: chapter configs, runs in worker processes equal to serial runs, run ownership."""

import json
from dataclasses import replace

import pytest
import torch
from fixtures_data import write_fashion_mnist

from osgan import compare, data
from osgan.util import UsageError


def test_configs_for_splits_overrides():
    cfg, chapter = compare.configs_for("smoke", "cpu", gan="lsgan", steps=3, evals=3,
                                       eval=dict(n_gen=32))
    assert (cfg.gan, cfg.steps, cfg.progress) == ("lsgan", 3, False)
    assert (cfg.eval.n_gen, chapter.evals, cfg.eval.feature_space) == (32, 3, "domain_smoke")
    assert chapter.runs_root == "runs/book/smoke"
    quick, _ = compare.configs_for("quick", "cpu")
    assert (quick.width, quick.steps, quick.threads) == (16, 800, 1)  # the chapter's quick runs
    with pytest.raises(ValueError, match="nonsense"):
        compare.configs_for("smoke", "cpu", nonsense=1)


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    write_fashion_mnist(tmp_path / "fmnist", n_train=48, n_test=16)
    return str(tmp_path / "fmnist")


def _tiny(root, out, **kw):
    cfg, _ = compare.configs_for("smoke", "cpu", data_root=root, width=4, nz=8, batch_size=6,
                                 steps=4, log_every=1, threads=1, **kw)
    return replace(cfg, out_dir=str(out))


@pytest.mark.slow
def test_runs_in_worker_processes_equal_serial_runs(root, tmp_path):
    cfgs = [_tiny(root, tmp_path / "serial" / g, gan=g) for g in ("lsgan", "wgan")]
    serial = compare.run_many(cfgs, workers=1, progress=False)
    parallel = compare.run_many([replace(c, out_dir=str(tmp_path / "parallel" / c.gan))
                                 for c in cfgs], workers=2, progress=False)
    for a, b in zip(serial, parallel):
        ra, rb = compare.result_of(a)["records"], compare.result_of(b)["records"]
        keys = [k for k in ra[0] if k.startswith("Loss/")]
        assert len(ra) == len(rb) == 4
        torch.testing.assert_close(torch.tensor([[r[k] for k in keys] for r in ra]),
                                   torch.tensor([[r[k] for k in keys] for r in rb]),
                                   rtol=0, atol=0)


def test_a_chapter_never_touches_a_folder_it_does_not_own(tmp_path):
    foreign = tmp_path / "runs"
    (foreign / "dcgan-one-fashion_mnist-seed0").mkdir(parents=True)
    (foreign / "dcgan-one-fashion_mnist-seed0" / "config.json").write_text("{}")
    before = sorted(p.name for p in foreign.rglob("*"))
    with pytest.raises(UsageError, match="left alone"):
        compare.own_root(foreign)
    assert sorted(p.name for p in foreign.rglob("*")) == before
    ours = compare.own_root(tmp_path / "book")
    assert json.loads((ours / compare.MARKER).read_text()) == {"kind": "chapter", "runs": []}
    assert compare.own_root(ours) == ours  # a second time: still ours
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        compare.own_root(tmp_path / "file")


@pytest.mark.slow
def test_one_vs_two_labels_and_clock(root, tmp_path):
    cfg = _tiny(root, "")
    chapter = compare.ChapterConfig(evals=2, runs_root=str(tmp_path / "book"), workers=1)
    cfg = replace(cfg, eval=replace(cfg.eval, n_gen=32, n_real=16))
    results = compare.one_vs_two(cfg, chapter, ["dcgan_ns"])
    assert [(r["gan"], r["stages"]) for r in results] == [("dcgan_ns", "one"), ("dcgan_ns", "two")]
    r = results[0]
    assert [e["step"] for e in r["evals"]] == [2, 4]
    times = [e["time"] for e in r["evals"]]
    assert 0 < times[0] < times[1]  # the training clock, evaluation excluded
    assert {e["feature_space"] for e in r["evals"]} == {"domain:fashion_mnist@32/smoke-cnn"}
    assert r["samples"] is not None and r["samples"].exists() and r["done"]
    row = compare.final_rows([r])[0]
    assert (row["gan"], row["stages"], row["steps"]) == ("dcgan_ns", "one", 4)
    assert row["s/step"] == pytest.approx(row["train time (s)"] / 4, rel=1e-12)
    assert set(compare.speedups(compare.final_rows(results))) == {"dcgan_ns"}


def test_gamma_summary_counts_steps_without_active_samples():
    nan = float("nan")
    rec = [{"step": 1, "Gamma/min": -2.0, "Gamma/mean": -1.0, "Gamma/max": -0.5,
            "Gamma/inactive": 0.0},
           {"step": 2, "Gamma/min": -1.0, "Gamma/mean": 0.0, "Gamma/max": 0.5,
            "Gamma/inactive": 0.5},
           {"step": 3, "Gamma/min": nan, "Gamma/mean": nan, "Gamma/max": nan,
            "Gamma/inactive": 1.0}]
    s = compare.gamma_summary({"gan": "geogan", "records": rec})
    assert s["steps with no active sample"] == 1
    assert s["steps with every gamma < 0"] == 0.5
    assert (s["smallest gamma"], s["largest gamma"]) == (-2.0, 0.5)
    assert s["inactive fraction (mean)"] == pytest.approx(0.5)
    assert s["inactive fraction (max)"] == 1.0
