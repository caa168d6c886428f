"""Benchmark registrations that bind recorded datasets to metrics and ceilings.

Importing this module registers the data-backed benchmarks into
``neurocompare.benchmarks.BENCHMARKS`` (``neurocompare`` itself never imports ``data_loaders``;
the ``neurocompare score`` command imports this module on demand). Each builder takes the data
root (``None``: ``$NEUROCOMPARE_DATA``, see :func:`data_loaders.get_root`) and loads lazily.

==========================================  ==========  ==========  ===========================
identifier                                  metric      ceiling     data
==========================================  ==========  ==========  ===========================
cowley2023.V4-ridge.210325.v1               ridge       split-half  V4, 50 neurons × 640 images,
                                                                    6–10 repeats (session 210325)
cowley2023.V4-pls.210325.v1                 PLS (25)    split-half  same (Brain-Score-style map)
cowley2023.V4-ridge.pooled.v1               ridge       none        V4, 10 sessions with images,
                                                                    repeat-averaged, per session
kriegeskorte2008.IT-rsa.human.v1            RSA         Nili        human IT fMRI, 4 subjects
kriegeskorte2008.IT-rsa.monkey.v1           RSA         none        monkey IT (Kiani 2007), 1 RDM
kriegeskorte2008.behaviour-rsa.human.v1     RSA         Nili        human similarity judgements
                                                                    (Mur 2013), 16 subjects
normanhaignere2015.AC-ridge.v1              ridge       none        6 auditory-cortex fMRI
                                                                    components × 165 sounds
==========================================  ==========  ==========  ===========================

Examples
--------
>>> import data_loaders.benchmarks                                   # doctest: +SKIP
>>> from neurocompare.benchmarks import score
>>> score("convnet_small", "kriegeskorte2008.IT-rsa.human")          # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from neurocompare.benchmarks import Benchmark, register_benchmark
from neurocompare.data import make_responses

__all__ = ["AUDIO_SAMPLE_RATE", "load_natsound165"]

AUDIO_SAMPLE_RATE = 16000


# ----------------------------------------------------------------------------- Cowley 2023 V4
def _cowley_210325(identifier: str, metric: str, root, **kwargs) -> Benchmark:
    from data_loaders import cowley2023_v4

    resp, stimuli = cowley2023_v4.load_raw("210325", root, images=True)
    return Benchmark(
        identifier=identifier,
        data=resp,
        stimuli=stimuli,
        metric=metric,
        ceiling="split_half",
        n_splits=10,
        test_fraction=0.1,
        description=f"Macaque V4, session 210325 (50 neurons, 640 images, 6-10 repeats); {metric} predictivity, split-half ceiling",
        citation=cowley2023_v4.CITATION,
        **kwargs,
    )


@register_benchmark(
    "cowley2023.V4-ridge.210325.v1",
    description="V4 (Cowley 2023, session 210325: 50 neurons x 640 images, 6-10 repeats): ridge predictivity, split-half ceiling",
    metric="ridge",
    ceiling="split_half",
)
def cowley_v4_ridge_210325(root=None) -> Benchmark:
    return _cowley_210325("cowley2023.V4-ridge.210325.v1", "ridge", root)


@register_benchmark(
    "cowley2023.V4-pls.210325.v1",
    description="V4 (Cowley 2023, session 210325): PLS(25) predictivity as in Brain-Score, split-half ceiling",
    metric="pls",
    ceiling="split_half",
)
def cowley_v4_pls_210325(root=None) -> Benchmark:
    return _cowley_210325("cowley2023.V4-pls.210325.v1", "pls", root, metric_kwargs={"n_components": 25})


@register_benchmark(
    "cowley2023.V4-ridge.pooled.v1",
    description="V4 (Cowley 2023, the 10 sessions with images: 10,240 images, 488 neurons, repeat-averaged): ridge per session, no ceiling",
    metric="ridge",
    ceiling=None,
)
def cowley_v4_ridge_pooled(root=None) -> Benchmark:
    from data_loaders import cowley2023_v4

    resp, stimuli = cowley2023_v4.load_pooled(root, progress=False)
    return Benchmark(
        identifier="cowley2023.V4-ridge.pooled.v1",
        data=resp,
        stimuli=stimuli,
        metric="ridge",
        ceiling=None,
        unit_group="session",
        n_splits=5,
        test_fraction=0.1,
        description="Macaque V4, 10 sessions pooled (each neuron scored on its own session's images); no ceiling (repeat-averaged data)",
        citation=cowley2023_v4.CITATION,
    )


# ----------------------------------------------------------------------------- Kriegeskorte 2008 IT
@register_benchmark(
    "kriegeskorte2008.IT-rsa.human.v1",
    description="Human IT fMRI RDMs (Kriegeskorte 2008, 4 subjects x 2 sessions, 92 images): Spearman RSA, Nili noise ceiling",
    metric="rsa",
    ceiling="nili",
)
def kriegeskorte_human_it(root=None) -> Benchmark:
    from data_loaders import kriegeskorte2008 as k92

    return Benchmark(
        identifier="kriegeskorte2008.IT-rsa.human.v1",
        data=k92.load_human_it(root),
        stimuli=k92.load_stimuli(root),
        metric="rsa",
        ceiling="nili",
        rdm_subject_dim="subject",
        n_splits=10,
        test_fraction=0.5,
        description="Human IT (4 subjects, sessions averaged); Spearman correlation of RDMs (1 - Pearson r); Nili upper bound as ceiling",
        citation=k92.CITATION,
    )


@register_benchmark(
    "kriegeskorte2008.IT-rsa.monkey.v1",
    description="Monkey IT RDM (Kiani 2007, 674 neurons, 92 images): Spearman RSA, no ceiling (one animal's RDM)",
    metric="rsa",
    ceiling=None,
)
def kriegeskorte_monkey_it(root=None) -> Benchmark:
    from data_loaders import kriegeskorte2008 as k92

    return Benchmark(
        identifier="kriegeskorte2008.IT-rsa.monkey.v1",
        data=k92.load_monkey_it(root),
        stimuli=k92.load_stimuli(root),
        metric="rsa",
        ceiling=None,
        n_splits=10,
        test_fraction=0.5,
        description="Monkey IT RDM (1 - Pearson r over 674 neurons); Spearman RSA; no repeats, so no ceiling",
        citation=k92.CITATION,
    )


# ----------------------------------------------------------------------------- Mur 2013 behaviour
MUR2013_CITATION = (
    "Mur M, Meys M, Bodurka J, Goebel R, Bandettini PA, Kriegeskorte N (2013). Human object-similarity judgments "
    "reflect and transcend the primate-IT object representation. Front Psychol 4:128. doi:10.3389/fpsyg.2013.00128"
)


@register_benchmark(
    "kriegeskorte2008.behaviour-rsa.human.v1",
    description="Human similarity judgements of the 92 images (Mur 2013, 16 subjects, object arrangement): Spearman RSA, Nili noise ceiling",
    metric="rsa",
    ceiling="nili",
)
def kriegeskorte_human_behaviour(root=None) -> Benchmark:
    from data_loaders import kriegeskorte2008 as k92

    return Benchmark(
        identifier="kriegeskorte2008.behaviour-rsa.human.v1",
        data=k92.load_behaviour_rdms(root),
        stimuli=k92.load_stimuli(root),
        metric="rsa",
        ceiling="nili",
        rdm_subject_dim="subject",
        n_splits=10,
        test_fraction=0.5,
        description="Human object-similarity judgements (16 subjects, multi-arrangement dissimilarities); Spearman "
        "correlation of RDMs (model: 1 - Pearson r); Nili upper bound of the 16 subjects as ceiling",
        citation=MUR2013_CITATION,
    )


# ----------------------------------------------------------------------------- Norman-Haignere 2015
NH2015_CITATION = (
    "Norman-Haignere S, Kanwisher NG, McDermott JH (2015). Distinct cortical pathways for music and speech "
    "revealed by hypothesis-free voxel decomposition. Neuron 88(6):1281-1296. doi:10.1016/j.neuron.2015.11.035"
)


def load_natsound165(root: str | os.PathLike | None = None, *, sample_rate: int = AUDIO_SAMPLE_RATE) -> tuple[xr.DataArray, xr.DataArray]:
    """The 6 auditory-cortex components × 165 natural sounds, and the sounds resampled to ``sample_rate``.

    Uses :mod:`data_loaders.norman_haignere2015` (checksummed files); if that module is missing,
    reads the raw files (``natsound165_nh2015/components.mat`` and ``sounds/**/*.wav``) directly.

    Returns
    -------
    responses : Responses, dims ('stimulus', 'unit'), shape (165, 6)
        Component response profiles ``R``; ``unit_id`` = component names.
    sounds : DataArray, dims ('stimulus', 'sample'), float32 in [-1, 1], attrs ``sample_rate``
    """
    try:
        from data_loaders import norman_haignere2015 as nh
    except ImportError:  # the dedicated loader is optional here; fall back to the raw files
        nh = None
    if nh is not None:
        return nh.load_components(root), _resample(nh.load_sounds(root), sample_rate)
    return _read_natsound_raw(root, sample_rate)


def _data_root(root) -> Path:
    from neurocompare._options import data_dir

    return data_dir(root)


def _resample(sounds: xr.DataArray, rate: int) -> xr.DataArray:
    from math import gcd

    from scipy.signal import resample_poly

    old = int(sounds.attrs["sample_rate"])
    if old == rate:
        return sounds
    g = gcd(old, rate)
    values = resample_poly(np.asarray(sounds.values, dtype=np.float64), rate // g, old // g, axis=1).astype(np.float32)
    out = xr.DataArray(values, dims=("stimulus", "sample"), coords={k: v for k, v in sounds.coords.items() if "sample" not in v.dims}, attrs=dict(sounds.attrs))
    out.attrs["sample_rate"] = rate
    return out


def _read_natsound_raw(root, sample_rate: int) -> tuple[xr.DataArray, xr.DataArray]:
    from scipy.io import loadmat, wavfile

    folder = _data_root(root) / "natsound165_nh2015"
    mat_path = folder / "components.mat"
    if not mat_path.is_file():
        raise FileNotFoundError(
            f"{mat_path} not found. Point root= (or NEUROCOMPARE_DATA) at the folder holding natsound165_nh2015/ "
            "(source: github.com/snormanhaignere/natsound165-neuron2015)."
        )
    mat = loadmat(mat_path)
    R = np.asarray(mat["R"], dtype=float)
    names = [str(np.asarray(x).ravel()[0]) for x in np.asarray(mat["component_names"]).ravel()]
    stim_names = [str(np.asarray(x).ravel()[0]) for x in np.asarray(mat["stim_names"]).ravel()]
    wavs = {p.stem: p for p in folder.glob("sounds/**/*.wav")}
    waves = []
    for name in stim_names:
        stem = Path(name).stem
        path = wavs.get(stem)
        if path is None:
            raise FileNotFoundError(f"Sound {name!r} listed in components.mat has no WAV under {folder / 'sounds'}.")
        rate, w = wavfile.read(path)
        w = np.asarray(w, dtype=np.float64)
        if np.issubdtype(np.asarray(w).dtype, np.integer) or np.abs(w).max() > 1.5:
            w = w / 32768.0
        if w.ndim == 2:
            w = w.mean(axis=1)
        waves.append((rate, w))
    rates = {r for r, _ in waves}
    if len(rates) != 1:
        raise ValueError(f"The sounds have mixed sample rates {sorted(rates)}; expected one.")
    n = min(len(w) for _, w in waves)
    arr = np.stack([w[:n] for _, w in waves]).astype(np.float32)
    ids = np.array([Path(s).stem for s in stim_names])
    sounds = xr.DataArray(arr, dims=("stimulus", "sample"), coords={"stimulus_id": ("stimulus", ids)}, attrs={"sample_rate": int(rates.pop()), "source": "natsound165_nh2015"})
    sounds = _resample(sounds, sample_rate)
    resp = make_responses(
        R,
        stimulus_ids=ids,
        unit_ids=np.array([f"component{i + 1}_{n}" for i, n in enumerate(names)]),
        coords={"region": ("unit", np.full(len(names), "auditory cortex"))},
        source="natsound165_nh2015",
        citation=NH2015_CITATION,
        units="component response (a.u.)",
    )
    return resp, sounds


@register_benchmark(
    "normanhaignere2015.AC-ridge.v1",
    description="Auditory cortex (Norman-Haignere 2015): 6 fMRI response components x 165 natural sounds, ridge predictivity, no ceiling; audio models (waveforms at 16 kHz)",
    metric="ridge",
    ceiling=None,
    modality="audio",
)
def normanhaignere_ac(root=None) -> Benchmark:
    resp, sounds = load_natsound165(root)
    return Benchmark(
        identifier="normanhaignere2015.AC-ridge.v1",
        data=resp,
        stimuli=sounds,
        metric="ridge",
        ceiling=None,
        modality="audio",
        n_splits=10,
        test_fraction=0.2,
        description="6 auditory-cortex components (median over components of held-out Pearson r); components are "
        "already denoised averages, with no repeats to estimate a ceiling",
        citation=NH2015_CITATION,
    )
