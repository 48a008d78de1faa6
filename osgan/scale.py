r"""The gradient-scale op and the per-sample ratio :math:`\gamma_i` (Sec. 3.1.3, Eq. 7-9).

For a discriminator whose layers satisfy Eq. 6 (convolutions, linear layers, point-wise
activations, pooling, GroupNorm: anything that treats samples independently), the gradients of
:math:`\mathcal{L}_G` and :math:`\mathcal{L}_D` with respect to a fake sample keep one ratio
through every layer (Eq. 7):

.. math::
   \gamma_i = \frac{\nabla_{\hat x_i} \mathcal{L}_G}{\nabla_{\hat x_i} \mathcal{L}_D}
            = \frac{\nabla_{\hat x^L_i} \mathcal{L}_G}{\nabla_{\hat x^L_i} \mathcal{L}_D}
            = \frac{\partial \mathcal{L}_G / \partial \hat p_i}{\partial \mathcal{L}_D / \partial \hat p_i}.

So one backward pass of :math:`\mathcal{L}_D` through D gives D's parameter gradient and, scaled
by :math:`\gamma_i` at D's input, G's gradient (Algorithm 1, lines 8-9).

In this implementation we back-propagate :math:`\mathcal{L}_D` itself instead of the instance loss
:math:`\mathcal{L}_D^{ins}` of Eq. 9. The two have the same gradient with respect to
:math:`\hat p_i` (:func:`instance_losses` writes Eq. 9 out, and the tests check the identity),
and :math:`\mathcal{L}_D` exists for objectives whose :math:`\mathcal{L}_D` does not split (RelGAN,
Fisher GAN), where Eq. 9 has no :math:`\mathcal{L}_D^f` to write.

Where :math:`\partial \mathcal{L}_D / \partial \hat p_i = 0` (an inactive hinge) the ratio is
undefined and D's backward carries nothing for that sample: :func:`per_sample_gamma` sets such
:math:`\gamma_i` to 0 and flags the sample ``inactive``; ``osgan.steps`` can recover G's gradient
for those samples with one extra D pass (``exact=True``).

The two derivatives of Eq. 7 come from the objective's closed forms
(:meth:`osgan.losses.Objective.dloss_d`, ``dloss_g``) where it writes them out: a few element-wise
ops instead of two small autograd passes per step. Autograd is the fallback (and the tests'
reference).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from osgan.losses import Objective


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient of sample i by gamma[i]."""

    @staticmethod
    def forward(ctx, x: Tensor, gamma: Tensor) -> Tensor:
        ctx.save_for_backward(gamma)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (gamma,) = ctx.saved_tensors
        grad_x = None
        if ctx.needs_input_grad[0]:
            # gamma has shape (B,); broadcast over every other dimension of sample i
            grad_x = grad * gamma.reshape(-1, *([1] * (grad.dim() - 1))).to(grad.dtype)
        return grad_x, None


def scale_grad(x: Tensor, gamma: Tensor | float) -> Tensor:
    """Identity in the forward pass; in the backward pass the gradient reaching ``x[i]`` is
    multiplied by ``gamma[i]``. ``gamma`` is a number or a tensor of shape ``(B,)`` (it is treated
    as a constant: no gradient flows into it).
    """
    if not torch.is_tensor(gamma):
        gamma = torch.full((x.shape[0],), float(gamma), device=x.device, dtype=x.dtype)
    if gamma.shape != (x.shape[0],):
        raise ValueError(f"gamma must have shape ({x.shape[0]},), one per sample; got {tuple(gamma.shape)}")
    return _ScaleGrad.apply(x, gamma.detach())


class Gamma(NamedTuple):
    """Eq. 7 at D's output, with the samples whose ratio is undefined."""

    gamma: Tensor  # (B,) dL_G/dp_hat_i / dL_D/dp_hat_i; 0 where inactive
    inactive: Tensor  # (B,) bool: dL_D/dp_hat_i == 0 (or too small to divide by)
    dloss_g: Tensor  # (B,) dL_G/dp_hat_i, kept for the exact recovery of inactive samples
    dloss_d: Tensor  # (B,) dL_D/dp_hat_i


def _owner(obj: object, name: str) -> type | None:
    """The class in ``obj``'s MRO that defines ``name`` (None when an instance attribute does)."""
    if name in vars(obj):
        return None
    return next(c for c in type(obj).__mro__ if name in vars(c))


def has_closed_form(objective: Objective) -> bool:
    """True when ``objective`` writes out both derivatives of Eq. 7 (``dloss_d``, ``dloss_g``) in
    the class that defines the matching loss or below it: a subclass that changes a loss but
    inherits its parent's derivative must not use that derivative."""
    for loss, dloss in (("loss_d", "dloss_d"), ("loss_g", "dloss_g")):
        own_loss, own_dloss = _owner(objective, loss), _owner(objective, dloss)
        if own_loss is None or own_dloss is None or own_dloss is Objective:
            return False
        if not issubclass(own_dloss, own_loss):
            return False
    return True


def _derivatives_autograd(objective: Objective, p: Tensor, p_hat: Tensor) -> tuple[Tensor, Tensor]:
    # two tiny backward passes through the losses only, never through D
    with torch.enable_grad():
        p_hat = p_hat.clone().requires_grad_(True)
        # dL_D / dp_hat_i and dL_G / dp_hat_i: each sample's derivative is its own entry
        (dloss_d,) = torch.autograd.grad(objective.loss_d(p, p_hat)["total"], p_hat)
        (dloss_g,) = torch.autograd.grad(objective.loss_g(p, p_hat).mean(), p_hat)
    return dloss_d, dloss_g


