"""Tests for data_loaders: root/checksum machinery, and the V4, V1 and 92-image loaders.

Tests marked ``requires_data`` read the real files (``data_root`` fixture); the others build tiny
data sets in a temporary root and point the loaders at them (monkeypatching ``FILES`` with the
synthetic files' digests), so they also run without the recorded data.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

import data_loaders
from data_loaders import _fetch, cowley2023_v4, henaff2021_v1, kriegeskorte2008
import neurocompare as nc
from neurocompare._options import reset_options
from neurocompare.cli import build_parser
from neurocompare.data import average_repetitions, check_rdm, check_responses, split_repetitions


# ----------------------------------------------------------------------------- root & checksums
def test_get_root_precedence(tmp_path, monkeypatch):
    # explicit root > the data_dir option (NEUROCOMPARE_DATA, read once) > the user cache folder
    with nc.set_options(data_dir=tmp_path / "option"):
        assert data_loaders.get_root(tmp_path / "explicit") == tmp_path / "explicit"
        assert data_loaders.get_root() == tmp_path / "option"
    monkeypatch.setenv("NEUROCOMPARE_DATA", str(tmp_path / "env"))
    reset_options()  # the environment is read once; re-read it
    try:
        assert data_loaders.get_root() == tmp_path / "env"
        monkeypatch.delenv("NEUROCOMPARE_DATA")
        reset_options()
        cache = data_loaders.get_root()
        assert "neurocompare" in str(cache) and cache != tmp_path / "env"
    finally:
        monkeypatch.undo()
        reset_options()


def _tiny_module(tmp_path, monkeypatch, module, files: dict[str, bytes]):
    """Write files under tmp_path/module.FOLDER and make module.FILES their digests."""
    base = tmp_path / module.FOLDER
    table = {}
    for rel, content in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(content)
        table[rel] = _fetch.sha256(base / rel)
    monkeypatch.setattr(module, "FILES", table)
    return base


def test_missing_file_names_file_source_and_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        kriegeskorte2008.load_human_it(root=tmp_path)
    msg = str(info.value)
    assert "92_brainRDMs.mat" in msg
    assert kriegeskorte2008.URL in msg
    assert "root=" in msg and "NEUROCOMPARE_DATA" in msg


def test_checksum_mismatch_names_both_digests(tmp_path, monkeypatch):
    base = _tiny_module(tmp_path, monkeypatch, henaff2021_v1, {"ay2_u003_image_sequences.mat": b"original"})
    expected = henaff2021_v1.FILES["ay2_u003_image_sequences.mat"]
    (base / "ay2_u003_image_sequences.mat").write_bytes(b"tampered!")
    with pytest.raises(ValueError) as info:
        henaff2021_v1.load(root=tmp_path, sessions=["ay2_u003"])
    msg = str(info.value)
    assert "ay2_u003_image_sequences.mat" in msg
    assert expected in msg and _fetch.sha256(base / "ay2_u003_image_sequences.mat") in msg


def test_verification_is_cached_but_notices_changes(tmp_path, monkeypatch):
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    digest = _fetch.sha256(f)
    calls = []
    real = _fetch.sha256
    monkeypatch.setattr(_fetch, "sha256", lambda p, *a, **k: calls.append(p) or real(p))
    _fetch.verify(f, digest)
    _fetch.verify(f, digest)
    assert len(calls) == 1  # hashed once
    f.write_bytes(b"abcd")  # size changes -> hashed again, mismatch detected
    with pytest.raises(ValueError, match="Checksum mismatch"):
        _fetch.verify(f, digest)
    assert len(calls) == 2


def test_unknown_file_and_dataset():
    with pytest.raises(KeyError, match="not a file of dataset"):
        _fetch.fetch(kriegeskorte2008, "nope.mat")
    with pytest.raises(ValueError, match="Unknown dataset 'nope'. Available: kriegeskorte2008"):
        data_loaders.get_dataset("nope")


def test_download_refused_for_converted_data(tmp_path):
    with pytest.raises(ValueError, match="cannot be downloaded file by file"):
        data_loaders.download("henaff2021_v1", tmp_path)


def test_list_datasets_and_cli(tmp_path, capsys):
    table = data_loaders.list_datasets(tmp_path)
    assert set(table["name"]) >= {"kriegeskorte2008", "cowley2023_v4", "henaff2021_v1"}
    assert not table["present"].any()
    args = build_parser("datasets").parse_args(["datasets", "--data", str(tmp_path)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "kriegeskorte2008" in out and "False" in out


@pytest.mark.requires_data
def test_list_datasets_present(data_root, capsys):
    table = data_loaders.list_datasets(data_root)
    assert table["present"].all(), table[~table["present"]]
    args = build_parser("datasets").parse_args(["datasets", "--data", str(data_root), "--verify"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.count(" ok") == len(data_loaders.DATASETS) and "bad/missing" not in out


@pytest.mark.requires_data
def test_every_checksum_matches(data_root):
    for name in data_loaders.DATASETS:
        res = data_loaders.verify_dataset(name, data_root)
        assert set(res.values()) == {"ok"}, (name, {k: v for k, v in res.items() if v != "ok"})


# ----------------------------------------------------------------------------- kriegeskorte2008
@pytest.mark.requires_data
def test_kriegeskorte_human_it(data_root):
    rdm = kriegeskorte2008.load_human_it(data_root)
    assert rdm.dims == ("subject", "session", "stimulus", "stimulus_2")
    assert rdm.shape == (4, 2, 92, 92)
    assert list(rdm.subject.values) == ["BE", "KO", "SN", "TI"]
    check_rdm(rdm)
    v = rdm.values
    np.testing.assert_array_equal(v, np.swapaxes(v, -1, -2))
    assert np.all(np.diagonal(v, axis1=-2, axis2=-1) == 0)
    # 1 - Pearson r lies in [0, 2]; real IT patterns are far from identical
    assert v.min() >= 0 and v.max() <= 2 and 0.5 < v[..., np.triu_indices(92, 1)[0], np.triu_indices(92, 1)[1]].mean() < 1.5


@pytest.mark.requires_data
def test_kriegeskorte_stimuli_and_labels(data_root):
    stim = kriegeskorte2008.load_stimuli(data_root)
    assert stim.dims == ("stimulus", "height", "width", "channel")
    assert stim.shape == (92, 175, 175, 3) and stim.dtype == np.uint8
    assert stim.stimulus_id.values[0] == "obj01" and stim.stimulus_id.values[-1] == "obj92"
    # the published design: 48 animate / 44 inanimate, 24 faces, 24 human images
    assert int(stim.animate.sum()) == 48 and int(stim.inanimate.sum()) == 44
    assert int(stim.face.sum()) == 24 and int(stim.human.sum()) == 24
    np.testing.assert_array_equal(stim.animate.values, stim.animal.values)
    assert set(stim.category.values) >= {"human face", "natural inanimate"}


@pytest.mark.requires_data
def test_kriegeskorte_monkey_it_two_sources_agree(data_root):
    mit = kriegeskorte2008.load_monkey_it(data_root)
    models = kriegeskorte2008.load_model_rdms(data_root)
    assert mit.dims == ("stimulus", "stimulus_2") and mit.shape == (92, 92)
    np.testing.assert_allclose(models.sel(model="monkeyIT").values, mit.values, atol=1e-12)
    fig1 = kriegeskorte2008.load_fig1_rdms(data_root)
    assert list(fig1.rdm.values) == ["mIT_674neurons", "hITvisStim_316vx"]
    behav = kriegeskorte2008.load_behaviour_rdms(data_root)
    assert behav.shape == (16, 92, 92) and behav.subject.values[0] == "subject1"
    for r in (mit, models, fig1, behav):
        np.testing.assert_array_equal(r.stimulus_id.values, kriegeskorte2008.STIMULUS_IDS)


@pytest.mark.requires_data
def test_kriegeskorte_truncated_file(tmp_path, monkeypatch, data_root):
    src = (data_root / "kriegeskorte92" / "92_brainRDMs.mat").read_bytes()
    _tiny_module(tmp_path, monkeypatch, kriegeskorte2008, {"92_brainRDMs.mat": src[: len(src) // 3]})
    with pytest.raises(ValueError, match="92_brainRDMs.mat"):
        kriegeskorte2008.load_human_it(tmp_path)


# ----------------------------------------------------------------------------- cowley2023_v4
@pytest.mark.requires_data
def test_cowley_repeat_averaged_with_images(data_root):
    resp, images = cowley2023_v4.load("210325", data_root)
    check_responses(resp)
    assert resp.dims == ("stimulus", "unit") and resp.shape == (640, 50)
    assert images.dims == ("stimulus", "height", "width", "channel")
    assert images.shape == (640, 112, 112, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images.stimulus_id.values, resp.stimulus_id.values)
    assert resp.stimulus_id.values[0] == "210325_img0001" and resp.unit_id.values[0] == "210325_n000"
    assert set(resp.region.values) == {"V4"} and set(resp.animal.values) == {"PE"}
    # matches the file: neuron j, image i -> resp[i, j]
    raw = np.load(data_root / "cowley2023_v4/responses_repeat_averaged/responses_210325.npy", allow_pickle=False)
    np.testing.assert_array_equal(resp.values, raw.T)
    assert images.values.std() > 10  # real photographs, not a blank


@pytest.mark.requires_data
def test_cowley_session_without_images(data_root):
    resp, images = cowley2023_v4.load("201016", data_root)
    assert images is None and resp.shape == (600, 82)
    assert len(cowley2023_v4.SESSIONS) == 48 and len(cowley2023_v4.SESSIONS_WITH_IMAGES) == 10


@pytest.mark.requires_data
@pytest.mark.parametrize("session, shape, rep_range", [("210325", (640, 50, 10), (6, 10)), ("201016", (600, 82, 10), (5, 9))])
def test_cowley_raw_nan_padding_kept(data_root, session, shape, rep_range):
    raw, images = cowley2023_v4.load_raw(session, data_root, images=False)
    assert raw.dims == ("stimulus", "unit", "repetition") and raw.shape == shape
    assert images is None
    nan = np.isnan(raw.values)
    assert nan.any()  # padding kept, not filled
    # padding is trailing: once a repeat is missing, all later ones are too
    assert not (nan[..., :-1] & ~nan[..., 1:]).any()
    assert (raw.attrs["n_repeats_min"], raw.attrs["n_repeats_max"]) == rep_range
    # averaging the raw repeats gives the authors' repeat-averaged file exactly
    avg = average_repetitions(raw)
    ref, _ = cowley2023_v4.load(session, data_root, images=False)
    np.testing.assert_allclose(avg.values, ref.values, rtol=0, atol=1e-12)
    h1, h2 = split_repetitions(raw, seed=0)
    assert h1.shape == shape[:2] and not np.isnan(h1.values).any()


@pytest.mark.requires_data
def test_cowley_pooled_block_layout(data_root):
    sessions = ["210305", "210325"]
    pooled, stim = cowley2023_v4.load_pooled(data_root, sessions, progress=False)
    assert pooled.shape == (400 + 640, 70 + 50)
    np.testing.assert_array_equal(stim.stimulus_id.values, pooled.stimulus_id.values)
    a = pooled.sel(stimulus=pooled.session_of_stimulus == "210305", unit=pooled.session == "210305")
    b = pooled.sel(stimulus=pooled.session_of_stimulus == "210325", unit=pooled.session == "210305")
    ref, _ = cowley2023_v4.load("210305", data_root, images=False)
    np.testing.assert_array_equal(a.values, ref.values)
    assert np.isnan(b.values).all()


def test_cowley_bad_inputs(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="Unknown raw session '190923'. Available: 201016, 210325"):
        cowley2023_v4.load_raw("190923", tmp_path)
    with pytest.raises(ValueError, match="Unknown session '123456'. Available: 190923, 190924"):
        cowley2023_v4.load("123456", tmp_path)
    # a truncated zip and a truncated npy give errors naming the file
    good = np.zeros((3, 4))
    import io

    buf = io.BytesIO()
    np.save(buf, good)
    _tiny_module(
        tmp_path,
        monkeypatch,
        cowley2023_v4,
        {
            "responses_repeat_averaged/responses_210325.npy": buf.getvalue()[:100],
            "images/images_210325.zip": b"PK\x03\x04 truncated",
        },
    )
    with pytest.raises(ValueError, match="responses_210325.npy"):
        cowley2023_v4.load("210325", tmp_path, images=False)
    with pytest.raises(ValueError, match="images_210325.zip"):
        cowley2023_v4.load_images("210325", tmp_path)


def test_cowley_refuses_pickled_npy(tmp_path, monkeypatch):
    import io

    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    _tiny_module(tmp_path, monkeypatch, cowley2023_v4, {"responses_repeat_averaged/responses_210325.npy": buf.getvalue()})
    with pytest.raises(ValueError, match="refuses to unpickle"):
        cowley2023_v4.load("210325", tmp_path, images=False)


def test_cowley_tiny_synthetic_session(tmp_path, monkeypatch):
    from PIL import Image
    import io

    rng = np.random.default_rng(0)
    counts = rng.poisson(3.0, size=(2, 5)).astype(float)  # 2 neurons x 5 images
    npy = io.BytesIO()
    np.save(npy, counts)
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        for i in range(5):
            img = Image.fromarray(np.full((112, 112, 3), 40 * i, dtype=np.uint8))
            jb = io.BytesIO()
            img.save(jb, format="JPEG", quality=95)
            zf.writestr(f"image{i + 1:04d}.jpg", jb.getvalue())
    _tiny_module(
        tmp_path,
        monkeypatch,
        cowley2023_v4,
        {"responses_repeat_averaged/responses_210325.npy": npy.getvalue(), "images/images_210325.zip": zbuf.getvalue()},
    )
    resp, images = cowley2023_v4.load("210325", tmp_path)
    np.testing.assert_array_equal(resp.values, counts.T)
    assert images.shape == (5, 112, 112, 3)
    np.testing.assert_allclose(images.values.reshape(5, -1).mean(1), 40 * np.arange(5), atol=2)


# ----------------------------------------------------------------------------- henaff2021_v1
@pytest.mark.requires_data
def test_henaff_layout_and_nan(data_root):
    resp = henaff2021_v1.load(data_root)
    assert resp.dims == ("stimulus", "unit", "repetition")
    assert resp.shape == (484, 360, 60)
    assert resp.stimulus_id.values[0] == "zoom1x_natural_movie01-chironomus_f00"
    assert set(resp.region.values) == {"V1"}
    assert len(set(resp.session.values)) == 9
    counts = resp.category.to_series().value_counts().to_dict()
    assert counts == {"natural": 220, "synthetic": 220, "contrast": 44}
    # natural and synthetic: 2 zooms x 10 movies x 11 frames; contrast: 4 (zoom, movie) pairs x 11
    contrast = resp.category.values == "contrast"
    pairs = set(zip(resp.zoom.values[contrast], resp.movie.values[contrast]))
    assert len(pairs) == 4 and sorted(set(resp.frame.values)) == list(range(11))
    # every kept stimulus was seen by every unit at least once; files with 50 repeats padded to 60
    assert not np.isnan(resp.values).all(axis=2).any()
    n50 = resp.sel(unit=resp.session == "ay2_u003")
    assert np.isnan(n50.values[:, :, 50:]).all()


@pytest.mark.requires_data
def test_henaff_matches_file_order(data_root):
    import h5py

    resp = henaff2021_v1.load(data_root, sessions=["ay4_u005"], drop_unrecorded=False)
    assert resp.shape == (660, 46, 60)
    with h5py.File(data_root / henaff2021_v1.FOLDER / "ay4_u005_image_sequences.mat", "r") as f:
        raw = f["naturalStruct/sortedResponses"][()]  # (rep, unit, frame, movie, category, zoom)
    # zoom2x, contrast, movie03, frame 4, unit 7, repetition 12
    sid = "zoom2x_contrast_movie03-dogville_f04"
    np.testing.assert_array_equal(resp.sel(stimulus=resp.stimulus_id == sid).values[0, 7, 12], raw[12, 7, 4, 2, 2, 1])
    sid = "zoom1x_natural_movie10-leaves-wind_f10"
    np.testing.assert_array_equal(resp.sel(stimulus=resp.stimulus_id == sid).values[0, :, :], raw[:, :, 10, 9, 0, 0].T)
    avg = average_repetitions(resp.sel(stimulus=~np.isnan(resp.values).all(axis=(1, 2))))
    assert np.isfinite(avg.values).all()


def test_henaff_wrong_layout(tmp_path, monkeypatch):
    import h5py

    base = tmp_path / henaff2021_v1.FOLDER
    base.mkdir(parents=True)
    with h5py.File(base / "ay2_u003_image_sequences.mat", "w") as f:
        f["something_else"] = np.zeros(3)
    monkeypatch.setattr(henaff2021_v1, "FILES", {"ay2_u003_image_sequences.mat": _fetch.sha256(base / "ay2_u003_image_sequences.mat")})
    with pytest.raises(ValueError, match="no 'naturalStruct/sortedResponses'"):
        henaff2021_v1.load(tmp_path, sessions=["ay2_u003"])
    with pytest.raises(ValueError, match="Unknown session 'zz'"):
        henaff2021_v1.load(tmp_path, sessions=["zz"])


# ----------------------------------------------------------------------------- download (no network)
def _fake_pooch(served: dict[str, bytes], calls: list):
    import types

    def retrieve(url, known_hash, fname, path, progressbar):
        calls.append(url)
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / fname).write_bytes(served[url])
        return str(Path(path) / fname)

    return types.SimpleNamespace(retrieve=retrieve)


def test_download_with_pooch_places_and_verifies(tmp_path, monkeypatch):
    import sys

    content = {"92_brainRDMs.mat": b"brain", "92_modelRDMs.mat": b"models"}
    monkeypatch.setattr(kriegeskorte2008, "FILES", {k: __import__("hashlib").sha256(v).hexdigest() for k, v in content.items()})
    served = {kriegeskorte2008.DOWNLOAD_BASE + k: v for k, v in content.items()}
    calls: list = []
    monkeypatch.setitem(sys.modules, "pooch", _fake_pooch(served, calls))
    folder = data_loaders.download("kriegeskorte2008", tmp_path, progress=False)
    assert folder == tmp_path / "kriegeskorte92"
    assert (folder / "92_brainRDMs.mat").read_bytes() == b"brain"
    assert sorted(calls) == sorted(served)
    data_loaders.download("kriegeskorte2008", tmp_path, progress=False)  # present: nothing fetched again
    assert len(calls) == 2
    # a server handing out different bytes is caught by the checksum
    (folder / "92_modelRDMs.mat").unlink()
    served[kriegeskorte2008.DOWNLOAD_BASE + "92_modelRDMs.mat"] = b"evil"
    with pytest.raises(ValueError, match="Checksum mismatch"):
        data_loaders.download("kriegeskorte2008", tmp_path, progress=False)


def test_download_without_pooch_gives_install_hint(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pooch", None)
    with pytest.raises(ImportError, match=r"pip install 'neurocompare\[data\]'"):
        data_loaders.download("kriegeskorte2008", tmp_path)


# ----------------------------------------------------------------------------- every registered dataset
@pytest.mark.parametrize("name", list(data_loaders.DATASETS))
def test_dataset_module_contract(name):
    mod = data_loaders.get_dataset(name)
    for attr in ("FOLDER", "FILES", "URL", "CITATION", "DESCRIPTION", "DOWNLOAD_BASE"):
        assert hasattr(mod, attr), f"{name} lacks {attr}"
    assert mod.FILES and all(len(h) == 64 and int(h, 16) >= 0 for h in mod.FILES.values())
    assert all(not Path(rel).is_absolute() and ".." not in Path(rel).parts for rel in mod.FILES)
    assert mod.URL.startswith("https://")
    assert mod.DOWNLOAD_BASE is None or mod.DOWNLOAD_BASE.endswith("/")
    assert any(callable(getattr(mod, f)) for f in dir(mod) if f.startswith("load"))
    for f in (getattr(mod, f) for f in dir(mod) if f.startswith("load") and callable(getattr(mod, f))):
        assert "root" in f.__code__.co_varnames[: f.__code__.co_argcount + f.__code__.co_kwonlyargcount], f
        assert f.__doc__, f"{name}.{f.__name__} has no docstring"


@pytest.mark.parametrize("name", list(data_loaders.DATASETS))
def test_missing_dataset_error_for_every_loader(name, tmp_path):
    """Each module's main loader, pointed at an empty root, names a file and the source URL."""
    mod = data_loaders.get_dataset(name)
    loader = getattr(mod, "load", None) or getattr(mod, "load_components")
    with pytest.raises(FileNotFoundError) as info:
        loader(root=tmp_path)
    assert mod.URL in str(info.value) and mod.FOLDER in str(info.value)


