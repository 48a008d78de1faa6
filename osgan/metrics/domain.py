r"""The *domain* feature space: an offline stand-in for Inception features.

FID and KID (Table 1) are defined on the pool-3 features of an ImageNet Inception-v3. Those weights
cannot be fetched on an offline machine, and for 32x32 grey Fashion-MNIST images they are a poor fit
anyway (the images are upsampled ~9x and coloured by copying the channel). Following the practice of
domain-specific FIDs (e.g. the LeNet-feature "FID" used for MNIST), this module trains a small CNN
on the data set's *training* split with ``osgan.classifiers.fit`` and uses its penultimate layer
as the feature map $f$.

In this implementation we:

* take the penultimate layer before its ReLU (Inception's pool-3 comes after one): a small CNN has
  units that are zero on every image, which would make the feature covariance singular;
* multiply the features by one constant $s$, fixed per classifier, so that their mean square over
  the first 1000 training images is 1: KID's cubic kernel $(a^\top b / d + 1)^3$ assumes features
  of order one, as Inception's are. FID here is exactly $s^2$ times the FID of unscaled features;
  KID is not a simple multiple of its unscaled value.

Numbers in this space are **not comparable with the paper's Table 1** (computed with Inception);
they are comparable with each other when the label matches. The label names the data set, the
image size and the classifier: ``domain:fashion_mnist@32/cnn``; the tiny ``smoke`` classifier used
by tests and the CI book build is labelled ``.../smoke-cnn`` so its numbers are never mistaken
for the real ones. The classifier's test accuracy travels with every number as ``domain_acc``.

The trained weights are cached with their accuracy and every training setting
(``osgan.classifiers.fit``); they are retrained only when a setting changes.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from osgan import classifiers, data
from osgan.metrics.fid import FIDConfig, register_feature_space


@dataclass(frozen=True)
class DomainClassifier:
    arch: str  # classifier in osgan.classifiers.ARCHS
    fit: classifiers.FitConfig  # how it is trained


# The two classifiers behind the two domain feature spaces, by the name each number's label
# carries. Which one a run uses is its EvalConfig.feature_space ("domain" or "domain_smoke"),
# which the profile table (osgan.settings.PROFILES) sets; this is a registry, not a profile.
CLASSIFIERS = {
    # about a minute on a free 2-core CPU; 90.7% test accuracy on Fashion-MNIST (32x32)
    "cnn": DomainClassifier("cnn", classifiers.FitConfig(epochs=3.0, lr=1e-3, batch_size=128)),
    # a couple of seconds: tests and the CI book build only
    "smoke-cnn": DomainClassifier(
        "cnn_smoke", classifiers.FitConfig(epochs=1.0, lr=3e-3, batch_size=64, n_train=4000)),
}


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of a model's parameters and buffers, in state-dict order."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class DomainFeatures:
    """Penultimate features of a classifier trained on ``dataset``'s training split.

    ``DomainFeatures("fashion_mnist")(x)`` maps (N, C, S, S) images in [-1, 1] to (N, F) float64.
    """

    def __init__(self, dataset: str = "fashion_mnist", *, image_size: int = 32,
                 classifier: str = "cnn", data_root=None, device="cpu", cache_dir=None):
        if classifier not in CLASSIFIERS:
            raise ValueError(f"unknown domain classifier {classifier!r}; valid: "
                             f"{', '.join(CLASSIFIERS)}")
        p = CLASSIFIERS[classifier]
        train = data.load(dataset, "train", data_root=data_root, image_size=image_size)
        test = data.load(dataset, "test", data_root=data_root, image_size=image_size)
        if train.num_classes < 2:
            raise ValueError(f"the domain feature space trains a classifier, and {dataset} has no "
                             "class labels; use the inception feature space for it")
        model = classifiers.build(p.arch, train.channels, train.num_classes, image_size)
        self.result = classifiers.fit(model, train, test, p.fit, device=device,
                                      cache_dir=cache_dir, name=f"domain-{dataset}-{p.arch}")
        self.model = self.result.model.eval()
        self.num_classes = train.num_classes
        self.device = torch.device(device)
        # s: mean square 1 over the first 1000 training images
        self.scale = 1.0
        self.scale = float(np.mean(self(train.images[:1000]) ** 2) ** -0.5)
        self.label = f"domain:{dataset}@{image_size}/{classifier}"
        # the recipe and the weights: a classifier frozen over one trained here (osgan
        # instruments) has the recipe's key, and must not meet the other's reference statistics
        self.key = hashlib.sha256(f"{classifiers.settings_key(self.result.settings)}:"
                                  f"{weights_digest(self.model)}".encode()).hexdigest()[:16]
        self.info = {"domain_acc": self.result.accuracy}
        if self.result.accuracy < 0.9 and classifier == "cnn" and dataset == "fashion_mnist":
            warnings.warn(f"domain classifier reaches only {self.result.accuracy:.3f} test accuracy "
                          "on Fashion-MNIST (< 0.90)", stacklevel=2)

    @torch.no_grad()
    def __call__(self, images: Tensor) -> np.ndarray:
        f = self.model.features(images.to(self.device)).double().cpu().numpy()
        return self.scale * f

    @torch.no_grad()
    def classes(self, images: Tensor) -> np.ndarray:
        """The classifier's predicted class of each (N, C, S, S) image in [-1, 1]: (N,) ints."""
        return self.model(images.to(self.device)).argmax(1).cpu().numpy()


@register_feature_space("domain")
def _domain(cfg: FIDConfig) -> DomainFeatures:
    return DomainFeatures(cfg.dataset, image_size=cfg.image_size, classifier="cnn",
                          data_root=cfg.data_root, device=cfg.device, cache_dir=cfg.cache_dir)


@register_feature_space("domain_smoke")
def _domain_smoke(cfg: FIDConfig) -> DomainFeatures:
    return DomainFeatures(cfg.dataset, image_size=cfg.image_size, classifier="smoke-cnn",
                          data_root=cfg.data_root, device=cfg.device, cache_dir=cfg.cache_dir)
