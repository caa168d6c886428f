"""Time-resolved scoring on simulated DMFC: known answers (perfect simulator, identity dynamics, shuffled)."""

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

import neurocompare as nc
from neurocompare.benchmarks import (
    bin_spike_times,
    nwb_spike_times,
    stack_time,
    time_resolved_benchmark,
    time_resolved_consistency,
)
from neurocompare.benchmarks.procedure import recordings, split_positions
from neurocompare.tasks import mental_pong_conditions, occluded_mask, render, simulated_dmfc

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def pong():
    ds = mental_pong_conditions(120, seed=11)
    sim = simulated_dmfc(ds, n_units=100, n_repeats=10, seed=5)  # the set-up: 100 units, 10 repeats
    state = np.nan_to_num(np.stack([ds[v].values for v in ("x", "y", "vx", "vy")], 1))  # (condition, 4, frame)
    return ds, sim, state


@pytest.fixture(scope="module")
def identity_layer(pong):
    """The identity-dynamics model on the rendered (occluded) videos, through nc.extract."""
    ds = pong[0]
    net = nc.build_model("future_prediction_identity", seed=0, grid=2)  # 256 latent units keep the test fast
    video = torch.from_numpy(render(ds, 32))
    acts = nc.extract(net, video, ["readout"], stimulus_ids=ds.condition_id.values, progress=False, batch_size=40)
    return acts["readout"]


def test_perfect_simulator_reaches_the_ceiling(pong):
    ds, sim, state = pong
    occ = occluded_mask(ds)
    every = time_resolved_consistency(state, sim, mask=ds.valid.values, seed=0)
    hidden = time_resolved_consistency(state, sim, mask=occ, seed=0)
    # the features are the units' exact generators, in arena units: the ridge penalty shrinks the
    # small-variance velocities (±1 vs 0–32 for positions), which costs ~0.1 (measured 0.91, 0.93)
    assert every.value >= 0.9 and hidden.value >= 0.9 and every.pooled >= 0.9
    assert np.array_equal(hidden.n_conditions.values, occ.sum(0)) and hidden.params["n_bins_scored"] >= 20
    assert np.isfinite(hidden.per_time.values).sum() == hidden.params["n_bins_scored"]
    assert hidden.predictions.dims == ("stimulus", "unit", "time")
    # z-scored per feature the mapping is exact: only Poisson noise and ~10-120 conditions per bin
    # separate the estimate from 1 (measured 1.00)
    z = time_resolved_consistency(state, sim, mask=occ, seed=0, standardize=True)
    assert z.value >= 0.97
    # ... and then the score does not depend on the features' units (same fit up to rounding)
    scaled = time_resolved_consistency(state * np.array([1.0, 10.0, 100.0, 0.01])[None, :, None], sim, mask=occ, seed=0,
                                       standardize=True)
    assert scaled.value == pytest.approx(z.value, abs=1e-9)


def test_identity_dynamics_loses_the_ball_behind_the_occluder(pong, identity_layer):
    ds, sim, state = pong
    occ = occluded_mask(ds)
    perfect = time_resolved_consistency(state, sim, mask=occ, seed=0)
    ident = time_resolved_consistency(identity_layer, sim, mask=occ, seed=0)
    seen = time_resolved_consistency(identity_layer, sim, mask=ds.visible.values, seed=0)
    # behind the occluder the frames are (nearly) identical across conditions: at most the edge of
    # a ball just entering it differs, so the identity model falls far below the simulator
    assert ident.value < 0.3 and perfect.value - ident.value > 0.6
    assert seen.value > ident.value + 0.2  # while the ball is visible the frames do carry it
    late = ident.per_time.where(ident.per_time.time >= int(ds.t_occlude.max()) + 2, drop=True)
    assert np.allclose(late.dropna("time").values, 0.0)  # bins where every ball is hidden: no information


def test_shuffled_conditions_score_about_zero(pong):
    ds, sim, state = pong
    perm = np.random.default_rng(0).permutation(state.shape[0])
    s = time_resolved_consistency(state[perm], sim, mask=ds.valid.values, seed=0)
    # ~100 conditions per bin: the sampling sd of a null correlation is ~0.1 per unit; the median
    # over units and the mean over bins shrink it further
    assert abs(s.value) < 0.1
    # pooled over time the shuffled features still know the frame (every ball moves right): the
    # per-bin score is what removes that
    assert s.pooled > s.value + 0.1


def test_splits_are_by_condition_not_by_frame(pong):
    ds, sim, state = pong
    # features that name the condition (a random code, constant in time) and nothing else: with
    # frames of held-out conditions only, they cannot predict anything
    code = np.random.default_rng(1).standard_normal((state.shape[0], 30, 1)).repeat(state.shape[2], 2)
    s = time_resolved_consistency(code, sim, mask=ds.valid.values, seed=0)
    assert abs(s.value) < 0.15
    bench = time_resolved_benchmark(sim, mask=ds.valid.values, n_splits=3, seed=0)
    assert bench.describe()["groups"] == "condition"
    cond = np.asarray(bench.data.condition.values)[np.argsort(bench.stimulus_ids, kind="stable")]
    for g, (_, stims) in enumerate(recordings(bench)):
        for train, test in split_positions(bench, stims, g):
            assert not set(cond[stims][train]) & set(cond[stims][test])


def test_benchmark_protocol_agrees_on_the_perfect_simulator(pong):
    ds, sim, state = pong
    bench = time_resolved_benchmark(sim, mask=ds.valid.values, n_splits=3, seed=0)
    layer = xr.DataArray(state, dims=("stimulus", "unit", "time"),
                         coords={"stimulus_id": ("stimulus", sim.stimulus_id.values), "time": ("time", sim.time.values)})
    feats = stack_time(layer, mask=ds.valid.values)
    assert set(feats.stimulus_id.values) == set(bench.stimulus_ids)
    score = nc.score_responses({"state": feats}, bench)
    assert score.value >= 0.9  # raw / split-half ceiling, pooled over (condition × time) samples


