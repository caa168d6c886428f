"""Wall time of a full ``neurocompare`` score vs a Brain-Score-style pipeline on the same activations.

Both start from the same cached activations of ``convnet_small`` (seed 0) on the Cowley 2023 V4
session 210325 benchmark (640 images, 50 neurons, 6-10 repeats); extracting them is not timed.
Each pipeline runs in its own fresh process (``bench/_harness.run_peer`` with this interpreter),
at the same thread count, measured around the scoring call only.

- ours: :func:`neurocompare.benchmarks.score` minus extraction, i.e. per layer 10 ridge fits with
  closed-form leave-one-out penalty choice and layer selection, the split-half ceiling and the
  combination (``layer_scores`` + ``benchmark_ceiling`` + ``combine``);
- Brain-Score style: per layer, 10 shuffle splits (90 % train), sklearn
  ``PLSRegression(n_components=25, scale=False)``, Pearson r per unit on the test images, median
  over units, mean over splits, best layer (no ceiling; choosing the layer on the test splits).

The two pipelines answer the same question with different regressions (ridge vs PLS-25) and do
different amounts of work (ours adds the ceiling), so the ratio is a pipeline ratio, not a kernel
ratio; both raw scores are in the row's note. Precision: float64 on both sides.

Run:  python bench/bench_score.py [--threads 1] [--repeats 3] [--data DIR] [--small]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import _harness as h  # noqa: E402

LAYERS = ["block1", "block2", "avgpool", "fc"]
BENCHMARK = "cowley2023.V4-ridge.210325"


def brainscore_style(x: np.ndarray, y: np.ndarray, n_splits: int = 10, seed: int = 0) -> float:
    """Brain-Score's PLS protocol on one layer: mean over shuffle splits of the median per-unit test r."""
    from sklearn.cross_decomposition import PLSRegression
    from sklearn.model_selection import ShuffleSplit

    scores = []
    for train, test in ShuffleSplit(n_splits=n_splits, train_size=0.9, random_state=seed).split(x):
        pls = PLSRegression(n_components=min(25, x.shape[1]), scale=False).fit(x[train], y[train])
        pred = pls.predict(x[test])
        r = [np.corrcoef(pred[:, j], y[test, j])[0, 1] for j in range(y.shape[1])]
        scores.append(np.nanmedian(r))
    return float(np.mean(scores))


def _inputs(data: str, layers: list[str]):
    """The benchmark, our cached activations per layer, and float64 copies for the sklearn side."""
    import data_loaders.benchmarks  # noqa: F401  (registers the named benchmarks)
    from neurocompare._options import cache_dir
    from neurocompare.benchmarks import benchmark_activations, get_benchmark
    from neurocompare.cache import ActivationCache
    from neurocompare.models import resolve_model

    bench = get_benchmark(BENCHMARK, root=data)
    cache = ActivationCache(cache_dir() / "bench", verbose=False)
    acts = benchmark_activations(resolve_model("convnet_small"), bench, layers, cache=cache, progress=False)
    y = np.nanmean(np.asarray(bench.data.values, float), axis=2)
    xs = {layer: np.asarray(acts[layer].values, float) for layer in layers}
    return bench, acts, xs, y


def worker(side: str, data: str, layers: list[str], repeats: int, warmup: int) -> None:
    """In a fresh process: load the cached activations (not timed), time one side, emit its measurement."""
    from neurocompare._options import thread_limit
    from neurocompare.benchmarks import benchmark_ceiling, combine, layer_scores

    threads = int(os.environ.get("NEUROCOMPARE_BENCH_THREADS", "1"))
    h.set_threads(threads)
    bench, acts, xs, y = _inputs(data, layers)

    def ours() -> float:
        with thread_limit(threads):
            res = {layer: layer_scores(bench, acts[layer], layer) for layer in layers}
            return combine(bench, res, benchmark_ceiling(bench)).raw

    def theirs() -> float:
        with thread_limit(threads):
            return max(brainscore_style(xs[layer], y) for layer in layers)

    h.emit(h.timed(ours if side == "ours" else theirs, repeats, warmup))


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="recorded-data folder (default: the data_dir option, else ../shared/data)")
    ap.add_argument("--repeats", type=int, default=2, help="timed calls per pipeline and round")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2, help="alternate the two pipelines this many times (best is kept)")
    ap.add_argument("--threads", type=int, default=1, help="threads of both pipelines (default 1)")
    ap.add_argument("--small", action="store_true", help="two layers (block2, fc), one timed repeat")
    ap.add_argument("--venvs", default=None, help="unused: both pipelines run in this interpreter")
    ap.add_argument("--worker", choices=("ours", "brainscore_style"), help=argparse.SUPPRESS)
    ap.add_argument("--layers", nargs="+", default=None, help=argparse.SUPPRESS)
    return ap


def _data_root(arg: str | None) -> str:
    if arg:
        return arg
    from neurocompare._options import data_dir

    root = data_dir()
    beside = REPO.parent / "shared" / "data"
    return str(root if (root / "cowley2023_v4").exists() or not beside.exists() else beside)


def run(argv: list[str] | None = None) -> list[dict]:
    """One row: our full scoring pipeline vs the Brain-Score-style one on the same cached activations."""
    args = _parser().parse_args(argv)
    data = _data_root(args.data)
    layers = ["block2", "fc"] if args.small else LAYERS
    repeats = 1 if args.small else args.repeats
    _inputs(data, layers)  # extract once into the cache (not timed), so both workers read the same activations
    common = ["--data", data, "--layers", *layers, "--repeats", repeats, "--warmup", args.warmup]
    runs = {"ours": [], "brainscore_style": []}
    for _ in range(args.rounds):  # alternate the two pipelines: a load swing hits both
        for side in runs:
            runs[side].append(h.run_peer(sys.executable, __file__, ["--worker", side, *common], threads=args.threads))
    ours, peer = h.best_of(runs["ours"]), h.best_of(runs["brainscore_style"])
    case = f"{BENCHMARK}, convnet_small, {len(layers)} layers, 10 splits"
    if ours.get("status") != "ok":
        return [h.row(bench="score", case=case, ours=None, precision="float64", threads=args.threads,
                      note=f"ours failed: {ours.get('detail', '')[-300:]}")]
    note = (f"pipeline ratio: ridge + LOO + split-half ceiling (raw {ours['value']:.3f}) vs sklearn PLS-25 "
            f"(raw {peer.get('value') or float('nan'):.3f}); different regressions, not a kernel ratio")
    return [h.row(bench="score", case=case, ours=ours, peer=peer, peer_name="brainscore-style (sklearn PLS)",
                  precision="float64", threads=args.threads, note=note)]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.layers or LAYERS, args.repeats, args.warmup)
        return 0
    rows = run(argv)
    print(h.format_table(rows), end="")
    for r in rows:
        print(f"  {r['note']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
