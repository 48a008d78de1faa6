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
# # Your own GAN in one stage
#
# One-stage training (Algorithm 1 of {cite:t}`shen2021osgan`) gets G's gradient from D's
# backward pass of $\mathcal{L}_D$, scaled at D's input by the per-sample ratio
#
# $$
# \gamma_i = \frac{\nabla_{\hat{x}_i} \mathcal{L}_G}{\nabla_{\hat{x}_i} \mathcal{L}_D}
# = \frac{\nabla_{\hat{x}_i^L} \mathcal{L}_G}{\nabla_{\hat{x}_i^L} \mathcal{L}_D} . \tag{7}
# $$
#
# Eq. 7 rests on two assumptions about D: every layer treats each sample on its own (Eq. 6), and
# D gives one output per image. Symmetric objectives ($\mathcal{L}_G = -\mathcal{L}_D^f$) need
# neither: $\gamma = -1$ everywhere. Your discriminator may break both: BatchNorm, minibatch
# standard deviation or attention across the batch mix samples; a PatchGAN gives a grid of
# outputs per image, so $\gamma$ varies inside an image. This chapter shows how to find out, with
# `osgan.check_one_stage`, what to do in each case, what each exact mode costs, and how to train
# your own objective (`osgan.losses.custom`) in one stage.

# %% tags=["parameters"]
profile = "auto"  # "full" (CUDA), "quick" (CPU), "smoke" (tests: seconds) or "auto"
device = "auto"  # "auto", "cpu" or "cuda"
seed = 0  # seeds the models, the latents, the real batch and the training run
dataset = "fashion_mnist"  # the real images (any name in osgan.data.DATASETS)
data_root = None  # folder holding the data set's files; None: the default place
runs_dir = None  # where the training run is written, afresh; None: a temporary folder

# %%
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

import osgan
from osgan import data as osdata
from osgan import discriminators, losses, settings
from osgan.check import step_costs
from osgan.models import models_for
from osgan.render.tables import markdown_table

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets: no progress bars

profile = settings.resolve(profile, device)
dev = settings.resolve_device(device)
# the checks are float64 on small models; only the training run and the timings grow
size = {
    "smoke": dict(batch=4, width=4, steps=None, repeats=2, time_width=8, time_batch=8),
    "quick": dict(batch=8, width=8, steps=1000, repeats=10, time_width=32, time_batch=64),
    "full": dict(batch=16, width=16, steps=None, repeats=20, time_width=64, time_batch=128),
}[profile]
torch.manual_seed(seed)
real = osdata.load(dataset, "test", data_root=data_root, image_size=32)
x, _ = real.sample(size["batch"], generator=torch.Generator().manual_seed(seed))
z = torch.randn(size["batch"], 100, generator=torch.Generator().manual_seed(seed + 1))
x, z = x.to(dev), z.to(dev)
print(f"profile={profile} device={dev} dataset={real.name} batch={size['batch']} "
      f"osgan from {osgan.__file__}")

# %% [markdown]
# ## The check: one stage against two separate passes
#
# `osgan.check_one_stage(G, D, objective, x, z)` runs one one-stage step on float64 copies of your
# G and D and compares its parameter gradients with the definition, two separate autograd passes.
# It traces Eq. 7 through every layer of D, names the layer where it breaks, counts the inactive
# hinge outputs, tries the step's other modes and ends in a verdict. Your modules are not touched.
# Here it runs on five discriminators, DCGAN's with GroupNorm (the paper's) and with BatchNorm
# (the original), a PatchGAN, and small ones with minibatch standard deviation and with attention
# across the batch, each with a symmetric (`dcgan`) and an asymmetric (`dcgan_ns`) objective.

# %% tags=["hide-input"]
reports, rows = {}, []
for d_name in discriminators.NAMES:
    for gan in ("dcgan", "dcgan_ns"):
        obj = losses.get(gan)
        torch.manual_seed(seed)
        G, _ = models_for(obj, image_size=32, channels=real.channels, width=size["width"])
        D = discriminators.make(d_name, channels=real.channels, width=size["width"])
        r = osgan.check_one_stage(G.to(dev), D.to(dev), obj, x, z)
        reports[d_name, gan] = r
        rows.append({"D": d_name, "objective": gan, "outputs/image": r.outputs_per_image,
                     "exact": "yes" if r.exact else "**no**", "rel. err grad D": r.rel_err_d,
                     "rel. err grad G": r.rel_err_g, "Eq. 7 breaks at": r.broken_at or "-",
                     "mixes samples": r.mixes_samples})
