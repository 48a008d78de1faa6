r"""One training round of G and D: one stage (Algorithm 1) or two (Fig. 2, left).

**One stage** (Sec. 3.1, Algorithm 1): one forward pass of G and of D over real and fake samples,
one backward pass of :math:`\mathcal{L}_D` through D (D's parameter gradient and
:math:`\nabla_{\hat x}\mathcal{L}_D`), then :math:`\nabla_{\hat x_i}\mathcal{L}_G =
\gamma_i \nabla_{\hat x_i}\mathcal{L}_D` (Eq. 7) back through G. Both optimizers then step.
Cost (Eq. 16): :math:`3\mathcal{T}^g + 6\mathcal{T}^d`.

**Two stages**, ``variant="paper"`` (Eq. 13-15): stage 1 runs G without gradients and updates D on
real and fake; stage 2 draws a new z, runs G and the frozen D again and updates G.
Cost: :math:`4\mathcal{T}^g + 8\mathcal{T}^d`. ``variant="reuse"`` keeps stage 1's
:math:`\hat x` (and G's graph) for stage 2, saving G's second forward: a stronger baseline than
the one the paper counts. ``variant="simultaneous"`` is the paper's round with stage 2 run on D
*before* stage 1's update, as one stage does (Algorithm 1 steps both networks from one pass): it
separates the order of the updates from the one-stage gradient (chapter 03, Fisher GAN).

In this implementation we:

* back-propagate :math:`\mathcal{L}_D` and scale at D's input by :math:`\gamma_i`, which has the
  same gradients as Eq. 9's instance losses (see :mod:`osgan.scale`);
* cut the graph at :math:`\hat x`: D's backward stops there, and G's backward starts from
  :func:`osgan.scale.scale_grad` fed with D's input gradient. The two ``backward`` calls visit every
  node once, as one backward pass does;
* send real and fake through D as one concatenated batch when D treats samples independently
  (GroupNorm, no norm), and as two batches when it has BatchNorm, as two-stage DCGAN does;
* report samples with an inactive hinge (:math:`\partial\mathcal{L}_D/\partial\hat p_i = 0`), whose
  G gradient D's backward cannot carry; ``exact=True`` recovers it with one extra forward and
  input-gradient pass of D over those samples only (``Exact/extra_samples`` counts them);
* for a D with several outputs per image (``(B, K)``, a PatchGAN's ``(B, 1, H, W)``), where
  :math:`\gamma` varies inside an image and no scale at D's input is exact, get G's gradient
  by one extra input-gradient pass of D seeded with :math:`\partial\mathcal{L}_G/\partial\hat p`
  through the graph of D's pass (``g_grad="extra_pass"``, the default there for asymmetric
  objectives; it is exact for any D), or scale by each image's mean :math:`\gamma`
  (``g_grad="gamma"``, an approximation; :func:`osgan.check_one_stage` measures it);
* for objectives whose :math:`\mathcal{L}_G` reads D's real outputs (RelGAN), compute
  :math:`D(x)` again without gradients in stage 2 of the two-stage step.

Every step returns a dict of statistics with hierarchical keys (``Loss/D``, ``Gamma/mean``, ...).
With ``as_float=True`` (the default) they are Python floats; ``as_float=False`` keeps them as
0-d tensors so that a training loop on a GPU reads them only at its log interval (reading is a
host-device synchronisation).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from osgan.losses import Objective, Terms
from osgan.models import call, is_per_sample
from osgan.scale import Gamma, per_image_gamma, per_sample_gamma, scale_grad
from osgan.util import eval_mode

Stats = dict[str, Tensor | float]

TWO_STAGE_VARIANTS = ("paper", "reuse", "simultaneous")
# how the one-stage step gets G's gradient at x_hat; see _extra_pass_backward
G_GRADS = ("auto", "gamma", "extra_pass")


def to_floats(stats: dict[str, Tensor]) -> dict[str, float]:
    """Tensors -> Python floats with one host-device transfer for the whole dict (the gamma
    statistics of a batch with no active sample become None)."""
    keys = [k for k, v in stats.items() if torch.is_tensor(v)]
    values = torch.stack([stats[k].detach().float().cpu() for k in keys]).tolist() if keys else []
    out = {k: v for k, v in stats.items() if not torch.is_tensor(v)}
    out.update(zip(keys, values))
    if out.get("Gamma/no_active") == 1.0:  # no active sample: no gamma (see _gamma_stats)
        out.update({f"Gamma/{k}": None for k in ("min", "mean", "max")})
    return out


def _generate(G: nn.Module, objective: Objective, z: Tensor, y: Tensor | None) -> Tensor:
    return call(G, z, y if objective.conditional else None)


def _memory_format(x: Tensor) -> torch.memory_format:
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def _d(D: nn.Module, inp: Tensor, y: Tensor | None) -> Tensor:
    # D's output at least in float32, so that losses and gamma are float32 under bfloat16
    # autocast (float32 and float64 outputs are left as they are)
    out = call(D, inp, y)
    return out.float() if out.dtype in (torch.bfloat16, torch.float16) else out


def _discriminate(D, objective, x, x_hat, y, fused) -> tuple[Tensor, Tensor]:
    """D's logits on real and fake samples, ``p = D(x)`` and ``p_hat = D(x_hat)``, at least float32."""
    cond = objective.conditional
    # fakes in the memory format of the real batch (osgan.layout: G and D may differ), so that D
    # runs both in the one it was laid out for; a no-op when they match
    x_hat = x_hat.contiguous(memory_format=_memory_format(x))
    if fused:
        # one pass over [x; x_hat]: valid only for a D that treats samples independently
        x_all = torch.cat([x, x_hat])
        out = _d(D, x_all, torch.cat([y, y]) if cond else None)
        p, p_hat = out.split([x.shape[0], x_hat.shape[0]])
        return p, p_hat
    y = y if cond else None
    return _d(D, x, y), _d(D, x_hat, y)


