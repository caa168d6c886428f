"""The project's structural promises: dependency direction, no import cycles, a light core,
argparse only in the CLI, environment read in one place, modules of readable size, no pickles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIBRARY = REPO / "neurocompare"
MAX_LINES = 650  # "about 600": the design card's limit, with a small margin for docstrings


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in LIBRARY.rglob("*.py")}


def _imported_names(path: Path) -> list[str]:
    """Every absolute module path imported anywhere in the file (function-level imports included)."""
    tree = ast.parse(path.read_text())
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.append(module)
            names.extend(f"{module}.{alias.name}" for alias in node.names)
    return names


def _top(names: list[str]) -> set[str]:
    return {n.split(".")[0] for n in names if n}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imported_names(path):
            # the longest prefix that is a module of ours
            parts = imported.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            target = ".".join(parts)
            if target and target != name and target != "neurocompare":
                targets.add(target)
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _is_package_init_edge(a: str, b: str) -> bool:
    """A package's ``__init__`` importing its own submodule, or a submodule its own package."""
    return a.startswith(b + ".") or b.startswith(a + ".")


def test_no_import_cycles_lazy_imports_included():
    graph = _graph()
    # a package __init__ that re-exports its submodules is the package's table of contents, not a
    # cycle; every other edge counts, including imports inside functions
    pruned = {a: {b for b in targets if not _is_package_init_edge(a, b)} for a, targets in graph.items()}
    cycles = _cycles(pruned)
    assert not cycles, f"import cycles (each list is one strongly connected set of modules): {cycles}"


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_library_never_imports_analyses_and_only_cli_reaches_data_loaders():
    offenders = []
    for path in LIBRARY.rglob("*.py"):
        imported = _top(_imported_names(path))
        if "analyses" in imported:
            offenders.append(f"{path.relative_to(REPO)} imports analyses")
        if "data_loaders" in imported and "cli" not in path.relative_to(LIBRARY).parts:
            offenders.append(f"{path.relative_to(REPO)} imports data_loaders")
    for path in (REPO / "data_loaders").rglob("*.py"):
        if "analyses" in _top(_imported_names(path)):
            offenders.append(f"{path.relative_to(REPO)} imports analyses")
    assert not offenders, offenders


def test_argparse_only_in_the_cli_package():
    offenders = [
        str(p.relative_to(REPO))
        for p in list(LIBRARY.rglob("*.py")) + list((REPO / "data_loaders").rglob("*.py"))
        if "argparse" in _top(_imported_names(p)) and "cli" not in p.relative_to(REPO).parts
    ]
    assert not offenders, f"argparse outside neurocompare/cli: {offenders}"


def test_environment_read_only_by_the_options_module():
    offenders = []
    for path in list(LIBRARY.rglob("*.py")) + list((REPO / "data_loaders").rglob("*.py")):
        if path.name == "_options.py":
            continue
        text = path.read_text()
        for var in ("NEUROCOMPARE_QUIET", "NEUROCOMPARE_DATA", "NEUROCOMPARE_CACHE", "NEUROCOMPARE_THREADS",
                    "NEUROCOMPARE_SOLVER_THREADS", "NEUROCOMPARE_DEVICE", "NEUROCOMPARE_DTYPE"):
            for line in text.splitlines():
                if var in line and "os.environ" in line and "setdefault" not in line and '] = "1"' not in line:
                    offenders.append(f"{path.relative_to(REPO)}: {line.strip()}")
    assert not offenders, f"read options through neurocompare._options, not os.environ: {offenders}"


def test_modules_are_of_readable_size():
    long = {str(p.relative_to(REPO)): n for p in LIBRARY.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"library modules over {MAX_LINES} lines (split them by concept): {long}"


def test_subpackages_are_one_level_deep():
    deep = [str(p.relative_to(REPO)) for p in LIBRARY.rglob("*.py") if len(p.relative_to(LIBRARY).parts) > 2]
    assert not deep, f"neurocompare/ nests more than one package level: {deep}"


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
