"""In-process tests of the pieces behind issue 13: the atomic-write helper, checked NetCDF files,
code identity in cache keys, metamer checkpoints, score folders and the psychophysics page.

The end-to-end scenarios (subprocesses, kills, read-only folders) are in tests/test_faults.py.
"""

from __future__ import annotations

import functools
import json
import os
import contextlib
import resource
import threading
import time
import warnings

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

from neurocompare._atomic import WriteError, atomic_write_bytes, sweep_stale_tmp, tmp_name
from neurocompare._netcdf import CHECKSUM_ATTR, CorruptFileError, UnsafeFileError, data_checksum, load, save
from neurocompare.cache import ActivationCache, cached_extract, callable_identity, model_code_hash
from neurocompare.data import make_responses


@contextlib.contextmanager
def file_size_limit(n: int):
    """RLIMIT_FSIZE (``ulimit -f``) of ``n`` bytes inside the block only.

    Restored before the block ends, never in a fixture teardown: pytest writes its progress
    report between the test body and the teardown, and when its output goes to a file a lowered
    limit would make that write fail (EFBIG) and end the whole session.
    """
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (n, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)


# ----------------------------------------------------------------------------- _atomic
def test_tmp_names_are_unique_per_call_and_in_the_target_folder(tmp_path):
    names = {tmp_name(tmp_path / "a.nc") for _ in range(100)}
    assert len(names) == 100
    assert all(n.parent == tmp_path and n.name.startswith(".a.nc.") and n.name.endswith(".tmp") for n in names)


def test_failed_write_keeps_the_old_file_and_names_what_to_do(tmp_path):
    target = atomic_write_bytes(tmp_path / "x.bin", b"old")
    with file_size_limit(1000), pytest.raises(WriteError, match=r"x\.bin.*ulimit -f.*Nothing was replaced") as info:
        atomic_write_bytes(target, b"n" * 5000)
    assert info.value.errno == 27  # EFBIG
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]  # the temporary file is gone


def test_write_error_is_an_oserror_and_other_errors_pass_through(tmp_path):
    assert issubclass(WriteError, OSError)
    from neurocompare._atomic import atomic_write

    def boom(tmp):
        open(tmp, "wb").write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "y", boom)
    assert list(tmp_path.iterdir()) == []


def test_stale_tmp_sweep_rules(tmp_path):
    old, young_dead, live = (tmp_path / ".a.nc.1.2.abcd.tmp", tmp_path / f".b.nc.{2**22 + 7}.2.abcd.tmp",
                             tmp_path / f".c.nc.{os.getpid()}.2.abcd.tmp")
    for p in (old, young_dead, live):
        p.write_bytes(b"x")
    os.utime(old, (time.time() - 7200,) * 2)  # older than an hour: stale whoever wrote it
    assert sweep_stale_tmp(tmp_path) == 1  # the young file of a dead pid waits a minute (another machine?)
    os.utime(young_dead, (time.time() - 120,) * 2)
    os.utime(live, (time.time() - 120,) * 2)
    assert sweep_stale_tmp(tmp_path) == 1 and live.exists() and not young_dead.exists()
    (tmp_path / "keep.nc").write_bytes(b"x")
    assert sweep_stale_tmp(tmp_path, max_age_s=0) == 1 and (tmp_path / "keep.nc").exists()


# ----------------------------------------------------------------------------- _netcdf
def _resp(seed=0):
    rng = np.random.default_rng(seed)
    r = make_responses(rng.normal(size=(30, 7)).astype(np.float32), source="t")
    return r.assign_coords(x=("stimulus", rng.normal(size=30)), region=("unit", np.array(["IT"] * 7)))


def test_save_load_round_trip_is_exact_with_a_checksum(tmp_path):
    r = _resp()
    r.attrs["meta"] = {"a": [1, 2], "b": None}
    path = save(r, tmp_path / "r.nc")
    back = load(path)
    xr.testing.assert_identical(back, r)
    assert CHECKSUM_ATTR not in back.attrs
    raw = xr.open_dataarray(path, engine="h5netcdf")
    assert raw.attrs[CHECKSUM_ATTR] == data_checksum(r)
    raw.close()


