"""Checkpoints a killed run can resume from, bit for bit.

A checkpoint holds everything the next step reads: G and D (with BatchNorm buffers and spectral-norm
vectors), both Adam states, the objective's state (Fisher GAN's multiplier), the step, the clocks
and the random number generators (torch's global one, CUDA's, and the data sampler's). It is a dict
of tensors and plain Python values, so ``torch.load(..., weights_only=True)`` reads it and no
pickled code ever runs. Files are written atomically: to a temporary file in the same folder, then
``os.replace``, so a run killed while saving keeps its previous checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from osgan.util import atomic_write


def rng_state(data_generator: torch.Generator) -> dict[str, Any]:
    """The states of every generator a training step draws from, as tensors."""
    state = {"torch": torch.get_rng_state(), "data": data_generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], data_generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    data_generator.set_state(state["data"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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
