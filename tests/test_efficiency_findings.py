"""Chapter 04's lead findings (osgan.analysis.efficiency) read the recorded timings right."""

import json

import pytest

from osgan import bench
from osgan.analysis import efficiency, records


def test_findings_on_the_record_are_the_recorded_ratios():
    f = efficiency.findings()
    costs = records.bench_costs(bench.RESULTS_DIR / "table1" / "bench" / "bench.json")
    assert set(f.cpu) == set(costs) and len(f.cpu) == 10
    assert f.cpu["lsgan"] == pytest.approx(costs["lsgan"]["two"] / costs["lsgan"]["one"])
    grids = [r for r in bench.recorded() if bench.is_grid(r.rows)]
    assert f.gpu == [s["S measured median"] for r in grids for s in bench.speedup_summary(r.rows)]
    assert f.gpu_device == "NVIDIA H200" and f.gpu_work == 128
    assert all(0 < b < 1 for b in f.busy) and len(f.kernel) == len(f.wall) == 2
    assert f.paper == {"DCGAN": 1.7, "DCGAN-NS": 1.6, "LSGAN": 1.5}


def test_an_empty_record_gives_empty_findings(tmp_path):
    f = efficiency.findings(tmp_path)
    assert f.cpu == {} and f.gpu == [] and f.kernel == [] and not f.gpu_faster_everywhere


def test_cpu_ratios_come_from_the_layout_rows(tmp_path):
    rows = [{"objective": "dcgan", "scheme": "one_stage", "option": "layout", "measured_s": 0.2},
            {"objective": "dcgan", "scheme": "two_stage_paper", "option": "layout",
             "measured_s": 0.3}]
    (tmp_path / "table1" / "bench").mkdir(parents=True)
    (tmp_path / "table1" / "bench" / "bench.json").write_text(
        json.dumps({"rows": rows, "meta": {"device_name": "cpu x"}}))
    f = efficiency.findings(tmp_path)
    assert f.cpu == {"dcgan": pytest.approx(1.5)} and f.cpu_device == "cpu x"


def _row(scheme, option="baseline", objective="dcgan", size=32, flops=10e9, seconds=0.1,
         matmul=200.0):
    rate = flops / seconds / 1e9
    return {"objective": objective, "image_size": size, "width": size, "batch_size": 64,
            "fused": "separate", "option": option, "scheme": scheme, "measured_s": seconds,
            "flops": flops, "gflop_per_s": rate, "matmul_gflop_per_s": matmul,
            "matmul_share": rate / matmul}


def test_limit_reads_the_layout_rows_and_the_two_ratios():
    rows = [_row("one_stage", seconds=0.5), _row("two_stage_paper", seconds=0.5),  # baseline
            _row("one_stage", "layout", flops=9e9, seconds=0.1),
            _row("two_stage_paper", "layout", flops=12e9, seconds=0.15),
            _row("two_stage_reuse", "layout", flops=11e9, seconds=0.14),
            _row("one_stage", "sync", seconds=1.0), _row("two_stage_paper", "sync"),
            _row("one_stage", size=64, flops=120e9, seconds=2.0),  # no layout row: baseline
            _row("two_stage_paper", size=64, flops=160e9, seconds=2.4)]
    f = efficiency.limit(rows, {"device_name": "cpu x", "cpu": "cpu x", "torch_threads": 1,
                                "config": {"matmul_n": 2048}, "command": "c", "commit": "abc"})
    assert (f.device, f.threads, f.matmul_n, f.commit) == ("cpu x", 1, 2048, "abc")
    small, large = f.points
    assert small["option"] == "layout" and large["option"] == "baseline"
    # 9 GFLOP in 0.1 s: 90 GFLOP/s, 45% of a 200 GFLOP/s matmul; 12 in 0.15 s: 80, 40%
    assert small["one_gflop_per_s"] == pytest.approx(90) and small["one_share"] == pytest.approx(0.45)
    assert small["two_share"] == pytest.approx(0.40)
    assert small["flop_ratio"] == pytest.approx(12 / 9) and small["time_ratio"] == pytest.approx(1.5)
    assert large["flop_ratio"] == pytest.approx(160 / 120) and large["one_share"] == pytest.approx(0.3)
    assert efficiency.limit_values([f], "one_share") == pytest.approx([0.45, 0.3])
    assert f.eq17 == pytest.approx(4 / 3)


def test_recorded_limits_read_the_limit_runs_only(tmp_path):
    assert efficiency.recorded_limits(tmp_path) == []
    run = tmp_path / "bench-cpu" / "limit-x"
    run.mkdir(parents=True)
    (run / "bench.json").write_text(json.dumps({
        "rows": [_row("one_stage"), _row("two_stage_paper", flops=13e9)],
        "meta": {"device_name": "cpu y", "torch_threads": 2, "config": {"matmul_n": 2048}}}))
    (f,) = efficiency.recorded_limits(tmp_path)
    assert f.device == f.cpu == "cpu y" and f.points[0]["flop_ratio"] == pytest.approx(1.3)


def test_a_run_without_flops_has_no_limit_points():
    rows = [{k: v for k, v in _row(s).items() if k != "flops"} for s in ("one_stage",
                                                                         "two_stage_paper")]
    assert efficiency.limit(rows, {}).points == []


def test_the_limit_figure_and_table_have_one_entry_per_point():
    import matplotlib

    matplotlib.use("Agg")
    from osgan.render import efficiency as render

    rows = [_row("one_stage"), _row("two_stage_paper", flops=13e9),
            _row("one_stage", size=64, flops=120e9), _row("two_stage_paper", size=64, flops=160e9)]
    f = efficiency.limit(rows, {"device_name": "cpu x", "torch_threads": 1})
    fig = render.plot_limit([f])
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) == 4  # one and two stages, 2 points
    table = render.limit_rows([f], ["now"])
    assert [r["size"] for r in table] == ["32px w32 B64", "64px w64 B64"]
    assert table[1]["two/one FLOPs"] == pytest.approx(160 / 120)
