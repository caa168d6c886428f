"""Generate the pages of the site that follow the code: API reference, datasets, benchmarks, tutorials.

Called by ``conf.py`` before Sphinx reads the sources, so a public name, a dataset or a benchmark
added to the code appears on the site without anyone editing a page. Everything written here is
git-ignored (``docs/.gitignore``); files are rewritten only when their text changes, so Sphinx's
incremental build and myst-nb's execution cache stay valid.
"""

from __future__ import annotations

import importlib
import inspect
import shutil
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent

#: which notebook shows which job (a notebook not listed here still appears, under "More")
JOBS = {
    "Getting started": ["quickstart", "bring_your_own_data"],
    "Scoring a model against recorded data": ["scoring"],
    "Similarity measures": ["similarity"],
    "Predictivity and noise ceilings": ["predictivity"],
    "Datasets": ["datasets"],
    "Training": ["ssl_vs_supervised", "neural_alignment", "colored_mnist"],
    "Model metamers": ["model_metamers", "audio_metamers"],
    "Grid cells": ["grid_cells"],
}

#: licence of each dataset's files, as stated by their source (see ../shared/data/README.md)
LICENCES = {
    "kriegeskorte2008": "MIT (rsatoolbox repository)",
    "cowley2023_v4": "GPL-3.0 (repository)",
    "henaff2021_v1": "none stated",
    "norman_haignere2015": "none stated",
    "sargolini2006": "GPL-3.0 (spatial_patterns repository)",
    "ratinabox_trajectories": "MIT (ratinabox)",
    "gerlei_mec": "none stated",
    "ratgps": "none stated",
    "mnist": "MNIST terms (LeCun, Cortes, Burges)",
}


