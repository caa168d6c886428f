"""Tests for the neurocompare command line (neurocompare.cli): the generic behaviour of every
subcommand (help, one-line errors, --quiet/--debug anywhere) and the extraction subcommands."""

from __future__ import annotations

import configparser
import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from neurocompare._options import get_options, set_options
from neurocompare.activations import extract
from neurocompare.cli import SUBCOMMANDS, build_parser, main
from neurocompare.data import load
from neurocompare.models import resolve_model

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- every subcommand
@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_every_subcommand_module_follows_the_contract(name, capsys):
    """HELP, add_parser(subparsers) -> parser with func=run, run(args); `<name> --help` exits 0."""
    module = importlib.import_module(SUBCOMMANDS[name][0])
    assert isinstance(module.HELP, str) and module.HELP and "\n" not in module.HELP
    assert callable(module.add_parser) and callable(module.run)
    parser = build_parser(name)
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices[name].get_default("func") is module.run
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: neurocompare {name}" in capsys.readouterr().out


def test_top_level_help_lists_every_subcommand_without_importing_them(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out
    assert main([]) == 0  # no subcommand: the help, exit status 0
    code = (
        "import sys, contextlib, io\n"
        "from neurocompare.cli import SUBCOMMANDS, main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "print(sorted(m for m, _ in SUBCOMMANDS.values() if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_console_script_and_module_entry_points():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    assert "neurocompare = neurocompare.cli:main" in cfg["options.entry_points"]["console_scripts"]
    proc = subprocess.run([sys.executable, "-m", "neurocompare", "--help"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and "SUBCOMMAND" in proc.stdout


# ----------------------------------------------------------------------------- generic behaviour
def test_errors_are_one_line_without_traceback(capsys):
    assert main(["list-layers", "--model", "convnt"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurocompare: error: Unknown model 'convnt'") and "convnet_small" in err
    assert "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_anywhere_shows_the_exception(where):
    argv = ["list-layers", "--model", "convnt"]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    with pytest.raises(ValueError, match="Unknown model 'convnt'"):
        main(argv)


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_anywhere_turns_progress_off(where, capsys):
    previous = get_options()["progress"]
    try:
        set_options(progress=True)
        argv = ["list-layers", "--model", "convnet_small"]
        assert main(["--quiet", *argv] if where == "before" else [*argv, "--quiet"]) == 0
        assert get_options()["progress"] is False
        assert capsys.readouterr().out.split()[0] == "block1"
    finally:
        set_options(progress=previous)


def test_unknown_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["extrakt"])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err


# ----------------------------------------------------------------------------- list-layers, extract
def test_list_layers(capsys):
    assert main(["list-layers", "--model", "convnet_small"]) == 0
    out = capsys.readouterr().out.split()
    assert out[0] == "block1" and "fc" in out and "block1.conv" in out


def test_extract_gives_what_the_library_gives(tmp_path, capsys):
    """The command applies the model's registered preprocessing, as nc.extract(name) and score do."""
    stimuli = np.random.default_rng(0).random((5, 3, 20, 20)).astype(np.float32)
    np.save(tmp_path / "stim.npy", stimuli)
    code = main(
        ["extract", "--model", "convnet_small", "--stimuli", str(tmp_path / "stim.npy"), "--layers", "block2", "fc",
         "--out", str(tmp_path / "acts"), "--quiet"]
    )
    assert code == 0
    block2 = load(tmp_path / "acts" / "block2.nc")
    assert block2.dims == ("stimulus", "unit") and block2.shape == (5, 64)  # avgpool by default
    assert block2.attrs["model"] == "convnet_small"
    rm = resolve_model("convnet_small")
    assert block2.attrs["weights_hash"] == rm.weights_hash
    assert json.loads(block2.attrs["preprocessing"]) == rm.preprocessing.describe()
    ref = extract("convnet_small", stimuli, ["block2"], reduce="avgpool", progress=False)["block2"]
    np.testing.assert_array_equal(block2.values, ref.values)
    assert "fc" in capsys.readouterr().out
    # --no-preprocessing feeds the stimuli as they are
    assert main(["extract", "--model", "convnet_small", "--stimuli", str(tmp_path / "stim.npy"), "--layers", "block2",
                 "--out", str(tmp_path / "raw"), "--no-preprocessing"]) == 0
    raw = load(tmp_path / "raw" / "block2.nc")
    bare = extract(rm.model, torch.from_numpy(stimuli), ["block2"], reduce="avgpool", progress=False)["block2"]
    np.testing.assert_array_equal(raw.values, bare.values)
    assert json.loads(raw.attrs["preprocessing"]) is None


def test_extract_reads_channel_last_uint8_images_like_the_library(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, size=(4, 16, 16, 3), dtype=np.uint8)  # as read from files
    np.save(tmp_path / "img.npy", images)
    assert main(["extract", "--model", "convnet_small", "--stimuli", str(tmp_path / "img.npy"), "--layers", "fc",
                 "--out", str(tmp_path / "acts")]) == 0
    as_floats = np.moveaxis(images, -1, 1).astype(np.float32) / 255
    ref = extract("convnet_small", as_floats, ["fc"], progress=False)["fc"]
    np.testing.assert_allclose(load(tmp_path / "acts" / "fc.nc").values, ref.values, rtol=1e-5, atol=1e-6)


def test_extract_errors(tmp_path, capsys):
    assert main(["extract", "--model", "convnet_small", "--stimuli", str(tmp_path / "none.npy")]) == 1
    assert "does not exist" in capsys.readouterr().err
    np.save(tmp_path / "s.npy", np.zeros((4, 3, 16, 16), dtype=np.float32))
    assert main(["extract", "--model", "convnet_small", "--stimuli", str(tmp_path / "s.npy"), "--layers", "nope"]) == 1
    assert "Unknown layer 'nope'" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["extract", "--model", "convnt", "--stimuli", str(tmp_path / "s.npy"),
                 "--out", str(tmp_path / "file" / "acts")]) == 1
    assert "Cannot write to the output folder" in capsys.readouterr().err  # checked before anything else
