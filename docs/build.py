"""Build the documentation site offline: ``python docs/build.py`` -> ``docs/_build/html``.

Sphinx runs with warnings as errors and nitpicky cross-references; the notebooks under
``notebooks/`` are executed in small mode (``NEUROCOMPARE_SMALL=1``) by myst-nb and cached by their
code in ``docs/_build/.jupyter_cache``, so a second build only re-runs notebooks that changed.

Usage
-----
python docs/build.py                      # the whole site, every notebook executed (cached)
python docs/build.py --execute off        # render notebooks as stored (no outputs), fast
python docs/build.py --only quickstart    # execute only these notebooks; others render as stored
python docs/build.py --out DIR            # write the HTML somewhere else
python docs/build.py --fresh              # re-read every page (after changing how notebooks run)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent


def build(
    out: Path | None = None, *, execute: str = "cache", only: list[str] | None = None, quiet: bool = False, fresh: bool = False
) -> Path:
    """Build the site; returns the HTML folder. Raises ``RuntimeError`` when Sphinx reports a warning.

    Parameters
    ----------
    out : path, optional
        HTML folder (default ``docs/_build/html``).
    execute : {'cache', 'force', 'off'}
        myst-nb execution mode for the notebooks.
    only : list of str, optional
        Notebook stems to execute; the others are rendered as stored (without outputs).
    quiet : bool
        Pass ``-q`` to Sphinx.
    fresh : bool
        Ignore Sphinx's saved environment and read every page again (``-E``); executed notebooks
        still come from the cache when their code is unchanged.
    """
    from sphinx.cmd.build import build_main

    if execute not in ("cache", "force", "off"):
        raise ValueError(f"execute must be one of 'cache', 'force', 'off'; got {execute!r}.")
    out = Path(out) if out is not None else DOCS / "_build" / "html"
    doctrees = out.parent / (out.name + ".doctrees")
    args = ["-b", "html", "-W", "--keep-going", "-n", "-d", str(doctrees), "-D", f"nb_execution_mode={execute}"]
    if only is not None:
        stems = sorted(p.stem for p in (DOCS.parent / "notebooks").glob("*.ipynb"))
        unknown = sorted(set(only) - set(stems))
        if unknown:
            raise ValueError(f"Unknown notebook(s) {unknown}. Available: {', '.join(stems)}.")
        skip = [f"tutorials/{s}.ipynb" for s in stems if s not in only]
        if skip:
            args += ["-D", "nb_execution_excludepatterns=" + ",".join(skip)]
    if quiet:
        args.append("-q")
    if fresh:
        args.append("-E")
    status = build_main([*args, str(DOCS), str(out)])
    if status != 0:
        raise RuntimeError(f"Sphinx failed (exit {status}); the warnings above are errors. Site: {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="HTML folder (default docs/_build/html)")
    parser.add_argument("--execute", choices=("cache", "force", "off"), default="cache")
    parser.add_argument("--only", nargs="+", default=None, metavar="NOTEBOOK", help="execute only these notebooks")
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="read every page again (Sphinx -E)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        out = build(args.out, execute=args.execute, only=args.only, quiet=args.quiet, fresh=args.fresh)
    except (RuntimeError, ValueError) as err:
        print(err, file=sys.stderr)
        return 1
    print(f"site built in {time.perf_counter() - start:.0f} s: {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
