"""Shared fixtures: small float64 models for reference checks, deterministic seeds, a tiny
Fashion-MNIST and a training run of seconds on it."""

import pytest
import torch
from fixtures_data import write_fashion_mnist

from osgan import data, losses
from osgan.models import models_for
from osgan.training import TrainConfig

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


@pytest.fixture
def root(tmp_path_factory, monkeypatch):
    """A Fashion-MNIST of 48 training and 16 test images, offline (data.OFFLINE_ENV)."""
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    d = tmp_path_factory.mktemp("fmnist")
    write_fashion_mnist(d, n_train=48, n_test=16)
    return str(d)


def tiny(root, out, **kw) -> TrainConfig:
    """A run of seconds on ``root``: width 4, batch 6, 8 steps, a row every step."""
    base = dict(data_root=root, out_dir=str(out), width=4, nz=8, batch_size=6, steps=8,
                log_every=1, sample_every=4, checkpoint_every=4, sample_n=4, progress=False,
                device="cpu")
    return TrainConfig.for_profile("smoke", **(base | kw))
