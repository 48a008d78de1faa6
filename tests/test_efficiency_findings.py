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
