"""Neural collapse and the rank bias of SGD on MNIST: a small-scale replication.

Trains classifiers on a balanced MNIST subset well past 100 % training accuracy and measures,
at log-spaced epochs (``nc.learning.CollapseTracker``):

- NC1 (``papyan``: tr(Σ_W Σ_B⁺)/C, all four variants recorded), NC2 (ETF error of the class
  means and of the classifier), NC3 (self-duality), NC4 (classifier vs nearest class centre) of
  the features that enter the classifier;
- NC1 at every depth (the input of each linear layer) and the alignment of each linear layer's
  top-C right singular subspace with its input's class means;
- the ε-rank (ε = 1e-3 of the largest singular value) of every weight matrix.

The grid: model (``mlp``, ``convnet_small``) × loss (cross-entropy, MSE on one-hot targets) ×
weight decay (0, 5e-4) × batch size (32, 256) × seeds. SGD with momentum 0.9, a learning rate
(0.05 for cross-entropy, 0.02 for the squared error summed over classes) divided by 10 at 1/3 and
2/3 of training (the schedule of Papyan et al. 2020).

Expected from the papers (Papyan et al. 2020; Rangamani et al. 2023; Galanti et al. 2025): the
metrics fall by orders of magnitude in the terminal phase; with weight decay 0 the collapse and
the rank drop are weaker; a smaller batch and a larger weight decay give a lower rank; NC1
falls with depth. ``summary`` states each expectation with the measured numbers (mean ± s.d.
over seeds, and the paired difference over seeds) and whether it held.

Run::

    python -m analyses.neural_collapse --out runs/nc_mlp --models mlp          # 24 runs, ≈ 14 min on 1 core
    python -m analyses.neural_collapse --out runs/nc_mlp --models mlp --losses ce --weight-decays 0 5e-4 5e-3
    python -m analyses.neural_collapse --out runs/nc_conv --models convnet_small --losses ce --weight-decays 0 5e-4 --batch-sizes 32 128 --n-train 1000 --epochs 40 --downsample 2
    python -m analyses.neural_collapse --out /tmp/nc --small                   # < 1 min

The results of these runs are in ``docs/neural_collapse.md`` (the convnet grid: ≈ 11 min).

A run that is interrupted keeps every finished training run (one ``"kind": "run"`` line each);
running the same command again skips them. Writes ``OUT/results.jsonl``, per-run histories in
``OUT/history/``, and figures ``OUT/neural_collapse_*.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import neurocompare as nc
from analyses._results import append_summary, read_runs, run_record
from neurocompare._options import progress_enabled
from neurocompare._seeding import numpy_rng

METRICS = ("nc1", "nc2_etf_means", "nc2_etf_classifier", "nc3", "nc4")


@dataclass
class Config:
    """Parameters of the study (defaults: the full grid at CPU scale)."""

    out: str = "runs/neural_collapse"
    models: tuple[str, ...] = ("mlp", "convnet_small")
    losses: tuple[str, ...] = ("ce", "mse")
    weight_decays: tuple[float, ...] = (0.0, 5e-4)
    batch_sizes: tuple[int, ...] = (32, 256)
    seeds: tuple[int, ...] = (0, 1, 2)
    n_train: int = 2000  # balanced: n_train / 10 images per digit
    n_test: int = 2000
    epochs: int = 100
    lr: float = 0.05
    lr_mse: float = 0.02  # squared error summed over classes: at 0.05 one seed in three died (all ReLUs off)
    momentum: float = 0.9
    mlp_hidden: tuple[int, ...] = (128, 128, 128)
    downsample: int = 1  # average-pool the 28 x 28 digits by this factor (2: 14 x 14, 4x cheaper convnets)
    n_evals: int = 14
    eps: float = 1e-3
    nc1: str = "papyan"
    data_root: str | None = None
    small: bool = False
    threads: int = 1

    def shrink(self) -> "Config":
        self.models, self.losses, self.weight_decays, self.batch_sizes = ("mlp",), ("ce",), (0.0, 5e-4), (64,)
        self.seeds, self.n_train, self.n_test, self.epochs, self.n_evals = (0,), 300, 300, 30, 5
        self.mlp_hidden, self.small = (32, 32), True
        return self


def balanced_subset(images: torch.Tensor, labels: torch.Tensor, n: int, seed: int, offset: int = 0):
    """``n // 10`` images of each digit, drawn with the seeded stream ``(seed, 'subset', offset)``."""
    rng = numpy_rng(seed, "subset", offset)
    idx = []
    for c in range(10):
        pool = np.flatnonzero(labels.numpy() == c)
        idx.append(rng.choice(pool, n // 10, replace=False))
    idx = np.sort(np.concatenate(idx))
    return images[idx], labels[idx]


def build(model_name: str, cfg: Config, seed: int) -> torch.nn.Module:
    if model_name == "mlp":
        return nc.build_model("mlp", in_features=(28 // cfg.downsample) ** 2, hidden=tuple(cfg.mlp_hidden), num_classes=10, seed=seed)
    return nc.build_model(model_name, in_channels=1, num_classes=10, seed=seed)


def objective_for(loss: str):
    """``objective(model, batch) -> (loss, {'accuracy': ...})``: cross-entropy, or squared error to one-hot targets."""
    def objective(model, batch):
        x, y = batch
        out = model(x)
        if loss == "ce":
            value = torch.nn.functional.cross_entropy(out, y)
        else:
            # squared error summed over the classes, averaged over the batch (Han et al. 2022); torch's
            # mse_loss would also divide by C and train C times slower
            target = torch.nn.functional.one_hot(y, out.shape[1]).to(out.dtype)
            value = ((out - target) ** 2).sum(1).mean()
        return value, {"accuracy": (out.argmax(1) == y).float().mean()}
    return objective


def run_key(model: str, loss: str, wd: float, bs: int, seed: int) -> str:
    return f"{model}_{loss}_wd{wd:g}_bs{bs}_seed{seed}"


def run_one(model_name: str, loss: str, wd: float, bs: int, seed: int, train_data, test_data, cfg: Config) -> dict:
    """Train one model with the tracker attached; return its history and final measures."""
    x, y = train_data
    model = build(model_name, cfg, seed)
    steps_per_epoch = len(x) // bs
    steps = steps_per_epoch * cfg.epochs
    hist_path = Path(cfg.out) / "history" / f"{run_key(model_name, loss, wd, bs, seed)}.jsonl"
    hist_path.unlink(missing_ok=True)  # a run that was interrupted starts over
    names = dict(model.named_modules())
    # depth: the input of every linear layer (MLP); for a convnet also the output of each conv block
    layers = None if model_name == "mlp" else [n for n in ("block1", "block2", "block3", "block4") if n in names] + ["flatten"]
    tracker = nc.learning.CollapseTracker(model, train_data, nc1=cfg.nc1, steps_per_epoch=steps_per_epoch,
                                          epochs=cfg.epochs, n_evals=cfg.n_evals, eps=cfg.eps, test_data=test_data,
                                          path=hist_path, layers=layers, chunk_size=1000, batch_size=500)
    tracker.evaluate(0)
    opt = nc.training.OptimizerConfig(name="sgd", lr=cfg.lr_mse if loss == "mse" else cfg.lr, momentum=cfg.momentum, weight_decay=wd,
                                      schedule="step", step_size=max(steps // 3, 1), gamma=0.1)
    t0 = time.perf_counter()
    nc.train(model, objective_for(loss), nc.training.Batches(x, y, batch_size=bs, seed=seed), optimizer=opt,
             steps=steps, log_every=steps_per_epoch, seed=seed, progress=False, callback=tracker, device="cpu")
    seconds = time.perf_counter() - t0
    final = tracker.history[-1]
    spectra = {k: v.tolist() for k, v in nc.learning.weight_spectra(model).items()}
    return {"model": model_name, "loss": loss, "weight_decay": wd, "batch_size": bs, "seed": seed,
            "key": run_key(model_name, loss, wd, bs, seed), "seconds": seconds, "final": final,
            "history": tracker.history, "spectra": spectra}


def _ms(values) -> dict:
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    if v.size == 0:
        return {"mean": float("nan"), "sd": float("nan"), "n": 0}
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else float("nan"), "n": int(v.size)}


RANK_EPS = (1e-3, 1e-2, 1e-1)


def _eps_rank(spectrum, eps: float) -> float:
    """ε-rank from a stored spectrum (as ``nc.learning.effective_rank`` counts it)."""
    s = np.asarray(spectrum, float)
    return float(np.count_nonzero(s > eps * s[0])) if s.size and s[0] > 0 else 0.0


def _first_epoch_row(run: dict) -> dict:
    return next(r for r in run["history"] if r["epoch"] >= 1)


def _decades(run: dict, metric: str = "nc1", start: str = "epoch1") -> float:
    """log10 of ``metric`` at the start (after epoch 1, or at initialisation) over its final value."""
    first = _first_epoch_row(run) if start == "epoch1" else run["history"][0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.log10(np.float64(first[metric]) / np.float64(run["final"][metric])))


def summarize(rows: list[dict]) -> dict:
    """Per condition: final measures (mean ± s.d. over seeds); then each expectation, tested by paired differences."""
    conds: dict[str, list[dict]] = {}
    for r in rows:
        conds.setdefault(f"{r['model']}|{r['loss']}|wd{r['weight_decay']:g}|bs{r['batch_size']}", []).append(r)
    per_cond = {}
    for name, rs in sorted(conds.items()):
        entry = {m: _ms([r["final"][m] for r in rs]) for m in METRICS + ("accuracy", "test_accuracy")}
        entry["drop_decades"] = {f"{m} from {st}": _ms([_decades(r, m, st) for r in rs])
                                 for m in ("nc1", "nc2_etf_means", "nc3", "nc4") for st in ("epoch1", "init")}
        layers = list(rs[0]["final"]["layer_nc1"])
        entry["layer_nc1"] = {ly: _ms([r["final"]["layer_nc1"][ly] for r in rs]) for ly in layers}
        entry["rank"] = {ly: _ms([r["final"]["rank"][ly] for r in rs]) for ly in rs[0]["final"]["rank"]}
        entry["total_rank"] = _ms([sum(r["final"]["rank"].values()) for r in rs])
        entry["rank_at_eps"] = {f"{e:g}": {ly: _ms([_eps_rank(r["spectra"][ly], e) for r in rs]) for ly in rs[0]["spectra"]}
                                for e in RANK_EPS}
        entry["entropy_rank"] = {ly: _ms([r["final"]["entropy_rank"][ly] for r in rs]) for ly in rs[0]["final"]["entropy_rank"]}
        entry["alignment"] = {ly: _ms([r["final"]["alignment"].get(ly, np.nan) for r in rs])
                              for ly in rs[0]["final"]["alignment"]}
        entry["seeds"] = sorted(r["seed"] for r in rs)
        per_cond[name] = entry
    return {"conditions": per_cond, "expectations": expectations(rows)}


def _paired(rows: list[dict], vary: str, a, b, value) -> dict:
    """Differences value(b) - value(a) between runs that differ only in ``vary``, over all other factors and seeds."""
    index = {(r["model"], r["loss"], r["weight_decay"], r["batch_size"], r["seed"]): r for r in rows}
    pos = {"weight_decay": 2, "batch_size": 3}[vary]
    diffs, strata = [], {}
    for key, r in index.items():
        if key[pos] != a:
            continue
        other = list(key)
        other[pos] = b
        if tuple(other) in index:
            diffs.append(value(index[tuple(other)]) - value(r))
            stratum = "|".join(str(k) for i, k in enumerate(key[:4]) if i != pos)
            strata.setdefault(stratum, []).append(diffs[-1])
    out = _interval(diffs)
    out["by_condition"] = {k: _interval(v) for k, v in sorted(strata.items())}  # over seeds only
    return out


def _interval(diffs) -> dict:
    d = np.asarray(diffs, dtype=float)
    d = d[np.isfinite(d)]
    out = {"n_pairs": int(d.size), "mean_diff": float(d.mean()) if d.size else float("nan"),
           "sd_diff": float(d.std(ddof=1)) if d.size > 1 else float("nan"),
           "fraction_positive": float((d > 0).mean()) if d.size else float("nan"), "ci95": None}
    if d.size > 1:  # t interval of the mean paired difference (pairs over seeds and the other factors)
        from scipy import stats

        half = float(stats.t.ppf(0.975, d.size - 1)) * out["sd_diff"] / np.sqrt(d.size)
        out["ci95"] = [out["mean_diff"] - half, out["mean_diff"] + half]
    return out


def _held(d: dict) -> str:
    """'yes' when the 95 % interval of the difference is above 0, 'no' when below, else 'undecided'."""
    if d["ci95"] is None or not np.isfinite(d["ci95"][0]):
        return "undecided"
    return "yes" if d["ci95"][0] > 0 else ("no" if d["ci95"][1] < 0 else "undecided")


def expectations(rows: list[dict]) -> dict:
    """Each expectation of the papers with the measured numbers and whether it held at this scale."""
    out = {}
    drops = [_decades(r) for r in rows]
    out["nc1_falls_by_orders_of_magnitude"] = {"decades": _ms(drops), "median_decades": float(np.nanmedian(drops)),
                                               "held": bool(np.nanmedian(drops) >= 1.0)}
    out["metrics_fall_decades (median over runs)"] = {
        f"{m} from {st}": float(np.nanmedian([_decades(r, m, st) for r in rows]))
        for m in ("nc1", "nc2_etf_means", "nc3", "nc4") for st in ("epoch1", "init")}
    lognc1 = lambda r: float(np.log10(np.float64(r["final"]["nc1"])))  # noqa: E731
    ranks = {f"eps={e:g}": (lambda r, e=e: float(sum(_eps_rank(v, e) for v in r["spectra"].values()))) for e in RANK_EPS}
    ranks["entropy"] = lambda r: float(sum(r["final"]["entropy_rank"].values()))
    wds = sorted({r["weight_decay"] for r in rows})
    bss = sorted({r["batch_size"] for r in rows})
    for wd in wds[1:]:  # each weight decay against none; rank summed over the weight matrices
        d = _paired(rows, "weight_decay", wd, wds[0], lognc1)  # log10 NC1(wd=0) - log10 NC1(wd>0)
        out[f"weaker_collapse_without_weight_decay (vs {wd:g})"] = {"log10_nc1_wd0_minus_wd": d, "held": _held(d)}
        diffs = {k: _paired(rows, "weight_decay", wd, wds[0], f) for k, f in ranks.items()}
        out[f"higher_rank_without_weight_decay (vs {wd:g})"] = {
            "rank_wd0_minus_wd": diffs, "held_at": {k: _held(v) for k, v in diffs.items()}}
    if len(bss) >= 2:  # rank(large batch) - rank(small batch)
        diffs = {k: _paired(rows, "batch_size", bss[0], bss[-1], f) for k, f in ranks.items()}
        out["lower_rank_with_smaller_batch"] = {"rank_large_minus_small_batch": diffs,
                                                "held_at": {k: _held(v) for k, v in diffs.items()}}
    mono = []
    for r in rows:
        v = list(r["final"]["layer_nc1"].values())
        with np.errstate(divide="ignore", invalid="ignore"):
            steps = np.diff(np.log10(np.asarray(v, float)))
        mono.append(float(np.mean(steps < 0)) if len(v) > 1 and np.all(np.isfinite(steps)) else np.nan)
    frac = _ms(mono)
    out["nc1_decreases_with_depth"] = {"fraction_of_decreasing_steps": frac, "held": bool(frac["n"] and frac["mean"] > 0.5)}
    return out


def condition(r: dict) -> str:
    return f"{r['loss']} wd={r['weight_decay']:g} bs={r['batch_size']}"


def plot(rows: list[dict], out: Path) -> list[str]:
    """Figures per model: metrics over epochs, NC1 over depth, ε-rank per layer; returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for model in sorted({r["model"] for r in rows}):
        groups: dict[str, list[dict]] = {}
        for r in sorted((r for r in rows if r["model"] == model), key=lambda r: (condition(r), r["seed"])):
            groups.setdefault(condition(r), []).append(r)
        figs = {
            "history": nc.plotting.plot_collapse_history(
                {k: [r["history"] for r in v] for k, v in groups.items()},
                metrics=("nc1", "nc2_etf_means", "nc3", "nc4", "accuracy"), title=f"{model}: collapse over epochs"),
            "depth": nc.plotting.plot_layerwise_nc1({k: [r["final"]["layer_nc1"] for r in v] for k, v in groups.items()},
                                                    title=f"{model}: final NC1 over depth"),
            "rank": nc.plotting.plot_ranks({k: [r["final"]["rank"] for r in v] for k, v in groups.items()},
                                           title=f"{model}: final ε-rank (ε=1e-3), mean ± s.d. over seeds"),
        }
        for kind, fig in figs.items():
            name = f"neural_collapse_{model}_{kind}.png"
            fig.savefig(out / name, dpi=110)
            plt.close(fig)
            names.append(name)
    return names


def done_keys(out: Path, cfg: Config) -> set[str]:
    """Keys of the runs already in ``OUT/results.jsonl`` with the same scale (a resumed study skips them)."""
    path = out / "results.jsonl"
    if not path.exists():
        return set()
    same = ("n_train", "epochs", "lr", "mlp_hidden", "n_evals", "eps", "nc1", "momentum", "downsample")
    keys = set()
    for line in path.read_text().splitlines():
        rec = json.loads(line) if line.strip() else {}
        if rec.get("kind") != "run" or not all(rec["config"].get(k, 1) == _plain(getattr(cfg, k)) for k in same):
            continue
        if rec["loss"] == "mse" and rec["config"].get("lr_mse", rec["config"]["lr"]) != cfg.lr_mse:
            continue  # the squared-error runs also depend on their own learning rate
        keys.add(rec["key"])
    return keys


def _plain(v):
    return list(v) if isinstance(v, tuple) else v


def load_data(cfg: Config):
    from data_loaders import mnist

    images, labels = mnist.load_tensors("train", root=cfg.data_root)
    test_images, test_labels = mnist.load_tensors("test", root=cfg.data_root)
    if cfg.downsample > 1:
        images = torch.nn.functional.avg_pool2d(images, cfg.downsample)
        test_images = torch.nn.functional.avg_pool2d(test_images, cfg.downsample)
    return images, labels, test_images, test_labels


def run(cfg: Config) -> dict:
    """Train every condition × seed not yet done, append each to ``OUT/results.jsonl``; summarize and plot."""
    torch.set_num_threads(int(cfg.threads))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    images, labels, test_images, test_labels = load_data(cfg)
    skip = done_keys(out, cfg)
    record = run_record("neural_collapse", cfg)
    verbose = progress_enabled(True)
    with nc.set_options(progress=False):
        for seed in cfg.seeds:
            train_data = balanced_subset(images, labels, cfg.n_train, seed)
            test_data = balanced_subset(test_images, test_labels, cfg.n_test, seed, offset=1)
            for model in cfg.models:
                for loss in cfg.losses:
                    for wd in cfg.weight_decays:
                        for bs in cfg.batch_sizes:
                            if run_key(model, loss, wd, bs, seed) in skip:
                                continue
                            row = run_one(model, loss, wd, bs, seed, train_data, test_data, cfg)
                            with open(out / "results.jsonl", "a") as fh:
                                fh.write(json.dumps({**record, "kind": "run", **row}) + "\n")
                            if verbose:
                                f = row["final"]
                                print(f"{row['key']:38s} train {100 * f['accuracy']:.1f}% test "
                                      f"{100 * f['test_accuracy']:.1f}%  NC1 {f['nc1']:.3g}  NC3 {f['nc3']:.3g}  "
                                      f"NC4 {f['nc4']:.3g}  ranks {list(f['rank'].values())}  ({row['seconds']:.0f} s)",
                                      flush=True)
    return summarize_existing(cfg)


def summarize_existing(cfg: Config) -> dict:
    """Summary and figures from every run in ``OUT/results.jsonl`` (all configurations of this scale)."""
    keys = done_keys(Path(cfg.out), cfg)
    rows = [r for r in read_runs(cfg.out) if r["key"] in keys]
    latest = {r["key"]: r for r in rows}  # a key written twice: the later line wins
    rows = list(latest.values())
    summary = summarize(rows)
    summary["figures"] = plot(rows, Path(cfg.out))
    append_summary(cfg.out, "neural_collapse", rows, summary)
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true", help="tiny, fast settings (smoke test / CI)")
    p.add_argument("--models", nargs="+", default=None)
    p.add_argument("--losses", nargs="+", default=None, choices=("ce", "mse"))
    p.add_argument("--weight-decays", type=float, nargs="+", default=None)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--downsample", type=int, default=None, help="average-pool the digits by this factor")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default=None, help="data root (default: $NEUROCOMPARE_DATA)")
    p.add_argument("--summarize", action="store_true", help="only rebuild summary + figures from OUT/results.jsonl")
    a = p.parse_args(argv)
    cfg = Config(out=a.out, data_root=a.data, threads=a.threads)
    if a.small:
        cfg.shrink()
    for key, val in (("models", a.models), ("losses", a.losses), ("weight_decays", a.weight_decays),
                     ("batch_sizes", a.batch_sizes), ("seeds", a.seeds)):
        if val is not None:
            setattr(cfg, key, tuple(val))
    for key, val in (("n_train", a.n_train), ("epochs", a.epochs), ("downsample", a.downsample)):
        if val is not None:
            setattr(cfg, key, val)
    summary = summarize_existing(cfg) if a.summarize else run(cfg)
    print(json.dumps(summary["expectations"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
