"""osgan.training: files of a run, determinism, kill-and-resume, the evaluation hook, validation."""

import json
import sys
import types
from dataclasses import asdict

import pytest
import torch
from conftest import tiny
from torch.testing import assert_close

from osgan import checkpoint, data, harness, layout, training, util
from osgan.training import TrainConfig, load_generator, sampler, train

LOSS_KEYS = ("Loss/D", "Loss/G", "Loss/D/real", "Loss/D/fake")





def losses_of(records):
    return torch.tensor([[r[k] for k in LOSS_KEYS if k in r] for r in records], dtype=torch.float64)


def test_run_writes_its_files(root, tmp_path):
    r = train(tiny(root, tmp_path / "run"))
    out = tmp_path / "run"
    assert r.out_dir == out
    assert [row["step"] for row in r.records] == list(range(1, 9))
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows == r.records
    for key in (*LOSS_KEYS, "Gamma/mean", "Gamma/min", "Gamma/max", "Gamma/inactive",
                "Time/step", "Time/train", "Time/eval"):
        assert key in rows[-1], key
    times = torch.tensor([row["Time/train"] for row in rows])
    assert bool((times.diff() >= 0).all())  # cumulative
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_000004.png", "step_000008.png"]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["gan"] == "dcgan_ns" and cfg["model"]["width"] == 4
    assert json.loads((out / "done.json").read_text())["steps"] == 8
    state = torch.load(out / "checkpoint.pt", weights_only=True)  # no pickled code
    assert state["step"] == 8


@pytest.mark.parametrize("gan,stages", [("dcgan_ns", "one"), ("lsgan", "two")])
def test_same_seed_same_losses(root, tmp_path, gan, stages):
    a = train(tiny(root, tmp_path / "a", gan=gan, stages=stages))
    b = train(tiny(root, tmp_path / "b", gan=gan, stages=stages))
    assert_close(losses_of(a.records), losses_of(b.records), atol=0, rtol=0)
    if stages == "one":  # and another seed gives other losses
        c = train(tiny(root, tmp_path / "c", gan=gan, stages=stages, seed=1))
        assert not torch.equal(losses_of(a.records), losses_of(c.records))


