"""The public API, pinned: the flat names a user types after ``import neurocompare as nc``, the
subpackages one level deep, the result vocabulary, and every name a docstring's *See Also* cites."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import neurocompare as nc

REPO = Path(__file__).resolve().parents[1]

SUBPACKAGES = ("similarity", "benchmarks", "models", "metamers", "gridcells", "training", "learning", "behavior", "tasks", "audio", "plotting")

# The verbs and nouns of the one sentence (model + stimuli -> activations -> metric -> ceiling ->
# Score) and of its side roads. Adding a public name means adding it here, on purpose.
PINNED = {
    # data
    "make_responses", "check_responses", "make_rdm", "check_rdm", "align", "average_repetitions",
    "split_repetitions", "save", "load",
    # options
    "set_options", "get_options",
    # extraction and models
    "extract", "list_layers", "build_model", "resolve_model",
    # similarity measures, ceilings, statistics
    "rdm", "crossnobis_rdm", "compare_rdms", "rsa", "cka", "cka_linear", "cka_unbiased", "cka_rbf",
    "svcca", "pwcca", "procrustes", "shape_cca", "ridge_predictivity", "pls_predictivity",
    "reverse_predictivity", "split_half_reliability", "rsa_noise_ceiling", "spearman_brown",
    "bootstrap", "permutation_test", "make_splits", "get_metric", "register_metric",
    # scoring
    "Benchmark", "Score", "score", "score_responses", "get_benchmark", "list_benchmarks",
    "register_benchmark",
    # metamers
    "MetamerSynthesis", "synthesize_metamers", "check_validity", "recognizability",
    # grid cells
    "gridness",
    # what training does
    "neural_collapse", "layerwise_collapse", "effective_rank",
    # behaviour
    "BlockHMM", "error_consistency",
    # tasks and time-resolved scoring
    "mental_pong_conditions", "time_resolved_consistency",
    # audio
    "cochleagram", "Cochleagram",
}


def test_pinned_names_are_public_and_resolve():
    missing = sorted(PINNED - set(nc.__all__))
    assert not missing, f"pinned public names missing from nc.__all__: {missing}"
    for name in nc.__all__:
        obj = getattr(nc, name)
        assert obj is not None, name


def test_dir_is_the_public_api():
    listed = set(dir(nc))
    assert set(nc.__all__) <= listed
    assert "importlib" not in listed and "_EXPORTS" not in listed


def test_unknown_attribute_error_suggests_names():
    with pytest.raises(AttributeError, match="cka_linear"):
        nc.cka_linaer  # noqa: B018


def test_measures_are_functions_not_modules():
    for name in ("rsa", "rdm", "cka_linear", "procrustes", "svcca", "ridge_predictivity"):
        assert callable(getattr(nc, name)) and not isinstance(getattr(nc, name), types.ModuleType), name
        assert callable(getattr(nc.similarity, name)), f"nc.similarity.{name} must be the function"


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_subpackages_are_one_level_deep(package):
    mod = getattr(nc, package)
    assert isinstance(mod, types.ModuleType)
    assert mod.__doc__ and mod.__doc__.strip(), f"nc.{package} needs a docstring"
    assert hasattr(mod, "__all__"), f"nc.{package} needs an __all__"
    for name in mod.__all__:
        obj = getattr(mod, name)  # every listed name resolves
        assert not isinstance(obj, types.ModuleType), f"nc.{package}.{name} is a module: public API nests one level only"


def test_top_level_names_match_their_subpackage_objects():
    for name in nc.__all__:
        obj = getattr(nc, name)
        home = getattr(obj, "__module__", "") or ""
        if home.startswith("neurocompare."):
            parts = home.split(".")
            assert len(parts) <= 3, f"{name} lives in {home}"


def _public_objects():
    seen = {}
    for name in nc.__all__:
        seen[f"nc.{name}"] = getattr(nc, name)
    for package in SUBPACKAGES:
        mod = getattr(nc, package)
        for name in mod.__all__:
            seen[f"nc.{package}.{name}"] = getattr(mod, name)
    return seen


def test_results_share_one_vocabulary():
    from neurocompare._result import Result

    result_types = {qual: obj for qual, obj in _public_objects().items()
                    if inspect.isclass(obj) and issubclass(obj, Result)}
    assert {"Score"} <= {q.rsplit(".", 1)[-1] for q in result_types}, sorted(result_types)
    for qual, cls in result_types.items():
        fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set(dir(cls))
        props = {n for n in dir(cls) if isinstance(getattr(cls, n, None), property)}
        for attr in ("value", "error", "error_kind", "ci"):
            assert attr in fields | props, f"{qual} lacks {attr!r}"


_SEE_ALSO = re.compile(r"See Also\n\s*-+\n(.*?)(?:\n\s*\n\s*[A-Z][A-Za-z ]+\n\s*-+\n|\Z)", re.S)


def _resolve(dotted: str, context: types.ModuleType | None):
    dotted = dotted.strip().strip("`~:").removeprefix("func:").removeprefix("class:").strip("`~")
    if not dotted:
        return True
    candidates = [dotted]
    if dotted.startswith("nc."):
        candidates.append("neurocompare." + dotted[3:])
    for cand in candidates:
        head, *rest = cand.split(".")
        roots = []
        if context is not None and hasattr(context, head):
            roots.append(getattr(context, head))
        if hasattr(nc, head):
            roots.append(getattr(nc, head))
        try:
            roots.append(importlib.import_module(head))
        except ImportError:
            pass
        for obj in roots:
            ok = True
            for part in rest:
                if not hasattr(obj, part):
                    try:
                        obj = importlib.import_module(f"{obj.__name__}.{part}")
                        continue
                    except Exception:
                        ok = False
                        break
                obj = getattr(obj, part)
            if ok:
                return True
    return False


def test_every_see_also_name_exists():
    broken = []
    for qual, obj in _public_objects().items():
        doc = inspect.getdoc(obj) or ""
        match = _SEE_ALSO.search(doc)
        if not match:
            continue
        context = inspect.getmodule(obj)
        for line in match.group(1).splitlines():
            if not line.strip() or line.startswith((" ", "\t")):
                continue  # description lines are indented
            for ref in line.split(":")[0].split(","):
                if ref.strip() and not _resolve(ref, context):
                    broken.append(f"{qual}: {ref.strip()}")
    assert not broken, f"See Also names that do not exist: {broken}"


def test_import_is_light_and_lazy():
    code = ("import sys, neurocompare as nc; n = len(nc.__all__); "
            "print('torch' in sys.modules, 'neurocompare.benchmarks' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_notebooks_and_readme_use_only_the_public_doors():
    allowed = re.compile(r"^(import neurocompare as nc|from neurocompare import plotting|import neurocompare\.plotting"
                         r"|from neurocompare\.plotting|import data_loaders|from data_loaders|import analyses|from analyses)")
    offenders = []
    import json

    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        for cell in cells:
            if cell["cell_type"] != "code":
                continue
            for line in "".join(cell["source"]).splitlines():
                text = line.strip()
                if "sys.path" in text:
                    offenders.append(f"{path.name}: {text}")
                if re.match(r"^(from|import) neurocompare", text) and not allowed.match(text):
                    offenders.append(f"{path.name}: {text}")
    readme = (REPO / "README.md").read_text()
    for line in readme.splitlines():
        text = line.strip()
        if re.match(r"^(from|import) neurocompare", text) and not allowed.match(text):
            offenders.append(f"README.md: {text}")
    assert not offenders, offenders