def resolve_fused(D: nn.Module, fused: bool | None) -> bool:
    per_sample = is_per_sample(D)
    if fused is None:
        return per_sample
    if fused and not per_sample:
        raise ValueError("fused=True needs a per-sample D: BatchNorm would mix real and fake statistics")
    return fused


def _d_stats(terms: Terms, loss_g: Tensor) -> dict[str, Tensor]:
    stats = {"Loss/D": terms["total"].detach(), "Loss/G": loss_g.detach()}
    for k in ("real", "fake"):
        if k in terms:
            stats[f"Loss/D/{k}"] = terms[k].detach().mean()
    return stats


def _gamma_stats(g: Gamma) -> dict[str, Tensor]:
    # statistics over the active samples; with none active (D's backward then carries no
    # gradient to G at all, unless exact=True) there is no gamma: Gamma/no_active is 1 and
    # to_floats reports min, mean and max as None (null in metrics.jsonl), never NaN
    active = ~g.inactive
    n_active = active.sum()
    inf = torch.full_like(g.gamma, float("inf"))
    none_active = n_active == 0
    zero = torch.zeros_like(g.gamma[0])
    return {
        "Gamma/mean": (g.gamma * active).sum() / n_active.clamp(min=1),
        "Gamma/min": torch.where(none_active, zero, torch.where(active, g.gamma, inf).min()),
        "Gamma/max": torch.where(none_active, zero, torch.where(active, g.gamma, -inf).max()),
        "Gamma/inactive": g.inactive.float().mean(),
        "Gamma/no_active": none_active.float(),
    }


