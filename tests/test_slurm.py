"""The Slurm executor's refusals, without a cluster: fake sinfo/squeue/sbatch on PATH. The real
cluster check is `make test-cluster` (scripts/cluster.sh, scripts/cluster_check.py)."""

import json
import os
import stat

import pytest

from osgan import cli, data, slurm, sweep
from osgan.util import UsageError


def fake_tools(bin_dir, sinfo="debug*", squeue=""):
    bin_dir.mkdir(exist_ok=True)
    for name, out in (("sinfo", sinfo), ("squeue", squeue), ("sbatch", "")):
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\nprintf '%s\\n' '{out}'\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return bin_dir


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    monkeypatch.setenv("OSGAN_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_no_slurm_on_path_is_one_line_and_writes_nothing(env, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(env / "empty"))
    results = env / "results"
    with pytest.raises(UsageError, match="needs Slurm's sbatch"):
        sweep.run_sweep("smoke", results=results, executor="slurm")
    assert not results.exists()
    assert cli.main(["sweep", "smoke", "--results", str(results), "--executor", "slurm"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "login node" in err
    assert not results.exists()


def test_an_unknown_partition_is_refused_before_anything_is_written(env, monkeypatch):
    monkeypatch.setenv("PATH", f"{fake_tools(env / 'bin')}{os.pathsep}{os.environ['PATH']}")
    results = env / "results"
    with pytest.raises(UsageError, match="no Slurm partition 'gpu'; this cluster has: debug"):
        sweep.run_sweep("smoke", results=results, executor="slurm",
                        slurm_options=slurm.SlurmOptions(partition="gpu"))
    assert not results.exists()
    slurm.check_cluster(slurm.SlurmOptions(partition="debug"))  # the default partition exists
    with pytest.raises(ValueError, match="slurm cpus"):
        sweep.run_sweep("smoke", results=results, executor="slurm",
                        slurm_options=slurm.SlurmOptions(cpus=0))
    with pytest.raises(UsageError, match="unknown executor 'k8s'"):
        sweep.run_sweep("smoke", results=results, executor="k8s")


def test_a_cell_held_by_a_running_job_is_refused(env, monkeypatch):
    cell = sweep.cells("smoke")[0].name
    host = slurm.log_dir("smoke") / f"{cell}.host.json"
    host.parent.mkdir(parents=True)
    host.write_text(json.dumps({"job_id": "41_0", "host": "n1", "started_at": 0}))
    monkeypatch.setenv("PATH", f"{fake_tools(env / 'bin', squeue='41_0')}{os.pathsep}"
                               f"{os.environ['PATH']}")
    results = env / "results"
    with pytest.raises(UsageError, match=f"cell {cell} is held by Slurm job 41_0"):
        sweep.run_sweep("smoke", results=results, executor="slurm")
    assert not results.exists()
    assert slurm.running(["41_0", "41_1"]) == {"41_0"}
    assert slurm.hosts("smoke", [cell, "other"]) == {cell: {"job_id": "41_0", "host": "n1",
                                                           "started_at": 0}}
