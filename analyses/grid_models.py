"""Training and evaluation of the grid-cell models of ``analyses/ssl_grid_cells.py``.

Two self-supervised spatial codes, each with a config dataclass, a trainer (checkpointed and
resumable through :func:`neurocompare.train`) and an evaluator that returns rate maps and the
activity/positions behind them:

- the **positive control** (:class:`ControlConfig`): the feed-forward ``spatial_code_ff`` trained
  with :class:`~neurocompare.models.grid_losses.ConformalLoss` on positions drawn uniformly from an
  open square of side ``4 pi`` (spatial unit: ``sigma = 1``);
- the **SIC RNN** (:class:`SICConfig`): the Norm-ReLU ``ssl_path_integrator`` trained with
  :func:`~neurocompare.models.grid_losses.sic_loss` on i.i.d. uniform velocity sequences and their
  permutations (:func:`~neurocompare.models.path_integration.uniform_velocity_batch`).

:func:`unit_statistics` and :func:`shuffle_statistics` turn maps into the numbers every model and
the real MEC units are compared by; :func:`sic_sweep` runs the capacity/separation x sigma_g x seed
grid and appends one JSON line per finished run (a killed sweep resumes where it stopped).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neurocompare import gridcells as gc
from neurocompare._options import progress_enabled
from neurocompare.models import build_model
from neurocompare.models.grid_losses import ConformalLoss, sic_loss
from neurocompare.models.path_integration import uniform_velocity_batch
from neurocompare.models.spatial_code import spatial_code_maps, uniform_positions

__all__ = [
    "ControlConfig",
    "SICConfig",
    "train_control",
    "control_maps",
    "train_sic",
    "sic_maps",
    "unit_statistics",
    "shuffle_statistics",
    "sic_sweep",
    "read_sweep",
]


# ---------------------------------------------------------------------------------------------- configs


@dataclass
class ControlConfig:
    """Feed-forward positive control. Positions in units of the conformal scale ``sigma`` (= 1)."""

    n_units: int = 256
    steps: int = 20_000
    batch: int = 256
    lr: float = 1e-2
    sigma: float = 1.0
    alpha: float = 0.88
    envelope: float = 1.5
    side: float = 4 * math.pi
    bins: int = 40
    n_shuffles: int = 20
    shuffle_points: int = 20_000
    checkpoint_every: int = 2_000
    seed: int = 0

    def box(self):
        return ((-self.side / 2, self.side / 2), (-self.side / 2, self.side / 2))

    def shrink(self) -> "ControlConfig":
        """CI size: 3,000 steps (about 85 s of one CPU thread here; median gridness ~0.5)."""
        return dataclasses.replace(self, steps=3_000, n_shuffles=10, shuffle_points=8_000, checkpoint_every=0)


@dataclass
class SICConfig:
    """SIC RNN. One step of a velocity sequence is uniform on ``[-step, step]^2`` (``dt = 1``)."""

    n_units: int = 256
    steps: int = 1_500
    n_sequences: int = 16
    length: int = 20
    n_perm: int = 3
    step: float = 1.0
    lr: float = 1e-3
    sigma_x: float = 1.0
    sigma_g: float = 0.4
    w_sep: float = 1.0
    w_inv: float = 1.0
    w_cap: float = 0.1
    invariance: str = "near"
    capacity: str = "l1"
    identity_init: bool = True
    max_points: int = 384
    # evaluation: maps over the explored plane, from fresh sequences of the training length
    eval_sequences: int = 1_000
    eval_extent: float = 6.0
    bins: int = 32
    n_shuffles: int = 20
    checkpoint_every: int = 1_000
    seed: int = 0
    device: str = "cpu"

    def box(self):
        return ((-self.eval_extent, self.eval_extent), (-self.eval_extent, self.eval_extent))

    def shrink(self) -> "SICConfig":
        return dataclasses.replace(self, n_units=64, steps=60, n_sequences=8, eval_sequences=150, bins=20, n_shuffles=5, max_points=256, checkpoint_every=0)


# ---------------------------------------------------------------------------------------------- training


def _train(model, objective, data, steps, lr, out_dir, seed, checkpoint_every, device="cpu"):
    from neurocompare.training import OptimizerConfig, train

    res = train(model, objective, data, optimizer=OptimizerConfig(name="adam", lr=lr), steps=steps, out_dir=out_dir,
                checkpoint_every=checkpoint_every, log_every=max(steps // 50, 1), resume=out_dir is not None, seed=seed, device=device,
                progress=progress_enabled())
    model.cpu()  # evaluation runs on CPU in float64
    return res


def train_control(cfg: ControlConfig, out_dir: str | Path | None = None):
    """Train the feed-forward control; returns ``(model, seconds, TrainResult)``.

    With ``out_dir`` it checkpoints every ``checkpoint_every`` steps and resumes from the last
    checkpoint after an interruption.
    """
    model = build_model("spatial_code_ff", n_units=cfg.n_units, seed=cfg.seed)
    loss = ConformalLoss(cfg.sigma, alpha=cfg.alpha, envelope=cfg.envelope)
    box = cfg.box()

    def data(step):  # keyed by (seed, step): a resumed run sees the batches it would have seen
        return uniform_positions(cfg.batch, box, generator=torch.Generator().manual_seed(cfg.seed * 1_000_003 + step))

    t0 = time.time()
    res = _train(model, lambda m, x: loss(m(x), x), data, cfg.steps, cfg.lr, out_dir, cfg.seed, cfg.checkpoint_every)
    return model.eval(), time.time() - t0, res


def control_maps(model, cfg: ControlConfig, seed: int = 10_000):
    """Exact maps (unit, y, x) at bin centres, plus activity (point, unit) and positions (point, 2)
    at uniform random points for the shuffle test."""
    maps = spatial_code_maps(model, cfg.bins, cfg.box())
    pos = uniform_positions(cfg.shuffle_points, cfg.box(), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        act = model(pos).double().numpy()
    return maps, act, pos.double().numpy()


def _sic_objective(cfg: SICConfig):
    gen = torch.Generator().manual_seed(cfg.seed + 77)

    def objective(model, batch):
        vel, pos = batch
        vel, pos = vel.to(next(model.parameters()).device), pos.to(next(model.parameters()).device)
        return sic_loss(model(vel), pos, sigma_x=cfg.sigma_x, sigma_g=cfg.sigma_g, w_sep=cfg.w_sep, w_inv=cfg.w_inv, w_cap=cfg.w_cap,
                        invariance=cfg.invariance, capacity=cfg.capacity, max_points=cfg.max_points, generator=gen)

    return objective


def train_sic(cfg: SICConfig, out_dir: str | Path | None = None):
    """Train the SIC Norm-ReLU RNN; returns ``(model, seconds, TrainResult)`` (resumable like :func:`train_control`)."""
    model = build_model("ssl_path_integrator", n_hidden=cfg.n_units, identity_init=cfg.identity_init, seed=cfg.seed)

    def data(step):
        return uniform_velocity_batch(cfg.n_sequences, cfg.length, cfg.n_perm, step=cfg.step, generator=torch.Generator().manual_seed(cfg.seed * 1_000_003 + step))

    t0 = time.time()
    res = _train(model, _sic_objective(cfg), data, cfg.steps, cfg.lr, out_dir, cfg.seed, cfg.checkpoint_every, cfg.device)
    return model.eval(), time.time() - t0, res


def sic_maps(model, cfg: SICConfig, seed: int = 20_000):
    """Rate maps (unit, y, x) over the explored plane from fresh sequences of the training length,
    plus the activity (time, unit) and positions (time, 2) inside the evaluation box."""
    vel, pos = uniform_velocity_batch(cfg.eval_sequences, cfg.length, 2, step=cfg.step, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        h = model(vel)
    act = h.reshape(-1, h.shape[-1]).double().numpy()
    p = pos.reshape(-1, 2).double().numpy()
    inside = (np.abs(p) < cfg.eval_extent).all(axis=1)
    act, p = act[inside], p[inside]
    return gc.rate_maps(act, p, bins=cfg.bins, box=cfg.box(), sigma=1.0, min_occupancy=3), act, p


def sic_decoding_error(model, cfg: SICConfig, seed: int = 40_000, length: int | None = None) -> np.ndarray:
    """Path-integration error (step,) of the SIC code: nearest-neighbour decoding of position
    from codes, the codebook built from separate sequences (the code has no read-out)."""
    from sklearn.neighbors import KNeighborsRegressor

    length = length or cfg.length
    vb, pb = uniform_velocity_batch(cfg.eval_sequences, length, 2, step=cfg.step, generator=torch.Generator().manual_seed(seed))
    vt, pt = uniform_velocity_batch(max(cfg.eval_sequences // 8, 10), length, 2, step=cfg.step, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        hb, ht = model(vb).numpy(), model(vt).numpy()
    knn = KNeighborsRegressor(n_neighbors=5).fit(hb.reshape(-1, hb.shape[-1]), pb.reshape(-1, 2).numpy())
    est = knn.predict(ht.reshape(-1, ht.shape[-1])).reshape(ht.shape[0], ht.shape[1], 2)
    return np.linalg.norm(est - pt.numpy(), axis=-1).mean(axis=0)


# ---------------------------------------------------------------------------------------------- statistics


def unit_statistics(maps: np.ndarray, bin_size: float) -> dict:
    """Gridness (both variants), fraction above 0.3, spacing/orientation and modules of a set of maps."""
    s = gc.grid_scores(maps, bin_size=bin_size)
    gs, gb = s["gridness_sargolini"], s["gridness_banino"]
    grid = np.isfinite(gs) & (gs > 0.3)
    have = grid & np.isfinite(s["spacing"])
    if have.sum() >= 3:
        mods = gc.detect_modules(s["spacing"][have], s["orientation"][have])
    else:
        mods = {"n_modules": 0, "periods": np.array([]), "ratios": np.array([]), "sizes": np.array([])}
    return {
        "n_units": int(len(maps)),
        "n_scored": int(np.isfinite(gs).sum()),
        "gridness_sargolini_median": float(np.nanmedian(gs)) if np.isfinite(gs).any() else None,
        "gridness_banino_median": float(np.nanmedian(gb)) if np.isfinite(gb).any() else None,
        "frac_sargolini_gt_0.3": float(np.mean(np.nan_to_num(gs, nan=-9) > 0.3)),
        "frac_banino_gt_0.3": float(np.mean(np.nan_to_num(gb, nan=-9) > 0.3)),
        "gridness_sargolini": [None if not np.isfinite(v) else round(float(v), 4) for v in gs],
        "gridness_banino": [None if not np.isfinite(v) else round(float(v), 4) for v in gb],
        "spacing_median": float(np.nanmedian(s["spacing"][grid])) if grid.any() and np.isfinite(s["spacing"][grid]).any() else None,
        "n_modules": int(mods["n_modules"]),
        "module_periods": [round(float(p), 4) for p in np.asarray(mods["periods"]).ravel()],
        "module_period_ratios": [round(float(r), 4) for r in np.asarray(mods["ratios"]).ravel()],
        "module_sizes": [int(n) for n in np.asarray(mods.get("sizes", [])).ravel()],
        "n_grid_units_with_spacing": int(have.sum()),
        "_scores": s,
    }


def shuffle_statistics(act: np.ndarray, pos: np.ndarray, *, bins: int, box, n_shuffles: int, seed: int) -> dict:
    """Fraction of units whose gridness beats the 95th percentile of their own time-shifted null."""
    res = gc.gridness_shuffle_threshold(act, pos, n_shuffles=n_shuffles, bins=bins, box=box, sigma=1.0, seed=seed, progress=False)
    ok = np.isfinite(res["gridness"]) & np.isfinite(res["threshold"])
    above = ok & (res["gridness"] > res["threshold"])
    return {
        "n_shuffles": n_shuffles,
        "frac_above_shuffle95": float(above.mean()),
        "median_threshold": float(np.nanmedian(res["threshold"])) if ok.any() else None,
        "_above": above,
    }


# ---------------------------------------------------------------------------------------------- sweep


def _run_key(cfg: SICConfig) -> str:
    # sigma_x = 1 (the first sweep) is left out of the key, so that its records stay valid
    sx = "" if cfg.sigma_x == 1.0 else f"_sx{cfg.sigma_x:.4g}"
    return f"cap{cfg.w_cap:.4g}_sg{cfg.sigma_g:.4g}_inv{cfg.invariance}{sx}_s{cfg.seed}"


def read_sweep(path: str | Path) -> list[dict]:
    """The finished runs of a sweep (one dict per line of ``sweep.jsonl``)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(s) for s in path.read_text().splitlines() if s.strip()]


