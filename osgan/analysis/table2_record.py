"""Table 2 from a recorded distillation sweep (:mod:`osgan.sweep`, kind "dfad"), as findings:
numbers and verdict values (:func:`osgan.analysis.paired.verdict_higher`: higher accuracy is
better).

Per scheme, the grid point (recipe and learning rates) with the highest validation accuracy at
the end of its runs, averaged over seeds, is chosen; the test split is read only for the chosen
points. The schemes are then compared on the test split, seed by seed (paired): at the end of
their runs, at equal rounds, at equal student updates (a two-stage round updates the student
student_steps times, a one-stage or KD round once), at equal training time (by the bench's round
costs, and by the shorter run's clock of each pair), and at each run's best evaluation on the
validation split (early stopping: an adversarial student's accuracy swings by several points
between evaluations, so the last one is a noisy end).
"""

from __future__ import annotations

from typing import Any

from scipy import stats

from osgan import data
from osgan.analysis.paired import mean_std, paired_interval, verdict_higher
from osgan.analysis.records import at_grid, at_length, round_cost
from osgan.dfad import accuracy_at

RARE = 0.02  # a class under this share of every generator's images is named as rare
FOLLOWS = 0.3  # Spearman's rho above which the students' accuracy follows the classes' shares


# Plateau rule for a distillation run: the best validation accuracy of the last third of its
# evaluations beats the best before it by less than this (accuracy, absolute): a student still
# learning fails it.
ACC_PLATEAU_GAIN = 0.01


# student updates per round
UPDATES = {"one": lambda cfg: 1, "two": lambda cfg: cfg["student_steps"], "kd": lambda cfg: 1}


def choose(runs: list[dict[str, Any]], scheme: str) -> list[dict[str, Any]]:
    """The grid points of ``scheme`` with their mean final validation accuracy over the seeds
    that finished, best first (ties: the first in the record's order)."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        if r["scheme"] == scheme and r["done"] and r["val_accuracy"] is not None:
            by.setdefault(r["point"], []).append(r)
    rows = [{"scheme": scheme, "point": pt, "n": len(rs),
             "val": mean_std([r["val_accuracy"] for r in rs])[0],
             "seeds": sorted(r["seed"] for r in rs)} for pt, rs in by.items()]
    return sorted(rows, key=lambda r: -r["val"])


def _at(run: dict[str, Any], *, round: float | None = None, seconds: float | None = None):
    """Test accuracy of the last evaluation at or before ``round`` (or ``seconds`` of training
    clock); the whole-split final accuracy when that is the run's end."""
    if round is not None and round >= run["rounds"]:
        return run["accuracy"]
    return accuracy_at(run["records"], round=round, seconds=seconds)


def dfad_plateau(run: dict[str, Any]) -> dict[str, Any]:
    """The plateau rule on one distillation run (:data:`ACC_PLATEAU_GAIN`), on its validation
    accuracy (test accuracy where a run has no validation split): ``plateaued``,
    ``best_before`` and ``best_last_third`` (accuracies), ``gain`` (their difference)."""
    key = "Accuracy/val" if all("Accuracy/val" in r for r in run["records"]) else \
        "Accuracy/student"
    cut = 2 * run["rounds"] / 3
    before = [r[key] for r in run["records"] if r["round"] <= cut]
    last = [r[key] for r in run["records"] if r["round"] > cut]
    if not before or not last:
        return {"plateaued": False, "best_before": None, "best_last_third": None, "gain": None}
    b, a = max(before), max(last)
    return {"plateaued": a - b < ACC_PLATEAU_GAIN, "best_before": b, "best_last_third": a,
            "gain": a - b}


def best_val_round(run: dict[str, Any]) -> int | None:
    """The round of ``run``'s evaluation with the highest validation accuracy (the first of
    ties): where early stopping on the validation split would keep the student. None for a run
    without a validation split."""
    rows = [r for r in run["records"] if "Accuracy/val" in r]
    if not rows or len(rows) < len(run["records"]):
        return None
    return max(rows, key=lambda r: (r["Accuracy/val"], -r["round"]))["round"]


