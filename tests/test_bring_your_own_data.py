"""The short path from a lab's own files to a score: images from a folder or zip, sessions beyond a
loader's checksummed list, a user's benchmark module seen by the CLI, and the type aliases."""

from __future__ import annotations

import typing
import warnings
import zipfile

import numpy as np
import pytest

from data_loaders import UnverifiedDataWarning, load_image_folder
from data_loaders.images import natural_key

Image = pytest.importorskip("PIL.Image")


def _save(path, value, shape=(4, 6), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"RGB": 3, "L": 1}[mode]
    arr = np.full((*shape, channels), value, np.uint8).squeeze()
    Image.fromarray(arr, mode=mode).save(path)


# ------------------------------------------------------------------------------ load_image_folder
def test_folder_ids_from_file_names_in_natural_order(tmp_path):
    for i in (10, 2, 1):
        _save(tmp_path / f"img{i}.png", i)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"junk")
    images = load_image_folder(tmp_path)
    assert images.dims == ("stimulus", "height", "width", "channel")
    assert images.dtype == np.uint8 and images.shape == (3, 4, 6, 3)
    assert images.stimulus_id.values.tolist() == ["img1", "img2", "img10"]
    assert images.file.values.tolist() == ["img1.png", "img2.png", "img10.png"]
    # each image's pixels are the value written into it: files and rows were not mixed up
    assert images.values[:, 0, 0, 0].tolist() == [1, 2, 10]
    assert load_image_folder(tmp_path, sort="name").stimulus_id.values.tolist() == ["img1", "img10", "img2"]


def test_subfolders_become_categories_and_ids_keep_the_folder(tmp_path):
    _save(tmp_path / "faces" / "a.png", 1)
    _save(tmp_path / "houses" / "a.png", 2)
    images = load_image_folder(tmp_path)
    assert images.stimulus_id.values.tolist() == ["faces/a", "houses/a"]
    assert images.category.values.tolist() == ["faces", "houses"]


def test_zip_equals_folder_and_a_zipped_top_folder_is_stripped(tmp_path):
    folder = tmp_path / "stimuli"
    for i in range(1, 4):
        _save(folder / f"s{i}.png", 20 * i)
    flat, nested = tmp_path / "flat.zip", tmp_path / "nested.zip"
    with zipfile.ZipFile(flat, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, p.name)
    with zipfile.ZipFile(nested, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, f"stimuli/{p.name}")
        zf.writestr("__MACOSX/stimuli/._s1.png", b"resource fork")
    ref = load_image_folder(folder)
    for z in (flat, nested):
        got = load_image_folder(z)
        np.testing.assert_array_equal(got.values, ref.values)
        assert got.stimulus_id.values.tolist() == ["s1", "s2", "s3"]


def test_size_mode_and_custom_ids(tmp_path):
    _save(tmp_path / "a.png", 7, shape=(8, 8))
    _save(tmp_path / "b.png", 9, shape=(4, 6))
    images = load_image_folder(tmp_path, size=5, mode="L", ids=lambda p: "stim_" + p.upper())
    assert images.shape == (2, 5, 5, 1)
    assert images.stimulus_id.values.tolist() == ["stim_A.PNG", "stim_B.PNG"]
    # a constant image stays constant under Lanczos resizing (the kernel weights sum to one)
    assert set(np.unique(images.values[0])) == {7}


def test_cowley_zip_reads_like_the_dataset_loader(data_root):
    from data_loaders import cowley2023_v4

    path = data_root / "cowley2023_v4" / "images" / "images_210325.zip"
    mine = load_image_folder(path, progress=False)
    theirs = cowley2023_v4.load_images("210325", data_root)
    np.testing.assert_array_equal(mine.values, theirs.values)
    assert mine.stimulus_id.values[0] == "image0001" and mine.sizes["stimulus"] == 640


@pytest.mark.parametrize(
    "kwargs, match",
    [({"mode": "CMYK"}, "'mode' parameter"), ({"sort": "date"}, "'sort' parameter"), ({"size": (0, 3)}, "size must be")],
)
def test_bad_arguments_say_what_is_allowed(tmp_path, kwargs, match):
    _save(tmp_path / "a.png", 1)
    with pytest.raises(ValueError, match=match):
        load_image_folder(tmp_path, **kwargs)


