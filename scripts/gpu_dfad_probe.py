"""A probe for the next plan of Table 2 (seed 0, outside any plan's record; its numbers are in
the closing note of the session that ran it, not in the book): DFAD's own generator and batch
for the LeNet-5 pair (width 64, batch 512) on a GPU, one and two stages, with and without DAFL's
balance term; each worker trains a cell and then diagnoses its final networks (one thread).
On the GPU machine, after scripts/gpu_grid.sh prepare here:
cd _dev && PYTHONPATH=pin/table2_dt:/tmp/site OSGAN_CACHE=cache python3 gpu_dfad_probe.py OUT
[CELL ...] (any prepared sweep's pin/NAME whose code knows teacher_recipe)."""
import json
import sys
from pathlib import Path

import torch

torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False
torch.use_deterministic_algorithms(True, warn_only=True)

CELLS = {  # name: (recipe or None, overrides)
    "two-dfadmnist-b0": ("dfad_mnist", dict(scheme="two", rounds=1000)),
    "one-dfadmnist-b0": ("dfad_mnist", dict(scheme="one", rounds=5000)),
    "two-dfadmnist-b5": ("dfad_mnist", dict(scheme="two", rounds=1000, balance=5.0)),
    "one-dfadmnist-b5": ("dfad_mnist", dict(scheme="one", rounds=5000, balance=5.0)),
    "two-w64-s0.001-g0.003-b5": (None, dict(scheme="two", rounds=1000, lr_s=1e-3, lr_g=3e-3, balance=5.0)),
    "two-w64-s0.003-g0.0003-b5": (None, dict(scheme="two", rounds=1000, lr_s=3e-3, lr_g=3e-4, balance=5.0)),
    "two-w64-s0.003-g0.003-b0": (None, dict(scheme="two", rounds=1000, lr_s=3e-3, lr_g=3e-3)),
    "one-w64-s0.003-g0.0003-b5": (None, dict(scheme="one", rounds=5000, lr_s=3e-3, lr_g=3e-4, balance=5.0)),
    "one-w64-s0.001-g0.0003-b5": (None, dict(scheme="one", rounds=5000, lr_s=1e-3, lr_g=3e-4, balance=5.0)),
    "two-w16-s0.001-g0.003-b5-r3000": (None, dict(scheme="two", rounds=3000, lr_s=1e-3,
                                                  lr_g=3e-3, balance=5.0, g_width=16,
                                                  batch_size=128)),
}


def config(name, root):
    from osgan import dfad
    recipe, kw = CELLS[name]
    base = dict(seed=0, progress=False, g_output="data", nz=100, threads=1,
                out_dir=str(root / name), checkpoint_dir=str(root / "ckpt" / name))
    if recipe:
        return dfad.DFADConfig.for_recipe(recipe, profile="reference", **(base | kw))
    return dfad.DFADConfig.for_profile("reference", **(dict(hparams="adam", g_width=64,
                                                            batch_size=512) | base | kw))


def work(args):
    name, root = args
    from osgan import dfad, runkind, settings
    cfg = config(name, Path(root))
    runkind.run(dfad.DFADKind(), cfg)
    settings.set_threads(1)
    d = dfad.diagnose(cfg.out_dir)
    (Path(cfg.out_dir) / "diagnose.json").write_text(json.dumps(d, indent=1))
    return name


if __name__ == "__main__":
    import multiprocessing
    root = Path(sys.argv[1])
    root.mkdir(parents=True, exist_ok=True)
    names = sys.argv[2:] or list(CELLS)
    for n in names:
        c = config(n, root)
        print(n, c.hparams, c.g_width, c.batch_size, c.lr_s, c.lr_g, c.balance, c.rounds,
              flush=True)
    with multiprocessing.get_context("spawn").Pool(len(names), maxtasksperchild=1) as pool:
        for n in pool.imap_unordered(work, [(n, str(root)) for n in names]):
            print("done", n, flush=True)
