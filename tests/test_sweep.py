"""Tests for neurocompare.benchmarks.sweep on a 2-worker dask LocalCluster over loopback."""

from __future__ import annotations

import json
import os
import textwrap

import numpy as np
import pytest
import xarray as xr

distributed = pytest.importorskip("distributed")

from neurocompare.benchmarks import Benchmark, score  # noqa: E402
from neurocompare.data import make_responses  # noqa: E402
from neurocompare.benchmarks import read_sweep_log, run_sweep  # noqa: E402

LAYERS = ["block1", "avgpool"]


def _bench(seed=0) -> Benchmark:
    rng = np.random.default_rng(seed)
    n = 40
    ids = np.array([f"img{i:03d}" for i in range(n)])
    images = rng.integers(0, 256, size=(n, 20, 20, 3), dtype=np.uint8)
    signal = images.reshape(n, -1)[:, :6].astype(float) / 255.0
    values = signal[:, :, None] + 0.3 * rng.normal(size=(n, 6, 4))
    data = make_responses(values, stimulus_ids=ids, dims=("stimulus", "unit", "repetition"))
    stimuli = xr.DataArray(images, dims=("stimulus", "height", "width", "channel"), coords={"stimulus_id": ("stimulus", ids)})
    return Benchmark(data, stimuli, identifier="synthetic.sweep-ridge.v1", metric="ridge", ceiling="split_half", n_splits=3, test_fraction=0.25)


@pytest.fixture(scope="module")
def cluster_client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _same(a, b):
    assert a.benchmark == b.benchmark
    assert a.selected_layers == b.selected_layers
    np.testing.assert_allclose([a.value, a.raw, a.ceiling], [b.value, b.raw, b.ceiling], rtol=0, atol=1e-12)
    for layer in a.layers:
        np.testing.assert_allclose(a.layers[layer]["raw"], b.layers[layer]["raw"], rtol=0, atol=1e-12)


def test_sweep_equals_serial_and_resumes(cluster_client, tmp_path):
    bench = _bench()
    out = tmp_path / "sweep"
    res = run_sweep(["convnet_small"], [bench], layers=LAYERS, out=out, client=cluster_client, cache_dir=tmp_path / "cache")
    assert res.n_computed == 2 and res.n_reused == 0
    serial = score("convnet_small", bench, layers=LAYERS, progress=False)
    _same(res.scores[0], serial)
    assert res.scores[0].provenance["executor"] == "dask.distributed"
    records = read_sweep_log(out / "sweep.jsonl")
    assert [r["kind"] for r in records].count("layer") == 2 and records[-1]["kind"] == "score"
    assert (out / "convnet_small_seed_0__synthetic.sweep-ridge.v1.json").exists()

    # interrupt: keep the first two task results, plus a torn half-line as a crash would leave
    lines = (out / "sweep.jsonl").read_text().splitlines()
    kept = [ln for ln in lines if json.loads(ln)["kind"] in ("ceiling", "layer")][:2]
    (out / "sweep.jsonl").write_text("\n".join(kept) + "\n" + lines[-1][:40])
    res2 = run_sweep(["convnet_small"], [bench], layers=LAYERS, out=out, client=cluster_client, cache_dir=tmp_path / "cache")
    n_layers_kept = sum(json.loads(ln)["kind"] == "layer" for ln in kept)
    assert res2.n_reused == n_layers_kept and res2.n_computed == 2 - n_layers_kept
    _same(res2.scores[0], serial)
    for rec in read_sweep_log(out / "sweep.jsonl"):  # the torn line was dropped, the file parses
        assert "kind" in rec


@pytest.mark.slow
def test_killed_worker_task_is_rerun(cluster_client, tmp_path, monkeypatch):
    # a model spec whose first call in a worker process kills that worker (os._exit), like an OOM kill
    marker = tmp_path / "killed_once"
    (tmp_path / "chaos_model_mod.py").write_text(
        textwrap.dedent(
            f"""
            import os
            from neurocompare.models import build_model

            def build():
                if os.getpid() != {os.getpid()} and not os.path.exists({str(marker)!r}):
                    open({str(marker)!r}, "w").close()
                    os._exit(1)
                return build_model("convnet_small", seed=0)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))  # for restarted workers
    cluster_client.run(exec, f"import sys; sys.path.insert(0, {str(tmp_path)!r})")
    bench = _bench()
    res = run_sweep(["chaos_model_mod:build"], [bench], layers=["block1", "avgpool"], out=tmp_path / "out", client=cluster_client)
    assert marker.exists()  # a worker really died
    # the same spec serially (in this process it never dies); a module:function model has no registered
    # preprocessing since the models package registers preprocessing with each named model
    serial = score("chaos_model_mod:build", bench, layers=["block1", "avgpool"], progress=False)
    _same(res.scores[0], serial)


def test_sweep_needs_known_benchmarks(cluster_client, tmp_path):
    with pytest.raises(KeyError, match="Unknown benchmark"):
        run_sweep(["convnet_small"], ["no.such-benchmark"], out=tmp_path, client=cluster_client)


@pytest.mark.parametrize("n_workers", [0, -1, 1.5, True])
def test_sweep_needs_at_least_one_worker(tmp_path, n_workers):
    # a LocalCluster with no worker waits forever: refused before any cluster starts
    with pytest.raises(ValueError, match=r"n_workers >= 1 .*got"):
        run_sweep(["convnet_small"], [_bench()], layers=LAYERS, out=tmp_path / "s", n_workers=n_workers)
    assert not (tmp_path / "s").exists()
