"""The cost model's arithmetic against Eq. 13-17 written out by hand, the measuring machinery on
fake callables, and the bench end to end in a tiny configuration. No timing is ever asserted."""

import argparse
import csv
import json
import math
import statistics
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

from osgan import bench, losses, models, timing

EXACT = dict(rtol=1e-12, atol=0.0)



@pytest.mark.parametrize("t_g, t_d", [(1.0, 1.0), (0.3, 2.0), (5.0, 0.01)])
def test_equal_costs_give_eq17(t_g, t_d):
    costs = timing.Costs.equal(t_g, t_d)
    # Eq. 15 and Eq. 16 written out with T^g = t_g, T^d = t_d
    assert_close(timing.predict(costs, "two_stage_paper"), 4 * t_g + 8 * t_d, **EXACT)
    assert_close(timing.predict(costs, "one_stage"), 3 * t_g + 6 * t_d, **EXACT)
    # Eq. 17: 4/3 whatever the ratio of G's cost to D's
    assert_close(timing.speedup(costs), 4 / 3, **EXACT)
    assert_close(costs.T_g, t_g, **EXACT)
    assert_close(costs.T_d, t_d, **EXACT)


@pytest.mark.parametrize("t_g, t_d", [(1.0, 1.0), (0.3, 2.0), (5.0, 0.01)])
def test_reuse_variant_saves_one_g_forward(t_g, t_d):
    costs = timing.Costs.equal(t_g, t_d)
    assert_close(timing.predict(costs, "two_stage_reuse"), 3 * t_g + 8 * t_d, **EXACT)
    assert_close(timing.speedup(costs, "two_stage_reuse"),
                 (3 * t_g + 8 * t_d) / (3 * t_g + 6 * t_d), **EXACT)


def test_stage_counts_sum_eq13_and_eq14():
    # Eq. 13 (stage 1: T^g + 6 T^d) + Eq. 14 (stage 2: 3 T^g + 2 T^d) = the paper scheme's counts
    counts = timing.COUNTS["two_stage_paper"]
    n_g = sum(n for k, n in counts.items() if k.startswith("g_"))
    n_d = sum(n for k, n in counts.items() if k.startswith("d_")) + 2 * sum(
        n for k, n in counts.items() if k.startswith("dd_"))  # a dd pass is 2 D passes (Eq. 10)
    assert (n_g, n_d) == (1 + 3, 6 + 2)


def test_optimizer_steps_add_to_every_scheme():
    costs = timing.Costs.equal(1.0, 2.0, opt_g=0.25, opt_d=0.5)
    for s in timing.SCHEMES:
        assert_close(timing.predict(costs, s) - timing.predict(costs, s, optimizer=False), 0.75,
                     rtol=0, atol=1e-12)
    assert_close(timing.speedup(costs), (4 + 16 + 0.75) / (3 + 12 + 0.75), **EXACT)


def test_unequal_parts_weighted_by_pass_counts():
    costs = timing.Costs(g_fwd=1, g_back=2, g_para=3, d_fwd=10, d_back=20, d_para=30,
                         dd_fwd=15, dd_back=35, dd_para=50, dd_in=5)
    # one stage: G once in full, D once over real+fake in full, down to its input
    assert_close(timing.predict(costs, "one_stage"), 1 + 2 + 3 + 15 + 35 + 50 + 5.0, **EXACT)
    # paper: stage 1 stops short of D's input; + G forward again + D forward and backward over
    # fake alone (stage 2)
    assert_close(timing.predict(costs, "two_stage_paper"), 106 + 1 + 10 + 20.0, **EXACT)
    assert_close(timing.predict(costs, "two_stage_reuse"), 106 + 10 + 20.0, **EXACT)


def test_unknown_scheme_lists_valid_names():
    with pytest.raises(ValueError, match="one_stage, two_stage_paper, two_stage_reuse"):
        timing.predict(timing.Costs.equal(1, 1), "three_stage")


