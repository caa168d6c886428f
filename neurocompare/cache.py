"""An on-disk cache of model activations, so a benchmark re-run does not re-run the model.

One entry is one layer's ``Responses`` for one model on one stimulus set, stored as a NetCDF file
through :func:`neurocompare.data.save`. The key is a SHA-256 of everything that determines the
activations:

- ``model``: the hash of the model's weights and buffers (:func:`weights_hash`),
- ``stimuli``: the hash of the stimulus set, ids and pixels/samples (:func:`stimulus_hash`),
- ``layer``: the recorded module name,
- ``preprocessing``: the preprocessing description (resize, normalization, ...),
- ``reduce``: how a layer output became units (``flatten``, ``avgpool``, ...).

Safety:

- writes are atomic (:func:`neurocompare.data.save` writes a temporary file and renames it);
- every entry carries a SHA-256 checksum of its values and ids in its attrs; an entry whose file
  cannot be read, whose checksum does not match, or whose key fields differ from the request is
  reported, deleted and recomputed, never trusted;
- every hit, miss and corrupt entry is logged on the ``neurocompare.cache`` logger and counted in
  :attr:`ActivationCache.stats`, so a stale cache is visible.

Examples
--------
>>> import tempfile, numpy as np
>>> from neurocompare.data import make_responses
>>> cache = ActivationCache(tempfile.mkdtemp(), verbose=False)
>>> key = cache.key(model="m" * 64, stimuli="s" * 64, layer="conv1", preprocessing={}, reduce="avgpool")
>>> cache.get(key) is None
True
>>> _ = cache.put(key, make_responses(np.ones((4, 2))))
>>> cache.get(key).shape
(4, 2)
>>> cache.stats
{'hits': 1, 'misses': 1, 'corrupt': 0, 'writes': 1}
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._options import cache_dir, get_options
from neurocompare.data import load, save
from neurocompare.models import weights_hash  # one definition, re-exported for the cache's users

__all__ = [
    "ActivationCache",
    "CACHE_FORMAT",
    "cached_extract",
    "default_cache_dir",
    "responses_checksum",
    "stimulus_hash",
    "weights_hash",
]

LOG = logging.getLogger("neurocompare.cache")
CACHE_FORMAT = 2  # bump when the stored layout or what a key means changes; old entries then miss
# 2: random projections drawn from the one seeding scheme (neurocompare._seeding)


def default_cache_dir() -> Path:
    """The ``cache_dir`` option (``$NEUROCOMPARE_CACHE``), else ``~/.cache/neurocompare/activations``."""
    return cache_dir()


# ----------------------------------------------------------------------------- hashing
def _update_array(h: "hashlib._Hash", arr: np.ndarray) -> None:
    arr = np.ascontiguousarray(arr)
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    if arr.dtype.kind in "OUS":
        h.update("\x1f".join(str(v) for v in arr.ravel().tolist()).encode())
    else:
        h.update(memoryview(arr).cast("B"))


def stimulus_hash(stimuli: Any) -> str:
    """SHA-256 of a stimulus set: its ids (when present), dims, dtype and values.

    Parameters
    ----------
    stimuli : xarray.DataArray, numpy array or torch tensor
        For a DataArray the ``stimulus_id`` coord is included, so the same pixels under other ids
        hash differently (the cached Responses carry those ids).

    Returns
    -------
    str
        64 hex digits.
    """
    h = hashlib.sha256()
    if isinstance(stimuli, xr.DataArray):
        h.update(repr(tuple(stimuli.dims)).encode())
        if "stimulus_id" in stimuli.coords:
            _update_array(h, np.asarray(stimuli.stimulus_id.values).astype(str))
        _update_array(h, np.asarray(stimuli.values))
        return h.hexdigest()
    if hasattr(stimuli, "detach"):
        stimuli = stimuli.detach().cpu().numpy()
    arr = np.asarray(stimuli)
    if arr.dtype == object:
        raise TypeError("stimulus_hash() needs numeric stimuli (an array, tensor or DataArray); got objects.")
    _update_array(h, arr)
    return h.hexdigest()


def responses_checksum(resp: xr.DataArray) -> str:
    """SHA-256 of a Responses' values, dims and id coords (what the cache verifies on read)."""
    h = hashlib.sha256()
    h.update(repr(tuple(resp.dims)).encode())
    _update_array(h, np.asarray(resp.values))
    for coord in ("stimulus_id", "unit_id"):
        if coord in resp.coords:
            _update_array(h, np.asarray(resp[coord].values).astype(str))
    return h.hexdigest()


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))


