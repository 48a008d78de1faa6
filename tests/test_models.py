"""DCGAN models: shapes, normalisation, conditioning, spectral norm, clear errors."""

import pytest
import torch
from torch import nn

from osgan import losses
from osgan.models import ModelConfig, build, is_per_sample, models_for


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(size, channels):
    G, D = build(ModelConfig(image_size=size, channels=channels, width=4, nz=10))
    x_hat = G(torch.randn(5, 10))
    assert x_hat.shape == (5, channels, size, size)
    assert x_hat.abs().max() <= 1  # tanh output, the data's [-1, 1] range
    assert D(x_hat).shape == (5,)


def test_d_uses_groupnorm_by_default_and_batchnorm_on_request():
    _, D = build(ModelConfig(width=4))
    assert any(isinstance(m, nn.GroupNorm) for m in D.modules()) and is_per_sample(D)
    _, D = build(ModelConfig(width=4, d_norm="batch"))
    assert any(isinstance(m, nn.BatchNorm2d) for m in D.modules()) and not is_per_sample(D)
    with pytest.raises(ValueError, match="group"):
        build(ModelConfig(width=4, d_norm="layer"))


def test_groupnorm_d_treats_samples_independently():
    _, D = build(ModelConfig(width=4))
    x = torch.randn(6, 1, 32, 32)
    torch.testing.assert_close(D(x)[:2], D(x[:2]), rtol=1e-5, atol=1e-6)


def test_conditional_models_need_and_use_labels():
    G, D = models_for(losses.get("cgan"), width=4, nz=10, num_classes=10)
    z, y = torch.randn(4, 10), torch.tensor([0, 1, 2, 3])
    x_hat = G(z, y)
    assert not torch.allclose(G(z, y), G(z, (y + 1) % 10))
    assert D(x_hat, y).shape == (4,)
    with pytest.raises(ValueError, match="G\\(z, y\\)"):
        G(z)
    with pytest.raises(ValueError, match="D\\(x, y\\)"):
        D(x_hat)
    with pytest.raises(ValueError, match="num_classes"):
        models_for(losses.get("cgan"), width=4)


def test_sngan_gets_a_spectrally_normalised_d():
    _, D = models_for(losses.get("sngan"), width=4)
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
    for _ in range(50):  # power iteration converges: largest singular value of each weight -> 1
        D(torch.randn(2, 1, 32, 32))
    D.eval()
    w = convs[1].weight.reshape(convs[1].weight.shape[0], -1)
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, rel=1e-2)
    _, D = models_for(losses.get("dcgan"), width=4)
    assert not any(hasattr(m, "parametrizations") for m in D.modules())


def test_wrong_image_size_is_a_clear_error():
    with pytest.raises(ValueError, match="32 or 64"):
        build(ModelConfig(image_size=28))
    _, D = build(ModelConfig(width=4))
    with pytest.raises(ValueError, match="resize"):
        D(torch.randn(2, 1, 28, 28))
