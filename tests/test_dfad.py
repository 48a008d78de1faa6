"""osgan.dfad: one-stage DFAD against two autograd passes, two-stage DFAD against a hand-written
round, the KD loss against its closed form, the ResNets' parameter counts against Table 2, and the
run and the command line end to end on tiny settings."""

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F

from osgan import dfad, dfad_rounds
from osgan.resnet import ResNet, resnet18, resnet34
from osgan.util import UsageError

TOL = dict(rtol=1e-10, atol=1e-12)  # float64: the same sums in a different order


def tiny_nets(dtype=torch.float64):
    """A DFAD generator and a LeNet-5 teacher / half-width student, small enough for float64."""
    G = dfad_rounds.Generator(nz=8, width=4, channels=1, image_size=32).to(dtype)
    S = dfad.network("lenet5_half", 10, 1).to(dtype)
    T = dfad_rounds.freeze(dfad.network("lenet5", 10, 1).to(dtype))
    return G, S, T


def sgd(module, lr):
    return torch.optim.SGD(module.parameters(), lr=lr)


def test_one_stage_gradients_equal_two_autograd_passes():
    G, S, T = tiny_nets()
    z = torch.randn(6, 8, dtype=torch.float64)

    # reference: dL/d(theta_S) and d(-L)/d(theta_G), each by its own autograd pass
    G_ref, S_ref = copy.deepcopy(G), copy.deepcopy(S)
    x_hat = G_ref(z)
    loss = (S_ref(x_hat) - T(x_hat)).abs().mean()
    grad_s = torch.autograd.grad(loss, list(S_ref.parameters()), retain_graph=True)
    grad_g = torch.autograd.grad(-loss, list(G_ref.parameters()))

    # one stage, with optimizers that do not move anything so that .grad can be read after
    stats = dfad.one_stage_round(G, S, T, sgd(G, 0.0), sgd(S, 0.0), z)
    for p, ref in zip(S.parameters(), grad_s):
        torch.testing.assert_close(p.grad, ref, **TOL)
    for p, ref in zip(G.parameters(), grad_g):
        torch.testing.assert_close(p.grad, ref, **TOL)
    torch.testing.assert_close(stats["Loss/S"], loss.item(), rtol=1e-6, atol=0.0)  # float32 stats
    torch.testing.assert_close(stats["Loss/G"], -loss.item(), rtol=1e-6, atol=0.0)


def test_one_stage_round_without_the_generator_is_a_student_step_on_its_images():
    """g_every's off rounds (an ablation): G does not move, S takes the step a plain student
    update on G's images would take."""
    G, S, T = tiny_nets()
    z = torch.randn(6, 8, dtype=torch.float64)
    G_ref, S_ref = copy.deepcopy(G), copy.deepcopy(S)
    with torch.no_grad():
        x_hat = G_ref(z)
    loss = (S_ref(x_hat) - T(x_hat)).abs().mean()
    grads = torch.autograd.grad(loss, list(S_ref.parameters()))
    G_before = copy.deepcopy(G.state_dict())
    stats = dfad.one_stage_round(G, S, T, sgd(G, 0.5), sgd(S, 0.1), z, update_g=False)
    for p, p0, g in zip(S.parameters(), S_ref.parameters(), grads):
        torch.testing.assert_close(p, p0 - 0.1 * g, **TOL)
    for k, v in G.state_dict().items():  # BatchNorm's running statistics move, as in DFAD's
        if "running" not in k and "num_batches" not in k:  # student steps; weights do not
            torch.testing.assert_close(v, G_before[k], rtol=0.0, atol=0.0)
    assert all(p.grad is None for p in G.parameters())
    torch.testing.assert_close(stats["Loss/S"], loss.item(), rtol=1e-6, atol=0.0)


def test_g_every_is_one_stage_only_and_a_count():
    with pytest.raises(ValueError, match="g_every applies to scheme one only"):
        dfad.DFADConfig(scheme="two", g_every=5).validate()
    with pytest.raises(ValueError, match="g_every"):
        dfad.DFADConfig(scheme="one", g_every=0).validate()
    assert dfad.DFADConfig(scheme="one", g_every=5).validate().g_every == 5


