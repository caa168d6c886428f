"""Grid cells in self-supervised spatial codes and path integrators, side by side with MEC units.

Four models, one set of statistics, and the real units:

1. **positive control**: feed-forward ``spatial_code_ff`` (2 -> 64 -> 128 -> 256, Norm-ReLU)
   trained with a local conformal-isometry term inside a Gaussian envelope plus an L1 capacity
   term on positions uniform in an open square (Pettersen et al. 2024); a multi-scale variant
   (conformal term averaged over several sigma) tests whether several scales give several modules;
2. **supervised path integrator**: ReLU RNN predicting Gaussian place codes (Sorscher et al. 2019);
3. **SIC RNN**: Norm-ReLU RNN (identity-initialised recurrent matrix) trained with separation +
   invariance (all pairs closer than sigma_x) + capacity on i.i.d. uniform velocity sequences and
   their permutations (Schaeffer, Khona et al. 2023); the best setting of the sweep
   (``--sweep``: capacity/separation ratio x sigma_g x seeds, see ``analyses/grid_models.py``);
4. **MEC units**: the 7 Gerlei et al. maps and the Sargolini et al. (2006) cell.

For each: gridness (sargolini and banino variants), fraction above 0.3 and above the unit's own
95 % time-shift shuffle threshold, spacing, modules (``detect_modules``: count, periods, successive
period ratios), and the path-integration error over time for the two RNNs.

Run::

    python -m analyses.ssl_grid_cells --out results/ssl_grid_cells [--small] [--seed 0] [--sweep]

Writes ``results.jsonl`` (config, seed, version, git commit, results) and PNG figures into
``--out``; trained models are checkpointed under ``OUT/control``, ``OUT/supervised``, ... and a
re-run resumes or reuses them; the sweep appends one line per finished run to
``OUT/sweep/sweep.jsonl`` and resumes where it stopped. A full-scale SIC configuration for a GPU
is in ``analyses/ssl_grid_cells_gpu.json`` (``--config``).
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

from analyses._results import run_record
from analyses.grid_models import (
    ControlConfig,
    SICConfig,
    control_maps,
    read_sweep,
    shuffle_statistics,
    sic_decoding_error,
    sic_maps,
    sic_sweep,
    train_control,
    train_sic,
    unit_statistics,
)
from neurocompare import gridcells as gc
from neurocompare._options import get_options, progress_enabled
from neurocompare.gridcells import random_walks, trajectory_segments
from neurocompare.models import build_model
from neurocompare.models.grid_losses import ConformalLoss
from neurocompare.models.path_integration import PathIntegrator, PlaceCells, place_cell_loss
from neurocompare.models.spatial_code import uniform_positions
from neurocompare.training import OptimizerConfig, train

BOX = ((-1.1, 1.1), (-1.1, 1.1))


@dataclass
class Config:
    out: str = "results/ssl_grid_cells"
    seed: int = 0
    small: bool = False
    control: ControlConfig = field(default_factory=ControlConfig)
    multiscale_sigmas: tuple = (0.7, 1.0, 1.4)
    multiscale_steps: int = 6_000
    sic: SICConfig = field(default_factory=SICConfig)
    sweep: bool = False
    sweep_ratios: tuple = (0.1, 1.0, 10.0)
    sweep_sigma_gs: tuple = (0.3, 0.6)
    sweep_seeds: tuple = (0, 1)
    sweep_sigma_xs: tuple = (1.0,)
    sweep_steps: int = 1_500
    # supervised path integrator (2.2 m box, rat-like walks)
    dt: float = 0.02
    seq_len: int = 20
    sup_hidden: int = 256
    sup_place: int = 256
    place_sigma: float = 0.12
    sup_steps: int = 1500
    sup_batch: int = 100
    sup_lr: float = 1e-3
    sup_weight_decay: float = 1e-4
    bins: int = 32
    eval_traj: int = 1000
    error_steps: int = 100
    real_trajectories: int = 4
    n_shuffles: int = 20
    data_root: str | None = None

    def shrink(self) -> "Config":
        """CI size (about a minute on one idle thread in all)."""
        return dataclasses.replace(
            self, small=True, control=self.control.shrink(), multiscale_steps=300, sic=self.sic.shrink(), sweep_ratios=(1.0,), sweep_sigma_gs=(0.4,),
            sweep_seeds=(0,), sweep_steps=30, sup_hidden=64, sup_place=64, sup_steps=60, sup_batch=32, bins=20, eval_traj=150, error_steps=40,
            real_trajectories=1, n_shuffles=3,
        )


# ---------------------------------------------------------------------------------------------- multi-scale control


def train_multiscale(cfg: Config, out: Path):
    """The feed-forward control with the conformal term averaged over ``cfg.multiscale_sigmas``."""
    ms = dataclasses.replace(cfg.control, seed=cfg.seed, steps=cfg.multiscale_steps)
    model = build_model("spatial_code_ff", n_units=ms.n_units, seed=cfg.seed)
    loss = ConformalLoss(tuple(cfg.multiscale_sigmas), alpha=ms.alpha, envelope=ms.envelope)
    t0 = time.time()
    train(model, lambda m, x: loss(m(x), x), lambda step: uniform_positions(ms.batch, ms.box(), generator=torch.Generator().manual_seed(cfg.seed * 7919 + step)),
          optimizer=OptimizerConfig(name="adam", lr=ms.lr), steps=ms.steps, out_dir=out / "control_multiscale", checkpoint_every=ms.checkpoint_every,
          log_every=max(ms.steps // 50, 1), resume=True, seed=cfg.seed, device="cpu", progress=progress_enabled())
    return model.eval(), ms, time.time() - t0


# ---------------------------------------------------------------------------------------------- supervised


def _walks(n, steps, dt, seed):
    return random_walks(n, steps, box=BOX, dt=dt, seed=seed)


def train_supervised(cfg: Config, out: Path):
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        pc = PlaceCells(cfg.sup_place, cfg.place_sigma, BOX, kind="softmax", seed=cfg.seed)
        model = PathIntegrator("rnn", cfg.sup_hidden, cfg.sup_place, "relu")

    def data(step):
        tr = _walks(cfg.sup_batch, cfg.seq_len, cfg.dt, cfg.seed * 1_000_003 + step)
        return torch.as_tensor(tr.velocity, dtype=torch.float32), torch.as_tensor(tr.position, dtype=torch.float32)

    def objective(model, batch):
        vel, pos = batch
        logits = model(vel, pc(pos[:, 0]))
        return place_cell_loss(logits, pc(pos[:, 1:])), {}

    t0 = time.time()
    train(model, objective, data, optimizer=OptimizerConfig(name="adam", lr=cfg.sup_lr, weight_decay=cfg.sup_weight_decay, grad_clip=1.0),
          steps=cfg.sup_steps, out_dir=out / "supervised", checkpoint_every=500 if not cfg.small else 0, log_every=max(cfg.sup_steps // 20, 1),
          resume=True, seed=cfg.seed, device="cpu", progress=progress_enabled())
    return model.eval(), pc, time.time() - t0


def supervised_maps(model, pc, cfg: Config, seed: int):
    tr = _walks(cfg.eval_traj, cfg.seq_len, cfg.dt, seed)
    with torch.no_grad():
        h = model.hidden(torch.as_tensor(tr.velocity, dtype=torch.float32), pc(torch.as_tensor(tr.position[:, 0], dtype=torch.float32))).double().numpy()
    act, pos = h.reshape(-1, h.shape[-1]), tr.position[:, 1:].reshape(-1, 2)
    return gc.rate_maps(act, pos, bins=cfg.bins, box=BOX, sigma=1.0), act, pos


def supervised_error_curve(model, pc, velocity, position):
    with torch.no_grad():
        logits = model(torch.as_tensor(velocity, dtype=torch.float32), pc(torch.as_tensor(position[:, 0], dtype=torch.float32)))
        est = pc.decode(torch.softmax(logits, -1)).numpy()
    return np.linalg.norm(est - position[:, 1:], axis=-1).mean(axis=0)


# ---------------------------------------------------------------------------------------------- real units


def real_mec_statistics(cfg: Config) -> dict:
    out: dict = {}
    try:
        from data_loaders import gerlei_mec, sargolini2006
    except ImportError as err:  # pragma: no cover
        return {"error": f"data_loaders unavailable: {err}"}
    try:
        ds = gerlei_mec.load(root=cfg.data_root)
        maps = np.asarray(ds["rate_map"].values)
        st = unit_statistics(maps, bin_size=2.5)
        st["published_grid_score"] = [round(float(v), 4) for v in np.asarray(ds["grid_score"].values)]
        st["spacing_cm"] = [round(float(v), 1) for v in st["_scores"]["spacing"]]
        st["published_spacing_cm"] = [round(float(v), 1) for v in np.asarray(ds["grid_spacing"].values)]
        st["_maps"] = maps
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
            "spacing_cm": float(s["spacing"][0]), "orientation_deg": float(s["orientation"][0]),
            "n_modules": "one cell: no module statistics", "_map": m, "_sac": s["sacs"],
        }
    except (FileNotFoundError, OSError, ValueError) as err:
        out["sargolini_cell"] = {"error": str(err)}
    return out


# ---------------------------------------------------------------------------------------------- run


def _public(d):
    if isinstance(d, dict):
        return {k: _public(v) for k, v in d.items() if not str(k).startswith("_")}
    if isinstance(d, (list, tuple)):
        return [_public(v) for v in d]
    if isinstance(d, np.ndarray):
        return d.tolist()
    if isinstance(d, (np.floating, np.integer, np.bool_)):
        return d.item()
    return d


def best_sweep_setting(rows: list[dict]) -> dict | None:
    """The (ratio, sigma_g, invariance) with the highest mean fraction above the shuffle threshold."""
    if not rows:
        return None
    groups = _groups(rows)
    (ratio, sg, inv, sx), runs = max(groups.items(), key=lambda kv: (np.mean([r["frac_above_shuffle95"] for r in kv[1]]),
                                                                    np.nanmean([np.nan if r["gridness_median"] is None else r["gridness_median"] for r in kv[1]])))
    vals = np.array([r["frac_above_shuffle95"] for r in runs])
    return {"ratio": ratio, "sigma_g": sg, "invariance": inv, "sigma_x": sx, "seeds": [r["seed"] for r in runs], "frac_above_shuffle95": vals.tolist(),
            "mean": float(vals.mean()), "min": float(vals.min()), "max": float(vals.max()), "keys": [r["key"] for r in runs]}


def _sigma_x(row: dict) -> float:
    return float(row.get("sigma_x", row.get("config", {}).get("sigma_x", 1.0)))


def _groups(rows: list[dict]) -> dict:
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["ratio"], r["sigma_g"], r["invariance"], _sigma_x(r)), []).append(r)
    return groups


def sweep_table(rows: list[dict]) -> list[dict]:
    """Mean and range over seeds of every swept setting."""
    table = []
    for (ratio, sg, inv, sx), runs in sorted(_groups(rows).items()):
        f = np.array([r["frac_above_shuffle95"] for r in runs])
        g = np.array([r["gridness_median"] for r in runs], dtype=float)
        table.append({"ratio": ratio, "sigma_g": sg, "invariance": inv, "sigma_x": sx, "n_seeds": len(runs), "frac_above_shuffle95_mean": float(f.mean()),
                      "frac_above_shuffle95_range": [float(f.min()), float(f.max())], "gridness_median_mean": float(np.nanmean(g))})
    return table


def _model_stats(maps, act, pos, bin_size, bins, box, n_shuffles, seed):
    st = unit_statistics(maps, bin_size)
    st["shuffle"] = shuffle_statistics(act, pos, bins=bins, box=box, n_shuffles=n_shuffles, seed=seed)
    return st


def run(cfg: Config) -> dict:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # small networks: one thread is fastest (and fair to a shared CPU)
    res: dict = {"train_seconds": {}}
    ctl = dataclasses.replace(cfg.control, seed=cfg.seed)

    # 1. positive control, one scale and several
    model, secs, _ = train_control(ctl, out / "control")
    res["train_seconds"]["control"] = round(secs, 1)
    maps, act, pos = control_maps(model, ctl)
    cbin = ctl.side / ctl.bins
    res["control"] = _model_stats(maps, act, pos, cbin, ctl.bins, ctl.box(), ctl.n_shuffles, cfg.seed)
    res["control"]["_maps"] = maps
    res["control"]["spacing_unit"] = "sigma (the conformal scale)"

    ms_model, ms, secs = train_multiscale(cfg, out)
    res["train_seconds"]["control_multiscale"] = round(secs, 1)
    mmaps, mact, mpos = control_maps(ms_model, ms)
    res["control_multiscale"] = _model_stats(mmaps, mact, mpos, cbin, ms.bins, ms.box(), ms.n_shuffles, cfg.seed)
    res["control_multiscale"]["sigmas"] = list(cfg.multiscale_sigmas)
    res["control_multiscale"]["_maps"] = mmaps

    # 2. supervised path integrator
    sup, pc, secs = train_supervised(cfg, out)
    res["train_seconds"]["supervised"] = round(secs, 1)
    smaps, sact, spos = supervised_maps(sup, pc, cfg, seed=10_000 + cfg.seed)
    res["supervised"] = _model_stats(smaps, sact, spos, 2.2 / cfg.bins, cfg.bins, BOX, cfg.n_shuffles, cfg.seed)
    res["supervised"]["_maps"] = smaps

    # 3. SIC RNN: the sweep (optional), then the best setting (or the configured one)
    sic_cfg = dataclasses.replace(cfg.sic, seed=cfg.seed)
    rows = read_sweep(out / "sweep" / "sweep.jsonl")
    if cfg.sweep:
        rows = sic_sweep(dataclasses.replace(cfg.sic, steps=cfg.sweep_steps, n_shuffles=cfg.n_shuffles), cfg.sweep_ratios, cfg.sweep_sigma_gs, cfg.sweep_seeds, out / "sweep",
                         sigma_xs=cfg.sweep_sigma_xs)
    best = best_sweep_setting(rows)
    res["sweep"] = {"runs": len(rows), "table": sweep_table(rows), "best": best, "chance": "5 % of units (95th percentile of each unit's own null)"}
    sic_model = None
    if best is not None:
        key = [k for k in best["keys"] if k.endswith(f"_s{cfg.seed}")] or best["keys"][:1]
        ckpt = out / "sweep" / f"{key[0]}.pt"
        row = next(r for r in rows if r["key"] == key[0])
        sic_cfg = SICConfig(**{**row["config"]})
        if ckpt.exists():
            sic_model = build_model("ssl_path_integrator", n_hidden=sic_cfg.n_units, identity_init=sic_cfg.identity_init, seed=sic_cfg.seed)
            sic_model.load_state_dict(torch.load(ckpt, weights_only=True))
            sic_model.eval()
    if sic_model is None:
        sic_model, secs, _ = train_sic(sic_cfg, out / "sic")
        res["train_seconds"]["sic"] = round(secs, 1)
    res["sic_config"] = dataclasses.asdict(sic_cfg)
    rmaps, ract, rpos = sic_maps(sic_model, sic_cfg, seed=20_000 + cfg.seed)
    res["sic"] = _model_stats(rmaps, ract, rpos, 2 * sic_cfg.eval_extent / sic_cfg.bins, sic_cfg.bins, sic_cfg.box(), cfg.n_shuffles, cfg.seed)
    res["sic"]["_maps"] = rmaps
    res["sic"]["spacing_unit"] = "step half-width of the uniform velocity distribution"

    # path-integration error over time
    long = _walks(max(cfg.eval_traj // 4, 20), cfg.error_steps, cfg.dt, 30_000 + cfg.seed)
    curves = {"supervised RNN, simulated walks (m)": supervised_error_curve(sup, pc, long.velocity, long.position)}
    try:
        from data_loaders import sargolini2006

        trajs = sargolini2006.load_trajectories(root=cfg.data_root, indices=list(range(cfg.real_trajectories)))
        real = trajectory_segments(trajs, cfg.error_steps, n=max(cfg.eval_traj // 4, 20), scale=2.2, seed=cfg.seed)
        curves["supervised RNN, real rat velocities (Sargolini 2006) (m)"] = supervised_error_curve(sup, pc, real.velocity, real.position)
    except (ImportError, FileNotFoundError, OSError, ValueError) as err:
        res["real_trajectory_error"] = str(err)
    curves["SIC RNN, kNN decoder, uniform steps (step units)"] = sic_decoding_error(sic_model, sic_cfg, seed=40_000 + cfg.seed, length=2 * sic_cfg.length)
    res["error_growth"] = {k: [round(float(v), 4) for v in c] for k, c in curves.items()}

    res["brain"] = real_mec_statistics(cfg)
    _figures(res, curves, rows, out, cfg)

    record = {**run_record("ssl_grid_cells", cfg), "kind": "run", "seed": cfg.seed, "results": _public(res)}
    with open(out / "results.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")
    return res


def _figures(res, curves, rows, out: Path, cfg: Config) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from neurocompare.plotting import plot_error_growth, plot_gridness_distributions, plot_rate_maps, plot_sweep_heatmap
    except ImportError as err:  # pragma: no cover
        res["figures"] = f"skipped: {err}"
        return
    for name in ("control", "control_multiscale", "supervised", "sic"):
        s = res[name]["_scores"]
        order = np.argsort(-np.nan_to_num(s["gridness_sargolini"], nan=-9))[:16]
        fig = plot_rate_maps(res[name]["_maps"][order], sacs=s["sacs"][order], scores={"gridness_sargolini": s["gridness_sargolini"][order]},
                             titles=[f"unit {i}" for i in order])
        fig.savefig(out / f"rate_maps_{name}.png", dpi=80)
        plt.close(fig)
    groups = {"control (FF)": res["control"]["_scores"]["gridness_sargolini"], "control, 3 scales": res["control_multiscale"]["_scores"]["gridness_sargolini"],
              "supervised RNN": res["supervised"]["_scores"]["gridness_sargolini"], "SIC RNN": res["sic"]["_scores"]["gridness_sargolini"]}
    brain = res["brain"]
    if "_scores" in brain.get("gerlei_mec", {}):
        groups["MEC units (Gerlei)"] = brain["gerlei_mec"]["_scores"]["gridness_sargolini"]
    fig = plot_gridness_distributions(groups, title="Gridness (sargolini variant): models vs MEC")
    fig.savefig(out / "gridness_model_vs_brain.png", dpi=80)
    plt.close(fig)
    fig = plot_error_growth(curves, dt=1.0, unit="see legend")
    fig.savefig(out / "path_integration_error.png", dpi=80)
    plt.close(fig)
    main = [r for r in rows if _sigma_x(r) == cfg.sic.sigma_x]
    if main:
        fig = plot_sweep_heatmap(main, value="gridness_median", title=f"SIC RNN (sigma_x {cfg.sic.sigma_x:g}): median gridness, mean over seeds")
        fig.savefig(out / "sweep_heatmap_gridness.png", dpi=80)
        plt.close(fig)
        fig = plot_sweep_heatmap(main, title=f"SIC RNN (sigma_x {cfg.sic.sigma_x:g}): fraction above own 95% shuffle threshold")
        fig.savefig(out / "sweep_heatmap.png", dpi=80)
        plt.close(fig)
    if "_map" in brain.get("sargolini_cell", {}):
        sc = brain["sargolini_cell"]
        fig = plot_rate_maps(sc["_map"], sacs=sc["_sac"], scores={"gridness_sargolini": [sc["gridness_sargolini"]]}, titles=["Sargolini T6C3"])
        fig.savefig(out / "sargolini_cell.png", dpi=80)
        plt.close(fig)
    if "_maps" in brain.get("gerlei_mec", {}):
        g = brain["gerlei_mec"]
        fig = plot_rate_maps(g["_maps"], sacs=g["_scores"]["sacs"], scores={"gridness_sargolini": g["_scores"]["gridness_sargolini"], "published": g["published_grid_score"]}, ncols=7)
        fig.savefig(out / "gerlei_mec_units.png", dpi=80)
        plt.close(fig)


def sic_loss_landscape(cfg: Config, periods=(2.0, 3.0, 5.0, 8.0)) -> dict:
    """Where the SIC loss puts a grid code: its terms on the trained control's hexagonal code and on
    every swept RNN's code, on one batch of SIC trajectories.

    The control's code (period ``P_c`` in its own units) is read at ``positions * P_c / P``, i.e. a
    hexagonal code of period ``P`` (in step units) and ``sigma_x`` = 1 step. If the RNNs' smooth codes
    have a lower loss than every grid code at a setting, that setting does not favour grids.
    """
    out = Path(cfg.out)
    from neurocompare.models.path_integration import uniform_velocity_batch
    from neurocompare.models.grid_losses import sic_loss
    from neurocompare.training import load_checkpoint

    ctl = cfg.control
    ff = build_model("spatial_code_ff", n_units=ctl.n_units, seed=0)
    ff.load_state_dict(load_checkpoint(out / "control" / "checkpoint.pt")["model"])
    ff.eval()
    st = unit_statistics(control_maps(ff, ctl)[0], ctl.side / ctl.bins)
    p_c = st["spacing_median"]
    vel, pos = uniform_velocity_batch(cfg.sic.n_sequences, cfg.sic.length, cfg.sic.n_perm, step=cfg.sic.step, generator=torch.Generator().manual_seed(5))
    rows = []
    for r in read_sweep(out / "sweep" / "sweep.jsonl"):
        sc = SICConfig(**r["config"])
        kw = dict(sigma_x=sc.sigma_x, sigma_g=sc.sigma_g, invariance=sc.invariance, max_points=None)
        m = build_model("ssl_path_integrator", n_hidden=sc.n_units, identity_init=sc.identity_init, seed=0)
        m.load_state_dict(torch.load(out / "sweep" / f"{r['key']}.pt", weights_only=True))
        with torch.no_grad():
            terms = {"RNN (trained at this setting)": sic_loss(m.eval()(vel), pos, **kw)[1]}
            for period in periods:
                terms[f"hexagonal code, period {period:g}"] = sic_loss(ff(pos * (p_c / period)), pos, **kw)[1]
        losses = {k: t["separation"] + t["invariance"] + sc.w_cap * t["capacity"] for k, t in terms.items()}
        rows.append({"key": r["key"], "ratio": r["ratio"], "sigma_g": sc.sigma_g, "sigma_x": sc.sigma_x, "terms": terms, "loss": losses,
                     "lowest": min(losses, key=losses.get)})
    return {"control_period_sigma": p_c, "periods_in_steps": list(periods), "settings": rows}


def _summary_line(name: str, r: dict) -> str:
    return (f"{name:<20} units {r['n_units']}: median gridness {r['gridness_sargolini_median']}; > 0.3: {r['frac_sargolini_gt_0.3']:.2f}; "
            f"> own shuffle 95%: {r['shuffle']['frac_above_shuffle95']:.2f}; modules {r['n_modules']} periods {r['module_periods']} ratios {r['module_period_ratios']}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true", help="tiny settings for CI")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sweep", action="store_true", help="run (or resume) the SIC weight sweep before picking its best setting")
    p.add_argument("--config", default=None, help="JSON with overrides: {'control': {...}, 'sic': {...}, 'sweep_ratios': [...], ...}")
    p.add_argument("--data", default=None, help="recorded-data folder (default: the data_dir option, else ../shared/data beside the repo)")
    p.add_argument("--landscape", action="store_true", help="only: SIC loss terms of hexagonal codes vs the swept RNNs' codes (needs a finished run)")
    args = p.parse_args(argv)
    data = args.data or (str(get_options()["data_dir"]) if get_options()["data_dir"] is not None else None)
    if data is None:
        guess = Path(__file__).resolve().parents[2] / "shared" / "data"
        data = str(guess) if guess.is_dir() else None
    cfg = Config(out=args.out, seed=args.seed, data_root=data, sweep=args.sweep)
    if args.small:
        cfg = cfg.shrink()
    if args.config:
        over = json.loads(Path(args.config).read_text())
        over = {k: v for k, v in over.items() if not k.startswith("_")}
        if "control" in over:
            cfg.control = dataclasses.replace(cfg.control, **over.pop("control"))
        if "sic" in over:
            cfg.sic = dataclasses.replace(cfg.sic, **over.pop("sic"))
        cfg = dataclasses.replace(cfg, **{k: tuple(v) if isinstance(v, list) else v for k, v in over.items()})
    if args.landscape:
        torch.set_num_threads(1)
        land = sic_loss_landscape(cfg)
        with open(Path(cfg.out) / "results.jsonl", "a") as fh:
            fh.write(json.dumps({**run_record("ssl_grid_cells", cfg), "kind": "landscape", "seed": cfg.seed, "results": _public(land)}) + "\n")
        for r in land["settings"]:
            print(f"{r['key']:<34} lowest SIC loss: {r['lowest']:<30} " + "  ".join(f"{k.split(',')[-1].strip()}: {v:.3f}" for k, v in r["loss"].items()))
        return 0
    res = run(cfg)
    for name in ("control", "control_multiscale", "supervised", "sic"):
        print(_summary_line(name, res[name]))
    b = res["sweep"]["best"]
    if b:
        print(f"sweep: {res['sweep']['runs']} runs; best ratio {b['ratio']} sigma_g {b['sigma_g']}: > own shuffle 95% {b['mean']:.2f} (seeds {b['seeds']}, range {b['min']:.2f}-{b['max']:.2f})")
    g = res["brain"].get("gerlei_mec", {})
    if "n_units" in g:
        print(f"MEC (Gerlei) units {g['n_units']}: median gridness {g['gridness_sargolini_median']:.2f}; > 0.3: {g['frac_sargolini_gt_0.3']:.2f}; "
              f"modules {g['n_modules']} periods {g['module_periods']}")
    print(f"written {Path(cfg.out) / 'results.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
