"""The run harness every kind of run shares (training, distillation, the sweeps' cells): a run
folder, a training clock, a schedule of what happens at which step, and the loop that ties them.

A run folder holds

* ``config.json``: ``{"kind": ..., "config": ..., ...}``, written atomically before step 1; its
  ``kind`` marks whose folder it is, so one kind of run never resumes or overwrites another's;
* ``metrics.jsonl``: one JSON row per logged step (``step``, the step's statistics, ``Time/*``);
* ``checkpoint.pt``: everything the next step reads (:mod:`osgan.checkpoint`), written atomically;
* ``done.json``: a summary, written only at the end, so a killed run never looks finished;
* ``.lock``: the id of the process writing the run, while it runs (``O_EXCL``): a second process
  refuses the folder; a lock whose process is gone (killed) is taken over.

A run writes only into a folder it creates or one that holds a run of its own kind; re-running
into a finished run needs ``resume`` (continue) or ``overwrite`` (start afresh: the run's own
files are replaced, nothing else is touched). A fresh run that fails before its first row (bad
data, a full disk) removes the folder it created, so no half-made run is left behind.

A run whose statistics (at log steps) or parameters (at checkpoints) become non-finite stops with
:class:`osgan.util.RunFailed` naming the step and what went non-finite; its folder keeps the
last good checkpoint. Checking at log and checkpoint steps only, on values already read to the
host, adds no host-device sync to the steps.

``resume`` continues from the checkpoint: rows a killed run logged after its last checkpoint are
dropped (the resumed run logs them again), the clocks continue from the checkpoint's, and a
checkpoint trained with other settings that change the trajectory is refused.

:func:`osgan.runkind.run` drives one run of any kind through all of this.

The training clock (:class:`Clock`) counts the steps only: evaluation, sampling, checkpointing and
logging run with the clock stopped, and on CUDA the clock synchronises the device only when it
stops or starts, at the scheduled steps, never inside the steps.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from osgan import checkpoint
from osgan.util import RunFailed, UsageError, atomic_write, sigterm_exits, write_json


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


LOCK = ".lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    return True


def lock_holder(lock: Path) -> int | None:
    """The live process holding ``lock``, or None when the lock is stale (its process is gone,
    or it is unreadable and older than a few seconds: not one being written right now)."""
    try:
        text = lock.read_text().strip()
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return None
    if not text.isdigit():
        return -1 if age < 5 else None  # a lock being created this instant counts as held
    pid = int(text)
    return pid if pid != os.getpid() and _alive(pid) else None


class RunFolder:
    """One run's folder, owned by one kind of run (``"train"``, ``"dfad"``, ...). With
    ``path=None`` the run keeps its records in memory only and writes nothing. Use it as a
    context manager: :meth:`open` takes the folder's lock, leaving the block releases it."""

    def __init__(self, path: str | Path | None, kind: str, step_key: str = "step",
                 checkpoint_dir: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self.kind, self.step_key = kind, step_key
        self._checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self._locked = self._created = self._begun = False
        self.saved: int | None = None  # the step of the last checkpoint written or resumed from

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

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

    def _claim(self) -> None:
        """Refuse a path that is a file or a folder of other files; create the folder and take
        its lock."""
        p = self.path
        if p.exists() and not p.is_dir():
            raise UsageError(f"{p} is a file, not a run folder; choose another out_dir")
        if p.is_dir() and not self.config_path.exists() and any(
                f.name != LOCK for f in p.iterdir()):
            raise UsageError(f"{p} holds files that no run wrote; it is left alone: choose "
                             "another out_dir (or empty it)")
        self._created = not p.exists()
        p.mkdir(parents=True, exist_ok=True)
        lock = p / LOCK
        for _ in range(3):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = lock_holder(lock)
                if holder is not None:
                    who = f"process {holder}" if holder > 0 else "another process"
                    raise UsageError(f"{p} is in use by {who} (lock {lock}); wait for it to "
                                     "finish, or choose another out_dir") from None
                lock.unlink(missing_ok=True)  # left by a killed process: take it over
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            self._locked = True
            return
        raise UsageError(f"could not take the lock {lock}: other processes keep starting runs "
                         "there; choose another out_dir")

    def release(self) -> None:
        """Drop the lock; a fresh run that never began removes the folder it created."""
        if self.path is None or not self._locked:
            return
        (self.path / LOCK).unlink(missing_ok=True)
        self._locked = False
        if self._created and not self._begun:
            shutil.rmtree(self.path, ignore_errors=True)

    def open(self, config: dict[str, Any], *, resume: bool, trajectory: tuple[str, ...],
             total: int, total_key: str = "steps", overwrite: bool = False,
             trajectory_defaults: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Take the folder; return the checkpoint to resume from (or None). Refuses, with what
        to do: a path that is a file, a folder of other files or of another kind of run, one in
        use by another process, a run there without ``resume`` or ``overwrite``, a ``resume``
        with nothing to resume, a checkpoint of another kind or with settings that change the
        trajectory, fewer steps than done. ``trajectory_defaults``: the value a setting had in
        checkpoints written before it existed."""
        if resume and overwrite:
            raise UsageError("give resume (--resume) or overwrite (--overwrite), not both")
        if self.path is None:
            if resume:
                raise UsageError("nothing to resume: the run has no out_dir")
            return None
        if resume and not self.path.is_dir():
            raise UsageError(f"nothing to resume in {self.path}: it does not exist; leave out "
                             "--resume to start a run there")
        meta = self.meta()
        if meta is not None and meta.get("kind", "train") != self.kind:
            raise UsageError(f"{self.path} holds a {meta.get('kind')} run, not a {self.kind} run; "
                             "choose another out_dir")
        self._claim()
        try:
            return self._check(config, meta, resume, overwrite, trajectory, total, total_key,
                               trajectory_defaults or {})
        except BaseException:
            self.release()
            raise

    def _check(self, config, meta, resume, overwrite, trajectory, total, total_key, defaults):
        if meta is not None and not (resume or overwrite):
            raise UsageError(f"{self.path} already holds a run: pass resume (--resume) to "
                             "continue it, overwrite (--overwrite) to start it afresh, or choose "
                             "another out_dir (--out-dir)")
        if resume and meta is None:
            raise UsageError(f"nothing to resume in {self.path}: it holds no run; leave out "
                             "--resume to start one there")
        if not resume or not self.checkpoint_path.exists():
            return None
        state = checkpoint.load(self.checkpoint_path)
        kind = state.get("kind", self.kind if self.step_key in state else "other")
        if kind != self.kind:
            raise UsageError(f"cannot resume from {self.checkpoint_path}: it is a checkpoint of "
                             f"a {kind} run, not of a {self.kind} run; choose another "
                             "out_dir / checkpoint_dir")
        old = state["config"]
        diff = [k for k in trajectory if old.get(k, defaults.get(k)) != config.get(k)]
        if diff:
            was = ", ".join(f"{k}={old.get(k, defaults.get(k))!r}" for k in diff)
            raise UsageError(f"cannot resume {self.path}: its checkpoint was trained with {was}; "
                             "use those values or another out_dir")
        done = state.get(self.step_key, 0)
        if total < done:
            raise UsageError(f"cannot resume {self.path} to {total} {total_key}: it has done "
                             f"{done} already; give at least {done}")
        self.saved = done
        return state

    def begin(self, meta: dict[str, Any], start: int) -> list[dict[str, Any]]:
        """Write ``config.json`` (with this folder's kind) and keep the rows up to ``start``; a
        fresh run (``start == 0`` and nothing resumed) drops the rows and checkpoint of the run
        it replaces."""
        if self.path is None:
            return []
        fresh = self.saved is None
        rows = [] if fresh else read_rows(self.metrics_path, upto=start, key=self.step_key)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "done.json").unlink(missing_ok=True)
        if fresh:
            self.checkpoint_path.unlink(missing_ok=True)
        write_json(self.config_path, {"kind": self.kind} | meta)
        atomic_write(self.metrics_path, lambda f: f.writelines(
            (json.dumps(r) + "\n").encode() for r in rows))
        self._begun = True
        return rows

    def append(self, row: dict[str, Any]) -> None:
        if self.path is None:
            return
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")

    def save(self, state: dict[str, Any], modules: dict[str, torch.nn.Module] = ()) -> None:
        """Write the checkpoint, after checking that ``modules``' parameters are finite (a
        non-finite one raises :class:`RunFailed` and keeps the previous checkpoint)."""
        step = state[self.step_key]
        bad = [f"{name}.{p}" for name, m in dict(modules).items()
               for p, t in m.state_dict().items()
               if t.is_floating_point() and not bool(torch.isfinite(t).all())]
        if bad:
            self.fail(step, f"parameters {', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}")
        if self.path is None:
            return
        checkpoint.save(self.checkpoint_path, {"kind": self.kind} | state)
        self.saved = step

    def check_finite(self, step: int, row: dict[str, Any]) -> None:
        """:class:`RunFailed` when a number of ``row`` is NaN or infinite (None: no value)."""
        bad = [f"{k}={v}" for k, v in row.items()
               if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            self.fail(step, ", ".join(bad))

    def fail(self, step: int, what: str) -> None:
        where = f"{self.path}: " if self.path is not None else ""
        kept = (f"the last good checkpoint (at {self.step_key} {self.saved}) is kept"
                if self.saved is not None and self.path is not None else "no checkpoint was kept")
        raise RunFailed(f"{where}non-finite values at {self.step_key} {step}: {what}; the run "
                        f"stopped and {kept}. Lower the learning rates (or change the seed) "
                        "and start afresh with --overwrite")

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
            # SIGTERM (kill, a scheduler) leaves through the pool's `with`, which terminates
            # the workers: killed outright, this process would leave them running as orphans
            # that hold their cells' locks against the sweep restarted after it
            with sigterm_exits(), ctx.Pool(workers, maxtasksperchild=1) as pool:
                pending = [pool.apply_async(_pickled_call, ((fn, item),),
                                            callback=lambda b, i=i: finished(i, pickle.loads(b)))
                           for i, item in enumerate(items)]
                for p in pending:
                    p.get()  # re-raises a worker's error here
    finally:
        bar.close()
    return [results[i] for i in range(len(items))]
