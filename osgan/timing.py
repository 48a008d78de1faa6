r"""Where a training round's time goes: the cost model of Sec. 3.2 (Eq. 10-17), measured.

The paper splits each network's work on a batch into forward inference :math:`\mathcal{T}_{form}`,
back-propagation to the input (activation gradients) :math:`\mathcal{T}_{back}` and
parameter-gradient computation :math:`\mathcal{T}_{para}`, assumes real and fake batches cost the
same (Eq. 10) and all three parts cost the same, :math:`\mathcal{T}` (Eq. 11-12). Counting passes
in Fig. 2 then gives

.. math::
   \mathcal{T}_{stage1} = \mathcal{T}^g + 6\mathcal{T}^d \;(13), \qquad
   \mathcal{T}_{stage2} = 3\mathcal{T}^g + 2\mathcal{T}^d \;(14), \qquad
   \mathcal{T}_{two} = 4\mathcal{T}^g + 8\mathcal{T}^d \;(15),

.. math::
   \mathcal{T}_{one} = 3\mathcal{T}^g + 6\mathcal{T}^d \;(16), \qquad
   S = \mathcal{T}_{two} / \mathcal{T}_{one} = 4/3 \;(17).

In this implementation we drop Eq. 10-12 and *measure* the six parts of G and D on the device
(:func:`measure`): the forward (autograd recording, as in training), the input-gradient backward
(parameters frozen) and, by difference, the parameter gradients. The same pass counts then predict
each scheme (:data:`COUNTS`, :func:`predict`) from measured parts instead of from one
:math:`\mathcal{T}`. Deviations and additions:

* D's pass over real *and* fake samples is its own part (``dd_*``): with ``fused=True`` it is one
  pass over a batch of 2B (measured), otherwise two passes over B. Eq. 10 is the special case
  ``dd = 2 d``; on real hardware a batch of 2B is rarely exactly twice as slow.
* The ``reuse`` two-stage variant (:func:`osgan.steps.two_stage_step`) keeps stage 1's
  :math:`\hat x` for stage 2, saving one G forward: :math:`3\mathcal{T}^g + 8\mathcal{T}^d`.
* Both schemes take one Adam step of G and one of D per round; the paper's count leaves them out.
  :func:`predict` adds the measured optimizer times when ``optimizer=True`` (they lower the
  speedup a little, equally for every scheme).
* Stage 1's D backward stops at D's first layer (:math:`\hat x` is detached); one stage needs
  :math:`\nabla_{\hat x}` and, with a fused pass, computes the input gradient of the real half
  too. That input gradient is its own part, ``dd_in``, paid by one stage only (the paper counts
  a full back-propagation in stage 1, i.e. ``dd_in`` = 0 in :meth:`Costs.equal`). With
  separate passes ``dd_in`` is measured over both halves although the step needs it for the
  fake half only, so the model over-charges one stage by about half of it there.
* Stage 1's G runs without autograd; we charge it at the measured training-mode forward, as the
  paper does. The residual ``measured - predicted`` of each round shows what the model misses
  (losses, gamma, ``zero_grad``, the allocator, caches).

How far a round is from what the machine could do (Sec. 3.2 counts time in passes; we also count
work): :func:`round_flops` counts the floating-point operations of one round of each scheme with
``torch.utils.flop_counter`` (the matrix products and convolutions of every forward and backward
pass, two per multiply-add; normalisation, activations, losses and Adam count nothing), and
:func:`measure` can time a float32 matrix product of side ``matmul_n`` in the same round-robin
as the rounds: the achieved FLOP rate of a round over that product's rate
(:func:`matmul_share`) is its distance from the hardware's limit on this device, at this thread
count, under the same load.

Timing: warm-up runs are discarded; every measurement is repeated and its median kept. All the
quantities of one call are interleaved round-robin (one repeat of each, then the next repeat) so
that load from other processes falls on all of them alike. On CUDA each call is timed with CUDA
events after a ``synchronize``; on CPU with :func:`time.perf_counter`, or with the process's CPU
time (``clock="cpu"``) on a CPU shared with other work.
"""

