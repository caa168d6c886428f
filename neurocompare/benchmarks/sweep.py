"""Score many models on many benchmarks on a Dask cluster: one task per (model, benchmark, layer).

For each (model, benchmark) one extraction task runs the model once and writes every layer into
the shared activation cache; then one scoring task per layer reads its layer and computes its
per-split scores, and one task per benchmark computes the ceiling.

:func:`run_sweep` builds the model × benchmark × layer grid and runs it on ``dask.distributed``
(a ``LocalCluster`` by default, or any scheduler address for a real cluster). Every task runs the
same functions as the serial :func:`neurocompare.benchmarks.score` — extraction through the
activation cache, :func:`~neurocompare.benchmarks.layer_scores`,
:func:`~neurocompare.benchmarks.benchmark_ceiling`, and finally
:func:`~neurocompare.benchmarks.combine` on the client — so the scores are the same.

Robustness:

- tasks are submitted with ``retries`` (an exception is retried) and the scheduler re-runs the
  tasks of a worker that dies;
- each result is appended to ``OUT/sweep.jsonl`` as soon as it completes (one JSON object per
  line: ``kind`` = ``'layer'``, ``'ceiling'`` or ``'score'``) and flushed, so an interrupted
  sweep resumes: a re-run reads the file and submits only what is missing. Results are keyed by
  model id, weights hash, benchmark identifier, seed and layer, so changed weights never reuse
  old results.

Workers need the same code and data paths as the client (a shared file system on a real
cluster). Benchmarks registered by other modules (``data_loaders.benchmarks``) are re-imported
in the workers from the module that registered them.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurocompare._options import thread_limit
from neurocompare.benchmarks.io import write_score
from neurocompare.benchmarks.procedure import LayerResult, benchmark_ceiling, combine, layer_scores
from neurocompare.benchmarks.run import benchmark_activations, default_layers, model_provenance
from neurocompare.benchmarks.score import Score
from neurocompare.benchmarks.spec import BENCHMARKS, Benchmark, get_benchmark, resolve_identifier, with_seed

__all__ = ["SweepResult", "run_sweep", "read_sweep_log"]

_MODEL_CACHE: dict[tuple[str, str], Any] = {}


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns.

    Attributes
    ----------
    scores : list of Score
        One per (model, benchmark), in the order asked.
    n_computed : int
        Tasks run in this call.
    n_reused : int
        Results taken from an earlier (interrupted) run's log.
    log : Path or None
        The JSON-lines file.
    """

    scores: list[Score]
    n_computed: int = 0
    n_reused: int = 0
    log: Path | None = None


# ----------------------------------------------------------------------------- worker side
def _import_modules(modules: Sequence[str]) -> None:
    for name in modules:
        if name and name != "__main__":
            importlib.import_module(name)


def _worker_model(spec: Any, kwargs_json: str) -> Any:
    from neurocompare.models import resolve_model

    key = (str(spec), kwargs_json)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = resolve_model(spec, kwargs=json.loads(kwargs_json))
    return _MODEL_CACHE[key]


def _worker_bench(bench: Any, seed: int | None, root: Any, modules: Sequence[str]) -> Benchmark:
    if isinstance(bench, Benchmark):
        return with_seed(bench, seed)
    _import_modules(modules)
    return with_seed(get_benchmark(bench, root=root), seed)


def _extract_task(spec, kwargs_json, bench, layers, seed, root, modules, cache_dir, device, batch_size) -> int:
    """Extract all ``layers`` in one pass into the shared activation cache; returns the layer count."""
    from neurocompare.cache import ActivationCache

    resolved = _worker_model(spec, kwargs_json)
    b = _worker_bench(bench, seed, root, modules)
    cache = ActivationCache(cache_dir, verbose=False)
    benchmark_activations(resolved, b, list(layers), cache=cache, device=device, batch_size=batch_size, progress=False)
    return len(layers)


def _layer_task(spec, kwargs_json, bench, layer, seed, root, modules, cache_dir, device, batch_size, _after=None) -> dict[str, Any]:
    """Read one layer from the cache (extracting it if absent) and compute its per-split scores."""
    from neurocompare.cache import ActivationCache

    resolved = _worker_model(spec, kwargs_json)
    b = _worker_bench(bench, seed, root, modules)
    cache = ActivationCache(cache_dir, verbose=False)
    acts = benchmark_activations(resolved, b, [layer], cache=cache, device=device, batch_size=batch_size, progress=False)
    with thread_limit(1):
        return layer_scores(b, acts[layer], layer).to_dict()


