"""Speed and memory of neural predictivity: neurocompare vs Brain-Score's PLS protocol vs himalaya.

Every method sees identical synthetic data (a planted low-rank linear signal plus noise, so held-out
r is meaningful; ``make_data``) and the identical outer splits (10 shuffle splits, 90 % train,
``neurocompare.similarity.make_splits``), in float64 (scikit-learn's PLS computes in float64 whatever
it is given, so that is the equal-precision comparison), at the same thread count:

* ``ours ridge``  - ``ridge_predictivity`` (per-unit penalty by closed-form LOO; kernel form with
  one Gram product shared by all splits and one eigendecomposition per split)
* ``ours pls``    - ``pls_predictivity`` (kernel-form PLS-25, the maths of scikit-learn's)
* ``brainscore``  - scikit-learn ``PLSRegression(n_components=25, scale=False)`` per split, Brain-Score's
  protocol (median r over units, mean over splits)
* ``himalaya``    - himalaya 0.4.11 ``KernelRidgeCV`` (torch backend, linear kernel, intercept, the same
  penalty grid made absolute, its default 5-fold inner CV)

Each method runs in a fresh subprocess (himalaya in its venv, ``bench/peers.sh``) on the same .npy
files and is measured by ``bench/_harness.timed`` around its whole cross-validated run only: wall,
CPU seconds, peak resident memory over the memory right before the call. Every side is timed on
the same splits: all 10 by default; ``--splits K`` times the first K splits on *every* side (the
row says so) - never a subset on one side scaled up.

Ridge and PLS are different estimators: the ratio against Brain-Score is "our default mapping vs
theirs" (the issue's workload), and the rows carry both mean held-out r values (``note``) so the
quality can be read next to the speed.

Usage::

    python bench/bench_regression.py                    # N=1280,D=8192 and N=2560,D=16384, all splits
    python bench/bench_regression.py --small            # N=300, D=1024, 40 units
    python bench/bench_regression.py --sizes 1280x8192 --splits 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import _harness as h  # noqa: E402

SIZES = {"full": [(1280, 8192, 168), (2560, 16384, 168)], "small": [(300, 1024, 40)]}
TARGETS = {("ridge", "brainscore"): 20.0, ("ridge", "himalaya"): 2.0, ("pls", "brainscore"): 20.0}
N_COMPONENTS = 25


def make_data(n: int, d: int, u: int, k: int = 40, seed: int = 0):
    """float64 x (n, d), y (n, u): a k-dim latent (variances 1/i) read out linearly by both, plus noise, x offset +0.5."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, k)) / np.sqrt(np.arange(1, k + 1))
    z *= np.sqrt(k / (1.0 / np.arange(1, k + 1)).sum())  # keep the total signal variance
    x = z @ rng.standard_normal((k, d)) / np.sqrt(k) + rng.standard_normal((n, d)) + 0.5  # ReLU-like offset
    y = z @ rng.standard_normal((k, u)) / np.sqrt(k) + 0.8 * rng.standard_normal((n, u))
    return x, y


def _median_r(pred: np.ndarray, target: np.ndarray) -> float:
    p = pred - pred.mean(0)
    t = target - target.mean(0)
    return float(np.median((p * t).sum(0) / np.sqrt((p * p).sum(0) * (t * t).sum(0))))


# ----------------------------------------------------------------------------- workers (subprocesses)
def _ours(method, x, y, splits, alphas, repeats):
    sys.path.insert(0, str(REPO))
    from neurocompare.similarity import pls_predictivity, ridge_predictivity
    from neurocompare.similarity._protocol import canonical_ids

    names = canonical_ids(x.shape[0])  # a plain array's stimulus ids (its row order)
    ids = [(names[tr], names[te]) for tr, te in splits]
    if method == "ridge":
        return h.timed(lambda: ridge_predictivity(x, y, splits=ids).value, repeats, warmup=0)
    return h.timed(lambda: pls_predictivity(x, y, splits=ids, n_components=N_COMPONENTS).value, repeats, warmup=0)


def _brainscore(method, x, y, splits, alphas, repeats):
    from sklearn.cross_decomposition import PLSRegression

    def run():
        vals = [_median_r(PLSRegression(n_components=N_COMPONENTS, scale=False).fit(x[tr], y[tr]).predict(x[te]), y[te])
                for tr, te in splits]
        return float(np.mean(vals))

    return h.timed(run, repeats, warmup=0)


def _himalaya(method, x, y, splits, alphas, repeats):
    import torch
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import KernelRidgeCV

    torch.set_num_threads(int(os.environ.get("NEUROCOMPARE_BENCH_THREADS", "1")))
    set_backend("torch", on_error="raise")
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)

    def run():
        vals = []
        for tr, te in splits:
            model = KernelRidgeCV(alphas=alphas, kernel="linear", fit_intercept=True, cv=5).fit(xt[tr], yt[tr])
            pred = model.predict(xt[te])
            vals.append(_median_r(np.asarray(pred.cpu() if hasattr(pred, "cpu") else pred), y[te]))
        return float(np.mean(vals))

    return h.timed(run, repeats, warmup=0)


WORKERS = {"ours": _ours, "brainscore": _brainscore, "himalaya": _himalaya}


