"""Tests for neurocompare.gridcells trajectories (the one trajectory type): integration identity, speed/turn statistics, walls, real data."""

from __future__ import annotations

import numpy as np
import pytest

from neurocompare.gridcells import Trajectories, random_walks, trajectory_segments


def test_shapes_and_integration_identity():
    tr = random_walks(8, 200, seed=1)
    assert tr.position.shape == (8, 201, 2) and tr.velocity.shape == (8, 200, 2)
    assert tr.head_direction.shape == (8, 201) and tr.speed.shape == (8, 200)
    np.testing.assert_allclose(tr.position[:, 1:], tr.position[:, :-1] + tr.velocity * tr.dt, atol=1e-12)
    np.testing.assert_allclose(tr.speed, np.linalg.norm(tr.velocity, axis=-1), atol=1e-9)


def test_stays_in_box_and_seeded():
    tr = random_walks(16, 2000, box=((0, 1), (0, 2)), seed=3)
    assert tr.position[..., 0].min() >= 0 and tr.position[..., 0].max() <= 1
    assert tr.position[..., 1].min() >= 0 and tr.position[..., 1].max() <= 2
    np.testing.assert_array_equal(tr.position, random_walks(16, 2000, box=((0, 1), (0, 2)), seed=3).position)
    assert not np.array_equal(tr.position, random_walks(16, 2000, box=((0, 1), (0, 2)), seed=4).position)


def test_rayleigh_speed_and_gaussian_turns_away_from_walls():
    scale, turn_sd, dt = 0.8, 11.52, 0.02
    tr = random_walks(200, 100, box=((-1e3, 1e3), (-1e3, 1e3)), speed_scale=scale, turn_sd=turn_sd, dt=dt, seed=0)
    s = tr.speed.ravel()
    assert s.mean() == pytest.approx(scale * np.sqrt(np.pi / 2), rel=0.03)  # Rayleigh mean
    assert np.median(s) == pytest.approx(scale * np.sqrt(2 * np.log(2)), rel=0.03)
    dh = np.angle(np.exp(1j * np.diff(tr.head_direction, axis=1))).ravel()
    assert dh.std() == pytest.approx(turn_sd * dt, rel=0.03)
    assert abs(dh.mean()) < 0.01


def test_wall_avoidance_keeps_walker_off_the_walls():
    tr = random_walks(64, 3000, box=((-1.1, 1.1), (-1.1, 1.1)), seed=2)
    p = tr.position.reshape(-1, 2)
    dwall = np.minimum.reduce([p[:, 0] + 1.1, 1.1 - p[:, 0], p[:, 1] + 1.1, 1.1 - p[:, 1]])
    # time within 1 cm of a wall is rare, and the walker covers the box
    assert np.mean(dwall < 0.01) < 0.05
    hist, _, _ = np.histogram2d(p[:, 0], p[:, 1], bins=10, range=((-1.1, 1.1), (-1.1, 1.1)))
    assert (hist > 0).all()


def test_segments_from_array_and_list():
    t = np.arange(1000) * 0.02
    pos = np.stack([0.5 * np.cos(t), 0.5 * np.sin(t)], axis=1)
    seg = trajectory_segments(pos, 100, dt=0.02)
    assert seg.position.shape == (9, 101, 2)
    np.testing.assert_allclose(seg.speed, 0.5, rtol=1e-3)
    np.testing.assert_allclose(seg.position[:, 1:], seg.position[:, :-1] + seg.velocity * 0.02, atol=1e-12)
    seg2 = trajectory_segments([pos, pos[:300]], 50, n=20, dt=0.02, scale=2.0, seed=0)
    assert seg2.position.shape == (20, 51, 2)
    assert np.abs(seg2.position).max() <= 1.0 + 1e-9


