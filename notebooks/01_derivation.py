# ---
# jupyter:
#   jupytext:
#     formats: py:percent,.py.ipynb
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (osgan)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The derivation, checked numerically
#
# Sec. 3.1 of {cite:t}`shen2021osgan` rests on one property of the discriminator's backward pass
# (Eq. 6): for layers that treat samples independently, the gradient with respect to a layer's
# input is a *linear* function of the gradient with respect to its output. So the gradients of
# two losses that differ only through D's output $\hat p_i = \mathcal{D}(\hat x_i)$ keep one
# ratio per sample through every layer:
#
# $$
# \frac{\nabla_{\hat{x}_i} \mathcal{L}_G}{\nabla_{\hat{x}_i} \mathcal{L}_D}
# = \dots = \frac{\nabla_{\hat{x}_i^l} \mathcal{L}_G}{\nabla_{\hat{x}_i^l} \mathcal{L}_D}
# = \dots = \frac{\nabla_{\hat{x}_i^L} \mathcal{L}_G}{\nabla_{\hat{x}_i^L} \mathcal{L}_D}
# = \gamma_i . \tag{7}
# $$
#
# Then the mixed gradient of $\mathcal{L}_f = \mathcal{L}_D^f - \mathcal{L}_G$ decomposes (Eq. 8)
#
# $$
# \nabla_{\hat{x}_i^L} \mathcal{L}_D^f
#   = \frac{1}{1 - \gamma_i} \nabla_{\hat{x}_i^L} \mathcal{L}_f,
# \qquad
# \nabla_{\hat{x}_i^L} \mathcal{L}_G
#   = \frac{\gamma_i}{1 - \gamma_i} \nabla_{\hat{x}_i^L} \mathcal{L}_f,
# \tag{8}
# $$
#
# and the instance losses
#
# $$
# \mathcal{L}_D^{ins} = \mathcal{L}_D^r + \frac{1}{1 - \gamma_i} (\mathcal{L}_D^f - \mathcal{L}_G),
# \qquad
# \mathcal{L}_G^{ins} = \frac{\gamma_i}{1 - \gamma_i} (\mathcal{L}_D^f - \mathcal{L}_G)
# \tag{9}
# $$
#
# give both networks their gradients from one backward pass. This chapter checks each step in
# float64 on a small DCGAN discriminator with GroupNorm {cite:p}`wu2018groupnorm`, then shows
# what BatchNorm {cite:p}`ioffe2015batchnorm` does to it. The package implements the result
# (`osgan.scale`, `osgan.steps`); here we test it against gradients computed the ordinary way.

# %% tags=["parameters"]
profile = "auto"  # "full" (CUDA), "quick" (CPU), "smoke" (tests: seconds) or "auto"
device = "auto"  # "auto", "cpu" or "cuda"
seed = 0  # seeds the models, the latents and the real batch
dataset = "fashion_mnist"  # the real images fed to D (any name in osgan.data.DATASETS)
data_root = None  # folder holding the data set's files; None: the default place
objective = "dcgan_ns"  # the asymmetric objective whose gamma is traced through D's layers

# %%

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from myst_nb import glue
from torch import nn

import osgan
from osgan import data as osdata
from osgan import losses, reference, settings
from osgan.models import models_for
from osgan.render.tables import markdown_table, to_numpy
from osgan.scale import instance_losses, per_sample_gamma

profile = settings.resolve(profile, device)
dev = settings.resolve_device(device)
# the derivation needs no training: sizes only trade resolution of the plots for seconds
size = {
    "smoke": dict(batch=4, width=8),
    "quick": dict(batch=8, width=16),
    "full": dict(batch=16, width=64),
}[profile]
B, width = size["batch"], size["width"]
torch.manual_seed(seed)
real = osdata.load(dataset, "test", data_root=data_root, image_size=32)
x, y = real.sample(B, generator=torch.Generator().manual_seed(seed))
x, y = x.to(dev, torch.float64), y.to(dev)
z = torch.randn(B, 100, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64).to(
    dev
)
cfg = dict(image_size=32, channels=real.channels, width=width)
print(f"profile={profile} device={dev} dataset={real.name} batch={B} D width={width} float64")


# %% [markdown]
# ## Autograd agrees with finite differences
#
# Everything below compares gradients computed by autograd, so first we check autograd itself on
# this D: the directional derivative of $\mathcal{L}_D$ and $\mathcal{L}_G$ along random
# directions $v$ of the fake batch, by central differences, against $\langle \nabla_{\hat x}
# \mathcal{L}, v \rangle$.


