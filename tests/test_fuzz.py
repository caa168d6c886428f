"""The fuzz of issue 12 as a test: no input category may produce a silently wrong number.

The cases live in ``bench/fuzz_numerics.py`` (also a script, which prints the before/after table
of the issue's note). Each case ends ``ok``, ``refused`` (a ValueError/TypeError that says what is
wrong), ``silent_wrong`` or ``obscure`` (any other exception); the last two fail here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "bench" / "fuzz_numerics.py"
_spec = importlib.util.spec_from_file_location("fuzz_numerics", _PATH)
FUZZ = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(FUZZ)

CASES = FUZZ.all_cases()
CATEGORIES = sorted({cat for cat, _, _ in CASES})


def _failures(category: str) -> list[str]:
    bad = []
    for cat, cid, run in CASES:
        if cat != category:
            continue
        status, note = FUZZ.run_case(run)
        if status not in ("ok", "refused"):
            bad.append(f"{status}: {cid} {note[:120]}")
    return bad


@pytest.mark.parametrize("category", CATEGORIES)  # all 378 cases take ~30 s on one core
def test_no_category_returns_a_silently_wrong_number(category):
    assert not _failures(category)


def test_the_fuzz_can_fail(monkeypatch):
    # a harness that cannot see a wrong number proves nothing: plant one
    import neurocompare as nc

    monkeypatch.setattr(nc, "cka_linear", lambda x, y, **kw: 1.0)
    case = next(run for cat, cid, run in CASES if cid == "cka_linear x1e+06 (x)")
    assert FUZZ.run_case(case)[0] == "silent_wrong"
    monkeypatch.setattr(nc, "cka_linear", lambda x, y, **kw: (_ for _ in ()).throw(IndexError("boom")))
    assert FUZZ.run_case(case)[0] == "obscure"


def test_references_agree_with_the_measures_on_plain_data():
    # the harness's own numpy references, against the library on well-conditioned data (float64)
    import neurocompare as nc

    x, y = FUZZ.pair(0)
    assert nc.cka_linear(x, y) == pytest.approx(FUZZ.ref_cka(x, y), abs=1e-12)
    assert nc.cca_mean(x, y) == pytest.approx(FUZZ.ref_cca(x, y), abs=1e-12)
    assert nc.procrustes(x, y) == pytest.approx(FUZZ.ref_procrustes(x, y), abs=1e-10)
    assert nc.rsa(x, y) == pytest.approx(FUZZ.ref_rsa(x, y), abs=1e-12)
    assert np.isfinite(FUZZ.ref_cka(x * 1e30, y))
