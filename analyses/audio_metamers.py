"""Audio metamers of word recognisers, and auditory cortex predicted by trained vs untrained twins.

Feather, Leclerc, Mądry & McDermott (2023) found that metamers of standard audio networks become
unrecognisable at deep stages, and that adversarial training makes late-stage metamers more
recognisable. This study repeats the model-to-model part at a CPU-friendly scale, and scores the
same networks on auditory cortex (Norman-Haignere et al. 2015) stage by stage:

1. Word recognisers (``neurocompare.audio.word_recognizer``: cochleagram front end, four conv
   blocks, pool, fc, logits) trained on synthesized speech (``neurocompare.audio.speech_dataset``, split
   by voice) with standard, L2-adversarial and L∞-adversarial training, for each seed (plus any
   ``--extra`` models such as ``standard_s1``), by ``neurocompare.audio.train_word_recognizer``
   (its run folders under ``OUT/models/`` or ``--models-dir`` are reused).
2. Held-out-voice clips (distinct words, each recognised by the reference model, the first kind's
   model of the first seed, so that adding seeds or kinds keeps them; ``accuracy_natural`` says how
   the other models do on them) are the originals. Metamers
   at the stages early (``cochleagram``), middle (``block2``), late (``block4``) and final
   (``logits``) of every model (:func:`stage_layers`; the small models have two blocks): the waveform is optimised through the model from noise at the clips'
   RMS, no clamp (Feather protocol otherwise: normalised-gradient steps, step halved each round).
   Each synthesis checkpoints its state (``OUT/state_<model>.npz``) and its result
   (``OUT/metamers_<model>.nc``), so an interrupted run resumes and a rerun reuses them.
3. Validity: Spearman ρ of the metamer's and the original's activations at the generating stage
   above the largest ρ among random pairs of other natural test clips, and the generator's label
   unchanged.
4. Recognisability: every model classifies every generator's valid metamers. Summary per training
   kind and stage: accuracy of the *other* models (all models but the generator), pooled over the
   seeds' generators, with a 95% bootstrap interval over clips, and the paired bootstrap of the
   difference adversarial − standard; the generator's own accuracy is reported beside it. The
   same with only the standard models as judges (``summary_standard_judges``): every generator then
   faces judges of one strength (adversarially trained networks are weaker classifiers).
5. Auditory cortex: the 165 natural sounds (2 s, 16 kHz, each scaled to the training RMS) through
   every trained model and its untrained twin (same architecture, the same seed's initial
   weights); activations averaged over time at each stage; ``normanhaignere2015.AC-ridge``
   (ridge, 10 seeded splits; median over the 6 components of held-out Pearson r) per stage;
   error: sd over splits, and trained − untrained per split (paired, same splits). Each model's
   scores are kept in ``OUT/ac_<model>.json`` (keyed by its weights) and reused.

Run ``python -m analyses.audio_metamers --out DIR [--small]`` (``NEUROCOMPARE_SMALL=1`` = ``--small``).
Writes ``DIR/results.jsonl`` (one line per run), ``DIR/metamers_<model>.nc`` (+ ``.json``), figures
``DIR/recognizability.png``, ``DIR/recognizability_standard_judges.png``, ``DIR/auditory_cortex.png``,
``DIR/cochleagrams.png``, per-model AC scores ``DIR/ac_<model>.json`` and the
listening experiment ``DIR/listening.html``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import neurocompare as nc
from neurocompare._atomic import atomic_write
from neurocompare.provenance import git_commit

from analyses._results import metamer_stage_summary

STAGES = ("early", "middle", "late", "final")
#: the stages of the default word recogniser (:func:`stage_layers` derives them from any depth)
LAYERS = {"early": "cochleagram", "middle": "block2", "late": "block4", "final": "logits"}
KINDS = ("standard", "l2", "linf")


@dataclass
class Config:
    """Settings of the study (``small`` shrinks everything for CI and the notebook)."""

    out: str = "results/audio_metamers"
    small: bool = False
    seeds: tuple[int, ...] = (0, 1)
    kinds: tuple[str, ...] = KINDS
    n_clips: int = 8
    n_rounds: int = 6
    steps_per_round: int = 50
    step_size: float = 1.0
    n_null: int = 100
    n_null_pairs: int = 1000
    n_boot: int = 2000
    ac: bool = True
    ac_rms: float = 0.1
    threads: int = 0
    device: str = "cpu"
    data: str | None = None
    progress: bool = False
    models_dir: str | None = None
    extra: tuple[str, ...] = ()

    def shrink(self) -> Config:
        if self.small:
            self.seeds = self.seeds[:1]
            self.n_clips, self.n_rounds, self.steps_per_round = 3, 3, 8
            self.n_null, self.n_null_pairs, self.n_boot = 20, 200, 200
        return self


# ----------------------------------------------------------------------------- models and data
def load_speech(cfg: Config) -> Any:
    """The speech dataset the recognisers were trained on (``neurocompare.audio.speech_dataset``, cached).

    ``neurocompare.audio.WORD_TASK`` (``SMALL_WORD_TASK`` in small mode): clips (clip, sample) at
    16 kHz, speech at RMS 0.1 plus noise, train/test split by voice.
    """
    task = dict(nc.audio.SMALL_WORD_TASK if cfg.small else nc.audio.WORD_TASK)
    data_seed = int(task.pop("data_seed", 0))
    return nc.audio.speech_dataset(seed=data_seed, progress=cfg.progress, **task)


def get_models(cfg: Config) -> tuple[dict[str, nn.Module], dict[str, dict]]:
    """Trained recognisers ``{'<kind>_s<seed>': model}`` (eval mode, CPU) and their info.

    ``neurocompare.audio.train_word_recognizer`` trains each one (or reuses its finished run
    folder ``MODELS/word_recognizer_<kind>_seed<seed>``, ``MODELS`` = ``cfg.models_dir``, default
    ``OUT/models``; point it at ``runs`` to reuse the runs of ``neurocompare train``).
    """
    models, info = {}, {}
    root = Path(cfg.models_dir) if cfg.models_dir else Path(cfg.out) / "models"
    runs = [(kind, seed) for seed in cfg.seeds for kind in cfg.kinds]
    for name in cfg.extra:
        kind, _, seed = name.rpartition("_s")
        if kind not in KINDS or not seed.isdigit():
            raise ValueError(f"extra models are named '<kind>_s<seed>' with kind in {KINDS}; got {name!r}.")
        if (kind, int(seed)) not in runs:
            runs.append((kind, int(seed)))
    for kind, seed in runs:
        name = f"{kind}_s{seed}"
        t0 = time.perf_counter()
        folder = root / f"word_recognizer_{kind}_seed{seed}"
        model = nc.audio.train_word_recognizer(kind=kind, seed=seed, out_dir=folder, small=cfg.small,
                                               progress=cfg.progress)
        models[name] = model.cpu().eval()
        info[name] = {"kind": kind, "seed": seed, "run": str(folder), "seconds": round(time.perf_counter() - t0, 1)}
    return models, info


def untrained_twin(kind: str, seed: int, small: bool) -> nn.Module:
    """The same architecture with the seed's initial weights (what training started from)."""
    tc = nc.audio.word_recognizer_config(kind, seed=seed, small=small)
    return nc.build_model(tc.model, **{**tc.model_kwargs, "seed": tc.seed}).cpu().eval()