def _write_henaff_like(path, data, movies, categories, zooms, clusters):
    """A tiny file with the layout of the Hénaff et al. v7.3 files (h5py order, char cells by reference)."""
    import h5py

    def chars(text):
        return np.array([[ord(c)] for c in text], dtype=np.uint16)

    with h5py.File(path, "w", userblock_size=512) as f:
        ns = f.create_group("naturalStruct")
        ns["sortedResponses"] = data
        ns["cluster_list"] = np.asarray(clusters, dtype=float)[:, None]
        ns["cluster_group"] = np.ones((len(clusters), 1))
        ns["cortical_area"] = chars("V1")
        ns["integrationPeriod"] = np.array([[0.2]])
        ns["response_latency"] = np.array([[0.05]])
        ss = ns.create_group("stimulusStruct")
        refs = f.create_group("#refs#")
        ref_dt = h5py.special_dtype(ref=h5py.Reference)
        for key, names in (("movie_titles", movies), ("categories", categories), ("scales", zooms)):
            ds = ss.create_dataset(key, shape=(len(names), 1), dtype=ref_dt)
            for i, name in enumerate(names):
                ds[i, 0] = refs.create_dataset(f"{key}{i}", data=chars(name)).ref


def test_henaff_tiny_synthetic_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    # (repetition, unit, frame, movie, category, zoom) = (4, 2, 3, 2, 2, 1)
    data = rng.poisson(2.0, size=(4, 2, 3, 2, 2, 1)).astype(float)
    data[:, :, :, 1, 1, 0] = np.nan  # movie 'm2' never shown as 'synthetic'
    data[3, :, 0, 0, 0, 0] = np.nan  # one missing repeat
    base = tmp_path / henaff2021_v1.FOLDER
    base.mkdir()
    _write_henaff_like(base / "zz_u001_image_sequences.mat", data, ["m1", "m2"], ["natural", "synthetic"], ["zoom1x"], [7, 9])
    monkeypatch.setattr(henaff2021_v1, "FILES", {"zz_u001_image_sequences.mat": _fetch.sha256(base / "zz_u001_image_sequences.mat")})
    monkeypatch.setattr(henaff2021_v1, "SESSIONS", ("zz_u001",))
    full = henaff2021_v1.load(tmp_path, drop_unrecorded=False)
    assert full.shape == (2 * 2 * 3, 2, 4)
    assert list(full.unit_id.values) == ["zz_u001_c007", "zz_u001_c009"]
    sid = "zoom1x_synthetic_m1_f02"
    np.testing.assert_array_equal(full.sel(stimulus=full.stimulus_id == sid).values[0], data[:, :, 2, 0, 1, 0].T)
    kept = henaff2021_v1.load(tmp_path)
    assert kept.sizes["stimulus"] == 9  # the 3 frames of (synthetic, m2) dropped
    assert not any(s.startswith("zoom1x_synthetic_m2") for s in kept.stimulus_id.values)
    assert np.isnan(kept.sel(stimulus=kept.stimulus_id == "zoom1x_natural_m1_f00").values[0, :, 3]).all()
    assert kept.attrs["integration_s"] == 0.2


