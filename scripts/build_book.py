"""Build the book: execute every chapter with papermill, then render with jupyter-book 1.x.

    python scripts/build_book.py [--profile auto|full|quick|smoke] [--device auto|cpu|cuda]
                                 [--only NAME ...] [--no-html] [--force]

1. Stage the book in ``_build/book/``: ``_config.yml``, ``_toc.yml`` and ``book/`` are copied there
   (with the recorded findings the introduction shows, its tables and the values its prose
   places, written from ``results/``),
   MathJax 3 (npm, installed once into ``_build/mathjax``) goes to ``_build/book/_mathjax/mathjax``
   (served as ``_static/mathjax``).
2. Execute each chapter of ``_toc.yml`` under ``notebooks/`` (source ``notebooks/NAME.py.ipynb``)
   with papermill, from the repository root, into ``_build/book/notebooks/NAME.ipynb``. A chapter is
   skipped when a hash of its notebook, of every ``osgan/`` source, of the recorded results under
   ``results/`` (which the chapters show first) and of its parameters equals
   the one stored beside its last successful execution (``NAME.ipynb.sha256``).
3. ``jupyter-book build _build/book -W -n --keep-going`` (execution off: papermill ran it) writes
   ``_build/book/_build/html``.

The sources stay free of outputs; everything executed lives under ``_build/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
STAGE = BUILD / "book"
MATHJAX = BUILD / "mathjax"  # npm prefix: node_modules/mathjax/es5 is what the book serves
MATHJAX_VERSION = "3.2.2"
KERNEL = "python3"  # installed into .venv by `make setup`


def ensure_tool(command: str, debian_package: str) -> str | None:
    """The path of ``command``; when missing, install ``debian_package`` with apt-get if this
    machine allows it (root and apt), as ``make test`` does for the data set."""
    found = shutil.which(command)
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    print(f"{command} missing: installing Debian's {debian_package}", file=sys.stderr, flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", debian_package]
    if subprocess.run(install, **quiet).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], **quiet)
        subprocess.run(install, **quiet)
    return shutil.which(command)


def toc_files(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """The toc's files, in order (``book/intro``, ``notebooks/01_derivation``, ...)."""
    import yaml

    toc = yaml.safe_load(toc_path.read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc.get("parts", toc.get("chapters", [])))
    return files


def chapters() -> list[str]:
    """Names of the notebook chapters in _toc.yml, in order (``notebooks/NAME`` entries)."""
    return [f.split("/", 1)[1] for f in toc_files() if f.startswith("notebooks/")]


def source_hash(notebook: Path, parameters: dict) -> str:
    """sha256 over the notebook, every osgan/ source file, the recorded results and the
    parameters."""
    h = hashlib.sha256()
    h.update(notebook.read_bytes())
    recorded = [p for p in (ROOT / "results").rglob("*") if p.is_file()]
    for path in sorted((ROOT / "osgan").rglob("*.py")) + sorted(recorded):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    h.update(json.dumps(parameters, sort_keys=True).encode())
    return h.hexdigest()


def ensure_mathjax() -> Path:
    """MathJax 3's es5 bundle, installed with npm into _build/mathjax on first use."""
    es5 = MATHJAX / "node_modules" / "mathjax" / "es5"
    if (es5 / "tex-chtml.js").exists():
        return es5
    npm = ensure_tool("npm", "npm")
    if npm is None:
        sys.exit("build_book: npm is needed once to install MathJax (no CDN is used): apt-get "
                 "install npm, or put MathJax 3's es5/ folder in _build/mathjax/node_modules/mathjax/")
    MATHJAX.mkdir(parents=True, exist_ok=True)
    print(f"build_book: installing mathjax@{MATHJAX_VERSION} with npm into {MATHJAX}", flush=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(MATHJAX),
                    f"mathjax@{MATHJAX_VERSION}"], check=True)
    return es5


def stage(es5: Path) -> None:
    """Copy the book's configuration, prose and MathJax into the staging folder."""
    STAGE.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, STAGE / name)
    shutil.copytree(ROOT / "book", STAGE / "book", dirs_exist_ok=True)
    stage_records(ROOT / "results")
    static = STAGE / "_mathjax" / "mathjax"  # served as _static/mathjax (html_static_path)
    if not (static / "tex-chtml.js").exists():
        shutil.copytree(es5, static, dirs_exist_ok=True)


