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
    assert code == 2 and err == "gpu_grid: unknown step fetch (prepare or run)"
    code, err = run("prepare", "table1")
    assert code == 2 and "no pinned dfad record table1" in err and "\n" not in err
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
