"""scripts/gpu_grid.sh and gpu_grid.py, the helpers that run a tuned distillation sweep's seed-0
cells on a lent GPU: their refusals, and the code they record as run."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    p = subprocess.run(["bash", "scripts/gpu_grid.sh", *args], cwd=ROOT, capture_output=True,
                       text=True)
    return p.returncode, p.stderr.strip()


def test_an_unknown_step_or_sweep_is_refused_in_one_line_before_anything_is_made():
    before = (ROOT / "_dev").exists()
    code, err = run("fetch")
    assert code == 2 and err == "gpu_grid: unknown step fetch (prepare, run or adopt)"
    code, err = run("prepare", "table9")
    assert code == 2 and "no pinned record table9" in err and "\n" not in err
    if not (ROOT / "_dev" / "pin" / "table1").exists():
        code, err = run("run", "table1")
        assert code == 2 and "table1 is not prepared" in err and "\n" not in err
    code, err = run("prepare")
    assert code != 0 and "usage" in err
    code, err = run("adopt", "table1", str(ROOT / "no-such-folder"))
    assert code == 2 and "holds no record of table1" in err and "\n" not in err
    assert (ROOT / "_dev").exists() == before


def test_the_pinned_commit_and_code_digest_are_what_the_archive_holds(tmp_path):
    """The provenance names the commit written beside the archived package, and a digest that
    changes with any of its files (one interpreter: importing the script imports torch)."""
    pkg = tmp_path / "osgan"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("x = 1\n")
    (tmp_path / "COMMIT").write_text("541bbc388524d07643b1b3175ce59d0a11833815\n")
    probe = f"""
import sys
from pathlib import Path
sys.path[:0] = [{str(tmp_path)!r}, {str(ROOT / "scripts")!r}]
import gpu_grid
root = Path({str(tmp_path)!r})
print(gpu_grid.pinned_commit(), gpu_grid.code_digest())
(root / "osgan" / "a.py").write_text("x = 2\\n")
(root / "COMMIT").unlink()
print(gpu_grid.pinned_commit(), gpu_grid.code_digest())
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "541bbc388524d07643b1b3175ce59d0a11833815" and out[2] == "unknown"
    assert out[1] != out[3] and len(out[1]) == 64


def test_table1_runs_whole_pairs_on_the_gpu_and_keeps_whole_pairs_only(tmp_path):
    """A Table 1 pair with a cell done elsewhere is not run on the GPU, exact cells never; after
    the run a finished cell whose partner did not finish in the session is moved out of the
    record (kept apart) and listed as withheld."""
    import json

    rec = tmp_path / "table1"
    rec.mkdir()
    finished = ["dcgan-one-seed5", "dcgan-two-seed5", "cgan-one-seed5", "wgan-two-seed6"]
    for c in finished + ["lsgan-one-seed3"]:
        (rec / c).mkdir()
        (rec / c / "done.json").write_text("{}")
    sessions = [{"start": "a", "cpu": "Xeon", "cells_finished": ["lsgan-one-seed3"]},
                {"start": "b", "gpu": "NVIDIA H200", "cells_finished": finished}]
    (rec / "provenance.json").write_text(json.dumps({"sweep": "table1", "sessions": sessions}))
    probe = f"""
import json, sys
from pathlib import Path
sys.path.insert(0, {str(ROOT / "scripts")!r})
import gpu_grid
rec = Path({str(rec)!r})
cfgs = gpu_grid._configs("table1", rec)
done = {{"dcgan-one-seed0", "lsgan-two-seed7"}}
todo = [Path(c.out_dir).name for c in gpu_grid.to_run("table1", cfgs,
        lambda c: "done" if Path(c.out_dir).name in done else "todo")]
print(json.dumps({{"todo": todo, "withheld": gpu_grid.pairs("table1", rec, rec.parent / "apart")}}))
"""
    out = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True,
                                    text=True, check=True, cwd=ROOT).stdout)
    todo = out["todo"]
    assert "dcgan-one-seed0" not in todo and "dcgan-two-seed0" not in todo  # its partner is done
    assert "lsgan-one-seed7" not in todo and "dcgan-one-seed1" in todo
    assert not any("exact" in c for c in todo) and len(todo) == 2 * (10 * 8 - 2)  # 10 x 8 pairs
    i = todo.index("cgan-one-seed4")
    assert todo[i + 1] == "cgan-two-seed4"  # pair by pair
    assert out["withheld"] == ["cgan-one-seed5", "wgan-two-seed6"]
    assert sorted(p.name for p in (tmp_path / "apart").iterdir()) == out["withheld"]
    assert not (rec / "cgan-one-seed5").exists() and (rec / "dcgan-one-seed5").exists()
    last = json.loads((rec / "provenance.json").read_text())["sessions"][-1]
    assert last["cells_finished"] == ["dcgan-one-seed5", "dcgan-two-seed5"]
    assert last["cells_withheld"] == out["withheld"] and "one machine" in last["withheld_why"]