def write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` only when it differs (keeps mtimes, so builds stay incremental)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)


def _title(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


def _kind(obj) -> str:
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


# ----------------------------------------------------------------------------------------- API
def public_api() -> dict[str, list[str]]:
    """``{module: [public names]}`` for ``neurocompare``'s top level and each subpackage."""
    import neurocompare as nc

    out = {"neurocompare": sorted(n for n in nc.__all__ if n not in nc._SUBPACKAGES and n != "__version__")}
    for sub in nc._SUBPACKAGES:
        mod = importlib.import_module(f"neurocompare.{sub}")
        out[f"neurocompare.{sub}"] = sorted(getattr(mod, "__all__", []))
    return out


def _canonical(name: str) -> str:
    """Where the site documents ``nc.<name>``: in its subpackage when it comes from one."""
    import neurocompare as nc

    source = nc._EXPORTS.get(name, "neurocompare")
    for sub in nc._SUBPACKAGES:
        mod = f"neurocompare.{sub}"
        if source == mod or source.startswith(mod + "."):
            if name in getattr(importlib.import_module(mod), "__all__", []):
                return f"{mod}.{name}"
    return f"neurocompare.{name}"


def documented_objects() -> dict[int, str]:
    """``{id(object): the full name under which the site documents it}`` for every public name."""
    import neurocompare as nc

    out: dict[int, str] = {}
    for module, names in public_api().items():
        mod = importlib.import_module(module)
        for name in names:
            full = f"{module}.{name}"
            if module == "neurocompare" and _canonical(name) != full:
                continue
            out.setdefault(id(getattr(mod, name)), full)
    for sub in nc._SUBPACKAGES:  # the subpackages themselves
        out.setdefault(id(importlib.import_module(f"neurocompare.{sub}")), f"neurocompare.{sub}")
    return out


def lookup(target: str):
    """Import the object a dotted name points to (``neurocompare.similarity._rsa.rsa``), or None."""
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def api_pages() -> None:
    import neurocompare as nc

    api = public_api()
    top = [n for n in api["neurocompare"] if _canonical(n) == f"neurocompare.{n}"]
    reexported = [n for n in api["neurocompare"] if n not in top]
    lines = [
        _title("API reference"),
        "Everything is one name away: ``import neurocompare as nc``. The names below are the "
        "top level (``nc.<name>``); each subpackage, one level down, holds the rest of its topic. "
        "Dims of every array argument are stated in its docstring.\n",
        ".. toctree::\n   :maxdepth: 1\n",
        "   data",
        "   core",
        *[f"   {sub}" for sub in nc._SUBPACKAGES],
        "",
        _title("Defined at the top level", "-"),
        ".. currentmodule:: neurocompare\n",
        ".. autosummary::\n   :toctree: generated\n",
        *[f"   {n}" for n in top],
        "",
        _title("Re-exported from the subpackages", "-"),
        "``nc.<name>`` is the same object as the subpackage's; it is documented there.\n",
        ".. autosummary::\n",
        *[f"   {_canonical(n).removeprefix('neurocompare.')}" for n in reexported],
        "",
    ]
    write(DOCS / "api" / "index.rst", "\n".join(lines))
    write(
        DOCS / "api" / "data.rst",
        _title("The data types: Responses and RDM") + "\n.. automodule:: neurocompare.data\n   :no-members:\n",
    )
    write(
        DOCS / "api" / "core.rst",
        "\n".join([
            _title("Registries, results and type aliases"),
            "The pieces every subpackage builds on: the one registry type, the result vocabulary "
            "(every result has ``value``, ``error``, ``error_kind``, ``ci`` and ``float()``) and the "
            "type aliases used in the public signatures.\n",
            ".. autoclass:: neurocompare.registry.Registry\n   :members:\n",
            ".. automodule:: neurocompare.typing\n   :members:\n",
        ]),
    )
    for sub in nc._SUBPACKAGES:
        mod = f"neurocompare.{sub}"
        names = api[mod]
        body = [
            _title(f"nc.{sub}"),
            f".. automodule:: {mod}\n   :no-members:\n",
            f".. currentmodule:: {mod}\n",
        ]
        if names:
            body += [".. autosummary::\n   :toctree: generated\n", *[f"   {n}" for n in names], ""]
        else:
            body += ["No public names yet.\n"]
        write(DOCS / "api" / f"{sub}.rst", "\n".join(body))


# ------------------------------------------------------------------------------------ datasets
def _size(mod) -> str:
    from data_loaders import get_root

    base = get_root() / mod.FOLDER
    sizes = [(base / rel).stat().st_size for rel in mod.FILES if (base / rel).is_file()]
    if len(sizes) < len(mod.FILES):
        return f"{len(mod.FILES)} files (not all present where the site was built)"
    return f"{len(mod.FILES)} files, {sum(sizes) / 2**20:,.1f} MiB"


def dataset_pages() -> None:
    import data_loaders

    names = list(data_loaders.DATASETS)
    index = [
        _title("Datasets"),
        "Recorded data are read from a data folder (``root=``, ``--data`` or ``NEUROCOMPARE_DATA``); "
        "every file is checked against its sha256. Cite the original paper whenever a result uses a "
        "dataset. To use your own recordings, see :doc:`../tutorials/bring_your_own_data`.\n",
        ".. toctree::\n   :maxdepth: 1\n",
        *[f"   {n}" for n in names],
        "",
    ]
    write(DOCS / "datasets" / "index.rst", "\n".join(index))
    for name in names:
        mod = data_loaders.get_dataset(name)
        loaders = [n for n in getattr(mod, "__all__", []) if n.startswith("load") and callable(getattr(mod, n))]
        body = [
            _title(name),
            f"*{mod.DESCRIPTION}*\n",
            ".. list-table::\n   :widths: 20 80\n",
            f"   * - folder\n     - ``{mod.FOLDER}/``",
            f"   * - source\n     - {mod.URL}",
            f"   * - licence\n     - {LICENCES.get(name, 'see the source')}",
            f"   * - size\n     - {_size(mod)}",
            "   * - citation\n     - " + " ".join(str(mod.CITATION).split()),
            "",
            _title("What the loaders return", "-"),
            f".. automodule:: data_loaders.{name}\n   :no-members:\n",
            f".. currentmodule:: data_loaders.{name}\n",
            *[f".. autofunction:: {fn}\n" for fn in loaders],
        ]
        write(DOCS / "datasets" / f"{name}.rst", "\n".join(body))


# ---------------------------------------------------------------------------------- benchmarks
def benchmark_pages() -> None:
    import data_loaders.benchmarks  # noqa: F401  (registers the named benchmarks)
    import neurocompare as nc

    entries = nc.list_benchmarks()
    families: dict[str, list] = {}
    for e in entries:
        base, _, version = e.identifier.rpartition(".v")
        families.setdefault(base if version.isdigit() else e.identifier, []).append(e)
    index = [
        _title("Benchmarks"),
        "A benchmark binds recorded data, a metric and a noise ceiling under a versioned name; "
        "``nc.score(model, name)`` and ``neurocompare score --benchmark NAME`` run it. A name without "
        "its ``.vN`` suffix means the newest version. Your own benchmark is the same call in your own "
        "module (see :doc:`../tutorials/bring_your_own_data`; the CLI loads it with "
        "``--benchmark-module``).\n",
        ".. list-table::\n   :header-rows: 1\n   :widths: 40 12 12 36\n",
        "   * - benchmark\n     - metric\n     - ceiling\n     - data",
    ]
    for base, es in sorted(families.items()):
        e = es[-1]
        index.append(f"   * - :doc:`{base} <{base}>`\n     - {e.metric}\n     - {e.ceiling or 'none'}\n     - {e.description}")
    index += ["", ".. toctree::\n   :hidden:\n", *[f"   {b}" for b in sorted(families)], ""]
    write(DOCS / "benchmarks" / "index.rst", "\n".join(index))
    for base, es in families.items():
        es = sorted(es, key=lambda e: e.identifier)
        latest = es[-1]
        builder = latest.builder
        body = [
            _title(base),
            f"{latest.description}\n",
            ".. list-table::\n   :widths: 20 80\n",
            f"   * - metric\n     - ``{latest.metric}`` (see :doc:`../guide/which_measure`)",
            f"   * - ceiling\n     - ``{latest.ceiling or 'none'}``",
            f"   * - modality\n     - {getattr(latest, 'modality', 'image')}",
            f"   * - defined in\n     - ``{builder.__module__}.{builder.__name__}``",
            "",
            _title("Version history", "-"),
            *[f"- ``{e.identifier}``: {e.description}" for e in es],
            "",
            _title("Run it", "-"),
            ".. code-block:: bash\n",
            f"   neurocompare score --model convnet_small --benchmark {latest.identifier} --data ../shared/data --out results",
            "",
        ]
        write(DOCS / "benchmarks" / f"{base}.rst", "\n".join(body))


# ----------------------------------------------------------------------------------- tutorials
def tutorial_pages() -> list[str]:
    """Copy ``notebooks/*.ipynb`` into ``docs/tutorials/`` and write its index; returns the stems."""
    target = DOCS / "tutorials"
    target.mkdir(exist_ok=True)
    stems = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))
    for stale in target.glob("*.ipynb"):
        if stale.stem not in stems:
            stale.unlink()
    for stem in stems:
        src, dst = REPO / "notebooks" / f"{stem}.ipynb", target / f"{stem}.ipynb"
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)
    listed = {s for group in JOBS.values() for s in group}
    groups = {job: [s for s in group if s in stems] for job, group in JOBS.items()}
    groups["More studies"] = [s for s in stems if s not in listed]
    lines = [
        _title("Tutorials"),
        "One walk-through per job. Each page is a notebook from ``notebooks/``, executed when the "
        "site was built with small parameters (``NEUROCOMPARE_SMALL=1``) so that its figures are "
        "shown; run it yourself without that variable for the full-size study.\n",
    ]
    for job, group in groups.items():
        if not group:
            continue
        lines += [
            f".. toctree::\n   :maxdepth: 1\n   :caption: {job}\n",
            *[f"   {s}" for s in group],
            "",
        ]
    write(target / "index.rst", "\n".join(lines))
    return stems


def generate() -> None:
    """Write every generated page (called from ``conf.py``)."""
    api_pages()
    dataset_pages()
    benchmark_pages()
    tutorial_pages()
    import _performance  # the performance table from bench/results (docs/_performance.py)

    _performance.write_table()


if __name__ == "__main__":
    generate()
    print(f"generated pages under {DOCS}")
