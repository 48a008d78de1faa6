"""The introduction's view of the recorded sweeps (``book/intro.md``, staged by
``scripts/build_book.py``): the values its prose places, as MyST substitutions
(:func:`intro_values`), and the tables of Table 2's recorded pairings (:func:`table2_tables`).
The sentences are the introduction's; nothing here states a conclusion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from osgan import bench, plans, sweep
from osgan.analysis import instrument, records, table1_record, table2_record
from osgan.render import table2_plan
from osgan.render import table2_tuning as tuning
from osgan.render.tables import interval, markdown_table, span

MISSING = "not recorded"  # the value of anything the checkout's record does not hold


def _table1_values(results: Path) -> dict[str, str]:
    """The Table 1 record's extent (``t1rec_*``), the update-order test on Fisher GAN
    (``order_*``) and the per-round cost ratio its bench measured (``bench_*``)."""
    out = dict.fromkeys(("t1rec_done", "t1rec_total", "t1rec_steps", "t1rec_plateau_pass",
                         "t1rec_plateau_n", "t1rec_space", "order_cause", "order_n",
                         "order_pairs", "bench_span", "bench_k"), MISSING)
    t1 = results / "table1"
    if not (t1 / "sweep.json").exists():
        return out
    rec = records.load(t1)
    finals = [r["evals"][-1] for r in rec["runs"] if r["done"] and r["evals"]]
    flat = table1_record.plateaus(rec["runs"])
    out |= {"t1rec_done": str(sum(r["done"] for r in rec["runs"])),
            "t1rec_total": str(sweep.total_cells(rec["sweep"]["sweep"], rec["path"])),
            "t1rec_steps": " or ".join(f"{n:,}" for n in sorted({r["steps"] for r in rec["runs"]})),
            "t1rec_plateau_pass": str(sum(p["plateaued"] for p in flat)),
            "t1rec_plateau_n": str(len(flat)),
            "t1rec_space": instrument.space_label(rec["runs"]) if finals else MISSING}
    why = results / "table1_why"
    if (why / "sweep.json").exists():
        order = table1_record.update_order(rec["runs"], records.load(why)["runs"], "fishergan")
        out |= {"order_cause": f"*{order['cause'] if order['n'] else table1_record.NOT_RUN}*",
                "order_n": str(order["n"]),
                "order_pairs": "; ".join(
                    f"{q['at']}: {q['a']} - {q['b']} "
                    + interval(q["a-b"], q["low"], q["high"], "{:+.3f}")
                    for q in order["pairs"]) or "none yet"}
    costs = t1 / "bench" / "bench.json"
    if costs.exists():
        ratios = [c["two"] / c["one"] for c in records.bench_costs(costs).values()
                  if "one" in c and "two" in c]
        if ratios:
            out |= {"bench_span": f"{min(ratios):.2f}x to {max(ratios):.2f}x",
                    "bench_k": str(len(ratios))}
    return out


def _gpu_values(results: Path) -> dict[str, str]:
    """From the recorded GPU timings (:func:`osgan.bench.recorded`, ``recorded_profiles``): the
    devices, two stages' time per round over one stage's (the span of the medians per objective
    and D pass over each recorded grid), and, where a profile is recorded, the same in GPU kernel
    time and the share of a round the GPU is busy (``gpu_*``)."""
    out = dict.fromkeys(("gpu_names", "gpu_span", "gpu_kernel", "gpu_busy"), MISSING)
    grids = [r for r in bench.recorded(results) if bench.is_grid(r.rows)]
    if not grids:
        return out
    out["gpu_names"] = ", ".join(sorted({r.meta["device_name"] for r in grids}))
    out["gpu_span"] = span([s["S measured median"] for r in grids
                            for s in bench.speedup_summary(r.rows)], "{:.2f}x")
    prof = [row for d in bench.recorded_profiles(results) for row in bench.profile_summary(d)]
    if prof:
        out["gpu_kernel"] = span([row["two/one kernel"] for row in prof], "{:.2f}x")
        out["gpu_busy"] = span([row[f"{s} GPU busy"] for row in prof for s in ("one", "two")],
                               "{:.0%}")
    return out


def _table2_values(results: Path) -> dict[str, str]:
    """Table 2's ablation (``results/table2_why``): its class-by-class reading (``t2why_*``)."""
    out = dict.fromkeys(("t2why_eff", "t2why_rare", "t2why_follows", "t2why_rho",
                         "t2why_pairs"), MISSING)
    reading = table2_record.dfad_classes(
        records.read_optional(results / "table2_why" / "rescore.json"))
    if reading and reading["cells"]:
        out |= {"t2why_eff": f"{min(reading['eff']):.1f} to {max(reading['eff']):.1f}",
                "t2why_rare": ", ".join(reading["rare"]) or "none",
                "t2why_follows": "follows" if reading["follows"] else "does not follow",
                "t2why_rho": f"{reading['spearman']:.2f}", "t2why_pairs": str(reading["pairs"])}
    return out


