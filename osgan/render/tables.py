"""Formatting the book's chapters share: Markdown tables, intervals, image grids, curves, and
the paper's tables beside ours.

In this implementation we read the paper's published numbers from ``book/paper/*.csv`` in the
repository (copied unchanged from the paper, see ``book/paper/README.md``, :mod:`osgan.paper`);
they are only ever shown beside our own numbers, labelled as the paper's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from osgan.paper import PAPER_NAMES, paper_table


def _cell(v, fmt: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        return fmt.format(float(v))
    return str(v).replace("|", r"\|")


def markdown_table(
    rows: Iterable[Mapping[str, object]],
    columns: Sequence[str] | None = None,
    fmt: str = "{:.3g}",
    formats: Mapping[str, str] | None = None,
) -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (dicts). ``columns`` picks and orders the
    keys (default: the first row's); floats use ``formats[column]`` or ``fmt``; ``None`` and NaN
    print as a dash. Display it in a notebook with ``IPython.display.Markdown``."""
    rows = list(rows)
    if columns is None:
        if not rows:
            raise ValueError("markdown_table needs rows, or columns to print an empty table")
        columns = list(rows[0])
    formats = dict(formats or {})
    head = "| " + " | ".join(str(c).replace("|", r"\|") for c in columns) + " |"
    rule = "| " + " | ".join("---" for _ in columns) + " |"
    body = [
        "| " + " | ".join(_cell(r.get(c), formats.get(c, fmt)) for c in columns) + " |"
        for r in rows
    ]
    return "\n".join([head, rule, *body])


def pm(mean: float, std: float, fmt: str) -> str:
    """``mean ± std``; the mean alone where there is no std (one seed)."""
    return fmt.format(mean) + ("" if math.isnan(std) else " ± " + fmt.format(std).lstrip("+"))


def interval(mean: float, low: float, high: float, fmt: str) -> str:
    """``mean [low, high]``; ``mean [–]`` where there is no interval (one seed)."""
    if math.isnan(low) or math.isnan(high):
        return fmt.format(mean) + " [–]"
    return f"{fmt.format(mean)} [{fmt.format(low)}, {fmt.format(high)}]"


def span(xs: Sequence[float], fmt: str) -> str:
    """``"lo to hi"`` of ``xs`` in ``fmt``, or one value where both read the same."""
    lo, hi = fmt.format(min(xs)), fmt.format(max(xs))
    return lo if lo == hi else f"{lo} to {hi}"


def image_grid(images: Tensor, nrow: int = 8, padding: int = 2) -> np.ndarray:
    """Images ``(B, C, H, W)`` in [-1, 1] -> one ``(rows*(H+p)+p, nrow*(W+p)+p[, 3])`` array in
    [0, 1] for ``plt.imshow`` (grey images come back 2-D: use ``cmap="gray"``)."""
    if images.dim() != 4:
        raise ValueError(f"image_grid expects (B, C, H, W); got shape {tuple(images.shape)}")
    B, C, H, W = images.shape
    if C not in (1, 3):
        raise ValueError(f"image_grid shows 1- or 3-channel images; got {C} channels")
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) / 2).numpy()
    n_rows = math.ceil(B / nrow)
    grid = np.ones(
        (C, n_rows * (H + padding) + padding, nrow * (W + padding) + padding), np.float32
    )
    for k in range(B):
        r, c = divmod(k, nrow)
        top, left = padding + r * (H + padding), padding + c * (W + padding)
        grid[:, top : top + H, left : left + W] = x[k]
    return grid[0] if C == 1 else grid.transpose(1, 2, 0)


def to_numpy(t: Tensor | Sequence[float]) -> np.ndarray:
    """A tensor on any device (or a list) as a float64 NumPy array, for plotting."""
    if torch.is_tensor(t):
        return t.detach().double().cpu().numpy()
    return np.asarray(t, dtype=np.float64)


