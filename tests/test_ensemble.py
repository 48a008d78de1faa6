"""osgan.ensemble: K seeds of one cell stacked in one process give each seed the losses, files and
checkpoints of its separate run (to float rounding), resume when killed, and refuse bad input in
one line without writing anything."""

import importlib.util
import json
import os
import signal
import types
from pathlib import Path

import conftest
import pytest
import torch
from torch.testing import assert_close

from osgan import cli, data, ensemble, layout, slurm, sweep, sweeps, training
from osgan.steps import to_floats
from osgan.training import TrainConfig
from osgan.util import UsageError

SEEDS = (0, 1, 2)


def tiny(root, out, **kw) -> TrainConfig:
    """A run of a second: 6 steps, a checkpoint every 3 (conftest's tiny run otherwise)."""
    return conftest.tiny(root, out, **(dict(steps=6, sample_every=3, checkpoint_every=3) | kw))


def numbers(rows):
    """Every number of the rows but the clocks, as one float64 tensor; and the keys, in order."""
    keys = [[k for k in r if not k.startswith("Time/")] for r in rows]
    vals = [float(r[k]) for r, ks in zip(rows, keys) for k in ks if r[k] is not None]
    return torch.tensor(vals, dtype=torch.float64), keys


def files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def structure(x):
    """A checkpoint's keys, shapes, dtypes and strides (its values left out)."""
    if isinstance(x, dict):
        return {k: structure(v) for k, v in x.items()}
    if isinstance(x, list):
        return [structure(v) for v in x]
    if torch.is_tensor(x):
        return (tuple(x.shape), x.dtype, x.stride())
    return type(x).__name__


# symmetric (gamma = -1) and asymmetric objectives, one stage and two
@pytest.mark.parametrize("gan,stages", [("dcgan", "one"), ("dcgan", "two"),
                                        ("dcgan_ns", "one"), ("lsgan", "two")])
def test_each_seed_trains_as_its_separate_run(root, tmp_path, gan, stages):
    kw = dict(gan=gan, stages=stages)
    alone = [training.train(tiny(root, tmp_path / f"alone{s}", seed=s, **kw)) for s in SEEDS]
    stacked = ensemble.train([tiny(root, tmp_path / f"stacked{s}", seed=s, **kw) for s in SEEDS])
    for a, b in zip(alone, stacked):
        (va, ka), (vb, kb) = numbers(a.records), numbers(b.records)
        assert ka == kb and len(a.records) == 6
        # float32: a grouped convolution sums in another order; Adam's first steps amplify that
        # rounding (about 1e-7 relative at step 1, up to 7e-5 by step 7 for dcgan_ns). The
        # float64 test below bounds what is not rounding at 1e-9
        assert_close(vb, va, rtol=1e-4, atol=1e-5)
        # the same files in the same format: a separate run could take over the folder
        assert files(a.out_dir) == files(b.out_dir)
        meta_a, meta_b = (json.loads((f / "config.json").read_text()) for f in (a.out_dir, b.out_dir))
        meta_b["config"]["out_dir"] = meta_a["config"]["out_dir"]
        assert meta_a == meta_b
        ca, cb = (torch.load(f / "checkpoint.pt", weights_only=True) for f in (a.out_dir, b.out_dir))
        assert structure(ca) == structure(cb)
        assert torch.equal(ca["rng"]["noise"], cb["rng"]["noise"])  # each seed's own stream
        assert torch.equal(ca["rng"]["data"], cb["rng"]["data"])
        done = [json.loads((f / "done.json").read_text()) for f in (a.out_dir, b.out_dir)]
        assert list(done[0]) == list(done[1])


# float64: what is left is rounding, far below float32's; every path of the stacked step (gamma
# per seed, the exact recovery with spectral norm's loop, Fisher GAN's state, WGAN's clipping,
# RelGAN's real outputs, the two-stage variants, CGAN's labels, the moving average)
CASES = [("dcgan_ns", "one", {}), ("sngan", "one", dict(exact=True)),
         ("geogan", "one", dict(exact=True)), ("wgan", "one", {}), ("cgan", "two", {}),
         ("fishergan", "two", dict(variant="simultaneous")), ("relgan", "two", {}),
         ("bgan", "two", dict(variant="reuse", ema=0.9)), ("lsgan", "one", dict(d_norm="batch"))]


