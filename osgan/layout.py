r"""How a training round is laid out on the device: memory format, D's pass, threads, optimizer.

None of this changes what a step computes (Algorithm 1, Eq. 13-15): the gradients are the same
to rounding (the tests check it). It changes how fast the passes counted by the cost model
(Sec. 3.2, Eq. 13-17) run:

* ``channels_last_g``, ``channels_last_d``: G, and D with the images it reads, in NHWC memory
  format. oneDNN's convolutions on CPU (and cuDNN's with tensor cores) run faster in it than in
  NCHW, but on CPU this torch's GroupNorm and LeakyReLU backward are much slower in it, so a D
  with GroupNorm may lose what its convolutions gain: G and D are chosen apart;
* ``fused``: D over real and fake as one batch of 2B (one pass) or as two batches of B. The fused
  pass also back-propagates to the *real* images' input, which one stage never reads; on one CPU
  thread two passes of B beat one of 2B (``results/bench-cpu/``). A D with BatchNorm always gets
  two passes (its statistics would mix real and fake);
* ``threads``: torch's intra-op threads the choice was made for (it is measured per thread count);
* ``adam_fused``: ``torch.optim.Adam(fused=True)``, one kernel over all parameters instead of a
  Python loop over them, where this torch has it for the device.

Which layout is fastest depends on the machine, not on the device type: on this project's AMD
EPYC both networks in NHWC with two D passes won, on an Intel Xeon of the same size NCHW for G
and one fused pass did. :func:`choose` therefore returns, for the machine at hand:

1. the layout recorded for this CPU model or GPU name (:data:`DEFAULTS`, ``source="record"``);
2. else the one an earlier run measured on this machine for the same models and batch shape,
   torch version and thread count (``cache_root()/layout.json``, ``source="cache"``);
3. else it measures the candidates now, on copies of the models (a one-stage round each, about
   :data:`BUDGET_S` seconds), caches the fastest and says so in one line (``"measured"``); a
   round under :data:`MIN_FLOPS` is not timed and gets the plain layout (``"small"``).

The choice is made on the one-stage round (Algorithm 1) and applies to the one- and two-stage
rounds alike, so a two-stage baseline gets every optimisation the one-stage step gets and both
schemes of a machine share one cache entry. Processes starting at once (a sweep's workers) take
turns: the second waits for the first's measurement and reads it. :func:`prepare` also converts
the models. A training loop calls it once at set-up::

    layout = osgan.layout.prepare(G, D, x_example, device, objective=objective, stages="one")
    opt_g = torch.optim.Adam(G.parameters(), lr=..., betas=..., **layout.optimizer_kwargs())
    opt_d = torch.optim.Adam(D.parameters(), lr=..., betas=..., **layout.optimizer_kwargs())
    for ...:
        x = layout.batch(x)
        one_stage_step(G, D, opt_g, opt_d, objective, x, z, y, fused=layout.fused, as_float=False)

A run may instead name its layout (``TrainConfig.layout``, :data:`NAMED`): then it rounds
alike on every machine, where the machine's choice rounds as that machine's layout does.

A run keeps its layout in its checkpoints, and a resumed run continues under that one
(:func:`osgan.training._restore`), whatever this machine would choose now: the layouts compute
the same step to rounding only, and a run's numbers depend on its config and seed alone.

``python -m osgan bench`` prints the layout a run will use and where it came from.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import Tensor, nn

from osgan import losses, steps, timing, util
from osgan.models import is_per_sample
from osgan.util import cache_root, write_json

try:
    import fcntl  # POSIX: processes that start at once measure once (:func:`_locked`)
except ImportError:  # elsewhere each measures on its own
    fcntl = None

STAGES = ("one", "two")

# The layout recorded per machine: (device type, the CPU's model or the GPU's name as
# osgan.util.device_name reads it) -> the layout of the one- and two-stage rounds alike. A record
# holds for that model only: another CPU (an Intel Xeon, another EPYC) has none and measures its
# own (:func:`choose`).
DEFAULTS: dict[tuple[str, str], dict[str, bool]] = {
    # this project's 2-core VM (results/bench-cpu/layouts-S32-w32-B64-t1.json,
    # scripts/record_layouts.py: DCGAN, batch 64, one quiet core). One stage gains most from two D
    # passes (no input gradient for the real half); two stages were within noise of their best
    # with the same layout. The recorded sweeps (results/table1) ran with it.
    ("cpu", "AMD EPYC"): dict(channels_last_g=True, channels_last_d=True, fused=False),
    # results/bench-h200-profile/profile.json (scripts/gpu_profile.py, 64x64, width 64, batch 64):
    # NCHW with one fused pass, within 4% of the fastest candidate in every scheme; the recorded
    # GPU benches (results/bench-cuda-h200-*) ran with it
    ("cuda", "NVIDIA H200"): dict(channels_last_g=False, channels_last_d=False, fused=True),
}
# what plain PyTorch code does: NCHW, D over real and fake in one pass (two with BatchNorm)
PLAIN = dict(channels_last_g=False, channels_last_d=False, fused=True)
# Layouts a run can name (TrainConfig.layout) instead of taking this machine's choice: the same
# arithmetic on every machine. "nhwc" is the layout of the CPU record (results/table1) and with
# it, and Intel's MKL capped at AVX2 (osgan/__init__.py), an Intel Xeon trains the record's cells
# bit for bit; chosen by the machine, it measured another layout and rounded differently.
NAMED: dict[str, dict[str, bool]] = {
    "nhwc": DEFAULTS[("cpu", "AMD EPYC")],
    "plain": PLAIN,
}
# A round under this many FLOPs (osgan.timing.round_flops) is too short for a few seconds of
# timing to tell the layouts apart: it gets PLAIN, with no measurement, so that tiny runs (tests,
# smoke builds) never depend on a timing
MIN_FLOPS = 1e9
BUDGET_S = 10.0  # about how long a measurement of the candidates may take (at least 2 rounds each)
# where a layout came from, as `python -m osgan bench` says it
SOURCES = {
    "record": "the record for this machine (osgan.layout.DEFAULTS)",
    "cache": "measured on this machine by an earlier run (cached)",
    "measured": "measured now",
    "small": "no record for this machine, round too small to time: the plain layout",
    "plain": "no record for this machine: the plain layout (not measured)",
    "given": "given by the caller",
    "candidate": "a candidate",
}


@dataclass(frozen=True)
class Layout:
    channels_last_g: bool  # G in NHWC memory format
    channels_last_d: bool  # D and the images it reads (real and fake) in NHWC memory format
    fused: bool  # D over [x; x_hat] as one batch of 2B; False: two batches of B
    threads: int  # torch intra-op threads this layout was chosen for
    adam_fused: bool  # torch.optim.Adam(fused=True): one kernel for every parameter
    source: str = "record"  # where it came from: a key of SOURCES

    def arithmetic(self) -> tuple[bool, bool, bool, bool]:
        """The fields that change how a step rounds (not ``threads``, the count it was chosen
        for, nor ``source``): a resumed run keeps its checkpoint's to continue to the same bits."""
        return self.channels_last_g, self.channels_last_d, self.fused, self.adam_fused

    def optimizer_kwargs(self) -> dict[str, bool]:
        """Keyword arguments for ``torch.optim.Adam`` (and other optimizers with ``fused``)."""
        return {"fused": True} if self.adam_fused else {}

    @staticmethod
    def _format(channels_last: bool) -> torch.memory_format:
        return torch.channels_last if channels_last else torch.contiguous_format

    def batch(self, x: Tensor) -> Tensor:
        """Images ``(B, C, H, W)`` in D's memory format (no copy when already in it). The steps
        put G's samples in the format of ``x`` before D reads them."""
        return x.contiguous(memory_format=self._format(self.channels_last_d)) if x.dim() == 4 else x

    def apply(self, G: nn.Module, D: nn.Module) -> None:
        """Convert G and D in place to their memory formats."""
        G.to(memory_format=self._format(self.channels_last_g))
        D.to(memory_format=self._format(self.channels_last_d))

    def describe(self) -> str:
        d_pass = "fused (one 2B pass)" if self.fused else "separate (two B passes)"
        fmt = lambda cl: "channels_last" if cl else "contiguous"  # noqa: E731
        return (f"G {fmt(self.channels_last_g)}, D {fmt(self.channels_last_d)}, "
                f"D pass {d_pass}, threads {self.threads}, "
                f"Adam {'fused' if self.adam_fused else 'default'} ({self.source})")

    def origin(self) -> str:
        """Where this layout came from, in words (:data:`SOURCES`)."""
        return SOURCES.get(self.source, self.source)


