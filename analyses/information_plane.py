"""The information plane of the 12-10-7-5-4-3-2 network: tanh vs ReLU, binning vs KDE (claim and critique).

Shwartz-Ziv & Tishby (2017) trained a 12-10-7-5-4-3-2 tanh network on the 12-bit task and saw, in
every layer, a fitting phase (I(T;Y) and I(X;T) rise) followed by a long compression phase
(I(X;T) falls), using 30 bins on [-1, 1]. Saxe et al. (ICLR 2018) showed that with ReLU units the
compression disappears, and attributed it to tanh saturation combined with the binning
estimator. This script trains both, three seeds each, and estimates every layer's position with
binning on (-1, 1) (the original), on each layer's own range, with equal-mass bins, and with the
Kolchinsky–Tracey KDE upper bound (noise variance 0.1, Saxe et al.'s value).

The data are :func:`neurocompare.learning.twelve_bit_task` (regenerated; the original file may
not be redistributed); 85 % of the 4,096 inputs train (as in the original), and the information
is measured on all 4,096. Training is a small loop of its own (Adam, learning rate 1e-3, mini-batches of 512, 2,000 epochs,
float64), written here because each epoch's activations are needed.

Run::

    python -m analyses.information_plane --out runs/information_plane          # full (~10 min, 1 core)
    python -m analyses.information_plane --out /tmp/ip --small                 # CI (< 1 min)

Writes ``OUT/results.jsonl`` (a line per activation × seed, then a summary) and
``OUT/information_plane.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import neurocompare as nc
from neurocompare._seeding import numpy_rng, seeded, torch_generator

from analyses._results import append_summary, read_runs, run_record

ESTIMATORS = ("bins(-1,1)", "bins_per_layer", "bins_adaptive", "kde_upper")


@dataclass
class Config:
    """Parameters of the study (defaults: the original architecture and bins, a shorter run)."""

    out: str = "runs/information_plane"
    seeds: tuple[int, ...] = (0, 1, 2)
    activations: tuple[str, ...] = ("tanh", "relu")
    widths: tuple[int, ...] = (12, 10, 7, 5, 4, 3, 2)
    train_fraction: float = 0.85
    epochs: int = 2000
    batch_size: int = 512
    lr: float = 1e-3
    n_bins: int = 30
    n_measure: int = 40  # log-spaced epochs at which the binned estimates are taken
    n_kde: int = 10  # log-spaced epochs at which the (slower) KDE bound is taken
    noise_variance: float = 0.1
    kde_subsample: int = 1024  # inputs (seeded draw) for the KDE bound; 4096 = all (16x slower)
    small: bool = False
    threads: int = 1

    def shrink(self) -> "Config":
        self.seeds, self.epochs, self.n_measure, self.n_kde, self.small = (0,), 100, 8, 2, True
        return self


def build(widths: tuple[int, ...], activation: str, seed: int) -> torch.nn.Sequential:
    """The MLP ``widths[0] -> ... -> widths[-1]`` (logits), float64, initialised under ``seed``."""
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[activation]
    layers: list[torch.nn.Module] = []
    with seeded(seed):
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(torch.nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(act())
    return torch.nn.Sequential(*layers).double()


def layer_activities(model: torch.nn.Sequential, x: torch.Tensor) -> list[np.ndarray]:
    """Each hidden layer's activity after its nonlinearity, then the softmax output, dims (sample, unit)."""
    outs, h = [], x
    with torch.no_grad():
        for m in model:
            h = m(h)
            if not isinstance(m, torch.nn.Linear):
                outs.append(h.numpy().copy())
        outs.append(torch.softmax(h, dim=1).numpy())
    return outs


