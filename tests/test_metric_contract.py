"""Every registered metric runs through a Benchmark on tiny seeded data (the registry-wide contract).

A metric registered anywhere is picked up here: it must give a finite raw score through
``score_responses``, choose the layer that carries the signal, be unchanged by permuting the
benchmark's rows, and (representational metrics) report as each split's test score exactly the
measure computed on that split's held-out stimuli.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurocompare.benchmarks import Benchmark, layer_scores, score_responses
from neurocompare.benchmarks.procedure import split_positions
from neurocompare.data import make_responses
from neurocompare.similarity import METRICS, Metric, get_metric, register_metric

N, D, U = 48, 6, 4
KWARGS = {"pls": {"n_components": 3}, "reverse_pls": {"n_components": 3}}


def tiny(seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((N, 3))
    x = z @ rng.standard_normal((3, D)) + 0.3 * rng.standard_normal((N, D))
    y = z @ rng.standard_normal((3, U)) + 0.3 * rng.standard_normal((N, U))
    noise = rng.standard_normal((N, D))
    ids = np.array([f"s{i:02d}" for i in range(N)])
    return make_responses(x, stimulus_ids=ids), make_responses(y, stimulus_ids=ids), make_responses(noise, stimulus_ids=ids)


def bench_for(metric, y, **kw):
    name = metric if isinstance(metric, str) else getattr(metric, "name", "custom")
    return Benchmark(y, metric=metric, n_splits=3, test_fraction=0.25, seed=2, metric_kwargs=KWARGS.get(name, {}), **kw)


@pytest.mark.parametrize("name", METRICS.names())
def test_every_registered_metric_runs_through_a_benchmark(name):
    metric = get_metric(name)
    assert metric.family in ("representational", "mapped") and metric.direction in ("similarity", "distance")
    x, y, noise = tiny()
    bench = bench_for(name, y)
    s = score_responses({"signal": x, "noise": noise}, bench)
    assert np.isfinite(s.raw) and s.error_kind == "sd over 3 splits" and float(s) == s.value
    assert s.metric == name and s.ceiling is None and s.value == s.raw
    if not metric.reverse:  # the layer that shares the latent wins on (nearly) every split
        assert s.selected_layers.count("signal") >= 2, s.selected_layers
    # row order never matters: same ids, same splits, same numbers
    p = np.random.default_rng(1).permutation(N)
    s2 = score_responses({"signal": x.isel(stimulus=p[::-1]), "noise": noise.isel(stimulus=p)}, bench_for(name, y.isel(stimulus=p)))
    assert s2.raw == s.raw and s2.per_split == s.per_split


@pytest.mark.parametrize("name", [n for n in METRICS.names() if get_metric(n).family == "representational"])
def test_representational_test_score_is_the_measure_on_the_held_out_stimuli(name):
    x, y, _ = tiny(3)
    bench = bench_for(name, y)
    res = layer_scores(bench, x, "x")
    metric = get_metric(name)
    for i, (train, held) in enumerate(split_positions(bench, np.arange(N), 0)):
        for idx, got in ((held, res.test[i, 0]), (train, res.select[i, 0])):
            assert got == pytest.approx(metric(x.values[idx], y.values[idx], **KWARGS.get(name, {})), abs=1e-10)


def test_user_metrics_plain_callable_decorator_and_metric_object():
    x, y, noise = tiny(4)

    def mean_abs_corr(a, b):
        c = np.corrcoef(a.T, b.T)[: a.shape[1], a.shape[1]:]
        return float(np.abs(c).mean())

    s = score_responses({"signal": x, "noise": noise}, Benchmark(y, metric=mean_abs_corr, n_splits=3, test_fraction=0.25))
    assert s.metric == "mean_abs_corr" and s.selected_layers.count("signal") >= 2
    if "test_mean_abs_corr" not in METRICS:
        register_metric("test_mean_abs_corr", mean_abs_corr)
    s2 = score_responses({"signal": x, "noise": noise}, Benchmark(y, metric="test_mean_abs_corr", n_splits=3, test_fraction=0.25))
    assert s2.raw == s.raw
    neg = lambda a, b: -mean_abs_corr(a, b)  # noqa: E731
    s3 = score_responses({"signal": x, "noise": noise}, Benchmark(y, metric=Metric("neg", neg, direction="distance"), n_splits=3, test_fraction=0.25))
    assert s3.selected_layers.count("signal") >= 2 and s3.raw == -s.raw  # a distance: the smallest selection score wins
    s4 = score_responses({"signal": x, "noise": noise}, Benchmark(y, metric=Metric("neg", neg), n_splits=3, test_fraction=0.25))
    assert s4.selected_layers.count("noise") >= 2  # the same numbers read as a similarity choose the other layer
    with pytest.raises(TypeError, match="registered name"):
        Benchmark(y, metric=3)
    with pytest.raises(ValueError, match="estimator"):
        Metric("broken", mean_abs_corr, family="mapped")
    with pytest.raises(ValueError, match="already registered"):
        register_metric("ridge", mean_abs_corr)
