r"""Small image classifiers, and one cached training function for all of them.

Two parts of the book need a classifier trained by osgan itself rather than downloaded weights:

* the *domain* feature space of the FID/KID metrics (``osgan.metrics.domain``): the penultimate
  features of a CNN trained on the data set's training split stand in for Inception features,
  which an offline machine cannot fetch;
* the teacher of data-free adversarial distillation (Sec. 4.4, Table 2): LeNet-5 on (Fashion-)MNIST.

Every classifier here has ``features(x) -> (B, F)`` (the penultimate layer, before its ReLU: no
feature is constantly zero, so feature covariances stay full-rank) and
``forward(x) -> logits (B, K)``, with ``x`` of shape ``(B, C, S, S)`` in [-1, 1] as ``osgan.data``
returns it.

``fit(model, train, test, cfg)`` trains with Adam and cross-entropy and caches the weights on disk
together with the test accuracy and every setting that decides them (the model's ``repr``, the data
set, its split, size and image shape, and ``FitConfig``). A second call with the same settings loads
the file instead of training; any change of a setting trains afresh under a new file name. A
classifier frozen into the package (``osgan/instruments``, by ``python -m osgan instruments
--freeze``) is loaded before the cache is looked at: the same weights on every machine, where one
trained on another CPU rounds differently and is another instrument.

In this implementation we:

* use Adam rather than the SGD of LeCun et al. (1998) for LeNet-5, because it reaches the same
  accuracy in a fraction of the epochs on a CPU;
* use max-pooling and ReLU in LeNet-5 (as DFAD's code does) rather than the original subsampling
  and tanh.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from osgan.util import RunFailed, UsageError, cache_root, device_name, seeded, write_json

# ----------------------------------------------------------------------------------------------
# Architectures


class SmallCNN(nn.Module):
    """conv-BN-pool-conv-BN-pool-fc, about 90% on Fashion-MNIST after a few epochs.

    (B, C, S, S) -> conv3x3(width) -> pool -> conv3x3(2 width) -> pool -> fc(hidden) = features
    -> ReLU -> fc(num_classes) = logits.
    """

    def __init__(self, channels: int = 1, num_classes: int = 10, image_size: int = 32,
                 width: int = 16, hidden: int = 128):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),  # (B, 2 width, S/4, S/4) -> (B, 2 width * S^2 / 16)
            nn.Linear(2 * width * (image_size // 4) ** 2, hidden),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(hidden, num_classes))

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) for 32x32 inputs; ``half=True`` halves every layer's width
    (the student "LeNet-5-half" of DFAD)."""

    def __init__(self, channels: int = 1, num_classes: int = 10, image_size: int = 32,
                 half: bool = False):
        super().__init__()
        if image_size != 32:
            raise ValueError(f"LeNet-5 takes 32x32 images; got image_size={image_size}")
        c1, c2, f1, f2 = (3, 8, 60, 42) if half else (6, 16, 120, 84)
        self.body = nn.Sequential(
            nn.Conv2d(channels, c1, 5), nn.ReLU(), nn.MaxPool2d(2),  # 32 -> 28 -> 14
            nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 10 -> 5
            nn.Conv2d(c2, f1, 5), nn.ReLU(), nn.Flatten(),  # 5 -> 1: (B, f1)
            nn.Linear(f1, f2),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(f2, num_classes))

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


# name -> constructor(channels, num_classes, image_size)
ARCHS: dict[str, Any] = {
    "cnn": lambda c, k, s: SmallCNN(c, k, s, width=16, hidden=128),
    "cnn_smoke": lambda c, k, s: SmallCNN(c, k, s, width=4, hidden=32),
    "lenet5": lambda c, k, s: LeNet5(c, k, s),
    "lenet5_half": lambda c, k, s: LeNet5(c, k, s, half=True),
}