def test_bad_inputs():
    with pytest.raises(ValueError, match="n and steps"):
        random_walks(0, 10)
    with pytest.raises(ValueError, match="box"):
        random_walks(2, 10, box=((1, 0), (0, 1)))
    with pytest.raises(ValueError, match="inside the box"):
        random_walks(1, 10, box=1.0, start=[[2.0, 0.5]])
    with pytest.raises(ValueError, match="dt"):
        trajectory_segments(np.zeros((10, 2)), 5)
    with pytest.raises(ValueError, match="more than steps"):
        trajectory_segments(np.zeros((10, 2)), 50, dt=0.02)
    with pytest.raises(ValueError, match="non-finite"):
        trajectory_segments(np.full((10, 2), np.nan), 5, dt=0.02)


@pytest.mark.requires_data
def test_real_sargolini_trajectories_drive_segments(data_root):
    sarg = pytest.importorskip("data_loaders.sargolini2006")
    trajs = sarg.load_trajectories(root=data_root, indices=[0, 1])
    seg = trajectory_segments(trajs, 200, n=32, scale=2.2, seed=0)
    assert seg.dt == pytest.approx(0.02)
    assert seg.position.shape == (32, 201, 2)
    # real rat speeds: median a few cm/s to tens of cm/s in the original 1 m box
    med = np.median(seg.speed) / 2.2
    assert 0.02 < med < 0.4


# ---------------------------------------------------------------- one type, converted at the edges


def test_from_positions_matches_segments_and_round_trips_dataarray():
    xr = pytest.importorskip("xarray")
    t = np.arange(501) * 0.02
    pos = np.stack([0.4 * np.cos(t), 0.3 * np.sin(2 * t)], axis=1)
    recorded = xr.DataArray(pos, dims=("time", "space"), coords={"time": t, "space": ["x", "y"]})
    one = Trajectories.from_positions(recorded)  # dt from the time coord
    assert len(one) == 1 and one.n_steps == 500 and one.dt == pytest.approx(0.02)
    seg = trajectory_segments(pos, 500, dt=0.02)  # the same path cut as one segment
    np.testing.assert_array_equal(one.position, seg.position)
    # dt read from the time coord is 0.02 up to rounding (a few eps), so derived fields agree to
    # that relative precision: 1e-12 leaves a wide margin over float64 eps (2.2e-16)
    for field in ("velocity", "speed", "head_direction"):
        np.testing.assert_allclose(getattr(one, field), getattr(seg, field), rtol=1e-12, atol=1e-12)
    assert one.box == seg.box
    # (space, time) storage is read by dim name
    np.testing.assert_array_equal(Trajectories.from_positions(recorded.transpose("space", "time")).position, one.position)
    # to_dataarray -> from_positions keeps positions, velocities, dt and box exactly
    tr = random_walks(3, 40, box=((0, 1), (0, 2)), seed=2)
    da = tr.to_dataarray()
    assert da.dims == ("trajectory", "time", "space") and da.sizes["time"] == 41
    back = Trajectories.from_positions(da, box=tr.box)
    np.testing.assert_array_equal(back.position, tr.position)
    np.testing.assert_allclose(back.velocity, tr.velocity, rtol=0, atol=1e-12)
    assert back.dt == pytest.approx(tr.dt) and back.box == tr.box
    # a list of equal-length paths is a batch; unequal lengths are refused
    two = Trajectories.from_positions([pos, pos[::-1]], dt=0.02)
    assert two.position.shape == (2, 501, 2)
    with pytest.raises(ValueError, match="equal lengths"):
        Trajectories.from_positions([pos, pos[:100]], dt=0.02)
    with pytest.raises(ValueError, match="dt"):
        Trajectories.from_positions(pos)
    with pytest.raises(ValueError, match="transpose"):
        Trajectories.from_positions(pos.T, dt=0.02)


def test_seeded_walks_match_the_one_seeding_scheme():
    # rng_from_seed(seed) draws what np.random.default_rng(seed) drew before the seeding scheme,
    # so seeded walks (and every result built on them) are unchanged
    from neurocompare._seeding import numpy_rng

    np.testing.assert_array_equal(numpy_rng(7).random(5), np.random.default_rng(7).random(5))
    a, b = random_walks(2, 30, seed=None), random_walks(2, 30, seed=None)
    assert not np.array_equal(a.position, b.position)
