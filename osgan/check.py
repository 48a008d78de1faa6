r"""Does one-stage training give *your* GAN the gradients of two stages? (Sec. 3.1, Eq. 6-9)

One stage (Algorithm 1) gets G's gradient from D's backward of :math:`\mathcal{L}_D`, scaled at
D's input by

.. math::
   \gamma_i = \frac{\nabla_{\hat x_i}\mathcal{L}_G}{\nabla_{\hat x_i}\mathcal{L}_D}
            = \frac{\nabla_{\hat x^L_i}\mathcal{L}_G}{\nabla_{\hat x^L_i}\mathcal{L}_D} \quad (7),

which holds when every layer of D satisfies Eq. 6 for each sample on its own and D gives one
output per image. Symmetric objectives (:math:`\mathcal{L}_G = -\mathcal{L}_D^f`) have
:math:`\gamma = -1` and need neither. :func:`check_one_stage` runs
:func:`osgan.one_stage_backward` on copies of your G and D and compares its parameter gradients
with the definition, two separate autograd passes (:func:`osgan.reference.reference_grads`); it
traces Eq. 7 layer by layer (:func:`osgan.reference.layer_ratios`) to name the layer that breaks
it, counts the outputs whose hinge is inactive (:math:`\partial\mathcal{L}_D/\partial\hat p = 0`,
Eq. 9 divides by it), tries the step's other modes, and says in words what to do.

In this implementation we:

* work in float64 on deep copies of G and D (your modules, their gradients and training flags are
  left as they were), on your ``x``, ``z`` (and ``y``);
* run D in eval mode for both the step and the reference, unless it has BatchNorm and is in
  training mode: dropout and spectral norm's power iteration then see the same weights in every
  pass, and BatchNorm is checked with the batch statistics training uses;
* call a layer the breaking one when the ratio of Eq. 7 deviates (relative ``tol``) at its input
  but not at its output; when it deviates at D's output itself, the cause is several outputs per
  image;
* detect a D that mixes samples by one input-gradient pass: does the output of images 2..B depend
  on image 1?
"""

from __future__ import annotations

import copy
import statistics
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from osgan import timing
from osgan.losses import Objective
from osgan.models import call
from osgan.reference import LayerRatio, grads, layer_ratios, reference_grads, rel_err
from osgan.scale import per_sample_gamma
from osgan.steps import one_stage_backward, one_stage_step, resolve_fused, two_stage_step


@dataclass
class Report:
    """What :func:`check_one_stage` found; ``print(report)`` shows it."""

    objective: str  # the objective's name
    symmetric: bool  # L_G = -L_D^f: gamma = -1, Eq. 7 not needed
    outputs_per_image: int  # K: 1 for a (B,) D, H*W for a PatchGAN's (B, 1, H, W)
    settings: dict  # the step's keywords checked (exact, fused, g_grad)
    exact: bool  # both relative errors <= tol
    rel_err_d: float  # D's parameter gradient, max |one - two| / max |two|
    rel_err_g: float  # G's parameter gradient, the same
    inactive: float  # fraction of fake outputs with dL_D/dp_hat = 0 (inactive hinge)
    mixes_samples: bool  # D's output for one image depends on the other images of the batch
    layers: list[LayerRatio]  # Eq. 7 at D's input and after each leaf module
    broken_at: str | None  # the layer where Eq. 7 breaks, "name (Kind)", or None
    alternatives: dict[str, tuple[float, float]] = field(default_factory=dict)  # other modes: errors
    rel_err_g_active: float | None = None  # G's error against the reference over active outputs
    verdict: str = ""  # what this means and what to do
    tol: float = 1e-6  # relative tolerance of "exact"

    def __str__(self) -> str:
        lines = [
            f"one stage for {self.objective} ({'symmetric' if self.symmetric else 'asymmetric'}), "
            f"{self.outputs_per_image} output(s) per image, {self.settings}",
            f"  rel. error of grad D: {self.rel_err_d:.1e}   of grad G: {self.rel_err_g:.1e}   "
            f"-> {'EXACT' if self.exact else 'NOT EXACT'} (tol {self.tol:g})",
            f"  inactive outputs: {self.inactive:.0%}   D mixes samples: {self.mixes_samples}",
            "  Eq. 7 by layer (max |r - gamma_i| / |gamma_i|):",
        ]
        lines += [f"    {lr.index:2d} {lr.name:<12} {lr.kind:<14} {lr.deviation:.1e}" for lr in self.layers]
        for k, (ed, eg) in self.alternatives.items():
            lines.append(f"  with {k}: rel. error of grad D {ed:.1e}, of grad G {eg:.1e}")
        if self.rel_err_g_active is not None:
            lines.append("  rel. error of grad G against the active outputs only: "
                         f"{self.rel_err_g_active:.1e}")
        lines.append(f"  verdict: {self.verdict}")
        return "\n".join(lines)