def test_costs_from_times_takes_medians_and_differences():
    times = {}
    for net, (f, fb, fbp) in {"g": (1, 3, 6), "d": (2, 5, 9), "dd": (3, 7, 12)}.items():
        # medians f, fb, fbp with outliers on either side
        times[f"{net}_f"] = [f, 100.0, f, -5.0, f]
        times[f"{net}_fb"] = [fb, fb, 50.0]
        times[f"{net}_fbp"] = [fbp]
    times["dd_bp"] = [10.0, 10.0]  # stage 1's pass: no input gradient, so dd_in = 12 - 10
    times["opt_g"], times["opt_d"] = [0.5, 0.5, 9.0], [0.25]
    c = timing.costs_from_times(times)
    got = [c.g_fwd, c.g_back, c.g_para, c.d_fwd, c.d_back, c.d_para, c.dd_fwd, c.dd_back,
           c.dd_para, c.dd_in, c.opt_g, c.opt_d]
    # dd_back = (7 - 3) - dd_in: the input gradient is taken out of the activation gradients
    assert_close(got, [1.0, 2.0, 3.0, 2.0, 3.0, 4.0, 3.0, 2.0, 5.0, 2.0, 0.5, 0.25], **EXACT)


def test_round_robin_interleaves_and_discards_warmup():
    calls = []
    fns = {k: (lambda k=k: calls.append(k)) for k in "abc"}
    times = timing.round_robin(fns, "cpu", repeats=3, warmup=2)
    assert calls == list("abc") * 5
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}


def _tiny(objective="dcgan", B=2):
    torch.manual_seed(0)
    obj = losses.get(objective)
    G, D = models.models_for(obj, image_size=32, width=4, channels=1, nz=8)
    return obj, G, D, torch.rand(B, 1, 32, 32) * 2 - 1, torch.randn(B, 8)


@pytest.mark.parametrize("fused, sizes", [(True, [4]), (False, [2, 2])])
def test_pair_pass_is_one_2b_batch_when_fused(fused, sizes):
    obj, G, D, x, z = _tiny()
    seen = []
    D.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[0]))
    fns = timing.part_closures(G, D, obj, x, z, fused=fused)
    for mode in ("f", "fb", "fbp", "bp"):
        seen.clear()
        fns[f"dd_{mode}"]()
        assert seen == sizes
        if mode != "bp":
            seen.clear()
            fns[f"d_{mode}"]()
            assert seen == [2]
    assert all(p.requires_grad for p in D.parameters())  # _frozen restored the flags


@pytest.mark.parametrize("objective", ["dcgan", "dcgan_ns"])
def test_measure_restores_models_and_reports_every_scheme(objective):
    obj, G, D, x, z = _tiny(objective)
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in (G, D)]
    m = timing.measure(G, D, obj, x, z, cfg=timing.TimingConfig(repeats=1, warmup=1))
    for mod, sd in zip((G, D), before, strict=True):
        assert_close(mod.state_dict(), sd, rtol=0, atol=0)
    assert set(m.measured) == set(m.predicted) == set(timing.SCHEMES)
    assert all(math.isfinite(v) for v in m.measured.values())
    assert set(m.speedups("two_stage_paper")) == {"measured", "predicted", "eq17"}


def _conv_macs(module, inp):
    """Multiply-adds of every convolution of ``module`` on ``inp``, in order, from the shapes
    its forward hooks see: Conv2d, out elements x C_in x k x k; ConvTranspose2d, in elements x
    C_out x k x k (each input pixel spreads over a k x k patch of every output channel)."""
    macs = []

    def hook(m, args, out):
        k = m.kernel_size[0] * m.kernel_size[1]
        if isinstance(m, torch.nn.ConvTranspose2d):
            macs.append(args[0].numel() * m.out_channels * k)
        else:
            macs.append(out.numel() * m.in_channels * k)

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    with torch.no_grad():
        module(inp)
    for h in handles:
        h.remove()
    return macs


