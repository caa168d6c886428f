"""Tests for the generic readers (data_loaders.readers) on small files the tests write themselves."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from data_loaders import readers
from neurocompare.data import make_responses


# ----------------------------------------------------------------------------- MATLAB v5
def test_read_mat_v5_struct_cell_string(tmp_path):
    from scipy.io import savemat

    p = tmp_path / "a.mat"
    savemat(p, {
        "x": np.arange(6.0).reshape(2, 3),
        "name": "hello",
        "s": {"a": np.array([1.0, 2.0]), "b": "txt"},
        "c": np.array([np.arange(3.0), "str"], dtype=object),
    })
    out = readers.read_mat(p)
    np.testing.assert_array_equal(out["x"], np.arange(6.0).reshape(2, 3))
    assert out["name"] == "hello"
    assert isinstance(out["s"], dict) and out["s"]["b"] == "txt"
    np.testing.assert_array_equal(out["s"]["a"], [1.0, 2.0])
    assert out["c"][1] == "str"
    assert set(readers.read_mat(p, ["x"])) == {"x"}
    with pytest.raises(KeyError, match="no variable"):
        readers.read_mat(p, ["nope"])


def test_read_mat_truncated_and_wrong_format(tmp_path):
    from scipy.io import savemat

    p = tmp_path / "a.mat"
    savemat(p, {"x": np.arange(1000.0)})
    p.write_bytes(p.read_bytes()[:300])
    with pytest.raises(ValueError, match="a.mat"):
        readers.read_mat(p)
    q = tmp_path / "b.mat"
    q.write_text("not a mat file at all" * 10)
    with pytest.raises(ValueError, match="b.mat"):
        readers.read_mat(q)
    with pytest.raises(FileNotFoundError):
        readers.read_mat(tmp_path / "missing.mat")


# ----------------------------------------------------------------------------- MATLAB v7.3
def _write_mat73(path):
    """A v7.3-style file written by hand: 512-byte header, MATLAB_class attributes, reversed dims."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        x = np.arange(6.0).reshape(2, 3)  # MATLAB value, shape (2, 3)
        d = f.create_dataset("x", data=x.T)  # HDF5 holds it reversed
        d.attrs["MATLAB_class"] = np.bytes_("double")
        s = f.create_dataset("name", data=np.array([[ord(c)] for c in "abc"], dtype=np.uint16))
        s.attrs["MATLAB_class"] = np.bytes_("char")
        g = f.create_group("st")
        g.attrs["MATLAB_class"] = np.bytes_("struct")
        v = g.create_dataset("v", data=np.array([[5.0]]))
        v.attrs["MATLAB_class"] = np.bytes_("double")
        refs = f.create_group("#refs#")
        e0 = refs.create_dataset("a", data=np.array([[1.0, 2.0]]).T)
        e0.attrs["MATLAB_class"] = np.bytes_("double")
        e1 = refs.create_dataset("b", data=np.array([[ord(c)] for c in "hi"], dtype=np.uint16))
        e1.attrs["MATLAB_class"] = np.bytes_("char")
        ref_dt = h5py.special_dtype(ref=h5py.Reference)
        c = f.create_dataset("c", shape=(2, 1), dtype=ref_dt)
        c[0, 0] = e0.ref
        c[1, 0] = e1.ref
        c.attrs["MATLAB_class"] = np.bytes_("cell")
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, written by a test".ljust(116, b" "))


def test_read_mat_v73_matches_matlab_order(tmp_path):
    p = tmp_path / "v73.mat"
    _write_mat73(p)
    out = readers.read_mat(p)
    np.testing.assert_array_equal(out["x"], np.arange(6.0).reshape(2, 3))
    assert out["name"] == "abc"
    assert out["st"] == {"v": 5.0}
    assert list(out["c"][0]) == [1.0, 2.0] and out["c"][1] == "hi"


@pytest.mark.requires_data
def test_read_mat_v73_real_file(data_root):
    from data_loaders import henaff2021_v1

    out = readers.read_mat(data_root / henaff2021_v1.FOLDER / "ay4_u001_image_sequences.mat")
    ns = out["naturalStruct"]
    # MATLAB order: zoom, category, movie, frame, unit, repetition
    assert ns["sortedResponses"].shape == (2, 3, 10, 11, 13, 50)
    assert list(ns["stimulusStruct"]["categories"]) == ["natural", "synthetic", "contrast"]


