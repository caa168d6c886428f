"""Tests for neurocompare.plotting.datasets (first-look figures for recorded data)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("matplotlib")
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neurocompare.plotting import datasets as pd_  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_place_fields_known_answer():
    # samples on a 4x4 lattice, each visited twice; unit 0 fires 3 per sample only where x > 0.5,
    # unit 1 fires y*10 everywhere
    g = (np.arange(4) + 0.5) / 4
    xx, yy = np.meshgrid(g, g)
    x = np.tile(xx.ravel(), 2)
    y = np.tile(yy.ravel(), 2)
    counts = np.stack([3.0 * (x > 0.5), 10 * y], axis=1)
    maps = pd_.place_fields(counts, x, y, bins=4)
    assert maps.shape == (2, 4, 4)
    np.testing.assert_allclose(maps[0], np.tile([0, 0, 3, 3], (4, 1)))
    np.testing.assert_allclose(maps[1], np.tile(10 * g[:, None], (1, 4)))


def test_place_fields_occupancy_and_errors():
    x = np.array([0.0, 0.0, 1.0])
    y = np.array([0.0, 0.0, 1.0])
    maps = pd_.place_fields(np.array([1.0, 3.0, 5.0]), x, y, bins=2, min_occupancy=2)
    assert maps[0, 0, 0] == 2.0 and np.isnan(maps[0, 1, 1])  # visited once: masked
    assert np.isnan(maps[0, 0, 1])  # never visited
    with pytest.raises(ValueError, match="n_samples"):
        pd_.place_fields(np.zeros((3, 2)), np.zeros(4), np.zeros(4))


def test_plot_images_and_labels():
    imgs = xr.DataArray(
        np.random.default_rng(0).integers(0, 255, size=(5, 8, 8, 3), dtype=np.uint8),
        dims=("stimulus", "height", "width", "channel"),
        coords={"stimulus_id": ("stimulus", [f"s{i}" for i in range(5)]), "category": ("stimulus", list("aabbc"))},
    )
    fig = pd_.plot_images(imgs, indices=[0, 2, 4], label="category")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 3 and [ax.get_title() for ax in shown] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="out of range"):
        pd_.plot_images(imgs, indices=[7])
    with pytest.raises(ValueError, match="No coord 'animal'"):
        pd_.plot_images(imgs, label="animal")
    with pytest.raises(ValueError, match="dims \\(stimulus, height, width"):
        pd_.plot_images(np.zeros((3, 4)))


def test_plot_spectrograms_with_responses():
    rate = 8000
    t = np.arange(rate) / rate
    sounds = xr.DataArray(
        np.stack([np.sin(2 * np.pi * f * t) for f in (500, 2000)]).astype(np.float32),
        dims=("stimulus", "sample"),
        coords={"stimulus_id": ("stimulus", ["low", "high"])},
        attrs={"sample_rate": rate},
    )
    from neurocompare.data import make_responses

    resp = make_responses(np.arange(9.0).reshape(3, 3), stimulus_ids=["high", "low", "other"], unit_ids=list("abc"))
    fig = pd_.plot_spectrograms(sounds, indices=[0, 1], responses=resp)
    assert len(fig.axes) == 4
    axes = np.array(fig.axes).reshape(2, 2)
    # the bars under sound 'low' are the responses' row 'low' (row 1), matched by stimulus_id
    np.testing.assert_allclose([p.get_height() for p in axes[1, 0].patches], [3, 4, 5])
    np.testing.assert_allclose([p.get_height() for p in axes[1, 1].patches], [0, 1, 2])
    with pytest.raises(ValueError, match="sample_rate"):
        pd_.plot_spectrograms(sounds.assign_attrs(sample_rate=None).drop_attrs())


def test_plot_maps_and_trajectory():
    maps = np.random.default_rng(1).random((3, 6, 6))
    maps[0, 0, 0] = np.nan
    fig = pd_.plot_maps(maps, titles=["a", "b", "c"], ncols=2)
    assert sum(1 for ax in fig.axes if ax.images) == 3
    with pytest.raises(ValueError, match="3 maps"):
        pd_.plot_maps(maps, titles=["a"])
    traj = xr.DataArray(np.random.default_rng(2).random((50, 2)), dims=("time", "space"))
    spikes = xr.Dataset({"x": ("spike", [0.1, 0.2]), "y": ("spike", [0.3, 0.4])})
    fig = pd_.plot_trajectory(traj, spikes=spikes, title="t")
    ax = fig.axes[0]
    assert len(ax.lines) == 1 and len(ax.collections) == 1 and ax.get_title() == "t"
    with pytest.raises(ValueError, match="dims \\('time', 'space'\\)"):
        pd_.plot_trajectory(traj.rename(time="t"))
