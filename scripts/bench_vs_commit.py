"""Time today's one- and two-stage steps against an earlier revision's, side by side in one run.

    python scripts/bench_vs_commit.py 955a690 --image-size 64 --width 64 --batch-size 64 --threads 2
    python scripts/bench_vs_commit.py 955a690 --image-size 32 --width 32 --threads 1 --clock cpu

REV's ``osgan/`` is exported with ``git archive`` into ``_build/bench-rev/<sha>/`` (a plain
tree: the repository's worktree list is left alone). Two worker processes import the two
packages (``PYTHONPATH`` set to each tree), build the same DCGAN from the same seed and batch,
and each lays out its steps as a run of that revision does: a revision with ``osgan.layout``
gets ``osgan.layout.prepare`` (per scheme, Adam with ``layout.optimizer_kwargs()``); an older one
its own defaults. The parent then times every (revision, scheme) round-robin, one step at a time,
so that load from other processes falls on all of them alike; the workers never run at once.

Prints medians per step, today's speed over REV's (REV time / today's time: > 1 is faster) for
each scheme, and one stage over two within each revision, with device, threads and versions.
Times are never asserted anywhere.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs in each worker: set up, then answer "scheme" lines on stdin with seconds on stdout.
WORKER = r"""
import json, sys, time
# only PYTHONPATH decides which osgan is imported: an editable install's finder would otherwise
# serve modules the revision lacks (osgan.layout) from today's tree
sys.meta_path = [f for f in sys.meta_path
                 if not getattr(f, "__module__", "").startswith("__editable__")]
import torch
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
import osgan
from osgan import losses, models, steps
try:
    from osgan import layout as layout_mod
except ImportError:
    layout_mod = None
obj = losses.get(cfg["objective"])
S, C, B, nz = cfg["image_size"], cfg["channels"], cfg["batch_size"], cfg["nz"]
gen = torch.Generator().manual_seed(cfg["seed"])
x0 = torch.rand(B, C, S, S, generator=gen) * 2 - 1
z = torch.randn(B, nz, generator=gen)
runs, chosen = {}, {}
for scheme in cfg["schemes"]:
    torch.manual_seed(cfg["seed"])
    G, D = models.models_for(obj, image_size=S, channels=C, nz=nz, width=cfg["width"])
    x, kw, opt_kw = x0.clone(), {}, {}
    if layout_mod is not None and cfg["layout"]:
        lay = layout_mod.prepare(G, D, x, torch.device("cpu"), objective=obj, stages=scheme)
        x, kw, opt_kw = lay.batch(x), {"fused": lay.fused}, lay.optimizer_kwargs()
        chosen[scheme] = lay.describe()
    else:
        chosen[scheme] = "the revision's defaults (no osgan.layout)"
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), **opt_kw)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), **opt_kw)
    if scheme == "one":
        fn = lambda G=G, D=D, og=opt_g, od=opt_d, x=x, kw=kw: steps.one_stage_step(
            G, D, og, od, obj, x, z, None, as_float=False, **kw)
    else:
        fn = lambda G=G, D=D, og=opt_g, od=opt_d, x=x, kw=kw: steps.two_stage_step(
            G, D, og, od, obj, x, z, None, variant="paper", as_float=False, **kw)
    runs[scheme] = fn
clock = time.process_time if cfg["clock"] == "cpu" else time.perf_counter
import os
tree = os.path.join(os.environ["PYTHONPATH"], "osgan", "")
stray = [m.__file__ for n, m in sys.modules.items() if n.split(".")[0] == "osgan"
         and getattr(m, "__file__", None) and not m.__file__.startswith(tree)]
if stray:
    sys.exit(f"modules from outside the tree under test: {stray}")
print(json.dumps({"ready": True, "osgan": osgan.__file__, "torch": torch.__version__,
                  "threads": torch.get_num_threads(), "layout": chosen}), flush=True)
for line in sys.stdin:
    scheme = line.strip()
    t0 = clock()
    runs[scheme]()
    print(json.dumps(clock() - t0), flush=True)
