"""Which instrument measured a recorded cell: the domain classifier behind its FID (Table 1), or
the LeNet-5 teacher its student distils (Table 2).

A classifier trained on another CPU is another classifier: its weights round differently, and
the difference grows over its training. Measured on the same generator, two such domain
classifiers can disagree by a third on FID (results/README.md, "Instruments"). So a cell is read
with the instrument it was measured with, and a pair one/two is formed within one instrument
only.

The cells carry no hash of their instrument (the pinned code that runs them predates it), but
every one records the instrument's test accuracy (``Eval/domain_acc``, ``teacher_accuracy``),
and the known instruments differ in it. A cell whose accuracy names no known instrument reads
as ``unknown``, and is paired with nothing but another of the same accuracy.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

AMD, XEON = "amd-epyc", "xeon"
XEON_DFAD = "xeon-dfad"  # Table 2 with DFAD's teacher (osgan.plans.TABLE2_DT_TUNING)

# the known instruments, by what they are and their test accuracy on Fashion-MNIST
KNOWN: dict[str, dict[float, str]] = {
    # Table 1's domain classifier (osgan.metrics.domain, "cnn")
    "domain": {0.9072: AMD, 0.9049: XEON},
    # Table 2's teacher (osgan.dfad, LeNet-5)
    "teacher": {0.9054: AMD, 0.9052: XEON, 0.8812: XEON_DFAD},
}

LABEL = {AMD: "AMD EPYC", XEON: "Xeon", XEON_DFAD: "Xeon, DFAD's recipe"}  # in tables

DESCRIPTION = {
    AMD: "trained on an AMD EPYC (2026-11); not frozen, and no other CPU trains it again",
    XEON: "trained on an Intel Xeon with MKL capped at AVX2 (2026-12-04); frozen in "
          "osgan/instruments",
    XEON_DFAD: "the teacher of Table 2 with DFAD's teacher, trained as DFAD's train_teacher.py "
               "on an Intel Xeon with MKL capped at AVX2 (2026-12-04); frozen in "
               "osgan/instruments",
}


def name(kind: str, accuracy: float | None) -> str:
    """The instrument of ``kind`` ("domain" or "teacher") that has ``accuracy``: one of
    :data:`KNOWN`'s names, ``unknown <accuracy>``, or ``none`` when the cell recorded none."""
    if kind not in KNOWN:
        raise ValueError(f"unknown kind of instrument {kind!r}; valid: {', '.join(KNOWN)}")
    if accuracy is None:
        return "none"
    for acc, who in KNOWN[kind].items():
        if abs(accuracy - acc) < 5e-5:  # accuracies are recorded to 4 decimals
            return who
    return f"unknown {accuracy:.4f}"


def of_evals(evals: list[dict[str, Any]]) -> str:
    """The domain classifier of a Table 1 run, from its evaluations (each records the
    classifier's accuracy); ``mixed`` when they name more than one."""
    names = {name("domain", e.get("domain_acc")) for e in evals}
    if not names:
        return "none"
    return names.pop() if len(names) == 1 else "mixed"


def spread_values(path) -> dict[str, str]:
    """The chapters' words for ``results/instruments/spread.json`` (``scripts/instrument_spread.py``:
    final generators measured with domain classifiers of one recipe from several seeds):
    ``inst_seeds`` (how many classifiers), ``inst_range`` (each generator's FID, lowest to
    highest, and the factor between them), ``inst_sd`` (the sd of log FID over the classifiers,
    per generator) and ``inst_record`` (the record's FID of each at the same step, with its
    classifier). "–" where nothing is recorded."""
    keys = ("inst_seeds", "inst_range", "inst_sd", "inst_record")
    if not Path(path).exists():
        return dict.fromkeys(keys, "–")
    d = json.loads(Path(path).read_text())
    runs = sorted(d["spread"])
    fids = {r: [row["FID"] for row in d["rows"] if row["run"] == r] for r in runs}
    seeds = sorted({row["classifier_seed"] for row in d["rows"]})
    rec = {r: d["spread"][r].get("record") for r in runs}
    if not all(math.isfinite(v) for vs in fids.values() for v in vs):
        return dict.fromkeys(keys, "–")

    def named(x: dict) -> str:
        who = DESCRIPTION.get(x["instrument"], x["instrument"]).split(";")[0]
        return f"{x['FID']:.3f} ({who}, {x['domain_acc']:.4f})"

    return {
        "inst_seeds": str(len(seeds)),
        "inst_range": "; ".join(f"{r}: {min(v):.3f} to {max(v):.3f} (x{max(v) / min(v):.2f})"
                                for r, v in fids.items()),
        "inst_sd": ", ".join(f"{r} {d['spread'][r]['sd_log_fid']:.2f}" for r in runs),
        "inst_record": "; ".join(f"{r}: {named(x)}" for r, x in rec.items() if x) or "–",
    }


def _whose(k: str) -> str:
    """"the AMD EPYC's", "the Xeon's (frozen)", or the name itself for an unknown one."""
    if k not in LABEL:
        return k
    return f"the {LABEL[k]}'s" + (" (frozen)" if k == XEON else "")


def space_label(runs: list[dict[str, Any]]) -> str:
    """The feature space of a Table 1 record's finished runs and, where more than one domain
    classifier measured them, which and how many cells each, as Markdown: the space in
    backticks, then "; 2 classifiers of its recipe: the AMD EPYC's 90 cells, the Xeon's (frozen)
    2 cells"."""
    done = [r for r in runs if r["done"] and r["evals"]]
    if not done:
        return "–"
    space = f"`{done[0]['evals'][-1].get('feature_space') or '?'}`"
    counts: dict[str, int] = {}
    for r in done:
        counts[r.get("instrument", "none")] = counts.get(r.get("instrument", "none"), 0) + 1
    if len(counts) < 2:
        return space
    return (f"{space}; {len(counts)} classifiers of its recipe: "
            + ", ".join(f"{_whose(k)} {n} cell{'s' * (n != 1)}"
                         for k, n in sorted(counts.items())))