# the records and plans Table 2 is told by, by the prefix of their values: the newest (t2p), and
# the one it was written beside when that one's level was missed (t2pb)
T2_PLANS = {"t2p": ("table2_cos", plans.TABLE2_COS), "t2pb": ("table2_w32", plans.TABLE2_W32)}


def _table2_plan_values(results: Path) -> dict[str, str]:
    """Where Table 2's plans stand (``t2p_*`` the newest, ``t2pb_*`` the one before,
    :func:`osgan.render.table2_plan.values`): the grid on seed 0, the choice, the level and,
    once reached, the verdict; and per plan where its chosen points ended (``*_chosen_end``,
    :func:`osgan.render.table2_tuning.chosen_end`)."""
    out = {}
    for prefix, (name, plan) in T2_PLANS.items():
        folder = results / name
        r = table2_plan.recorded(folder, plan)
        values = table2_plan.values(r)
        values["t2p_chosen_end"] = MISSING if r is None else tuning.chosen_end(folder)
        out |= {prefix + k.removeprefix("t2p"): v for k, v in values.items()}
    return out


def intro_values(results: str | Path = "results") -> dict[str, str]:
    """Every value the introduction's prose about the recorded sweeps places (its MyST
    substitutions), :data:`MISSING` for each the checkout does not hold."""
    results = Path(results)
    return (_table1_values(results) | _gpu_values(results) | _table2_values(results)
            | _table2_plan_values(results))


def _pair_rows(where: str, paired: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A pairing of one against two (``ablation_pairs``' ``paired``) at the end of the runs and,
    where recorded, at each run's best validation evaluation."""
    return [{"setting": where, "at": p["at"], "n": p["n"], "one": f"{p['one']:.3f}",
             "two": f"{p['two']:.3f}",
             "one - two [95%]": interval(p["one-two"], p["low"], p["high"], "{:+.3f}"),
             "verdict": p["verdict"]}
            for p in paired if p["at"] in ("end", "best on validation")]


def table2_tables(results: str | Path = "results") -> dict[str, str]:
    """Markdown table of Table 2's ablation, one stage against two by seed: ``table2_why``, each
    one-stage point of the ablation against two stages (``results/table2_why``); a line naming
    the command where it is missing. (Table 2 itself is told by its plan's record,
    :mod:`osgan.render.table2_plan`.)"""
    results = Path(results)
    why = results / "table2_why"
    if (why / "sweep.json").exists():
        rows = [row for (pt, two), paired in
                table2_record.ablation_pairs(records.load_dfad(why)["runs"]).items()
                for row in _pair_rows(f"one at `{pt}`, two at `{two}`", paired)]
        return {"table2_why": markdown_table(rows) if rows else "*No pair of the ablation has "
                "finished yet.*"}
    return {"table2_why": "*The ablation is not recorded yet* (`python -m osgan sweep "
            "table2_why`)."}
