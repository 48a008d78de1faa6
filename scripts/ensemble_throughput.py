"""Cells (seeds) per GPU-hour: K seeds stacked in one process (``osgan.ensemble``, a sweep's
``--seeds-per-process K``) against one cell per process.

At the ``reference`` profile (the recorded sweeps' settings: DCGAN 32x32, width 32, batch 64,
10000 steps a cell) on random images (no data set needed), for each scheme:

* ``separate``: the ordinary training step (``osgan.training._step``), one cell in this process;
* ``stacked``: the ensemble's step for K = 1, 2, 4, 8 seeds (``--ks``);
* ``processes``: P ordinary processes training at once on the same device (``--processes``;
  default 2 and 4 on CUDA, none on a CPU), each timed over the same stretch of wall-clock.

A cell's cost is ``steps a cell x seconds a step / seeds a step``; cells per GPU-hour are 3600 s
over it. Steps are timed after ``--warmup`` steps, in ``--repeats`` blocks of ``--steps`` (the
median block), the device synchronised at each block's ends; peak memory on CUDA. Writes JSON
to OUT::

    python scripts/ensemble_throughput.py OUT.json [--device cuda]
    python scripts/ensemble_throughput.py out.json --device cpu --steps 2 --ks 1,2 --width 4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from osgan import data, ensemble, settings, training  # noqa: E402
from osgan.training import TrainConfig  # noqa: E402
from osgan.util import device_name, write_json  # noqa: E402


def _ints(text: str) -> list[int]:
    try:
        out = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a comma-separated list of integers; got {text!r}") from None
    if any(v < 1 for v in out):
        raise argparse.ArgumentTypeError(f"every value must be at least 1; got {text!r}")
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", nargs="?", help="where the JSON goes")
    p.add_argument("--device", default="auto", help="cuda, cuda:N, cpu or auto")
    p.add_argument("--stages", default="one,two", help="schemes to time (comma-separated)")
    p.add_argument("--gan", default="dcgan_ns", help="objective (asymmetric: gamma is computed)")
    p.add_argument("--ks", type=_ints, default=[1, 2, 4, 8], help="seeds stacked, e.g. 1,2,4,8")
    p.add_argument("--processes", type=_ints, default=None,
                   help="concurrent ordinary processes to compare with (default: 2,4 on CUDA)")
    p.add_argument("--steps", type=int, default=100, help="steps in a timed block")
    p.add_argument("--repeats", type=int, default=3, help="timed blocks (the median is kept)")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    p.add_argument("--width", type=int, default=None, help="override the profile's width")
    p.add_argument("--batch-size", type=int, default=None, help="override the profile's batch")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    return p


def config(args, stages: str, seed: int = 0) -> TrainConfig:
    over = {k: v for k, v in (("width", args.width), ("batch_size", args.batch_size))
            if v is not None}
    return TrainConfig.for_profile("reference", gan=args.gan, stages=stages, seed=seed,
                                   device=args.device, progress=False, **over)


def images(cfg: TrainConfig, device: torch.device, n: int = 4096) -> data.ImageData:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, cfg.image_size, cfg.image_size, generator=gen) * 2 - 1
    return data.ImageData(x, torch.randint(10, (n,), generator=gen), 10, cfg.dataset,
                          "train").to(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step, device: torch.device, args, start_at: float = 0.0) -> float:
    """Median seconds a step over ``args.repeats`` blocks of ``args.steps``, after warm-up."""
    for _ in range(args.warmup):
        step()
    _sync(device)
    while time.time() < start_at:  # concurrent processes start their blocks together
        time.sleep(0.01)
    blocks = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        _sync(device)
        blocks.append((time.perf_counter() - t0) / args.steps)
    return statistics.median(blocks)


def measure(args, stages: str, device: torch.device, k: int | None) -> dict:
    """``k`` None: the ordinary step; else the ensemble of k seeds."""
    cfg = config(args, stages)
    imgs = images(cfg, device)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    if k is None:
        run = training.KIND.setup(cfg, device, imgs)
        seconds = time_steps(lambda: training._step(run), device, args, args.start_at)
        seeds = 1
    else:
        ens = ensemble.setup([replace(cfg, seed=s) for s in range(k)], device, imgs)
        seconds = time_steps(ens.step, device, args)
        seeds = k
    out = {"seconds_per_step": seconds, "seeds_per_step": seeds,
           "cells_per_gpu_hour": 3600 * seeds / (seconds * cfg.steps)}
    if device.type == "cuda":
        out["peak_memory_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def concurrent(args, stages: str, device: torch.device, p: int) -> dict:
    """P ordinary processes at once, each timing its blocks from the same instant."""
    start = time.time() + 20 + 5 * p  # time for every process to import, set up and warm up
    cmd = [sys.executable, __file__, "--worker", "--stages", stages, "--device", str(device),
           "--gan", args.gan, "--steps", str(args.steps), "--repeats", str(args.repeats),
           "--warmup", str(args.warmup), "--start-at", str(start)]
    for name in ("width", "batch_size"):
        if getattr(args, name) is not None:
            cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
             for _ in range(p)]
    seconds = [json.loads(q.communicate()[0].strip().splitlines()[-1])["seconds_per_step"]
               for q in procs]
    steps_per_second = sum(1 / s for s in seconds)
    cfg = config(args, stages)
    return {"processes": p, "seconds_per_step_each": seconds,
            "cells_per_gpu_hour": 3600 * steps_per_second / cfg.steps}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    device = settings.resolve_device(args.device)
    args.device = str(device)
    settings.set_threads(config(args, "one").threads)
    if args.worker:
        print(json.dumps(measure(args, args.stages, device, None)), flush=True)
        return 0
    if not args.out:
        parser().error("give the path of the JSON to write")
    processes = args.processes if args.processes is not None else \
        ([2, 4] if device.type == "cuda" else [])
    results = []
    for stages in args.stages.split(","):
        base = measure(args, stages, device, None)
        results.append({"stages": stages, "mode": "separate", "K": 1, **base})
        for k in args.ks:
            results.append({"stages": stages, "mode": "stacked", "K": k,
                            **measure(args, stages, device, k)})
        for p in processes:
            results.append({"stages": stages, "mode": "processes", "K": 1,
                            **concurrent(args, stages, device, p)})
        for r in results:
            if r["stages"] == stages:
                r["speedup"] = r["cells_per_gpu_hour"] / base["cells_per_gpu_hour"]
                print(f"{stages} {r['mode']:9s} K={r['K']} P={r.get('processes', 1)}: "
                      f"{r['cells_per_gpu_hour']:.2f} cells/GPU-hour ({r['speedup']:.2f}x)",
                      flush=True)
    cfg = config(args, "one")
    write_json(Path(args.out), {
        "device": device_name(device), "torch": torch.__version__, "profile": "reference",
        "gan": args.gan, "steps_per_cell": cfg.steps,
        "settings": {k: getattr(cfg, k) for k in ("image_size", "width", "batch_size", "nz",
                                                  "threads")},
        "timing": {"steps": args.steps, "repeats": args.repeats, "warmup": args.warmup},
        "command": " ".join(sys.argv), "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
