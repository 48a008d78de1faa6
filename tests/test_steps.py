"""One-stage gradients against two separate autograd passes (the two-stage definition), every objective."""


import copy

import pytest
import torch
from conftest import ALL, batch, tiny_models

import osgan
import osgan.steps
from osgan import losses
from osgan.models import call
from osgan.reference import reference_grads


def grads(module):
    return [p.grad for p in module.parameters()]


def assert_all_close(actual, expected, rtol=1e-6, atol=1e-12):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", ALL)
def test_one_stage_gradients_equal_two_separate_passes(name):
    obj = losses.get(name)
    G, D = tiny_models(obj)
    x, z, y = batch(obj)
    stats = osgan.one_stage_backward(G, D, obj, x, z, y)
    assert stats["Gamma/inactive"] == 0.0  # the claim is for batches with no inactive samples
    ref_d, ref_g = reference_grads(G, D, obj, x, z, y)
    assert_all_close(grads(D), ref_d)
    assert_all_close(grads(G), ref_g)


@pytest.mark.parametrize("name", ["dcgan_ns", "lsgan", "relgan", "bgan", "fishergan"])
def test_the_reference_test_fails_without_the_scale_op(name, monkeypatch):
    """Remove the scale op (identity instead of gamma): G then follows D's gradient, not its own."""
    obj = losses.get(name)
    G, D = tiny_models(obj)
    x, z, y = batch(obj)
    monkeypatch.setattr(osgan.steps, "scale_grad", lambda x_hat, gamma_: x_hat)
    osgan.one_stage_backward(G, D, obj, x, z, y)
    _, ref_g = reference_grads(G, D, obj, x, z, y)
    with pytest.raises(AssertionError):
        assert_all_close(grads(G), ref_g)


def hinge_with_inactive_samples(name):
    """A hinge objective and models where about half the fakes have p_hat < -1 (inactive)."""
    obj = losses.get(name)
    G, D = tiny_models(obj)
    x, z, y = batch(obj, B=8)
    last = D.net[-1]
    with torch.no_grad():
        if obj.spectral_norm:
            for _ in range(30):  # converge the power iteration, so the step's one more is a no-op
                D(G(z))
        else:
            last.weight.mul_(50)  # spread the logits
        p_hat = D.eval()(G(z)).sort().values
        D.train()
        # the hinge p_hat = -1 now lies halfway between the 4th and 5th of the 8 fakes
        last.bias -= (p_hat[3] + p_hat[4]) / 2 + 1.0
    return obj, G, D, x, z, y


@pytest.mark.parametrize("name", ["geogan", "sngan"])
def test_inactive_hinge_samples(name):
    obj, G, D, x, z, y = hinge_with_inactive_samples(name)
    stats = osgan.one_stage_backward(G, D, obj, x, z, y)
    inactive_fraction = stats["Gamma/inactive"]
    assert 0.2 <= inactive_fraction <= 0.8, inactive_fraction
    D.eval()
    with torch.no_grad():
        active = D(G(z)) > -1
    D.train()
    assert (1 - active.double().mean()).item() == pytest.approx(inactive_fraction)
    ref_d, ref_g_full = reference_grads(G, D, obj, x, z, y)
    _, ref_g_active = reference_grads(G, D, obj, x, z, y, active=active)
    # D's gradient is exact; G's equals the reference over the active samples only ...
    assert_all_close(grads(D), ref_d)
    assert_all_close(grads(G), ref_g_active)
    with pytest.raises(AssertionError):
        assert_all_close(grads(G), ref_g_full)
    # ... and exact=True recovers the full reference with one extra pass over the inactive ones
    stats = osgan.one_stage_backward(G, D, obj, x, z, y, exact=True)
    assert stats["Exact/extra_samples"] == pytest.approx(inactive_fraction * x.shape[0])
    # (spectral norm moved on by one power iteration in this pass: references at the new weights)
    ref_d, ref_g_full = reference_grads(G, D, obj, x, z, y)
    assert_all_close(grads(D), ref_d)
    assert_all_close(grads(G), ref_g_full)


def count_calls(module):
    calls = []
    module.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    return calls


