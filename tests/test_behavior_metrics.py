"""Behavioural comparisons: error consistency (Cohen's κ), I1n/I2n and their noise-corrected
consistency, behavioural RSA with the Nili ceiling, and the Mur 2013 similarity-judgement
benchmark."""

from __future__ import annotations

import numpy as np
import pytest

import neurocompare as nc
from neurocompare.behavior import (
    behavioral_consistency,
    behavioral_rsa,
    error_consistency,
    i1n,
    i2n,
    performance_table,
)

EPS = np.finfo(np.float64).eps


# ----------------------------------------------------------------------------- error consistency
def test_error_consistency_hand_computed():
    a = [1, 1, 0, 0, 1, 0]
    b = [1, 0, 0, 0, 1, 1]
    r = error_consistency(a, b, n_boot=0)
    # c_obs = 4/6; p_a = p_b = 1/2 -> c_exp = 1/2; kappa = (2/3 - 1/2) / (1/2) = 1/3
    assert r.observed == pytest.approx(2 / 3, abs=4 * EPS)
    assert r.expected == pytest.approx(0.5, abs=4 * EPS)
    assert r.value == pytest.approx(1 / 3, abs=8 * EPS)
    assert error_consistency(a, a, n_boot=0).value == pytest.approx(1.0, abs=4 * EPS)
    assert error_consistency(a, 1 - np.array(a), n_boot=0).value == pytest.approx(-1.0, abs=4 * EPS)
    # symmetric in its arguments, and bool input is accepted
    assert error_consistency(b, a, n_boot=0).value == r.value
    assert error_consistency(np.array(a, bool), np.array(b, bool), n_boot=0).value == r.value


def test_error_consistency_agrees_with_sklearn_cohen_kappa():
    # reference: scikit-learn 1.9 cohen_kappa_score (the same statistic on the two correctness labels)
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(0)
    a = rng.random(500) < 0.7
    b = np.where(rng.random(500) < 0.5, a, rng.random(500) < 0.6)
    assert error_consistency(a, b, n_boot=0).value == pytest.approx(cohen_kappa_score(a, b), abs=1e3 * EPS)


@pytest.mark.parametrize("q", [0.0, 0.5, 0.8])
def test_shared_errors_give_the_expected_kappa(q):
    """Two observers copy a shared latent outcome with probability q, else answer independently with
    the same accuracy p: Cov = q² p (1 − p), so κ = 2 q² p (1 − p) / (2 p (1 − p)) = q²."""
    rng = np.random.default_rng(int(q * 10))
    n, p = 40_000, 0.7
    z = rng.random(n) < p
    a = np.where(rng.random(n) < q, z, rng.random(n) < p)
    b = np.where(rng.random(n) < q, z, rng.random(n) < p)
    r = error_consistency(a, b, n_boot=400, seed=1)
    # within 4 bootstrap standard deviations (sd ~ 0.005 at n = 40,000)
    assert abs(r.value - q**2) < 4 * r.error, (r.value, q**2, r.error)
    assert r.ci[0] < r.value < r.ci[1] and "bootstrap" in r.error_kind


