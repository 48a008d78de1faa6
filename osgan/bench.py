r"""``python -m osgan bench``: one- vs two-stage rounds, measured side by side and set against the
cost model of Eq. 13-17 (:mod:`osgan.timing`).

For every point of a sweep (objective x resolution x width x batch size x fused/separate D pass)
one run of :func:`osgan.timing.measure` times the parts of G and D and the three real rounds
(``one_stage``, ``two_stage_paper``, ``two_stage_reuse``) interleaved, predicts each round from
the parts and reports measured and predicted speedups next to Eq. 17's 4/3. Then, on the sweep's
first point (``--options-on all``: on every point), each speed option is switched on alone, then
all but ``sync`` together
(labelled ``channels_last+bf16+...``):

* ``layout``: what a run uses (:mod:`osgan.layout`): this machine's memory formats for G and D
  (its record, else the choice cached or measured now) and ``Adam(fused=True)``, with the point's
  D pass; measured by default, and the layout a run uses is printed with where it came from;
* ``channels_last``: models and images in NHWC memory format;
* ``bf16``: ``torch.autocast`` to bfloat16 around every pass (CUDA, and CPUs whose oneDNN has
  bfloat16 kernels), as a run with ``precision="bfloat16"`` trains. It changes what a step
  computes (bfloat16 rounding), so runs use it only when asked;
* ``compile``: ``torch.compile`` of G and D (slow to warm up);
* ``cudnn_benchmark``: ``torch.backends.cudnn.benchmark = True`` (CUDA only);
* ``sync``: the steps return Python floats (``as_float=True``), a host-device synchronisation per
  round, to show what keeping statistics on the device saves (never combined).

Every option applies to the one- and two-stage rounds alike, so the comparison stays fair.

Beside each point the bench counts each round's FLOPs (:func:`osgan.timing.round_flops`: matrix
products and convolutions, forward and backward) and times a float32 product of two
``matmul_n`` x ``matmul_n`` matrices in the same round-robin, at the same thread count: each row
then holds the round's achieved FLOP rate and its share of that product's rate (how far the step
is from what this device does at its best), and two stages' FLOPs over one stage's, the work
ratio beside Eq. 17's time ratio of 4/3. The
baseline already uses ``zero_grad(set_to_none=True)`` and keeps statistics on the device. The
symmetric objective (``dcgan``) gets :math:`\gamma = -1` for free; the asymmetric one
(``dcgan_ns``) pays for :math:`\gamma` by autograd on D's outputs: the sweep over objectives
shows that cost.

The defaults are the paper's setting: DCGAN at 64x64, width 64, batch 64, fused and separate D
passes, so ``python -m osgan bench --device cpu`` prints the per-round speedup on this CPU. Within
a point everything is interleaved; points (and options) are measured one after another, so on a
busy machine compare ratios within a row rather than times across rows. On a CPU shared with
other work, ``--threads 1 --clock cpu`` times the CPU work of one thread instead of wall-clock.

Writes ``bench.csv`` (one row per point, option and scheme) and ``bench.json`` (the same rows,
the parts, raw timings and ``meta``: device name, CPU model, commit, library versions, threads,
command) to
``--out-dir``, and prints a table of ratios. Timings are never asserted anywhere: they depend
on the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import io
import json
import math
import os
import platform
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from osgan import layout, losses, models, settings, timing, util
from osgan.settings import resolve_device, setting
from osgan.util import UsageError, atomic_write, check_count, check_seed, git

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"  # recorded runs (GPU) live here
OPTIONS = ("layout", "channels_last", "bf16", "compile", "cudnn_benchmark", "sync")
FUSED = ("fused", "separate")
_CUDA_ONLY = ("bf16", "cudnn_benchmark")
OPTIONS_ON = ("first", "all")  # which points of the grid the speed options are measured on
BENCH_FILES = ("bench.csv", "bench.json")  # what an output folder of bench holds


@dataclass
class BenchConfig:
    objectives: tuple[str, ...] = setting(("dcgan",), "objectives (osgan.losses): dcgan is "
                                          "symmetric (gamma=-1), dcgan_ns asymmetric")
    image_sizes: tuple[int, ...] = setting((64,), "32 or 64 (the DCGAN layouts of osgan.models)")
    widths: tuple[int, ...] = setting((64,), "ngf = ndf of the DCGAN models")
    batch_sizes: tuple[int, ...] = setting((64,), "B real and B fake samples per round")
    fused: tuple[str, ...] = setting(FUSED, "D over real and fake: fused (one 2B pass) or "
                                     "separate")
    options: tuple[str, ...] = setting(("layout",), "speed options, each alone on the first "
                                       "point (--options-on all: on every point)")
    options_on: str = setting("first", "first: the options on the grid's first point; all: on "
                              "every one")
    channels: int = setting(3, "image channels (3: CelebA / LSUN at 64x64; 1: Fashion-MNIST)")
    nz: int = setting(100, "latent dimension")
    repeats: int = setting(7, "timed repeats per quantity (medians reported)")
    warmup: int = setting(2, "untimed runs per quantity first")
    threads: int = setting(0, "torch.set_num_threads on CPU (0 keeps torch's default)")
    clock: str = setting("wall", "wall; or cpu: process CPU time, for a CPU shared with others")
    device: str = setting("auto", "auto (CUDA when available), cpu, cuda, cuda:1, ...")
    seed: int = setting(0, "seeds model initialisation and the random batches")
    matmul_n: int = setting(timing.MATMUL_N, "side of the float32 matrix product timed beside "
                            "each point: the device's reference FLOP rate (0: not timed)")
    out_dir: str = setting("runs/bench", "where bench.csv and bench.json go")

    @classmethod
    def for_profile(cls, profile: str, **overrides) -> BenchConfig:
        """The sweep of a profile (``osgan.settings.PROFILES``, key ``BenchConfig``): ``smoke``:
        seconds on a CPU; ``quick``: a CPU sweep of a few minutes, one thread, CPU time;
        ``full``: the GPU sweep recorded in ``results/``; then ``overrides``."""
        return settings.for_profile(cls, profile, **overrides)

    def check(self) -> None:
        self.validate()

    def validate(self) -> None:
        """ValueError naming the first bad value; also refuses an output folder that is a file or
        holds files other than an earlier bench's, before anything is measured."""
        for name in ("channels", "nz", "repeats"):
            check_count(name, getattr(self, name))
        for name in ("warmup", "threads", "matmul_n"):
            check_count(name, getattr(self, name), minimum=0)
        check_seed("seed", self.seed)
        for name in ("objectives", "image_sizes", "widths", "batch_sizes", "fused"):
            if not getattr(self, name):
                raise ValueError(f"{name} must name at least one value")
        for v in self.widths + self.batch_sizes:
            check_count("widths and batch_sizes", v)
        if self.out_dir:
            out = Path(self.out_dir)
            if out.exists() and not out.is_dir():
                raise ValueError(f"out_dir {out} is a file; give a folder for bench.csv and "
                                 "bench.json")
            foreign = [f.name for f in out.iterdir() if f.name not in BENCH_FILES] \
                if out.is_dir() else []
            if foreign:
                raise ValueError(f"out_dir {out} holds files that bench did not write "
                                 f"({', '.join(sorted(foreign)[:3])}); it is left alone: choose "
                                 "another --out-dir")
        for o in self.objectives:
            losses.get(o)  # raises ValueError listing the names
        for s in self.image_sizes:
            models.check_size(s)
        for f in self.fused:
            if f not in FUSED:
                raise ValueError(f"fused must be among {FUSED}; got {f!r}")
        for o in self.options:
            if o not in OPTIONS:
                raise ValueError(f"unknown option {o!r}; choose among: {', '.join(OPTIONS)}")
        if self.options_on not in OPTIONS_ON:
            raise ValueError(f"options_on must be one of {OPTIONS_ON}; got {self.options_on!r}")
        if self.clock not in timing.CLOCKS:
            raise ValueError(f"clock must be one of {timing.CLOCKS}; got {self.clock!r}")
        if min(self.widths + self.batch_sizes) < 1 or self.repeats < 1 or self.warmup < 0:
            raise ValueError("widths, batch sizes and repeats must be >= 1, warmup >= 0")