def test_teacher_is_frozen_but_passes_its_input_gradient():
    G, S, T = tiny_nets()
    before = copy.deepcopy(T.state_dict())
    z = torch.randn(6, 8, dtype=torch.float64)
    # G's gradient with the teacher's input gradient cut: what a detached teacher would give
    G_cut = copy.deepcopy(G)
    x_hat = G_cut(z)
    loss_cut = (S(x_hat) - T(x_hat.detach())).abs().mean()
    grad_cut = torch.autograd.grad(-loss_cut, list(G_cut.parameters()))

    dfad.one_stage_round(G, S, T, sgd(G, 0.0), sgd(S, 0.0), z)
    assert all(p.grad is None and not p.requires_grad for p in T.parameters())
    assert not T.training
    for k, v in T.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0.0, atol=0.0)
    # the teacher's path contributes: G's gradient differs from the cut one by a visible amount
    diff = max((p.grad - g).abs().max().item() for p, g in zip(G.parameters(), grad_cut))
    scale = max(g.abs().max().item() for g in grad_cut)
    assert diff > 1e-3 * scale, (diff, scale)


def test_two_stage_round_equals_hand_written_dfad_round():
    G, S, T = tiny_nets()
    z = torch.randn(6, 8, dtype=torch.float64)
    lr_s, lr_g, steps = 0.05, 0.01, 3
    G_ref, S_ref = copy.deepcopy(G), copy.deepcopy(S)

    torch.manual_seed(1)
    dfad.two_stage_round(G, S, T, sgd(G, lr_g), sgd(S, lr_s), z, student_steps=steps)

    # reference: plain SGD written out, drawing z in the same order
    torch.manual_seed(1)
    zs = [z] + [torch.randn_like(z) for _ in range(steps - 1)]
    for z_k in zs:  # stage 1: student steps on detached generated images
        x_hat = G_ref(z_k).detach()
        loss = (S_ref(x_hat) - T(x_hat)).abs().mean()
        grads = torch.autograd.grad(loss, list(S_ref.parameters()))
        with torch.no_grad():
            for p, g in zip(S_ref.parameters(), grads):
                p -= lr_s * g
    x_hat = G_ref(torch.randn_like(z))  # stage 2: one generator step on -L
    loss_g = -(S_ref(x_hat) - T(x_hat)).abs().mean()
    grads = torch.autograd.grad(loss_g, list(G_ref.parameters()))
    with torch.no_grad():
        for p, g in zip(G_ref.parameters(), grads):
            p -= lr_g * g

    for a, b in zip(S.parameters(), S_ref.parameters()):
        torch.testing.assert_close(a, b, **TOL)
    for a, b in zip(G.parameters(), G_ref.parameters()):
        torch.testing.assert_close(a, b, **TOL)
    assert all(p.requires_grad for p in S.parameters())  # the student is unfrozen again


class CountingSGD(torch.optim.SGD):
    def __init__(self, params):
        super().__init__(params, lr=0.0)
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


@pytest.mark.parametrize("scheme, expected", [("one", (1, 1)), ("two", (5, 1))])
def test_updates_per_round(scheme, expected):
    G, S, T = tiny_nets(torch.float32)
    opt_g, opt_s = CountingSGD(G.parameters()), CountingSGD(S.parameters())
    z = torch.randn(4, 8)
    if scheme == "one":
        dfad.one_stage_round(G, S, T, opt_g, opt_s, z)
    else:
        dfad.two_stage_round(G, S, T, opt_g, opt_s, z, student_steps=5)
    assert (opt_s.steps, opt_g.steps) == expected


def test_kd_loss_closed_form():
    s, t, tau = torch.randn(5, 10, dtype=torch.float64), torch.randn(5, 10, dtype=torch.float64), 3.0
    p_t, p_s = F.softmax(t / tau, 1), F.softmax(s / tau, 1)
    # tau^2 * (1/B) sum_i sum_k p_t log(p_t / p_s)
    expected = tau**2 * (p_t * (p_t.log() - p_s.log())).sum() / 5
    torch.testing.assert_close(dfad.kd_loss(s, t, tau), expected, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(dfad.kd_loss(t, t, tau).item(), 0.0, rtol=0.0, atol=1e-14)


def test_generator_output_is_standardised():
    G = dfad_rounds.Generator(nz=8, width=4, channels=3, image_size=32)
    x_hat = G(torch.randn(16, 8))
    assert x_hat.shape == (16, 3, 32, 32)
    # the final affine-free BatchNorm: per-channel batch mean 0 and variance 1 (biased estimate)
    mean = x_hat.mean(dim=(0, 2, 3))
    var = x_hat.var(dim=(0, 2, 3), unbiased=False)
    torch.testing.assert_close(mean, torch.zeros(3), rtol=0.0, atol=1e-5)
    torch.testing.assert_close(var, torch.ones(3), rtol=0.0, atol=1e-3)  # eps = 1e-5 in BN


def test_resnet_parameter_counts_match_table2():
    # Table 2: ResNet-34 teacher 21.3M, ResNet-18 student 11.2M parameters (CIFAR-10)
    assert round(dfad.n_params(resnet34()) / 1e5) == 213
    assert round(dfad.n_params(resnet18()) / 1e5) == 112
    assert resnet18(num_classes=100, width=4)(torch.randn(2, 3, 32, 32)).shape == (2, 100)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="one, two, kd"):
        dfad.DFADConfig(scheme="three").validate()
    with pytest.raises(ValueError, match="adam, dfad"):
        dfad.DFADConfig(hparams="sgd").validate()
    with pytest.raises(ValueError, match="lenet5, lenet5_half, resnet18, resnet34"):
        dfad.network("vgg", 10, 3)


