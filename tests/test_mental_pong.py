"""Mental-Pong: geometry against the closed form, rendering, simulated DMFC and end-point metrics."""

import math

import numpy as np
import pytest

import neurocompare as nc
from neurocompare.tasks import (
    ARENA,
    BALL_RADIUS,
    OCCLUDER_X,
    endpoint_consistency,
    endpoint_readout,
    mental_pong_conditions,
    occluded_mask,
    render,
    residual_consistency,
    simulated_dmfc,
)


@pytest.fixture(scope="module")
def ds():
    return mental_pong_conditions(300, seed=3)


def fold(u, lo, hi):
    """Closed form of a coordinate reflected between lo and hi: unfold the straight line."""
    w = hi - lo
    m = np.mod(u - lo, 2 * w)
    return lo + np.where(m <= w, m, 2 * w - m)


def test_epochs_and_bounces_obey_the_task_limits(ds):
    vis = ds.t_occlude.values
    occ = ds.t_end.values - ds.t_occlude.values
    assert ((vis >= 15) & (vis <= 45)).all() and ((occ >= 15) & (occ <= 45)).all()
    assert (ds.n_bounce.values <= 1).all() and (ds.n_bounce.values == 1).any() and (ds.n_bounce.values == 0).any()
    x = ds.x.values
    for i in range(ds.sizes["condition"]):
        t_occ, t_end = int(ds.t_occlude[i]), int(ds.t_end[i])
        # t_occlude is the first frame whose centre is behind the occluder edge; t_end the first at the paddle
        assert x[i, t_occ - 1] < OCCLUDER_X <= x[i, t_occ]
        assert x[i, t_end - 1] < ARENA
        assert ds.valid.values[i, :t_end].all() and not ds.valid.values[i, t_end:].any()
        assert ds.visible.values[i, :t_occ].all() and not ds.visible.values[i, t_occ:].any()
    assert (ds.speed.values[:, None] >= 0.2 - 1e-12).all() and (np.abs(ds.heading.values) <= 0.4 * math.pi).all()


def test_y_final_and_every_frame_match_the_closed_form_reflection(ds):
    # The generator integrates event by event; the closed form unfolds the start line. Both are
    # a handful of float64 operations on numbers <= 32 units, so they agree to ~1e-13 (1e-9 asked).
    x0, y0, h, s = (ds[v].values for v in ("x0", "y0", "heading", "speed"))
    vx, vy = s * np.cos(h), s * np.sin(h)
    t_final = (ARENA - x0) / vx
    np.testing.assert_allclose(ds.t_final.values, t_final, rtol=0, atol=1e-9)
    y_closed = fold(y0 + vy * t_final, BALL_RADIUS, ARENA - BALL_RADIUS)
    np.testing.assert_allclose(ds.y_final.values, y_closed, rtol=0, atol=1e-9)
    frames = ds.frame.values[None, :]
    valid = ds.valid.values
    y_frames = fold(y0[:, None] + vy[:, None] * frames, BALL_RADIUS, ARENA - BALL_RADIUS)
    np.testing.assert_allclose(ds.y.values[valid], y_frames[valid], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ds.x.values[valid], (x0[:, None] + vx[:, None] * frames)[valid], rtol=0, atol=1e-9)
    # bounce count: how many times the unfolded line crossed a wall before each frame
    crossings = np.floor((y0[:, None] + vy[:, None] * frames - BALL_RADIUS) / (ARENA - 2 * BALL_RADIUS))
    assert (ds.bounce.values[valid] == np.abs(crossings)[valid]).all()
    # after a bounce the vertical velocity has flipped
    flipped = ds.bounce.values == 1
    assert np.allclose(ds.vy.values[flipped & valid], -np.broadcast_to(vy[:, None], valid.shape)[flipped & valid])


def test_conditions_are_seeded_and_padding_is_nan(ds):
    again = mental_pong_conditions(300, seed=3)
    assert np.array_equal(ds.y_final.values, again.y_final.values)
    other = mental_pong_conditions(300, seed=4)
    assert not np.array_equal(ds.y_final.values, other.y_final.values)
    assert np.isnan(ds.x.values[~ds.valid.values]).all()
    assert ds.sizes["frame"] == int(ds.t_end.max())
    assert list(ds.condition_id.values[:2]) == ["pong_0000", "pong_0001"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=0), "positive int"),
        (dict(n=3, visible_frames=(20, 10)), "min <= max"),
        (dict(n=3, speeds=()), "positive numbers"),
        (dict(n=3, speeds=(0.2, -1.0)), "positive numbers"),
        (dict(n=2, visible_frames=(1, 1), occluded_frames=(1, 1)), "No trajectory met"),
    ],
)
def test_condition_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mental_pong_conditions(**kwargs)


