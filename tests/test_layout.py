"""The project's structural promises: dependency direction, a light core, no pickles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_library_never_imports_analyses_and_only_cli_reaches_data_loaders():
    offenders = []
    for path in (REPO / "neurocompare").rglob("*.py"):
        imported = _imports(path)
        if "analyses" in imported:
            offenders.append(f"{path.relative_to(REPO)} imports analyses")
        if "data_loaders" in imported and path.name != "cli.py":
            offenders.append(f"{path.relative_to(REPO)} imports data_loaders")
    for path in (REPO / "data_loaders").rglob("*.py"):
        if "analyses" in _imports(path):
            offenders.append(f"{path.relative_to(REPO)} imports analyses")
    assert not offenders, offenders


def test_core_import_does_not_load_torch():
    code = "import sys, neurocompare, neurocompare.data; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_no_pickle_in_library_code():
    for folder in ("neurocompare", "data_loaders"):
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text()
            assert "import pickle" not in text and "allow_pickle=True" not in text, path
