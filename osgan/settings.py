"""One home for settings: profiles, the profile table of every config, and the command line built
from the configs' own field help.

A *profile* says how big a run is, chosen by what the machine can do:

* ``full``: the paper's scale (Sec. 4.1.2: batch 128, DCGAN width 64), for a CUDA GPU;
* ``reference``: the recorded sweeps of the book on this project's 2-core CPU: the smallest
  settings at which the runs converge (``python -m osgan sweep``);
* ``quick``: a CPU run of a few minutes whose last samples already show the data set's objects;
* ``smoke``: seconds; tiny models and a handful of steps, for tests and the CI book build.

``auto`` picks ``full`` on CUDA and ``quick`` on CPU.

Every config is a dataclass whose fields are declared with :func:`setting` (default and help text
in one place). :data:`PROFILES` holds, per profile, what each config class changes from its
defaults, keyed by the class name, optionally with a *role* (``"chapter:TrainConfig"``: the runs
a chapter makes, which are smaller than a single ``train`` run of the same profile). A config
field that is itself a dataclass (``TrainConfig.eval``) is filled from its own entry.
:func:`for_profile` builds a config from the table, :func:`add_arguments` and :func:`from_args`
build and read the command line from the same fields.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import torch

PROFILES_NAMES = ("full", "reference", "quick", "smoke")


def setting(default: Any = dataclasses.MISSING, help: str = "", *, factory=None, **meta):
    """A config field whose help text travels with it (``--help`` and the docs read it)."""
    md = {"help": help} | meta
    if factory is not None:
        return field(default_factory=factory, metadata=md)
    return field(default=default, metadata=md)


# ----------------------------------------------------------------------------------------------
# devices and profiles


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; any other value as ``torch.device`` reads it
    (``"cuda:1"``), with a ``ValueError`` for CUDA on a machine without it."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but CUDA is not available here; "
                         "use 'cpu' or 'auto'")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported; use auto, cpu, cuda or cuda:N")
    return dev


def resolve(profile: str = "auto", device: str | torch.device = "auto") -> str:
    """The concrete profile: ``"auto"`` -> ``"full"`` on CUDA, ``"quick"`` on CPU."""
    if profile == "auto":
        return "full" if resolve_device(device).type == "cuda" else "quick"
    if profile not in PROFILES_NAMES:
        raise ValueError(f"unknown profile {profile!r}; choose one of: auto, "
                         f"{', '.join(PROFILES_NAMES)}")
    return profile


def set_threads(threads: int) -> None:
    """torch's intra-op CPU threads for this process (0 keeps torch's default)."""
    if threads:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------------------------------
# the evaluation config, nested where it is used (TrainConfig.eval)


@dataclass
class EvalConfig:
    every: int = setting(0, "steps between FID/KID evaluations (0: never)")
    n_gen: int = setting(10_000, "generated images per FID/KID evaluation")
    n_real: int = setting(10_000, "real test images in the FID/KID reference")
    feature_space: str = setting("domain", "FID/KID features: domain (osgan's CNN), inception, "
                                 "domain_smoke (tests)")

    def validate(self) -> None:
        for name in ("n_gen", "n_real"):
            if getattr(self, name) <= 0:
                raise ValueError(f"eval.{name} must be a positive integer; "
                                 f"got {getattr(self, name)}")
        if self.every < 0:
            raise ValueError(f"eval.every must be >= 0 (0 turns it off); got {self.every}")


# ----------------------------------------------------------------------------------------------
# the profile table: profile -> "[role:]ClassName" -> fields that differ from the defaults

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "full": {
        "chapter:ChapterConfig": dict(evals=8),
        "chapter:DFADChapter": dict(n_seeds=3),
        # the GPU sweep recorded in results/
        "BenchConfig": dict(objectives=("dcgan", "dcgan_ns"), image_sizes=(32, 64),
                            widths=(32, 64, 128), batch_sizes=(64, 128),
                            fused=("fused", "separate"),
                            options=("layout", "channels_last", "bf16", "compile",
                                     "cudnn_benchmark", "sync"), repeats=20, warmup=5),
    },
    "reference": {
        # the recorded sweeps on this project's 2-core CPU (python -m osgan sweep table1). From a
        # probe of two-stage runs at width 32, batch 64: saturating DCGAN learns with D's rate
        # below G's (as in the paper's released configurations) and its domain FID still falls
        # at 6000 steps (1.09 at 4000, 0.81 at 6000), so 10000 steps, the same for every
        # objective and both schemes; the plateau rule says per run whether that sufficed.
        "TrainConfig": dict(width=32, batch_size=64, steps=10_000, lr_g=2e-4, lr_d=1e-4,
                            log_every=100, sample_every=0, checkpoint_every=500, threads=1,
                            progress=False),
        "EvalConfig": dict(every=500, n_gen=5000, n_real=10_000),
        "chapter:ChapterConfig": dict(evals=20),
        "chapter:DFADChapter": dict(n_seeds=3),
        # the recorded DFAD sweep (python -m osgan sweep table2): the quick chapter's networks,
        # every evaluation on the whole test split and the whole validation split. Not yet
        # probed for convergence: check --dry-run's estimate and a first seed's curves first.
        "DFADConfig": dict(batch_size=128, g_width=16, nz=64, eval_every=100, eval_n=None,
                           checkpoint_every=200, threads=1, progress=False),
    },
    "quick": {
        # about 0.07 CPU-seconds a step on a 2-core CPU, so 2000 steps take 2-3 minutes; by step
        # 2000 the grid shows tops, shirts and dresses (at 1000 only blobs). One thread: on a
        # shared CPU more threads stall each other.
        "TrainConfig": dict(width=32, batch_size=64, steps=2000, log_every=25, sample_every=250,
                            checkpoint_every=500, threads=1),
        # a chapter trains six runs or more: smaller and shorter, a few minutes for all
        "chapter:TrainConfig": dict(width=16, batch_size=64, steps=800, log_every=20,
                                    sample_every=800, checkpoint_every=0, progress=False),
        "chapter:EvalConfig": dict(n_gen=1000, n_real=2000),
        "chapter:ChapterConfig": dict(evals=4),
        # the live check of chapter 05: a teacher of 4 epochs (0.86; the record's is trained to
        # its plateau, 32 epochs, 0.905) keeps a first build within minutes
        "DFADConfig": dict(rounds=150, batch_size=128, g_width=8, nz=64, eval_every=10,
                           eval_n=2000, threads=1, teacher_epochs=4.0),
        "chapter:DFADChapter": dict(n_seeds=2),
        # a CPU sweep of a few minutes; one thread and CPU time: figures that do not move with
        # other load on the machine
        "BenchConfig": dict(objectives=("dcgan", "dcgan_ns"), image_sizes=(32,), widths=(32,),
                            batch_sizes=(32,), fused=("fused", "separate"),
                            options=("layout", "channels_last", "bf16", "sync"), channels=1,
                            repeats=5,
                            warmup=1, threads=1, clock="cpu"),
    },
    "smoke": {
        "TrainConfig": dict(width=8, batch_size=16, steps=12, log_every=2, sample_every=6,
                            checkpoint_every=6, sample_n=16),
        "EvalConfig": dict(n_real=128, n_gen=64, feature_space="domain_smoke"),
        "chapter:TrainConfig": dict(steps=6, log_every=2, sample_every=6, checkpoint_every=0,
                                    progress=False),
        "chapter:ChapterConfig": dict(evals=2),
        "DFADConfig": dict(rounds=3, batch_size=16, g_width=4, nz=8, eval_every=2, eval_n=200,
                           teacher_epochs=0.02, val_n=500, progress=False),
        "chapter:DFADChapter": dict(n_seeds=1),
        # seconds on a CPU (tests, the book's smoke build)
        "BenchConfig": dict(objectives=("dcgan", "dcgan_ns"), image_sizes=(32,), widths=(8,),
                            batch_sizes=(4,), fused=("fused", "separate"),
                            options=("layout", "channels_last", "sync"), channels=1, repeats=2,
                            warmup=1, threads=1, matmul_n=1024),
    },
}


def profile_settings(cls: type, profile: str, role: str | None = None) -> dict[str, Any]:
    """What ``profile`` changes in ``cls`` (``role``'s entry over the plain one)."""
    table = PROFILES[profile]
    out = dict(table.get(cls.__name__, {}))
    if role:
        out |= table.get(f"{role}:{cls.__name__}", {})
    return out


def _nested(cls: type) -> dict[str, type]:
    """Fields of ``cls`` that are dataclasses themselves: name -> class."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)
            if dataclasses.is_dataclass(hints[f.name])}


def for_profile(cls: type, profile: str = "auto", *, role: str | None = None, **overrides):
    """``cls`` with the settings of ``profile`` (auto: full if ``overrides["device"]`` resolves
    to CUDA, else quick), then ``overrides``. A nested config takes its own profile entry, then
    a dict (or instance) given in ``overrides``."""
    name = resolve(profile, overrides.get("device", "auto"))
    values = profile_settings(cls, name, role)
    for fname, sub in _nested(cls).items():
        given = overrides.pop(fname, None)
        if dataclasses.is_dataclass(given):
            given = dataclasses.asdict(given)
        values[fname] = for_profile(sub, name, role=role, **(given or {}))
    unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"unknown setting(s) of {cls.__name__}: {', '.join(sorted(unknown))}")
    return cls(**(values | overrides))


def from_dict(cls: type, values: dict[str, Any]):
    """Rebuild a config from ``dataclasses.asdict`` output (a run's ``config.json``)."""
    nested = _nested(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kw = {k: (from_dict(nested[k], v) if k in nested else v)
          for k, v in values.items() if k in known}
    return cls(**kw)


# ----------------------------------------------------------------------------------------------
# the command line, from the same fields


def _parse_optional(type_):
    def parse(s: str):
        return None if s.lower() == "none" else type_(s)

    parse.__name__ = type_.__name__
    return parse


def _base_type(hint):
    """int for ``int`` and ``int | None``; (type, optional)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return inner[0], True
    return hint, False


def _shown(value: Any) -> str:
    """A value as the command line takes it: a tuple as its items, space-separated."""
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def add_arguments(parser: argparse.ArgumentParser, cls: type, *, prefix: str = "",
                  skip: tuple[str, ...] = (), choices: dict[str, tuple] | None = None) -> None:
    """One ``--flag`` per field of ``cls`` (nested configs as ``--eval-every``), its help from
    the field's metadata and every profile's value. A flag not given stays unset
    (``argparse.SUPPRESS``), so the profile's value applies."""
    hints = typing.get_type_hints(cls)
    choices = choices or {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        dest = prefix + f.name
        if dataclasses.is_dataclass(hints[f.name]):
            add_arguments(parser, hints[f.name], prefix=dest + "_", choices=choices)
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        per_profile = ", ".join(
            f"{p}: {_shown(PROFILES[p][cls.__name__][f.name])}" for p in PROFILES_NAMES
            if f.name in PROFILES[p].get(cls.__name__, {}))
        help_ = f.metadata.get("help", "") + (f" [{per_profile}]" if per_profile else "")
        help_ = help_.replace("%", "%%") + f" (default: {_shown(default)})"
        flag = "--" + dest.replace("_", "-")
        kw: dict[str, Any] = dict(dest=dest, default=argparse.SUPPRESS, help=help_)
        if dest in choices:
            kw["choices"] = choices[dest]
        kind, optional = _base_type(hints[f.name])
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif typing.get_origin(kind) is tuple:
            item = typing.get_args(kind)[0]
            parser.add_argument(flag, nargs="+", type=item, **kw)
        else:
            if dest not in choices:  # with choices, argparse shows them in place of a metavar
                kw["metavar"] = f.name.upper()
            parser.add_argument(flag, type=_parse_optional(kind) if optional else kind, **kw)


def given(args: argparse.Namespace, cls: type, *, prefix: str = "") -> dict[str, Any]:
    """The fields of ``cls`` set on the command line (nested configs as dicts)."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        dest = prefix + f.name
        if dataclasses.is_dataclass(hints[f.name]):
            sub = given(args, hints[f.name], prefix=dest + "_")
            if sub:
                out[f.name] = sub
        elif hasattr(args, dest):
            v = getattr(args, dest)
            out[f.name] = tuple(v) if isinstance(v, list) else v
    return out


def add_profile_argument(parser: argparse.ArgumentParser, default: str | None = "auto") -> None:
    """``--profile``, the profile a command's config starts from (None: the config's own
    defaults); argparse's help formatter shows the default."""
    none = "; None: the config's defaults" if default is None else ""
    parser.add_argument("--profile", default=default, choices=("auto",) + PROFILES_NAMES,
                        help=f"start from a profile's settings (auto: full on CUDA, quick on "
                        f"CPU{none}); options given explicitly override it")


def from_args(cls: type, args: argparse.Namespace, **extra):
    """The config the command line asks for: ``--profile``'s settings, then the flags given."""
    return for_profile(cls, getattr(args, "profile", "auto"), **(given(args, cls) | extra))