def per_sample_gamma(objective: Objective, p: Tensor, p_hat: Tensor, *,
                     closed_form: bool | None = None) -> Gamma:
    r"""Per-sample :math:`\gamma_i` of Eq. 7 from D's outputs.

    ``p`` and ``p_hat`` are D's outputs on real and fake samples, shape ``(B,)``; they are
    detached here. Symmetric objectives return :math:`\gamma = -1` without computing anything.
    The two derivatives come from the objective's closed forms where it has them
    (:func:`has_closed_form`; a few element-wise ops), else by autograd through the losses.
    ``closed_form=False`` forces autograd (the tests compare the two).
    """
    p, p_hat = p.detach(), p_hat.detach()
    if objective.symmetric:
        minus_one = torch.full_like(p_hat, -1.0)
        return Gamma(minus_one, torch.zeros_like(p_hat, dtype=torch.bool), None, None)
    if closed_form is None:
        closed_form = has_closed_form(objective)
    if closed_form:
        # the objectives return N dL/dp_hat_i; the batch losses are means over the N outputs
        n = p_hat.numel()
        dloss_d = objective.dloss_d(p, p_hat) / n
        dloss_g = objective.dloss_g(p, p_hat) / n
    else:
        dloss_d, dloss_g = _derivatives_autograd(objective, p, p_hat)
    # gamma_i = (dL_G/dp_hat_i) / (dL_D/dp_hat_i), Eq. 7 at the last layer.
    # A derivative below the smallest normal number cannot carry G's gradient back through D in
    # this precision: such samples are inactive (their gamma would be inf or nan).
    tiny = torch.finfo(dloss_d.dtype).tiny
    ratio = dloss_g / dloss_d
    inactive = (dloss_d.abs() < tiny) | ~torch.isfinite(ratio)
    g = torch.where(inactive, torch.zeros_like(ratio), ratio)
    return Gamma(g, inactive, dloss_g, dloss_d)


def instance_losses(objective: Objective, p: Tensor, p_hat: Tensor, gamma_: Tensor):
    r"""Eq. 9 written out, for objectives whose :math:`\mathcal{L}_D` splits (Eq. 4):

    .. math::
       \mathcal{L}_D^{ins} = \mathcal{L}_D^r + \tfrac{1}{1-\gamma_i}(\mathcal{L}_D^f - \mathcal{L}_G),
       \qquad
       \mathcal{L}_G^{ins} = \tfrac{\gamma_i}{1-\gamma_i}(\mathcal{L}_D^f - \mathcal{L}_G).

    :math:`\mathcal{L}_D^f` and :math:`\mathcal{L}_G` are the objective's per-sample terms
    (sample i's share of the batch mean is its term over B), so that :math:`\gamma_i` weights its
    own sample; ``gamma_`` is a constant. Returns the two scalar losses. Used to check, in tests
    and in the derivation chapter, that Eq. 9 and back-propagating :math:`\mathcal{L}_D` agree.
    """
    if not objective.splits:
        raise ValueError(f"{objective.name}: L_D does not split into L_D^r + L_D^f; Eq. 9 needs the split")
    B = p_hat.shape[0]
    gamma_ = gamma_.detach()
    terms = objective.loss_d(p, p_hat)
    loss_d_real = terms["real"].mean()
    # sample i's shares of the batch means L_D^f and L_G
    loss_d_fake_i = terms["fake"] / B
    loss_g_i = objective.loss_g(p, p_hat) / B
    mixed = loss_d_fake_i - loss_g_i  # L_f of Sec. 3.1.3
    loss_d_ins = loss_d_real + (mixed / (1 - gamma_)).sum()
    loss_g_ins = (gamma_ / (1 - gamma_) * mixed).sum()
    return loss_d_ins, loss_g_ins


def per_image_gamma(g: Gamma) -> Gamma:
    r"""One :math:`\gamma_i` per image from :func:`per_sample_gamma` on a D with several outputs
    per image (``p_hat`` of shape ``(B, K)`` or ``(B, 1, H, W)``, a PatchGAN).

    Eq. 7 assumes one output per image. With several, :math:`\gamma_{ik}` is a ratio per output
    and D's backward mixes them inside the image, so no single scale at D's input is exact unless
    they are all equal (a symmetric objective: all -1, returned exactly). In this implementation
    we take the mean over the image's active outputs, the approximation users try;
    :func:`osgan.check_one_stage` measures its error and ``g_grad="extra_pass"`` in
    :func:`osgan.one_stage_backward` avoids it. An image is inactive when all its outputs are.
    ``dloss_g`` and ``dloss_d`` keep D's output shape. For ``(B,)`` or ``(B, 1)`` this is exact.
    """
    B = g.gamma.shape[0]
    gamma_ik = g.gamma.reshape(B, -1)
    active = ~g.inactive.reshape(B, -1)
    n_active = active.sum(1)
    # gamma_i = mean_k gamma_ik over the active outputs k of image i
    gamma_i = (gamma_ik * active).sum(1) / n_active.clamp(min=1)
    return Gamma(gamma_i, n_active == 0, g.dloss_g, g.dloss_d)