def test_render_draws_the_ball_where_it_is_and_the_occluder_over_it():
    ds = mental_pong_conditions(6, seed=0)
    size = 64
    px = ARENA / size
    frames = render(ds, size)
    free = render(ds, size, occluder=False)
    assert frames.shape == (6, ds.sizes["frame"], 1, size, size) and frames.dtype == np.float32
    occ_cols = (np.arange(size) + 0.5) * px >= OCCLUDER_X
    assert (frames[..., occ_cols] == 0.5).all()  # grey occluder drawn over everything
    for i in range(6):
        for t in (0, int(ds.t_occlude[i]) - 1):  # visible frames: brightest pixel within a pixel of the centre
            img = frames[i, t, 0]
            r, c = np.unravel_index(np.argmax(np.where(occ_cols[None, :], 0, img)), img.shape)
            assert abs((c + 0.5) * px - ds.x.values[i, t]) <= px and abs((r + 0.5) * px - ds.y.values[i, t]) <= px
            # total brightness ≈ disc area in pixels (anti-aliased edge: error ≲ perimeter·px/12)
            area = math.pi * (BALL_RADIUS / px) ** 2
            assert abs(free[i, t, 0].sum() - area) < 2 * math.pi * BALL_RADIUS / px / 2
        t = int(ds.t_end[i]) - 1  # hidden in the occluded twin, visible in the free one
        assert frames[i, t, 0, :, ~occ_cols].max() == 0.0
        assert free[i, t].max() == 1.0
        assert frames[i, int(ds.t_end[i]):].max(initial=0.5) <= 0.5  # padding: no ball
    as_bytes = render(ds.isel(condition=[0]), 16, dtype=np.uint8)
    assert as_bytes.dtype == np.uint8
    assert np.array_equal(as_bytes, np.round(render(ds.isel(condition=[0]), 16) * 255).astype(np.uint8))


def test_render_errors():
    ds = mental_pong_conditions(2, seed=0)
    with pytest.raises(TypeError, match="mental_pong_conditions"):
        render(ds.x, 32)
    with pytest.raises(ValueError, match="size must be an int >= 8"):
        render(ds, 4)
    with pytest.raises(ValueError, match="dtype"):
        render(ds, 16, dtype=np.int16)


def test_occluded_mask_is_the_hidden_epoch(ds):
    m = occluded_mask(ds)
    assert (m.sum(1) == ds.t_end.values - ds.t_occlude.values).all()
    assert not (m & ds.visible.values).any()


def test_simulated_dmfc_is_a_poisson_mixture_of_the_true_state():
    ds = mental_pong_conditions(20, seed=1)
    sim = simulated_dmfc(ds, n_units=5, n_repeats=400, seed=2)
    assert sim.dims == ("stimulus", "unit", "time", "repetition") and sim.attrs["source"] == "simulated"
    nc.check_responses(sim, allow_nan=True)
    valid = ds.valid.values
    assert np.isnan(sim.values[~valid[:, None, :, None].repeat(5, 1).repeat(400, 3)]).all()
    z = np.stack([ds[v].values for v in ("x", "y", "vx", "vy")], -1)
    z = (z - z[valid].mean(0)) / z[valid].std(0)
    w = np.stack([sim[f"w_{v}"].values for v in ("x", "y", "vx", "vy")], 1)
    rate = np.maximum(10 + 3 * np.einsum("ctk,uk->cut", np.nan_to_num(z), w), 0)
    mean = sim.mean("repetition").values
    v = np.broadcast_to(valid[:, None, :], mean.shape)
    # the repetition mean of Poisson counts has sd sqrt(rate / 400); 5 sd bounds every sample
    assert (np.abs(mean[v] - rate[v]) <= 5 * np.sqrt(np.maximum(rate[v], 1) / 400)).all()
    again = simulated_dmfc(ds, n_units=5, n_repeats=400, seed=2)
    assert np.array_equal(np.nan_to_num(sim.values), np.nan_to_num(again.values))
    with pytest.raises(ValueError, match="n_repeats must be an int >= 2"):
        simulated_dmfc(ds, n_repeats=1)
    with pytest.raises(ValueError, match="not in the conditions"):
        simulated_dmfc(ds, variables=("speed_x",))


