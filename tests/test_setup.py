"""The set-up files agree: environment.yml (conda) lists exactly pyproject.toml's requirements."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r.replace(" ", "") for r in
              project["dependencies"] + project["optional-dependencies"]["dev"]}
    listed = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"^\s+- (?!pip:?$|python|-e |conda-forge)(\S+)\s*$", line)
        if m:
            listed[_name(m.group(1))] = m.group(1)
    assert listed == wanted
    assert re.search(r"python>=" + re.escape(project["requires-python"].lstrip(">=")),
                     (ROOT / "environment.yml").read_text())
