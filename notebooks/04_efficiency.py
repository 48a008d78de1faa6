# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
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
# # Efficiency: Eq. 13-17 against measured time
#
# Speed is the paper's headline claim {cite:p}`shen2021osgan`. Sec. 3.2 counts the passes of one
# training round. Each network's work on a batch is split into forward inference
# $\mathcal{T}_{form}$, back-propagation of activation gradients $\mathcal{T}_{back}$ and
# parameter gradients $\mathcal{T}_{para}$, under three assumptions: a real batch costs what a
# fake batch costs (Eq. 10), and forward, backward and parameter gradients cost the same,
# $\mathcal{T}$ (Eq. 11 and Eq. 12). Counting the passes of Fig. 2 then gives, for the usual
# two-stage round,
#
# $$
# \mathcal{T}_{stage1}(z, x) = \mathcal{T}^g(z) + 6\mathcal{T}^d(x), \tag{13}
# $$
#
# (G forward; D forward, backward and parameter gradients on real and on fake samples),
#
# $$
# \mathcal{T}_{stage2}(z, x) = 3\mathcal{T}^g(z) + 2\mathcal{T}^d(x), \tag{14}
# $$
#
# (G forward, backward and parameter gradients; the frozen D forward and backward on fakes),
#
# $$
# \mathcal{T}_{two}(z, x) = 4\mathcal{T}^g(z) + 8\mathcal{T}^d(x), \tag{15}
# $$
#
# and for one stage, where one forward and one backward of each network serve both updates,
#
# $$
# \mathcal{T}_{one}(z, x) = 3\mathcal{T}^g(z) + 6\mathcal{T}^d(x), \tag{16}
# $$
#
# so the per-round speedup is
#
# $$
# S = \frac{\mathcal{T}_{two}}{\mathcal{T}_{one}}
#   = \frac{4\mathcal{T}^g + 8\mathcal{T}^d}{3\mathcal{T}^g + 6\mathcal{T}^d} = \frac{4}{3}, \tag{17}
# $$
#
# whatever the relative cost of G and D. `osgan.timing` drops Eq. 10-12: it *measures* the forward,
# input-gradient and parameter-gradient time of G and of D on the device, and predicts each
# round from the same pass counts. It also models the stronger `reuse` baseline, which keeps
# stage 1's $\hat x$ for stage 2 and saves one G forward ($3\mathcal{T}^g + 8\mathcal{T}^d$), and
# the two Adam steps every scheme takes, which the paper leaves out. Each point of the sweep then
# times the real training rounds of `osgan.steps`, interleaved with the parts, and sets measured
# against predicted.

# %% tags=["parameters"]
profile = "auto"  # "full" (CUDA), "quick" (CPU, minutes), "smoke" (seconds, tests) or "auto"
device = "auto"  # "auto", "cpu" or "cuda"
seed = 0  # seeds the models and the random batches
dataset = "fashion_mnist"  # sets the image channels; timing does not depend on pixel values
data_root = None  # unused here: the bench times random batches of the data set's shape

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from osgan import bench, settings, timing
from osgan.paper import paper_table
from osgan.render import tables

dev = settings.resolve_device(device)
profile = settings.resolve(profile, dev)
channels = 1 if dataset == "fashion_mnist" else 3
cfg = bench.BenchConfig.for_profile(profile, device=str(dev), seed=seed, channels=channels,
                                    out_dir="")
result = bench.run_bench(cfg, command=f"notebooks/04_efficiency.py profile={profile}")
meta = result.meta
print(f"measured now on {meta['device']} ({meta['device_name']}), torch {meta['torch']}, "
      f"{meta['torch_threads']} threads, profile {profile!r}")