# %% tags=["hide-input"]
def float64_models(name, **kw):
    """G and D for objective ``name`` in float64 on ``dev``, LeakyReLU not in place (so that each
    layer's output can be kept), D in eval mode (spectral norm then reuses one power iteration)."""
    obj = losses.get(name)
    torch.manual_seed(seed)
    G, D = models_for(obj, **(cfg | {"num_classes": real.num_classes} | kw))
    for m in D.modules():
        if isinstance(m, nn.LeakyReLU):
            m.inplace = False
    return obj, G.double().to(dev), D.double().to(dev).eval()


obj, G, D = float64_models(objective)
x_hat = G(z).detach()
p = D(x)
rows = []
gen = torch.Generator().manual_seed(seed + 2)
for loss_name, loss_fn in [
    ("L_D", lambda ph: obj.loss_d(p, ph)["total"]),
    ("L_G", lambda ph: obj.loss_g(p, ph).mean()),
]:
    xh = x_hat.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_fn(D(xh)), xh)
    for _ in range(3):
        v = torch.randn(x_hat.shape, generator=gen, dtype=torch.float64).to(dev)
        eps = 1e-7  # small enough that no LeakyReLU kink lies within ±eps; round-off ~1e-9
        with torch.no_grad():
            fd = (loss_fn(D(x_hat + eps * v)) - loss_fn(D(x_hat - eps * v))) / (2 * eps)
        ad = (grad * v).sum()
        rows.append(
            {
                "loss": loss_name,
                "autograd": ad.item(),
                "central difference": fd.item(),
                "relative error": abs(ad.item() - fd.item()) / abs(ad.item()),
            }
        )
display(
    Markdown(
        markdown_table(
            rows,
            formats={
                "autograd": "{:.10f}",
                "central difference": "{:.10f}",
                "relative error": "{:.1e}",
            },
        )
    )
)
glue("fd_max_err", max(r["relative error"] for r in rows), display=False)

# %% [markdown]
# Autograd and central differences (step $10^{-7}$) agree to {glue:text}`fd_max_err:.1e`, the
# truncation and round-off error of the difference quotient: the gradients below are the true ones.

# %% [markdown]
# ## Eq. 7: one ratio per sample, at every layer
#
# We run the fake batch through D layer by layer, keep every layer's output $\hat x_i^l$, and
# compute $\nabla_{\hat x_i^l}\mathcal{L}_G$ and $\nabla_{\hat x_i^l}\mathcal{L}_D$ by autograd.
# Eq. 7 says their element-wise ratio is the same number $\gamma_i$ for every element of every
# layer of sample $i$, and that number is the ratio at D's output,
# $\gamma_i = (\partial\mathcal{L}_G/\partial\hat p_i) / (\partial\mathcal{L}_D/\partial\hat p_i)$
# (what `osgan.scale.per_sample_gamma` computes). We measure the largest relative deviation
# $\max |r - \gamma_i| / |\gamma_i|$ over the elements of each layer, for a D with GroupNorm (the
# paper's) and the same D with BatchNorm (DCGAN's original).

# %% tags=["hide-input"]
# osgan.reference.layer_ratios: plain autograd on a copy of D, real and fake batches apart, D in
# training mode (BatchNorm uses the statistics of the batch it sees, as when training)
layer_rows, ratios = [], {}
for d_norm in ("group", "batch"):
    obj, G, D = float64_models(objective, d_norm=d_norm)
    layers, g = reference.layer_ratios(D, obj, x, G(z).detach(), d_eval=False)
    names = [layer.kind for layer in layers]
    ratios[d_norm] = [(to_numpy(layer.r_min), to_numpy(layer.r_max)) for layer in layers]
    ratios[d_norm + "_gamma"] = to_numpy(g)
    layer_rows += [{"D norm": d_norm, "layer": layer.index, "module": layer.kind,
                    "max |r - gamma| / |gamma|": layer.deviation} for layer in layers]

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.8))
L = len(names)
for i in range(B):
    lo = [ratios["group"][l][0][i] for l in range(L)]
    hi = [ratios["group"][l][1][i] for l in range(L)]
    (line,) = ax0.plot(range(L), lo, "o-", ms=3, lw=1)
    ax0.plot(range(L), hi, "x--", ms=4, lw=0.8, color=line.get_color())
    ax0.axhline(ratios["group_gamma"][i], color=line.get_color(), lw=0.5, alpha=0.5)