def adam_fused_supported(device: torch.device) -> bool:
    """Whether this torch has ``Adam(fused=True)`` for ``device``."""
    if "fused" not in inspect.signature(torch.optim.Adam).parameters:
        return False
    try:
        from torch.optim.optimizer import _get_fused_kernels_supported_devices
    except ImportError:
        return device.type == "cuda"
    return device.type in _get_fused_kernels_supported_devices()


def machine(device: torch.device | str) -> tuple[str, str]:
    """(device type, CPU model or GPU name): what :data:`DEFAULTS` and the cache are keyed by."""
    device = torch.device(device)
    return device.type, util.device_name(device)


def _layout(d: dict[str, bool], D: nn.Module, device: torch.device, threads: int,
            source: str) -> Layout:
    return Layout(channels_last_g=d["channels_last_g"], channels_last_d=d["channels_last_d"],
                  fused=d["fused"] and is_per_sample(D), threads=threads,
                  adam_fused=adam_fused_supported(device), source=source)


def _check_stages(stages: str) -> None:
    if stages not in STAGES:
        raise ValueError(f"stages must be one of {STAGES}; got {stages!r}")


def default(D: nn.Module, device: torch.device | str, threads: int | None = None,
            stages: str = "one") -> Layout:
    """The layout recorded for this machine (:data:`DEFAULTS`; ``source="record"``), else
    :data:`PLAIN` (``"plain"``); never measures. The same for both ``stages`` ("one", "two");
    ``fused`` is dropped for a D with BatchNorm."""
    _check_stages(stages)
    device = torch.device(device)
    threads = threads or torch.get_num_threads()
    rec = DEFAULTS.get(machine(device))
    return _layout(rec or PLAIN, D, device, threads, "record" if rec else "plain")