# %% [markdown]
# ## The answer, from the record
#
# Per training step on this project's CPU ({glue:text}`eff_cpu_device`, one thread, every
# objective at the Table 1 sweep's settings, timed side by side), two stages took
# **{glue:text}`eff_cpu`** as long as one stage, against Eq. 17's 4/3. Per round on a GPU
# ({glue:text}`eff_gpu_device`, the recorded DCGAN grids), they took **{glue:text}`eff_gpu`**
# (medians per objective and D pass), where the pass counts of Eq. 13-16 predict
# {glue:text}`eff_gpu_model` from the parts timed alone; counted in GPU kernel time alone, they
# took {glue:text}`eff_kernel`. The figure puts these side by side, with the paper's Figure 4
# ratios, which are time to a plateau on a GPU (another quantity: chapters 02 and 03 measure it
# on the Table 1 record). The sections below measure the parts on the machine building this page
# and show the recorded GPU runs in full.

# %% tags=["hide-input"]
from myst_nb import glue

from osgan.analysis import efficiency
from osgan.render import efficiency as efficiency_plot
from osgan.render.tables import span

eff = efficiency.findings()
glue("eff_cpu_device", eff.cpu_device or "not recorded", display=False)
glue("eff_cpu", span(list(eff.cpu.values()), "{:.2f}x") if eff.cpu else "(not recorded)",
     display=False)
glue("eff_gpu_device", eff.gpu_device or "not recorded", display=False)
glue("eff_gpu", span(eff.gpu, "{:.2f}x") if eff.gpu else "(not recorded)", display=False)
glue("eff_gpu_model", span(eff.gpu_model, "{:.2f}x") if eff.gpu_model else "(not recorded)",
     display=False)
glue("eff_kernel", span(eff.kernel, "{:.2f}x") if eff.kernel else "(not recorded)",
     display=False)
efficiency_plot.plot(eff)
plt.show()

# %% [markdown]
# ## How far from the machine's limit
#
# Eq. 13-17 count passes; a pass is work, and the work can be counted. `python -m osgan bench`
# counts each round's floating-point operations with `torch.utils.flop_counter` (the matrix
# products and convolutions of every forward and backward pass, two per multiply-add) and times
# a large float32 matrix product ($2048 \times 2048$ by default) beside the rounds, on the same
# threads and under the same load: the product runs near what the hardware does at its best, so
# the round's FLOP rate over the product's says how far the step is from it. Recorded on this
# project's CPU ({glue:text}`lim_rec_device`), a one-stage round reached
# **{glue:text}`lim_rec_one`** of the product's rate and a two-stage round
# {glue:text}`lim_rec_two`; the page's own build measured {glue:text}`lim_now_one` and
# {glue:text}`lim_now_two` on its own sweep. Counted in FLOPs, two stages do
# {glue:text}`lim_flop_ratio` the work of one, against Eq. 17's 4/3 (the pass counts of
# Eq. 13-16 are counts of work); counted in time, {glue:text}`lim_time_ratio`, since the passes
# do not all run at the same share of the machine's rate.

# %% tags=["hide-input"]
lim_rec = efficiency.recorded_limits()
lim_now = efficiency.limit(result.rows, meta)
lim_all = lim_rec + ([lim_now] if lim_now.points else [])
labels = [f"recorded: {f.device}, {f.threads} thr." for f in lim_rec] + (
    [f"now: {lim_now.device}, {lim_now.threads} thr."] if lim_now.points else [])
for name, fs, key, fmt in (("lim_rec_one", lim_rec, "one_share", "{:.0%}"),
                           ("lim_rec_two", lim_rec, "two_share", "{:.0%}"),
                           ("lim_now_one", [lim_now], "one_share", "{:.0%}"),
                           ("lim_now_two", [lim_now], "two_share", "{:.0%}"),
                           ("lim_flop_ratio", lim_all, "flop_ratio", "{:.3f}x"),
                           ("lim_time_ratio", lim_all, "time_ratio", "{:.2f}x")):
    v = efficiency.limit_values(fs, key)
    glue(name, span(v, fmt) if v else "(not measured)", display=False)
glue("lim_rec_device", ", ".join(sorted({f.cpu for f in lim_rec})) or "not recorded",
     display=False)