@dataclass
class BenchResult:
    rows: list[dict]  # one per point x option x scheme (the CSV)
    meta: dict  # device, versions, command, config
    points: list[dict] = field(default_factory=list)  # per point x option: costs and raw times
    out_dir: Path | None = None


# --- environment --------------------------------------------------------------------------------


def environment(device: torch.device) -> dict:
    """Device, CPU model, commit and library versions, stored with every result."""
    import torchvision

    return {
        "device": str(device),
        "device_type": device.type,
        "device_name": util.device_name(device),
        "cpu": util.device_name(torch.device("cpu")),
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", "osgan")),
        "cpu_count": os.cpu_count(),
        "mkl_instructions": os.environ.get("MKL_ENABLE_INSTRUCTIONS"),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _resolve_device(name: str) -> torch.device:
    return resolve_device(name)


# --- one point ----------------------------------------------------------------------------------


def _cpu_bf16() -> bool:
    """Whether oneDNN has bfloat16 kernels on this CPU (AVX-512 BF16, AMX): then ``bf16`` is
    worth timing on CPU too."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _applicable(options: tuple[str, ...], device: torch.device) -> tuple[str, ...]:
    return tuple(o for o in options if device.type == "cuda" or o not in _CUDA_ONLY
                 or (o == "bf16" and _cpu_bf16()))


def measure_point(cfg: BenchConfig, device: torch.device, objective: str, image_size: int,
                  width: int, batch_size: int, fused: str, options: frozenset[str] = frozenset(),
                  ) -> timing.Measurement:
    """Build fresh models for one point and :func:`osgan.timing.measure` it with ``options``."""
    torch.manual_seed(cfg.seed)
    obj = losses.get(objective)
    num_classes = 10 if obj.conditional else 0
    G, D = models.models_for(obj, image_size=image_size, channels=cfg.channels, nz=cfg.nz,
                             width=width, num_classes=num_classes)
    gen = torch.Generator().manual_seed(cfg.seed)
    x = torch.rand(batch_size, cfg.channels, image_size, image_size, generator=gen) * 2 - 1
    z = torch.randn(batch_size, cfg.nz, generator=gen)
    y = torch.randint(0, num_classes, (batch_size,), generator=gen) if num_classes else None
    G, D, x, z = G.to(device), D.to(device), x.to(device), z.to(device)
    y = y.to(device) if y is not None else None
    # counted on the plain models (before compile): options change how fast, not how much
    flops = timing.round_flops(G, D, obj, x, z, y, fused=fused == "fused")
    opt_kw = {}
    if "layout" in options:
        lay = layout.prepare(G, D, x, device, stages="one")
        x, opt_kw = lay.batch(x), lay.optimizer_kwargs()
    if "channels_last" in options:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if "compile" in options:
        G, D = torch.compile(G), torch.compile(D)

    def context():
        if "bf16" in options:
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    bench_flag = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = "cudnn_benchmark" in options
    try:
        return timing.measure(
            G, D, obj, x, z, y, fused=fused == "fused", as_float="sync" in options,
            cfg=timing.TimingConfig(repeats=cfg.repeats, warmup=cfg.warmup, clock=cfg.clock),
            context=context, optimizer_kwargs=opt_kw, matmul_n=cfg.matmul_n, flops=flops,
        )
    finally:
        torch.backends.cudnn.benchmark = bench_flag


def _rows(point: dict, m: timing.Measurement) -> list[dict]:
    rows = []
    s_paper, s_reuse = m.speedups("two_stage_paper"), m.speedups("two_stage_reuse")
    rates = m.flop_rates()
    for scheme in timing.SCHEMES:
        t = m.measured[scheme]
        rate = rates.get(scheme, math.nan)
        rows.append(point | {
            "scheme": scheme,
            "measured_s": t,
            "q25_s": m.spread[scheme][0],
            "q75_s": m.spread[scheme][1],
            "predicted_s": m.predicted[scheme],
            "images_per_s": point["batch_size"] / t,  # real images consumed per second
            "speedup_paper_measured": s_paper["measured"],
            "speedup_paper_predicted": s_paper["predicted"],
            "speedup_reuse_measured": s_reuse["measured"],
            "speedup_reuse_predicted": s_reuse["predicted"],
            "speedup_eq17": 4 / 3,
            # the work: FLOPs of the round (matrix products and convolutions), the rate
            # achieved, the float32 matmul's rate timed beside it and the share of it achieved
            "flops": m.flops.get(scheme, 0),
            "gflop_per_s": rate / 1e9,
            "matmul_gflop_per_s": m.matmul_rate / 1e9,
            "matmul_share": timing.matmul_share(rate, m.matmul_rate),
            "flops_two_over_one": m.flops["two_stage_paper"] / m.flops["one_stage"]
            if m.flops else math.nan,
        })
    return rows


def _points(cfg: BenchConfig, device: torch.device):
    """(point, options) in the order measured: the grid, then the options on its first point
    (``options_on="all"``: on every point)."""
    grid = [
        dict(objective=o, image_size=s, width=w, batch_size=b, fused=f)
        for o in cfg.objectives for s in cfg.image_sizes for w in cfg.widths
        for b in cfg.batch_sizes for f in cfg.fused
    ]
    for p in grid:
        yield p, ()
    opts = _applicable(cfg.options, device)
    for point in grid if cfg.options_on == "all" else grid[:1]:
        for o in opts:
            yield point, (o,)
        combined = tuple(o for o in opts if o != "sync")
        if len(combined) > 1:
            yield point, combined


def run_bench(cfg: BenchConfig, *, command: str | None = None, progress=None) -> BenchResult:
    """Measure every point of ``cfg``; write ``bench.csv`` and ``bench.json`` under
    ``cfg.out_dir`` (if set). ``progress`` (e.g. ``print``) gets one line per point."""
    cfg.check()
    device = _resolve_device(cfg.device)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if cfg.clock == "cpu" and device.type != "cpu":
        raise ValueError("clock 'cpu' times CPU work; use clock 'wall' on CUDA")
    meta = environment(device) | {
        "command": command or " ".join(sys.argv),
        "config": asdict(cfg),
        "skipped_options": [o for o in cfg.options if o not in _applicable(cfg.options, device)],
    }
    rows, points = [], []
    for point, opts in _points(cfg, device):
        label = "+".join(opts) if opts else "baseline"
        if progress:
            progress(f"bench: {point} option={label}")
        m = measure_point(cfg, device, options=frozenset(opts), **point)
        p = point | {"symmetric": losses.get(point["objective"]).symmetric, "option": label}
        rows += _rows(p, m)
        points.append(p | {"costs": asdict(m.costs), "times": m.times})
    result = BenchResult(rows, meta, points)
    if cfg.out_dir:
        result.out_dir = write(result, cfg.out_dir)
    return result


def write(result: BenchResult, out_dir: str | Path) -> Path:
    """``bench.csv`` and ``bench.json``, each written atomically (never half a file)."""
    out = Path(out_dir)

    def write_csv(f):
        text = io.StringIO(newline="")
        w = csv.DictWriter(text, fieldnames=list(result.rows[0]))
        w.writeheader()
        w.writerows(result.rows)
        f.write(text.getvalue().encode())

    atomic_write(out / "bench.csv", write_csv)
    doc = {"meta": result.meta, "rows": result.rows, "points": result.points}
    atomic_write(out / "bench.json", lambda f: f.write(json.dumps(doc, indent=1).encode()))
    return out


def load(path: str | Path) -> BenchResult:
    """A ``bench.json`` written by :func:`write` (e.g. a recorded GPU run in ``results/``)."""
    return _result(json.loads(Path(path).read_text()), path)


def _result(doc: dict, path: str | Path) -> BenchResult:
    return BenchResult(doc["rows"], doc["meta"], doc.get("points", []), Path(path).parent)


def recorded(results_dir: str | Path = RESULTS_DIR, device_type: str = "cuda") -> list[BenchResult]:
    """The recorded runs (``bench*.json`` under ``results_dir`` written by this module: with
    ``meta`` and ``rows``) made on ``device_type``."""
    out = []
    for p in sorted(Path(results_dir).glob("**/bench*.json")):
        doc = json.loads(p.read_text())
        if isinstance(doc, dict) and {"meta", "rows"} <= doc.keys() \
                and doc["meta"].get("device_type") == device_type:
            out.append(_result(doc, p))  # read once
    return out


def plot_speedups(rows: list[dict], ax, title: str = "") -> None:
    """Measured against predicted one-stage speedup over the paper's two-stage round, one marker
    per point and option, with the diagonal and Eq. 17's 4/3."""
    pts = [r for r in rows if r["scheme"] == "one_stage"]
    for sym, marker in ((True, "o"), (False, "s")):
        sel = [r for r in pts if bool(r["symmetric"]) == sym]
        ax.scatter([r["speedup_paper_predicted"] for r in sel],
                   [r["speedup_paper_measured"] for r in sel], marker=marker,
                   label="symmetric" if sym else "asymmetric (gamma by autograd)")
    lo = min([1.0] + [min(r["speedup_paper_predicted"], r["speedup_paper_measured"]) for r in pts])
    hi = max([1.5] + [max(r["speedup_paper_predicted"], r["speedup_paper_measured"]) for r in pts])
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, label="measured = predicted")
    ax.plot([lo, hi], [lo * 1.1, hi * 1.1], color="grey", lw=0.5, ls=":", label="±10%")
    ax.plot([lo, hi], [lo / 1.1, hi / 1.1], color="grey", lw=0.5, ls=":")
    ax.axhline(4 / 3, color="C3", ls="--", lw=1, label="Eq. 17: 4/3")
    ax.set_xlabel("predicted speedup (Eq. 13-16, measured parts)")
    ax.set_ylabel("measured speedup (two-stage paper / one-stage)")
    ax.set_title(title)
    ax.legend(fontsize="small")


