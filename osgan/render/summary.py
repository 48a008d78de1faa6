"""The introduction's summaries of the recorded sweeps (``book/_verdicts.md``, staged by
``scripts/build_book.py``): what each record is, how far it has run, and its findings as numbers
and verdict values, each labelled with where it comes from."""

from __future__ import annotations

from pathlib import Path

from osgan import bench, dfad, sweep
from osgan.analysis import records, table1_record, table2_record
from osgan.render import table2_record as show2
from osgan.render.table1_record import order_line
from osgan.render.tables import interval, span


def record_summary(results: str | Path = "results", paper_dataset: str = "celeba") -> str:
    """Markdown for the book's introduction: the verdicts of the recorded Table 1 sweep
    (``results/table1``: per objective, seeds, FID one - two with its 95% interval, our verdict
    and the paper's direction) and the per-round cost ratio its bench measured, each labelled
    with where it comes from; a line saying so where nothing is recorded."""

    results = Path(results)
    t1 = results / "table1"
    if not (t1 / "sweep.json").exists():
        return ("*No recorded Table 1 sweep in this checkout* (`python -m osgan sweep table1` "
                "records one); chapters 2 and 3 show their live runs only.")
    rec = records.load(t1)
    rows = table1_record.table1(rec["runs"], paper_dataset=paper_dataset)
    done = sum(r["done"] for r in rec["runs"])
    steps = sorted({r["steps"] for r in rec["runs"]})
    flat = table1_record.plateaus(rec["runs"])
    total = sweep.total_cells(rec["sweep"]["sweep"], rec["path"])
    # the verdicts themselves are the planned analysis's (osgan.table1, drawn above this summary
    # in the introduction); this says what the record is
    out = [f"**The Table 1 record** (`results/table1`): {done} of {total} runs finished; each run "
           f"{' or '.join(f'{n:,}' for n in steps)} steps; {sum(p['plateaued'] for p in flat)} "
           f"of {len(flat)} passed the plateau rule, so the schemes are compared at an equal "
           f"budget, not at convergence; FID in "
           f"`{rows[0]['feature space'] if rows else '-'}`."]
    why = results / "table1_why"
    if (why / "sweep.json").exists():
        order = table1_record.update_order(rec["runs"], records.load(why)["runs"], "fishergan")
        out += ["", "**The order of the updates on Fisher GAN** (`results/table1_why`, chapter 03: "
                "the paper's two-stage round with G's stage on D from before D's update, paired "
                "by seed with the cells above): " + order_line(order)]
    bench = t1 / "bench" / "bench.json"
    if bench.exists():
        ratios = [c["two"] / c["one"] for c in records.bench_costs(bench).values()
                  if "one" in c and "two" in c]
        if ratios:
            out += ["", f"Per round at the sweep's settings on this project's CPU (one thread, "
                    f"timed side by side, `results/table1/bench`), two stages took "
                    f"{min(ratios):.2f}x to {max(ratios):.2f}x as long as one, over "
                    f"{len(ratios)} objectives (Eq. 17 predicts 4/3; the paper measured about 1.5 on a GPU)."]
    gpu = gpu_summary(results)
    if gpu:
        out += ["", gpu]
    return "\n".join(out + ["", dfad_summary(results / "table2"),
                             "", dfad_ablation_summary(results / "table2_why")])


def gpu_summary(results: str | Path) -> str:
    """A line for the introduction from the recorded GPU timings (``osgan.bench.recorded``,
    ``recorded_profiles``): two stages' time per round over one stage's, the median per
    objective and D pass over each recorded grid, and in GPU kernel time where a profile is
    recorded; "" where none is."""

    grids = [r for r in bench.recorded(results) if bench.is_grid(r.rows)]
    if not grids:
        return ""
    med = [s["S measured median"] for r in grids for s in bench.speedup_summary(r.rows)]
    names = sorted({r.meta["device_name"] for r in grids})
    text = (f"Per round on a GPU ({', '.join(names)}, recorded by `scripts/device_check.sh`), "
            f"two stages took {span(med, '{:.2f}x')} as long as one (medians per objective and "
            "D pass over the recorded DCGAN grids)")
    prof = [row for d in bench.recorded_profiles(results) for row in bench.profile_summary(d)]
    if prof:
        kern = [row["two/one kernel"] for row in prof]
        busy = [row[f"{s} GPU busy"] for row in prof for s in ("one", "two")]
        text += (f"; in GPU kernel time {span(kern, '{:.2f}x')}, the GPU being busy for "
                 f"{span(busy, '{:.0%}')} of a round (chapter 04)")
    return text + "."