if lim_all:
    efficiency_plot.plot_limit(lim_all, labels)
    plt.show()
    display(Markdown(tables.markdown_table(efficiency_plot.limit_rows(lim_all, labels),
                                          formats=efficiency_plot.LIMIT_FORMATS)))
for f in lim_rec:
    display(Markdown(f"Recorded on {f.cpu} ({f.threads} thread(s)), commit `{f.commit[:10]}`: "
                     f"`{f.command}`"))
if not lim_rec:
    display(Markdown("**No limit run is recorded in `results/bench-cpu/limit-*/` yet**; "
                     "`results/README.md` gives the command to record one on a quiet machine."))

# %% [markdown]
# ## Measured now, on this machine
#
# One line per point of the sweep: milliseconds per training round of the three schemes, the
# one-stage throughput, and the speedup of one stage over each two-stage baseline, measured and
# predicted from the measured parts; Eq. 17's 4/3 beside them. `fused` sends real and fake
# samples through D as one batch of $2B$, `separate` as two batches of $B$. The lines after the
# baseline switch on one speed option at a time (channels-last memory, bf16 autocast,
# `torch.compile`, cuDNN autotuning, a host-device synchronisation per step) for every scheme
# alike.

# %%
print(bench.ratio_table(result.rows))

# %% [markdown]
# Medians of interleaved repeats; the book recomputes them at every build, so these numbers are
# this machine's, today. On a CPU the `quick` profile times one thread by the CPU time it uses
# (`clock="cpu"`), so that other load on the machine changes them little; the wall-clock time
# of a multi-threaded run is what `python -m osgan bench --device cpu` measures. A part
# measured as a difference of two medians can come out slightly negative when it is smaller
# than the noise.

# %%
fig, ax = plt.subplots(figsize=(5.5, 4.5))
bench.plot_speedups(result.rows, ax, title=f"{meta['device_name']} ({meta['device_type']})")
plt.show()

# %% [markdown]
# What each speed option buys on the sweep's first point, for each scheme: the baseline's time
# over the option's (above 1: faster). `sync` reads the step's statistics on the host every round.
# Options this device lacks are skipped: cuDNN autotuning on a CPU, and bf16 autocast on a CPU
# whose oneDNN has no bfloat16 kernels. bf16 rounds what a step computes, so the book's runs do
# not use it; its line shows what `python -m osgan train --precision bfloat16` would buy.

# %%
display(Markdown(tables.markdown_table(bench.option_effects(result.rows),
                                      formats={"ms": "{:.1f}", "speedup_over_baseline": "{:.3f}"})))

# %% [markdown]
# ## Where the time goes
#
# The model's prediction for the first point, part by part: each bar stacks the measured cost
# of a part times the number of times the scheme pays it. Eq. 11-12 say the forward,
# backward and parameter-gradient pieces of one network are equal; the measured parts show how
# far that holds on this device. The black marker is the measured round.

# %%
first = result.points[0]
costs = timing.Costs(**first["costs"])
fig, ax = plt.subplots(figsize=(7, 3.5))
for i, scheme in enumerate(timing.SCHEMES):
    left = 0.0
    for j, (part, t) in enumerate(timing.breakdown(costs, scheme).items()):
        ax.barh(i, 1e3 * t, left=left, color=plt.cm.tab20(j), label=part if i == 0 else None)
        left += 1e3 * t
    measured = next(r["measured_s"] for r in result.rows if r["scheme"] == scheme)
    ax.plot(1e3 * measured, i, "k|", markersize=20, mew=2)
ax.set_yticks(range(len(timing.SCHEMES)), timing.SCHEMES)
ax.set_xlabel("ms per round")
ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.0, 0.5))
plt.show()
display(Markdown(tables.markdown_table(
    [{"part": k, "ms": 1e3 * v} for k, v in first["costs"].items()], formats={"ms": "{:.2f}"})))

