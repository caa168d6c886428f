"""Grid-cell emergence: the SIC and conformal loss terms on hand-built codes, the feed-forward
positive control (hexagonal maps in CI-sized training), the SIC data and the Norm-ReLU RNN options."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurocompare.models import build_model
from neurocompare.models.grid_losses import (
    ConformalLoss,
    SICLoss,
    capacity_loss,
    conformal_loss,
    invariance_loss,
    norm_relu,
    pair_distances,
    separation_loss,
    sic_loss,
)
from neurocompare.models.path_integration import uniform_velocity_batch

# float32 losses over O(1e3) pairs of O(1) terms: a few hundred ulps
TOL32 = 1e3 * torch.finfo(torch.float32).eps


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _positions(n, seed=0, scale=1.0):
    return scale * torch.rand(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _hex_code(x, period, phases=1):
    """A hexagonal (3-direction) torus code of dims (point, 6 * phases): locally conformal."""
    k = 4 * math.pi / (math.sqrt(3) * period)
    dirs = torch.tensor([[math.cos(a), math.sin(a)] for a in (0, math.pi / 3, 2 * math.pi / 3)], dtype=x.dtype)
    ph = (x @ dirs.T) * k
    return torch.cat([torch.cos(ph), torch.sin(ph)], dim=-1) / math.sqrt(3)


# ---------------------------------------------------------------------------------------------- loss terms


def test_pair_distances_are_every_unordered_pair_once():
    g = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    dg2, dx = pair_distances(g, x)
    torch.testing.assert_close(dg2, torch.tensor([25.0, 1.0, 18.0]))  # pairs (0,1), (0,2), (1,2)
    torch.testing.assert_close(dx, torch.tensor([1.0, 2.0, math.sqrt(5.0)]))


def test_perfect_conformal_code_has_zero_distance_term():
    x = _positions(80, scale=3.0)
    for sigma, sigma_g in ((1.0, 2**-0.5), (0.4, 0.3), (2.0, 1.5)):
        # a linear embedding rotated into 5-D with scale sigma_g / sigma is exactly conformal
        q, _ = torch.linalg.qr(torch.randn(5, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
        g = torch.cat([x, torch.zeros(80, 3, dtype=torch.float64)], 1) @ q * (sigma_g / sigma)
        assert float(conformal_loss(g, x, sigma=sigma, sigma_g=sigma_g)) == pytest.approx(0.0, abs=1e-14)
        # any other scale is penalised, and more the farther it is from conformal
        losses = [float(conformal_loss(g * f, x, sigma=sigma, sigma_g=sigma_g)) for f in (1.1, 1.5, 3.0)]
        assert 0 < losses[0] < losses[1] < losses[2]


def test_hexagonal_code_is_nearly_conformal_locally_and_free_far_away():
    # |g(x) - g(x')|^2 = |k|^2 |d|^2 / 2 to second order for the 3-direction code of unit norm,
    # so the code with sigma_g / sigma = |k| / sqrt(2) matches the kernel at short range
    period = 1.0
    k = 4 * math.pi / (math.sqrt(3) * period)
    sigma_g = 2**-0.5
    sigma = sigma_g * math.sqrt(2) / k
    x = _positions(300, scale=4.0)
    hexa = conformal_loss(_hex_code(x, period), x, sigma=sigma, sigma_g=sigma_g)
    rand = conformal_loss(norm_relu(torch.randn(300, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))), x, sigma=sigma, sigma_g=sigma_g)
    assert float(hexa) < 0.1 * float(rand)


def test_invariance_is_zero_for_identical_codes_of_nearby_points_and_counts_only_them():
    x = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0]], dtype=torch.float64)
    g = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert float(invariance_loss(g, x, radius=0.3)) == 0.0  # the far point's different code is ignored
    g2 = torch.tensor([[1.0, 0.0], [0.6, 0.8], [1.0, 0.0]], dtype=torch.float64)
    assert float(invariance_loss(g2, x, radius=0.3)) == pytest.approx(0.4**2 + 0.8**2)
    assert float(invariance_loss(g2, x, radius=0.01)) == 0.0  # no pair that close: zero, not NaN


def test_separation_kernel_values():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.05]], dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64)
    # far pairs (0,1), (1,2): orthogonal unit codes are |dg|^2 = 2 apart
    assert float(separation_loss(eye, x, sigma_x=0.3, sigma_g=0.5)) == pytest.approx(math.exp(-2 / (2 * 0.25)))
    same = torch.ones(3, 3, dtype=torch.float64) / math.sqrt(3)
    assert float(separation_loss(same, x, sigma_x=0.3, sigma_g=0.5)) == pytest.approx(1.0)


def test_capacity_l1_orders_dense_above_sparse_codes():
    n = 16
    dense = torch.ones(4, n, dtype=torch.float64) / math.sqrt(n)
    onehot = torch.eye(n, dtype=torch.float64)[:4]
    assert float(capacity_loss(dense)) == pytest.approx(-math.sqrt(n) / n)  # -L1 / units
    assert float(capacity_loss(onehot)) == pytest.approx(-1 / n)
    # kernel kind: identical codes -> -1; mutually orthogonal -> -exp(-2 / 2 sigma_g^2)
    assert float(capacity_loss(dense, "kernel", sigma_g=0.5)) == pytest.approx(-1.0)
    assert float(capacity_loss(onehot, "kernel", sigma_g=0.5)) == pytest.approx(-math.exp(-4.0))


def test_sic_invariance_near_vs_same_place():
    # two permutations ending together (same place) and a crossing point 0.1 away from another
    pos = torch.tensor([[[0.0, 0.0], [1.0, 1.0]], [[0.1, 0.0], [1.0, 1.0]]], dtype=torch.float64)
    g = norm_relu(torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]], dtype=torch.float64))
    _, near = sic_loss(g, pos, sigma_x=0.3, sigma_g=0.5, invariance="near", max_points=None)
    _, same = sic_loss(g, pos, sigma_x=0.3, sigma_g=0.5, invariance="same_place", same_place=0.02, max_points=None)
    assert near["invariance"] == pytest.approx(1.0)  # pairs (start 0, start 1): |dg|^2 = 2; (ends): 0 -> mean 1
    assert same["invariance"] == pytest.approx(0.0)  # only the shared end points count, and they agree
    loss, terms = sic_loss(g, pos, sigma_x=0.3, sigma_g=0.5, w_sep=2.0, w_inv=3.0, w_cap=0.5, max_points=None)
    assert float(loss) == pytest.approx(2.0 * terms["separation"] + 3.0 * terms["invariance"] + 0.5 * terms["capacity"])


def test_sic_subsample_keeps_end_points_and_is_seeded():
    vel, pos = uniform_velocity_batch(6, 10, 3, generator=torch.Generator().manual_seed(0))
    g = norm_relu(torch.randn(18, 10, 8, generator=torch.Generator().manual_seed(1)))
    a = sic_loss(g, pos, max_points=40, generator=torch.Generator().manual_seed(5))[0]
    b = sic_loss(g, pos, max_points=40, generator=torch.Generator().manual_seed(5))[0]
    assert float(a) == float(b)
    full = sic_loss(g, pos, max_points=None)[0]
    assert float(full) != float(a)


def test_loss_modules_match_functions_and_validate():
    x = _positions(30)
    g = norm_relu(torch.randn(30, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3)))
    loss, terms = ConformalLoss(0.5, alpha=0.8)(g, x)
    expect = 0.8 * conformal_loss(g, x, sigma=0.5) + 0.2 * capacity_loss(g)
    assert float(loss) == pytest.approx(float(expect), rel=1e-12)
    assert set(terms) == {"conformal", "capacity"}
    gb, xb = g.reshape(3, 10, 8), x.reshape(3, 10, 2)
    loss2, _ = SICLoss(sigma_x=0.3, sigma_g=0.4, max_points=None)(gb, xb)
    assert float(loss2) == float(sic_loss(gb, xb, sigma_x=0.3, sigma_g=0.4, max_points=None)[0])


def test_loss_errors_say_what_was_expected():
    g, x = torch.zeros(2, 5, 4), torch.zeros(2, 5, 2)
    with pytest.raises(ValueError, match="invariance.*'near', 'same_place'|invariance.*same_place"):
        sic_loss(g, x, invariance="loop")
    with pytest.raises(ValueError, match="capacity"):
        sic_loss(g, x, capacity="l3")
    with pytest.raises(ValueError, match="sigma_x"):
        sic_loss(g, x, sigma_x=0.0)
    with pytest.raises(ValueError, match=r"\(batch, time, unit\)"):
        sic_loss(g[0], x[0])
    with pytest.raises(ValueError, match="same leading dims"):
        conformal_loss(torch.zeros(5, 4), torch.zeros(6, 2), sigma=1.0)
    with pytest.raises(ValueError, match="at least one point dim"):
        capacity_loss(torch.zeros(4))
    with pytest.raises(ValueError, match="sigma_g"):
        capacity_loss(torch.zeros(3, 4), "kernel")
    with pytest.raises(ValueError, match="alpha"):
        ConformalLoss(1.0, alpha=1.5)
    with pytest.raises(ValueError, match="invariance"):
        SICLoss(invariance="loop")
    with pytest.raises(ValueError, match="n_perm >= 2"):
        uniform_velocity_batch(4, 10, 1)


# ---------------------------------------------------------------------------------------------- SIC data and RNN


def test_uniform_velocity_batch_permutations_share_start_end_and_are_uniform():
    vel, pos = uniform_velocity_batch(500, 15, 4, step=0.5, generator=torch.Generator().manual_seed(0))
    assert vel.shape == pos.shape == (2000, 15, 2)
    ends = pos[:, -1].reshape(500, 4, 2)
    torch.testing.assert_close(ends, ends[:, :1].expand(-1, 4, -1), atol=1e-5, rtol=0)
    torch.testing.assert_close(pos, torch.cumsum(vel, 1))
    steps = vel[::4].reshape(-1, 2)
    assert steps.abs().max() <= 0.5
    # uniform on [-a, a]: variance a^2 / 3; 15k draws -> s.e. of the variance ~ 0.0007
    assert float(steps.var(0).mean()) == pytest.approx(0.25 / 3, abs=0.003)
    # the permutations really reorder: paths differ in the middle
    mid = pos[:, 7].reshape(500, 4, 2)
    assert float((mid[:, 1] - mid[:, 0]).norm(dim=-1).mean()) > 0.3


def test_identity_initialised_norm_relu_rnn():
    net = build_model("ssl_path_integrator", n_hidden=16, identity_init=True, seed=0)
    torch.testing.assert_close(net.rnn.w_rec.weight, torch.eye(16))
    assert float(net.rnn.w_rec.bias.detach().abs().max()) == 0.0
    # zero velocity keeps the (normalised) initial state: an identity map is a perfect memory
    g = net(torch.zeros(2, 5, 2))
    torch.testing.assert_close(g, norm_relu(net.h0).expand(2, 5, -1), atol=1e-6, rtol=0)
    from neurocompare.models.path_integration import PathIntegrator

    with pytest.raises(ValueError, match="identity_init"):
        PathIntegrator("gru", 8, 4, identity_init=True)


def test_sic_training_lowers_the_loss():
    net = build_model("ssl_path_integrator", n_hidden=32, identity_init=True, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    fixed = uniform_velocity_batch(16, 10, 3, generator=torch.Generator().manual_seed(9))

    def evaluate():
        with torch.no_grad():
            return float(sic_loss(net(fixed[0]), fixed[1], sigma_x=1.0, sigma_g=0.4, max_points=None)[0])

    before = evaluate()
    for _ in range(60):
        vel, pos = uniform_velocity_batch(16, 10, 3, generator=gen)
        loss, _ = sic_loss(net(vel), pos, sigma_x=1.0, sigma_g=0.4, max_points=256, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert evaluate() < before - 0.05


def test_multiscale_conformal_loss_is_the_mean_over_scales():
    x = _positions(40, seed=4, scale=3.0)
    g = norm_relu(torch.randn(40, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(5)))
    loss, terms = ConformalLoss((0.5, 1.0, 2.0), alpha=1.0)(g, x)
    expect = sum(float(conformal_loss(g, x, sigma=s)) for s in (0.5, 1.0, 2.0)) / 3
    assert float(loss) == pytest.approx(expect, rel=1e-12)
    with pytest.raises(ValueError, match="non-empty"):
        ConformalLoss(())
    with pytest.raises(ValueError, match="sigma"):
        ConformalLoss((1.0, -1.0))


# ---------------------------------------------------------------------------------------------- positive control


@pytest.mark.slow
def test_positive_control_small_mode_gives_hexagonal_maps():
    # the CI configuration of analyses/ssl_grid_cells.py (3,000 steps, ~85 s on one thread)
    from analyses.grid_models import ControlConfig, control_maps, train_control, unit_statistics

    cfg = ControlConfig().shrink()
    model, _, _ = train_control(cfg)
    maps, _, _ = control_maps(model, cfg)
    st = unit_statistics(maps, cfg.side / cfg.bins)
    assert st["gridness_sargolini_median"] > 0.3
    assert st["frac_sargolini_gt_0.3"] > 0.5
    # one scale -> the grid units share one period (the conformal scale sets it)
    assert st["n_modules"] == 1


# ---------------------------------------------------------------------------------------------- sweep bookkeeping


def _rows():
    # two settings x two seeds; (1.0, 0.3) is better on average
    vals = {(0.1, 0.3): (0.0, 0.1), (1.0, 0.3): (0.5, 0.3)}
    return [{"key": f"cap{r}_sg{s}_invnear_s{i}", "ratio": r, "sigma_g": s, "seed": i, "invariance": "near", "frac_above_shuffle95": v,
             "gridness_median": v - 0.2} for (r, s), pair in vals.items() for i, v in enumerate(pair)]


def test_sweep_heatmap_shows_the_seed_means():
    import matplotlib

    matplotlib.use("Agg")
    from neurocompare.plotting import plot_sweep_heatmap

    fig = plot_sweep_heatmap(_rows())
    img = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(np.asarray(img), [[0.05, 0.4]])  # y = sigma_g (one), x = ratio (0.1, 1.0)
    with pytest.raises(ValueError, match="empty"):
        plot_sweep_heatmap([])
    with pytest.raises(ValueError, match="lack"):
        plot_sweep_heatmap(_rows(), value="nope")


def test_best_sweep_setting_and_table():
    from analyses.ssl_grid_cells import best_sweep_setting, sweep_table

    best = best_sweep_setting(_rows())
    assert (best["ratio"], best["sigma_g"]) == (1.0, 0.3)
    assert best["mean"] == pytest.approx(0.4) and best["min"] == 0.3 and best["max"] == 0.5
    table = sweep_table(_rows())
    assert [t["ratio"] for t in table] == [0.1, 1.0] and table[0]["frac_above_shuffle95_mean"] == pytest.approx(0.05)
    assert best_sweep_setting([]) is None


def test_sweep_file_resumes(tmp_path, monkeypatch):
    # a finished run in sweep.jsonl is not trained again
    import json

    import analyses.grid_models as gm

    cfg = gm.SICConfig().shrink()
    key = gm._run_key(dataclasses_replace(cfg, w_cap=1.0, sigma_g=0.4, seed=0))
    (tmp_path / "sweep.jsonl").write_text(json.dumps({"key": key, "ratio": 1.0}) + "\n")
    monkeypatch.setattr(gm, "train_sic", lambda *a, **k: pytest.fail("a finished run was trained again"))
    rows = gm.sic_sweep(cfg, [1.0], [0.4], [0], tmp_path)
    assert [r["key"] for r in rows] == [key]


def dataclasses_replace(obj, **kw):
    import dataclasses

    return dataclasses.replace(obj, **kw)