def compare_points(runs: list[dict[str, Any]], points: dict[str, str], a: str, b: str,
                   costs: dict[str, float] | None = None) -> dict[str, Any]:
    """``rows`` and ``paired`` of :func:`dfad_table2` for the given point of each scheme."""
    pick = {sc: {r["seed"]: r for r in runs if r["scheme"] == sc and r["point"] == pt
                 and r["done"]} for sc, pt in points.items()}
    rows = []
    for sc, by_seed in pick.items():
        rs = list(by_seed.values())
        if not rs:
            continue
        val, test = mean_std([r["val_accuracy"] for r in rs]), mean_std([r["accuracy"] for r in rs])
        lengths = sorted({r["rounds"] for r in rs})  # several where runs went on to a plateau
        rows.append({"scheme": sc, "point": points[sc], "n": len(rs), "val": val[0],
                     "val std": val[1], "test": test[0], "test std": test[1],
                     "rounds": lengths[0] if len(lengths) == 1 else
                     f"{lengths[0]}-{lengths[-1]}"})
    paired = []
    seeds = sorted(set(pick.get(a, {})) & set(pick.get(b, {})))
    ways = ["end", "equal rounds", "equal student updates"]
    ways += ["equal time (bench)"] if costs and all(round_cost(costs, pick[sc][s]) for sc in (a, b)
                                          for s in seeds) else []
    ways += ["equal time (runs' clock)"]
    ways += ["best on validation"] if all(best_val_round(pick[sc][s]) is not None
                                          for sc in (a, b) for s in seeds) else []
    if seeds:
        for what in ways:
            xa, xb, at = [], [], []
            for s in seeds:
                ra, rb = pick[a][s], pick[b][s]
                if what == "end":
                    pa, pb = dict(round=ra["rounds"]), dict(round=rb["rounds"])
                elif what == "equal rounds":
                    n = min(ra["rounds"], rb["rounds"])
                    pa = pb = dict(round=n)
                elif what == "equal student updates":
                    ua, ub = UPDATES[a](ra["config"]), UPDATES[b](rb["config"])
                    u = min(ra["rounds"] * ua, rb["rounds"] * ub)
                    pa, pb = dict(round=u / ua), dict(round=u / ub)
                elif what == "equal time (bench)":  # rounds x the cost timed side by side
                    ca, cb = round_cost(costs, ra), round_cost(costs, rb)
                    t = min(ra["rounds"] * ca, rb["rounds"] * cb)
                    pa, pb = dict(round=t / ca), dict(round=t / cb)
                elif what == "equal time (runs' clock)":
                    t = min(ra["records"][-1]["Time/train"], rb["records"][-1]["Time/train"])
                    pa = pb = dict(seconds=t)
                else:  # each run at its own best evaluation on the validation split
                    pa, pb = dict(round=best_val_round(ra)), dict(round=best_val_round(rb))
                xa.append(_at(ra, **pa))
                xb.append(_at(rb, **pb))
                at.append(pa)
            m, lo, hi = paired_interval(xa, xb)
            paired.append({"at": what, "n": len(seeds), a: mean_std(xa)[0],
                           f"{a} std": mean_std(xa)[1], b: mean_std(xb)[0],
                           f"{b} std": mean_std(xb)[1], f"{a}-{b}": m, "low": lo, "high": hi,
                           "verdict": verdict_higher(lo, hi, a, b), "points": at})
    return {"rows": rows, "paired": paired}