from __future__ import annotations

import contextlib
import copy
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from osgan import steps, util
from osgan.losses import Objective
from osgan.models import call

PARTS = ("g_fwd", "g_back", "g_para", "d_fwd", "d_back", "d_para", "dd_fwd", "dd_back", "dd_para",
         "dd_in")
SCHEMES = ("one_stage", "two_stage_paper", "two_stage_reuse")

# How many times each scheme pays each part (Fig. 2). dd_* is D's pass over real and fake
# samples together (one pass over 2B fused, or two over B); d_* is D on fake samples alone.
COUNTS: dict[str, dict[str, int]] = {
    # Eq. 16: G forward + backward + parameter gradients; D forward + backward + parameter
    # gradients over real and fake, down to D's input (dd_in). 3 T^g + 6 T^d under Eq. 10-12.
    "one_stage": {"g_fwd": 1, "g_back": 1, "g_para": 1, "dd_fwd": 1, "dd_back": 1, "dd_para": 1,
                  "dd_in": 1},
    # Eq. 13 (stage 1: G forward, D on real and fake with parameter gradients) + Eq. 14 (stage 2:
    # new z, G forward, backward and parameter gradients, frozen D forward and backward on fake).
    # 4 T^g + 8 T^d.
    "two_stage_paper": {"g_fwd": 2, "g_back": 1, "g_para": 1, "dd_fwd": 1, "dd_back": 1,
                        "dd_para": 1, "d_fwd": 1, "d_back": 1},
    # as the paper's, but stage 2 back-propagates stage 1's x_hat: G runs forward once.
    # 3 T^g + 8 T^d.
    "two_stage_reuse": {"g_fwd": 1, "g_back": 1, "g_para": 1, "dd_fwd": 1, "dd_back": 1,
                        "dd_para": 1, "d_fwd": 1, "d_back": 1},
}


@dataclass
class TimingConfig:
    repeats: int = 7  # timed repeats of every quantity; medians are reported
    warmup: int = 2  # untimed runs of every quantity first (allocator, cudnn autotuning, compile)
    lr: float = 2e-4  # Adam learning rate of the measured steps (DCGAN's)
    betas: tuple[float, float] = (0.5, 0.999)  # Adam betas of the measured steps (DCGAN's)
    clock: str = "wall"  # "wall" (CUDA events / perf_counter) or "cpu" (process CPU time, CPU only)


@dataclass
class Costs:
    """Seconds per part for one batch of B samples (medians). ``opt_*``: one Adam step."""

    g_fwd: float  # T^g_form: G(z), recording autograd
    g_back: float  # T^g_back: G's activation gradients (parameters frozen)
    g_para: float  # T^g_para: G's parameter gradients, on top of g_back
    d_fwd: float  # T^d_form on B samples
    d_back: float  # T^d_back on B samples
    d_para: float  # T^d_para on B samples
    dd_fwd: float  # D forward over real and fake: one pass of 2B (fused) or 2 x d_fwd
    dd_back: float  # the same for the activation gradients, short of D's input
    dd_para: float  # the same for the parameter gradients
    dd_in: float = 0.0  # the gradient w.r.t. D's input over real and fake (one stage only)
    opt_g: float = 0.0  # one Adam step of G
    opt_d: float = 0.0  # one Adam step of D

    @classmethod
    def equal(cls, t_g: float, t_d: float, opt_g: float = 0.0, opt_d: float = 0.0) -> Costs:
        """The paper's assumptions: forward = backward = parameter gradient (Eq. 11-12) and
        real batch = fake batch (Eq. 10, so D over real and fake costs twice D over one)."""
        return cls(g_fwd=t_g, g_back=t_g, g_para=t_g, d_fwd=t_d, d_back=t_d, d_para=t_d,
                   dd_fwd=2 * t_d, dd_back=2 * t_d, dd_para=2 * t_d, dd_in=0.0,
                   opt_g=opt_g, opt_d=opt_d)

    @property
    def T_g(self) -> float:
        r""":math:`\mathcal{T}^g`: the mean of G's three parts (the paper's single time)."""
        return (self.g_fwd + self.g_back + self.g_para) / 3

    @property
    def T_d(self) -> float:
        r""":math:`\mathcal{T}^d`: the mean of D's three parts on B samples."""
        return (self.d_fwd + self.d_back + self.d_para) / 3


