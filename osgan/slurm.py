"""Sweeps on a Slurm cluster through submitit: each cell a checkpointable job.

A cell's job receives its plain config (never a module) and the run kind's cell function, sets
its threads from the CPUs Slurm gave it when the config leaves them open, and runs the cell in
its own run folder, resuming from the folder's checkpoint when the folder already holds the run.
On a timeout or a preemption submitit requeues the job (``checkpoint``), and a job that Slurm
requeues itself (``scontrol requeue``) runs the same submission again: either way the cell goes
on from its last checkpoint. Results are read from the run folders, never from pickled return
values, so a sweep can be collected while its jobs still run.

Logs and submitit's files go under ``cache_root()/slurm/<sweep>/``, out of the record; each job
writes ``<cell>.host.json`` there (job id, host, the step it started from) for the provenance.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import submitit
import torch

from osgan.settings import setting
from osgan.util import UsageError, cache_root, check_count, exit_on_signal


@dataclass
class SlurmOptions:
    """Where and how a sweep's cells run on Slurm (``--slurm-*`` options)."""

    partition: str = setting("", "Slurm partition ('': the cluster's default)")
    time: int = setting(60, "time limit of a job in minutes; a cell that needs longer is "
                        "requeued and resumes from its checkpoint")
    cpus: int = setting(1, "CPUs per job (a cell with threads=0 uses them all)")
    gpus: int = setting(0, "GPUs per job")
    parallel: int = setting(0, "jobs running at once (0: as many as the cluster allows)")
    poll: float = setting(10.0, "seconds between looks at the run folders while following")

    def validate(self) -> None:
        check_count("slurm time", self.time)
        check_count("slurm cpus", self.cpus)
        for name in ("gpus", "parallel"):
            check_count(f"slurm {name}", getattr(self, name), minimum=0)


def check_cluster(options: SlurmOptions) -> None:
    """One-line :class:`UsageError` when Slurm's commands are missing or the cluster does not
    answer, or the partition does not exist."""
    for tool in ("sbatch", "squeue", "sinfo"):
        if shutil.which(tool) is None:
            raise UsageError(f"--executor slurm needs Slurm's {tool}, which is not on PATH: run "
                             "from a login node of the cluster (or use the local executor)")
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True,
                             timeout=30)
    except subprocess.TimeoutExpired:
        raise UsageError("the Slurm cluster does not answer (sinfo timed out)") from None
    if out.returncode != 0:
        first = (out.stderr.strip().splitlines() or ["no answer"])[0]
        raise UsageError(f"the Slurm cluster does not answer (sinfo: {first})")
    partitions = [p.rstrip("*") for p in out.stdout.split()]
    if options.partition and options.partition not in partitions:
        raise UsageError(f"no Slurm partition {options.partition!r}; this cluster has: "
                         f"{', '.join(partitions) or 'none'}")


def log_dir(sweep: str) -> Path:
    return cache_root() / "slurm" / sweep


class CellJob(submitit.helpers.Checkpointable):
    """One cell as a Slurm job: ``run_cell(cfg)`` on the cell's config, resuming its folder; or,
    given a list (a sweep's ``seeds_per_process``), one cell's seeds as one ensemble."""

    def __init__(self, run_cell: Callable[[Any], Any], sweep: str):
        self.run_cell, self.sweep = run_cell, sweep

    def __call__(self, cfg) -> str | list[str]:
        cfgs = cfg if isinstance(cfg, list) else [cfg]
        if getattr(cfgs[0], "threads", 1) == 0:  # left open: the CPUs this job was given
            torch.set_num_threads(int(os.environ.get("SLURM_CPUS_PER_TASK", "1")))
        env = submitit.JobEnvironment()
        cfgs = [replace(c, resume=self._record_start(c, env)) for c in cfgs]
        # Slurm's SIGTERM (a preemption, a requeue, scancel, the time limit) stops the cell at
        # once, its last checkpoint kept: submitit would let it run on until SIGKILL, and a cell
        # that finishes in that grace would be requeued and run again for nothing
        signal.signal(signal.SIGTERM, exit_on_signal)
        return self.run_cell(cfgs if isinstance(cfg, list) else cfgs[0])

    def _record_start(self, cfg, env) -> bool:
        """Write ``<cell>.host.json`` (job, host, the step it starts from); whether it resumes."""
        out = Path(cfg.out_dir)
        resume = (out / "config.json").exists()
        ckpt = Path(cfg.checkpoint_dir or out) / "checkpoint.pt"
        start = 0
        if resume and ckpt.exists():
            state = torch.load(ckpt, map_location="cpu", weights_only=True)
            start = state.get("step", state.get("round", 0))
        info = {"job_id": env.job_id, "host": env.hostname, "started_at": start}
        path = log_dir(self.sweep) / f"{out.name}.host.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(info) + "\n")
        print(f"osgan: cell {out.name} {'resumes at ' + str(start) if resume else 'starts'} "
              f"on {env.hostname}, job {env.job_id}", flush=True)
        return resume