def test_a_distillation_verdict_runs_whole_seeds_each_cell_on_to_its_plateau(tmp_path):
    """Once the tune seed's grid is done and reached the level, the GPU runs the verdict's seeds
    of which no cell is done, and a worker runs its cell on (resuming there) as long as the
    sweep asks: here a curve that never flattens, to the cap of 3 grid lengths. A grid cell runs
    once; a chosen point's run on the tune seed that must go on stays where it ran. The runs are
    faked: what is tested is the planning around them."""
    import json

    probe = f"""
import json, sys
from dataclasses import asdict, replace
from pathlib import Path
sys.path[:0] = [{str(ROOT / "scripts")!r}, {str(ROOT / "tests")!r}]
import gpu_grid
from fixtures_data import write_dfad_cell
from osgan import sweep, sweeps
sweeps.SWEEPS["dfad_smoke"] = replace(sweeps.SWEEPS["dfad_smoke"], level=0.8, extend=3)
rec = sweep.own_results("dfad_smoke", Path({str(tmp_path)!r}) / "dfad_smoke")
(rec / "provenance.json").write_text(json.dumps({{"sweep": "dfad_smoke", "sessions": []}}))
def names(cfgs):
    return [Path(c.out_dir).name for c in cfgs]
def cell(scheme, lr_g, end, hparams="adam"):
    rounds = 2 if scheme == "two" else 4
    curve = [(k * rounds // 4, k, a, a) for k, a in enumerate([0.1, end, end, end, end])]
    lr_s = 1e-3 if hparams == "adam" else None
    write_dfad_cell(rec, scheme, hparams, lr_s, lr_g, 0, curve, end, end, rounds)
cell("one", 1e-3, 0.85)
grid = names(gpu_grid.to_run("dfad_smoke", gpu_grid._configs("dfad_smoke", rec), sweep.status))
for scheme, lr_g, end in (("one", 3e-3, 0.5), ("two", 1e-3, 0.6), ("two", 3e-3, 0.7),
                          ("kd", None, 0.88)):
    cell(scheme, lr_g, end)
for scheme in ("one", "two", "kd"):  # the published recipe, on the tune seed too
    cell(scheme, None, 0.2, "dfad")
cfgs = gpu_grid._configs("dfad_smoke", rec)
verdict = names(gpu_grid.to_run("dfad_smoke", cfgs, sweep.status))
runs = []
def fake(cfg):  # a run to cfg.rounds whose validation accuracy keeps rising
    d = Path(cfg.out_dir)
    d.mkdir(exist_ok=True)
    runs.append(cfg.rounds)
    (d / "config.json").write_text(json.dumps({{"kind": "dfad", "config": asdict(cfg)}}, default=str))
    (d / "metrics.jsonl").write_text("".join(json.dumps({{"round": r, "Accuracy/val": r / 100,
        "Accuracy/student": r / 100}}) + "\\n" for r in range(1, cfg.rounds + 1)))
    (d / "done.json").write_text(json.dumps({{"rounds": cfg.rounds, "accuracy": 0.5}}))
gpu_grid._runner = lambda: fake
one = next(n for n in verdict if n.startswith("one-"))
got = gpu_grid.run_to_length(("dfad_smoke", str(rec), one, True))
extended = list(runs)
runs.clear()
two = next(n for n in verdict if n.startswith("two-"))
once = gpu_grid.run_to_length(("dfad_smoke", str(rec), two, False))
print(json.dumps({{"grid": grid, "verdict": verdict, "got": got, "extended": extended,
                   "once": [once, runs]}}))
"""
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout)
    assert out["grid"] and all(n.endswith("-seed0") for n in out["grid"])  # the grid first
    assert out["verdict"] and all(n.endswith("-seed1") for n in out["verdict"])
    assert {n.split("-")[0] for n in out["verdict"]} >= {"one", "two", "kd"}
    assert out["got"][1] is None and out["got"][0].startswith("one-")
    assert out["extended"] == [4, 8, 12]  # the grid's length, then on by it, to the cap of 3
    assert out["once"][1] == [2] and out["once"][0][1] is None