def test_read_mat_v73_truncated(tmp_path):
    p = tmp_path / "v73.mat"
    _write_mat73(p)
    p.write_bytes(p.read_bytes()[:700])
    with pytest.raises(ValueError, match="v73.mat"):
        readers.read_mat(p)


# ----------------------------------------------------------------------------- npy
def test_read_npy_refuses_objects(tmp_path):
    p = tmp_path / "o.npy"
    np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="refuses to unpickle"):
        readers.read_npy(p)
    q = tmp_path / "t.npy"
    np.save(q, np.arange(100.0))
    q.write_bytes(q.read_bytes()[:150])
    with pytest.raises(ValueError, match="t.npy"):
        readers.read_npy(q)


# ----------------------------------------------------------------------------- HDF5 / NPZ schema
def _resp():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(5, 3, 4))
    v[1, :, 3] = np.nan  # unequal repeats
    return make_responses(
        v,
        dims=("stimulus", "unit", "repetition"),
        stimulus_ids=[f"s{i}" for i in range(5)],
        unit_ids=["a", "b", "c"],
        coords={"region": ("unit", np.array(["V1", "V1", "V4"])), "x": ("stimulus", np.arange(5.0))},
        allow_nan=True,
        source="test",
        units="spikes/s",
    )


@pytest.mark.parametrize("fmt", ["hdf5", "npz"])
def test_plain_schema_roundtrip(tmp_path, fmt):
    resp = _resp()
    path = tmp_path / f"r.{fmt}"
    getattr(readers, f"write_responses_{fmt}")(resp, path)
    back = getattr(readers, f"read_responses_{fmt}")(path)
    xr.testing.assert_identical(back.drop_attrs(), resp.drop_attrs())
    assert back.attrs["units"] == "spikes/s"
    assert np.isnan(back.values[1, :, 3]).all()  # NaN padding kept


def test_hdf5_wrong_layout_and_truncated(tmp_path):
    import h5py

    p = tmp_path / "bad.h5"
    with h5py.File(p, "w") as f:
        f["data"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match="has no 'values' dataset; it holds \\['data'\\]"):
        readers.read_responses_hdf5(p)
    with h5py.File(p, "w") as f:
        f["values"] = np.zeros(7)
    with pytest.raises(ValueError, match="'values' must have 2 to 4 dims"):
        readers.read_responses_hdf5(p)
    with h5py.File(p, "w") as f:
        f["values"] = np.zeros((4, 2))
        f["stimulus_id"] = np.array([b"a", b"a", b"b", b"c"])
    with pytest.raises(ValueError, match="must be unique"):
        readers.read_responses_hdf5(p)
    good = tmp_path / "good.h5"
    readers.write_responses_hdf5(_resp(), good)
    good.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(ValueError, match="good.h5"):
        readers.read_responses_hdf5(good)


def test_npz_wrong_layout_and_pickle(tmp_path):
    p = tmp_path / "bad.npz"
    np.savez(p, data=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="has no 'values' array"):
        readers.read_responses_npz(p)
    np.savez(p, values=np.zeros((3, 2)), stimulus_id=np.array([{"x": 1}] * 3, dtype=object))
    with pytest.raises(ValueError, match="unpickle"):
        readers.read_responses_npz(p)


# ----------------------------------------------------------------------------- NetCDF assemblies
def _assembly(time_bins: bool):
    """A Brain-Score-like assembly: 3 stimuli shown 2, 2 and 1 times; 4 neuroids."""
    sids = np.array(["im_a", "im_b", "im_a", "im_c", "im_b"])
    rng = np.random.default_rng(1)
    shape = (5, 4, 2) if time_bins else (5, 4)
    dims = ("presentation", "neuroid", "time_bin") if time_bins else ("presentation", "neuroid")
    coords = {
        "stimulus_id": ("presentation", sids),
        "repetition": ("presentation", np.array([0, 0, 1, 0, 1])),
        "object_name": ("presentation", np.array(["car", "dog", "car", "cat", "dog"])),
        "neuroid_id": ("neuroid", np.array(["n1", "n2", "n3", "n4"])),
        "region": ("neuroid", np.array(["IT", "IT", "V4", "V4"])),
    }
    if time_bins:
        coords["time_bin_start"] = ("time_bin", np.array([70.0, 120.0]))
        coords["time_bin_end"] = ("time_bin", np.array([120.0, 170.0]))
    return xr.DataArray(rng.normal(size=shape), dims=dims, coords=coords, name="assembly")