def _one_stage_backward(G, D, objective, x, z, y, exact, fused, g_grad="auto"):
    if g_grad not in G_GRADS:
        raise ValueError(f"g_grad must be one of {G_GRADS}; got {g_grad!r}")
    fused = resolve_fused(D, fused)
    if exact and not is_per_sample(D):
        raise ValueError("exact=True needs a per-sample D (GroupNorm or none), not BatchNorm")
    G.zero_grad(set_to_none=True)
    D.zero_grad(set_to_none=True)

    # Algorithm 1, lines 3-5: x_hat = G(z); feed x_hat and x into D
    x_hat = _generate(G, objective, z, y)
    x_hat_d = x_hat.detach().requires_grad_(True)  # D's backward stops here
    p, p_hat = _discriminate(D, objective, x, x_hat_d, y, fused)
    terms = objective.loss_d(p, p_hat)
    loss_g = objective.loss_g(p.detach(), p_hat.detach()).mean()  # logged; G's gradient: via gamma

    # line 6: gamma_i by Eq. 7 at D's output (-1 for symmetric objectives)
    g = per_sample_gamma(objective, p, p_hat)
    if _use_extra_pass(objective, p_hat, g_grad):
        return _extra_pass_backward(D, objective, x_hat, x_hat_d, p, p_hat, terms, loss_g, g), terms
    g = per_image_gamma(g)  # (B,); with several outputs per image, their mean (osgan.scale)

    # line 8: one backward of L_D through D: D's parameter gradients and dL_D/dx_hat
    terms["total"].backward()
    grad_x_hat = x_hat_d.grad
    gamma_ = g.gamma

    stats = _d_stats(terms, loss_g) | _gamma_stats(g)
    if exact and not objective.symmetric:
        # inactive samples: D's backward carried nothing, so G's gradient is recovered by an
        # input-gradient pass of D over those samples alone, seeded with dL_G/dp_hat_i
        idx = g.inactive.nonzero().flatten()  # a host-device sync, paid only with exact=True
        stats["Exact/extra_samples"] = torch.tensor(float(idx.numel()))
        if idx.numel():
            x_in = x_hat_d.detach()[idx].requires_grad_(True)
            with eval_mode(D), torch.enable_grad():
                p_in = _d(D, x_in, y[idx] if objective.conditional else None)
                (grad_in,) = torch.autograd.grad(p_in, x_in, grad_outputs=g.dloss_g[idx])
            grad_x_hat = grad_x_hat.index_copy(0, idx, grad_in)
            gamma_ = gamma_.index_fill(0, idx, 1.0)  # already G's gradient: pass it unscaled

    # line 9: grad_{x_hat_i} L_G = gamma_i * grad_{x_hat_i} L_D, back through G
    scale_grad(x_hat, gamma_).backward(grad_x_hat)
    return stats, terms



def _use_extra_pass(objective: Objective, p_hat: Tensor, g_grad: str) -> bool:
    # several outputs per image and an asymmetric objective: gamma varies inside an image
    if g_grad == "auto":
        return p_hat[0].numel() > 1 and not objective.symmetric
    return g_grad == "extra_pass"


def _extra_pass_backward(D, objective, x_hat, x_hat_d, p, p_hat, terms, loss_g, g):
    """G's gradient at x_hat by its own input-gradient pass of D, through the graph of the pass
    that D's backward uses: exact for any D and objective, at the cost of that pass (no extra
    forward, no parameter gradients). D's backward then stops at D's parameters."""
    with torch.enable_grad():
        p_hat_ = p_hat.detach().requires_grad_(True)
        # dL_G/dp_hat, the seed of G's pass (per_sample_gamma skips it for symmetric objectives)
        (dloss_g,) = torch.autograd.grad(objective.loss_g(p.detach(), p_hat_).mean(), p_hat_)
    # grad_{x_hat} L_G = (dp_hat/dx_hat)^T dL_G/dp_hat
    (grad_x_hat,) = torch.autograd.grad(p_hat, x_hat_d, grad_outputs=dloss_g, retain_graph=True)
    # grad_{theta_D} L_D: D's input gradient is not needed any more
    terms["total"].backward(inputs=[q for q in D.parameters() if q.requires_grad])
    x_hat.backward(grad_x_hat)
    flat = Gamma(*(t.flatten() if t is not None else None for t in g))  # statistics per output
    stats = _d_stats(terms, loss_g) | _gamma_stats(flat)
    stats["Exact/extra_pass"] = torch.tensor(1.0)
    return stats