def _has_batchnorm(D: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules())


def _validate(G, D, objective, x, z, y) -> tuple[Tensor, Tensor, Tensor]:
    """D's outputs on x and G(z), with a ValueError saying what to do for each bad input."""
    if not isinstance(objective, Objective):
        raise ValueError(f"objective must be an osgan.losses.Objective (losses.get(name) or "
                         f"losses.custom(...)); got {type(objective).__name__}")
    B = x.shape[0]
    if z.shape[0] != B:
        raise ValueError(f"x holds {B} images but z {z.shape[0]} latents: give one z per real image")
    cond = objective.conditional
    with torch.no_grad():
        x_hat = call(G, z, y if cond else None)
    if x_hat.shape != x.shape:
        raise ValueError(f"G(z) has shape {tuple(x_hat.shape)}, x {tuple(x.shape)}: real and fake "
                         "images must have one shape")
    with torch.enable_grad():
        p = call(D, x, y if cond else None)
        p_hat = call(D, x_hat, y if cond else None)
    if p.dim() == 0 or p.shape[0] != B:
        raise ValueError(f"D returned shape {tuple(p.shape)} for a batch of {B} images: D must return "
                         "one output per image (B,) or several, (B, K) or (B, 1, H, W); reshape "
                         "inside D's forward, keeping the batch dimension first")
    terms = objective.loss_d(p, p_hat)
    if not (isinstance(terms, dict) and torch.is_tensor(terms.get("total"))
            and terms["total"].dim() == 0):
        raise ValueError(f"{objective.name}: loss_d must return a dict whose 'total' is a scalar "
                         "tensor (the batch L_D)")
    for k, ref in (("real", p), ("fake", p_hat)):
        if k in terms and terms[k].shape != ref.shape:
            raise ValueError(f"{objective.name}: loss_d's {k!r} terms have shape "
                             f"{tuple(terms[k].shape)}, D's outputs {tuple(ref.shape)}: return one "
                             "term per output, unreduced")
    loss_g = objective.loss_g(p, p_hat)
    if not torch.is_tensor(loss_g) or loss_g.shape != p_hat.shape:
        shape = tuple(loss_g.shape) if torch.is_tensor(loss_g) else type(loss_g).__name__
        raise ValueError(f"{objective.name}: loss_g returned {shape}, D's outputs on fakes have "
                         f"shape {tuple(p_hat.shape)}: return one term per output, unreduced "
                         "(no .mean(): the callers take it)")
    if not (torch.isfinite(terms["total"]) and torch.isfinite(loss_g).all()):
        raise ValueError(f"{objective.name}: the losses are not finite on this batch (L_D = "
                         f"{terms['total'].item():.3g}): write them on logits in a stable form "
                         "(F.softplus(-p) for -log sigmoid(p)) and check D's outputs for inf/nan")
    return x_hat, p.detach(), p_hat.detach()


def _mixes_samples(D, objective, x_hat, y) -> bool:
    # one input-gradient pass: do the outputs of images 1..B-1 depend on image 0?
    if x_hat.shape[0] < 2:
        return False
    x_in = x_hat.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = call(D, x_in, y if objective.conditional else None)
        (g,) = torch.autograd.grad(out[1:].sum(), x_in, allow_unused=True)
    return g is not None and bool(g[0].abs().amax() > 0)