def dfad_ablation_summary(results: str | Path) -> str:
    """Markdown for the introduction: the recorded ablation of Table 2 (``table2_why``), each
    one-stage point against two stages at the end, paired by seed; a line where none is
    recorded."""

    results = Path(results)
    if not (results / "sweep.json").exists():
        return ("*The ablation of how often one stage moves its generator is not recorded yet* "
                "(`python -m osgan sweep table2_why`).")
    lines = []
    runs = records.load_dfad(results)["runs"]
    for (pt, two), paired in table2_record.ablation_pairs(runs).items():
        if any(p["at"] == "end" for p in paired):
            lines.append(f"* one stage at `{pt}` against two at `{two}`: {_end_and_early(paired)}")
    reading = table2_record.dfad_classes(records.read_optional(results / "rescore.json"))
    if reading and reading["cells"]:
        lines.append(f"* class by class (final checkpoints, `rescore.json`): the generators show "
                     f"the teacher {min(reading['eff']):.1f} to {max(reading['eff']):.1f} of the "
                     "ten classes (effective number)"
                     + (f"; under 2% of every generator's images: {', '.join(reading['rare'])}"
                        if reading["rare"] else "")
                     + "; per class, the students' test accuracy "
                     + ("follows" if reading["follows"] else "does not follow")
                     + f" those shares (Spearman's rho {reading['spearman']:.2f} over "
                     f"{reading['pairs']} cell-class pairs).")
    return ("**How often the generator moves, Table 2's ablation (ours)** (`results/table2_why`; "
            "`every5`: one stage whose generator moves in every fifth round only, the student "
            "in every round; student test accuracy at the end of the runs, and at each run's "
            "best evaluation on the validation split):"
            + ("\n\n" + "\n".join(lines) if lines else " no pair has finished yet."))


def dfad_summary(results: str | Path) -> str:
    """Markdown for the introduction: Table 2's recorded verdict at the end of the runs, one
    stage against two, at each scheme's chosen point and at each published recipe, or a line
    saying what is not recorded yet."""

    results = Path(results)
    if not (results / "sweep.json").exists():
        return "*No recorded Table 2 sweep in this checkout* (`python -m osgan sweep table2`)."
    rec = records.load_dfad(results)
    done, total, _ = show2.progress(rec)
    spec = rec["sweep"]["spec"]
    t2 = table2_record.dfad_table2(rec["runs"], tune_seeds=spec.get("tune_seeds"),
                            grid_rounds=spec.get("rounds"))
    tuned = sweep.tuned_points(rec["sweep"]["sweep"], results)  # schemes whose grid is done
    lines = [] if {"one", "two"} <= set(tuned) else [
        "* at chosen rates: not yet, the grids of "
        + " and ".join(sc for sc in ("one", "two") if sc not in tuned) + " are still running."]
    for where, at in [*([("each scheme at its chosen rates", t2)] if not lines else []),
                      *((f"both at {dfad.HPARAMS[rp].about if rp in dfad.HPARAMS else rp}", a)
                        for rp, a in t2["recipes"].items()  # those the sweep runs now
                        if rp in spec.get("recipes", [rp]))]:
        if any(p["at"] == "end" for p in at["paired"]):
            lines.append(f"* {where}: {_end_and_early(at['paired'])}")
    return (f"**Recorded verdicts, Table 2 on Fashion-MNIST** (`results/table2`, {done} of "
            f"{total} runs finished; student test accuracy at the end of the runs, and at each "
            "run's best evaluation on the validation split, one stage against two paired by "
            "seed; the paper: one stage on par or better):" + ("\n\n" + "\n".join(lines) if lines else
                          " no pair of one- and two-stage runs has finished yet."))


def _end_and_early(paired: list[dict[str, object]]) -> str:
    """One line of a pairing of one against two: at the end of the runs and, where the record
    has validation evaluations, at each run's best of them (early stopping)."""
    parts = []
    for at, words in (("end", "at the end"), ("best on validation", "early-stopped on validation")):
        p = next((p for p in paired if p["at"] == at), None)
        if p:
            parts.append(f"{words}, one {p['one']:.3f}, two {p['two']:.3f}, one - two "
                         + interval(p["one-two"], p["low"], p["high"], "{:+.3f}")
                         + f" (n = {p['n']}): {p['verdict']}")
    return "; ".join(parts) + "."


