"""Future-prediction models: the dynamics' equations, extraction with a time dim, training, errors."""

import numpy as np
import pytest
import torch
from torch import nn

import neurocompare as nc
from neurocompare.models import MODELS, FuturePredictor, build_model, future_predictor, train_future_prediction
from neurocompare.models.future_prediction import CTRNNDynamics, FrameEncoder, IdentityDynamics, LSTMDynamics, MLPDynamics

torch.set_num_threads(1)
EPS32 = float(torch.finfo(torch.float32).eps)


def _latent_model(dynamics, latent=6, hidden=12, **kw):
    """A FuturePredictor run on latents directly (identity 'encoder' of 1x1 'frames')."""
    return future_predictor(dynamics, encoder=nn.Identity(), in_channels=latent, image_size=1, hidden=hidden, seed=0, **kw)


def test_builders_are_registered_with_a_video_example():
    for kind in ("identity", "mlp", "lstm", "ctrnn"):
        name = f"future_prediction_{kind}"
        assert name in MODELS.names()
        assert MODELS.get(name).example_input_shape == (2, 4, 1, 32, 32)
        net = build_model(name, seed=0, hidden=8)
        assert isinstance(net, FuturePredictor)


def test_extract_records_encoder_dynamics_and_readout_with_a_time_dim():
    net = build_model("future_prediction_lstm", hidden=16, seed=0)
    video = torch.rand(5, 4, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    acts = nc.extract(net, video, ["encoder", "dynamics", "readout"], progress=False, batch_size=2)
    assert acts["encoder"].dims == ("stimulus", "unit", "time")
    assert acts["encoder"].shape == (5, 1024, 4) and acts["dynamics"].shape == (5, 16, 4) and acts["readout"].shape == (5, 1024, 4)
    lat = net.latents(video)
    # per-frame calls (extract) and one batched call (latents) agree up to float32 conv rounding
    np.testing.assert_allclose(acts["encoder"].values.transpose(0, 2, 1), lat.numpy(), rtol=0, atol=1e-4 * float(lat.abs().max()))
    res = net.run(lat)
    np.testing.assert_allclose(acts["readout"].values.transpose(0, 2, 1), res["readout"].detach().numpy(), atol=1e-4)


def test_identity_dynamics_predicts_the_present_and_imagination_holds_the_last_latent():
    net = _latent_model("identity")
    z = torch.randn(3, 7, 6, generator=torch.Generator().manual_seed(1))
    res = net.run(z)
    assert torch.equal(res["readout"], z) and torch.equal(res["dynamics"], z)
    imagine = torch.zeros(3, 7, dtype=torch.bool)
    imagine[:, 4:] = True
    held = net.run(z, imagine)["readout"]
    assert torch.equal(held[:, :4], z[:, :4])
    assert torch.equal(held[:, 4:], z[:, 3:4].expand(-1, 3, -1))  # its own prediction = the last latent seen
    assert train_future_prediction(net, z) == []  # nothing to train


def test_ctrnn_follows_its_euler_equation():
    dyn = CTRNNDynamics(4, 5, tau=4.0, dt=1.0)
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(2))
    h0 = torch.randn(2, 5, generator=torch.Generator().manual_seed(3))
    h1, _ = dyn(z, h0)
    alpha = 0.25
    expect = (1 - alpha) * h0 + alpha * torch.relu(torch.tanh(h0 @ dyn.w_rec.weight.T + z @ dyn.w_in.weight.T + dyn.w_in.bias))
    torch.testing.assert_close(h1, expect, rtol=0, atol=8 * EPS32)
    h_first, _ = dyn(z)  # from rest: h = alpha * relu(tanh(U z + b)) >= 0
    assert (h_first >= 0).all() and (h_first <= alpha).all()


def test_lstm_dynamics_equals_torch_lstm():
    # reference: torch.nn.LSTM (torch 2.x) with the cell's weights; same maths, another kernel
    dyn = LSTMDynamics(6, 9)
    ref = nn.LSTM(6, 9, batch_first=True)
    with torch.no_grad():
        for a, b in (("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"), ("bias_ih", "bias_ih_l0"), ("bias_hh", "bias_hh_l0")):
            getattr(ref, b).copy_(getattr(dyn.cell, a))
    z = torch.randn(3, 8, 6, generator=torch.Generator().manual_seed(4))
    state, hs = None, []
    for t in range(8):
        h, state = dyn(z[:, t], state)
        hs.append(h)
    out, _ = ref(z)
    # 8 recurrent steps of O(1) values: rounding grows ~linearly, 100 eps is ample
    torch.testing.assert_close(torch.stack(hs, 1), out, rtol=0, atol=100 * EPS32)


