"""Tests for activation extraction (neurocompare.activations)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

from neurocompare.activations import extract, list_layers, stimuli_to_tensor
from neurocompare.models import MODELS, Preprocessing, build_model, resolve_model


EPS32 = float(np.finfo(np.float32).eps)
#: fan-in of each layer of convnet_small on the way to the deepest compared layer (conv 3*3*3, conv 32*3*3, fc 64)
FAN_IN = {"block1": 27, "block2": 27 + 288, "avgpool": 27 + 288, "fc": 27 + 288 + 64}


def f32_tol(ref, fan_in):
    """Tolerance for two float32 evaluations of one network that differ only in summation order.

    Another batch size, memory layout or CPU instruction set (AVX2 vs AVX-512) changes how the
    kernels block their sums. The probabilistic rounding bound of a length-K dot product is
    ~lambda sqrt(K) eps |a||b| (Higham & Mary 2019), summed over the layers' fan-ins on the path;
    lambda = 8 covers the tail, and |a||b| is bounded by the largest activation. For convnet_small
    this is a few 1e-5 absolute (an observed AVX-512 difference was 1.08e-6, the old atol 1e-6).
    """
    scale = float(np.abs(np.asarray(ref)).max()) or 1.0
    return {"rtol": 8 * math.sqrt(fan_in) * EPS32, "atol": 8 * math.sqrt(fan_in) * EPS32 * scale}


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
    np.testing.assert_allclose(acts["block1"].values, b1.reshape(13, -1).numpy(), **f32_tol(b1, FAN_IN["block1"]))
    np.testing.assert_allclose(acts["avgpool"].values, pooled.reshape(13, -1).numpy(), **f32_tol(pooled, FAN_IN["avgpool"]))
    np.testing.assert_allclose(acts["fc"].values, logits.numpy(), **f32_tol(logits, FAN_IN["fc"]))
    r = acts["fc"]
    assert r.dims == ("stimulus", "unit") and r.shape == (13, 10)
    assert list(r.unit_id.values[:2]) == ["fc.0", "fc.1"] and set(r.layer.values) == {"fc"}


@pytest.mark.parametrize("batch_size", [1, 5, 13, 64])
def test_batch_size_invariance(model, images, batch_size):
    ref = extract(model, images, ["block2", "fc"], batch_size=13, progress=False)
    got = extract(model, images, ["block2", "fc"], batch_size=batch_size, progress=False)
    for layer in ref:
        np.testing.assert_allclose(got[layer].values, ref[layer].values, **f32_tol(ref[layer].values, FAN_IN[layer]))


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
    # a mean of 36 float32 values summed in another order: sqrt(36) in the bound
    np.testing.assert_allclose(pooled.values, flat.values.reshape(13, 64, 36).mean(-1), **f32_tol(pooled.values, 36))
    p1 = extract(model, images, ["block2"], reduce="random_projection", n_components=50, seed=1, progress=False)
    p2 = extract(model, images, ["block2"], reduce="random_projection", n_components=50, seed=1, batch_size=3, progress=False)
    p3 = extract(model, images, ["block2"], reduce="random_projection", n_components=50, seed=2, progress=False)
    assert p1["block2"].shape == (13, 50)
    # the projection adds a dot product over 64*6*6 = 2304 flattened units to block2's path
    np.testing.assert_allclose(p1["block2"].values, p2["block2"].values, **f32_tol(p1["block2"].values, FAN_IN["block2"] + 2304))
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
    # 7 time steps of a GRU (fan-in 4 + 6 per gate): the recurrences add their rounding
    np.testing.assert_allclose(acts["gru"].values, out.permute(1, 2, 0).numpy(), **f32_tol(out, 7 * 10))


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
    # list_layers is the hook engine's (neurocompare._hooks); its message says "takes"
    with pytest.raises(TypeError, match="takes a torch.nn.Module"):
        list_layers(object())


def test_streams_to_disk_under_a_small_memory_budget(model, images, tmp_path):
    in_memory = extract(model, images, ["block1", "fc"], batch_size=4, progress=False)
    streamed = extract(model, images, ["block1", "fc"], batch_size=4, memory_budget=10_000, progress=False)
    for layer in in_memory:
        assert not isinstance(streamed[layer].variable._data, np.ndarray)  # lazily backed by a file
        xr.testing.assert_allclose(streamed[layer].drop_attrs(), in_memory[layer].drop_attrs())
    explicit = extract(model, images, ["fc"], out_dir=tmp_path, progress=False)
    assert (tmp_path / "fc.nc").exists()
    np.testing.assert_allclose(explicit["fc"].values, in_memory["fc"].values, **f32_tol(in_memory["fc"].values, FAN_IN["fc"]))


def _registered_stimuli(name):
    """Four stimuli for a registered model: its declared example input, else images of its first conv."""
    builder = MODELS.get(name)
    gen = torch.Generator().manual_seed(0)
    shape = getattr(builder, "example_input_shape", None)
    if shape is not None:
        return torch.rand(4, *shape[1:], generator=gen)
    example = getattr(builder, "example_input", None)
    if callable(example):
        x = example()
        return torch.cat([x, x.flip(0) * 0.5])
    if name == "mlp":
        return torch.rand(4, 2, 14, 14, generator=gen)
    first = next(p for p in builder().parameters())
    assert first.dim() == 4, f"{name}: declare example_input_shape on its builder"
    return torch.rand(4, first.shape[1], 32, 32, generator=gen)


@pytest.mark.parametrize("name", MODELS.names())
def test_every_registered_model_extracts(name):
    """Every registered model, by name (so with its registered preprocessing), extracts finite values."""
    stimuli = _registered_stimuli(name)
    layers = list_layers(build_model(name))
    acts = extract(name, stimuli, [layers[0], layers[-1]], progress=False)
    n = len(stimuli)  # four, or twice a builder's declared example batch
    for resp in acts.values():
        assert resp.sizes["stimulus"] == n and np.isfinite(resp.values).all()


@pytest.mark.gpu
def test_cuda_matches_cpu(model, images):
    cpu = extract(model, images, ["fc"], progress=False)["fc"]
    gpu = extract(model, images, ["fc"], device="cuda", progress=False)["fc"]
    np.testing.assert_allclose(gpu.values, cpu.values, rtol=1e-3, atol=1e-4)
    assert next(model.parameters()).device.type == "cpu"  # model moved back


# ----------------------------------------------------------------------------- one preprocessing rule
def test_a_spec_gets_the_preprocessing_score_applies(images):
    """extract("convnet_small", ...) feeds the model what score() feeds it (same numbers either door)."""
    resolved = resolve_model("convnet_small")
    by_name = extract("convnet_small", images, ["block2", "fc"], progress=False)
    as_score = extract(resolved.model, images, ["block2", "fc"], transform=resolved.preprocessing, progress=False)
    by_resolved = extract(resolved, images, ["block2", "fc"], progress=False)
    for layer in ("block2", "fc"):
        np.testing.assert_array_equal(by_name[layer].values, as_score[layer].values)
        np.testing.assert_array_equal(by_resolved[layer].values, as_score[layer].values)
    # ... and that input is ImageNet-normalized: a bare module (no preprocessing) sees other values
    bare = extract(build_model("convnet_small", seed=0), images, ["fc"], progress=False)["fc"]
    assert not np.allclose(bare.values, by_name["fc"].values)
    manual = extract(resolved.model, Preprocessing()(images), ["fc"], preprocessing=None, progress=False)["fc"]
    np.testing.assert_array_equal(manual.values, by_name["fc"].values)
    # preprocessing=None feeds the stimuli as they are, whatever the model is
    raw = extract("convnet_small", images, ["fc"], preprocessing=None, progress=False)["fc"]
    np.testing.assert_array_equal(raw.values, bare.values)


def test_resolve_model_of_a_bare_module_matches_extract(model, images):
    rm = resolve_model(model)
    assert rm.preprocessing.is_identity
    a = extract(model, images, ["fc"], progress=False)["fc"]
    b = extract(rm.model, images, ["fc"], transform=rm.preprocessing, progress=False)["fc"]
    np.testing.assert_array_equal(a.values, b.values)


def test_preprocessing_and_transform_together_are_refused(images):
    with pytest.raises(ValueError, match="both a preprocessing"):
        extract("convnet_small", images, ["fc"], transform=lambda x: x, progress=False)
    with pytest.raises(ValueError, match="'preprocessing' parameter of extract"):
        extract("convnet_small", images, ["fc"], preprocessing="imagenet", progress=False)
    with pytest.raises(TypeError, match="model spec"):
        extract(3, images, ["fc"], progress=False)


def test_uint8_images_are_scaled_like_a_dataarray(model, images):
    uint8 = (images.numpy() * 255).round().astype(np.uint8)  # (n, channel, height, width)
    as_float = torch.from_numpy(uint8.astype(np.float32) / 255)
    ref = extract(model, as_float, ["fc"], progress=False)["fc"].values
    for stim in (uint8, torch.from_numpy(uint8), list(torch.from_numpy(uint8))):
        np.testing.assert_array_equal(extract(model, stim, ["fc"], progress=False)["fc"].values, ref)
    da = xr.DataArray(np.moveaxis(uint8, 1, -1), dims=("stimulus", "height", "width", "channel"))
    np.testing.assert_array_equal(extract(model, da, ["fc"], progress=False)["fc"].values, ref)


def test_channel_last_numpy_images_are_transposed(model, images):
    from neurocompare.activations import _as_stimulus_set

    nhwc = np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy())
    assert torch.equal(_as_stimulus_set(nhwc, None, {3}).get(0, 13), images)  # the same input tensor
    first = extract(model, images.numpy(), ["fc"], progress=False)["fc"].values
    last = extract(model, nhwc, ["fc"], progress=False)["fc"].values
    # equal inputs at another memory address may take another float32 kernel path: rounding only
    np.testing.assert_allclose(first, last, **f32_tol(first, FAN_IN["fc"]))
    # a grayscale image model (1 input channel) and (n, height, width, 1) arrays
    gray = build_model("convnet_small", in_channels=1, seed=0)
    x = images[:, :1]
    np.testing.assert_allclose(
        extract(gray, x.numpy(), ["fc"], progress=False)["fc"].values,
        extract(gray, np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy()), ["fc"], progress=False)["fc"].values,
        **f32_tol(first, 9 + 288 + 64),  # 1 input channel: the first conv's fan-in is 9
    )
    # not an image model: a (n, a, b, 3) array is passed as it is
    lin = nn.Sequential(nn.Flatten(), nn.Linear(24 * 5 * 3, 2))
    assert extract(lin, np.zeros((4, 24, 5, 3), np.float32), ["1"], progress=False)["1"].shape == (4, 2)


def test_a_layer_with_non_finite_output_is_named():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)
            self.log = nn.Identity()

        def forward(self, x):
            return self.log(torch.log(self.lin(x)))  # log of negative numbers: NaN

    net = Net()
    with torch.no_grad():
        net.lin.weight.fill_(-1.0)
        net.lin.bias.zero_()
    x = torch.rand(5, 3) + 0.1
    with pytest.raises(ValueError, match=r"Layer 'log' produced non-finite values .*5 stimulus"):
        extract(net, x, ["lin", "log"], progress=False)
    assert np.isfinite(extract(net, x, ["lin"], progress=False)["lin"].values).all()


def test_hooks_are_removed_even_after_an_error(model, images):
    with pytest.raises(ValueError):
        extract(model, images, ["fc"], reduce="nope", progress=False)
    extract(model, images, ["block1", "fc"], progress=False)
    assert all(not m._forward_hooks for m in model.modules())


def test_list_layers_is_the_hook_engines():
    from neurocompare import _hooks, activations

    assert activations.list_layers is _hooks.list_layers


def test_float64_stimuli_follow_the_models_dtype(model, images):
    ref = extract(model, images, ["fc"], progress=False)["fc"].values
    got = extract(model, images.numpy().astype(np.float64), ["fc"], progress=False)["fc"].values
    np.testing.assert_array_equal(got, ref)  # float64 -> float32 is exact for float32-born values


# ----------------------------------------------------------------------------- storage (issue 22)
class _Recorder(nn.Module):
    """A module whose submodules' outputs are known exactly: identity views of the input."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def test_batches_are_copied_exactly_into_the_preallocated_rows():
    # 10 stimuli in batches of 4 (last batch 2): the stored rows are the layer outputs, bit for bit
    x = torch.randn(10, 3, 5, 7, generator=torch.Generator().manual_seed(1))
    net = nn.Sequential(_Recorder(lambda t: t * 2.0), _Recorder(lambda t: t.contiguous(memory_format=torch.channels_last)))
    acts = extract(net, x, ["0", "1"], batch_size=4, progress=False)
    want = (x * 2.0).reshape(10, -1).numpy()
    np.testing.assert_array_equal(acts["0"].values, want)
    # a channels-last output is flattened in its logical (C, H, W) order, as reshape() would
    np.testing.assert_array_equal(acts["1"].values, want)
    assert acts["0"].values.dtype == np.float32 and acts["0"].values.flags.c_contiguous