@pytest.mark.parametrize("B", [2, 5])
def test_round_flops_are_the_pass_counts_of_eq13_16_in_multiply_adds(B):
    """FLOPs counted by torch.utils.flop_counter against a closed form: 2 x the multiply-adds of
    each convolution, once per pass the scheme runs. With g = sum of G's, d = D's on B samples,
    g0 / d0 their first layers' (whose input gradient no step needs, except D's on fakes):
    one stage = G forward + parameter + input gradients (no z gradient) + D forward, parameter
    and input gradients over 2B; two stages add stage 2's G forward and backward and D forward
    and input gradient on B fakes, and stage 1 stops short of D's input."""
    obj, G, D, x, z = _tiny("dcgan", B=B)
    mg, md = _conv_macs(G, z), _conv_macs(D, x)
    g, g0, d, d0 = sum(mg), mg[0], sum(md), md[0]
    one_fused = 2 * (3 * g - g0) + 2 * (2 * 3 * d)
    expected = {
        ("one_stage", True): one_fused,
        ("one_stage", False): one_fused - 2 * d0,  # no input gradient of the real half
        # stage 1: G forward; D forward, parameter and input gradients over 2B short of its
        # input. Stage 2: G forward, parameter and input gradients; D forward and input
        # gradient (to x_hat) over B
        ("two_stage_paper", True): 2 * g + 2 * (2 * (3 * d - d0)) + 2 * (3 * g - g0) + 2 * (2 * d),
        ("two_stage_reuse", True): 2 * (2 * (3 * d - d0)) + 2 * (3 * g - g0) + 2 * (2 * d),
    }
    for fused in (True, False):
        got = timing.round_flops(G, D, obj, x, z, fused=fused)
        assert got["one_stage"] == expected[("one_stage", fused)]
        assert got["two_stage_paper"] == expected[("two_stage_paper", True)]
        assert got["two_stage_reuse"] == expected[("two_stage_reuse", True)]
    # on the models' own device (no meta copies) the count is the same
    assert timing._count_flops(G, D, obj, x, z, None, True, timing.SCHEMES, "cpu") == \
        timing.round_flops(G, D, obj, x, z, fused=True)


def test_a_linear_layers_flops_are_twice_its_multiply_adds():
    # the counter the bench relies on, on the closed form of one product: (B, n) @ (n, m)
    lin = torch.nn.Linear(7, 3)
    with timing.FlopCounterMode(display=False) as counter:
        lin(torch.randn(5, 7, requires_grad=True)).sum().backward()
    # forward, input gradient and weight gradient: three products of 5 x 7 x 3 multiply-adds
    assert counter.get_total_flops() == 3 * 2 * 5 * 7 * 3


def test_rate_arithmetic():
    assert timing.matmul_flops(2048) == 2 * 2048**3 == 17_179_869_184
    assert_close(timing.flop_rate(3e9, 0.02), 150e9, **EXACT)
    assert math.isnan(timing.flop_rate(1.0, 0.0))
    assert_close(timing.matmul_share(55e9, 150e9), 55 / 150, **EXACT)
    assert math.isnan(timing.matmul_share(1.0, math.nan))
    m = timing.Measurement(costs=timing.Costs.equal(1, 1), measured={"one_stage": 0.5,
                           "two_stage_paper": 0.8}, spread={}, predicted={}, times={},
                           matmul_rate=40.0, flops={"one_stage": 10, "two_stage_paper": 16})
    assert m.flop_rates() == {"one_stage": 20.0, "two_stage_paper": 20.0}


def test_measure_times_the_matmul_beside_the_rounds():
    obj, G, D, x, z = _tiny("dcgan")
    flops = timing.round_flops(G, D, obj, x, z)
    m = timing.measure(G, D, obj, x, z, cfg=timing.TimingConfig(repeats=2, warmup=0),
                       matmul_n=32, flops=flops)
    assert len(m.times["matmul"]) == 2 and m.flops == flops
    assert_close(m.matmul_rate, 2 * 32**3 / statistics.median(m.times["matmul"]), **EXACT)
    assert math.isnan(timing.measure(G, D, obj, x, z, cfg=timing.TimingConfig(
        repeats=1, warmup=0)).matmul_rate)


