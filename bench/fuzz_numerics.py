"""A compact fuzz of the public API on bad or unusual inputs: does any number come back wrong?

Categories (issue 12): ``scale`` (inputs multiplied by 1e-30 … 1e30), ``offset`` (+1e6 on every
entry), ``degenerate`` (stimuli <= dimensions, tiny n, rank-deficient features), ``ties``
(duplicated stimuli, bootstrap intervals), ``tiny_benchmark`` (25 or fewer stimuli under the
default split), ``inputs`` (keyword typos, complex values, transposed arrays).

Every case ends in one of:

- ``ok``: the documented value (within ``TOL`` of a float64 reference, or the expected property);
- ``refused``: a ValueError/TypeError whose message says what went wrong (a correct outcome where
  no number is defined, an acceptable one where a number is);
- ``silent_wrong``: a number that is not the right one (or no error where one is due);
- ``obscure``: any other exception (RuntimeError, IndexError, ZeroDivisionError, ...).

``TOL`` is 1e-4 absolute on measures in [0, 1] / [0, pi]: a difference that changes a reported
digit. (The stricter 1e-6 relative property lives in ``tests/test_numerics_properties.py``.)

Run it (about a minute on one core)::

    OMP_NUM_THREADS=1 python bench/fuzz_numerics.py [--json OUT.json]

and against an older checkout with ``PYTHONPATH=/path/to/old/checkout``. Every input is drawn
from ``numpy.random.default_rng`` with a fixed seed per case.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

TOL = 1e-4
SCALES = (1e-30, 1e-12, 1e-6, 1e6, 1e12, 1e30)


class NotAvailable(Exception):
    """The API this case needs does not exist in the checkout under test."""


def _nc():
    import neurocompare as nc

    return nc


_HOMES = ("neurocompare", "neurocompare.similarity", "neurocompare.data", "neurocompare.benchmarks")
_OLD_HOMES = ("cka", "cca", "shape", "rsa", "rdm", "regression", "stats")  # the layout before issue 11


def _f(name: str) -> Callable[..., Any]:
    """The public function ``name``, wherever this checkout keeps it."""
    import importlib

    homes = list(_HOMES) + [f"neurocompare.similarity.{m}" for m in _OLD_HOMES]
    for home in homes:
        try:
            fn = getattr(importlib.import_module(home), name, None)
        except (ImportError, AttributeError):
            fn = None
        if fn is not None and callable(fn):  # (the old layout had modules named like functions: rsa, rdm)
            return fn
    raise NotAvailable(name)


# ----------------------------------------------------------------------------- references (numpy float64)
def _centre(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a - a.mean(0)


def ref_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA, Kornblith et al. (2019) eq. (feature-space form), float64."""
    xc, yc = _centre(x), _centre(y)
    xc, yc = xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)
    return float(np.linalg.norm(xc.T @ yc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)))


def _orth(a: np.ndarray) -> np.ndarray:
    u, s, _ = np.linalg.svd(_centre(a), full_matrices=False)
    r = int((s > s.max() * max(a.shape) * np.finfo(float).eps).sum())
    return u[:, :r]


def ref_cca(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.linalg.svd(_orth(x).T @ _orth(y), compute_uv=False).clip(0, 1).mean())


def ref_procrustes(x: np.ndarray, y: np.ndarray) -> float:
    xc, yc = _centre(x), _centre(y)
    xc, yc = xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)
    return float(math.acos(min(1.0, np.linalg.svd(xc.T @ yc, compute_uv=False).sum())))


def ref_rsa(x: np.ndarray, y: np.ndarray, rdm_method: str = "correlation") -> float:
    import scipy.spatial.distance as ssd
    import scipy.stats

    def exact_pdist(a: np.ndarray) -> np.ndarray:
        # scipy's pdist on the distinct rows, expanded: duplicated stimuli stay exactly tied (scipy's
        # own 'correlation'/'cosine' pdist gives ~1e-16 instead of 0 for some identical rows)
        uniq, inv = np.unique(a, axis=0, return_inverse=True)
        d = ssd.squareform(ssd.pdist(uniq, rdm_method))[inv.ravel()][:, inv.ravel()]
        np.fill_diagonal(d, 0.0)
        return ssd.squareform(d, checks=False)

    return float(scipy.stats.spearmanr(exact_pdist(x), exact_pdist(y)).statistic)


REFERENCES = {"cka_linear": ref_cka, "cca_mean": ref_cca, "procrustes": ref_procrustes, "rsa": ref_rsa}


