"""Eq. 17 against the recorded timings, as findings: two stages' time per round over one stage's
on this project's CPU (``results/table1/bench``: every objective at the Table 1 sweep's settings,
timed side by side) and on the recorded GPU grids (``results/bench-cuda-*``, with the kernel-time
profile of ``results/bench-h200-profile``), beside the paper's Figure 4 (time to a plateau on a
GPU, another quantity). Numbers only; chapter 04 writes the prose."""

from __future__ import annotations

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
