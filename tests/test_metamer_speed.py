"""Tests for the fast metamer rules: the 'adaptive' step lengths, straight-through surrogate gradients
(ReLU as identity, max-pool as average pool) and restarts of stalled metamers; known answers,
invariances, batch == one by one, bit-identical resume and every error path."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from neurocompare._hooks import LayerHooks
from neurocompare.metamers import MetamerSynthesis, synthesize_metamers
from neurocompare.metamers._config import COLLAPSED, GROW, SHRINK, adapt_length, normalized_step
from neurocompare.metamers._layers import Surrogate, call_order, surrogate_modules

EPS32 = float(np.finfo(np.float32).eps)


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def images(n: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(seed))


def small_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(1, 3, 3, padding=1), relu=nn.ReLU(), pool=nn.MaxPool2d(2), flat=nn.Flatten(),
        fc=nn.Linear(12, 5), relu2=nn.ReLU(), out=nn.Linear(5, 3),
    ))


def shifted_relu() -> nn.Module:
    """f(x) = relu(x − 0.5) per pixel: pixels below 0.5 get no exact gradient at all."""
    lin = nn.Linear(16, 16)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(16))
        lin.bias.fill_(-0.5)
    return nn.Sequential(OrderedDict(flat=nn.Flatten(), lin=lin, relu=nn.ReLU()))


# ----------------------------------------------------------------------------- the update rule
def test_adapt_length_grows_shrinks_and_keeps():
    length = torch.tensor([1.0, 1.0, 1.0, 1.0])
    err = torch.tensor([0.5, 0.7, 0.6, 0.6])
    prev = torch.tensor([0.6, 0.6, 0.6, float("nan")])
    out = adapt_length(length, err, prev)
    torch.testing.assert_close(out, torch.tensor([GROW, SHRINK, 1.0, 1.0]), atol=0, rtol=0)


def test_normalized_step_has_the_requested_length_per_row():
    g = torch.Generator().manual_seed(1)
    scale = torch.tensor([1e-3, 1, 10, 1e3]).view(4, 1, 1)
    x, grad = torch.rand(4, 2, 3, generator=g), torch.randn(4, 2, 3, generator=g) * scale
    length = torch.tensor([0.5, 1.0, 0.25, 2.0])
    step = (x - normalized_step(x, grad, length)).reshape(4, -1)
    torch.testing.assert_close(step.norm(dim=1), length, rtol=8 * EPS32, atol=0)
    cos = torch.nn.functional.cosine_similarity(step, grad.reshape(4, -1), dim=1)
    torch.testing.assert_close(cos, torch.ones(4), rtol=0, atol=8 * EPS32)


# ----------------------------------------------------------------------------- surrogate gradients
def _grad_through(module: nn.Module, x: torch.Tensor, mask, every_row=False) -> tuple[torch.Tensor, torch.Tensor]:
    net = nn.Sequential(OrderedDict(m=module))
    handler = Surrogate()
    handler.mask, handler.every_row = mask, every_row
    x = x.clone().requires_grad_(True)
    with LayerHooks(net, ["m"], detach=False) as hooks:
        handler.install(hooks, "m")
        y = hooks.run(x)["m"]
    w = torch.arange(y.numel(), dtype=x.dtype).reshape(y.shape) / y.numel()
    (g,) = torch.autograd.grad((y * w).sum(), x)
    return y.detach(), g


def test_surrogate_relu_is_identity_backward_for_masked_rows_only():
    x = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    y, g = _grad_through(nn.ReLU(), x, torch.tensor([True, False, True]))
    torch.testing.assert_close(y, x.clamp_min(0), atol=0, rtol=0)  # forward unchanged
    w = torch.arange(24.0).reshape(3, 8) / 24
    torch.testing.assert_close(g[0], w[0], atol=0, rtol=0)
    torch.testing.assert_close(g[1], w[1] * (x[1] > 0), atol=0, rtol=0)
    torch.testing.assert_close(g[2], w[2], atol=0, rtol=0)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_surrogate_max_pool_backward_is_the_average_pool(dims):
    pool = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[dims](2)
    avg = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}[dims](2)
    x = torch.randn((2, 3) + (4,) * dims, generator=torch.Generator().manual_seed(dims))
    y, g = _grad_through(pool, x, torch.tensor([True, True]), every_row=True)
    torch.testing.assert_close(y, pool(x), atol=0, rtol=0)
    _, g_avg = _grad_through(avg, x, None)
    torch.testing.assert_close(g, g_avg, atol=EPS32, rtol=0)
    # the per-row path (mask, not every_row) gives the same numbers
    _, g_rows = _grad_through(pool, x, torch.tensor([True, True]))
    torch.testing.assert_close(g_rows, g, atol=0, rtol=0)


def test_surrogate_modules_are_relus_and_pools_before_the_deepest_layer():
    net = small_net()
    net.add_module("pool_dil", nn.MaxPool1d(1, dilation=2))  # after 'out': never listed
    order, _ = call_order(net, ["fc"], images(1))
    assert surrogate_modules(net, ["fc"], order) == ["relu", "pool"]
    order, _ = call_order(net, ["relu", "out"], images(1))
    assert surrogate_modules(net, ["relu", "out"], order) == ["relu", "pool", "relu2"]
    odd = nn.Sequential(OrderedDict(p=nn.MaxPool2d(2, dilation=2), q=nn.MaxPool2d(1), f=nn.Flatten()))
    order, _ = call_order(odd, ["f"], torch.rand(1, 1, 6, 6))
    assert surrogate_modules(odd, ["f"], order) == ["q"]


# ----------------------------------------------------------------------------- known answers
def test_surrogate_steps_reach_pixels_the_exact_gradient_cannot():
    # x0 = 0.9 everywhere: the target is relu(0.4) = 0.4; pixels of the N(0.5, 0.05) noise below 0.5 are
    # off, so no exact gradient ever reaches them: their share of the error stays
    x0 = torch.full((2, 1, 4, 4), 0.9)
    cfg = dict(method="adaptive", max_iter=60, progress=False, seed=0)
    exact = MetamerSynthesis(shifted_relu(), "relu", x0, **cfg)
    off = (exact.metamers[0] < 0.5).reshape(2, -1)
    assert bool(off.any(dim=1).all())
    exact.synthesize()
    # floor: the off pixels still give 0.4 each, the rest is matched
    floor = 0.4 * off.sum(dim=1).float().sqrt() / (0.4 * 4)
    torch.testing.assert_close(exact.relative_error[0], floor, atol=1e-3, rtol=0)
    fast = MetamerSynthesis(shifted_relu(), "relu", x0, surrogate_steps=5, **cfg).synthesize()
    assert float(fast.relative_error.max()) < 1e-4


def test_adaptive_converges_on_the_identity_model_faster_than_the_feather_schedule():
    x0 = images(4)
    ident = nn.Sequential(OrderedDict(flat=nn.Flatten(), ident=nn.Identity()))
    fast = synthesize_metamers(ident, "ident", x0, method="adaptive", max_iter=40, progress=False)
    slow = synthesize_metamers(ident, "ident", x0, n_rounds=4, steps_per_round=10, progress=False)
    assert float(fast["relative_error"].max()) < 1e-4
    assert float(fast["relative_error"].max()) < float(slow["relative_error"].min())
    np.testing.assert_allclose(fast["metamer"].values[0], x0.numpy(), atol=1e-4)


def test_target_error_stops_adaptive_rows_and_restarts_stalled_ones():
    x0 = torch.full((2, 1, 4, 4), 0.9)
    # an unreachable target (0): the step length collapses, each row restarts twice, then goes on
    syn = MetamerSynthesis(shifted_relu(), "relu", x0, method="adaptive", max_iter=400, surrogate_steps=3,
                           target_error=0.0, restarts=2, progress=False).synthesize()
    assert syn._restarts.tolist() == [0, 0]
    assert bool((syn._sur_end > 3).all())
    assert not bool(syn.stopped.any())
    # without restarts the surrogate phase ends once
    syn = MetamerSynthesis(shifted_relu(), "relu", x0, method="adaptive", max_iter=100, surrogate_steps=3,
                           target_error=1e-3, progress=False).synthesize()
    assert bool(syn.stopped.all()) and float(syn.relative_error.max()) <= 1e-3
    assert syn._sur_end.tolist() == [3, 3]
    assert float(syn._len.min()) > 0  # lengths stay positive numbers
    assert bool(torch.isfinite(syn._len).all())


# ----------------------------------------------------------------------------- batching, resume
FAST = dict(method="adaptive", max_iter=30, surrogate_steps=5, progress=False)


def test_batched_equals_one_at_a_time():
    model, x0 = small_net(), images(3)
    layers = ["relu", "fc"]
    full = MetamerSynthesis(model, layers, x0, **FAST)
    start = full.metamers.clone()
    together = full.synthesize().metamers
    for li, layer in enumerate(layers):
        for i in range(3):
            syn = MetamerSynthesis(model, layer, x0[i : i + 1], **FAST)
            syn._x = start[li, i : i + 1].clone()
            alone = syn.synthesize().metamers[0, 0]
            # float32 summation order differs between a batch of 6 and of 1 (see test_metamers'
            # _reordering_atol); the adaptive lengths (<= 1.1^30 · step) keep the drift below 1e-3
            torch.testing.assert_close(alone, together[li, i], atol=1e-3, rtol=0)


def test_resume_is_bit_identical(tmp_path):
    model, x0 = small_net(), images(2)
    cfg = dict(FAST, max_iter=60, target_error=1e-6, restarts=1)
    full = MetamerSynthesis(model, ["relu", "fc"], x0, **cfg).synthesize()
    part = MetamerSynthesis(model, ["relu", "fc"], x0, **cfg).synthesize(max_iter=4)  # inside the surrogate phase
    path = part.save_state(tmp_path / "state.npz")
    resumed = MetamerSynthesis(model, ["relu", "fc"], x0, **cfg).load_state(path).synthesize()
    torch.testing.assert_close(resumed.metamers, full.metamers, atol=0, rtol=0)
    torch.testing.assert_close(resumed.losses, full.losses, atol=0, rtol=0)
    for attr in ("_len", "_sur_end", "_restarts", "_t"):
        torch.testing.assert_close(getattr(resumed, attr), getattr(full, attr), atol=0, rtol=0)


def test_state_without_the_adaptive_arrays_still_loads():
    model, x0 = small_net(), images(2)
    syn = MetamerSynthesis(model, "fc", x0, n_rounds=2, steps_per_round=3, progress=False).synthesize(max_iter=2)
    state = {k: v for k, v in syn.state_dict().items() if k not in ("length", "surrogate_end", "restarts_left")}
    again = MetamerSynthesis(model, "fc", x0, n_rounds=2, steps_per_round=3, progress=False).load_state_dict(state)
    assert again.n_iter == 2
    torch.testing.assert_close(again.metamers, syn.metamers, atol=0, rtol=0)
    with pytest.raises(ValueError, match="'t' is missing"):
        MetamerSynthesis(model, "fc", x0, n_rounds=2, steps_per_round=3, progress=False).load_state_dict(
            {k: v for k, v in state.items() if k != "t"})


# ----------------------------------------------------------------------------- errors
def test_setting_errors():
    x0 = images(2)
    with pytest.raises(ValueError, match="'surrogate_steps' parameter must be an integer >= 0"):
        MetamerSynthesis(small_net(), "fc", x0, surrogate_steps=-1, progress=False)
    with pytest.raises(ValueError, match="'restarts' parameter"):
        MetamerSynthesis(small_net(), "fc", x0, restarts=1.5, progress=False)
    with pytest.raises(ValueError, match="restarts=1 needs method='adaptive'"):
        MetamerSynthesis(small_net(), "fc", x0, restarts=1, progress=False)
    with pytest.raises(ValueError, match="restarts=1 needs.*target_error"):
        MetamerSynthesis(small_net(), "fc", x0, method="adaptive", surrogate_steps=3, restarts=1, progress=False)
    with pytest.raises(ValueError, match="method"):
        MetamerSynthesis(small_net(), "fc", x0, method="bold", progress=False)


# ----------------------------------------------------------------------------- batch-norm folding
def conv_bn_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 4, 3, padding=1), bn=nn.BatchNorm2d(4), relu=nn.ReLU(),
                                    conv2=nn.Conv2d(4, 2, 3, bias=False), bn2=nn.BatchNorm2d(2), flat=nn.Flatten()))
    with torch.no_grad():  # non-trivial running statistics and affine parameters
        for bn in (net.bn, net.bn2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    return net.eval()


class _Residual(nn.Module):
    """bn(conv(x)) + conv(x): the convolution's output is used twice, so folding would change the result."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)
        with torch.no_grad():
            self.bn.running_var.fill_(4.0)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


