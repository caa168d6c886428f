"""Wall time of a full ``neurocompare`` score vs a Brain-Score-style pipeline on the same activations.

Both start from the same cached activations of ``convnet_small`` (seed 0) on the Cowley 2023 V4
session 210325 benchmark (640 images, 50 neurons, 6-10 repeats).

- ours: :func:`neurocompare.benchmarks.score` minus extraction, i.e. per layer 10 ridge fits with
  closed-form leave-one-out penalty choice and layer selection, the split-half ceiling and the
  combination (``layer_scores`` + ``benchmark_ceiling`` + ``combine``);
- Brain-Score style: per layer, 10 shuffle splits (90 % train), sklearn
  ``PLSRegression(n_components=25, scale=False)``, Pearson r per unit on the test images, median
  over units, mean over splits (no ceiling, no layer selection).

Run:  python bench/bench_score.py [--data DIR] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def brainscore_style(x: np.ndarray, y: np.ndarray, n_splits: int = 10, seed: int = 0) -> float:
    from sklearn.cross_decomposition import PLSRegression
    from sklearn.model_selection import ShuffleSplit

    scores = []
    for train, test in ShuffleSplit(n_splits=n_splits, train_size=0.9, random_state=seed).split(x):
        pls = PLSRegression(n_components=min(25, x.shape[1]), scale=False).fit(x[train], y[train])
        pred = pls.predict(x[test])
        r = [np.corrcoef(pred[:, j], y[test, j])[0, 1] for j in range(y.shape[1])]
        scores.append(np.nanmedian(r))
    return float(np.mean(scores))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("NEUROCOMPARE_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads for both pipelines")
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args()

    import data_loaders.benchmarks  # noqa: F401
    from neurocompare._options import thread_limit as blas_limit
    from neurocompare.benchmarks import benchmark_activations, benchmark_ceiling, combine, get_benchmark, layer_scores, score
    from neurocompare.cache import ActivationCache
    from neurocompare.models import resolve_model

    bench = get_benchmark("cowley2023.V4-ridge.210325", root=args.data)
    rm = resolve_model("convnet_small")
    layers = ["block1", "block2", "avgpool", "fc"]
    cache = ActivationCache(args.cache_dir or Path.home() / ".cache" / "neurocompare" / "bench", verbose=False)
    t0 = time.perf_counter()
    acts = benchmark_activations(rm, bench, layers, cache=cache, progress=False)
    t_extract = time.perf_counter() - t0
    y = np.nanmean(np.asarray(bench.data.values, float), axis=2)
    xs = {layer: np.asarray(acts[layer].values, float) for layer in layers}

    def ours() -> float:
        with blas_limit(args.threads):
            res = {layer: layer_scores(bench, acts[layer], layer) for layer in layers}
            return combine(bench, res, benchmark_ceiling(bench)).raw

    def theirs() -> float:
        with blas_limit(args.threads):
            return max(brainscore_style(xs[layer], y) for layer in layers)

    times = {"ours": [], "brainscore_style": []}
    cpu = {"ours": [], "brainscore_style": []}
    values = {}
    for _ in range(args.repeats):
        for name, fn in (("ours", ours), ("brainscore_style", theirs)):
            t, c = time.perf_counter(), time.process_time()
            values[name] = fn()
            times[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    t = time.perf_counter()
    full = score(rm, bench, layers=layers, cache=cache, progress=False, threads=args.threads)
    t_full = time.perf_counter() - t
    med = {k: float(np.median(v)) for k, v in times.items()}
    med_cpu = {k: float(np.median(v)) for k, v in cpu.items()}
    print(f"activations: {t_extract:.2f} s (first call extracts, later calls hit the cache)")
    print(f"ours (ridge+LOO layer choice, 10 splits, 4 layers, split-half ceiling): {med['ours']:.2f} s  raw={values['ours']:.3f}")
    print(f"Brain-Score style (PLS 25, 10 splits, 4 layers, best layer on test = double dip): {med['brainscore_style']:.2f} s  raw={values['brainscore_style']:.3f}")
    print(f"ratio brainscore_style / ours = {med['brainscore_style'] / med['ours']:.2f}x wall, "
          f"{med_cpu['brainscore_style'] / med_cpu['ours']:.2f}x CPU time (the machine may be shared)")
    print(f"full neurocompare score() with a warm cache: {t_full:.2f} s -> {full}")


if __name__ == "__main__":
    main()
