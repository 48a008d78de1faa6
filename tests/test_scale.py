"""The scale op, gamma of Eq. 7 against closed forms, Eq. 9 against Eq. 7, and Eq. 7 per layer."""

import pytest
import torch
from conftest import ALL, batch, tiny_models

from osgan import losses
from osgan.reference import layer_ratios
from osgan.scale import has_closed_form, instance_losses, per_sample_gamma, scale_grad


def test_scale_grad_is_identity_forward_and_scales_each_sample_backward():
    x = torch.randn(3, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    g = torch.tensor([-1.0, 0.5, 3.0], dtype=torch.float64)
    y = scale_grad(x, g)
    torch.testing.assert_close(y, x, rtol=0, atol=0)
    (y * w).sum().backward()
    torch.testing.assert_close(x.grad, g[:, None, None, None] * w, rtol=0, atol=0)
    # a number is the same scale for every sample
    x.grad = None
    (scale_grad(x, -2.0) * w).sum().backward()
    torch.testing.assert_close(x.grad, -2 * w, rtol=0, atol=0)


def test_scale_grad_is_a_pure_function_of_its_arguments():
    # two ops with different scales in one graph must not interfere (no global state)
    x = torch.ones(2, 3, requires_grad=True)
    a = scale_grad(x, torch.tensor([2.0, 2.0]))
    b = scale_grad(x, torch.tensor([-5.0, 1.0]))
    (a.sum() + b.sum()).backward()
    torch.testing.assert_close(x.grad, torch.tensor([[-3.0] * 3, [3.0] * 3]))


def test_scale_grad_rejects_a_gamma_of_the_wrong_shape():
    with pytest.raises(ValueError, match="one per sample"):
        scale_grad(torch.ones(4, 2), torch.ones(3))


P = torch.tensor([0.3, -1.7, 2.2, 0.9], dtype=torch.float64)
P_HAT = torch.tensor([-0.4, 1.1, -0.5, 0.25], dtype=torch.float64)
S = torch.sigmoid

# gamma_i = (dL_G/dp_hat_i) / (dL_D/dp_hat_i), derived by hand from each objective's formulas
CLOSED_FORM = {
    "dcgan_ns": lambda p, q: -torch.exp(-q),  # -sigmoid(-q) / sigmoid(q)
    "lsgan": lambda p, q: (q - 1) / q,
    "geogan": lambda p, q: -torch.ones_like(q),  # where the hinge is active (all |q| < 1 here)
    "sngan": lambda p, q: -torch.ones_like(q),
    "relgan": lambda p, q: -torch.exp(p - q),  # -sigmoid(p - q) / sigmoid(q - p)
    "bgan": lambda p, q: q / S(q),
    "fishergan": lambda p, q: -1 / (1 - 1e-6 * (1 - 0.5 * ((p**2).mean() + (q**2).mean())) * q),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORM))
def test_gamma_matches_closed_form(name):
    g = per_sample_gamma(losses.get(name), P, P_HAT)
    torch.testing.assert_close(g.gamma, CLOSED_FORM[name](P, P_HAT), rtol=1e-12, atol=1e-12)
    assert not g.inactive.any()


@pytest.mark.parametrize("name", losses.SYMMETRIC)
def test_symmetric_objectives_have_gamma_minus_one(name):
    obj = losses.get(name)
    # the shortcut: -1 without computing anything
    assert torch.equal(per_sample_gamma(obj, P, P_HAT).gamma, torch.full_like(P_HAT, -1.0))
    # and the ratio computed the long way agrees exactly: L_G = -L_D^f
    q = P_HAT.clone().requires_grad_(True)
    (d_d,) = torch.autograd.grad(obj.loss_d(P, q)["total"], q)
    (d_g,) = torch.autograd.grad(obj.loss_g(P, q).mean(), q)
    assert torch.equal(d_g / d_d, torch.full_like(P_HAT, -1.0))


def test_inactive_hinge_samples_are_flagged_not_inf():
    q = torch.tensor([-0.5, -1.5, 0.2, -3.0], dtype=torch.float64)
    g = per_sample_gamma(losses.get("geogan"), P, q)
    assert g.inactive.tolist() == [False, True, False, True]
    assert torch.isfinite(g.gamma).all()
    assert g.gamma.tolist() == [-1.0, 0.0, -1.0, 0.0]


SPLITTING_ASYM = [n for n in losses.ASYMMETRIC if losses.get(n).splits]