def build(arch: str, channels: int, num_classes: int, image_size: int) -> nn.Module:
    """A fresh classifier by name (see ``ARCHS``)."""
    if arch not in ARCHS:
        raise ValueError(f"unknown classifier {arch!r}; valid: {', '.join(ARCHS)}")
    return ARCHS[arch](channels, num_classes, image_size)


# ----------------------------------------------------------------------------------------------
# Training with a cache


@dataclass
class FitConfig:
    epochs: float = 2.0  # passes over the training images (fractions allowed: 0.5 = half a pass)
    lr: float = 1e-3  # Adam's initial learning rate, decayed to 0 along a cosine
    batch_size: int = 128  # images per step
    weight_decay: float = 0.0  # Adam's L2 penalty
    n_train: int | None = None  # use only the first n_train training images (None: all)
    seed: int = 0  # initialisation and shuffling
    # "adam": Adam at lr, decayed to 0 along a cosine; "sgd": SGD with momentum 0.9 at a
    # constant lr (DFAD's train_teacher.py; weight_decay is then SGD's)
    optimizer: str = "adam"

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got "
                             f"{self.optimizer!r}")


OPTIMIZERS = ("adam", "sgd")


@dataclass
class FitResult:
    model: nn.Module  # the trained classifier, in eval mode, on the requested device
    accuracy: float  # top-1 accuracy on the whole test split, in [0, 1]
    settings: dict = field(default_factory=dict)  # everything the weights depend on
    path: Path | None = None  # the cache file (None when caching was off)
    from_cache: bool = False  # True when the weights were loaded rather than trained
    train_seconds: float = 0.0  # wall-clock of the training when it ran (0 when cached)


def _data_id(data) -> dict:
    return {"name": getattr(data, "name", "?"), "split": getattr(data, "split", "?"),
            "n": int(data.images.shape[0]), "shape": list(data.images.shape[1:])}


def settings_of(model: nn.Module, train, test, cfg: FitConfig) -> dict:
    """Everything the trained weights and the reported accuracy depend on."""
    fit = asdict(cfg)
    if fit["optimizer"] == "adam":  # as before the option existed: the cached keys stay
        del fit["optimizer"]
    return {"model": repr(model), "train": _data_id(train), "test": _data_id(test), "fit": fit}


def settings_key(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


@torch.no_grad()
def accuracy(model: nn.Module, data, *, batch_size: int = 1000, device="cpu") -> float:
    """Top-1 accuracy of ``model`` on ``data.images`` / ``data.labels``, in [0, 1]."""
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, data.images.shape[0], batch_size):
        x = data.images[i:i + batch_size].to(device)
        y = data.labels[i:i + batch_size].to(device)
        correct += (model(x).argmax(1) == y).sum()  # stays on device: one sync at the end
    model.train(was_training)
    return float(correct) / data.images.shape[0]


def _train(model: nn.Module, train, cfg: FitConfig, device) -> None:
    gen = torch.Generator().manual_seed(cfg.seed)
    images, labels = train.images, train.labels
    if cfg.n_train is not None:
        images, labels = images[:cfg.n_train], labels[:cfg.n_train]
    N = images.shape[0]
    steps = max(1, round(cfg.epochs * N / cfg.batch_size))
    if cfg.optimizer == "sgd":  # DFAD's teachers: a constant rate
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9,
                              weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        # cosine decay to 0 over the run: about a point of accuracy for free at a fixed budget
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    model.train()
    order = torch.randperm(N, generator=gen)
    pos = 0
    for _ in range(steps):
        if pos + cfg.batch_size > N:  # a new pass over the data, freshly shuffled
            order, pos = torch.randperm(N, generator=gen), 0
        idx = order[pos:pos + cfg.batch_size]
        pos += cfg.batch_size
        x, y = images[idx].to(device), labels[idx].to(device)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    model.eval()


# ----------------------------------------------------------------------------------------------
# Frozen classifiers: the instruments of the record, the same on every machine

