"""Shared pytest fixtures and markers.

- ``data_root``: the recorded-data folder (``$NEUROCOMPARE_DATA``, else ``../shared/data``
  beside the repository); tests marked ``requires_data`` skip with a message when it is absent.
- ``gpu`` tests skip themselves when CUDA is unavailable.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"

if "NEUROCOMPARE_DATA" not in os.environ and DEFAULT_DATA.is_dir():
    os.environ["NEUROCOMPARE_DATA"] = str(DEFAULT_DATA)
os.environ.setdefault("NEUROCOMPARE_QUIET", "1")

from neurocompare._options import reset_options  # noqa: E402  (after the environment is set)

reset_options()  # the options read the environment once; make sure they saw the lines above


def _data_dir() -> Path | None:
    root = os.environ.get("NEUROCOMPARE_DATA")
    return Path(root) if root and Path(root).is_dir() else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _data_dir()
    if root is None:
        pytest.skip("recorded data not found: set NEUROCOMPARE_DATA or place ../shared/data beside the repo")
    return root


def pytest_collection_modifyitems(config, items):
    have_data = _data_dir() is not None
    try:
        import torch

        have_gpu = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        have_gpu = False
    skip_data = pytest.mark.skip(reason="recorded data not found (set NEUROCOMPARE_DATA)")
    skip_gpu = pytest.mark.skip(reason="no CUDA GPU available")
    for item in items:
        if "requires_data" in item.keywords and not have_data:
            item.add_marker(skip_data)
        if "gpu" in item.keywords and not have_gpu:
            item.add_marker(skip_gpu)
