"""FID/KID against closed forms and clean-fid itself, on real Fashion-MNIST in the smoke domain
feature space; the Inception path without any network access."""

import socket

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cleanfid import fid as cfid
from torch import nn

from osgan import metrics
from osgan.metrics import fid as fidmod
from osgan.metrics import inception


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("osgan-cache"))


@pytest.fixture(scope="session")
def fm(cache_dir):
    """Fashion-MNIST test and train images, and the smoke domain config (classifier trained once)."""
    data = pytest.importorskip("osgan.data")
    try:
        test = data.load("fashion_mnist", "test")
    except data.DataNotFound as e:
        pytest.skip(str(e))
    kw = dict(dataset="fashion_mnist", feature_space="domain_smoke", cache_dir=cache_dir,
              n_real=2000, n_gen=1000, kid_subsets=20)
    return test.images, kw


def _spd(d, gen):
    a = torch.randn(d, d, generator=gen, dtype=torch.float64)
    return (a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)).numpy()


def test_fid_equal_covariances_is_squared_mean_difference():
    gen = torch.Generator().manual_seed(0)
    sigma = _spd(16, gen)
    mu1, mu2 = torch.randn(2, 16, generator=gen, dtype=torch.float64).numpy()
    expected = float(((mu1 - mu2) ** 2).sum())
    torch.testing.assert_close(metrics.frechet(mu1, sigma, mu2, sigma), expected,
                               rtol=1e-6, atol=1e-6)


def test_fid_diagonal_covariances_closed_form():
    # Tr(S1 + S2 - 2 sqrt(S1 S2)) = sum_i (sqrt(s1_i) - sqrt(s2_i))^2 for diagonal S1, S2
    gen = torch.Generator().manual_seed(1)
    s1, s2 = torch.rand(2, 8, generator=gen, dtype=torch.float64) + 0.5
    mu1, mu2 = torch.randn(2, 8, generator=gen, dtype=torch.float64)
    expected = float(((mu1 - mu2) ** 2).sum() + ((s1.sqrt() - s2.sqrt()) ** 2).sum())
    got = metrics.frechet(mu1.numpy(), np.diag(s1.numpy()), mu2.numpy(), np.diag(s2.numpy()))
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-8)