def one_stage_backward(
    G: nn.Module,
    D: nn.Module,
    objective: Objective,
    x: Tensor,
    z: Tensor,
    y: Tensor | None = None,
    *,
    exact: bool = False,
    fused: bool | None = None,
    g_grad: str = "auto",
    as_float: bool = True,
) -> Stats:
    """Fill ``.grad`` of G's and D's parameters with :math:`\\nabla_{\\theta_G}\\mathcal{L}_G` and
    :math:`\\nabla_{\\theta_D}\\mathcal{L}_D` from one forward and one backward (Algorithm 1).

    ``x``: real images ``(B, C, S, S)``; ``z``: latents ``(B, nz)``; ``y``: labels ``(B,)`` for a
    conditional objective. ``fused`` (default: when D is per-sample) sends real and fake through
    D as one batch. ``g_grad``: how G's gradient at :math:`\\hat x` is obtained, ``"gamma"``
    (Eq. 7, the scale op; for a D with several outputs per image, their mean gamma: an
    approximation), ``"extra_pass"`` (one more input-gradient pass of D: exact for any D) or
    ``"auto"`` (``"gamma"`` where it is exact, one output per image or a symmetric objective;
    else ``"extra_pass"``). Returns the step's statistics.
    """
    stats, _ = _one_stage_backward(G, D, objective, x, z, y, exact, fused, g_grad)
    return to_floats(stats) if as_float else stats


def one_stage_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    objective: Objective,
    x: Tensor,
    z: Tensor,
    y: Tensor | None = None,
    *,
    exact: bool = False,
    fused: bool | None = None,
    g_grad: str = "auto",
    as_float: bool = True,
) -> Stats:
    """:func:`one_stage_backward`, then both optimizer steps (Algorithm 1, line 10) and the
    objective's after-step rule (WGAN's clipping, Fisher GAN's multiplier)."""
    stats, terms = _one_stage_backward(G, D, objective, x, z, y, exact, fused, g_grad)
    opt_d.step()
    opt_g.step()
    objective.after_d_step(D, terms)
    return to_floats(stats) if as_float else stats


def two_stage_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    objective: Objective,
    x: Tensor,
    z: Tensor,
    y: Tensor | None = None,
    *,
    variant: str = "paper",
    fused: bool | None = None,
    as_float: bool = True,
    generator: torch.Generator | None = None,
) -> Stats:
    """One round of alternating training: update D with G fixed, then G with D fixed.

    ``variant="paper"`` draws a new z for stage 2 (from ``generator``; None: torch's global one)
    and runs G again (Eq. 13-15);
    ``variant="reuse"`` back-propagates stage 1's :math:`\\hat x` (G's forward is run once);
    ``variant="simultaneous"`` is ``"paper"`` with G's stage on the D (and objective state) from
    before D's update, both optimizers stepping at the end, as in one stage.
    """
    if variant not in TWO_STAGE_VARIANTS:
        raise ValueError(f"variant must be one of {TWO_STAGE_VARIANTS}; got {variant!r}")
    fused = resolve_fused(D, fused)

    # Stage 1 (Eq. 13): fix G, update D on real and fake
    D.zero_grad(set_to_none=True)
    with torch.set_grad_enabled(variant == "reuse"):
        x_hat = _generate(G, objective, z, y)
    p, p_hat = _discriminate(D, objective, x, x_hat.detach(), y, fused)
    terms = objective.loss_d(p, p_hat)
    terms["total"].backward()
    if variant != "simultaneous":
        opt_d.step()
        objective.after_d_step(D, terms)

    # Stage 2 (Eq. 14): fix D, update G through D's input gradient
    G.zero_grad(set_to_none=True)
    D.requires_grad_(False)  # no parameter gradients for the frozen D
    try:
        if variant != "reuse":
            z2 = torch.randn(z.shape, dtype=z.dtype, device=z.device, generator=generator)
            x_hat = _generate(G, objective, z2, y)
        cond = objective.conditional
        x_hat = x_hat.contiguous(memory_format=_memory_format(x))  # as in _discriminate
        p_hat_g = _d(D, x_hat, y if cond else None)
        if objective.g_reads_real:
            with torch.no_grad():
                p_g = _d(D, x, y if cond else None)
        else:
            p_g = p.detach()  # unread by L_G
        loss_g = objective.loss_g(p_g, p_hat_g).mean()
        loss_g.backward()
    finally:
        D.requires_grad_(True)
    if variant == "simultaneous":  # D's gradient is stage 1's, untouched by stage 2
        opt_d.step()
        objective.after_d_step(D, terms)
    opt_g.step()

    stats = _d_stats(terms, loss_g)
    return to_floats(stats) if as_float else stats
