"""osgan.data against small fixtures in each data set's real on-disk format."""

from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures_data import write_cifar, write_fashion_mnist, write_image_folder
from torch.testing import assert_close

from osgan import data

SYSTEM_FMNIST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    # never download in tests, and never find the machine's copy unless a test asks for it
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    monkeypatch.setattr(data, "SYSTEM_DIRS", (str(tmp_path / "no-system-copy"),))


def _scaled(u8: np.ndarray) -> torch.Tensor:
    # [0, 255] -> [-1, 1], computed apart from the loader
    return torch.from_numpy(u8.astype(np.float64) / 255.0 * 2.0 - 1.0).float()


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_idx_padded_to_32(tmp_path, gz):
    written = write_fashion_mnist(tmp_path, n_train=12, n_test=5, gz=gz)
    for split in ("train", "test"):
        d = data.load("fashion_mnist", split, data_root=str(tmp_path), image_size=32)
        images, labels = written[split]
        # 28 -> 32 by 2 pixels of background (-1) on every side
        expected = np.pad(images.astype(np.float64) / 255.0 * 2 - 1, ((0, 0), (2, 2), (2, 2)),
                          constant_values=-1.0)
        assert_close(d.images, torch.from_numpy(expected).float()[:, None], atol=1e-6, rtol=0)
        assert d.images.dtype == torch.float32
        assert torch.equal(d.labels, torch.from_numpy(labels.astype(np.int64)))
        assert (d.num_classes, d.channels, d.name, d.split, len(d)) == (
            10, 1, "fashion_mnist", split, len(labels))


def test_fashion_mnist_resized_to_64_keeps_constant_images(tmp_path):
    write_fashion_mnist(tmp_path, n_train=3, n_test=3)
    # overwrite the test split with constant images: any interpolation keeps a constant
    from fixtures_data import write_idx

    values = np.array([0, 51, 255], dtype=np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.broadcast_to(values[:, None, None], (3, 28, 28)))
    d = data.load("fashion_mnist", "test", data_root=str(tmp_path), image_size=64)
    assert d.images.shape == (3, 1, 64, 64)
    expected = _scaled(values)[:, None, None, None].expand(3, 1, 64, 64)
    assert_close(d.images, expected, atol=1e-5, rtol=0)


def test_fashion_mnist_missing_names_three_ways(tmp_path):
    with pytest.raises(data.DataNotFound) as e:
        data.load("fashion_mnist", data_root=str(tmp_path / "empty"))
    msg = str(e.value)
    assert isinstance(e.value, ValueError)
    for way in ("apt-get install dataset-fashion-mnist", "data_root", "download"):
        assert way in msg


def test_fashion_mnist_found_in_system_dir(tmp_path, monkeypatch):
    system = tmp_path / "system"
    written = write_fashion_mnist(system, n_train=4, n_test=4)
    monkeypatch.setattr(data, "SYSTEM_DIRS", (str(system),))
    d = data.load("fashion_mnist", "train")  # no data_root: the system copy
    assert torch.equal(d.labels, torch.from_numpy(written["train"][1].astype(np.int64)))


@pytest.mark.skipif(not SYSTEM_FMNIST.exists(), reason="Debian's dataset-fashion-mnist not installed")
def test_real_fashion_mnist_test_split(monkeypatch):
    monkeypatch.setattr(data, "SYSTEM_DIRS", (str(SYSTEM_FMNIST.parent),))
    d = data.load("fashion_mnist", "test")
    assert d.images.shape == (10000, 1, 32, 32)
    assert torch.equal(torch.bincount(d.labels), torch.full((10,), 1000))  # balanced classes
    assert_close(d.images.amin(), torch.tensor(-1.0), atol=0, rtol=0)
    assert_close(d.images.amax(), torch.tensor(1.0), atol=0, rtol=0)


def test_sample_is_reproducible_and_draws_rows(tmp_path):
    write_fashion_mnist(tmp_path, n_train=20, n_test=2)
    d = data.load("fashion_mnist", data_root=str(tmp_path))
    x1, y1 = d.sample(7, torch.Generator().manual_seed(3))
    x2, y2 = d.sample(7, torch.Generator().manual_seed(3))
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert x1.shape == (7, 1, 32, 32) and y1.dtype == torch.int64
    # every sampled image is a row of the data set, with its own label
    match = (x1[:, None] == d.images[None]).flatten(2).all(-1)  # (7, 20)
    idx = match.float().argmax(1)
    assert bool(match.any(1).all())
    assert torch.equal(d.labels[idx], y1)


@pytest.mark.parametrize("name,classes", [("cifar10", 10), ("cifar100", 100)])
def test_cifar_pickles(tmp_path, name, classes):
    written = write_cifar(tmp_path, name, n=3)
    for split in ("train", "test"):
        d = data.load(name, split, data_root=str(tmp_path))
        images, labels = written[split]
        assert_close(d.images, _scaled(images), atol=1e-6, rtol=0)
        assert torch.equal(d.labels, torch.from_numpy(labels.astype(np.int64)))
        assert (d.channels, d.num_classes) == (3, classes)
    assert len(data.load(name, "train", data_root=str(tmp_path))) == (15 if name == "cifar10" else 3)


def test_cifar_missing(tmp_path):
    with pytest.raises(data.DataNotFound, match="cifar-10-batches-py"):
        data.load("cifar10", data_root=str(tmp_path))


@pytest.mark.parametrize("name", ["celeba", "lsun_churches", "ffhq"])
def test_image_folder_centre_crop_to_64(tmp_path, name):
    centre, margin = (200, 40, 10), (0, 0, 255)
    write_image_folder(tmp_path / "imgs" / "sub", n=3, size=(90, 60), centre=centre, margin=margin)
    # portrait, with the crop's edges on JPEG's 8x8 block boundaries
    write_image_folder(tmp_path / "imgs", n=2, size=(64, 96), centre=centre, margin=margin,
                       ext=".jpg" if name == "ffhq" else ".png")
    d = data.load(name, data_root=str(tmp_path / "imgs"), image_size=64)
    assert d.images.shape == (5, 3, 64, 64)
    # the centre crop removes the margins: every pixel has the centre's colour
    expected = _scaled(np.array(centre, dtype=np.uint8))[None, :, None, None].expand(5, 3, 64, 64)
    tol = 6 / 255 if name == "ffhq" else 1e-6  # JPEG is lossy
    assert_close(d.images, expected, atol=tol, rtol=0)
    assert d.num_classes == 0


def test_image_folder_splits_and_limit(tmp_path):
    write_image_folder(tmp_path / "train", n=3)
    write_image_folder(tmp_path / "test", n=2)
    assert len(data.load("celeba", "train", data_root=str(tmp_path))) == 3
    assert len(data.load("celeba", "test", data_root=str(tmp_path))) == 2
    assert len(data.load("celeba", "train", data_root=str(tmp_path), limit=2)) == 2
    with pytest.raises(data.DataNotFound, match="data_root"):
        data.load("ffhq", data_root=None)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="fashion_mnist, cifar10"):
        data.load("mnist")
    with pytest.raises(ValueError, match="split"):
        data.load("fashion_mnist", "val")
    with pytest.raises(ValueError, match="32 or 64"):
        data.load("fashion_mnist", image_size=48)
