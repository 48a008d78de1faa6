"""scripts/cluster.sh, the one-node cluster of `make test-cluster`, with Slurm's and munge's
commands faked on PATH: a directory left by a killed run (no daemon of it alive) must not block
the next start, and a running cluster must not be started over or a stranger's pid killed."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "cluster.sh"
LOOP = "#!/bin/sh\nwhile :; do sleep 0.2; done\n"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture
def fakes(tmp_path):
    """slurmctld, slurmd, sbatch, sinfo and munged that do nothing but live; a munged runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {"slurmctld": LOOP, "sbatch": "#!/bin/sh\n", "sinfo": "#!/bin/sh\necho idle\n",
               "slurmd": '#!/bin/sh\n[ "$1" = -C ] && { echo "NodeName=fake CPUs=2"; exit; }\n'
                         "while :; do sleep 0.2; done\n"}
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    shutil.copy(shutil.which("sleep"), bin_dir / "munged")  # its process name is munged
    munged = subprocess.Popen([str(bin_dir / "munged"), "300"])
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               OSGAN_SLURM_DIR=str(tmp_path / "slurm"))
    yield env
    munged.kill()
    subprocess.run(["bash", str(SCRIPT), "stop"], env=env)


def cluster(env, cmd):
    return subprocess.run(["bash", str(SCRIPT), cmd], env=env, capture_output=True, text=True,
                          timeout=60)


def test_a_stale_directory_is_removed_and_the_cluster_starts(fakes):
    slurm_dir = Path(fakes["OSGAN_SLURM_DIR"])
    assert cluster(fakes, "state").stdout.strip() == "absent"
    stranger = subprocess.Popen(["sleep", "300"])  # a pid a killed run's .bg may now name
    try:
        slurm_dir.mkdir()
        (slurm_dir / "slurmctld.bg").write_text(f"{stranger.pid}\n")
        (slurm_dir / "slurmd.bg").write_text("999999999\n")
        (slurm_dir / "left-over").write_text("from the killed run")
        assert cluster(fakes, "state").stdout.strip() == "stale"

        started = cluster(fakes, "start")
        assert started.returncode == 0, started.stderr
        assert "no longer runs" in started.stderr
        assert started.stdout.strip() == f"export SLURM_CONF={slurm_dir}/slurm.conf"
        assert not (slurm_dir / "left-over").exists()
        assert "NodeName=fake CPUs=2" in (slurm_dir / "slurm.conf").read_text()
        assert cluster(fakes, "state").stdout.strip() == "running"

        again = cluster(fakes, "start")  # beside a running cluster: refused, nothing touched
        assert again.returncode == 2 and "is running" in again.stderr
        assert cluster(fakes, "state").stdout.strip() == "running"

        daemons = [int((slurm_dir / f"{d}.bg").read_text()) for d in ("slurmctld", "slurmd")]
        assert cluster(fakes, "stop").returncode == 0
        assert not slurm_dir.exists()
        for pid in daemons:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        assert stranger.poll() is None  # the stranger named by the stale .bg still lives
    finally:
        stranger.send_signal(signal.SIGKILL)
        stranger.wait()


def test_stop_of_a_stale_directory_kills_no_stranger(fakes):
    slurm_dir = Path(fakes["OSGAN_SLURM_DIR"])
    stranger = subprocess.Popen(["sleep", "300"])
    try:
        slurm_dir.mkdir()
        (slurm_dir / "slurmd.bg").write_text(f"{stranger.pid}\n")
        assert cluster(fakes, "stop").returncode == 0
        assert not slurm_dir.exists()
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
