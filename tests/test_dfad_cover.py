"""osgan.dfad_rounds' generator that covers the classes: DAFL's
class-balance term against its closed form, one stage with it against separate autograd passes
(and still one backward), two stages against a hand-written round, the generator's output in the
teacher's input statistics, the published recipe's settings, the checks of the new settings, the
tuning sweep and its plans, and the recorded runs unchanged."""

import copy
import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from scipy import stats as sps

from osgan import dfad, dfad_rounds, plans, sweep, sweeps
from osgan.util import UsageError

TOL = dict(rtol=1e-10, atol=1e-12)  # float64: the same sums in a different order
RECORDED = Path(__file__).resolve().parents[1] / "results"


def tiny_nets(dtype=torch.float64, mean=None, std=None):
    G = dfad_rounds.Generator(nz=8, width=4, channels=1, image_size=32, mean=mean, std=std)
    S = dfad.network("lenet5_half", 10, 1)
    T = dfad_rounds.freeze(dfad.network("lenet5", 10, 1))
    return G.to(dtype), S.to(dtype), T.to(dtype)


def sgd(module, lr):
    return torch.optim.SGD(module.parameters(), lr=lr)


# --------------------------------------------------------------------------- the balance term


def test_class_balance_is_the_negative_entropy_of_the_mean_prediction():
    t = 3 * torch.randn(7, 10, dtype=torch.float64)
    p_bar = F.softmax(t, dim=1).mean(dim=0).numpy()
    # scipy's entropy of the batch's mean softmax, negated
    torch.testing.assert_close(dfad_rounds.class_balance(t).item(), -sps.entropy(p_bar),
                               rtol=1e-12, atol=0.0)
    # closed forms: every class equally often: -log K; one class only: 0
    balanced = 50.0 * torch.eye(10, dtype=torch.float64)  # image i shows class i
    torch.testing.assert_close(dfad_rounds.class_balance(balanced).item(), -math.log(10),
                               rtol=1e-12, atol=1e-12)
    one_class = balanced[[3, 3, 3, 3]]
    torch.testing.assert_close(dfad_rounds.class_balance(one_class).item(), 0.0,
                               rtol=0.0, atol=1e-12)


def test_class_balance_gradient_closed_form():
    r"""d B / d t_ij = (1/B) p_ij (log p_bar_j - sum_k p_ik log p_bar_k)."""
    t = (2 * torch.randn(6, 10, dtype=torch.float64)).requires_grad_(True)
    grad, = torch.autograd.grad(dfad_rounds.class_balance(t), t)
    p = F.softmax(t.detach(), dim=1)
    log_p_bar = p.mean(dim=0).log()
    expected = p * (log_p_bar - (p * log_p_bar).sum(dim=1, keepdim=True)) / t.shape[0]
    torch.testing.assert_close(grad, expected, **TOL)


def test_class_balance_is_finite_when_no_image_shows_a_class():
    t = torch.randn(5, 10)
    t[:, 7] = -1e4  # softmax gives class 7 exactly 0 in float32
    t.requires_grad_(True)
    assert F.softmax(t, 1)[:, 7].max().item() == 0.0
    b = dfad_rounds.class_balance(t)
    b.backward()
    assert math.isfinite(b.item()) and torch.isfinite(t.grad).all()


# --------------------------------------------------------------------------- one and two stages


