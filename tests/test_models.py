"""Every registered model builds reproducibly and runs forward, with its registered preprocessing;
seeded weights are the published ones; the ResNet-18 matches torchvision's shapes."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from neurocompare.models import MODELS, Preprocessing, build_model, he_normal_, model_names, resolve_model, weights_hash

# input shape per model family (a builder may register an `example_input` attribute to override)
_INPUTS = {"mlp": (2, 2, 14, 14), "resnet18": (2, 3, 64, 64)}


def _example_input(name):
    builder = MODELS.get(name)
    shape = getattr(builder, "example_input_shape", None) or _INPUTS.get(name, (2, 3, 32, 32))
    return torch.rand(*shape, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", MODELS.names())
def test_every_registered_model_runs_forward(name):
    torch.set_num_threads(1)
    builder = MODELS.get(name)
    kwargs = {"seed": 0} if "seed" in inspect.signature(builder).parameters else {}
    model = build_model(name, **kwargs).eval()
    x = _example_input(name)
    example = getattr(builder, "example_input", None)
    if callable(example):
        x = example()
    with torch.no_grad():
        out = model(x)
    out = out[0] if isinstance(out, (tuple, list)) else out
    assert out.shape[0] == x.shape[0] and torch.isfinite(out).all()
    if "seed" in kwargs:  # same seed -> same weights
        again = build_model(name, **kwargs)
        for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
            assert torch.equal(a, b), k


def test_resnet18_parameter_count_and_shapes():
    m = build_model("resnet18", num_classes=1000)
    # torchvision.models.resnet18() has 11,689,512 parameters (torchvision 0.x, all versions)
    assert sum(p.numel() for p in m.parameters()) == 11_689_512
    names = [n for n, _ in m.named_children()]
    assert names == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes["conv1.weight"] == (64, 3, 7, 7)
    assert shapes["layer2.0.downsample.0.weight"] == (128, 64, 1, 1)
    assert shapes["layer4.1.conv2.weight"] == (512, 512, 3, 3)
    assert shapes["fc.weight"] == (1000, 512)
    with torch.no_grad():
        assert m.eval()(torch.rand(1, 3, 64, 64)).shape == (1, 1000)
    small = build_model("resnet18_small", num_classes=10)
    assert tuple(small.conv1.weight.shape) == (64, 3, 3, 3)
    feats = {}
    small.layer4.register_forward_hook(lambda mod, i, o: feats.update(l4=tuple(o.shape)))
    with torch.no_grad():
        small.eval()(torch.rand(1, 3, 32, 32))
    assert feats["l4"] == (1, 512, 4, 4)


def test_resnet18_matches_torchvision_state_dict_if_installed():
    tv = pytest.importorskip("torchvision.models")
    ref = tv.resnet18(weights=None)
    ours = build_model("resnet18")
    ref_shapes = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert ref_shapes == {k: tuple(v.shape) for k, v in ours.state_dict().items()}


def test_convnets_keep_their_layer_names():
    m = build_model("convnet_small", in_channels=1)
    names = [n for n, _ in m.named_modules()]
    for n in ("block1.conv", "block1.relu", "block2.pool", "avgpool", "fc"):
        assert n in names
    assert "block4.conv" in [n for n, _ in build_model("convnet_medium").named_modules()]


def test_mlp_checks_input_size():
    m = build_model("mlp", in_features=392)
    with pytest.raises(ValueError, match="392 input features"):
        m(torch.rand(2, 1, 28, 28))


# SHA-256 of the seed-0 weights, recorded from the code before the model registry was redesigned
# (commit 7f8d3df: models.convnets._seeded and model_specs' audio builders). The README's
# published scores were computed with these weights; a change here changes them.
PUBLISHED_WEIGHTS = {
    "convnet_small": "a4eb33968d055f7336876019aafbc8fffc50451827119d729ebffe0707b383c3",
    "convnet_medium": "c0b05d1feb089f182d655c5e78e1af980d715fd54842b559c55eac2691483274",
    "resnet18_small": "a9aca4c11323faae05c1e8ddab4fd546b802469a499b7e37c627b9e435d65d5c",
    "mlp": "ed56e54ea670ca3a9f7c5064b33af576a8d39ec12a864a8cb653d126cef27eeb",
    "audio_conv1d_tiny": "22fcbdbecc6be432e10992f56d19f308e8c7423ab3d3622152c898a45c300dc3",
    "audio_spectrogram_tiny": "e1a06cafcb3b24f2962cb2487a1edfe85ca6b05ba4699108ba815f1ea9550657",
}


# The same weights as four float64 sums (sum, a fixed weighted sum, sum of |w|, sum of w^2):
# torch's randn rounds its last bit differently under other CPU kernels (ATEN_CPU_CAPABILITY=
# default vs avx2/avx512: up to 2 ulp of float32 in a third of the weights), which changes the
# SHA but not the weights beyond float32 rounding. Recorded on AVX-512 from the same commit.
PUBLISHED_FINGERPRINTS = {
    "audio_conv1d_tiny": (-18.47545629, -7.197798481, 1804.970841512, 225.45417068),
    "audio_spectrogram_tiny": (-5.613635217, -4.818150006, 480.47021731, 95.867384907),
    "convnet_medium": (899.552506841, 458.848584652, 15834.875567869, 1944.661154223),
    "convnet_small": (176.719094971, 90.354445539, 1699.620351096, 407.263988793),
    "mlp": (-83.968743423, -40.31262434, 17425.152300522, 1563.204942961),
    "resnet18_small": (9486.308489084, 4770.961831142, 245761.810675437, 19223.66774262),
}
_F32_EPS = float(np.finfo(np.float32).eps)


def _fingerprint(model):
    v = torch.cat([t.detach().flatten().double() for _, t in sorted(model.state_dict().items()) if t.is_floating_point()])
    c = (torch.arange(v.numel(), dtype=torch.float64) * 0.6180339887498949) % 1.0
    return np.array([float(v.sum()), float((v * c).sum()), float(v.abs().sum()), float((v * v).sum())])


@pytest.mark.parametrize("name", sorted(PUBLISHED_WEIGHTS))
def test_seeded_weights_are_the_published_ones(name):
    """Bit-identical on this machine's kernels (the SHA); equal to float32 rounding on any CPU."""
    model = build_model(name, seed=0)
    got, pinned = _fingerprint(model), np.array(PUBLISHED_FINGERPRINTS[name])
    # each weight may differ by a few ulp: |d sum| <= 4 eps * sum|w|; squares twice that
    tol = 4 * _F32_EPS * pinned[2]
    np.testing.assert_allclose(got[:3], pinned[:3], rtol=0, atol=tol)
    np.testing.assert_allclose(got[3], pinned[3], rtol=8 * _F32_EPS)
    if resolve_model(name).weights_hash != PUBLISHED_WEIGHTS[name]:
        from torch.backends import cpu

        assert cpu.get_cpu_capability() not in ("AVX512",), "same kernels as the recording, yet different bits"
    assert resolve_model(name).weights_hash == weights_hash(model)


