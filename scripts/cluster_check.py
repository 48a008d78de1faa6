"""``make test-cluster``'s check, on a running Slurm cluster (``SLURM_CONF`` set, see
``scripts/cluster.sh``): the ``smoke`` sweep through ``--executor slurm`` with one job preempted
mid-run (``scontrol requeue``) must resume from its checkpoint and give the record the local
executor gives, loss for loss. Exit status 0 only when all of that holds.

Everything it writes goes to a temporary folder (the record, the checkpoints, submitit's logs);
nothing under ``results/`` is touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

# the cells: long enough to be preempted between two checkpoints, one thread each (as the
# recorded sweeps), evaluations now and then
CELL = dict(steps=240, checkpoint_every=40, log_every=10, threads=1,
            eval=dict(every=120, n_gen=64, n_real=128))
VICTIM = "geogan-one-exact-seed0"  # the cell whose job is preempted


def rows(folder: Path) -> list[dict]:
    out = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith("Time/")} for r in out]


def main() -> int:
    if not os.environ.get("SLURM_CONF"):
        print("cluster_check: SLURM_CONF is not set: start a cluster with scripts/cluster.sh",
              file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="osgan-cluster-"))
    os.environ["OSGAN_CACHE"] = str(tmp / "cache")  # checkpoints and logs out of the record
    from osgan import slurm, sweep

    local, remote = tmp / "local", tmp / "slurm"
    t0 = time.perf_counter()
    sweep.run_sweep("smoke", results=local, workers=1, **CELL)
    t_local = time.perf_counter() - t0

    # the same sweep on Slurm, in a thread; this one preempts VICTIM's job once it has a
    # checkpoint and before it is done
    out: dict = {}

    def on_slurm():
        try:
            out["dirs"] = sweep.run_sweep("smoke", results=remote, executor="slurm",
                                          slurm_options=slurm.SlurmOptions(time=10, poll=1.0), **CELL)
        except BaseException as e:  # reported below
            out["error"] = e

    t0 = time.perf_counter()
    runner = threading.Thread(target=on_slurm)
    runner.start()
    ckpt = tmp / "cache" / "sweeps" / "smoke" / VICTIM / "checkpoint.pt"
    preempted_at = None
    while runner.is_alive() and preempted_at is None:
        step = 0
        if ckpt.exists():
            try:
                step = torch.load(ckpt, map_location="cpu", weights_only=True)["step"]
            except Exception:  # being written
                step = 0
        if 0 < step < CELL["steps"]:
            job = slurm.hosts("smoke", [VICTIM]).get(VICTIM, {}).get("job_id")
            if job and job in slurm.running([job]):
                subprocess.run(["scontrol", "requeue", job], check=True)
                preempted_at = step
                print(f"cluster_check: requeued job {job} ({VICTIM}) after its checkpoint at "
                      f"step {step}", flush=True)
        time.sleep(0.2)
    runner.join()
    t_slurm = time.perf_counter() - t0
    if "error" in out:
        print(f"cluster_check: the Slurm sweep failed: {out['error']}", file=sys.stderr)
        return 1

    ok = True
    if preempted_at is None:
        print(f"cluster_check: FAIL: {VICTIM} finished before it could be preempted")
        ok = False
    info = slurm.hosts("smoke", [VICTIM]).get(VICTIM, {})
    if preempted_at is not None and not info.get("started_at"):
        print(f"cluster_check: FAIL: {VICTIM}'s requeued job did not resume from a checkpoint "
              f"({info})")
        ok = False
    elif preempted_at is not None:
        print(f"cluster_check: {VICTIM} resumed at step {info['started_at']} on "
              f"{info['host']} (job {info['job_id']})")
    for cell in sweep.cells("smoke"):
        a, b = local / cell.name, remote / cell.name
        if not (b / "done.json").exists():
            print(f"cluster_check: FAIL: {cell.name} is not finished on Slurm")
            ok = False
        elif rows(a) != rows(b):
            print(f"cluster_check: FAIL: {cell.name} differs between the local and Slurm runs")
            ok = False
    prov = json.loads((remote / "provenance.json").read_text())["sessions"][-1]
    if prov.get("executor") != "slurm" or not prov.get("jobs") or not prov.get("hosts"):
        print("cluster_check: FAIL: provenance.json lacks the executor, job ids or hosts")
        ok = False
    print(f"cluster_check: {'PASS' if ok else 'FAIL'}: {len(sweep.cells('smoke'))} cells, local "
          f"{t_local:.0f} s, Slurm {t_slurm:.0f} s; files in {tmp}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
