r"""FID and KID (Table 1 of the paper), computed by clean-fid, in a named feature space.

With features $f(x)$ of real images $x \sim p_r$ and generated images $\hat x = G(z)$, and their
means and covariances $(\mu_r, \Sigma_r)$, $(\mu_g, \Sigma_g)$, the Fréchet Inception Distance
(Heusel et al. 2017) is

$$ \mathrm{FID} = \|\mu_r - \mu_g\|_2^2
   + \mathrm{Tr}\big(\Sigma_r + \Sigma_g - 2 (\Sigma_r \Sigma_g)^{1/2}\big), $$

and the Kernel Inception Distance (Bińkowski et al. 2018) is the unbiased estimate of the squared
MMD with the cubic kernel $k(a, b) = (a^\top b / d + 1)^3$, averaged over random subsets.

The numbers come from clean-fid (Parmar et al. 2022): ``cleanfid.fid.frechet_distance`` and
``cleanfid.fid.kernel_distance``; the means and covariances are taken as clean-fid takes them
(``np.mean``, ``np.cov(rowvar=False)`` in float64). What is osgan's own is *which* features go in:
a registry of feature spaces (``register_feature_space``), each reporting a label that travels
with every number (``"inception:clean"``, ``"domain:fashion_mnist@32/cnn"``, ...).

In this implementation we:

* report ``KID_std``, the standard deviation of the per-subset KID estimates, which clean-fid does
  not return. We get each subset's estimate by calling ``kernel_distance`` with one subset at a
  time on one seeded random stream, so their mean *is* clean-fid's KID for that seed;
* cap KID's subset size at half the smaller sample (clean-fid: the whole smaller sample, at most
  1000). With subsets as large as the sample every subset is the same set and the spread is 0;
  from 2000 images on, both choices give subsets of 1000;
* seed NumPy's global random stream for KID (clean-fid draws subsets from it) and restore it after,
  so a KID is reproducible and leaves the caller's stream untouched;
* cache the real images' features per (data set, split, feature space and its settings, number of
  images, seed) under ``cache_root()/fid_refs``; a subset of ``n_real`` images is drawn with a
  fixed seed, the whole split when ``n_real`` is None.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from cleanfid import fid as cfid
from torch import Tensor, nn

from osgan import data
from osgan.settings import setting
from osgan.util import cache_root, check_count, check_seed


@dataclass
class FIDConfig:
    dataset: str = setting("fashion_mnist", "the data set whose split is the reference "
                           "(osgan.data.DATASETS)")
    split: str = setting("test", "reference split; the generated images are compared with it")
    feature_space: str = setting("domain", "feature space: domain, domain_smoke or inception")
    n_real: int | None = setting(None, "reference images (None: the whole split)")
    n_gen: int = setting(10_000, "generated (or, for --reference, test) images")
    data_root: str | None = setting(None, "where the data set lives (None: osgan.data's default)")
    image_size: int = setting(32, "image side the data is loaded at (the generator's output)")
    device: str = setting("cpu", "where features are computed")
    threads: int = setting(0, "CPU threads torch may use (0: torch's default)")
    batch_size: int = setting(500, "images per feature batch")
    inception_path: str | None = setting(None, "Inception weights file (inception space only; "
                                         "never downloaded)")
    cache_dir: str | None = setting(None, "cache of classifiers and reference statistics "
                                    "(None: $OSGAN_CACHE or ~/.cache/osgan)")
    kid_subsets: int = setting(100, "KID: number of random subsets (clean-fid's default)")
    kid_subset_size: int = setting(1000, "KID: at most this many images per subset "
                                   "(clean-fid's default)")
    seed: int = setting(0, "reference subset, latent draws for generators, KID subsets")

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """``ValueError`` naming the first bad value (a negative count would act as a slice)."""
        if self.dataset not in data.DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of: "
                             f"{', '.join(data.DATASETS)}")
        if self.split not in data.SPLITS:
            raise ValueError(f"split must be one of {', '.join(data.SPLITS)}; got {self.split!r}")
        if self.image_size not in (32, 64):
            raise ValueError(f"image_size must be 32 or 64; got {self.image_size!r}")
        check_count("n_real", self.n_real, minimum=4, optional=True)
        check_count("n_gen", self.n_gen, minimum=4)
        for name in ("batch_size", "kid_subsets"):
            check_count(name, getattr(self, name))
        check_count("kid_subset_size", self.kid_subset_size, minimum=2)
        check_count("threads", self.threads, minimum=0)
        check_seed("seed", self.seed)


class FeatureSpace(Protocol):
    label: str  # printed beside every number, e.g. "domain:fashion_mnist@32/cnn"
    key: str  # hash of every setting that decides the features (part of cache file names)
    info: dict  # extra labels to report, e.g. {"domain_acc": 0.91}

    def __call__(self, images: Tensor) -> np.ndarray:
        """(N, C, S, S) in [-1, 1] -> (N, F) float64 features."""


# ----------------------------------------------------------------------------------------------
# Registry of feature spaces (stylegan2-ada-pytorch's metric_main, for features)

FEATURE_SPACES: dict[str, Callable[[FIDConfig], FeatureSpace]] = {}


def register_feature_space(name: str):
    """Decorator: ``factory(cfg: FIDConfig) -> FeatureSpace`` becomes available as ``name``."""

    def deco(factory):
        FEATURE_SPACES[name] = factory
        return factory

    return deco


def feature_space(cfg: FIDConfig) -> FeatureSpace:
    """The feature space ``cfg.feature_space``, built once per process and settings."""
    if cfg.feature_space not in FEATURE_SPACES:
        raise ValueError(f"unknown feature space {cfg.feature_space!r}; "
                         f"valid: {', '.join(sorted(FEATURE_SPACES))}")
    memo_key = (cfg.feature_space, cfg.dataset, cfg.image_size, cfg.data_root, cfg.device,
                cfg.inception_path, str(cache_root(cfg.cache_dir)))
    if memo_key not in _SPACES:
        _SPACES[memo_key] = FEATURE_SPACES[cfg.feature_space](cfg)
    return _SPACES[memo_key]


_SPACES: dict[tuple, FeatureSpace] = {}  # built feature spaces (a classifier, Inception)
_REFS: dict[str, dict] = {}  # reference features by cache file name


# ----------------------------------------------------------------------------------------------
# The numbers, by clean-fid


def stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of (N, F) features, as clean-fid's ``fid_from_feats`` takes them."""
    feats = np.asarray(feats, dtype=np.float64)
    return np.mean(feats, axis=0), np.cov(feats, rowvar=False)