def dfad_table2(runs: list[dict[str, Any]], a: str = "one", b: str = "two",
                tune_seeds: list[int] | None = None,
                costs: dict[str, float] | None = None,
                grid_rounds: dict[str, int] | None = None) -> dict[str, Any]:
    """Table 2 from a record: ``chosen`` (scheme -> best point by validation accuracy, over
    ``tune_seeds`` only when given: the seeds the whole grid ran on; among the grid's points
    where the scheme has any, as :func:`osgan.sweep.tuned_points` chooses the points it runs on
    every seed, the recipes being reported on their own below),
    ``rows`` (one per scheme: the chosen point, its validation and final test accuracy, mean and
    std over seeds) and ``paired`` (``a`` against ``b`` at their chosen points: at the end, at
    equal rounds, at equal student updates, at equal time, and each run at its best evaluation
    on the validation split (:func:`best_val_round`); mean ± std of each, the paired
    difference a - b with its 95% interval, and the verdict); and ``recipes`` (recipe name ->
    the same ``rows`` and ``paired`` at that shared setting, the same point for every scheme).
    Equal time is by ``costs`` (scheme -> seconds a round, :func:`dfad_round_costs`) when given,
    and always by the runs' own training clock too. ``grid_rounds`` (scheme -> rounds): the
    choice reads every run at the grid's length (:func:`at_grid`), so that a chosen point run
    on to its plateau does not change the choice it came from; the rows and pairs read each
    run at its end."""
    tuning = at_grid([r for r in runs if tune_seeds is None or r["seed"] in tune_seeds],
                     grid_rounds)
    grid = [r for r in tuning if r["config"]["hparams"] == "adam"]
    chosen = {}
    for sc in dict.fromkeys(r["scheme"] for r in runs):
        best = choose(grid, sc) or choose(tuning, sc)  # a recipe only where no grid ran
        if best:
            chosen[sc] = best[0]["point"]
    # a recipe's cells are the same published setting for every scheme (the grid's are "adam")
    recipes = dict.fromkeys(r["point"] for r in runs if r["config"]["hparams"] != "adam")
    out = {"chosen": chosen, **compare_points(runs, chosen, a, b, costs)}
    out["recipes"] = {rp: compare_points(runs, {sc: rp for sc in dict.fromkeys(
        r["scheme"] for r in runs if r["point"] == rp)}, a, b, costs) for rp in recipes}
    return out