@pytest.mark.parametrize("gan,stages,kw", CASES, ids=[f"{g}-{s}-{'-'.join(k)}" for g, s, k in CASES])
def test_a_stacked_step_is_the_separate_steps_in_float64(root, tmp_path, gan, stages, kw):
    cfgs = [tiny(root, tmp_path / f"s{s}", seed=s, gan=gan, stages=stages, **kw) for s in SEEDS]
    loaded = data.load("fashion_mnist", "train", data_root=root, image_size=32)
    images = data.ImageData(loaded.images.double(), loaded.labels, loaded.num_classes,
                            loaded.name, loaded.split)
    dtype, cpu = torch.get_default_dtype(), torch.device("cpu")
    torch.set_default_dtype(torch.float64)
    try:
        alone = [training.KIND.setup(c, cpu, images) for c in cfgs]
        stacked = ensemble.setup(cfgs, cpu, images)
        for _ in range(4):
            a = [to_floats(training._step(r)) for r in alone]
            b = [to_floats(s) for s in stacked.step()]
            assert [list(x) for x in a] == [list(x) for x in b]
            assert_close(numbers(b)[0], numbers(a)[0], rtol=1e-6, atol=1e-9)
        for k, r in enumerate(alone):
            stacked.stack_out(k)
            mine = stacked.runs[k]
            for net, own, theirs in (("G", mine.G, r.G), ("D", mine.D, r.D)):
                own, theirs = own.state_dict(), theirs.state_dict()
                if (gan, net) == ("relgan", "D"):
                    out = [n for n, v in theirs.items() if n.endswith("bias") and v.numel() == 1]
                    # RelGAN's loss reads D's outputs through differences only, so the gradient
                    # of D's output bias is zero but for rounding: the bias holds that noise
                    # (1e-13 here), whose sign differs between CPUs and between the two sums
                    assert len(out) == 1
                    assert own[out[0]].abs().max() < 1e-10 > theirs[out[0]].abs().max()
                    own, theirs = ({k: v for k, v in d.items() if k != out[0]}
                                   for d in (own, theirs))
                assert_close(own, theirs, rtol=1e-9, atol=1e-12)
            assert_close(mine.opt_g.state_dict()["state"], r.opt_g.state_dict()["state"],
                         rtol=1e-9, atol=1e-12)
            if r.ema is not None:
                assert_close(mine.ema.state_dict(), r.ema.state_dict(), rtol=1e-9, atol=1e-12)
    finally:
        torch.set_default_dtype(dtype)


class Killed(KeyboardInterrupt):
    pass


def test_a_killed_ensemble_resumes_and_a_separate_run_takes_over_a_seed(root, tmp_path,
                                                                      monkeypatch):
    kw = dict(gan="dcgan_ns", steps=8, ema=0.9)
    whole = ensemble.train([tiny(root, tmp_path / f"whole{s}", seed=s, **kw) for s in SEEDS])
    real, calls = ensemble.Ensemble.step, {"n": 0}

    def dies_in_step_5(self):
        calls["n"] += 1
        if calls["n"] == 5:  # after the checkpoint of step 3
            raise Killed
        return real(self)

    monkeypatch.setattr(ensemble.Ensemble, "step", dies_in_step_5)
    cfgs = [tiny(root, tmp_path / f"killed{s}", seed=s, **kw) for s in SEEDS]
    with pytest.raises(Killed):
        ensemble.train(cfgs)
    monkeypatch.setattr(ensemble.Ensemble, "step", real)
    assert all(not (tmp_path / f"killed{s}" / ".lock").exists() for s in SEEDS)
    assert all(not (tmp_path / f"killed{s}" / "done.json").exists() for s in SEEDS)
    # seed 2 goes on alone, as a separate run, from the ensemble's checkpoint
    alone = training.train(tiny(root, tmp_path / "killed2", seed=2, resume=True, **kw))
    resumed = ensemble.train([tiny(root, tmp_path / f"killed{s}", seed=s, resume=True, **kw)
                              for s in SEEDS[:2]])
    for a, b in zip(whole[:2], resumed):  # the same process, the same stack: the same bits
        assert numbers(b.records)[1] == numbers(a.records)[1]
        assert torch.equal(numbers(b.records)[0], numbers(a.records)[0])
        assert [r["step"] for r in b.records] == list(range(1, 9))
    separate = training.train(tiny(root, tmp_path / "separate2", seed=2, **kw))
    assert_close(numbers(alone.records)[0], numbers(separate.records)[0], rtol=1e-4, atol=1e-5)
    assert_close(numbers(alone.records)[0], numbers(whole[2].records)[0], rtol=1e-4, atol=1e-5)