ax0.set(
    xticks=range(L),
    xlabel="layer l of D (GroupNorm)",
    ylabel=r"min (o) and max (x) of ratio over elements",
    title=rf"{objective}: ratio per sample and layer; lines: $\gamma_i$",
)
ax0.set_xticklabels(names, rotation=60, fontsize=7)
for d_norm, style in [("group", "o-"), ("batch", "s--")]:
    dev_l = [r["max |r - gamma| / |gamma|"] for r in layer_rows if r["D norm"] == d_norm]
    ax1.semilogy(range(L), np.maximum(dev_l, 1e-17), style, label=f"{d_norm} norm")
ax1.set(
    xticks=range(L),
    xlabel="layer l of D",
    ylabel=r"max $|r - \gamma_i| / |\gamma_i|$",
    title="deviation from Eq. 7 (float64)",
)
ax1.set_xticklabels(names, rotation=60, fontsize=7)
ax1.legend()
fig.tight_layout()
plt.show()
display(Markdown(markdown_table(layer_rows, formats={"max |r - gamma| / |gamma|": "{:.1e}"})))
glue(
    "eq7_group",
    max(r["max |r - gamma| / |gamma|"] for r in layer_rows if r["D norm"] == "group"),
    display=False,
)
glue(
    "eq7_batch",
    max(r["max |r - gamma| / |gamma|"] for r in layer_rows if r["D norm"] == "batch"),
    display=False,
)

# %% [markdown]
# With GroupNorm the ratio is $\gamma_i$ at every layer up to float64 round-off (largest
# deviation {glue:text}`eq7_group:.1e`): the per-sample lines on the left are flat, and the
# minimum and maximum over each layer's elements coincide. With BatchNorm the deviation grows to
# {glue:text}`eq7_batch:.1e` as soon as the backward pass crosses a BatchNorm layer: a BatchNorm
# output depends on every sample of the batch, so sample $i$'s gradient mixes in the others', each
# with its own $\gamma_j$. This is why the paper replaces BatchNorm in D by GroupNorm (Sec. 4.1.2).
# In the output layer, before any normalisation, the ratio is exact for both.

# %% [markdown]
# ## Eq. 8-9: one backward pass gives both gradients, for all ten objectives
#
# `osgan.one_stage_backward` runs G and D forward once and $\mathcal{L}_D$ backward once, and
# scales D's input gradient by $\gamma_i$ on its way into G (Algorithm 1). We compare the
# gradients it leaves in `.grad` with the separate gradients
# $\nabla_{\theta_D}\mathcal{L}_D$ (with $\hat x$ detached) and $\nabla_{\theta_G}\mathcal{L}_G$
# (through a frozen D), for each of the ten objectives of Table 1. Where $\mathcal{L}_D$ splits
# into $\mathcal{L}_D^r + \mathcal{L}_D^f$ we also back-propagate Eq. 9's instance losses
# (`osgan.scale.instance_losses`) and compare their gradients with respect to $\hat x$ with those
# of $\mathcal{L}_D$ and $\mathcal{L}_G$. Errors are relative to the largest gradient entry.


# %% tags=["hide-input"]
eq89_rows = []
for name in losses.names():
    obj, G, D = float64_models(name)
    yy = y if obj.conditional else None
    stats = osgan.one_stage_backward(G, D, obj, x, z, yy)
    one_g, one_d = reference.grads(G), reference.grads(D)
    # the references: D's gradient of L_D with x_hat fixed, G's of L_G through a frozen D
    ref_d, ref_g = reference.reference_grads(G, D, obj, x, z, yy)
    d_in = D if yy is None else (lambda t, D=D, yy=yy: D(t, yy))
    x_hat = (G(z, yy) if obj.conditional else G(z)).detach()
    row = {
        "objective": name,
        "symmetric": obj.symmetric,
        "gamma mean": stats["Gamma/mean"],
        "inactive": stats["Gamma/inactive"],
        "D grad error": reference.rel_err(one_d, ref_d),
        "G grad error": reference.rel_err(one_g, ref_g),
        "Eq. 9 L_D^ins error": None,
        "Eq. 9 L_G^ins error": None,
    }
    if obj.splits:
        xh = x_hat.requires_grad_(True)
        p, p_hat = d_in(x), d_in(xh)
        g = per_sample_gamma(obj, p, p_hat).gamma
        ld_ins, lg_ins = instance_losses(obj, p, p_hat, g)
        (d_ins,) = torch.autograd.grad(ld_ins, xh, retain_graph=True)
        (g_ins,) = torch.autograd.grad(lg_ins, xh, retain_graph=True)
        (d_ref,) = torch.autograd.grad(obj.loss_d(p, p_hat)["total"], xh, retain_graph=True)
        (g_ref,) = torch.autograd.grad(obj.loss_g(p, p_hat).mean(), xh)
        row["Eq. 9 L_D^ins error"] = reference.rel_err([d_ins], [d_ref])
        row["Eq. 9 L_G^ins error"] = reference.rel_err([g_ins], [g_ref])
    eq89_rows.append(row)
