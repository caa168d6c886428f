"""Tests for neurocompare.cache: keys, atomic writes, corruption detection, cached extraction."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import xarray as xr

from neurocompare.cache import ActivationCache, cached_extract, responses_checksum, stimulus_hash, weights_hash
from neurocompare.data import make_responses, save
from neurocompare.models import build_model

KEY_ARGS = dict(model="a" * 64, stimuli="b" * 64, layer="block1", preprocessing={"size": None}, reduce="avgpool")


def _resp(seed=0, n=6, units=4):
    rng = np.random.default_rng(seed)
    return make_responses(rng.normal(size=(n, units)).astype(np.float32), stimulus_ids=[f"s{i}" for i in range(n)], layer_name="x")


def test_round_trip_is_exact_and_counted(tmp_path):
    cache = ActivationCache(tmp_path, verbose=False)
    key = cache.key(**KEY_ARGS)
    assert cache.get(key) is None
    resp = _resp()
    path = cache.put(key, resp)
    assert path.exists() and path.parent.name == key[:2]
    back = cache.get(key)
    np.testing.assert_array_equal(back.values, resp.values)
    assert back.dtype == resp.dtype
    assert list(back.stimulus_id.values) == list(resp.stimulus_id.values)
    assert "neurocompare_cache" not in back.attrs and back.attrs["layer_name"] == "x"
    assert cache.stats == {"hits": 1, "misses": 1, "corrupt": 0, "writes": 1, "failed_writes": 0}
    assert not list(tmp_path.rglob("*.tmp"))  # atomic write left no temporary file


def test_every_key_field_changes_the_key(tmp_path):
    cache = ActivationCache(tmp_path, verbose=False)
    base = cache.key(**KEY_ARGS)
    assert base == cache.key(**KEY_ARGS)
    for field, other in (("model", "c" * 64), ("stimuli", "d" * 64), ("layer", "block2"), ("preprocessing", {"size": 224}), ("reduce", "flatten")):
        assert cache.key(**{**KEY_ARGS, field: other}) != base, field
    with pytest.raises(TypeError, match="'layer' must be a non-empty string"):
        cache.key(**{**KEY_ARGS, "layer": ""})


@pytest.mark.parametrize("damage", ["flip_bytes", "truncate", "empty"])
def test_corrupted_file_is_detected_deleted_and_recomputed(tmp_path, damage, caplog):
    cache = ActivationCache(tmp_path, verbose=False)
    key = cache.key(**KEY_ARGS)
    path = cache.put(key, _resp(n=200, units=50))
    raw = bytearray(path.read_bytes())
    if damage == "flip_bytes":  # flip bytes in the middle of the file (inside the data block)
        for i in range(len(raw) // 2, len(raw) // 2 + 64):
            raw[i] ^= 0xFF
    elif damage == "truncate":
        raw = raw[: len(raw) // 3]
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="neurocompare.cache"):
        assert cache.get(key) is None
    assert cache.stats["corrupt"] == 1
    assert "corrupt entry" in caplog.text
    assert not path.exists()  # never trusted again


@pytest.mark.filterwarnings("ignore:You are writing invalid netcdf features")
def test_valid_file_with_wrong_values_fails_the_checksum(tmp_path):
    cache = ActivationCache(tmp_path, verbose=False)
    key = cache.key(**KEY_ARGS)
    resp = _resp()
    path = cache.put(key, resp)
    stored = xr.open_dataarray(path, engine="h5netcdf").load()
    tampered = stored.copy(data=stored.values + 1.0)  # same attrs (old checksum), new values
    tampered.attrs = dict(stored.attrs)
    path.unlink()
    tampered.to_netcdf(path, engine="h5netcdf", invalid_netcdf=True)
    assert cache.get(key) is None
    assert cache.stats["corrupt"] == 1


def test_entry_under_another_key_is_refused(tmp_path):
    cache = ActivationCache(tmp_path, verbose=False)
    key1 = cache.key(**KEY_ARGS)
    key2 = cache.key(**{**KEY_ARGS, "layer": "block2"})
    p1 = cache.put(key1, _resp())
    target = cache.path(key2)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(p1.read_bytes())  # a file copied to the wrong place
    assert cache.get(key2) is None and cache.stats["corrupt"] == 1


def test_hits_are_reported(tmp_path, capsys):
    cache = ActivationCache(tmp_path, verbose=True)
    key = cache.key(**KEY_ARGS)
    cache.put(key, _resp())
    cache.get(key)
    out = capsys.readouterr().out
    assert "[neurocompare.cache] hit layer=block1" in out
    assert "1 hit(s)" in cache.summary()
    assert cache.clear() == 1 and cache.get(key) is None


def test_weights_and_stimulus_hashes():
    m0, m0b, m1 = build_model("convnet_small", seed=0), build_model("convnet_small", seed=0), build_model("convnet_small", seed=1)
    assert weights_hash(m0) == weights_hash(m0b) != weights_hash(m1)
    with torch.no_grad():
        m0b.fc.bias[0] += 1e-6
    assert weights_hash(m0b) != weights_hash(m0)
    imgs = np.zeros((4, 8, 8, 3), dtype=np.uint8)
    a = xr.DataArray(imgs, dims=("stimulus", "height", "width", "channel"), coords={"stimulus_id": ("stimulus", list("abcd"))})
    b = a.assign_coords(stimulus_id=("stimulus", list("abce")))
    c = a.copy(data=imgs + 1)
    assert len({stimulus_hash(a), stimulus_hash(b), stimulus_hash(c)}) == 3
    assert stimulus_hash(torch.zeros(3, 2)) == stimulus_hash(np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        weights_hash("convnet_small")
    r = _resp()
    assert responses_checksum(r) != responses_checksum(r.copy(data=r.values * 2))


def test_cached_extract_runs_only_missing_layers(tmp_path):
    from neurocompare.activations import extract

    calls = []

    def counting_extract(model, stimuli, layers, **kw):
        calls.append(list(layers))
        return extract(model, stimuli, layers, **kw)

    model = build_model("convnet_small", seed=0)
    stim = torch.rand(5, 3, 16, 16)
    cache = ActivationCache(tmp_path, verbose=False)
    kw = dict(cache=cache, reduce="avgpool", extract_fn=counting_extract, progress=False)
    first = cached_extract(model, stim, ["block1"], **kw)
    both = cached_extract(model, stim, ["block1", "block2"], **kw)
    again = cached_extract(model, stim, ["block2", "block1"], **kw)
    assert calls == [["block1"], ["block2"]]
    np.testing.assert_array_equal(first["block1"].values, both["block1"].values)
    np.testing.assert_array_equal(again["block2"].values, both["block2"].values)
    assert list(again) == ["block2", "block1"]
    assert cache.stats["hits"] == 3 and cache.stats["writes"] == 2
    # other weights: a miss, not a stale hit
    cached_extract(build_model("convnet_small", seed=1), stim, ["block1"], **kw)
    assert calls[-1] == ["block1"]
    # no cache: extract directly
    out = cached_extract(model, stim, ["block1"], cache=None, reduce="avgpool", extract_fn=counting_extract, progress=False)
    np.testing.assert_array_equal(out["block1"].values, first["block1"].values)


def test_callable_reduce_is_keyed_by_name_not_address(tmp_path):
    from neurocompare.benchmarks import pool4

    model = build_model("convnet_small", seed=0)
    stim = torch.rand(4, 3, 16, 16)
    cache = ActivationCache(tmp_path, verbose=False)
    cached_extract(model, stim, ["block1"], cache=cache, reduce=pool4, progress=False)
    fresh = ActivationCache(tmp_path, verbose=False)  # a new process would build its keys the same way
    out = cached_extract(model, stim, ["block1"], cache=fresh, reduce=pool4, progress=False)
    assert fresh.stats["hits"] == 1 and out["block1"].shape == (4, 32 * 16)
    files = list(tmp_path.rglob("*.nc"))
    assert len(files) == 1
    from neurocompare.data import load

    fields = load(files[0]).attrs["neurocompare_cache"]["fields"]
    # the import path and a hash of the code; no memory address in the key (pool4 lives in benchmarks/spec.py now)
    name, digest = fields["reduce"].split("@")
    assert name == "neurocompare.benchmarks.spec.pool4" and len(digest) == 16 and "0x" not in fields["reduce"]


def test_put_refuses_non_dataarrays(tmp_path):
    cache = ActivationCache(tmp_path, verbose=False)
    with pytest.raises(TypeError, match="takes Responses"):
        cache.put(cache.key(**KEY_ARGS), np.zeros((3, 3)))


def test_save_of_partial_file_is_not_visible(tmp_path):
    # data.save writes to a temporary name and renames: a reader never sees a partial entry
    cache = ActivationCache(tmp_path, verbose=False)
    key = cache.key(**KEY_ARGS)
    save(_resp(), cache.path(key).with_name("other.nc"))
    assert cache.get(key) is None and cache.stats["corrupt"] == 0