"""


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def export(rev: str, dest_root: Path) -> Path:
    """REV's ``osgan/`` package as a plain tree under ``dest_root/<sha>`` (cached)."""
    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    dest = dest_root / sha
    if not (dest / "osgan" / "__init__.py").exists():
        dest.mkdir(parents=True, exist_ok=True)
        data = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", sha, "osgan"],
                              check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest, filter="data")
    return dest


class Worker:
    def __init__(self, tree: Path, cfg: dict, cpus: str | None):
        env = os.environ | {"PYTHONPATH": str(tree), "OMP_NUM_THREADS": str(cfg["threads"])}
        cmd = [sys.executable, "-c", WORKER, json.dumps(cfg)]
        if cpus:
            cmd = ["taskset", "-c", cpus, *cmd]
        # cwd outside both trees, so that only PYTHONPATH decides which osgan is imported
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                     text=True, cwd=tree.parent)
        self.info = json.loads(self._read())

    def _read(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited with status {self.proc.wait()}")
        return line

    def time(self, scheme: str) -> float:
        self.proc.stdin.write(scheme + "\n")
        self.proc.stdin.flush()
        return float(json.loads(self._read()))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("rev", help="the earlier revision (commit, tag, branch)")
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--nz", type=int, default=100)
    ap.add_argument("--objective", default="dcgan")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--schemes", nargs="+", default=["one", "two"], choices=["one", "two"])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                    help="cpu: process CPU time (one thread on a shared CPU)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cpus", default=None, help="taskset CPU list for the workers, e.g. 1")
    ap.add_argument("--no-layout", action="store_true", help="today's side without osgan.layout")
    ap.add_argument("--rev-dir", default=str(ROOT / "_build" / "bench-rev"))
    ap.add_argument("--json", default=None, help="also write every timing to this file")
    args = ap.parse_args(argv)

    cfg = {k: getattr(args, k) for k in ("image_size", "width", "batch_size", "channels", "nz",
                                         "objective", "threads", "schemes", "clock", "seed")}
    cfg["layout"] = not args.no_layout
    rev_tree = export(args.rev, Path(args.rev_dir))
    sides = {"today": ROOT, args.rev: rev_tree}
    workers = {name: Worker(tree, cfg, args.cpus) for name, tree in sides.items()}
    try:
        times: dict[tuple[str, str], list[float]] = {(n, s): [] for n in sides for s in args.schemes}
        for r in range(args.warmup + args.repeats):
            for (name, scheme), ts in times.items():
                t = workers[name].time(scheme)
                if r >= args.warmup:
                    ts.append(t)
    finally:
        for w in workers.values():
            w.close()

    import torch

    from osgan.util import device_name  # today's package, for the CPU's name

    med = {k: statistics.median(v) for k, v in times.items()}
    dirty = " (+ uncommitted changes)" if git("status", "--porcelain", "--", "osgan") else ""
    print(f"device: cpu ({device_name(torch.device('cpu'))}), threads {args.threads}, "
          f"clock {args.clock}, torch {workers['today'].info['torch']}, python "
          f"{platform.python_version()}")
    print(f"today: {git('rev-parse', '--short', 'HEAD')}{dirty}; {args.rev}: "
          f"{rev_tree.name[:7]}; DCGAN {args.objective} {args.image_size}x{args.image_size}, "
          f"width {args.width}, batch {args.batch_size}; {args.repeats} interleaved repeats "
          f"after {args.warmup} warm-up")
    for name in sides:
        for s in args.schemes:
            print(f"  {name:<10} {s}-stage layout: {workers[name].info['layout'][s]}")
    print(f"{'scheme':<8} {'today ms':>10} {args.rev + ' ms':>14} {'today/' + args.rev + ' speed':>22}")
    for s in args.schemes:
        a, b = med[("today", s)], med[(args.rev, s)]
        print(f"{s + '-stage':<8} {1e3 * a:>10.1f} {1e3 * b:>14.1f} {b / a:>22.3f}")
    if set(args.schemes) == {"one", "two"}:
        for name in sides:
            print(f"one over two stages ({name}): "
                  f"{med[(name, 'two')] / med[(name, 'one')]:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "args": vars(args), "layouts": {n: w.info for n, w in workers.items()},
            "times": {f"{n}/{s}": v for (n, s), v in times.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
