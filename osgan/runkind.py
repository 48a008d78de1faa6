"""A run kind: what one kind of run (GAN training, distillation, ...) brings to the harness.

:func:`run` does, once for every kind, what every run does alike: it checks the
config, takes the run folder (resume, overwrite and trajectory checks), restores a checkpoint,
drives the steps on the training clock, writes the rows of ``metrics.jsonl`` (the step's
statistics, checked finite, the clocks ``Time/step``, ``Time/train``, ``Time/eval``, and the
evaluation), the sample grids, the checkpoints and ``done.json``, shows a progress bar, and
returns the kind's result. A kind says only what is its own:

* its name (the folder's and checkpoint's ``kind``), its config class, the key it counts in
  (``step``, ``round``) and the config field holding its length (``steps``, ``rounds``);
* the settings that change its trajectory (a resumed run must agree with its checkpoint on them);
* :meth:`~RunKind.setup` (data, models, optimizers, random generators), :meth:`~RunKind.step`,
  the :meth:`~RunKind.state` to checkpoint and how to :meth:`~RunKind.restore` it;
* its :meth:`~RunKind.schedule`, the :meth:`~RunKind.evaluate` at the scheduled steps, the
  layout of its rows, the :meth:`~RunKind.summary` for ``done.json`` and its
  :meth:`~RunKind.result`.

Its config has the fields the harness reads: ``device``, ``threads``, ``resume``, ``overwrite``,
``progress`` and the length. A new kind is one subclass of :class:`RunKind`; the sweeps of
:mod:`osgan.sweep` also ask a kind for what its cells cost (:meth:`~RunKind.step_seconds`) and
what parallel workers share (:meth:`~RunKind.prepare`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from osgan import settings
from osgan.harness import Clock, RunFolder, Schedule, loop, progress
from osgan.steps import to_floats

# the parts a row may hold, in the order a kind lists them (after its count key, always first)
ROW_PARTS = ("stats", "Time/step", "Time/train", "eval", "Time/eval")


class RunKind:
    """One kind of run; subclass it and fill in the hooks that raise ``NotImplementedError``."""

    name: ClassVar[str]  # "train", "dfad": whose folders and checkpoints these are
    config: ClassVar[type]  # the config class (a dataclass)
    count: ClassVar[str] = "step"  # the key rows and checkpoints count in
    length: ClassVar[str] = "steps"  # the config field holding the run's length
    trajectory: ClassVar[tuple[str, ...]] = ()  # settings a resumed run must keep
    trajectory_defaults: ClassVar[dict[str, Any]] = {}  # their values before they existed
    row_events: ClassVar[frozenset[str]] = frozenset({"log", "eval"})  # events that write a row
    row: ClassVar[tuple[str, ...]] = ROW_PARTS  # a row's parts (ROW_PARTS), in order
    evaluate_at_start: ClassVar[bool] = False  # a fresh run's first row evaluates before step 1

    # --- the folder

    def paths(self, cfg) -> tuple[str | Path | None, str | Path | None]:
        """The run folder (None: records in memory only) and the checkpoint's folder (None:
        the run folder)."""
        return cfg.out_dir, getattr(cfg, "checkpoint_dir", None) or None

    def trajectory_of(self, cfg) -> tuple[str, ...]:
        """The settings that change ``cfg``'s trajectory."""
        return self.trajectory

    def check(self, cfg) -> None:
        """Checks beyond ``cfg.validate()``, made before the folder is taken."""

    def meta(self, run) -> dict[str, Any]:
        """What ``config.json`` holds beside the config."""
        return {}

    def describe(self, cfg) -> str:
        """The progress bar's label."""
        return self.name

    # --- the run

    def setup(self, cfg, device: torch.device) -> Any:
        """Data, models, optimizers and random generators: what the steps read and change."""
        raise NotImplementedError

    def step(self, run, i: int) -> dict[str, Any]:
        """Step ``i`` (from 1); its statistics, left on the device."""
        raise NotImplementedError

    def state(self, run) -> dict[str, Any]:
        """What the next step reads, for the checkpoint (the harness adds the count, the clocks
        and the config)."""
        raise NotImplementedError

    def restore(self, run, state: dict[str, Any]) -> None:
        """Load :meth:`state`'s checkpoint into ``run``."""
        raise NotImplementedError

    def modules(self, run) -> dict[str, nn.Module]:
        """The modules whose parameters must be finite to be checkpointed."""
        return {}

    def schedule(self, cfg) -> Schedule:
        return Schedule(log=1)

    # --- rows and results

    def statistics(self, run, stats: dict[str, Any]) -> dict[str, Any]:
        """A step's statistics as a row holds them (read from the device here)."""
        return to_floats(stats)

    def evaluate(self, run) -> dict[str, Any]:
        """The evaluation at the scheduled steps, on the evaluation clock."""
        return {}

    def sample(self, run, path: Path) -> None:
        """Write a sample grid to ``path`` (at the schedule's sample steps)."""

    def postfix(self, row: dict[str, Any]) -> dict[str, str]:
        """What the progress bar shows of a row."""
        return {}

    def summary(self, run, records: list[dict[str, Any]]) -> dict[str, Any]:
        """What ``done.json`` holds beside the length and the clocks."""
        return {}

    def result(self, run, records: list[dict[str, Any]], summary: dict[str, Any],
               folder: RunFolder) -> Any:
        """What the run returns."""
        return records

    # --- for sweeps

    def prepare(self, cfg) -> None:
        """Make once, before parallel workers, what their runs share (a cached model)."""

    def cost_key(self, cfg) -> str:
        """The scheme whose measured cost of a step stands for ``cfg``'s."""
        return ""

    def cost_configs(self, cfgs: list) -> dict[str, Any]:
        """The configs to time, by :meth:`cost_key`."""
        return {"": cfgs[0]}

    def step_seconds(self, cfg) -> float:
        """Measured seconds per step at ``cfg``'s settings."""
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------
# the one driver of every kind


