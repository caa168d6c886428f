"""The word recogniser: stage shapes, gradients to the waveform, learning, adversarial steps, configs, runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neurocompare._hooks import LayerHooks
from neurocompare.audio._recognizer import (
    SMALL_WORD_TASK,
    TRAIN_EPS,
    evaluate_word_recognizer,
    load_word_recognizer,
    train_word_recognizer,
    word_recognizer_config,
)
from neurocompare.models import MODELS, build_model, resolve_model
from neurocompare.training import Adversarial, OptimizerConfig, Supervised, load_config, train

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "neurocompare" / "training" / "configs"


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _tones(n: int = 16, seconds: float = 0.25, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two learnable classes without the synthesizer: a 500 Hz or a 2 kHz tone in noise, at RMS ~0.1."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(int(16000 * seconds)) / 16000
    y = torch.arange(n) % 2
    freq = torch.where(y == 0, 500.0, 2000.0)
    phase = torch.rand(n, generator=gen) * 2 * torch.pi
    x = 0.14 * torch.sin(2 * torch.pi * freq[:, None] * t[None] + phase[:, None])
    return x + 0.02 * torch.randn(x.shape, generator=gen), y


def test_stage_shapes_for_one_second():
    model = build_model("word_recognizer", num_classes=50, seed=0).eval()
    names = ["cochleagram", "block1", "block2", "block3", "block4", "pool", "fc", "logits"]
    with LayerHooks(model, names) as hooks:
        out = hooks.run(torch.zeros(2, 16000))
    shapes = {k: tuple(v.shape) for k, v in out.items()}
    assert shapes == {
        "cochleagram": (2, 1, 105, 200),
        "block1": (2, 16, 26, 50),
        "block2": (2, 32, 13, 25),
        "block3": (2, 64, 6, 12),
        "block4": (2, 128, 3, 6),
        "pool": (2, 384),
        "fc": (2, 128),
        "logits": (2, 50),
    }
    # (batch, 1, samples), as the registered AUDIO_16K preprocessing delivers, gives the same logits
    x = 0.1 * torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model(x), model(x[:, None]))
    assert MODELS.entry("word_recognizer").preprocessing.sample_rate == 16000


def test_seed_fixes_the_weights():
    a, b = build_model("word_recognizer", seed=3), build_model("word_recognizer", seed=3)
    c = build_model("word_recognizer", seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.block2[0].weight, c.block2[0].weight)


@pytest.mark.parametrize("kwargs", [dict(num_classes=1), dict(widths=()), dict(hidden=0)])
def test_bad_builder_arguments(kwargs):
    with pytest.raises(ValueError, match="num_classes >= 2"):
        build_model("word_recognizer", **kwargs)


def test_gradients_reach_the_waveform():
    model = build_model("word_recognizer", num_classes=4, widths=(4, 8), hidden=8, seed=0).eval()
    x, _ = _tones(4)
    x.requires_grad_(True)
    model(x).logsumexp(1).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert (x.grad.abs().sum(1) > 0).all()  # every clip receives gradient


def test_a_few_training_steps_lower_the_loss():
    x, y = _tones(16)
    model = build_model("word_recognizer", num_classes=2, widths=(4, 8), hidden=8, seed=0)
    result = train(model, Supervised(), lambda step: (x, y), optimizer=OptimizerConfig(lr=1e-2), steps=8,
                   log_every=1, seed=0, device="cpu", progress=False)
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-2:]) < 0.5 * np.mean(losses[:2])


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_adversarial_training_step_runs_in_the_waveform_domain(norm):
    x, y = _tones(8)
    model = build_model("word_recognizer", num_classes=2, widths=(4, 8), hidden=8, seed=0)
    objective = Adversarial(eps=TRAIN_EPS[norm], norm=norm, steps=2, clamp=None)
    result = train(model, objective, lambda step: (x, y), optimizer=OptimizerConfig(lr=1e-3), steps=2,
                   log_every=1, seed=0, device="cpu", progress=False)
    assert len(result.history) == 2 and all(np.isfinite(h["loss"]) for h in result.history)


@pytest.mark.parametrize("kind, name", [("standard", "word_recognizer.yaml"), ("l2", "word_recognizer_l2.yaml"),
                                        ("linf", "word_recognizer_linf.yaml")])
def test_shipped_yaml_matches_the_python_config(kind, name):
    assert load_config(CONFIGS / name) == word_recognizer_config(kind)


def test_config_errors():
    with pytest.raises(ValueError, match="kind"):
        word_recognizer_config("pgd")
    adv = word_recognizer_config("linf")
    assert adv.objective == "adversarial" and adv.objective_kwargs["clamp"] is None
    assert adv.objective_kwargs["eps"] == TRAIN_EPS["linf"]


def test_load_without_checkpoint_says_how_to_train(tmp_path):
    with pytest.raises(FileNotFoundError, match="Train first"):
        load_word_recognizer(tmp_path)


@pytest.mark.slow
def test_small_run_trains_reuses_and_evaluates(tmp_path):
    pytest.importorskip("espeakng_loader")
    import neurocompare as nc

    with nc.set_options(cache_dir=tmp_path / "cache"):
        out = tmp_path / "run"
        partial = train_word_recognizer("standard", small=True, steps=3, out_dir=out, progress=False)
        assert isinstance(partial, torch.nn.Module) and not partial.training
        # a folder holding another run (here: standard, asked for l2) is refused, not mixed
        with pytest.raises(ValueError, match="different run"):
            train_word_recognizer("l2", small=True, steps=3, out_dir=out, progress=False)
        again = train_word_recognizer("standard", small=True, steps=3, out_dir=out, progress=False)
        for p, q in zip(partial.state_dict().values(), again.state_dict().values()):
            assert torch.equal(p, q)
        loaded = load_word_recognizer(out)
        assert resolve_model(str(out / "checkpoint.pt")).preprocessing.sample_rate == 16000
        result = evaluate_word_recognizer(loaded, task=SMALL_WORD_TASK, n_test=8, steps=1,
                                          eps={"l2": [0.5], "linf": [0.001]}, batch_size=8)
    assert result["n_test"] == 8 and result["chance"] == pytest.approx(1 / 8)
    assert 0 <= result["clean"] <= 1 and set(result["l2"]) == {0.5} and set(result["linf"]) == {0.001}


def test_speech_words_training_dataset_gives_training_voices_only():
    pytest.importorskip("espeakng_loader")
    from neurocompare.audio import speech_dataset
    from neurocompare.training import DATASETS, DataConfig

    task = dict(n_words=2, clips_per_word=5, voices=["en-US+m1", "en+f2", "en-US+m3"], test_fraction=0.4,
                cache_dir=False)
    batches = DATASETS.get("speech_words")(DataConfig(name="speech_words", batch_size=3, kwargs=task), seed=0)
    x, y = next(iter(batches))
    assert tuple(x.shape) == (3, 16000) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert batches.n_items == 2 * 3  # 3 of 5 clips per word use training voices
    ds = speech_dataset(seed=0, progress=False, **task)
    train_x, _ = ds.tensors("train")
    assert any(torch.equal(x[0], row) for row in train_x)
