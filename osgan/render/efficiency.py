"""Chapter 04's lead figure from :mod:`osgan.analysis.efficiency`'s findings."""

from __future__ import annotations

from osgan.analysis.efficiency import EQ17, Efficiency


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
