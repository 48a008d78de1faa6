r"""What the one-stage step must equal: gradients by plain autograd in separate passes, and the
ratio of Eq. 7 layer by layer.

The definition of a GAN's update (Eq. 13-14) is two separate gradients at the same parameters:

.. math::
   \nabla_{\theta_D}\mathcal{L}_D(D(x), D(\mathrm{sg}[\hat x])), \qquad
   \nabla_{\theta_G}\mathcal{L}_G(\mathrm{sg}[D(x)], D(G(z))),

with :math:`\mathrm{sg}` a stop-gradient. :func:`reference_grads` computes them exactly so, on
copies of the modules, with no :mod:`osgan.scale` or :mod:`osgan.steps` code in the way: the tests,
chapter 01 and :func:`osgan.check_one_stage` compare the one-stage step against it.

:func:`layer_ratios` measures Eq. 7 itself: for every layer :math:`l` of D the element-wise ratio
:math:`\nabla_{\hat x^l_i}\mathcal{L}_G / \nabla_{\hat x^l_i}\mathcal{L}_D` over sample
:math:`i`'s features, against :math:`\gamma_i` at D's output. Eq. 6 makes it one number per
sample; a layer that mixes samples (BatchNorm in training mode) breaks it.

In this implementation we:

* run D in eval mode by default (``d_eval=True``): spectral norm then reuses the power iteration of
  the pass under test instead of running another, and BatchNorm uses running statistics; pass
  ``d_eval=False`` to compare in training mode (BatchNorm's batch statistics, real and fake
  apart, as two-stage DCGAN does);
* accept D outputs of any shape ``(B, ...)``: the losses are per output and their means are
  the batch losses; ``active`` in :func:`reference_grads` is then per output;
* keep the features of every leaf module of D (``register_forward_hook``) after turning off
  ``inplace`` on a copy of D, so that an in-place activation cannot overwrite what we keep.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from osgan.losses import Objective
from osgan.models import call
from osgan.scale import per_image_gamma, per_sample_gamma


def grads(module: nn.Module) -> list[Tensor]:
    """Copies of the ``.grad`` of every parameter (zeros where there is none)."""
    return [q.grad.clone() if q.grad is not None else torch.zeros_like(q)
            for q in module.parameters()]


def rel_err(actual: list[Tensor], expected: list[Tensor]) -> float:
    """Largest absolute difference over all tensors, relative to the largest entry of
    ``expected``."""
    a = torch.cat([t.flatten() for t in actual])
    b = torch.cat([t.flatten() for t in expected])
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


def _d(D, objective, x, y):
    return call(D, x, y if objective.conditional else None)


def reference_grads(G: nn.Module, D: nn.Module, objective: Objective, x: Tensor, z: Tensor,
                    y: Tensor | None = None, *, active: Tensor | None = None,
                    d_eval: bool = True) -> tuple[list[Tensor], list[Tensor]]:
    """:math:`\\nabla_{\\theta_D}\\mathcal{L}_D` and :math:`\\nabla_{\\theta_G}\\mathcal{L}_G` by
    two separate autograd passes on copies of G and D (the modules given are not touched).

    ``active`` (bool per fake sample) restricts G's loss to those samples: what one backward of
    :math:`\\mathcal{L}_D` can carry when some hinge samples are inactive."""
    G, D = copy.deepcopy(G), copy.deepcopy(D)
    D.train(not d_eval)
    x_hat = call(G, z, y if objective.conditional else None)
    # grad_thetaD L_D(D(x), D(sg[x_hat]))
    p, p_hat = _d(D, objective, x, y), _d(D, objective, x_hat.detach(), y)
    grad_d = torch.autograd.grad(objective.loss_d(p, p_hat)["total"], list(D.parameters()),
                                 allow_unused=True)
    # grad_thetaG L_G(sg[D(x)], D(G(z)))
    p_hat = _d(D, objective, x_hat, y)
    if active is not None:
        p_hat = torch.where(active, p_hat, p_hat.detach())
    grad_g = torch.autograd.grad(objective.loss_g(p.detach(), p_hat).mean(),
                                 list(G.parameters()), allow_unused=True)
    fill = lambda gs, ps: [torch.zeros_like(q) if g is None else g for g, q in zip(gs, ps)]  # noqa: E731
    return fill(grad_d, D.parameters()), fill(grad_g, G.parameters())


@dataclass
class LayerRatio:
    """Eq. 7 at one layer of D: how far sample i's ratio strays from gamma_i."""

    index: int  # 0 is D's input, then D's leaf modules in the order they ran
    name: str  # the module's qualified name in D ("input" for D's input)
    kind: str  # the module's class name
    deviation: float  # max over samples and elements of |r - gamma_i| / |gamma_i|
    r_min: Tensor  # (B,) smallest element-wise ratio of each sample
    r_max: Tensor  # (B,) largest


def layer_ratios(D: nn.Module, objective: Objective, x: Tensor, x_hat: Tensor,
                 y: Tensor | None = None, *, d_eval: bool = False
                 ) -> tuple[list[LayerRatio], Tensor]:
    """The ratio of Eq. 7 at D's input and at the output of each leaf module of D, for the fake
    batch ``x_hat`` (real batch ``x`` through D on its own). Returns the layers and gamma (B,).

    For a D with several outputs per image gamma_i is their mean (:func:`osgan.scale.per_image_gamma`),
    so D's output layer itself shows how far the outputs' ratios stray from one number per image.

    Elements whose :math:`\\mathcal{L}_D` gradient is zero (relative 1e-12 within the sample: a
    LeakyReLU never gives one, a ReLU does) carry no ratio and are skipped."""
    D = copy.deepcopy(D).train(not d_eval)
    for m in D.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    names = {m: n for n, m in D.named_modules()}
    feats: list[tuple[nn.Module, Tensor]] = []

    def keep(module, inputs, out):
        if torch.is_tensor(out) and out.requires_grad:
            feats.append((module, out))

    p = _d(D, objective, x, y)
    leaves = [m for m in D.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(keep) for m in leaves]
    try:
        x_hat = x_hat.detach().clone().requires_grad_(True)
        p_hat = _d(D, objective, x_hat, y)
    finally:
        for h in hooks:
            h.remove()
    # gamma_i per image: for a D with several outputs per image, their mean (osgan.scale)
    g = per_image_gamma(per_sample_gamma(objective, p, p_hat)).gamma
    tensors = [x_hat] + [t for _, t in feats]
    grad_d = torch.autograd.grad(objective.loss_d(p, p_hat)["total"], tensors, retain_graph=True)
    grad_g = torch.autograd.grad(objective.loss_g(p.detach(), p_hat).mean(), tensors)
    B = x_hat.shape[0]
    out = []
    for i, (gd, gg) in enumerate(zip(grad_d, grad_g, strict=True)):
        gd, gg = gd.reshape(B, -1), gg.reshape(B, -1)
        keep_ = gd.abs() > 1e-12 * gd.abs().amax(dim=1, keepdim=True)
        # r = grad L_G / grad L_D element-wise; gamma_i where there is nothing to divide
        r = torch.where(keep_, gg / torch.where(keep_, gd, torch.ones_like(gd)), g[:, None])
        dev = ((r - g[:, None]).abs() / g.abs().clamp_min(1e-300)[:, None]).amax().item()
        module = feats[i - 1][0] if i else None
        out.append(LayerRatio(i, names.get(module, "input") if module is not None else "input",
                              type(module).__name__ if module is not None else "input",
                              dev, r.amin(1).detach(), r.amax(1).detach()))
    return out, g.detach()