def run(kind: RunKind, cfg) -> Any:
    """Run ``cfg`` as a run of ``kind``: check it, take its folder, set up (restoring the
    checkpoint on ``resume``), step to its length on the training clock with rows, evaluations,
    samples and checkpoints where its schedule says, write ``done.json``; the kind's result."""
    cfg.validate()
    device = settings.resolve_device(cfg.device)
    settings.set_threads(cfg.threads)  # process-wide, as torch has it
    kind.check(cfg)
    path, checkpoint_dir = kind.paths(cfg)
    length = kind.length
    with RunFolder(path, kind.name, step_key=kind.count, checkpoint_dir=checkpoint_dir) as folder:
        state = folder.open(asdict(cfg), resume=cfg.resume, trajectory=kind.trajectory_of(cfg),
                            trajectory_defaults=kind.trajectory_defaults,
                            total=getattr(cfg, length), total_key=length, overwrite=cfg.overwrite)
        return _run(kind, cfg, device, folder, state)


def _run(kind: RunKind, cfg, device: torch.device, folder: RunFolder,
         state: dict[str, Any] | None) -> Any:
    run_ = kind.setup(cfg, device)  # data before anything is written: no half-made run folder
    clock = Clock(device)
    count, total = kind.count, getattr(cfg, kind.length)
    start = 0
    if state is not None:
        kind.restore(run_, state)
        clock.train, clock.eval = state["time_train"], state["time_eval"]
        start = state[count]
    records = folder.begin({"config": asdict(cfg)} | kind.meta(run_), start)
    grids = folder.path / "samples" if folder.path is not None else None
    if state is None and grids is not None:  # afresh: the grids of a replaced run go
        for old in grids.glob(f"{count}_*.png"):
            old.unlink()
    last = {"step": start, "time": clock.train}
    bar = progress(total, start, kind.describe(cfg), cfg.progress, unit=count)

    def write_row(i: int, stats: dict, events: set[str]) -> None:
        parts = {"stats": kind.statistics(run_, stats)}
        folder.check_finite(i, parts["stats"])  # before anything of this step is written
        if i > last["step"]:
            parts["Time/step"] = {"Time/step": (clock.train - last["time"]) / (i - last["step"])}
        parts["Time/train"] = {"Time/train": clock.train}
        last.update(step=i, time=clock.train)
        if "eval" in events:
            with clock.evaluating():
                parts["eval"] = kind.evaluate(run_)
        parts["Time/eval"] = {"Time/eval": clock.eval}
        row = {count: i}
        for part in kind.row:
            row |= parts.get(part, {})
        records.append(row)
        folder.append(row)
        bar.set_postfix(kind.postfix(row), refresh=False)

    def handle(i: int, stats: dict, events: set[str]) -> None:
        if events & (kind.row_events | {"eval"}):
            write_row(i, stats, events)
        if "sample" in events and grids is not None:
            kind.sample(run_, grids / f"{count}_{i:06d}.png")
        if "checkpoint" in events:
            folder.save({count: i} | kind.state(run_) | {
                "time_train": clock.train, "time_eval": clock.eval, "config": asdict(cfg)},
                kind.modules(run_))

    if start == 0 and kind.evaluate_at_start:
        write_row(0, {}, {"eval"})
    try:
        loop(start, total, lambda i: kind.step(run_, i), kind.schedule(cfg), clock, handle, bar)
    finally:
        bar.close()
    summary = {kind.length: total, "Time/train": clock.train, "Time/eval": clock.eval} \
        | kind.summary(run_, records)
    folder.finish(summary)
    return kind.result(run_, records, summary, folder)