def test_no_run_starts_that_the_calls_deadline_would_cut_off(tmp_path):
    """A run is started only if the longest run finished so far would end before the deadline;
    without a deadline, or before any run has finished, it always starts."""
    import json

    (tmp_path / ".gpu_durations").write_text("a-one-seed5 100.0\na-two-seed5 130.5\n")
    probe = f"""
import json, os, sys
from pathlib import Path
sys.path.insert(0, {str(ROOT / "scripts")!r})
import gpu_grid
rec = Path({str(tmp_path)!r})
out = [gpu_grid.time_left(rec, now=0.0)]
os.environ["GPU_GRID_DEADLINE"] = "200"
out += [gpu_grid.time_left(rec, now=60.0), gpu_grid.time_left(rec, now=70.0),
        gpu_grid.time_left(rec / "nothing yet", now=190.0)]
gpu_grid._runner = lambda: (lambda cfg: None)
gpu_grid._configs = lambda name, results: [type("C", (), {{"out_dir": str(rec / "x")}})()]
sys.modules["osgan.sweep"].status = lambda cfg: "todo"
os.environ["GPU_GRID_DEADLINE"] = "0"
out.append(gpu_grid.run_to_length(("table1", str(rec), "x", False)))
print(json.dumps(out))
"""
    p = subprocess.run([sys.executable, "-c", f"import osgan.sweep\n{probe}"],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    always, fits, cut, unknown, skipped = json.loads(p.stdout)
    assert always and fits and not cut and unknown
    assert skipped[0] == "x" and skipped[1].startswith("not started")


def test_prepare_is_refused_while_a_cpu_sweep_trains_the_same_record():
    """The guard is scripts/sweep_trains.sh's, shared with sweep_pinned.sh (whose tests show
    that a read-only command does not count): a cell must not run on both machines."""
    import pytest

    if subprocess.run(["pgrep", "-f", "osgan sweep table2_tune"]).returncode == 0:
        pytest.skip("a real table2_tune sweep runs on this machine")
    before = (ROOT / "_dev" / "pin" / "table2_tune").exists()
    fake = subprocess.Popen(["bash", "-c",
                             'exec -a "python -m osgan sweep table2_tune --workers 1" sleep 30'])
    try:
        code, err = run("prepare", "table2_tune")
    finally:
        fake.kill()
        fake.wait()
    assert code == 2 and "the CPU sweep table2_tune runs; stop it first" in err
    assert "\n" not in err and (ROOT / "_dev" / "pin" / "table2_tune").exists() == before