err_cols = ["D grad error", "G grad error", "Eq. 9 L_D^ins error", "Eq. 9 L_G^ins error"]
display(
    Markdown(
        markdown_table(eq89_rows, formats={c: "{:.1e}" for c in err_cols} | {"inactive": "{:.2f}"})
    )
)
clean = [r for r in eq89_rows if r["inactive"] == 0]
glue("eq89_max", max(r[c] for r in clean for c in err_cols if r[c] is not None), display=False)
glue(
    "eq89_inactive",
    ", ".join(r["objective"] for r in eq89_rows if r["inactive"] > 0) or "none",
    display=False,
)

# %% [markdown]
# For every objective whose fake batch has no inactive sample, the one-stage gradients match the
# separate ones to float64 round-off (largest relative error {glue:text}`eq89_max:.1e`). Objectives
# with inactive samples in this batch: {glue:text}`eq89_inactive`. For those, D's gradient is
# still right but G's is not: the hinge $\max(0, 1 + \hat p_i)$ is flat where $\hat p_i < -1$,
# which a spectrally normalised D reaches already at initialisation; the last section of this
# chapter is about that case. Eq. 9 cannot be written for RelGAN and Fisher GAN, whose
# $\mathcal{L}_D$ does not split into a real and a fake term; back-propagating $\mathcal{L}_D$
# itself and scaling by $\gamma_i$ (what `osgan` does for every objective) still gives the right
# gradients, because only $\partial\mathcal{L}_D/\partial\hat p_i$ enters Eq. 7. D is in eval
# mode here so that SNGAN's spectral norm uses the same weights in every pass.
#
# ## The symmetric case is $\gamma = -1$; $\gamma$ for the ten objectives
#
# For a symmetric objective $\mathcal{L}_G = -\mathcal{L}_D^f$, so Eq. 7 gives $\gamma_i = -1$ and
# Eq. 9 reduces to the symmetric one-stage scheme (Sec. 3.1.3). `osgan.scale.per_sample_gamma` takes that
# shortcut; below, $\gamma$ is computed by autograd from the two losses for every objective, as a
# function of D's output on a fake sample $\hat p$ (with $p = 0$ on the real one), and compared
# with the shortcut.

# %% tags=["hide-input"]
p_hat = torch.linspace(-4, 4, 161, dtype=torch.float64, device=dev)
p = torch.zeros_like(p_hat)
fig, axes = plt.subplots(2, 5, figsize=(13, 5), sharex=True)
gamma_rows = []
for ax, name in zip(axes.flat, losses.names(), strict=True):
    obj = losses.get(name)
    ph = p_hat.clone().requires_grad_(True)
    (dld,) = torch.autograd.grad(obj.loss_d(p, ph)["total"], ph)
    (dlg,) = torch.autograd.grad(obj.loss_g(p, ph).mean(), ph)
    active = dld.abs() > 0
    ratio = torch.where(active, dlg / torch.where(active, dld, torch.ones_like(dld)), torch.nan)
    shortcut = per_sample_gamma(obj, p, p_hat)
    agree = (ratio[active] - shortcut.gamma[active]).abs().max().item()
    gamma_rows.append(
        {
            "objective": name,
            "symmetric": obj.symmetric,
            "gamma min": ratio[active].min().item(),
            "gamma max": ratio[active].max().item(),
            "all gamma < 0": bool((ratio[active] < 0).all()),
            "inactive share of the range": 1 - active.double().mean().item(),
            "|autograd - per_sample_gamma|": agree,
        }
    )
    ax.plot(to_numpy(p_hat), to_numpy(ratio), lw=1.5)
    ax.axhline(0, color="k", lw=0.5)
    ax.axhline(-1, color="grey", lw=0.5, ls=":")
    ax.set_title(f"{name} ({'sym' if obj.symmetric else 'asym'})", fontsize=9)
    ax.set_ylim(-6, 4)
