"""Tests for neurocompare.models.resolve_model (spec resolution) and Preprocessing."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from neurocompare.models import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MODELS,
    ModelRegistry,
    Preprocessing,
    ResolvedModel,
    build_model,
    resolve_model,
    weights_hash,
)


def test_registered_name_defaults_to_seed_0_and_hashes_its_weights():
    a = resolve_model("convnet_small")
    b = resolve_model("convnet_small", kwargs={"seed": 1})
    assert a.model_id == "convnet_small(seed=0)" and b.model_id == "convnet_small(seed=1)"
    assert a.weights_hash == weights_hash(build_model("convnet_small", seed=0))
    assert a.weights_hash != b.weights_hash
    assert a.source == "registry" and not a.model.training
    prov = a.provenance()
    assert prov["preprocessing"]["mean"] == list(IMAGENET_MEAN) and prov["model_kwargs"] == {"seed": 0}


def test_module_function_spec():
    rm = resolve_model("neurocompare.models.convnets:convnet_small", kwargs={"seed": 0})
    assert rm.source == "function"
    assert rm.weights_hash == resolve_model("convnet_small").weights_hash
    with pytest.raises(ValueError, match="has no callable 'nope'"):
        resolve_model("neurocompare.models.convnets:nope")
    with pytest.raises(ValueError, match="Could not import"):
        resolve_model("no_such_module_xyz:f")
    with pytest.raises(TypeError, match="expected a torch.nn.Module"):
        resolve_model("numpy:zeros", kwargs={"shape": 3})


def test_checkpoint_written_by_training_round_trips(tmp_path):
    model = build_model("convnet_small", seed=3)
    with torch.no_grad():
        model.fc.weight.mul_(2.0)  # "trained" weights, not reproducible from a seed
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": model.state_dict(), "config": {"model": "convnet_small", "model_kwargs": {"num_classes": 10}}, "step": 5}, path)
    rm = resolve_model(str(path))
    assert rm.source == "checkpoint" and rm.model_id == "convnet_small@checkpoint.pt"
    assert rm.weights_hash == weights_hash(model)
    # a DDP-style prefix is stripped
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "ddp.pt")
    assert resolve_model(str(tmp_path / "ddp.pt"), arch="convnet_small").weights_hash == weights_hash(model)


def test_checkpoint_errors(tmp_path):
    torch.save({"model": build_model("convnet_small").state_dict()}, tmp_path / "noarch.pt")
    with pytest.raises(ValueError, match="does not say which architecture"):
        resolve_model(str(tmp_path / "noarch.pt"))
    with pytest.raises(ValueError, match="does not match architecture 'convnet_medium'"):
        resolve_model(str(tmp_path / "noarch.pt"), arch="convnet_medium")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="weights_only=True"):
        resolve_model(str(tmp_path / "junk.pt"), arch="convnet_small")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model(str(tmp_path / "missing.pt"))


def test_unknown_names_and_types():
    with pytest.raises(ValueError, match="Unknown model 'convnet_smal'.*Did you mean: convnet_small"):
        resolve_model("convnet_smal")
    with pytest.raises(TypeError, match="must be a string"):
        resolve_model(3)
    with pytest.raises(TypeError, match="takes a neurocompare.models.Preprocessing"):
        resolve_model("convnet_small", preprocessing=lambda x: x)
    assert isinstance(resolve_model("convnet_small"), ResolvedModel)


def test_module_object_is_accepted():
    # A bare module gets no preprocessing (it used to get one guessed from its first conv, while
    # extract() gave it none: score() and extract() then fed the same module different inputs).
    rm = resolve_model(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)))
    assert rm.source == "object" and rm.preprocessing.is_identity
    x = torch.rand(2, 1, 5, 5)
    assert rm.preprocessing(x) is x
    given = resolve_model(rm.model, preprocessing=Preprocessing(channels=1, mean=(0.5,), std=(0.5,)))
    assert given.preprocessing.mean == (0.5,)
    assert resolve_model(given) is given  # a ResolvedModel passes through
    assert resolve_model(given, preprocessing=Preprocessing.identity()).preprocessing.is_identity


def test_function_spec_takes_a_registered_builders_preprocessing():
    rm = resolve_model("neurocompare.models.convnets:convnet_small", kwargs={"seed": 0})
    assert rm.preprocessing == resolve_model("convnet_small").preprocessing
    gray = resolve_model("neurocompare.models.convnets:convnet_small", kwargs={"in_channels": 1})
    assert gray.preprocessing == Preprocessing(channels=1, mean=None, std=None)  # built for one channel


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision installed")
def test_torchvision_missing_gives_install_hint():
    with pytest.raises(ImportError, match=r"pip install 'neurocompare\[vision\]'"):
        resolve_model("torchvision:resnet18")


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is None, reason="torchvision not installed")
def test_torchvision_by_name():
    rm = resolve_model("torchvision:resnet18")
    assert rm.source == "torchvision" and rm.preprocessing.size == 224


def test_preprocessing_values():
    x = torch.rand(2, 1, 8, 8)
    rgb = Preprocessing(channels=3, mean=None, std=None)(x)
    assert rgb.shape == (2, 3, 8, 8) and torch.equal(rgb[:, 0], rgb[:, 2])
    y = torch.rand(2, 3, 8, 8)
    gray = Preprocessing(channels=1, mean=None, std=None)(y)
    np.testing.assert_allclose(gray[:, 0], 0.299 * y[:, 0] + 0.587 * y[:, 1] + 0.114 * y[:, 2], rtol=1e-6)
    norm = Preprocessing()(torch.ones(1, 3, 4, 4))
    np.testing.assert_allclose(norm[0, :, 0, 0], (1 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD), rtol=1e-6)
    resized = Preprocessing(size=5, mean=None, std=None)(torch.ones(1, 3, 10, 10))
    assert resized.shape == (1, 3, 5, 5) and torch.allclose(resized, torch.ones_like(resized))
    audio = Preprocessing(modality="audio", channels=None, mean=None, std=None)(torch.zeros(2, 100))
    assert audio.shape == (2, 1, 100)


def test_preprocessing_errors_and_registry():
    with pytest.raises(ValueError, match="modality must be one of"):
        Preprocessing(modality="video")
    with pytest.raises(ValueError, match="channels must be 1, 3 or None"):
        Preprocessing(channels=2)
    with pytest.raises(ValueError, match="given together"):
        Preprocessing(mean=(0.5,), std=None)
    with pytest.raises(ValueError, match="std must be positive"):
        Preprocessing(mean=(0.5,), std=(0.0,))
    with pytest.raises(ValueError, match=r"\(batch, channel, height, width\)"):
        Preprocessing()(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="mean has 3 value"):
        Preprocessing(channels=None)(torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="one value per channel"):
        Preprocessing(mean=(0.5,), std=(0.5, 0.5))
    registry = ModelRegistry()
    with pytest.raises(TypeError, match="must be a neurocompare.models.Preprocessing"):
        registry.register("x", lambda: None, preprocessing={"size": 3})
    with pytest.raises(TypeError, match="must be callable"):
        registry.register("y", 3)
    assert MODELS.entry("convnet_small").preprocessing.mean == IMAGENET_MEAN
    assert resolve_model("convnet_small", kwargs={"in_channels": 1}).preprocessing.channels == 1


@pytest.mark.parametrize("name", ["audio_conv1d_tiny", "audio_spectrogram_tiny"])
def test_tiny_audio_models_take_waveforms(name):
    rm = resolve_model(name)
    assert rm.preprocessing.modality == "audio" and rm.preprocessing.sample_rate == 16000
    out = rm.model(rm.preprocessing(torch.randn(3, 16000)))
    assert out.shape[0] == 3 and out.dim() == 2
    assert resolve_model(name).weights_hash == rm.weights_hash  # seeded


def test_weights_hash_agrees_with_the_cache_module():
    """Two implementations of one thing must agree (neurocompare.cache keeps its own copy for now)."""
    cache = pytest.importorskip("neurocompare.cache")
    for name in ("convnet_small", "mlp", "audio_conv1d_tiny"):
        model = build_model(name, seed=2)
        assert weights_hash(model) == cache.weights_hash(model)