def measure(acts: list[np.ndarray], y: np.ndarray, cfg: Config, kde: bool) -> dict[str, list[list[float]]]:
    """``{estimator: [[I(X;T) per layer], [I(T;Y) per layer]]}`` for one epoch.

    The binned estimates use all inputs; the KDE bound a fixed seeded subset of ``kde_subsample``
    inputs (its I(X;T) is then at most log2(kde_subsample) bits).
    """
    res: dict[str, list[list[float]]] = {}
    for name, rng in (("bins(-1,1)", (-1.0, 1.0)), ("bins_per_layer", "per_layer"), ("bins_adaptive", "adaptive")):
        r = [nc.learning.binned_mutual_information(a, y, cfg.n_bins, value_range=rng) for a in acts]
        res[name] = [[q.i_xt for q in r], [q.i_ty for q in r]]
        if name == "bins(-1,1)":
            res["clipped"] = [[q.clipped for q in r]]
    if kde:
        sub = np.sort(numpy_rng(0, "information_plane", "kde_subsample").permutation(len(y))[: cfg.kde_subsample])
        r = [nc.learning.kde_mutual_information(a[sub], y[sub], cfg.noise_variance) for a in acts]
        res["kde_upper"] = [[q.value for q in r], [q.i_ty_upper for q in r]]
        res["kde_lower"] = [[q.i_xt_lower for q in r], [q.i_ty_lower for q in r]]
    return res


def log_epochs(n_epochs: int, n: int) -> list[int]:
    return sorted({0, n_epochs, *np.unique(np.geomspace(1, n_epochs, n).round().astype(int)).tolist()})


def run_one(activation: str, seed: int, cfg: Config) -> dict:
    """Train one network and record every layer's information at log-spaced epochs."""
    x_np, y_np = nc.learning.twelve_bit_task(seed=0)
    perm = numpy_rng(seed, "information_plane", "split").permutation(len(y_np))
    n_tr = int(round(cfg.train_fraction * len(y_np)))
    x_all, y_all = torch.from_numpy(x_np), torch.from_numpy(y_np)
    xtr, ytr = x_all[perm[:n_tr]], y_all[perm[:n_tr]]
    xte, yte = x_all[perm[n_tr:]], y_all[perm[n_tr:]]
    model = build(cfg.widths, activation, seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch_generator(seed, "information_plane", "batches")
    measure_at = set(log_epochs(cfg.epochs, cfg.n_measure))
    kde_at = set(log_epochs(cfg.epochs, cfg.n_kde))
    rec = {"epochs": [], "kde_epochs": [], "train_acc": [], "test_acc": []}
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs + 1):
        if epoch in measure_at:
            vals = measure(layer_activities(model, x_all), y_np, cfg, kde=epoch in kde_at)
            rec["epochs"].append(epoch)
            if epoch in kde_at:
                rec["kde_epochs"].append(epoch)
            for k, v in vals.items():
                rec.setdefault(k, []).append(v)
            with torch.no_grad():
                rec["train_acc"].append(float((model(xtr).argmax(1) == ytr).double().mean()))
                rec["test_acc"].append(float((model(xte).argmax(1) == yte).double().mean()))
        if epoch == cfg.epochs:
            break
        order = torch.randperm(n_tr, generator=gen)
        for s in range(0, n_tr, cfg.batch_size):
            idx = order[s : s + cfg.batch_size]
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
    return {"activation": activation, "seed": seed, "seconds": time.perf_counter() - t0, **rec}


def compression(row: dict, estimator: str) -> list[float]:
    """Per layer: max over epochs of I(X;T) minus its final value (bits); > 0 means a late fall."""
    ixt = np.array([e[0] for e in row[estimator]])  # (epoch, layer)
    return (ixt.max(axis=0) - ixt[-1]).tolist()


