"""Cowley et al. 2023: macaque V4 spike counts to natural and synthesized images.

Folder ``cowley2023_v4/`` (from cowleygroup/V4_compact_models, ``data_V4_responses/``):

- ``responses_repeat_averaged/responses_<session>.npy``: (neurons, images) spike counts in a
  100 ms window, averaged over repeats, for 48 sessions.
- ``responses_raw/responses_<session>.npy``: (neurons, images, repeats), NaN-padded where an
  image had fewer repeats, for sessions 201016 and 210325.
- ``images/images_<session>.zip``: 112×112 RGB JPEGs (``image0001.jpg`` ...) for 10 sessions;
  image *i* of a zip corresponds to column *i* of that session's responses.

Where the files differ from the authors' session table (``readme.txt``): sessions 190924-190929
hold 1,200 images (table: 900), 201016 and 201017 hold 600 (table: 900). Raw repeats per image:
210325 has 6-10 (mostly 7-8), 201016 has 5-9. The loaders follow the files.

The checksummed list (:data:`FILES`) covers the 48 repeat-averaged sessions of the copy this
loader was written against. Sessions in the authors' table that it does not cover (210322 and
210621, for example), raw repeats of other sessions and newer upstream files can still be read:
put them in the same layout under the data folder and pass ``verify=False`` to :func:`load`,
:func:`load_raw` or :func:`load_images`; the loader then reads them without a checksum and says
so with a ``data_loaders.UnverifiedDataWarning``.

Conventions used here:

- ``stimulus_id`` is ``'<session>_img<NNNN>'`` (1-based, as the JPEG names), unique across sessions.
- ``unit_id`` is ``'<session>_n<NNN>'`` with coords ``region='V4'``, ``session``, ``animal``.
- Values are spike counts per 100 ms window (float64; repeat-averaged ones are means).
- NaN padding of raw repeats is kept, never filled: use ``neurocompare.average_repetitions`` or
  ``split_repetitions``, which skip it.

Examples
--------
>>> from data_loaders import cowley2023_v4 as v4          # doctest: +SKIP
>>> resp, images = v4.load("210325")                      # doctest: +SKIP
>>> resp.shape, images.shape                              # doctest: +SKIP
((640, 50), (640, 112, 112, 3))
"""

from __future__ import annotations

import io
import os
import sys
import zipfile
from collections.abc import Sequence

import numpy as np
import xarray as xr

from data_loaders._fetch import fetch, file_cache, stamp
from data_loaders.readers import read_npy
from neurocompare._optional import require
from neurocompare.data import make_responses

__all__ = [
    "FOLDER",
    "FILES",
    "URL",
    "CITATION",
    "DESCRIPTION",
    "SESSIONS",
    "SESSIONS_WITH_IMAGES",
    "RAW_SESSIONS",
    "load",
    "load_raw",
    "load_images",
    "load_stimuli",
    "load_pooled",
]

