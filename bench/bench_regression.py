"""Speed and memory of neural predictivity: neurocompare vs Brain-Score's PLS protocol vs himalaya.

All methods see identical synthetic data (a planted low-rank linear signal plus noise, so held-out
r is meaningful) and identical outer splits (10 shuffle splits, 90 % train, Brain-Score's seed):

* ``ours ridge``   - neurocompare ridge_predictivity (per-unit alpha by closed-form LOO or GCV,
  one eigendecomposition of the stimulus Gram matrix per split)
* ``ours pls``     - neurocompare pls_predictivity, kernel-form PLS-25 (same maths as sklearn)
* ``brainscore``   - sklearn ``PLSRegression(n_components=25, scale=False)`` per split, Brain-Score's
  protocol (median r over units, mean over splits)
* ``himalaya``     - himalaya ``KernelRidgeCV`` (torch backend, linear kernel, intercept, same alpha
  grid, its default 5-fold inner CV)

Cores are shared on the machines this runs on, so every method runs with the same thread count
(``--threads``, default 1) and the script prints ratios. Peak memory of our two methods is
measured in a fresh subprocess (``resource`` max RSS over the RSS before loading the inputs) and
reported relative to the input arrays.

Measured 2026-11-23 on a shared 2-core VM (load average 11-25, so absolute times are noisy;
ratios within one run are what counts), 1 thread each, torch 2.13.0, scikit-learn 1.9.1,
himalaya 0.4.11::

    N=1280, D=8192, 168 units     time (s)  median r  vs brainscore  vs himalaya
    ours ridge (LOO)                 30.9    0.744        19.8x          7.1x
    ours ridge (GCV)                 17.1    0.723        35.7x         12.8x
    ours pls-25 (kernel)              9.2    0.709        66.5x         23.9x
    brainscore pls-25 (sklearn)     609.9    0.709         1.0x
    himalaya KernelRidgeCV (torch)  219.2    0.743
    (an earlier run on data with a flat latent spectrum: ridge LOO 37.7x, PLS 70.6x, himalaya 6.3x)

    N=2560, D=16384, 168 units  (peers timed on 1 split, x10)
    ours ridge (LOO)                173.6    0.758        21.4x          6.8x
    ours ridge (GCV)                143.5    0.737        25.9x          8.2x
    ours pls-25 (kernel)             59.6    0.723        62.2x         19.8x
    brainscore pls-25 (sklearn)    3711      0.719
    himalaya KernelRidgeCV (torch) 1179      0.757
    peak memory (inputs included): ridge 2.73x, PLS 2.73x the inputs (1.7x of it is the NaN check
    in similarity._common.as_matrix); a features x features matrix would be 1 GiB

Usage::

    python bench/bench_regression.py                       # N=1280,D=8192 and N=2560,D=16384
    python bench/bench_regression.py --sizes 1280x8192 --sklearn-splits 10
    python bench/bench_regression.py --small               # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import functools
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
print = functools.partial(print, flush=True)  # noqa: A001  (progress shows up when redirected)


def make_data(n: int, d: int, u: int, k: int = 40, seed: int = 0):
    """float32 x (n, d), y (n, u): a k-dim latent (decaying variances 1/i) read out linearly by both, plus noise."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, k), dtype=np.float32) / np.sqrt(np.arange(1, k + 1, dtype=np.float32))
    z *= np.float32(np.sqrt(k / (1.0 / np.arange(1, k + 1)).sum()))  # keep the total signal variance
    x = z @ rng.standard_normal((k, d), dtype=np.float32) / np.sqrt(k)
    x += 1.0 * rng.standard_normal((n, d), dtype=np.float32)
    x += 0.5  # ReLU-like positive offset
    y = z @ rng.standard_normal((k, u), dtype=np.float32) / np.sqrt(k)
    y += 0.8 * rng.standard_normal((n, u), dtype=np.float32)
    return x.astype(np.float32, copy=False), y.astype(np.float32, copy=False)  # activations are float32


def set_threads(n: int) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(n)


def median_r(pred: np.ndarray, target: np.ndarray) -> float:
    p = pred - pred.mean(0)
    t = target - target.mean(0)
    r = (p * t).sum(0) / np.sqrt((p * p).sum(0) * (t * t).sum(0))
    return float(np.median(r))


def run_brainscore(x, y, splits) -> tuple[float, float]:
    from sklearn.cross_decomposition import PLSRegression

    vals = []
    t0 = time.perf_counter()
    for tr, te in splits:
        model = PLSRegression(n_components=25, scale=False).fit(x[tr], y[tr])
        vals.append(median_r(model.predict(x[te]), y[te]))
    return time.perf_counter() - t0, float(np.mean(vals))


def run_himalaya(x, y, splits, alphas) -> tuple[float, float]:
    import torch
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import KernelRidgeCV

    set_backend("torch", on_error="raise")
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)  # himalaya computes in its input's dtype (see --precision)
    vals = []
    t0 = time.perf_counter()
    for tr, te in splits:
        model = KernelRidgeCV(alphas=alphas, kernel="linear", fit_intercept=True, cv=5)
        model.fit(xt[tr], yt[tr])
        pred = model.predict(xt[te])
        vals.append(median_r(np.asarray(pred.cpu() if hasattr(pred, "cpu") else pred), y[te]))
    return time.perf_counter() - t0, float(np.mean(vals))


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(path: str, method: str, threads: int) -> None:
    """Subprocess body: load inputs, run one method, print peak RSS over the pre-load RSS.

    ``ru_maxrss`` survives ``exec`` (it would report the parent's peak), so the peak is read from
    ``VmHWM`` after resetting it through ``/proc/self/clear_refs``.
    """
    set_threads(threads)
    from neurocompare.similarity import pls_predictivity, ridge_predictivity

    small = np.random.default_rng(0).standard_normal((40, 8)).astype(np.float32)
    ridge_predictivity(small, small[:, :2])  # warm up imports and kernels
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak-RSS counter
    base = _status_kib("VmRSS")
    x = np.load(os.path.join(path, "x.npy"))
    y = np.load(os.path.join(path, "y.npy"))
    loaded = _status_kib("VmRSS")
    func = ridge_predictivity if method == "ridge" else pls_predictivity
    func(x, y)
    peak = _status_kib("VmHWM")
    inputs = x.nbytes + y.nbytes
    print(json.dumps({"peak_over_base_bytes": (peak - base) * 1024, "inputs_bytes": inputs,
                      "load_bytes": (loaded - base) * 1024}))