def test_stats_match_torch():
    x = torch.randn(50, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    mu, sigma = metrics.stats(x.numpy())
    torch.testing.assert_close(torch.from_numpy(mu), x.mean(0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(torch.from_numpy(sigma), torch.cov(x.T), rtol=1e-12, atol=1e-12)


def test_kid_is_clean_fids_mean_and_leaves_global_rng_alone():
    gen = torch.Generator().manual_seed(3)
    f1 = torch.randn(300, 10, generator=gen, dtype=torch.float64).numpy()
    f2 = (torch.randn(200, 10, generator=gen, dtype=torch.float64) + 0.3).numpy()
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    got, std = metrics.kid(f1, f2, num_subsets=10, max_subset_size=1000, seed=7)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    np.random.seed(7)
    m = 100  # half the smaller sample
    expected = cfid.kernel_distance(f1, f2, num_subsets=10, max_subset_size=m)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    assert std > 0


def test_kid_of_one_distribution_is_within_its_std_of_zero():
    gen = torch.Generator().manual_seed(4)
    f1, f2 = torch.randn(2, 600, 16, generator=gen, dtype=torch.float64).numpy()
    value, std = metrics.kid(f1, f2, num_subsets=50)
    assert std > 0
    assert abs(value) <= std
    # and a shifted distribution is many of its stds away
    shifted, std_s = metrics.kid(f1, f2 + 0.5, num_subsets=50)
    assert shifted > 5 * std_s


def test_unknown_feature_space_lists_the_valid_ones():
    with pytest.raises(ValueError, match="domain.*domain_smoke.*inception"):
        metrics.fid_kid(torch.zeros(4, 1, 32, 32), feature_space="nope")


@pytest.mark.slow
def test_fid_orders_test_blurred_noise(fm):
    test_images, kw = fm
    x = test_images[:1000]
    ref = dict(kw, split="train")
    real = metrics.fid_kid(x, **ref)
    blurred = metrics.fid_kid(F.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False),
                              **ref)
    noise = metrics.fid_kid(torch.rand(1000, 1, 32, 32, generator=torch.Generator().manual_seed(0))
                            * 2 - 1, **ref)
    assert 5 * real["FID"] < blurred["FID"] < noise["FID"]
    assert 5 * real["KID"] < blurred["KID"] < noise["KID"]
    # every number carries its labels
    assert real["feature_space"] == "domain:fashion_mnist@32/smoke-cnn"
    assert (real["n_gen"], real["n_real"], real["ref_split"], real["dataset"]) == (
        1000, 2000, "train", "fashion_mnist")
    assert 0.0 < real["domain_acc"] <= 1.0
    table = metrics.format_table([dict(real, name="test"), dict(noise, name="noise")])
    assert "smoke-cnn" in table and "fashion_mnist/train" in table and "2000" in table
    assert metrics.describe({f"Eval/{k}": v for k, v in real.items()}, "KID", prefix="Eval/") == (
        "KID (domain:fashion_mnist@32/smoke-cnn; 1000 generated vs 2000 fashion_mnist/train)")


def test_class_spread_counts_the_classes_a_sample_covers(fm):
    from scipy.stats import entropy

    data = pytest.importorskip("osgan.data")
    test = data.load("fashion_mnist", "test")
    space = metrics.feature_space(metrics.FIDConfig(**fm[1]))
    balanced = metrics.class_spread(space, test.images[:2000], 256)
    frac = np.array(balanced["class_fractions"])
    assert frac.shape == (10,) and frac.sum() == pytest.approx(1.0)
    assert balanced["classes_eff"] == pytest.approx(np.exp(entropy(frac)), rel=1e-9)
    assert balanced["classes_eff"] > 8  # ten classes, 200 images each, a classifier of ~80%
    # two classes only (trousers and bags): near two, raised by the smoke classifier's errors
    two = test.images[(test.labels == 1) | (test.labels == 8)][:1000]
    assert 1.5 < metrics.class_spread(space, two, 256)["classes_eff"] < 4
    # fid_kid reports it, and the table prints it
    out = metrics.fid_kid(two, **dict(fm[1], split="train", n_gen=1000))
    assert out["classes_eff"] == pytest.approx(metrics.class_spread(space, two, 256)["classes_eff"])
    assert "classes" in metrics.format_table([out])


def test_cached_and_fresh_reference_agree(fm):
    _, kw = fm
    cfg = metrics.FIDConfig(**dict(kw, n_real=500))
    first = metrics.reference(cfg)
    fidmod._REFS.clear()  # force the read from disk
    cached = metrics.reference(cfg)
    fresh = metrics.reference(cfg, use_cache=False)
    assert cached["from_cache"] and not fresh["from_cache"] and cached["path"].exists()
    for k in ("feats", "mu", "sigma"):
        torch.testing.assert_close(torch.from_numpy(cached[k]), torch.from_numpy(fresh[k]),
                                   rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(torch.from_numpy(first[k]), torch.from_numpy(fresh[k]),
                                   rtol=1e-12, atol=1e-12)


def _in_order(images):
    """fn(n) -> the next n of ``images``."""
    pos = [0]

    def fn(n):
        pos[0] += n
        return images[pos[0] - n:pos[0]]

    return fn


def test_generator_and_callable_are_sampled(fm):
    test_images, kw = fm

    class G(nn.Module):  # a "generator" returning test images in order, ignoring z
        class cfg:
            nz, num_classes = 3, 0

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(()))
            self.next = _in_order(test_images)

        def forward(self, z):
            return self.next(z.shape[0])

    args = dict(kw, split="train", n_gen=300, batch_size=128)
    from_tensor = metrics.fid_kid(test_images, **args)
    from_module = metrics.fid_kid(G(), **args)
    from_callable = metrics.fid_kid(_in_order(test_images), **args)
    assert from_module["n_gen"] == from_tensor["n_gen"] == from_callable["n_gen"] == 300
    torch.testing.assert_close(from_module["FID"], from_tensor["FID"], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(from_callable["FID"], from_tensor["FID"], rtol=1e-9, atol=1e-9)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    import cleanfid.downloads_helper as dh

    monkeypatch.setattr(dh, "check_download_inception", refuse)


def test_missing_inception_file_is_a_clear_error_without_network(tmp_path, no_network,
                                                                 monkeypatch):
    monkeypatch.delenv("OSGAN_INCEPTION", raising=False)
    missing = tmp_path / "nowhere" / "inception-2015-12-05.pt"
    with pytest.raises(metrics.InceptionWeightsNotFound) as info:
        metrics.fid_kid(torch.zeros(8, 1, 32, 32), feature_space="inception",
                        inception_path=str(missing), cache_dir=str(tmp_path))
    msg = str(info.value)
    assert str(missing) in msg and inception.URL in msg and "--inception-path" in msg
    assert "never downloads" in msg


@pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:FutureWarning")
def test_inception_plumbing_with_a_stand_in_torchscript_file(tmp_path, no_network):
    # a TorchScript module with Inception's interface (``.layers``: (B, 3, 299, 299) -> 2048)
    class Layers(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3, 2048, generator=torch.Generator().manual_seed(0)))

        def forward(self, x):
            return x.mean((2, 3)) @ self.w

    class Base(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = Layers()

        def forward(self, x):
            return self.layers(x)

    path = tmp_path / "my-inception.pt"
    torch.jit.script(Base()).save(str(path))
    space = metrics.InceptionFeatures(str(path), cache_dir=str(tmp_path))
    # constant grey images: the clean resize keeps the constant (c + 1) * 127.5, Inception's
    # normalisation maps it to (v - 128) / 128 on all three channels
    c = torch.tensor([-1.0, 0.0, 0.5])
    x = c[:, None, None, None].expand(3, 1, 32, 32)
    v = ((c + 1) * 127.5 - 128) / 128
    expected = v[:, None].expand(3, 3).double() @ Layers().w.detach().double()
    torch.testing.assert_close(torch.from_numpy(space(x)), expected, rtol=1e-4, atol=1e-4)
    assert space.label == "inception:clean"
    # the reference cache's key names the weights, not the file's size: a file of the same size
    # with other weights is another feature space
    other = Base()
    with torch.no_grad():
        other.layers.w.mul_(2)
    (tmp_path / "other").mkdir()
    path2 = tmp_path / "other" / "my-inception.pt"  # the archive holds its name
    torch.jit.script(other).save(str(path2))
    assert path2.stat().st_size == path.stat().st_size
    assert metrics.InceptionFeatures(str(path2), cache_dir=str(tmp_path)).key != space.key
    assert metrics.InceptionFeatures(str(path), cache_dir=str(tmp_path)).key == space.key


def test_fid_command_prints_a_labelled_table(fm, capsys, tmp_path):
    import argparse
    import json

    from osgan import evaluate as cli

    parser = argparse.ArgumentParser()
    cli.configure_parser(parser)
    _, kw = fm
    args = parser.parse_args(["--reference", "--feature-space", "domain_smoke", "--n-gen", "500",
                              "--n-real", "2000", "--kid-subsets", "10", "--cache-dir",
                              kw["cache_dir"], "--json", str(tmp_path / "rows.json")])
    assert cli.run(args) == 0
    out = capsys.readouterr().out
    assert "test split (floor)" in out and "domain:fashion_mnist@32/smoke-cnn" in out
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert (rows[0]["n_gen"], rows[0]["n_real"], rows[0]["ref_split"]) == (500, 2000, "train")


def test_fid_command_without_a_target_is_a_usage_error():
    import argparse

    from osgan import evaluate as cli
    from osgan.util import UsageError

    parser = argparse.ArgumentParser()
    cli.configure_parser(parser)
    with pytest.raises(UsageError, match="--reference"):
        cli.run(parser.parse_args([]))


def test_reference_statistics_follow_the_classifiers_weights_not_only_its_recipe(fm, cache_dir):
    # a classifier frozen over one trained here has the same recipe (settings) and other
    # weights: the reference statistics the other one computed must not be read with it
    from pathlib import Path
    _, kw = fm
    cfg = metrics.FIDConfig(**dict(kw, n_real=300))
    first = metrics.reference(cfg)
    files = sorted((Path(cache_dir) / "classifiers").glob("domain-fashion_mnist-cnn_smoke-*.pt"))
    assert files, "the smoke domain classifier is cached"
    blob = torch.load(files[0], weights_only=False)
    original = {k: v.clone() for k, v in blob["state_dict"].items()}
    try:
        name = next(k for k, v in blob["state_dict"].items() if v.is_floating_point())
        blob["state_dict"][name] = blob["state_dict"][name] + 0.05
        torch.save(blob, files[0])
        fidmod._SPACES.clear()
        fidmod._REFS.clear()
        other = metrics.reference(cfg)
        assert not other["from_cache"] and other["path"] != first["path"]
        assert not np.allclose(other["mu"], first["mu"])
    finally:
        blob["state_dict"] = original
        torch.save(blob, files[0])
        fidmod._SPACES.clear()
        fidmod._REFS.clear()