FOLDER = "cowley2023_v4"
DESCRIPTION = "Macaque V4 spike counts, 48 sessions (repeat-averaged), raw repeats for 2, images for 10"
URL = "https://github.com/cowleygroup/V4_compact_models/tree/f4552ad9/data_V4_responses"
DOWNLOAD_BASE = "https://github.com/cowleygroup/V4_compact_models/raw/f4552ad9/data_V4_responses/"
CITATION = (
    "Cowley BR, Stan PL, Pillow JW, Smith MA (2023). Compact deep neural network models of visual "
    "cortex. bioRxiv 2023.11.22.568315. doi:10.1101/2023.11.22.568315"
)
FILES = {
    "images/images_190923.zip": "e99a4df1c7476bdc4d565ff4408bc421976ecc3a22c41af6bfd0cfbddb508c0c",
    "images/images_190925.zip": "765b4d4372302d4ed72c3382d41ece5ca55d7dcc3d84da7402091253529b87d1",
    "images/images_190927.zip": "d2469cc2caa629d4ed38e8d4964fb1de8c0b29e9937c25ce1c5838bc4e382653",
    "images/images_190928.zip": "6d90fdf2341e038beb57c16ce85f48c3a2bdfd450bc1c6440489529aead0f161",
    "images/images_190929.zip": "7fea6a28c092acfa646145813f532b2ea1d5a22a0b1bdade47d392b8f6bfb3f0",
    "images/images_201025.zip": "3abb63679107665eab7220bdeaf7863832a1df943bf3d7792501f5082a55b2e8",
    "images/images_210224.zip": "e2690810bee34c2e2821e5dd504c7970f3441579bc57659f27d2c11678b52c6b",
    "images/images_210225.zip": "79bfb1066949a7f7bbd3c632ab420c2230b966b80cade76593d8745aea49b7f6",
    "images/images_210305.zip": "9fab651e9c2d0b44091c2ea238c78d68fedf573cd7d4ae6b0545c5d84c121776",
    "images/images_210325.zip": "992774eca3508a2ad01accb1a31f5f3e3d90248c49f4eec314f2a915a263e454",
    "responses_raw/responses_201016.npy": "d04e4f21d546f29d17a999826f690a56bb0ef1730b184d14096d20b94237e2dd",
    "responses_raw/responses_210325.npy": "4008dbbf31a47d9b1b8d8da609f4a7a3433c7071f0e45c611c220b217dd75b76",
    "responses_repeat_averaged/responses_190923.npy": "741672d36541ce39930c8a3b5bd1cfd33c187aa47b1549c9c5569bc21aa97a28",
    "responses_repeat_averaged/responses_190924.npy": "1a39ad365f73ece0f6890f2cb48115a2bb0a75b82190e3782ad2b77c41bf020d",
    "responses_repeat_averaged/responses_190925.npy": "2f94d7bcef0f68fecdb7472f509737fafac92477cf6b11a4966162b1b1072529",
    "responses_repeat_averaged/responses_190926.npy": "fe380cf96b7262d0af039e4872c6f33c68dcea96344eabc5934acc0af1db0417",
    "responses_repeat_averaged/responses_190927.npy": "4c3c75ec72bc4bd3f0e22987a7b2e7e962af249d6577e8a6d727ea9075bde034",
    "responses_repeat_averaged/responses_190928.npy": "41707e2d31ace45da6d181ad28a91c299971d42430c91cc738602523e7d7eda6",
    "responses_repeat_averaged/responses_190929.npy": "18639c9e2b2baed54c4fb22e311d84dafbd986a12069370b1004880a721d2c4a",
    "responses_repeat_averaged/responses_201016.npy": "fa2b653eae8bbebc1c320e3e9d8c746699713e79dcba4fde22ecd75788d452f8",
    "responses_repeat_averaged/responses_201017.npy": "5e92809cfce031ffe9c2e228831ee89d48a1b63f4e6b22272952e547faba3222",
    "responses_repeat_averaged/responses_201018.npy": "21b24ea9edb4f2c70e064ec772f25fbd91686062b55f90e433b20a5f3930a105",
    "responses_repeat_averaged/responses_201019.npy": "c03108b8b9e145dc9ce636b478a083c40d46c7426acbb6606ad974dc8a9bfadf",
    "responses_repeat_averaged/responses_201020.npy": "5dedc8b28da166aba9a8b8c5c4056fc8b5141e56558e9444161909d4465ae17f",
    "responses_repeat_averaged/responses_201021.npy": "043cf4f11bf43144a487325779d4c06fa6b15c4fba677783c63a1c9e39d8d722",
    "responses_repeat_averaged/responses_201022.npy": "88e3716a51f610d7c27708ec77575dab9f6586f5f7d1257b9d2a8884e19ee50a",
    "responses_repeat_averaged/responses_201023.npy": "30470f693f4def636d9702ae768260e2901d6769dd67f9dae564db44b3b0d21c",
    "responses_repeat_averaged/responses_201024.npy": "4c63e05fcf31aa7e52f0e80ecabe8c13519650b781765a66c94d24fb3efac90b",
    "responses_repeat_averaged/responses_201025.npy": "f729f3dc0d29aa38bd380c0da9e39aba916f9e2580949929b65d1714e7217a8a",
    "responses_repeat_averaged/responses_210224.npy": "4dbb7367707a5ca47ab4cea863bbf4e9765b8409cb30216693721bddfad7abfe",
    "responses_repeat_averaged/responses_210225.npy": "853f196247504fa2526b507f56ee5237711ed166f295f7cb23ec5441a7bf789b",
    "responses_repeat_averaged/responses_210226.npy": "6d21db026b823312c47d3601b9569a7dfd2c9ae69be7c8f3d6f93c406d3e1ddf",
    "responses_repeat_averaged/responses_210301.npy": "5b16307b8f6fc1b8ddc213c010bbc9929eef3814af4762f87fcda23d09752c88",
    "responses_repeat_averaged/responses_210302.npy": "9ddf45d3a9508a6ee907b9ea5b32df1b5a480c86fbaf1661f80f198b44398c12",
    "responses_repeat_averaged/responses_210303.npy": "20c2f98a1d217914db7357e36e850facf0d62f1cf00a1134cfa7bc8b9d641559",
    "responses_repeat_averaged/responses_210304.npy": "93c6946d0f2a8240dbff5fbf23b552ff9b0b8db101f23d7d96dedb011a5326f9",
    "responses_repeat_averaged/responses_210305.npy": "00dce8d39558bfc3f5dd55c6f678c05de1b63895d56193379fd7dfe41fc703f0",
    "responses_repeat_averaged/responses_210308.npy": "b1a8f2f59892987e16c1d6f369c07ec0edb7e2d9b27bbefc2db9ebeba20f0e21",
    "responses_repeat_averaged/responses_210309.npy": "6c5085ff0a72077cd9c102c6017b0b6dc08a501bde6e656fd72f5b59dd5f1596",
    "responses_repeat_averaged/responses_210310.npy": "125769bbb422ce5b6a302da41b526c63ef96160620294855524b5e0fecbe26a9",
    "responses_repeat_averaged/responses_210312.npy": "4ddecaa396c3d92d458c8de15f126f4a19b47f64a31119097aa99ab1eafcc2fd",
    "responses_repeat_averaged/responses_210315.npy": "9731fd7db5257c11bfb02d94e52774ff2a0fc5bcfbbcd15ffb3e5ebd6f68fc3d",
    "responses_repeat_averaged/responses_210316.npy": "a4ce10039b2b3a5f0eba8e82b2d62dca9d26279f4aeaf622851980d224a4b1fe",
    "responses_repeat_averaged/responses_210323.npy": "96b7f4eefc6e61d5f15740453550e94ba06b1ac56a2f79ef9969effe8f220cb3",
    "responses_repeat_averaged/responses_210324.npy": "b00f23305b5ef8c0817046697ec125f4d0c14c59b675f0d76f66721e3d0ccef3",
    "responses_repeat_averaged/responses_210325.npy": "555e67037182611969ab90da291dcc39601de4411f651a64ad60e90572cf59d3",
    "responses_repeat_averaged/responses_210326.npy": "d8bfc77cebc112dbb05593330ccfe66149f1ee8c37c5f4094989399860874f04",
    "responses_repeat_averaged/responses_210620.npy": "b68afcfd91b420e6a6217c18fab5966834c46650bb0c74107dd64f90e4065d06",
    "responses_repeat_averaged/responses_211008.npy": "279c5130b5d3bff2bfbdbbea496efdad8a3914169646d2daefebef5e9bee8a2b",
    "responses_repeat_averaged/responses_211012.npy": "75cf0b06a523028c36211daddd9c49231adaf0a3daddd31fca41916e082803fb",
    "responses_repeat_averaged/responses_211013.npy": "7a99f10c2049ed8c6345310b9a49566dd72decdfd1d94f15afd0ef8159859563",
    "responses_repeat_averaged/responses_211014.npy": "c87c5bb597acf7965472e9a964a6f40ddbc2fd46ca8ca8ae6073254174b3a8ce",
    "responses_repeat_averaged/responses_211015.npy": "92f95e94c8a7ae583fe779065b9e5c1c722f979e56f64d4d7049473da0f49656",
    "responses_repeat_averaged/responses_211018.npy": "3c2af5dae76bada6f2cc21f550a3151d9e07eade2c07995375b4e3a65fd7e385",
    "responses_repeat_averaged/responses_211022.npy": "17beafcc19018f4a0833b41deb2bc25636328461e4bdc08b4d0e1fde46f7e146",
    "responses_repeat_averaged/responses_211025.npy": "9d91c98f0115ffac1268d335b516460c82b0ba53f22ab99e97a2f70361aed335",
    "responses_repeat_averaged/responses_211026.npy": "1a7a1aaaf56df17aa6fedd42b44cc4005950ce7004a3474f091ce93b1c54885b",
    "responses_repeat_averaged/responses_211027.npy": "a6f7bbde8196d94b653996bedcf73ae62c5402a0f84755afcd134fa6c4511f20",
    "responses_repeat_averaged/responses_211028.npy": "3fe02b04445ddb9e9ad340323d8564519d74261106a57419ef94341c9d260bcc",
    "responses_repeat_averaged/responses_211103.npy": "df28097614478b915ea6f2a083f0795dd639f45a84656862555f2708f2f12045",
}

