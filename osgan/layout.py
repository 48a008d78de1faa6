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

:func:`choose` returns a :class:`Layout`: the per-device defaults recorded in
``results/bench-cpu/`` (``source="default"``), or with ``autotune=True`` the fastest candidate
timed on copies of the models, cached per device, torch version, threads, model and batch shape
(``source="autotune"`` / ``"cache"``). :func:`prepare` also converts the models. A training loop
calls it once at set-up and hands the same layout to both schemes, so a two-stage baseline gets
every optimisation the one-stage step gets::

    layout = osgan.layout.prepare(G, D, x_example, device, objective=objective, stages="one")
    opt_g = torch.optim.Adam(G.parameters(), lr=..., betas=..., **layout.optimizer_kwargs())
    opt_d = torch.optim.Adam(D.parameters(), lr=..., betas=..., **layout.optimizer_kwargs())
    for ...:
        x = layout.batch(x)
        one_stage_step(G, D, opt_g, opt_d, objective, x, z, y, fused=layout.fused, as_float=False)

``python -m osgan bench`` prints what a run would choose.
"""

from __future__ import annotations

import copy
import inspect
import json
import statistics
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import Tensor, nn

from osgan import losses, steps, timing, util
from osgan.models import is_per_sample
from osgan.util import cache_root, write_json

STAGES = ("one", "two")

# Per device type and scheme, the fastest layout of the recorded CPU timings
# (results/bench-cpu/layouts-*.json, scripts/record_layouts.py: DCGAN, batch 64, a quiet core).
# One stage gains most from two D passes (no input gradient for the real half); two stages were
# within noise of their best with the same layout, which keeps the comparison like for like.
# On CUDA nothing is recorded yet: today's layout (NCHW, fused) stays, and autotune=True
# measures the candidates.
DEFAULTS: dict[tuple[str, str], dict[str, bool]] = {
    ("cpu", "one"): dict(channels_last_g=True, channels_last_d=True, fused=False),
    ("cpu", "two"): dict(channels_last_g=True, channels_last_d=True, fused=False),
    ("cuda", "one"): dict(channels_last_g=False, channels_last_d=False, fused=True),
    ("cuda", "two"): dict(channels_last_g=False, channels_last_d=False, fused=True),
}


@dataclass(frozen=True)
class Layout:
    channels_last_g: bool  # G in NHWC memory format
    channels_last_d: bool  # D and the images it reads (real and fake) in NHWC memory format
    fused: bool  # D over [x; x_hat] as one batch of 2B; False: two batches of B
    threads: int  # torch intra-op threads this layout was chosen for
    adam_fused: bool  # torch.optim.Adam(fused=True): one kernel for every parameter
    source: str = "default"  # "default" (DEFAULTS), "autotune" (measured now), "cache", "given"

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


def adam_fused_supported(device: torch.device) -> bool:
    """Whether this torch has ``Adam(fused=True)`` for ``device``."""
    if "fused" not in inspect.signature(torch.optim.Adam).parameters:
        return False
    try:
        from torch.optim.optimizer import _get_fused_kernels_supported_devices
    except ImportError:
        return device.type == "cuda"
    return device.type in _get_fused_kernels_supported_devices()


def default(D: nn.Module, device: torch.device | str, threads: int | None = None,
            stages: str = "one") -> Layout:
    """The recorded default for the device type and scheme (``stages``: "one" or "two");
    ``fused`` is dropped for a D with BatchNorm."""
    if stages not in STAGES:
        raise ValueError(f"stages must be one of {STAGES}; got {stages!r}")
    device = torch.device(device)
    d = DEFAULTS.get((device.type, stages), DEFAULTS[("cuda", stages)])
    return Layout(channels_last_g=d["channels_last_g"], channels_last_d=d["channels_last_d"],
                  fused=d["fused"] and is_per_sample(D),
                  threads=threads or torch.get_num_threads(),
                  adam_fused=adam_fused_supported(device), source="default")


def candidates(D: nn.Module, device: torch.device, threads: int) -> list[Layout]:
    """Every layout worth timing: G's and D's memory formats x D pass (two passes only, with
    BatchNorm)."""
    fused = (True, False) if is_per_sample(D) else (False,)
    return [Layout(g, d, f, threads, adam_fused_supported(device), "autotune")
            for g in (False, True) for d in (False, True) for f in fused]


def _key(G, D, objective, x, device, threads, stages) -> str:

    shapes = [tuple(p.shape) for m in (G, D) for p in m.parameters()]
    return json.dumps([util.device_name(device), torch.__version__, threads, stages, objective.name,
                       type(G).__name__, type(D).__name__, str(shapes), list(x.shape),
                       is_per_sample(D)])


def _read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def time_layouts(G: nn.Module, D: nn.Module, objective: losses.Objective, x: Tensor,
                 layouts: list[Layout], *, stages: str = "one", y: Tensor | None = None,
                 nz: int | None = None, repeats: int = 3, warmup: int = 1) -> list[list[float]]:
    """Seconds per round of ``stages`` under each layout, on copies of G and D (the models are
    untouched), interleaved round-robin so that other load falls on all alike."""
    if stages not in STAGES:
        raise ValueError(f"stages must be one of {STAGES}; got {stages!r}")
    device = x.device
    gen = torch.Generator().manual_seed(0)
    nz = nz or G.cfg.nz
    z = torch.randn(x.shape[0], nz, generator=gen).to(device, x.dtype)
    fns = {}
    for i, lay in enumerate(layouts):
        G_, D_ = copy.deepcopy(G), copy.deepcopy(D)
        lay.apply(G_, D_)
        x_ = lay.batch(x)
        opt_g = torch.optim.Adam(G_.parameters(), lr=2e-4, betas=(0.5, 0.999), **lay.optimizer_kwargs())
        opt_d = torch.optim.Adam(D_.parameters(), lr=2e-4, betas=(0.5, 0.999), **lay.optimizer_kwargs())
        if stages == "one":
            fns[i] = (lambda G_=G_, D_=D_, og=opt_g, od=opt_d, x_=x_, f=lay.fused: steps.one_stage_step(
                G_, D_, og, od, objective, x_, z, y, fused=f, as_float=False))
        else:
            fns[i] = (lambda G_=G_, D_=D_, og=opt_g, od=opt_d, x_=x_, f=lay.fused: steps.two_stage_step(
                G_, D_, og, od, objective, x_, z, y, variant="paper", fused=f, as_float=False))
    # one thread on a CPU: CPU time of the process (robust to other load); else wall-clock
    clock = "cpu" if device.type == "cpu" and torch.get_num_threads() == 1 else "wall"
    times = timing.round_robin(fns, device, repeats, warmup, clock)
    return [times[i] for i in range(len(layouts))]


def choose(G: nn.Module, D: nn.Module, x_example: Tensor, device: torch.device | str | None = None,
           *, objective: losses.Objective | None = None, stages: str = "one",
           autotune: bool = False, y: Tensor | None = None, cache: Path | None | str = "default"
           ) -> Layout:
    """The layout a run uses for G, D and batches shaped like ``x_example`` on ``device``.

    ``autotune=False``: the recorded default for the device type (:data:`DEFAULTS`).
    ``autotune=True``: the fastest of :func:`candidates` for a round of ``stages`` ("one" or
    "two"), timed now on copies of the models (a few rounds each; for DCGAN 64x64 on one CPU
    thread about a minute) or read from ``cache`` when this device, torch, thread count, model
    and batch shape were timed before (``"default"``: ``cache_root()/layout.json``; None: no
    cache). ``objective`` defaults to ``dcgan``.
    """
    if cache == "default":
        cache = cache_root() / "layout.json"
    device = torch.device(device) if device is not None else x_example.device
    threads = torch.get_num_threads()
    if not autotune:
        return default(D, device, threads, stages)
    objective = objective or losses.get("dcgan")
    x = x_example.to(device)
    key = _key(G, D, objective, x, device, threads, stages)
    if cache is not None and key in (stored := _read_cache(cache)):
        return Layout(**(stored[key] | {"source": "cache"}))
    layouts = candidates(D, device, threads)
    times = time_layouts(G, D, objective, x, layouts, stages=stages, y=y)
    best = layouts[min(range(len(layouts)), key=lambda i: statistics.median(times[i]))]
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        stored = _read_cache(cache) | {key: asdict(best)}
        write_json(cache, stored)  # atomic: two runs starting at once never read half a file
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
