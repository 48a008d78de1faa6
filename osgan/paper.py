"""The paper's published numbers (its Table 1, Table 2 and Figure 4's speed-ups), as printed,
from the CSV files beside the book (``book/paper``). Nothing here is ours: every use of them in
the book labels them as the paper's."""

from __future__ import annotations

import csv
import math
from pathlib import Path

PAPER_DIR = Path(__file__).resolve().parents[1] / "book" / "paper"


def paper_table(name: str = "table1") -> list[dict[str, object]]:
    """The paper's table ``name`` (``table1``, ``table2``, ``figure4_speedups``) as a list of
    dicts; numeric fields become floats, empty fields ``None``."""
    path = PAPER_DIR / f"{name}.csv"
    if not path.exists():
        valid = sorted(p.stem for p in PAPER_DIR.glob("*.csv"))
        raise ValueError(
            f"no paper table {name!r} in {PAPER_DIR}; choose one of: {', '.join(valid)}"
        )
    with path.open(newline="") as f:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _number(v: str):
    if v == "":
        return None
    try:
        return float(v)
    except ValueError:
        return v


# Table 1 names the objectives like this; osgan.losses uses the lower-case keys
PAPER_NAMES = {
    "dcgan": "DCGAN",
    "cgan": "CGAN",
    "wgan": "WGAN",
    "dcgan_ns": "DCGAN-NS",
    "lsgan": "LSGAN",
    "geogan": "GeoGAN",
    "relgan": "RelGAN",
    "fishergan": "FisherGAN",
    "bgan": "BGAN",
    "sngan": "SNGAN",
}




def table1_ratio(gan: str, dataset: str = "celeba", column: str = "fid") -> float:
    """The paper's one-stage over two-stage value of ``column`` (fid, kid) for ``gan`` on
    ``dataset`` (its Table 1); NaN where the paper has no such entry."""
    rows = {r["stages"]: r for r in paper_table("table1") if r["gan"] == PAPER_NAMES[gan]}
    one, two = (rows.get(st, {}).get(f"{dataset}_{column}") for st in ("one", "two"))
    return one / two if one is not None and two else math.nan