_THIS = sys.modules[__name__]
SESSIONS = tuple(sorted(k.split("_")[-1][:6] for k in FILES if k.startswith("responses_repeat_averaged/")))
SESSIONS_WITH_IMAGES = tuple(sorted(k.split("_")[-1][:6] for k in FILES if k.startswith("images/")))
RAW_SESSIONS = tuple(sorted(k.split("_")[-1][:6] for k in FILES if k.startswith("responses_raw/")))
#: authors' split of sessions (readme.txt); all others are 'train'
SPLIT = {"190923": "test", "201025": "test", "210225": "test", "210325": "test", "211022": "test", "210224": "validation"}
IMAGE_SIZE = 112


def _animal(session: str) -> str:
    """Monkey of a session, from the authors' session table (WE 2019, PE 2020-Mar 2021, RA later)."""
    if session.startswith("19"):
        return "WE"
    return "PE" if session < "2106" else "RA"


def _check_session(session: str | int, allowed: Sequence[str], what: str, verify: bool = True) -> str:
    session = str(session)
    if session not in allowed:
        kind = f"{what} session" if what else "session"
        if not verify:
            if not session.isdigit() or len(session) != 6:
                raise ValueError(f"A session is named by its date, six digits (YYMMDD, e.g. '210322'); got {session!r}.")
            return session  # fetch(strict=False) warns that its files are not checksummed
        raise ValueError(
            f"Unknown {kind} {session!r}. Available: {', '.join(allowed)}. For a session whose files "
            "you have but that is not in the checksummed list, pass verify=False."
        )
    return session