def plot_curves(results: Sequence[Mapping], metric: str = "FID", ax=None, x: str = "time"):
    """FID or KID of each run (``osgan.compare.run_with_evals`` results) against its training
    time (``x="time"``, seconds) or step (``x="step"``); one-stage runs solid, two-stage dashed.
    The y label names the feature space."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn

    ax = ax or plt.gca()
    colours = {}
    spaces = set()
    for r in results:
        c = colours.setdefault(r["gan"], f"C{len(colours) % 10}")
        xs = [e[x] for e in r["evals"]]
        ys = [e[metric] for e in r["evals"]]
        spaces.update(e["feature_space"] for e in r["evals"])
        style = "o-" if r["stages"] == "one" else "s--"
        ax.plot(xs, ys, style, color=c, ms=4, label=f"{r['gan']}, {r['stages']} stage")
    ax.set_xlabel("training time (s, evaluation excluded)" if x == "time" else "step")
    ax.set_ylabel(f"{metric} in {', '.join(sorted(spaces))}")
    return ax


def show_grids(results: Sequence[Mapping], ncols: int = 2, size: float = 3.2):
    """The last sample grid of each run, titled with its GAN and number of stages."""
    import matplotlib.pyplot as plt  # optional: only where a figure is drawn

    results = [r for r in results if r.get("samples")]
    nrows = max(1, math.ceil(len(results) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, r in zip(axes.flat, results, strict=False):
        ax.imshow(plt.imread(r["samples"]), cmap="gray")
        ax.set_title(f"{r['gan']}, {r['stages']} stage", fontsize=9)
    fig.tight_layout()
    return fig


def paper_table1(names: Iterable[str], dataset: str = "celeba") -> list[dict[str, object]]:
    """Table 1 rows for the objectives ``names`` (``osgan.losses`` keys) on one of the paper's
    data sets (``celeba``, ``lsun_churches``, ``ffhq``), with columns ``gan``, ``stages``,
    ``FID (paper)``, ``KID (paper)``: the paper's numbers, to print beside ours."""
    rows = paper_table("table1")
    if f"{dataset}_fid" not in rows[0]:
        raise ValueError(
            f"Table 1 has no data set {dataset!r}; choose celeba, lsun_churches or ffhq"
        )
    out = []
    for name in names:
        if name not in PAPER_NAMES:
            raise ValueError(f"unknown GAN {name!r}; choose one of: {', '.join(PAPER_NAMES)}")
        for r in rows:
            if r["gan"] == PAPER_NAMES[name]:
                fid, kid = r[f"{dataset}_fid"], r[f"{dataset}_kid"]
                out.append(
                    {
                        "gan": name,
                        "stages": r["stages"],
                        "FID (paper)": None
                        if fid is None
                        else f"{fid:.2f} ± {r[f'{dataset}_fid_std']:.2f}",
                        "KID (paper)": None
                        if kid is None
                        else f"{kid:.3f} ± {r[f'{dataset}_kid_std']:.3f}",
                    }
                )
    return out


def side_by_side(rows: Sequence[Mapping], paper_dataset: str = "celeba") -> list[dict[str, object]]:
    """Our final FID/KID per (gan, stages) (``osgan.compare.final_rows``) beside the paper's
    Table 1 on ``paper_dataset``, in columns that name the data set and feature space of each."""
    paper = {(p["gan"], p["stages"]): p for p in paper_table1(sorted({r["gan"] for r in rows}),
                                                              dataset=paper_dataset)}
    out = []
    for r in rows:
        p = paper.get((r["gan"], r["stages"]), {})
        out.append({"gan": r["gan"], "stages": r["stages"],
                    f"FID ours ({r['feature space']})": r["FID"],
                    "KID ours": r["KID"],
                    f"FID paper ({paper_dataset}, Inception)": p.get("FID (paper)"),
                    "KID paper": p.get("KID (paper)")})
    return out


def stage_verdicts(rows: Sequence[Mapping], paper_dataset: str = "celeba") -> list[dict[str, object]]:
    """Per GAN: is one stage better (lower FID) than two, in our runs and in the paper's Table 1
    on ``paper_dataset``, and do the two agree?"""
    table = {(p["gan"], p["stages"]): p for p in paper_table("table1")}
    ours = {(r["gan"], r["stages"]): r["FID"] for r in rows}
    out = []
    for gan in dict.fromkeys(r["gan"] for r in rows):
        if (gan, "one") not in ours or (gan, "two") not in ours:
            continue
        one, two = table.get((PAPER_NAMES[gan], "one")), table.get((PAPER_NAMES[gan], "two"))
        p_one = one and one[f"{paper_dataset}_fid"]
        p_two = two and two[f"{paper_dataset}_fid"]
        paper_better = None if p_one is None or p_two is None else p_one < p_two
        ours_better = ours[(gan, "one")] < ours[(gan, "two")]
        out.append({"gan": gan, "FID one - two (ours)": ours[(gan, "one")] - ours[(gan, "two")],
                    "one stage better (ours)": ours_better,
                    f"one stage better (paper, {paper_dataset})": paper_better,
                    "agree": None if paper_better is None else ours_better == paper_better})
    return out


