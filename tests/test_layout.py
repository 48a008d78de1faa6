"""Layouts change how fast a step runs, never what it computes: gradients and optimizer steps
under every candidate layout against the plain NCHW, fused-pass, for-loop-Adam reference."""

import copy
import subprocess
import sys
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


def test_default_layout_per_device_and_scheme():
    obj = losses.get("dcgan")
    G, D = tiny_models(obj)
    for stages in layout.STAGES:
        lay = layout.choose(G, D, batch(obj)[0], "cpu", stages=stages)
        assert lay.source == "default"
        assert lay.threads == torch.get_num_threads()
        d = layout.DEFAULTS[("cpu", stages)]
        assert (lay.channels_last_g, lay.channels_last_d, lay.fused) == (
            d["channels_last_g"], d["channels_last_d"], d["fused"])
    with pytest.raises(ValueError, match="stages"):
        layout.choose(G, D, batch(obj)[0], "cpu", stages="three")


def test_autotune_picks_a_candidate_and_caches_it(tmp_path):
    obj = losses.get("dcgan")
    G, D = tiny_models(obj, dtype=torch.float32)
    x = batch(obj, dtype=torch.float32)[0]
    cache = tmp_path / "layout.json"
    before = [p.detach().clone() for p in G.parameters()]
    lay = layout.choose(G, D, x, "cpu", objective=obj, autotune=True, cache=cache)
    assert lay.source == "autotune" and cache.exists()
    assert lay.__class__(**{**lay.__dict__, "source": "autotune"}) in layout.candidates(
        D, torch.device("cpu"), lay.threads)
    for a, e in zip(G.parameters(), before):  # timed on copies: the models are untouched
        torch.testing.assert_close(a, e, rtol=0, atol=0)
    again = layout.choose(G, D, x, "cpu", objective=obj, autotune=True, cache=cache)
    assert again.source == "cache"
    assert again.__class__(**{**again.__dict__, "source": "autotune"}) == lay


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
    import json

    doc = json.loads(out.read_text())
    files = {k: v["osgan"] for k, v in doc["layouts"].items()}
    assert files["today"] == str(ROOT / "osgan" / "__init__.py")
    assert files["HEAD"].startswith(str(tmp_path / "rev"))
    assert all(len(v) == 2 for v in doc["times"].values())
