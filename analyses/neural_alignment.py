"""Neural alignment: does aligning one layer to macaque V4 help V4 similarity and robustness?

Following Dapello et al. (2023), a small convnet is trained on MNIST digit classification with an
added term λ·log(1 − CKA) between one layer (``block2``) and recorded V4 responses (Cowley et al.
2023) to natural images, computed on mini-batches of the images of the *training* recording
sessions. We compare with the same network trained without the term (λ = 0), and with the
untrained network, on

- **held-out sessions** (other images, other neurons): linear CKA and ridge predictivity (the
  median Pearson r over neurons, 10 splits) between ``block2`` and V4;
- **MNIST**: clean test accuracy and PGD-L∞ robust accuracy at several ε.

Images are converted to grey level and resized (112 → ``image_size`` px) to match the MNIST
network's single input channel; each neuron's responses are z-scored within its session.

Run::

    python -m analyses.neural_alignment --out runs/neural_alignment         # ≈ 15-25 min on 1 core
    python -m analyses.neural_alignment --out /tmp/na --small               # < 1 min
    python -m analyses.neural_alignment --out runs/na_simclr --model convnet_small_simclr   # from natural-image weights

Writes ``OUT/results.jsonl`` (one line per condition × seed plus a summary line with the config,
seeds, version and git commit) and ``OUT/neural_alignment.png``.

References
----------
Dapello, Kar, Schrimpf, Geary, Ferguson, Cox & DiCarlo (2023). Aligning model and macaque
inferior temporal cortex representations improves model-to-human behavioral alignment and
adversarial robustness. ICLR.
Cowley, Stan, Pillow & Smith (2023). Compact deep neural network models of visual cortex. bioRxiv.
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
import torch.nn.functional as F

from neurocompare.models import build_model
from neurocompare.training import (
    Batches,
    NeuralAlignment,
    OptimizerConfig,
    Supervised,
    layer_output,
    linear_cka,
    robust_accuracy,
    train,
)

from analyses._results import append_summary, read_runs, run_record
from neurocompare._options import progress_enabled


@dataclass
class Config:
    """Parameters of the study."""

    out: str = "runs/neural_alignment"
    seeds: tuple[int, ...] = (0, 1, 2)
    weights: tuple[float, ...] = (0.0, 1.0)  # λ; 0 = no alignment
    method: str = "cka"
    model: str = "convnet_small"
    layer: str = "block2"
    train_sessions: tuple[str, ...] = ("190925", "190927", "190928", "190929", "210305")
    test_sessions: tuple[str, ...] = ("190923", "201025", "210225", "210325")
    image_size: int = 40
    max_images_per_session: int = 500
    n_mnist_train: int = 60_000
    n_mnist_test_robust: int = 1000
    steps: int = 250
    batch_size: int = 64
    align_batch_size: int = 32
    lr: float = 2e-3
    eps_list: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.15)
    pgd_steps: int = 10
    data_root: str | None = None
    small: bool = False
    threads: int = 1

    def shrink(self) -> "Config":
        self.seeds, self.train_sessions, self.test_sessions = (0,), ("190925",), ("210325",)
        self.max_images_per_session, self.image_size = 160, 28
        self.n_mnist_train, self.n_mnist_test_robust, self.steps = 2000, 200, 30
        self.eps_list, self.pgd_steps, self.small = (0.0, 0.1), 3, True
        return self


def _gray_resize(images_uint8: np.ndarray, size: int) -> torch.Tensor:
    """(n, H, W, 3) uint8 -> (n, 1, size, size) float grey level in [0, 1]."""
    x = torch.from_numpy(np.asarray(images_uint8, dtype=np.float32) / 255.0).permute(0, 3, 1, 2)
    g = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return F.interpolate(g, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def load_v4(sessions, cfg: Config) -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    """[(stimuli (n,1,s,s), z-scored responses (n, units), session)] via ``data_loaders.cowley2023_v4``."""
    from data_loaders import cowley2023_v4 as v4

    out = []
    for s in sessions:
        resp, stim = v4.load(s, root=cfg.data_root, images=True)
        n = min(cfg.max_images_per_session, resp.sizes["stimulus"])
        r = torch.tensor(np.asarray(resp.values[:n]), dtype=torch.float32)
        r = (r - r.mean(0)) / r.std(0).clamp_min(1e-6)
        out.append((_gray_resize(np.asarray(stim.values[:n]), cfg.image_size), r, s))
    return out


def load_mnist(cfg: Config):
    """(train, test) MNIST tensors via ``data_loaders.mnist`` (checksummed): x (image, 1, 28, 28), y (image,)."""
    from data_loaders import mnist

    return (mnist.load_tensors("train", root=cfg.data_root, n=cfg.n_mnist_train),
            mnist.load_tensors("test", root=cfg.data_root))


def layer_features(model: torch.nn.Module, layer: str, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """Flattened activations of ``layer`` for inputs ``x``, dims (stimulus, feature)."""
    model.eval()
    feats = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            out = layer_output(model, layer, x[i : i + batch])
            feats.append(out.reshape(out.shape[0], -1))
    return torch.cat(feats)


def score_v4(model, layer, sessions) -> dict:
    """Per-session CKA and ridge predictivity between ``layer`` and V4."""
    from neurocompare.similarity import ridge_predictivity

    out = {}
    for stim, resp, s in sessions:
        f = layer_features(model, layer, stim)
        cka = float(linear_cka(f, resp))
        pred = ridge_predictivity(f.numpy().astype(np.float64), resp.numpy().astype(np.float64), n_splits=5)
        out[s] = {"cka": cka, "predictivity": float(pred.value)}
    return out


def evaluate(model, cfg, v4_train, v4_test, mnist_test) -> dict:
    xte, yte = mnist_test
    model.eval()
    with torch.no_grad():
        acc = float(torch.cat([model(xte[i : i + 500]).argmax(1) for i in range(0, xte.shape[0], 500)]).eq(yte)
                    .float().mean())
    n = cfg.n_mnist_test_robust
    rob = robust_accuracy(model, (xte[:n], yte[:n]), cfg.eps_list, norm="linf", steps=cfg.pgd_steps, seed=0)
    test_scores = score_v4(model, cfg.layer, v4_test)
    train_cka = {s: float(linear_cka(layer_features(model, cfg.layer, st), r)) for st, r, s in v4_train}
    return {
        "mnist_accuracy": acc,
        "robust_accuracy": {str(k): v for k, v in rob.items()},
        "heldout": test_scores,
        "heldout_cka_mean": float(np.mean([v["cka"] for v in test_scores.values()])),
        "heldout_predictivity_mean": float(np.mean([v["predictivity"] for v in test_scores.values()])),
        "train_sessions_cka": train_cka,
        "train_sessions_cka_mean": float(np.mean(list(train_cka.values()))),
    }


def run(cfg: Config) -> dict:
    torch.set_num_threads(int(cfg.threads))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (xtr, ytr), mnist_test = load_mnist(cfg)
    v4_train, v4_test = load_v4(cfg.train_sessions, cfg), load_v4(cfg.test_sessions, cfg)
    record = run_record("neural_alignment", cfg)
    rows = []
    quiet = not progress_enabled(True)
    with open(out / "results.jsonl", "a") as fh:
        for seed in cfg.seeds:
            conditions = [("untrained", None)] + [(f"lambda={w:g}", w) for w in cfg.weights]
            for name, w in conditions:
                t0 = time.perf_counter()
                model = build_model(cfg.model, in_channels=1, num_classes=10, seed=seed)
                history = []
                if w is not None:
                    obj = NeuralAlignment(Supervised(), cfg.layer, [s for s, _, _ in v4_train],
                                          [r for _, r, _ in v4_train], weight=w, batch_size=cfg.align_batch_size,
                                          method=cfg.method)
                    res = train(model, obj, Batches(xtr, ytr, batch_size=cfg.batch_size, seed=seed),
                                optimizer=OptimizerConfig(lr=cfg.lr, schedule="cosine"), steps=cfg.steps,
                                log_every=max(cfg.steps // 10, 1), seed=seed, progress=False, device="cpu")
                    history = res.history
                ev = evaluate(model, cfg, v4_train, v4_test, mnist_test)
                row = {"condition": name, "weight": w, "seed": seed, **ev, "seconds": time.perf_counter() - t0,
                       "history": history}
                rows.append(row)
                fh.write(json.dumps({**record, "kind": "run", **row}) + "\n")
                fh.flush()
                if not quiet:
                    print(f"{name:10s} seed {seed}: mnist {100 * ev['mnist_accuracy']:.1f}%  held-out CKA "
                          f"{ev['heldout_cka_mean']:.3f}  pred {ev['heldout_predictivity_mean']:.3f}  train-sess CKA "
                          f"{ev['train_sessions_cka_mean']:.3f}  robust {ev['robust_accuracy']}", flush=True)
        summary = summarize(rows, cfg)
        fh.write(json.dumps({**record, "kind": "summary", "seeds": list(cfg.seeds), "summary": summary}) + "\n")
    plot(summary, cfg, out / "neural_alignment.png")
    return summary


def _ms(vals) -> dict:
    a = np.asarray(vals, dtype=float)
    sem = float(a.std(ddof=1) / np.sqrt(a.size)) if a.size > 1 else float("nan")
    return {"mean": float(a.mean()), "sem": sem, "n": int(a.size), "values": a.tolist()}


def summarize(rows, cfg) -> dict:
    """Mean ± SEM over seeds per condition, and paired (same seed) differences aligned − unaligned."""
    conds = list(dict.fromkeys(r["condition"] for r in rows))
    summary = {}
    for c in conds:
        rs = [r for r in rows if r["condition"] == c]
        summary[c] = {
            "mnist_accuracy": _ms([r["mnist_accuracy"] for r in rs]),
            "heldout_cka": _ms([r["heldout_cka_mean"] for r in rs]),
            "heldout_predictivity": _ms([r["heldout_predictivity_mean"] for r in rs]),
            "train_sessions_cka": _ms([r["train_sessions_cka_mean"] for r in rs]),
            "robust_accuracy": {e: _ms([r["robust_accuracy"][e] for r in rs]) for e in rs[0]["robust_accuracy"]},
        }
    base = "lambda=0"
    for c in conds:
        if c.startswith("lambda=") and c != base and base in summary:
            diffs = {}
            for key in ("heldout_cka_mean", "heldout_predictivity_mean", "mnist_accuracy"):
                d = [a[key] - b[key] for a in rows if a["condition"] == c for b in rows
                     if b["condition"] == base and b["seed"] == a["seed"]]
                diffs[key] = _ms(d)
            for e in rows[0]["robust_accuracy"]:
                d = [a["robust_accuracy"][e] - b["robust_accuracy"][e] for a in rows if a["condition"] == c
                     for b in rows if b["condition"] == base and b["seed"] == a["seed"]]
                diffs[f"robust_{e}"] = _ms(d)
            summary[f"{c} minus {base}"] = diffs
    return summary


def plot(summary, cfg, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = [c for c in summary if " minus " not in c]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, key, title in ((axes[0], "heldout_cka", "held-out sessions: CKA(block2, V4)"),
                           (axes[1], "heldout_predictivity", "held-out sessions: ridge predictivity")):
        ax.bar(range(len(conds)), [summary[c][key]["mean"] for c in conds],
               yerr=[np.nan_to_num(summary[c][key]["sem"]) for c in conds], capsize=4, color=[f"C{i}" for i in range(len(conds))])
        for i, c in enumerate(conds):
            ax.plot([i] * summary[c][key]["n"], summary[c][key]["values"], "k.", ms=4)
        ax.set_xticks(range(len(conds)), conds)
        ax.set_title(title, fontsize=9)
    ax = axes[2]
    for i, c in enumerate(conds):
        eps = sorted(summary[c]["robust_accuracy"], key=float)
        m = [summary[c]["robust_accuracy"][e]["mean"] for e in eps]
        s = [np.nan_to_num(summary[c]["robust_accuracy"][e]["sem"]) for e in eps]
        ax.errorbar([float(e) for e in eps], m, yerr=s, marker="o", label=c, color=f"C{i}", capsize=3)
    ax.set_xlabel("PGD L∞ ε (pixel range [0, 1])")
    ax.set_ylabel("MNIST accuracy")
    ax.set_title("robust accuracy", fontsize=9)
    ax.legend(fontsize=8)
    fig.suptitle(f"Neural alignment to V4 (mean ± SEM over {len(cfg.seeds)} seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summarize_existing(cfg: Config) -> dict:
    """Rebuild the summary and figure from the runs already in ``OUT/results.jsonl`` (e.g. a partial run)."""
    rows = read_runs(cfg.out)
    cfg.seeds = tuple(sorted({r["seed"] for r in rows}))
    summary = summarize(rows, cfg)
    append_summary(cfg.out, "neural_alignment", rows, summary)
    plot(summary, cfg, Path(cfg.out) / "neural_alignment.png")
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true")
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--weights", type=float, nargs="+", default=None, help="alignment weights λ (0 = none)")
    p.add_argument("--method", choices=("cka", "rdm"), default=None)
    p.add_argument("--model", default=None,
                   help="registered model (default convnet_small; convnet_small_simclr starts from the shipped "
                        "natural-image weights, and its 'untrained' condition is then those weights unchanged)")
    p.add_argument("--max-images", type=int, default=None, help="V4 images per session (default 500)")
    p.add_argument("--robust-n", type=int, default=None, help="MNIST test images attacked (default 1000)")
    p.add_argument("--pgd-steps", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default=None)
    p.add_argument("--summarize", action="store_true", help="only rebuild summary + figure from OUT/results.jsonl")
    a = p.parse_args(argv)
    cfg = Config(out=a.out, data_root=a.data, threads=a.threads)
    if a.small:
        cfg.shrink()
    if a.seeds:
        cfg.seeds = tuple(a.seeds)
    if a.steps:
        cfg.steps = a.steps
    if a.weights:
        cfg.weights = tuple(a.weights)
    if a.method:
        cfg.method = a.method
    if a.model:
        cfg.model = a.model
    for key, val in (("max_images_per_session", a.max_images), ("n_mnist_test_robust", a.robust_n),
                     ("pgd_steps", a.pgd_steps)):
        if val is not None:
            setattr(cfg, key, val)
    summary = summarize_existing(cfg) if a.summarize else run(cfg)
    for c, s in summary.items():
        if " minus " in c:
            print(c, {k: f"{v['mean']:+.4f} ± {v['sem']:.4f}" for k, v in s.items()})
        else:
            print(f"{c:10s} mnist {s['mnist_accuracy']['mean']:.3f}  held-out CKA {s['heldout_cka']['mean']:.3f} ± "
                  f"{s['heldout_cka']['sem']:.3f}  predictivity {s['heldout_predictivity']['mean']:.3f} ± "
                  f"{s['heldout_predictivity']['sem']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
