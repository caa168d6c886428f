"""Critical learning periods on MNIST: early blur deficits, a sliding deficit window, a flip control, the Fisher trace.

Achille, Rovere & Soatto (ICLR 2019) found on CIFAR-10 that blurring the images during the first
epochs permanently lowers the final accuracy, that the same deficit late in training costs almost
nothing, that a deficit which keeps the low-level statistics (a vertical flip) costs nothing, and
that the trace of the Fisher information rises early and then falls. CIFAR is not available
here; this is the same protocol on MNIST digits (much easier, so the effect is expected to be
weaker), with a small convnet:

- deficit = blur (average-pool 28 → 7, bilinear back to 28) for the first ``t0`` epochs, then
  ``clean_epochs`` clean epochs (``t0 ∈ {0, 5, 10, 20, 40}``);
- a sliding ``window``-epoch blur deficit starting at several onsets, then ``clean_epochs``;
- a control: vertical flip for the first 40 epochs (low-level statistics kept), then clean;
- SGD with momentum 0.9, learning rate ``lr · 0.97^epoch``, weight decay 5e-4 (the paper's
  schedule), mini-batches of 64, float32 training;
- the true Fisher trace (labels drawn from the model; :func:`neurocompare.learning.fisher_trace`,
  float64 accumulation) on a fixed probe of clean training images after every epoch.

Run::

    python -m analyses.critical_periods --out runs/critical_periods           # full (~4 min CPU, 2 seeds)
    python -m analyses.critical_periods --out /tmp/cp --small                 # CI (< 1 min)

Each condition × seed is appended to ``OUT/results.jsonl`` as soon as it ends; ``--resume`` skips
those already there (an interrupted run loses at most one condition). Writes
``OUT/critical_periods.png``.
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


@dataclass
class Config:
    """Parameters of the study."""

    out: str = "runs/critical_periods"
    seeds: tuple[int, ...] = (0, 1)
    lengths: tuple[int, ...] = (0, 5, 10, 20, 40)
    window: int = 10
    onsets: tuple[int, ...] = (10, 20, 30)  # onset 0 is blur_first_<window>
    flip_epochs: int = 40
    clean_epochs: int = 15
    n_train: int = 2000
    n_test: int = 1000
    n_probe: int = 128
    batch_size: int = 64
    lr: float = 0.05
    lr_decay: float = 0.97
    weight_decay: float = 5e-4
    channels: tuple[int, int] = (8, 16)
    data_root: str | None = None
    small: bool = False
    threads: int = 1

    def shrink(self) -> "Config":
        self.seeds, self.lengths, self.onsets, self.window = (0,), (0, 4), (4,), 4
        self.flip_epochs, self.clean_epochs, self.n_train, self.n_test, self.n_probe = 4, 4, 500, 500, 64
        self.batch_size, self.small = 32, True
        return self


def conditions(cfg: Config) -> list[dict]:
    """Every condition: name, deficit ('blur'/'flip'), deficit start and end epoch, total epochs."""
    out = [{"name": f"blur_first_{t}", "deficit": "blur", "start": 0, "end": t, "epochs": t + cfg.clean_epochs}
           for t in cfg.lengths]
    out += [{"name": f"blur_window_{o}", "deficit": "blur", "start": o, "end": o + cfg.window,
             "epochs": o + cfg.window + cfg.clean_epochs} for o in cfg.onsets]
    out.append({"name": f"flip_first_{cfg.flip_epochs}", "deficit": "flip", "start": 0, "end": cfg.flip_epochs,
                "epochs": cfg.flip_epochs + cfg.clean_epochs})
    return out


def blur(x: torch.Tensor) -> torch.Tensor:
    """Downsample 28 → 7 (4×4 average) and back to 28 (bilinear), dims (image, 1, 28, 28)."""
    small = torch.nn.functional.avg_pool2d(x, 4)
    return torch.nn.functional.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)


def vflip(x: torch.Tensor) -> torch.Tensor:
    """Upside-down images (the low-level statistics are kept)."""
    return torch.flip(x, dims=(-2,))


def build(cfg: Config, seed: int) -> torch.nn.Module:
    """conv5-relu-pool, conv5-relu-pool, linear: about 4,000 weights for (8, 16) channels."""
    c1, c2 = cfg.channels
    with seeded(seed):
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, c1, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(c1, c2, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(c2 * 16, 10),
        )


def load(cfg: Config, seed: int):
    """Seeded subsets of the MNIST train (training + Fisher probe) and test splits."""
    from data_loaders import mnist

    xtr, ytr = mnist.load_tensors("train", root=cfg.data_root)
    xte, yte = mnist.load_tensors("test", root=cfg.data_root)
    tr = torch.from_numpy(numpy_rng(seed, "critical_periods", "train").permutation(len(ytr))[: cfg.n_train])
    te = torch.from_numpy(numpy_rng(seed, "critical_periods", "test").permutation(len(yte))[: cfg.n_test])
    return xtr[tr], ytr[tr], xte[te], yte[te]


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def run_one(cond: dict, seed: int, data, cfg: Config) -> dict:
    """Train one condition; return final accuracy, accuracy and Fisher trace per epoch."""
    xtr, ytr, xte, yte = data
    model = build(cfg, seed)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    gen = torch_generator(seed, "critical_periods", cond["name"])
    deficit = {"blur": blur, "flip": vflip}[cond["deficit"]]
    x_def = deficit(xtr)
    probe = xtr[: cfg.n_probe]
    fisher, test_acc = [], []
    t0 = time.perf_counter()
    for epoch in range(cond["epochs"]):
        for g in opt.param_groups:
            g["lr"] = cfg.lr * cfg.lr_decay**epoch
        x = x_def if cond["start"] <= epoch < cond["end"] else xtr
        order = torch.randperm(len(ytr), generator=gen)
        model.train()
        for s in range(0, len(ytr), cfg.batch_size):
            idx = order[s : s + cfg.batch_size]
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x[idx]), ytr[idx]).backward()
            opt.step()
        model.eval()
        fisher.append(nc.learning.fisher_trace(model, probe, per_layer=False, seed=seed * 1000 + epoch).value)
        test_acc.append(accuracy(model, xte, yte))
    return {"condition": cond["name"], **cond, "seed": seed, "final_test_acc": test_acc[-1],
            "final_train_acc": accuracy(model, xtr, ytr), "test_acc": test_acc, "fisher": fisher,
            "seconds": time.perf_counter() - t0}


def summarize(rows: list[dict], cfg: Config) -> dict:
    """Final accuracy (%) mean ± sd over seeds per condition, the cost vs no deficit, the Fisher peak."""
    out: dict = {"conditions": {}}
    base = {r["seed"]: r["final_test_acc"] for r in rows if r["condition"] == "blur_first_0"}
    for name in dict.fromkeys(r["condition"] for r in rows):
        rs = [r for r in rows if r["condition"] == name]
        acc = np.array([100 * r["final_test_acc"] for r in rs])
        cost = np.array([100 * (base[r["seed"]] - r["final_test_acc"]) for r in rs if r["seed"] in base])
        peaks = [int(np.argmax(r["fisher"])) for r in rs]
        out["conditions"][name] = {
            "n_seeds": len(rs), "acc_mean": float(acc.mean()), "acc_sd": float(acc.std(ddof=1)) if acc.size > 1 else None,
            "cost_vs_no_deficit_mean": float(cost.mean()) if cost.size else None,
            "cost_sd": float(cost.std(ddof=1)) if cost.size > 1 else None,
            "fisher_peak_epoch": peaks, "epochs": rs[0]["epochs"],
        }
    c = out["conditions"]
    longest = f"blur_first_{max(cfg.lengths)}"
    late = [f"blur_window_{o}" for o in cfg.onsets if o >= cfg.window and f"blur_window_{o}" in c]
    out["checks"] = {
        "longest_early_deficit_costs_more_than_1pt": bool(c.get(longest, {}).get("cost_vs_no_deficit_mean") or 0) > 1.0
        if longest in c else None,
        "late_window_costs_less_than_0.5pt": [bool(abs(c[n]["cost_vs_no_deficit_mean"] or 0) < 0.5) for n in late],
        "flip_costs_less_than_0.5pt": bool(abs(c.get(f"flip_first_{cfg.flip_epochs}", {}).get("cost_vs_no_deficit_mean") or 0) < 0.5),
        "fisher_peaks_in_first_third_no_deficit": [p <= c["blur_first_0"]["epochs"] // 3
                                                   for p in c.get("blur_first_0", {}).get("fisher_peak_epoch", [])],
    }
    return out


def plot(rows: list[dict], cfg: Config, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds = sorted({r["seed"] for r in rows})
    get = {(r["condition"], r["seed"]): r for r in rows}

    def acc(names):
        return np.array([[100 * get[(n, s)]["final_test_acc"] if (n, s) in get else np.nan for s in seeds] for n in names])

    lengths = [t for t in cfg.lengths if any(("blur_first_%d" % t, s) in get for s in seeds)]
    onsets = [o for o in cfg.onsets if any(("blur_window_%d" % o, s) in get for s in seeds)]
    window_names = [f"blur_window_{o}" for o in onsets]
    if cfg.window in lengths and 0 not in onsets:  # a window at onset 0 is the first-`window`-epochs deficit
        onsets, window_names = [0, *onsets], [f"blur_first_{cfg.window}", *window_names]
    pairs = [(n, s) for n in ("blur_first_0", f"blur_first_{max(cfg.lengths)}", f"flip_first_{cfg.flip_epochs}")
             for s in seeds if (n, s) in get]
    fisher_rows = [get[p]["fisher"] for p in pairs]
    longest = max(len(f) for f in fisher_rows)
    fisher = np.array([f + [np.nan] * (longest - len(f)) for f in fisher_rows])
    fig = nc.plotting.plot_critical_periods(
        lengths, acc([f"blur_first_{t}" for t in lengths]), onsets, acc(window_names),
        baseline=acc(["blur_first_0"])[0], window=cfg.window, fisher=fisher, fisher_labels=[p[0] for p in pairs],
        title=f"MNIST critical periods ({len(seeds)} seed(s); mean ± sd over seeds)")
    flip = acc([f"flip_first_{cfg.flip_epochs}"])[0]
    fig.axes[0].plot([max(cfg.lengths)], [np.nanmean(flip)], "v", color="C2", label=f"flip, {cfg.flip_epochs} epochs")
    fig.axes[0].legend(fontsize=7, frameon=False)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _done(out: Path) -> set[tuple[str, int]]:
    path = out / "results.jsonl"
    if not path.exists():
        return set()
    rows = [json.loads(s) for s in path.read_text().splitlines() if s.strip()]
    return {(r["condition"], r["seed"]) for r in rows if r.get("kind") == "run"}


def run(cfg: Config, resume: bool = False) -> dict:
    """Every condition × seed (skipping those already recorded with ``resume``); summary and figure."""
    torch.set_num_threads(int(cfg.threads))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    record = run_record("critical_periods", cfg)
    done = _done(out) if resume else set()
    with open(out / "results.jsonl", "a") as fh:
        for seed in cfg.seeds:
            data = load(cfg, seed)
            for cond in conditions(cfg):
                if (cond["name"], seed) in done:
                    continue
                row = run_one(cond, seed, data, cfg)
                fh.write(json.dumps({**record, "kind": "run", **row}) + "\n")
                fh.flush()
                if nc.get_options().get("progress") is not False:
                    print(f"{cond['name']:16s} seed {seed}: test acc {100 * row['final_test_acc']:.2f}% "
                          f"Fisher peak at epoch {int(np.argmax(row['fisher']))} ({row['seconds']:.0f} s)", flush=True)
    rows = [r for r in read_runs(out) if r["seed"] in cfg.seeds]
    summary = summarize(rows, cfg)
    append_summary(out, "critical_periods", rows, summary)
    plot(rows, cfg, out / "critical_periods.png")
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true", help="CI scale (also NEUROCOMPARE_SMALL=1)")
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default=None, help="data root (default: $NEUROCOMPARE_DATA)")
    p.add_argument("--resume", action="store_true", help="skip conditions × seeds already in OUT/results.jsonl")
    a = p.parse_args(argv)
    cfg = Config(out=a.out, data_root=a.data, threads=a.threads)
    if a.small or os.environ.get("NEUROCOMPARE_SMALL", "") not in ("", "0"):
        cfg.shrink()
    if a.seeds:
        cfg.seeds = tuple(a.seeds)
    summary = run(cfg, resume=a.resume)
    for name, s in summary["conditions"].items():
        sd = f" ± {s['acc_sd']:.2f}" if s["acc_sd"] is not None else ""
        cost = s["cost_vs_no_deficit_mean"]
        print(f"{name:16s} {s['acc_mean']:.2f}{sd} %  cost {cost:+.2f} pt  Fisher peak epochs {s['fisher_peak_epoch']}")
    print(json.dumps(summary["checks"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