def predict(costs: Costs, scheme: str, *, optimizer: bool = True) -> float:
    """Predicted seconds per training round of ``scheme`` (one of :data:`SCHEMES`): the pass
    counts of :data:`COUNTS` times the measured parts, plus both optimizer steps if asked."""
    if scheme not in COUNTS:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of: {', '.join(SCHEMES)}")
    parts = asdict(costs)
    t = sum(n * parts[k] for k, n in COUNTS[scheme].items())
    return t + (costs.opt_g + costs.opt_d if optimizer else 0.0)


def breakdown(costs: Costs, scheme: str) -> dict[str, float]:
    """Where ``scheme``'s predicted time goes: seconds per part (``g_fwd``, ..., ``dd_para``,
    ``opt``), each part's cost times its pass count. Sums to :func:`predict`."""
    if scheme not in COUNTS:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of: {', '.join(SCHEMES)}")
    parts = asdict(costs)
    out = {k: COUNTS[scheme].get(k, 0) * parts[k] for k in PARTS}
    out["opt"] = costs.opt_g + costs.opt_d
    return out


def speedup(costs: Costs, baseline: str = "two_stage_paper", *, optimizer: bool = True) -> float:
    """Predicted per-round speedup of one stage over ``baseline``; 4/3 (Eq. 17) under Eq. 10-12
    without optimizer steps."""
    one = predict(costs, "one_stage", optimizer=optimizer)
    return predict(costs, baseline, optimizer=optimizer) / one


# --- measuring ---------------------------------------------------------------------------------


CLOCKS = ("wall", "cpu")


class Timer:
    """Seconds taken by ``fn()``: CUDA events on a GPU (device time, no host-side noise),
    ``perf_counter`` on CPU. Either way the device is idle before the call starts.

    ``clock="cpu"`` (CPU only) counts the CPU time of this process instead
    (:func:`time.process_time`): on a CPU shared with other processes it measures the work done,
    not the time slices lost to them. With one thread it is the work's duration on a quiet core;
    with more it also counts threads spinning at barriers.
    """

    def __init__(self, device: torch.device, clock: str = "wall"):
        self.cuda = torch.device(device).type == "cuda"
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {CLOCKS}; got {clock!r}")
        if clock == "cpu" and self.cuda:
            raise ValueError("clock='cpu' times CPU work; on CUDA use clock='wall' (CUDA events)")
        self.clock = time.process_time if clock == "cpu" else time.perf_counter

    def __call__(self, fn: Callable[[], object]) -> float:
        if self.cuda:
            torch.cuda.synchronize()  # a sync point: nothing else may be queued before start
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3
        t0 = self.clock()
        fn()
        return self.clock() - t0


def round_robin(fns: dict[str, Callable[[], object]], device, repeats: int,
                warmup: int, clock: str = "wall") -> dict[str, list[float]]:
    """Time every callable ``repeats`` times after ``warmup`` untimed calls, interleaved: one
    call of each in turn, ``repeats`` rounds. Returns name -> list of seconds."""
    timer = Timer(device, clock)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            times[k].append(timer(fn))
    return times


@contextlib.contextmanager
def _frozen(module: nn.Module):
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(f)


