"""A recorded sweep's cells on a CUDA machine, with the sweep's own cell configs and run function
(the pinned code on PYTHONPATH), in an order of our choosing (scripts/gpu_grid.sh prepares and
runs it): a dfad sweep's seed-0 tuning grid (table2_tune, table2_dt) or, once it is done, its
verdict's seeds; or a Table 1 sweep's remaining seeds (table1). Its provenance session repeats
what the sweep writes, plus the GPU: the pinned code predates a GPU entry.

    python gpu_grid.py train SWEEP RESULTS WORKERS ORDER...   # ORDER: substrings, first first
    python gpu_grid.py pairs SWEEP RESULTS WITHHELD           # verdicts: whole pairs only
    python gpu_grid.py diagnose RESULTS WORKERS OUT.json       # dfad: the new cells' networks

**Pairs on one machine.** A verdict pairs one stage with two on each seed (Table 1 per
objective, Table 2 at the chosen points), and a cell that ran on the GPU rounds differently from
the same cell on a CPU: so the GPU runs only pairs neither of whose cells is done elsewhere,
pair by pair, and keeps a finished cell in the record only if its partner finished in the same
session (``pairs``); a cell whose partner did not is moved to WITHHELD, listed in the session as
withheld, and runs again on a CPU beside its partner. A verdict's distillation cell goes on to
its plateau in the same worker, from its checkpoint on the GPU machine. The rule is the
script's, fixed before any GPU cell of a verdict ran.

Float32 throughout: TF32 off for cuDNN and cuBLAS, deterministic algorithms (the flags are set
at import, so every spawned worker sets them too). A session entry in RESULTS/provenance.json
says where the cells ran.
"""

import hashlib
import json
import os
import sys
import time
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


def _spec(name: str) -> dict:
    """The sweep's kind and tune seeds, from a pinned commit's spec (a dict before 7dfb6b7, a
    dataclass since)."""
    from osgan import sweep
    spec = sweep.sweep_spec(name)
    get = spec.get if isinstance(spec, dict) else lambda k, d=None: getattr(spec, k, d)
    return {"kind": sweep.kind(name), "tune_seeds": get("tune_seeds")}


def pair_key(cfg) -> tuple:
    """The cells one verdict pairs: Table 1's one objective, variant and seed (its two schemes);
    a distillation verdict's one seed (one and two stages at their chosen points, and KD)."""
    if hasattr(cfg, "gan"):
        return (cfg.gan, getattr(cfg, "variant", ""), cfg.seed)
    return (cfg.seed,)


def verdict_pairs(name: str, cfgs: list) -> list[list]:
    """The configs a verdict pairs, grouped (:func:`pair_key`): the plain cells off the tune
    seeds (a dfad grid's cells pair with nothing; Table 1's exact cells are no scheme of a
    pair), in the sweep's order."""
    tune = _spec(name)["tune_seeds"] or ()
    groups: dict[tuple, list] = {}
    for c in cfgs:
        if not getattr(c, "exact", False) and c.seed not in tune:
            groups.setdefault(pair_key(c), []).append(c)
    return list(groups.values())


def _configs(name: str, results: Path) -> list:
    from osgan.sweep import cell_config, cells
    return [cell_config(name, c, results) for c in cells(name, results)]


def to_run(name: str, cfgs: list, status) -> list:
    """The cells a GPU session runs: a dfad sweep's tune-seed cells not done, or once that grid
    is done, the verdict's seeds (those off the tune seeds, as the sweep lists them) of which no
    cell is done; a Table 1 sweep's pairs of which no cell is done. Pair by pair (seed by seed)
    in the sweep's order; a cell under way on a CPU is not in the prepared record."""
    spec = _spec(name)
    todo = [c for c in cfgs if status(c) != "done"]
    tune = spec["tune_seeds"] or ()
    if spec["kind"] == "dfad" and any(c.seed in tune for c in todo):
        # the grid's cells not started; a chosen point's run on the tune seed that goes on to
        # its plateau stays on the CPU that holds its checkpoint, and the verdict waits for it
        return [c for c in todo if c.seed in tune and status(c) == "todo"]
    return [c for g in verdict_pairs(name, cfgs) if all(status(x) != "done" for x in g)
            for c in g]


def train(name: str, results: Path, workers: int, order: list[str]) -> None:
    from osgan import harness, sweep
    from osgan.sweep import _now, environment, status

    sweep.own_results(name, results)
    cfgs = _configs(name, results)
    todo = to_run(name, cfgs, status)
    if not todo:
        sys.exit(f"gpu_grid: no cell of {name} in {results} is left for a GPU (dfad: the tune "
                 "seeds' grid is done; table1: no pair is wholly to run); nothing to run "
                 "(collect the record, or prepare another sweep)")

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
    write_json(prov_path, prov)

    def finished(i, got):
        cell, error = got
        if error:  # the other cells go on; this one stays unfinished (a CPU runs it)
            print("skipped" if error.startswith(SKIPPED) else "failed", cell, error, flush=True)
            return
        session["cells_finished"].append(cell)
        session["end"] = _now()
        write_json(prov_path, prov)
        print("finished", cell, flush=True)

    if hasattr(sweep, "run_kind"):  # 7dfb6b7 and later: the teacher, before the workers
        sweep.run_kind(name).prepare(todo[0])
    # the grid's cells run once, at the grid's length: a chosen point's run on the tune seed
    # goes on where its partner does (on the CPU that holds the grid's checkpoints)
    grid = any(c.seed in (_spec(name)["tune_seeds"] or ()) for c in todo)
    jobs = [(name, str(results), Path(c.out_dir).name, not grid) for c in todo]
    harness.parallel_map(run_to_length, jobs, workers, desc=f"gpu {name}", progress=False,
                         on_done=finished)


