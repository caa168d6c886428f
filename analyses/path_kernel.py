"""Is a trained network a kernel machine? The path kernel of small MLPs on MNIST 0-vs-1.

Domingos (2020): a model trained by gradient descent satisfies ``f_T(x) - f_0(x) = Σ_i a_i(x)
K^p(x, x_i)``, with the path kernel ``K^p`` (the tangent kernel integrated along the trajectory),
up to an error that vanishes with the learning rate. We train tanh MLPs of several widths by
full-batch gradient descent (float64, a loop of our own that calls two
:class:`neurocompare.learning.PathKernelRecorder` after each step: ``first_order`` and
``exact``) on 0-vs-1 MNIST digits (downsampled to 14×14, targets ±1, mean squared loss) and
measure:

1. the reconstruction error of both forms on held-out digits, vs learning rate at a fixed
   ``η · steps`` (first order: expected ∝ η; exact: round-off);
2. how much ``a_i(x)`` depends on the query ``x`` (the main criticism: in a kernel machine the
   coefficients do not depend on ``x``): ``D = median_i sd_x a_i(x) / median_i |mean_x a_i(x)|``
   over test queries, and the error of the kernel machine that uses query-independent
   coefficients ``ā_i`` (the path average of the loss derivative; exact for a linear model);
3. the alignment (centred kernel alignment) between the path kernel and the tangent kernel at
   initialisation on the training Gram, as width grows (lazy training predicts → 1);
4. which training images carry the largest weight ``a_i(x) K^p(x, x_i)`` for a test digit.

Run::

    python -m analyses.path_kernel --out runs/path_kernel            # full (~10 min, 1 core)
    python -m analyses.path_kernel --out /tmp/pk --small             # CI (< 1 min)

Writes ``OUT/results.jsonl`` and ``OUT/path_kernel.png``, ``OUT/path_kernel_weights.png``.
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
from neurocompare._seeding import numpy_rng, seeded

from analyses._results import append_summary, read_runs, run_record


@dataclass
class Config:
    """Parameters of the study."""

    out: str = "runs/path_kernel"
    seeds: tuple[int, ...] = (0, 1)
    widths: tuple[int, ...] = (16, 64, 256)
    lrs: tuple[float, ...] = (0.2, 0.1, 0.05)
    horizon: float = 5.0  # η · steps, fixed across learning rates
    n_train: int = 100
    n_query: int = 40
    n_nodes: int = 4
    data_root: str | None = None
    small: bool = False
    threads: int = 1

    def shrink(self) -> "Config":
        self.seeds, self.widths, self.lrs, self.horizon = (0,), (16, 64), (0.2, 0.1), 4.0
        self.n_train, self.n_query, self.small = 40, 12, True
        return self


def load_binary_digits(cfg: Config, seed: int):
    """Seeded draws of 0/1 digits: training from the MNIST train split, queries from the test split.

    Returns float64 tensors of dims (sample, 196) (2×2 average-pooled, centred on the training
    mean pixel) and targets ±1, plus the 14×14 images for the figure.
    """
    from data_loaders import mnist

    out = []
    for split, n in (("train", cfg.n_train), ("test", cfg.n_query)):
        x, y = mnist.load_tensors(split, root=cfg.data_root)
        keep = torch.nonzero(y <= 1).reshape(-1).numpy()
        pick = np.sort(numpy_rng(seed, "path_kernel", split).choice(keep, size=n, replace=False))
        img = torch.nn.functional.avg_pool2d(x[pick].double(), 2)[:, 0]  # (n, 14, 14)
        out.append((img, (2.0 * y[pick] - 1.0).double()))
    (itr, ytr), (iq, yq) = out
    mean = itr.mean(0)
    return (itr - mean).reshape(len(itr), -1), ytr, (iq - mean).reshape(len(iq), -1), yq, itr.numpy(), iq.numpy()


def build(width: int, seed: int, n_in: int = 196) -> torch.nn.Module:
    with seeded(seed):
        return torch.nn.Sequential(torch.nn.Linear(n_in, width), torch.nn.Tanh(), torch.nn.Linear(width, 1)).double()


def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Half mean squared error over the batch (the training loss)."""
    return 0.5 * ((out[:, 0] - y) ** 2).mean()