def _stimulus_ids(session: str, n: int) -> np.ndarray:
    return np.array([f"{session}_img{i:04d}" for i in range(1, n + 1)])


def _unit_coords(session: str, n_units: int) -> tuple[np.ndarray, dict]:
    ids = np.array([f"{session}_n{j:03d}" for j in range(n_units)])
    coords = {
        "region": ("unit", np.full(n_units, "V4")),
        "session": ("unit", np.full(n_units, session)),
        "animal": ("unit", np.full(n_units, _animal(session))),
    }
    return ids, coords


@file_cache(maxsize=8)
def _npy_cached(path: str, size: int, mtime_ns: int) -> np.ndarray:
    arr = np.asarray(read_npy(path), dtype=np.float64)
    arr.setflags(write=False)
    return arr


def _npy(relpath: str, root, verify: bool = True) -> np.ndarray:
    path = fetch(_THIS, relpath, root, check=verify, strict=verify)
    return _npy_cached(str(path), *stamp(path))


@file_cache(maxsize=3)
def _images_cached(path: str, size: int, mtime_ns: int) -> np.ndarray:
    Image = require("PIL.Image", "loading the Cowley 2023 V4 images")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise ValueError(f"{path} is not a readable zip file (truncated or corrupt?): {err}") from err
    with zf:
        names = sorted(n for n in zf.namelist() if n.lower().endswith(".jpg"))
        images = np.empty((len(names), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
        for i, name in enumerate(names):
            with Image.open(io.BytesIO(zf.read(name))) as im:
                arr = np.asarray(im.convert("RGB"))
            if arr.shape != images.shape[1:]:
                raise ValueError(f"{path}:{name} has shape {arr.shape}; expected {images.shape[1:]}.")
            images[i] = arr
    images.setflags(write=False)
    return images


def load_images(session: str | int, root: str | os.PathLike | None = None, *, verify: bool = True) -> xr.DataArray:
    """The images shown in one session (decoded once per process and cached).

    Parameters
    ----------
    session : str
        One of :data:`SESSIONS_WITH_IMAGES`.
    root : path-like, optional
        Data root (see ``data_loaders.get_root``).
    verify : bool
        Check the zip against its sha256 and allow only listed sessions (default). False reads a
        session beyond the list, with a warning.

    Returns
    -------
    xarray.DataArray, dims ('stimulus', 'height', 'width', 'channel'), shape (n, 112, 112, 3), uint8
        Coords ``stimulus_id`` ('<session>_img0001' ...) and ``session``.
    """
    session = _check_session(session, SESSIONS_WITH_IMAGES, "image", verify)
    path = fetch(_THIS, f"images/images_{session}.zip", root, check=verify, strict=verify)
    images = _images_cached(str(path), *stamp(path)).copy()
    n = images.shape[0]
    return xr.DataArray(
        images,
        dims=("stimulus", "height", "width", "channel"),
        coords={"stimulus_id": ("stimulus", _stimulus_ids(session, n)), "session": ("stimulus", np.full(n, session))},
        attrs={"source": "cowley2023_v4", "citation": CITATION},
    )


def load_stimuli(root: str | os.PathLike | None = None, session: str | int = "210325") -> xr.DataArray:
    """The images of one session (default 210325); same as :func:`load_images` (for the CLI's ``--dataset``)."""
    return load_images(session, root)


def _maybe_images(session: str, root, images: bool, n: int, verify: bool = True) -> xr.DataArray | None:
    if not images:
        return None
    if session not in SESSIONS_WITH_IMAGES:
        from data_loaders._fetch import dataset_dir

        if verify or not (dataset_dir(_THIS, root) / f"images/images_{session}.zip").is_file():
            return None
    stim = load_images(session, root, verify=verify)
    if stim.sizes["stimulus"] != n:
        raise ValueError(
            f"Session {session}: {stim.sizes['stimulus']} images but {n} response columns; the files do not match."
        )
    return stim


def load(
    session: str | int = "210325", root: str | os.PathLike | None = None, *, images: bool = True, verify: bool = True
) -> tuple[xr.DataArray, xr.DataArray | None]:
    """Repeat-averaged V4 responses of one session, with its images when they exist.

    Parameters
    ----------
    session : str
        One of :data:`SESSIONS` (48 sessions); default '210325' (Bashivan et al. 2019 images).
    root : path-like, optional
        Data root.
    images : bool
        Also decode the session's images (10 sessions have them; others give ``None``).
    verify : bool
        Check every file against its sha256 and allow only the listed sessions (default). False
        reads a session beyond the list (same file layout) with an ``UnverifiedDataWarning``.

    Returns
    -------
    responses : Responses, dims ('stimulus', 'unit'), spike counts per 100 ms (repeat means)
        Coords ``session_of_stimulus`` (stimulus) and ``region``/``session``/``animal`` (unit);
        attrs ``session`` and ``split`` (the authors' train/test/validation role of the session).
    stimuli : DataArray (stimulus, height, width, channel) uint8, or None
    """
    session = _check_session(session, SESSIONS, "", verify)
    counts = _npy(f"responses_repeat_averaged/responses_{session}.npy", root, verify)  # (neurons, images)
    if counts.ndim != 2:
        raise ValueError(f"Session {session}: expected a 2-D (neurons, images) array; got shape {counts.shape}.")
    n_units, n_images = counts.shape
    unit_ids, coords = _unit_coords(session, n_units)
    coords["session_of_stimulus"] = ("stimulus", np.full(n_images, session))
    resp = make_responses(
        counts.T.copy(),
        stimulus_ids=_stimulus_ids(session, n_images),
        unit_ids=unit_ids,
        coords=coords,
        source="cowley2023_v4",
        citation=CITATION,
        units="spike count per 100 ms (mean over repeats)",
        session=session,
        split=SPLIT.get(session, "train"),
    )
    return resp, _maybe_images(session, root, images, n_images, verify)


def load_raw(
    session: str | int = "210325", root: str | os.PathLike | None = None, *, images: bool = True, verify: bool = True
) -> tuple[xr.DataArray, xr.DataArray | None]:
    """Single-repeat V4 responses, NaN-padded where an image had fewer repeats.

    Parameters
    ----------
    session : {'210325', '201016'}
        210325 has images (50 neurons × 640 images × up to 10 repeats); 201016 has none.
    root : path-like, optional
        Data root.
    images : bool
        Also decode the session's images when they exist.
    verify : bool
        Check the files' sha256 and allow only the listed raw sessions (default). False reads the
        raw repeats of another session (same layout) with an ``UnverifiedDataWarning``.

    Returns
    -------
    responses : Responses, dims ('stimulus', 'unit', 'repetition'), NaN-padded (never filled)
        ``attrs['n_repeats_min']`` / ``['n_repeats_max']`` give the range of valid repeats.
    stimuli : DataArray or None
    """
    session = _check_session(session, RAW_SESSIONS, "raw", verify)
    counts = _npy(f"responses_raw/responses_{session}.npy", root, verify)  # (neurons, images, repeats)
    if counts.ndim != 3:
        raise ValueError(f"Session {session}: expected a 3-D (neurons, images, repeats) array; got {counts.shape}.")
    n_units, n_images, _ = counts.shape
    unit_ids, coords = _unit_coords(session, n_units)
    valid = ~np.isnan(counts).all(axis=0)  # (images, repeats)
    n_valid = valid.sum(axis=1)
    resp = make_responses(
        np.transpose(counts, (1, 0, 2)).copy(),
        stimulus_ids=_stimulus_ids(session, n_images),
        unit_ids=unit_ids,
        dims=("stimulus", "unit", "repetition"),
        coords=coords,
        allow_nan=True,
        source="cowley2023_v4",
        citation=CITATION,
        units="spike count per 100 ms",
        session=session,
        n_repeats_min=int(n_valid.min()),
        n_repeats_max=int(n_valid.max()),
    )
    return resp, _maybe_images(session, root, images, n_images, verify)


def load_pooled(
    root: str | os.PathLike | None = None,
    sessions: Sequence[str] | None = None,
    *,
    images: bool = True,
    progress: bool = True,
) -> tuple[xr.DataArray, xr.DataArray | None]:
    """All sessions with images pooled into one benchmark set (block layout).

    Each session showed its own images to its own neurons, so the pooled array is
    block-diagonal: the stimulus dim concatenates the sessions' images and the unit dim their
    neurons; entry (image of session A, neuron of session B) is NaN (not recorded). Per-unit
    measures (regression predictivity, per-neuron ceilings) use each unit's own block; select
    one block with ``resp.sel(stimulus=resp.session_of_stimulus == s, unit=resp.session == s)``.

    Parameters
    ----------
    root : path-like, optional
        Data root.
    sessions : sequence of str, optional
        Subset of :data:`SESSIONS_WITH_IMAGES` (default all 10: 10,240 images, 488 neurons).
    images : bool
        Also decode the images (about 10,000 JPEGs, ~400 MB as uint8); False returns ``None``.
    progress : bool
        Show a tqdm bar over sessions (silent with ``NEUROCOMPARE_QUIET=1``).

    Returns
    -------
    responses : Responses, dims ('stimulus', 'unit'), NaN outside each session's block
        Coords ``session_of_stimulus`` (stimulus), ``session``/``animal``/``region`` (unit).
    stimuli : DataArray (stimulus, 112, 112, 3) uint8 with the same ``stimulus_id`` order, or None
    """
    from tqdm.auto import tqdm

    sessions = list(SESSIONS_WITH_IMAGES if sessions is None else [str(s) for s in sessions])
    for s in sessions:
        _check_session(s, SESSIONS_WITH_IMAGES, "image")
    from neurocompare._options import progress_enabled

    quiet = not progress_enabled(progress)
    blocks, stims = [], []
    for s in tqdm(sessions, desc="cowley2023_v4 sessions", disable=quiet):
        resp, stim = load(s, root, images=images)
        blocks.append(resp)
        stims.append(stim)
    n_stim = sum(b.sizes["stimulus"] for b in blocks)
    n_unit = sum(b.sizes["unit"] for b in blocks)
    values = np.full((n_stim, n_unit), np.nan)
    i = j = 0
    for b in blocks:
        values[i : i + b.sizes["stimulus"], j : j + b.sizes["unit"]] = b.values
        i += b.sizes["stimulus"]
        j += b.sizes["unit"]

    def cat(coord: str) -> np.ndarray:
        return np.concatenate([np.asarray(b[coord].values) for b in blocks])

    pooled = make_responses(
        values,
        stimulus_ids=cat("stimulus_id"),
        unit_ids=cat("unit_id"),
        coords={
            "session_of_stimulus": ("stimulus", cat("session_of_stimulus")),
            "session": ("unit", cat("session")),
            "animal": ("unit", cat("animal")),
            "region": ("unit", cat("region")),
        },
        allow_nan=True,
        source="cowley2023_v4",
        citation=CITATION,
        units="spike count per 100 ms (mean over repeats)",
        layout="block-diagonal by session; NaN = neuron not recorded for that image",
        sessions=",".join(sessions),
    )
    stimuli = xr.concat(stims, dim="stimulus") if images else None
    return pooled, stimuli
