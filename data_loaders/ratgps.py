"""RatGPS (Tampuu et al. 2019): rat hippocampal spike counts with the rat's position, 5 rats.

Folder ``ratgps_rat_position_decoding/``:

- ``windowed_2D/<rat>_1x<W>_at<k>_step200_bin100-RAW_feat.dat``: whitespace text, one row per
  time window (W ms long, windows every 200 ms), one column per unit: spike counts.
- ``..._pos.dat``: the rat's (x, y) position in cm for each window.
- ``R2192_20ms.mat``: ``mm``, 63 units × 54,100 bins of 20 ms for rat R2192 (no positions).

Windows are "stimuli" (the ARCHITECTURE's grid-cell convention): ``stimulus_id`` 'w000000', ...
with coords ``x``, ``y`` (cm) and ``window`` (index; window *i* starts about 200·i ms in).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import xarray as xr

from data_loaders._fetch import fetch, file_cache, stamp
from data_loaders.readers import read_mat
from neurocompare.data import make_responses

__all__ = ["FOLDER", "FILES", "URL", "CITATION", "DESCRIPTION", "RATS", "WINDOWS_MS", "available", "load", "load_binned"]

FOLDER = "ratgps_rat_position_decoding"
DESCRIPTION = "Rat hippocampal spike counts in sliding windows with positions, 5 rats (RatGPS)"
URL = "https://github.com/NeuroCSUT/RatGPS/tree/1ce7e52d"
DOWNLOAD_BASE = None
CITATION = (
    "Tampuu A, Matiisen T, Ólafsdóttir HF, Barry C, Vicente R (2019). Efficient neural decoding of "
    "self-location with a deep recurrent network. PLoS Computational Biology 15(2):e1006822. "
    "doi:10.1371/journal.pcbi.1006822"
)
FILES = {
    "R2192_20ms.mat": "ed258909fa0ff9bfa2702f2e0b61a18aa88df5c6b7cc6d44f7bfc16d4c2137c2",
    "windowed_2D/R2192_1x1400_at35_step200_bin100-RAW_feat.dat": "75c03aea4788ad4f7b1fa9b45eb235e6aaf23ea8c669d74197d073152cc66705",
    "windowed_2D/R2192_1x1400_at35_step200_bin100-RAW_pos.dat": "b033c74fb571f0e4420d410da36207a32e9e91f688dc9e00254da0b40cc164bc",
    "windowed_2D/R2192_1x200_at5_step200_bin100-RAW_feat.dat": "22d1c39037c3ed232bc0c69fbf9a931025705535de2160133aa8974477defe3b",
    "windowed_2D/R2192_1x200_at5_step200_bin100-RAW_pos.dat": "3f1f13bb90f4006e4001dbab3d193d1c7a54019a6ba8e77e5c0693651d849d5c",
    "windowed_2D/R2192_1x400_at10_step200_bin100-RAW_feat.dat": "fede9202198491e0c197912173bc4e2c4b2d6789f530440488e6b95b3f4ea6c6",
    "windowed_2D/R2192_1x400_at10_step200_bin100-RAW_pos.dat": "839b64b5ba882b21fe7f2ce5e4b1de818060d25f8fa3db28c4b1c4b9ab26ad11",
    "windowed_2D/R2198_1x1400_at35_step200_bin100-RAW_feat.dat": "e4cb7d4c0feab677738d7cb3baf218600df14f35628297f7ffcc8a3ba143a7da",
    "windowed_2D/R2198_1x1400_at35_step200_bin100-RAW_pos.dat": "dddae732bb4f374446e66aff9cc1e028e7ed615ad08aba882cb695f27a0ae078",
    "windowed_2D/R2198_1x400_at10_step200_bin100-RAW_feat.dat": "9dcf5316ca2329d81fe4a999e3e38bb75d4901be255d3c08905abad2c6f60624",
    "windowed_2D/R2198_1x400_at10_step200_bin100-RAW_pos.dat": "e095c31af4af31e2b72344b33d966538cd302b13e855f308751c6eb147a20ef9",
    "windowed_2D/R2217_1x1400_at35_step200_bin100-RAW_feat.dat": "5f882a89ce275aee9784ca04cdc00676713c16af617e27fc70236a0939cdda38",
    "windowed_2D/R2217_1x1400_at35_step200_bin100-RAW_pos.dat": "782329eada394ba61e840dc7eb6f379847b11fff735c699066fcab5712ad84fc",
    "windowed_2D/R2217_1x200_at5_step200_bin100-RAW_feat.dat": "cabca481d47ba3618ab3480c00531e1d8da7e7a6e853fc2a85f3478d41c8317a",
    "windowed_2D/R2217_1x200_at5_step200_bin100-RAW_pos.dat": "b6ef33d1b1b4b18a56c910aba68f6ab72d14403508e7b644fa635a49939314a8",
    "windowed_2D/R2217_1x400_at10_step200_bin100-RAW_feat.dat": "489a83b266020e2e01b87d2221fab74261d3bf0a2339e8a9317934a21f0b4566",
    "windowed_2D/R2217_1x400_at10_step200_bin100-RAW_pos.dat": "b77d18cfdc339698043b523a424c958d1f9b378668086bd571ede1995a6ff841",
    "windowed_2D/R2336_1x1400_at35_step200_bin100-RAW_feat.dat": "5b6ba52ec749014361b9ba66d087d7e3b4988cd30e610f97eadd3cf11788d6c1",
    "windowed_2D/R2336_1x1400_at35_step200_bin100-RAW_pos.dat": "4dd218705d2b5cc2b4148b617ded6a8c130d8f124c1a21d4b2136d52d270ce2f",
    "windowed_2D/R2336_1x200_at5_step200_bin100-RAW_feat.dat": "11ecafe32adb6061874a6458320e47f0fc57fc87ef465ef0cbbcbc75e7c1366d",
    "windowed_2D/R2336_1x200_at5_step200_bin100-RAW_pos.dat": "c5d74968b689553ec9f4fd95816d82945b30b4d370f08dbd402db6450ea5df55",
    "windowed_2D/R2336_1x400_at10_step200_bin100-RAW_feat.dat": "aca095bea6ef7984d85ca219a5531f8da7cb85ec581930fdfd8e07966379dbb0",
    "windowed_2D/R2336_1x400_at10_step200_bin100-RAW_pos.dat": "3da0db3637d7035c52bf3c856c975450a039041c003b409fe2aaa6ef896faf8e",
    "windowed_2D/R2337_1x1400_at35_step200_bin100-RAW_feat.dat": "3743e2dbac734d55a29c79b0df71382344476b935c80d8bf13299b5a1c6b4f1a",
    "windowed_2D/R2337_1x1400_at35_step200_bin100-RAW_pos.dat": "275f1f644105b8395fda185fa2b763b2cea617451087d69bc3d1e35a9f70d2c6",
    "windowed_2D/R2337_1x200_at5_step200_bin100-RAW_feat.dat": "7e35ab7e4144428acb0d89a95dc0d5d90ea4c3c19242b86abae1177d80bd2084",
    "windowed_2D/R2337_1x200_at5_step200_bin100-RAW_pos.dat": "1d2bb837d2ddfd7ffc4147e48492795467a07a4a1db393bc8a513086950eee2f",
    "windowed_2D/R2337_1x400_at10_step200_bin100-RAW_feat.dat": "50ec8d895e4de6c00d996fb8f1bc04c58879fc6159a562be76feb7ca6abb31a2",
    "windowed_2D/R2337_1x400_at10_step200_bin100-RAW_pos.dat": "f33809f9a5184686ec410d0ba8bf565f6addce510e453ef45c0fb34c289e93da",
}

_THIS = sys.modules[__name__]
RATS = ("R2192", "R2198", "R2217", "R2336", "R2337")
WINDOWS_MS = (200, 400, 1400)
_K = {200: 5, 400: 10, 1400: 35}


def _rel(rat: str, window_ms: int, kind: str) -> str:
    return f"windowed_2D/{rat}_1x{window_ms}_at{_K[window_ms]}_step200_bin100-RAW_{kind}.dat"


def available() -> list[tuple[str, int]]:
    """(rat, window_ms) pairs with files (R2198 has no 200 ms windows)."""
    return [(r, w) for r in RATS for w in WINDOWS_MS if _rel(r, w, "feat") in FILES]


@file_cache(maxsize=8)
def _text_cached(path: str, size: int, mtime_ns: int) -> np.ndarray:
    try:
        arr = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise ValueError(f"Cannot parse {path} as a whitespace-separated number table: {err}") from err
    arr.setflags(write=False)
    return arr


def _text(rel: str, root) -> np.ndarray:
    path = fetch(_THIS, rel, root)
    return _text_cached(str(path), *stamp(path))


def load(rat: str = "R2192", window_ms: int = 400, root: str | os.PathLike | None = None) -> xr.DataArray:
    """Spike counts per window with positions, as Responses.

    Parameters
    ----------
    rat : str
        One of :data:`RATS`.
    window_ms : {200, 400, 1400}
        Window length (windows start every 200 ms, so longer windows overlap).
    root : path-like, optional
        Data root (see ``data_loaders.get_root``).

    Returns
    -------
    Responses, dims ('stimulus', 'unit'): spike counts; stimulus coords ``x``, ``y`` (cm) and
        ``window``; ``unit_id`` '<rat>_u<NN>', ``region`` 'hippocampus'.
    """
    if rat not in RATS:
        raise ValueError(f"Unknown rat {rat!r}. Available: {', '.join(RATS)}.")
    if (rat, int(window_ms)) not in available():
        opts = [w for r, w in available() if r == rat]
        raise ValueError(f"No {window_ms} ms windows for rat {rat}. Available window_ms: {opts}.")
    feat = _text(_rel(rat, window_ms, "feat"), root)
    pos = _text(_rel(rat, window_ms, "pos"), root)
    if pos.shape != (feat.shape[0], 2):
        raise ValueError(
            f"Rat {rat}, {window_ms} ms: {feat.shape[0]} windows of counts but positions of shape {pos.shape}."
        )
    n, u = feat.shape
    return make_responses(
        feat.copy(),
        stimulus_ids=np.array([f"w{i:06d}" for i in range(n)]),
        unit_ids=np.array([f"{rat}_u{j:02d}" for j in range(u)]),
        coords={"x": ("stimulus", pos[:, 0].copy()), "y": ("stimulus", pos[:, 1].copy()),
                "window": ("stimulus", np.arange(n)), "region": ("unit", np.full(u, "hippocampus"))},
        source="ratgps", citation=CITATION, units="spike count", window_ms=int(window_ms), step_ms=200, rat=rat,
    )


def load_binned(root: str | os.PathLike | None = None) -> xr.DataArray:
    """Rat R2192 spike counts in 20 ms bins (``R2192_20ms.mat``), without positions.

    Returns
    -------
    xarray.DataArray, dims ('time', 'unit'), shape (54100, 63); ``time`` coord in s (bin starts)
    """
    path = fetch(_THIS, "R2192_20ms.mat", root)
    mm = np.asarray(read_mat(path, ["mm"])["mm"], dtype=np.float64)
    if mm.ndim != 2:
        raise ValueError(f"{path}: 'mm' has shape {mm.shape}; expected (units, bins).")
    return xr.DataArray(
        mm.T,
        dims=("time", "unit"),
        coords={"time": np.arange(mm.shape[1]) * 0.02, "unit_id": ("unit", np.array([f"R2192_u{j:02d}" for j in range(mm.shape[0])]))},
        attrs={"units": "spike count per 20 ms", "source": "ratgps", "citation": CITATION},
    )
