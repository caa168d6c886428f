"""Every Examples section of the library and the data loaders runs as a doctest.

Examples that need recorded data or a long computation are marked ``# doctest: +SKIP`` where they
are written; everything else must produce the output it shows. One test per module, so a failure
names the module.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import data_loaders
import neurocompare


def _modules() -> list[str]:
    names = []
    for package in (neurocompare, data_loaders):
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):  # running it would run the command line
                names.append(info.name)
    return sorted(names)


MODULES = _modules()


def test_the_public_modules_are_all_collected():
    for name in ("neurocompare", "neurocompare.similarity._rsa", "neurocompare.registry", "data_loaders.images"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch):
    monkeypatch.setenv("NEUROCOMPARE_QUIET", "1")
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in finder.find(module, name):
        if test.examples:
            runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
