"""Tests for neurocompare.trajectories: integration identity, speed/turn statistics, walls, real data."""

from __future__ import annotations

import numpy as np
import pytest

from neurocompare.trajectories import random_walks, trajectory_segments


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