def part_closures(G: nn.Module, D: nn.Module, objective: Objective, x: Tensor, z: Tensor,
                  y: Tensor | None = None, *, fused: bool = True,
                  context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                  ) -> dict[str, Callable[[], object]]:
    """Callables whose times give the parts of :class:`Costs` by difference:
    ``*_f`` forward only, ``*_fb`` forward + input-gradient backward (parameters frozen),
    ``*_fbp`` forward + full backward, ``dd_bp`` forward + parameter-gradient backward with the
    input detached (stage 1). ``dd`` is D over ``[x; x]`` (2B) when fused, else two passes.
    ``context`` wraps every call (e.g. bf16 autocast)."""
    cond = objective.conditional
    g_seed = None  # d loss / d x_hat: any fixed tensor of x_hat's shape

    def run_g(mode: str):
        nonlocal g_seed
        z_ = z.detach().requires_grad_(mode != "f")
        G.zero_grad(set_to_none=True)  # assign, not accumulate, as a training step does
        with context(), (_frozen(G) if mode == "fb" else contextlib.nullcontext()):
            x_hat = call(G, z_, y if cond else None)
            if g_seed is None:
                g_seed = torch.randn_like(x_hat)
            if mode != "f":
                x_hat.backward(g_seed)

    def run_d(mode: str, pair: bool):
        if pair and fused:
            xs = [torch.cat([x, x])]
            ys = [torch.cat([y, y])] if cond else [None]
        else:
            xs = [x, x] if pair else [x]
            ys = [y] * len(xs)
        D.zero_grad(set_to_none=True)
        for x_, y_ in zip(xs, ys, strict=True):
            x_ = x_.detach().requires_grad_(mode in ("fb", "fbp"))
            with context(), (_frozen(D) if mode == "fb" else contextlib.nullcontext()):
                p = call(D, x_, y_ if cond else None)
                if mode != "f":
                    p.sum().backward()

    G.zero_grad(set_to_none=True)
    D.zero_grad(set_to_none=True)
    fns: dict[str, Callable[[], object]] = {}
    for mode in ("f", "fb", "fbp"):
        fns[f"g_{mode}"] = lambda m=mode: run_g(m)
        fns[f"d_{mode}"] = lambda m=mode: run_d(m, False)
        fns[f"dd_{mode}"] = lambda m=mode: run_d(m, True)
    fns["dd_bp"] = lambda: run_d("bp", True)
    return fns


def costs_from_times(times: dict[str, list[float]]) -> Costs:
    """Medians of :func:`part_closures`' timings -> :class:`Costs` (back = fb - f,
    para = fbp - fb; for ``dd``: in = fbp - bp, taken out of back)."""
    med = {k: float(statistics.median(v)) for k, v in times.items()}
    out = {}
    for net in ("g", "d", "dd"):
        out[f"{net}_fwd"] = med[f"{net}_f"]
        out[f"{net}_back"] = med[f"{net}_fb"] - med[f"{net}_f"]
        out[f"{net}_para"] = med[f"{net}_fbp"] - med[f"{net}_fb"]
    if "dd_bp" in med:
        out["dd_in"] = med["dd_fbp"] - med["dd_bp"]
        out["dd_back"] -= out["dd_in"]
    return Costs(**out, opt_g=med.get("opt_g", 0.0), opt_d=med.get("opt_d", 0.0))


def step_closures(G: nn.Module, D: nn.Module, opt_g, opt_d, objective: Objective, x: Tensor,
                  z: Tensor, y: Tensor | None = None, *, fused: bool | None = None,
                  as_float: bool = False,
                  context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                  ) -> dict[str, Callable[[], object]]:
    """One callable per scheme of :data:`SCHEMES`, each a full training round of
    :mod:`osgan.steps` (optimizer steps included). ``as_float=False`` keeps the statistics on the
    device, so the step never waits for the host."""
    kw = dict(fused=fused, as_float=as_float)

    def one():
        with context():
            steps.one_stage_step(G, D, opt_g, opt_d, objective, x, z, y, **kw)

    def two(variant):
        with context():
            steps.two_stage_step(G, D, opt_g, opt_d, objective, x, z, y, variant=variant, **kw)

    return {"one_stage": one, "two_stage_paper": lambda: two("paper"),
            "two_stage_reuse": lambda: two("reuse")}