@pytest.mark.parametrize("balance", [0.0, 2.5])
def test_one_stage_with_balance_equals_separate_autograd_passes(balance):
    """S: the gradient of L alone (B reaches no parameter of S); G: the gradient of
    L_G = -L + lambda B, each by its own autograd pass on the same images: what the two-stage
    round's generator step differentiates."""
    G, S, T = tiny_nets()
    z = torch.randn(6, 8, dtype=torch.float64)
    G_ref, S_ref = copy.deepcopy(G), copy.deepcopy(S)
    x_hat = G_ref(z)
    s, t = S_ref(x_hat), T(x_hat)
    loss = (s - t).abs().mean()
    p_bar = F.softmax(t, dim=1).mean(dim=0)
    loss_b = (p_bar * p_bar.log()).sum()  # the term written out, not osgan's function
    grad_s = torch.autograd.grad(loss, list(S_ref.parameters()), retain_graph=True)
    grad_g = torch.autograd.grad(-loss + balance * loss_b, list(G_ref.parameters()))

    stats = dfad.one_stage_round(G, S, T, sgd(G, 0.0), sgd(S, 0.0), z, balance=balance)
    for p, ref in zip(S.parameters(), grad_s):
        torch.testing.assert_close(p.grad, ref, **TOL)
    for p, ref in zip(G.parameters(), grad_g):
        torch.testing.assert_close(p.grad, ref, **TOL)
    torch.testing.assert_close(stats["Loss/G"], (-loss + balance * loss_b).item(),
                               rtol=1e-6, atol=1e-7)
    assert ("Loss/balance" in stats) == (balance > 0)
    if balance:
        torch.testing.assert_close(stats["Loss/balance"], loss_b.item(), rtol=1e-6, atol=1e-7)
        # the term matters: G's gradient without it is visibly different
        grad_plain = torch.autograd.grad(-(S_ref(G_ref(z)) - T(G_ref(z))).abs().mean(),
                                         list(G_ref.parameters()))
        diff = max((p.grad - g).abs().max().item() for p, g in zip(G.parameters(), grad_plain))
        assert diff > 1e-3 * max(g.abs().max().item() for g in grad_plain)


def test_one_stage_with_balance_is_still_one_forward_and_one_backward():
    G, S, T = tiny_nets(torch.float32)
    calls = {"S fwd": 0, "T fwd": 0, "S bwd": 0, "T bwd": 0, "G bwd": 0}

    def count(key):
        def hook(*_):
            calls[key] += 1
        return hook

    S.register_forward_hook(count("S fwd"))
    T.register_forward_hook(count("T fwd"))
    S.register_full_backward_hook(count("S bwd"))
    T.register_full_backward_hook(count("T bwd"))
    G.fc.weight.register_hook(count("G bwd"))  # G's input z needs no gradient: a weight's
    backward, n = torch.Tensor.backward, {"calls": 0}

    def counting_backward(self, *a, **k):
        n["calls"] += 1
        return backward(self, *a, **k)

    torch.Tensor.backward = counting_backward
    try:
        dfad.one_stage_round(G, S, T, sgd(G, 0.0), sgd(S, 0.0), torch.randn(4, 8), balance=5.0)
    finally:
        torch.Tensor.backward = backward
    assert n["calls"] == 1
    assert calls == {"S fwd": 1, "T fwd": 1, "S bwd": 1, "T bwd": 1, "G bwd": 1}


