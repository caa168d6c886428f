"""Tests for neurocompare.similarity._ceiling (split-half / Spearman-Brown, Nili RSA ceiling,
noise-corrected consistency).

Reference implementation for the RSA ceiling: rsatoolbox 0.3.2
(``rsatoolbox.inference.boot_noise_ceiling``), run live in its own virtual environment
(/work/venvs/rsatoolbox, or $NEUROCOMPARE_RSATOOLBOX_PYTHON); those tests skip when it is absent.

Tolerances (issue 12): every measure computes in float64 here (the CPU default) unless a test says
float32. Rounding in these O(n p)…O(n^3) float64 computations at n <= 2000 stays below
n p eps64 ~ 1e-10, so ``1e-12``…``1e-10`` assert the same algorithm computing the same quantity
(a permutation, a block size, a closed form); ``1e-6`` compares with another implementation or a
stored reference (rsatoolbox, scikit-learn, netrep, scipy: other algorithms — SVD vs eigh,
iterative vs exact — whose differences scale with the condition number times eps64). Float32 comparisons state
their own bound.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from neurocompare.data import make_rdm, make_responses, split_repetitions
from neurocompare.similarity._ceiling import (
    CeilingResult,
    noise_correct,
    noise_corrected_consistency,
    rsa_noise_ceiling,
    spearman_brown,
    split_half_correlations,
    split_half_reliability,
)

RSATOOLBOX_PY = Path(os.environ.get("NEUROCOMPARE_RSATOOLBOX_PYTHON", "/work/venvs/rsatoolbox/bin/python"))


def trials(n_stim=400, n_units=30, n_reps=10, signal_sd=1.0, noise_sd=1.0, seed=0):
    """Responses = per-(stimulus, unit) signal + independent trial noise."""
    rng = np.random.default_rng(seed)
    signal = signal_sd * rng.standard_normal((n_stim, n_units, 1))
    return signal + noise_sd * rng.standard_normal((n_stim, n_units, n_reps)), signal[..., 0]


def expected_reliability(signal_var, noise_var, n_reps):
    """Reliability of the mean of n_reps trials: var_s / (var_s + var_n / n_reps)."""
    return signal_var / (signal_var + noise_var / n_reps)


# ----------------------------------------------------------------------------- Spearman-Brown
def test_spearman_brown_formula():
    assert spearman_brown(0.5) == pytest.approx(2 / 3)
    assert spearman_brown(0.0) == 0.0 and spearman_brown(1.0) == 1.0
    assert spearman_brown(0.25, n=3) == pytest.approx(0.75 / 1.5)
    r = np.linspace(-0.4, 0.9, 7)
    np.testing.assert_allclose(spearman_brown(spearman_brown(r, 2), 0.5), r)  # halving undoes doubling
    assert np.isnan(spearman_brown(-1.0))
    with pytest.raises(ValueError, match="positive"):
        spearman_brown(0.5, n=0)


def test_spearman_brown_predicts_the_reliability_of_twice_the_data():
    # split-half r of 5+5 trials, corrected, equals the expected reliability of 10 trials
    values, _ = trials(n_stim=1500, n_units=6, n_reps=10, noise_sd=3.0, seed=1)
    raw = split_half_correlations(values, n_splits=4, seed=0)
    assert np.median(raw) == pytest.approx(expected_reliability(1, 9, 5), abs=0.03)
    assert np.median(spearman_brown(raw)) == pytest.approx(expected_reliability(1, 9, 10), abs=0.03)


# ----------------------------------------------------------------------------- split-half ceiling
@pytest.mark.parametrize("noise_sd", [0.5, 1.5, 3.0])
def test_split_half_ceiling_of_known_signal_and_noise(noise_sd):
    values, _ = trials(noise_sd=noise_sd, seed=2)
    res = split_half_reliability(make_responses(values, dims=("stimulus", "unit", "repetition")))
    assert res.value == pytest.approx(expected_reliability(1.0, noise_sd**2, 10), abs=0.03)
    assert res.per_unit.shape == (10, 30) and res.per_split.shape == (10,)
    assert res.value == pytest.approx(np.median(res.per_unit, axis=1).mean())
    assert 0 < res.error < 0.02


def test_noiseless_and_pure_noise_ceilings():
    values, _ = trials(noise_sd=0.0)
    assert split_half_reliability(values).value == pytest.approx(1.0, abs=1e-12)
    values, _ = trials(signal_sd=0.0, seed=3)
    assert split_half_reliability(values).value == pytest.approx(0.0, abs=0.05)


def test_shared_nan_padding_uses_split_repetitions_and_is_masked_not_filled():
    values, _ = trials(n_stim=300, noise_sd=1.0, seed=4)
    rng = np.random.default_rng(0)
    counts = rng.integers(6, 11, size=300)  # unequal repeat counts, same for every unit
    for i, c in enumerate(counts):
        values[i, :, c:] = np.nan
    resp = make_responses(values, dims=("stimulus", "unit", "repetition"), allow_nan=True)
    res = split_half_reliability(resp, n_splits=3, seed=7)
    assert np.isfinite(res.per_unit).all()
    # the same halves as neurocompare.split_repetitions drawn from the same generator
    gen = np.random.default_rng(7)
    for k in range(3):
        h1, h2 = split_repetitions(resp, seed=gen)
        r = [np.corrcoef(h1.values[:, u], h2.values[:, u])[0, 1] for u in range(30)]
        np.testing.assert_allclose(res.per_unit[k], spearman_brown(np.array(r)), atol=1e-12)
    assert res.value == pytest.approx(expected_reliability(1.0, 1.0, counts.mean()), abs=0.04)


def test_unit_specific_nan_padding_splits_each_units_own_repetitions():
    # pooled sessions: half the units have 6 valid repeats, the others 10
    values, _ = trials(n_stim=300, n_units=20, n_reps=10, noise_sd=1.0, seed=5)
    values[:, :10, 6:] = np.nan
    res = split_half_reliability(values, n_splits=4)
    assert np.isfinite(res.per_unit).all()
    short, long_ = np.median(res.per_unit[:, :10]), np.median(res.per_unit[:, 10:])
    assert short == pytest.approx(expected_reliability(1, 1, 6), abs=0.05)
    assert long_ == pytest.approx(expected_reliability(1, 1, 10), abs=0.05)


def test_masked_halves_use_disjoint_equal_subsets_of_valid_repetitions():
    from neurocompare.similarity._ceiling import _masked_halves

    reps = 7
    values = np.broadcast_to(2.0 ** np.arange(reps), (5, 3, reps)).copy()  # sums identify subsets
    values[0, 0, 5:] = np.nan  # 5 valid -> halves of 2
    values[1, 2, 1:] = np.nan  # 1 valid -> masked
    h1, h2 = _masked_halves(values, np.random.default_rng(0))
    k = np.where(np.isnan(values), 0, 1).sum(-1) // 2
    s1, s2 = (np.rint(np.nan_to_num(h) * k).astype(int) for h in (h1, h2))
    for i in range(5):
        for u in range(3):
            if k[i, u] == 0:
                assert np.isnan(h1[i, u]) and np.isnan(h2[i, u])
                continue
            assert bin(s1[i, u]).count("1") == bin(s2[i, u]).count("1") == k[i, u]
            assert s1[i, u] & s2[i, u] == 0  # disjoint repetitions
            valid_bits = sum(2**r for r in range(reps) if not np.isnan(values[i, u, r]))
            assert (s1[i, u] | s2[i, u]) & ~valid_bits == 0  # never a padded slot


def test_split_half_is_deterministic_per_seed():
    values, _ = trials(n_stim=50, n_units=5, seed=6)
    a = split_half_reliability(values, seed=3)
    b = split_half_reliability(values, seed=3)
    c = split_half_reliability(values, seed=4)
    np.testing.assert_array_equal(a.per_unit, b.per_unit)
    assert not np.array_equal(a.per_unit, c.per_unit)
    assert isinstance(a, CeilingResult) and float(a) == a.value and "CeilingResult" in repr(a)


def test_split_half_bad_input():
    values, _ = trials(n_stim=20, n_units=3)
    with pytest.raises(ValueError, match="'repetition' dim"):
        split_half_reliability(make_responses(values[:, :, 0]))
    with pytest.raises(ValueError, match="at least 2 repetitions"):
        split_half_reliability(values[:, :, :1])
    with pytest.raises(ValueError, match="at least 3 stimuli"):
        split_half_reliability(values[:2])
    with pytest.raises(ValueError, match="shape"):
        split_half_reliability(values[:, :, 0])
    with pytest.raises(ValueError, match="No unit has a defined"):
        split_half_reliability(np.ones((20, 3, 4)))
    with pytest.raises(ValueError, match="'aggregate' parameter"):
        split_half_reliability(values, aggregate="max")
    bad = values.copy()
    bad[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        split_half_reliability(bad)


def test_silent_unit_is_left_out_not_a_nan_ceiling():
    values, _ = trials(n_stim=100, n_units=5, seed=8)
    values[:, 2, :] = 0.0
    res = split_half_reliability(values, n_splits=3)
    assert np.isnan(res.per_unit[:, 2]).all() and np.isfinite(res.value)


# ----------------------------------------------------------------------------- Nili RSA ceiling
def subject_rdms(n_sub=5, n_stim=20, noise=1.0, seed=0):
    rng = np.random.default_rng(seed)
    common = rng.standard_normal((n_stim, 30))
    return np.stack([pdist(common + noise * rng.standard_normal(common.shape), "correlation") for _ in range(n_sub)])


@pytest.mark.parametrize("method", ["spearman", "pearson", "kendall"])
def test_rsa_ceiling_definition(method):
    vec = subject_rdms()
    res = rsa_noise_ceiling(vec, method)
    from scipy import stats

    corr = {"spearman": lambda a, b: stats.spearmanr(a, b)[0], "pearson": lambda a, b: np.corrcoef(a, b)[0, 1],
            "kendall": lambda a, b: stats.kendalltau(a, b)[0]}[method]
    prep = (lambda v: stats.zscore(v, axis=1)) if method == "pearson" else (lambda v: stats.rankdata(v, axis=1))
    up = [corr(vec[s], prep(vec).mean(0)) for s in range(5)]
    lo = [corr(vec[s], prep(np.delete(vec, s, 0)).mean(0)) for s in range(5)]
    assert res.value == pytest.approx(np.mean(up), abs=1e-12)
    assert res.lower == pytest.approx(np.mean(lo), abs=1e-12)
    assert res.lower < res.value <= 1


def test_rsa_ceiling_is_one_for_identical_subjects_and_accepts_square_and_dataarray_rdms():
    from scipy.spatial.distance import squareform

    vec = np.repeat(subject_rdms(n_sub=1), 3, axis=0)
    res = rsa_noise_ceiling(vec)
    assert res.value == pytest.approx(1.0) and res.lower == pytest.approx(1.0)
    vec = subject_rdms(n_sub=4)
    sq = np.stack([squareform(v) for v in vec])
    assert rsa_noise_ceiling(sq).value == pytest.approx(rsa_noise_ceiling(vec).value, abs=1e-12)
    # sessions are averaged within subject first
    stacked = make_rdm(sq, stack_dim="subject").expand_dims(session=2, axis=1)
    assert rsa_noise_ceiling(stacked).value == pytest.approx(rsa_noise_ceiling(vec).value, abs=1e-12)


def test_spearman_ceiling_is_invariant_to_monotonic_transforms():
    vec = subject_rdms(seed=2)
    a = rsa_noise_ceiling(vec, "spearman")
    b = rsa_noise_ceiling(np.exp(3 * vec) + 5, "spearman")
    assert a.value == pytest.approx(b.value, abs=1e-12) and a.lower == pytest.approx(b.lower, abs=1e-12)


def test_rsa_ceiling_bad_input():
    vec = subject_rdms()
    with pytest.raises(ValueError, match="'method' parameter"):
        rsa_noise_ceiling(vec, "cosine")
    with pytest.raises(ValueError, match="at least 2 subjects"):
        rsa_noise_ceiling(vec[:1])
    bad = vec.copy()
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rsa_noise_ceiling(bad)
    bad = vec.copy()
    bad[2] = 1.0
    with pytest.raises(ValueError, match="constant"):
        rsa_noise_ceiling(bad)
    with pytest.raises(ValueError, match="single RDM"):
        rsa_noise_ceiling(make_rdm(np.zeros((4, 4)) + (1 - np.eye(4))))
    with pytest.raises(ValueError, match="symmetric"):
        rsa_noise_ceiling(np.random.default_rng(0).random((3, 5, 5)))


def _rsatoolbox_ceilings(vec, methods):
    """{method: (lower, upper)} from rsatoolbox's boot_noise_ceiling, in one subprocess."""
    code = (
        "import json, sys, numpy as np, rsatoolbox\n"
        "from rsatoolbox.inference import boot_noise_ceiling\n"
        "v = np.load(sys.argv[1]); rdms = rsatoolbox.rdm.RDMs(v)\n"
        "print(json.dumps({m: [float(b) for b in boot_noise_ceiling(rdms, method=m)] for m in sys.argv[2:]}))\n"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "v.npy")
        np.save(path, vec)
        out = subprocess.run([str(RSATOOLBOX_PY), "-c", code, path, *methods], capture_output=True, text=True,
                             timeout=300)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