def frechet(mu1, sigma1, mu2, sigma2) -> float:
    r"""$\|\mu_1 - \mu_2\|^2 + \mathrm{Tr}(\Sigma_1 + \Sigma_2 - 2(\Sigma_1\Sigma_2)^{1/2})$."""
    with warnings.catch_warnings():  # clean-fid passes scipy's deprecated ``disp`` to sqrtm
        warnings.filterwarnings("ignore", message=".*disp.*", category=DeprecationWarning)
        return float(cfid.frechet_distance(mu1, sigma1, mu2, sigma2))


def kid(feats1: np.ndarray, feats2: np.ndarray, *, num_subsets: int = 100,
        max_subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """(KID, std of the per-subset estimates); see the module docstring for the two deviations."""
    m = min(max_subset_size, min(len(feats1), len(feats2)) // 2)
    if m < 2:
        raise ValueError(f"KID needs at least 4 images per side; got {len(feats1)}, {len(feats2)}")
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        per_subset = np.array([cfid.kernel_distance(feats1, feats2, num_subsets=1,
                                                    max_subset_size=m)
                               for _ in range(num_subsets)])
    finally:
        np.random.set_state(state)
    return float(per_subset.mean()), float(per_subset.std(ddof=1)) if num_subsets > 1 else 0.0


# ----------------------------------------------------------------------------------------------
# Images in, features out


def draw(fake, n: int, *, batch_size: int, seed: int = 0) -> Tensor:
    """``n`` images from ``fake``: a tensor (its first ``n``), a callable ``fn(k) -> (k, C, S, S)``,
    or a generator module with ``cfg.nz`` (conditional ones get uniformly drawn labels). Modules
    are used in the mode they are in."""
    if isinstance(fake, Tensor):
        return fake[:n]
    if isinstance(fake, nn.Module):
        G = fake
        gen = torch.Generator().manual_seed(seed)
        nz, k = G.cfg.nz, getattr(G.cfg, "num_classes", 0)
        dev = next(G.parameters()).device

        def fn(b):
            z = torch.randn(b, nz, generator=gen).to(dev)
            if k:
                return G(z, torch.randint(0, k, (b,), generator=gen).to(dev))
            return G(z)
    else:
        fn = fake
    out = []
    with torch.no_grad():
        for i in range(0, n, batch_size):
            out.append(fn(min(batch_size, n - i)).detach().float().cpu())
    return torch.cat(out)


def features_of(space: FeatureSpace, images: Tensor, batch_size: int) -> np.ndarray:
    """(N, F) float64 features of (N, C, S, S) images in [-1, 1], computed in batches."""
    return np.concatenate([space(images[i:i + batch_size])
                           for i in range(0, images.shape[0], batch_size)])


def class_spread(space: FeatureSpace, images: Tensor, batch_size: int) -> dict:
    """How many of the data set's classes ``images`` cover, by the feature space's own classifier
    (only spaces that have one, such as ``domain``): ``class_fractions``, the share of the images
    predicted as each class, and ``classes_eff``, the effective number of classes exp(H) of those
    shares (the number of classes for a balanced sample, 1 for a sample of one class). A
    generator that has collapsed onto a few modes scores few classes at any FID."""
    labels = np.concatenate([space.classes(images[i:i + batch_size])
                             for i in range(0, images.shape[0], batch_size)])
    return class_shares(labels, space.num_classes)


def class_shares(labels: np.ndarray, num_classes: int) -> dict:
    """``class_fractions`` (the share of each class among ``labels``, predicted class indices)
    and ``classes_eff`` (exp of their entropy) of :func:`class_spread`, for any classifier's
    predictions (a DFAD teacher's on its generator's images, :func:`osgan.dfad.diagnose`)."""
    frac = np.bincount(labels, minlength=num_classes) / len(labels)
    nz = frac[frac > 0]
    return {"class_fractions": [float(f) for f in frac],
            "classes_eff": float(np.exp(-(nz * np.log(nz)).sum()))}


def _key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def _load_reference(path) -> dict | None:
    """A cached reference, verified (keys, shapes, finite); None, with a one-line notice, when
    the file is corrupt, so the caller computes it again and replaces it."""
    try:
        with np.load(path) as blob:
            feats, mu, sigma = blob["feats"], blob["mu"], blob["sigma"]
        n, F = feats.shape
        if mu.shape != (F,) or sigma.shape != (F, F) or not (
                np.isfinite(feats).all() and np.isfinite(mu).all() and np.isfinite(sigma).all()):
            raise ValueError("inconsistent or non-finite statistics")
    except Exception as e:  # truncated zip, missing key, wrong shapes
        print(f"osgan: the cached reference statistics {path} are corrupt "
              f"({type(e).__name__}); computing them again", file=sys.stderr)
        return None
    return {"feats": feats, "mu": mu, "sigma": sigma, "n": int(n), "path": path}


def reference(cfg: FIDConfig, *, split: str | None = None, use_cache: bool = True) -> dict:
    """Features, mean and covariance of ``n_real`` images of the reference split, cached on disk.

    Returns ``{"feats", "mu", "sigma", "n", "path", "from_cache"}``.
    """

    split = split or cfg.split
    space = feature_space(cfg)
    parts = {"dataset": cfg.dataset, "split": split, "space": space.label, "space_key": space.key,
             "n_real": cfg.n_real, "image_size": cfg.image_size, "seed": cfg.seed}
    name = f"{cfg.dataset}-{split}-{space.label.replace('/', '_').replace(':', '_')}-" \
           f"{cfg.n_real or 'all'}-{_key(parts)}.npz"
    path = cache_root(cfg.cache_dir) / "fid_refs" / name
    if use_cache and name in _REFS:
        return {**_REFS[name], "from_cache": True}
    if use_cache and path.exists():
        ref = _load_reference(path)
        if ref is not None:
            _REFS[name] = ref
            return {**ref, "from_cache": True}
    real = data.load(cfg.dataset, split, data_root=cfg.data_root, image_size=cfg.image_size)
    x = real.images
    if cfg.n_real is not None and cfg.n_real < x.shape[0]:
        idx = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(cfg.seed))
        x = x[idx[:cfg.n_real]]
    feats = features_of(space, x, cfg.batch_size)
    mu, sigma = stats(feats)
    ref = {"feats": feats, "mu": mu, "sigma": sigma, "n": int(feats.shape[0]), "path": path}
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npz")
        np.savez(tmp, feats=feats, mu=mu, sigma=sigma, parts=json.dumps(parts))
        os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
        _REFS[name] = ref
    return {**ref, "from_cache": False}


def fid_kid(fake, **kwargs) -> dict:
    """FID and KID of ``fake`` against the reference split, labelled.

    ``fake``: a tensor (N, C, S, S) in [-1, 1] (its first ``n_gen`` images), a callable
    ``fn(n) -> tensor`` or a generator module (``n_gen`` images are drawn). ``kwargs`` are
    ``FIDConfig`` fields. Returns ``FID``, ``KID``, ``KID_std``, ``feature_space``, ``n_real``,
    ``n_gen``, ``ref_split``, ``dataset``, ``image_size``, the feature space's own labels
    (e.g. ``domain_acc``) and, where the space has a classifier, :func:`class_spread`.
    """
    cfg = FIDConfig(**kwargs)
    space = feature_space(cfg)
    x_hat = draw(fake, cfg.n_gen, batch_size=cfg.batch_size, seed=cfg.seed)
    ref = reference(cfg)
    feats = features_of(space, x_hat, cfg.batch_size)
    mu, sigma = stats(feats)
    kid_mean, kid_std = kid(feats, ref["feats"], num_subsets=cfg.kid_subsets,
                            max_subset_size=cfg.kid_subset_size, seed=cfg.seed)
    spread = class_spread(space, x_hat, cfg.batch_size) if hasattr(space, "classes") else {}
    return {"FID": frechet(mu, sigma, ref["mu"], ref["sigma"]), "KID": kid_mean,
            "KID_std": kid_std, "feature_space": space.label, "n_real": ref["n"],
            "n_gen": int(feats.shape[0]), "ref_split": cfg.split, "dataset": cfg.dataset,
            "image_size": cfg.image_size, **spread, **space.info}


def floor(n_draws: int = 3, images_split: str = "train", **kwargs) -> list[dict]:
    """The FID and KID a perfect generator would get: ``n_gen`` *real* images of ``images_split``
    against the reference split, in the same feature space and at the same sample sizes.

    The plug-in FID is biased upwards at finite sample sizes, so a generated sample never scores
    below this; how far a run's FID lies above it says how much it has left to learn in that
    feature space. ``n_draws`` independent draws (seeds ``seed``, ``seed + 1``, ...) without
    replacement give its spread. ``kwargs`` are ``FIDConfig`` fields; returns one
    :func:`fid_kid` dict per draw.
    """

    check_count("n_draws", n_draws)
    cfg = FIDConfig(**kwargs)
    if images_split == cfg.split:
        raise ValueError(f"split {images_split!r} is the reference split itself; draw the floor's "
                         "images from another split (e.g. train)")
    images = data.load(cfg.dataset, images_split, data_root=cfg.data_root,
                       image_size=cfg.image_size).images
    if images.shape[0] < cfg.n_gen:
        raise ValueError(f"the {images_split} split has {images.shape[0]} images; the floor needs "
                         f"n_gen = {cfg.n_gen}: lower n_gen")
    out = []
    for k in range(n_draws):
        gen = torch.Generator().manual_seed(cfg.seed + 1000 + k)
        idx = torch.randperm(images.shape[0], generator=gen)[:cfg.n_gen]
        out.append(fid_kid(images[idx], **kwargs) | {"draw": k, "images_split": images_split})
    return out


# ----------------------------------------------------------------------------------------------
# Tables that always print the feature space


def format_table(rows: list[dict], *, name_key: str = "name") -> str:
    """A plain-text table of ``fid_kid`` results; every row shows its feature space, sample sizes
    and reference split. ``rows[i][name_key]`` (optional) names what was evaluated."""
    cols = [("what", lambda r: str(r.get(name_key, ""))),
            ("FID", lambda r: f"{r['FID']:.3f}"),
            ("KID x 1e3", lambda r: f"{1e3 * r['KID']:.3f} ± {1e3 * r['KID_std']:.3f}"),
            ("classes", lambda r: f"{r['classes_eff']:.2f}" if "classes_eff" in r else "-"),
            ("feature space", lambda r: r["feature_space"]),
            ("n_gen", lambda r: str(r["n_gen"])),
            ("n_real", lambda r: str(r["n_real"])),
            ("reference", lambda r: f"{r['dataset']}/{r['ref_split']}")]
    if any("domain_acc" in r for r in rows):
        cols.append(("classifier acc", lambda r: f"{r['domain_acc']:.4f}" if "domain_acc" in r
                     else "-"))
    cells = [[h for h, _ in cols]] + [[f(r) for _, f in cols] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def describe(row: dict, metric: str = "FID", *, prefix: str = "") -> str:
    """An axis label or caption for one metric: ``"FID (domain:fashion_mnist@32/cnn;
    10000 generated vs 10000 fashion_mnist/test)"``. ``prefix`` reads keys such as ``Eval/FID``
    from a ``metrics.jsonl`` row."""
    r = {k[len(prefix):]: v for k, v in row.items() if k.startswith(prefix)}
    return (f"{metric} ({r['feature_space']}; {r['n_gen']} generated vs {r['n_real']} "
            f"{r['dataset']}/{r['ref_split']})")
