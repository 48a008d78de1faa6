"""Run profiles: how big a run is, chosen by what the machine can do.

* ``full``: the paper's scale (Sec. 4.1.2: batch 128, DCGAN width 64), for a CUDA GPU;
* ``quick``: a CPU run of a few minutes whose last samples already show the data set's objects;
* ``smoke``: seconds; tiny models and a handful of steps, for tests and the CI build of the book.

``auto`` picks ``full`` on CUDA and ``quick`` on CPU. The numbers each profile sets live with the
configuration they fill in (:meth:`osgan.training.TrainConfig.for_profile`).
"""

from __future__ import annotations

import torch

PROFILES = ("full", "quick", "smoke")
DEVICES = ("auto", "cpu", "cuda")


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
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of: auto, {', '.join(PROFILES)}")
    return profile