def test_endpoint_readout_recovers_a_linear_code():
    rng = np.random.default_rng(0)
    y = rng.uniform(1, 31, 200)
    feats = np.stack([y, rng.standard_normal(200)], 1) @ rng.standard_normal((2, 6))
    pred = endpoint_readout(feats, y, seed=0)
    np.testing.assert_allclose(pred, y, atol=1e-3 * np.ptp(y))
    with pytest.raises(ValueError, match="n_folds"):
        endpoint_readout(feats, y, n_folds=1)
    with pytest.raises(ValueError, match="n_conditions"):
        endpoint_readout(feats, y[:10])


def test_endpoint_and_residual_consistency_known_answers():
    rng = np.random.default_rng(1)
    n, reps = 400, 8
    truth = rng.uniform(1, 31, n)
    shared = 2.0 * rng.standard_normal(n)  # an error pattern both systems make
    a = truth[:, None] + shared[:, None] + 3.0 * rng.standard_normal((n, reps))
    b = truth[:, None] + shared[:, None] + 3.0 * rng.standard_normal((n, reps))
    c = truth[:, None] + 2.0 * rng.standard_normal(n)[:, None] + 3.0 * rng.standard_normal((n, reps))
    # same signal up to noise: noise-corrected r = 1 (sampling sd of the estimate ~ 1/sqrt(n) ≈ 0.05)
    assert endpoint_consistency(a, b).value == pytest.approx(1.0, abs=0.05)
    raw = np.corrcoef(a.mean(1), b.mean(1))[0, 1]
    assert raw < endpoint_consistency(a, b).value  # the correction removes the noise's attenuation
    assert residual_consistency(a, b, truth).value == pytest.approx(1.0, abs=0.1)
    assert abs(residual_consistency(a, c, truth).value) < 0.15  # independent error patterns
    # a deterministic model (no repetitions) against the truth: plain Pearson r
    model = truth + shared
    assert endpoint_consistency(model, truth).value == pytest.approx(np.corrcoef(model, truth)[0, 1], abs=1e-12)
    with pytest.raises(ValueError, match="same number of conditions"):
        endpoint_consistency(a, b[:10])
    with pytest.raises(ValueError, match="truth must be"):
        residual_consistency(a, b, truth[:, None])
    with pytest.raises(ValueError, match="no reliable pattern"):
        residual_consistency(a, truth[:, None] + 3.0 * rng.standard_normal((n, reps)), truth)
    with pytest.raises(ValueError, match="end-points"):
        endpoint_consistency(a[:, :, None], b)


@pytest.mark.slow  # trains and scores a small study (~1 min on the shared machine)
def test_the_analysis_records_its_run_and_resumes_from_its_cache(tmp_path, monkeypatch):
    import json

    from analyses import mental_pong

    monkeypatch.setenv("NEUROCOMPARE_SMALL", "1")
    assert mental_pong.main(["--out", str(tmp_path)]) == 0
    lines = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    runs = [r for r in lines if r.get("kind") == "run"]
    assert {"config", "version", "git_commit", "seed"} <= set(runs[0])
    ref = {r["dynamics"]: r for r in runs if r["encoder"] == "-"}
    assert ref["perfect_simulator"]["dmfc_occluded"] >= 0.9 and abs(ref["shuffled_simulator"]["dmfc_occluded"]) < 0.15
    assert (tmp_path / "mental_pong_decoding.png").exists() and (tmp_path / "mental_pong_dmfc.png").exists()
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert "latents_untrained.npz" in cached and "dynamics_untrained_ctrnn.pt" in cached
    stamp = (tmp_path / "cache" / "latents_untrained.npz").stat().st_mtime_ns
    assert mental_pong.main(["--out", str(tmp_path)]) == 0  # a second run reuses the latents and weights
    assert (tmp_path / "cache" / "latents_untrained.npz").stat().st_mtime_ns == stamp
    again = [r for r in map(json.loads, (tmp_path / "results.jsonl").read_text().splitlines()) if r.get("kind") == "run"]
    first = {(r["encoder"], r["dynamics"], r["mode"], r["layer"]): r["dmfc_occluded"] for r in runs}
    second = {(r["encoder"], r["dynamics"], r["mode"], r["layer"]): r["dmfc_occluded"] for r in again[len(runs):]}
    assert first == pytest.approx(second)