def _ceiling_task(bench, seed, root, modules) -> dict[str, Any] | None:
    b = _worker_bench(bench, seed, root, modules)
    with thread_limit(1):
        return benchmark_ceiling(b)


# ----------------------------------------------------------------------------- the log
def read_sweep_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Records of a sweep log (``sweep.jsonl``); an incomplete last line (a crash mid-write) is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class _Log:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size:
            with open(path, "rb+") as fh:  # drop a torn last line so appends start clean
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    fh.seek(0)
                    data = fh.read()
                    cut = data.rfind(b"\n") + 1
                    fh.truncate(cut)
        self.fh = open(path, "a")

    def write(self, record: dict[str, Any]) -> None:
        self.fh.write(json.dumps(record) + "\n")
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()


def _key(kind: str, model_id: str, whash: str, bench_id: str, seed: int, layer: str = "") -> str:
    return json.dumps([kind, model_id, whash, bench_id, int(seed), layer])


# ----------------------------------------------------------------------------- client side
def run_sweep(
    models: Sequence[Any],
    benchmarks: Sequence[Any],
    *,
    layers: Sequence[str] | None = None,
    out: str | os.PathLike = "sweep_results",
    scheduler: str | None = None,
    client: Any = None,
    n_workers: int = 2,
    seed: int | None = None,
    root: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    device: str | None = None,
    batch_size: int = 64,
    retries: int = 2,
    model_kwargs: dict[str, Any] | None = None,
) -> SweepResult:
    """Score every model on every benchmark, one Dask task per (model, benchmark, layer).

    Parameters
    ----------
    models : sequence of str
        Model specs (see :func:`neurocompare.models.resolve_model`); workers rebuild them
        from the spec, so pass strings (registered names, checkpoint paths, ``module:function``).
    benchmarks : sequence of str or Benchmark
        Registered identifiers, or Benchmark objects (sent to the workers).
    layers : sequence of str, optional
        Default: each model's :func:`~neurocompare.benchmarks.default_layers`.
    out : path-like
        Folder for ``sweep.jsonl`` and one ``<model>__<benchmark>.json``/``.nc`` per score.
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); default: a new ``LocalCluster``.
    client : distributed.Client, optional
        Use this client (takes precedence over ``scheduler``).
    n_workers : int
        Workers of the LocalCluster (one thread each), at least 1.
    seed : int, optional
        Split seed (default: each benchmark's).
    root : path-like, optional
        Data root for registered benchmarks (must be valid on the workers).
    cache_dir : path-like, optional
        Activation cache shared by the workers (default ``OUT/activation_cache``): one task per
        (model, benchmark) extracts every layer in one forward pass, the per-layer scoring tasks
        read them from there.
    device : str, optional
    batch_size : int
    retries : int
        Times a failed task is retried.
    model_kwargs : dict, optional
        Builder keyword arguments for every model.

    Returns
    -------
    SweepResult
    """
    from neurocompare._optional import require
    from neurocompare.models import resolve_model

    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(
            f"run_sweep() needs n_workers >= 1 (a LocalCluster with no worker waits forever); got {n_workers!r}. "
            "Pass n_workers=1 or more (neurocompare sweep --workers N), or a scheduler address."
        )
    distributed = require("distributed", "neurocompare sweep")
    kwargs_json = json.dumps(model_kwargs or {}, sort_keys=True)
    out = Path(out)
    if cache_dir is None:  # the workers share activations through an on-disk cache
        cache_dir = out / "activation_cache"
    log_path = out / "sweep.jsonl"
    done: dict[str, Any] = {}
    for rec in read_sweep_log(log_path):
        if rec.get("kind") in ("layer", "ceiling") and "key" in rec:
            done[rec["key"]] = rec.get("result")

    # resolve models and benchmarks on the client (ids, weights hashes, layers)
    resolved = [resolve_model(m, kwargs=json.loads(kwargs_json)) for m in models]
    benches: list[Benchmark] = []
    bench_refs: list[Any] = []
    modules: set[str] = set()
    for b in benchmarks:
        if isinstance(b, Benchmark):
            benches.append(with_seed(b, seed))
            bench_refs.append(None)
        else:
            ident = resolve_identifier(b)
            modules.add(BENCHMARKS.get(ident).builder.__module__)
            benches.append(with_seed(get_benchmark(ident, root=root), seed))
            bench_refs.append(ident)
    mods = tuple(sorted(modules))
    grid = []
    for rm, mspec in zip(resolved, models):
        mlayers = list(layers) if layers is not None else default_layers(rm.model)
        for bench, ref in zip(benches, bench_refs):
            grid.append((rm, mspec, bench, ref, mlayers))

    own_cluster = None
    if client is None:
        if scheduler:
            client = distributed.Client(scheduler)
        else:
            own_cluster = distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            )
            client = distributed.Client(own_cluster)
        own_client = True
    else:
        own_client = False
    log = _Log(log_path)
    n_computed = n_reused = 0
    try:
        scattered: dict[int, Any] = {}
        futures: dict[Any, tuple[str, str, dict[str, Any]]] = {}
        for rm, mspec, bench, ref, mlayers in grid:
            bench_arg = ref
            if ref is None:
                if id(bench) not in scattered:
                    scattered[id(bench)] = client.scatter(bench, broadcast=True)
                bench_arg = scattered[id(bench)]
            ckey = _key("ceiling", "-", "-", bench.identifier, bench.seed)
            if ckey not in done and ckey not in {v[0] for v in futures.values()}:
                fut = client.submit(_ceiling_task, bench_arg, bench.seed, root, mods, retries=retries, pure=False)
                futures[fut] = (ckey, "ceiling", {"benchmark": bench.identifier, "seed": bench.seed})
            todo = [layer for layer in mlayers if _key("layer", rm.model_id, rm.weights_hash, bench.identifier, bench.seed, layer) not in done]
            n_reused += len(mlayers) - len(todo)
            spec_arg = mspec if isinstance(mspec, str) else rm.spec
            extracted = None
            if todo:  # one forward pass for all missing layers, into the shared cache
                extracted = client.submit(
                    _extract_task, spec_arg, kwargs_json, bench_arg, tuple(todo), bench.seed,
                    None if root is None else os.fspath(root), mods, os.fspath(cache_dir), device, batch_size,
                    retries=retries, pure=False,
                )
            for layer in todo:
                lkey = _key("layer", rm.model_id, rm.weights_hash, bench.identifier, bench.seed, layer)
                fut = client.submit(
                    _layer_task,
                    mspec if isinstance(mspec, str) else rm.spec,
                    kwargs_json,
                    bench_arg,
                    layer,
                    bench.seed,
                    None if root is None else os.fspath(root),
                    mods,
                    os.fspath(cache_dir),
                    device,
                    batch_size,
                    extracted,
                    retries=retries,
                    pure=False,
                )
                futures[fut] = (
                    lkey,
                    "layer",
                    {"model_id": rm.model_id, "weights_hash": rm.weights_hash, "benchmark": bench.identifier, "seed": bench.seed, "layer": layer},
                )
        for fut in distributed.as_completed(list(futures)):
            key, kind, meta = futures[fut]
            result = fut.result()
            done[key] = result
            log.write({"kind": kind, "key": key, **meta, "result": result})
            if kind == "layer":
                n_computed += 1
        scores = []
        for rm, _mspec, bench, _ref, mlayers in grid:
            results = {
                layer: LayerResult.from_dict(done[_key("layer", rm.model_id, rm.weights_hash, bench.identifier, bench.seed, layer)])
                for layer in mlayers
            }
            ceiling = done[_key("ceiling", "-", "-", bench.identifier, bench.seed)]
            prov = model_provenance(rm, bench, mlayers)
            prov["executor"] = "dask.distributed"
            s = combine(bench, results, ceiling, prov)
            scores.append(s)
            log.write({"kind": "score", "model_id": rm.model_id, "benchmark": bench.identifier, "seed": bench.seed, "score": s.to_dict()})
            write_score(s, out)
    finally:
        log.close()
        if own_client:
            client.close()
        if own_cluster is not None:
            own_cluster.close()
    return SweepResult(scores=scores, n_computed=n_computed, n_reused=n_reused, log=log_path)
