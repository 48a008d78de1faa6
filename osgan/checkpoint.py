"""Checkpoints a killed run can resume from, bit for bit.

A checkpoint holds everything the next step reads: G and D (with BatchNorm buffers and spectral-norm
vectors), both Adam states, the objective's state (Fisher GAN's multiplier), the step, the clocks,
the run's own random number generators (the noise z is drawn from, and the data sampler's) and its
layout (:mod:`osgan.layout`), which a resumed run keeps: another layout rounds differently. It is
a dict of tensors and plain Python values, so ``torch.load(..., weights_only=True)`` reads it and
no pickled code ever runs. Files are written atomically: to a temporary file in the same folder,
then ``os.replace``, so a run killed while saving keeps its previous checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from osgan.util import atomic_write


def noise_generator(device: torch.device) -> torch.Generator:
    """The run's own generator of noise (every z of its steps). Nothing else draws from it (nor
    from the run's data generator), so a run's numbers depend on its config and seed alone, not
    on evaluation, caches or what ran before it in the process.

    Call right after the models are initialised under ``torch.manual_seed(seed)``: the noise
    generator starts where torch's global generator stands then, on ``device``, which is the
    stream that runs drew z from before they had a generator of their own (when nothing else
    drew from it), so those runs train the same way."""
    noise = torch.Generator(device)
    noise.set_state(torch.cuda.get_rng_state(device) if device.type == "cuda"
                    else torch.get_rng_state())
    return noise


def rng_state(noise: torch.Generator, data_generator: torch.Generator) -> dict[str, Any]:
    """The states of the generators a step draws from, as tensors."""
    return {"noise": noise.get_state(), "data": data_generator.get_state()}


def set_rng_state(state: dict[str, Any], noise: torch.Generator,
                  data_generator: torch.Generator) -> None:
    """Restore :func:`rng_state`'s states. A checkpoint written before runs had their own noise
    generator holds torch's global state instead (``"torch"``, and ``"cuda"`` per device), the
    stream its z were drawn from: that is where the noise generator resumes."""
    data_generator.set_state(state["data"])
    if "noise" in state:
        noise.set_state(state["noise"])
    elif noise.device.type == "cuda":
        noise.set_state(state["cuda"][noise.device.index or 0])
    else:
        noise.set_state(state["torch"])


def save(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors and plain values only) atomically to ``path``."""
    atomic_write(path, lambda f: torch.save(state, f))


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; ``ValueError`` says what to do if it can't."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"no checkpoint at {path}: train the run first") from None
    except Exception as e:  # truncated, corrupt, or not a checkpoint at all
        raise ValueError(
            f"cannot read checkpoint {path} ({type(e).__name__}: {str(e).splitlines()[0][:120]}); "
            "delete it to start the run over, or point at another run directory"
        ) from None
