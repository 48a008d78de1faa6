"""Eq. 17 against the recorded timings, as findings: two stages' time per round over one stage's
on this project's CPU (``results/table1/bench``: every objective at the Table 1 sweep's settings,
timed side by side) and on the recorded GPU grids (``results/bench-cuda-*``, with the kernel-time
profile of ``results/bench-h200-profile``), beside the paper's Figure 4 (time to a plateau on a
GPU, another quantity); and how far a round is from the machine's limit (:func:`limit`): its
achieved FLOP rate as a share of a float32 matrix product's, timed beside it by ``python -m osgan
bench``, with two stages' FLOPs over one stage's beside Eq. 17. Numbers only; chapter 04 writes
the prose."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from osgan import bench, paper
from osgan.analysis import records

EQ17 = 4 / 3


@dataclass(frozen=True)
class Efficiency:
    cpu: dict[str, float]  # per objective: two / one per step, CPU, the Table 1 sweep's settings
    cpu_device: str
    gpu: list[float]  # medians per objective and D pass over the recorded GPU grids
    gpu_model: list[float]  # what the pass counts predict there from the parts timed alone
    gpu_device: str
    gpu_one_ms: tuple[float, float]  # the one-stage round's fastest and slowest time there
    gpu_work: float  # the grid's largest point over its smallest, in convolution arithmetic
    gpu_faster_everywhere: bool  # one stage faster at every recorded point
    kernel: list[float]  # two / one in GPU kernel time (profile)
    wall: list[float]  # two / one in wall-clock time (profile)
    busy: list[float]  # fraction of a round the GPU ran kernels (profile)
    layout_gap: float  # the default layout over the fastest timed beside it, minus 1
    paper: dict[str, float] = field(default_factory=dict)  # Figure 4: time to plateau, two/one


def findings(results: str | Path = bench.RESULTS_DIR) -> Efficiency:
    """The recorded timings under ``results`` (empty lists where nothing is recorded)."""
    results = Path(results)
    cpu_json = results / "table1" / "bench" / "bench.json"
    costs = records.bench_costs(cpu_json) if cpu_json.exists() else {}
    cpu = {g: c["two"] / c["one"] for g, c in costs.items() if "one" in c and "two" in c}
    cpu_device = ""
    if cpu_json.exists():
        cpu_device = bench.load(cpu_json).meta.get("device_name", "")
    grids = [r for r in bench.recorded(results) if bench.is_grid(r.rows)]
    summary = [s for r in grids for s in bench.speedup_summary(r.rows)]
    work = 0.0
    if grids:
        c0 = grids[0].meta["config"]
        work = ((max(c0["widths"]) / min(c0["widths"])) ** 2
                * (max(c0["image_sizes"]) / min(c0["image_sizes"])) ** 2
                * max(c0["batch_sizes"]) / min(c0["batch_sizes"]))
    prof = [row for d in bench.recorded_profiles(results) for row in bench.profile_summary(d)]
    lays = [row for d in bench.recorded_profiles(results) for row in bench.layout_summary(d)]
    return Efficiency(
        cpu=cpu, cpu_device=cpu_device,
        gpu=[s["S measured median"] for s in summary],
        gpu_model=[s["S model median"] for s in summary],
        gpu_device=grids[0].meta["device_name"] if grids else "",
        gpu_one_ms=(min(s["one ms min"] for s in summary), max(s["one ms max"] for s in summary))
        if summary else (float("nan"), float("nan")),
        gpu_work=work,
        gpu_faster_everywhere=bool(summary) and min(s["S measured min"] for s in summary) > 1,
        kernel=[r["two/one kernel"] for r in prof], wall=[r["two/one wall"] for r in prof],
        busy=[r[f"{s} GPU busy"] for r in prof for s in ("one", "two")],
        layout_gap=max((r["default / fastest"] for r in lays), default=1.0) - 1,
        paper={r["gan"]: r["speedup"] for r in paper.paper_table("figure4_speedups")})


# --- the limit: a round's FLOP rate against the device's matrix-product rate --------------------

LIMIT_GLOB = "bench-cpu/limit-*/bench.json"  # the recorded limit runs under results/


@dataclass(frozen=True)
class Limit:
    device: str  # the CPU's model or the GPU's name
    cpu: str  # the CPU's model (the host, on a GPU)
    threads: int  # torch's intra-op threads
    matmul_n: int  # side of the reference float32 matrix product
    command: str  # the command that measured it
    commit: str  # the commit it ran at ("" when not recorded)
    # per point (image size, width, batch size, objective, D pass), both schemes: GFLOP per
    # round, achieved GFLOP/s, share of the matmul's rate (one_*, two_*), the matmul's GFLOP/s,
    # two stages' FLOPs over one stage's (flop_ratio) and time over time (time_ratio)
    points: list[dict] = field(default_factory=list)
    eq17: float = EQ17  # the paper's per-round claim, two over one


def _pick(rows: list[dict]) -> list[dict]:
    """Per point, the rows of the layout a run uses (option ``layout``) where measured, else the
    baseline; other options are left out."""
    key = ("objective", "image_size", "width", "batch_size", "fused")
    with_layout = {tuple(r[k] for k in key) for r in rows if r.get("option") == "layout"}
    return [r for r in rows if r.get("option") == ("layout" if tuple(r[k] for k in key)
                                                    in with_layout else "baseline")]


def limit(rows: list[dict], meta: dict) -> Limit:
    """The limit findings of one bench run (its ``rows`` and ``meta``; rows without FLOPs are
    skipped)."""
    by: dict[tuple, dict[str, dict]] = {}
    for r in _pick(rows):
        if r.get("flops") and r["scheme"] in ("one_stage", "two_stage_paper"):
            key = tuple(r[k] for k in ("image_size", "width", "batch_size", "objective", "fused"))
            by.setdefault(key, {})[r["scheme"]] = r
    points = []
    for (size, width, batch, objective, fused), sch in by.items():
        if len(sch) < 2:
            continue
        one, two = sch["one_stage"], sch["two_stage_paper"]
        points.append({
            "image_size": size, "width": width, "batch_size": batch, "objective": objective,
            "fused": fused, "option": one["option"],
            "one_gflop": one["flops"] / 1e9, "two_gflop": two["flops"] / 1e9,
            "one_gflop_per_s": one["gflop_per_s"], "two_gflop_per_s": two["gflop_per_s"],
            "one_share": one["matmul_share"], "two_share": two["matmul_share"],
            "matmul_gflop_per_s": one["matmul_gflop_per_s"],
            "flop_ratio": two["flops"] / one["flops"],
            "time_ratio": two["measured_s"] / one["measured_s"]})
    cfg = meta.get("config", {})
    return Limit(device=meta.get("device_name", ""), cpu=meta.get("cpu", meta.get("device_name", "")),
                 threads=int(meta.get("torch_threads", 0)),
                 matmul_n=int(cfg.get("matmul_n", 0)), command=meta.get("command", ""),
                 commit=meta.get("commit", ""), points=points)


def recorded_limits(results: str | Path = bench.RESULTS_DIR) -> list[Limit]:
    """The recorded limit runs (``results/bench-cpu/limit-*/bench.json``), each read into
    :func:`limit`; empty when none is recorded."""
    out = []
    for p in sorted(Path(results).glob(LIMIT_GLOB)):
        doc = json.loads(p.read_text())
        out.append(limit(doc["rows"], doc["meta"]))
    return [f for f in out if f.points]


def limit_values(limits: list[Limit], key: str) -> list[float]:
    """Every point's ``key`` (``one_share``, ``two_share``, ``flop_ratio``, ``time_ratio``, ...)
    over ``limits``, nan left out."""
    return [p[key] for f in limits for p in f.points if not math.isnan(p[key])]
