"""bench_gridness.py and bench_extract.py: their inputs, their bookkeeping and our worker's answers.

Fast: nothing here times a real workload; the workers run on a handful of small maps or images.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


sys.path.insert(0, str(REPO / "bench"))
h = _load("_harness", REPO / "bench" / "_harness.py")
bg = _load("bench_gridness", REPO / "bench" / "bench_gridness.py")
be = _load("bench_extract", REPO / "bench" / "bench_extract.py")


def _measure(wall, cpu, peak=1.0):
    return {"wall_best": wall, "wall_median": wall, "cpu_best": cpu, "cpu_median": cpu, "peak_mb": peak,
            "memory_method": "VmHWM", "repeats": 1, "value": None}


def test_gridness_maps_are_seeded_and_of_three_kinds():
    a, kind = bg.make_maps(12, 20, seed=3)
    b, _ = bg.make_maps(12, 20, seed=3)
    c, _ = bg.make_maps(12, 20, seed=4)
    assert a.shape == (12, 20, 20) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert list(kind).count("hexagonal") == 6 and list(kind).count("square") == 3 and list(kind).count("random") == 3


def test_gridness_worker_scores_are_the_librarys(tmp_path):
    from neurocompare import gridcells as gc

    maps, _ = bg.make_maps(8, 24, seed=0)
    np.save(tmp_path / "maps.npy", maps)
    res = h.run_peer(sys.executable, str(REPO / "bench" / "bench_gridness.py"),
                     ["--worker", "ours", "--data", tmp_path / "maps.npy", "--repeats", 1], threads=1, timeout=120)
    assert res["status"] == "ok", res.get("detail")
    np.testing.assert_array_equal(np.array(res["scores"]["sargolini"], dtype=float), gc.gridness(maps))
    ban = gc.gridness_from_autocorrelogram(gc.autocorrelogram(maps), "banino", n_bins=24)
    np.testing.assert_array_equal(np.array(res["scores"]["banino"], dtype=float), ban)
    assert res["sargolini"]["wall_best"] > 0 and res["sargolini"]["repeats"] == 1


def test_gridness_best_of_two_runs_per_variant():
    first = {"status": "ok", "sargolini": _measure(2.0, 1.0), "banino": _measure(1.0, 0.5), "scores": {"x": 1}}
    second = {"status": "ok", "sargolini": _measure(1.5, 1.2), "banino": _measure(3.0, 0.4), "scores": {"x": 2}}
    best = bg._best_of(first, second)
    assert best["sargolini"]["wall_best"] == 1.5 and best["sargolini"]["cpu_best"] == 1.2
    assert best["banino"]["wall_best"] == 1.0 and best["banino"]["cpu_best"] == 0.5
    failed = {"status": "failed", "detail": "boom"}
    assert bg._best_of(failed, second)["sargolini"]["wall_best"] == 1.5
    assert bg._best_of(failed, failed) is failed


def test_gridness_agreement_text():
    a = np.array([0.1, 0.5, 0.9, np.nan, 0.3])
    assert bg.agreement(a, a + 0.25) == "Spearman 1.000, median |diff| 0.250 on 4/5 maps"
    assert bg.agreement(a, np.full(5, np.nan)) == "scores comparable on 0 maps only"


def test_extract_combine_keeps_the_best_call_and_the_medians():
    got = be._combine([_measure(3.0, 2.9, 10.0), _measure(1.0, 1.1, 30.0), _measure(2.0, 2.2, 20.0)])
    assert got["wall_best"] == 1.0 and got["cpu_best"] == 1.1  # the CPU time of the fastest call
    assert got["wall_median"] == 2.0 and got["cpu_median"] == 2.2
    assert got["peak_mb"] == 30.0 and got["repeats"] == 3


@pytest.mark.parametrize("argv", [["--threads", "0", "--bogus"], ["--repeats", "x"]])
def test_bench_parsers_refuse_unknown_or_bad_arguments(argv):
    for mod in (bg, be):
        with pytest.raises(SystemExit):
            mod._parser().parse_args(argv)