@pytest.mark.parametrize("balance", [0.0, 3.0])
def test_two_stage_round_with_balance_equals_hand_written_round(balance):
    G, S, T = tiny_nets()
    z = torch.randn(6, 8, dtype=torch.float64)
    lr_s, lr_g, steps = 0.05, 0.01, 2
    G_ref, S_ref = copy.deepcopy(G), copy.deepcopy(S)
    torch.manual_seed(1)
    stats = dfad.two_stage_round(G, S, T, sgd(G, lr_g), sgd(S, lr_s), z, student_steps=steps,
                                 balance=balance)

    torch.manual_seed(1)
    for z_k in [z] + [torch.randn_like(z) for _ in range(steps - 1)]:
        x_hat = G_ref(z_k).detach()
        grads = torch.autograd.grad((S_ref(x_hat) - T(x_hat)).abs().mean(),
                                    list(S_ref.parameters()))
        with torch.no_grad():
            for p, g in zip(S_ref.parameters(), grads):
                p -= lr_s * g
    x_hat = G_ref(torch.randn_like(z))
    t = T(x_hat)
    p_bar = F.softmax(t, dim=1).mean(dim=0)
    loss_g = -(S_ref(x_hat) - t).abs().mean() + balance * (p_bar * p_bar.log()).sum()
    grads = torch.autograd.grad(loss_g, list(G_ref.parameters()))
    with torch.no_grad():
        for p, g in zip(G_ref.parameters(), grads):
            p -= lr_g * g
    for a, b in zip(S.parameters(), S_ref.parameters()):
        torch.testing.assert_close(a, b, **TOL)
    for a, b in zip(G.parameters(), G_ref.parameters()):
        torch.testing.assert_close(a, b, **TOL)
    torch.testing.assert_close(stats["Loss/G"], loss_g.item(), rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------- the output map


def _data(mean, std, n=200, channels=1):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, channels, 32, 32, generator=g)
    x = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / x.std(dim=(0, 2, 3), keepdim=True,
                                                          unbiased=False)
    return torch.as_tensor(mean).view(1, -1, 1, 1) + torch.as_tensor(std).view(1, -1, 1, 1) * x


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_the_teacher_is_shown_images_in_its_training_images_statistics(scale):
    # a data set like Fashion-MNIST in [-1, 1] (mean -0.56, std 0.66), and a 3-channel one
    for mean, std in (([-0.56], [0.66]), ([0.1, -0.2, 0.3], [0.5, 0.6, 0.7])):
        C = len(mean)
        images = _data(mean, std, channels=C)
        mu, sigma = dfad_rounds.output_map("data", scale, images)
        torch.testing.assert_close(mu, torch.tensor(mean), rtol=0, atol=1e-5)
        torch.testing.assert_close(sigma, scale * torch.tensor(std), rtol=1e-5, atol=0)
        G = dfad_rounds.Generator(nz=8, width=4, channels=C, image_size=32, mean=mu, std=sigma)
        x_hat = G(torch.randn(64, 8))  # training mode: the last BatchNorm on batch statistics
        torch.testing.assert_close(x_hat.mean(dim=(0, 2, 3)), torch.tensor(mean),
                                   rtol=0, atol=1e-5)
        torch.testing.assert_close(x_hat.std(dim=(0, 2, 3), unbiased=False),
                                   scale * torch.tensor(std), rtol=1e-3, atol=0)  # BN's eps


def test_on_standardised_data_the_map_is_dfads_generator_as_it_is():
    """A teacher trained on Normalize-d images (mean 0, std 1), as DFAD's: the map is the
    identity, and the standard output at scale 1 adds nothing, not even buffers."""
    images = _data([0.0], [1.0])
    mu, sigma = dfad_rounds.output_map("data", 1.0, images)
    torch.manual_seed(0)
    G_data = dfad_rounds.Generator(8, 4, 1, 32, mu, sigma)
    torch.manual_seed(0)
    G_plain = dfad_rounds.Generator(8, 4, 1, 32)
    z = torch.randn(16, 8)
    torch.testing.assert_close(G_data(z), G_plain(z), rtol=0, atol=1e-6)
    assert dfad_rounds.output_map("standard", 1.0, None) == (None, None)
    assert not any(k.startswith("out_") for k in G_plain.state_dict())
    mu, sigma = dfad_rounds.output_map("standard", 2.0, None)
    assert (mu.item(), sigma.item()) == (0.0, 2.0)
    with pytest.raises(ValueError, match="both mean and std"):
        dfad_rounds.Generator(8, 4, 1, 32, mean=torch.zeros(1))


@pytest.fixture
def offline(monkeypatch, tmp_path):
    from osgan import data

    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    monkeypatch.setattr(data, "SYSTEM_DIRS", ())
    return tmp_path


def tiny_config(root, **kw):
    return dfad.DFADConfig(**(dict(
        data_root=str(root / "data"), cache_dir=str(root / "cache"), rounds=3, batch_size=16,
        nz=8, g_width=4, eval_every=2, teacher_epochs=0.2, progress=False, device="cpu",
        student_steps=2, val_n=16) | kw))