@pytest.mark.parametrize("name", ["dcgan", "dcgan_ns"])
def test_one_stage_runs_g_once_and_d_once_on_the_joint_batch(name):
    obj = losses.get(name)
    G, D = tiny_models(obj)
    x, z, y = batch(obj)
    g_calls, d_calls = count_calls(G), count_calls(D)
    osgan.one_stage_backward(G, D, obj, x, z, y)
    assert g_calls == [6] and d_calls == [12]  # Algorithm 1: one forward each, real and fake joined


def test_batchnorm_d_gets_separate_real_and_fake_passes():
    obj = losses.get("dcgan")
    G, D = tiny_models(obj, d_norm="batch")
    x, z, y = batch(obj)
    d_calls = count_calls(D)
    osgan.one_stage_backward(G, D, obj, x, z, y)
    assert d_calls == [6, 6]
    with pytest.raises(ValueError, match="per-sample"):
        osgan.one_stage_backward(G, D, obj, x, z, y, fused=True)
    # symmetric objectives need no Eq. 7, so one stage stays exact even with BatchNorm
    ref_d, ref_g = reference_grads(G, D, obj, x, z, y, d_eval=False)
    assert_all_close(grads(D), ref_d)
    assert_all_close(grads(G), ref_g)


@pytest.mark.parametrize("variant", ["paper", "reuse"])
@pytest.mark.parametrize("name", ["dcgan", "dcgan_ns", "relgan", "cgan"])
def test_two_stage_gradients(name, variant):
    """With learning rate 0 the parameters stay put, so both stages' gradients have references."""
    obj = losses.get(name)
    G, D = tiny_models(obj)
    x, z, y = batch(obj)
    opt_g = torch.optim.SGD(G.parameters(), lr=0.0)
    opt_d = torch.optim.SGD(D.parameters(), lr=0.0)
    torch.manual_seed(7)
    osgan.two_stage_step(G, D, opt_g, opt_d, obj, x, z, y, variant=variant)
    torch.manual_seed(7)
    z2 = torch.randn_like(z) if variant == "paper" else z  # the paper's stage 2 draws a new z
    ref_d, _ = reference_grads(G, D, obj, x, z, y)
    _, ref_g = reference_grads(G, D, obj, x, z2, y)
    assert_all_close(grads(D), ref_d)
    assert_all_close(grads(G), ref_g)


def _d_out(D, obj, x, y):
    return call(D.eval(), x, y if obj.conditional else None)


@pytest.mark.parametrize("variant", ["paper", "simultaneous"])
@pytest.mark.parametrize("name", ALL)
def test_two_stage_g_update_reads_d_after_or_before_its_update(name, variant):
    """With a learning rate the order of the updates shows: the paper's stage 2 moves G through
    the D that stage 1 has just updated; the simultaneous variant through the D from before, as
    one stage does. Both move D alike. Reference: plain SGD steps from autograd on copies."""
    obj = losses.get(name)
    G, D = tiny_models(obj)
    x, z, y = batch(obj)
    G0, D0, obj0 = copy.deepcopy(G), copy.deepcopy(D), copy.deepcopy(obj)
    lr = 0.5
    opt_g = torch.optim.SGD(G.parameters(), lr=lr)
    opt_d = torch.optim.SGD(D.parameters(), lr=lr)
    D.eval()  # spectral norm's power iteration off, as in the reference passes
    torch.manual_seed(7)
    osgan.two_stage_step(G, D, opt_g, opt_d, obj, x, z, y, variant=variant)
    torch.manual_seed(7)
    z2 = torch.randn_like(z)
    ref_d, _ = reference_grads(G0, D0, obj0, x, z, y)
    D1 = copy.deepcopy(D0).eval()
    with torch.no_grad():
        terms = obj0.loss_d(*(_d_out(D0, obj0, t, y) for t in (x, call(G0, z, y))))
        for q, g in zip(D1.parameters(), ref_d):
            q -= lr * g
    obj0.after_d_step(D1, terms)  # WGAN's clip, Fisher GAN's lambda
    _, ref_g = reference_grads(G0, D0 if variant == "simultaneous" else D1, obj0, x, z2, y)
    assert_all_close(list(D.parameters()), list(D1.parameters()))
    assert_all_close(list(G.parameters()), [q - lr * g for q, g in zip(G0.parameters(), ref_g)])


