"""A cell's numbers depend on its config and seed alone: not on whether it runs
alone or after other cells, in one process or in a pool of workers, with the feature extractor's
cache cold (filled during the run) or warm, or killed and resumed."""

import json
import math
import os

import pytest
from fixtures_data import write_fashion_mnist

from osgan import data, sweep, sweeps, table1, training
from osgan.analysis import records
from osgan.util import cache_root

# the two-stage paper round draws a second z each step: the cell most sensitive to the stream.
# threads is pinned, as the recorded sweeps pin it: sums split over threads round differently
# (threads=0 would take each process's count: 1 in this test process, torch's default in a worker)
TARGET = "dcgan-two-seed1"
SPEC = dict(gans=("dcgan",), seeds=(0, 1), profile="smoke",
            train=dict(steps=8, log_every=1, checkpoint_every=3, width=4, nz=8, batch_size=6,
                       threads=1,
                       eval=dict(every=3, n_gen=16, n_real=16)))


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    monkeypatch.setitem(sweeps.SWEEPS, "det", SPEC)
    write_fashion_mnist(tmp_path / "fmnist", n_train=48, n_test=16)
    return tmp_path


def _cache(env, monkeypatch, name):
    monkeypatch.setenv("OSGAN_CACHE", str(env / name))  # spawned workers inherit it


def _rows(folder):
    """Every number of metrics.jsonl except the clocks."""
    rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith("Time/")} for r in rows]


def _alone(env, results, **kw):
    cell = next(c for c in sweep.cells("det") if c.name == TARGET)
    cfg = sweep.cell_config("det", cell, results, data_root=str(env / "fmnist"), **kw)
    return training.train(cfg).out_dir


@pytest.mark.slow
def test_a_cell_gives_the_same_numbers_however_it_was_scheduled(env, monkeypatch):
    root = str(env / "fmnist")
    # alone, with a cold cache: the domain classifier is trained during its first evaluation
    _cache(env, monkeypatch, "cold-alone")
    alone = _rows(_alone(env, env / "alone"))
    assert any("Eval/FID" in r for r in alone) and len(alone) == 8
    # alone again, with the cache now warm
    assert _rows(_alone(env, env / "warm")) == alone
    # fourth of four cells in one process (serial sweep), the cache filled by the first cell
    _cache(env, monkeypatch, "cold-serial")
    sweep.run_sweep("det", results=env / "serial", workers=1, data_root=root)
    assert _rows(env / "serial" / TARGET) == alone
    # in a sweep of two worker processes, each starting with a cold cache
    _cache(env, monkeypatch, "cold-pool")
    sweep.run_sweep("det", results=env / "pool", workers=2, data_root=root)
    assert _rows(env / "pool" / TARGET) == alone
    # and the other cells of the pool equal the serial sweep's
    for cell in sweep.cells("det"):
        assert _rows(env / "pool" / cell.name) == _rows(env / "serial" / cell.name)


class Killed(KeyboardInterrupt):
    pass


@pytest.mark.slow
def test_a_cell_killed_with_a_cold_cache_and_resumed_gives_the_same_numbers(env, monkeypatch):
    _cache(env, monkeypatch, "warm")
    whole = _rows(_alone(env, env / "whole"))
    # a cold cache, killed in step 5 (last checkpoint at 3, after the first evaluation)
    _cache(env, monkeypatch, "cold")
    real, calls = training.two_stage_step, {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "two_stage_step", dying)
    with pytest.raises(Killed):
        _alone(env, env / "split")
    monkeypatch.setattr(training, "two_stage_step", real)
    assert (cache_root() / "sweeps" / "det" / TARGET / "checkpoint.pt").exists()
    assert _rows(_alone(env, env / "split", resume=True)) == whole


def test_the_ema_generator_changes_nothing_in_training(env, monkeypatch, tmp_path):
    _cache(env, monkeypatch, "cache")
    plain = _rows(_alone(env, env / "plain"))
    ema_run = _alone(env, env / "ema", ema=0.999)
    with_ema = _rows(ema_run)
    strip = [{k: v for k, v in r.items() if not k.startswith("Eval/EMA/")} for r in with_ema]
    assert strip == plain  # G and D train bit for bit the same, and G's evaluations too
    evals = [r for r in with_ema if "Eval/FID" in r]
    assert evals and all("Eval/EMA/FID" in r for r in evals)
    # ... and the record reads them: the plan's secondary EMA reading of this run is finite
    raw = [json.loads(x) for x in (ema_run / "metrics.jsonl").read_text().splitlines()]
    read = records.evals(raw)
    assert [e["EMA/FID"] for e in read] == [r["Eval/EMA/FID"] for r in evals]
    assert math.isfinite(table1.reading(read, "log_fid_ema_last4"))
    # the average moved away from G (decay 0.5 here: visible after a few steps)
    fast = [r for r in _rows(_alone(env, env / "fast", ema=0.5)) if "Eval/FID" in r]
    assert any(r["Eval/EMA/FID"] != r["Eval/FID"] for r in fast)


def test_an_ema_decay_outside_0_1_is_refused():
    for bad in (-0.1, 1.0, True, "0.9"):
        with pytest.raises(ValueError, match="ema must be a decay"):
            training.TrainConfig.for_profile("smoke", ema=bad)


_PRODUCT = ("import hashlib, torch\n"
            "g = torch.Generator().manual_seed(0)\n"
            "a, b = torch.randn(64, 300, generator=g), torch.randn(300, 64, generator=g)\n"
            "print(hashlib.sha256((a @ b).numpy().tobytes()).hexdigest())\n")


def _product_digest(prelude: str, **env: str) -> str:
    import subprocess
    import sys

    base = {k: v for k, v in os.environ.items() if k != "MKL_ENABLE_INSTRUCTIONS"}
    out = subprocess.run([sys.executable, "-c", prelude + _PRODUCT], env={**base, **env},
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def test_importing_osgan_caps_mkl_at_avx2_as_on_an_amd_cpu():
    # Intel's MKL runs AVX-512 kernels on Intel CPUs and AVX2 ones on AMD's: an Intel Xeon
    # trained the AMD record's cells differently until osgan capped it (before MKL's first call)
    capped = _product_digest("", MKL_ENABLE_INSTRUCTIONS="AVX2")
    assert _product_digest("import osgan\n") == capped
    # a value the user sets wins
    assert _product_digest("import osgan, os\nassert os.environ['MKL_ENABLE_INSTRUCTIONS'] == "
                           "'AVX512'\n", MKL_ENABLE_INSTRUCTIONS="AVX512") == \
        _product_digest("", MKL_ENABLE_INSTRUCTIONS="AVX512")