def test_checksum_sees_values_coords_and_dims():
    r = _resp()
    base = data_checksum(r)
    assert data_checksum(r.copy(deep=True)) == base
    flipped = r.copy(deep=True)
    flipped.values[3, 2] = np.nextafter(flipped.values[3, 2], np.float32(np.inf))  # one ulp
    assert data_checksum(flipped) != base
    assert data_checksum(r.assign_coords(region=("unit", np.array(["V4"] * 7)))) != base
    assert data_checksum(r.rename(unit="neuroid")) != base


@pytest.mark.filterwarnings("ignore:You are writing invalid netcdf features")
def test_valid_file_with_changed_values_is_refused_naming_the_path(tmp_path):
    path = save(_resp(), tmp_path / "r.nc")
    ds = xr.open_dataset(path, engine="h5netcdf").load()
    ds["responses"].values[0, 0] += 1.0  # keeps the old checksum attribute
    path.unlink()
    ds.to_netcdf(path, engine="h5netcdf", invalid_netcdf=True)
    with pytest.raises(CorruptFileError, match=r"r\.nc is corrupt: its values do not match the checksum"):
        load(path)
    assert load(path, lazy=True).shape == (30, 7)  # lazy loads are not verified (documented)


def test_files_without_a_checksum_still_load(tmp_path):
    xr.DataArray(np.ones((3, 2)), dims=("stimulus", "unit"), name="v").to_netcdf(tmp_path / "o.nc", engine="h5netcdf")
    assert float(load(tmp_path / "o.nc").sum()) == 6.0


def test_garbage_file_names_the_path(tmp_path):
    (tmp_path / "g.nc").write_bytes(b"not hdf5 at all" * 10)
    with pytest.raises(CorruptFileError, match=r"Could not read .*g\.nc.*Re-create it"):
        load(tmp_path / "g.nc")
    with pytest.raises(FileNotFoundError, match="Write one with neurocompare.save"):
        load(tmp_path / "missing.nc")


def test_external_storage_virtual_datasets_and_links_are_refused(tmp_path):
    import h5py

    (tmp_path / "secret.bin").write_bytes(np.arange(8.0).tobytes())
    with h5py.File(tmp_path / "ext.nc", "w") as f:
        f.create_dataset("responses", shape=(4, 2), dtype="f8", external=[(str(tmp_path / "secret.bin"), 0, 64)])
    with pytest.raises(UnsafeFileError, match="external storage"):
        load(tmp_path / "ext.nc")
    save(_resp(), tmp_path / "good.nc")
    with h5py.File(tmp_path / "vds.nc", "w") as f:
        layout = h5py.VirtualLayout(shape=(30, 7), dtype="f4")
        layout[:] = h5py.VirtualSource(str(tmp_path / "good.nc"), "responses", shape=(30, 7))
        f.create_virtual_dataset("responses", layout)
    with pytest.raises(UnsafeFileError, match="virtual dataset"):
        load(tmp_path / "vds.nc")
    with h5py.File(tmp_path / "link.nc", "w") as f:
        f["responses"] = h5py.ExternalLink(str(tmp_path / "good.nc"), "/responses")
    with pytest.raises(UnsafeFileError, match="external link"):
        load(tmp_path / "link.nc")