def summarize(rows: list[dict]) -> dict:
    """Mean ± sd over seeds of the compression (bits) per activation × estimator × layer, and accuracies."""
    out: dict = {}
    for act in dict.fromkeys(r["activation"] for r in rows):
        rs = [r for r in rows if r["activation"] == act]
        entry = {"n_seeds": len(rs), "final_train_acc": float(np.mean([r["train_acc"][-1] for r in rs])),
                 "final_test_acc": float(np.mean([r["test_acc"][-1] for r in rs])),
                 "fraction_clipped_by_(-1,1)_final": np.mean([r["clipped"][-1][0] for r in rs], axis=0).tolist()}
        for est in ESTIMATORS:
            c = np.array([compression(r, est) for r in rs])  # (seed, layer)
            entry[f"compression_{est}"] = {"mean": c.mean(0).round(4).tolist(),
                                           "sd": (c.std(0, ddof=1) if len(rs) > 1 else np.full(c.shape[1], np.nan)).round(4).tolist()}
            ixt = np.array([[e[0] for e in r[est]] for r in rs])  # (seed, epoch, layer)
            entry[f"final_ixt_{est}"] = ixt[:, -1].mean(0).round(4).tolist()
        out[act] = entry
    return out


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    acts = list(dict.fromkeys(r["activation"] for r in rows))
    fig, axes = plt.subplots(len(acts), len(ESTIMATORS), figsize=(4.2 * len(ESTIMATORS), 3.4 * len(acts)),
                             squeeze=False)
    names = [f"T{i + 1}" for i in range(len(rows[0]["bins(-1,1)"][0][0]))]
    for i, act in enumerate(acts):
        row = next(r for r in rows if r["activation"] == act)  # the first seed; the others are in the JSON
        for j, est in enumerate(ESTIMATORS):
            ixt = np.array([e[0] for e in row[est]])
            ity = np.array([e[1] for e in row[est]])
            ep = row["kde_epochs"] if est.startswith("kde") else row["epochs"]
            nc.plotting.plot_information_plane(ixt, ity, ep, layer_names=names, ax=axes[i, j],
                                               title=f"{act}, {est} (seed {row['seed']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(cfg: Config) -> dict:
    """Train every activation × seed, append to ``OUT/results.jsonl``, draw the figure; return the summary."""
    torch.set_num_threads(int(cfg.threads))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    record = run_record("information_plane", cfg)
    rows = []
    with open(out / "results.jsonl", "a") as fh:
        for act in cfg.activations:
            for seed in cfg.seeds:
                row = run_one(act, seed, cfg)
                rows.append(row)
                fh.write(json.dumps({**record, "kind": "run", **row}) + "\n")
                fh.flush()
                if nc.get_options().get("progress") is not False:
                    print(f"{act} seed {seed}: test acc {row['test_acc'][-1]:.3f} ({row['seconds']:.0f} s)", flush=True)
        summary = summarize(rows)
        fh.write(json.dumps({**record, "kind": "summary", "seeds": list(cfg.seeds), "summary": summary}) + "\n")
    plot(rows, out / "information_plane.png")
    return summary


def summarize_existing(cfg: Config) -> dict:
    """Rebuild the summary and figure from the runs in ``OUT/results.jsonl`` (e.g. after an interruption)."""
    rows = read_runs(cfg.out)
    summary = summarize(rows)
    append_summary(cfg.out, "information_plane", rows, summary)
    plot(rows, Path(cfg.out) / "information_plane.png")
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true", help="CI scale (also NEUROCOMPARE_SMALL=1)")
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--summarize", action="store_true", help="only rebuild summary + figure from OUT/results.jsonl")
    a = p.parse_args(argv)
    cfg = Config(out=a.out, threads=a.threads)
    if a.small or os.environ.get("NEUROCOMPARE_SMALL", "") not in ("", "0"):
        cfg.shrink()
    if a.seeds:
        cfg.seeds = tuple(a.seeds)
    if a.epochs:
        cfg.epochs = a.epochs
    summary = summarize_existing(cfg) if a.summarize else run(cfg)
    for act, s in summary.items():
        print(f"{act}: test acc {s['final_test_acc']:.3f}")
        for est in ESTIMATORS:
            c = s[f"compression_{est}"]
            print(f"  compression {est:15s} " + " ".join(f"{m:.2f}±{d:.2f}" for m, d in zip(c["mean"], c["sd"])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