# %% [markdown]
# Reading the parts: three things separate a measured round from Eq. 17.
#
# * Eq. 11-12 are approximations. The forward, activation-gradient and parameter-gradient parts of
#   one network are not equal on real hardware (the table above lists them), and a fused pass
#   over $2B$ samples need not cost twice a pass over $B$ (Eq. 10 for `dd` against `d`).
#   With the measured parts the pass counts still predict the rounds; the prediction moves away
#   from 4/3 only as far as the parts differ.
# * The two-stage round pays a little less than its count. Stage 1 detaches $\hat x$, so D's
#   first layer computes no gradient with respect to its input, while one stage needs
#   $\nabla_{\hat x}$ and, with a fused pass, also computes the unused input gradient of the real
#   half, which shares one tensor with the fakes. The model measures that input gradient as a
#   part of its own (`dd_in`, paid by one stage only); the paper counts a full
#   back-propagation in stage 1. Stage 2's frozen D records less for autograd than a training
#   forward; the model times stage 2's D pass frozen, as the step runs it.
# * Work outside the networks (the two Adam steps, the losses, $\gamma$, `zero_grad`) is the same
#   in every scheme and pulls every ratio towards 1; the model includes the measured optimizer
#   steps, and the rest is the residual between measured and predicted rounds.
#
# The speed options are measured point after point, not interleaved with the baseline, so on a
# busy machine differences of a few percent between option rows are noise; the ratios within one
# row are measured side by side.

# %% [markdown]
# ## The paper's Section 4.3
#
# The paper's speedups (Sec. 4.3, Figure 4) are a different quantity: the ratio of the
# *wall-clock time to reach a plateau* of FID, two-stage over one-stage, on a Quadro P5000. They
# mix the per-round speedup of Eq. 17 with any difference in the number of rounds each scheme
# needs to converge, which is why they can exceed 4/3. They are shown here as published,
# labelled as the paper's; our measurements above are per round.

# %%
display(Markdown(tables.markdown_table(paper_table("figure4_speedups"))))

# %% [markdown]
# ## Recorded GPU runs
#
# GPU figures come only from runs recorded in `results/` (each file holds the device, the
# library versions and the command that made it) and are shown as recorded, never mixed with the
# CPU figures above. `scripts/device_check.sh` records them on a CUDA machine, together with the
# CUDA tests (`tests/test_cuda.py`: one stage against two passes on the GPU, the GPU against the
# CPU, runs that resume on the GPU and load on a CPU).

# %%
runs = bench.recorded()
if not runs:
    display(Markdown("**No recorded GPU run in `results/` yet.** Record one on a CUDA machine "
                     "with `bash scripts/device_check.sh`."))
for run in runs:
    m = run.meta
    display(Markdown(f"**{m['device_name']}**, torch {m['torch']}, CUDA {m['cuda']}, cuDNN "
                     f"{m['cudnn']}, recorded {m['date']}: `{m['command']}`"))
    print(bench.ratio_table(run.rows))
    display(Markdown(tables.markdown_table(bench.speedup_summary(run.rows), formats={
        k: "{:.3f}" if k.startswith(("S ", "Eq")) else "{:.1f}"
        for k in ("one ms min", "one ms max", "S measured median", "S measured min",
                  "S measured max", "S model median", "Eq. 17")})))
    display(Markdown(tables.markdown_table(
        bench.option_effects(run.rows), formats={"ms": "{:.2f}", "speedup_over_baseline": "{:.3f}"})))
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    bench.plot_speedups(run.rows, ax, title=f"{m['device_name']} (recorded)")
    plt.show()