def test_accuracy_at_reads_the_last_evaluation_before():
    records = [{"round": r, "Time/train": 0.5 * r, "Accuracy/student": a}
               for r, a in [(0, 0.1), (10, 0.5), (20, 0.7)]]
    assert dfad.accuracy_at(records, round=15) == 0.5
    assert dfad.accuracy_at(records, round=20) == 0.7
    assert dfad.accuracy_at(records, seconds=4.9) == 0.1
    assert math.isnan(dfad.accuracy_at(records, round=-1))


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def offline(monkeypatch, tmp_path):
    from osgan import data

    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    monkeypatch.setattr(data, "SYSTEM_DIRS", ())  # only the fixture, never the real data set
    return tmp_path


def tiny_config(root, **kw):
    return dfad.DFADConfig(**(dict(
        data_root=str(root / "data"), cache_dir=str(root / "cache"), rounds=3, batch_size=8,
        nz=8, g_width=4, eval_every=2, teacher_epochs=0.2, progress=False, device="cpu",
        student_steps=2, val_n=16) | kw))


def test_g_every_moves_the_generator_in_every_kth_round_of_a_run(offline, monkeypatch):
    from fixtures_data import write_fashion_mnist

    write_fashion_mnist(offline / "data", n_train=64, n_test=32)
    seen, real = [], dfad.one_stage_round
    monkeypatch.setattr(dfad, "one_stage_round", lambda *a, update_g, **kw: (
        seen.append(update_g), real(*a, update_g=update_g, **kw))[1])
    dfad.distill(tiny_config(offline, scheme="one", rounds=7, g_every=3))
    assert seen == [False, False, True, False, False, True, False]