needs_rsatoolbox = pytest.mark.skipif(not RSATOOLBOX_PY.exists(), reason="rsatoolbox venv not found")
_THEIRS = {"spearman": "spearman", "pearson": "corr", "kendall": "kendall"}


@pytest.fixture(scope="module")
def rsatoolbox_reference():
    vec = subject_rdms(n_sub=6, n_stim=15, seed=3)
    return vec, _rsatoolbox_ceilings(vec, sorted(_THEIRS.values()))  # rsatoolbox 0.3.2


@needs_rsatoolbox
@pytest.mark.parametrize("ours", sorted(_THEIRS))
def test_rsa_ceiling_matches_rsatoolbox(ours, rsatoolbox_reference):
    vec, ref = rsatoolbox_reference
    lo, up = ref[_THEIRS[ours]]
    res = rsa_noise_ceiling(vec, ours)
    assert res.value == pytest.approx(up, abs=1e-6) and res.lower == pytest.approx(lo, abs=1e-6)


# ----------------------------------------------------------------------------- noise-corrected consistency
def test_noise_correct_formula():
    np.testing.assert_allclose(noise_correct(0.4, 0.64, 0.25), 0.4 / (0.8 * 0.5))
    out = noise_correct([0.3, 0.3, 0.3], [0.5, 0.0, -0.2], 0.5)
    assert out[0] == pytest.approx(0.6) and np.isnan(out[1:]).all()