def ablation_pairs(runs: list[dict[str, Any]], a: str = "one", b: str = "two",
                   costs: dict[str, float] | None = None
                   ) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every finished point of scheme ``a`` against every finished point of ``b``, paired by
    seed (:func:`compare_points`' ``paired``, at equal time by ``costs`` too where given):
    (point of a, point of b) -> paired rows."""
    done = [r for r in runs if r["done"]]
    points = {sc: list(dict.fromkeys(r["point"] for r in done if r["scheme"] == sc))
              for sc in (a, b)}
    return {(pa, pb): compare_points(done, {a: pa, b: pb}, a, b, costs)["paired"]
            for pb in points[b] for pa in points[a]}


def run_on(runs: list[dict[str, Any]], grid_rounds: dict[str, int] | None
           ) -> list[dict[str, Any]]:
    """What running on past the grid's length showed: per finished run longer than its
    scheme's grid length (a chosen point run on to its plateau), ``name``, ``scheme``, ``seed``,
    ``grid`` (rounds) with ``grid val`` and ``grid test`` there (:func:`at_length`), ``best val``
    and ``best round`` (its best validation evaluation, :func:`best_val_round`), ``rounds``
    with ``val`` and ``test`` at its end, and ``plateaued`` (:func:`dfad_plateau`)."""
    out = []
    for r in runs:
        grid = (grid_rounds or {}).get(r["scheme"])
        if not r["done"] or grid is None or r["rounds"] <= grid:
            continue
        cut, best = at_length(r, grid), best_val_round(r)
        out.append({"name": r["path"].name, "scheme": r["scheme"], "seed": r["seed"],
                    "grid": grid, "grid val": cut["val_accuracy"], "grid test": cut["accuracy"],
                    "best val": None if best is None else next(
                        x["Accuracy/val"] for x in r["records"] if x["round"] == best),
                    "best round": best, "rounds": r["rounds"], "val": r["val_accuracy"],
                    "test": r["accuracy"], "plateaued": dfad_plateau(r)["plateaued"]})
    return sorted(out, key=lambda x: (x["scheme"], x["seed"]))


def dfad_classes(rescore: dict[str, Any] | None, points: dict[str, str] | None = None
                 ) -> dict[str, Any] | None:
    """A DFAD record's class-by-class reading (its ``rescore.json``, :func:`osgan.dfad.diagnose`)
    for the adversarial cells of ``points`` (scheme -> point; every adversarial cell when None):
    ``cells`` (name -> entry), ``eff`` (each cell's effective number of classes shown), ``rare``
    (the names of the classes under :data:`RARE` of every generator's images), ``spearman`` and
    ``p`` (the rank correlation of a class's share of G(z) and the student's test accuracy on it,
    over every (cell, class)), ``follows`` (rho above :data:`FOLLOWS`), ``pairs`` and
    ``rescore`` (the file). None where the record has no rescore."""
    if rescore is None:
        return None
    rs = rescore
    cells = {n: c for n, c in rs["cells"].items() if "class_fractions" in c and (
        points is None or any(n.startswith(f"{sc}-{pt}-seed") for sc, pt in points.items()))}
    share = [f for c in cells.values() for f, a in zip(c["class_fractions"], c["per_class"],
                                                       strict=True) if a is not None]
    acc = [a for c in cells.values() for a in c["per_class"] if a is not None]
    rho, p = stats.spearmanr(share, acc) if len(acc) > 2 else (float("nan"), float("nan"))
    names = data.CLASS_NAMES["fashion_mnist"]
    rare = [names[k] for k in range(len(names))
            if cells and all(c["class_fractions"][k] < RARE for c in cells.values())]
    return {"cells": cells, "eff": [c["classes_eff"] for c in cells.values()], "rare": rare,
            "spearman": float(rho), "p": float(p), "follows": float(rho) > FOLLOWS,
            "pairs": len(acc), "rescore": rs}


def class_gaps(rescore: dict[str, Any] | None, top: int = 2) -> dict[str, Any] | None:
    """Where a DFAD record's data-free students fall short of KD on real images, class by class
    (its ``rescore.json``, :func:`osgan.dfad.diagnose`): per adversarial cell, KD's test accuracy
    on each class (the mean over the KD cells of the same seed) minus the student's. A cell's gap
    is the mean over the ten classes (its gap in accuracy where the test split holds each class
    equally often, as Fashion-MNIST's 1,000 per class). Returns ``classes`` (names), ``kd`` (KD's
    per-class accuracy, averaged over the seeds read), ``gaps`` (cell -> per-class gap),
    ``mean_gap`` (per class, over the cells), ``share`` (per class: its part of the cells' summed
    gap; negative where the students beat KD), ``top`` (the ``top`` classes with the largest
    share), ``top_share``, and for the cell with the highest test accuracy (``best``, ``best_acc``)
    ``best_if``: its accuracy had it matched KD on the ``top`` classes. None where the record has
    no rescore, no KD cell or no adversarial cell with a KD cell of its seed."""
    if rescore is None:
        return None
    cells = rescore["cells"]
    seed_of = lambda name: name.rsplit("-seed", 1)[1]  # noqa: E731
    kd: dict[str, list[list[float]]] = {}
    for name, c in cells.items():
        if name.startswith("kd-"):
            kd.setdefault(seed_of(name), []).append(c["per_class"])
    kd_mean = {s: [sum(col) / len(col) for col in zip(*rows, strict=True)]
               for s, rows in kd.items()}
    gaps = {name: [k - a for k, a in zip(kd_mean[seed_of(name)], c["per_class"], strict=True)]
            for name, c in cells.items()
            if not name.startswith("kd-") and "class_fractions" in c and seed_of(name) in kd_mean}
    if not gaps:
        return None
    n_cls = len(next(iter(gaps.values())))
    total = sum(sum(g) for g in gaps.values())
    per_class = [sum(g[k] for g in gaps.values()) for k in range(n_cls)]
    share = [x / total if total else float("nan") for x in per_class]
    order = sorted(range(n_cls), key=lambda k: -per_class[k])[:top]
    names = data.CLASS_NAMES["fashion_mnist"]
    best = max(gaps, key=lambda n: (cells[n]["accuracy"], n))
    seeds = sorted({seed_of(n) for n in gaps})
    return {"classes": list(names), "gaps": gaps,
            "kd": [sum(kd_mean[s][k] for s in seeds) / len(seeds) for k in range(n_cls)],
            "mean_gap": [x / len(gaps) for x in per_class], "share": share,
            "top": [names[k] for k in order], "top_share": sum(share[k] for k in order),
            "best": best, "best_acc": cells[best]["accuracy"],
            "best_if": cells[best]["accuracy"] + sum(gaps[best][k] for k in order) / n_cls}


def dfad_classes_paired(cells: dict[str, dict], points: dict[str, str], a: str = "one",
                        b: str = "two") -> list[dict[str, Any]]:
    """``a`` against ``b`` at their ``points``, paired by seed, in what the final generators show
    and teach (:func:`dfad_classes`'s ``cells``): for the effective number of classes shown and
    for the student's agreement with the teacher on G(z), each scheme's mean, the mean paired
    difference a - b with its 95% interval, and n. Empty where no seed has both."""
    def by_seed(scheme):
        prefix = f"{scheme}-{points.get(scheme)}-seed"
        return {int(n[len(prefix):]): c for n, c in cells.items()
                if n.startswith(prefix) and n[len(prefix):].isdigit()}

    ca, cb = by_seed(a), by_seed(b)
    seeds = sorted(set(ca) & set(cb))
    if not seeds:
        return []
    out = []
    for key, what in (("classes_eff", "classes shown (effective)"),
                      ("agreement", "student = teacher on G(z)")):
        xa, xb = [ca[s][key] for s in seeds], [cb[s][key] for s in seeds]
        m, lo, hi = paired_interval(xa, xb)
        out.append({"measure": what, "n": len(seeds), a: mean_std(xa)[0], b: mean_std(xb)[0],
                    f"{a} - {b}": m, "low": lo, "high": hi})
    return out


LEVEL = 0.80  # test accuracy at which a data-free student has learnt from its generator (Table 2)


def tuning(runs: list[dict[str, Any]], level: float = LEVEL, seeds: tuple[int, ...] = (0,),
           rescore: dict[str, Any] | None = None, grid_rounds: dict[str, int] | None = None
           ) -> list[dict[str, Any]]:
    """A tuning grid's finished cells on ``seeds`` (osgan.plans.TABLE2_TUNING), one row each:
    scheme, point, its balance weight and output scale, the final validation and test accuracy
    and the rounds they were read after (past the grid's length for a chosen point run on to its
    plateau), whether the test accuracy reaches ``level``, whether the point is its scheme's choice so
    far (:func:`choose`, on validation: the test split chooses nothing; read at the grid's
    length ``grid_rounds`` as the sweep chooses, a chosen point that ran on to its plateau
    included) and ``classes``, the
    effective number of classes its final generator shows the teacher (the record's
    ``rescore.json``, :func:`osgan.dfad.diagnose`; None for kd and for a cell not scored), and
    ``teacher``, the teacher it distilled (:mod:`osgan.analysis.instrument`), and ``machine``,
    where it ran (:func:`osgan.analysis.records.machines`)."""
    scored = (rescore or {}).get("cells", {})
    done = [r for r in runs if r["done"] and r["seed"] in seeds]
    grid = [r for r in done if r["config"]["hparams"] == "adam"]  # the recipes are not chosen
    chosen = {sc: best[0]["point"] for sc in dict.fromkeys(r["scheme"] for r in grid)
              if (best := choose(at_grid(grid, grid_rounds), sc))}
    return [{"scheme": r["scheme"], "point": r["point"],
             "balance": r["config"].get("balance", 0.0), "scale": r["config"].get("g_scale", 1.0),
             "val": r["val_accuracy"], "test": r["accuracy"], "rounds": r["rounds"],
             "reached": r["accuracy"] is not None and r["accuracy"] >= level,
             "chosen": r["point"] == chosen.get(r["scheme"]),
             "classes": scored.get(r["path"].name, {}).get("classes_eff"),
             "teacher": r.get("instrument", "none"),
             "machine": r.get("machine", "unknown")} for r in done]


def best_by_balance(rows: list[dict[str, Any]], schemes: tuple[str, ...] = ("one", "two")
                    ) -> dict[str, dict[float, dict[str, Any]]]:
    """The tuning grid read by the balance weight: per scheme and weight, the row of
    :func:`tuning` with the highest validation accuracy among the grid's Adam points (the
    recipes are not part of the grid's choice; ties go to the first). What the chapter says the
    balance term did; the choice itself is :func:`choose`'s."""
    out: dict[str, dict[float, dict[str, Any]]] = {}
    for r in rows:
        if r["scheme"] not in schemes or not r["point"].startswith("adam") or r["val"] is None:
            continue
        best = out.setdefault(r["scheme"], {})
        if r["balance"] not in best or r["val"] > best[r["balance"]]["val"]:
            best[r["balance"]] = r
    return {sc: dict(sorted(out[sc].items())) for sc in schemes if sc in out}
