"""osgan: the executable companion to *Training Generative Adversarial Networks in One Stage*
(Shen et al., CVPR 2021).

The method in four names: ``losses.get(name)`` (the ten objectives of Table 1), ``scale_grad`` and
``per_sample_gamma`` (Eq. 7-9), ``one_stage_backward`` / ``one_stage_step`` (Algorithm 1) and
``two_stage_step`` (the baseline of Eq. 13-15); ``train(TrainConfig(...))`` runs them on data;
``check_one_stage(G, D, objective, x, z)`` says whether one stage is exact for your own GAN.
"""

from osgan import losses
from osgan.check import Report, check_one_stage
from osgan.scale import per_sample_gamma, scale_grad
from osgan.steps import one_stage_backward, one_stage_step, two_stage_step
from osgan.training import TrainConfig, train

__all__ = [
    "losses", "per_sample_gamma", "scale_grad", "one_stage_backward", "one_stage_step", "two_stage_step",
    "TrainConfig", "train", "check_one_stage", "Report",
]
__version__ = "0.1.0"
