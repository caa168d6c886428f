"""Tests for the path-integration networks, place codes and the self-supervised loss terms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurocompare.models import MODELS, build_model
from neurocompare.models.path_integration import (
    PathIntegrator,
    PlaceCells,
    norm_relu,
    permuted_batch,
    place_cell_loss,
    ssl_grid_loss,
)
from neurocompare.gridcells import model_rate_maps, random_walks, rate_maps_from_checkpoint

BOX = ((-1.1, 1.1), (-1.1, 1.1))


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_place_codes_are_distributions_and_decode_position():
    pc = PlaceCells(512, 0.12, BOX, kind="softmax", seed=0)
    pos = torch.rand(200, 2) * 1.8 - 0.9
    code = pc(pos)
    torch.testing.assert_close(code.sum(-1), torch.ones(200))
    err = (pc.decode(code) - pos).norm(dim=-1)
    assert err.median() < 0.1  # top-3 centres around the true position
    dog = PlaceCells(64, 0.12, BOX, kind="dog", seed=0)(pos)
    assert (dog >= 0).all()
    torch.testing.assert_close(dog.sum(-1), torch.ones(200))


def test_registered_builders_and_shapes():
    for name in ("path_integrator_rnn", "path_integrator_gru", "path_integrator_lstm", "ssl_path_integrator"):
        assert name in MODELS.names()
        net = build_model(name, n_hidden=12, n_place=7, seed=0)
        v = torch.randn(3, 6, 2)
        h = net.hidden(v, None)
        assert h.shape == (3, 6, 12)
        out = net(v)
        assert out.shape == ((3, 6, 12) if name == "ssl_path_integrator" else (3, 6, 7))
        again = build_model(name, n_hidden=12, n_place=7, seed=0)
        torch.testing.assert_close(again(v), out)


def test_ssl_codes_are_unit_norm_and_nonnegative():
    net = build_model("ssl_path_integrator", n_hidden=16, seed=1)
    g = net(torch.randn(4, 10, 2))
    assert (g >= 0).all()
    torch.testing.assert_close(g.norm(dim=-1), torch.ones(4, 10), atol=1e-5, rtol=0)
    x = torch.tensor([[3.0, -1.0, 4.0]])
    torch.testing.assert_close(norm_relu(x), torch.tensor([[0.6, 0.0, 0.8]]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="cell"):
        PathIntegrator("transformer")
    with pytest.raises(ValueError, match="activation"):
        PathIntegrator("rnn", activation="gelu")
    with pytest.raises(ValueError, match=r"\(batch, time, 2\)"):
        PathIntegrator("rnn", 8, 4).hidden(torch.zeros(2, 5, 3))
    with pytest.raises(ValueError, match="kind"):
        PlaceCells(kind="box")
    with pytest.raises(ValueError, match="same shape"):
        place_cell_loss(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="share batch and time"):
        ssl_grid_loss(torch.zeros(2, 3, 4), torch.zeros(2, 4, 2))


def test_place_cell_loss_is_cross_entropy():
    target = torch.tensor([[0.2, 0.8]])
    logits = torch.log(torch.tensor([[0.2, 0.8]]))
    entropy = -(target * target.log()).sum()
    torch.testing.assert_close(place_cell_loss(logits, target), entropy)
    assert place_cell_loss(torch.tensor([[5.0, -5.0]]), target) > entropy


def test_ssl_loss_terms_on_their_own():
    pos = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.005, 0.0]]])
    same = torch.ones(1, 4, 3) / np.sqrt(3)
    _, m = ssl_grid_loss(same, pos, sigma_x=0.2, sigma_g=0.5, same_place=0.02)
    assert m["separation"] == pytest.approx(1.0)  # far places share a code: maximal penalty
    assert m["capacity"] == pytest.approx(-1.0)  # everything in one point of code space
    assert m["invariance"] == pytest.approx(0.0)
    eye = torch.eye(3)
    codes = torch.stack([eye[0], eye[1], eye[2], eye[1]])[None]  # point 3 is at point 0's place
    _, m = ssl_grid_loss(codes, pos, sigma_x=0.2, sigma_g=0.5, same_place=0.02)
    # orthogonal unit codes are |dg|^2 = 2 apart: kernel exp(-2 / (2 * 0.25)) for far pairs
    assert m["invariance"] == pytest.approx(2.0)
    # far pairs: (0,1), (0,2), (1,2), (1,3), (2,3) in both orders; (1,3) share a code -> kernel 1
    k = np.exp(-2 / 0.5)
    assert m["separation"] == pytest.approx((4 * k + 1) / 5, rel=1e-5)


def test_permuted_batch_shares_start_and_end():
    v = torch.randn(3, 7, 2)
    pv = permuted_batch(v, 4, generator=torch.Generator().manual_seed(0))
    assert pv.shape == (12, 7, 2)
    torch.testing.assert_close(pv[::4], v)
    ends = pv.sum(1).reshape(3, 4, 2)
    torch.testing.assert_close(ends, ends[:, :1].expand(-1, 4, -1), atol=1e-5, rtol=0)


def _walk(n, t, seed):
    tr = random_walks(n, t, box=BOX, seed=seed)
    return torch.as_tensor(tr.velocity, dtype=torch.float32), torch.as_tensor(tr.position, dtype=torch.float32)


def test_supervised_training_reduces_loss_and_error():
    torch.manual_seed(0)
    pc = PlaceCells(64, 0.2, BOX, kind="softmax", seed=0)
    net = PathIntegrator("gru", 64, 64)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    v_test, p_test = _walk(64, 10, seed=999)

    def evaluate():
        with torch.no_grad():
            logits = net(v_test, pc(p_test[:, 0]))
            return float(place_cell_loss(logits, pc(p_test[:, 1:]))), float((pc.decode(torch.softmax(logits, -1)) - p_test[:, 1:]).norm(dim=-1).mean())

    loss0, err0 = evaluate()
    for step in range(150):
        v, p = _walk(32, 10, seed=step)
        loss = place_cell_loss(net(v, pc(p[:, 0])), pc(p[:, 1:]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    loss1, err1 = evaluate()
    assert loss1 < loss0 - 0.3
    assert err1 < 0.6 * err0


def test_ssl_training_reduces_loss():
    torch.manual_seed(0)
    net = build_model("ssl_path_integrator", n_hidden=32, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    v0, _ = _walk(8, 10, seed=123)
    vt = permuted_batch(v0, 3, generator=torch.Generator().manual_seed(1))
    pt = torch.cumsum(vt * 0.02, 1)

    def evaluate():
        with torch.no_grad():
            return float(ssl_grid_loss(net(vt), pt, max_pairs_points=10_000)[0])

    before = evaluate()
    for step in range(60):
        v, _ = _walk(8, 10, seed=step)
        pv = permuted_batch(v, 3, generator=gen)
        loss, _ = ssl_grid_loss(net(pv), torch.cumsum(pv * 0.02, 1), generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert evaluate() < before - 0.05


def test_checkpoint_to_rate_maps_and_cli(tmp_path, capsys):
    net = PathIntegrator("rnn", 10, 8)
    ckpt = tmp_path / "pi.pt"
    torch.save({"model_state": net.state_dict(), "model_kwargs": {"cell": "rnn", "n_hidden": 10, "n_place": 8, "activation": "relu"},
                "place_cells": {"n": 8, "sigma": 0.12, "box": BOX, "kind": "dog", "seed": 0}, "box": BOX}, ckpt)
    maps = rate_maps_from_checkpoint(ckpt, bins=12, n_traj=20, steps=30)
    assert maps.shape == (10, 12, 12)
    from neurocompare.cli import main as cli_main

    assert cli_main(["gridscore", str(ckpt), "--bins", "12"]) == 0
    assert "unit9" in capsys.readouterr().out
    torch.save({"weights": 1}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a path-integrator checkpoint"):
        rate_maps_from_checkpoint(tmp_path / "bad.pt")


@pytest.mark.gpu
def test_cuda_forward_matches_cpu():
    for name in ("path_integrator_rnn", "path_integrator_lstm", "ssl_path_integrator"):
        net = build_model(name, n_hidden=16, n_place=8, seed=0).eval()
        v = torch.randn(4, 12, 2)
        cpu = net(v)
        gpu = net.cuda()(v.cuda()).cpu()
        torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=1e-3)
    pc = PlaceCells(32, 0.2, BOX, seed=0)
    pos = torch.rand(5, 2)
    torch.testing.assert_close(pc(pos.cuda()).cpu(), pc(pos), atol=1e-6, rtol=1e-5)


def test_builders_are_seeded_without_touching_the_global_rng():
    # same weights as the old global torch.manual_seed(seed) scheme, and the caller's RNG state is kept
    for name, cell, n_place, act in (("path_integrator_gru", "gru", 5, "relu"), ("ssl_path_integrator", "rnn", None, "norm_relu")):
        torch.manual_seed(3)
        reference = PathIntegrator(cell, 8, n_place, act).state_dict()
        torch.manual_seed(123)
        before = torch.random.get_rng_state()
        net = build_model(name, n_hidden=8, n_place=5, seed=3)
        assert torch.equal(torch.random.get_rng_state(), before)
        for key, value in net.state_dict().items():
            assert torch.equal(value, reference[key]), (name, key)


def test_model_rate_maps_hidden_layer_and_checkpoint_agree(tmp_path):
    net = build_model("path_integrator_rnn", n_hidden=6, n_place=8, seed=1).eval()
    pc = PlaceCells(8, 0.12, BOX, kind="dog", seed=0)
    tr = random_walks(20, 30, box=BOX, seed=0)
    maps, act, pos = model_rate_maps(net, tr, place_cells=pc, bins=12, return_activity=True)
    assert maps.shape == (6, 12, 12) and act.shape == (600, 6) and pos.shape == (600, 2)
    # step t is binned where the walker is after it: position[:, t + 1]
    np.testing.assert_array_equal(pos, tr.position[:, 1:].reshape(-1, 2))
    with torch.no_grad():
        h = net.hidden(torch.as_tensor(tr.velocity, dtype=torch.float32), pc(torch.as_tensor(tr.position[:, 0], dtype=torch.float32)))
    np.testing.assert_array_equal(act, h.reshape(-1, 6).double().numpy())
    # recording the recurrent submodule through the hook engine gives the same maps
    np.testing.assert_array_equal(model_rate_maps(net, tr, place_cells=pc, layer="rnn", bins=12), maps)
    # a checkpoint of the same net, driven by the same seeded walks, gives the same maps
    ckpt = tmp_path / "pi.pt"
    torch.save({"model_state": net.state_dict(), "model_kwargs": {"cell": "rnn", "n_hidden": 6, "n_place": 8, "activation": "relu"},
                "place_cells": {"n": 8, "sigma": 0.12, "box": BOX, "kind": "dog", "seed": 0}, "box": BOX}, ckpt)
    np.testing.assert_array_equal(rate_maps_from_checkpoint(ckpt, bins=12, n_traj=20, steps=30, seed=0), maps)
    with pytest.raises(TypeError, match="Trajectories"):
        model_rate_maps(net, tr.position, bins=12)
    class Pooled(torch.nn.Module):  # forgets the time axis: its activity cannot be binned by position
        def forward(self, v):
            return v.sum(1)

    with pytest.raises(ValueError, match=r"\(trajectory, time, unit\)"):
        model_rate_maps(Pooled(), tr, bins=12)
