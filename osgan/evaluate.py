"""``python -m osgan fid``: FID/KID of the data's own test split (the floor) or of a trained run.

    python -m osgan fid --reference                  # test split vs train split: the floor
    python -m osgan fid --run RUN_DIR                # a finished run's generator vs the test split
    python -m osgan fid --reference --run RUN_DIR    # both, in one table

Every row of the table names its feature space, sample sizes and reference split. The floor
compares ``n_gen`` test images with ``n_real`` training images, the same sample sizes as a run's
evaluation, because FID's bias depends on them.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from osgan import data, settings, training
from osgan.data import DataNotFound
from osgan.metrics.fid import FEATURE_SPACES, FIDConfig, fid_kid, format_table
from osgan.metrics.inception import InceptionWeightsNotFound
from osgan.util import UsageError, write_json


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reference", action="store_true",
                        help="evaluate the test split against the train split (the floor)")
    parser.add_argument("--run", metavar="RUN_DIR", action="append", default=[],
                        help="evaluate the generator of this finished training run (repeatable)")
    parser.add_argument("--allow-unfinished", action="store_true",
                        help="evaluate a run that has not finished (killed, or still running): "
                        "its latest checkpoint")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON to FILE")
    settings.add_arguments(parser, FIDConfig,
                           choices={"feature_space": tuple(sorted(FEATURE_SPACES))})


def _config(args) -> FIDConfig:
    return FIDConfig(**settings.given(args, FIDConfig))


def _run_row(run_dir: str, cfg: FIDConfig, allow_unfinished: bool = False) -> dict:
    if Path(run_dir).is_dir() and not (Path(run_dir) / "done.json").exists() \
            and (Path(run_dir) / "config.json").exists() and not allow_unfinished:
        raise UsageError(f"--run {run_dir}: the run has not finished (no done.json: killed, or "
                         "still running); resume it, or pass --allow-unfinished to score its "
                         "latest checkpoint")
    try:
        G, run_cfg = training.load_generator(run_dir, device=cfg.device)
    except (ValueError, OSError) as e:
        raise UsageError(f"--run {run_dir}: {e}") from None
    # the run decides the data set and image size it is compared on, and how G is sampled
    cfg = replace(cfg, dataset=run_cfg.dataset, image_size=run_cfg.image_size,
                  data_root=run_cfg.data_root or cfg.data_root)
    sample = training.sampler(G, run_cfg, cfg.device)
    return {"name": f"{run_cfg.gan} {run_cfg.stages}-stage ({Path(run_dir).name})",
            **fid_kid(sample, **vars(cfg))}


def run(args) -> int:
    if not args.reference and not args.run:
        raise UsageError("nothing to evaluate; give --reference and/or --run RUN_DIR")
    cfg = _config(args)  # FIDConfig checks every count before anything is computed
    if args.json and Path(args.json).is_dir():
        raise UsageError(f"--json {args.json} is a folder; give a file name")
    settings.set_threads(cfg.threads)
    rows = []
    try:
        if args.reference:
            test = data.load(cfg.dataset, "test", data_root=cfg.data_root,
                             image_size=cfg.image_size)
            n = min(cfg.n_gen, test.images.shape[0])
            rows.append({"name": "test split (floor)",
                         **fid_kid(test.images, **vars(replace(cfg, split="train", n_gen=n)))})
        for run_dir in args.run:
            rows.append(_run_row(run_dir, cfg, args.allow_unfinished))
    except (InceptionWeightsNotFound, DataNotFound) as e:
        raise UsageError(str(e)) from e
    print(format_table(rows))
    if args.json:
        write_json(args.json, rows)
    return 0