@pytest.mark.parametrize("scheme", ["one", "two"])
def test_a_run_shows_its_teacher_the_training_splits_statistics(offline, scheme):
    from fixtures_data import write_fashion_mnist

    write_fashion_mnist(offline / "data", n_train=64, n_test=32)
    cfg = tiny_config(offline, scheme=scheme, g_output="data", balance=1.0)
    run = dfad._setup(cfg, torch.device("cpu"))
    seen = []
    run.T.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
    dfad._round(run, 1)
    x = run.train.images  # the 48 images the teacher trained on, the validation split out
    for x_hat in seen:
        torch.testing.assert_close(x_hat.mean(dim=(0, 2, 3)), x.mean(dim=(0, 2, 3)),
                                   rtol=0, atol=1e-5)
        torch.testing.assert_close(x_hat.std(dim=(0, 2, 3), unbiased=False),
                                   x.std(dim=(0, 2, 3), unbiased=False), rtol=2e-3, atol=0)
    assert len(seen) == (1 if scheme == "one" else 3)


def test_a_mapped_run_resumes_and_diagnoses_from_its_checkpoint(offline):
    from fixtures_data import write_fashion_mnist

    write_fashion_mnist(offline / "data", n_train=64, n_test=32)
    kw = dict(scheme="one", g_output="data", g_scale=0.5, balance=2.0, eval_every=1,
              checkpoint_every=2)
    whole = dfad.distill(tiny_config(offline, out_dir=str(offline / "whole"), rounds=4, **kw))
    dfad.distill(tiny_config(offline, out_dir=str(offline / "on"), rounds=2, **kw))
    on = dfad.distill(tiny_config(offline, out_dir=str(offline / "on"), rounds=4, resume=True,
                                  **kw))
    assert [r["Loss/balance"] for r in on.records[1:]] == \
        [r["Loss/balance"] for r in whole.records[1:]]
    assert "out_mean" in on.generator.state_dict()
    d = dfad.diagnose(offline / "on")
    assert d["round"] == 4 and d["accuracy"] == on.accuracy
    # a changed balance does not resume the run
    with pytest.raises(UsageError, match="balance"):
        dfad.distill(tiny_config(offline, out_dir=str(offline / "on"), rounds=6, resume=True,
                                 **(kw | dict(balance=1.0))))


# --------------------------------------------------------------------------- settings, recipes


@pytest.mark.parametrize("change, says", [
    (dict(g_output="normalised"), "g_output must be one of standard, data"),
    (dict(g_scale=0.0), "g_scale must be finite and > 0"),
    (dict(g_scale=math.inf), "g_scale must be finite and > 0"),
    (dict(balance=-1.0), "balance must be finite and >= 0"),
    (dict(balance=math.nan), "balance must be finite and >= 0"),
    (dict(balance=True), "balance must be finite and >= 0"),
    (dict(scheme="kd", balance=5.0), "kd has no generator"),
    (dict(teacher_recipe="sgd"), "teacher_recipe must be one of ours, dfad"),
])
def test_bad_settings_are_refused_with_what_to_give(change, says):
    with pytest.raises(ValueError, match=says):
        dfad.DFADConfig(**change).validate()


