"""The package's layers import one way: every import of an ``osgan`` module, function-level ones
included, goes to a module of the same layer or one below, with no circle; a function-level import
says why on its line; no module is much over 600 lines. The order is the README's "Layout"."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "osgan"

# lowest first: a module may import from its own layer (without a circle) and the ones below
LAYERS = {
    "base": ["util", "paper", "stats", "plans", "losses", "models", "data", "resnet"],
    "method": ["scale", "reference", "steps", "discriminators", "timing", "check"],
    "infrastructure": ["settings", "checkpoint", "classifiers", "metrics", "metrics.fid",
                       "metrics.domain", "metrics.inception", "layout", "harness", "runkind"],
    "runs": ["training", "ensemble", "dfad_rounds", "dfad", "compare", "evaluate"],
    # reading recorded runs, and the rules a tuned sweep plans its next cells by (Table 2's
    # choice of grid point on validation, the plateau rule): below the sweeps that use them
    "records": ["analysis", "analysis.paired", "analysis.instrument", "analysis.records",
                "analysis.table2_record"],
    "experiments": ["sweeps", "slurm", "sweep", "sweep_command", "bench"],
    "analysis": ["analysis.table1_record", "analysis.efficiency", "table1", "table2"],
    "rendering": ["render", "render.tables", "render.table1_record", "render.table2_record",
                  "render.summary", "render.efficiency", "render.table2_plan", "render.table2_tuning",
                  "forest"],
    "commands": ["cli", "__main__", ""],  # "": the package's __init__
}
LEVEL = {m: i for i, mods in enumerate(LAYERS.values()) for m in mods}
MAX_LINES = 620


def modules():
    for p in sorted(ROOT.rglob("*.py")):
        rel = p.relative_to(ROOT).with_suffix("")
        parts = [x for x in rel.parts if x != "__init__"]
        yield ".".join(parts), p


def imports(path: Path):
    """(imported osgan module, line number, function-level?, the line) for every import."""
    tree = ast.parse(path.read_text())
    lines = path.read_text().splitlines()
    inner = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner |= {id(n) for n in ast.walk(fn) if n is not fn}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "osgan":
            base = node.module.removeprefix("osgan").lstrip(".")
            for a in node.names:
                full = f"{base}.{a.name}".lstrip(".")
                names.append(full if full in LEVEL else base)
        elif isinstance(node, ast.Import):
            names = [a.name.removeprefix("osgan").lstrip(".") for a in node.names
                     if a.name.split(".")[0] == "osgan"]
        for name in names:
            yield name, node.lineno, id(node) in inner, lines[node.lineno - 1]


def test_every_module_has_a_layer():
    assert sorted(m for m, _ in modules()) == sorted(LEVEL)


def test_imports_go_down_or_across_never_up():
    up = [f"{m} ({list(LAYERS)[LEVEL[m]]}) imports {t} ({list(LAYERS)[LEVEL[t]]}), line {n}"
          for m, p in modules() for t, n, _, _ in imports(p) if LEVEL[t] > LEVEL[m]]
    assert up == []


def test_no_import_circle():
    graph = {m: {t for t, *_ in imports(p) if t != m} for m, p in modules()}
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for t in graph[m]:
            if state.get(t) == 1:
                raise AssertionError("import circle: " + " -> ".join(path + [m, t]))
            if t not in state:
                visit(t, path + [m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


def test_function_level_imports_are_few_and_say_why():
    inner = [(m, n, line.strip()) for m, p in modules() for _, n, fn, line in imports(p) if fn]
    assert all("#" in line for _, _, line in inner), [x for x in inner if "#" not in x[2]]
    assert len(inner) <= 6, inner


def test_no_module_is_much_over_600_lines():
    long = {m: n for m, p in modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_every_command_is_named_in_the_usage_line_and_has_its_two_functions():
    # cli's docstring opens with the commands it dispatches; each one's module exposes
    # configure_parser and run (what cli.main calls), so a command added is listed and wired
    import importlib

    from osgan import cli

    usage = cli.__doc__.splitlines()[0]
    listed = usage[usage.index("{") + 1:usage.index("}")].split(",")
    assert listed == list(cli.COMMANDS)
    for module, _ in cli.COMMANDS.values():
        mod = importlib.import_module(module)
        assert callable(mod.configure_parser) and callable(mod.run), module