# A classifier trained here is not the same on every CPU: float32 sums round differently with
# the CPU's math kernels (Intel's MKL and oneDNN choose theirs by processor), and the domain
# classifier of the Table 1 record scored 0.9072 on AMD EPYC, 0.9049-0.9061 on an Intel Xeon
# under every MKL setting tried. The models a record is measured with (the domain feature space,
# the teachers) are therefore frozen once into the package, with the SHA-256 of each file, and
# every machine loads them instead of training its own.
FROZEN = Path(__file__).resolve().parent / "instruments"  # with MANIFEST.json


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest() -> dict[str, dict]:
    """File name -> its entry (sha256, accuracy, settings key, where it was trained)."""
    path = FROZEN / "MANIFEST.json"
    return json.loads(path.read_text()) if path.exists() else {}


def frozen(name: str, settings: dict) -> dict | None:
    """The frozen classifier ``name`` trained with ``settings`` (its blob with ``file``), or None.
    A file that does not match its manifest is an error, never a reason to train another."""
    file = f"{name}-{settings_key(settings)}.pt"
    entry = manifest().get(file)
    if entry is None:
        return None
    path = FROZEN / file
    if not path.exists() or _sha256(path) != entry["sha256"]:
        raise RunFailed(f"the frozen classifier {path} is missing or not the file its manifest "
                        f"names (sha256 {entry['sha256'][:12]}...); restore it from the "
                        "repository: git checkout -- osgan/instruments")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if blob.get("settings") != json.loads(json.dumps(settings)):
        raise RunFailed(f"the frozen classifier {path} was trained with other settings than "
                        "its name says")
    return {**blob, "file": file}


def freeze(cached: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None) -> Path:
    """Copy a cached classifier (a file name under the cache's ``classifiers/``, or a path) into
    :data:`FROZEN` and list it in the manifest with its SHA-256, accuracy and the machine that
    trained it. Refuses a name already frozen with other contents."""
    src = Path(cached)
    if not src.is_absolute() and not src.exists():
        src = cache_root(cache_dir) / "classifiers" / src
    if not src.exists():
        raise UsageError(f"no cached classifier {src}; train it first (it is cached by the run "
                         "that needs it), or give its path")
    try:
        blob = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, not a torch file, pickled code
        raise UsageError(f"{src} is not a cached classifier ({type(e).__name__})") from None
    if not isinstance(blob, dict) or not {"state_dict", "accuracy", "settings"} <= set(blob):
        raise UsageError(f"{src} is not a cached classifier (no state_dict/accuracy/settings)")
    key = settings_key(blob["settings"])
    if not src.stem.endswith(f"-{key}"):
        raise UsageError(f"{src.name} does not end in its settings' key -{key}")
    entries, dest = manifest(), FROZEN / src.name
    if src.name in entries:
        if entries[src.name]["sha256"] != _sha256(src):
            raise UsageError(f"{src.name} is frozen already with other weights (sha256 "
                             f"{entries[src.name]['sha256'][:12]}...); a record measured with "
                             "it would change: freeze nothing over it")
        return dest
    FROZEN.mkdir(exist_ok=True)
    shutil.copyfile(src, dest)
    entries[src.name] = {"sha256": _sha256(dest), "accuracy": float(blob["accuracy"]),
                         "key": key, "cpu": device_name(torch.device("cpu")),
                         "torch": torch.__version__, "python": platform.python_version()}
    write_json(FROZEN / "MANIFEST.json", dict(sorted(entries.items())))
    return dest