def test_errors_on_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="No folder or zip"):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No images"):
        load_image_folder(tmp_path / "empty")
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="neither a folder nor a readable zip"):
        load_image_folder(tmp_path / "x.zip")
    _save(tmp_path / "mixed" / "a.png", 1, shape=(4, 4))
    _save(tmp_path / "mixed" / "b.png", 1, shape=(5, 4))
    with pytest.raises(ValueError, match="differ in size.*size=\\(height, width\\)"):
        load_image_folder(tmp_path / "mixed")
    _save(tmp_path / "dup" / "a.png", 1)
    _save(tmp_path / "dup" / "a.jpg", 1)
    with pytest.raises(ValueError, match="both give stimulus_id 'a'"):
        load_image_folder(tmp_path / "dup")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match="Cannot decode 'a.png'"):
        load_image_folder(tmp_path / "bad")


def test_natural_key_orders_numbers_by_value():
    assert sorted(["b10", "b9", "a100", "a20"], key=natural_key) == ["a20", "a100", "b9", "b10"]


# --------------------------------------------------------------------- sessions beyond the list
@pytest.fixture
def user_root(tmp_path, data_root):
    """A data folder holding a Cowley session that the checksummed list does not know (a copy of 210325)."""
    src = data_root / "cowley2023_v4"
    dst = tmp_path / "cowley2023_v4"
    (dst / "responses_repeat_averaged").mkdir(parents=True)
    (dst / "responses_raw").mkdir()
    (dst / "images").mkdir()
    for sub, name in [("responses_repeat_averaged", "responses_{}.npy"), ("responses_raw", "responses_{}.npy"), ("images", "images_{}.zip")]:
        (dst / sub / name.format("210322")).write_bytes((src / sub / name.format("210325")).read_bytes())
    return tmp_path


def test_unlisted_session_is_refused_by_default_with_the_way_out(user_root):
    from data_loaders import cowley2023_v4

    with pytest.raises(ValueError, match="Unknown session '210322'.*pass verify=False"):
        cowley2023_v4.load("210322", user_root)
    with pytest.raises(ValueError, match="six digits"):
        cowley2023_v4.load("../etc", user_root, verify=False)


def test_unlisted_session_loads_with_verify_false_and_warns(user_root, data_root):
    from data_loaders import cowley2023_v4

    with pytest.warns(UnverifiedDataWarning) as record:
        resp, images = cowley2023_v4.load("210322", user_root, verify=False)
    messages = " ".join(str(w.message) for w in record)
    assert "responses_210322.npy" in messages and "images_210322.zip" in messages and "without verifying" in messages
    ref, ref_images = cowley2023_v4.load("210325", data_root)
    np.testing.assert_array_equal(resp.values, ref.values)
    np.testing.assert_array_equal(images.values, ref_images.values)
    assert resp.stimulus_id.values[0] == "210322_img0001" and resp.attrs["session"] == "210322"
    with pytest.warns(UnverifiedDataWarning):
        raw, _ = cowley2023_v4.load_raw("210322", user_root, verify=False, images=False)
    assert raw.dims == ("stimulus", "unit", "repetition") and raw.shape == (640, 50, raw.sizes["repetition"])


def test_listed_sessions_load_without_warning_when_verify_false(data_root):
    from data_loaders import cowley2023_v4

    with warnings.catch_warnings():
        warnings.simplefilter("error", UnverifiedDataWarning)
        resp, _ = cowley2023_v4.load("210325", data_root, images=False, verify=False)
    assert resp.shape == (640, 50)


def test_unlisted_session_without_files_says_which_file_is_missing(tmp_path):
    from data_loaders import cowley2023_v4

    with pytest.raises(FileNotFoundError, match="responses_210322.npy"):
        cowley2023_v4.load("210322", tmp_path, verify=False)


# ------------------------------------------------------------------- the CLI sees user benchmarks
USER_MODULE = '''
import numpy as np
import neurocompare as nc

@nc.register_benchmark("{name}.v1", description="a lab's own data", metric="cka_linear", ceiling=None)
def build(root=None):
    rng = np.random.default_rng(0)
    return nc.Benchmark(nc.make_responses(rng.normal(size=(20, 5))), metric="cka_linear", ceiling=None)
'''


