"""What every other module may import, and which imports nothing of osgan: the error a user's bad
input raises, where caches live, atomic file writes, and a context for evaluation mode.

Every module of the package sits above this one, so the direction of imports is clean: a data
loader can raise :class:`UsageError` without knowing the command line exists.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn


class UsageError(ValueError):
    """A bad value or a refused action caused by the user: the command line prints it as one
    line and exits with status 2. A ``ValueError``, so library callers can catch either."""


class RunFailed(RuntimeError):
    """A run that started went wrong (non-finite losses or parameters): the command line prints
    it as one line and exits with status 1; the run's folder keeps its last good checkpoint."""


def check_count(name: str, value, *, minimum: int = 1, optional: bool = False) -> None:
    """``ValueError`` unless ``value`` is an integer >= ``minimum`` (or None when
    ``optional``): a negative count would act as a Python slice, a float as nonsense."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}{' or None' if optional else ''}; got {value!r}")


def check_rate(name: str, value, *, low: float = 0.0, high: float = math.inf) -> None:
    """``ValueError`` unless ``low < value < high`` and finite (a rate, a temperature)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low < value < high:
        rng = f"finite and > {low:g}" if high == math.inf else f"in ({low:g}, {high:g})"
        raise ValueError(f"{name} must be {rng}; got {value!r}")


def check_seed(name: str, value) -> None:
    """Seeds are integers in [0, 2**31): torch and NumPy both take those."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ValueError(f"{name} must be an integer in [0, 2**31); got {value!r}")


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model from ``/proc/cpuinfo`` (else what ``platform`` says):
    what benchmarks and provenance record, and what layout choices are keyed by."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where osgan keeps what it computes once: ``cache_dir``, else ``$OSGAN_CACHE``, else
    ``~/.cache/osgan``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("OSGAN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "osgan"


def atomic_write(path: str | Path, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``: a
    process killed while writing leaves the previous file (or none), never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    """``obj`` as indented JSON, written atomically."""
    atomic_write(path, lambda f: f.write((json.dumps(obj, indent=2) + "\n").encode()))


@contextlib.contextmanager
def rng_kept(device: torch.device | str):
    """Torch's global generators (the CPU's, and ``device``'s on CUDA) restored after the block:
    what is drawn inside moves no stream that anything else reads."""
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        yield


@contextlib.contextmanager
def seeded(seed: int, device: torch.device):
    """Torch's global generators seeded with ``seed`` inside the block and restored after it
    (:func:`rng_kept`): initial weights that depend on the seed alone, drawn without moving the
    stream anything else reads."""
    with rng_kept(device):
        torch.manual_seed(seed)
        yield


def exit_on_signal(signum, frame) -> None:
    """A signal handler that ends the process as an exception (``SystemExit``, 128 + the signal's
    number): ``finally`` blocks and context managers run, where the default action of SIGTERM
    kills the process on the spot."""
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def sigterm_exits():
    """SIGTERM raises :func:`exit_on_signal`'s ``SystemExit`` inside the block (in the main
    thread; elsewhere the block runs as is), the previous handler restored after it."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, exit_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def eval_mode(*modules: nn.Module):
    """Evaluation mode inside the block, each module's own mode restored after it.

    Spectral norm runs a power iteration on every training-mode forward; in eval mode it reuses
    the vectors of the last one, so an extra pass sees exactly the weights of the main pass.
    BatchNorm uses its running statistics."""
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


REPO = Path(__file__).resolve().parents[1]  # the checkout this package runs from


def git(*args: str) -> str:
    """``git ARGS`` in this package's checkout (stdout, stripped); "unknown" where git or the
    checkout is missing (an installed copy)."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=REPO).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