def test_folded_batchnorm_gives_the_same_layers_and_restores_the_modules():
    from neurocompare.metamers._fold import foldable_pairs, folded_batchnorm

    net, x = conv_bn_net(), images(3)
    assert foldable_pairs(net, x[:1], ["flat"]) == [("conv", "bn"), ("conv2", "bn2")]
    assert foldable_pairs(net, x[:1], ["conv", "flat"]) == [("conv2", "bn2")]  # a requested conv keeps its output
    params = [p.detach().clone() for p in net.parameters()]
    with torch.no_grad():
        want = net(x)
        with folded_batchnorm(net, ["relu", "flat"], x[:1]) as pairs:
            got = net(x)
            assert "forward" in vars(net.conv) and "forward" in vars(net.bn)
    assert pairs == [("conv", "bn"), ("conv2", "bn2")]
    # folding reorders float32 arithmetic only: a few eps of the output's scale
    torch.testing.assert_close(got, want, atol=64 * EPS32 * float(want.abs().max()), rtol=0)
    assert "forward" not in vars(net.conv) and "forward" not in vars(net.bn)
    for p, q in zip(params, net.parameters()):
        torch.testing.assert_close(p, q, atol=0, rtol=0)
    net.bn.train()  # batch statistics: not foldable
    assert foldable_pairs(net, x[:1], ["flat"]) == [("conv2", "bn2")]