def _broken_at(layers: list[LayerRatio], tol: float) -> LayerRatio | None:
    if layers[-1].deviation > tol:  # at D's output itself: several outputs per image
        return layers[-1]
    for below, here in zip(layers[-2::-1], layers[:0:-1]):  # from the top down
        if below.deviation > tol:
            return here  # exact at its output, broken at its input
    return None


def _run(G, D, objective, x, z, y, kw) -> tuple[float, float]:
    G1, D1 = copy.deepcopy(G), copy.deepcopy(D)
    one_stage_backward(G1, D1, objective, x, z, y, **kw)
    return grads(D1), grads(G1)


def check_one_stage(G: nn.Module, D: nn.Module, objective: Objective, x: Tensor, z: Tensor,
                    y: Tensor | None = None, *, exact: bool = False, fused: bool | None = None,
                    g_grad: str = "auto", tol: float = 1e-6) -> Report:
    """Compare :func:`osgan.one_stage_backward` (with ``exact``, ``fused``, ``g_grad``) on your
    G, D and objective against two separate autograd passes, and say why and what to do.

    ``x``: real images (B, ...), ``z``: latents (B, ...), ``y``: labels for a conditional
    objective. Your modules are not touched; see the module docstring."""
    B = x.shape[0]
    train_d = D.training and _has_batchnorm(D)  # batch statistics matter: check them
    G64, D64 = copy.deepcopy(G).double(), copy.deepcopy(D).double().train(train_d)
    x64, z64 = x.detach().double(), z.detach().double()
    x_hat, p, p_hat = _validate(G64, copy.deepcopy(D64), objective, x64, z64, y)
    K = p_hat[0].numel()

    settings = dict(exact=exact, fused=fused, g_grad=g_grad)
    ref_d, ref_g = reference_grads(G64, D64, objective, x64, z64, y, d_eval=not train_d)
    got_d, got_g = _run(G64, D64, objective, x64, z64, y, settings)
    err_d, err_g = rel_err(got_d, ref_d), rel_err(got_g, ref_g)
    is_exact = err_d <= tol and err_g <= tol

    g = per_sample_gamma(objective, p, p_hat)
    inactive = g.inactive.double().mean().item()
    mixes = _mixes_samples(copy.deepcopy(D64), objective, x_hat, y)
    layers, _ = layer_ratios(D64, objective, x64, x_hat, y, d_eval=not train_d)
    broken = _broken_at(layers, tol)
    broken_name = None if broken is None else f"{broken.name} ({broken.kind})"
    if broken is not None and broken is layers[-1]:
        broken_name += f", D's output: {K} per image"

    # the other modes of the step, on the same copies: which of them is exact?
    alternatives = {}
    if not is_exact or (K > 1 and not objective.symmetric):
        # cheapest first: the verdict names the first exact one
        tries = [dict(exact=True)] if inactive > 0 and not _has_batchnorm(D64) else []
        tries += [dict(g_grad="gamma"), dict(g_grad="extra_pass")]
        if resolve_fused(D64, fused):
            tries += [dict(fused=False), dict(g_grad="extra_pass", fused=False)]
        for t in tries:
            kw = settings | t
            if kw == settings:
                continue
            d_, g_ = _run(G64, D64, objective, x64, z64, y, kw)
            name = ", ".join(f"{k}={v!r}" for k, v in t.items())
            alternatives[name] = (rel_err(d_, ref_d), rel_err(g_, ref_g))
    err_g_active = None
    if inactive > 0 and err_g > tol:
        _, ref_g_active = reference_grads(G64, D64, objective, x64, z64, y, active=~g.inactive,
                                          d_eval=not train_d)
        err_g_active = rel_err(got_g, ref_g_active)

    report = Report(objective.name, objective.symmetric, K, settings, is_exact, err_d, err_g,
                    inactive, mixes, layers, broken_name, alternatives, err_g_active, tol=tol)
    report.verdict = _verdict(report, broken, B)
    return report


def _fixes(report: Report) -> str:
    ok = [k for k, (ed, eg) in report.alternatives.items() if max(ed, eg) <= report.tol]
    return f"pass {ok[0]} (exact here)" if ok else "train in two stages (osgan.two_stage_step)"