def test_a_resumed_ensemble_keeps_its_seeds_layout_and_refuses_mixed_ones(root, tmp_path,
                                                                         monkeypatch):
    fused_adam = layout.adam_fused_supported(torch.device("cpu"))
    nhwc = layout.Layout(True, True, False, 1, fused_adam, "measured")
    plain = layout.Layout(False, False, True, 1, False, "small")

    def choose(lay):  # the layout runs set up from now on get
        monkeypatch.setattr(layout, "choose", lambda *args, **kwargs: lay)

    choose(nhwc)
    whole = ensemble.train([tiny(root, tmp_path / f"whole{s}", seed=s) for s in SEEDS[:2]])
    ensemble.train([tiny(root, tmp_path / f"half{s}", seed=s, steps=3) for s in SEEDS[:2]])
    training.train(tiny(root, tmp_path / "other", steps=3))  # seed 0 alone, under nhwc
    choose(plain)  # resumed where this machine gives another layout: the stack keeps nhwc
    resumed = ensemble.train([tiny(root, tmp_path / f"half{s}", seed=s, resume=True)
                              for s in SEEDS[:2]])
    for a, b in zip(whole, resumed):
        assert torch.equal(numbers(b.records)[0], numbers(a.records)[0])
    training.train(tiny(root, tmp_path / "fresh", seed=1, steps=3))  # seed 1 alone, under plain
    with pytest.raises(UsageError, match=r"^seeds of different layouts cannot stack: .*fresh was "
                       r"started with G contiguous.*; resume them alone \(seeds per process 1\)$"):
        ensemble.train([tiny(root, tmp_path / f, seed=s, resume=True)
                        for f, s in (("other", 0), ("fresh", 1))])