display(Markdown(markdown_table(rows, formats={"rel. err grad D": "{:.1e}",
                                               "rel. err grad G": "{:.1e}"})))

# %% [markdown]
# Every symmetric case is exact except those where D mixes samples *and* real and fake share one
# pass (the default for a D without BatchNorm): minibatch statistics then mix real with fake,
# which two separate passes never do. For the asymmetric objective, only the per-sample D with
# one output per image is exact with the scale op; the PatchGAN is exact because the step
# switches to `g_grad="extra_pass"` there by default. A full report, for BatchNorm:

# %%
print(reports["batchnorm", "dcgan_ns"])

# %% [markdown]
# The ratio of Eq. 7, layer by layer (D's input is layer 0): flat until the layer that mixes
# samples (BatchNorm, minibatch std, attention), and for the PatchGAN already spread at D's
# output, where each of the image's outputs has its own $\gamma$.

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(7, 3.5))
for d_name in discriminators.NAMES:
    layers = reports[d_name, "dcgan_ns"].layers
    dev_ = np.array([max(lr.deviation, 1e-17) for lr in layers])
    ax.semilogy(np.arange(len(layers)) / (len(layers) - 1), dev_, "o-", label=d_name)
ax.axhline(1e-6, color="grey", lw=0.8, ls="--")
ax.set_xlabel("depth in D (0: input, 1: output)")
ax.set_ylabel(r"max $|r - \gamma_i| / |\gamma_i|$")
ax.set_title("Eq. 7 through D, dcgan_ns (float64)")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## A PatchGAN: one $\gamma$ per image is an approximation
#
# A user who keeps one value of a `(4, 1, 30, 30)` gamma, or their mean, scales all of an image's
# gradient by one number although each output pulls with its own ratio. The check measures the
# error of that per-image mean ($\gamma_i$ averaged over the image's outputs, `g_grad="gamma"`) and
# confirms that `g_grad="extra_pass"`, one extra input-gradient pass of D seeded with
# $\partial\mathcal{L}_G/\partial\hat p$, is exact.

# %% tags=["hide-input"]
patch_rows = []
for gan in ("dcgan", "dcgan_ns", "lsgan", "bgan"):
    obj = losses.get(gan)
    torch.manual_seed(seed)
    G, _ = models_for(obj, image_size=32, channels=real.channels, width=size["width"])
    D = discriminators.make("patch", channels=real.channels, width=size["width"])
    r = osgan.check_one_stage(G.to(dev), D.to(dev), obj, x, z, g_grad="gamma")
    e = r.alternatives.get("g_grad='extra_pass'", (r.rel_err_d, r.rel_err_g))
    patch_rows.append({"objective": gan, "symmetric": obj.symmetric,
                       "mean gamma: rel. err grad G": r.rel_err_g, "extra_pass: rel. err grad G": e[1]})
display(Markdown(markdown_table(patch_rows, fmt="{:.1e}")))

# %% [markdown]
# ## Your own objective
#
# `osgan.losses.custom(name, loss_d, loss_g)` builds an objective from two functions of D's
# outputs `p = D(x)` and `p_hat = D(G(z))`: `loss_d` returns the per-output terms
# $(\mathcal{L}_D^r, \mathcal{L}_D^f)$, `loss_g` the per-output $\mathcal{L}_G$ (no means: osgan
# takes them). Symmetry is detected on random outputs. Here: least squares with targets
# $-1$ (fake) and $1$ (real) for D and $0$ for G, the "boundary" variant of LSGAN
# {cite:p}`mao2017lsgan`, asymmetric with $\gamma_i = \hat p_i / (\hat p_i + 1)$.

# %%
ls = losses.custom(
    "ls_boundary",
    loss_d=lambda p, p_hat: (0.5 * (p - 1) ** 2, 0.5 * (p_hat + 1) ** 2),
    loss_g=lambda p, p_hat: 0.5 * p_hat**2,
)
torch.manual_seed(seed)
G, D = models_for(ls, image_size=32, channels=real.channels, width=size["width"])
print(ls)
print(osgan.check_one_stage(G.to(dev), D.to(dev), ls, x, z).verdict)

# %% [markdown]
# Registered by name, it trains like Table 1's objectives:

# %%
out_dir = runs_dir or tempfile.mkdtemp(prefix="osgan-06-")
overrides = dict(gan="ls_boundary", dataset=dataset, data_root=data_root, seed=seed, device=device,
                 out_dir=f"{out_dir}/ls_boundary", progress=False)