@pytest.mark.parametrize("scheme", dfad.SCHEMES)
def test_distill_fashion_mnist_fixture(offline, scheme):
    from fixtures_data import write_fashion_mnist

    write_fashion_mnist(offline / "data", n_train=64, n_test=32)
    cfg = tiny_config(offline, scheme=scheme, out_dir=str(offline / "run"))
    res = dfad.distill(cfg)
    assert [r["round"] for r in res.records] == [0, 2, 3]
    clocks = [r["Time/train"] for r in res.records]
    assert clocks[0] == 0.0 and clocks == sorted(clocks)
    assert res.accuracy == res.records[-1]["Accuracy/student"]
    assert 0.0 <= res.accuracy <= 1.0 and 0.0 <= res.teacher_accuracy <= 1.0
    lines = (offline / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3
    state = torch.load(offline / "run" / "checkpoint.pt", weights_only=True)
    assert state["round"] == 3
    # the teacher is cached: a second run loads it and measures the same accuracy
    from osgan import data

    train = dfad.split_val(data.load("fashion_mnist", "train", data_root=cfg.data_root), 16)[0]
    test = data.load("fashion_mnist", "test", data_root=cfg.data_root)
    again = dfad.teacher_for(cfg, train, test, torch.device("cpu"))[1]
    assert again == res.teacher_accuracy


class Killed(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("scheme", ["one", "two"])
def test_a_finished_run_resumed_to_more_rounds_equals_one_run_that_long(offline, scheme):
    # how a tuned sweep runs a chosen point on to its plateau: at constant rates, a run of 4
    # rounds resumed to 6 is the run of 6 rounds, row for row and weight for weight
    from fixtures_data import write_fashion_mnist

    write_fashion_mnist(offline / "data", n_train=64, n_test=32)
    kw = dict(scheme=scheme, eval_every=1, checkpoint_every=2)
    whole = dfad.distill(tiny_config(offline, out_dir=str(offline / "whole"), rounds=6, **kw))
    dfad.distill(tiny_config(offline, out_dir=str(offline / "on"), rounds=4, **kw))
    on = dfad.distill(tiny_config(offline, out_dir=str(offline / "on"), rounds=6, resume=True,
                                  **kw))
    assert [r["round"] for r in on.records] == list(range(7))
    strip = lambda res: [{k: v for k, v in r.items() if k != "Time/train"}  # noqa: E731
                         for r in res.records]
    assert strip(on) == strip(whole)
    for p, q in zip(on.student.state_dict().values(), whole.student.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    # a cosine decay spans the run: the same resume there would change the schedule, refused
    cos = dict(hparams="dfad", **kw)
    dfad.distill(tiny_config(offline, out_dir=str(offline / "cos"), rounds=4, **cos))
    with pytest.raises(UsageError, match="rounds=4"):
        dfad.distill(tiny_config(offline, out_dir=str(offline / "cos"), rounds=6, resume=True,
                                 **cos))
    assert json.loads((offline / "cos" / "done.json").read_text())["rounds"] == 4  # kept
    # so does Adam's grid recipe decayed by a cosine (cosine=True), and a cosine=False run of
    # the dfad recipe resumes as a constant-rate run does
    dfad.distill(tiny_config(offline, out_dir=str(offline / "acos"), rounds=4, cosine=True, **kw))
    with pytest.raises(UsageError, match="rounds=4"):
        dfad.distill(tiny_config(offline, out_dir=str(offline / "acos"), rounds=6, resume=True,
                                 cosine=True, **kw))
    dfad.distill(tiny_config(offline, out_dir=str(offline / "dc"), rounds=4, cosine=False, **cos))
    assert [r["round"] for r in dfad.distill(tiny_config(
        offline, out_dir=str(offline / "dc"), rounds=6, resume=True, cosine=False,
        **cos)).records] == list(range(7))


@pytest.mark.parametrize("scheme", ["one", "two"])
def test_distill_killed_and_resumed_equals_uninterrupted(offline, monkeypatch, scheme):
    from fixtures_data import write_fashion_mnist

    write_fashion_mnist(offline / "data", n_train=64, n_test=32)
    kw = dict(scheme=scheme, rounds=6, eval_every=1, checkpoint_every=2)
    whole = dfad.distill(tiny_config(offline, out_dir=str(offline / "whole"), **kw))

    real_round, calls = dfad._round, {"n": 0}

    def dying_round(run, r):
        calls["n"] += 1
        if calls["n"] == 5:  # inside round 5: the last checkpoint is round 4
            raise Killed
        return real_round(run, r)

    monkeypatch.setattr(dfad, "_round", dying_round)
    with pytest.raises(Killed):
        dfad.distill(tiny_config(offline, out_dir=str(offline / "split"), **kw))
    assert not (offline / "split" / "done.json").exists()
    monkeypatch.setattr(dfad, "_round", real_round)
    resumed = dfad.distill(tiny_config(offline, out_dir=str(offline / "split"), resume=True, **kw))

    def losses(res):
        return torch.tensor([[r.get("Loss/S", 0.0), r["Accuracy/student"]] for r in res.records])

    assert [r["round"] for r in resumed.records] == list(range(7))
    torch.testing.assert_close(losses(resumed), losses(whole), rtol=0, atol=0)
    for p, q in zip(resumed.student.state_dict().values(), whole.student.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    rows = (offline / "split" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 7  # the rows logged after the checkpoint were dropped, then redone


@pytest.mark.slow
def test_cifar_configuration_trains_then_reuses_a_teacher_checkpoint(offline):
    from fixtures_data import write_cifar

    from osgan.cli import main

    write_cifar(offline / "data", "cifar10", n=4)
    cfg = tiny_config(offline, dataset="cifar10", resnet_width=2, rounds=2, batch_size=4)
    res = dfad.distill(cfg)
    assert cfg.archs == ("resnet34", "resnet18")
    assert isinstance(res.teacher, ResNet) and res.teacher.depth == 34
    assert isinstance(res.student, ResNet) and res.student.depth == 18

    # the same teacher given as a checkpoint, through the command line
    path = offline / "teacher.pt"
    torch.save(res.teacher.state_dict(), path)
    rc = main(["dfad", "--dataset", "cifar10", "--data-root", str(offline / "data"),
               "--teacher", str(path), "--resnet-width", "2", "--rounds", "1", "--batch-size", "4",
               "--nz", "8", "--g-width", "4", "--eval-every", "1", "--device", "cpu", "--val-n", "4",
               "--out-dir", str(offline / "cli"), "--no-progress"])
    assert rc == 0
    records = [json.loads(x) for x in (offline / "cli" / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in records] == [0, 1]


def test_cli_errors_are_one_line_usage_errors(offline, capsys):
    from osgan.cli import main

    assert main(["dfad", "--scheme", "three"]) == 2
    assert "one, two, kd" in capsys.readouterr().err
    assert main(["dfad", "--profile", "smoke", "--device", "cpu", "--scheme", "three"]) == 2
    assert "one, two, kd" in capsys.readouterr().err
    assert main(["dfad", "--teacher", str(offline / "missing.pt")]) == 2
    assert "not found" in capsys.readouterr().err
    rc = main(["dfad", "--dataset", "cifar10", "--data-root", str(offline / "nothing"),
               "--cache-dir", str(offline / "cache"), "--device", "cpu"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cifar" in err.lower()


def _result(scheme, seed, curve, seconds):
    cfg = dfad.DFADConfig(scheme=scheme, seed=seed, rounds=curve[-1][0])
    records = [{"round": r, "Time/train": t, "Accuracy/student": a} for r, t, a in curve]
    S = torch.nn.Linear(3, 2)  # 8 parameters
    return dfad.DistillResult(cfg, records, curve[-1][2], 0.9, seconds, S, None, S, None)


def test_summarise_and_verdict_read_the_curves():
    runs = {
        "two": [_result("two", s, [(0, 0.0, 0.1), (10, 5.0, 0.6 + a)], 5.0)
                for s, a in [(0, 0.0), (1, 0.1)]],
        "one": [_result("one", s, [(0, 0.0, 0.1), (10, 2.0, 0.4 + a), (30, 6.0, 0.8)], 6.0)
                for s, a in [(0, 0.0), (1, 0.2)]],
    }
    rows = {r["method"]: r for r in dfad.summarise(runs, rounds=10, seconds=5.0)}
    torch.testing.assert_close(rows["two"]["acc"], 0.65, rtol=0, atol=1e-12)
    torch.testing.assert_close(rows["two"]["acc_std"], math.sqrt(0.005), rtol=0, atol=1e-12)
    torch.testing.assert_close(rows["one"]["acc_at_rounds"], 0.5, rtol=0, atol=1e-12)
    torch.testing.assert_close(rows["one"]["acc_at_time"], 0.5, rtol=0, atol=1e-12)
    torch.testing.assert_close(rows["one"]["acc"], 0.8, rtol=0, atol=1e-12)
    assert rows["one"]["params"] == 8 and rows["one"]["seconds"] == 6.0
    ahead = dfad.higher(list(rows.values()))
    for way in ("acc_at_rounds", "acc_at_time"):
        assert ahead[way]["ahead"] == "two" and ahead[way]["difference"] == pytest.approx(-0.15)
        assert (ahead[way]["one"], ahead[way]["two"]) == (pytest.approx(0.5), pytest.approx(0.65))
    assert dfad.plus_minus(0.5, float("nan")) == "0.500"
    assert dfad.plus_minus(0.5, 0.01) == "0.500 ± 0.010"


@pytest.mark.slow
def test_compare_in_worker_processes_equals_serial(offline):
    from fixtures_data import write_fashion_mnist

    write_fashion_mnist(offline / "data", n_train=64, n_test=32)
    cfg = tiny_config(offline, threads=1)
    rounds = {"one": 3, "two": 2}
    serial = dfad.compare(cfg, [0, 1], rounds, workers=1)
    parallel = dfad.compare(cfg, [0, 1], rounds, workers=2)
    assert list(serial) == list(parallel) == ["one", "two"]
    for scheme in rounds:
        for a, b in zip(serial[scheme], parallel[scheme]):
            assert a.config == b.config
            assert [r.get("Loss/S") for r in a.records] == [r.get("Loss/S") for r in b.records]
            assert a.accuracy == b.accuracy


def test_val_split_is_the_last_training_images_and_the_rest_is_kept():
    from osgan.data import ImageData

    images, labels = torch.arange(10.0).view(10, 1, 1, 1), torch.arange(10)
    train, val = dfad.split_val(ImageData(images, labels, 10, "fashion_mnist", "train"), 3)
    assert train.labels.tolist() == list(range(7)) and val.labels.tolist() == [7, 8, 9]
    assert (train.split, val.split) == ("train", "val")
    assert dfad.split_val(train, 0) == (train, None)
    with pytest.raises(ValueError, match="smaller than the 7"):
        dfad.split_val(train, 7)


def test_learning_rates_replace_the_recipes():
    G, S, _ = tiny_nets(torch.float32)
    opt_s, opt_g, scheds = dfad.optimizers("dfad", S, G, 10, lr_s=0.02)
    assert isinstance(opt_s, torch.optim.SGD) and opt_s.param_groups[0]["lr"] == 0.02
    assert opt_g.param_groups[0]["lr"] == 1e-3 and len(scheds) == 2  # the recipe's, cosine
    opt_s, opt_g, scheds = dfad.optimizers("adam", S, G, 10, lr_g=3e-4)
    assert (opt_s.param_groups[0]["lr"], opt_g.param_groups[0]["lr"], scheds) == (1e-3, 3e-4, [])


def test_cosine_decays_both_rates_to_zero_over_the_run_whatever_the_recipe():
    """cosine=True: lr_t = lr_0 (1 + cos(pi t / T)) / 2 for both networks after t of T rounds
    (the closed form), on Adam's grid recipe too; cosine=False keeps the dfad recipe constant;
    None is the recipe's own schedule."""
    import math

    G, S, _ = tiny_nets(torch.float32)
    opt_s, opt_g, scheds = dfad.optimizers("adam", S, G, 8, lr_s=3e-3, cosine=True)
    for t in range(1, 9):
        for o in (opt_s, opt_g):
            o.step()
        for sched in scheds:
            sched.step()
        for o, lr0 in ((opt_s, 3e-3), (opt_g, 1e-3)):
            assert o.param_groups[0]["lr"] == pytest.approx(
                lr0 * (1 + math.cos(math.pi * t / 8)) / 2, abs=1e-12)
    assert opt_s.param_groups[0]["lr"] == pytest.approx(0, abs=1e-12)
    assert dfad.optimizers("dfad", S, G, 8, cosine=False)[2] == []
    assert [dfad.decays(h) for h in ("adam", "dfad", "dfad_mnist")] == [False, True, False]
    with pytest.raises(ValueError, match="cosine must be true, false or None"):
        dfad.DFADConfig(cosine="yes").validate()


def test_dfad_recipes_are_the_published_ones_per_network_pair():
    """DFAD_mnist.py (the LeNet-5 pair): SGD 0.01, momentum 0.9, weight decay 1e-4, constant;
    DFAD_cifar.py (the ResNets): SGD 0.1, weight decay 5e-4; the generator Adam 1e-3 in both."""
    G, S, _ = tiny_nets(torch.float32)
    for name, lr, wd, n_scheds in (("dfad_mnist", 0.01, 1e-4, 0), ("dfad", 0.1, 5e-4, 2)):
        opt_s, opt_g, scheds = dfad.optimizers(name, S, G, 10)
        group = opt_s.param_groups[0]
        assert isinstance(opt_s, torch.optim.SGD) and isinstance(opt_g, torch.optim.Adam)
        assert (group["lr"], group["momentum"], group["weight_decay"]) == (lr, 0.9, wd)
        assert opt_g.param_groups[0]["lr"] == 1e-3 and len(scheds) == n_scheds
    with pytest.raises(ValueError, match="lr_s must be finite and > 0"):
        dfad.DFADConfig(lr_s=0.0).validate()


def test_teacher_and_kd_never_see_the_validation_images(offline, monkeypatch):
    from fixtures_data import write_fashion_mnist

    from osgan import classifiers

    write_fashion_mnist(offline / "data", n_train=64, n_test=32)
    seen = []
    real_fit = classifiers.fit
    monkeypatch.setattr(classifiers, "fit", lambda m, train, *a, **k: (
        seen.append(len(train)), real_fit(m, train, *a, **k))[1])
    res = dfad.distill(tiny_config(offline, scheme="kd", val_n=16))
    assert seen == [48]  # the teacher trained on 64 - 16 images
    assert len(res.records) == 3 and all("Accuracy/val" in r for r in res.records)
    # KD's real batches: drawn from the first 48 images only (uniform indices below 48)
    run = dfad._setup(tiny_config(offline, scheme="kd", val_n=16), torch.device("cpu"))
    assert len(run.train) == 48 and len(run.val) == 16