for ax in axes[1]:
    ax.set_xlabel(r"D's output on the fake sample, $\hat p$")
for ax in axes[:, 0]:
    ax.set_ylabel(r"$\gamma$ (Eq. 7)")
fig.suptitle(r"$\gamma$ as a function of $\hat p$, real output $p = 0$; gaps: inactive hinge")
fig.tight_layout()
plt.show()
display(
    Markdown(
        markdown_table(
            gamma_rows,
            formats={
                "|autograd - per_sample_gamma|": "{:.1e}",
                "inactive share of the range": "{:.2f}",
            },
        )
    )
)
glue(
    "gamma_positive",
    ", ".join(r["objective"] for r in gamma_rows if not r["all gamma < 0"]) or "none",
    display=False,
)

# %% [markdown]
# The symmetric objectives are the flat line at $-1$, and autograd agrees with the shortcut. Each
# asymmetric objective has its own curve: $-e^{-\hat p}$ for the non-saturating loss,
# $(\hat p - 1)/\hat p$ for LSGAN, $\hat p / \sigma(\hat p)$ for BGAN. The paper argues that
# $\gamma_i$ is negative because $\mathcal{L}_D^f$ and $\mathcal{L}_G$ compete (Sec. 3.1.3),
# which keeps $1 - \gamma_i$ of Eq. 9 away from zero. That holds for some objectives over the whole
# range but not for all: {glue:text}`gamma_positive` take positive values somewhere on this range
# (the column "all gamma < 0" above), wherever D's output is on the "wrong" side of G's target.
# Chapter {doc}`03_asym` checks how often that happens during training. For the hinge losses
# (GeoGAN, SNGAN) the curve stops where $1 + \hat p < 0$: there D's loss is flat in $\hat p$, and
# the ratio has no value.
#
# ## The inactive hinge, and what `exact=True` does about it
#
# When $\partial\mathcal{L}_D/\partial\hat p_i = 0$ (GeoGAN's and SNGAN's hinge
# $\max(0, 1 + \hat p_i)$ once D is confident, $\hat p_i < -1$), D's backward pass carries
# nothing back to $\hat x_i$, and no $\gamma_i$ can scale nothing into G's gradient
# $\nabla_{\hat x_i}\mathcal{L}_G$, which is not zero. The paper does not discuss this case.
# `osgan` flags such samples as inactive (their $\gamma_i$ is set to 0, so G gets no gradient from
# them) and, with `exact=True`, recovers their G gradient with one extra input-gradient pass of D
# over those samples only. We shift D's output bias so that about half of the fake batch is
# inactive and compare G's gradient with the reference.

# %% tags=["hide-input"]
inactive_rows = []
for exact in (False, True):
    obj, G, D = float64_models("geogan")
    with torch.no_grad():
        D.net[-1].bias -= 1 + D(G(z)).median()  # half of the fake outputs below -1
    stats = osgan.one_stage_backward(G, D, obj, x, z, exact=exact)
    one_g = reference.grads(G)
    _, ref_g = reference.reference_grads(G, D, obj, x, z)
    inactive_rows.append(
        {
            "exact": exact,
            "inactive fraction": stats["Gamma/inactive"],
            "extra D samples": stats.get("Exact/extra_samples", 0.0),
            "G grad error": reference.rel_err(one_g, ref_g),
        }
    )
display(
    Markdown(
        markdown_table(
            inactive_rows,
            formats={
                "G grad error": "{:.1e}",
                "inactive fraction": "{:.2f}",
                "extra D samples": "{:.0f}",
            },
        )
    )
)
glue("inactive_frac", inactive_rows[0]["inactive fraction"], display=False)
glue("inactive_err", inactive_rows[0]["G grad error"], display=False)
glue("exact_err", inactive_rows[1]["G grad error"], display=False)

# %% [markdown]
# With {glue:text}`inactive_frac:.2f` of the fake batch inactive, the plain one-stage step gets
# G's gradient wrong by {glue:text}`inactive_err:.2f` (relative to its largest entry): those
# samples simply drop out of G's update. `exact=True` brings the error down to
# {glue:text}`exact_err:.1e` at the price of one D forward and input-gradient pass over the
# inactive samples. Two-stage training has no such gap, because its stage 2 differentiates
# $\mathcal{L}_G$ directly. Chapter {doc}`03_asym` measures how often it happens during training.