def optimizer_closures(G: nn.Module, D: nn.Module, opt_g, opt_d) -> dict[str, Callable[[], object]]:
    """One Adam step of G and of D on fixed random gradients (``opt_g``, ``opt_d``)."""

    def step(module, opt):
        grads = [(p, torch.randn_like(p) * 1e-3) for p in module.parameters() if p.requires_grad]

        def fn():
            for p, g in grads:
                p.grad = g  # an assignment: only the step itself is timed
            opt.step()
        return fn

    return {"opt_g": step(G, opt_g), "opt_d": step(D, opt_d)}


@dataclass
class Measurement:
    """What :func:`measure` returns: the parts, the measured rounds and the model's predictions."""

    costs: Costs  # medians of the parts
    measured: dict[str, float]  # scheme -> median seconds per round
    spread: dict[str, tuple[float, float]]  # scheme -> (25th, 75th percentile) seconds
    predicted: dict[str, float]  # scheme -> predict(costs, scheme)
    times: dict[str, list[float]]  # every raw timing, by quantity
    matmul_rate: float = math.nan  # FLOP/s of the float32 matrix product timed beside (nan: none)
    flops: dict[str, int] = field(default_factory=dict)  # scheme -> round_flops (empty: not counted)

    def speedups(self, baseline: str) -> dict[str, float]:
        """Measured and predicted speedup of one stage over ``baseline``."""
        return {
            "measured": self.measured[baseline] / self.measured["one_stage"],
            "predicted": self.predicted[baseline] / self.predicted["one_stage"],
            "eq17": 4 / 3 if baseline == "two_stage_paper" else float("nan"),
        }


    def flop_rates(self) -> dict[str, float]:
        """Achieved FLOP/s of each scheme's round: its FLOPs over its median time."""
        return {s: flop_rate(n, self.measured[s]) for s, n in self.flops.items()}


def quartiles(v: list[float]) -> tuple[float, float]:
    if len(v) < 2:
        return (v[0], v[0])
    q = statistics.quantiles(v, n=4, method="inclusive")
    return (q[0], q[2])


def measure(G: nn.Module, D: nn.Module, objective: Objective, x: Tensor, z: Tensor,
            y: Tensor | None = None, *, fused: bool | None = None, as_float: bool = False,
            cfg: TimingConfig | None = None,
            context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
            optimizer_kwargs: dict | None = None, matmul_n: int = 0,
            flops: dict[str, int] | None = None) -> Measurement:
    """Measure the parts of G and D and the three real training rounds, all interleaved in one
    round-robin, and predict each round from the parts.

    ``x`` (B, C, S, S), ``z`` (B, nz) and ``y`` live on the models' device. ``fused`` is passed
    to the steps (``None``: fused when D is per-sample) and decides how ``dd_*`` is measured.
    The models' parameters and buffers are restored afterwards (the steps update them).
    ``optimizer_kwargs`` go to both Adams (e.g. ``fused=True``, :meth:`osgan.layout.Layout.optimizer_kwargs`).
    ``matmul_n > 0`` also times a float32 product of two ``matmul_n`` x ``matmul_n`` matrices in
    the same round-robin (``matmul_rate``); ``flops`` (:func:`round_flops`) is carried along.
    """
    cfg = cfg or TimingConfig()
    fused_ = steps.resolve_fused(D, fused)
    device = x.device
    saved = [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in (G, D)]
    opt_kw = optimizer_kwargs or {}
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=cfg.betas, **opt_kw)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=cfg.betas, **opt_kw)
    fns = part_closures(G, D, objective, x, z, y, fused=fused_, context=context)
    fns |= optimizer_closures(G, D, opt_g, opt_d)
    fns |= step_closures(G, D, opt_g, opt_d, objective, x, z, y, fused=fused, as_float=as_float,
                         context=context)
    if matmul_n > 0:
        fns["matmul"] = matmul_closure(matmul_n, device)
    try:
        times = round_robin(fns, device, cfg.repeats, cfg.warmup, cfg.clock)
    finally:
        for m, s in zip((G, D), saved, strict=True):
            m.load_state_dict(s)
            m.zero_grad(set_to_none=True)
    costs = costs_from_times(times)
    return Measurement(
        costs=costs,
        measured={s: statistics.median(times[s]) for s in SCHEMES},
        spread={s: quartiles(times[s]) for s in SCHEMES},
        predicted={s: predict(costs, s) for s in SCHEMES},
        times=times,
        matmul_rate=flop_rate(matmul_flops(matmul_n), statistics.median(times["matmul"]))
        if matmul_n > 0 else math.nan,
        flops=dict(flops or {}),
    )