# %%
# What the recorded grids say, read from them: the range of one-stage round times against the
# range of work over the grid, and the measured speedup against the model's and Eq. 17's.
grids = [r for r in runs if bench.is_grid(r.rows)]
if grids:
    summary = [s for r in grids for s in bench.speedup_summary(r.rows)]
    cfg0 = grids[0].meta["config"]
    work = ((max(cfg0["widths"]) / min(cfg0["widths"])) ** 2
            * (max(cfg0["image_sizes"]) / min(cfg0["image_sizes"])) ** 2
            * max(cfg0["batch_sizes"]) / min(cfg0["batch_sizes"]))
    lo_ms, hi_ms = min(s["one ms min"] for s in summary), max(s["one ms max"] for s in summary)
    med = [s["S measured median"] for s in summary]
    model = [s["S model median"] for s in summary]
    every = ("at every point" if min(s["S measured min"] for s in summary) > 1
             else "at most points")
    paper = [r["speedup"] for r in paper_table("figure4_speedups")]
    glue("gpu_ms", f"{lo_ms:.1f} to {hi_ms:.1f} ms", display=False)
    glue("gpu_work", f"{work:.0f}", display=False)
    glue("gpu_everywhere", "at every point" if eff.gpu_faster_everywhere else "not at every point",
         display=False)
    glue("gpu_med", f"{min(med):.2f}x to {max(med):.2f}x", display=False)
    glue("gpu_model", f"{min(model):.2f}x to {max(model):.2f}x", display=False)
    glue("paper_fig4", f"{min(paper):.1f}x to {max(paper):.1f}x", display=False)
else:  # nothing recorded in this checkout
    for key in ("gpu_ms", "gpu_work", "gpu_everywhere", "gpu_med", "gpu_model", "paper_fig4"):
        glue(key, "(not recorded)", display=False)

# %% [markdown]
# **What the GPU record shows.** On the recorded GPU a one-stage round took {glue:text}`gpu_ms`
# over a grid whose largest point has about {glue:text}`gpu_work` times the convolution
# arithmetic of its smallest (width squared, pixels, batch): the time follows the work far less
# than in proportion, which points to per-kernel costs that do not grow with the size (launches
# from the host). One stage was faster than the paper's two-stage round
# {glue:text}`gpu_everywhere` of the grid, by a median of {glue:text}`gpu_med` per objective and
# D pass, where the pass counts predict {glue:text}`gpu_model` from the parts timed alone and
# Eq. 17 says 4/3. The profile below says where the difference goes. The paper's Figure 4 ratios
# ({glue:text}`paper_fig4` on a Quadro P5000) are time to a plateau, not time per round.


# %% [markdown]
# A round under `torch.profiler` (`scripts/gpu_profile.py`, recorded beside the sweep, at 64x64,
# width 64, batch 64): the wall-clock time of a round, the time the GPU spent running kernels
# in it, and the two-stage over one-stage ratio of each; then every D layout timed side by side
# against the default a CUDA run takes (`osgan.layout.DEFAULTS`).

# %%
for doc in bench.recorded_profiles():
    m = doc["meta"]
    display(Markdown(f"**{m['device_name']}**, torch {m['torch']}, recorded {m['date']}: "
                     f"`{m['command']}`"))
    prof = bench.profile_summary(doc)
    display(Markdown(tables.markdown_table(prof, formats={
        k: "{:.0f}" if k.endswith("kernels") else "{:.2f}" for k in prof[0] if k != "objective"})))
    lays = bench.layout_summary(doc)
    display(Markdown(tables.markdown_table(lays, formats={
        "default ms": "{:.2f}", "fastest ms": "{:.2f}", "default / fastest": "{:.3f}"})))
# the profile's numbers for the paragraph below (eff: the lead section's findings)
glue("prof_busy", tables.span(eff.busy, "{:.0%}") if eff.busy else "(not recorded)",
     display=False)
glue("prof_kernel", tables.span(eff.kernel, "{:.2f}x") if eff.kernel else "(not recorded)",
     display=False)
glue("prof_wall", tables.span(eff.wall, "{:.2f}x") if eff.wall else "(not recorded)",
     display=False)
glue("prof_layout", f"{eff.layout_gap:.1%}", display=False)

# %% [markdown]
# **Where the time goes.** The GPU ran kernels for {glue:text}`prof_busy` of a round and waited
# on the host for the rest. Counted in kernel time, two stages cost {glue:text}`prof_kernel` one
# stage (Eq. 17: 4/3); counted in wall-clock time, {glue:text}`prof_wall`. The default layout was
# within {glue:text}`prof_layout` of the fastest one timed beside it.

