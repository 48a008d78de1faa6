"""Layouts change how fast a step runs, never what it computes: gradients and optimizer steps
under every candidate layout against the plain NCHW, fused-pass, for-loop-Adam reference."""

import copy
import importlib.util
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import batch, tiny_models

import osgan
from osgan import layout, losses

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = layout.Layout(False, False, True, 1, False, "given")


def grads(module):
    return [p.grad for p in module.parameters()]


def run_backward(obj, G, D, x, z, y, lay):
    G, D = copy.deepcopy(G), copy.deepcopy(D)
    lay = layout.prepare(G, D, x, "cpu", layout=lay)
    osgan.one_stage_backward(G, D, obj, lay.batch(x), z, y, fused=lay.fused)
    return grads(G), grads(D)


@pytest.mark.parametrize("lay", layout.candidates(tiny_models(losses.get("dcgan_ns"))[1],
                                                  torch.device("cpu"), 1), ids=lambda l: l.describe()[:60])
@pytest.mark.parametrize("name", ["dcgan_ns", "geogan"])
def test_every_layout_gives_the_reference_gradients(name, lay):
    obj = losses.get(name)
    G, D = tiny_models(obj, dtype=torch.float32, width=8)
    x, z, y = batch(obj, B=6, dtype=torch.float32)
    ref_g, ref_d = run_backward(obj, G, D, x, z, y, REFERENCE)
    got_g, got_d = run_backward(obj, G, D, x, z, y, lay)
    for a, e in zip(got_g + got_d, ref_g + ref_d):
        # float32 convolutions in another memory format sum in another order
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-6)


def test_batchnorm_d_never_gets_a_fused_pass():
    obj = losses.get("dcgan")
    G, D = tiny_models(obj, d_norm="batch")
    assert not any(lay.fused for lay in layout.candidates(D, torch.device("cpu"), 1))
    asked_fused = layout.Layout(False, False, True, 1, False, "given")
    assert not layout.prepare(G, D, batch(obj)[0], "cpu", layout=asked_fused).fused


@pytest.mark.skipif(not layout.adam_fused_supported(torch.device("cpu")), reason="no fused Adam")
def test_fused_adam_steps_like_the_for_loop():
    torch.manual_seed(0)
    params = [torch.randn(17, 5), torch.randn(3)]
    copies = {k: [p.clone().requires_grad_(True) for p in params] for k in ("loop", "fused")}
    opts = {"loop": torch.optim.Adam(copies["loop"], lr=2e-4, betas=(0.5, 0.999)),
            "fused": torch.optim.Adam(copies["fused"], lr=2e-4, betas=(0.5, 0.999), fused=True)}
    for _ in range(20):
        g = [torch.randn_like(p) for p in params]
        for k, opt in opts.items():
            for p, gi in zip(copies[k], g):
                p.grad = gi.clone()
            opt.step()
    for a, e in zip(copies["fused"], copies["loop"]):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-7)


def test_the_recorded_sweeps_layout_stays_as_recorded():
    # results/table1 ran on this project's AMD EPYC with this layout; changing it changes every
    # rerun's numbers (tests/test_determinism.py, the recorded losses)
    assert layout.DEFAULTS[("cpu", "AMD EPYC")] == dict(channels_last_g=True,
                                                        channels_last_d=True, fused=False)


@pytest.fixture
def on(monkeypatch):
    """Pretend to run on a CPU of the given model (util.device_name is what machines are keyed by)."""
    def set_model(name):
        monkeypatch.setattr(layout.util, "device_name", lambda device: name)
    return set_model


def test_the_record_of_this_cpu_model_is_used_for_both_schemes(on, monkeypatch):
    obj = losses.get("dcgan")
    G, D = tiny_models(obj)
    monkeypatch.setitem(layout.DEFAULTS, ("cpu", "Test CPU 9000"),
                        dict(channels_last_g=False, channels_last_d=True, fused=False))
    on("Test CPU 9000")
    for stages in layout.STAGES:
        lay = layout.choose(G, D, batch(obj)[0], "cpu", stages=stages, cache=None, report=None)
        assert lay.source == "record" and lay.threads == torch.get_num_threads()
        assert (lay.channels_last_g, lay.channels_last_d, lay.fused) == (False, True, False)
    with pytest.raises(ValueError, match="stages"):
        layout.choose(G, D, batch(obj)[0], "cpu", stages="three")


def test_a_record_for_another_cpu_model_is_not_used_here(on, monkeypatch, tmp_path):
    obj = losses.get("dcgan")
    G, D = tiny_models(obj, dtype=torch.float32)
    x = batch(obj, dtype=torch.float32)[0]
    monkeypatch.setattr(layout, "DEFAULTS", {("cpu", "AMD EPYC"): dict(
        channels_last_g=True, channels_last_d=True, fused=False)})
    on("Intel(R) Xeon(R) CPU @ 2.20GHz")
    lines = []
    # a round of a few MFLOP: too small to time, the plain layout, no measurement, no line
    lay = layout.choose(G, D, x, "cpu", cache=tmp_path / "layout.json", report=lines.append)
    assert lay.source == "small" and lines == [] and not (tmp_path / "layout.json").exists()
    assert (lay.channels_last_g, lay.channels_last_d, lay.fused) == (False, False, True)
    assert layout.choose(G, D, x, "cpu", autotune=False).source == "plain"
    assert layout.default(D, "cpu").source == "plain"