def test_bad_input_is_one_line_and_writes_nothing(root, tmp_path, capsys):
    with pytest.raises(UsageError, match="at least one seed"):
        ensemble.train([])
    cfgs = [tiny(root, tmp_path / f"s{s}", seed=s) for s in SEEDS]
    with pytest.raises(UsageError, match="seeds of different configs cannot stack: .* gan="):
        ensemble.train(cfgs[:2] + [tiny(root, tmp_path / "s2", seed=2, gan="lsgan")])
    with pytest.raises(UsageError, match="its own seed"):
        ensemble.train([cfgs[0], tiny(root, tmp_path / "other", seed=0)])
    with pytest.raises(UsageError, match="precision bfloat16"):
        ensemble.train([tiny(root, tmp_path / f"b{s}", seed=s, precision="bfloat16")
                        for s in SEEDS])
    assert list(tmp_path.iterdir()) == []
    # the third seed's folder is held by another live process: the first two are not made
    held = tmp_path / "s2"
    held.mkdir()
    (held / ".lock").write_text(str(os.getppid()))
    with pytest.raises(UsageError, match="in use by process"):
        ensemble.train(cfgs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s2"]
    assert [p.name for p in held.iterdir()] == [".lock"]
    # the command: one line, exit status 2, no record
    results = tmp_path / "results"
    for argv, what in ((["sweep", "smoke", "--seeds-per-process", "0"], "at least 1"),
                       (["sweep", "dfad_smoke", "--seeds-per-process", "2"], "only training")):
        assert cli.main(argv + ["--results", str(results)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and what in err
        assert not results.exists()


SPEC = dict(gans=("wgan", "geogan"), exact_for=("geogan",), seeds=SEEDS, profile="smoke",
            train=dict(steps=4, log_every=1, checkpoint_every=2, sample_every=4, width=4, nz=8,
                       batch_size=6, threads=1, eval=dict(every=0)))


def test_a_sweep_stacks_each_cells_seeds(root, tmp_path, monkeypatch):
    monkeypatch.setitem(sweeps.SWEEPS, "stack", SPEC)
    monkeypatch.setenv("OSGAN_CACHE", str(tmp_path / "cache"))
    todo = [sweep.cell_config("stack", c, tmp_path / "r", data_root=root)
            for c in sweep.cells("stack")]
    groups = ensemble.groups(todo, 2)
    assert [[c.seed for c in g] for g in groups][:2] == [[0, 1], [0, 1]]
    assert sorted(len(g) for g in groups) == [1] * 5 + [2] * 5  # each cell's seeds 0-1, then 2
    assert all(len({json.dumps(ensemble.shared(c), default=str) for c in g}) == 1 for g in groups)
    alone = sweep.run_sweep("stack", results=tmp_path / "alone", data_root=root)
    stacked = sweep.run_sweep("stack", results=tmp_path / "stacked", seeds_per_process=3,
                              data_root=root)
    assert sorted(p.name for p in stacked) == sorted(p.name for p in alone)
    for a in alone:
        rows = [[json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
                for d in (a, tmp_path / "stacked" / a.name)]
        assert numbers(rows[1])[1] == numbers(rows[0])[1]
        # D's losses at step 1 read the initial weights, the first batch and z only: the same
        # runs, to the grouped convolution's rounding. What follows an update is not compared in
        # float32: where a gradient component is rounding noise, Adam's first steps move it by
        # about lr whatever its size, so the sign of that noise, which differs between CPUs,
        # decides (WGAN here: 3e-4 at step 1 and 1e-3 by step 4 on an Intel Xeon, within 1e-5
        # on an AMD EPYC); the float64 test bounds every step
        first = [[{k: v for k, v in r[0].items() if k.startswith("Loss/D")}] for r in rows]
        assert len(first[0][0]) == 3
        assert_close(numbers(first[1])[0], numbers(first[0])[0], rtol=1e-5, atol=1e-6)
    session = json.loads((tmp_path / "stacked" / "provenance.json").read_text())["sessions"][-1]
    assert session["seeds_per_process"] == 3 and len(session["cells_finished"]) == 15
    assert "seeds_per_process" not in json.loads(
        (tmp_path / "alone" / "provenance.json").read_text())["sessions"][-1]


def test_a_slurm_job_runs_one_cells_seeds_as_one_ensemble(root, tmp_path, monkeypatch):
    monkeypatch.setenv("OSGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(slurm.submitit, "JobEnvironment",
                        lambda: types.SimpleNamespace(job_id="7_1", hostname="node1"))
    cfgs = [tiny(root, tmp_path / f"s{s}", seed=s) for s in SEEDS[:2]]
    handler = signal.getsignal(signal.SIGTERM)
    try:
        paths = slurm.CellJob(sweep._run_group, "x")(cfgs)
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert paths == [str(c.out_dir) for c in cfgs]
    assert all((tmp_path / f"s{s}" / "done.json").exists() for s in SEEDS[:2])
    hosts = slurm.hosts("x", ["s0", "s1"])
    assert hosts == {f"s{s}": {"job_id": "7_1", "host": "node1", "started_at": 0}
                     for s in SEEDS[:2]}


def test_the_throughput_script_runs_on_a_cpu(tmp_path):
    path = Path(__file__).resolve().parents[1] / "scripts" / "ensemble_throughput.py"
    spec = importlib.util.spec_from_file_location("ensemble_throughput", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "throughput.json"
    assert script.main([str(out), "--device", "cpu", "--stages", "one", "--ks", "1,2",
                        "--steps", "1", "--repeats", "1", "--warmup", "0", "--width", "4",
                        "--batch-size", "6"]) == 0
    doc = json.loads(out.read_text())
    assert [(r["mode"], r["K"]) for r in doc["results"]] == [("separate", 1), ("stacked", 1),
                                                             ("stacked", 2)]
    assert all(r["cells_per_gpu_hour"] > 0 for r in doc["results"])
    assert doc["steps_per_cell"] == 10_000 and doc["settings"]["width"] == 4
