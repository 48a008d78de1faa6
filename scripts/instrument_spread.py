"""How much a generator's domain FID depends on the classifier it is measured with.

    python scripts/instrument_spread.py RUN [RUN ...] [--seeds 0 1 2 3 4] [--record DIR]
        [--out results/instruments/spread.json]

Each RUN is a finished ``python -m osgan train`` folder (a Table 1 cell trained again, with its
checkpoint). Its final generator is measured, at the run's own evaluation settings, with domain
classifiers of the same recipe trained from each seed in ``--seeds`` (seed 0: the recipe's own,
the one frozen in ``osgan/instruments`` where there is one; the others are trained in the
cache, a few minutes each on one core). With ``--record``, the cell of the same name there gives
the FID the record measured at the same step (another instrument, named by its accuracy).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from osgan import harness, training
from osgan.analysis import instrument, records
from osgan.metrics import domain, fid
from osgan.util import UsageError, device_name, write_json

CLASSIFIER_OF = {"domain": "cnn", "domain_smoke": "smoke-cnn"}  # feature space -> recipe


def measure(runs: list[Path], seeds: list[int]) -> list[dict]:
    """Each run's final generator measured with the domain classifier of each seed."""
    loaded = [(run, *training.load_final(run)) for run in runs]
    for run, _, cfg, _ in loaded:
        if cfg.eval.feature_space not in CLASSIFIER_OF:
            raise UsageError(f"{run} is measured in {cfg.eval.feature_space!r}, not a domain "
                             "feature space; give a Table 1 cell")
    recipes = {name: domain.CLASSIFIERS[name] for name in CLASSIFIER_OF.values()}
    rows = []
    for seed in seeds:
        for name, recipe in recipes.items():
            domain.CLASSIFIERS[name] = dataclasses.replace(
                recipe, fit=dataclasses.replace(recipe.fit, seed=seed))
        fid._SPACES.clear()  # the feature space of this seed's classifier, built afresh
        fid._REFS.clear()
        try:
            for run, G, cfg, step in loaded:
                out = training.evaluate_generator(G, cfg)
                rows.append({"run": run.name, "step": step, "classifier_seed": seed,
                             "domain_acc": out["domain_acc"], "FID": out["FID"],
                             "KID": out["KID"]})
                print(json.dumps(rows[-1]), flush=True)
        finally:  # and nothing of this seed's classifier is left for what runs next
            domain.CLASSIFIERS.update(recipes)
            fid._SPACES.clear()
            fid._REFS.clear()
    return rows


def recorded(record: Path, name: str, step: int) -> dict | None:
    """The record's evaluation of cell ``name`` at ``step``, with the classifier that made it."""
    for e in records.evals(harness.read_rows(record / name / "metrics.jsonl", upto=step)):
        if e["step"] == step:
            return {"FID": e["FID"], "KID": e["KID"], "domain_acc": e["domain_acc"],
                    "instrument": instrument.name("domain", e["domain_acc"])}
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--record", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("results/instruments/spread.json"))
    a = ap.parse_args(argv)
    if len(set(a.seeds)) < 2:
        print("instrument_spread: give two or more --seeds: a spread needs two classifiers",
              file=sys.stderr)
        return 2
    for run in a.runs:
        if not (run / "done.json").exists():
            print(f"instrument_spread: {run} is no finished run (no done.json); train it first",
                  file=sys.stderr)
            return 2
    torch.set_num_threads(1)
    try:
        rows = measure(a.runs, a.seeds)
    except UsageError as e:
        print(f"instrument_spread: {e}", file=sys.stderr)
        return 2
    spread = {}
    for run in sorted({r["run"] for r in rows}):
        logs = np.log([r["FID"] for r in rows if r["run"] == run])
        spread[run] = {"sd_log_fid": float(np.std(logs, ddof=1)) if len(logs) > 1 else math.nan,
                       "max_over_min": float(math.exp(logs.max() - logs.min()))}
        if a.record:
            step = next(r["step"] for r in rows if r["run"] == run)
            spread[run]["record"] = recorded(a.record, run, step)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    write_json(a.out, {"rows": rows, "spread": spread, "provenance": {
        "command": "python scripts/instrument_spread.py " + " ".join(map(str, argv or sys.argv[1:])),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": commit.strip(), "cpu": device_name(torch.device("cpu")), "torch": torch.__version__,
        "python": platform.python_version()}})
    print(f"written {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