def stage_layers(model: nn.Module) -> dict[str, str]:
    """{stage: layer}: early ``cochleagram``, middle the middle conv block, late the last block, final ``logits``."""
    blocks = [n for n in nc.list_layers(model) if n.startswith("block") and "." not in n]
    return {"early": "cochleagram", "middle": blocks[len(blocks) // 2 - 1] if len(blocks) > 1 else blocks[0],
            "late": blocks[-1], "final": "logits"}


def predict(model: nn.Module, x: torch.Tensor, batch: int = 64) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([model(x[i : i + batch]).argmax(1) for i in range(0, len(x), batch)]).numpy()


def pick_clips(models: dict[str, nn.Module], data: Any, n: int, seed: int) -> np.ndarray:
    """Indices of ``n`` held-out-voice clips, distinct words first, that the most models label correctly.

    Clips every model gets right come first (in a seeded random order); when there are fewer than
    ``n`` of them (tiny models in small mode) the rest are those most models get right, with a warning.
    """
    test = np.flatnonzero(np.asarray(data.split) == "test")
    x = torch.from_numpy(np.asarray(data.waveforms[test], dtype=np.float32))
    n_right = np.zeros(len(test), int)
    for m in models.values():
        n_right += predict(m, x) == np.asarray(data.label)[test]
    rng = np.random.default_rng(seed)
    order = sorted(rng.permutation(len(test)), key=lambda i: -n_right[i])  # stable: random within ties
    chosen, words = [], set()
    for i in order:  # distinct words first
        if n_right[i] == len(models) and data.label[test[i]] not in words:
            chosen.append(i)
            words.add(data.label[test[i]])
    chosen += [i for i in order if i not in chosen]
    if n_right[chosen[: n]].min() < len(models):
        warnings.warn(f"only {int((n_right == len(models)).sum())} held-out clips are recognised by every model; "
                      f"the {n} originals include clips some models get wrong", stacklevel=2)
    return test[np.sort(np.asarray(chosen[:n], dtype=int))]


# ----------------------------------------------------------------------------- metamers
def synthesize(name: str, model: nn.Module, layers: dict[str, str], clips: np.ndarray, labels: np.ndarray, ids: list[str], sr: int,
               cfg: Config, stamp_extra: dict) -> Any:
    """Metamers of ``clips`` at the four stages of ``model``, reused from ``OUT`` when finished."""
    out = Path(cfg.out)
    rms = float(np.sqrt(np.mean(np.asarray(clips, np.float64) ** 2)))
    settings = dict(seed=min(cfg.seeds), n_rounds=cfg.n_rounds, steps_per_round=cfg.steps_per_round,
                    step_size=cfg.step_size, pixel_range=None, init_mean=0.0, init_std=rms)
    stamp = json.dumps({"synthesis": settings, "clips": ids, **stamp_extra}, sort_keys=True, default=str)
    path = out / f"metamers_{name}.nc"
    if path.is_file():
        ds = nc.metamers.load_metamers(path)
        if ds.attrs.get("study_stamp") == stamp:
            return ds
    state = out / f"state_{name}.npz"
    if state.is_file():
        try:  # a state from other settings cannot be resumed: start over
            saved = json.loads(str(np.load(state, allow_pickle=False)["config_json"]))
            if saved.get("config", {}).get("init_std") != settings["init_std"] or saved.get("n_images") != len(ids):
                state.unlink()
        except (OSError, ValueError, KeyError):
            state.unlink()
    ds = nc.metamers.synthesize_metamers(model, layers, torch.from_numpy(clips), labels=labels, image_ids=ids,
                                         device=cfg.device, progress=cfg.progress, model_name=name, state=state,
                                         resume=True, **settings)
    ds.attrs["study_stamp"] = stamp
    ds.attrs["sample_rate"] = int(sr)
    nc.metamers.save_metamers(ds, path)
    state.unlink(missing_ok=True)
    return ds


def _other_mean(table, gen: str, allowed: list[str] | None = None) -> np.ndarray:
    """(stage, clip) mean correctness of every judge but the generator (NaN: invalid metamer).

    ``allowed``: only these judges count (e.g. the standard models).
    """
    judges = [str(j) for j in table["judge"].values if str(j) != gen and (allowed is None or str(j) in allowed)]
    if not judges:
        return np.full((table.sizes["stage"], table.sizes["image"]), np.nan)
    corr = table["correct"].sel(generator=gen, judge=judges).values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(corr, axis=0)


def _boot(vals: np.ndarray, boot: np.ndarray) -> list[float]:
    """95% percentile interval of the NaN-mean of ``vals`` (gen, clip) over clip resamples."""
    bs = []
    for b in boot:
        v = vals[:, b]
        if np.isfinite(v).any():
            bs.append(np.nanmean(v))
    return np.quantile(bs, [0.025, 0.975]).tolist() if bs else [float("nan")] * 2


def summarize(table, info: dict[str, dict], cfg: Config, judge_kind: str | None = None) -> dict:
    """Per kind and stage: other models' and the generator's own accuracy, CIs, adversarial − standard.

    ``judge_kind``: only judges of that training kind count (e.g. ``'standard'``: every generator is
    judged by standard models other than itself, so all generators face judges of one strength).
    """
    allowed = None if judge_kind is None else [n for n in info if info[n]["kind"] == judge_kind]
    stages = [str(s) for s in table["stage"].values]
    n_clip = table.sizes["image"]
    boot = np.random.default_rng(min(cfg.seeds)).integers(0, n_clip, (cfg.n_boot, n_clip))
    out: dict[str, Any] = {"chance": float(table.attrs["chance"])}
    other: dict[str, np.ndarray] = {}
    for kind in cfg.kinds:
        gens = [g for g in info if info[g]["kind"] == kind]
        other[kind] = np.stack([_other_mean(table, g, allowed) for g in gens])  # (gen, stage, clip)
        own = np.stack([table["correct"].sel(generator=g, judge=g).values for g in gens])
        rows = {}
        for si, st in enumerate(stages):
            v, o = other[kind][:, si], own[:, si]
            if not np.isfinite(v).any():
                rows[st] = {"other_models": float("nan"), "ci95": [float("nan")] * 2,
                            "generator_itself": float(np.nanmean(o)) if np.isfinite(o).any() else float("nan"),
                            "n_valid": 0, "n_metamers": int(v.size)}
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                rows[st] = {"other_models": float(np.nanmean(v)), "ci95": _boot(v, boot),
                            "generator_itself": float(np.nanmean(o)), "n_valid": int(np.isfinite(v).sum()),
                            "n_metamers": int(v.size)}
        out[kind] = rows
    for kind in cfg.kinds:
        if kind == "standard" or "standard" not in other:
            continue
        diff = {}
        for si, st in enumerate(stages):
            a, s = other[kind][:, si], other["standard"][:, si]
            if not (np.isfinite(a).any() and np.isfinite(s).any()):
                diff[st] = {"difference": float("nan"), "ci95": [float("nan")] * 2, "excludes_zero": False}
                continue
            d = float(np.nanmean(a) - np.nanmean(s))
            bs = [np.nanmean(a[:, b]) - np.nanmean(s[:, b]) for b in boot
                  if np.isfinite(a[:, b]).any() and np.isfinite(s[:, b]).any()]
            lo, hi = np.quantile(bs, [0.025, 0.975]).tolist()
            diff[st] = {"difference": d, "ci95": [lo, hi], "excludes_zero": bool(lo > 0 or hi < 0)}
        out[f"{kind}_minus_standard"] = diff
    return out


# ----------------------------------------------------------------------------- auditory cortex
def _time_mean(a: torch.Tensor) -> torch.Tensor:
    """(batch, channels, freq, time) -> (batch, channels · freq): average over the last (time) axis."""
    return a.mean(-1).flatten(1) if a.dim() > 2 else a


def ac_layers(model: nn.Module) -> list[str]:
    """Every stage of a word recogniser: cochleagram, each block, pool, fc, logits."""
    return [n for n in nc.list_layers(model) if "." not in n]


def ac_scores(models: dict[str, nn.Module], cfg: Config) -> dict:
    """Per model and stage: median-over-components held-out r on the 165 sounds, with its splits."""
    import data_loaders.benchmarks  # noqa: F401  (registers the data-backed benchmarks)

    bench = nc.get_benchmark("normanhaignere2015.AC-ridge", root=_data_root(cfg))
    sounds = np.asarray(bench.stimuli.values, dtype=np.float64)
    sounds = sounds * (cfg.ac_rms / np.sqrt((sounds**2).mean(1, keepdims=True)))  # the training level
    ids = [str(s) for s in bench.stimuli["stimulus_id"].values]
    x = torch.from_numpy(sounds.astype(np.float32))
    out = {}
    for name, model in models.items():
        stamp = {"weights": _fingerprint(model), "rms": cfg.ac_rms, "benchmark": bench.identifier}
        cached = Path(cfg.out) / f"ac_{name}.json"
        if cached.is_file():
            saved = json.loads(cached.read_text())
            if saved.get("stamp") == stamp:
                out[name] = saved["scores"]
                continue
        acts = nc.extract(model, x, ac_layers(model), stimulus_ids=ids, reduce=_time_mean, preprocessing=None,
                          batch_size=15, progress=False)
        per = {}
        for layer in ac_layers(model):
            s = nc.score_responses({layer: acts[layer]}, bench, seed=0)
            per[layer] = {"value": float(s.raw), "error": float(s.raw_error), "per_split": [float(v) for v in s.per_split],
                          "n_features": int(acts[layer].sizes["unit"])}
        out[name] = per
        text = json.dumps({"stamp": stamp, "scores": per})
        atomic_write(cached, lambda tmp, text=text: Path(tmp).write_text(text), what="auditory-cortex scores")
    return out


def summarize_ac(scores: dict, info: dict[str, dict]) -> dict:
    """Per kind and layer: trained and untrained r (mean over seeds), trained − untrained over splits × seeds."""
    out: dict[str, Any] = {}
    for kind in sorted({v["kind"] for v in info.values()}):
        names = [n for n in info if info[n]["kind"] == kind]
        rows = {}
        for layer in scores[names[0]]:
            tr = np.array([scores[n][layer]["per_split"] for n in names])
            un = np.array([scores[f"untrained_{n}"][layer]["per_split"] for n in names])
            d = (tr - un).ravel()
            rows[layer] = {"trained": float(tr.mean()), "trained_sd_splits": float(tr.std(ddof=1)) if tr.size > 1 else 0.0,
                           "untrained": float(un.mean()), "untrained_sd_splits": float(un.std(ddof=1)) if un.size > 1 else 0.0,
                           "difference": float(d.mean()), "difference_sd_splits": float(d.std(ddof=1)) if d.size > 1 else 0.0,
                           "per_seed_difference": [float(v) for v in (tr - un).mean(1)]}
        out[kind] = rows
    return out


def _data_root(cfg: Config) -> str | None:
    root = cfg.data or os.environ.get("NEUROCOMPARE_DATA")
    if root is None:
        beside = Path(__file__).resolve().parents[2] / "shared" / "data"
        root = str(beside) if beside.is_dir() else None
    return root


# ----------------------------------------------------------------------------- study
def run(cfg: Config) -> dict:
    """Run the study with ``cfg`` (call ``cfg.shrink()`` first for the small settings)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    data = load_speech(cfg)
    models, info = get_models(cfg)
    layers = stage_layers(next(iter(models.values())))
    sr = int(data.sr)
    ref = {n: m for n, m in models.items() if info[n]["seed"] == min(cfg.seeds) and info[n]["kind"] == cfg.kinds[0]}
    pick = pick_clips(ref, data, cfg.n_clips, min(cfg.seeds))  # more seeds or kinds later keep these clips
    clips = np.asarray(data.waveforms[pick], dtype=np.float32)
    labels = np.asarray(data.label[pick], dtype=np.int64)
    ids = [str(c) for c in np.asarray(data.clip_id)[pick]]
    test = np.flatnonzero(np.asarray(data.split) == "test")
    null_idx = np.setdiff1d(test, pick)[: cfg.n_null]  # other held-out clips: disjoint from the originals
    null = torch.from_numpy(np.asarray(data.waveforms[null_idx], dtype=np.float32))

    metamers, validity, timings = {}, {}, {}
    for name, model in models.items():
        t0 = time.perf_counter()
        extra = {"model": name, "weights": _fingerprint(model)}
        metamers[name] = synthesize(name, model, layers, clips, labels, ids, sr, cfg, extra)
        timings[name] = round(time.perf_counter() - t0, 1)
        validity[name] = nc.metamers.check_validity(model, metamers[name], null, n_null_pairs=cfg.n_null_pairs,
                                                    seed=min(cfg.seeds))
    valid = {n: v["valid"].values for n, v in validity.items()}
    table = nc.metamers.recognizability(metamers, models, valid=valid, n_boot=cfg.n_boot, seed=min(cfg.seeds),
                                        per_image=True)
    table_all = nc.metamers.recognizability(metamers, models, n_boot=0, seed=min(cfg.seeds), per_image=True)
    summary = summarize(table, info, cfg)
    summary_all = summarize(table_all, info, cfg)
    summary_std = summarize(table, info, cfg, judge_kind="standard") if "standard" in cfg.kinds else None

    ac, ac_summary = None, None
    if cfg.ac:
        twins = {f"untrained_{n}": untrained_twin(info[n]["kind"], info[n]["seed"], cfg.small) for n in models}
        ac = ac_scores({**models, **twins}, cfg)
        ac_summary = summarize_ac(ac, info)

    vocab = list(data.vocabulary)
    nc.metamers.export_metamer_listening_experiment(metamers, out / "listening.html", class_names=vocab, valid=valid,
                                                    title="Which word is this?")
    _figures(out, metamers, summary, summary_std, ac_summary, cfg)
    result = {
        "analysis": "audio_metamers",
        "kind": "run",
        "config": asdict(cfg),
        "seed": min(cfg.seeds),
        "neurocompare_version": nc.__version__,
        "torch_version": str(torch.__version__),
        "git_commit": git_commit(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "data": f"speech_dataset {data!r}; held-out voices for the metamer clips and the null",
        "dataset_attrs": {k: v for k, v in getattr(data, "attrs", {}).items() if isinstance(v, (int, float, str))},
        "models": info,
        "layers": layers,
        "clip_ids": ids,
        "words": [vocab[i] for i in labels],
        "vocabulary": vocab,
        "synthesis_seconds": timings,
        **metamer_stage_summary(metamers, validity),
        "recognizability_valid": _nested(table["accuracy"]),
        "accuracy_natural": {str(g): {str(j): float(table["accuracy_natural"].sel(generator=g, judge=j))
                                      for j in table["judge"].values} for g in table["generator"].values},
        "summary_valid": summary,
        "summary_all_metamers": summary_all,
        "summary_standard_judges": summary_std,
        "auditory_cortex": ac,
        "auditory_cortex_summary": ac_summary,
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    with (out / "results.jsonl").open("a") as f:
        f.write(json.dumps(result, default=float) + "\n")
    return result


def _fingerprint(model: nn.Module) -> str:
    import hashlib

    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _nested(da) -> dict:
    return {str(g): {str(j): {str(s): (None if not np.isfinite(v) else round(float(v), 4))
                              for s, v in zip(da["stage"].values, da.sel(generator=g, judge=j).values)}
                     for j in da["judge"].values} for g in da["generator"].values}


# ----------------------------------------------------------------------------- figures
def plot_recognition(summary: dict, kinds: tuple[str, ...], ylabel: str = "accuracy of other models\non valid metamers"):
    """Other models' accuracy on valid metamers by stage, one line per training kind, 95% CIs."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.4, 3.0))
    for k, kind in enumerate(kinds):
        rows = summary.get(kind, {})
        st = list(rows)
        x = np.arange(len(st)) + (k - (len(kinds) - 1) / 2) * 0.08
        acc = np.array([rows[s]["other_models"] for s in st])
        lo = np.array([rows[s]["ci95"][0] for s in st])
        hi = np.array([rows[s]["ci95"][1] for s in st])
        ax.errorbar(x, acc, yerr=[np.clip(acc - lo, 0, None), np.clip(hi - acc, 0, None)], marker="o", capsize=3,
                    label=kind)
        ax.set_xticks(np.arange(len(st)), st)
    ax.axhline(summary["chance"], color="0.5", ls="--", lw=1, label="chance")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("metamer stage")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def plot_ac(ac_summary: dict):
    """Auditory-cortex predictivity per layer: trained (each kind) vs untrained twins, ± sd over splits."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    layers = list(next(iter(ac_summary.values())))
    x = np.arange(len(layers))
    un = np.mean([[r[layer]["untrained"] for layer in layers] for r in ac_summary.values()], axis=0)
    un_sd = np.mean([[r[layer]["untrained_sd_splits"] for layer in layers] for r in ac_summary.values()], axis=0)
    ax.errorbar(x, un, yerr=un_sd, color="0.4", ls="--", marker="s", capsize=3, label="untrained twins")
    for k, (kind, rows) in enumerate(ac_summary.items()):
        ax.errorbar(x + 0.06 * (k + 1), [rows[layer]["trained"] for layer in layers],
                    yerr=[rows[layer]["trained_sd_splits"] for layer in layers], marker="o", capsize=3,
                    label=f"trained ({kind})")
    ax.set_xticks(x, layers, rotation=30)
    ax.set_ylabel("held-out r (median of\n6 AC components)")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def plot_cochleagrams(metamers: dict, generators: list[str], clip: int = 0, sr: int = 16000):
    """The cochleagram of one clip and of its metamers at each stage, one row per generator."""
    import matplotlib.pyplot as plt

    coch = nc.audio.Cochleagram(sr=sr)
    fig, axes = plt.subplots(len(generators), len(STAGES) + 1, figsize=(2.0 * (len(STAGES) + 1), 1.7 * len(generators)),
                             squeeze=False)
    for r, g in enumerate(generators):
        ds = metamers[g]
        waves = [ds["original"].values[clip]] + [ds["metamer"].values[i, clip] for i in range(ds.sizes["layer"])]
        titles = ["original"] + [str(s) for s in ds["stage"].values]
        with torch.no_grad():
            cg = coch(torch.from_numpy(np.stack(waves))).numpy()[:, 0]
        for c, (img, t) in enumerate(zip(cg, titles)):
            ax = axes[r, c]
            ax.imshow(img, origin="lower", aspect="auto", cmap="magma")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(t if r == 0 else "", fontsize=8)
        axes[r, 0].set_ylabel(g, fontsize=8)
    fig.tight_layout()
    return fig


def _figures(out: Path, metamers: dict, summary: dict, summary_std: dict | None, ac_summary: dict | None,
             cfg: Config) -> None:
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # matplotlib missing: results still written
        print(f"figures skipped: {err}", file=sys.stderr)
        return
    figs = {"recognizability.png": plot_recognition(summary, cfg.kinds),
            **({"recognizability_standard_judges.png": plot_recognition(summary_std, cfg.kinds,
                                                                          "accuracy of the other standard\nmodels on valid metamers")}
               if summary_std else {}),
            "cochleagrams.png": plot_cochleagrams(metamers, [g for g in metamers if g.endswith(f"_s{min(cfg.seeds)}")])}
    if ac_summary:
        figs["auditory_cortex.png"] = plot_ac(ac_summary)
    for fname, fig in figs.items():
        fig.savefig(out / fname, dpi=110, bbox_inches="tight")
        plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Audio metamers of word recognisers (standard vs adversarial) and "
                                            "auditory cortex predicted by trained vs untrained twins.")
    p.add_argument("--out", required=True, help="output folder (results.jsonl, metamers, figures, trained models)")
    p.add_argument("--small", action="store_true", help="tiny settings for CI (also NEUROCOMPARE_SMALL=1)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="training seeds (default 0 1; small: 0)")
    p.add_argument("--kinds", nargs="+", default=None, choices=KINDS)
    p.add_argument("--n-clips", type=int, default=None)
    p.add_argument("--n-rounds", type=int, default=None)
    p.add_argument("--steps-per-round", type=int, default=None)
    p.add_argument("--extra", nargs="+", default=(), metavar="KIND_sSEED",
                   help="more models, e.g. standard_s1: generators and judges beside kinds x seeds")
    p.add_argument("--no-ac", action="store_true", help="skip the auditory-cortex scores")
    p.add_argument("--models-dir", default=None,
                   help="folder of the recognisers' run folders (default OUT/models; 'runs' reuses neurocompare train runs)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--data", default=None, help="data root (default: NEUROCOMPARE_DATA or ../shared/data)")
    p.add_argument("--progress", action="store_true")
    a = p.parse_args(argv)
    cfg = Config(out=a.out, small=a.small or os.environ.get("NEUROCOMPARE_SMALL", "") not in ("", "0"),
                 threads=a.threads, device=a.device, data=a.data, progress=a.progress, ac=not a.no_ac,
                 models_dir=a.models_dir, extra=tuple(a.extra))
    if a.seeds:
        cfg.seeds = tuple(a.seeds)
    if a.kinds:
        cfg.kinds = tuple(a.kinds)
    cfg.shrink()
    for key in ("n_clips", "n_rounds", "steps_per_round"):
        if getattr(a, key) is not None:
            setattr(cfg, key, getattr(a, key))
    res = run(cfg)
    print_summary(res)
    print(f"results appended to {Path(cfg.out) / 'results.jsonl'} ({res['seconds']} s)")
    return 0


def print_summary(res: dict) -> None:
    """The recognisability and auditory-cortex tables of one result record."""
    for key, who in (("summary_valid", "the other models"), ("summary_standard_judges", "the other standard models")):
        if res.get(key):
            _print_recognition(res[key], who, res["config"]["kinds"])
    if res.get("auditory_cortex_summary"):
        print("auditory cortex, held-out r (median of 6 components): trained / untrained / difference ± sd over splits")
        for kind, rows in res["auditory_cortex_summary"].items():
            print(f"  {kind:9s} " + "  ".join(f"{layer}: {r['trained']:.2f}/{r['untrained']:.2f}/{r['difference']:+.2f}"
                                              f"±{r['difference_sd_splits']:.2f}" for layer, r in rows.items()))


def _print_recognition(s: dict, who: str, kinds: list[str]) -> None:
    print(f"chance {s['chance']:.3f}; accuracy of {who} on valid metamers [95% CI] (generator itself, valid):")
    for kind in kinds:
        print(f"  {kind:9s} " + "  ".join(f"{st}: {v['other_models']:.2f} [{v['ci95'][0]:.2f}, {v['ci95'][1]:.2f}] "
                                          f"({v['generator_itself']:.2f}, {v['n_valid']}/{v['n_metamers']})"
                                          for st, v in s[kind].items()))
    for key in [k for k in s if k.endswith("_minus_standard")]:
        print(f"  {key}: " + "  ".join(f"{st}: {v['difference']:+.2f} [{v['ci95'][0]:+.2f}, {v['ci95'][1]:+.2f}]"
                                       for st, v in s[key].items()))


if __name__ == "__main__":
    sys.exit(main())