def _runner():
    from osgan import sweep
    if hasattr(sweep, "_run_cell"):  # 7dfb6b7 and later: one run function for every kind
        return sweep._run_cell
    from osgan import compare  # bb71de5 (table1): a Table 1 cell is a training run
    return compare._train_one


def run_to_length(job: tuple[str, str, str, bool]) -> tuple[str, str | None]:
    """A worker's whole job: one cell, run once or (``extend``) until the sweep, planning again
    from the record after each run, asks no more of it (a distillation verdict's chosen point
    goes on by the grid's length until it plateaus, resuming from its checkpoint on this
    machine). Returns the cell and None, or the cell and its error (one cell's failure does not
    stop the others)."""
    name, results, cell, extend = job
    from osgan import sweep
    run = _runner()
    try:
        for k in range(100):  # each pass lengthens the run; the sweep's cap ends it long before
            cfg = next((c for c in _configs(name, Path(results)) if Path(c.out_dir).name == cell),
                       None)
            if cfg is None:
                return cell, "the sweep no longer lists this cell"
            if sweep.status(cfg) == "done" or (k and not extend):
                return cell, None
            if not time_left(Path(results)):
                return cell, f"{SKIPPED}: the longest run so far would end past the deadline"
            t0 = time.time()
            run(cfg)
            with open(Path(results) / DURATIONS, "a") as f:  # one line per run, for time_left
                f.write(f"{cell} {time.time() - t0:.1f}\n")
        return cell, "still asked for more after 100 runs"
    except Exception as e:  # noqa: BLE001 - reported, not raised: the others still run
        return cell, repr(e)


DURATIONS = ".gpu_durations"  # in the record's folder while a GPU session runs; not collected
SKIPPED = "not started"


def time_left(results: Path, now: float | None = None) -> bool:
    """Whether a run started now ends before the call's deadline (``$GPU_GRID_DEADLINE``, epoch
    seconds; none: always), judged by the longest run this session has finished (none yet:
    yes). A run the deadline would cut off is lost with its checkpoint; not starting it ends the
    call sooner and leaves the device time to the next."""
    deadline = os.environ.get("GPU_GRID_DEADLINE")
    path = results / DURATIONS
    if not deadline or not path.exists():
        return True
    took = [float(line.split()[-1]) for line in path.read_text().splitlines() if line.strip()]
    return not took or (time.time() if now is None else now) + max(took) < float(deadline)


def write_json(path: Path, obj) -> None:
    from osgan import sweep, util
    (getattr(sweep, "write_json", None) or util.write_json)(path, obj)


def pairs(name: str, results: Path, withheld: Path) -> list[str]:
    """Keep in the record only the whole pairs the last session finished: move each finished
    cell whose partner did not finish in it to ``withheld`` (kept, outside the record), and
    list it in the session as withheld. A dfad sweep's grid cells (its tune seeds) pair with
    nothing and stay; its verdict's seeds are kept whole (one, two and KD)."""
    import shutil
    prov_path = results / "provenance.json"
    prov = json.loads(prov_path.read_text())
    session = prov["sessions"][-1]
    if session.get("gpu") in (None, "none"):
        return []
    mine = set(session["cells_finished"])
    groups = [{Path(c.out_dir).name for c in g}
              for g in verdict_pairs(name, _configs(name, results))]
    orphans = sorted(c for g in groups if g & mine and not g <= mine for c in g & mine)
    if orphans:
        withheld.mkdir(parents=True, exist_ok=True)
    for c in orphans:
        shutil.move(str(results / c), str(withheld / c))
    session["cells_finished"] = [c for c in session["cells_finished"] if c not in orphans]
    session["cells_withheld"] = orphans
    session["withheld_why"] = ("finished on this GPU while its partner did not: a pair runs on "
                               "one machine (scripts/gpu_grid.py)")
    write_json(prov_path, prov)
    return orphans


def diagnose(results: Path, workers: int, out: Path) -> None:
    import multiprocessing
    # the cells this machine's train step finished: the last session's (earlier GPU sessions'
    # checkpoints stayed on their machines)
    last = json.loads((results / "provenance.json").read_text())["sessions"][-1]
    mine = ([str(results / c) for c in last["cells_finished"]]
            if last.get("gpu") not in (None, "none") else [])
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
    elif what == "pairs":
        print("withheld:", *pairs(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])) or ["none"])
    elif what == "diagnose":
        diagnose(Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
    else:
        sys.exit(f"unknown {what}")
