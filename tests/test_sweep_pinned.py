"""scripts/sweep_pinned.sh refuses, in one line with status 2 and before it makes anything, what
would resume a record with other code or other instruments than the record's."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FROZEN = "domain-fashion_mnist-cnn-5949e7d6af8914a7.pt"


@pytest.fixture
def checkout(tmp_path):
    """A git checkout holding the script and, as ``osgan/instruments``, one frozen file."""
    repo = tmp_path / "main"
    (repo / "scripts").mkdir(parents=True)
    for script in ("sweep_pinned.sh", "sweep_trains.sh"):
        shutil.copy(ROOT / "scripts" / script, repo / "scripts")
    (repo / "osgan" / "instruments").mkdir(parents=True)
    (repo / "osgan" / "instruments" / FROZEN).write_bytes(b"frozen weights")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def run(repo, *args):
    p = subprocess.run(["bash", "scripts/sweep_pinned.sh", *args], cwd=repo, capture_output=True,
                       text=True)
    return p.returncode, p.stderr.strip()


def test_unknown_sweep_or_option_is_refused(checkout):
    code, err = run(checkout, "table3")
    assert code == 2 and "no pinned record for table3" in err and "\n" not in err
    code, err = run(checkout, "table1", "--train-instruments")
    assert code == 2 and "unknown option --train-instruments" in err


@pytest.mark.parametrize("args, bad", [(("--only", "0"), "0"), (("--only", "two"), "two"),
                                       (("--workers", "-1"), "-1"),
                                       (("--workers", "2", "--only", "1.5"), "1.5")])
def test_a_count_that_is_not_one_or_more_is_refused_before_anything_is_made(checkout, args, bad):
    code, err = run(checkout, "table1", *args)
    assert code == 2 and f"{bad} is not a count of 1 or more" in err and "\n" not in err
    assert not (checkout.parent / "pinned-table1").exists()


def test_an_instrument_not_frozen_is_refused(checkout):
    (checkout / "osgan" / "instruments" / FROZEN).unlink()
    code, err = run(checkout, "table1")
    assert code == 2 and f"{FROZEN} is not frozen" in err and "\n" not in err
    assert not (checkout.parent / "pinned-table1").exists()


def test_a_cache_holding_another_classifier_is_refused_before_anything_is_made(checkout):
    cached = checkout.parent / "pinned-table1.cache" / "classifiers"
    cached.mkdir(parents=True)
    (cached / FROZEN).write_bytes(b"this machine's own weights")
    code, err = run(checkout, "table1")
    assert code == 2 and "is not the frozen" in err and "\n" not in err
    assert not (checkout.parent / "pinned-table1").exists()  # no worktree made
    assert (cached / FROZEN).read_bytes() == b"this machine's own weights"  # nothing overwritten


TUNE = "teacher-fashion_mnist-lenet5-79969431beba148f.pt"  # table2_tune's frozen teacher


@pytest.mark.skipif(subprocess.run(["pgrep", "-f", "osgan sweep table2_tune"],
                                   capture_output=True).returncode == 0,
                    reason="a real table2_tune sweep runs on this machine")
@pytest.mark.parametrize("command, refused", [("--workers 1", True), ("", True),
                                              ("--collect ../x", False), ("--rescore", False),
                                              ("--dry-run", False)])
def test_a_sweep_under_way_is_refused_but_not_a_read_only_command(checkout, command, refused):
    (checkout / "osgan" / "instruments" / TUNE).write_bytes(b"frozen teacher")
    title = f"python -m osgan sweep table2_tune {command}".strip()
    fake = subprocess.Popen(["bash", "-c", f'exec -a "{title}" sleep 30'])
    try:
        code, err = run(checkout, "table2_tune")
    finally:
        fake.kill()
        fake.wait()
    assert ("runs already" in err) == refused
    if refused:
        assert code == 2 and "\n" not in err


def test_stop_ends_every_python_process_working_in_the_worktree_and_nothing_else(checkout):
    """--stop: the sweep and the workers an old pin leaves running as orphans (their working
    directory is the worktree) end; a process elsewhere, or one there that is not Python, lives."""
    wt = checkout.parent / "pinned-table1"
    wt.mkdir()
    other = checkout.parent / "elsewhere"
    other.mkdir()

    def fake(title, where):
        return subprocess.Popen(["bash", "-c", f'exec -a "{title}" sleep 60'], cwd=where)

    sweep = fake("python -m osgan sweep table1 --workers 2", wt)
    orphan = fake("python -B -c from multiprocessing.spawn import spawn_main", wt)
    shell = fake("bash", wt)
    stranger = fake("python -m osgan sweep table1 --workers 2", other)
    try:
        code, err = run(checkout, "table1", "--stop")
        assert code == 0, err
        for p in (sweep, orphan):
            assert p.wait(timeout=10) is not None
        assert shell.poll() is None and stranger.poll() is None
        code, _ = run(checkout, "table1", "--stop")  # nothing left: says so, status 0
        assert code == 0
    finally:
        for p in (sweep, orphan, shell, stranger):
            p.kill()
            p.wait()