def alignment(k1: np.ndarray, k2: np.ndarray) -> float:
    """Centred kernel alignment of two Gram matrices (Cortes, Mohri & Rostamizadeh 2012)."""
    n = k1.shape[0]
    h = np.eye(n) - 1.0 / n
    a, b = h @ k1 @ h, h @ k2 @ h
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def run_one(width: int, lr: float, seed: int, data, cfg: Config) -> dict:
    """Train one width at one learning rate with both recorders; return the measures."""
    xtr, ytr, xq, yq = data[:4]
    model = build(width, seed, xtr.shape[1])
    steps = int(round(cfg.horizon / lr))
    xall = torch.cat([xq, xtr])  # queries: held-out digits, then the training digits (for the Gram)
    recs = {m: nc.learning.PathKernelRecorder(model, xall, xtr, ytr, mse, lr=lr, mode=m, n_nodes=cfg.n_nodes)
            for m in nc.learning.PATH_KERNEL_MODES}
    k0 = nc.learning.tangent_kernel(model, xtr)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    with torch.no_grad():
        loss0 = float(mse(model(xtr), ytr))
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        mse(model(xtr), ytr).backward()
        opt.step()
        for rec in recs.values():
            rec.record()
    nq = xq.shape[0]
    row = {"width": width, "lr": lr, "seed": seed, "steps": steps, "loss_start": loss0,
           "seconds": 0.0}
    with torch.no_grad():
        row["loss_end"] = float(mse(model(xtr), ytr))
        row["test_acc"] = float(((model(xq)[:, 0] > 0).double() * 2 - 1 == yq).double().mean())
    for mode, rec in recs.items():
        actual = rec.actual_change()[:nq]
        err = float(np.linalg.norm(rec.reconstruct()[:nq] - actual) / np.linalg.norm(actual))
        a = rec.coefficients()[:nq]
        row[f"rel_error_{mode}"] = err
        spread = np.median(np.std(a, axis=0)) / np.median(np.abs(np.mean(a, axis=0)))
        row[f"query_dependence_{mode}"] = float(spread)
        row[f"kernel_machine_error_{mode}"] = float(np.linalg.norm(rec.kernel_machine()[:nq] - actual)
                                                    / np.linalg.norm(actual))
        row[f"max_update_residual_{mode}"] = float(max(rec.update_residuals))
    ex = recs["exact"]
    kp = ex.path_kernel[nq:]
    row["alignment_path_vs_init"] = alignment((kp + kp.T) / 2, k0)
    row["weights_query0"] = (-ex.contributions[0]).tolist()  # contribution of each training image to query 0
    row["query0_change"] = float(ex.actual_change()[0])
    row["seconds"] = time.perf_counter() - t0
    return row


