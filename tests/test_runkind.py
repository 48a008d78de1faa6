"""A new kind of run is one small class (:class:`osgan.runkind.RunKind`): the harness gives it a
run folder, the clocks, rows, checkpoints, resume after a kill and ``done.json``, with no other
change to the package."""

import json
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from osgan import harness, runkind
from osgan.runkind import RunKind
from osgan.util import UsageError


@dataclass
class FitConfig:
    steps: int = 8
    lr: float = 0.1
    seed: int = 0
    checkpoint_every: int = 2
    out_dir: str | None = None
    device: str = "cpu"
    threads: int = 0
    resume: bool = False
    overwrite: bool = False
    progress: bool = False

    def validate(self) -> None:
        if self.steps < 1:
            raise ValueError("steps must be at least 1")


@dataclass
class _Fit:
    model: nn.Linear
    opt: torch.optim.Optimizer
    x: torch.Tensor
    y: torch.Tensor
    gen: torch.Generator  # the minibatches


class LinearFit(RunKind):
    """A linear model fitted to noisy random data by SGD on minibatches."""

    name, config = "linear_fit", FitConfig
    trajectory = ("lr", "seed")

    def setup(self, cfg, device):
        gen = torch.Generator().manual_seed(cfg.seed)
        x = torch.randn(64, 3, generator=gen)
        y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(64, generator=gen)
        with torch.random.fork_rng():
            torch.manual_seed(cfg.seed)
            model = nn.Linear(3, 1)
        return _Fit(model, torch.optim.SGD(model.parameters(), lr=cfg.lr), x, y, gen)

    def step(self, run, i):
        idx = torch.randint(64, (16,), generator=run.gen)
        loss = F.mse_loss(run.model(run.x[idx]).squeeze(1), run.y[idx])
        run.opt.zero_grad()
        loss.backward()
        run.opt.step()
        return {"Loss/mse": loss.detach()}

    def state(self, run):
        return {"model": run.model.state_dict(), "opt": run.opt.state_dict(),
                "rng": run.gen.get_state()}

    def restore(self, run, state):
        run.model.load_state_dict(state["model"])
        run.opt.load_state_dict(state["opt"])
        run.gen.set_state(state["rng"])

    def modules(self, run):
        return {"model": run.model}

    def schedule(self, cfg):
        return harness.Schedule(log=1, checkpoint=cfg.checkpoint_every)

    def summary(self, run, records):
        return {"loss": records[-1]["Loss/mse"]}


FIT = LinearFit()


class Killed(Exception):
    pass


def _numbers(rows):
    return [{k: v for k, v in r.items() if not k.startswith("Time/")} for r in rows]


def test_a_toy_kind_runs_through_the_harness_with_its_folder(tmp_path):
    out = tmp_path / "fit"
    records = runkind.run(FIT, FitConfig(out_dir=str(out)))
    assert [r["step"] for r in records] == list(range(1, 9))
    assert list(records[0]) == ["step", "Loss/mse", "Time/step", "Time/train", "Time/eval"]
    assert records[-1]["Loss/mse"] < records[0]["Loss/mse"]  # it learns
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.json", "done.json",
                                                     "metrics.jsonl"]
    meta = json.loads((out / "config.json").read_text())
    assert meta["kind"] == "linear_fit" and meta["config"]["lr"] == 0.1
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows == records
    done = json.loads((out / "done.json").read_text())
    assert list(done) == ["steps", "Time/train", "Time/eval", "loss"] and done["steps"] == 8
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["kind"] == "linear_fit" and state["step"] == 8
    # a finished run is refused without resume or overwrite; another kind's folder always
    with pytest.raises(UsageError, match="already holds a run"):
        runkind.run(FIT, FitConfig(out_dir=str(out)))
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"kind": "train", "config": {}}))
    with pytest.raises(UsageError, match="holds a train run, not a linear_fit run"):
        runkind.run(FIT, FitConfig(out_dir=str(other)))
    # without a folder the records stay in memory: the same numbers
    assert _numbers(runkind.run(FIT, FitConfig())) == _numbers(records)


def test_a_toy_kind_killed_and_resumed_gives_the_uninterrupted_numbers(tmp_path, monkeypatch):
    whole = runkind.run(FIT, FitConfig(out_dir=str(tmp_path / "whole")))
    out = tmp_path / "split"
    real_step = LinearFit.step

    def dying(self, run, i):
        if i == 5:  # inside step 5: the last checkpoint is step 4
            raise Killed
        return real_step(self, run, i)

    monkeypatch.setattr(LinearFit, "step", dying)
    with pytest.raises(Killed):
        runkind.run(FIT, FitConfig(out_dir=str(out)))
    assert not (out / "done.json").exists() and not (out / harness.LOCK).exists()
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 4
    monkeypatch.setattr(LinearFit, "step", real_step)
    with pytest.raises(UsageError, match="trained with lr=0.1"):
        runkind.run(FIT, FitConfig(out_dir=str(out), lr=0.2, resume=True))
    resumed = runkind.run(FIT, FitConfig(out_dir=str(out), resume=True))
    assert _numbers(resumed) == _numbers(whole)  # bit for bit
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert json.loads((out / "done.json").read_text())["loss"] == whole[-1]["Loss/mse"]