def test_folding_is_refused_when_the_probe_disagrees():
    from neurocompare.metamers._fold import foldable_pairs, folded_batchnorm

    net = nn.Sequential(OrderedDict(res=_Residual(), flat=nn.Flatten())).eval()
    x = images(2)
    assert foldable_pairs(net, x[:1], ["flat"]) == [("res.conv", "res.bn")]  # looks like a pair ...
    with torch.no_grad():
        want = net(x)
        with folded_batchnorm(net, ["flat"], x[:1]) as pairs:
            got = net(x)
    assert pairs == []  # ... but the probe shows the output changes: nothing folded
    torch.testing.assert_close(got, want, atol=0, rtol=0)


def test_synthesis_with_and_without_folding_agree():
    net, x0 = conv_bn_net(), images(2)
    cfg = dict(method="adaptive", max_iter=25, surrogate_steps=5, progress=False)
    a = MetamerSynthesis(net, ["relu", "flat"], x0, **cfg).synthesize()
    b = MetamerSynthesis(net, ["relu", "flat"], x0, fold_batchnorm=False, **cfg).synthesize()
    # the same steps up to float32 rounding of the folded weights, amplified by the adaptive lengths
    torch.testing.assert_close(a.metamers, b.metamers, atol=1e-3, rtol=0)
    assert float(a.relative_error.max()) < 0.05 and float(b.relative_error.max()) < 0.05
    with pytest.raises(ValueError, match="'fold_batchnorm' parameter must be True or False"):
        MetamerSynthesis(net, "flat", x0, fold_batchnorm="yes", progress=False)


# ----------------------------------------------------------------------------- the bench
def _bench_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "bench_metamers.py"
    spec = importlib.util.spec_from_file_location("bench_metamers_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_counts_images_where_ours_is_worse():
    bench = _bench_module()
    worse, ratio = bench._compare([0.1, 0.2, 0.3], [0.2, 0.2, 0.1])
    assert worse == 1 and ratio == pytest.approx(3.0, rel=4 * np.finfo(float).eps)
    assert bench._compare([0.0, 0.1], [0.0, 0.2]) == (0, 1.0)
    worse, ratio = bench._compare([0.1], [0.0])
    assert worse == 1 and ratio == float("inf")


@pytest.mark.slow
def test_bench_runs_without_the_peer(tmp_path):
    bench = _bench_module()
    rows = bench.run(["--small", "--n-images", "2", "--n-iter", "9", "--warmup", "0", "--venvs", str(tmp_path)])
    assert [r["peer_status"] for r in rows] == ["missing"] * 3  # no target-matching row without the peer
    for r in rows:
        assert r["ours"]["steps"] <= 9 and len(r["ours"]["errors"]) == 2
        assert all(0 <= e < 1.5 for e in r["ours"]["errors"])
        assert r["ratio_wall"] is None and r["precision"] == "float32"