def test_two_stage_rejects_unknown_variant():
    obj = losses.get("dcgan")
    G, D = tiny_models(obj)
    x, z, y = batch(obj)
    opt = torch.optim.SGD(G.parameters(), lr=0.0)
    with pytest.raises(ValueError, match="paper"):
        osgan.two_stage_step(G, D, opt, opt, obj, x, z, y, variant="fast")


SCHEMES = {
    "one": lambda *a: osgan.one_stage_step(*a),
    "two-paper": lambda *a: osgan.two_stage_step(*a, variant="paper"),
    "two-reuse": lambda *a: osgan.two_stage_step(*a, variant="reuse"),
    "two-simultaneous": lambda *a: osgan.two_stage_step(*a, variant="simultaneous"),
}


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@pytest.mark.parametrize("name", ALL)
def test_a_few_hundred_steps_stay_finite(name, scheme):
    obj = losses.get(name)
    G, D = tiny_models(obj, dtype=torch.float32, width=2)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    x_all, _, y_all = batch(obj, B=64, dtype=torch.float32)
    for _ in range(200):
        i = torch.randint(0, 64, (4,))
        stats = SCHEMES[scheme](G, D, opt_g, opt_d, obj, x_all[i], torch.randn(4, 8),
                                y_all[i] if obj.conditional else None)
    for key, value in stats.items():
        if key.startswith("Gamma/") and stats["Gamma/inactive"] == 1.0:
            # every fake beyond the hinge: gamma is undefined for all, reported as None
            assert stats["Gamma/no_active"] == 1.0, stats
            assert key in ("Gamma/inactive", "Gamma/no_active") or value is None, stats
        else:
            assert torch.isfinite(torch.tensor(value)), stats
    for p in [*G.parameters(), *D.parameters()]:
        assert torch.isfinite(p).all()


def _relative_error(a, b):
    """||a - b|| / ||b|| over all parameters' gradients as one vector."""
    a, b = torch.cat([t.flatten() for t in a]), torch.cat([t.flatten() for t in b])
    return float((a - b).norm() / b.norm())


def _two_pass_grads(G, D, obj, x, z, y):
    """D's gradient of L_D and G's gradient of L_G from two separate autograd passes, on the
    same z (the definition one stage must equal), D's outputs in float32 as the steps take them."""
    yy = y if obj.conditional else None
    x_hat = G(z, yy) if obj.conditional else G(z)
    p, p_hat = osgan.steps._d(D, x, yy), osgan.steps._d(D, x_hat, yy)
    d_grads = torch.autograd.grad(obj.loss_d(p, p_hat)["total"], list(D.parameters()),
                                  retain_graph=True, allow_unused=True)
    g_grads = torch.autograd.grad(obj.loss_g(p, p_hat).mean(), list(G.parameters()))
    return list(d_grads), list(g_grads)


@pytest.mark.parametrize("name", ["dcgan", "dcgan_ns", "lsgan", "relgan"])
def test_bfloat16_autocast_one_stage_equals_two_passes_to_its_rounding(name):
    """Under bfloat16 autocast (TrainConfig.precision="bfloat16") Eq. 7 still gives G's gradient:
    one stage agrees with two separate passes to bfloat16's rounding, while both are a few
    percent from float32 (tiny models, random initialisation)."""
    obj = losses.get(name)
    G, D = tiny_models(obj, dtype=torch.float32, width=8)
    x, z, y = batch(obj, B=8, dtype=torch.float32)
    got = {}
    for precision in ("float32", "bfloat16"):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"):
            G_, D_ = copy.deepcopy(G), copy.deepcopy(D)
            stats = osgan.one_stage_backward(G_, D_, obj, x, z, y, as_float=False)
            assert all(v.dtype == torch.float32 for v in stats.values())  # losses, gamma
            ref_d, ref_g = _two_pass_grads(copy.deepcopy(G), copy.deepcopy(D), obj, x, z, y)
        got[precision] = grads(G_)
        assert _relative_error(grads(G_), ref_g) < 0.02, precision
        assert _relative_error(grads(D_), [r if r is not None else torch.zeros_like(q)
                                           for r, q in zip(ref_d, D_.parameters())]) < 0.02
    # autocast was on: bfloat16 moved the gradients, by less than a fifth
    assert 1e-4 < _relative_error(got["bfloat16"], got["float32"]) < 0.2