def _verdict(r: Report, broken: LayerRatio | None, B: int) -> str:
    if r.exact:
        if r.symmetric:
            why = "a symmetric objective has gamma = -1 for every output, whatever D does"
        elif r.outputs_per_image > 1 or r.mixes_samples:
            why = ("gamma is not one number per image here, and G's gradient took its own "
                   "input-gradient pass of D (g_grad='extra_pass'): exact, at the cost of that pass")
        else:
            why = "D treats images independently with one output each, so Eq. 7 holds at every layer"
        tail = (f"; {r.inactive:.0%} of the outputs are inactive hinges, recovered by exact=True"
                if r.inactive > 0 and r.settings["exact"] else "")
        return f"exact: one stage gives two stages' gradients ({why}{tail})."
    if r.mixes_samples or (broken is not None and broken is not r.layers[-1]):
        where = f"layer {r.broken_at}" if broken is not None else "a layer of D"
        if broken is not None and "BatchNorm" in broken.kind:
            what = "replace BatchNorm by GroupNorm (as the paper does), or "
        else:
            what = "compute that statistic per image (or leave it out), or "
        d_part = (" D's gradient is off too: real and fake share one pass (fused), so the layer "
                  "mixes them." if r.rel_err_d > r.tol else "")
        return (f"not exact: {where} mixes the images of a batch, so Eq. 6-7 fail (gamma_i is not "
                f"constant through D).{d_part} To fix: {what}{_fixes(r)}.")
    if r.outputs_per_image > 1:
        return (f"not exact: D gives {r.outputs_per_image} outputs per image and gamma varies "
                "across them, so one scale per image (the per-image mean gamma) is an "
                f"approximation (G's gradient off by {r.rel_err_g:.1e}). To fix: {_fixes(r)}.")
    if r.inactive > 0:
        return (f"not exact: {r.inactive:.0%} of the fake outputs are inactive hinges "
                "(dL_D/dp_hat = 0, gamma undefined), whose G gradient D's backward cannot carry. "
                f"To fix: {_fixes(r)}.")
    return ("not exact for a reason this check cannot name (no layer breaks Eq. 7, no inactive "
            "outputs): look for randomness in D or the losses (dropout in training mode, "
            "augmentation), or train in two stages.")


# ---------------------------------------------------------------------------------------------
# what each mode costs


def step_costs(G: nn.Module, D: nn.Module, objective: Objective, x: Tensor, z: Tensor,
               y: Tensor | None = None, *, modes: dict[str, dict] | None = None, repeats: int = 5,
               warmup: int = 1, clock: str = "wall") -> dict[str, float]:
    """Median seconds of one training round (both optimizer steps) for each mode, timed
    round-robin in one run (:func:`osgan.timing.round_robin`, warm-up discarded), on copies of G
    and D with Adam. ``modes``: name -> keywords of :func:`osgan.one_stage_step`, or
    ``{"stages": "two"}`` for :func:`osgan.two_stage_step` (the paper's variant). Default: two
    stages, one stage with ``g_grad="gamma"``, ``"extra_pass"`` and, for a per-sample D,
    ``exact=True``."""
    if modes is None:
        modes = {"two stages": {"stages": "two"}, "one stage (gamma)": {"g_grad": "gamma"},
                 "one stage (extra_pass)": {"g_grad": "extra_pass"}}
        if not _has_batchnorm(D):
            modes["one stage (exact=True)"] = {"exact": True, "g_grad": "gamma"}
    fns = {}
    for name, kw in modes.items():
        G1, D1 = copy.deepcopy(G), copy.deepcopy(D)
        opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (G1, D1))
        kw = dict(kw)
        if kw.pop("stages", "one") == "two":
            fns[name] = (lambda G1=G1, D1=D1, og=opt_g, od=opt_d, kw=kw:
                         two_stage_step(G1, D1, og, od, objective, x, z, y, as_float=False, **kw))
        else:
            fns[name] = (lambda G1=G1, D1=D1, og=opt_g, od=opt_d, kw=kw:
                         one_stage_step(G1, D1, og, od, objective, x, z, y, as_float=False, **kw))
    times = timing.round_robin(fns, x.device, repeats, warmup, clock)
    return {k: statistics.median(v) for k, v in times.items()}
