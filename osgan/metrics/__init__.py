"""FID and KID (Table 1), computed by clean-fid, always labelled with their feature space.

``fid_kid(fake, dataset=..., split=..., feature_space=...)`` compares generated images with a
reference split and returns the numbers together with their labels: metric values ``FID``, ``KID``,
``KID_std``, and ``feature_space``, ``n_real``, ``n_gen``, ``ref_split``, ``dataset``. Feature
spaces, by name (``FEATURE_SPACES``):

* ``inception``: clean-fid's "clean" Inception features, as in the paper, from a weights file on
  disk (never downloaded; ``inception.py``);
* ``domain``: penultimate features of a CNN osgan trains on the data set (offline; ``domain.py``);
* ``domain_smoke``: the same with a tiny CNN, for tests and the CI book build only.

``floor(...)`` is the FID of real images at the same sample sizes (what a perfect generator
would get); ``format_table(rows)`` prints results with their labels, ``describe(row)`` labels a plot axis;
``python -m osgan fid`` is the command.
"""

from osgan.metrics import domain as _domain  # noqa: F401  (registers "domain", "domain_smoke")
from osgan.metrics import inception as _inception  # noqa: F401  (registers "inception")
from osgan.metrics.domain import DomainFeatures
from osgan.metrics.fid import (
    FEATURE_SPACES,
    FIDConfig,
    class_spread,
    describe,
    feature_space,
    fid_kid,
    floor,
    format_table,
    frechet,
    kid,
    reference,
    register_feature_space,
    stats,
)
from osgan.metrics.inception import InceptionFeatures, InceptionWeightsNotFound

__all__ = ["FEATURE_SPACES", "FIDConfig", "DomainFeatures", "InceptionFeatures",
           "InceptionWeightsNotFound", "class_spread", "describe", "feature_space", "fid_kid",
           "floor", "format_table", "frechet", "kid", "reference", "register_feature_space",
           "stats"]
