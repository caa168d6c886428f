"""Tests for activation extraction (neurocompare.activations)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

from neurocompare.activations import extract, list_layers, stimuli_to_tensor
from neurocompare.models import MODELS, build_model


@pytest.fixture(scope="module")
def model():
    return build_model("convnet_small", seed=0)


@pytest.fixture(scope="module")
def images():
    return torch.rand(13, 3, 24, 24, generator=torch.Generator().manual_seed(0))


def test_matches_a_manual_forward_pass(model, images):
    acts = extract(model, images, ["block1", "avgpool", "fc"], batch_size=4, progress=False)
    model.eval()
    with torch.no_grad():
        b1 = model.block1(images)
        b2 = model.block2(b1)
        pooled = model.avgpool(b2)
        logits = model.fc(model.flatten(pooled))
    np.testing.assert_allclose(acts["block1"].values, b1.reshape(13, -1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["avgpool"].values, pooled.reshape(13, -1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["fc"].values, logits.numpy(), rtol=1e-5, atol=1e-6)
    r = acts["fc"]
    assert r.dims == ("stimulus", "unit") and r.shape == (13, 10)
    assert list(r.unit_id.values[:2]) == ["fc.0", "fc.1"] and set(r.layer.values) == {"fc"}


@pytest.mark.parametrize("batch_size", [1, 5, 13, 64])
def test_batch_size_invariance(model, images, batch_size):
    ref = extract(model, images, ["block2", "fc"], batch_size=13, progress=False)
    got = extract(model, images, ["block2", "fc"], batch_size=batch_size, progress=False)
    for layer in ref:
        np.testing.assert_allclose(got[layer].values, ref[layer].values, rtol=1e-5, atol=1e-6)


def test_restores_train_state_and_grad_mode(model, images):
    model.train()
    extract(model, images, ["fc"], progress=False)
    assert model.training
    model.eval()
    extract(model, images, ["fc"], progress=False)
    assert not model.training
    assert torch.is_grad_enabled()


def test_early_stop_gives_the_same_values(model, images):
    a = extract(model, images, ["block1"], batch_size=4, early_stop=True, progress=False)
    b = extract(model, images, ["block1"], batch_size=4, early_stop=False, progress=False)
    np.testing.assert_array_equal(a["block1"].values, b["block1"].values)


def test_reductions(model, images):
    flat = extract(model, images, ["block2"], reduce="flatten", progress=False)["block2"]
    pooled = extract(model, images, ["block2"], reduce="avgpool", progress=False)["block2"]
    assert flat.shape == (13, 64 * 6 * 6) and pooled.shape == (13, 64)
    np.testing.assert_allclose(pooled.values, flat.values.reshape(13, 64, 36).mean(-1), rtol=1e-5, atol=1e-6)
    p1 = extract(model, images, ["block2"], reduce="random_projection", n_components=50, seed=1, progress=False)
    p2 = extract(model, images, ["block2"], reduce="random_projection", n_components=50, seed=1, batch_size=3, progress=False)
    p3 = extract(model, images, ["block2"], reduce="random_projection", n_components=50, seed=2, progress=False)
    assert p1["block2"].shape == (13, 50)
    np.testing.assert_allclose(p1["block2"].values, p2["block2"].values, rtol=1e-5, atol=1e-5)
    assert not np.allclose(p1["block2"].values, p3["block2"].values)
    # Johnson-Lindenstrauss: squared norms are preserved in expectation (within ~30% at k=50)
    ratio = (p1["block2"].values ** 2).sum(1) / (flat.values**2).sum(1)
    assert 0.5 < np.median(ratio) < 1.6
    custom = extract(model, images, ["block2"], reduce=lambda t: t.amax(dim=(2, 3)), progress=False)
    np.testing.assert_allclose(custom["block2"].values, flat.values.reshape(13, 64, 36).max(-1), rtol=1e-6)


def test_recurrent_layers_get_a_time_dim():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(4, 6)  # (time, batch, feature)
            self.lstm = nn.LSTM(4, 3, batch_first=True)
            self.cell = nn.RNNCell(4, 5)

        def forward(self, x):  # x: (batch, time, 4)
            self.gru(x.transpose(0, 1))
            self.lstm(x)
            h = torch.zeros(x.shape[0], 5)
            for t in range(x.shape[1]):
                h = self.cell(x[:, t], h)
            return h

    torch.manual_seed(0)
    net = Net()
    x = torch.randn(6, 7, 4)
    acts = extract(net, x, ["gru", "lstm", "cell"], batch_size=4, progress=False)
    assert acts["gru"].dims == ("stimulus", "unit", "time") and acts["gru"].shape == (6, 6, 7)
    assert acts["lstm"].shape == (6, 3, 7) and acts["cell"].shape == (6, 5, 7)
    with torch.no_grad():
        out, _ = net.gru(x.transpose(0, 1))
    np.testing.assert_allclose(acts["gru"].values, out.permute(1, 2, 0).numpy(), rtol=1e-5, atol=1e-6)


def test_stimulus_formats_and_ids(model, images):
    ids = [f"img{i}" for i in range(13)]
    by_tensor = extract(model, images, "fc", stimulus_ids=ids, progress=False)["fc"]
    by_numpy = extract(model, images.numpy(), "fc", stimulus_ids=ids, progress=False)["fc"]
    by_map = extract(model, dict(zip(ids, images)), "fc", progress=False)["fc"]
    by_pairs = extract(model, list(zip(ids, images)), "fc", progress=False)["fc"]
    for r in (by_numpy, by_map, by_pairs):
        xr.testing.assert_allclose(r, by_tensor)
    assert list(by_map.stimulus_id.values) == ids
    uint8 = (images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    da = xr.DataArray(uint8, dims=("stimulus", "height", "width", "channel"), coords={"stimulus_id": ("stimulus", ids)})
    t = stimuli_to_tensor(da)
    assert t.shape == (13, 3, 24, 24) and float(t.max()) <= 1.0
    by_da = extract(model, da, "fc", progress=False)["fc"]
    assert list(by_da.stimulus_id.values) == ids


def test_unknown_layer_lists_close_names(model, images):
    with pytest.raises(ValueError, match=r"Did you mean: block1.*list_layers\(model\)"):
        extract(model, images, ["blok1"])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"layers": []}, ValueError, "at least one layer"),
        ({"layers": ["fc", "fc"]}, ValueError, "repeat"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"reduce": "mean"}, ValueError, "'reduce' parameter"),
        ({"stimuli": torch.rand(2, 3, 24, 24)}, ValueError, "at least 3 stimuli"),
        ({"stimuli": torch.rand(5)}, ValueError, "leading stimulus axis"),
        ({"stimuli": "images/"}, TypeError, "Unsupported stimuli"),
        ({"stimuli": [torch.rand(3, 24, 24), torch.rand(3, 20, 20), torch.rand(3, 24, 24)]}, ValueError, "same shape"),
        ({"stimulus_ids": ["a"] * 13}, ValueError, "unique"),
        ({"device": "cuda"}, ValueError, "no CUDA"),
    ],
)
def test_bad_input(model, images, kwargs, error, match):
    if kwargs.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is available")
    args = {"stimuli": images, "layers": ["fc"], "progress": False, **kwargs}
    with pytest.raises(error, match=match):
        extract(model, **args)


def test_layer_not_called_and_non_tensor_outputs():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(3, 2)
            self.unused = nn.Linear(3, 2)

        def forward(self, x):
            return self.used(x)

    with pytest.raises(ValueError, match="not called"):
        extract(Net(), torch.rand(4, 3), ["unused"], progress=False)
    with pytest.raises(TypeError, match="needs a torch.nn.Module"):
        extract(lambda x: x, torch.rand(4, 3), ["a"])
    with pytest.raises(TypeError, match="needs a torch.nn.Module"):
        list_layers(object())


def test_streams_to_disk_under_a_small_memory_budget(model, images, tmp_path):
    in_memory = extract(model, images, ["block1", "fc"], batch_size=4, progress=False)
    streamed = extract(model, images, ["block1", "fc"], batch_size=4, memory_budget=10_000, progress=False)
    for layer in in_memory:
        assert not isinstance(streamed[layer].variable._data, np.ndarray)  # lazily backed by a file
        xr.testing.assert_allclose(streamed[layer].drop_attrs(), in_memory[layer].drop_attrs())
    explicit = extract(model, images, ["fc"], out_dir=tmp_path, progress=False)
    assert (tmp_path / "fc.nc").exists()
    np.testing.assert_allclose(explicit["fc"].values, in_memory["fc"].values, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", MODELS.names())
def test_every_registered_model_extracts(name):
    model = MODELS.get(name)()
    first = next(p for p in model.parameters())
    if first.dim() == 4:
        stimuli = torch.rand(4, first.shape[1], 32, 32)
    else:
        pytest.skip(f"{name} is not an image model; covered by its own tests")
    layers = list_layers(model)
    acts = extract(model, stimuli, [layers[0], layers[-1]], progress=False)
    for resp in acts.values():
        assert resp.sizes["stimulus"] == 4 and np.isfinite(resp.values).all()


@pytest.mark.gpu
def test_cuda_matches_cpu(model, images):
    cpu = extract(model, images, ["fc"], progress=False)["fc"]
    gpu = extract(model, images, ["fc"], device="cuda", progress=False)["fc"]
    np.testing.assert_allclose(gpu.values, cpu.values, rtol=1e-3, atol=1e-4)
    assert next(model.parameters()).device.type == "cpu"  # model moved back