if size["steps"]:
    overrides["steps"] = size["steps"]
result = osgan.train(osgan.TrainConfig.for_profile(profile, **overrides))
steps_, loss_d = [r["step"] for r in result.records], [r["Loss/D"] for r in result.records]
loss_g, gam = [r["Loss/G"] for r in result.records], [r["Gamma/mean"] for r in result.records]
grid = sorted((result.out_dir / "samples").glob("*.png"))[-1]
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
axes[0].plot(steps_, loss_d, label="L_D")
axes[0].plot(steps_, loss_g, label="L_G")
axes[0].legend()
axes[0].set_xlabel("step")
axes[1].plot(steps_, gam)
axes[1].set_xlabel("step")
axes[1].set_ylabel(r"mean $\gamma$")
axes[2].imshow(plt.imread(grid), cmap="gray")
axes[2].axis("off")
axes[2].set_title(f"step {steps_[-1]}, one stage")
fig.tight_layout()
print(f"{steps_[-1]} steps in {result.records[-1]['Time/train']:.1f} s")

# %% [markdown]
# ## What the exact modes cost
#
# Each fix has a price per training round, measured here against the paper's two stages in one
# interleaved run (medians, warm-up discarded; `osgan.check.step_costs`), for an asymmetric hinge
# objective (`geogan`): the scale op alone (`g_grad="gamma"`, Algorithm 1), `exact=True` (an extra
# D pass over the inactive hinge samples only: few or none at initialisation), and
# `g_grad="extra_pass"` (an input-gradient pass of D over the whole batch).

# %% tags=["hide-input"]
tx = torch.rand(size["time_batch"], real.channels, 32, 32, device=dev) * 2 - 1
tz = torch.randn(size["time_batch"], 100, device=dev)
cost_rows = []
for d_name in ("groupnorm", "patch"):
    obj = losses.get("geogan")
    torch.manual_seed(seed)
    G, _ = models_for(obj, image_size=32, channels=real.channels, width=size["time_width"])
    D = discriminators.make(d_name, channels=real.channels, width=size["time_width"])
    t = step_costs(G.to(dev), D.to(dev), obj, tx, tz, repeats=size["repeats"], warmup=1)
    for mode, sec in t.items():
        cost_rows.append({"D": d_name, "mode": mode, "ms / round": 1e3 * sec,
                          "time / two stages": sec / t["two stages"]})
display(Markdown(markdown_table(cost_rows, formats={"ms / round": "{:.1f}",
                                                    "time / two stages": "{:.2f}"})))
fig, ax = plt.subplots(figsize=(7, 3))
labels = [f"{r['D']}: {r['mode']}" for r in cost_rows]
ax.barh(labels, [r["time / two stages"] for r in cost_rows])
ax.axvline(1.0, color="grey", lw=0.8)
ax.axvline(0.75, color="grey", lw=0.8, ls="--")  # Eq. 17: one stage = 3/4 of two
ax.set_xlabel("time per round / two stages (dashed: Eq. 17)")
fig.tight_layout()

# %% [markdown]
# ## What to do
#
# * **Per-sample layers (GroupNorm, LayerNorm, none), one output per image:** exact; nothing to
#   do (the paper's case).
# * **A symmetric objective:** exact with any D whose layers do not mix the batch ($\gamma = -1$).
# * **BatchNorm in D, asymmetric objective:** G's gradient is off. Use GroupNorm, as the paper
#   does, or `g_grad="extra_pass"`.
# * **Minibatch std or attention across the batch:** D's and G's gradients are off, because real
#   and fake share one pass. `fused=False` (symmetric) or `g_grad="extra_pass", fused=False`, or
#   drop the layer.
# * **Several outputs per image (PatchGAN), asymmetric:** exact by default (`g_grad="extra_pass"`);
#   the per-image mean $\gamma$ is an approximation.
# * **Hinge loss with inactive samples** ($\gamma$ undefined, the "$-\infty$" users see): G misses
#   those samples; `exact=True` adds one D pass over the inactive samples only.
#
# When the check says "not exact", its verdict names the first mode that was exact on your
# batch; when none is, train in two stages. The `extra_pass` mode is exact for any D because it
# *is* two-stage's G gradient, taken through the graph of D's pass that one stage already built:
# it saves G's second forward and D's second forward, but pays D's input-gradient backward again.
