"""Classifiers: shapes, the registry, accuracy against a direct count, and the on-disk cache
(loaded when the settings match, retrained when one changes)."""

import pytest
import torch

from osgan import classifiers, util
from osgan.data import ImageData


def quadrants(n: int, split: str, seed: int) -> ImageData:
    """Class k: a bright 16x16 square in quadrant k of a noisy 32x32 grey image."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=gen)
    x = 0.3 * torch.randn(n, 1, 32, 32, generator=gen) - 0.5
    for k in range(4):
        r, c = divmod(k, 2)
        x[y == k, :, 16 * r:16 * r + 16, 16 * c:16 * c + 16] += 1.0
    return ImageData(x.clamp(-1, 1), y, 4, "quadrants", split)


@pytest.fixture(scope="module")
def data():
    return quadrants(256, "train", 0), quadrants(256, "test", 1)


FAST = classifiers.FitConfig(epochs=2.0, lr=3e-3, batch_size=32)


@pytest.mark.parametrize("arch,F", [("cnn", 128), ("cnn_smoke", 32), ("lenet5", 84),
                                    ("lenet5_half", 42)])
def test_shapes(arch, F):
    model = classifiers.build(arch, channels=1, num_classes=4, image_size=32)
    x = torch.zeros(3, 1, 32, 32)
    assert model.features(x).shape == (3, F)
    assert model(x).shape == (3, 4)


def test_unknown_arch_lists_the_valid_ones():
    with pytest.raises(ValueError, match="cnn.*cnn_smoke.*lenet5.*lenet5_half"):
        classifiers.build("resnet", 1, 10, 32)


def test_accuracy_matches_a_direct_count(data):
    _, test = data
    model = classifiers.build("cnn_smoke", 1, 4, 32).eval()
    with torch.no_grad():
        expected = (model(test.images).argmax(1) == test.labels).float().mean().item()
    torch.testing.assert_close(classifiers.accuracy(model, test, batch_size=100), expected,
                               rtol=0, atol=1e-9)


def test_fit_learns_and_caches(data, tmp_path):
    train, test = data
    first = classifiers.fit(classifiers.build("cnn_smoke", 1, 4, 32), train, test, FAST,
                            cache_dir=tmp_path, name="q")
    assert not first.from_cache and first.path.exists()
    assert first.accuracy >= 0.9  # an easy task: chance is 0.25
    again = classifiers.fit(classifiers.build("cnn_smoke", 1, 4, 32), train, test, FAST,
                            cache_dir=tmp_path, name="q")
    assert again.from_cache and again.path == first.path
    torch.testing.assert_close(again.accuracy, first.accuracy, rtol=0, atol=0)
    for (k, a), (_, b) in zip(first.model.state_dict().items(), again.model.state_dict().items(),
                              strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    # a changed setting trains afresh, under another file
    other = classifiers.fit(classifiers.build("cnn_smoke", 1, 4, 32), train, test,
                            classifiers.FitConfig(epochs=1.0, lr=1e-3, batch_size=32),
                            cache_dir=tmp_path, name="q")
    assert not other.from_cache and other.path != first.path
    assert len(list((tmp_path / "classifiers").glob("q-*.pt"))) == 2


def test_fit_is_reproducible_from_its_seed(data):
    train, test = data
    runs = [classifiers.fit(classifiers.build("cnn_smoke", 1, 4, 32), train, test, FAST,
                            use_cache=False) for _ in range(2)]
    for a, b in zip(runs[0].model.parameters(), runs[1].model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("OSGAN_CACHE", str(tmp_path))
    assert util.cache_root() == tmp_path
    assert util.cache_root(tmp_path / "x") == tmp_path / "x"


def _same_weights(a, b):
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0, msg=k)


def test_a_frozen_classifier_is_loaded_before_the_cache_and_never_replaced(data, tmp_path,
                                                                           monkeypatch, capsys):
    # the record's instruments are frozen once: another machine must load them, not train its
    # own (which rounds differently: 0.9072 on AMD, 0.9049 on an Intel Xeon)
    from osgan import cli

    train, test = data
    monkeypatch.setattr(classifiers, "FROZEN", tmp_path / "instruments")
    cache = tmp_path / "cache"
    first = classifiers.fit(classifiers.build("cnn_smoke", 1, 4, 32), train, test, FAST,
                            cache_dir=cache, name="q")
    assert cli.main(["instruments", "--freeze", first.path.name, "--cache-dir", str(cache)]) == 0
    entry = classifiers.manifest()[first.path.name]
    assert cli.main(["instruments", "--cache-dir", str(tmp_path / "empty")]) == 0
    assert f"frozen  {first.path.name}  accuracy {first.accuracy:.4f}" in capsys.readouterr().out
    assert entry["accuracy"] == first.accuracy and len(entry["sha256"]) == 64
    # another machine: nothing cached, a different cached file under the same name ignored
    for cache_dir in (tmp_path / "empty", cache):
        if cache_dir == cache:
            other = classifiers.build("cnn_smoke", 1, 4, 32)
            torch.save({"state_dict": other.state_dict(), "accuracy": 0.5,
                        "settings": first.settings}, first.path)
        again = classifiers.fit(classifiers.build("cnn_smoke", 1, 4, 32), train, test, FAST,
                                cache_dir=cache_dir, name="q")
        assert again.from_cache and again.path == tmp_path / "instruments" / first.path.name
        assert again.accuracy == first.accuracy
        _same_weights(again.model, first.model)
    assert not (tmp_path / "empty" / "classifiers").exists()  # nothing trained
    # freezing other weights over it is refused, and the frozen file is kept
    with pytest.raises(util.UsageError, match="frozen already with other weights"):
        classifiers.freeze(first.path)
    assert classifiers.manifest()[first.path.name] == entry
    # a frozen file that is not its manifest's is an error, not a reason to train another
    (tmp_path / "instruments" / first.path.name).write_bytes(b"not a model")
    with pytest.raises(util.RunFailed, match="not the file its manifest names"):
        classifiers.fit(classifiers.build("cnn_smoke", 1, 4, 32), train, test, FAST,
                        cache_dir=cache, name="q")


def test_freezing_what_is_not_a_cached_classifier_is_one_line(tmp_path, monkeypatch, capsys):
    from osgan import cli

    monkeypatch.setattr(classifiers, "FROZEN", tmp_path / "instruments")
    assert cli.main(["instruments", "--freeze", "nope.pt", "--cache-dir", str(tmp_path)]) == 2
    assert "no cached classifier" in capsys.readouterr().err
    torch.save({"x": torch.zeros(1)}, tmp_path / "bad.pt")
    assert cli.main(["instruments", "--freeze", str(tmp_path / "bad.pt")]) == 2
    assert "not a cached classifier" in capsys.readouterr().err
    (tmp_path / "cut.pt").write_bytes(b"trunc")
    assert cli.main(["instruments", "--freeze", str(tmp_path / "cut.pt")]) == 2
    assert "not a cached classifier" in capsys.readouterr().err
    assert not (tmp_path / "instruments").exists()
    (tmp_path / "classifiers").mkdir()
    (tmp_path / "classifiers" / "cut.pt").write_bytes(b"trunc")
    assert cli.main(["instruments", "--cache-dir", str(tmp_path)]) == 0
    assert "cached  cut.pt  accuracy unreadable (" in capsys.readouterr().out


def test_sgd_fit_is_momentum_sgd_at_a_constant_rate_written_by_hand(data):
    """DFAD's teacher recipe (optimizer "sgd"): v <- 0.9 v + g + wd w, w <- w - lr v, the rate
    never decays; checked against the update written out, from the same start and batches."""
    import copy

    train, _ = data
    cfg = classifiers.FitConfig(epochs=1.0, lr=0.05, batch_size=64, weight_decay=1e-2,
                                optimizer="sgd")
    torch.manual_seed(3)
    model = classifiers.build("cnn_smoke", 1, 4, 32)
    ref = copy.deepcopy(model)
    classifiers._train(model, train, cfg, torch.device("cpu"))
    # the same batches: one pass, in the order the fit draws from its seed
    order = torch.randperm(len(train.labels), generator=torch.Generator().manual_seed(cfg.seed))
    ref.train()
    params = list(ref.parameters())
    velocity = [torch.zeros_like(p) for p in params]
    for i in range(0, len(order), cfg.batch_size):
        idx = order[i:i + cfg.batch_size]
        loss = torch.nn.functional.cross_entropy(ref(train.images[idx]), train.labels[idx])
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g, v in zip(params, grads, velocity, strict=True):
                v.mul_(0.9).add_(g + cfg.weight_decay * p)
                p.sub_(cfg.lr * v)
    for (k, a), b in zip(model.state_dict().items(), ref.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=k)


def test_the_optimizer_names_the_cache_only_when_it_is_not_the_default(data):
    train, test = data
    model = classifiers.build("cnn_smoke", 1, 4, 32)
    adam = classifiers.settings_of(model, train, test, classifiers.FitConfig())
    sgd = classifiers.settings_of(model, train, test, classifiers.FitConfig(optimizer="sgd"))
    assert "optimizer" not in adam["fit"]  # the keys of the frozen instruments stay
    assert sgd["fit"]["optimizer"] == "sgd"
    assert classifiers.settings_key(adam) != classifiers.settings_key(sgd)
    with pytest.raises(ValueError, match="optimizer must be one of adam, sgd; got 'lbfgs'"):
        classifiers.FitConfig(optimizer="lbfgs")
