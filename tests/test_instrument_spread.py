"""scripts/instrument_spread.py: a run's final generator measured with domain classifiers of
several seeds, and the chapters' words for it (osgan.analysis.instrument.spread_values)."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
from conftest import tiny

from osgan import training
from osgan.analysis import instrument

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("instrument_spread",
                                                  ROOT / "scripts" / "instrument_spread.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_each_seed_is_another_classifier_and_seed_0_is_the_runs_own(root, tmp_path, monkeypatch):
    monkeypatch.setenv("OSGAN_CACHE", str(tmp_path / "cache"))
    run = training.train(tiny(root, tmp_path / "run")).out_dir
    out = tmp_path / "spread.json"
    mod = _script()
    assert mod.main([str(run), "--seeds", "0", "1", "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    rows = {r["classifier_seed"]: r for r in d["rows"]}
    assert set(rows) == {0, 1} and rows[0]["FID"] != rows[1]["FID"]
    # seed 0 is the recipe's own classifier: what the run itself logs at its last evaluation
    G, cfg, step = training.load_final(run)
    assert rows[0]["step"] == step
    assert rows[0]["FID"] == training.evaluate_generator(G, cfg)["FID"]
    logs = np.log([rows[0]["FID"], rows[1]["FID"]])
    assert d["spread"][run.name]["sd_log_fid"] == np.std(logs, ddof=1)
    v = instrument.spread_values(out)
    assert v["inst_seeds"] == "2" and v["inst_range"].startswith(f"{run.name}: ")
    assert instrument.spread_values(tmp_path / "none.json")["inst_range"] == "–"
    # bad input: one seed, an unfinished run
    assert mod.main([str(run), "--seeds", "0", "--out", str(out)]) == 2
    assert mod.main([str(tmp_path), "--out", str(out)]) == 2
    assert math.isfinite(d["spread"][run.name]["max_over_min"])
