"""Time the paper's released one- and two-stage DCGAN steps against ours, side by side in one process.

    git clone https://github.com/zju-vipa/OSGAN ../OSGAN        # once, yourself
    python scripts/bench_vs_paper.py ../OSGAN                    # DCGAN 64x64, width 64, batch 64
    python scripts/bench_vs_paper.py ../OSGAN --objective dcgan_ns --clock cpu --json vs.json

``PAPER`` is the path to your checkout of the paper's code (github.com/zju-vipa/OSGAN, Shen et al.,
CVPR 2021). It is never fetched here, and nothing of it is copied into osgan: this script puts
PAPER on ``sys.path`` and calls its own training loops, ``train_epoch_adv`` of

* ``train_dcgan_symmetric_one_stage.py`` and ``train_dcgan_symmetric_two_stage.py`` for
  ``--objective dcgan`` (symmetric, gamma = -1; one stage negates G's gradient with their
  ``GradientHook``, registered as their ``train()`` does);
* ``train_dcgan_asymmetric_one_stage.py`` and ``train_dcgan_asymmetric_two_stage.py`` for
  ``--objective dcgan_ns`` (gamma by autograd, their ``GradientScaler``),

each on a loader of one batch, so one call is one training round. Their networks
(``networks/dcgan.py``: ``DCGenerator`` and ``DCDiscriminatorGN``, or ``DCDiscriminator`` with
``--d-norm batch``, at ``d`` = ``--width``) against ours (``osgan.models``, GroupNorm in D as in
the paper's Sec. 4.1.2, or BatchNorm) at the same width, resolution, batch and latent size (their
convolutions have biases, ours none before a norm: the same FLOPs), both with Adam. Ours run as a
training run here runs them: ``osgan.layout.prepare`` (this machine's layout, the same for both
schemes) and ``osgan.steps``; ``--plain`` times ours in NCHW with one fused D pass instead.

What is adapted to run their code, and nothing else:

* on a CPU, ``Tensor.cuda()`` and ``Module.cuda()`` return their argument while their step runs
  (their loops call ``.cuda()`` on every tensor);
* their scripts import TensorBoard and ruamel.yaml at the top for logging and config files,
  which the loop does not use (its logger is None); where those packages are missing, empty
  stand-ins are put in ``sys.modules`` first;
* ``train_dcgan_symmetric_one_stage.py`` imports ``BNFeatureHook`` from their
  ``utils/nn_tools.py``, which does not define it (at commit fdfea7e the script fails to
  import); its loop never uses it, so a stand-in of that name is added where it is missing.

Their two-stage round computes D's parameter gradients in stage 2 too (``loss_g.backward()``
with D not frozen; only G's Adam steps), work that Eq. 14 does not count and ours does not do:
the FLOP column shows it.

The four steps are timed round-robin (one round of each in turn, ``--repeats`` turns after
``--warmup``), so that load from other processes falls on all alike. Prints the median ms per
round, our speed over theirs (their time / ours: > 1 is faster) per scheme, one over two stages
within each code base, and the FLOPs of a round of each (``torch.utils.flop_counter``). Times are
never asserted anywhere. A PATH that is missing or not a checkout of that repository exits with
status 2 and one line saying so.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import json
import platform
import statistics
import subprocess
import sys
import types
import warnings
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from osgan import layout, losses, models, steps, timing
from osgan.util import device_name

ROOT = Path(__file__).resolve().parents[1]
# what a checkout of zju-vipa/OSGAN holds, and what of it this script calls
PAPER_FILES = ("networks/dcgan.py", "utils/nn_tools.py", "utils/modules.py",
               "train_dcgan_symmetric_one_stage.py", "train_dcgan_symmetric_two_stage.py",
               "train_dcgan_asymmetric_one_stage.py", "train_dcgan_asymmetric_two_stage.py")


def paper_module(objective: str, stages: str) -> str:
    kind = "symmetric" if objective == "dcgan" else "asymmetric"
    return f"train_dcgan_{kind}_{stages}_stage"


def fail(message: str) -> None:
    """One line on stderr, exit status 2 (a usage error: fix the command)."""
    print(f"bench_vs_paper: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_paper(path: str) -> Path:
    """The checkout's folder; else :func:`fail` with what is wrong."""
    p = Path(path).expanduser()
    if not p.is_dir():
        fail(f"no folder {path!r}: give the path to your checkout of github.com/zju-vipa/OSGAN "
             "(git clone https://github.com/zju-vipa/OSGAN)")
    missing = [f for f in PAPER_FILES if not (p / f).is_file()]
    if missing:
        fail(f"{path} is not a checkout of github.com/zju-vipa/OSGAN (it lacks "
             f"{', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
    return p.resolve()


def _stand_in(name: str, **attrs) -> None:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod


def import_paper(path: Path, objective: str) -> dict[str, types.ModuleType]:
    """Their network module and the two training scripts of ``objective``, imported from
    ``path`` (stand-ins for the logging and config packages their scripts import but the
    loops never use, where those are missing)."""
    class Unused:  # SummaryWriter, EventAccumulator, YAML: never called by train_epoch_adv
        def __init__(self, *a, **k):
            raise RuntimeError("a stand-in of bench_vs_paper: not available here")

    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        for name in ("tensorboard", "tensorboard.backend", "tensorboard.backend.event_processing"):
            _stand_in(name)
        _stand_in("tensorboard.backend.event_processing.event_accumulator",
                  EventAccumulator=Unused)
        _stand_in("torch.utils.tensorboard", SummaryWriter=Unused)
    try:
        import ruamel.yaml  # noqa: F401
    except ImportError:
        _stand_in("ruamel")
        _stand_in("ruamel.yaml", YAML=Unused)
    # their GradientHook is a module backward hook of torch's old kind: torch warns at every
    # forward that it will go; it still negates G's gradient today
    warnings.filterwarnings("ignore", message="Using a non-full backward hook", category=FutureWarning)
    clash = [n for n in ("utils", "networks") if n in sys.modules]
    if clash:
        fail(f"modules named {clash} are imported already; run the script on its own")
    sys.path.insert(0, str(path))
    mods = {"networks": importlib.import_module("networks.dcgan"),
            "nn_tools": importlib.import_module("utils.nn_tools")}
    if not hasattr(mods["nn_tools"], "BNFeatureHook"):  # imported, never used, by their script
        mods["nn_tools"].BNFeatureHook = Unused
    for stages in ("one", "two"):
        mods[stages] = importlib.import_module(paper_module(objective, stages))
    stray = [m.__file__ for m in mods.values() if not m.__file__.startswith(str(path))]
    if stray:
        fail(f"imported {stray} from outside {path}")
    return mods


@contextlib.contextmanager
def cuda_is_here(device: torch.device):
    """On a CPU, ``.cuda()`` of tensors and modules returns them unchanged (their loops call it
    on everything); on CUDA nothing changes."""
    if device.type == "cuda":
        yield
        return
    saved = torch.Tensor.cuda, torch.nn.Module.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    try:
        yield
    finally:
        torch.Tensor.cuda, torch.nn.Module.cuda = saved


class OneBatch:
    """A loader of one batch: one call of their ``train_epoch_adv`` is one round."""

    def __init__(self, x: torch.Tensor):
        self.x, self.dataset = x, range(x.shape[0])

    def __iter__(self):
        yield self.x, None


def paper_steps(mods, args, x, device) -> dict[str, callable]:
    """Their one- and two-stage rounds, on their networks built as their ``train()`` builds them."""
    net = mods["networks"]
    out = {}
    for stages in ("one", "two"):
        torch.manual_seed(args.seed)
        G = net.DCGenerator(zdim=args.nz, num_channel=args.channels, d=args.width)
        D = (net.DCDiscriminatorGN if args.d_norm == "group" else net.DCDiscriminator)(
            num_channel=args.channels, d=args.width)
        G.weight_init(mean=0.0, std=0.02)
        D.weight_init(mean=0.0, std=0.02)
        G, D = G.to(device), D.to(device)
        mod = mods[stages]
        if stages == "one" and args.objective == "dcgan":
            hook = mods["nn_tools"].GradientHook(G)  # as their train(): G's gradient negated
            hook.set_negate_grads_hook()
            G._bench_hook = hook  # kept alive with G (their hook removes itself when collected)
        opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        loader = OneBatch(x)
        extra = {"cfg": {}} if "cfg" in inspect.signature(mod.train_epoch_adv).parameters else {}

        def step(mod=mod, G=G, D=D, og=opt_g, od=opt_d, loader=loader, extra=extra):
            with cuda_is_here(device):
                mod.train_epoch_adv(G, D, loader, (og, od), **extra)
        out[stages] = step
    return out


def our_steps(args, x, device) -> tuple[dict[str, callable], str]:
    """Our one- and two-stage rounds, laid out as a training run here lays them out."""
    obj = losses.get(args.objective)
    out, desc = {}, ""
    for stages in ("one", "two"):
        torch.manual_seed(args.seed)
        G, D = models.models_for(obj, image_size=args.image_size, channels=args.channels,
                                 nz=args.nz, width=args.width, d_norm=args.d_norm)
        G, D = G.to(device), D.to(device)
        given = layout.Layout(False, False, True, torch.get_num_threads(), False, "given") \
            if args.plain else None
        lay = layout.prepare(G, D, x, device, objective=obj, stages=stages, layout=given)
        desc = f"{lay.describe()}; from: {lay.origin()}"
        x_ = lay.batch(x)
        opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), **lay.optimizer_kwargs())
        opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), **lay.optimizer_kwargs())
        gen = torch.Generator().manual_seed(args.seed)

        def step(stages=stages, G=G, D=D, og=opt_g, od=opt_d, x_=x_, f=lay.fused, gen=gen):
            z = torch.randn(x_.shape[0], args.nz, generator=gen).to(device)  # as theirs: new z
            if stages == "one":
                steps.one_stage_step(G, D, og, od, obj, x_, z, None, fused=f, as_float=False)
            else:
                steps.two_stage_step(G, D, og, od, obj, x_, z, None, variant="paper", fused=f,
                                     as_float=False)
        out[stages] = step
    return out, desc


