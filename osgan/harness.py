"""The run harness every kind of run shares (training, distillation, the sweeps' cells): a run
folder, a training clock, a schedule of what happens at which step, and the loop that ties them.

A run folder holds

* ``config.json``: ``{"kind": ..., "config": ..., ...}``, written atomically before step 1; its
  ``kind`` marks whose folder it is, so one kind of run never resumes or overwrites another's;
* ``metrics.jsonl``: one JSON row per logged step (``step``, the step's statistics, ``Time/*``);
* ``checkpoint.pt``: everything the next step reads (:mod:`osgan.checkpoint`), written atomically;
* ``done.json``: a summary, written only at the end, so a killed run never looks finished.

``resume`` continues from the checkpoint: rows a killed run logged after its last checkpoint are
dropped (the resumed run logs them again), the clocks continue from the checkpoint's, and a
checkpoint trained with other settings that change the trajectory is refused.

The training clock (:class:`Clock`) counts the steps only: evaluation, sampling, checkpointing and
logging run with the clock stopped, and on CUDA the clock synchronises the device only when it
stops or starts, at the scheduled steps, never inside the steps.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from osgan import checkpoint
from osgan.util import UsageError, atomic_write, write_json


class Clock:
    """Seconds of training (``train``) and of evaluation (``eval``), host-device synchronised at
    start and stop only."""

    def __init__(self, device: torch.device, train: float = 0.0, eval: float = 0.0):
        self.device, self.train, self.eval = device, train, eval
        self._mark: float | None = None

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # the clock must see the queued GPU work

    def start(self) -> None:
        self._sync()
        self._mark = time.perf_counter()

    def stop(self) -> None:
        if self._mark is not None:
            self._sync()
            self.train += time.perf_counter() - self._mark
            self._mark = None

    @contextlib.contextmanager
    def evaluating(self):
        """Time the block as evaluation (the training clock must be stopped)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.eval += time.perf_counter() - t0


@dataclass
class Schedule:
    """Which steps log, evaluate, sample and checkpoint (0 turns one off; the last step does all
    that are on, and always logs and checkpoints)."""

    log: int = 1
    eval: int = 0
    sample: int = 0
    checkpoint: int = 0

    def due(self, step: int, last: int) -> set[str]:
        events = set()
        for name, every in (("log", self.log), ("eval", self.eval), ("sample", self.sample),
                            ("checkpoint", self.checkpoint)):
            always = name in ("log", "checkpoint", "sample") and step == last
            if (every and (step % every == 0 or step == last)) or always:
                events.add(name)
        return events


def read_rows(path: Path, upto: int, key: str = "step") -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl`` with ``row[key] <= upto``; a line cut short by a kill is
    skipped (the resumed run logs it again)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return [r for r in rows if r.get(key, 0) <= upto]


