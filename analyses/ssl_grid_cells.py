"""Grid cells in path-integrating networks (supervised and self-supervised) vs real MEC units.

Trains, on CPU in minutes, (1) a supervised path integrator (ReLU RNN predicting difference-of-
Gaussians place codes, initial state from the start position; Sorscher et al. 2019) and (2) a
self-supervised Norm-ReLU RNN (no position targets; separation + path invariance + capacity loss
on permuted velocity sequences; Schaeffer, Khona et al. 2023). For each: gridness distribution of
the hidden units (sargolini and banino variants), fraction above 0.3, grid modules and period
ratios, and the growth of path-integration error over time (also when driven by real rat velocity
sequences from Sargolini et al. 2006). The same statistics are computed for the 7 real MEC units of
Gerlei et al. and the Sargolini grid cell, side by side.

Run::

    python -m analyses.ssl_grid_cells --out results/ssl_grid_cells [--small] [--seed 0]

Writes ``results.jsonl`` (one line per run: config, seed, package version, git commit, results)
and PNG figures into ``--out``. Everything here is small scale (hundreds of units, a few thousand
optimisation steps on CPU): the published models use 4096 units and 10^5+ steps, so expect few
or no grid-like units; the numbers below are what this scale gives, not a reproduction.

Hyper-parameters (all in ``Config``; defaults):

- environment: 2.2 m square box, dt 0.02 s, simulated rat-like walks (Rayleigh speed scale
  0.13*2*pi m/s, turn s.d. 11.52 rad/s, 3 cm wall band), training sequences of 20 steps.
- supervised: ReLU RNN, 256 hidden units, 256 place cells with Gaussian (softmax) tuning
  (sigma 0.12 m), cross-entropy to the place code, Adam lr 1e-3 with weight decay 1e-4, batch 100,
  gradient norm clipped at 1. Sorscher et al. need difference-of-Gaussians place cells for
  hexagonal (rather than square/stripe) patterns; ``--place-kind dog`` selects them, but their
  target code is nearly flat (entropy 5.40 nats vs 5.55 for uniform with 256 cells), and at this
  budget the DoG network does not learn at all (loss 5.5454 -> 5.5415 in 300 steps, decoding error
  unchanged at ~0.9 m), whereas the Gaussian one learns to path-integrate.
- self-supervised: Norm-ReLU RNN, 128 units, one learned initial state; batches of 32 base
  sequences (rat-like walks from the box centre) x 4 random permutations of their steps; loss
  weights separation 1, invariance 1, capacity 0.1; sigma_x 0.2 m (places farther apart than this
  must get distinct codes), sigma_g 0.35 (code-space kernel width for unit-norm codes), same-place
  radius 0.02 m; 768 points per batch for the pairwise terms; Adam lr 1e-3.
- evaluation: rate maps on 32x32 bins (6.9 cm) from fresh walks, smoothing 1 bin; gridness with
  both variants; fraction of units above 0.3 and above their own 95th percentile of 20 time-shifted
  shuffles (``gridness_shuffle_threshold``); modules by Gaussian mixture on log spacing and orientation (BIC) over units with
  sargolini gridness > 0.3 (at least 3 needed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import neurocompare
from neurocompare import gridcells as gc
from neurocompare._options import get_options, progress_enabled
from neurocompare.gridcells import random_walks, trajectory_segments
from neurocompare.models.path_integration import PathIntegrator, PlaceCells, permuted_batch, place_cell_loss, ssl_grid_loss
from neurocompare.provenance import git_commit

BOX = ((-1.1, 1.1), (-1.1, 1.1))


@dataclass
class Config:
    out: str = "results/ssl_grid_cells"
    seed: int = 0
    small: bool = False
    dt: float = 0.02
    seq_len: int = 20
    # supervised
    sup_cell: str = "rnn"
    sup_hidden: int = 256
    sup_place: int = 256
    place_sigma: float = 0.12
    place_kind: str = "softmax"
    sup_steps: int = 3000
    sup_batch: int = 100
    sup_lr: float = 1e-3
    sup_weight_decay: float = 1e-4
    # self-supervised
    ssl_hidden: int = 128
    ssl_steps: int = 2000
    ssl_base_batch: int = 32
    ssl_perms: int = 4
    ssl_lr: float = 1e-3
    sigma_x: float = 0.2
    sigma_g: float = 0.35
    same_place: float = 0.02
    w_sep: float = 1.0
    w_inv: float = 1.0
    w_cap: float = 0.1
    ssl_pairs: int = 768
    # evaluation
    bins: int = 32
    eval_traj: int = 1000
    ssl_eval_steps: int = 60
    error_steps: int = 100
    real_trajectories: int = 4
    n_shuffles: int = 20
    checkpoint_every: int = 500
    data_root: str | None = None
    device: str = "cpu"
    extra: dict = field(default_factory=dict)

    def shrink(self) -> "Config":
        """Parameters for CI (< 60 s in all)."""
        return dataclasses.replace(
            self, small=True, sup_hidden=64, sup_place=64, sup_steps=60, sup_batch=32, ssl_hidden=32, ssl_steps=40, ssl_base_batch=8, ssl_perms=3,
            ssl_pairs=192, bins=20, eval_traj=150, ssl_eval_steps=30, error_steps=40, real_trajectories=1, checkpoint_every=0, n_shuffles=3,
        )


# ---------------------------------------------------------------------------------------------- training


def _train(model, objective, data, steps, lr, weight_decay, out_dir, seed, checkpoint_every, device="cpu"):
    """Use neurocompare.training.train (checkpoints + resume) when present; else a minimal loop."""
    try:
        from neurocompare.training import OptimizerConfig, train
    except ImportError:  # pragma: no cover - the training package is part of neurocompare
        train = None
    if train is not None:
        res = train(model, objective, lambda step: data(step), optimizer=OptimizerConfig(name="adam", lr=lr, weight_decay=weight_decay, grad_clip=1.0),
                    steps=steps, out_dir=out_dir, checkpoint_every=checkpoint_every, log_every=max(steps // 20, 1), resume=True, seed=seed,
                    device=device, progress=progress_enabled())
        return res
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    for step in range(steps):
        out = objective(model, data(step))
        loss = out[0] if isinstance(out, tuple) else out
        opt.zero_grad()
        loss.backward()
        opt.step()
    return None


def _walk_batch(n, steps, dt, rng_seed, start_centre=False):
    start = np.zeros((n, 2)) if start_centre else None
    return random_walks(n, steps, box=BOX, dt=dt, start=start, seed=rng_seed)


def train_supervised(cfg: Config, out: Path):
    torch.manual_seed(cfg.seed)
    pc = PlaceCells(cfg.sup_place, cfg.place_sigma, BOX, kind=cfg.place_kind, seed=cfg.seed)
    model = PathIntegrator(cfg.sup_cell, cfg.sup_hidden, cfg.sup_place, "relu")

    def data(step):
        tr = _walk_batch(cfg.sup_batch, cfg.seq_len, cfg.dt, cfg.seed * 1_000_003 + step)
        return torch.as_tensor(tr.velocity, dtype=torch.float32), torch.as_tensor(tr.position, dtype=torch.float32)

    def objective(model, batch):
        vel, pos = batch
        logits = model(vel, pc(pos[:, 0]))
        loss = place_cell_loss(logits, pc(pos[:, 1:]))
        with torch.no_grad():
            err = (pc.decode(torch.softmax(logits, -1)) - pos[:, 1:]).norm(dim=-1).mean()
        return loss, {"decode_error_m": float(err)}

    t0 = time.time()
    res = _train(model, objective, data, cfg.sup_steps, cfg.sup_lr, cfg.sup_weight_decay, out / "supervised", cfg.seed, cfg.checkpoint_every, cfg.device)
    return model.cpu(), pc, time.time() - t0, res


def train_ssl(cfg: Config, out: Path):
    torch.manual_seed(cfg.seed)
    model = PathIntegrator("rnn", cfg.ssl_hidden, None, "norm_relu")
    gen = torch.Generator().manual_seed(cfg.seed)

    def data(step):
        tr = _walk_batch(cfg.ssl_base_batch, cfg.seq_len, cfg.dt, cfg.seed * 1_000_003 + 7 + step, start_centre=True)
        vel = permuted_batch(torch.as_tensor(tr.velocity, dtype=torch.float32), cfg.ssl_perms, generator=gen)
        pos = torch.cumsum(vel * cfg.dt, dim=1)  # from the shared start (0, 0); only the loss sees it
        return vel, pos

    def objective(model, batch):
        vel, pos = batch
        codes = model(vel)
        return ssl_grid_loss(codes, pos, sigma_x=cfg.sigma_x, sigma_g=cfg.sigma_g, same_place=cfg.same_place, w_sep=cfg.w_sep, w_inv=cfg.w_inv,
                             w_cap=cfg.w_cap, max_pairs_points=cfg.ssl_pairs, generator=gen)

    t0 = time.time()
    res = _train(model, objective, data, cfg.ssl_steps, cfg.ssl_lr, 0.0, out / "ssl", cfg.seed, cfg.checkpoint_every, cfg.device)
    return model.cpu(), time.time() - t0, res


# ---------------------------------------------------------------------------------------------- evaluation


def unit_statistics(maps: np.ndarray, bin_size: float) -> dict:
    s = gc.grid_scores(maps, bin_size=bin_size)
    gs, gb = s["gridness_sargolini"], s["gridness_banino"]
    grid = np.isfinite(gs) & (gs > 0.3)
    have = grid & np.isfinite(s["spacing"])
    mods = gc.detect_modules(s["spacing"][have], s["orientation"][have]) if have.sum() >= 3 else {"n_modules": 0, "periods": np.array([]), "ratios": np.array([])}
    return {
        "n_units": int(len(maps)),
        "n_scored": int(np.isfinite(gs).sum()),
        "gridness_sargolini_median": float(np.nanmedian(gs)) if np.isfinite(gs).any() else None,
        "gridness_banino_median": float(np.nanmedian(gb)) if np.isfinite(gb).any() else None,
        "frac_sargolini_gt_0.3": float(np.mean(np.nan_to_num(gs, nan=-9) > 0.3)),
        "frac_banino_gt_0.3": float(np.mean(np.nan_to_num(gb, nan=-9) > 0.3)),
        "gridness_sargolini": [None if not np.isfinite(v) else round(float(v), 4) for v in gs],
        "gridness_banino": [None if not np.isfinite(v) else round(float(v), 4) for v in gb],
        "n_modules": int(mods["n_modules"]),
        "module_periods": [float(p) for p in np.asarray(mods["periods"]).ravel()],
        "module_period_ratios": [float(r) for r in np.asarray(mods["ratios"]).ravel()],
        "n_grid_units_with_spacing": int(have.sum()),
        "module_note": "modules need >= 3 units each; with fewer than ~20 grid units the count is not meaningful",
        "_scores": s,
    }


def supervised_maps(model, pc, cfg: Config, seed: int):
    """Rate maps (unit, y, x), plus the activity (time, unit) and positions (time, 2) behind them."""
    tr = _walk_batch(cfg.eval_traj, cfg.seq_len, cfg.dt, seed)
    with torch.no_grad():
        h = model.hidden(torch.as_tensor(tr.velocity, dtype=torch.float32), pc(torch.as_tensor(tr.position[:, 0], dtype=torch.float32))).numpy()
    act, pos = h.reshape(-1, h.shape[-1]), tr.position[:, 1:].reshape(-1, 2)
    return gc.rate_maps(act, pos, bins=cfg.bins, box=BOX, sigma=1.0), act, pos


def ssl_maps(model, cfg: Config, seed: int):
    tr = _walk_batch(cfg.eval_traj, cfg.ssl_eval_steps, cfg.dt, seed, start_centre=True)
    with torch.no_grad():
        h = model(torch.as_tensor(tr.velocity, dtype=torch.float32)).numpy()
    act, pos = h.reshape(-1, h.shape[-1]), tr.position[:, 1:].reshape(-1, 2)
    return gc.rate_maps(act, pos, bins=cfg.bins, box=BOX, sigma=1.0, min_occupancy=3), act, pos


def shuffle_statistics(act, pos, cfg: Config, seed: int) -> dict:
    """Fraction of units whose gridness beats the 95th percentile of their time-shuffled null."""
    res = gc.gridness_shuffle_threshold(act, pos, n_shuffles=cfg.n_shuffles, bins=cfg.bins, box=BOX, sigma=1.0, seed=seed)
    above = np.isfinite(res["gridness"]) & np.isfinite(res["threshold"]) & (res["gridness"] > res["threshold"])
    return {"n_shuffles": cfg.n_shuffles, "frac_above_shuffle95": float(above.mean()), "median_threshold": float(np.nanmedian(res["threshold"])) if np.isfinite(res["threshold"]).any() else None}


def supervised_error_curve(model, pc, velocity, position):
    with torch.no_grad():
        logits = model(torch.as_tensor(velocity, dtype=torch.float32), pc(torch.as_tensor(position[:, 0], dtype=torch.float32)))
        est = pc.decode(torch.softmax(logits, -1)).numpy()
    return np.linalg.norm(est - position[:, 1:], axis=-1).mean(axis=0)


def ssl_error_curve(model, cfg: Config, seed: int, steps: int):
    """Nearest-neighbour decoding of position from codes (codebook from separate walks)."""
    from sklearn.neighbors import KNeighborsRegressor

    book = _walk_batch(cfg.eval_traj, steps, cfg.dt, seed + 1, start_centre=True)
    test = _walk_batch(max(cfg.eval_traj // 4, 20), steps, cfg.dt, seed + 2, start_centre=True)
    with torch.no_grad():
        hb = model(torch.as_tensor(book.velocity, dtype=torch.float32)).numpy()
        ht = model(torch.as_tensor(test.velocity, dtype=torch.float32)).numpy()
    knn = KNeighborsRegressor(n_neighbors=5).fit(hb.reshape(-1, hb.shape[-1]), book.position[:, 1:].reshape(-1, 2))
    est = knn.predict(ht.reshape(-1, ht.shape[-1])).reshape(ht.shape[0], ht.shape[1], 2)
    return np.linalg.norm(est - test.position[:, 1:], axis=-1).mean(axis=0)


def real_mec_statistics(cfg: Config) -> dict:
    out = {}
    try:
        from data_loaders import gerlei_mec, sargolini2006
    except ImportError as err:  # pragma: no cover
        return {"error": f"data_loaders unavailable: {err}"}
    try:
        ds = gerlei_mec.load(root=cfg.data_root)
        maps = np.asarray(ds["rate_map"].values)
        st = unit_statistics(maps, bin_size=2.5)
        pub = np.asarray(ds["grid_score"].values)
        from scipy.stats import spearmanr

        st["published_grid_score"] = [round(float(v), 4) for v in pub]
        st["spearman_vs_published_sargolini"] = float(spearmanr(st["_scores"]["gridness_sargolini"], pub)[0])
        st["spearman_vs_published_banino"] = float(spearmanr(st["_scores"]["gridness_banino"], pub)[0])
        st["abs_diff_sargolini"] = [round(float(v), 3) for v in np.abs(st["_scores"]["gridness_sargolini"] - pub)]
        st["spacing_cm"] = [round(float(v), 1) for v in st["_scores"]["spacing"]]
        st["published_spacing_cm"] = [round(float(v), 1) for v in np.asarray(ds["grid_spacing"].values)]
        out["gerlei_mec"] = st
    except (FileNotFoundError, OSError, ValueError) as err:
        out["gerlei_mec"] = {"error": str(err)}
    try:
        cell = sargolini2006.load_gridcell(root=cfg.data_root)
        sp = np.stack([cell["x"].values, cell["y"].values], axis=1)
        m = gc.spike_rate_maps(sp, box=((-50, 50), (-50, 50)), bins=40, sigma=1.5, duration=600.0)
        s = gc.grid_scores(m, bin_size=2.5)
        out["sargolini_cell"] = {
            "occupancy": "uniform over the 1 m box (the cell's own trajectory is not in the data set)",
            "gridness_sargolini": float(s["gridness_sargolini"][0]), "gridness_banino": float(s["gridness_banino"][0]),
            "spacing_cm": float(s["spacing"][0]), "orientation_deg": float(s["orientation"][0]), "_map": m, "_sac": s["sacs"],
        }
    except (FileNotFoundError, OSError, ValueError) as err:
        out["sargolini_cell"] = {"error": str(err)}
    return out


def _public(d):
    if isinstance(d, dict):
        return {k: _public(v) for k, v in d.items() if not k.startswith("_")}
    if isinstance(d, np.ndarray):
        return d.tolist()
    if isinstance(d, (np.floating, np.integer)):
        return d.item()
    return d


def run(cfg: Config) -> dict:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # small recurrent nets: one thread is fastest (and fair to a shared CPU)
    results: dict = {}

    sup, pc, t_sup, _ = train_supervised(cfg, out)
    ssl, t_ssl, _ = train_ssl(cfg, out)
    results["train_seconds"] = {"supervised": round(t_sup, 1), "ssl": round(t_ssl, 1)}

    sup.eval()
    ssl.eval()
    bin_size = 2.2 / cfg.bins
    sup_maps, sup_act, sup_pos = supervised_maps(sup, pc, cfg, seed=10_000 + cfg.seed)
    ssl_m, ssl_act, ssl_pos = ssl_maps(ssl, cfg, seed=20_000 + cfg.seed)
    results["supervised"] = unit_statistics(sup_maps, bin_size)
    results["ssl"] = unit_statistics(ssl_m, bin_size)
    results["supervised"]["shuffle"] = shuffle_statistics(sup_act, sup_pos, cfg, seed=cfg.seed)
    results["ssl"]["shuffle"] = shuffle_statistics(ssl_act, ssl_pos, cfg, seed=cfg.seed)

    # path-integration error over time: simulated walks (longer than training) and real rat paths
    long = _walk_batch(max(cfg.eval_traj // 4, 20), cfg.error_steps, cfg.dt, 30_000 + cfg.seed)
    curves = {"supervised, simulated walks": supervised_error_curve(sup, pc, long.velocity, long.position)}
    try:
        from data_loaders import sargolini2006

        trajs = sargolini2006.load_trajectories(root=cfg.data_root, indices=list(range(cfg.real_trajectories)))
        real = trajectory_segments(trajs, cfg.error_steps, n=max(cfg.eval_traj // 4, 20), scale=2.2, seed=cfg.seed)
        curves["supervised, real rat velocities (Sargolini 2006)"] = supervised_error_curve(sup, pc, real.velocity, real.position)
    except (ImportError, FileNotFoundError, OSError, ValueError) as err:
        results["real_trajectory_error"] = str(err)
    curves["ssl (kNN decoder), simulated walks"] = ssl_error_curve(ssl, cfg, 40_000 + cfg.seed, cfg.error_steps)
    results["error_growth_m"] = {k: [round(float(v), 4) for v in c] for k, c in curves.items()}
    results["error_at"] = {k: {"step_1": float(c[0]), f"step_{cfg.seq_len}": float(c[min(cfg.seq_len, len(c)) - 1]), f"step_{len(c)}": float(c[-1])} for k, c in curves.items()}

    brain = real_mec_statistics(cfg)
    results["brain"] = brain

    # figures
    try:
        from neurocompare.plotting.gridcells import plot_error_growth, plot_gridness_distributions, plot_rate_maps

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        for name, maps in (("supervised", sup_maps), ("ssl", ssl_m)):
            s = results[name]["_scores"]
            order = np.argsort(-np.nan_to_num(s["gridness_sargolini"], nan=-9))[:16]
            fig = plot_rate_maps(maps[order], sacs=s["sacs"][order], scores={"gridness_sargolini": s["gridness_sargolini"][order], "gridness_banino": s["gridness_banino"][order]},
                                 titles=[f"unit {i}" for i in order])
            fig.savefig(out / f"rate_maps_{name}.png", dpi=90)
            plt.close(fig)
        groups = {"supervised RNN": results["supervised"]["_scores"]["gridness_sargolini"], "self-supervised RNN": results["ssl"]["_scores"]["gridness_sargolini"]}
        if "gerlei_mec" in brain and "_scores" in brain["gerlei_mec"]:
            groups["MEC units (Gerlei)"] = brain["gerlei_mec"]["_scores"]["gridness_sargolini"]
        fig = plot_gridness_distributions(groups, title="Gridness (sargolini variant): models vs MEC")
        fig.savefig(out / "gridness_model_vs_brain.png", dpi=90)
        plt.close(fig)
        fig = plot_error_growth(curves, dt=cfg.dt)
        fig.savefig(out / "path_integration_error.png", dpi=90)
        plt.close(fig)
        if "sargolini_cell" in brain and "_map" in brain["sargolini_cell"]:
            sc = brain["sargolini_cell"]
            fig = plot_rate_maps(sc["_map"], sacs=sc["_sac"], scores={"gridness_sargolini": [sc["gridness_sargolini"]], "gridness_banino": [sc["gridness_banino"]]}, titles=["Sargolini T6C3"])
            fig.savefig(out / "sargolini_cell.png", dpi=90)
            plt.close(fig)
        if "gerlei_mec" in brain and "_scores" in brain["gerlei_mec"]:
            s = brain["gerlei_mec"]["_scores"]
            ds_maps = np.asarray(__import__("data_loaders.gerlei_mec", fromlist=["load"]).load(root=cfg.data_root)["rate_map"].values)
            fig = plot_rate_maps(ds_maps, sacs=s["sacs"], scores={"gridness_sargolini": s["gridness_sargolini"], "published": brain["gerlei_mec"]["published_grid_score"]}, ncols=7)
            fig.savefig(out / "gerlei_mec_units.png", dpi=90)
            plt.close(fig)
    except ImportError as err:  # pragma: no cover
        results["figures"] = f"skipped: {err}"

    # checkpoints for `neurocompare gridscore model.pt`
    torch.save({"model_state": sup.state_dict(), "model_kwargs": {"cell": cfg.sup_cell, "n_hidden": cfg.sup_hidden, "n_place": cfg.sup_place, "activation": "relu"},
                "place_cells": {"n": cfg.sup_place, "sigma": cfg.place_sigma, "box": BOX, "kind": cfg.place_kind, "seed": cfg.seed}, "box": BOX}, out / "supervised_model.pt")
    torch.save({"model_state": ssl.state_dict(), "model_kwargs": {"cell": "rnn", "n_hidden": cfg.ssl_hidden, "n_place": None, "activation": "norm_relu"}, "place_cells": None, "box": BOX},
               out / "ssl_model.pt")

    record = {"analysis": "ssl_grid_cells", "config": dataclasses.asdict(cfg), "seed": cfg.seed, "neurocompare_version": neurocompare.__version__, "git_commit": git_commit(),
              "torch_version": torch.__version__, "results": _public(results)}
    with open(out / "results.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true", help="tiny settings for CI (< 60 s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="recorded-data folder (default: $NEUROCOMPARE_DATA, else ../shared/data beside the repo)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (training only; evaluation runs on CPU)")
    p.add_argument("--place-kind", choices=("softmax", "dog"), default=None, help="place-cell code of the supervised net")
    p.add_argument("--sup-steps", type=int, default=None)
    p.add_argument("--ssl-steps", type=int, default=None)
    args = p.parse_args(argv)
    data = args.data or (str(get_options()["data_dir"]) if get_options()["data_dir"] is not None else None)
    if data is None:
        guess = Path(__file__).resolve().parents[2] / "shared" / "data"
        data = str(guess) if guess.is_dir() else None
    cfg = Config(out=args.out, seed=args.seed, data_root=data, device=args.device)
    if args.small:
        cfg = cfg.shrink()
    if args.sup_steps is not None:
        cfg.sup_steps = args.sup_steps
    if args.place_kind is not None:
        cfg.place_kind = args.place_kind
    if args.ssl_steps is not None:
        cfg.ssl_steps = args.ssl_steps
    res = run(cfg)
    for name in ("supervised", "ssl"):
        r = res[name]
        print(f"{name:<11} units {r['n_units']}: median gridness sargolini {r['gridness_sargolini_median']}, banino {r['gridness_banino_median']}; "
              f"> 0.3: {r['frac_sargolini_gt_0.3']:.2f} / {r['frac_banino_gt_0.3']:.2f}; > own shuffle 95%: {r['shuffle']['frac_above_shuffle95']:.2f}; "
              f"modules {r['n_modules']} ratios {r['module_period_ratios']}")
    b = res["brain"].get("gerlei_mec", {})
    if "n_units" in b:
        print(f"MEC (Gerlei) units {b['n_units']}: median gridness {b['gridness_sargolini_median']:.2f}; > 0.3: {b['frac_sargolini_gt_0.3']:.2f}; "
              f"Spearman vs published {b['spearman_vs_published_sargolini']:.2f}")
    for k, v in res["error_at"].items():
        print(f"PI error {k}: {v}")
    print(f"written {Path(cfg.out) / 'results.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
