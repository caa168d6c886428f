"""Tests for the Responses data type (neurocompare.data)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurocompare.data import (
    align,
    average_repetitions,
    check_rdm,
    check_responses,
    load,
    make_rdm,
    make_responses,
    save,
    split_repetitions,
)


def _resp(n=6, u=4, seed=0, **kw):
    rng = np.random.default_rng(seed)
    return make_responses(rng.normal(size=(n, u)), **kw)


# ----------------------------------------------------------------------------- construction
def test_make_responses_defaults_and_coords():
    r = make_responses(
        np.arange(12.0).reshape(4, 3),
        stimulus_ids=["a", "b", "c", "d"],
        coords={"region": ("unit", ["V4", "V4", "IT"]), "x": ("stimulus", [0.0, 1, 2, 3])},
        source="demo",
    )
    assert isinstance(r, xr.DataArray) and type(r) is xr.DataArray  # plain, never a subclass
    assert r.dims == ("stimulus", "unit")
    assert list(r.stimulus_id.values) == ["a", "b", "c", "d"]
    assert list(r.unit_id.values) == ["unit_0000", "unit_0001", "unit_0002"]
    assert list(r.region.values) == ["V4", "V4", "IT"]
    assert r.attrs["source"] == "demo"
    np.testing.assert_array_equal(r.values, np.arange(12.0).reshape(4, 3))


def test_check_responses_puts_dims_in_canonical_order():
    values = np.random.default_rng(0).normal(size=(3, 5, 4))  # repetition, stimulus, unit
    r = make_responses(values, dims=("repetition", "stimulus", "unit"))
    assert r.dims == ("stimulus", "unit", "repetition")
    np.testing.assert_array_equal(r.values, values.transpose(1, 2, 0))


def test_torch_tensor_input():
    torch = pytest.importorskip("torch")
    r = make_responses(torch.ones(4, 2))
    assert r.shape == (4, 2) and float(r.sum()) == 8.0


@pytest.mark.parametrize(
    "values, kwargs, error, match",
    [
        (np.array([1.0, np.nan, 2, 3]).reshape(4, 1), {}, ValueError, "NaN"),
        (np.array([1.0, np.inf, 2, 3]).reshape(4, 1), {"allow_nan": True}, ValueError, "infinite"),
        (np.arange(5.0), {}, ValueError, "values\\[:, None\\]"),
        (np.ones((2, 3)), {}, ValueError, "at least 3 stimuli"),
        (np.array([["a", "b"]] * 4, dtype=object), {}, TypeError, "numeric"),
        (np.ones((4, 2)), {"stimulus_ids": ["a", "a", "b", "c"]}, ValueError, "unique.*'a'"),
        (np.ones((4, 2)), {"unit_ids": ["u", "u"]}, ValueError, "unit_id' must be unique"),
        (np.ones((4, 2)), {"stimulus_ids": ["a", "b"]}, ValueError, "one id per stim"),
        (np.ones((4, 2)), {"dims": ("stimulus", "neuron")}, ValueError, "missing \\['unit'\\]"),
    ],
)
def test_bad_input_is_refused_with_a_message(values, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_responses(values, **kwargs)


def test_check_responses_rejects_non_dataarray_and_missing_coords():
    with pytest.raises(TypeError, match="xarray.DataArray"):
        check_responses(np.ones((4, 2)))
    bare = xr.DataArray(np.ones((4, 2)), dims=("stimulus", "unit"))
    with pytest.raises(ValueError, match="stimulus_id"):
        check_responses(bare)
    with pytest.raises(TypeError, match="plain array"):
        make_responses(bare)


def test_nan_allowed_when_asked():
    values = np.ones((4, 2, 3))
    values[0, 0, 2] = np.nan
    r = make_responses(values, dims=("stimulus", "unit", "repetition"), allow_nan=True)
    assert int(r.isnull().sum()) == 1


# ----------------------------------------------------------------------------- align
def test_align_reorders_to_first_order():
    a = _resp(5, 2, stimulus_ids=list("abcde"))
    b = a.isel(stimulus=[4, 2, 0, 1, 3])
    a2, b2 = align(a, b)
    assert list(b2.stimulus_id.values) == list("abcde")
    np.testing.assert_array_equal(a2.values, b2.values)


def test_align_refuses_missing_duplicate_and_disjoint_ids():
    a = _resp(5, 2, stimulus_ids=list("abcde"))
    b = _resp(5, 2, stimulus_ids=list("abcdf"))
    with pytest.raises(ValueError, match="only in the first.*'e'.*only in the second.*'f'"):
        align(a, b)
    a3, b3 = align(a, b, join="inner")
    assert list(a3.stimulus_id.values) == list("abcd") == list(b3.stimulus_id.values)
    c = _resp(5, 2, stimulus_ids=list("vwxyz"))
    with pytest.raises(ValueError, match="share no stimulus_id"):
        align(a, c)
    dup = a.copy()
    dup["stimulus_id"] = ("stimulus", list("aacde"))
    with pytest.raises(ValueError, match="duplicated"):
        align(dup, a)
    with pytest.raises(ValueError, match="'join' parameter"):
        align(a, a, join="outer")
    with pytest.raises(TypeError, match="stimulus_id"):
        align(a, np.ones((5, 2)))


# ----------------------------------------------------------------------------- repetitions
def test_average_repetitions_skips_nan_padding():
    values = np.arange(24.0).reshape(4, 2, 3)
    values[1, :, 2] = np.nan  # stimulus 1 has only 2 repeats
    r = make_responses(values, dims=("stimulus", "unit", "repetition"), allow_nan=True)
    avg = average_repetitions(r)
    assert avg.dims == ("stimulus", "unit")
    np.testing.assert_allclose(avg.values[1], values[1, :, :2].mean(axis=1))
    np.testing.assert_allclose(avg.values[0], values[0].mean(axis=1))
    assert avg.attrs["n_repetitions"] == 3


def test_average_repetitions_errors():
    with pytest.raises(ValueError, match="'repetition' dim"):
        average_repetitions(_resp())
    values = np.ones((4, 2, 2))
    values[0, 0, :] = np.nan
    r = make_responses(values, dims=("stimulus", "unit", "repetition"), allow_nan=True)
    with pytest.raises(ValueError, match="no valid repetition"):
        average_repetitions(r)


def test_split_repetitions_is_seeded_and_partitions_valid_trials():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(6, 3, 5))
    values[2, :, 4] = np.nan
    r = make_responses(values, dims=("stimulus", "unit", "repetition"), allow_nan=True)
    h1, h2 = split_repetitions(r, seed=3)
    g1, g2 = split_repetitions(r, seed=3)
    np.testing.assert_array_equal(h1.values, g1.values)
    np.testing.assert_array_equal(h2.values, g2.values)
    k1, _ = split_repetitions(r, seed=4)
    assert not np.array_equal(h1.values, k1.values)
    # stimulus 2 has 4 valid repeats: halves of 2 + 2 average back to the full mean
    np.testing.assert_allclose((h1.values[2] + h2.values[2]) / 2, np.nanmean(values[2], axis=1))
    assert np.isfinite(h1.values).all() and h1.dims == ("stimulus", "unit")


def test_split_repetitions_needs_two_repeats():
    values = np.ones((4, 2, 2))
    values[1, :, 1] = np.nan
    r = make_responses(values, dims=("stimulus", "unit", "repetition"), allow_nan=True)
    with pytest.raises(ValueError, match="at least 2 repetitions"):
        split_repetitions(r)


# ----------------------------------------------------------------------------- save / load
def test_save_load_round_trip_is_exact(tmp_path):
    values = np.random.default_rng(2).normal(size=(5, 3, 2)).astype(np.float32)
    r = make_responses(
        values,
        dims=("stimulus", "unit", "repetition"),
        coords={"region": ("unit", ["V1", "V4", "IT"]), "x": ("stimulus", np.linspace(0, 1, 5))},
        source="test",
        n_trials=7,
        meta={"a": [1, 2]},
        flag=False,
        missing=None,
    )
    path = save(r, tmp_path / "sub" / "r.nc")
    back = load(path)
    xr.testing.assert_identical(r, back)
    assert back.dtype == np.float32 and back.attrs["meta"] == {"a": [1, 2]} and back.attrs["flag"] is False
    assert not list(tmp_path.glob("sub/.*tmp"))  # no temporary file left behind


def test_save_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file"):
        load(tmp_path / "nope.nc")
    with pytest.raises(TypeError, match="DataArray"):
        save(np.ones(3), tmp_path / "x.nc")
    r = _resp()
    r.attrs["bad"] = object()
    with pytest.raises(TypeError, match="cannot be saved"):
        save(r, tmp_path / "x.nc")


def test_lazy_load_reads_on_demand(tmp_path):
    r = _resp(8, 3)
    save(r, tmp_path / "r.nc")
    lazy = load(tmp_path / "r.nc", lazy=True)
    assert not isinstance(lazy.variable._data, np.ndarray)
    np.testing.assert_array_equal(lazy.values, r.values)


# ----------------------------------------------------------------------------- RDMs
def test_make_rdm_and_checks():
    d = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0.0]])
    rdm = make_rdm(d, stimulus_ids=list("abc"))
    assert rdm.dims == ("stimulus", "stimulus_2")
    stacked = make_rdm(np.stack([d, 2 * d]), stack_dim="subject", stack_ids=["s1", "s2"])
    assert stacked.dims == ("subject", "stimulus", "stimulus_2")
    four_d = xr.DataArray(
        np.stack([np.stack([d, d])] * 2),
        dims=("subject", "session", "stimulus", "stimulus_2"),
        coords=rdm.coords,
    )
    assert check_rdm(four_d) is four_d
    with pytest.raises(ValueError, match="not symmetric"):
        make_rdm(d + np.triu(np.ones(3), 1))
    with pytest.raises(ValueError, match="diagonal"):
        make_rdm(d + np.eye(3))
    with pytest.raises(ValueError, match="square"):
        make_rdm(np.ones((3, 4)))
    with pytest.raises(ValueError, match="finite"):
        make_rdm(np.where(d == 3, np.nan, d))