def option_effects(rows: list[dict]) -> list[dict]:
    """What each speed option buys: per option measured on the sweep's first point, its time per
    round and the baseline's time over it (> 1: faster) for every scheme."""
    first = rows[0]
    key = ("objective", "image_size", "width", "batch_size", "fused")
    same = [r for r in rows if all(r[k] == first[k] for k in key)]
    base = {r["scheme"]: r["measured_s"] for r in same if r["option"] == "baseline"}
    out = []
    for r in same:
        out.append({"option": r["option"], "scheme": r["scheme"], "ms": 1e3 * r["measured_s"],
                    "speedup_over_baseline": base[r["scheme"]] / r["measured_s"]})
    return out


def is_grid(rows: list[dict]) -> bool:
    """Whether a run's rows span more than one (image size, width, batch size)."""
    return len({(r["image_size"], r["width"], r["batch_size"]) for r in rows}) > 1


def speedup_summary(rows: list[dict]) -> list[dict]:
    """The baseline grid (no speed option) in a few numbers per objective and D pass: how many
    points, the one-stage round's fastest and slowest time, and the median, smallest and largest
    speedup over the paper's two-stage round, measured and as Eq. 13-16 predict it from the
    measured parts."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["scheme"] == "one_stage" and r["option"] == "baseline":
            groups.setdefault((r["objective"], r["fused"]), []).append(r)
    out = []
    for (objective, fused), sel in groups.items():
        meas = [r["speedup_paper_measured"] for r in sel]
        pred = [r["speedup_paper_predicted"] for r in sel]
        ms = [1e3 * r["measured_s"] for r in sel]
        out.append({"objective": objective, "D pass": fused, "points": len(sel),
                    "one ms min": min(ms), "one ms max": max(ms),
                    "S measured median": statistics.median(meas), "S measured min": min(meas),
                    "S measured max": max(meas), "S model median": statistics.median(pred),
                    "Eq. 17": 4 / 3})
    return out


def recorded_profiles(results_dir: str | Path = RESULTS_DIR) -> list[dict]:
    """The recorded outputs of ``scripts/gpu_profile.py`` (``*/profile.json`` under
    ``results_dir``): each ``{"meta", "profile", "layouts"}``."""
    return [json.loads(p.read_text()) for p in sorted(Path(results_dir).glob("*/profile.json"))]


def profile_summary(doc: dict) -> list[dict]:
    """Per objective, from a recorded profile: each scheme's wall-clock time per round, the GPU's
    kernel time in it and the fraction of the round the GPU was busy, and the two-stage over
    one-stage ratio of each (Eq. 17 predicts 4/3 for the work)."""
    by = {(r["objective"], r["stages"]): r for r in doc["profile"]}
    out = []
    for objective in dict.fromkeys(r["objective"] for r in doc["profile"]):
        one, two = by[(objective, "one")], by[(objective, "two")]
        row = {"objective": objective}
        for name, r in (("one", one), ("two", two)):
            row |= {f"{name} wall ms": r["wall_ms"], f"{name} kernel ms": r["kernel_ms"],
                    f"{name} kernels": r["kernels_per_round"], f"{name} GPU busy": r["gpu_busy"]}
        row |= {"two/one wall": two["wall_ms"] / one["wall_ms"],
                "two/one kernel": two["kernel_ms"] / one["kernel_ms"]}
        out.append(row)
    return out


def layout_summary(doc: dict) -> list[dict]:
    """Per objective and scheme, from a recorded profile: the default layout's time per round
    against the fastest layout timed beside it."""
    groups: dict[tuple, list[dict]] = {}
    for r in doc["layouts"]:
        groups.setdefault((r["objective"], r["stages"]), []).append(r)
    out = []
    for (objective, stages), rows in groups.items():
        best = min(rows, key=lambda r: r["ms"])
        default = next(r for r in rows if r["default"])
        out.append({"objective": objective, "stages": stages, "default ms": default["ms"],
                    "fastest ms": best["ms"], "default / fastest": default["ms"] / best["ms"],
                    "fastest layout": best["layout"].split(", threads")[0]
                    + (", Adam fused" if "Adam fused" in best["layout"] else ", Adam default")})
    return out


def _by_point(rows: list[dict]) -> dict[tuple, dict[str, dict]]:
    """The rows of each point and option (objective, size, width, batch, D pass, option), by
    scheme."""
    out: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        key = tuple(r[k] for k in ("objective", "image_size", "width", "batch_size", "fused",
                                   "option"))
        out.setdefault(key, {})[r["scheme"]] = r
    return out


def ratio_table(rows: list[dict]) -> str:
    """One line per point and option: times per round, speedups measured / predicted / Eq. 17."""
    head = (f"{'objective':<9} {'S':>3} {'w':>4} {'B':>4} {'D pass':<8} {'option':<15}"
            f"{'one ms':>9} {'two ms':>9} {'reuse ms':>9} {'img/s one':>10}"
            f"{'S meas':>8} {'S model':>8} {'S eq17':>7} {'reuse meas':>11} {'reuse model':>12}")
    lines = [head, "-" * len(head)]
    for (o, s, w, b, f, opt), sch in _by_point(rows).items():
        one, two, reuse = sch["one_stage"], sch["two_stage_paper"], sch["two_stage_reuse"]
        lines.append(
            f"{o:<9} {s:>3} {w:>4} {b:>4} {f:<8} {opt:<15}"
            f"{1e3 * one['measured_s']:>9.1f} {1e3 * two['measured_s']:>9.1f}"
            f" {1e3 * reuse['measured_s']:>9.1f} {one['images_per_s']:>10.1f}"
            f"{one['speedup_paper_measured']:>8.3f} {one['speedup_paper_predicted']:>8.3f}"
            f"{4 / 3:>7.3f} {one['speedup_reuse_measured']:>11.3f}"
            f" {one['speedup_reuse_predicted']:>12.3f}"
        )
    return "\n".join(lines)


def limit_table(rows: list[dict]) -> str:
    """One line per point and option: each scheme's GFLOP per round, achieved GFLOP/s and share
    of the matrix product's rate, the product's rate, and two stages' FLOPs over one stage's."""
    head = (f"{'objective':<9} {'S':>3} {'w':>4} {'B':>4} {'D pass':<8} {'option':<15}"
            f"{'GFLOP one':>10} {'two':>7} {'GFLOP/s one':>12} {'two':>7} {'of matmul one':>14}"
            f" {'two':>6} {'matmul GFLOP/s':>15} {'two/one FLOP':>13}")
    lines = [head, "-" * len(head)]
    for (o, s, w, b, f, opt), sch in _by_point(rows).items():
        one, two = sch["one_stage"], sch["two_stage_paper"]
        lines.append(
            f"{o:<9} {s:>3} {w:>4} {b:>4} {f:<8} {opt:<15}"
            f"{one['flops'] / 1e9:>10.2f} {two['flops'] / 1e9:>7.2f}"
            f"{one['gflop_per_s']:>12.1f} {two['gflop_per_s']:>7.1f}"
            f"{one['matmul_share']:>14.1%} {two['matmul_share']:>6.1%}"
            f"{one['matmul_gflop_per_s']:>16.1f} {one['flops_two_over_one']:>13.3f}")
    return "\n".join(lines)


# --- command line -------------------------------------------------------------------------------

_CHOICES = {"fused": FUSED, "options": OPTIONS, "options_on": OPTIONS_ON, "clock": timing.CLOCKS}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Flags mirror :class:`BenchConfig`. A flag not given keeps the value of ``--profile`` (or
    of the dataclass when no profile is named: the paper's point), so flags override a profile
    field by field."""
    settings.add_profile_argument(parser, default=None)
    settings.add_arguments(parser, BenchConfig, choices=_CHOICES)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    given = settings.given(args, BenchConfig)
    profile = getattr(args, "profile", None)
    if profile is None:
        return BenchConfig(**given)
    return BenchConfig.for_profile(profile, **given)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = config_from_args(args)
        cfg.check()
        if cfg.clock == "cpu" and _resolve_device(cfg.device).type != "cpu":
            raise ValueError("--clock cpu times CPU work; use --clock wall on CUDA")
    except ValueError as e:
        raise UsageError(str(e)) from None
    command = "python -m osgan bench " + " ".join(sys.argv[2:]) if len(sys.argv) > 1 else None
    result = run_bench(cfg, command=command, progress=lambda s: print(s, file=sys.stderr))
    m = result.meta
    print(f"device: {m['device']} ({m['device_name']}), torch {m['torch']}, "
          f"torchvision {m['torchvision']}, threads {m['torch_threads']}, "
          f"cuda {m['cuda']}, cudnn {m['cudnn']}, clock {cfg.clock}")
    obj = losses.get(cfg.objectives[0])
    G, D = models.models_for(obj, image_size=cfg.image_sizes[0], channels=cfg.channels, nz=cfg.nz,
                             width=cfg.widths[0], num_classes=10 if obj.conditional else 0)
    x = torch.zeros(cfg.batch_sizes[0], cfg.channels, cfg.image_sizes[0], cfg.image_sizes[0])
    lay = layout.choose(G, D, x, _resolve_device(cfg.device), objective=obj)
    print(f"a run here (one and two stages alike) uses: {lay.describe()}; from: {lay.origin()}")
    if m["skipped_options"]:
        print(f"skipped (not available on this device): {', '.join(m['skipped_options'])}")
    print(ratio_table(result.rows))
    print("S = two-stage (paper, Eq. 15) / one-stage (Eq. 16) time per round; model: Eq. 13-16 "
          "pass counts with measured parts + optimizer steps; eq17: 4/3.")
    if cfg.matmul_n:
        print(limit_table(result.rows))
        print(f"GFLOP: per round, matrix products and convolutions (torch.utils.flop_counter); "
              f"of matmul: the round's FLOP rate over a {cfg.matmul_n}x{cfg.matmul_n} float32 "
              f"matrix product's, timed beside it on the same threads; two/one FLOP: the work "
              f"ratio (Eq. 17's time ratio: 4/3).")
    if result.out_dir:
        print(f"wrote {result.out_dir / 'bench.csv'} and {result.out_dir / 'bench.json'}")
    return 0
