"""Shared fixtures: small float64 models for reference checks, deterministic seeds."""

import pytest
import torch

from osgan import losses
from osgan.models import models_for

NUM_CLASSES = 3


@pytest.fixture(autouse=True)
def _seed_and_threads():
    # Tiny models gain nothing from intra-op threads and lose a lot to them on a loaded 2-core CI
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_models(objective, *, dtype=torch.float64, image_size=32, width=4, **cfg):
    """A small G and D for ``objective`` (conditional ones get NUM_CLASSES classes)."""
    G, D = models_for(objective, image_size=image_size, width=width, nz=8,
                      num_classes=NUM_CLASSES if objective.conditional else 0, **cfg)
    return G.to(dtype), D.to(dtype)


def batch(objective, B=6, *, dtype=torch.float64, image_size=32, nz=8, channels=1):
    """Real images, latents and (for conditional objectives) labels."""
    x = torch.rand(B, channels, image_size, image_size, dtype=dtype) * 2 - 1
    z = torch.randn(B, nz, dtype=dtype)
    y = torch.randint(0, NUM_CLASSES, (B,)) if objective.conditional else None
    return x, z, y


ALL = losses.names()
