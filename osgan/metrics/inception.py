r"""The *inception* feature space: clean-fid's "clean" mode, from a weights file on disk.

This is the feature space of the paper's Table 1: the 2048-d pool-3 features of the TorchScript
Inception-v3 that StyleGAN2-ADA and clean-fid use (``inception-2015-12-05.pt``), with clean-fid's
"clean" resizing (PIL bicubic to 299x299 on float images, Parmar et al. 2022).

clean-fid downloads that file when it is missing. osgan never does: it looks for the file, in order,
at ``inception_path`` (the ``--inception-path`` option), ``$OSGAN_INCEPTION``,
``cache_root()/inception-2015-12-05.pt`` and clean-fid's own location
(``/tmp/inception-2015-12-05.pt``), and raises ``InceptionWeightsNotFound`` saying how to get it
when none exists. The model is then built by clean-fid's ``InceptionV3W(..., download=False)``.

In this implementation we:

* map images from [-1, 1] to [0, 255] as floats, without quantising to uint8, as clean-fid does
  for generator outputs (``get_model_features``); the real images, which come from uint8 files,
  map back to their exact byte values;
* repeat a grey channel three times before resizing (Inception takes RGB).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from osgan.metrics.fid import FIDConfig, register_feature_space
from osgan.util import cache_root

FILENAME = "inception-2015-12-05.pt"
URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/" + FILENAME


class InceptionWeightsNotFound(FileNotFoundError):
    """The Inception weights are not on disk; the message says how to get them."""


def candidates(inception_path=None, cache_dir=None) -> list[Path]:
    """Where the weights are looked for, in order."""
    if inception_path is not None:  # named by the user: that file and no other
        return [Path(inception_path)]
    paths = []
    if os.environ.get("OSGAN_INCEPTION"):
        paths.append(Path(os.environ["OSGAN_INCEPTION"]))
    return paths + [cache_root(cache_dir) / FILENAME, Path("/tmp") / FILENAME]


def find_weights(inception_path=None, cache_dir=None) -> Path:
    """The first existing candidate; ``InceptionWeightsNotFound`` when there is none."""
    paths = candidates(inception_path, cache_dir)
    for p in paths:
        if p.is_file():
            return p
    looked = ", ".join(str(p) for p in paths)
    raise InceptionWeightsNotFound(
        f"Inception weights not found (looked at: {looked}). osgan never downloads them. "
        f"On a machine with internet access run `curl -L -o {FILENAME} {URL}`, copy the file to "
        f"{cache_root(cache_dir) / FILENAME} (or anywhere, then pass --inception-path FILE or set "
        f"OSGAN_INCEPTION=FILE), or use the offline feature space --feature-space domain.")


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class InceptionFeatures:
    """clean-fid "clean" features: (N, C, S, S) in [-1, 1] -> (N, 2048) float64."""

    def __init__(self, inception_path=None, *, device="cpu", cache_dir=None):
        from cleanfid.inception_torchscript import InceptionV3W
        from cleanfid.resize import build_resizer

        path = find_weights(inception_path, cache_dir)
        self.device = torch.device(device)
        with tempfile.TemporaryDirectory() as d:
            # InceptionV3W reads ``dir/inception-2015-12-05.pt``; a link lets the file be anywhere
            os.symlink(path.resolve(), Path(d) / FILENAME)
            with warnings.catch_warnings():  # clean-fid's model is TorchScript, by design
                warnings.filterwarnings("ignore", message=".*jit.load.*", category=FutureWarning)
                self.model = InceptionV3W(d, download=False).to(self.device).eval()
        self.resize = build_resizer("clean")
        self.label = "inception:clean"
        # the cached reference statistics' key: the weights' bytes (another file of the same
        # size is another feature space), the resize
        self.key = hashlib.sha256(file_digest(path).encode() + b":clean").hexdigest()[:12]
        self.info = {}

    @torch.no_grad()
    def __call__(self, images: Tensor) -> np.ndarray:
        x = (images.float().cpu() + 1) * 127.5  # [-1, 1] -> [0, 255]
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)  # grey -> RGB
        hwc = x.permute(0, 2, 3, 1).numpy()  # (B, S, S, 3), as clean-fid's resizer takes it
        resized = np.stack([self.resize(img) for img in hwc]).transpose(0, 3, 1, 2)
        feats = self.model(torch.from_numpy(np.ascontiguousarray(resized)).to(self.device))
        return feats.double().cpu().numpy()


@register_feature_space("inception")
def _inception(cfg: FIDConfig) -> InceptionFeatures:
    return InceptionFeatures(cfg.inception_path, device=cfg.device, cache_dir=cfg.cache_dir)