def _parse(argv):
    p = argparse.ArgumentParser()
    bench.configure_parser(p)
    return p.parse_args(argv)


def test_flags_override_profile_field_by_field():
    cfg = bench.config_from_args(_parse(["--profile", "smoke", "--widths", "4", "16"]))
    assert cfg.widths == (4, 16)
    assert cfg.batch_sizes == bench.BenchConfig.for_profile("smoke").batch_sizes
    assert bench.config_from_args(_parse([])) == bench.BenchConfig()


def test_bad_values_are_refused_with_the_valid_ones():
    from osgan.util import UsageError

    with pytest.raises(SystemExit):  # argparse lists the choices
        _parse(["--options", "turbo"])
    with pytest.raises(UsageError, match="dcgan_ns"):
        bench.run(_parse(["--objectives", "dcgan_nss", "--device", "cpu"]))


def test_bench_runs_and_writes_its_files(tmp_path, capsys):
    args = _parse(["--objectives", "dcgan", "dcgan_ns", "--image-sizes", "32", "--widths", "4",
                   "--batch-sizes", "2", "--fused", "fused", "separate", "--options", "sync",
                   "channels_last", "--channels", "1", "--nz", "8", "--repeats", "1",
                   "--warmup", "0", "--threads", "1", "--clock", "cpu", "--device", "cpu",
                   "--matmul-n", "64", "--out-dir", str(tmp_path)])
    assert bench.run(args) == 0
    out = capsys.readouterr().out
    assert "S meas" in out and "device: cpu" in out
    assert "of matmul" in out and "a run here (one and two stages alike) uses:" in out
    with open(tmp_path / "bench.csv") as f:
        rows = list(csv.DictReader(f))
    # 2 objectives x 2 D passes, then sync and channels_last on the first point (sync is never
    # combined with the others, so there is no combined row)
    n_points = 2 * 2 + 2
    assert len(rows) == 3 * n_points
    assert {r["scheme"] for r in rows} == set(timing.SCHEMES)
    assert {r["option"] for r in rows} == {"baseline", "sync", "channels_last"}
    doc = json.loads((tmp_path / "bench.json").read_text())
    for key in ("device_name", "cpu", "commit", "torch", "torchvision", "command", "config"):
        assert key in doc["meta"]
    for r in doc["rows"]:  # the work: FLOPs, the rate achieved and its share of the matmul's
        assert r["flops"] > 0 and r["matmul_gflop_per_s"] > 0
        assert_close(r["gflop_per_s"], r["flops"] / r["measured_s"] / 1e9, rtol=1e-12, atol=0)
        assert_close(r["matmul_share"], r["gflop_per_s"] / r["matmul_gflop_per_s"],
                     rtol=1e-12, atol=0)
    loaded = bench.load(tmp_path / "bench.json")
    assert loaded.rows == doc["rows"]
    assert "S meas" in bench.ratio_table(loaded.rows)
    effects = bench.option_effects(loaded.rows)
    assert {(e["option"], e["scheme"]) for e in effects} == {
        (o, s) for o in ("baseline", "sync", "channels_last") for s in timing.SCHEMES}
    for e in effects:
        if e["option"] == "baseline":
            assert_close(e["speedup_over_baseline"], 1.0, **EXACT)


def test_options_go_on_the_first_point_or_on_every_point():
    cfg = bench.BenchConfig(objectives=("dcgan", "lsgan"), fused=("separate",),
                            options=("layout", "channels_last"), out_dir="")
    cpu = torch.device("cpu")
    first = [(p["objective"], o) for p, o in bench._points(cfg, cpu)]
    assert first == [("dcgan", ()), ("lsgan", ()), ("dcgan", ("layout",)),
                     ("dcgan", ("channels_last",)), ("dcgan", ("layout", "channels_last"))]
    cfg.options_on = "all"
    every = [(p["objective"], o) for p, o in bench._points(cfg, cpu)]
    assert every == first + [("lsgan", ("layout",)), ("lsgan", ("channels_last",)),
                             ("lsgan", ("layout", "channels_last"))]
    cfg.options_on = "some"
    with pytest.raises(ValueError, match="first.*all"):
        cfg.check()