def test_netcdf_assembly_repetitions(tmp_path):
    da = _assembly(time_bins=False)
    p = tmp_path / "a.nc"
    da.to_netcdf(p, engine="h5netcdf")
    resp = readers.read_netcdf_assembly(p)
    assert resp.dims == ("stimulus", "unit", "repetition") and resp.shape == (3, 4, 2)
    assert list(resp.stimulus_id.values) == ["im_a", "im_b", "im_c"]
    assert list(resp.object_name.values) == ["car", "dog", "cat"]
    assert list(resp.region.values) == ["IT", "IT", "V4", "V4"]
    np.testing.assert_array_equal(resp.values[0, :, 1], da.values[2])  # second showing of im_a
    assert np.isnan(resp.values[2, :, 1]).all()  # im_c shown once: padded, not filled


def test_netcdf3_classic_assembly(tmp_path):
    da = _assembly(time_bins=False)
    p = tmp_path / "classic.nc"
    da.to_netcdf(p, engine="scipy")  # NetCDF-3, as older xarray/netCDF4 setups write
    resp = readers.read_netcdf_assembly(p)
    assert resp.shape == (3, 4, 2)
    np.testing.assert_array_equal(resp.values[1, :, 1], da.values[4])  # second showing of im_b


def test_netcdf_assembly_time_bins(tmp_path):
    da = _assembly(time_bins=True)
    p = tmp_path / "t.nc"
    da.to_netcdf(p, engine="h5netcdf")
    resp = readers.read_netcdf_assembly(p)
    assert resp.dims == ("stimulus", "unit", "repetition", "time")
    np.testing.assert_array_equal(resp.time.values, [70.0, 120.0])
    avg = readers.read_netcdf_assembly(p, average_time=True)
    np.testing.assert_allclose(avg.values[1, :, 0], da.values[1].mean(axis=1))


def test_netcdf_older_image_id_assembly(tmp_path):
    da = _assembly(time_bins=False).rename(stimulus_id="image_id")
    p = tmp_path / "old.nc"
    da.to_netcdf(p, engine="h5netcdf")
    resp = readers.read_netcdf_assembly(p)
    assert list(resp.stimulus_id.values) == ["im_a", "im_b", "im_c"] and "image_id" not in resp.coords
    da.drop_vars("image_id").to_netcdf(tmp_path / "noid.nc", engine="h5netcdf")
    with pytest.raises(ValueError, match="needs a 'stimulus_id'"):
        readers.read_netcdf_assembly(tmp_path / "noid.nc")


def test_netcdf_wrong_layout(tmp_path):
    p = tmp_path / "w.nc"
    xr.DataArray(np.zeros((3, 2)), dims=("image", "cell"), name="v").to_netcdf(p, engine="h5netcdf")
    with pytest.raises(ValueError, match="must have dims \\('presentation', 'neuroid'"):
        readers.read_netcdf_assembly(p)
    q = tmp_path / "junk.nc"
    q.write_bytes(b"garbage" * 20)
    with pytest.raises(ValueError, match="junk.nc"):
        readers.read_netcdf_assembly(q)