def test_benchmarks_subcommand_lists_a_module_given_by_file_and_by_name(tmp_path, capsys, monkeypatch):
    from neurocompare.cli import main

    (tmp_path / "lab_file_bench.py").write_text(USER_MODULE.format(name="labfile.bench"))
    assert main(["benchmarks", "--benchmark-module", str(tmp_path / "lab_file_bench.py")]) == 0
    assert "labfile.bench.v1" in capsys.readouterr().out
    (tmp_path / "lab_named_bench.py").write_text(USER_MODULE.format(name="labnamed.bench"))
    monkeypatch.chdir(tmp_path)  # a module beside the user is found, as with python -m
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", str(tmp_path))])
    assert main(["benchmarks", "--benchmark-module", "lab_named_bench"]) == 0
    assert "labnamed.bench.v1" in capsys.readouterr().out


def test_benchmark_module_errors_say_what_to_do(tmp_path, capsys):
    from neurocompare.cli import main

    assert main(["benchmarks", "--benchmark-module", "no_such_pkg_xyz.benchmarks"]) != 0
    assert "cannot be imported" in capsys.readouterr().err
    assert main(["benchmarks", "--benchmark-module", str(tmp_path / "missing.py")]) != 0
    assert "no such file" in capsys.readouterr().err


def test_score_subcommand_accepts_benchmark_module():
    import argparse

    from neurocompare.cli import score as score_cli

    parser = argparse.ArgumentParser()
    score_cli.add_parser(parser.add_subparsers())
    argv = ["score", "--model", "m", "--benchmark", "b", "--benchmark-module", "a", "--benchmark-module", "b.py"]
    assert parser.parse_args(argv).benchmark_module == ["a", "b.py"]


# -------------------------------------------------------------------------------------- typing
def test_responses_like_names_the_three_array_types_without_importing_torch():
    import subprocess

    from neurocompare import data as nc_data
    import sys

    import xarray as xr

    from neurocompare.typing import ResponsesLike

    args = typing.get_args(ResponsesLike)
    assert xr.DataArray in args and np.ndarray in args and len(args) == 3
    import torch

    from neurocompare.similarity import _rsa

    # the aliases resolve in any module that uses them, torch imported there or not
    assert typing.get_type_hints(_rsa.rsa)["x"] == typing.Union[xr.DataArray, np.ndarray, torch.Tensor]
    assert typing.get_type_hints(nc_data.check_responses)["resp"] == typing.get_type_hints(_rsa.rsa)["x"]
    code = "import sys, neurocompare.typing; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_package_ships_py_typed():
    from pathlib import Path

    import neurocompare

    assert (Path(neurocompare.__file__).parent / "py.typed").is_file()


# ------------------------------------------------------------------------------- the analysis
@pytest.mark.slow  # two runs of the analysis plus a reference score: ~30-60 s on 2 shared cores
def test_analysis_scores_user_files_records_and_resumes(tmp_path, data_root):
    import json

    from analyses.bring_your_own_data import Config, main, run

    out = tmp_path / "byod"
    argv = ["--out", str(out), "--max-images", "80", "--seeds", "0", "--layers", "block1", "--data", str(data_root)]
    assert main(argv) == 0
    lines = [json.loads(s) for s in (out / "results.jsonl").read_text().splitlines()]
    runs = [r for r in lines if r["kind"] == "run"]
    assert len(runs) == 1 and runs[0]["n_stimuli"] == 80 and runs[0]["n_units"] == 50
    assert {"config", "version", "git_commit"} <= set(runs[0])
    assert (out / "layer_scores.png").stat().st_size > 1000
    # the same files through the Python API give the same score (the analysis adds nothing of its own)
    import neurocompare as nc
    from data_loaders import cowley2023_v4

    ref, stim = cowley2023_v4.load_raw("210325", data_root)
    bench = nc.Benchmark(ref.isel(stimulus=slice(0, 80)), stimuli=stim.isel(stimulus=slice(0, 80)), metric="ridge",
                         ceiling="split_half", n_splits=10, seed=0)
    expected = nc.score("convnet_small", bench, layers=["block1"], seed=0).value
    assert runs[0]["value"] == pytest.approx(expected, rel=1e-9)  # same data, splits and seed: same float64 result
    # a rerun with the same config resumes: no new run record, one more summary
    assert main(argv) == 0
    lines = [json.loads(s) for s in (out / "results.jsonl").read_text().splitlines()]
    assert sum(r["kind"] == "run" for r in lines) == 1 and sum(r["kind"] == "summary" for r in lines) == 2
    with pytest.raises(ValueError, match="--layout must name"):
        run(Config(out=str(tmp_path / "bad"), layout="unit,stimulus", max_images=80, data_root=str(data_root)))