def sic_sweep(base: SICConfig, ratios, sigma_gs, seeds, out: str | Path, *, invariances=("near",), sigma_xs=None, log=print) -> list[dict]:
    """Train and score the SIC RNN over capacity/separation ratio x sigma_g x seed.

    ``w_cap = ratio * w_sep``. Each finished run appends one line to ``OUT/sweep.jsonl`` (written
    whole with a flush, so an interrupted sweep never leaves half a record); runs already in the
    file are skipped, so re-running the same call resumes the sweep.

    Returns
    -------
    list of dict: one per run, with the config, training time, final loss terms, median gridness,
    fraction above 0.3 and fraction above the unit's own 95 % shuffle threshold.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sweep.jsonl"
    done = {r["key"] for r in read_sweep(path)}
    bin_size = 2 * base.eval_extent / base.bins
    # seeds outermost: an interrupted sweep has covered the whole grid once before repeating it
    for seed, inv, sx, ratio, sg in itertools.product(seeds, invariances, sigma_xs or (base.sigma_x,), ratios, sigma_gs):
        cfg = dataclasses.replace(base, w_cap=float(ratio) * base.w_sep, sigma_g=float(sg), seed=int(seed), invariance=inv, sigma_x=float(sx), checkpoint_every=0)
        key = _run_key(cfg)
        if key in done or key in {r["key"] for r in read_sweep(path)}:  # another process may share the file
            continue
        model, secs, res = train_sic(cfg)
        maps, act, pos = sic_maps(model, cfg, seed=20_000 + seed)
        st = unit_statistics(maps, bin_size)
        sh = shuffle_statistics(act, pos, bins=cfg.bins, box=cfg.box(), n_shuffles=cfg.n_shuffles, seed=seed)
        last = res.history[-1] if getattr(res, "history", None) else {}
        row = {"key": key, "ratio": float(ratio), "sigma_g": float(sg), "sigma_x": float(sx), "seed": int(seed), "invariance": inv, "config": dataclasses.asdict(cfg),
               "train_seconds": round(secs, 1), "final": {k: v for k, v in last.items() if isinstance(v, (int, float))},
               "gridness_median": st["gridness_sargolini_median"], "frac_gt_0.3": st["frac_sargolini_gt_0.3"],
               "frac_above_shuffle95": sh["frac_above_shuffle95"], "median_threshold": sh["median_threshold"], "n_modules": st["n_modules"],
               "module_periods": st["module_periods"], "module_period_ratios": st["module_period_ratios"]}
        tmp = out / f"{key}.pt.tmp"  # the model, atomically: the best setting is re-analysed from it
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, out / f"{key}.pt")
        with open(path, "a") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        log(f"{key}: median gridness {row['gridness_median']:.3f}, > 0.3 {row['frac_gt_0.3']:.2f}, > own shuffle 95% {row['frac_above_shuffle95']:.2f} ({secs:.0f} s)")
    return read_sweep(path)