def worker(name: str, method: str, data: str, repeats: int) -> None:
    """Load the inputs and splits (not measured), time ``name``'s cross-validated run, emit it."""
    import torch  # noqa: F401  (imported before the baseline, like every library's import)

    h.set_threads(int(os.environ.get("NEUROCOMPARE_BENCH_THREADS", "1")))
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(int(os.environ.get("NEUROCOMPARE_BENCH_THREADS", "1")))
    except ImportError:
        pass
    x, y = np.load(Path(data) / "x.npy"), np.load(Path(data) / "y.npy")
    sp = np.load(Path(data) / "splits.npz")
    splits = [(sp[f"train{i}"], sp[f"test{i}"]) for i in range(len(sp.files) // 2)]
    alphas = np.load(Path(data) / "alphas.npy")
    h.emit(WORKERS[name](method, x, y, splits, alphas, repeats))


# ----------------------------------------------------------------------------- driver
def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="Predictivity: neurocompare ridge/PLS vs Brain-Score PLS (sklearn) and himalaya.")
    ap.add_argument("--small", action="store_true", help="N=300, D=1024, 40 units")
    ap.add_argument("--sizes", default=None, help="comma-separated NxD (units: --units)")
    ap.add_argument("--units", type=int, default=168)
    ap.add_argument("--splits", type=int, default=10, help="time the first K of the 10 splits, on every side (default all)")
    ap.add_argument("--threads", type=int, default=1, help="threads of every method (default 1)")
    ap.add_argument("--venvs", default="/work/venvs", help="folder of the peers' venvs (bench/peers.sh)")
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per method (best is kept)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["brainscore", "himalaya", "pls"], help="leave out methods")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--method", default="ridge", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    return ap


def run(argv: list[str] | None = None) -> list[dict]:
    """One row per (size, our method, peer): ours ridge vs Brain-Score PLS and himalaya, ours PLS vs Brain-Score PLS."""
    args = _parser().parse_args(argv)
    sys.path.insert(0, str(REPO))
    from neurocompare.similarity import DEFAULT_ALPHAS, make_splits

    if args.sizes:
        sizes = [(*map(int, s.split("x")), args.units) for s in args.sizes.split(",")]
    else:
        sizes = SIZES["small" if args.small else "full"]
    pythons = {"ours": sys.executable, "brainscore": sys.executable, "himalaya": Path(args.venvs) / "himalaya" / "bin" / "python"}
    rows = []
    for n, d, u in sizes:
        x, y = make_data(n, d, u)
        splits = make_splits(n)[: args.splits]
        xc = x - x.mean(0)
        alphas = np.asarray(DEFAULT_ALPHAS) * float((xc**2).sum() / n)  # the protocol's grid made absolute for himalaya
        del xc
        out = {}
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / "x.npy", x)
            np.save(Path(tmp) / "y.npy", y)
            np.save(Path(tmp) / "alphas.npy", alphas)
            np.savez(Path(tmp) / "splits.npz", **{f"{k}{i}": np.asarray(s) for i, (tr, te) in enumerate(splits)
                                                  for k, s in (("train", tr), ("test", te))})
            jobs = [("ours", "ridge")] + ([("ours", "pls")] if "pls" not in args.skip else [])
            jobs += [(p, "pls" if p == "brainscore" else "ridge") for p in ("brainscore", "himalaya") if p not in args.skip]
            for name, method in jobs:
                out[(name, method)] = h.run_peer(pythons[name], __file__, ["--worker", name, "--method", method, "--data", tmp,
                                                                          "--repeats", args.repeats], threads=args.threads)
        which = "all 10 splits" if len(splits) == 10 else f"the same first {len(splits)} of 10 splits on every side"
        case = f"N={n}, D={d}, {u} units"
        for (mine, peer_name), target in TARGETS.items():
            ours = out.get(("ours", mine))
            peer_key = ("brainscore", "pls") if peer_name == "brainscore" else ("himalaya", "ridge")
            if ours is None or peer_key not in out:
                continue
            peer = out[peer_key]
            ok = lambda m: m.get("status") == "ok"  # noqa: E731
            r = lambda m: f"{m['value']:.4f}" if ok(m) and m.get("value") is not None else "-"  # noqa: E731
            label = {"brainscore": "Brain-Score PLS-25 (sklearn)", "himalaya": "himalaya KernelRidgeCV"}[peer_name]
            rows.append(h.row(bench="regression", case=f"{case}, ours {mine} vs {label}",
                              ours=ours if ok(ours) else None, peer=peer, peer_name=peer_name, precision="float64",
                              threads=args.threads, target=target,
                              note=f"timed on {which}; mean held-out median r: ours {r(ours)}, peer {r(peer)}"
                                   + ("" if ok(ours) else f"; ours failed: {ours.get('detail', '')[-200:]}")))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        worker(args.worker, args.method, args.data, args.repeats)
        return 0
    rows = run(argv)
    h.attach_limits(rows, h.machine_limits(args.threads))
    print(h.format_table(rows), end="")
    for r in rows:
        o, p = r["ours"] or {}, r["peer"] or {}
        print(f"  {r['case']}: ours {o.get('wall_best', float('nan')):.2f} s wall / {o.get('cpu_best', float('nan')):.2f} s CPU, "
              f"{o.get('peak_mb') or float('nan'):.0f} MiB; peer {p.get('wall_best') or float('nan'):.2f} s wall / "
              f"{p.get('cpu_best') or float('nan'):.2f} s CPU, {p.get('peak_mb') or float('nan'):.0f} MiB; {r['note']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