def test_error_consistency_errors():
    with pytest.raises(ValueError, match="same trials"):
        error_consistency([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="0/1"):
        error_consistency([1, 2], [1, 0])
    with pytest.raises(ValueError, match="undefined"):
        error_consistency([1, 1, 1], [1, 1, 1])


# ----------------------------------------------------------------------------- I1n / I2n
def test_i2n_and_i1n_by_hand_on_two_objects():
    """Two objects, two images each; the rates and Φ⁻¹ from scipy.stats.norm (scipy 1.17)."""
    from scipy.stats import norm

    objects = np.array([0, 0, 1, 1])
    table = np.array([[np.nan, 0.9], [np.nan, 0.7], [0.8, np.nan], [0.6, np.nan]])
    # image 0 (object 0) vs distractor 1: HR = 0.9; FAR = choosing 0 on object-1 images with distractor 0
    far_0 = 1 - np.mean([0.8, 0.6])
    far_1 = 1 - np.mean([0.9, 0.7])
    d = np.array([norm.ppf(0.9) - norm.ppf(far_0), norm.ppf(0.7) - norm.ppf(far_0),
                  norm.ppf(0.8) - norm.ppf(far_1), norm.ppf(0.6) - norm.ppf(far_1)])
    expected = np.array([d[0] - d[:2].mean(), d[1] - d[:2].mean(), d[2] - d[2:].mean(), d[3] - d[2:].mean()])
    got = i2n(table, objects)
    np.testing.assert_allclose(got[[0, 1, 2, 3], [1, 1, 0, 0]], expected, rtol=1e-12)
    assert np.isnan(got[[0, 1, 2, 3], [0, 0, 1, 1]]).all()
    # with one distractor per object, I1n equals I2n
    np.testing.assert_allclose(i1n(table, objects), expected, rtol=1e-12)


def _probabilities(rng: np.random.Generator, n_objects: int = 6, per_object: int = 8) -> tuple[np.ndarray, np.ndarray]:
    objects = np.repeat(np.arange(n_objects), per_object)
    logits = rng.normal(1.2, 1.0, size=(objects.size, n_objects))
    p = 1 / (1 + np.exp(-logits))
    p[np.arange(objects.size), objects] = np.nan
    return p, objects


def _trials(rng: np.random.Generator, p: np.ndarray, objects: np.ndarray, reps: int):
    img, dis = np.nonzero(np.isfinite(p))
    img, dis = np.repeat(img, reps), np.repeat(dis, reps)
    correct = rng.random(img.size) < p[img, dis]
    return img, dis, correct


def test_i2n_normalisation_and_performance_table():
    rng = np.random.default_rng(0)
    p, objects = _probabilities(rng)
    v = i2n(p, objects)
    for o in range(objects.max() + 1):
        np.testing.assert_allclose(np.nanmean(v[objects == o][:, np.arange(6) != o], axis=0), 0.0, atol=1e-12)
    img, dis, cor = _trials(rng, p, objects, reps=3)
    table = performance_table(img, dis, cor, objects)
    assert table.shape == p.shape
    assert np.isnan(table[np.arange(objects.size), objects]).all()
    i, d = img[0], dis[0]
    assert table[i, d] == pytest.approx(cor[(img == i) & (dis == d)].mean(), abs=4 * EPS)


def test_consistency_known_answers_from_simulated_observers():
    """Humans and models draw trials from known probabilities. A model with the humans' own
    probabilities has consistency 1; a model with other probabilities has the correlation of the
    two noise-free I2n patterns; the noise correction removes the trial noise of both."""
    rng = np.random.default_rng(1)
    p, objects = _probabilities(rng)
    other, _ = _probabilities(np.random.default_rng(2))
    mix = 0.6 * p + 0.4 * other  # partly shared pattern
    mix[np.isnan(p)] = np.nan
    human = _trials(rng, p, objects, reps=60)
    truth = {"same": 1.0, "mix": np.corrcoef(*(v[np.isfinite(v)] for v in (i2n(p, objects), i2n(mix, objects))))[0, 1]}
    for name, probs in (("same", p), ("mix", mix)):
        model = _trials(rng, probs, objects, reps=60)
        r = behavioral_consistency(model, human, objects, n_splits=10, seed=0)
        # 240 pairs, each d' from 30-trial halves: a few hundredths of sampling error
        assert r.value == pytest.approx(truth[name], abs=0.08), (name, r.value, truth[name])
        assert r.raw < r.value + 1e-12  # correction for attenuation only raises the correlation
        assert 0 < r.ceiling < 1 and 0 < r.model_reliability < 1
    # a deterministic table equal to the truth: reliability 1, consistency near 1
    r = behavioral_consistency(p, human, objects, n_splits=10, seed=0)
    assert r.model_reliability == 1.0 and r.value == pytest.approx(1.0, abs=0.08)
    # an unrelated model: near 0
    r0 = behavioral_consistency(_trials(rng, other, objects, reps=60), human, objects, n_splits=10)
    assert abs(r0.value) < 0.2
    ri1 = behavioral_consistency(_trials(rng, p, objects, reps=60), human, objects, metric="i1n", n_splits=10)
    assert ri1.value == pytest.approx(1.0, abs=0.15) and ri1.metric == "i1n"


def test_i2n_errors():
    p, objects = _probabilities(np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        i2n(p[:, :3], objects)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        i2n(p * 3, objects)
    with pytest.raises(ValueError, match="image_objects"):
        i2n(p, objects.astype(float))
    with pytest.raises(ValueError, match="own object"):
        performance_table([0], [0], [1], objects)
    with pytest.raises(ValueError, match="metric"):
        behavioral_consistency(p, ([0], [1], [1]), objects, metric="i3")
    with pytest.raises(TypeError, match="trials"):
        behavioral_consistency(p, ([0], [1]), objects)


# ----------------------------------------------------------------------------- behavioural RSA
def _subject_rdms(rng, n_subjects=8, n=20):
    base = rng.standard_normal((n, 5))
    rdms = []
    for _ in range(n_subjects):
        x = base + 0.8 * rng.standard_normal(base.shape)
        rdms.append(np.asarray(nc.rdm(x, "euclidean")))
    return np.stack(rdms)


def test_behavioral_rsa_pooled_model_scores_at_the_ceiling():
    from scipy.stats import rankdata

    rdms = _subject_rdms(np.random.default_rng(0))
    n = rdms.shape[1]
    iu = np.triu_indices(n, 1)
    pooled = np.zeros((n, n))
    pooled[iu] = np.mean([rankdata(r[iu]) for r in rdms], axis=0)  # the Nili pooled (rank-averaged) RDM
    pooled = pooled + pooled.T
    r = behavioral_rsa(pooled, rdms)
    assert r.value == pytest.approx(r.ceiling, abs=1e3 * EPS)
    assert r.normalized == pytest.approx(1.0, abs=1e3 * EPS)
    assert r.ceiling_lower < r.ceiling and r.per_subject.shape == (8,)
    # a model of features is turned into an RDM; a noisier model scores lower
    feats = np.random.default_rng(5).standard_normal((n, 4))
    assert behavioral_rsa(feats, rdms).value < r.value
    with pytest.raises(ValueError, match="n_subjects >= 2"):
        behavioral_rsa(pooled, rdms[:1])
    with pytest.raises(ValueError, match="compare"):
        behavioral_rsa(pooled, rdms, compare="cosine")


@pytest.mark.requires_data
def test_mur2013_behaviour_benchmark_ceiling_and_pooled_model():
    data_loaders = pytest.importorskip("data_loaders")
    from data_loaders import kriegeskorte2008 as k92

    try:
        rdms = k92.load_behaviour_rdms()
    except FileNotFoundError as exc:
        pytest.skip(f"kriegeskorte92 data not found: {exc}")
    import data_loaders.benchmarks  # noqa: F401  (registers the benchmark)

    assert "kriegeskorte2008.behaviour-rsa.human.v1" in [e.identifier for e in nc.list_benchmarks()]
    assert rdms.shape == (16, 92, 92)
    from scipy.stats import rankdata

    iu = np.triu_indices(92, 1)
    ranks = np.mean([rankdata(r[iu]) for r in rdms.values], axis=0)
    pooled = np.zeros((92, 92))
    pooled[iu] = ranks
    pooled = pooled + pooled.T
    r = behavioral_rsa(nc.make_rdm(pooled, stimulus_ids=rdms.stimulus_id.values), rdms)
    assert r.normalized == pytest.approx(1.0, abs=1e3 * EPS)
    # the registered benchmark's data with one split (4 training images, 88 test images): a model
    # equal to the subjects' pooled rank RDM on the test images scores exactly its ceiling
    ids = [str(v) for v in rdms.stimulus_id.values]
    test = np.arange(4, 92)
    sub = rdms.values[:, test][:, :, test]
    it = np.triu_indices(88, 1)
    block = np.zeros((88, 88))
    block[it] = np.mean([rankdata(r[it]) for r in sub], axis=0)
    model_values = pooled.copy()
    model_values[np.ix_(test, test)] = block + block.T
    model_rdm = nc.make_rdm(model_values, stimulus_ids=ids)
    bench = nc.get_benchmark("kriegeskorte2008.behaviour-rsa.human.v1")
    one = nc.Benchmark(bench.data, metric="rsa", ceiling="nili", rdm_subject_dim="subject", splits=[(ids[:4], ids[4:])])
    score = nc.score_responses({"pooled": model_rdm}, one)
    assert float(score) == pytest.approx(1.0, abs=1e-9)
    assert bench.ceiling == "nili" and bench.data.sizes["subject"] == 16
