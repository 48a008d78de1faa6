"""Every command under bad input, faults and concurrency: one line, the right exit status (2: usage,
1: failure at run time), and the files that existed before byte-identical where it refused."""

import errno
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures_data import write_fashion_mnist

from osgan import bench, classifiers, cli, compare, data, harness, steps, training
from osgan.metrics import fid
from osgan.scale import Gamma
from osgan.util import RunFailed, UsageError

TINY = ["--profile", "smoke", "--width", "4", "--nz", "8", "--batch-size", "4", "--steps", "4",
        "--log-every", "1", "--sample-every", "0", "--checkpoint-every", "2", "--no-progress",
        "--device", "cpu"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    monkeypatch.setenv("OSGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "SYSTEM_DIRS", (str(tmp_path / "no-system-copy"),))


@pytest.fixture
def root(tmp_path):
    write_fashion_mnist(tmp_path / "fmnist", n_train=32, n_test=8)
    return str(tmp_path / "fmnist")


@pytest.fixture
def finished(root, tmp_path):
    """A finished 4-step train run."""
    out = tmp_path / "run"
    assert cli.main(["train", *TINY, "--data-root", root, "--out-dir", str(out)]) == 0
    return out


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (or the file itself) by relative name, with its bytes."""
    path = Path(path)
    if path.is_file():
        return {".": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


def run_cli(capsys, *argv) -> tuple[int, str]:
    capsys.readouterr()
    rc = cli.main(list(argv))
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) <= 1, err  # one line, never a traceback
    return rc, err


# ---------------------------------------------------------------------------------------------
# numbers checked when the command starts


@pytest.mark.parametrize("args,says", [
    (["--lr-d", "inf"], "lr_d must be finite"),
    (["--lr-g", "nan"], "lr_g must be finite"),
    (["--lr-d", "-1"], "lr_d must be finite and > 0"),
    (["--data-limit", "-3"], "data_limit must be a positive"),
    (["--seed", "-1"], "seed must be an integer in [0, 2**31)"),
    (["--threads", "-2"], "threads must be an integer >= 0"),
    (["--beta1-g", "1"], "beta1_g must be in [0, 1)"),
    (["--width", "0"], "width must be a positive"),
    (["--log-every", "0"], "log_every must be a positive"),
    (["--eval-every", "-1"], "eval.every must be >= 0"),
    (["--eval-every", "2", "--eval-n-gen", "2"], "eval.n_gen must be at least 4"),
    (["--eval-every", "2", "--eval-feature-space", "pixels"], "unknown eval.feature_space"),
    (["--resume", "--overwrite"], "not both"),
])
def test_train_bad_numbers_exit_2_before_any_file(root, tmp_path, capsys, args, says):
    out = tmp_path / "run"
    rc, err = run_cli(capsys, "train", *TINY, "--data-root", root, "--out-dir", str(out), *args)
    assert rc == 2 and says in err, err
    assert not out.exists()


def test_data_root_that_does_not_exist_is_not_replaced_by_the_system_copy(tmp_path, capsys,
                                                                           monkeypatch):
    system = tmp_path / "system"
    write_fashion_mnist(system, n_train=8, n_test=4)
    monkeypatch.setattr(data, "SYSTEM_DIRS", (str(system),))
    rc, err = run_cli(capsys, "train", *TINY, "--data-root", str(tmp_path / "typo"),
                      "--out-dir", str(tmp_path / "run"))
    assert rc == 2 and "typo" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args,says", [
    (["--n-real", "-5"], "n_real must be an integer >= 4"),
    (["--n-gen", "0"], "n_gen must be an integer >= 4"),
    (["--kid-subsets", "0"], "kid_subsets must be a positive"),
    (["--kid-subset-size", "1"], "kid_subset_size must be an integer >= 2"),
    (["--batch-size", "-1"], "batch_size must be a positive"),
])
def test_fid_bad_numbers_exit_2(capsys, args, says):
    rc, err = run_cli(capsys, "fid", "--reference", *args)
    assert rc == 2 and says in err, err


@pytest.mark.parametrize("args,says", [
    (["--channels", "0"], "channels must be a positive"),
    (["--repeats", "0"], "repeats must be a positive"),
    (["--widths", "8", "-1"], "widths and batch_sizes must be a positive"),
    (["--seed", "-3"], "seed must be an integer"),
])
def test_bench_bad_numbers_exit_2(tmp_path, capsys, args, says):
    rc, err = run_cli(capsys, "bench", "--profile", "smoke", "--out-dir", str(tmp_path / "b"),
                      *args)
    assert rc == 2 and says in err, err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("kw,says", [
    (dict(rounds=0), "rounds must be a positive"), (dict(nz=-1), "nz must be a positive"),
    (dict(kd_temperature=float("inf")), "kd_temperature must be finite"),
    (dict(eval_n=-3), "eval_n must be a positive"), (dict(seed=-1), "seed must be"),
    (dict(teacher_epochs=0.0), "teacher_epochs must be finite and > 0"),
])
def test_dfad_bad_numbers(kw, says):
    from osgan import dfad

    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        dfad.DFADConfig(**kw).validate()


def test_chapter_parameters_raise_one_clear_value_error():
    with pytest.raises(ValueError, match="steps must be a positive"):
        compare.configs_for("smoke", "cpu", steps=-1)
    with pytest.raises(ValueError, match="evals must be a positive"):
        compare.configs_for("smoke", "cpu", evals=0)


# ---------------------------------------------------------------------------------------------
# ownership, resume and concurrency: refused folders stay byte-identical


def test_rerun_into_a_finished_run_needs_resume_or_overwrite(root, finished, capsys):
    before = snapshot(finished)
    rc, err = run_cli(capsys, "train", *TINY, "--data-root", root, "--out-dir", str(finished))
    assert rc == 2 and "--resume" in err and "--overwrite" in err
    assert snapshot(finished) == before
    rc, err = run_cli(capsys, "train", *TINY, "--data-root", root, "--out-dir", str(finished),
                      "--overwrite", "--seed", "3")
    assert rc == 0
    assert json.loads((finished / "config.json").read_text())["config"]["seed"] == 3
    assert len((finished / "metrics.jsonl").read_text().splitlines()) == 4  # no rows of the old


@pytest.mark.parametrize("case", ["file", "foreign", "dfad_run"])
def test_train_refuses_what_it_does_not_own(root, tmp_path, capsys, case):
    out = tmp_path / "target"
    if case == "file":
        out.write_text("my notes\n")
    elif case == "foreign":
        out.mkdir()
        (out / "thesis.tex").write_text("\\begin{document}\n")
    else:
        out.mkdir()
        (out / "config.json").write_text(json.dumps({"kind": "dfad", "config": {}}))
        (out / "checkpoint.pt").write_bytes(b"the student")
    before = snapshot(out)
    for extra in ([], ["--overwrite"]):
        rc, err = run_cli(capsys, "train", *TINY, "--data-root", root, "--out-dir", str(out),
                          *extra)
        assert rc == 2 and str(out) in err
    assert snapshot(out) == before


def test_dfad_refuses_a_gan_run_and_its_own_finished_run(finished, tmp_path, capsys):
    before = snapshot(finished)
    for extra in ([], ["--overwrite"], ["--resume"]):
        rc, err = run_cli(capsys, "dfad", "--profile", "smoke", "--out-dir", str(finished),
                          "--device", "cpu", *extra)
        assert rc == 2 and "holds a train run" in err, err
    assert snapshot(finished) == before
    own = tmp_path / "dfad"
    own.mkdir()
    (own / "config.json").write_text(json.dumps({"kind": "dfad", "config": {}}))
    (own / "done.json").write_text("{}")
    before = snapshot(own)
    rc, err = run_cli(capsys, "dfad", "--profile", "smoke", "--out-dir", str(own),
                      "--device", "cpu")
    assert rc == 2 and "already holds a run" in err
    assert snapshot(own) == before


def test_resume_refusals_leave_the_run_untouched(root, finished, tmp_path, capsys):
    before = snapshot(finished)
    rc, err = run_cli(capsys, "train", *TINY, "--data-root", root, "--out-dir", str(finished),
                      "--resume", "--steps", "2")
    assert rc == 2 and "has done 4 already" in err
    rc, err = run_cli(capsys, "train", *TINY, "--data-root", root, "--out-dir", str(finished),
                      "--resume", "--lr-d", "1e-3")
    assert rc == 2 and "lr_d=0.0002" in err
    assert snapshot(finished) == before
    missing = tmp_path / "missing"
    rc, err = run_cli(capsys, "train", *TINY, "--data-root", root, "--out-dir", str(missing),
                      "--resume")
    assert rc == 2 and "nothing to resume" in err and not missing.exists()


def test_resume_from_a_checkpoint_of_another_kind(root, finished, tmp_path, capsys):
    other = tmp_path / "ckpts"
    other.mkdir()
    torch.save({"kind": "dfad", "round": 3, "config": {}}, other / "checkpoint.pt")
    cfg = json.loads((finished / "config.json").read_text())
    cfg["config"]["checkpoint_dir"] = str(other)
    (finished / "config.json").write_text(json.dumps(cfg))
    before, theirs = snapshot(finished), snapshot(other)
    rc, err = run_cli(capsys, "train", *TINY, "--data-root", root, "--out-dir", str(finished),
                      "--resume", "--checkpoint-dir", str(other))
    assert rc == 2 and "checkpoint of a dfad run" in err
    assert snapshot(finished) == before and snapshot(other) == theirs


def test_a_second_process_is_refused_and_a_dead_ones_lock_taken_over(root, finished, capsys):
    lock = finished / harness.LOCK
    lock.write_text(str(os.getppid()))  # a live process that is not this one
    before = snapshot(finished)
    rc, err = run_cli(capsys, "train", *TINY, "--data-root", root, "--out-dir", str(finished),
                      "--resume", "--steps", "6")
    assert rc == 2 and f"in use by process {os.getppid()}" in err
    assert snapshot(finished) == before
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is no longer alive
    lock.write_text(str(dead.pid))
    rc, err = run_cli(capsys, "train", *TINY, "--data-root", root, "--out-dir", str(finished),
                      "--resume", "--steps", "6")
    assert rc == 0, err
    assert not lock.exists()  # released at the end
    assert json.loads((finished / "done.json").read_text())["steps"] == 6


def test_chapter_never_deletes_a_cli_run_of_the_same_name(root, tmp_path):
    runs = tmp_path / "runs"
    compare.own_root(runs)  # a chapter marked the folder earlier
    cfg, chapter = compare.configs_for("smoke", "cpu", data_root=root, width=4, nz=8,
                                       batch_size=4, steps=2, runs_root=str(runs))
    cli_run = runs / compare.run_name(cfg.__class__(**{**cfg.__dict__, "stages": "one",
                                                       "gan": "dcgan"}))
    assert cli.main(["train", *TINY, "--data-root", root, "--out-dir", str(cli_run)]) == 0
    before = snapshot(cli_run)
    with pytest.raises(UsageError, match="did not write"):
        compare.one_vs_two(cfg, chapter, ["dcgan"])
    assert snapshot(cli_run) == before


# ---------------------------------------------------------------------------------------------
# faults at run time: exit 1, one line, nothing half-written


def test_non_finite_losses_stop_the_run_and_keep_the_last_good_checkpoint(root, tmp_path,
                                                                           monkeypatch):
    real_step = training._step
    calls = {"n": 0}

    def poisoned(run):
        calls["n"] += 1
        stats = real_step(run)
        return stats | ({"Loss/D": torch.tensor(float("nan"))} if calls["n"] >= 3 else {})

    monkeypatch.setattr(training, "_step", poisoned)
    out = tmp_path / "run"
    cfg = training.TrainConfig.for_profile("smoke", data_root=root, out_dir=str(out), width=4,
                                           nz=8, batch_size=4, steps=6, log_every=1,
                                           sample_every=0, checkpoint_every=2, progress=False,
                                           device="cpu")
    with pytest.raises(RunFailed, match=r"step 3: Loss/D=nan.*at step 2\) is kept"):
        training.train(cfg)
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 2
    assert not (out / "done.json").exists() and not (out / harness.LOCK).exists()
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]  # the non-finite row is not written


def test_diverging_run_exits_1_with_one_line(root, tmp_path, capsys):
    out = tmp_path / "run"
    rc, err = run_cli(capsys, "train", *TINY, "--data-root", root, "--out-dir", str(out),
                      "--lr-d", "1e30", "--lr-g", "1e30", "--steps", "6")
    assert rc == 1 and "non-finite values at step" in err, err
    assert not (out / "done.json").exists()


def test_non_finite_parameters_are_never_checkpointed(tmp_path):
    folder = harness.RunFolder(tmp_path / "r", "train")
    bad = torch.nn.Linear(2, 2)
    with torch.no_grad():
        bad.weight[0, 0] = float("inf")
    with pytest.raises(RunFailed, match="parameters G.weight"):
        folder.save({"step": 7}, {"G": bad})
    assert not folder.checkpoint_path.exists()


def test_disk_full_exits_1_and_leaves_no_half_made_run(root, tmp_path, capsys, monkeypatch):
    def full(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(harness, "write_json", full)
    out = tmp_path / "run"
    rc, err = run_cli(capsys, "train", *TINY, "--data-root", root, "--out-dir", str(out))
    assert rc == 1 and "No space left on device" in err
    assert not out.exists()


def test_output_paths_that_are_files(finished, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("keep me\n")
    rc, err = run_cli(capsys, "bench", "--profile", "smoke", "--out-dir", str(f))
    assert rc == 2 and "is a file" in err  # before measuring anything
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("mine\n")
    rc, err = run_cli(capsys, "bench", "--profile", "smoke", "--out-dir", str(notes))
    assert rc == 2 and "did not write" in err
    assert f.read_text() == "keep me\n" and snapshot(notes) == {"a.txt": b"mine\n"}
    rc, err = run_cli(capsys, "fid", "--reference", "--json", str(notes))
    assert rc == 2 and "is a folder" in err


def test_fid_refuses_an_unfinished_run(finished, capsys):
    (finished / "done.json").unlink()
    before = snapshot(finished)
    rc, err = run_cli(capsys, "fid", "--run", str(finished), "--feature-space", "domain_smoke")
    assert rc == 2 and "has not finished" in err and "--allow-unfinished" in err
    assert snapshot(finished) == before


# ---------------------------------------------------------------------------------------------
# data files and caches


def test_truncated_and_bad_idx_files_are_named(tmp_path):
    write_fashion_mnist(tmp_path / "d", n_train=8, n_test=4)
    gz = tmp_path / "d" / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:40])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz is not a complete gzip"):
        data.load("fashion_mnist", "train", data_root=str(tmp_path / "d"))
    raw = tmp_path / "raw.idx"
    raw.write_bytes(b"\x01\x02\x03\x04junk")
    with pytest.raises(ValueError, match="raw.idx has a bad header"):
        data.read_idx(raw)
    raw.write_bytes(b"\x00")
    with pytest.raises(ValueError, match="raw.idx is truncated"):
        data.read_idx(raw)


def test_image_and_label_counts_that_differ(tmp_path):
    from fixtures_data import write_idx

    write_fashion_mnist(tmp_path / "d", n_train=8, n_test=4)
    write_idx(tmp_path / "d" / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="do not match"):
        data.load("fashion_mnist", "test", data_root=str(tmp_path / "d"))


def test_garbage_cifar_pickle_is_named(tmp_path):
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    (d / "test_batch").write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="test_batch is not a cifar10 batch"):
        data.load("cifar10", "test", data_root=str(tmp_path))
    (d / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8),
                                                 b"labels": [1, 2, 3]}))
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        data.load("cifar10", "test", data_root=str(tmp_path))


def test_image_folder_skips_unreadable_files_and_fails_when_none_is_readable(tmp_path):
    from PIL import Image

    d = tmp_path / "faces"
    d.mkdir()
    for i in range(2):
        Image.new("RGB", (40, 30), (i * 90, 10, 10)).save(d / f"{i}.png")
    (d / "broken.jpg").write_bytes(b"\xff\xd8 cut short")
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image file.*broken.jpg"):
        assert len(data.load("celeba", data_root=str(d), image_size=64)) == 2
    for i in range(2):
        (d / f"{i}.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="none of the 3 image files"), pytest.warns(UserWarning):
        data.load("celeba", data_root=str(d), image_size=64)


def test_a_text_file_as_teacher_is_named(tmp_path, capsys):
    write_fashion_mnist(tmp_path / "fm", n_train=16, n_test=8)
    teacher = tmp_path / "teacher.pt"
    teacher.write_text("these are not weights\n")
    rc, err = run_cli(capsys, "dfad", "--profile", "smoke", "--device", "cpu", "--data-root",
                      str(tmp_path / "fm"), "--teacher", str(teacher), "--val-n", "4",
                      "--out-dir", str(tmp_path / "run"))
    assert rc == 2 and "teacher.pt is not a readable torch file" in err, err
    assert not (tmp_path / "run").exists()


def test_corrupt_reference_cache_is_noticed(tmp_path, capsys):
    path = tmp_path / "ref.npz"
    path.write_bytes(b"PK\x03\x04 truncated")
    assert fid._load_reference(path) is None
    assert "ref.npz are corrupt" in capsys.readouterr().err
    np.savez(path, feats=np.zeros((5, 3)), mu=np.zeros(3), sigma=np.full((3, 3), np.nan))
    assert fid._load_reference(path) is None
    np.savez(path, feats=np.zeros((5, 3)), mu=np.zeros(3), sigma=np.eye(3))
    assert fid._load_reference(path)["n"] == 5


def test_corrupt_classifier_cache_is_trained_again(tmp_path, capsys):
    write_fashion_mnist(tmp_path / "fm", n_train=16, n_test=8)
    train, test = (data.load("fashion_mnist", s, data_root=str(tmp_path / "fm"))
                   for s in ("train", "test"))
    cfg = classifiers.FitConfig(epochs=0.5, batch_size=8)

    def fit():
        return classifiers.fit(classifiers.build("cnn_smoke", 1, 10, 32), train, test, cfg,
                               cache_dir=str(tmp_path / "c"))

    first = fit()
    first.path.write_bytes(first.path.read_bytes()[:100])  # truncated
    again = fit()
    assert not again.from_cache and "is corrupt" in capsys.readouterr().err
    assert again.accuracy == first.accuracy and fit().from_cache


def test_gamma_of_a_batch_with_no_active_sample_is_none_not_nan():
    B = 4
    g = Gamma(torch.zeros(B), torch.ones(B, dtype=torch.bool), torch.zeros(B), torch.zeros(B))
    stats = steps.to_floats(steps._gamma_stats(g))
    assert stats["Gamma/no_active"] == 1.0 and stats["Gamma/inactive"] == 1.0
    assert stats["Gamma/min"] is None and stats["Gamma/mean"] is None
    row = {"step": 1, "gan": "sngan"} | stats
    summary = compare.gamma_summary({"gan": "sngan", "records": [row]})
    assert summary["steps with no active sample"] == 1 and summary["smallest gamma"] is None


def test_bench_profiles_come_from_the_profile_table():
    from osgan import settings

    for p in ("smoke", "quick", "full"):
        cfg = bench.BenchConfig.for_profile(p)
        for k, v in settings.PROFILES[p]["BenchConfig"].items():
            assert getattr(cfg, k) == v
    assert bench.BenchConfig.for_profile("smoke", widths=(16,)).widths == (16,)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not reaped, counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _pool_workers(pid: int) -> list[int]:
    kids = [int(k) for t in Path(f"/proc/{pid}/task").iterdir()
            for k in (t / "children").read_text().split()]
    return [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]


@pytest.mark.skipif(not Path("/proc/self/task/").exists()
                    or not Path(f"/proc/self/task/{os.getpid()}/children").exists(),
                    reason="reads a process's children from Linux's /proc")
def test_a_sweep_killed_with_sigterm_ends_its_workers():
    # killed outright, the parent left its pool's workers training on as orphans, and the
    # sweep restarted after it refused their cells ("in use by process ...")
    import signal
    import time

    script = ("import time\nfrom osgan import harness\n"
              "harness.parallel_map(time.sleep, [600, 600], 2, progress=False)\n")
    parent = subprocess.Popen([sys.executable, "-c", script])
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers := _pool_workers(parent.pid)) < 2:
            assert time.monotonic() < deadline and parent.poll() is None, "no workers started"
            time.sleep(0.2)
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=60) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 30
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [w for w in workers if _alive(w)], "workers outlived their sweep"
    finally:
        parent.kill()
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
