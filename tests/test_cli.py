"""Tests for the neurocompare command line (neurocompare.cli)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from neurocompare.cli import build_parser, main
from neurocompare.data import load


def test_help_works_for_every_subcommand(capsys):
    parser = build_parser("all")
    subparsers = next(a for a in parser._actions if a.dest == "command")
    names = sorted(subparsers.choices)
    assert {"extract", "list-layers"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: neurocompare" in capsys.readouterr().out


def test_list_layers(capsys):
    assert main(["list-layers", "--model", "convnet_small"]) == 0
    out = capsys.readouterr().out.split()
    assert out[0] == "block1" and "fc" in out


def test_errors_are_one_line_without_traceback(capsys):
    assert main(["list-layers", "--model", "convnt"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurocompare: error: Unknown model 'convnt'") and "convnet_small" in err
    assert "\n" not in err and "Traceback" not in err
    with pytest.raises((KeyError, ValueError)):
        main(["list-layers", "--model", "convnt", "--debug"])


def test_extract_from_npy_writes_one_file_per_layer(tmp_path, capsys):
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
    assert "fc" in capsys.readouterr().out


def test_extract_errors(tmp_path, capsys):
    assert main(["extract", "--model", "convnet_small", "--stimuli", str(tmp_path / "none.npy")]) == 1
    assert "does not exist" in capsys.readouterr().err
    np.save(tmp_path / "s.npy", np.zeros((4, 3, 16, 16), dtype=np.float32))
    assert main(["extract", "--model", "convnet_small", "--stimuli", str(tmp_path / "s.npy"), "--layers", "nope"]) == 1
    assert "Unknown layer 'nope'" in capsys.readouterr().err


def test_top_level_help_lists_contributed_subcommands_without_importing_them(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("extract", "score", "train", "gridscore", "datasets"):
        assert name in out


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "neurocompare.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "SUBCOMMAND" in proc.stdout
