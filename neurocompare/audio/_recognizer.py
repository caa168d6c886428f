"""Word recognisers trained on the synthesized-speech task: standard, L2- and L∞-adversarial.

:func:`word_recognizer_config` is the one description of a run (model ``word_recognizer``,
dataset ``speech_words``, objective ``supervised`` or ``adversarial``); the YAML files
``neurocompare/training/configs/word_recognizer*.yaml`` hold the same values for
``neurocompare train``. :func:`train_word_recognizer` runs it through the project's training loop
(checkpoints, exact resume) and reuses a finished run folder; :func:`load_word_recognizer` reads
one back; :func:`evaluate_word_recognizer` measures clean and PGD accuracy on held-out voices.

Perturbation budgets. Clips hold speech at RMS 0.1 over a 1 s window at 16 kHz (L2 norm
0.1·√16000 ≈ 12.6) plus noise at 0-20 dB SNR. The L2 training budget ``eps = 0.3`` is a
perturbation 32.5 dB below the speech (20·log10(12.6 / 0.3)); the L∞ budget ``eps = 0.001``
bounds the perturbation's RMS by 0.001, ≥ 40 dB below the speech. Feather et al. (2023) trained
their audio networks with waveform-domain budgets of this order (L∞ 0.002 on waveforms in [-1, 1]).
Ours are smaller because of the CPU budget of 400 steps: at L2 ``eps = 1.0`` (22 dB) a net had
3 % training accuracy on its PGD examples after 125 steps (chance 2 %; the standard net had 18 %
on clean clips by then). Adversarial training uses a 2-step PGD with a random start (Madry et al. 2018, shortened
for CPU) and no clamp (waveforms are unbounded).

References
----------
Feather, Leclerc, Mądry & McDermott (2023). Model metamers reveal divergent invariances between
biological and artificial neural networks. Nature Neuroscience 26, 2017-2034.
Madry, Makelov, Schmidt, Tsipras & Vladu (2018). Towards deep learning models resistant to
adversarial attacks. ICLR.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

__all__ = [
    "WORD_TASK",
    "SMALL_WORD_TASK",
    "TRAIN_EPS",
    "word_recognizer_config",
    "train_word_recognizer",
    "load_word_recognizer",
    "evaluate_word_recognizer",
]

_KINDS = ("standard", "l2", "linf")

#: the speech_dataset arguments of the shipped configs (50 words, 60 clips each, 20 % held-out speakers)
WORD_TASK: dict[str, Any] = {"n_words": 50, "clips_per_word": 60, "snr_db": [0.0, 20.0], "data_seed": 0}
#: a small task for tests and quick checks (8 words, 24 clips each)
SMALL_WORD_TASK: dict[str, Any] = {"n_words": 8, "clips_per_word": 24, "snr_db": [10.0, 30.0], "data_seed": 0}
#: training budgets per norm (waveform units; see the module docstring)
TRAIN_EPS = {"l2": 0.3, "linf": 0.001}


def word_recognizer_config(kind: str = "standard", *, seed: int = 0, small: bool = False,
                           steps: int | None = None, out_dir: str | Path | None = None) -> Any:
    """The :class:`~neurocompare.training.TrainConfig` of one word-recogniser run.

    Parameters
    ----------
    kind : {'standard', 'l2', 'linf'}
        Plain cross-entropy, or adversarial training at :data:`TRAIN_EPS` in that norm.
    seed : int
        Initialisation and batch-order seed (the dataset and its held-out voices stay fixed).
    small : bool
        The tiny task (:data:`SMALL_WORD_TASK`, narrow net, few steps) for tests.
    steps : int, optional
        Override the number of optimizer steps.
    out_dir : str or Path, optional

    Returns
    -------
    TrainConfig
    """
    from neurocompare.training import DataConfig, OptimizerConfig, TrainConfig

    if kind not in _KINDS:
        raise ValueError(f"The 'kind' parameter of word_recognizer_config() must be one of {_KINDS}. Got {kind!r} instead.")
    task = dict(SMALL_WORD_TASK if small else WORD_TASK)
    model_kwargs: dict[str, Any] = {"num_classes": task["n_words"]}
    if small:
        model_kwargs.update(widths=[8, 16], hidden=32)
    n_steps = 60 if small else (600 if kind == "standard" else 400)
    objective, objective_kwargs = "supervised", {}
    if kind != "standard":
        objective = "adversarial"
        objective_kwargs = {"eps": TRAIN_EPS[kind], "norm": kind, "steps": 2, "clamp": None}
    return TrainConfig(
        model="word_recognizer",
        model_kwargs=model_kwargs,
        objective=objective,
        objective_kwargs=objective_kwargs,
        data=DataConfig(name="speech_words", batch_size=16 if small else 32, kwargs=task),
        optimizer=OptimizerConfig(name="adam", lr=2e-3, schedule="cosine", warmup_steps=10 if small else 50),
        steps=int(steps) if steps is not None else n_steps,
        seed=int(seed),
        checkpoint_every=20 if small else 100,
        log_every=10 if small else 25,
        device="cpu",
        out_dir=str(out_dir) if out_dir is not None else f"runs/word_recognizer_{kind}_seed{seed}",
    )


def load_word_recognizer(out_dir: str | Path, *, device: str = "cpu") -> Any:
    """The trained model of a run folder (its ``checkpoint.pt``), in ``eval()`` mode.

    Parameters
    ----------
    out_dir : str or Path
        A folder written by :func:`train_word_recognizer` or ``neurocompare train``.
    device : str

    Returns
    -------
    torch.nn.Module
        Waveforms (batch, samples) at 16 kHz -> logits (batch, n_words).

    Raises
    ------
    FileNotFoundError
        No checkpoint in ``out_dir``.
    """
    from neurocompare.models import resolve_model

    path = Path(out_dir) / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(
            f"No checkpoint at {str(path)!r}. Train first: neurocompare.audio.train_word_recognizer(out_dir=...) "
            "or neurocompare train neurocompare/training/configs/word_recognizer.yaml --out DIR."
        )
    model = resolve_model(str(path)).model
    return model.to(device).eval()


def train_word_recognizer(kind: str = "standard", *, seed: int = 0, out_dir: str | Path | None = None,
                          small: bool = False, steps: int | None = None, progress: bool | None = None) -> Any:
    """Train a word recogniser, or return the one a finished run folder already holds.

    A folder whose checkpoint reached the requested steps with the same config is reused; an
    interrupted run is resumed from its checkpoint; a folder holding a different run is refused.

    Parameters
    ----------
    kind : {'standard', 'l2', 'linf'}
    seed : int
    out_dir : str or Path, optional
        Default ``runs/word_recognizer_<kind>_seed<seed>``.
    small : bool
        The tiny test task (see :func:`word_recognizer_config`).
    steps : int, optional
    progress : bool or None

    Returns
    -------
    torch.nn.Module
        The trained model in ``eval()`` mode on CPU.

    Raises
    ------
    ValueError
        ``out_dir`` holds a run with a different config (the message names the differing keys).
    """
    from neurocompare.training import config_to_dict, load_checkpoint, run_config

    cfg = word_recognizer_config(kind, seed=seed, small=small, steps=steps, out_dir=out_dir)
    cfg.progress = progress
    out = Path(cfg.out_dir)
    if (out / "checkpoint.pt").is_file():
        ckpt = load_checkpoint(out / "checkpoint.pt")
        saved = dict(ckpt.get("config") or {})
        wanted = json.loads(json.dumps(config_to_dict(cfg)))
        differ = sorted(k for k in wanted if k not in ("progress", "out_dir") and saved.get(k) != wanted[k])
        if differ:
            raise ValueError(
                f"{out} holds a different run (config keys {differ} differ). Use another out_dir or delete it."
            )
        if int(ckpt.get("step", 0)) >= cfg.steps:
            return load_word_recognizer(out)
        return run_config(cfg, resume=True).model.cpu().eval()
    return run_config(cfg).model.cpu().eval()


def evaluate_word_recognizer(
    model: Any,
    *,
    eps: dict[str, list[float]] | None = None,
    n_test: int | None = 200,
    steps: int = 5,
    task: dict[str, Any] | None = None,
    seed: int = 0,
    batch_size: int = 50,
) -> dict[str, Any]:
    """Clean and PGD accuracy of a word recogniser on held-out voices.

    Parameters
    ----------
    model : torch.nn.Module
        Waveforms (batch, samples) -> logits.
    eps : dict, optional
        ``{'l2': [...], 'linf': [...]}`` budgets; default L2 (0.1, 0.3, 1, 3) and L∞
        (0.0003, 0.001, 0.002, 0.005).
    n_test : int or None
        Evaluate the first ``n_test`` test clips of a seeded shuffle (None: all).
    steps : int
        PGD steps (step size ``2.5·eps/steps``, random start), no clamp.
    task : dict, optional
        ``speech_words`` arguments (default :data:`WORD_TASK`).
    seed : int
    batch_size : int

    Returns
    -------
    dict
        ``{'clean': acc, 'chance': 1/n_words, 'n_test': n, 'l2': {eps: acc}, 'linf': {eps: acc}}``.
    """
    import torch

    from neurocompare._seeding import torch_generator
    from neurocompare.audio._speech import speech_dataset
    from neurocompare.training import robust_accuracy

    kw = copy.deepcopy(task if task is not None else WORD_TASK)
    data_seed = int(kw.pop("data_seed", 0))
    ds = speech_dataset(seed=data_seed, progress=False, **kw)
    x, y = ds.tensors("test")
    if n_test is not None and n_test < x.shape[0]:
        keep = torch.randperm(x.shape[0], generator=torch_generator(seed, "word-eval"))[: int(n_test)]
        x, y = x[keep], y[keep]
    budgets = eps if eps is not None else {"l2": [0.1, 0.3, 1.0, 3.0], "linf": [0.0003, 0.001, 0.002, 0.005]}
    out: dict[str, Any] = {"chance": 1.0 / len(ds.vocabulary), "n_test": int(x.shape[0])}
    out["clean"] = robust_accuracy(model, (x, y), [0.0], clamp=None, batch_size=batch_size)[0.0]
    for norm, values in budgets.items():
        out[norm] = robust_accuracy(model, (x, y), values, norm=norm, steps=steps, clamp=None,
                                    batch_size=batch_size, seed=seed)
    return out