@pytest.mark.slow  # ~25 s on the shared 2-core machine (20 reliability splits of nc.similarity's estimate)
def test_per_bin_reliability_matches_noise_corrected_consistency(pong):
    # two implementations of one estimate: the vectorised per-bin path and nc.similarity's function
    ds, sim, state = pong
    s = time_resolved_consistency(state, sim, mask=ds.valid.values, seed=0, n_splits=20)
    t = 20
    use = ds.valid.values[:, t]
    pred = s.predictions.values[use, :, t]
    ref = nc.similarity.noise_corrected_consistency(pred, sim.values[use, :, t, :], n_splits=20, seed=0)
    # different random halves: both are means over 20 splits of a median over 100 units
    assert s.per_time.values[t] == pytest.approx(ref.value, abs=0.03)


@pytest.mark.slow  # three scorings of 120 conditions
def test_several_feature_sets_share_the_reliabilities(pong):
    ds, sim, state = pong
    both = time_resolved_consistency({"a": state, "b": state[:, :2]}, sim, mask=ds.valid.values, seed=0)
    alone = time_resolved_consistency(state[:, :2], sim, mask=ds.valid.values, seed=0)
    assert both["b"].value == pytest.approx(alone.value, abs=1e-12)
    assert both["a"].value > both["b"].value  # x, y alone miss the velocity mixing


def test_errors(pong):
    ds, sim, state = pong
    with pytest.raises(ValueError, match="repetition"):
        time_resolved_consistency(state, sim.mean("repetition"))
    with pytest.raises(ValueError, match="time bins"):
        time_resolved_consistency(state[:, :, :10], sim)
    with pytest.raises(ValueError, match="same conditions"):
        time_resolved_consistency(state[:50], sim)
    with pytest.raises(ValueError, match="mask must be"):
        time_resolved_consistency(state, sim, mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="n_folds"):
        time_resolved_consistency(state, sim, n_folds=1)
    with pytest.raises(ValueError, match="No time bin has"):
        time_resolved_consistency(state, sim, min_conditions=1000)
    with pytest.raises(ValueError, match="needs dims"):
        time_resolved_consistency(sim.isel(time=0), sim)
    missing = nc.make_responses(np.ones((3, 2, 4)), dims=("stimulus", "unit", "time"))
    with pytest.raises(ValueError, match="features lack"):
        time_resolved_consistency(missing, sim)
    with pytest.raises(ValueError, match="sets groups='condition'"):
        time_resolved_benchmark(sim, groups="x")
    with pytest.raises(ValueError, match="at least 3 are needed"):
        stack_time(sim, mask=np.zeros(sim.shape[0:1] + sim.shape[2:3], bool))


def test_bin_spike_times_counts_per_bin_and_pads_repetitions():
    spikes = [np.array([0.05, 0.15, 0.16, 1.02, 2.31]), np.array([1.5, 2.05])]
    onsets = np.array([0.0, 1.0, 2.0])
    trials = ["b", "a", "b"]  # condition b seen twice, a once
    resp = bin_spike_times(spikes, onsets, trials, n_bins=4, bin_width=0.1, unit_ids=["u0", "u1"])
    assert resp.dims == ("stimulus", "unit", "time", "repetition") and resp.shape == (2, 2, 4, 2)
    np.testing.assert_allclose(resp.time.values, [0.0, 0.1, 0.2, 0.3])
    a = resp.sel(stimulus=0)  # 'a' sorts first
    assert list(resp.stimulus_id.values) == ["a", "b"]
    np.testing.assert_array_equal(a.values[0, :, 0], [1, 0, 0, 0])  # 1.02 -> bin 0 of trial at 1.0
    assert np.isnan(a.values[:, :, 1]).all()  # 'a' has one trial: the second repetition is padding
    b = resp.sel(stimulus=1).values
    np.testing.assert_array_equal(b[0, :, 0], [1, 2, 0, 0])  # 0.05; 0.15, 0.16
    np.testing.assert_array_equal(b[0, :, 1], [0, 0, 0, 1])  # 2.31
    np.testing.assert_array_equal(b[1, :, 1], [1, 0, 0, 0])  # 2.05
    short = bin_spike_times(spikes, onsets, trials, n_bins=4, bin_width=0.1, n_valid_bins=[4, 4, 2])
    assert np.isnan(short.values[1, :, 2:, 1]).all() and not np.isnan(short.values[1, :, 2:, 0]).any()
    with pytest.raises(ValueError, match="same length"):
        bin_spike_times(spikes, onsets, trials[:2], n_bins=4, bin_width=0.1)
    with pytest.raises(ValueError, match="n_bins must be a positive int"):
        bin_spike_times(spikes, onsets, trials, n_bins=0, bin_width=0.1)
    with pytest.raises(ValueError, match="one count per trial"):
        bin_spike_times(spikes, onsets, trials, n_bins=4, bin_width=0.1, n_valid_bins=[1])


def test_nwb_units_table_to_spike_times():
    table = pd.DataFrame({"spike_times": [[0.1, 0.2], [0.5]]}, index=pd.Index([7, 9], name="id"))
    spikes, ids = nwb_spike_times(table)
    assert list(ids) == ["7", "9"] and [list(s) for s in spikes] == [[0.1, 0.2], [0.5]]
    with pytest.raises(TypeError, match="units table"):
        nwb_spike_times({"spike_times": []})