def test_dfads_teacher_recipe_trains_the_teacher_as_dfads_train_teacher_does(offline):
    """teacher_recipe "dfad": SGD 0.01 with momentum, weight decay 1e-4, batch 256, a constant
    rate (DFAD's run_mnist.sh), for teacher_epochs; another cached teacher than ours."""
    from fixtures_data import write_fashion_mnist

    write_fashion_mnist(offline / "data", n_train=64, n_test=32)
    fits = {}
    for recipe in ("ours", "dfad"):
        cfg = tiny_config(offline, teacher_recipe=recipe).validate()
        kw = dict(data_root=cfg.data_root, image_size=32)
        train = dfad.split_val(dfad.data.load(cfg.dataset, "train", **kw), cfg.val_n)[0]
        dfad.teacher_for(cfg, train, dfad.data.load(cfg.dataset, "test", **kw),
                         torch.device("cpu"))
        (path,) = set((offline / "cache" / "classifiers").glob("teacher-*.pt")) - set(fits.values())
        fits[recipe] = path
    fit = torch.load(fits["dfad"], weights_only=True)["settings"]["fit"]
    assert (fit["optimizer"], fit["lr"], fit["batch_size"], fit["weight_decay"], fit["epochs"]) \
        == ("sgd", 0.01, 256, 1e-4, 0.2)
    ours = torch.load(fits["ours"], weights_only=True)["settings"]["fit"]
    assert "optimizer" not in ours and (ours["lr"], ours["batch_size"]) == (1e-3, 128)


def test_the_published_recipe_for_the_lenet5_pair():
    """DFAD_mnist.py: nz 100, GeneratorA's ngf 64, batch 512; its teacher on Normalize-d MNIST,
    shown standardised images: here, images in our teacher's input statistics."""
    cfg = dfad.DFADConfig.for_recipe("dfad_mnist", "reference", seed=3).validate()
    assert (cfg.hparams, cfg.nz, cfg.g_width, cfg.batch_size, cfg.g_output, cfg.seed) == \
        ("dfad_mnist", 100, 64, 512, "data", 3)
    assert (cfg.student_steps, cfg.lr_s, cfg.lr_g, cfg.balance, cfg.g_scale) == \
        (5, None, None, 0.0, 1.0)
    assert dfad.DFADConfig.for_recipe("dfad_mnist", "reference", batch_size=128).batch_size == 128
    with pytest.raises(ValueError, match="hparams must be one of adam, dfad, dfad_mnist"):
        dfad.DFADConfig.for_recipe("dafl")
    # a config naming the recipe alone keeps its own generator: the recorded runs' settings
    assert dfad.DFADConfig.for_profile("reference", hparams="dfad_mnist").g_width == 16


@pytest.mark.parametrize("change, says", [
    (dict(lr_s=0.0), "lr_s must be a finite rate > 0"),
    (dict(lr_g=math.nan), "lr_g must be a finite rate > 0"),
    (dict(settings=dict(width=64)), "may fix nz, g_width, batch_size, g_output; not 'width'"),
    (dict(settings=dict(nz=0)), "nz must be a positive integer"),
    (dict(settings=dict(batch_size=512.0)), "batch_size must be a positive integer"),
    (dict(settings=dict(g_output="normalize")), "g_output must be one of standard, data"),
])
def test_a_bad_recipe_is_refused_where_it_is_written(change, says):
    base = dict(student=None, lr_s=0.01, generator=None, lr_g=1e-3, cosine=False)
    with pytest.raises(ValueError, match=says):
        dfad_rounds.Recipe(**(base | change))


def test_round_seconds_measures_the_configured_round(monkeypatch):
    seen = []
    real = dfad_rounds.one_stage_round
    monkeypatch.setattr(dfad_rounds, "one_stage_round", lambda *a, balance, **k: (
        seen.append(balance), real(*a, balance=balance, **k))[1])
    cfg = dfad.DFADConfig(scheme="one", nz=8, g_width=4, batch_size=8, g_output="data",
                          balance=5.0)
    assert dfad_rounds.round_seconds(cfg, rounds=2) > 0
    assert seen == [5.0] * 3  # the warm-up and two rounds, with the term


# --------------------------------------------------------------------------- the sweep, the plans