# ----------------------------------------------------------------------------- NWB
def _write_nwb(path):
    """A real NWB file (pynwb): 2 units, 3 stimuli shown 2, 2 and 1 times, 1 s apart."""
    from datetime import datetime, timezone

    from pynwb import NWBHDF5IO, NWBFile

    nwb = NWBFile(session_description="test", identifier="test-1", session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    nwb.add_trial_column(name="stimulus_id", description="image shown")
    starts = [0.0, 1.0, 2.0, 3.0, 4.0]
    stims = ["cat", "dog", "cat", "car", "dog"]
    for t0, s in zip(starts, stims):
        nwb.add_trial(start_time=t0, stop_time=t0 + 0.5, stimulus_id=s)
    nwb.add_unit_column(name="location", description="brain area")
    # unit 0: k spikes inside [t0+0.05, t0+0.25) on trial k, plus spikes outside the window
    spikes0 = []
    for k, t0 in enumerate(starts):
        spikes0 += [t0 + 0.06 + 0.01 * j for j in range(k)] + [t0 + 0.01, t0 + 0.4]
    nwb.add_unit(spike_times=sorted(spikes0), location="V1")
    nwb.add_unit(spike_times=[0.1, 2.1, 2.2], location="V4")
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def test_read_nwb_units_real_pynwb_file(tmp_path):
    pytest.importorskip("pynwb")
    p = tmp_path / "s.nwb"
    _write_nwb(p)
    resp = readers.read_nwb_units(p, window=(0.05, 0.25), rate=False)
    assert resp.dims == ("stimulus", "unit", "repetition") and resp.shape == (3, 2, 2)
    assert list(resp.stimulus_id.values) == ["cat", "dog", "car"]
    assert list(resp.location.values) == ["V1", "V4"]
    # unit 0 fires k spikes on trial k: cat = trials 0, 2; dog = 1, 4; car = 3
    np.testing.assert_array_equal(resp.values[:, 0, :], [[0, 2], [1, 4], [3, np.nan]])
    np.testing.assert_array_equal(resp.values[:, 1, :], [[1, 2], [0, 0], [0, np.nan]])
    rate = readers.read_nwb_units(p, window=(0.05, 0.25))
    np.testing.assert_allclose(rate.values[0, 0], [0, 10.0])  # 2 spikes / 0.2 s
    assert rate.attrs["units"] == "spikes/s"


def test_read_nwb_bad_inputs(tmp_path):
    import h5py

    p = tmp_path / "nounits.nwb"
    with h5py.File(p, "w") as f:
        f.create_group("acquisition")
    with pytest.raises(ValueError, match="no '/units' table"):
        readers.read_nwb_units(p)
    q = tmp_path / "junk.nwb"
    q.write_bytes(b"x" * 100)
    with pytest.raises(ValueError, match="junk.nwb"):
        readers.read_nwb_units(q)
    with pytest.raises(ValueError, match="end > start"):
        readers.read_nwb_units(p, window=(0.3, 0.1))


# ----------------------------------------------------------------------------- properties
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.lists(st.integers(0, 4), min_size=4, max_size=14), n_units=st.integers(1, 3), seed=st.integers(0, 99))
def test_netcdf_assembly_repetition_mean_equals_group_mean(tmp_path, order, n_units, seed):
    """Regrouping presentations into repetitions loses nothing: the NaN-mean over repetitions equals
    the mean over each stimulus' presentations, and the valid-repeat counts equal the show counts."""
    if len(set(order)) < 3:
        order = order + [90, 91, 92]
    sids = np.array([f"im{k}" for k in order])
    values = np.random.default_rng(seed).normal(size=(len(sids), n_units))
    da = xr.DataArray(values, dims=("presentation", "neuroid"), coords={"stimulus_id": ("presentation", sids)}, name="a")
    p = tmp_path / f"prop_{seed}_{len(sids)}_{n_units}.nc"
    da.to_netcdf(p, engine="h5netcdf")
    resp = readers.read_netcdf_assembly(p)
    for i, s in enumerate(resp.stimulus_id.values):
        rows = values[sids == s]
        if resp.ndim == 3:
            np.testing.assert_allclose(np.nanmean(resp.values[i], axis=-1), rows.mean(axis=0))
            assert int((~np.isnan(resp.values[i, 0])).sum()) == rows.shape[0]
        else:
            np.testing.assert_allclose(resp.values[i], rows[0])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.tuples(st.integers(3, 6), st.integers(1, 4), st.integers(1, 3)),
    nan_frac=st.floats(0, 0.5),
    fmt=st.sampled_from(["hdf5", "npz"]),
    seed=st.integers(0, 99),
)
def test_plain_schema_roundtrip_property(tmp_path, shape, nan_frac, fmt, seed):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=shape)
    v[rng.random(shape) < nan_frac] = np.nan
    resp = make_responses(v, dims=("stimulus", "unit", "repetition"), allow_nan=True, units="a.u.")
    path = tmp_path / f"r_{seed}_{fmt}_{'x'.join(map(str, shape))}.{fmt}"
    getattr(readers, f"write_responses_{fmt}")(resp, path)
    back = getattr(readers, f"read_responses_{fmt}")(path)
    np.testing.assert_array_equal(back.values, resp.values)  # NaN in the same places
    np.testing.assert_array_equal(back.stimulus_id.values, resp.stimulus_id.values)
    assert back.dims == resp.dims