def test_full_disk_save_is_a_clean_error_and_keeps_the_old_file(tmp_path):
    path = save(_resp(0), tmp_path / "r.nc")
    before = path.read_bytes()
    big = make_responses(np.zeros((300, 50)))
    with file_size_limit(len(before) // 2), pytest.raises(WriteError, match="ulimit"):
        save(big, path)
    assert path.read_bytes() == before


def test_concurrent_saves_to_one_path(tmp_path):
    errors = []

    def write(i):
        try:
            for _ in range(5):
                save(make_responses(np.full((20, 5), float(i))), tmp_path / "r.nc")
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    values = load(tmp_path / "r.nc").values
    assert values.min() == values.max() and values.min() in (0.0, 1.0, 2.0, 3.0)
    assert [p.name for p in tmp_path.iterdir()] == ["r.nc"]


def test_save_refuses_non_dataarrays(tmp_path):
    with pytest.raises(TypeError, match="save\\(\\) takes an xarray.DataArray; got ndarray"):
        save(np.zeros(3), tmp_path / "x.nc")


# ----------------------------------------------------------------------------- code identity
def test_callable_identity_separates_different_code_and_closures():
    a = lambda x: x.mean(1)  # noqa: E731
    b = lambda x: x.amax(1)  # noqa: E731
    pair = [lambda x: x + 1, lambda x: x + 2]  # two lambdas on one line
    assert callable_identity(a) != callable_identity(b)
    assert callable_identity(pair[0]) != callable_identity(pair[1])
    assert callable_identity(a) == callable_identity(a)

    def make(k):
        return lambda x: x[:, :k]

    assert callable_identity(make(2)) != callable_identity(make(3))
    assert callable_identity(make(2)) == callable_identity(make(2))
    assert callable_identity(functools.partial(np.mean, axis=1)) != callable_identity(functools.partial(np.mean, axis=0))
    assert "0x" not in callable_identity(a)

    class Opaque:  # repr is the memory address: no stable identity
        pass

    obj = Opaque()
    assert callable_identity(lambda x: (obj, x)[1]) is None


def test_model_code_hash_follows_the_source_and_a_user_version(tmp_path, monkeypatch):
    import importlib
    import sys

    mod = tmp_path / "mymodel_ci.py"
    mod.write_text("from torch import nn\nclass M(nn.Module):\n    def forward(self, x):\n        return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    m1 = importlib.import_module("mymodel_ci").M()
    h1 = model_code_hash(m1)
    mod.write_text("from torch import nn\nclass M(nn.Module):\n    def forward(self, x):\n        return 2 * x\n")
    sys.modules.pop("mymodel_ci")
    from neurocompare import cache as cache_mod

    cache_mod._CLASS_HASHES.clear()
    m2 = importlib.import_module("mymodel_ci").M()
    assert model_code_hash(m2) != h1 and len(h1) == 64
    assert model_code_hash(m1, "v1") == model_code_hash(m2, "v1")  # the user vouches for it
    assert model_code_hash(nn.Linear(2, 2)) == model_code_hash(nn.Linear(3, 3))  # torch classes by version


def test_unidentifiable_code_is_computed_but_not_cached(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    stim = torch.rand(3, 3, 8, 8)

    class Opaque:
        pass

    obj = Opaque()
    cache = ActivationCache(tmp_path, verbose=False)
    with pytest.warns(RuntimeWarning, match="not caching: the reducer cannot be identified"):
        out = cached_extract(model, stim, ["1"], cache=cache, reduce=lambda x: (obj, x.mean((2, 3)))[1], progress=False)
    assert out["1"].shape == (3, 4) and cache.stats["writes"] == 0 and not list(tmp_path.rglob("*.nc"))


def test_unwritable_cache_warns_once_and_returns_the_activations(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    stim = torch.rand(3, 3, 8, 8)
    cache = ActivationCache(tmp_path / "c", verbose=False)
    with file_size_limit(1000), pytest.warns(RuntimeWarning, match="could not write to the activation cache.*--no-cache"):
        out = cached_extract(model, stim, ["0", "1"], cache=cache, progress=False)
    expected = cached_extract(model, stim, ["0", "1"], cache=None, progress=False)
    for layer in ("0", "1"):
        np.testing.assert_array_equal(out[layer].values, expected[layer].values)
    assert cache.stats["failed_writes"] == 2 and cache.stats["writes"] == 0
    assert not [p for p in (tmp_path / "c").rglob("*") if p.is_file()]


def test_one_line_says_how_many_layers_came_from_the_cache(tmp_path, capsys):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    stim = torch.rand(3, 3, 8, 8)
    cache = ActivationCache(tmp_path, verbose=True)
    cached_extract(model, stim, ["0"], cache=cache, progress=False)
    capsys.readouterr()
    cached_extract(model, stim, ["0", "1"], cache=cache, progress=False)
    assert f"1 of 2 layer(s) from the activation cache {tmp_path}" in capsys.readouterr().out


# ----------------------------------------------------------------------------- metamer checkpoints
def test_metamer_synthesis_resumed_from_a_checkpoint_is_bit_identical(tmp_path):
    from neurocompare.metamers import MetamerSynthesis, synthesize_metamers

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    images = torch.rand(2, 1, 8, 8)
    kw = dict(n_rounds=3, steps_per_round=5, seed=0, progress=False)
    ref = synthesize_metamers(model, ["1", "3"], images, **kw)
    # a run "killed" after its first round: the state of round 1 is on disk
    partial = MetamerSynthesis(model, ["1", "3"], images, **kw)
    partial.synthesize(max_iter=5)
    partial.save_state(tmp_path / "state.npz")
    with pytest.raises(FileExistsError, match="resume=True"):
        synthesize_metamers(model, ["1", "3"], images, state=tmp_path / "state.npz", **kw)
    out = synthesize_metamers(model, ["1", "3"], images, state=tmp_path / "state.npz", resume=True, **kw)
    np.testing.assert_array_equal(out["metamer"].values, ref["metamer"].values)
    np.testing.assert_array_equal(out["loss"].values, ref["loss"].values)
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer"):
        synthesize_metamers(model, ["1"], images, state=tmp_path / "s2.npz", checkpoint_every=0, **kw)


def test_damaged_metamer_state_names_the_file(tmp_path):
    from neurocompare.metamers._io import read_state

    (tmp_path / "s.npz").write_bytes(b"PK\x03\x04 damaged")
    with pytest.raises(ValueError, match=r"s\.npz is unreadable.*Delete it to start over"):
        read_state(tmp_path / "s.npz")


# ----------------------------------------------------------------------------- scores, page, checkpoints
def test_read_scores_reports_every_unreadable_file(tmp_path):
    from neurocompare.benchmarks.io import load_scores, read_scores

    (tmp_path / "a__b.json").write_text('{"benchmark": "x", "lay')
    (tmp_path / "config.json").write_text('{"not": "a score"}')
    scores, problems = read_scores(tmp_path)
    assert scores == [] and len(problems) == 1 and "a__b.json" in problems[0]
    with pytest.warns(RuntimeWarning, match="a__b.json"), pytest.raises(FileNotFoundError, match="No readable score"):
        load_scores(tmp_path)


def test_embedded_json_cannot_break_out_of_the_script():
    from neurocompare.metamers._page import _js_json

    text = _js_json({"name": "</script><!--<img src=x onerror=1>&amp;\u2028"})
    assert not any(c in text for c in "<>&") and "\u2028" not in text
    assert json.loads(text) == {"name": "</script><!--<img src=x onerror=1>&amp;\u2028"}


class Payload:
    """A pickled object a checkpoint must never bring back."""


def test_pickled_checkpoint_is_refused_without_pickle_advice(tmp_path):
    from neurocompare.training.checkpoint import load_checkpoint

    torch.save({"model": Payload()}, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="holds pickled Python objects") as info:
        load_checkpoint(tmp_path)
    assert "weights_only=False" not in str(info.value)
    (tmp_path / "checkpoint.pt").write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="truncated or damaged"):
        load_checkpoint(tmp_path)


def test_checkpoint_on_a_full_disk_keeps_the_previous_one(tmp_path):
    from neurocompare.training.checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "checkpoint.pt", {"w": torch.zeros(10)})
    with file_size_limit(500), warnings.catch_warnings():
        with pytest.raises(WriteError, match="checkpoint .*checkpoint.pt.*ulimit"):
            save_checkpoint(tmp_path / "checkpoint.pt", {"w": torch.ones(10_000)})
    assert torch.equal(load_checkpoint(tmp_path)["w"], torch.zeros(10))


def test_streamed_extraction_on_a_full_disk_is_a_clean_error(tmp_path):
    from neurocompare.activations import extract

    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU())
    images = np.random.default_rng(0).integers(0, 256, (32, 12, 12, 3), dtype=np.uint8)
    # a layer needs 32 x 1600 float32 = 204,800 bytes
    with file_size_limit(20_000), pytest.raises(WriteError, match="ulimit -f"):  # before: a segfault when HDF5 closed the file
        extract(model, images, ["1"], reduce="flatten", out_dir=tmp_path / "acts", progress=False)
    assert list((tmp_path / "acts").iterdir()) == []  # no partial layer file left