def sweep_is_plans_grid(name: str, tune: plans.TuningPlan, plan: plans.DistillPlan):
    """The sweep ``name`` runs the grid, seeds and lengths its tuning plan and verdict name."""
    spec, grid = sweeps.SWEEPS[name], tune.grid
    assert (spec.lr_s, spec.lr_g, spec.balance, spec.g_scale, spec.recipes) == \
        (grid["lr_s"], grid["lr_g"], grid["balance"], grid["g_scale"], grid["recipes"])
    assert spec.tune_seeds == tune.seeds and spec.seeds == plan.seeds
    assert spec.rounds == {k: v for k, v in tune.lengths.items() if k != "why"}
    assert tune.sweep == name and plans.get(plan.name).tuning == tune.name
    return spec


def test_the_tuning_sweep_is_its_plans_grid():
    sweep_is_plans_grid("table2_tune", plans.TABLE2_TUNING, plans.TABLE2)
    cells = [c for c in sweep.cells("table2_tune") if c.seed == 0]
    by = {sc: [c for c in cells if c.scheme == sc and c.hparams == "adam"]
          for sc in ("one", "two", "kd")}
    # the same grid for both schemes: 2 x 3 rates x 3 weights x 2 scales; kd the student's rates
    assert len(by["one"]) == len(by["two"]) == 36 and len(by["kd"]) == 2
    assert [c.point for c in by["one"]] == [c.point for c in by["two"]]
    # DFAD's objective at its own scale first, then the smaller scale, then the balance term
    assert [(c.balance, c.g_scale) for c in by["one"][::6]] == \
        [(0.0, 1.0), (0.0, 0.5), (1.0, 1.0), (1.0, 0.5), (5.0, 1.0), (5.0, 0.5)]
    assert by["two"][-1].point == "adam-s0.003-g0.003-b5-x0.5"
    cfg = sweep.cell_config("table2_tune", by["two"][-1], Path("/nonexistent"))
    assert (cfg.balance, cfg.g_scale, cfg.g_output, cfg.nz, cfg.g_width, cfg.batch_size) == \
        (5.0, 0.5, "data", 100, 16, 128)
    assert cfg.plan == plans.plan_hash(plans.TABLE2)
    recipe = sweep.cell_config("table2_tune", next(c for c in cells if c.hparams != "adam"),
                               Path("/nonexistent"))
    assert (recipe.hparams, recipe.balance, recipe.g_scale, recipe.g_output) == \
        ("dfad_mnist", 0.0, 1.0, "data")


def test_the_dfad_teacher_sweep_is_its_plans_grid_with_dfads_teacher():
    spec = sweep_is_plans_grid("table2_dt", plans.TABLE2_DT_TUNING, plans.TABLE2_DT)
    assert spec.level == 0.80 and spec.extend == 3
    by = {sc: [c for c in sweep.cells("table2_dt") if c.seed == 0 and c.scheme == sc]
          for sc in ("one", "two", "kd")}
    assert len(by["one"]) == len(by["two"]) == 12 and len(by["kd"]) == 2
    assert [c.point for c in by["one"]] == [c.point for c in by["two"]]
    # DFAD's objective first, then DAFL's term
    assert [c.balance for c in by["one"]] == [0.0] * 6 + [5.0] * 6
    cfg = sweep.cell_config("table2_dt", by["two"][0], Path("/nonexistent"))
    assert (cfg.teacher_recipe, cfg.teacher_epochs, cfg.g_output, cfg.nz, cfg.g_width,
            cfg.batch_size) == ("dfad", 10.0, "data", 100, 16, 128)
    assert cfg.plan == plans.plan_hash(plans.TABLE2_DT) != plans.plan_hash(plans.TABLE2)
    # the verdict's plan is TABLE2's but for its name and its tuning
    assert {k: v for k, v in plans.TABLE2_DT.to_json().items() if k not in ("name", "tuning")} \
        == {k: v for k, v in plans.TABLE2.to_json().items() if k not in ("name", "tuning")}


