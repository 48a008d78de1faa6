"""The seed-0 tuning grid of a dfad sweep (table2_tune, table2_dt) on a CUDA machine, with the
sweep's own cell configs and run function (the pinned code on PYTHONPATH), in an order of our
choosing (scripts/gpu_grid.sh prepares and runs it). Its provenance session repeats what
osgan.sweep.run_sweep writes, plus the GPU: the pinned code predates a GPU entry.

    python gpu_grid.py train SWEEP RESULTS WORKERS ORDER...   # ORDER: substrings, first first
    python gpu_grid.py diagnose RESULTS WORKERS OUT.json       # the new cells' final networks

Float32 throughout: TF32 off for cuDNN and cuBLAS, deterministic algorithms (the flags are set
at import, so every spawned worker sets them too). A session entry in RESULTS/provenance.json
says where the cells ran.
"""

import hashlib
import json
import sys
from pathlib import Path

import torch

torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.benchmark = False
torch.use_deterministic_algorithms(True, warn_only=True)

# the commit the archived code in PYTHONPATH's osgan/ is (scripts/gpu_grid.sh prepare writes it)
PIN_FILE = "COMMIT"


def flags(_=None):
    return {"cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "deterministic": torch.are_deterministic_algorithms_enabled()}


def pinned_commit() -> str:
    import osgan
    path = Path(osgan.__file__).parent.parent / PIN_FILE
    return path.read_text().strip() if path.exists() else "unknown"


def code_digest() -> str:
    import osgan
    root = Path(osgan.__file__).parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _diagnose(path: str):
    from osgan import dfad
    torch.set_num_threads(1)  # a worker a core (16 threads each did not finish in 90 s)
    try:
        return path, dfad.diagnose(path)
    except Exception as e:  # noqa: BLE001 - reported, not raised: the others still run
        return path, {"error": repr(e)}


def train(name: str, results: Path, workers: int, order: list[str]) -> None:
    from osgan import harness, sweep
    from osgan.sweep import _now, cell_config, cells, environment, run_kind, status

    sweep.own_results(name, results)
    spec = sweep.sweep_spec(name)
    cfgs = [cell_config(name, c, results) for c in cells(name, results)]
    todo = [c for c in cfgs if status(c) != "done" and c.seed in spec.tune_seeds]
    if not todo:
        sys.exit(f"gpu_grid: every cell of {name}'s tune seeds in {results} is done; nothing to "
                 "run (collect the record, or prepare another sweep)")

    def rank(cfg):
        cell = Path(cfg.out_dir).name
        return next((i for i, key in enumerate(order) if key in cell), len(order))
    todo.sort(key=rank)  # stable: the sweep's order within each group
    print(f"{len(todo)} cells to run, in this order:", *[Path(c.out_dir).name for c in todo],
          sep="\n  ", flush=True)
    prov_path = results / "provenance.json"
    prov = (json.loads(prov_path.read_text()) if prov_path.exists()
            else {"sweep": name, "sessions": []})
    session = {"start": _now(), "end": None,
               "command": f"python gpu_grid.py train {name} <record> {workers} {' '.join(order)}",
               "executor": "local", "workers": workers, "threads": todo[0].threads,
               **environment(), "commit": pinned_commit(), "dirty": False,
               "code": "git archive of the pinned commit's osgan/ (no .git on the GPU machine); "
                       f"sha256 of its .py files: {code_digest()}",
               "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else "none",
               "cuda": torch.version.cuda,
               "cudnn": torch.backends.cudnn.version(), "precision": flags(),
               "cells_finished": []}
    prov["sessions"].append(session)
    sweep.write_json(prov_path, prov)

    def finished(i, path):
        session["cells_finished"].append(Path(path).name)
        session["end"] = _now()
        sweep.write_json(prov_path, prov)
        print("finished", Path(path).name, flush=True)

    run_kind(name).prepare(todo[0])
    harness.parallel_map(sweep._run_cell, todo, workers, desc=f"gpu {name}", progress=False,
                         on_done=finished)


def diagnose(results: Path, workers: int, out: Path) -> None:
    import multiprocessing
    # the cells this machine's train step finished: the last session's (earlier GPU sessions'
    # checkpoints stayed on their machines)
    last = json.loads((results / "provenance.json").read_text())["sessions"][-1]
    mine = [str(results / c) for c in last["cells_finished"]] if "gpu" in last else []
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        got = {}
        for path, d in pool.imap_unordered(_diagnose, mine):
            got[Path(path).name] = d
            out.write_text(json.dumps(got, indent=1))
            print("diagnosed", Path(path).name, d.get("classes_eff"), flush=True)


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "flags":
        import multiprocessing
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            print("here", flags(), "spawned worker", pool.map(flags, [0]), flush=True)
        print("osgan", code_digest())
    elif what == "train":
        train(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
    elif what == "diagnose":
        diagnose(Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
    else:
        sys.exit(f"unknown {what}")