def test_he_normal_draws_from_its_own_generator_with_the_right_scale():
    net = torch.nn.Sequential(torch.nn.Linear(400, 300), torch.nn.BatchNorm1d(300))  # default init: global RNG
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    he_normal_(net, seed=5)
    assert torch.equal(before, torch.random.get_rng_state())  # the caller's RNG is untouched
    w = net[0].weight.detach()
    # N(0, 2 / fan_in): the sample variance of 120,000 draws is within ~5 standard errors
    # (s.e. of a variance estimate = var * sqrt(2 / n))
    var = 2.0 / 400
    assert abs(float(w.var()) - var) < 5 * var * (2 / w.numel()) ** 0.5
    assert torch.equal(net[0].bias, torch.zeros(300)) and torch.equal(net[1].weight, torch.ones(300))
    # the torch.manual_seed(seed) stream, as the convnets always used
    expected = torch.randn(300, 400, generator=torch.Generator().manual_seed(5)) * var**0.5
    assert torch.equal(w, expected)
    untouched = torch.nn.Linear(3, 2)
    assert he_normal_(untouched, None) is untouched


def test_every_model_is_registered_once_with_its_preprocessing():
    assert {"convnet_small", "audio_conv1d_tiny", "audio_spectrogram_tiny", "mlp"} <= set(model_names())
    for name in model_names():
        entry = MODELS.entry(name)
        assert isinstance(entry.preprocessing, Preprocessing) and entry.builder is MODELS.get(name)
        assert entry.modality in ("image", "audio") and entry.description, name
    assert MODELS.entry("convnet_small").preprocessing == Preprocessing()
    assert MODELS.entry("audio_conv1d_tiny").preprocessing.sample_rate == 16000
    assert MODELS.entry("mlp").preprocessing.is_identity
    assert MODELS.entry("path_integrator_rnn").preprocessing.is_identity  # registered without one
    with pytest.raises(ValueError, match="already registered"):
        MODELS.register("convnet_small", lambda **kw: None)
    with pytest.raises(KeyError, match="Did you mean: convnet_small"):
        MODELS.entry("convnet_smal")