def test_the_wide_generator_sweep_is_its_plans_grid_at_width_32():
    spec = sweep_is_plans_grid("table2_w32", plans.TABLE2_W32_TUNING, plans.TABLE2_W32)
    assert spec.level == 0.80 and spec.extend == 3
    by = {sc: [c for c in sweep.cells("table2_w32") if c.seed == 0 and c.scheme == sc]
          for sc in ("one", "two", "kd")}
    # one generator rate x both student rates x DAFL's weights 0 and 5; kd the student's rates
    assert [c.point for c in by["one"]] == [c.point for c in by["two"]] == [
        "adam-s0.001-g0.001", "adam-s0.003-g0.001", "adam-s0.001-g0.001-b5",
        "adam-s0.003-g0.001-b5"]
    assert len(by["kd"]) == 2
    wide = sweep.cell_config("table2_w32", by["two"][0], Path("/nonexistent"))
    narrow = sweep.cell_config("table2_dt", next(c for c in sweep.cells("table2_dt")
                                                 if c.name == by["two"][0].name),
                               Path("/nonexistent"))
    # table2_dt's cell but for the width and the plan
    assert (wide.g_width, narrow.g_width) == (32, 16)
    assert wide.plan == plans.plan_hash(plans.TABLE2_W32) not in (
        plans.plan_hash(plans.TABLE2_DT), plans.plan_hash(plans.TABLE2))
    differ = {f.name for f in dataclasses.fields(wide)
              if getattr(wide, f.name) != getattr(narrow, f.name)}
    assert differ == {"g_width", "plan", "checkpoint_dir"}
    # the tuning plan is TABLE2_DT_TUNING's but for its name, sweep, stages, grid and width
    keep = ("name", "sweep", "stages", "grid", "fixed")
    assert {k: v for k, v in plans.TABLE2_W32_TUNING.to_json().items() if k not in keep} == \
        {k: v for k, v in plans.TABLE2_DT_TUNING.to_json().items() if k not in keep}
    assert plans.TABLE2_W32_TUNING.fixed == plans.TABLE2_DT_TUNING.fixed | {"g_width": 32}


def test_the_cosine_sweep_is_table2_w32s_choice_with_both_rates_decayed():
    spec = sweep_is_plans_grid("table2_cos", plans.TABLE2_COS_TUNING, plans.TABLE2_COS)
    assert spec.level == 0.80 and spec.extend is None  # a cosine spans its run: no running on
    assert spec.rounds == {"two": 2000, "one": 10000, "kd": 10000}
    cells = [c for c in sweep.cells("table2_cos") if c.seed == 0]
    assert [c.name for c in cells] == ["one-adam-s0.003-g0.001-seed0",
                                       "two-adam-s0.003-g0.001-seed0", "kd-adam-s0.003-seed0"]
    for c in cells:
        cos = sweep.cell_config("table2_cos", c, Path("/nonexistent"))
        w32 = sweep.cell_config("table2_w32", next(x for x in sweep.cells("table2_w32")
                                                   if x.name == c.name), Path("/nonexistent"))
        differ = {f.name for f in dataclasses.fields(cos)
                  if getattr(cos, f.name) != getattr(w32, f.name)}
        # table2_w32's cell but for the schedule, its length and the plan
        assert differ == {"cosine", "rounds", "plan", "checkpoint_dir"}
        assert cos.cosine is True and w32.cosine is None
        assert cos.plan == plans.plan_hash(plans.TABLE2_COS)
        # its schedule: both rates decay to 0 at the cell's own length
        assert dfad_rounds.decays(cos.hparams, cos.cosine)
        assert "rounds" in dfad.DFADKind().trajectory_of(cos)
    # the tuning plan's choice is table2_w32's, and its fixed settings table2_w32's but cosine
    assert plans.TABLE2_COS_TUNING.fixed == plans.TABLE2_W32_TUNING.fixed | {"cosine": True}
    assert "adam-s0.003-g0.001" == cells[0].point
    with pytest.raises(UsageError, match="cosine decay spans its run"):
        dataclasses.replace(spec, extend=2)