@pytest.mark.parametrize("name", SPLITTING_ASYM)
def test_eq9_instance_losses_give_the_gradients_of_eq7(name):
    """Eq. 9's L_D^ins has L_D's gradient in p_hat, and L_G^ins has L_G's (Eq. 8)."""
    obj = losses.get(name)
    g = per_sample_gamma(obj, P, P_HAT).gamma
    q = P_HAT.clone().requires_grad_(True)
    loss_d_ins, loss_g_ins = instance_losses(obj, P, q, g)
    (d_ins,) = torch.autograd.grad(loss_d_ins, q, retain_graph=True)
    (g_ins,) = torch.autograd.grad(loss_g_ins, q)
    (d_ref,) = torch.autograd.grad(obj.loss_d(P, q)["total"], q)
    (g_ref,) = torch.autograd.grad(obj.loss_g(P, q).mean(), q)
    torch.testing.assert_close(d_ins, d_ref, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(g_ins, g_ref, rtol=1e-12, atol=1e-15)
    # and L_G^ins = gamma_i * L_D^ins in the gradient of each sample (Algorithm 1, line 9)
    torch.testing.assert_close(g_ins, g * d_ins, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["dcgan_ns", "lsgan", "bgan"])
def test_eq7_ratio_is_constant_through_every_groupnorm_layer(name):
    obj = losses.get(name)
    G, D = tiny_models(obj)
    x, z, _ = batch(obj)
    layers, g = layer_ratios(D, obj, x, G(z).detach())
    assert len(layers) == len(D.net) + 1  # D's input and each of its layers
    for layer in layers:  # every element of sample i's features has ratio gamma_i, at every layer
        torch.testing.assert_close(layer.r_min, g, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(layer.r_max, g, rtol=1e-9, atol=1e-12)
        assert layer.deviation < 1e-9


@pytest.mark.parametrize("name", ["dcgan_ns", "lsgan"])
def test_eq7_fails_with_batchnorm(name):
    obj = losses.get(name)
    G, D = tiny_models(obj, d_norm="batch")
    x, z, _ = batch(obj)
    layers, g = layer_ratios(D, obj, x, G(z).detach())
    # at D's output the ratio is gamma by definition; below the first BatchNorm it is not
    assert layers[-1].deviation < 1e-9
    last_bn = max(layer.index for layer in layers if layer.kind == "BatchNorm2d")
    assert all(layer.deviation < 1e-9 for layer in layers[last_bn:])  # above BatchNorm: exact
    assert max(layer.deviation for layer in layers[:last_bn]) > 1e-2  # below it: broken


@pytest.mark.parametrize("name", ALL)
def test_gamma_is_finite_for_every_objective_on_random_outputs(name):
    p, q = torch.randn(64, dtype=torch.float64) * 3, torch.randn(64, dtype=torch.float64) * 3
    g = per_sample_gamma(losses.get(name), p, q)
    assert torch.isfinite(g.gamma).all()


# --- Eq. 7's derivatives in closed form against autograd -----------------------------------------


def _outputs(name, shape=(64,)):
    """D outputs that cover every regime: both hinges' active and inactive sides, the kink at
    p_hat = -1 exactly, saturated sigmoids."""
    gen = torch.Generator().manual_seed(1)
    p = 3 * torch.randn(shape, generator=gen, dtype=torch.float64)
    p_hat = 3 * torch.randn(shape, generator=gen, dtype=torch.float64)
    p_hat.view(-1)[:3] = torch.tensor([-1.0, -40.0, 40.0], dtype=torch.float64)
    obj = losses.get(name)
    if name == "fishergan":  # a multiplier and penalty away from their zero start
        obj.lam = torch.tensor(0.7, dtype=torch.float64)
        obj.rho = 0.3
    return obj, p, p_hat


@pytest.mark.parametrize("shape", [(64,), (16, 3)], ids=["one-output", "three-outputs"])
@pytest.mark.parametrize("name", ALL)
def test_closed_form_gamma_equals_autograd(name, shape):
    obj, p, p_hat = _outputs(name, shape)
    assert has_closed_form(obj)
    if obj.symmetric:  # gamma = -1 without derivatives; check the closed forms say so
        torch.testing.assert_close(obj.dloss_g(p, p_hat), -obj.dloss_d(p, p_hat), rtol=0, atol=0)
        return
    closed = per_sample_gamma(obj, p, p_hat, closed_form=True)
    auto = per_sample_gamma(obj, p, p_hat, closed_form=False)
    for field, a, e in zip(closed._fields, closed, auto):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-300, msg=lambda m, f=field: f"{f}: {m}")
    if name in ("geogan", "sngan"):  # the inactive hinges are flagged the same way
        assert closed.inactive.any() and not closed.inactive.all()


def test_a_subclass_that_changes_a_loss_falls_back_to_autograd():
    class Scaled(losses.LSGAN):  # changes L_G, inherits LSGAN's dloss_g: must not use it
        def loss_g(self, p, p_hat):
            return 2 * super().loss_g(p, p_hat)

    obj = Scaled()
    assert not has_closed_form(obj)
    p, p_hat = torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    g = per_sample_gamma(obj, p, p_hat)
    torch.testing.assert_close(g.gamma, 2 * (p_hat - 1) / p_hat, rtol=1e-12, atol=0)