def count_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def _git(path: Path, *args: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("paper", help="path to your checkout of github.com/zju-vipa/OSGAN")
    ap.add_argument("--objective", default="dcgan", choices=["dcgan", "dcgan_ns"],
                    help="dcgan: their symmetric scripts; dcgan_ns: their asymmetric ones")
    ap.add_argument("--image-size", type=int, default=64, choices=[64],
                    help="their DCGAN is 64x64 only")
    ap.add_argument("--width", type=int, default=64, help="their d, our width (ngf = ndf)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--nz", type=int, default=100)
    ap.add_argument("--d-norm", default="group", choices=["group", "batch"],
                    help="D's normalisation on both sides (their DCDiscriminatorGN / DCDiscriminator)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                    help="cpu: process CPU time (one thread on a shared CPU)")
    ap.add_argument("--plain", action="store_true",
                    help="ours in NCHW with one fused D pass (not this machine's layout)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write every timing to this file")
    args = ap.parse_args(argv)

    paper = check_paper(args.paper)
    if args.d_norm == "group" and (2 * args.width) % 32:
        fail("their GroupNorm D has 32 groups: --width must be a multiple of 16 (or use "
             "--d-norm batch)")
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    mods = import_paper(paper, args.objective)
    gen = torch.Generator().manual_seed(args.seed)
    x = (torch.rand(args.batch_size, args.channels, args.image_size, args.image_size,
                    generator=gen) * 2 - 1).to(device)
    theirs = paper_steps(mods, args, x, device)
    ours, our_layout = our_steps(args, x, device)
    fns = {f"paper/{s}": theirs[s] for s in ("one", "two")} | {f"ours/{s}": ours[s]
                                                               for s in ("one", "two")}
    flops = {k: count_flops(fn) for k, fn in fns.items()}
    times = timing.round_robin(fns, device, args.repeats, args.warmup, args.clock)
    med = {k: statistics.median(v) for k, v in times.items()}

    dirty = " (+ uncommitted changes)" if _git(ROOT, "status", "--porcelain", "--", "osgan") else ""
    print(f"device: {device} ({device_name(device)}), threads {torch.get_num_threads()}, clock "
          f"{args.clock}, torch {torch.__version__}, python {platform.python_version()}")
    print(f"ours: {_git(ROOT, 'rev-parse', '--short', 'HEAD')}{dirty}; paper: {paper} "
          f"(commit {_git(paper, 'rev-parse', '--short', 'HEAD')}); {args.objective} "
          f"{args.image_size}x{args.image_size}, width {args.width}, batch {args.batch_size}, "
          f"{args.channels} channels, D {args.d_norm} norm; {args.repeats} interleaved repeats "
          f"after {args.warmup} warm-up")
    print(f"  our layout: {'NCHW, fused (--plain)' if args.plain else our_layout}")
    print(f"{'scheme':<8} {'paper ms':>10} {'ours ms':>10} {'ours/paper speed':>18} "
          f"{'paper GFLOP':>12} {'ours GFLOP':>11}")
    for s in ("one", "two"):
        a, b = med[f"ours/{s}"], med[f"paper/{s}"]
        print(f"{s + '-stage':<8} {1e3 * b:>10.1f} {1e3 * a:>10.1f} {b / a:>18.3f} "
              f"{flops[f'paper/{s}'] / 1e9:>12.2f} {flops[f'ours/{s}'] / 1e9:>11.2f}")
    for side in ("paper", "ours"):
        print(f"one over two stages ({side}): {med[f'{side}/two'] / med[f'{side}/one']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "args": vars(args), "cpu": device_name(torch.device("cpu")),
            "device_name": device_name(device), "torch": torch.__version__,
            "ours_commit": _git(ROOT, "rev-parse", "HEAD"), "ours_dirty": bool(dirty),
            "paper_commit": _git(paper, "rev-parse", "HEAD"), "our_layout": our_layout,
            "command": "python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]),
            "flops": flops, "times": times}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
