"""osgan: the executable companion to *Training Generative Adversarial Networks in One Stage*
(Shen et al., CVPR 2021).

The method in four names: ``losses.get(name)`` (the ten objectives of Table 1), ``scale_grad`` and
``per_sample_gamma`` (Eq. 7-9), ``one_stage_backward`` / ``one_stage_step`` (Algorithm 1) and
``two_stage_step`` (the baseline of Eq. 13-15); ``train(TrainConfig(...))`` runs them on data;
``check_one_stage(G, D, objective, x, z)`` says whether one stage is exact for your own GAN.
"""

import os

# Float32 results that do not depend on the CPU's maker: Intel's MKL (torch's BLAS on x86) runs
# its AVX-512 kernels on Intel CPUs and its AVX2 ones on AMD's, and the two round sums
# differently. Capped at AVX2 (before torch first calls MKL, which reads this once), an Intel Xeon
# trains the recorded cells of an AMD EPYC bit for bit; a value set in the environment wins.
os.environ.setdefault("MKL_ENABLE_INSTRUCTIONS", "AVX2")

from osgan import losses  # noqa: E402
from osgan.check import Report, check_one_stage  # noqa: E402
from osgan.scale import per_sample_gamma, scale_grad  # noqa: E402
from osgan.steps import one_stage_backward, one_stage_step, two_stage_step  # noqa: E402
from osgan.training import TrainConfig, train  # noqa: E402

__all__ = [
    "losses", "per_sample_gamma", "scale_grad", "one_stage_backward", "one_stage_step", "two_stage_step",
    "TrainConfig", "train", "check_one_stage", "Report",
]
__version__ = "0.1.0"