def named(name: str, D: nn.Module, device: torch.device | str,
          threads: int | None = None) -> Layout:
    """The layout :data:`NAMED` ``name`` (``source="given"``), the same on every machine;
    ``fused`` is dropped for a D with BatchNorm."""
    if name not in NAMED:
        raise ValueError(f"unknown layout {name!r}; choose auto or one of: {', '.join(NAMED)}")
    device = torch.device(device)
    return _layout(NAMED[name], D, device, threads or torch.get_num_threads(), "given")


def candidates(D: nn.Module, device: torch.device, threads: int) -> list[Layout]:
    """Every layout worth timing: G's and D's memory formats x D pass (two passes only, with
    BatchNorm)."""
    fused = (True, False) if is_per_sample(D) else (False,)
    return [Layout(g, d, f, threads, adam_fused_supported(device), "candidate")
            for g in (False, True) for d in (False, True) for f in fused]


def _key(G: nn.Module, D: nn.Module, x: Tensor, device: torch.device, threads: int) -> str:
    """The machine and the shape: a cached choice holds for these alone (not for the objective
    or the scheme: a layout is chosen for both schemes at once)."""
    shapes = [tuple(p.shape) for m in (G, D) for p in m.parameters()]
    return json.dumps([*machine(device), torch.__version__, threads, type(G).__name__,
                       type(D).__name__, str(shapes), list(x.shape), str(x.dtype),
                       is_per_sample(D)])


