"""The one protocol: predictivity == benchmark, row order never matters, blocked and given splits, score == score_responses."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurocompare.benchmarks import Benchmark, combine, layer_scores, benchmark_ceiling, score, score_responses
from neurocompare.benchmarks.spec import pool4
from neurocompare.data import make_rdm, make_responses
from neurocompare.similarity import make_splits, pls_predictivity, ridge_predictivity
from neurocompare._result import Result


def planted(n=90, d=40, u=5, noise=1.0, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 4))
    x = z @ rng.standard_normal((4, d)) + 0.5 * rng.standard_normal((n, d))
    y = z @ rng.standard_normal((4, u)) + noise * rng.standard_normal((n, u))
    return x, y


# ----------------------------------------------------------------------------- one protocol
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_ridge_predictivity_is_the_benchmark_raw_score(seed):
    x, y = planted(seed=seed)
    res = ridge_predictivity(x, y, seed=seed)
    s = score_responses({"x": x}, Benchmark(y, metric="ridge", seed=seed))
    assert res.value == s.raw  # exactly: the same procedure, not a re-implementation
    assert res.error == s.raw_error and res.error_kind == s.error_kind == "sd over 10 splits"
    np.testing.assert_array_equal(res.per_split, s.per_split)


def test_pls_predictivity_and_responses_inputs_are_the_benchmark_too():
    x, y = planted(seed=2)
    ids = [f"stim{i:03d}" for i in range(90)]
    rx, ry = make_responses(x, stimulus_ids=ids), make_responses(y, stimulus_ids=ids)
    p = np.random.default_rng(0).permutation(90)
    res = pls_predictivity(rx.isel(stimulus=p), ry, n_components=5, seed=3)
    s = score_responses({"x": rx}, Benchmark(ry.isel(stimulus=p[::-1]), metric="pls", seed=3, metric_kwargs={"n_components": 5}))
    assert res.value == s.raw


def test_score_is_a_result():
    x, y = planted()
    s = score_responses({"x": x}, Benchmark(y))
    assert isinstance(s, Result) and float(s) == s.value and s.ci is None
    assert "sd over 10 splits" in s.summary()


# ----------------------------------------------------------------------------- row order
def test_permuting_a_benchmarks_rows_leaves_its_score_unchanged():
    rng = np.random.default_rng(0)
    n, u, reps = 60, 6, 4
    ids = np.array([f"img{i:03d}" for i in range(n)])
    signal = rng.standard_normal((n, 3)) @ rng.standard_normal((3, u))
    data = make_responses(signal[:, :, None] + 0.7 * rng.standard_normal((n, u, reps)), stimulus_ids=ids,
                          dims=("stimulus", "unit", "repetition"))
    acts = {"a": make_responses(signal @ rng.standard_normal((u, 30)) + rng.standard_normal((n, 30)), stimulus_ids=ids),
            "b": make_responses(rng.standard_normal((n, 30)), stimulus_ids=ids)}
    bench = Benchmark(data, metric="ridge", ceiling="split_half", n_splits=5, test_fraction=0.2)
    s = score_responses(acts, bench)
    p = rng.permutation(n)
    s2 = score_responses({k: v.isel(stimulus=p[::-1]) for k, v in acts.items()}, Benchmark(data.isel(stimulus=p), metric="ridge", ceiling="split_half", n_splits=5, test_fraction=0.2))
    assert (s2.value, s2.raw, s2.ceiling, s2.per_split, s2.selected_layers) == (s.value, s.raw, s.ceiling, s.per_split, s.selected_layers)
    # and an RDM stack with the Nili ceiling
    rdms = np.array([1 - np.corrcoef(signal @ rng.standard_normal((u, 8)) + rng.standard_normal((n, 8))) for _ in range(3)])
    stack = make_rdm(rdms, stimulus_ids=ids, stack_dim="subject")
    kw = dict(metric="rsa", ceiling="nili", rdm_subject_dim="subject", n_splits=4, test_fraction=0.5)
    r1 = score_responses(acts, Benchmark(stack, **kw))
    r2 = score_responses(acts, Benchmark(stack.isel(stimulus=p, stimulus_2=p), **kw))
    assert (r1.value, r1.ceiling, r1.per_split) == (r2.value, r2.ceiling, r2.per_split)


def test_split_generator_is_keyed_by_stimulus_id():
    ids = np.array([f"id{i:02d}" for i in range(30)])
    p = np.random.default_rng(5).permutation(30)
    a = make_splits(ids, n_splits=4, test_fraction=0.2, seed=3)
    b = make_splits(ids[p], n_splits=4, test_fraction=0.2, seed=3)
    for (tra, tea), (trb, teb) in zip(a, b):
        assert set(ids[tea]) == set(ids[p][teb]) and set(ids[tra]) == set(ids[p][trb])
    assert make_splits(ids, n_splits=2, seed=4)[0][1].tolist() != make_splits(ids, n_splits=2, seed=3)[0][1].tolist()


def test_split_errors_name_what_to_change():
    with pytest.raises(ValueError, match="test_fraction=0.1 of 20 stimuli holds out 2"):
        make_splits(20)
    with pytest.raises(ValueError, match="test_fraction"):
        Benchmark(np.random.default_rng(0).standard_normal((20, 3)), metric="ridge")  # refused at construction
    with pytest.raises(ValueError, match="unique"):
        make_splits(["a", "a", "b", "c"])
    with pytest.raises(ValueError, match="not in the data"):
        make_splits(["a", "b", "c", "d", "e", "f", "g"], splits=[(["a", "b", "c"], ["x", "e", "f"])])
    with pytest.raises(ValueError, match="both sides"):
        make_splits(list("abcdefg"), splits=[(["a", "b", "c", "d"], ["d", "e", "f"])])
    with pytest.raises(ValueError, match="at least one group on each side"):
        make_splits(12, groups=np.repeat([0, 1], 6), test_fraction=0.1)
    with pytest.raises(ValueError, match="not both"):
        make_splits(12, groups=np.arange(12), stratify=np.arange(12))


def test_stratified_and_user_splits():
    labels = np.repeat(["a", "b", "c"], [30, 20, 10])
    for _, te in make_splits(60, stratify=labels, test_fraction=0.2):
        assert [(labels[te] == k).sum() for k in "abc"] == [6, 4, 2]
    x, y = planted(n=40)
    ids = [f"{i:02d}" for i in range(40)]  # the ids a plain array gets
    given = [(ids[:30], ids[30:]), (ids[10:], ids[:10])]
    s = score_responses({"x": x}, Benchmark(y, splits=given))
    assert len(s.per_split) == 2
    res = ridge_predictivity(x, y, splits=given)
    assert res.value == s.raw and res.params["user_splits"]


# ----------------------------------------------------------------------------- blocked splits
def time_binned(n_sounds=24, n_bins=8, seed=0):
    """Responses to time bins of sounds: each sound has its own slow response, so neighbouring bins are correlated.

    The model features carry the sound's identity (what a model would memorise) but nothing that
    generalises to a new sound: only a leak of sibling bins into training can predict held-out bins.
    """
    rng = np.random.default_rng(seed)
    sound = np.repeat(np.arange(n_sounds), n_bins)
    level = rng.standard_normal((n_sounds, 5))[sound]  # per-sound response, shared by its bins
    y = level + 0.3 * rng.standard_normal((sound.size, 5))
    x = np.eye(n_sounds)[sound] @ rng.standard_normal((n_sounds, 40)) + 0.3 * rng.standard_normal((sound.size, 40))
    ids = [f"sound{s:02d}_bin{t}" for s in range(n_sounds) for t in range(n_bins)]
    coords = {"sound": ("stimulus", np.array([f"sound{s:02d}" for s in sound]))}
    return make_responses(x, stimulus_ids=ids), make_responses(y, stimulus_ids=ids, coords=coords)


def test_blocked_splits_keep_every_bin_of_a_sound_on_one_side_and_stop_the_leak():
    x, y = time_binned()
    bench = Benchmark(y, metric="ridge", groups="sound", n_splits=5, test_fraction=0.25)
    labels = y.sound.values
    from neurocompare.benchmarks.procedure import split_positions

    for train, test in split_positions(bench, np.arange(labels.size), 0):
        assert not set(labels[train]) & set(labels[test]) and len(set(labels[test])) == 6
    leaky = score_responses({"x": x}, Benchmark(y, metric="ridge", n_splits=5, test_fraction=0.25)).raw
    blocked = score_responses({"x": x}, bench).raw
    assert leaky > 0.5 and abs(blocked) < 0.25, (leaky, blocked)  # sibling bins inflate random splits
    assert ridge_predictivity(x, y, groups="sound", n_splits=5, test_fraction=0.25).value == blocked


# ----------------------------------------------------------------------------- model scoring = score_responses(extract)
def test_score_equals_score_responses_of_extract_with_the_models_preprocessing():
    from neurocompare.activations import extract
    from neurocompare.models import resolve_model

    rng = np.random.default_rng(0)
    n = 40
    ids = np.array([f"img{i:03d}" for i in range(n)])
    images = xr.DataArray(rng.integers(0, 256, size=(n, 20, 20, 3), dtype=np.uint8), dims=("stimulus", "height", "width", "channel"),
                          coords={"stimulus_id": ("stimulus", ids)})
    data = make_responses(rng.standard_normal((n, 4)), stimulus_ids=ids)
    bench = Benchmark(data, images, metric="ridge", n_splits=3, test_fraction=0.25)
    resolved = resolve_model("convnet_small")
    layers = ["block1", "block2"]
    s = score(resolved, bench, layers=layers, progress=False)
    acts = extract(resolved.model, bench.stimuli, layers, reduce=pool4, transform=resolved.preprocessing, progress=False)
    s2 = score_responses(acts, bench)
    assert s.raw == s2.raw and s.per_split == s2.per_split and s.selected_layers == s2.selected_layers
    # the protocol's pieces compose to the same Score
    s3 = combine(bench, [layer_scores(bench, acts[k], k) for k in layers], benchmark_ceiling(bench))
    assert s3.raw == s.raw
    with pytest.raises(ValueError, match="has no stimuli"):
        score(resolved, Benchmark(data, metric="ridge", n_splits=3, test_fraction=0.25), layers=layers)
