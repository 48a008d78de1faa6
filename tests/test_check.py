"""check_one_stage against ground truth from separate autograd passes; custom objectives; bad input."""

import copy

import pytest
import torch
import torch.nn.functional as F
from conftest import batch, tiny_models
from test_steps import hinge_with_inactive_samples

import osgan
from osgan import losses
from osgan.discriminators import SmallDiscriminator
from osgan.reference import grads, reference_grads
from osgan.scale import per_image_gamma, per_sample_gamma


def small_d(kind):
    return SmallDiscriminator(kind, width=4).double()


def dcgan_d(obj, d_norm):
    return tiny_models(obj, d_norm=d_norm)[1]


# (D, objective, step keywords) -> is one stage exact, and which layer breaks Eq. 7
CASES = {
    "groupnorm-asym": (lambda o: dcgan_d(o, "group"), "dcgan_ns", {}, True, None),
    "batchnorm-sym": (lambda o: dcgan_d(o, "batch"), "dcgan", {}, True, None),
    "batchnorm-asym": (lambda o: dcgan_d(o, "batch"), "dcgan_ns", {}, False, "BatchNorm2d"),
    "patch-sym": (lambda o: small_d("patch"), "dcgan", {}, True, None),
    "patch-asym-mean-gamma": (lambda o: small_d("patch"), "lsgan", {"g_grad": "gamma"}, False, "Conv2d"),
    "patch-asym-extra-pass": (lambda o: small_d("patch"), "lsgan", {}, True, "Conv2d"),
    "mbstd-asym": (lambda o: small_d("mbstd"), "dcgan_ns", {}, False, "MinibatchStd"),
    "mbstd-sym": (lambda o: small_d("mbstd"), "wgan", {}, False, None),
    "attention-asym": (lambda o: small_d("attention"), "bgan", {}, False, "BatchAttention"),
    "attention-asym-fixed": (lambda o: small_d("attention"), "bgan",
                             {"g_grad": "extra_pass", "fused": False}, True, "BatchAttention"),
}


def ground_truth(G, D, obj, x, z, y, kw, d_eval=True):
    """Is one stage equal to two separate autograd passes? Decided here with assert_close."""
    G1, D1 = copy.deepcopy(G), copy.deepcopy(D).train(not d_eval)
    osgan.one_stage_backward(G1, D1, obj, x, z, y, **kw)
    ref_d, ref_g = reference_grads(G, D, obj, x, z, y, d_eval=d_eval)
    try:
        for a, e in zip(grads(D1) + grads(G1), ref_d + ref_g, strict=True):
            torch.testing.assert_close(a, e, rtol=1e-6, atol=1e-9 * e.abs().max().item())
    except AssertionError:
        return False
    return True


@pytest.mark.parametrize("case", sorted(CASES))
def test_verdict_matches_separate_autograd_passes(case):
    make_d, name, kw, expected, broken_kind = CASES[case]
    obj = losses.get(name)
    G = tiny_models(obj)[0]
    D = make_d(obj)
    x, z, y = batch(obj)
    d_eval = not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    truth = ground_truth(G, D, obj, x, z, y, kw, d_eval=d_eval)
    assert truth == expected  # the ground truth itself, so that this test can fail
    report = osgan.check_one_stage(G, D, obj, x, z, y, **kw)
    assert report.exact == truth, str(report)
    assert (report.broken_at is None) == (broken_kind is None), str(report)
    if broken_kind:
        assert f"({broken_kind})" in report.broken_at
    assert ("not exact" in report.verdict) == (not truth)
    assert str(report).count("\n") >= len(report.layers) + 3  # printable, one line per layer


def test_batchnorm_is_flagged_and_the_fix_is_named():
    obj = losses.get("dcgan_ns")
    G, D = tiny_models(obj, d_norm="batch")
    x, z, _ = batch(obj)
    report = osgan.check_one_stage(G, D, obj, x, z)
    assert not report.exact and report.mixes_samples and report.rel_err_g > 1e-3
    torch.testing.assert_close(report.rel_err_d, 0.0, rtol=0, atol=1e-12)  # separate passes: D exact
    assert "GroupNorm" in report.verdict and "g_grad='extra_pass'" in report.verdict
    assert report.alternatives["g_grad='extra_pass'"][1] < 1e-12


