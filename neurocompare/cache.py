"""An on-disk cache of model activations, so a benchmark re-run does not re-run the model.

One entry is one layer's ``Responses`` for one model on one stimulus set, stored as a NetCDF file
through :func:`neurocompare.data.save`. The key is a SHA-256 of everything that determines the
activations:

- ``model``: the hash of the model's weights and buffers (:func:`weights_hash`),
- ``code``: the code that computes the activations (:func:`model_code_hash`: the package
  version and a SHA-256 of the source file of every module class in the model, or a version
  the user gives), so editing ``forward`` with the same weights misses the cache,
- ``stimuli``: the hash of the stimulus set, ids and pixels/samples (:func:`stimulus_hash`),
- ``layer``: the recorded module name,
- ``preprocessing``: the preprocessing description (resize, normalization, ...),
- ``reduce``: how a layer output became units (``flatten``, ``avgpool``, ...); a callable by its
  import path and a hash of its code, constants, defaults and closure (:func:`callable_identity`),
  so two different lambdas never share an entry. A transform without a ``preprocessing``
  description is keyed the same way. Code that cannot be identified (no source, closures
  over objects without a stable repr) is not cached: the layers are computed, with a warning.

Safety:

- writes are atomic (:func:`neurocompare.data.save`: unique temporary file, fsync, rename); a
  write that fails (read-only folder, full disk) is a warning, never fatal: the activations are
  returned and the cache is not written again in that session. Temporary files of killed writers
  are swept when the cache is opened and by :meth:`ActivationCache.clear`;
- every entry carries a SHA-256 checksum of its values and ids in its attrs; an entry whose file
  cannot be read, whose checksum does not match, or whose key fields differ from the request is
  reported, deleted and recomputed, never trusted;
- every hit, miss and corrupt entry is logged on the ``neurocompare.cache`` logger and counted in
  :attr:`ActivationCache.stats`, and :func:`cached_extract` prints one line saying how many layers
  came from the cache, so a stale cache is visible.

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
{'hits': 1, 'misses': 1, 'corrupt': 0, 'writes': 1, 'failed_writes': 0}
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import sys
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._atomic import sweep_stale_tmp
from neurocompare._options import cache_dir, get_options
from neurocompare.data import load, save
from neurocompare.models import weights_hash  # one definition, re-exported for the cache's users

__all__ = [
    "ActivationCache",
    "CACHE_FORMAT",
    "cached_extract",
    "callable_identity",
    "default_cache_dir",
    "model_code_hash",
    "responses_checksum",
    "stimulus_hash",
    "weights_hash",
]

LOG = logging.getLogger("neurocompare.cache")
CACHE_FORMAT = 3  # bump when the stored layout or what a key means changes; old entries then miss
# 2: random projections drawn from the one seeding scheme (neurocompare._seeding)
# 3: the key holds the code identity (model_code_hash) and callables by their code


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


# ----------------------------------------------------------------------------- code identity
_CLASS_HASHES: dict[type, str | None] = {}


def _package_version() -> str:
    from neurocompare import __version__

    return __version__


def _class_source_hash(cls: type) -> str | None:
    """SHA-256 of the source file defining ``cls`` (its class source when the file is unreadable)."""
    if cls in _CLASS_HASHES:
        return _CLASS_HASHES[cls]
    digest = None
    try:
        src_file = inspect.getsourcefile(cls)
        if src_file and os.path.isfile(src_file):
            with open(src_file, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
        else:
            digest = hashlib.sha256(inspect.getsource(cls).encode()).hexdigest()
    except (OSError, TypeError):
        digest = None
    _CLASS_HASHES[cls] = digest
    return digest


def model_code_hash(model: Any, model_version: str | None = None) -> str | None:
    """Identity of the code that computes a model's activations, for the cache key.

    Parameters
    ----------
    model : torch.nn.Module
    model_version : str, optional
        A version the user vouches for (also read from a ``neurocompare_model_version``
        attribute of the model); replaces the source hashes.

    Returns
    -------
    str or None
        64 hex digits: SHA-256 of the neurocompare and torch versions and, for every module class
        in ``model`` outside torch, its qualified name and the hash of its source file. ``None``
        when some class has no readable source (defined interactively) and no version is given:
        such a model is not cached.
    """
    import torch

    version = model_version if model_version is not None else getattr(model, "neurocompare_model_version", None)
    parts = [f"neurocompare={_package_version()}", f"torch={torch.__version__}"]
    if version is not None:
        parts.append(f"user-version={version}")
    else:
        modules = model.modules() if hasattr(model, "modules") else [model]
        classes = sorted({type(m) for m in modules}, key=lambda c: (c.__module__, c.__qualname__))
        for cls in classes:
            name = f"{cls.__module__}.{cls.__qualname__}"
            if cls.__module__.split(".")[0] == "torch":
                parts.append(name)
                continue
            digest = _class_source_hash(cls)
            if digest is None:
                return None
            parts.append(f"{name}@{digest}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _stable_repr(value: Any) -> str | None:
    text = repr(value)
    return None if " at 0x" in text or "object at" in text else text


def _code_digest(code: types.CodeType, h: "hashlib._Hash") -> None:
    h.update(code.co_code)
    h.update(repr(code.co_names).encode())
    h.update(repr(code.co_varnames).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(const, h)
        else:
            h.update(repr(const).encode())


def callable_identity(fn: Any) -> str | None:
    """A stable key for a callable (a reducer or a transform), or ``None`` when it has none.

    Named functions, lambdas and closures are keyed by their import path and a SHA-256 of their
    bytecode, constants, defaults and closure values, so two different lambdas (even on one
    line) get different keys and the same function gets the same key in every process.
    ``functools.partial`` adds its arguments; an object with a ``describe()`` method (a
    ``Preprocessing``) is keyed by that description and its class source.

    Returns
    -------
    str or None
        ``None`` when some part has no stable text (a closure over an object whose repr is its
        memory address, a builtin without a name): such a callable is not cached.
    """
    import functools

    if isinstance(fn, functools.partial):
        inner = callable_identity(fn.func)
        args = _stable_repr((fn.args, sorted(fn.keywords.items())))
        return None if inner is None or args is None else f"partial({inner}, {args})"
    if hasattr(fn, "describe") and callable(fn.describe):
        try:
            desc = _canonical(fn.describe())
        except Exception:  # noqa: BLE001
            return None
        digest = _class_source_hash(type(fn))
        return None if digest is None else f"{type(fn).__qualname__}@{digest[:16]}:{desc}"
    func = getattr(fn, "__func__", fn)  # bound methods: the function
    code = getattr(func, "__code__", None)
    name = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', type(fn).__name__)}"
    if code is None:
        qualname = getattr(func, "__qualname__", "")
        module = getattr(func, "__module__", None) or ""
        if isinstance(fn, (types.BuiltinFunctionType, np.ufunc)) or (qualname and "<" not in qualname and module):
            # compiled code (a builtin, numpy's dispatchers): its name and its package's version
            top = sys.modules.get(module.split(".")[0])
            return f"{name}=={getattr(top, '__version__', '?')}"
        digest = _class_source_hash(type(fn))  # a callable object: its class and its state
        state = _stable_repr(sorted(vars(fn).items())) if hasattr(fn, "__dict__") else ""
        return None if digest is None or state is None else f"{name}@{digest[:16]}:{state}"
    h = hashlib.sha256()
    _code_digest(code, h)
    for part in (getattr(func, "__defaults__", None), getattr(func, "__kwdefaults__", None)):
        text = _stable_repr(part)
        if text is None:
            return None
        h.update(text.encode())
    for cell in getattr(func, "__closure__", None) or ():
        try:
            content = cell.cell_contents
        except ValueError:  # an empty cell
            content = None
        text = callable_identity(content) if callable(content) else _stable_repr(content)
        if text is None:
            return None
        h.update(text.encode())
    return f"{name}@{h.hexdigest()[:16]}"


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
        self.stats = {"hits": 0, "misses": 0, "corrupt": 0, "writes": 0, "failed_writes": 0}
        self._fields: dict[str, dict[str, Any]] = {}
        self._writable = True
        try:  # temporary files left by killed writers (older than an hour, or of dead processes)
            sweep_stale_tmp(self.root)
        except OSError:
            pass

    def __repr__(self) -> str:
        return f"ActivationCache({str(self.root)!r}, stats={self.stats})"

    # -- keys
    def key(
        self,
        *,
        model: str,
        stimuli: str,
        layer: str,
        preprocessing: Mapping[str, Any] | None,
        reduce: Any,
        code: str | None = None,
    ) -> str:
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
        code : str, optional
            :func:`model_code_hash` of the model (:func:`cached_extract` always gives it).
        """
        for name, value in (("model", model), ("stimuli", stimuli), ("layer", layer)):
            if not isinstance(value, str) or not value:
                raise TypeError(f"The cache key field {name!r} must be a non-empty string; got {value!r}.")
        fields = {
            "format": CACHE_FORMAT,
            "model": model,
            "code": code,
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

    def put(self, key: str, resp: xr.DataArray) -> Path | None:
        """Store ``resp`` under ``key`` atomically, with its checksum and key fields in the attrs.

        Returns
        -------
        pathlib.Path or None
            The entry's file, or ``None`` when it could not be written (read-only folder, full
            disk): that is a warning, never an error, and later writes of this cache are skipped.
        """
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
        if not self._writable:
            self.stats["failed_writes"] += 1
            return None
        try:
            path = save(stored, self.path(key))
        except OSError as err:
            self._writable = False
            self.stats["failed_writes"] += 1
            message = (
                f"could not write to the activation cache ({err}); continuing without caching. "
                "Free space, fix the folder's permissions, choose another with --cache-dir, or pass --no-cache."
            )
            LOG.warning(message)
            warnings.warn(f"neurocompare.cache: {message}", RuntimeWarning, stacklevel=2)
            return None
        self.stats["writes"] += 1
        LOG.debug("wrote %s", path)
        return path

    def clear(self) -> int:
        """Delete every entry and every temporary file of a killed writer; return how many files were removed."""
        n = 0
        if self.root.is_dir():
            for f in self.root.glob("*/*.nc"):
                f.unlink()
                n += 1
            n += sweep_stale_tmp(self.root, max_age_s=0.0)
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
    model_version: str | None = None,
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
        Description of ``extract_kwargs['transform']``; part of the key. Without it, a transform
        is keyed by :func:`callable_identity`.
    reduce : str or callable
        Passed to ``extract``; part of the key (a callable by :func:`callable_identity`).
    extract_fn : callable, optional
        Replacement for ``extract`` (tests).
    model_version : str, optional
        A version of the model's code you vouch for, instead of the source hashes of
        :func:`model_code_hash` (e.g. for a model defined in a notebook).
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
    code = model_code_hash(model, model_version)
    reduce_key = callable_identity(reduce) if callable(reduce) else reduce
    if reduce == "random_projection":
        reduce_key = f"random_projection:{extract_kwargs.get('n_components', 1000)}:{extract_kwargs.get('seed', 0)}"
    transform = extract_kwargs.get("transform")
    if preprocessing is None and transform is not None:
        transform_key = callable_identity(transform)
        preprocessing = None if transform_key is None else {"transform": transform_key}
    else:
        transform_key = "described"
    unknown = [what for what, value in (("the model's code", code), ("the reducer", reduce_key), ("the transform", transform_key)) if value is None]
    if unknown:
        message = (
            f"not caching: {' and '.join(unknown)} cannot be identified (no source file, or a closure over an object "
            "without a stable repr), so a cached entry could be stale. Define it in a module file, or pass "
            "model_version= / preprocessing= to vouch for it."
        )
        LOG.warning(message)
        warnings.warn(f"neurocompare.cache: {message}", RuntimeWarning, stacklevel=2)
        out = extract_fn(model, stimuli, layers, reduce=reduce, **extract_kwargs)
        return {k: v.load() for k, v in out.items()}
    model_hash = model_hash or weights_hash(model)
    stimuli_hash = stimuli_hash or stimulus_hash(stimuli)
    keys = {
        layer: cache.key(model=model_hash, stimuli=stimuli_hash, layer=layer, preprocessing=preprocessing, reduce=reduce_key, code=code)
        for layer in layers
    }
    result: dict[str, xr.DataArray] = {}
    for layer, key in keys.items():
        hit = cache.get(key)
        if hit is not None:
            result[layer] = hit
    if result:
        cache._say(
            logging.INFO,
            f"{len(result)} of {len(layers)} layer(s) from the activation cache {cache.root} "
            "(--no-cache or ActivationCache.clear() to recompute)",
        )
    missing = [layer for layer in layers if layer not in result]
    if missing:
        fresh = extract_fn(model, stimuli, missing, reduce=reduce, **extract_kwargs)
        for layer in missing:
            resp = fresh[layer].load()
            cache.put(keys[layer], resp)
            result[layer] = resp
    return {layer: result[layer] for layer in layers}
