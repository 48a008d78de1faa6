"""Where a training round's time goes on a GPU, and which layout is fastest there.

For DCGAN (symmetric) and non-saturating DCGAN (asymmetric) at 64x64, width 64, batch 64:

* every layout of ``osgan.layout.candidates`` (memory formats, one 2B pass of D or two B passes)
  with Adam's fused kernel and without it, for one- and two-stage rounds, timed round-robin
  (``osgan.layout.time_layouts``) so that the layouts are compared side by side;
* one- and two-stage rounds under ``torch.profiler``: the wall-clock time of a round, the time
  the GPU spent running kernels in it, their number, and so the fraction of the round the GPU
  was busy.

Writes ``OUT_DIR/profile.json`` (default ``results/bench-<device>-profile``) with the device,
versions and command, and prints both tables. Run by ``scripts/device_check.sh``; also runs on a
CPU (no kernel times then), which is how it is tested::

    python scripts/gpu_profile.py [--device cuda] [--rounds 20] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from osgan import bench, layout, losses, models, steps  # noqa: E402
from osgan.settings import resolve_device  # noqa: E402
from osgan.util import write_json  # noqa: E402

SIZE, WIDTH, BATCH, CHANNELS, NZ = 64, 64, 64, 3, 100


def _models(objective: str, device: torch.device):
    torch.manual_seed(0)
    G, D = models.models_for(losses.get(objective), image_size=SIZE, channels=CHANNELS, nz=NZ,
                             width=WIDTH)
    x = (torch.rand(BATCH, CHANNELS, SIZE, SIZE) * 2 - 1).to(device)
    return G.to(device), D.to(device), x


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def layouts(objective: str, device: torch.device, repeats: int) -> list[dict]:
    G, D, x = _models(objective, device)
    threads = torch.get_num_threads()
    lays = layout.candidates(D, device, threads)
    if layout.adam_fused_supported(device):
        lays += [replace(lay, adam_fused=False) for lay in lays]
    default = {s: layout.default(D, device, threads, s) for s in layout.STAGES}
    rows = []
    for stages in layout.STAGES:
        times = layout.time_layouts(G, D, losses.get(objective), x, lays, stages=stages,
                                    repeats=repeats, warmup=3)
        for lay, t in zip(lays, times):
            d = default[stages]
            rows.append({"objective": objective, "stages": stages, "ms": 1e3 * statistics.median(t),
                         "default": (lay.channels_last_g, lay.channels_last_d, lay.fused,
                                     lay.adam_fused) == (d.channels_last_g, d.channels_last_d,
                                                         d.fused, d.adam_fused),
                         "layout": lay.describe()})
    return rows


def _kernel_time_and_count(prof) -> tuple[float, int]:
    """Seconds of GPU kernel (and copy) time and the number of such events in a profile."""
    total, count = 0.0, 0
    for evt in prof.key_averages():
        if evt.device_type == DeviceType.CUDA:
            us = getattr(evt, "self_device_time_total", None)
            us = us if us is not None else getattr(evt, "self_cuda_time_total", 0.0)
            total += us * 1e-6
            count += evt.count
    return total, count


def _round(stages, G, D, opt_g, opt_d, obj, x, z, fused):
    """One training round of ``stages`` as a function of nothing, for timing."""
    if stages == "one":
        return lambda: steps.one_stage_step(G, D, opt_g, opt_d, obj, x, z, fused=fused,
                                            as_float=False)
    return lambda: steps.two_stage_step(G, D, opt_g, opt_d, obj, x, z, variant="paper",
                                        fused=fused, as_float=False)


def profile_rounds(objective: str, device: torch.device, rounds: int) -> list[dict]:
    obj = losses.get(objective)
    out = []
    for stages in layout.STAGES:
        G, D, x = _models(objective, device)
        lay = layout.prepare(G, D, x, device, stages=stages)
        x = lay.batch(x)
        opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), **lay.optimizer_kwargs())
        opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), **lay.optimizer_kwargs())
        z = torch.randn(BATCH, NZ, device=device)

        step = _round(stages, G, D, opt_g, opt_d, obj, x, z, lay.fused)
        for _ in range(5):
            step()
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(rounds):
            step()
        _sync(device)
        wall = (time.perf_counter() - t0) / rounds
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=activities) as prof:
            for _ in range(rounds):
                step()
            _sync(device)
        kernel_s, kernels = _kernel_time_and_count(prof)
        out.append({"objective": objective, "stages": stages, "layout": lay.describe(),
                    "wall_ms": 1e3 * wall, "kernel_ms": 1e3 * kernel_s / rounds,
                    "kernels_per_round": kernels / rounds,
                    "gpu_busy": kernel_s / rounds / wall if device.type == "cuda" else None})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--objectives", nargs="+", default=["dcgan", "dcgan_ns"])
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--out-dir", default=None)
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    meta = bench.environment(device) | {"command": " ".join(["python"] + sys.argv),
                                         "point": dict(image_size=SIZE, width=WIDTH,
                                                       batch_size=BATCH, channels=CHANNELS)}
    prof_rows, lay_rows = [], []
    for objective in args.objectives:
        prof_rows += profile_rounds(objective, device, args.rounds)
        lay_rows += layouts(objective, device, args.repeats)
    for r in prof_rows:
        busy = f"{r['gpu_busy']:.2f}" if r["gpu_busy"] is not None else "-"
        print(f"{r['objective']:<9} {r['stages']:<4} wall {r['wall_ms']:7.2f} ms  kernels "
              f"{r['kernel_ms']:7.2f} ms ({r['kernels_per_round']:.0f} per round)  busy {busy}")
    for r in lay_rows:
        print(f"{r['objective']:<9} {r['stages']:<4} {r['ms']:7.2f} ms {'*' if r['default'] else ' '}"
              f" {r['layout']}")
    out = Path(args.out_dir or f"results/bench-{bench.device_name(device).split()[-1].lower()}"
               "-profile")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "profile.json", {"meta": meta, "profile": prof_rows, "layouts": lay_rows})
    print(f"wrote {out / 'profile.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