def test_an_unrecorded_machine_measures_once_per_machine_and_shape_and_says_so(
        on, monkeypatch, tmp_path):
    obj = losses.get("dcgan")
    G, D = tiny_models(obj, dtype=torch.float32)
    x = batch(obj, dtype=torch.float32)[0]
    monkeypatch.setattr(layout, "MIN_FLOPS", 0)  # time even this tiny round
    cache, lines = tmp_path / "layout.json", []
    on("Intel(R) Xeon(R) CPU @ 2.20GHz")
    before = [p.detach().clone() for p in G.parameters()]
    first = layout.choose(G, D, x, "cpu", objective=obj, stages="two", cache=cache,
                          budget_s=0.0, report=lines.append)  # budget 0: one timed round each
    assert first.source == "measured" and len(lines) == 1
    assert "Intel(R) Xeon(R)" in lines[0] and str(cache) in lines[0]
    assert replace(first, source="candidate") in layout.candidates(D, torch.device("cpu"),
                                                                   first.threads)
    for a, e in zip(G.parameters(), before):  # timed on copies: the models are untouched
        torch.testing.assert_close(a, e, rtol=0, atol=0)
    # the same machine and shape, either scheme: the cached choice, silently
    for stages in layout.STAGES:
        again = layout.choose(G, D, x, "cpu", stages=stages, cache=cache, report=lines.append)
        assert again.source == "cache" and replace(again, source="measured") == first
    assert len(lines) == 1
    # another shape (batch size) and another machine are measured apart
    assert layout.choose(G, D, x[:4], "cpu", cache=cache, budget_s=0.0,
                         report=lines.append).source == "measured"
    on("AMD EPYC 7763 64-Core Processor")
    assert layout.choose(G, D, x, "cpu", cache=cache, budget_s=0.0,
                         report=lines.append).source == "measured"
    assert len(lines) == 3 and len(json.loads(cache.read_text())) == 3


@pytest.mark.parametrize("name", ["fishergan", "cgan"])
def test_measuring_leaves_the_run_as_it_was(name):
    # a run measures at set-up, after its seeds: the objective's state (Fisher GAN's multiplier,
    # which every D step moves) and torch's global random stream must come out untouched, and
    # a conditional objective needs no labels from the caller
    obj = losses.get(name)
    G, D = tiny_models(obj, dtype=torch.float32)
    x = batch(obj, dtype=torch.float32)[0]
    state, rng = obj.state_dict(), torch.get_rng_state()
    lay = layout.choose(G, D, x, "cpu", objective=obj, autotune=True, cache=None, budget_s=0.0,
                        report=None)
    assert lay.source == "measured"
    assert obj.state_dict() == state and torch.equal(torch.get_rng_state(), rng)


def test_autotune_ignores_the_record_and_caches(tmp_path):
    obj = losses.get("dcgan")
    G, D = tiny_models(obj, dtype=torch.float32)
    x = batch(obj, dtype=torch.float32)[0]
    cache = tmp_path / "layout.json"
    lay = layout.choose(G, D, x, "cpu", objective=obj, autotune=True, cache=cache, budget_s=0.0,
                        report=None)
    assert lay.source == "measured" and cache.exists()
    again = layout.choose(G, D, x, "cpu", objective=obj, autotune=True, cache=cache)
    assert again.source == "cache" and replace(again, source="measured") == lay


@pytest.mark.slow
def test_bench_vs_commit_end_to_end(tmp_path):
    """Today against HEAD on a tiny shape: the script runs, both packages are the intended ones."""
    out = tmp_path / "t.json"
    res = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_vs_commit.py"), "HEAD", "--image-size", "32",
         "--width", "4", "--batch-size", "4", "--channels", "1", "--repeats", "2", "--warmup", "1",
         "--rev-dir", str(tmp_path / "rev"), "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "one-stage" in res.stdout and "two-stage" in res.stdout and "speed" in res.stdout
    doc = json.loads(out.read_text())
    files = {k: v["osgan"] for k, v in doc["layouts"].items()}
    assert files["today"] == str(ROOT / "osgan" / "__init__.py")
    assert files["HEAD"].startswith(str(tmp_path / "rev"))
    assert all(len(v) == 2 for v in doc["times"].values())


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("make", ["missing", "other"])
def test_bench_vs_paper_refuses_a_path_that_is_not_the_papers_checkout(tmp_path, make, capsys):
    path = tmp_path / "OSGAN"
    if make == "other":  # a folder, but not github.com/zju-vipa/OSGAN
        (path / "networks").mkdir(parents=True)
        (path / "README.md").write_text("another repository\n")
    with pytest.raises(SystemExit) as exit_:
        _script("bench_vs_paper").main([str(path)])
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1 and "zju-vipa/OSGAN" in lines[0]
    assert ("no folder" if make == "missing" else "lacks networks/dcgan.py") in lines[0]
