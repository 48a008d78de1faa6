r"""The data sets of Sec. 4.1.1, held in memory as tensors and sampled on the training device.

Every data set becomes one :class:`ImageData`: ``images`` float32 ``(N, C, S, S)`` in [-1, 1]
(the range of G's tanh output) and integer ``labels`` (for ``cgan``; zeros where a data set has
none). Sampling draws indices with a ``torch.Generator`` on the images' device, so a run is
reproducible from its seed and needs no DataLoader workers.

* **Fashion-MNIST** (the default of every profile): the four IDX files, ``.gz`` or not, looked up
  in ``data_root``, then in Debian's ``dataset-fashion-mnist`` (``/usr/share/datasets/
  fashion-mnist``), then downloaded by torchvision into ``data_root`` (or ``~/.cache/osgan``) when
  online. 28x28 images are padded with background to 32x32, or resized to 64x64.
* **CIFAR-10/100**: the pickled batches of the official ``cifar-10-batches-py`` /
  ``cifar-100-python`` folders under ``data_root``.
* **CelebA, LSUN Churches, FFHQ**: image folders (``.jpg``, ``.png``, ``.webp``) under
  ``data_root``, centre-cropped to a square and resized to 64x64 (Sec. 4.1.1: "resized and cropped
  into 64x64").

In this implementation we:

* read CIFAR's pickles ourselves, in the layout torchvision's ``CIFAR10``/``CIFAR100`` read,
  instead of through those classes, whose md5 check rejects any file but the official one (and so
  every test fixture); CIFAR is never downloaded here;
* treat an image folder as one split unless it has ``train/`` and ``test/`` sub-folders: then
  both splits read the whole folder (these data sets have no official test split; the paper does
  not say which images its FID reference uses);
* do not align CelebA by the eyes (the paper uses the aligned release, ``img_align_celeba``, which
  already is); LSUN must be exported from its LMDB to image files first;
* keep images as float32 in memory; ``limit`` reads the first ``limit`` images of a big folder;
* skip an unreadable file of an image folder with a warning that counts them, and fail only when
  none is readable; a ``data_root`` given is the only place Fashion-MNIST is looked for.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

SPLITS = ("train", "test")
# the labels' names, in label order, where a figure reads better with them
CLASS_NAMES = {"fashion_mnist": ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal",
                                 "shirt", "sneaker", "bag", "ankle boot")}

# where Debian's package dataset-fashion-mnist puts the IDX files (a tuple, so tests can swap it)
SYSTEM_DIRS = ("/usr/share/datasets/fashion-mnist",)

# Set OSGAN_OFFLINE=1 to never try a download (the tests do).
OFFLINE_ENV = "OSGAN_OFFLINE"

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


class DataNotFound(ValueError):
    """A data set is not on this machine; the message says how to get it."""


@dataclass
class ImageData:
    images: Tensor  # float32 (N, C, S, S) in [-1, 1]
    labels: Tensor  # int64 (N,): class labels, zeros for a data set without labels
    num_classes: int  # 10 for Fashion-MNIST and CIFAR-10, 100 for CIFAR-100, 0 without labels
    name: str  # the key in DATASETS
    split: str  # "train" or "test"

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device | str) -> ImageData:
        return ImageData(self.images.to(device), self.labels.to(device), self.num_classes,
                         self.name, self.split)

    def head(self, n: int) -> ImageData:
        """The first ``n`` images (for cheap evaluations during a run)."""
        return ImageData(self.images[:n], self.labels[:n], self.num_classes, self.name, self.split)

    def sample(self, batch_size: int, generator: torch.Generator | None = None
               ) -> tuple[Tensor, Tensor]:
        """``batch_size`` images and labels drawn uniformly with replacement, on the data's device
        (``generator``, if given, must live on that device)."""
        device = self.images.device
        idx = torch.randint(len(self), (batch_size,), generator=generator, device=device)
        return self.images[idx], self.labels[idx]


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST: IDX files


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (``.gz`` or raw) as a uint8 array: ``(N,)`` labels or ``(N, H, W)`` images."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:  # a download cut short, not gzip
        raise ValueError(f"{path} is not a complete gzip file ({e}); download it again") from None
    if len(data) < 4:
        raise ValueError(f"{path} is truncated: {len(data)} bytes, not even an IDX header")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08 or not 1 <= ndim <= 3 or len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path} has a bad header: not an IDX file of unsigned bytes")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(bytearray(data), dtype=np.uint8, offset=4 + 4 * ndim)  # writable
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: header says {shape}, found {array.size} bytes")
    return array.reshape(shape)


_IDX_STEMS = {"train": "train", "test": "t10k"}


def _find_idx(directory: Path, split: str) -> tuple[Path, Path] | None:
    stem = _IDX_STEMS[split]
    # torchvision's own download layout is <root>/FashionMNIST/raw
    for d in (directory, directory / "fashion-mnist", directory / "FashionMNIST" / "raw"):
        for ext in ("", ".gz"):
            images = d / f"{stem}-images-idx3-ubyte{ext}"
            labels = d / f"{stem}-labels-idx1-ubyte{ext}"
            if images.is_file() and labels.is_file():
                return images, labels
    return None


def _download_fashion_mnist(root: Path, split: str) -> tuple[Path, Path] | None:
    if os.environ.get(OFFLINE_ENV):
        return None
    try:
        from torchvision.datasets import FashionMNIST

        FashionMNIST(str(root), train=split == "train", download=True)
    except Exception:  # offline, or the mirrors are down: report the three ways instead
        return None
    return _find_idx(root, split)


def _fashion_mnist(split: str, data_root: str | None) -> tuple[np.ndarray, np.ndarray, int]:
    # a data_root given is the only place looked in, never silently the system copy
    # (torchvision downloads into it when online)
    dirs = [Path(data_root)] if data_root else [Path(d) for d in SYSTEM_DIRS]
    found = next((f for d in dirs if (f := _find_idx(d, split))), None)
    if found is None:
        cache = Path(data_root) if data_root else Path.home() / ".cache" / "osgan"
        found = _download_fashion_mnist(cache, split)
    if found is None:
        where = f"data_root={data_root!r}, " if data_root else ""
        raise DataNotFound(
            f"Fashion-MNIST ({split}) not found in {where}{', '.join(SYSTEM_DIRS)}, and "
            "torchvision could not download it. Get it one of three ways: `sudo apt-get install "
            "dataset-fashion-mnist` (or `make data`); put the four IDX files in a folder and pass "
            "data_root (--data-root); or run once online so torchvision downloads them."
        )
    images, labels = (read_idx(p) for p in found)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{found[0]} and {found[1]} do not match: {images.shape} images, "
                         f"{labels.shape} labels; replace them with the files of one release")
    return images[:, None], labels, 10  # (N, 28, 28) -> (N, 1, 28, 28)


# ---------------------------------------------------------------------------------------------
# CIFAR-10/100: pickled batches

_CIFAR = {
    # name: (folder, {split: files}, label key, classes)
    "cifar10": ("cifar-10-batches-py",
                {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
                b"labels", 10),
    "cifar100": ("cifar-100-python", {"train": ["train"], "test": ["test"]}, b"fine_labels", 100),
}


def _cifar(name: str, split: str, data_root: str | None) -> tuple[np.ndarray, np.ndarray, int]:
    folder, files, label_key, classes = _CIFAR[name]
    roots = [Path(data_root), Path(data_root) / folder] if data_root else []
    root = next((r for r in roots if all((r / f).is_file() for f in files[split])), None)
    if root is None:
        raise DataNotFound(
            f"{name} ({split}) not found: pass data_root (--data-root) holding the folder "
            f"{folder}/ of the official python release (torchvision.datasets.{name.upper()}(root, "
            "download=True) puts it there)"
        )
    images, labels = [], []
    for f in files[split]:
        try:
            with open(root / f, "rb") as fh:
                batch = pickle.load(fh, encoding="bytes")
            x = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            y = np.asarray(batch[label_key], dtype=np.int64)
        except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError,
                AttributeError, IndexError) as e:  # truncated, garbage or another pickle
            raise ValueError(f"{root / f} is not a {name} batch of the python release "
                             f"({type(e).__name__}: {str(e)[:80]}); download it again") from None
        if len(x) != len(y):
            raise ValueError(f"{root / f}: {len(x)} images but {len(y)} labels")
        images.append(x)
        labels.append(y)
    return np.concatenate(images), np.concatenate(labels), classes


# ---------------------------------------------------------------------------------------------
# CelebA, LSUN Churches, FFHQ: image folders


def _center_crop_resize(path: Path, size: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        im = im.crop((left, top, left + s, top + s)).resize((size, size), Image.BICUBIC)
        return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)  # (H, W, 3) -> (3, H, W)


def _folder(name: str, split: str, data_root: str | None, size: int, limit: int | None):
    if not data_root or not Path(data_root).is_dir():
        raise DataNotFound(
            f"{name} is read from an image folder: pass data_root (--data-root) pointing at a "
            f"folder of .jpg/.png images (optionally with train/ and test/ sub-folders); got "
            f"{data_root!r}"
        )
    root = Path(data_root)
    if (root / "train").is_dir() and (root / "test").is_dir():
        root = root / split
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise DataNotFound(f"{name}: no images ({', '.join(IMAGE_EXTENSIONS)}) under {root}")
    images, bad = [], []
    for p in paths:  # an unreadable file is skipped, not the whole folder
        if limit is not None and len(images) == limit:
            break
        try:
            images.append(_center_crop_resize(p, size))
        except (OSError, ValueError, SyntaxError) as e:  # PIL: truncated or not an image
            bad.append(f"{p} ({type(e).__name__})")
    if bad:
        warnings.warn(f"{name}: skipped {len(bad)} unreadable image file(s) under {root}, e.g. "
                      f"{bad[0]}", stacklevel=3)
    if not images:
        raise ValueError(f"{name}: none of the {len(bad)} image files under {root} is readable, "
                         f"e.g. {bad[0]}")
    return np.stack(images), np.zeros(len(images), dtype=np.int64), 0


# name -> one-line description; the image size a data set is trained at is chosen by the caller
DATASETS = {
    "fashion_mnist": "Fashion-MNIST, 28x28 grey, 10 classes (IDX files)",
    "cifar10": "CIFAR-10, 32x32 colour, 10 classes (python pickles)",
    "cifar100": "CIFAR-100, 32x32 colour, 100 classes (python pickles)",
    "celeba": "CelebA faces, image folder, centre-cropped to 64x64 (Sec. 4.1.1)",
    "lsun_churches": "LSUN Churches outdoor, image folder, centre-cropped to 64x64 (Sec. 4.1.1)",
    "ffhq": "FFHQ faces, image folder, centre-cropped to 64x64 (Sec. 4.1.1)",
}


def _to_size(x: Tensor, size: int) -> Tensor:
    """uint8 (N, C, H, W) -> float32 (N, C, size, size) in [-1, 1]."""
    x = x.float().div(127.5).sub(1.0)
    H = x.shape[-1]
    if H == size:
        return x
    if (H, size) == (28, 32):
        # Fashion-MNIST 28 -> 32: pad 2 pixels of background (-1) on each side, no resampling
        return F.pad(x, (2, 2, 2, 2), value=-1.0)
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                         align_corners=False).clamp(-1.0, 1.0)


def load(name: str = "fashion_mnist", split: str = "train", *, data_root: str | None = None,
         image_size: int = 32, limit: int | None = None) -> ImageData:
    """Data set ``name``'s ``split`` as an :class:`ImageData` of ``image_size`` x ``image_size``
    images in [-1, 1]. Raises :class:`DataNotFound` (a ``ValueError``) saying how to get missing
    data, and ``ValueError`` for an unknown name, split or size."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    if image_size not in (32, 64):
        raise ValueError(f"image_size must be 32 or 64; got {image_size}")
    if name == "fashion_mnist":
        images, labels, classes = _fashion_mnist(split, data_root)
    elif name in _CIFAR:
        images, labels, classes = _cifar(name, split, data_root)
    else:
        images, labels, classes = _folder(name, split, data_root, image_size, limit)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = _to_size(torch.from_numpy(np.ascontiguousarray(images)), image_size)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    return ImageData(x, y, classes, name, split)