# ----------------------------------------------------------------------------- data
def pair(seed: int, n: int = 60, px: int = 12, py: int = 8, shared: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """x, y (n, px), (n, py) sharing a 3-D latent (mid-range similarity, not near 0 or 1)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 3))
    x = shared * z @ rng.standard_normal((3, px)) + rng.standard_normal((n, px))
    y = shared * z @ rng.standard_normal((3, py)) + rng.standard_normal((n, py))
    return x, y


MEASURES: dict[str, dict[str, Any]] = {
    # name: call kwargs; 'scale_free' marks invariance to x -> a x (a > 0) and y -> b y
    "cka_linear": {},
    "cka_unbiased": {},
    "cka_rbf": {},
    "cca_mean": {},
    "svcca": {},
    "pwcca": {},
    "procrustes": {},
    "shape_cca": {},
    "rsa": {},
    "ridge": {"n_splits": 2, "seed": 0},
    "pls": {"n_splits": 2, "seed": 0, "n_components": 5},
    "one_to_one": {"n_splits": 2, "seed": 0},
}
MAPPED = ("ridge", "pls", "one_to_one")
FLOAT32 = ("cka_linear", "cka_unbiased", "cca_mean", "procrustes", "rsa", "ridge", "pls", "one_to_one")


def _measure(name: str) -> Callable[..., float]:
    if name == "ridge":
        fn = _f("ridge_predictivity")
        return lambda x, y, **kw: float(fn(x, y, **kw).value)
    if name == "pls":
        fn = _f("pls_predictivity")
        return lambda x, y, **kw: float(fn(x, y, **kw).value)
    if name == "one_to_one":
        fn = _f("one_to_one_predictivity")
        return lambda x, y, **kw: float(fn(x, y, **kw).value)
    return _f(name)


def _call(name: str, x: Any, y: Any, kw: dict, extra: dict) -> float:
    """Call a measure; ``extra={'float64': False}`` means float32 (the dtype option for mappings)."""
    fn = _measure(name)
    if name in MAPPED and extra:
        import neurocompare as nc

        with nc.set_options(dtype="float64" if extra["float64"] else "float32"):
            return fn(x, y, **kw)
    return fn(x, y, **kw, **extra)


# ----------------------------------------------------------------------------- cases
Case = tuple[str, str, Callable[[], str]]  # (category, id, run -> status)


def _expect_value(got: Any, want: float, tol: float = TOL) -> str:
    if not isinstance(got, (int, float, np.floating)) or not math.isfinite(float(got)):
        return "silent_wrong"
    return "ok" if abs(float(got) - want) <= tol else "silent_wrong"


def _scale_cases() -> list[Case]:
    cases: list[Case] = []
    for name, kw in MEASURES.items():
        variants = [("", {})]
        if name in FLOAT32:
            variants.append(("[float32]", {"float64": False}))
        for tag, extra in variants:
            def reference(name=name, kw=kw):
                x, y = pair(1)
                if name in REFERENCES:
                    return REFERENCES[name](x, y)
                return float(_measure(name)(x, y, **kw, **({} if name in MAPPED else {"float64": True})))

            for s in SCALES:
                for side in ("x", "both"):
                    def run(name=name, kw=kw, s=s, side=side, extra=extra, reference=reference):
                        x, y = pair(1)
                        want = reference()
                        got = _call(name, x * s, y * s if side == "both" else y, kw, extra)
                        return _expect_value(got, want)

                    cases.append(("scale", f"{name}{tag} x{s:g} ({side})", run))
            for side in ("x", "both"):
                def run_off(name=name, kw=kw, side=side, extra=extra, reference=reference):
                    x, y = pair(1)
                    want = reference()
                    got = _call(name, x + 1e6, y + 1e6 if side == "both" else y, kw, extra)
                    return _expect_value(got, want)

                cases.append(("offset", f"{name}{tag} +1e6 ({side})", run_off))

    def big_nonneg(dtype_kw):
        def run():
            rng = np.random.default_rng(5)
            z = rng.standard_normal((2000, 16))
            x = np.abs(z @ rng.standard_normal((16, 512))) * 1e5
            y = np.abs(z @ rng.standard_normal((16, 64)) + rng.standard_normal((2000, 64)))
            return _expect_value(_f("cka_linear")(x, y, **dtype_kw), ref_cka(x, y))

        return run

    cases.append(("scale", "cka_linear 2000x512 non-negative ~1e5", big_nonneg({})))
    cases.append(("scale", "cka_linear[float32] 2000x512 non-negative ~1e5", big_nonneg({"float64": False})))
    return cases


def _unrelated(seed: int, n: int, p: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, p)), rng.standard_normal((n, q))


def _degenerate_cases() -> list[Case]:
    cases: list[Case] = []
    # CCA family on unrelated data with stimuli <= retained dimensions: 1.0 (distance 0) is wrong
    for name, perfect in (("cca_mean", 1.0), ("svcca", 1.0), ("pwcca", 1.0), ("shape_cca", 0.0)):
        for n, p, q in ((20, 30, 30), (20, 20, 20), (30, 40, 10), (40, 64, 64), (60, 40, 40)):
            def run(name=name, perfect=perfect, n=n, p=p, q=q):
                x, y = _unrelated(2, n, p, q)
                got = float(_measure(name)(x, y))
                # unrelated data: any value within 0.1 of "perfect" is a false report
                return "silent_wrong" if abs(got - perfect) < 0.1 else "ok"

            cases.append(("degenerate", f"{name} unrelated n={n} p={p} q={q}", run))
    # tiny n and single units: a value in range or a clear error
    for name, kw in MEASURES.items():
        for n, p, q in ((4, 3, 3), (5, 1, 1), (3, 4, 4), (50, 1, 1)):
            def run_small(name=name, kw=kw, n=n, p=p, q=q):
                x, y = pair(3, n=n, px=p, py=q)
                got = _measure(name)(x, y, **kw)
                return "ok" if isinstance(got, float) and math.isfinite(got) else "silent_wrong"

            cases.append(("degenerate", f"{name} n={n} p={p} q={q}", run_small))
    # PLS with more components than the feature rank
    for rank in (2, 3, 5):
        def run_pls(rank=rank):
            rng = np.random.default_rng(rank)
            x = rng.standard_normal((100, rank)) @ rng.standard_normal((rank, 40))
            y = x @ rng.standard_normal((40, 6)) + 0.1 * rng.standard_normal((100, 6))
            fn = _measure("pls")
            want = fn(x, y, n_splits=3, seed=0, n_components=rank)
            got = fn(x, y, n_splits=3, seed=0, n_components=25)
            return "ok" if abs(got - want) < 0.01 else "silent_wrong"

        cases.append(("degenerate", f"pls n_components=25 > rank={rank}", run_pls))
    # a constant unit among varying ones changes nothing for centred measures
    for name in ("cka_linear", "cca_mean", "procrustes"):
        def run_const(name=name):
            x, y = pair(4)
            xc = np.concatenate([x, np.full((x.shape[0], 1), 3.0)], 1)
            return _expect_value(_measure(name)(xc, y), REFERENCES[name](x, y))

        cases.append(("degenerate", f"{name} with one constant unit", run_const))
    return cases


def _ties_cases() -> list[Case]:
    cases: list[Case] = []
    for method in ("euclidean", "sqeuclidean", "correlation", "cosine"):
        for seed in range(3):
            def run(method=method, seed=seed):
                rng = np.random.default_rng(seed)
                base = rng.standard_normal((30, 10))
                x = np.concatenate([base, base[:10]])  # 10 exact duplicate stimuli
                y = x @ rng.standard_normal((10, 10)) + rng.standard_normal(x.shape)
                got = _f("rsa")(x, y, rdm_method=method)
                return _expect_value(got, ref_rsa(x, y, method), 1e-9)

            cases.append(("ties", f"rsa rdm_method={method} duplicates seed={seed}", run))

            def run_zero(method=method, seed=seed):
                rng = np.random.default_rng(seed)
                base = rng.standard_normal((30, 10)) * 10.0 ** rng.integers(-3, 4)
                x = np.concatenate([base, base[:10]])
                d = np.asarray(_f("rdm")(x, method))
                return "ok" if np.all(d[np.arange(10), 30 + np.arange(10)] == 0.0) else "silent_wrong"

            cases.append(("ties", f"rdm {method} exact zero for duplicates seed={seed}", run_zero))
    # bootstrap intervals must not exclude the estimate on weakly similar data
    for metric in ("cka_linear", "cka_unbiased"):
        for seed in range(6):
            def run_boot(metric=metric, seed=seed):
                x, y = pair(100 + seed, n=118, px=60, py=40, shared=0.4)
                res = _f("bootstrap")(x, y, metric, n_boot=200, seed=seed, progress=False)
                return "ok" if res.low <= res.estimate <= res.high else "silent_wrong"

            cases.append(("ties", f"bootstrap {metric} CI holds estimate seed={seed}", run_boot))
    return cases


def _tiny_benchmark_cases() -> list[Case]:
    cases: list[Case] = []
    for n in (10, 15, 20, 25):
        for name in ("ridge", "pls"):
            def run(n=n, name=name):
                x, y = pair(7, n=n, px=20, py=5)
                kw = {"n_components": 3} if name == "pls" else {}
                try:
                    _measure(name)(x, y, **kw)
                except ValueError as err:
                    return "refused" if "test_fraction" in str(err) else "obscure"
                return "silent_wrong"

            cases.append(("tiny_benchmark", f"{name}_predictivity n={n} default split", run))

        def run_bench(n=n):
            x, y = pair(7, n=n, px=20, py=5)
            resp = _f("make_responses")(y)
            bench_cls = _f("Benchmark")
            try:
                bench = bench_cls(data=resp, metric="ridge")
                score = _f("score_responses")({"layer": x}, bench)
            except ValueError as err:
                return "refused" if "test_fraction" in str(err) else "obscure"
            except TypeError as err:
                raise NotAvailable(str(err)) from err
            return "silent_wrong" if score is not None else "obscure"

        cases.append(("tiny_benchmark", f"Benchmark(ridge) n={n}", run_bench))
    return cases


def _inputs_cases() -> list[Case]:
    cases: list[Case] = []
    rng = np.random.default_rng(9)
    values = rng.standard_normal((12, 5))
    ids = [f"img{i}" for i in range(12)]
    units = [f"n{i}" for i in range(5)]

    def must_raise(fn: Callable[[], Any], words: tuple[str, ...] = ()) -> str:
        try:
            fn()
        except (ValueError, TypeError) as err:
            msg = str(err).lower()
            return "refused" if all(w in msg for w in words) else "obscure"
        return "silent_wrong"

    mk = lambda *a, **k: _f("make_responses")(*a, **k)  # noqa: E731
    typo_calls = {
        "stimulus_id=": dict(stimulus_id=ids),
        "unit_id=": dict(unit_id=units),
        "stimulus_id= unit_id=": dict(stimulus_id=ids, unit_id=units),
        "stimulus_ids= unit_id=": dict(stimulus_ids=ids, unit_id=units),
        "stimuli_ids=": dict(stimuli_ids=ids),
        "stimulus_id= duplicates": dict(stimulus_id=ids[:6] * 2),
        "unit_ids= stimulus_id=": dict(unit_ids=units, stimulus_id=ids),
        "allownan=": dict(allownan=True),
    }
    for tag, kw in typo_calls.items():
        cases.append(("inputs", f"make_responses typo {tag}", lambda kw=kw: must_raise(lambda: mk(values, **kw))))
    cases.append(("inputs", "make_responses transposed (units x stimuli)",
                  lambda: must_raise(lambda: mk(values.T, stimulus_ids=ids, unit_ids=units), ("transpos",))))
    cases.append(("inputs", "make_responses complex",
                  lambda: must_raise(lambda: mk(values + 1j * values), ("complex",))))
    x, y = pair(11)
    for name, kw in MEASURES.items():
        cases.append(("inputs", f"{name} complex numpy",
                      lambda name=name, kw=kw: must_raise(lambda: _measure(name)(x + 0.5j * x, y, **kw), ("complex",))))

        def torch_complex(name=name, kw=kw):
            import torch

            return must_raise(lambda: _measure(name)(x, torch.as_tensor(y + 0.5j * y), **kw), ("complex",))

        cases.append(("inputs", f"{name} complex torch", torch_complex))
    for method in ("correlation", "euclidean"):
        cases.append(("inputs", f"rdm {method} complex",
                      lambda method=method: must_raise(lambda: _f("rdm")(x + 1j * x, method), ("complex",))))
    return cases


def all_cases() -> list[Case]:
    return _scale_cases() + _degenerate_cases() + _ties_cases() + _tiny_benchmark_cases() + _inputs_cases()


def run_case(run: Callable[[], str]) -> tuple[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return run(), ""
        except NotAvailable as err:
            return "n/a", str(err)
        except (ValueError, TypeError) as err:
            return "refused", f"{type(err).__name__}: {err}"[:300]
        except Exception as err:  # noqa: BLE001 - anything else is what the fuzz is looking for
            return "obscure", f"{type(err).__name__}: {err}"[:300]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write every case's outcome to this JSON file")
    ap.add_argument("--only", help="run only cases whose id contains this text")
    args = ap.parse_args(argv)
    try:
        import neurocompare as nc

        nc.set_options(progress=False)
    except Exception:  # noqa: BLE001 - an old checkout without options
        pass
    records = []
    for cat, cid, run in all_cases():
        if args.only and args.only not in cid:
            continue
        status, note = run_case(run)
        records.append({"category": cat, "case": cid, "status": status, "note": note})
    table: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        table[r["category"]][r["status"]] += 1
    cols = ("ok", "refused", "silent_wrong", "obscure", "n/a")
    print(f"{'category':16s} {'cases':>5s} " + " ".join(f"{c:>12s}" for c in cols))
    for cat, cnt in table.items():
        print(f"{cat:16s} {sum(cnt.values()):5d} " + " ".join(f"{cnt[c]:12d}" for c in cols))
    tot = Counter()
    for cnt in table.values():
        tot.update(cnt)
    print(f"{'total':16s} {sum(tot.values()):5d} " + " ".join(f"{tot[c]:12d}" for c in cols))
    for r in records:
        if r["status"] in ("silent_wrong", "obscure"):
            print(f"  {r['status']:12s} {r['category']:14s} {r['case']}  {r['note'][:150]}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(records, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
