"""Small data sets written in their real on-disk formats, for tests that must not need the real ones.

Each writer returns the arrays it wrote, so a test can compare what :func:`osgan.data.load` reads
with what was written, independently of the reader's code.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

IDX_STEMS = {"train": "train", "test": "t10k"}


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file: magic (0, 0, 0x08 = unsigned byte, ndim), big-endian dims, then the bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    payload = header + array.tobytes()
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        Path(path).write_bytes(payload)


def write_fashion_mnist(root: Path, n_train: int = 64, n_test: int = 32, *, gz: bool = True,
                        seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Random 28x28 images with 10-class labels as the four Fashion-MNIST IDX files."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(n,), dtype=np.uint8)
        stem = IDX_STEMS[split]
        write_idx(root / f"{stem}-images-idx3-ubyte{ext}", images)
        write_idx(root / f"{stem}-labels-idx1-ubyte{ext}", labels)
        out[split] = (images, labels)
    return out


def write_cifar(root: Path, name: str = "cifar10", n: int = 6, *, seed: int = 0
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """CIFAR's python release: pickled dicts with b"data" (N, 3072) uint8 rows (R, G, B planes of
    32x32) and b"labels" (CIFAR-10) or b"fine_labels" (CIFAR-100), ``n`` images per file."""
    rng = np.random.default_rng(seed)
    if name == "cifar10":
        folder, key, classes = root / "cifar-10-batches-py", b"labels", 10
        files = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    else:
        folder, key, classes = root / "cifar-100-python", b"fine_labels", 100
        files = {"train": ["train"], "test": ["test"]}
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, names in files.items():
        images, labels = [], []
        for f in names:
            data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
            lab = rng.integers(0, classes, size=(n,)).tolist()  # a list, as in the release
            with open(folder / f, "wb") as fh:
                pickle.dump({b"data": data, key: lab, b"batch_label": f.encode()}, fh)
            images.append(data.reshape(n, 3, 32, 32))
            labels.append(np.asarray(lab))
        out[split] = (np.concatenate(images), np.concatenate(labels))
    return out


def write_image_folder(root: Path, n: int = 4, *, size: tuple[int, int] = (90, 60),
                       centre=(200, 40, 10), margin=(0, 0, 255), ext: str = ".png") -> list[Path]:
    """``n`` images of ``size`` (width, height), landscape, whose centred square is the colour
    ``centre`` and whose side margins are ``margin``: a centre crop keeps only ``centre``."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    w, h = size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    paths = []
    for i in range(n):
        a = np.empty((h, w, 3), dtype=np.uint8)
        a[:] = margin
        a[top : top + s, left : left + s] = centre
        p = root / f"img_{i:03d}{ext}"
        # JPEG: best quality, no chroma subsampling (the margins must not bleed into the centre)
        kw = dict(quality=95, subsampling=0) if ext in (".jpg", ".jpeg") else {}
        Image.fromarray(a).save(p, **kw)
        paths.append(p)
    return paths


def write_dfad_cell(root, scheme, hparams, lr_s, lr_g, seed, curve, final, val, rounds,
                    g_every=1):
    """A finished dfad cell folder; ``curve``: (round, seconds, test accuracy) per evaluation,
    or (round, seconds, test accuracy, validation accuracy)."""
    import json

    from osgan.sweep import DFADCell

    cfg = {"scheme": scheme, "hparams": hparams, "lr_s": lr_s, "lr_g": lr_g, "seed": seed,
           "rounds": rounds, "student_steps": 5, "g_every": g_every}
    d = root / DFADCell(scheme, hparams, lr_s, lr_g, seed, g_every).name
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"kind": "dfad", "config": cfg}))
    (d / "metrics.jsonl").write_text("".join(
        json.dumps({"round": e[0], "Time/train": e[1], "Accuracy/student": e[2]}
                   | ({"Accuracy/val": e[3]} if len(e) > 3 else {})) + "\n" for e in curve))
    (d / "done.json").write_text(json.dumps({"rounds": rounds, "accuracy": final,
                                             "val_accuracy": val, "teacher_accuracy": 0.9}))
