"""Tests for the sound, grid-cell, trajectory, place-cell and MNIST loaders."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from data_loaders import _fetch, gerlei_mec, mnist, norman_haignere2015, ratgps, ratinabox_trajectories, sargolini2006
from data_loaders.readers import read_idx
from neurocompare.data import check_responses


def _tiny(tmp_path, monkeypatch, module, files):
    base = tmp_path / module.FOLDER
    table = {}
    for rel, content in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(content)
        table[rel] = _fetch.sha256(base / rel)
    monkeypatch.setattr(module, "FILES", table)
    return base


# ----------------------------------------------------------------------------- Norman-Haignere 2015
@pytest.mark.requires_data
def test_nh2015_components_and_categories(data_root):
    comps = norman_haignere2015.load_components(data_root)
    check_responses(comps)
    assert comps.shape == (165, 6)
    assert tuple(comps.unit_id.values) == norman_haignere2015.COMPONENTS
    assert len(set(comps.category.values)) == 11
    cats = norman_haignere2015.load_categories(data_root)
    np.testing.assert_array_equal(cats.stimulus_id.values, comps.stimulus_id.values)
    np.testing.assert_array_equal(cats.values, comps.category.values)
    # the components were named for what drives them: speech and music components respond most
    # to speech and music sounds respectively (Norman-Haignere et al. 2015, Fig. 2)
    by_cat = comps.groupby("category").mean()
    assert by_cat.sel(unit=comps.unit_id == "speech").idxmax("category").item() in ("EngSpeech", "ForSpeech")
    assert by_cat.sel(unit=comps.unit_id == "music").idxmax("category").item() in ("Music", "Song")
    w = norman_haignere2015.load_voxel_weights(data_root)
    assert w.shape == (6, 11065)


@pytest.mark.requires_data
def test_nh2015_sounds(data_root):
    sounds = norman_haignere2015.load_sounds(data_root, limit=4)
    assert sounds.dims == ("stimulus", "sample") and sounds.shape == (4, 88200)
    assert sounds.attrs["sample_rate"] == 44100 and sounds.dtype == np.float32
    assert sounds.stimulus_id.values[0] == "stim28_big_band_music"
    assert 0.01 < float(np.abs(sounds.values).max()) <= 1.0
    two = norman_haignere2015.load_sounds(data_root, stimulus_ids=["stim268_piano", "stim28_big_band_music"])
    assert list(two.stimulus_id.values) == ["stim268_piano", "stim28_big_band_music"]
    np.testing.assert_array_equal(two.values[1], sounds.values[0])
    assert list(two.category.values) == ["Music", "Music"]
    with pytest.raises(ValueError, match="Unknown sound id"):
        norman_haignere2015.load_sounds(data_root, stimulus_ids=["piano"])


def test_nh2015_truncated_wav(tmp_path, monkeypatch):
    from scipy.io import wavfile

    buf = io.BytesIO()
    wavfile.write(buf, 44100, (np.sin(np.arange(1000)) * 1000).astype(np.int16))
    _tiny(tmp_path, monkeypatch, norman_haignere2015, {"sounds/wav/x.wav": buf.getvalue()[:30]})
    path = tmp_path / norman_haignere2015.FOLDER / "sounds/wav/x.wav"
    with pytest.raises(ValueError, match="x.wav"):
        norman_haignere2015._sounds_cached((str(path),), ((0, 0),))


# ----------------------------------------------------------------------------- Gerlei MEC
@pytest.mark.requires_data
def test_gerlei_published_grid_scores(data_root):
    ds = gerlei_mec.load(data_root)
    assert ds.sizes["unit"] == 7
    np.testing.assert_array_equal(np.round(ds.grid_score.values, 2), gerlei_mec.PUBLISHED_GRID_SCORES)
    np.testing.assert_allclose(ds.grid_score.values, [0.80, 0.98, 0.30, 0.01, 0.20, -0.15, 0.27], atol=0.005)
    assert ds.rate_map.dims == ("unit", "y", "x") and ds.rate_map.shape == (7, 42, 42)
    assert ds.autocorrelogram.shape == (7, 83, 83)
    # autocorrelogram is point-symmetric (r(dx, dy) == r(-dx, -dy)) over lags -40..40 and peaks
    # at 1 at zero lag
    ac = ds.autocorrelogram.sel(lag_y=slice(-40, 40), lag_x=slice(-40, 40)).values
    np.testing.assert_allclose(ac, ac[:, ::-1, ::-1], atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(ds.autocorrelogram.sel(lag_y=0, lag_x=0).values, 1.0, atol=1e-6)
    assert list(ds.unit_id.values[:2]) == ["T2_C5", "T2_C6"]


@pytest.mark.requires_data
def test_gerlei_spikes_and_map_orientation(data_root):
    ds = gerlei_mec.load(data_root)
    for i in (0, 1):
        sp = gerlei_mec.load_spikes(i, data_root)
        assert sp.sizes["spike"] == int(ds.number_of_spikes[i])
        assert np.all(np.diff(sp.time.values) >= 0)
        # spike density agrees with the rate map in the loader's (y, x) orientation, not transposed
        ok = np.isfinite(sp.x.values) & np.isfinite(sp.y.values)
        h, _, _ = np.histogram2d(sp.y.values[ok], sp.x.values[ok], bins=42,
                                 range=[[0, sp.y.values[ok].max() + 1e-9], [0, sp.x.values[ok].max() + 1e-9]])
        m = ds.rate_map.values[i]
        assert np.corrcoef(h.ravel(), m.ravel())[0, 1] > np.corrcoef(h.T.ravel(), m.ravel())[0, 1] + 0.2
    assert gerlei_mec.load_spikes("T2_C6", data_root).sizes["spike"] == 1987
    with pytest.raises(ValueError, match="Unknown unit 'T9_C9'. Available: T2_C5"):
        gerlei_mec.load_spikes("T9_C9", data_root)


def test_gerlei_refuses_pickle_and_bad_layout(tmp_path, monkeypatch):
    buf = io.BytesIO()
    np.savez(buf, cluster_id=np.array([{"a": 1}], dtype=object))
    _tiny(tmp_path, monkeypatch, gerlei_mec, {"mec_units.npz": buf.getvalue()})
    with pytest.raises(ValueError, match="lacks the arrays|unpickle"):
        gerlei_mec.load(tmp_path)


# ----------------------------------------------------------------------------- trajectories
@pytest.mark.requires_data
def test_sargolini_trajectories_and_cell(data_root):
    trajs = sargolini2006.load_trajectories(data_root, indices=[0, 60])
    for tr in trajs:
        assert tr.dims == ("time", "space") and list(tr.space.values) == ["x", "y"]
        assert 29_000 < tr.sizes["time"] < 31_000
        assert tr.values.min() >= -0.5 and tr.values.max() <= 0.5
        np.testing.assert_allclose(np.diff(tr.time.values), 0.02)
        # a rat moves at most ~1-2 m/s: step per 20 ms well under 0.1 m
        assert np.abs(np.diff(tr.values, axis=0)).max() < 0.1
    cell = sargolini2006.load_gridcell(data_root)
    assert cell.sizes["spike"] == 1223
    assert np.abs(cell.x.values).max() <= 50 and np.abs(cell.y.values).max() <= 50
    with pytest.raises(ValueError, match=r"index must be in \[0, 60\]"):
        sargolini2006.load_trajectory(61, data_root)


@pytest.mark.requires_data
def test_ratinabox_trajectories(data_root):
    s = ratinabox_trajectories.load("sargolini", data_root)
    assert s.shape == (29800, 2) and s.dims == ("time", "space")
    dt = np.diff(s.time.values)
    # 20 ms sampling with a few tracking gaps (60 of 29,799 steps are 40-360 ms), never backwards
    assert np.median(dt) == pytest.approx(0.02) and (dt > 0).all()
    assert int((dt > 0.021).sum()) == 60
    assert s.values.min() >= 0 and s.values.max() <= 1.0
    t = ratinabox_trajectories.load("tanni", data_root)
    assert t.sizes["time"] == 219670 and 7000 < float(t.time[-1] - t.time[0]) < 7400
    with pytest.raises(ValueError, match="Available: sargolini, tanni"):
        ratinabox_trajectories.load("hafting", data_root)


# ----------------------------------------------------------------------------- RatGPS
@pytest.mark.requires_data
def test_ratgps_windows(data_root):
    r = ratgps.load("R2192", 400, data_root)
    check_responses(r)
    assert r.shape == (5409, 63)
    assert set(r.coords) >= {"x", "y", "window", "stimulus_id", "unit_id"}
    assert (r.values >= 0).all() and (r.values == np.round(r.values)).all()
    # longer windows hold more spikes: mean count scales roughly with window length
    r1400 = ratgps.load("R2192", 1400, data_root)
    ratio = float(r1400.mean()) / float(r.mean())
    assert 2.5 < ratio < 4.5
    with pytest.raises(ValueError, match=r"No 200 ms windows for rat R2198. Available window_ms: \[400, 1400\]"):
        ratgps.load("R2198", 200, data_root)
    binned = ratgps.load_binned(data_root)
    assert binned.dims == ("time", "unit") and binned.shape == (54100, 63)


def test_ratgps_mismatched_rows(tmp_path, monkeypatch):
    _tiny(tmp_path, monkeypatch, ratgps, {
        ratgps._rel("R2192", 400, "feat"): b"0 1\n2 3\n4 5\n",
        ratgps._rel("R2192", 400, "pos"): b"1.0 2.0\n",
    })
    with pytest.raises(ValueError, match="3 windows of counts but positions of shape"):
        ratgps.load("R2192", 400, tmp_path)


# ----------------------------------------------------------------------------- MNIST / IDX
def _idx(arr: np.ndarray, code: int = 0x08) -> bytes:
    return struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(">u1").tobytes()


@pytest.mark.requires_data
def test_mnist(data_root):
    x, y = mnist.load("test", data_root)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and y.shape == (10000,)
    # the well-known MNIST test-set class counts
    np.testing.assert_array_equal(np.bincount(y), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    assert list(y[:5]) == [7, 2, 1, 0, 4]
    xt, yt = mnist.load("train", data_root)
    assert xt.shape == (60000, 28, 28) and list(yt[:5]) == [5, 0, 4, 1, 9]
    with pytest.raises(ValueError, match=r"must be one of \{'train', 'test'\}. Got 'val' instead"):
        mnist.load("val", data_root)


def test_idx_roundtrip_and_truncation(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    p = tmp_path / "a.idx"
    p.write_bytes(_idx(arr))
    np.testing.assert_array_equal(read_idx(p), arr)
    p.write_bytes(_idx(arr)[:-5])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(p)
    p.write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="bad magic number"):
        read_idx(p)
    i32 = np.array([1, -2, 70000], dtype=">i4")
    p.write_bytes(struct.pack(">BBBB", 0, 0, 0x0C, 1) + struct.pack(">I", 3) + i32.tobytes())
    np.testing.assert_array_equal(read_idx(p), [1, -2, 70000])


@pytest.mark.requires_data
def test_load_stimuli_convention(data_root):
    """Every module with stimuli offers load_stimuli(root=...) in the shared convention."""
    from data_loaders import cowley2023_v4, kriegeskorte2008

    for stim in (
        kriegeskorte2008.load_stimuli(root=data_root),
        cowley2023_v4.load_stimuli(root=data_root, session="210305"),
        mnist.load_stimuli(root=data_root, limit=50),
    ):
        assert stim.dims == ("stimulus", "height", "width", "channel") and stim.dtype == np.uint8
        assert stim.stimulus_id.to_index().is_unique
    m = mnist.load_stimuli(root=data_root, limit=5)
    assert list(m.label.values) == [7, 2, 1, 0, 4] and m.shape == (5, 28, 28, 1)


@pytest.mark.requires_data
def test_loaders_hand_out_writable_arrays(data_root):
    """Parsed files are cached read-only; what a user gets must be writable (torch.from_numpy warns
    on read-only arrays) and editing it must not change what the next call returns."""
    import torch
    import warnings

    from data_loaders import cowley2023_v4, henaff2021_v1, kriegeskorte2008

    def arrays(obj):
        if isinstance(obj, (tuple, list)):
            for o in obj:
                yield from arrays(o)
        elif hasattr(obj, "data_vars"):
            for v in obj.data_vars.values():
                yield v.values
        elif hasattr(obj, "values") and hasattr(obj, "dims"):
            yield obj.values
        elif isinstance(obj, np.ndarray):
            yield obj

    calls = [
        lambda: kriegeskorte2008.load_stimuli(data_root),
        lambda: kriegeskorte2008.load_human_it(data_root),
        lambda: cowley2023_v4.load("210305", data_root),
        lambda: cowley2023_v4.load_raw("210325", data_root, images=False),
        lambda: henaff2021_v1.load(data_root, sessions=["ay4_u001"]),
        lambda: norman_haignere2015.load_sounds(data_root, limit=2),
        lambda: gerlei_mec.load(data_root),
        lambda: gerlei_mec.load_spikes(0, data_root),
        lambda: sargolini2006.load_trajectory(3, data_root),
        lambda: sargolini2006.load_gridcell(data_root),
        lambda: ratinabox_trajectories.load("sargolini", data_root),
        lambda: ratgps.load("R2217", 400, data_root),
        lambda: mnist.load("test", data_root),
    ]
    for call in calls:
        first = list(arrays(call()))
        assert first
        for a in first:
            assert a.flags.writeable, call
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                torch.from_numpy(a)
            a[...] = 0
        again = list(arrays(call()))
        assert any(np.nan_to_num(b).any() for b in again), call  # the cache was not overwritten