# ----------------------------------------------------------------------------- the cache
class ActivationCache:
    """Activations on disk, keyed by model, stimuli, layer, preprocessing and reduction.

    Parameters
    ----------
    root : path-like, optional
        Folder of the cache (created on first write). Default :func:`default_cache_dir`.
    verbose : bool, optional
        Also print one line per hit / corrupt entry (besides logging). Default: on unless the
        ``progress`` option is False (``NEUROCOMPARE_QUIET``).

    Attributes
    ----------
    stats : dict
        Counts of ``hits``, ``misses``, ``corrupt`` entries and ``writes`` since creation.
    """

    def __init__(self, root: str | os.PathLike | None = None, *, verbose: bool | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        if verbose is None:
            verbose = get_options()["progress"] is not False
        self.verbose = bool(verbose)
        self.stats = {"hits": 0, "misses": 0, "corrupt": 0, "writes": 0}
        self._fields: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"ActivationCache({str(self.root)!r}, stats={self.stats})"

    # -- keys
    def key(self, *, model: str, stimuli: str, layer: str, preprocessing: Mapping[str, Any] | None, reduce: Any) -> str:
        """The cache key (64 hex digits) of one layer's activations.

        Parameters
        ----------
        model : str
            :func:`weights_hash` of the model.
        stimuli : str
            :func:`stimulus_hash` of the stimulus set.
        layer : str
        preprocessing : mapping
            JSON-serialisable description of the preprocessing applied before the model.
        reduce : str
            The reduction passed to :func:`neurocompare.activations.extract` (with its
            parameters, e.g. ``"random_projection:1000:0"``).
        """
        for name, value in (("model", model), ("stimuli", stimuli), ("layer", layer)):
            if not isinstance(value, str) or not value:
                raise TypeError(f"The cache key field {name!r} must be a non-empty string; got {value!r}.")
        fields = {
            "format": CACHE_FORMAT,
            "model": model,
            "stimuli": stimuli,
            "layer": layer,
            "preprocessing": dict(preprocessing or {}),
            "reduce": reduce if isinstance(reduce, str) else _canonical(reduce),
        }
        key = hashlib.sha256(_canonical(fields).encode()).hexdigest()
        self._fields[key] = fields
        return key

    def path(self, key: str) -> Path:
        """Where the entry ``key`` lives: ``root/<key[:2]>/<key>.nc``."""
        return self.root / key[:2] / f"{key}.nc"

    # -- read / write
    def _say(self, level: int, message: str) -> None:
        LOG.log(level, message)
        if self.verbose:
            print(f"[neurocompare.cache] {message}")

    def _discard(self, path: Path, reason: str) -> None:
        self.stats["corrupt"] += 1
        self._say(logging.WARNING, f"corrupt entry {path.name} ({reason}); deleting it and recomputing")
        try:
            path.unlink()
        except OSError:
            pass

    def get(self, key: str) -> xr.DataArray | None:
        """Return the cached Responses for ``key``, or ``None`` when absent or corrupt.

        A corrupt entry (unreadable file, checksum mismatch, key mismatch) is deleted, counted in
        ``stats['corrupt']`` and logged as a warning; the caller recomputes it.
        """
        path = self.path(key)
        if not path.exists():
            self.stats["misses"] += 1
            LOG.debug("miss %s", key)
            return None
        try:
            resp = load(path)
        except Exception as err:  # noqa: BLE001  (any read failure means: do not trust it)
            self._discard(path, f"unreadable: {type(err).__name__}: {err}")
            self.stats["misses"] += 1
            return None
        meta = resp.attrs.pop("neurocompare_cache", None)
        if not isinstance(meta, dict) or meta.get("key") != key:
            self._discard(path, "missing or foreign cache metadata")
            self.stats["misses"] += 1
            return None
        checksum = responses_checksum(resp)
        if checksum != meta.get("sha256"):
            self._discard(path, f"checksum mismatch: stored {str(meta.get('sha256'))[:12]}…, data {checksum[:12]}…")
            self.stats["misses"] += 1
            return None
        self.stats["hits"] += 1
        fields = meta.get("fields", {})
        self._say(
            logging.INFO,
            f"hit layer={fields.get('layer', '?')} model={str(fields.get('model', '?'))[:12]} "
            f"stimuli={str(fields.get('stimuli', '?'))[:12]} ({path})",
        )
        return resp

    def put(self, key: str, resp: xr.DataArray) -> Path:
        """Store ``resp`` under ``key`` atomically, with its checksum and key fields in the attrs."""
        if not isinstance(resp, xr.DataArray):
            raise TypeError(f"ActivationCache.put() takes Responses (a DataArray); got {type(resp).__name__}.")
        resp = resp.load() if hasattr(resp, "load") else resp
        stored = resp.copy(deep=False)
        stored.attrs = dict(resp.attrs)
        stored.attrs["neurocompare_cache"] = {
            "key": key,
            "sha256": responses_checksum(resp),
            "fields": self._fields.get(key, {}),
        }
        path = save(stored, self.path(key))
        self.stats["writes"] += 1
        LOG.debug("wrote %s", path)
        return path

    def clear(self) -> int:
        """Delete every entry; return how many files were removed."""
        n = 0
        if self.root.is_dir():
            for f in self.root.glob("*/*.nc"):
                f.unlink()
                n += 1
        return n

    def summary(self) -> str:
        """One line: hits, misses, corrupt entries and the folder."""
        s = self.stats
        return f"activation cache {self.root}: {s['hits']} hit(s), {s['misses']} miss(es), {s['corrupt']} corrupt"


def cached_extract(
    model: Any,
    stimuli: Any,
    layers: Sequence[str],
    *,
    cache: ActivationCache | None,
    model_hash: str | None = None,
    stimuli_hash: str | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    reduce: Any = "avgpool",
    extract_fn: Callable[..., dict[str, xr.DataArray]] | None = None,
    **extract_kwargs: Any,
) -> dict[str, xr.DataArray]:
    """:func:`neurocompare.activations.extract` through the cache: only missing layers are run.

    Parameters
    ----------
    model : torch.nn.Module
    stimuli : stimulus set accepted by ``extract``
    layers : sequence of str
    cache : ActivationCache or None
        ``None`` runs ``extract`` directly.
    model_hash, stimuli_hash : str, optional
        Precomputed :func:`weights_hash` / :func:`stimulus_hash` (computed when omitted).
    preprocessing : mapping, optional
        Description of ``extract_kwargs['transform']``; part of the key.
    reduce : str or callable
        Passed to ``extract``; part of the key (a callable by its module and qualified name).
    extract_fn : callable, optional
        Replacement for ``extract`` (tests).
    **extract_kwargs
        Passed to ``extract`` (``batch_size``, ``device``, ``transform``, ``progress``, ...).

    Returns
    -------
    dict of str to Responses
        One per layer, in memory, dims ('stimulus', 'unit').
    """
    if extract_fn is None:
        from neurocompare.activations import extract as extract_fn
    layers = list(layers)
    if cache is None:
        out = extract_fn(model, stimuli, layers, reduce=reduce, **extract_kwargs)
        return {k: v.load() for k, v in out.items()}
    model_hash = model_hash or weights_hash(model)
    stimuli_hash = stimuli_hash or stimulus_hash(stimuli)
    if callable(reduce):  # a named function: key on its import path, never on its address
        reduce_key = f"{getattr(reduce, '__module__', '')}.{getattr(reduce, '__qualname__', type(reduce).__name__)}"
    else:
        reduce_key = reduce
    if reduce == "random_projection":
        reduce_key = f"random_projection:{extract_kwargs.get('n_components', 1000)}:{extract_kwargs.get('seed', 0)}"
    keys = {
        layer: cache.key(model=model_hash, stimuli=stimuli_hash, layer=layer, preprocessing=preprocessing, reduce=reduce_key)
        for layer in layers
    }
    result: dict[str, xr.DataArray] = {}
    for layer, key in keys.items():
        hit = cache.get(key)
        if hit is not None:
            result[layer] = hit
    missing = [layer for layer in layers if layer not in result]
    if missing:
        fresh = extract_fn(model, stimuli, missing, reduce=reduce, **extract_kwargs)
        for layer in missing:
            resp = fresh[layer].load()
            cache.put(keys[layer], resp)
            result[layer] = resp
    return {layer: result[layer] for layer in layers}
