"""The ten objectives against their formulas written independently with math (Table 1)."""

import math

import pytest
import torch

from osgan import losses

P = [0.3, -1.7, 2.2]
P_HAT = [-0.4, 1.1, -2.5]


def mean(v):
    return sum(v) / len(v)


def sp(t):  # softplus written with math, independent of torch
    return math.log1p(math.exp(t))


def sig(t):
    return 1 / (1 + math.exp(-t))


# name -> (L_D, L_G) as plain Python over the lists P and P_HAT
REFERENCE = {
    "dcgan": (mean([sp(-a) for a in P]) + mean([sp(b) for b in P_HAT]), -mean([sp(b) for b in P_HAT])),
    "wgan": (-mean(P) + mean(P_HAT), -mean(P_HAT)),
    "dcgan_ns": (mean([sp(-a) for a in P]) + mean([sp(b) for b in P_HAT]), mean([sp(-b) for b in P_HAT])),
    "lsgan": (0.5 * mean([(a - 1) ** 2 for a in P]) + 0.5 * mean([b**2 for b in P_HAT]),
              0.5 * mean([(b - 1) ** 2 for b in P_HAT])),
    "geogan": (mean([max(0, 1 - a) for a in P]) + mean([max(0, 1 + b) for b in P_HAT]), -mean(P_HAT)),
    "relgan": (mean([-math.log(sig(a - b)) for a, b in zip(P, P_HAT)]),
               mean([-math.log(sig(b - a)) for a, b in zip(P, P_HAT)])),
    "bgan": (mean([sp(-a) for a in P]) + mean([sp(b) for b in P_HAT]),
             0.5 * mean([math.log(sig(b) / (1 - sig(b))) ** 2 for b in P_HAT])),
}
REFERENCE["cgan"] = REFERENCE["dcgan"]
REFERENCE["sngan"] = REFERENCE["geogan"]


def fisher_reference(lam, rho):
    E = mean(P) - mean(P_HAT)
    Omega = 0.5 * (mean([a * a for a in P]) + mean([b * b for b in P_HAT]))
    return -(E + lam * (1 - Omega) - rho / 2 * (1 - Omega) ** 2), -mean(P_HAT), Omega


def tensors():
    return torch.tensor(P, dtype=torch.float64), torch.tensor(P_HAT, dtype=torch.float64)


def test_registry_has_the_ten_of_table1_in_order():
    assert losses.names() == ["dcgan", "cgan", "wgan", "dcgan_ns", "lsgan", "geogan", "relgan",
                              "fishergan", "bgan", "sngan"]
    assert set(losses.SYMMETRIC) | set(losses.ASYMMETRIC) == set(losses.names())
    for name in losses.names():
        assert losses.get(name).symmetric == (name in losses.SYMMETRIC)
        assert losses.get(name).reference, f"{name} cites no paper"


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as e:
        losses.get("stylegan")
    for name in losses.names():
        assert name in str(e.value)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_losses_match_formulas(name):
    p, p_hat = tensors()
    obj = losses.get(name)
    ref_d, ref_g = REFERENCE[name]
    terms = obj.loss_d(p, p_hat)
    torch.testing.assert_close(terms["total"].item(), ref_d, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(obj.loss_g(p, p_hat).mean().item(), ref_g, rtol=1e-12, atol=1e-12)
    assert obj.loss_g(p, p_hat).shape == p_hat.shape  # per sample
    if obj.splits:  # Eq. 4: L_D = L_D^r + L_D^f, per-sample terms
        assert terms["real"].shape == p.shape and terms["fake"].shape == p_hat.shape
        torch.testing.assert_close(terms["real"].mean() + terms["fake"].mean(), terms["total"],
                                   rtol=0, atol=1e-15)
    if obj.symmetric:  # Sec. 3.1.1: L_G = -L_D^f
        torch.testing.assert_close(obj.loss_g(p, p_hat), -terms["fake"], rtol=0, atol=0)


def test_fisher_gan_loss_and_multiplier_update():
    p, p_hat = tensors()
    obj = losses.get("fishergan", rho=0.3)
    ref_d, ref_g, Omega = fisher_reference(0.0, 0.3)
    terms = obj.loss_d(p, p_hat)
    torch.testing.assert_close(terms["total"].item(), ref_d, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(obj.loss_g(p, p_hat).mean().item(), ref_g, rtol=1e-12, atol=1e-12)
    obj.loss_d(p, p_hat)  # computing the loss leaves the multiplier alone
    assert float(obj.lam) == 0.0
    obj.after_d_step(None, terms)  # lambda <- lambda - rho (1 - Omega)
    lam = -0.3 * (1 - Omega)
    torch.testing.assert_close(float(obj.lam), lam, rtol=1e-12, atol=1e-15)
    ref_d2, _, _ = fisher_reference(lam, 0.3)
    torch.testing.assert_close(obj.loss_d(p, p_hat)["total"].item(), ref_d2, rtol=1e-12, atol=1e-12)
    # the multiplier is state: a fresh objective starts again at 0, and it survives a round trip
    assert float(losses.get("fishergan").lam) == 0.0
    other = losses.get("fishergan")
    other.load_state_dict(obj.state_dict())
    assert float(other.lam) == pytest.approx(lam, rel=1e-12) and other.rho == 0.3


def test_wgan_clips_every_weight_after_a_d_step():
    D = torch.nn.Linear(5, 3)
    with torch.no_grad():
        D.weight.mul_(100)
    losses.get("wgan").after_d_step(D, {})
    for w in D.parameters():
        assert w.abs().max().item() <= 0.01
    assert D.weight.abs().max().item() == pytest.approx(0.01)