def test_patch_gan_mean_gamma_error_is_measured_and_extra_pass_is_exact():
    obj = losses.get("dcgan_ns")
    G, D = tiny_models(obj)[0], small_d("patch")
    x, z, _ = batch(obj)
    report = osgan.check_one_stage(G, D, obj, x, z)
    assert report.exact and report.outputs_per_image == 64
    err_d, err_g = report.alternatives["g_grad='gamma'"]
    assert err_d < 1e-12 and err_g > 1e-3  # the per-image mean gamma users try: G's gradient off
    assert report.layers[-1].deviation > 1e-3  # gamma varies across an image's outputs


def test_inactive_hinge_is_named_and_exact_true_fixes_it():
    obj, G, D, x, z, y = hinge_with_inactive_samples("geogan")
    D.eval()
    report = osgan.check_one_stage(G, D, obj, x, z, y)
    assert not report.exact and 0.2 <= report.inactive <= 0.8
    assert report.rel_err_g_active < 1e-9  # exact over the active outputs
    assert "inactive" in report.verdict and "exact=True" in report.verdict
    assert osgan.check_one_stage(G, D, obj, x, z, y, exact=True).exact


def test_user_modules_are_left_as_they_were():
    obj = losses.get("dcgan_ns")
    G, D = tiny_models(obj, d_norm="batch", dtype=torch.float32)
    x, z, _ = batch(obj, dtype=torch.float32)
    G.eval()
    for q in [*G.parameters(), *D.parameters()]:
        q.grad = torch.full_like(q, 0.5)
    before = [copy.deepcopy(m.state_dict()) for m in (G, D)]
    osgan.check_one_stage(G, D, obj, x, z)
    for m, s in zip((G, D), before):
        for k, v in m.state_dict().items():
            torch.testing.assert_close(v, s[k], rtol=0, atol=0)
        assert all(torch.equal(q.grad, torch.full_like(q, 0.5)) for q in m.parameters())
        assert all(q.dtype == torch.float32 for q in m.parameters())
    assert not G.training and D.training


def test_per_image_gamma_is_minus_one_for_symmetric_and_the_active_mean_otherwise():
    p, q = torch.randn(4, 1, 3, 3, dtype=torch.float64), torch.randn(4, 1, 3, 3, dtype=torch.float64)
    g = per_image_gamma(per_sample_gamma(losses.get("dcgan"), p, q))
    assert torch.equal(g.gamma, torch.full((4,), -1.0, dtype=torch.float64))
    q[0] = -5.0  # image 0: every hinge inactive
    q[1, 0, 0, 0] = -5.0  # image 1: one of nine
    g = per_image_gamma(per_sample_gamma(losses.get("lsgan"), p, q))
    closed = ((q - 1) / q).reshape(4, -1)  # LSGAN's gamma per output
    torch.testing.assert_close(g.gamma, closed.mean(1), rtol=1e-12, atol=1e-12)
    g = per_image_gamma(per_sample_gamma(losses.get("geogan"), p, q))
    assert g.inactive.tolist() == [True, False, False, False]
    torch.testing.assert_close(g.gamma, torch.tensor([0.0, -1, -1, -1], dtype=torch.float64),
                               rtol=0, atol=0)


# --------------------------------------------------------------------------------------------
# custom objectives


@pytest.fixture
def registry():
    """Custom objectives registered in a test are removed after it (Table 1 stays as it is)."""
    made = []
    yield made
    for name in made:
        losses.unregister(name)


def make(registry, name, *args, **kw):
    obj = losses.custom(name, *args, **kw)
    registry.append(name)
    return obj


def hinge_d(p, q):
    return F.relu(1 - p), F.relu(1 + q)


def test_custom_objectives_match_closed_forms(registry):
    p, q = torch.randn(16, dtype=torch.float64) * 2, torch.randn(16, dtype=torch.float64) * 2
    hinge = make(registry, "my_hinge", hinge_d, lambda p, q: -q)
    ref = losses.get("geogan")
    for k in ("total", "real", "fake"):
        torch.testing.assert_close(hinge.loss_d(p, q)[k], ref.loss_d(p, q)[k], rtol=0, atol=0)
    torch.testing.assert_close(hinge.loss_g(p, q), -q, rtol=0, atol=0)
    # least squares with targets a (fake) = -1, b (real) = 1, c (G) = 0: gamma = (q - c) / (q - a)
    ls = make(registry, "my_ls", lambda p, q: (0.5 * (p - 1) ** 2, 0.5 * (q + 1) ** 2),
              lambda p, q: 0.5 * q**2)
    torch.testing.assert_close(per_sample_gamma(ls, p, q).gamma, q / (q + 1), rtol=1e-12, atol=1e-12)
    assert losses.get("my_ls").name == "my_ls" and "my_ls" in losses.names()