class RunFolder:
    """One run's folder, owned by one kind of run (``"train"``, ``"dfad"``, ...). With
    ``path=None`` the run keeps its records in memory only and writes nothing."""

    def __init__(self, path: str | Path | None, kind: str, step_key: str = "step",
                 checkpoint_dir: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self.kind, self.step_key = kind, step_key
        self._checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def checkpoint_path(self) -> Path:
        return (self._checkpoint_dir or self.path) / "checkpoint.pt"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    def meta(self) -> dict[str, Any] | None:
        """The folder's ``config.json``, or None when it has none."""
        if self.path is None:
            return None
        try:
            return json.loads(self.config_path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise UsageError(f"{self.config_path} is unreadable ({e}); move the folder away or "
                             "choose another out_dir") from None

    def open(self, config: dict[str, Any], *, resume: bool, trajectory: tuple[str, ...],
             total: int, total_key: str = "steps") -> dict[str, Any] | None:
        """Check that this run may write here; return the checkpoint to resume from (or None).
        Refuses, with what to do: a folder of another kind, a run there without ``resume``, a
        ``resume`` with nothing to resume, settings that change the trajectory."""
        meta = self.meta()
        if meta is not None and meta.get("kind", "train") != self.kind:
            raise UsageError(f"{self.path} holds a {meta.get('kind')} run, not a {self.kind} run; "
                             "choose another out_dir")
        if meta is not None and not resume:
            raise UsageError(f"{self.path} already holds a run: pass resume (--resume) to "
                             "continue it, or choose another out_dir (--out-dir)")
        if resume and meta is None:
            raise UsageError(f"nothing to resume in {self.path}: it holds no run; leave out "
                             "--resume to start one there")
        if not resume or not self.checkpoint_path.exists():
            return None
        state = checkpoint.load(self.checkpoint_path)
        old = state["config"]
        diff = [k for k in trajectory if old.get(k) != config.get(k)]
        if diff:
            was = ", ".join(f"{k}={old.get(k)!r}" for k in diff)
            raise UsageError(f"cannot resume {self.path}: its checkpoint was trained with {was}; "
                             "use those values or another out_dir")
        done = state.get(self.step_key, 0)
        if total < done:
            raise UsageError(f"cannot resume {self.path} to {total} {total_key}: it has done "
                             f"{done} already; give at least {done}")
        return state

    def begin(self, meta: dict[str, Any], start: int) -> list[dict[str, Any]]:
        """Write ``config.json`` (with this folder's kind) and keep the rows up to ``start``."""
        if self.path is None:
            return []
        rows = read_rows(self.metrics_path, upto=start, key=self.step_key)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "done.json").unlink(missing_ok=True)
        write_json(self.config_path, {"kind": self.kind} | meta)
        atomic_write(self.metrics_path, lambda f: f.writelines(
            (json.dumps(r) + "\n").encode() for r in rows))
        return rows

    def append(self, row: dict[str, Any]) -> None:
        if self.path is None:
            return
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")

    def save(self, state: dict[str, Any]) -> None:
        if self.path is None:
            return
        checkpoint.save(self.checkpoint_path, state)

    def finish(self, summary: dict[str, Any]) -> None:
        if self.path is None:
            return
        write_json(self.path / "done.json", summary)


def progress(total: int, initial: int, desc: str, enabled: bool, unit: str = "step"):
    """A tqdm bar (``tqdm.auto``: a widget in notebooks when available, text otherwise)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit=unit, desc=desc,
                dynamic_ncols=True)


def loop(start: int, total: int, step: Callable[[int], Any], schedule: Schedule, clock: Clock,
         handle: Callable[[int, Any, set[str]], None], bar=None) -> None:
    """Run ``step(i)`` for i in start+1..total on the training clock; at the steps the schedule
    names, stop the clock and call ``handle(i, stats, events)``."""
    clock.start()
    for i in range(start + 1, total + 1):
        stats = step(i)
        if bar is not None:
            bar.update(1)
        events = schedule.due(i, total)
        if events:
            clock.stop()  # what follows is not training
            handle(i, stats, events)
            clock.start()
    clock.stop()


def _pickled_call(fn_item: tuple[Callable[[Any], Any], Any]) -> bytes:
    # a worker's result as plain pickle bytes: tensors travel by value. Through the pool's own
    # pickler, torch would share them by file descriptor, which dies with the worker process
    # (maxtasksperchild=1) before the parent reads it, and the parent waits for ever.
    import pickle

    fn, item = fn_item
    return pickle.dumps(fn(item))


def parallel_map(fn: Callable[[Any], Any], items: list, workers: int = 0, *, desc: str = "runs",
                 progress: bool = True, on_done: Callable[[int, Any], None] | None = None
                 ) -> list:
    """``[fn(item) for item in items]``, ``workers`` at a time in separate processes (0: one per
    CPU core, at most one per item), each a fresh interpreter (spawn: nothing is inherited from a
    notebook's kernel) that runs one item and exits. ``fn`` must be a module-level function and
    its items and results picklable. A progress bar counts finished items; ``on_done(i, result)``
    is called in this process as item i finishes. One worker runs here, in order."""
    import multiprocessing
    import os
    import pickle

    from tqdm.auto import tqdm

    workers = workers or min(len(items), os.cpu_count() or 1)
    bar = tqdm(total=len(items), desc=desc, unit="run", disable=not progress, dynamic_ncols=True)
    results: dict[int, Any] = {}

    def finished(i: int, result: Any) -> None:
        results[i] = result
        bar.update(1)
        if on_done:
            on_done(i, result)

    try:
        if workers <= 1 or len(items) <= 1:
            for i, item in enumerate(items):
                finished(i, fn(item))
        else:
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(workers, maxtasksperchild=1) as pool:
                pending = [pool.apply_async(_pickled_call, ((fn, item),),
                                            callback=lambda b, i=i: finished(i, pickle.loads(b)))
                           for i, item in enumerate(items)]
                for p in pending:
                    p.get()  # re-raises a worker's error here
    finally:
        bar.close()
    return [results[i] for i in range(len(items))]