@pytest.mark.requires_data
def test_root_may_be_the_dataset_folder_itself(data_root):
    rdm = kriegeskorte2008.load_human_it(root=data_root / "kriegeskorte92")
    assert rdm.shape == (4, 2, 92, 92)


@pytest.mark.requires_data
def test_clear_cache_frees_parsed_data_and_checksums(data_root):
    from data_loaders import mnist

    mnist.load("test", data_root)
    assert mnist._idx_cached.cache_info().currsize > 0 and _fetch._VERIFIED
    data_loaders.clear_cache()
    assert mnist._idx_cached.cache_info().currsize == 0 and not _fetch._VERIFIED
    x, _ = mnist.load("test", data_root)  # loads (and verifies) again
    assert x.shape == (10000, 28, 28)


@pytest.mark.requires_data
def test_cowley_pooled_size_without_decoding(data_root):
    """The full pooled set is 10,240 images x 488 neurons (sum over the 10 sessions with images)."""
    pooled, stim = cowley2023_v4.load_pooled(data_root, images=False, progress=False)
    assert stim is None and pooled.shape == (10240, 488)
    assert sorted(set(pooled.session.values)) == list(cowley2023_v4.SESSIONS_WITH_IMAGES)
    # exactly one recorded block per (stimulus, unit) pair: NaN fraction = 1 - sum(n_i * m_i) / (N * M)
    sizes = [cowley2023_v4.load(s, data_root, images=False)[0].shape for s in cowley2023_v4.SESSIONS_WITH_IMAGES]
    recorded = sum(a * b for a, b in sizes)
    assert int((~np.isnan(pooled.values)).sum()) == recorded


def test_datasets_subcommand_through_the_cli(tmp_path, monkeypatch, capsys):
    cli = pytest.importorskip("neurocompare.cli")
    assert cli.main(["datasets", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"data root: {tmp_path}" in out and "cowley2023_v4" in out
