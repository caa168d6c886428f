"""Tests for neurocompare.benchmarks: the scoring procedure, ceilings, Score, registry, CLI.

The split generator, protocol invariances and the metric contract are in tests/test_protocol.py
and tests/test_metric_contract.py.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import xarray as xr

from neurocompare.benchmarks import (
    BENCHMARKS,
    Benchmark,
    LayerResult,
    Score,
    benchmark_ceiling,
    combine,
    get_benchmark,
    layer_scores,
    register_benchmark,
    score,
)
from neurocompare.cli import build_parser
from neurocompare.data import make_rdm, make_responses
from neurocompare.similarity import make_splits


# ----------------------------------------------------------------------------- synthetic data
def synthetic_benchmark(n=48, units=6, reps=4, noise=0.5, seed=0, **kw) -> tuple[Benchmark, np.ndarray]:
    """Random 20x20 RGB images; neurons respond linearly to a random 'true' feature space + noise.

    Returns the benchmark and the true (noise-free) signal (stimulus, unit).
    """
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 20, 20, 3), dtype=np.uint8)
    ids = np.array([f"img{i:03d}" for i in range(n)])
    latent = rng.normal(size=(n, 5))
    signal = latent @ rng.normal(size=(5, units))
    values = signal[:, :, None] + noise * rng.normal(size=(n, units, reps))
    data = make_responses(values, stimulus_ids=ids, dims=("stimulus", "unit", "repetition"))
    stimuli = xr.DataArray(images, dims=("stimulus", "height", "width", "channel"), coords={"stimulus_id": ("stimulus", ids)})
    params = dict(identifier="synthetic.V0-ridge.v1", data=data, stimuli=stimuli, metric="ridge", ceiling="split_half", n_splits=4, test_fraction=0.25)
    params.update(kw)
    return Benchmark(**params), signal


def as_features(values, ids) -> xr.DataArray:
    return make_responses(np.asarray(values, dtype=float), stimulus_ids=ids)


# ----------------------------------------------------------------------------- numerics of the procedure
def test_ridge_layer_scores_equal_sklearn_ridge_test_r_and_bruteforce_loo_selection_r():
    # reference: scikit-learn Ridge (1.x) at the benchmark's penalty (one relative alpha, so no choice);
    # selection score = Pearson r of leave-one-out predictions (refit without each train stimulus,
    # centring from all train stimuli fixed) inside the train stimuli of each split
    from scipy.stats import pearsonr
    from sklearn.linear_model import Ridge

    for p in (60, 8):  # more features than train stimuli (kernel form), and fewer (primal form)
        bench, signal = synthetic_benchmark(n=40, units=3, n_splits=2, metric_kwargs={"alphas": [0.3]})
        x = signal @ np.random.default_rng(p).normal(size=(3, p)) + np.random.default_rng(p + 1).normal(size=(40, p))
        r = layer_scores(bench, as_features(x, bench.data.stimulus_id.values), "x")
        y = bench.data.mean("repetition").values
        for s, (train, held) in enumerate(make_splits(40, n_splits=2, test_fraction=bench.test_fraction, seed=bench.seed)):
            xc = x[train] - x[train].mean(0)
            evals = np.linalg.eigvalsh(xc @ xc.T if len(train) <= p else xc.T @ xc)
            scale = evals.clip(0).mean() if len(train) <= p else evals[evals > evals.max() * 1e-12].mean()
            lam = 0.3 * scale
            pred = Ridge(alpha=lam).fit(x[train], y[train]).predict(x[held])
            np.testing.assert_allclose(r.test[s], [pearsonr(pred[:, u], y[held, u])[0] for u in range(3)], atol=1e-10)
            yc = y[train] - y[train].mean(0)
            loo = np.array([
                Ridge(alpha=lam, fit_intercept=False).fit(np.delete(xc, i, 0), np.delete(yc, i, 0)).predict(xc[i : i + 1])[0]
                for i in range(len(train))
            ])
            np.testing.assert_allclose(r.select[s], [pearsonr(loo[:, u], yc[:, u])[0] for u in range(3)], atol=1e-10)


def test_dead_layer_gets_nan_and_is_never_chosen_and_constant_rsa_pattern_is_an_error():
    bench, signal = synthetic_benchmark()
    ids = bench.data.stimulus_id.values
    dead = layer_scores(bench, as_features(np.ones((48, 5)), ids), "dead")
    assert np.isnan(dead.test).all() and np.isnan(dead.select).all()
    s = combine(bench, [dead, layer_scores(bench, as_features(signal, ids), "live")], None)
    assert s.selected_layers == ["live"] * 4 and "nan_targets" in s.flags
    n = 12
    rsa_ids = np.array([f"s{i:02d}" for i in range(n)])
    rng = np.random.default_rng(0)
    rdms = make_rdm(np.array([1 - np.corrcoef(rng.normal(size=(n, 5))) for _ in range(2)]), stimulus_ids=rsa_ids, stack_dim="subject")
    stimuli = xr.DataArray(np.zeros((n, 2, 2, 3), np.uint8), dims=("stimulus", "height", "width", "channel"), coords={"stimulus_id": ("stimulus", rsa_ids)})
    rsa_bench = Benchmark(rdms, stimuli, identifier="toy.dead-rsa.v1", metric="rsa", rdm_subject_dim="subject", n_splits=2, test_fraction=0.5)
    feats = rng.normal(size=(n, 4))
    feats[3] = 1.0  # no variance across units: correlation distance undefined
    with pytest.raises(ValueError, match="zero variance across units"):
        layer_scores(rsa_bench, as_features(feats, rsa_ids), "x")


@pytest.mark.gpu
def test_metric_on_cuda_matches_cpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    bench, signal = synthetic_benchmark()
    feats = as_features(signal @ np.random.default_rng(0).normal(size=(6, 40)), bench.data.stimulus_id.values)
    cpu, gpu = layer_scores(bench, feats, "x"), layer_scores(bench, feats, "x", device="cuda")
    np.testing.assert_allclose(gpu.test, cpu.test, atol=1e-8)
    np.testing.assert_allclose(gpu.select, cpu.select, atol=1e-8)


def test_split_half_ceiling_estimates_known_reliability():
    # each unit: signal variance v_u, noise variance 1 per repetition, R repetitions -> the
    # Spearman-Brown-corrected split-half r estimates v_u / (v_u + 1/R)
    rng = np.random.default_rng(11)
    n, units, reps = 600, 5, 4
    v = np.array([0.1, 0.25, 0.5, 1.0, 2.0])
    values = np.sqrt(v)[None, :, None] * rng.normal(size=(n, units, 1)) + rng.normal(size=(n, units, reps))
    ids = np.array([f"s{i:03d}" for i in range(n)])
    data = make_responses(values, stimulus_ids=ids, dims=("stimulus", "unit", "repetition"))
    stimuli = xr.DataArray(np.zeros((n, 2, 2, 3), np.uint8), dims=("stimulus", "height", "width", "channel"), coords={"stimulus_id": ("stimulus", ids)})
    bench = Benchmark(data, stimuli, identifier="toy.rel-ridge.v1", metric="ridge", ceiling="split_half", n_splits=3, test_fraction=0.5)
    ceil = benchmark_ceiling(bench)
    expected = np.median(v / (v + 1.0 / reps))  # 0.5 / (0.5 + 0.25) = 2/3
    assert ceil["value"] == pytest.approx(expected, abs=0.06)
    assert len(ceil["per_split"]) == 3


def test_nili_ceiling_known_answers():
    # identical subject RDMs: upper = lower = 1; otherwise compared with scipy's spearmanr (1.x)
    # against the mean of the rank-transformed RDMs, on each split's test stimuli
    from scipy.stats import rankdata, spearmanr

    rng = np.random.default_rng(8)
    n = 24
    ids = np.array([f"s{i:02d}" for i in range(n)])
    stimuli = xr.DataArray(np.zeros((n, 4, 4, 3), np.uint8), dims=("stimulus", "height", "width", "channel"), coords={"stimulus_id": ("stimulus", ids)})
    truth = rng.normal(size=(n, 8))
    same = np.array([1 - np.corrcoef(truth)] * 3)
    bench = Benchmark(make_rdm(same, stimulus_ids=ids, stack_dim="subject"), stimuli, identifier="toy.same-rsa.v1", metric="rsa", ceiling="nili", rdm_subject_dim="subject", n_splits=3, test_fraction=0.5)
    c = benchmark_ceiling(bench)
    assert c["value"] == pytest.approx(1.0) and c["lower"] == pytest.approx(1.0)
    rdms = np.array([1 - np.corrcoef(truth + rng.normal(size=truth.shape)) for _ in range(5)])
    bench = dataclasses.replace(bench, identifier="toy.nili-rsa.v1", data=make_rdm(rdms, stimulus_ids=ids, stack_dim="subject"))
    c = benchmark_ceiling(bench)
    for s, (_, held) in enumerate(make_splits(n, n_splits=3, test_fraction=0.5, seed=0)):
        iu = np.triu_indices(len(held), 1)
        vecs = rdms[:, held][:, :, held][:, iu[0], iu[1]]
        pooled = rankdata(vecs, axis=1).mean(0)
        upper = np.mean([spearmanr(v, pooled)[0] for v in vecs])
        lower = np.mean([spearmanr(vecs[i], rankdata(np.delete(vecs, i, 0), axis=1).mean(0))[0] for i in range(5)])
        assert c["per_split"][s] == pytest.approx(upper, abs=1e-12)
        assert 0 < lower < upper
    assert c["value"] == pytest.approx(np.mean(c["per_split"]))


def test_rsa_layer_scores_equal_scipy_spearman_of_correlation_distance_rdms():
    # reference: scipy (1.x) pdist(metric='correlation') and spearmanr, per split and subject
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr

    rng = np.random.default_rng(9)
    n = 20
    ids = np.array([f"s{i:02d}" for i in range(n)])
    rdms = np.array([1 - np.corrcoef(rng.normal(size=(n, 6))) for _ in range(3)])
    stimuli = xr.DataArray(np.zeros((n, 4, 4, 3), np.uint8), dims=("stimulus", "height", "width", "channel"), coords={"stimulus_id": ("stimulus", ids)})
    bench = Benchmark(make_rdm(rdms, stimulus_ids=ids, stack_dim="subject"), stimuli, identifier="toy.sp-rsa.v1", metric="rsa", rdm_subject_dim="subject", n_splits=2, test_fraction=0.5)
    x = rng.normal(size=(n, 7))
    r = layer_scores(bench, as_features(x, ids), "x")
    for s, (train, held) in enumerate(make_splits(n, n_splits=2, test_fraction=0.5, seed=0)):
        for idx, got in ((held, r.test[s]), (train, r.select[s])):
            iu = np.triu_indices(len(idx), 1)
            model = pdist(x[idx], metric="correlation")
            ref = [spearmanr(model, rdms[k][np.ix_(idx, idx)][iu])[0] for k in range(3)]
            np.testing.assert_allclose(got, ref, atol=1e-12)


# ----------------------------------------------------------------------------- combine: layer choice
def _fake_bench(n_splits=3):
    bench, _ = synthetic_benchmark(n_splits=n_splits)
    return bench


def test_layer_is_chosen_on_selection_scores_not_test_scores():
    bench = _fake_bench()
    # layer 'a' has the best *test* scores but the worst *selection* scores: choosing it would be double dipping
    a = LayerResult("a", test=np.full((3, 6), 0.9), select=np.full((3, 6), 0.1))
    b = LayerResult("b", test=np.full((3, 6), 0.5), select=np.full((3, 6), 0.6))
    s = combine(bench, [a, b], ceiling=None)
    assert s.selected_layers == ["b", "b", "b"]
    assert s.layer == "b"
    assert s.raw == pytest.approx(0.5)
    assert s.layers["a"]["raw"] == pytest.approx(0.9)  # reported per layer, but not used for the score


def test_combine_per_split_choice_and_ceiling_ratio_and_flags():
    bench = _fake_bench()
    a = LayerResult("a", test=np.array([[0.2] * 6, [0.4] * 6, [0.6] * 6]), select=np.array([[0.9] * 6, [0.1] * 6, [0.9] * 6]))
    b = LayerResult("b", test=np.array([[0.3] * 6, [0.5] * 6, [0.7] * 6]), select=np.array([[0.1] * 6, [0.9] * 6, [0.1] * 6]))
    s = combine(bench, {"a": a, "b": b}, ceiling={"value": 0.4, "per_split": [0.4] * 3})
    assert s.selected_layers == ["a", "b", "a"]
    assert s.raw == pytest.approx(np.mean([0.2, 0.5, 0.6]))
    assert s.value == pytest.approx(s.raw / 0.4)
    assert s.error == pytest.approx(np.std([0.2, 0.5, 0.6], ddof=1) / 0.4)
    assert "above_ceiling" in s.flags  # 0.433 / 0.4 > 1 is kept, and flagged
    low = combine(bench, {"a": a}, ceiling={"value": 0.1})
    assert "low_ceiling" in low.flags and low.value == pytest.approx(low.raw / 0.1)


def test_combine_median_over_units_ignores_nan_units():
    bench = _fake_bench()
    t = np.array([[0.1, 0.2, 0.3, np.nan, 0.5, 0.6]] * 3)
    s = combine(bench, [LayerResult("a", t, t)], ceiling=None)
    assert s.raw == pytest.approx(0.3)
    assert "nan_targets" in s.flags


def test_combine_needs_results():
    with pytest.raises(ValueError, match="at least one layer"):
        combine(_fake_bench(), [], ceiling=None)


# ----------------------------------------------------------------------------- the procedure on synthetic data
def test_true_signal_scores_near_ceiling_and_shuffled_ids_near_chance():
    bench, signal = synthetic_benchmark(n=80, units=8, reps=6, noise=1.0, n_splits=5, test_fraction=0.25)
    ids = bench.data.stimulus_id.values
    ceiling = benchmark_ceiling(bench)
    # a "model" that has the noise-free signal in a different basis: predictivity ~ sqrt(reliability)
    feats = as_features(signal @ np.random.default_rng(3).normal(size=(8, 8)), ids)
    s = combine(bench, [layer_scores(bench, feats, "true")], ceiling)
    assert 0.75 < s.value < 1.3, s
    shuffled = feats.assign_coords(stimulus_id=("stimulus", np.random.default_rng(4).permutation(ids)))
    s0 = combine(bench, [layer_scores(bench, shuffled, "shuffled")], ceiling)
    assert abs(s0.raw) < 0.2, s0


def test_score_is_deterministic_for_a_seed_and_changes_with_it():
    bench, _ = synthetic_benchmark()
    s1 = score("convnet_small", bench, layers=["block1", "avgpool"], seed=0, progress=False)
    s2 = score("convnet_small", bench, layers=["block1", "avgpool"], seed=0, progress=False)
    assert s1.to_dict()["per_split"] == s2.to_dict()["per_split"]
    assert (s1.value, s1.raw, s1.ceiling, s1.layers) == (s2.value, s2.raw, s2.ceiling, s2.layers)
    s3 = score("convnet_small", bench, layers=["block1", "avgpool"], seed=1, progress=False)
    assert s3.per_split != s1.per_split
    assert s3.provenance["seed"] == 1 and s1.provenance["seed"] == 0


def test_provenance_fields_present_and_json_round_trip(tmp_path):
    bench, _ = synthetic_benchmark()
    s = score("convnet_small", bench, layers=["block2"], progress=False)
    prov = s.provenance
    for key in (
        "model_id", "weights_hash", "preprocessing", "benchmark", "benchmark_version", "metric", "seed",
        "neurocompare_version", "git_commit", "stimulus_hash", "timestamp", "n_splits", "layers",
    ):
        assert key in prov, key
    assert prov["model_id"] == "convnet_small(seed=0)"
    assert len(prov["weights_hash"]) == 64
    assert prov["benchmark"] == "synthetic.V0-ridge.v1" and prov["benchmark_version"] == "v1"
    assert prov["metric"] == "ridge"
    back = Score.from_dict(json.loads(s.to_json()))
    assert back.value == pytest.approx(s.value) and back.layers == json.loads(json.dumps(s.layers))
    da = s.to_dataarray()
    assert da.dims == ("layer", "quantity") and list(da.layer.values) == ["block2"]


def test_pls_metric_runs_and_uses_inner_folds():
    bench, signal = synthetic_benchmark(n=60, metric="pls", metric_kwargs={"n_components": 3}, n_splits=2)
    feats = as_features(signal, bench.data.stimulus_id.values)
    r = layer_scores(bench, feats, "x")
    assert r.test.shape == (2, 6) and r.select.shape == (2, 6)
    assert np.nanmedian(r.select) > 0.5


def test_rsa_on_synthetic_rdms_and_model_rdm_input():
    rng = np.random.default_rng(5)
    n = 30
    ids = np.array([f"s{i:02d}" for i in range(n)])
    truth = rng.normal(size=(n, 10))
    subjects = []
    for _ in range(4):
        x = truth + 0.8 * rng.normal(size=truth.shape)
        subjects.append(1 - np.corrcoef(x))
    rdm = make_rdm(np.array(subjects), stimulus_ids=ids, stack_dim="subject")
    stimuli = xr.DataArray(rng.integers(0, 255, (n, 20, 20, 3), dtype=np.uint8), dims=("stimulus", "height", "width", "channel"), coords={"stimulus_id": ("stimulus", ids)})
    bench = Benchmark(rdm, stimuli, identifier="toy.IT-rsa.v1", metric="rsa", ceiling="nili", rdm_subject_dim="subject", n_splits=4, test_fraction=0.5)
    ceil = benchmark_ceiling(bench)
    assert 0 < ceil["lower"] < ceil["upper"] <= 1
    s_truth = combine(bench, [layer_scores(bench, as_features(truth, ids), "truth")], ceil)
    s_noise = combine(bench, [layer_scores(bench, as_features(rng.normal(size=(n, 10)), ids), "noise")], ceil)
    assert s_truth.value > 0.6 and abs(s_noise.raw) < 0.15
    # a model RDM equal to a subject RDM is accepted directly
    one = make_rdm(subjects[0], stimulus_ids=ids)
    r = layer_scores(bench, one, "subject0")
    assert np.allclose(r.test[:, 0], 1.0)


# ----------------------------------------------------------------------------- errors
def test_benchmark_validation_errors():
    bench, _ = synthetic_benchmark()
    # any registered metric is accepted now (the registry decides, issue 11); an unknown name lists the options
    with pytest.raises(KeyError, match="Unknown metric 'ckaa'.*Available: .*cka_linear"):
        dataclasses.replace(bench, metric="ckaa")
    with pytest.raises(ValueError, match="takes ceiling=None"):  # split-half reliability is per unit: mapped metrics only
        dataclasses.replace(bench, metric="cka_linear")
    with pytest.raises(ValueError, match="distance"):
        dataclasses.replace(bench, metric="procrustes")
    with pytest.raises(ValueError, match="'ceiling' parameter"):
        dataclasses.replace(bench, ceiling="spearman_brown")
    with pytest.raises(ValueError, match="needs Responses with a 'repetition' dim"):
        dataclasses.replace(bench, data=bench.data.mean("repetition"))
    with pytest.raises(ValueError, match="have no stimulus"):
        dataclasses.replace(bench, stimuli=bench.stimuli.isel(stimulus=slice(0, 10)))
    with pytest.raises(TypeError, match="stimulus_id"):
        dataclasses.replace(bench, stimuli=np.zeros((48, 20, 20, 3)))
    with pytest.raises(ValueError, match="test_fraction"):
        dataclasses.replace(bench, test_fraction=1.5)
    with pytest.raises(ValueError, match="unit_group"):
        dataclasses.replace(bench, unit_group="session")


def test_registry_errors_and_version_resolution():
    with pytest.raises(ValueError, match="end in a version"):
        register_benchmark("no-version", description="", metric="ridge", ceiling=None)
    with pytest.raises(KeyError, match="Unknown benchmark 'synthetic.nothing'"):
        get_benchmark("synthetic.nothing")
    calls = []

    def build(root=None):
        calls.append(root)
        return dataclasses.replace(synthetic_benchmark()[0], identifier=f"test.reg-ridge.v{len(calls)}")

    ident1, ident2 = "test.reg-ridge.v1", "test.reg-ridge.v2"
    if ident1 not in BENCHMARKS:
        register_benchmark(ident1, description="t", metric="ridge", ceiling="split_half")(lambda root=None: dataclasses.replace(synthetic_benchmark()[0], identifier=ident1))
        register_benchmark(ident2, description="t", metric="ridge", ceiling="split_half")(lambda root=None: dataclasses.replace(synthetic_benchmark()[0], identifier=ident2))
    assert get_benchmark("test.reg-ridge").identifier == ident2  # latest version
    assert get_benchmark(ident1).identifier == ident1
    with pytest.raises(ValueError, match="already registered"):
        register_benchmark(ident1, description="t", metric="ridge", ceiling=None)(build)


def test_modality_mismatch_is_refused():
    bench, _ = synthetic_benchmark()
    with pytest.raises(ValueError, match="takes audio input"):
        score("audio_conv1d_tiny", bench, progress=False)


def test_activations_missing_stimuli_error():
    bench, signal = synthetic_benchmark()
    feats = as_features(signal[:20], bench.data.stimulus_id.values[:20])
    with pytest.raises(ValueError, match="lack 28 of the benchmark's stimuli"):
        layer_scores(bench, feats)


# ----------------------------------------------------------------------------- CLI
def test_cli_score_and_report(tmp_path, capsys, monkeypatch):
    import data_loaders.benchmarks  # noqa: F401  (neurocompare.cli.main imports it; handlers called directly do not)

    bench, _ = synthetic_benchmark()
    if "synthetic.cli-ridge.v1" not in BENCHMARKS:
        register_benchmark("synthetic.cli-ridge.v1", description="synthetic", metric="ridge", ceiling="split_half")(
            lambda root=None: dataclasses.replace(bench, identifier="synthetic.cli-ridge.v1")
        )
    parser = build_parser("all")
    out = tmp_path / "out"
    args = parser.parse_args(["score", "--model", "convnet_small", "--benchmark", "synthetic.cli-ridge", "--layers", "block1", "block2",
                              "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--metric-device", "cpu"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "synthetic.cli-ridge.v1" in text and "convnet_small(seed=0)" in text and "activation cache" in text
    files = sorted(p.name for p in out.iterdir())
    assert "convnet_small_seed_0__synthetic.cli-ridge.v1.json" in files and any(f.endswith(".nc") for f in files)
    from neurocompare.data import load

    table = load(out / "convnet_small_seed_0__synthetic.cli-ridge.v1.nc")
    assert list(table.layer.values) == ["block1", "block2"]
    args = parser.parse_args(["report", str(out), "--format", "png"])
    assert args.func(args) == 0
    assert (out / "layer_scores.png").stat().st_size > 1000 and (out / "score_heatmap.png").exists()
    args = parser.parse_args(["benchmarks"])
    assert args.func(args) == 0
    listed = capsys.readouterr().out
    assert "synthetic.cli-ridge.v1" in listed and "cowley2023.V4-ridge.210325.v1" in listed
    with pytest.raises(FileNotFoundError, match="No such folder"):
        a = parser.parse_args(["report", str(tmp_path / "missing")])
        a.func(a)
    with pytest.raises(ValueError, match="model-kwargs must be a JSON object"):
        a = parser.parse_args(["score", "--model", "convnet_small", "--benchmark", "synthetic.cli-ridge", "--model-kwargs", "seed=1", "--no-cache"])
        a.func(a)


# ----------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def v4(data_root):
    import data_loaders.benchmarks  # noqa: F401

    return get_benchmark("cowley2023.V4-ridge.210325", root=data_root)


@pytest.mark.requires_data
def test_v4_neural_data_as_features_scores_at_ceiling_and_shuffled_at_chance(v4):
    # split each stimulus's repetitions into halves A and B; the benchmark keeps B, the "model" is mean(A).
    # The split-half ceiling of B estimates corr(mean of one half, mean of another) = what mean(A) can reach.
    data = v4.data
    rng = np.random.default_rng(0)
    values = np.asarray(data.values, dtype=float)
    a_vals = np.full(values.shape, np.nan)
    b_vals = np.full(values.shape, np.nan)
    for i in range(values.shape[0]):
        valid = np.flatnonzero(~np.isnan(values[i, 0]))
        perm = rng.permutation(valid)
        half = len(perm) // 2
        a_vals[i][:, : half] = values[i][:, perm[:half]]
        b_vals[i][:, : len(perm) - half] = values[i][:, perm[half:]]
    data_b = data.copy(data=b_vals)
    bench_b = dataclasses.replace(v4, data=data_b, n_splits=4)
    feats = as_features(np.nanmean(a_vals, axis=2), data.stimulus_id.values)
    ceiling = benchmark_ceiling(bench_b)
    s = combine(bench_b, [layer_scores(bench_b, feats, "neural_half_A")], ceiling)
    assert 0.85 < s.value < 1.2, s
    shuffled = feats.assign_coords(stimulus_id=("stimulus", rng.permutation(data.stimulus_id.values)))
    s0 = combine(bench_b, [layer_scores(bench_b, shuffled, "shuffled")], ceiling)
    assert abs(s0.value) < 0.1, s0


@pytest.mark.requires_data
def test_human_it_group_mean_rdm_scores_at_ceiling_and_monkey_it_in_between(data_root):
    import data_loaders.benchmarks  # noqa: F401
    from data_loaders import kriegeskorte2008 as k92

    bench = get_benchmark("kriegeskorte2008.IT-rsa.human", root=data_root)
    ceiling = benchmark_ceiling(bench)
    assert 0 < ceiling["lower"] < ceiling["upper"] < 1
    ids = bench.data.stimulus_id.values
    mean_rdm = make_rdm(bench.data.mean(("subject", "session")).values, stimulus_ids=ids)
    s = combine(bench, [layer_scores(bench, mean_rdm, "group_mean")], ceiling)
    assert s.value == pytest.approx(1.0, abs=0.03)
    monkey = k92.load_monkey_it(data_root)
    s_m = combine(bench, [layer_scores(bench, monkey, "monkey_it")], ceiling)
    assert 0.1 < s_m.value < 0.9  # monkey IT resembles human IT (Kriegeskorte et al. 2008), below the ceiling
    perm = np.random.default_rng(0).permutation(ids)
    shuffled = make_rdm(mean_rdm.values, stimulus_ids=perm)
    s0 = combine(bench, [layer_scores(bench, shuffled, "shuffled")], ceiling)
    assert abs(s0.value) < 0.15


@pytest.mark.requires_data
def test_auditory_benchmark_with_tiny_audio_model(data_root):
    import data_loaders.benchmarks as dlb

    bench = dataclasses.replace(get_benchmark("normanhaignere2015.AC-ridge", root=data_root), n_splits=3)
    assert bench.stimuli.attrs["sample_rate"] == 16000 and bench.stimuli.sizes["stimulus"] == 165
    resp_raw, sounds_raw = dlb._read_natsound_raw(data_root, 16000)  # the fallback reader agrees with the loader
    np.testing.assert_array_equal(resp_raw.values, bench.data.values)
    np.testing.assert_array_equal(sounds_raw.values, bench.stimuli.values)
    s = score("audio_spectrogram_tiny", bench, layers=["block1", "pool"], progress=False)
    assert s.ceiling is None and s.value == s.raw and 0.2 < s.value < 1.0
    with pytest.raises(ValueError, match="takes image input"):
        score("convnet_small", bench, progress=False)


# ----------------------------------------------------------------------------- layout
def test_neurocompare_side_does_not_import_data_loaders():
    # dependency direction: data_loaders -> neurocompare, never the reverse (the CLI imports it lazily)
    import subprocess
    import sys

    code = "import sys, neurocompare.benchmarks, neurocompare.benchmarks.sweep, neurocompare.similarity, neurocompare.cache, neurocompare.models; print('data_loaders' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