def summarize(rows: list[dict]) -> dict:
    """Mean (and sd when > 1 seed) per width × learning rate, and the first-order error slope vs η."""
    out: dict = {}
    for w in sorted({r["width"] for r in rows}):
        per_lr = {}
        for lr in sorted({r["lr"] for r in rows if r["width"] == w}, reverse=True):
            rs = [r for r in rows if r["width"] == w and r["lr"] == lr]
            entry = {}
            for key in ("rel_error_first_order", "rel_error_exact", "query_dependence_exact",
                        "kernel_machine_error_exact",
                        "alignment_path_vs_init", "loss_end", "test_acc"):
                v = np.array([r[key] for r in rs])
                entry[key] = [float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan")]
            per_lr[str(lr)] = entry
        lrs = np.array(sorted({r["lr"] for r in rows if r["width"] == w}))
        errs = np.array([per_lr[str(lr)]["rel_error_first_order"][0] for lr in lrs])
        slope = float(np.polyfit(np.log(lrs), np.log(errs), 1)[0]) if lrs.size > 1 else float("nan")
        out[str(w)] = {"per_lr": per_lr, "first_order_error_slope_vs_lr": slope, "n_seeds": len({r["seed"] for r in rows})}
    return out


def plot(rows: list[dict], summary: dict, images, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    widths = sorted(int(w) for w in summary)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for i, w in enumerate(widths):
        s = summary[str(w)]["per_lr"]
        lrs = [float(k) for k in s]
        axes[0].loglog(lrs, [s[k]["rel_error_first_order"][0] for k in s], "o-", color=f"C{i}", label=f"width {w}, first order")
        axes[0].loglog(lrs, [max(s[k]["rel_error_exact"][0], 1e-17) for k in s], "s--", color=f"C{i}", alpha=0.6,
                       label=f"width {w}, exact")
        axes[1].semilogx(lrs, [s[k]["query_dependence_exact"][0] for k in s], "o-", color=f"C{i}",
                         label=f"width {w}: D")
        axes[1].semilogx(lrs, [s[k]["kernel_machine_error_exact"][0] for k in s], "s--", color=f"C{i}", alpha=0.6,
                         label=f"width {w}: error with fixed a")
    axes[0].set_xlabel("learning rate (η · steps fixed)")
    axes[0].set_ylabel("relative reconstruction error")
    axes[0].legend(fontsize=6)
    axes[1].set_xlabel("learning rate")
    axes[1].set_ylabel("query dependence of a_i(x)")
    axes[1].legend(fontsize=7)
    lr0 = min(float(k) for k in summary[str(widths[0])]["per_lr"])
    al = [summary[str(w)]["per_lr"][str(lr0)]["alignment_path_vs_init"] for w in widths]
    axes[2].errorbar(widths, [a[0] for a in al], yerr=[0 if np.isnan(a[1]) else a[1] for a in al], marker="o")
    axes[2].set_xscale("log")
    axes[2].set_xticks(widths, [str(w) for w in widths])
    axes[2].minorticks_off()
    axes[2].set_xlabel("width")
    axes[2].set_ylabel("alignment(path kernel, K at init)")
    axes[2].set_title(f"η = {lr0}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    itr, iq = images
    wmax = max(widths)
    row = next(r for r in rows if r["width"] == wmax and r["lr"] == lr0)
    f2 = nc.plotting.plot_path_kernel_weights(iq[0], itr, np.array(row["weights_query0"]),
                                              title=f"width {wmax}: training digits that moved f(query) the most "
                                                    f"(total change {row['query0_change']:+.2f})")
    f2.savefig(path.with_name("path_kernel_weights.png"), dpi=110)
    plt.close(f2)


def run(cfg: Config) -> dict:
    """All widths × learning rates × seeds; append to ``OUT/results.jsonl``; figures; the summary."""
    torch.set_num_threads(int(cfg.threads))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    record = run_record("path_kernel", cfg)
    rows, images = [], None
    with open(out / "results.jsonl", "a") as fh:
        for seed in cfg.seeds:
            data = load_binary_digits(cfg, seed)
            images = images or data[4:]
            for w in cfg.widths:
                for lr in cfg.lrs:
                    row = run_one(w, lr, seed, data, cfg)
                    rows.append(row)
                    fh.write(json.dumps({**record, "kind": "run", **row}) + "\n")
                    fh.flush()
                    if nc.get_options().get("progress") is not False:
                        print(f"width {w} lr {lr} seed {seed}: first-order {row['rel_error_first_order']:.2e} exact "
                              f"{row['rel_error_exact']:.2e} D {row['query_dependence_exact']:.3f} fixed-a {row['kernel_machine_error_exact']:.3f} align "
                              f"{row['alignment_path_vs_init']:.3f} ({row['seconds']:.0f} s)", flush=True)
        summary = summarize(rows)
        fh.write(json.dumps({**record, "kind": "summary", "seeds": list(cfg.seeds), "summary": summary}) + "\n")
    plot(rows, summary, images, out / "path_kernel.png")
    return summary


def summarize_existing(cfg: Config) -> dict:
    """Rebuild the summary and figures from the runs in ``OUT/results.jsonl``."""
    rows = read_runs(cfg.out)
    summary = summarize(rows)
    append_summary(cfg.out, "path_kernel", rows, summary)
    plot(rows, summary, load_binary_digits(cfg, rows[0]["seed"])[4:], Path(cfg.out) / "path_kernel.png")
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true", help="CI scale (also NEUROCOMPARE_SMALL=1)")
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--widths", type=int, nargs="+", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default=None, help="data root (default: $NEUROCOMPARE_DATA)")
    p.add_argument("--summarize", action="store_true", help="only rebuild summary + figures from OUT/results.jsonl")
    a = p.parse_args(argv)
    cfg = Config(out=a.out, data_root=a.data, threads=a.threads)
    if a.small or os.environ.get("NEUROCOMPARE_SMALL", "") not in ("", "0"):
        cfg.shrink()
    if a.seeds:
        cfg.seeds = tuple(a.seeds)
    if a.widths:
        cfg.widths = tuple(a.widths)
    summary = summarize_existing(cfg) if a.summarize else run(cfg)
    for w, s in summary.items():
        print(f"width {w}: first-order error slope vs lr {s['first_order_error_slope_vs_lr']:.2f}")
        for lr, e in s["per_lr"].items():
            print(f"  lr {lr}: first-order {e['rel_error_first_order'][0]:.2e}  exact {e['rel_error_exact'][0]:.2e}  "
                  f"D {e['query_dependence_exact'][0]:.3f}  fixed-a error {e['kernel_machine_error_exact'][0]:.3f}  alignment {e['alignment_path_vs_init'][0]:.3f}  "
                  f"test acc {e['test_acc'][0]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