# --- work: FLOPs and the machine's matrix-product rate ------------------------------------------

MATMUL_N = 2048  # the reference product: large enough to run near a core's peak, 0.1 s on one


def matmul_flops(n: int) -> int:
    """FLOPs of the product of two ``n`` x ``n`` matrices: :math:`n^2` outputs of ``n``
    multiply-adds each, counted as two operations."""
    return 2 * n**3


def matmul_closure(n: int, device: torch.device | str, dtype=torch.float32) -> Callable[[], object]:
    """A callable computing ``a @ b`` for two fixed random ``n`` x ``n`` matrices into a fixed
    output (no allocation timed)."""
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=gen).to(device, dtype) for _ in range(2))
    out = torch.empty(n, n, device=device, dtype=dtype)
    return lambda: torch.mm(a, b, out=out)


def flop_rate(flops: float, seconds: float) -> float:
    """FLOP/s: ``flops`` done in ``seconds`` (nan for a non-positive time)."""
    return flops / seconds if seconds > 0 else math.nan


def matmul_share(rate: float, matmul_rate: float) -> float:
    """An achieved FLOP rate as a fraction of the matrix product's (1: as fast per FLOP as a
    large float32 product on the same device and threads)."""
    return rate / matmul_rate if matmul_rate > 0 else math.nan


def _count_flops(G, D, objective, x, z, y, fused, schemes, device) -> dict[str, int]:
    G_, D_ = copy.deepcopy(G).to(device), copy.deepcopy(D).to(device)
    objective = copy.deepcopy(objective)  # its state (Fisher GAN's multiplier) stays as it was
    x_, z_ = x.to(device), z.to(device)
    y_ = y.to(device) if y is not None else None
    # a plain for-loop Adam: it exists for every device (its work counts nothing anyway)
    opt_g = torch.optim.Adam(G_.parameters(), foreach=False)
    opt_d = torch.optim.Adam(D_.parameters(), foreach=False)
    fns = step_closures(G_, D_, opt_g, opt_d, objective, x_, z_, y_, fused=fused)
    out = {}
    with util.rng_kept(device):  # stage 2's second z: the global stream untouched
        for s in schemes:
            with FlopCounterMode(display=False) as counter:
                fns[s]()
            out[s] = int(counter.get_total_flops())
    return out


def round_flops(G: nn.Module, D: nn.Module, objective: Objective, x: Tensor, z: Tensor,
                y: Tensor | None = None, *, fused: bool | None = None,
                schemes: tuple[str, ...] = SCHEMES) -> dict[str, int]:
    """FLOPs of one training round of each of ``schemes``, as ``FlopCounterMode`` counts them:
    the matrix products and convolutions of every forward and backward pass, two per
    multiply-add. Counted on copies of G and D on the meta device (shapes only: nothing is
    computed, the models are untouched), or, where an op has no meta kernel, on copies on ``x``'s
    device. The count depends on the shapes and the D pass (``fused``), not on the device, the
    memory format or the values."""
    for s in schemes:
        if s not in COUNTS:
            raise ValueError(f"unknown scheme {s!r}; choose one of: {', '.join(SCHEMES)}")
    try:
        return _count_flops(G, D, objective, x, z, y, fused, schemes, "meta")
    except (NotImplementedError, RuntimeError):
        return _count_flops(G, D, objective, x, z, y, fused, schemes, x.device)