def test_float64_and_bfloat16_layers_are_stored_as_float32():
    x = torch.randn(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    net = nn.Sequential(nn.Identity().double(), _Recorder(lambda t: t.to(torch.bfloat16)))
    acts = extract(net, x, ["0", "1"], batch_size=4, progress=False, preprocessing=None)
    np.testing.assert_array_equal(acts["0"].values, x.float().numpy())  # one rounding, as .float() does
    np.testing.assert_array_equal(acts["1"].values, x.to(torch.bfloat16).float().numpy())
    assert acts["1"].values.dtype == np.float32


def test_huge_finite_values_are_not_called_non_finite():
    # the sum of these float32 values overflows to inf, yet every value is finite: no error
    big = float(np.finfo(np.float32).max) / 2
    net = nn.Sequential(_Recorder(lambda t: torch.full_like(t, big)))
    acts = extract(net, torch.ones(5, 8), ["0"], batch_size=5, progress=False)
    assert np.isfinite(acts["0"].values).all() and acts["0"].values.max() == np.float32(big)


def test_a_layer_whose_size_follows_the_batch_is_refused():
    # output (batch, batch): the last, smaller batch cannot fill the rows the first one sized
    net = nn.Sequential(_Recorder(lambda t: t @ t.T))
    with pytest.raises(ValueError, match=r"Layer '0' produced a per-stimulus shape \(2,\) in a later batch, after \(4,\)"):
        extract(net, torch.randn(6, 3), ["0"], batch_size=4, progress=False)


def test_recurrent_rows_are_stored_unit_by_time():
    # a cell called 3 times per pass: stored (stimulus, unit, time) equals the stacked outputs, transposed
    cell = nn.Linear(4, 4)

    class Loop(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = cell

        def forward(self, x):
            outs = []
            for _ in range(3):
                x = torch.tanh(self.cell(x))
                outs.append(x)
            return torch.stack(outs, 1)

    net = Loop()
    x = torch.randn(7, 4, generator=torch.Generator().manual_seed(3))
    acts = extract(net, x, ["cell"], batch_size=3, progress=False)
    with torch.no_grad():  # the same batches: the hook sees each cell call's (pre-tanh) output
        pre = []
        for i in range(0, 7, 3):
            h = x[i : i + 3]
            calls = []
            for _ in range(3):
                calls.append(cell(h))
                h = torch.tanh(calls[-1])
            pre.append(torch.stack(calls, 1))
        pre = torch.cat(pre)  # (stimulus, time, unit)
    assert acts["cell"].dims == ("stimulus", "unit", "time")
    np.testing.assert_array_equal(acts["cell"].values, pre.transpose(1, 2).numpy())
