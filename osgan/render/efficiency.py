"""Chapter 04's figures from :mod:`osgan.analysis.efficiency`'s findings: the lead figure
(two stages over one, measured and claimed) and the limit (a round's share of the machine's
matrix-product rate, by size)."""

from __future__ import annotations

from osgan.analysis.efficiency import EQ17, Efficiency, Limit


def plot(f: Efficiency, ax=None):
    """Two stages' time per round over one stage's: each objective on this project's CPU, each
    objective and D pass on the recorded GPU (measured, and as the pass counts predict from the
    parts timed alone), the GPU's kernel time alone, and the paper's Figure 4 (time to a plateau,
    hollow, the paper's); Eq. 17's 4/3 dotted. Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 3.4))
    rows = [(f"CPU per step ({f.cpu_device})", list(f.cpu.values()), "o", "C0", "full"),
            (f"GPU per round ({f.gpu_device})", f.gpu, "o", "C1", "full"),
            ("GPU, pass-count model", f.gpu_model, "D", "C1", "none"),
            ("GPU kernel time", f.kernel, "s", "C2", "full"),
            ("paper, Figure 4 (time to plateau)", list(f.paper.values()), "s", "C3", "none")]
    rows = [r for r in rows if r[1]]
    for y, (_, xs, marker, color, fill) in enumerate(rows):
        ax.plot(xs, [y] * len(xs), marker, color=color, mfc=color if fill == "full" else "none",
                alpha=0.8)
    ax.axvline(1, color="k", lw=0.7)
    ax.axvline(EQ17, color="k", lw=0.7, ls=":")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.set_xlabel("two stages over one (right of 1: one stage faster; dotted: Eq. 17's 4/3)")
    ax.invert_yaxis()
    ax.figure.tight_layout()
    return ax.figure


def point_label(p: dict) -> str:
    """A limit point as the figures and tables name it: size, width, batch, objective, D pass."""
    return (f"{p['image_size']}px w{p['width']} B{p['batch_size']} {p['objective']} "
            f"{'sep.' if p['fused'] == 'separate' else 'fused'}")


LIMIT_FORMATS = {"one GFLOP": "{:.2f}", "one GFLOP/s": "{:.1f}", "one % of matmul": "{:.1f}",
                 "two % of matmul": "{:.1f}", "matmul GFLOP/s": "{:.1f}",
                 "two/one FLOPs": "{:.3f}", "two/one time": "{:.3f}", "Eq. 17": "{:.3f}"}


def limit_rows(limits: list[Limit], labels: list[str]) -> list[dict]:
    """One table row per run and point (formats: :data:`LIMIT_FORMATS`)."""
    return [{"run": lab, "size": f"{p['image_size']}px w{p['width']} B{p['batch_size']}",
             "objective": p["objective"], "D pass": p["fused"],
             "one GFLOP": p["one_gflop"], "one GFLOP/s": p["one_gflop_per_s"],
             "one % of matmul": 100 * p["one_share"], "two % of matmul": 100 * p["two_share"],
             "matmul GFLOP/s": p["matmul_gflop_per_s"], "two/one FLOPs": p["flop_ratio"],
             "two/one time": p["time_ratio"], "Eq. 17": f.eq17}
            for f, lab in zip(limits, labels, strict=True) for p in f.points]


def plot_limit(limits: list[Limit], labels: list[str] | None = None):
    """Left: the share of the float32 matrix product's FLOP rate that a one-stage and a
    two-stage round achieve, one pair of bars per run and point (by size). Right: two stages
    over one at the same points, in FLOPs and in time, beside Eq. 17's 4/3. ``labels`` name the
    runs (default: their device and threads). Returns the figure."""
    import matplotlib.pyplot as plt

    labels = labels or [f"{f.device}, {f.threads} thr." for f in limits]
    pts = [(lab, p) for f, lab in zip(limits, labels, strict=True) for p in f.points]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 0.45 * len(pts) + 1.8), sharey=True,
                                 gridspec_kw={"width_ratios": [3, 2]})
    ys = range(len(pts))
    names = [f"{point_label(p)} ({lab})" for lab, p in pts]
    for dy, scheme, color in ((-0.2, "one", "C0"), (0.2, "two", "C1")):
        ax.barh([y + dy for y in ys], [100 * p[f"{scheme}_share"] for _, p in pts], height=0.38,
                color=color, label=f"{scheme} stage{'s' if scheme == 'two' else ''}")
    ax.set_yticks(list(ys), names)
    ax.set_xlabel("% of the float32 matmul's FLOP rate (same device, threads)")
    ax.legend(fontsize="small")
    bx.plot([p["flop_ratio"] for _, p in pts], ys, "s", color="C2", label="FLOPs")
    bx.plot([p["time_ratio"] for _, p in pts], ys, "o", color="C3", label="time")
    bx.axvline(EQ17, color="k", lw=0.7, ls=":", label="Eq. 17: 4/3")
    bx.axvline(1, color="k", lw=0.7)
    bx.set_xlabel("two stages over one")
    bx.legend(fontsize="small")
    ax.invert_yaxis()
    fig.tight_layout()
    return fig