@pytest.mark.parametrize("name, accuracy", [("table2_tune", 0.9052), ("table2_dt", 0.8812),
                                            ("table2_w32", 0.8812), ("table2_cos", 0.8812)])
def test_the_teacher_a_tuned_sweep_distils_is_frozen_in_the_package(name, accuracy):
    """The cache key the sweep's teacher is trained under names a frozen file: every machine
    distils the same teacher (osgan.classifiers.frozen), never one it trains itself."""
    from osgan import classifiers
    from osgan.data import ImageData

    cfg = sweep.cell_config(name, sweep.cells(name)[0], Path("/nonexistent"))

    def like(n, split):  # what the key reads of the data: name, split, count, shape
        return ImageData(torch.empty(1, 1, 32, 32).expand(n, 1, 32, 32),
                         torch.zeros(n, dtype=torch.long), 10, "fashion_mnist", split)

    T = dfad.network(cfg.archs[0], 10, 1, cfg.resnet_width)
    settings = classifiers.settings_of(T, like(60000 - cfg.val_n, "train"), like(10000, "test"),
                                       dfad_rounds.teacher_fit(cfg))
    entry = classifiers.frozen(f"teacher-{cfg.dataset}-{cfg.archs[0]}", settings)
    assert entry is not None and entry["accuracy"] == accuracy


@pytest.mark.parametrize("change, says", [
    (dict(balance=(-1.0,)), "balance must hold finite weights >= 0, each once"),
    (dict(balance=()), "balance must hold finite weights >= 0, each once"),
    (dict(g_scale=(0.0,)), "g_scale must hold finite scales > 0, each once"),
    (dict(g_scale=(1.0, 1.0)), "g_scale must hold finite scales > 0, each once"),
    (dict(dfad=dict(balance=5.0)), "dfad must not set balance"),
    (dict(schemes=("kd",), rounds=dict(kd=4), balance=(0.0, 5.0)),
     "balance and g_scale apply to the schemes one and two"),
])
def test_a_bad_balance_or_scale_grid_is_refused(change, says):
    base = dict(schemes=("one", "two"), lr_s=(1e-3,), lr_g=(1e-3,), seeds=(0,),
                profile="smoke", rounds=dict(one=4, two=2))
    with pytest.raises(UsageError, match=says):
        sweeps.DFADSweep(**(base | change))


def test_the_plans_are_new_entries_and_table1s_hash_is_unchanged():
    # the hash recorded in table1's cells before the Table 2 plans existed
    assert plans.plan_hash(plans.TABLE1) == \
        "692c22740593991c567d4c91b0e9b72a3b7fd89b6bc3b98af04381e2add748f8"
    assert plans.TABLE2.equivalence_margin == 0.02 and plans.TABLE2.alpha == 0.05
    assert plans.get("table2_tuning") is plans.TABLE2_TUNING


def test_the_recorded_ablation_cells_would_resume_under_the_new_settings():
    """Every recorded table2_why cell's config.json (which lacks g_output, g_scale and balance)
    agrees with the config the sweep now builds for it on every setting of the trajectory."""
    results = RECORDED / "table2_why"
    listed = {c.name: c for c in sweep.cells("table2_why", results)}
    checked = 0
    for folder in sorted(p for p in results.iterdir() if (p / "config.json").exists()):
        if folder.name not in listed:
            continue  # cells of an earlier spec
        old = json.loads((folder / "config.json").read_text())["config"]
        new = sweep.cell_config("table2_why", listed[folder.name], results)
        assert not set(dfad.TRAJECTORY_DEFAULTS) - {"g_every"} & set(old)
        for k in dfad.KIND.trajectory_of(new):
            assert old.get(k, dfad.TRAJECTORY_DEFAULTS.get(k)) == getattr(new, k), (folder, k)
        checked += 1
    assert checked == 9