def measure_memory(x, y, method: str, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x.npy"), x)
        np.save(os.path.join(tmp, "y.npy"), y)
        out = subprocess.run([sys.executable, __file__, "--memory-child", tmp, method, "--threads", str(threads)],
                             capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report_memory(x, y, d: int, threads: int) -> None:
    for method in ("ridge", "pls"):
        m = measure_memory(x, y, method, threads)
        print(f"peak memory, ours {method}: {m['peak_over_base_bytes'] / m['inputs_bytes']:.2f} x inputs "
              f"(inputs {m['inputs_bytes'] / 2**20:.0f} MiB, counted in the peak; "
              f"one features x features matrix would be {d * d * 4 / 2**20:.0f} MiB)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1280x8192,2560x16384", help="comma-separated NxD")
    ap.add_argument("--units", type=int, default=168)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sklearn-splits", type=int, default=None,
                    help="run Brain-Score's sklearn PLS on only this many of the 10 splits and extrapolate its time "
                         "(default: 10 at N<=1280, 2 above)")
    ap.add_argument("--skip-himalaya", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--memory-only", action="store_true", help="only the peak-memory measurement")
    ap.add_argument("--himalaya-splits", type=int, default=None,
                    help="run himalaya on only this many splits and extrapolate (default: 10 at N<=1280, 2 above)")
    ap.add_argument("--small", action="store_true", help="N=300, D=1024, 40 units")
    ap.add_argument("--precision", choices=["float64", "float32"], default="float64",
                    help="dtype of ours (the dtype option) and of himalaya's inputs; scikit-learn's PLS always "
                         "computes in float64, so float64 is the equal-precision comparison")
    ap.add_argument("--memory-child", nargs=2, metavar=("DIR", "METHOD"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child[0], args.memory_child[1], args.threads)
        return 0

    set_threads(args.threads)
    import sklearn
    import torch

    from neurocompare.similarity import DEFAULT_ALPHAS, make_splits, pls_predictivity, ridge_predictivity

    sizes = [(300, 1024)] if args.small else [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    units = 40 if args.small else args.units
    try:
        import himalaya

        himalaya_version = himalaya.__version__
    except ImportError:
        himalaya_version = None
    print(f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, himalaya {himalaya_version}, "
          f"threads={args.threads}, cpu count={os.cpu_count()}, load avg={os.getloadavg()[0]:.1f}")
    nc_options = __import__("neurocompare").set_options(dtype=args.precision)  # noqa: F841  (global, for ours)
    print(f"precision: {args.precision} (ours and himalaya), float64 (scikit-learn PLS)")
    for n, d in sizes:
        x, y = make_data(n, d, units)
        x, y = x.astype(args.precision), y.astype(args.precision)
        splits = make_splits(n)
        xc = x - x.mean(0)
        mean_eig = float((xc.astype(np.float64) ** 2).sum() / n)  # trace of the centred Gram / n
        del xc
        alphas = np.asarray(DEFAULT_ALPHAS) * mean_eig  # the protocol's relative grid, made absolute for himalaya
        print(f"\nN={n} stimuli, D={d} features, {units} units, 10 splits, alphas 1e-3..1e5 x {mean_eig:.3g} (17)")
        if args.memory_only:
            report_memory(x, y, d, args.threads)
            continue
        rows = {}
        t0 = time.perf_counter()
        res = ridge_predictivity(x, y)
        rows["ours ridge (LOO)"] = (time.perf_counter() - t0, res.value, "")
        t0 = time.perf_counter()
        res = pls_predictivity(x, y)
        rows["ours pls-25 (kernel)"] = (time.perf_counter() - t0, res.value, "")
        k = args.sklearn_splits or (10 if n <= 1280 else 2)
        t, v = run_brainscore(x, y, splits[:k])
        rows["brainscore pls-25 (sklearn)"] = (t * 10 / k, v, "" if k == 10 else f"(timed {k} splits, x{10 / k:g})")
        if not args.skip_himalaya and himalaya_version:
            kh = args.himalaya_splits or (10 if n <= 1280 else 2)
            t, v = run_himalaya(x, y, splits[:kh], alphas)
            rows["himalaya KernelRidgeCV (torch)"] = (t * 10 / kh, v, "" if kh == 10 else f"(timed {kh} splits, x{10 / kh:g})")
        ref_bs = rows["brainscore pls-25 (sklearn)"][0]
        ref_hm = rows.get("himalaya KernelRidgeCV (torch)", (None,))[0]
        print(f"{'method':32s} {'time (s)':>10s} {'median r':>9s} {'vs brainscore':>14s} {'vs himalaya':>12s}")
        for name, (t, v, note) in rows.items():
            hm = f"{ref_hm / t:11.1f}x" if ref_hm else ""
            print(f"{name:32s} {t:10.2f} {v:9.4f} {ref_bs / t:13.1f}x {hm:>12s} {note}")
        if not args.skip_memory:
            report_memory(x, y, d, args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
