"""The blockHMM (Le et al. 2023): curves, block cutting, the HMM engine against hmmlearn and brute
force, masking of missing trials, EM, recovery on the authors' synthetic set-up, model selection,
and the simulated reversal-learning agents."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import neurocompare as nc
from neurocompare.behavior import (
    BlockHMM,
    InferenceAgent,
    QLearningAgent,
    block_outcomes,
    forward_backward,
    select_n_modes,
    simulate_reversal,
    transition_curve,
    viterbi,
)

EPS = np.finfo(np.float64).eps

# The authors' synthetic validation set-up (Le et al. 2023; nhat-le/block-hmm-simulations)
OFFSETS, SLOPES, LAPSES = (1.0, 9.0, 4.0), (0.8, 1.5, 0.2), (0.15, 0.05, 0.30)


def _sticky(k: int, stay: float = 0.95) -> np.ndarray:
    a = np.full((k, k), (1 - stay) / (k - 1))
    np.fill_diagonal(a, stay)
    return a


def _authors_model() -> BlockHMM:
    return BlockHMM.from_params(OFFSETS, SLOPES, LAPSES, _sticky(3), n_trials=30)


def _match(fit: BlockHMM, true: BlockHMM) -> np.ndarray:
    """perm[true mode] = fitted mode (fitted modes are sorted by offset, the true ones are not)."""
    from scipy.optimize import linear_sum_assignment

    cost = np.abs(true.offsets_[:, None] - fit.offsets_[None, :])
    rows, cols = linear_sum_assignment(cost)
    return cols[np.argsort(rows)]


# ----------------------------------------------------------------------------- transition curve
def test_transition_curve_midpoint_limits_and_symmetry():
    t = np.linspace(-50, 60, 221)
    p = transition_curve(t, 4.0, 0.7, 0.1)
    assert transition_curve(4.0, 4.0, 0.7, 0.1) == pytest.approx(0.5, abs=4 * EPS)
    # bounded by the lapse on both sides, reached far from the offset
    assert p.min() >= 0.1 - 4 * EPS and p.max() <= 0.9 + 4 * EPS
    assert p[0] == pytest.approx(0.1, abs=1e-12) and p[-1] == pytest.approx(0.9, abs=1e-12)
    # point symmetry about (offset, 0.5)
    d = np.linspace(0, 10, 11)
    np.testing.assert_allclose(transition_curve(4 + d, 4, 0.7, 0.1) + transition_curve(4 - d, 4, 0.7, 0.1), 1.0, atol=8 * EPS)
    # the logistic itself: lapse 0 gives 1 / (1 + exp(-a (t - s)))
    np.testing.assert_allclose(transition_curve(t, 2.0, 0.3, 0.0), 1 / (1 + np.exp(-0.3 * (t - 2.0))), rtol=1e-13, atol=1e-300)


# ----------------------------------------------------------------------------- block_outcomes
def test_block_outcomes_cuts_pads_and_masks():
    choices = np.array([1, 1, 0, 0, 1, np.nan, 0, 0, 0, 0, 1])
    side = np.array([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0])
    y = block_outcomes(choices, side, [0, 3, 6], n_trials=4)
    expected = np.array([[0, 0, 1, np.nan], [0, 1, np.nan, np.nan], [1, 1, 1, 1]], dtype=float)
    np.testing.assert_array_equal(y, expected)  # NaN == NaN in assert_array_equal
    # a negative choice is "no choice" too
    y2 = block_outcomes(np.where(np.isnan(choices), -1, choices), side, [0, 3, 6], n_trials=4)
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(choices=[0, 1], rewarded_side=[0], block_starts=[0]), "equal length"),
        (dict(choices=[0, 1], rewarded_side=[0, 2], block_starts=[0]), "0 or 1"),
        (dict(choices=[0, 1, 1], rewarded_side=[0, 0, 1], block_starts=[0]), "changes inside block 0"),
        (dict(choices=[0, 1, 1], rewarded_side=[0, 0, 1], block_starts=[2, 0]), "increase"),
        (dict(choices=[0, 1, 1], rewarded_side=[0, 0, 1], block_starts=[0, 5]), "increase"),
        (dict(choices=[0, 2, 1], rewarded_side=[0, 0, 1], block_starts=[0, 2]), "choices must be 0 or 1"),
        (dict(choices=[0, 1, 1], rewarded_side=[0, 0, 1], block_starts=[0.0, 2.0]), "trial indices"),
        (dict(choices=[0, 1, 1], rewarded_side=[0, 0, 1], block_starts=[0, 2], n_trials=0), "positive integer"),
    ],
)
def test_block_outcomes_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        block_outcomes(**kwargs)


# ----------------------------------------------------------------------------- HMM engine
def _random_chain(n: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    log_e = rng.normal(-20.0, 6.0, size=(n, k))
    return log_e, rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k), size=k)


def test_forward_backward_matches_brute_force_enumeration():
    log_e, pi, a = _random_chain(6, 2, seed=1)
    n, k = log_e.shape
    joint = {}
    for path in itertools.product(range(k), repeat=n):
        lp = math.log(pi[path[0]]) + log_e[0, path[0]]
        lp += sum(math.log(a[path[t - 1], path[t]]) + log_e[t, path[t]] for t in range(1, n))
        joint[path] = lp
    lps = np.array(list(joint.values()))
    log_z = np.logaddexp.reduce(lps)
    w = np.exp(lps - log_z)
    paths = np.array(list(joint))
    post = np.stack([(w[:, None] * (paths == s)).sum(0) for s in range(k)], axis=1)
    trans = np.zeros((k, k))
    for wi, p in zip(w, paths):
        for t in range(1, n):
            trans[p[t - 1], p[t]] += wi
    ll, post_fb, trans_fb = forward_backward(log_e, pi, a)
    # 2^6 paths of ~10 terms each: a few hundred ulps of the log-likelihood scale (~120)
    assert ll == pytest.approx(log_z, abs=1e3 * EPS * abs(log_z))
    np.testing.assert_allclose(post_fb, post, atol=1e-12)
    np.testing.assert_allclose(trans_fb, trans, atol=1e-12)
    best = max(joint, key=joint.get)
    lv, states = viterbi(log_e, pi, a)
    assert tuple(states) == best and lv == pytest.approx(joint[best], abs=1e3 * EPS * abs(lv))


def test_forward_backward_and_viterbi_agree_with_hmmlearn():
    # reference: hmmlearn 0.3.3 (test extra), fed the same emission log-likelihoods
    hmmlearn_base = pytest.importorskip("hmmlearn.base")

    class FixedEmissions(hmmlearn_base.BaseHMM):
        def __init__(self, log_e):
            super().__init__(n_components=log_e.shape[1])
            self.log_e = log_e

        def _compute_log_likelihood(self, X):
            return self.log_e[X[:, 0].astype(int)]

        def _get_n_fit_scalars_per_param(self):
            return {}

        def _check_and_set_n_features(self, X):
            pass

    log_e, pi, a = _random_chain(300, 4, seed=2)
    lengths = [120, 100, 80]
    ref = FixedEmissions(log_e)
    ref.startprob_, ref.transmat_ = pi, a
    x = np.arange(300)[:, None]
    ll, post, _ = forward_backward(log_e, pi, a, lengths)
    np.testing.assert_allclose(post, ref.predict_proba(x, lengths), atol=1e-10, rtol=0)
    assert ll == pytest.approx(ref.score(x, lengths), abs=1e-10 * abs(ll))
    lv, states = viterbi(log_e, pi, a, lengths)
    lh, sh = ref.decode(x, lengths, algorithm="viterbi")
    np.testing.assert_array_equal(states, sh)
    assert lv == pytest.approx(lh, abs=1e-10 * abs(lh))


def test_engine_errors():
    log_e, pi, a = _random_chain(10, 2, seed=0)
    with pytest.raises(ValueError, match="lengths must sum"):
        forward_backward(log_e, pi, a, [3, 3])
    with pytest.raises(ValueError, match="positive integers"):
        forward_backward(log_e, pi, a, [10.0])
    with pytest.raises(ValueError, match="shape"):
        forward_backward(log_e, pi[:1], a)
    with pytest.raises(ValueError, match="sum to 1"):
        forward_backward(log_e, pi * 2, a)
    with pytest.raises(ValueError, match="zero likelihood"):
        forward_backward(np.where(np.arange(10)[:, None] == 3, -np.inf, log_e), pi, a)
    with pytest.raises(ValueError, match="NaN"):
        viterbi(np.where(np.arange(10)[:, None] == 3, np.nan, log_e), pi, a)


# ----------------------------------------------------------------------------- masking
def test_missing_trials_are_masked_not_counted_as_correct():
    true = _authors_model()
    y, _ = true.sample(200, seed=3)
    short = y.copy()
    cut = np.random.default_rng(0).integers(5, 30, size=200)
    for n, c in enumerate(cut):
        short[n, c:] = np.nan
    # a block ending at trial c scores exactly as its first c trials under the same curves
    per_block = true._log_emissions(short)
    for n in (0, 17, 199):
        m = BlockHMM.from_params(OFFSETS, SLOPES, LAPSES, _sticky(3), n_trials=int(cut[n]))
        np.testing.assert_allclose(per_block[n], m._log_emissions(y[n : n + 1, : cut[n]])[0], rtol=1e-13)
    # the reference code's choice (missing = correct) gives a different likelihood
    filled = np.where(np.isnan(short), 1.0, short)
    assert abs(true.score(short) - true.score(filled)) > 10.0


# ----------------------------------------------------------------------------- fitting
def test_em_is_monotone_and_fitted_attributes():
    true = BlockHMM.from_params([1.0, 8.0], [2.0, 0.5], [0.05, 0.2], _sticky(2, 0.9), n_trials=15)
    y, modes = true.sample(300, seed=1)
    fit = BlockHMM(2, 15, n_restarts=2, seed=0).fit(y)
    h = np.array(fit.history_)
    # each EM step cannot lower the likelihood (up to rounding of a sum of ~4,500 terms)
    assert (np.diff(h) >= -1e3 * EPS * abs(h[-1])).all()
    assert fit.offsets_.shape == fit.slopes_.shape == fit.lapses_.shape == (2,)
    assert (np.diff(fit.offsets_) >= 0).all()  # modes sorted by offset
    np.testing.assert_allclose(fit.transmat_.sum(1), 1.0, atol=1e-12)
    assert fit.startprob_.sum() == pytest.approx(1.0, abs=1e-12)
    assert (fit.slopes_ >= 0.01).all() and (fit.lapses_ >= 0.01).all() and (fit.lapses_ <= 0.5).all()
    post = fit.posterior(y)
    np.testing.assert_allclose(post.sum(1), 1.0, atol=1e-12)
    assert (fit.most_likely_modes(y) == modes).mean() > 0.95
    assert fit.score(y) == pytest.approx(fit.log_likelihood_, rel=1e-9)
    assert fit.score(y) >= true.score(y) - 1e-6  # the MLE beats the truth in-sample


def test_constant_model_has_zero_information_gain():
    flat = BlockHMM.from_params([5.0], [1.0], [0.5], [[1.0]], n_trials=10)  # lapse 0.5: p(t) = 0.5
    y = (np.random.default_rng(0).random((50, 10)) < 0.5).astype(float)
    assert flat.bits_per_block(y, base_rate=0.5) == pytest.approx(0.0, abs=1e-12)
    # log-likelihood of a fair coin: -n_trials * ln 2 per block
    assert flat.score(y) == pytest.approx(-500 * math.log(2), rel=1e-13)


def test_recovery_on_the_authors_synthetic_setup():
    """K = 3, T = 30, 1,000 blocks: offsets within 0.5, lapses within 0.02, >= 95 % of modes.

    Slopes are compared with the oracle MLE (the curve fitted to the blocks of each true mode,
    L-BFGS-B started at the truth and elsewhere; the curve likelihood has poor local optima):
    on one dataset the slope of the offset-1 mode has a sampling s.d. of ~0.12 (15 %), so the
    issue's 20 % criterion is checked over 10 datasets in analyses/reversal_learning.py.
    """
    from scipy.optimize import minimize

    from neurocompare.behavior._blockhmm import _curve_objective

    true = _authors_model()
    y, modes = true.sample(1000, seed=0)
    fit = BlockHMM(3, 30, n_restarts=5, seed=0).fit(y)
    perm = _match(fit, true)
    np.testing.assert_array_less(np.abs(fit.offsets_[perm] - OFFSETS), 0.5)
    np.testing.assert_array_less(np.abs(fit.lapses_[perm] - LAPSES), 0.02)
    accuracy = (np.argsort(perm)[fit.most_likely_modes(y)] == modes).mean()
    assert accuracy >= 0.95, accuracy
    t = np.arange(30.0)
    for k in range(3):
        yk = y[modes == k]
        best = min((minimize(_curve_objective, x0, args=(t, yk.sum(0), (1 - yk).sum(0)), jac=True, method="L-BFGS-B",
                             bounds=[(0.01, 60), (0.01, 20), (0.01, 0.5)]) for x0 in ([OFFSETS[k], SLOPES[k], LAPSES[k]], [3, 0.3, 0.1], [10, 2, 0.1])),
                   key=lambda r: r.fun)
        assert fit.slopes_[perm[k]] == pytest.approx(best.x[1], rel=0.1), (k, fit.slopes_[perm[k]], best.x)
    np.testing.assert_array_less(np.abs(np.diag(fit.transmat_[np.ix_(perm, perm)]) - 0.95), 0.03)


def test_model_selection_picks_the_true_number_of_modes_small():
    true = BlockHMM.from_params([1.0, 8.0], [2.0, 0.5], [0.05, 0.2], _sticky(2, 0.9), n_trials=15)
    y, _ = true.sample(300, seed=4)
    sel = select_n_modes(y, (1, 2, 3), n_folds=3, n_restarts=1, seed=0, progress=False)
    assert sel.n_modes == 2, sel
    assert sel.mean[1] > sel.mean[0] + 0.5  # a second mode is worth more than half a bit per block
    assert sel.bits.shape == (3, 3) and float(sel) == 2.0 and sel.error_kind == "none"


@pytest.mark.slow
def test_model_selection_on_the_authors_setup_picks_three():
    y, _ = _authors_model().sample(1000, seed=0)
    sel = select_n_modes(y, (1, 2, 3, 4, 5), n_folds=5, n_restarts=3, seed=0, progress=False)
    assert sel.n_modes == 3, sel


def test_fit_with_sessions_and_errors():
    true = BlockHMM.from_params([1.0, 8.0], [2.0, 0.5], [0.05, 0.2], _sticky(2, 0.9), n_trials=15)
    y, _ = true.sample(100, seed=5)
    fit = BlockHMM(2, 15, n_restarts=1).fit(y, lengths=[40, 60])
    assert fit.posterior(y, [40, 60]).shape == (100, 2)
    with pytest.raises(ValueError, match="lengths must sum"):
        BlockHMM(2, 15).fit(y, lengths=[40, 40])
    with pytest.raises(ValueError, match="15 trials"):
        BlockHMM(2, 15).fit(y[:, :10])
    with pytest.raises(ValueError, match="1 \\(chose the rewarded side\\), 0"):
        BlockHMM(2, 15).fit(np.where(y == 1, 2.0, y))
    with pytest.raises(ValueError, match="no observed trial"):
        BlockHMM(2, 15).fit(np.vstack([y, np.full((1, 15), np.nan)]))
    with pytest.raises(ValueError, match="'n_modes' parameter"):
        BlockHMM(0, 15)
    with pytest.raises(ValueError, match="no parameters yet"):
        BlockHMM(2, 15).posterior(y)
    with pytest.raises(ValueError, match="lapses must lie"):
        BlockHMM.from_params([1], [1], [0.7], [[1.0]], n_trials=5)
    with pytest.raises(ValueError, match="sum to 1"):
        BlockHMM.from_params([1, 2], [1, 1], [0.1, 0.1], [[0.5, 0.4], [0.5, 0.5]], n_trials=5)
    with pytest.raises(ValueError, match="candidates"):
        select_n_modes(y, (0, 1))
    with pytest.raises(ValueError, match="n_folds"):
        select_n_modes(y, (1,), n_folds=1)


def test_sampling_is_seeded():
    m = _authors_model()
    a, ma = m.sample(50, seed=7)
    b, mb = m.sample(50, seed=7)
    c, _ = m.sample(50, seed=8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ma, mb)
    assert not np.array_equal(a, c)


# ----------------------------------------------------------------------------- agents
def test_agents_switch_as_expected_and_blockhmm_separates_them():
    session = simulate_reversal([QLearningAgent(0.2, 0.2), InferenceAgent(0.05, 0.8, 0.02)], 400, seed=1)
    y = session.outcomes(15)
    assert y.shape == (400, 15) and not np.isnan(y).any()  # blocks are >= 15 trials long
    q, inf = y[session.agents == 0], y[session.agents == 1]
    # inference: after the two errors that its reward model needs, it has switched
    assert inf[:, 3:].mean() > 0.95 and inf[:, 0].mean() < 0.1
    # Q-learning switches later: still mostly on the old side 3 trials in
    assert q[:, 3].mean() < 0.3 and q[:, -3:].mean() > 0.75
    fit = BlockHMM(2, 15, n_restarts=2, seed=0).fit(y)
    modes = fit.most_likely_modes(y)
    # modes are sorted by offset, so mode 0 is the early switcher: the inference agent (index 1)
    early, late = 0, 1
    assert fit.offsets_[early] < fit.offsets_[late]
    assert fit.slopes_[early] > fit.slopes_[late] and fit.lapses_[early] < fit.lapses_[late]
    assert ((modes == early) == (session.agents == 1)).mean() > 0.9


def test_simulate_reversal_structure_and_errors():
    s = simulate_reversal([InferenceAgent()], 30, seed=0, block_range=(15, 25))
    lengths = np.diff(np.append(s.block_starts, s.choices.size))
    assert lengths.min() >= 15 and lengths.max() <= 25 and s.agent_kinds == ("inference",)
    # the rewarded side alternates block to block, and rewards come only from it (p_reward = 1)
    sides = s.rewarded_side[s.block_starts]
    assert (np.diff(sides) != 0).all()
    np.testing.assert_array_equal(s.rewards, (s.choices == s.rewarded_side).astype(int))
    with pytest.raises(ValueError, match="at least one agent"):
        simulate_reversal([], 3)
    with pytest.raises(TypeError, match="reset"):
        simulate_reversal([object()], 3)
    with pytest.raises(ValueError, match="agent_transmat"):
        simulate_reversal([InferenceAgent(), QLearningAgent()], 3, agent_transmat=np.eye(3))
    with pytest.raises(ValueError, match="reward_prob"):
        InferenceAgent(reward_prob=1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        QLearningAgent(learning_rate=0.0)


def test_public_names_and_figures():
    assert nc.BlockHMM is BlockHMM
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    true = _authors_model()
    y, modes = true.sample(60, seed=0)
    fig = nc.plotting.plot_transition_curves(true, y, modes)
    assert len(fig.axes[0].lines) == 3 + len(np.unique(modes))  # a curve per mode, observed means per mode present
    fig2 = nc.plotting.plot_mode_sequence(true.posterior(y), modes)
    assert fig2.axes[0].get_xlim()[1] == 59
    with pytest.raises(ValueError, match="together"):
        nc.plotting.plot_transition_curves(true, y)


# ----------------------------------------------------------------------------- mouse data loader
def test_le2023_loader_reads_the_published_format(tmp_path):
    from scipy.io import savemat

    from data_loaders import le2023_blockhmm as le

    # two sessions in the published coding: choices +1/-1 (0 = time-out), targets 0/1
    s1_targets = np.array([0] * 4 + [1] * 3 + [0] * 2)
    s1_choices = np.array([1, -1, 1, 1, 1, 0, -1, 1, 1])
    s2_targets = np.array([1] * 5)
    s2_choices = np.array([-1, -1, 1, -1, -1])
    cells = lambda *xs: np.array([np.asarray(x, dtype=float)[None, :] for x in xs] + [np.zeros((0, 0))], dtype=object)[None, :]
    folder = tmp_path / le.FOLDER
    folder.mkdir()
    savemat(folder / "m01_all_sessions_022822.mat", {
        "choices_cell": cells(s1_choices, s2_choices), "targets_cell": cells(s1_targets, s2_targets),
        "session_names": np.array(["day1", "day2", "empty"], dtype=object)[None, :],
    })
    assert le.list_animals(tmp_path) == ["m01"]
    data = le.load_animal("m01", tmp_path, n_trials=4)
    nan = np.nan
    expected = np.array([[1, 0, 1, 1], [0, nan, 1, nan], [1, 1, nan, nan], [1, 1, 0, 1]])
    np.testing.assert_array_equal(data["outcomes"], expected)
    assert data["lengths"] == [3, 1] and data["sessions"] == [0, 1] and data["session_names"] == ["day1", "day2"]
    fit = BlockHMM(1, 4, n_restarts=1).fit(data["outcomes"], data["lengths"])
    assert np.isfinite(fit.log_likelihood_)
    with pytest.raises(FileNotFoundError, match="figshare"):
        le.load_animal("m01", tmp_path / "elsewhere")
    with pytest.raises(FileNotFoundError, match="Animals present: \\['m01'\\]"):
        le.load_animal("m02", tmp_path)
    with pytest.raises(ValueError, match="out of range"):
        le.load_animal("m01", tmp_path, sessions=[5])
    with pytest.raises(ValueError, match="targets must be 0 or 1"):
        le.session_outcomes([1, -1], [0, 2])


# ----------------------------------------------------------------------------- the study
def test_reversal_learning_analysis_records_and_resumes(tmp_path):
    import json

    pytest.importorskip("matplotlib")
    from analyses import reversal_learning as rl

    cfg = rl.Config(out=str(tmp_path)).shrink()
    cfg.n_blocks, cfg.candidates, cfg.n_folds, cfg.agent_blocks, cfg.agent_candidates = 150, (1, 2), 2, 100, (1, 2)
    summary = rl.run(cfg)
    lines = [json.loads(s) for s in (tmp_path / "results.jsonl").read_text().splitlines()]
    runs = [r for r in lines if r["kind"] == "run"]
    assert {(r["part"], r["seed"]) for r in runs} == {("validation", 0), ("agents", 0)}
    assert all(r["git_commit"] and r["version"] == nc.__version__ and r["config"]["seed"] == 0 for r in lines)
    assert summary["validation"]["selection"]["candidates"] == [1, 2]
    assert set(summary["agents"]["per_agent"]) == {"q_learning", "inference"}
    assert (tmp_path / "reversal_agents.png").stat().st_size > 0 and (tmp_path / "reversal_selection.png").exists()
    # a second run with the same config reuses the finished parts: only a new summary is appended
    again = rl.run(cfg)
    lines2 = [json.loads(s) for s in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(lines2) == len(lines) + 1 and lines2[-1]["kind"] == "summary"
    assert again == json.loads(json.dumps(summary))