def stage_records(results: Path) -> None:
    """The recorded sweeps for the introduction, read from ``results/`` at every build: Table
    1's planned findings (the forest plot ``book/_table1_forest.png``, the verdict and secondary
    tables ``book/_table1.md``), Table 2's ablation's pairings (``book/_table2_why.md``),
    and every number the introduction's prose places as MyST substitutions in the staged
    ``_config.yml`` (the prose is intro.md's)."""
    import matplotlib

    matplotlib.use("Agg")
    import yaml

    from osgan import forest, plans, table1
    from osgan.analysis import instrument
    from osgan.render import summary
    from osgan.render.tables import markdown_table

    book = STAGE / "book"
    record_dir = results / "table1"
    if (record_dir / "sweep.json").exists():
        f, _ = table1.recorded(record_dir)
        fig = forest.plot_forest(f)
        fig.savefig(book / "_table1_forest.png", dpi=110)
        values = forest.values(f)
        text = ["```{figure} _table1_forest.png", ":alt: Table 1 forest plot", "",
                "Table 1 on Fashion-MNIST under its analysis plan: one stage's domain FID over two "
                "stages', per objective with its 95% interval, the pooled estimate, and the "
                "paper's CelebA ratios (hollow, the paper's).", "```", "",
                markdown_table(forest.verdict_rows(f)), "",
                "**Secondary readings** (one / two [95%], seeds; they never change a verdict):",
                "", markdown_table(forest.secondary_rows(f))]
    else:
        values = {k: "–" for k in forest.values(table1.analyse([], plans.TABLE1))}
        text = ["*No recorded Table 1 sweep in this checkout* (`python -m osgan sweep table1`)."]
    (book / "_table1.md").write_text("\n".join(text) + "\n")
    config_path = STAGE / "_config.yml"
    config = yaml.safe_load(config_path.read_text())
    for name, text in summary.table2_tables(results).items():
        (book / f"_{name}.md").write_text(text + "\n")
    config["parse"]["myst_substitutions"] = (
        values | summary.intro_values(results)
        | instrument.spread_values(results / "instruments" / "spread.json"))
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def execute(name: str, parameters: dict, force: bool) -> str:
    """Run notebooks/NAME.py.ipynb with papermill into the staging folder, unless unchanged."""
    import papermill

    source = ROOT / "notebooks" / f"{name}.py.ipynb"
    out = STAGE / "notebooks" / f"{name}.ipynb"
    stamp = out.with_name(out.name + ".sha256")
    digest = source_hash(source, parameters)
    if not force and out.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return "unchanged"
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source), str(out), parameters=parameters, kernel_name=KERNEL, cwd=str(ROOT),
            progress_bar=False, request_save_on_cell_execute=False,
        )
    except papermill.PapermillExecutionError as e:
        sys.exit(f"build_book: {name} failed in cell {e.exec_count}: {e.ename}: {e.evalue}\n"
                 f"  the executed notebook, with the traceback, is {out}")
    check_executed(name, out)
    stamp.write_text(digest + "\n")
    return f"executed in {time.perf_counter() - t0:.0f} s"


def check_executed(name: str, path: Path) -> None:
    """An executed chapter has no error output and draws at least one figure."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    if any(o.output_type == "error" for o in outputs):
        sys.exit(f"build_book: {name} has an error output: see {path}")
    if not any("image/png" in o.get("data", {}) for o in outputs):
        sys.exit(f"build_book: {name} drew no figure: every chapter draws one (see {path})")


def render() -> Path:
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(STAGE), "--builder", "html",
           "-W", "-n", "--keep-going"]
    subprocess.run(cmd, check=True)
    return STAGE / "_build" / "html" / "index.html"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="auto", help="auto, full, quick or smoke (default: auto)")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    ap.add_argument("--only", nargs="*", default=None, help="execute only these chapters")
    ap.add_argument("--no-html", action="store_true", help="execute only, do not render")
    ap.add_argument("--force", action="store_true", help="re-execute even unchanged chapters")
    args = ap.parse_args(argv)

    os.chdir(ROOT)
    stage(ensure_mathjax())
    names = chapters()
    unknown = set(args.only or ()) - set(names)
    if unknown:
        ap.error(f"unknown chapter(s) {sorted(unknown)}; chapters in _toc.yml: {', '.join(names)}")
    t0 = time.perf_counter()
    for name in names:
        if args.only and name not in args.only:
            continue
        parameters = {"profile": args.profile, "device": args.device}
        print(f"build_book: {name} (profile={args.profile}, device={args.device}) ...", flush=True)
        print(f"build_book: {name}: {execute(name, parameters, args.force)}", flush=True)
    missing = [n for n in names if not (STAGE / "notebooks" / f"{n}.ipynb").exists()]
    if args.no_html:
        return 0
    if missing:
        sys.exit(f"build_book: not executed yet: {', '.join(missing)}; run without --only first")
    index = render()
    print(f"build_book: {index} (total {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
