"""Self-supervised versus supervised versus untrained: which is more brain-like (V4, IT)?

One architecture (``convnet_small``, grey-level input), four training conditions, several seeds:

- ``untrained`` — the seeded random initialisation;
- ``supervised`` — digit classification on MNIST (cross-entropy);
- ``simclr_mnist`` — SimCLR (NT-Xent, our torch augmentations) on the same MNIST images, no labels;
- ``simclr_natural`` — SimCLR on natural photographs: the images of the Cowley et al. V4
  *training* sessions (never the evaluation sessions' images).

Each model is scored layer by layer (``block1``, ``block2``, ``avgpool``) against

- **V4** (Cowley et al. 2023), held-out sessions: linear CKA and ridge predictivity (median
  Pearson r over neurons, 5 splits);
- **IT** (Kriegeskorte et al. 2008, 92 images): Spearman RSA between the model's correlation-
  distance RDM and the human-IT fMRI RDM (mean of 4 subjects × 2 sessions) and the monkey-IT RDM
  (674 neurons, Kiani et al. 2007);

plus a linear-probe MNIST accuracy of ``avgpool`` (logistic regression) to show what each model learned.

Run::

    python -m analyses.ssl_vs_supervised --out runs/ssl_vs_supervised     # ≈ 20-30 min on 1 core
    python -m analyses.ssl_vs_supervised --out /tmp/ssl --small           # < 1 min

Writes ``OUT/results.jsonl`` and ``OUT/ssl_vs_supervised.png``.
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

from analyses.neural_alignment import _gray_resize, _ms, layer_features, load_v4
from neurocompare.models import build_model
from neurocompare.training import Batches, OptimizerConfig, SimCLR, Supervised, linear_cka, train

from analyses._results import append_summary, read_runs, run_record
from neurocompare._options import progress_enabled

CONDITIONS = ("untrained", "supervised", "simclr_mnist", "simclr_natural")


@dataclass
class Config:
    out: str = "runs/ssl_vs_supervised"
    seeds: tuple[int, ...] = (0, 1, 2)
    conditions: tuple[str, ...] = CONDITIONS
    model: str = "convnet_small"
    layers: tuple[str, ...] = ("block1", "block2", "avgpool")
    steps: int = 200
    batch_size: int = 64
    lr: float = 2e-3
    temperature: float = 0.5
    natural_train_sessions: tuple[str, ...] = ("190925", "190927", "190928", "190929", "210305", "210224")
    natural_size: int = 32
    test_sessions: tuple[str, ...] = ("190923", "201025", "210225", "210325")
    image_size: int = 40  # evaluation images (V4 and the 92 objects), grey level
    max_images_per_session: int = 400
    n_mnist_train: int = 60_000
    n_probe_train: int = 5000
    n_probe_test: int = 2000
    data_root: str | None = None
    small: bool = False
    threads: int = 1

    def shrink(self) -> "Config":
        self.seeds, self.steps, self.n_mnist_train = (0,), 15, 2000
        self.natural_train_sessions, self.test_sessions = ("190925",), ("210325",)
        self.max_images_per_session, self.image_size = 150, 28
        self.n_probe_train, self.n_probe_test, self.small = 500, 300, True
        return self


def load_data(cfg: Config) -> dict:
    from data_loaders import cowley2023_v4 as v4
    from data_loaders import kriegeskorte2008 as k92
    from data_loaders import mnist

    natural = []
    for s in cfg.natural_train_sessions:
        _, stim = v4.load(s, root=cfg.data_root, images=True)
        natural.append(_gray_resize(np.asarray(stim.values), cfg.natural_size))
    stim92 = k92.load_stimuli(cfg.data_root)
    human = k92.load_human_it(cfg.data_root)
    monkey = k92.load_monkey_it(cfg.data_root)
    return {
        "mnist_train": mnist.load_tensors("train", root=cfg.data_root, n=cfg.n_mnist_train),
        "mnist_test": mnist.load_tensors("test", root=cfg.data_root),
        "natural": torch.cat(natural),
        "v4_test": load_v4(cfg.test_sessions, cfg),
        "images92": _gray_resize(np.asarray(stim92.values), cfg.image_size),
        "human_it": np.asarray(human.mean(("subject", "session")).values),
        "monkey_it": np.asarray(monkey.values),
    }


def train_condition(cond: str, seed: int, data: dict, cfg: Config) -> tuple[torch.nn.Module, list]:
    model = build_model(cfg.model, in_channels=1, num_classes=10, seed=seed)
    if cond == "untrained":
        return model, []
    opt = OptimizerConfig(lr=cfg.lr, schedule="cosine", warmup_steps=min(20, cfg.steps // 5))
    x, y = data["mnist_train"]
    if cond == "supervised":
        obj, batches = Supervised(), Batches(x, y, batch_size=cfg.batch_size, seed=seed)
    else:
        width = model.fc.in_features
        obj = SimCLR(in_dim=width, hidden_dim=128, out_dim=64, temperature=cfg.temperature, layer="avgpool",
                     crop_scale=(0.3, 1.0))
        imgs = x if cond == "simclr_mnist" else data["natural"]
        batches = Batches(imgs, batch_size=min(cfg.batch_size, imgs.shape[0]), seed=seed)
    res = train(model, obj, batches, optimizer=opt, steps=cfg.steps, log_every=max(cfg.steps // 10, 1), seed=seed,
                progress=False, device="cpu")
    return res.model, res.history


def score(model: torch.nn.Module, data: dict, cfg: Config) -> dict:
    from scipy.stats import spearmanr
    from sklearn.linear_model import LogisticRegression

    from neurocompare.similarity import ridge_predictivity

    out: dict = {}
    iu = np.triu_indices(92, k=1)
    for layer in cfg.layers:
        ckas, preds = [], []
        for stim, resp, _s in data["v4_test"]:
            f = layer_features(model, layer, stim)
            ckas.append(float(linear_cka(f, resp)))
            preds.append(float(ridge_predictivity(f.numpy().astype(np.float64), resp.numpy().astype(np.float64),
                                                  n_splits=5).value))
        f92 = layer_features(model, layer, data["images92"]).numpy().astype(np.float64)
        rdm = 1 - np.corrcoef(f92)
        out[layer] = {
            "v4_cka": float(np.mean(ckas)),
            "v4_predictivity": float(np.mean(preds)),
            "it_human_rsa": float(spearmanr(rdm[iu], data["human_it"][iu]).statistic),
            "it_monkey_rsa": float(spearmanr(rdm[iu], data["monkey_it"][iu]).statistic),
        }
    xtr, ytr = data["mnist_train"]
    xte, yte = data["mnist_test"]
    ftr = layer_features(model, "avgpool", xtr[: cfg.n_probe_train]).numpy()
    fte = layer_features(model, "avgpool", xte[: cfg.n_probe_test]).numpy()
    mu, sd = ftr.mean(0), ftr.std(0) + 1e-6
    probe = LogisticRegression(max_iter=500).fit((ftr - mu) / sd, ytr[: cfg.n_probe_train].numpy())
    out["probe_accuracy"] = float(probe.score((fte - mu) / sd, yte[: cfg.n_probe_test].numpy()))
    return out


def summarize(rows: list[dict], cfg: Config) -> dict:
    summary: dict = {}
    for c in cfg.conditions:
        rs = [r for r in rows if r["condition"] == c]
        if not rs:
            continue
        summary[c] = {"probe_accuracy": _ms([r["scores"]["probe_accuracy"] for r in rs])}
        for layer in cfg.layers:
            summary[c][layer] = {k: _ms([r["scores"][layer][k] for r in rs]) for k in rs[0]["scores"][layer]}
    return summary


def plot(summary: dict, cfg: Config, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [("v4_cka", "V4 (held-out sessions): CKA"), ("v4_predictivity", "V4: ridge predictivity"),
               ("it_human_rsa", "human IT: RSA (Spearman)"), ("it_monkey_rsa", "monkey IT: RSA (Spearman)")]
    conds = list(summary)
    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    width = 0.8 / len(conds)
    for ax, (key, title) in zip(axes, metrics):
        for i, c in enumerate(conds):
            m = [summary[c][layer][key]["mean"] for layer in cfg.layers]
            e = [np.nan_to_num(summary[c][layer][key]["sem"]) for layer in cfg.layers]
            ax.bar(np.arange(len(cfg.layers)) + (i - len(conds) / 2 + 0.5) * width, m, width, yerr=e, capsize=2,
                   label=f"{c} (probe {100 * summary[c]['probe_accuracy']['mean']:.0f}%)", color=f"C{i}")
        ax.set_xticks(range(len(cfg.layers)), cfg.layers)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"SSL vs supervised vs untrained ({cfg.model}; mean ± SEM over {len(cfg.seeds)} seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(cfg: Config) -> dict:
    torch.set_num_threads(int(cfg.threads))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(cfg)
    record = run_record("ssl_vs_supervised", cfg)
    rows = []
    quiet = not progress_enabled(True)
    with open(out / "results.jsonl", "a") as fh:
        for seed in cfg.seeds:
            for cond in cfg.conditions:
                t0 = time.perf_counter()
                model, history = train_condition(cond, seed, data, cfg)
                scores = score(model, data, cfg)
                row = {"condition": cond, "seed": seed, "scores": scores, "history": history,
                       "seconds": time.perf_counter() - t0}
                rows.append(row)
                fh.write(json.dumps({**record, "kind": "run", **row}) + "\n")
                fh.flush()
                if not quiet:
                    s = scores[cfg.layers[1]]
                    print(f"{cond:15s} seed {seed}: probe {100 * scores['probe_accuracy']:.1f}%  {cfg.layers[1]}: V4 CKA "
                          f"{s['v4_cka']:.3f} pred {s['v4_predictivity']:.3f}  hIT {s['it_human_rsa']:.3f} mIT "
                          f"{s['it_monkey_rsa']:.3f}  ({row['seconds']:.0f} s)", flush=True)
        summary = summarize(rows, cfg)
        fh.write(json.dumps({**record, "kind": "summary", "seeds": list(cfg.seeds), "summary": summary}) + "\n")
    plot(summary, cfg, out / "ssl_vs_supervised.png")
    return summary


def summarize_existing(cfg: Config) -> dict:
    """Rebuild the summary and figure from the runs already in ``OUT/results.jsonl`` (e.g. a partial run)."""
    rows = read_runs(cfg.out)
    cfg.seeds = tuple(sorted({r["seed"] for r in rows}))
    summary = summarize(rows, cfg)
    append_summary(cfg.out, "ssl_vs_supervised", rows, summary)
    plot(summary, cfg, Path(cfg.out) / "ssl_vs_supervised.png")
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true")
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=None)
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
    if a.conditions:
        cfg.conditions = tuple(a.conditions)
    summary = summarize_existing(cfg) if a.summarize else run(cfg)
    for c, s in summary.items():
        line = f"{c:15s} probe {100 * s['probe_accuracy']['mean']:.1f}%"
        for layer in cfg.layers:
            v = s[layer]
            line += (f" | {layer}: V4 CKA {v['v4_cka']['mean']:.3f}±{np.nan_to_num(v['v4_cka']['sem']):.3f} "
                     f"pred {v['v4_predictivity']['mean']:.3f} hIT {v['it_human_rsa']['mean']:.3f} "
                     f"mIT {v['it_monkey_rsa']['mean']:.3f}")
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