def test_consistency_of_two_noisy_measurements_of_one_signal_is_one():
    rng = np.random.default_rng(0)
    signal = rng.standard_normal((800, 8, 1))
    x = signal + 1.5 * rng.standard_normal((800, 8, 10))
    y = signal + 2.5 * rng.standard_normal((800, 8, 12))
    raw_r = np.median([np.corrcoef(x.mean(2)[:, u], y.mean(2)[:, u])[0, 1] for u in range(8)])
    res = noise_corrected_consistency(x, y, n_splits=3)
    assert raw_r < 0.85 and res.value == pytest.approx(1.0, abs=0.04)
    # a deterministic side (a model's prediction of each unit) has reliability 1
    det = noise_corrected_consistency(signal[..., 0], y, n_splits=3)
    assert det.value == pytest.approx(1.0, abs=0.04)
    assert det.per_unit.shape == (3, 8)


def test_consistency_with_half_shared_signal():
    rng = np.random.default_rng(1)
    shared, own_x, own_y = (rng.standard_normal((1000, 6, 1)) for _ in range(3))
    x = (shared + own_x) / np.sqrt(2) + rng.standard_normal((1000, 6, 8))
    y = (shared + own_y) / np.sqrt(2) + rng.standard_normal((1000, 6, 8))
    assert noise_corrected_consistency(x, y, n_splits=3).value == pytest.approx(0.5, abs=0.06)


