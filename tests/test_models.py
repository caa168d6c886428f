"""Every registered model builds reproducibly and runs forward; the ResNet-18 matches torchvision's shapes."""

from __future__ import annotations

import inspect

import pytest
import torch

from neurocompare.models import MODELS, build_model

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