def fit(model: nn.Module, train, test, cfg: FitConfig | None = None, *, device="cpu",
        cache_dir: str | os.PathLike | None = None, name: str = "classifier",
        use_cache: bool = True) -> FitResult:
    """Train ``model`` (freshly initialised) on ``train``, measure it on ``test``; cached.

    ``train`` and ``test`` are ``osgan.data.ImageData`` (or anything with ``.images`` in [-1, 1],
    ``.labels``, ``.name``, ``.split``). The cache file is
    ``cache_root(cache_dir)/classifiers/{name}-{key}.pt`` where ``key`` hashes ``settings_of``.
    """
    cfg = cfg or FitConfig()
    device = torch.device(device)
    settings = settings_of(model, train, test, cfg)
    path = cache_root(cache_dir) / "classifiers" / f"{name}-{settings_key(settings)}.pt"
    if use_cache and (fixed := frozen(name, settings)) is not None:
        model.load_state_dict(fixed["state_dict"])
        model.to(device).eval()
        return FitResult(model, float(fixed["accuracy"]), settings, FROZEN / fixed["file"],
                         from_cache=True)
    if use_cache and path.exists():
        try:  # verified: a corrupt file is trained again and replaced, with a one-line notice
            blob = torch.load(path, map_location="cpu", weights_only=True)
            ok = blob.get("settings") == json.loads(json.dumps(settings))
            if ok:
                model.load_state_dict(blob["state_dict"])
                acc = float(blob["accuracy"])
        except Exception as e:  # truncated, not a checkpoint, weights of another shape
            print(f"osgan: the cached classifier {path} is corrupt ({type(e).__name__}); "
                  "training it again", file=sys.stderr)
            ok = False
        if ok:
            model.to(device).eval()
            return FitResult(model, acc, settings, path, from_cache=True)
    # the weights depend only on the seed, not on what ran before; torch's global generator is
    # left as it was (a run that fills this cache mid-way trains on as one that found it full).
    # On a CPU the training runs on one thread whatever the caller's count: sums split over
    # threads round differently, and a cached model must not depend on which process made it
    # (the domain classifier trained on 2 threads scores 0.9049, on 1 the record's 0.9072)
    threads = torch.get_num_threads()
    with seeded(cfg.seed, device):
        for m in model.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
        model.to(device)
        t0 = time.perf_counter()
        try:
            if device.type == "cpu":
                torch.set_num_threads(1)
            _train(model, train, cfg, device)
        finally:
            torch.set_num_threads(threads)
        seconds = time.perf_counter() - t0
    acc = accuracy(model, test, device=device)
    if not use_cache:
        return FitResult(model, acc, settings, None, from_cache=False, train_seconds=seconds)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save({"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                "accuracy": acc, "settings": settings, "train_seconds": seconds}, tmp)
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    return FitResult(model, acc, settings, path, from_cache=False, train_seconds=seconds)


# ----------------------------------------------------------------------------------------------
# Command line: python -m osgan instruments


def configure_parser(parser) -> None:
    parser.add_argument("--freeze", metavar="FILE", default=None,
                        help="copy this cached classifier (a file name under the cache's "
                             "classifiers/, or a path) into osgan/instruments and its manifest, "
                             "for every machine to load instead of training its own")
    parser.add_argument("--cache-dir", default=None,
                        help="the cache (default: $OSGAN_CACHE, else ~/.cache/osgan)")


def run(args) -> int:
    """List the cached and frozen classifiers, or freeze one."""
    if args.freeze:
        dest = freeze(args.freeze, cache_dir=args.cache_dir)
        entry = manifest()[dest.name]
        print(f"frozen: {dest} (accuracy {entry['accuracy']:.4f}, sha256 "
              f"{entry['sha256'][:12]}..., trained on {entry['cpu']}); commit osgan/instruments")
        return 0
    entries = manifest()
    cache_dir = cache_root(args.cache_dir) / "classifiers"
    cached = sorted(cache_dir.glob("*.pt"))
    for name in sorted(set(entries) | {p.name for p in cached}):
        if name in entries:
            e = entries[name]
            print(f"frozen  {name}  accuracy {e['accuracy']:.4f}  trained on {e['cpu']}")
        else:
            try:
                acc = f"{float(torch.load(cache_dir / name, weights_only=True)['accuracy']):.4f}"
            except Exception as e:  # truncated, not a cached classifier: listed, and why
                acc = f"unreadable ({type(e).__name__})"
            print(f"cached  {name}  accuracy {acc}  (this machine's; not frozen)")
    if not entries and not cached:
        print("no classifier cached or frozen")
    return 0