def _read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def _locked(path: Path | None):
    """Hold an exclusive lock beside ``path`` (POSIX), so that processes starting at once
    measure once: the others wait, then read the cache."""
    if path is None or fcntl is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _round_fns(G, D, objective, x, layouts, stages, y, nz) -> dict[int, Callable[[], object]]:
    """A round of ``stages`` under each layout, on its own copies of G, D, the objective (whose
    state, e.g. Fisher GAN's multiplier, the rounds change) and Adams."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(x.shape[0], nz or G.cfg.nz, generator=gen).to(x.device, x.dtype)
    fns = {}
    for i, lay in enumerate(layouts):
        G_, D_, obj = copy.deepcopy(G), copy.deepcopy(D), copy.deepcopy(objective)
        lay.apply(G_, D_)
        x_ = lay.batch(x)
        opt_g = torch.optim.Adam(G_.parameters(), lr=2e-4, betas=(0.5, 0.999), **lay.optimizer_kwargs())
        opt_d = torch.optim.Adam(D_.parameters(), lr=2e-4, betas=(0.5, 0.999), **lay.optimizer_kwargs())
        if stages == "one":
            fns[i] = (lambda G_=G_, D_=D_, og=opt_g, od=opt_d, x_=x_, f=lay.fused, o=obj:
                      steps.one_stage_step(G_, D_, og, od, o, x_, z, y, fused=f, as_float=False))
        else:  # stage 2's second z: from a generator of its own, never torch's global one
            fns[i] = (lambda G_=G_, D_=D_, og=opt_g, od=opt_d, x_=x_, f=lay.fused, o=obj:
                      steps.two_stage_step(G_, D_, og, od, o, x_, z, y, variant="paper", fused=f,
                                           as_float=False, generator=gen))
    return fns


def _clock(device: torch.device) -> str:
    # one thread on a CPU: CPU time of the process (robust to other load); else wall-clock
    return "cpu" if device.type == "cpu" and torch.get_num_threads() == 1 else "wall"


def time_layouts(G: nn.Module, D: nn.Module, objective: losses.Objective, x: Tensor,
                 layouts: list[Layout], *, stages: str = "one", y: Tensor | None = None,
                 nz: int | None = None, repeats: int = 3, warmup: int = 1) -> list[list[float]]:
    """Seconds per round of ``stages`` under each layout, on copies of G and D (the models are
    untouched), interleaved round-robin so that other load falls on all alike."""
    _check_stages(stages)
    fns = _round_fns(G, D, objective, x, layouts, stages, y, nz)
    times = timing.round_robin(fns, x.device, repeats, warmup, _clock(x.device))
    return [times[i] for i in range(len(layouts))]


def measure(G: nn.Module, D: nn.Module, objective: losses.Objective, x: Tensor,
            y: Tensor | None = None, *, budget_s: float = BUDGET_S) -> tuple[Layout, float]:
    """The fastest of :func:`candidates` for a one-stage round, timed now on copies of the
    models: one untimed round of each, then as many interleaved rounds as fit in ``budget_s``
    (at least one, at most five each); the smallest median wins. Returns it
    (``source="measured"``) and the seconds the measurement took."""
    t0 = time.perf_counter()
    layouts = candidates(D, x.device, torch.get_num_threads())
    fns = _round_fns(G, D, objective, x, layouts, "one", y, None)
    clock = _clock(x.device)
    timing.round_robin(fns, x.device, 0, 1, clock)  # warm-up: allocations, oneDNN primitives
    sweep = time.perf_counter() - t0
    repeats = max(1, min(5, int(budget_s / max(sweep, 1e-9))))
    times = timing.round_robin(fns, x.device, repeats, 0, clock)
    best = min(range(len(layouts)), key=lambda i: statistics.median(times[i]))
    return replace(layouts[best], source="measured"), time.perf_counter() - t0


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def choose(G: nn.Module, D: nn.Module, x_example: Tensor, device: torch.device | str | None = None,
           *, objective: losses.Objective | None = None, stages: str = "one",
           autotune: bool | None = None, y: Tensor | None = None,
           cache: Path | None | str = "default", budget_s: float = BUDGET_S,
           report: Callable[[str], None] | None = _stderr) -> Layout:
    """The layout a run uses for G, D and batches shaped like ``x_example`` on ``device``, in
    both schemes (``stages`` is checked, and changes nothing).

    ``autotune=None`` (what runs use): this machine's record (:data:`DEFAULTS`), else the
    cached choice of an earlier run for this machine and shape, else :func:`measure` now, cache
    the choice and ``report`` one line saying so (stderr; None: silent). A round under
    :data:`MIN_FLOPS` is never timed: it gets :data:`PLAIN` (``"small"``).
    ``autotune=True``: ignore the record (and the FLOP floor): the cache, else measure now.
    ``autotune=False``: the record, else :data:`PLAIN`; nothing is timed.
    ``cache``: ``"default"`` is ``cache_root()/layout.json``; None keeps nothing.
    ``objective`` (for the timed rounds) defaults to ``dcgan``.
    """
    _check_stages(stages)
    if cache == "default":
        cache = cache_root() / "layout.json"
    cache = Path(cache) if cache is not None else None
    device = torch.device(device) if device is not None else x_example.device
    threads = torch.get_num_threads()
    if autotune is False or (autotune is None and machine(device) in DEFAULTS):
        return default(D, device, threads)
    objective = objective or losses.get("dcgan")
    x = x_example.to(device)
    if objective.conditional and y is None:  # labels for the timed rounds: any classes will do
        y = torch.arange(x.shape[0], device=device) % G.cfg.num_classes
    if autotune is None:
        z = torch.zeros(x.shape[0], G.cfg.nz, dtype=x.dtype, device=device)
        flops = timing.round_flops(G, D, objective, x, z, y, schemes=("one_stage",))
        if flops["one_stage"] < MIN_FLOPS:
            return _layout(PLAIN, D, device, threads, "small")
    key = _key(G, D, x, device, threads)
    with _locked(cache):
        if cache is not None and key in (stored := _read_cache(cache)):
            return Layout(**(stored[key] | {"source": "cache"}))
        with util.rng_kept(device):
            best, seconds = measure(G, D, objective, x, y, budget_s=budget_s)  # on copies
        if cache is not None:
            write_json(cache, _read_cache(cache) | {key: asdict(best)})  # atomic
    if report is not None:
        S = "x".join(str(n) for n in x.shape[2:])
        report(f"osgan.layout: no layout recorded for {machine(device)[1]} ({device.type}); "
               f"measured {len(candidates(D, device, threads))} candidates on a one-stage round "
               f"(batch {x.shape[0]}, {S}, {threads} threads) in {seconds:.0f} s: "
               f"{best.describe()}" + (f"; cached in {cache}" if cache is not None else ""))
    return best


def prepare(G: nn.Module, D: nn.Module, x_example: Tensor, device: torch.device | str | None = None,
            *, layout: Layout | None = None, **choose_kwargs) -> Layout:
    """:func:`choose` a layout (or take ``layout``), convert G and D to its memory format in
    place, and return it. Call once at set-up, after moving the models to ``device`` and before
    building the optimizers (``**layout.optimizer_kwargs()``)."""
    if layout is None:
        layout = choose(G, D, x_example, device, **choose_kwargs)
    if layout.fused and not is_per_sample(D):
        layout = replace(layout, fused=False)  # BatchNorm: real and fake statistics stay apart
    layout.apply(G, D)
    return layout