def test_symmetry_is_detected_both_ways(registry):
    sat = make(registry, "my_sat", lambda p, q: (F.softplus(-p), F.softplus(q)),
               lambda p, q: 2.0 - F.softplus(q))  # -L_D^f up to a constant: symmetric
    assert sat.symmetric and sat.splits and not sat.g_reads_real
    ns = make(registry, "my_ns", lambda p, q: (F.softplus(-p), F.softplus(q)),
              lambda p, q: F.softplus(-q))
    assert not ns.symmetric
    rel = make(registry, "my_rel", lambda p, q: (0.5 * F.softplus(q - p), 0.5 * F.softplus(q - p)),
               lambda p, q: F.softplus(p - q))
    assert rel.g_reads_real and not rel.splits and not rel.symmetric
    with pytest.raises(ValueError, match="declared symmetric"):
        losses.custom("my_wrong", hinge_d, lambda p, q: -q, symmetric=True)
    with pytest.raises(ValueError, match="Table 1"):
        losses.custom("lsgan", hinge_d, lambda p, q: -q)


@pytest.mark.parametrize("kind", ["plain", "patch"])
def test_custom_objective_works_with_the_step_and_the_checker(registry, kind):
    obj = make(registry, "my_ls2", lambda p, q: (0.5 * (p - 1) ** 2, 0.5 * q**2),
               lambda p, q: 0.5 * (q - 1) ** 2)
    G, D = tiny_models(obj)[0], small_d(kind)
    x, z, _ = batch(obj)
    assert ground_truth(G, D, obj, x, z, None, {})
    assert osgan.check_one_stage(G, D, obj, x, z).exact


def test_custom_objective_trains_by_name(registry, tmp_path):
    make(registry, "my_hinge3", hinge_d, lambda p, q: -q)
    cfg = osgan.TrainConfig.for_profile("smoke", gan="my_hinge3", steps=3, device="cpu",
                                        out_dir=str(tmp_path / "run"), progress=False)
    result = osgan.train(cfg)
    assert [r["step"] for r in result.records] == [2, 3]
    assert all(torch.isfinite(torch.tensor(r["Loss/D"])) for r in result.records)


# --------------------------------------------------------------------------------------------
# bad input: one clear ValueError each


class FlatPatch(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.d = small_d("patch")

    def forward(self, x):
        return self.d(x).reshape(-1)  # (B * 64,): the batch dimension is lost


class Reduced(losses.Objective):
    name = "reduced"

    def loss_d(self, p, p_hat):
        return {"total": F.softplus(-p).mean() + F.softplus(p_hat).mean()}

    def loss_g(self, p, p_hat):
        return F.softplus(-p_hat).mean()  # reduced: should be per sample


class Unstable(losses.DCGANNonSaturating):
    name = "unstable"

    def loss_g(self, p, p_hat):
        return -torch.log(torch.sigmoid(p_hat * 1e4))  # log(0) for negative logits


def test_bad_inputs_raise_one_clear_error(registry):
    obj = losses.get("dcgan_ns")
    G = tiny_models(obj)[0]
    x, z, _ = batch(obj)
    with pytest.raises(ValueError, match="for a batch of 6 images"):
        osgan.check_one_stage(G, FlatPatch().double(), obj, x, z)
    with pytest.raises(ValueError, match="unreduced"):
        osgan.check_one_stage(G, small_d("plain"), Reduced(), x, z)
    with pytest.raises(ValueError, match="not finite"):
        osgan.check_one_stage(G, small_d("plain"), Unstable(), x, z)
    with pytest.raises(ValueError, match="one z per real image"):
        osgan.check_one_stage(G, small_d("plain"), obj, x, z[:4])
    with pytest.raises(ValueError, match="unreduced"):
        losses.custom("my_bad", lambda p, q: (F.softplus(-p).mean(), F.softplus(q)), lambda p, q: -q)
    with pytest.raises(ValueError, match="pair of tensors"):
        losses.custom("my_bad", lambda p, q: F.softplus(q), lambda p, q: -q)
    with pytest.raises(ValueError, match="not finite"):
        losses.custom("my_bad", lambda p, q: (-torch.log(torch.sigmoid(p * 1e3)), q), lambda p, q: -q)
    with pytest.raises(ValueError, match="g_grad"):
        osgan.one_stage_backward(G, small_d("plain"), obj, x, z, g_grad="fast")
    assert "my_bad" not in losses.names()