def test_mlp_dynamics_sees_exactly_its_last_n_past_latents():
    net = _latent_model("mlp", n_past=3)
    z = torch.randn(2, 8, 6, generator=torch.Generator().manual_seed(5))
    base = net.run(z)["readout"]
    older = z.clone()
    older[:, 3] += 10.0  # outside the window of steps >= 6
    changed = net.run(older)["readout"]
    torch.testing.assert_close(changed[:, 6:], base[:, 6:], rtol=0, atol=0)
    assert not torch.allclose(changed[:, 3:6], base[:, 3:6])


@pytest.mark.parametrize("kind", ["mlp", "lstm", "ctrnn"])
def test_training_learns_to_predict_a_linear_dynamical_system(kind):
    # latents rotate in 2 planes (a known linear map); a trained model must beat "no change" by far
    g = torch.Generator().manual_seed(6)
    theta = torch.tensor([0.3, 0.5])
    n, t = 64, 12
    phase = 2 * np.pi * torch.rand(n, 2, generator=g)
    steps = torch.arange(t, dtype=torch.float32)
    ang = phase[:, None, :] + steps[None, :, None] * theta
    z = torch.cat([torch.cos(ang), torch.sin(ang)], -1)  # (n, t, 4)
    net = _latent_model(kind, latent=4, hidden=32)
    hist = train_future_prediction(net, z, epochs=60, lr=1e-2, batch_size=16, seed=0, progress=False)
    identity_mse = float(((z[:, 1:] - z[:, :-1]) ** 2).mean())
    assert hist[-1] < 0.25 * identity_mse and hist[-1] < hist[0]
    again = _latent_model(kind, latent=4, hidden=32)
    assert train_future_prediction(again, z, epochs=2, lr=1e-2, batch_size=16, seed=0, progress=False) == pytest.approx(
        train_future_prediction(_latent_model(kind, latent=4, hidden=32), z, epochs=2, lr=1e-2, batch_size=16, seed=0, progress=False))


def test_padding_is_left_out_of_the_loss():
    net = _latent_model("ctrnn", latent=4)
    z = torch.randn(4, 6, 4, generator=torch.Generator().manual_seed(7))
    valid = torch.ones(4, 6, dtype=torch.bool)
    valid[:, 4:] = False
    poisoned = z.clone()
    poisoned[:, 5:] = 1e6  # garbage after the end must not reach the loss (step 4 -> 5 is padding)
    a = train_future_prediction(_latent_model("ctrnn", latent=4), z, valid, epochs=1, seed=0, progress=False)
    b = train_future_prediction(_latent_model("ctrnn", latent=4), poisoned, valid, epochs=1, seed=0, progress=False)
    assert a == pytest.approx(b, rel=1e-6)


def test_the_encoder_is_frozen():
    net = build_model("future_prediction_ctrnn", hidden=8, seed=0)
    before = {k: v.clone() for k, v in net.encoder.state_dict().items()}
    video = torch.rand(4, 5, 1, 32, 32, generator=torch.Generator().manual_seed(8))
    train_future_prediction(net, net.latents(video), epochs=2, seed=0, progress=False)
    net.train()
    assert not net.encoder.backbone.training
    assert all(not p.requires_grad for p in net.encoder.parameters())
    for k, v in net.encoder.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_errors():
    with pytest.raises(ValueError, match="'dynamics' parameter must be one of"):
        future_predictor("gru")
    with pytest.raises(ValueError, match="0 < dt <= tau"):
        CTRNNDynamics(3, 3, tau=1.0, dt=2.0)
    with pytest.raises(ValueError, match="n_past must be >= 1"):
        MLPDynamics(3, 3, n_past=0)
    with pytest.raises(TypeError, match="nn.Module backbone"):
        FrameEncoder("convnet_small")
    net = build_model("future_prediction_identity", seed=0)
    with pytest.raises(ValueError, match=r"videos \(batch, time, channel, height, width\)"):
        net(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match="imagine must be"):
        net.run(torch.zeros(2, 3, 4), torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="latents must be"):
        train_future_prediction(_latent_model("lstm"), torch.zeros(3, 4))
    assert isinstance(IdentityDynamics(3), nn.Module)
