"""osgan.compare: profile configs and runs evaluated at equal step intervals."""

from dataclasses import replace

import pytest

from osgan import compare


def test_configs_for_splits_overrides():
    cfg, ev = compare.configs_for("smoke", "cpu", gan="lsgan", steps=3, n_gen=32, evals=3)
    assert (cfg.gan, cfg.steps, cfg.progress) == ("lsgan", 3, False)
    assert (ev.n_gen, ev.evals, ev.feature_space) == (32, 3, "domain_smoke")
    with pytest.raises(ValueError, match="nonsense"):
        compare.configs_for("smoke", "cpu", nonsense=1)


@pytest.mark.slow
def test_run_with_evals_labels_and_clock(tmp_path):
    cfg, ev = compare.configs_for("smoke", "cpu", steps=4, evals=2, n_gen=32, n_real=64,
                                  out_root=str(tmp_path))
    r = compare.run_with_evals(replace(cfg, gan="dcgan_ns", stages="one"), ev)
    assert [e["step"] for e in r["evals"]] == [2, 4]
    times = [e["time"] for e in r["evals"]]
    assert 0 < times[0] < times[1]  # the training clock, evaluation excluded
    assert [x["step"] for x in r["records"]] == [2, 4]  # log_every=2
    assert {e["feature_space"] for e in r["evals"]} == {"domain:fashion_mnist@32/smoke-cnn"}
    assert r["samples"] is not None and r["samples"].exists()
    row = compare.final_rows([r])[0]
    assert (row["gan"], row["stages"], row["steps"]) == ("dcgan_ns", "one", 4)
    assert row["s/step"] == pytest.approx(row["train time (s)"] / 4, rel=1e-12)


def test_one_vs_two_runs_each_gan_in_both_schemes(monkeypatch):
    seen = []
    monkeypatch.setattr(compare, "run_with_evals", lambda c, ev: seen.append((c.gan, c.stages)) or c)
    cfg, ev = compare.configs_for("smoke", "cpu")
    out = compare.one_vs_two(cfg, ev, ["lsgan", "bgan"])
    assert seen == [("lsgan", "one"), ("lsgan", "two"), ("bgan", "one"), ("bgan", "two")]
    assert [(c.gan, c.stages) for c in out] == seen