class Killed(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("gan,stages", [("fishergan", "one"), ("cgan", "two"), ("sngan", "one")])
def test_killed_and_resumed_equals_uninterrupted(root, tmp_path, monkeypatch, gan, stages):
    whole = train(tiny(root, tmp_path / "whole", gan=gan, stages=stages))

    # kill the second run inside step 7: its last checkpoint is step 4, rows 5-6 are logged
    name = "one_stage_step" if stages == "one" else "two_stage_step"
    real_step, calls = getattr(training, name), {"n": 0}

    def dying_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:
            raise Killed
        return real_step(*args, **kwargs)

    monkeypatch.setattr(training, name, dying_step)
    cfg = tiny(root, tmp_path / "split", gan=gan, stages=stages)
    with pytest.raises(Killed):
        train(cfg)
    out = tmp_path / "split"
    assert not (out / "done.json").exists()  # a killed run does not look finished
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 4
    monkeypatch.setattr(training, name, real_step)

    resumed = train(tiny(root, out, gan=gan, stages=stages, resume=True))
    assert [r["step"] for r in resumed.records] == list(range(1, 9))
    assert_close(losses_of(resumed.records), losses_of(whole.records), atol=0, rtol=0)
    assert (out / "done.json").exists()
    for p, q in zip(resumed.G.state_dict().values(), whole.G.state_dict().values()):
        assert_close(p, q, atol=0, rtol=0)


# two layouts that round a tiny run differently (channels_last, two D passes, fused Adam where
# this torch has it, against plain NCHW, one pass, for-loop Adam)
NHWC = layout.Layout(True, True, False, 1, layout.adam_fused_supported(torch.device("cpu")),
                     "measured")
PLAIN = layout.Layout(False, False, True, 1, False, "small")


def choosing(monkeypatch, lay):
    """Runs set up from now on get ``lay``, as on a machine whose record or cache says so."""
    monkeypatch.setattr(layout, "choose", lambda *args, **kwargs: lay)


def test_a_resumed_run_keeps_the_layout_it_was_started_with(root, tmp_path, monkeypatch, capsys):
    choosing(monkeypatch, NHWC)
    whole = train(tiny(root, tmp_path / "whole"))
    out = tmp_path / "split"
    train(tiny(root, out, steps=4))
    assert torch.load(out / "checkpoint.pt", weights_only=True)["layout"] == asdict(NHWC)
    # resumed where this machine's record, or another cache, gives another layout
    choosing(monkeypatch, PLAIN)
    capsys.readouterr()
    resumed = train(tiny(root, out, resume=True))
    assert_close(losses_of(resumed.records), losses_of(whole.records), atol=0, rtol=0)
    said = [line for line in capsys.readouterr().err.splitlines() if "resumes with" in line]
    assert len(said) == 1 and NHWC.describe() in said[0]
    assert torch.load(out / "checkpoint.pt", weights_only=True)["layout"] == asdict(NHWC)
    assert json.loads((out / "config.json").read_text())["layout"] == asdict(NHWC)


def test_a_checkpoint_without_a_layout_resumes_under_the_chosen_one(root, tmp_path, monkeypatch,
                                                                    capsys):
    choosing(monkeypatch, NHWC)
    out = tmp_path / "run"
    train(tiny(root, out, steps=4))
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    del state["layout"]  # as written before runs kept their layout
    torch.save(state, out / "checkpoint.pt")
    choosing(monkeypatch, PLAIN)
    capsys.readouterr()
    assert len(train(tiny(root, out, steps=6, resume=True)).records) == 6
    assert "resumes with" not in capsys.readouterr().err
    assert torch.load(out / "checkpoint.pt", weights_only=True)["layout"] == asdict(PLAIN)


def test_a_named_layout_rounds_alike_whatever_the_machine_chooses(root, tmp_path, monkeypatch):
    # on an Intel Xeon with no record, a run measured its own layout and trained the AMD record's
    # cells differently; a named layout is the same arithmetic on every machine
    choosing(monkeypatch, NHWC)
    auto = train(tiny(root, tmp_path / "auto"))  # a machine whose choice is the record's
    choosing(monkeypatch, PLAIN)  # one that chooses otherwise
    other = train(tiny(root, tmp_path / "other"))
    named = train(tiny(root, tmp_path / "named", layout="nhwc"))
    assert not torch.equal(losses_of(other.records), losses_of(auto.records))
    assert_close(losses_of(named.records), losses_of(auto.records), atol=0, rtol=0)
    meta = json.loads((tmp_path / "named" / "config.json").read_text())
    assert meta["config"]["layout"] == "nhwc" and meta["layout"]["source"] == "given"
    assert meta["layout"]["channels_last_g"] and not meta["layout"]["fused"]
    with pytest.raises(ValueError, match="layout must be auto or one of nhwc, plain; got 'fast'"):
        TrainConfig(layout="fast").validate()


def test_existing_run_needs_resume_and_same_settings(root, tmp_path):
    train(tiny(root, tmp_path / "run", steps=4))
    with pytest.raises(ValueError, match="resume"):
        train(tiny(root, tmp_path / "run", steps=4))
    with pytest.raises(ValueError, match="lr_d=0.0002"):
        train(tiny(root, tmp_path / "run", steps=6, lr_d=1e-3, resume=True))
    more = train(tiny(root, tmp_path / "run", steps=6, resume=True))  # extend a finished run
    assert [r["step"] for r in more.records] == [1, 2, 3, 4, 5, 6]


def test_bfloat16_run_records_its_precision_and_resumes_only_in_it(root, tmp_path):
    out = tmp_path / "run"
    r = train(tiny(root, out, steps=4, precision="bfloat16"))
    assert json.loads((out / "config.json").read_text())["config"]["precision"] == "bfloat16"
    assert torch.isfinite(losses_of(r.records)).all()
    assert all(p.dtype == torch.float32 for p in r.G.parameters())  # autocast: weights stay fp32
    with pytest.raises(ValueError, match="precision='bfloat16'"):
        train(tiny(root, out, steps=6, resume=True))
    assert len(train(tiny(root, out, steps=6, resume=True, precision="bfloat16")).records) == 6


def test_checkpoint_from_before_precision_resumes_as_float32(root, tmp_path):
    out = tmp_path / "run"
    train(tiny(root, out, steps=4))
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    del state["config"]["precision"]  # as written before the setting existed
    torch.save(state, out / "checkpoint.pt")
    assert len(train(tiny(root, out, steps=6, resume=True)).records) == 6
    with pytest.raises(ValueError, match="precision='float32'"):
        train(tiny(root, out, steps=8, resume=True, precision="bfloat16"))


def test_unreadable_checkpoint(root, tmp_path):
    out = tmp_path / "run"
    train(tiny(root, out, steps=4))
    (out / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        train(tiny(root, out, steps=6, resume=True))


def test_missing_data_leaves_no_run(tmp_path, monkeypatch):
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    monkeypatch.setattr(data, "SYSTEM_DIRS", (str(tmp_path / "none"),))
    with pytest.raises(data.DataNotFound):
        train(tiny(str(tmp_path / "empty"), tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_eval_hook_logged_and_excluded_from_training_clock(root, tmp_path, monkeypatch):
    # a clock that stands still except inside the evaluation, which "takes" 1000 s
    clock = {"t": 0.0}
    monkeypatch.setattr(harness.time, "perf_counter", lambda: clock["t"])
    calls = []

    def fid_kid(fake, *, dataset, split, feature_space, n_real, n_gen, data_root, image_size,
                device, seed):
        images = fake(n_gen)
        calls.append((images.shape, dataset, split, feature_space, n_real, image_size, device))
        clock["t"] += 1000.0
        return {"FID": 12.5, "KID": 0.01, "KID_std": 0.001, "feature_space": feature_space,
                "n_real": n_real, "n_gen": 5, "ref_split": split, "dataset": dataset}

    monkeypatch.setitem(sys.modules, "osgan.metrics", types.SimpleNamespace(fid_kid=fid_kid))
    r = train(tiny(root, tmp_path / "run",
                   eval=dict(every=4, n_real=16, n_gen=5, feature_space="domain")))
    assert calls == [((5, 1, 32, 32), "fashion_mnist", "test", "domain", 16, 32, "cpu")] * 2
    evals = [row for row in r.records if "Eval/FID" in row]
    assert [row["step"] for row in evals] == [4, 8]
    assert evals[0]["Eval/feature_space"] == "domain" and evals[0]["Eval/n_real"] == 16
    assert_close(torch.tensor([row["Time/eval"] for row in evals]),
                 torch.tensor([1000.0, 2000.0]), atol=0, rtol=0)
    assert_close(torch.tensor(r.records[-1]["Time/train"]), torch.tensor(0.0), atol=0, rtol=0)


def test_sampler_and_load_generator(root, tmp_path):
    r = train(tiny(root, tmp_path / "run", gan="cgan", steps=2))
    G, cfg = load_generator(tmp_path / "run")
    assert cfg.gan == "cgan" and cfg.width == 4
    for p, q in zip(G.state_dict().values(), r.G.state_dict().values()):
        assert_close(p, q, atol=0, rtol=0)
    x1 = sampler(G, cfg)(7)
    x2 = sampler(G, cfg)(7)
    assert x1.shape == (7, 1, 32, 32)
    assert_close(x1, x2, atol=0, rtol=0)  # seeded from the run's seed
    assert bool((x1.abs() <= 1).all())
    assert not G.training
    with pytest.raises(ValueError, match="not a run directory"):
        load_generator(tmp_path / "nothing")


@pytest.mark.parametrize("field,value,match", [
    ("gan", "biggan", "dcgan, cgan"), ("stages", "three", "one' or 'two"),
    ("dataset", "mnist", "fashion_mnist"), ("image_size", 48, "32 or 64"),
    ("batch_size", 0, "positive"), ("steps", -1, "positive"), ("variant", "x", "paper"),
    ("device", "tpu", "device"), ("precision", "float16", "float32, bfloat16"),
])
def test_bad_values(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{field: value})


def test_profiles():
    smoke, quick, full = (TrainConfig.for_profile(p) for p in ("smoke", "quick", "full"))
    assert (full.batch_size, full.width) == (128, 64)  # Sec. 4.1.2
    assert smoke.steps < quick.steps < full.steps
    assert TrainConfig.for_profile("quick", steps=3).steps == 3
    auto = TrainConfig.for_profile("auto", device="cpu")
    assert auto.steps == quick.steps
    with pytest.raises(ValueError, match="smoke"):
        TrainConfig.for_profile("huge")


def test_checkpoint_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "c.pt"
    checkpoint.save(path, {"step": 1})

    def broken(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        util.atomic_write(path, broken)
    assert checkpoint.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left