def test_bf16_is_timed_on_a_cpu_only_where_onednn_has_bfloat16(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(bench, "_cpu_bf16", lambda: False)
    assert bench._applicable(("bf16", "cudnn_benchmark", "layout"), cpu) == ("layout",)
    monkeypatch.setattr(bench, "_cpu_bf16", lambda: True)
    assert bench._applicable(("bf16", "cudnn_benchmark", "layout"), cpu) == ("bf16", "layout")
    assert bench._applicable(("bf16", "cudnn_benchmark"), torch.device("cuda")) == (
        "bf16", "cudnn_benchmark")


def test_breakdown_sums_to_prediction():
    costs = timing.Costs(g_fwd=1, g_back=2, g_para=3, d_fwd=10, d_back=20, d_para=30,
                         dd_fwd=15, dd_back=35, dd_para=50, dd_in=5, opt_g=0.5, opt_d=0.25)
    for s in timing.SCHEMES:
        parts = timing.breakdown(costs, s)
        assert_close(sum(parts.values()), timing.predict(costs, s), **EXACT)
        assert_close(parts["opt"], 0.75, **EXACT)


def test_unknown_clock_lists_valid_names():
    with pytest.raises(ValueError, match="wall"):
        timing.Timer("cpu", clock="gpu")
    with pytest.raises(ValueError, match="clock"):
        bench.BenchConfig(clock="sundial").check()


def test_speedup_summary_reads_the_baseline_grid_of_a_recorded_run():
    # the H200 run recorded by scripts/device_check.sh, read back; the summary against a count
    # done here by hand over the same rows
    run = bench.load(Path(bench.RESULTS_DIR) / "bench-cuda-h200-dcgan" / "bench.json")
    summary = bench.speedup_summary(run.rows)
    assert [(s["objective"], s["D pass"]) for s in summary] == [("dcgan", "fused"),
                                                                ("dcgan", "separate")]
    for s in summary:
        sel = [r for r in run.rows if r["scheme"] == "one_stage" and r["option"] == "baseline"
               and r["fused"] == s["D pass"]]
        assert s["points"] == len(sel) == 12  # 2 sizes x 3 widths x 2 batch sizes
        meas = sorted(r["speedup_paper_measured"] for r in sel)
        assert_close(s["S measured median"], (meas[5] + meas[6]) / 2, **EXACT)
        assert s["S measured min"] == meas[0] and s["S measured max"] == meas[-1]
        assert s["one ms min"] <= s["one ms max"]
    # rows with a speed option on are left out
    assert sum(s["points"] for s in summary) < len([r for r in run.rows
                                                   if r["scheme"] == "one_stage"])


def test_profile_and_layout_summaries_read_the_recorded_gpu_profile():
    # scripts/gpu_profile.py's H200 record, summarised, against the same numbers read by hand
    (doc,) = [d for d in bench.recorded_profiles() if d["meta"]["device_name"] == "NVIDIA H200"]
    rows = {(r["objective"], r["stages"]): r for r in doc["profile"]}
    for s in bench.profile_summary(doc):
        one, two = rows[(s["objective"], "one")], rows[(s["objective"], "two")]
        assert_close(s["two/one kernel"], two["kernel_ms"] / one["kernel_ms"], **EXACT)
        assert_close(s["two/one wall"], two["wall_ms"] / one["wall_ms"], **EXACT)
        assert_close(s["one GPU busy"], one["kernel_ms"] / one["wall_ms"], rtol=1e-9, atol=0)
        assert s["two kernels"] > s["one kernels"]  # two stages launch more work
    lay = bench.layout_summary(doc)
    assert {(r["objective"], r["stages"]) for r in lay} == set(rows)
    for r in lay:
        timed = [x["ms"] for x in doc["layouts"]
                 if (x["objective"], x["stages"]) == (r["objective"], r["stages"])]
        assert r["fastest ms"] == min(timed) and r["default / fastest"] >= 1.0