def submit(sweep: str, cfgs: list, run_cell: Callable[[Any], Any],
           options: SlurmOptions) -> list[submitit.Job]:
    """Submit one job per config (or per list of one cell's seeds) as a Slurm array; returns
    the jobs."""
    options.validate()
    check_cluster(options)
    ex = submitit.AutoExecutor(folder=log_dir(sweep) / "%j", cluster="slurm")
    params: dict[str, Any] = dict(timeout_min=options.time, cpus_per_task=options.cpus,
                                  slurm_job_name=f"osgan-{sweep}",
                                  slurm_additional_parameters={"requeue": True})
    if options.partition:
        params["slurm_partition"] = options.partition
    if options.gpus:
        params["gpus_per_node"] = options.gpus
    if options.parallel:
        params["slurm_array_parallelism"] = options.parallel
    ex.update_parameters(**params)
    job = CellJob(run_cell, sweep)
    return ex.map_array(job, cfgs)


def running(job_ids: list[str]) -> set[str]:
    """The ids among ``job_ids`` (array tasks ``A_i``) that Slurm still holds (pending, running
    or requeued)."""
    if not job_ids:
        return set()
    arrays = sorted({j.split("_")[0] for j in job_ids})
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i", "-j", ",".join(arrays)],
                         capture_output=True, text=True)
    held = set(out.stdout.split())
    return {j for j in job_ids if j in held}


def follow(jobs: list[submitit.Job], cfgs: list, on_done: Callable[[int, Path], None],
           poll: float = 10.0, progress: bool = True) -> list[Path]:
    """Wait for the jobs, reading the run folders: ``on_done(i, folder)`` as cell i's
    ``done.json`` appears. Returns the finished folders; a job that left Slurm without finishing
    its cell is named with its log."""
    from tqdm.auto import tqdm  # as harness.progress: a widget in notebooks, text otherwise

    ids = [str(j.job_id) for j in jobs]
    done: dict[int, Path] = {}
    bar = tqdm(total=len(cfgs), desc="slurm cells", unit="cell", disable=not progress)
    try:
        while True:
            for i, cfg in enumerate(cfgs):
                folder = Path(cfg.out_dir)
                if i not in done and (folder / "done.json").exists():
                    done[i] = folder
                    bar.update(1)
                    on_done(i, folder)
            if len(done) == len(cfgs):
                break
            left = running([ids[i] for i in range(len(cfgs)) if i not in done])
            if not left:
                time.sleep(1.0)  # a job may have finished its folder just now
                if all((Path(c.out_dir) / "done.json").exists() for c in cfgs):
                    continue
                failed = [i for i in range(len(cfgs))
                          if not (Path(cfgs[i].out_dir) / "done.json").exists()]
                raise UsageError(
                    f"{len(failed)} Slurm job(s) ended without finishing their cell, e.g. "
                    f"{Path(cfgs[failed[0]].out_dir).name} (job {ids[failed[0]]}, log "
                    f"{jobs[failed[0]].paths.stderr}); run the sweep again to resume them")
            time.sleep(poll)
    finally:
        bar.close()
    return [done[i] for i in sorted(done)]


def hosts(sweep: str, cells: list[str]) -> dict[str, dict[str, Any]]:
    """Per cell, what its job wrote of itself (job id, host, the step it started from)."""
    out = {}
    for name in cells:
        path = log_dir(sweep) / f"{name}.host.json"
        if path.exists():
            out[name] = json.loads(path.read_text())
    return out
