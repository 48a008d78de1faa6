"""Time every candidate layout (osgan.layout.candidates) for one- and two-stage rounds of DCGAN
at one point, interleaved, and write the medians with provenance to results/bench-cpu/.

    python scripts/record_layouts.py --image-size 32 --width 32 --batch-size 64 --threads 1

This is the evidence behind osgan.layout.DEFAULTS on CPU: the record of a CPU model is its
fastest layout here, entered under ("cpu", the model name in the file's meta.device_name). A
machine with no record measures its own at a run's first start (osgan.layout.choose).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from osgan import bench, layout, losses, models


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--objective", default="dcgan")
    ap.add_argument("--out", default=str(bench.RESULTS_DIR / "bench-cpu"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    obj = losses.get(args.objective)
    G, D = models.models_for(obj, image_size=args.image_size, channels=args.channels, width=args.width)
    x = torch.rand(args.batch_size, args.channels, args.image_size, args.image_size) * 2 - 1
    device = torch.device("cpu")
    cands = layout.candidates(D, device, args.threads)
    rows = []
    for stages in layout.STAGES:
        times = layout.time_layouts(G, D, obj, x, cands, stages=stages, repeats=args.repeats)
        for lay, t in zip(cands, times):
            rows.append({"stages": stages, **asdict(lay), "median_s": statistics.median(t), "times": t})
            print(f"{stages}-stage  {lay.describe():<80} {1e3 * statistics.median(t):9.1f} ms")
    point = f"S{args.image_size}-w{args.width}-B{args.batch_size}-t{args.threads}"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = bench.environment(device) | {"command": "python " + " ".join(sys.argv), "args": vars(args)}
    path = out / f"layouts-{point}.json"
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