def test_consistency_bad_input_and_alignment():
    rng = np.random.default_rng(2)
    vals = rng.standard_normal((30, 4, 6))
    x = make_responses(vals, dims=("stimulus", "unit", "repetition"))
    y = make_responses(vals[:, ::-1], dims=("stimulus", "unit", "repetition"), unit_ids=["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="same units"):
        noise_corrected_consistency(x, y)
    with pytest.raises(ValueError, match="same"):
        noise_corrected_consistency(vals, vals[:, :3])
    with pytest.raises(ValueError, match="'aggregate' parameter"):
        noise_corrected_consistency(vals, vals, aggregate="max")
    # permuted stimuli are aligned on stimulus_id
    perm = rng.permutation(30)
    y2 = make_responses(vals[perm], dims=("stimulus", "unit", "repetition"), stimulus_ids=x.stimulus_id.values[perm])
    a = noise_corrected_consistency(x, y2, n_splits=2)
    b = noise_corrected_consistency(vals, vals, n_splits=2)
    np.testing.assert_allclose(a.params["r_xy"], b.params["r_xy"])


# ----------------------------------------------------------------------------- real data
@pytest.mark.requires_data
def test_cowley_v4_split_half_ceiling(data_root):
    from data_loaders import cowley2023_v4

    resp, _ = cowley2023_v4.load_raw("210325", root=data_root, images=False)
    assert np.isnan(resp.values).any()  # NaN-padded repeats (6-10 per image)
    res = split_half_reliability(resp)
    assert res.per_unit.shape == (10, 50)
    assert 0.6 < res.value < 0.9  # 0.752 with seed 0


@pytest.mark.requires_data
def test_henaff_v1_split_half_ceiling(data_root):
    from data_loaders import henaff2021_v1

    resp = henaff2021_v1.load(root=data_root, sessions=henaff2021_v1.SESSIONS[:3])
    res = split_half_reliability(resp, n_splits=2)
    assert np.isfinite(res.value) and 0.5 < res.value < 0.95


@pytest.mark.requires_data
def test_kriegeskorte_human_it_rsa_ceiling(data_root):
    from data_loaders import kriegeskorte2008

    rdms = kriegeskorte2008.load_human_it(root=data_root)  # 4 subjects x 2 sessions
    res = rsa_noise_ceiling(rdms, "spearman")
    assert 0 < res.lower < res.value < 1
    if RSATOOLBOX_PY.exists():
        vec = np.stack([v[np.triu_indices(92, 1)] for v in rdms.mean("session").values])
        lo, up = _rsatoolbox_ceilings(vec, ["spearman"])["spearman"]  # rsatoolbox 0.3.2
        assert res.value == pytest.approx(up, abs=1e-6) and res.lower == pytest.approx(lo, abs=1e-6)


# ----------------------------------------------------------------------------- command line
def test_ceiling_cli(tmp_path, capsys):
    from neurocompare.data import save
    from neurocompare.cli import build_parser

    values, _ = trials(n_stim=60, n_units=5, n_reps=6, seed=9)
    save(make_responses(values, dims=("stimulus", "unit", "repetition")), tmp_path / "r.nc")
    save(make_rdm(np.stack([__import__("scipy").spatial.distance.squareform(v) for v in subject_rdms()]),
                  stack_dim="subject"), tmp_path / "rdms.nc")
    parser = build_parser("ceiling")
    args = parser.parse_args(["ceiling", str(tmp_path / "r.nc"), "--splits", "3"])
    assert args.func(args) == 0
    expected = split_half_reliability(values, n_splits=3).value
    assert f"{expected:.4f}" in capsys.readouterr().out
    args = parser.parse_args(["ceiling", str(tmp_path / "rdms.nc"), "--rsa", "pearson"])
    assert args.func(args) == 0
    res = rsa_noise_ceiling(subject_rdms(), "pearson")
    assert f"upper {res.value:.4f}" in capsys.readouterr().out
