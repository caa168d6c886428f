"""Colored MNIST: ERM versus IRM (Arjovsky et al. 2019), several seeds, on the real MNIST digits.

Two training environments in which colour predicts the (25 %-noisy) label with probability 0.8
and 0.9 (colour flipped with probability 0.2 and 0.1), and a test environment where the
correlation is reversed (flip probability 0.9). Shape predicts the label with 75 % accuracy
everywhere; colour is the shortcut. A model that uses colour does well in training and badly at
test; an invariant one gets about 75 % in both.

Published (Arjovsky et al. 2019, Table 2, mean ± std over 10 restarts, full 25,000 images per
training environment, MLP 390 hidden units): ERM 87.4 ± 0.2 % train / 17.1 ± 0.6 % test; IRM
70.8 ± 0.9 % / 66.9 ± 2.5 %; grayscale oracle 73.5 ± 0.2 % / 73.0 ± 0.4 %.

The defaults are the published protocol (the authors' ``colored_mnist/main.py``, read not copied):
the first 50,000 MNIST training digits split into two environments of 25,000, the last 10,000 as
the test environment, an MLP 392 → 390 → 390 → 1 with Xavier-uniform weights and zero biases,
Adam (lr 4.9e-4), an L2 penalty of 1.1e-3 on all parameters, IRM penalty weight 1 for 190 steps then
91,257 (the loss divided by it), 501 full-batch steps, 10 restarts. ``--hidden``, ``--n-train`` and
``--init he`` switch single factors for the ablation in ``docs/science_fidelity.md``.

Run::

    python -m analyses.colored_mnist --out runs/colored_mnist                      # published (≈ 1 h / run on 1 CPU core)
    python -m analyses.colored_mnist --out runs/cm --hidden 64 --seeds 0 1 2       # ≈ 5 min / run on 1 core
    python -m analyses.colored_mnist --out /tmp/cm --small                         # smoke scale (< 1 min)

A run interrupted part-way resumes: (method, seed, protocol) triples already in
``OUT/results.jsonl`` are not recomputed.

Writes ``OUT/results.jsonl`` (one line per method × seed plus a summary line with config, seeds,
package version and git commit) and ``OUT/colored_mnist.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from neurocompare.models import build_model
from neurocompare.training import IRM, OptimizerConfig, colored_mnist, predict_labels, train

from analyses._results import append_summary, read_runs, run_record
from neurocompare._options import progress_enabled
from neurocompare._seeding import torch_generator

PUBLISHED = {  # Arjovsky et al. 2019, Colored MNIST table: (train mean, train std, test mean, test std), %
    "erm": (87.4, 0.2, 17.1, 0.6),
    "irm": (70.8, 0.9, 66.9, 2.5),
    "erm_gray": (73.5, 0.2, 73.0, 0.4),
}


@dataclass
class Config:
    """Parameters of the study (defaults: the authors' tuned hyper-parameters, smaller data)."""

    out: str = "runs/colored_mnist"
    seeds: tuple[int, ...] = tuple(range(10))  # the paper's 10 restarts
    methods: tuple[str, ...] = ("erm", "irm", "erm_gray")
    n_train: int = 50_000  # pooled over the two training environments (paper: 50,000)
    n_test: int = 10_000
    hidden: int = 390  # paper's tuned value
    init: str = "xavier"  # paper: Xavier-uniform weights, zero biases; "he": the toolkit's default he_normal_
    steps: int = 501
    lr: float = 4.898536566546834e-4
    l2: float = 1.10794568e-3
    penalty_weight: float = 91257.18613115903
    anneal_steps: int = 190
    train_flip_probs: tuple[float, ...] = (0.2, 0.1)
    test_flip_prob: float = 0.9
    label_noise: float = 0.25
    eval_every: int = 50
    data_root: str | None = None
    small: bool = False
    threads: int = 1
    extra: dict = field(default_factory=dict)

    def shrink(self) -> "Config":
        self.seeds, self.n_train, self.n_test = (0, 1), 5000, 2000
        self.hidden, self.steps, self.anneal_steps, self.eval_every = 64, 301, 60, 50
        self.small = True
        return self


def load_digits(cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST training split via ``data_loaders.mnist`` (checksummed), as float tensors."""
    from data_loaders import mnist

    return mnist.load_tensors("train", root=cfg.data_root)


def make_environments(images: torch.Tensor, digits: torch.Tensor, cfg: Config, seed: int):
    """Train envs from a seed-dependent shuffle of the first 50,000 digits, test env from the last 10,000."""
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(50_000, generator=gen)[: cfg.n_train]
    per = cfg.n_train // len(cfg.train_flip_probs)
    envs = []
    for i, p in enumerate(cfg.train_flip_probs):
        ix = perm[i * per : (i + 1) * per]
        envs.append(colored_mnist(images[ix], digits[ix], p, label_noise=cfg.label_noise, seed=seed * 10 + i))
    test_ix = torch.arange(50_000, 50_000 + cfg.n_test)
    test = colored_mnist(images[test_ix], digits[test_ix], cfg.test_flip_prob, label_noise=cfg.label_noise,
                         seed=seed * 10 + 9)
    return envs, test


def build_mlp(cfg: Config, seed: int, in_features: int = 2 * 14 * 14) -> torch.nn.Module:
    """The study's MLP, initialised as ``cfg.init`` says (``'xavier'``: the authors' init; ``'he'``: the toolkit's)."""
    if cfg.init not in ("xavier", "he"):
        raise ValueError(f"The 'init' parameter of colored_mnist must be one of {{'xavier', 'he'}}. Got {cfg.init!r} instead.")
    model = build_model("mlp", in_features=in_features, hidden=(cfg.hidden, cfg.hidden), num_classes=1, seed=seed)
    if cfg.init == "xavier":
        gen = torch_generator(seed, "xavier")
        for mod in model.modules():
            if isinstance(mod, torch.nn.Linear):
                torch.nn.init.xavier_uniform_(mod.weight, generator=gen)
                torch.nn.init.zeros_(mod.bias)
    return model


def protocol_key(cfg: Config) -> dict:
    """The settings that make two runs of the same (method, seed) comparable (used to resume)."""
    return {"n_train": cfg.n_train, "hidden": cfg.hidden, "init": cfg.init, "steps": cfg.steps,
            "n_test": cfg.n_test, "anneal_steps": cfg.anneal_steps}


def _gray(x: torch.Tensor) -> torch.Tensor:
    g = x.sum(1, keepdim=True)
    return torch.cat([g, g], 1)


def _accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        acc = float((predict_labels(model(x), binary=True) == y).float().mean())
    model.train()
    return acc


def run_one(method: str, seed: int, envs, test, cfg: Config) -> dict:
    """Train one model full-batch (as in the paper) and return its accuracies and learning curve."""
    gray = method == "erm_gray"
    xs = [(_gray(x) if gray else x) for x, _ in envs]
    x_train = torch.cat(xs)
    y_train = torch.cat([y for _, y in envs])
    env = torch.cat([torch.full((x.shape[0],), i) for i, x in enumerate(xs)])
    x_test = _gray(test[0]) if gray else test[0]
    y_test = test[1]
    model = build_mlp(cfg, seed)
    weight = cfg.penalty_weight if method == "irm" else 0.0
    objective = IRM(penalty_weight=weight, anneal_steps=cfg.anneal_steps, l2=cfg.l2)
    curve = []

    def callback(step: int, metrics: dict) -> None:
        curve.append({"step": step, "train_acc": metrics["accuracy"], "penalty": metrics["penalty"],
                      "test_acc": _accuracy(model, x_test, y_test)})

    t0 = time.perf_counter()
    train(model, objective, lambda step: (x_train, y_train, env), optimizer=OptimizerConfig(name="adam", lr=cfg.lr),
          steps=cfg.steps, log_every=cfg.eval_every, seed=seed, progress=False, callback=callback, device="cpu")
    env_accs = [_accuracy(model, x, y) for x, (_, y) in zip(xs, envs)]
    return {
        "method": method,
        "seed": seed,
        "train_acc": _accuracy(model, x_train, y_train),
        "train_env_accs": env_accs,
        "test_acc": _accuracy(model, x_test, y_test),
        "seconds": time.perf_counter() - t0,
        "curve": curve,
        "protocol": protocol_key(cfg),
    }


def summarize(rows: list[dict], methods) -> dict:
    """Mean, standard deviation and standard error over seeds per method (accuracies in %)."""
    out = {}
    for m in methods:
        tr = np.array([r["train_acc"] for r in rows if r["method"] == m]) * 100
        te = np.array([r["test_acc"] for r in rows if r["method"] == m]) * 100
        if tr.size == 0:
            continue
        sd = (lambda a: float(a.std(ddof=1)) if a.size > 1 else float("nan"))
        out[m] = {"n_seeds": int(tr.size), "train_mean": float(tr.mean()), "train_std": sd(tr),
                  "train_sem": sd(tr) / np.sqrt(tr.size), "test_mean": float(te.mean()), "test_std": sd(te),
                  "test_sem": sd(te) / np.sqrt(te.size), "published": PUBLISHED.get(m)}
    return out


def plot(summary: dict, rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ax = axes[0]
    methods = list(summary)
    xpos = np.arange(len(methods))
    for j, (key, label, off) in enumerate((("train", "train (ours)", -0.3), ("test", "test (ours)", -0.1))):
        ax.bar(xpos + off, [summary[m][f"{key}_mean"] for m in methods], 0.2,
               yerr=[summary[m][f"{key}_std"] for m in methods], capsize=3, label=label, color=f"C{j}")
    for j, (idx, label, off) in enumerate(((0, "train (published)", 0.1), (2, "test (published)", 0.3))):
        vals = [summary[m]["published"][idx] if summary[m]["published"] else np.nan for m in methods]
        errs = [summary[m]["published"][idx + 1] if summary[m]["published"] else 0 for m in methods]
        ax.bar(xpos + off, vals, 0.2, yerr=errs, capsize=3, label=label, color=f"C{j}", alpha=0.4, hatch="//")
    ax.axhline(75, color="k", ls=":", lw=1)
    ax.set_xticks(xpos, methods)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Colored MNIST (error bars: std over seeds)")
    ax.legend(fontsize=7, loc="lower left")
    ax = axes[1]
    for i, m in enumerate(methods):
        for r in rows:
            if r["method"] == m:
                steps = [c["step"] for c in r["curve"]]
                ax.plot(steps, [100 * c["test_acc"] for c in r["curve"]], color=f"C{i}", alpha=0.6,
                        label=m if r["seed"] == rows[0]["seed"] else None)
    ax.set_xlabel("step")
    ax.set_ylabel("test accuracy (%)")
    ax.legend()
    ax.set_title("test environment during training")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(cfg: Config) -> dict:
    """Run every method × seed, append to ``OUT/results.jsonl``, draw the figure; return the summary."""
    torch.set_num_threads(int(cfg.threads))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    images, digits = load_digits(cfg)
    key = protocol_key(cfg)
    done = {}
    if (out / "results.jsonl").exists():
        for r in read_runs(out):
            if r.get("protocol") == key:
                done[(r["method"], r["seed"])] = r
    rows = []
    record = run_record("colored_mnist", cfg)
    with open(out / "results.jsonl", "a") as fh:
        for seed in cfg.seeds:
            envs = test = None
            for method in cfg.methods:
                if (method, seed) in done:  # resumed: computed by an earlier, interrupted run
                    rows.append(done[(method, seed)])
                    continue
                if envs is None:
                    envs, test = make_environments(images, digits, cfg, seed)
                row = run_one(method, seed, envs, test, cfg)
                rows.append(row)
                fh.write(json.dumps({**record, "kind": "run", **row}) + "\n")
                fh.flush()
                if progress_enabled(True):
                    print(f"{method:9s} seed {seed}: train {100 * row['train_acc']:.1f}%  test "
                          f"{100 * row['test_acc']:.1f}%  ({row['seconds']:.0f} s)", flush=True)
        summary = summarize(rows, cfg.methods)
        fh.write(json.dumps({**record, "kind": "summary", "seeds": list(cfg.seeds), "summary": summary}) + "\n")
    plot(summary, rows, out / "colored_mnist.png")
    return summary


def summarize_existing(cfg: Config) -> dict:
    """Rebuild the summary and figure from the runs already in ``OUT/results.jsonl`` (e.g. a partial run)."""
    key = protocol_key(cfg)
    rows = [r for r in read_runs(cfg.out) if r.get("protocol", key) == key]
    summary = summarize(rows, list(dict.fromkeys(r["method"] for r in rows)))
    append_summary(cfg.out, "colored_mnist", rows, summary)
    plot(summary, rows, Path(cfg.out) / "colored_mnist.png")
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true", help="tiny, fast settings (smoke test / CI)")
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--hidden", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--init", choices=("xavier", "he"), default=None, help="weight init (paper: xavier)")
    p.add_argument("--methods", nargs="+", choices=("erm", "irm", "erm_gray"), default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default=None, help="data root (default: $NEUROCOMPARE_DATA)")
    p.add_argument("--summarize", action="store_true", help="only rebuild summary + figure from OUT/results.jsonl")
    a = p.parse_args(argv)
    cfg = Config(out=a.out, data_root=a.data, threads=a.threads)
    if a.small:
        cfg.shrink()
    for key, val in (("seeds", tuple(a.seeds) if a.seeds else None), ("n_train", a.n_train), ("hidden", a.hidden),
                     ("steps", a.steps), ("init", a.init),
                     ("methods", tuple(a.methods) if a.methods else None)):
        if val is not None:
            setattr(cfg, key, val)
    summary = summarize_existing(cfg) if a.summarize else run(cfg)
    for m, s in summary.items():
        pub = s["published"]
        print(f"{m:9s} train {s['train_mean']:.1f} ± {s['train_std']:.1f}%  test {s['test_mean']:.1f} ± "
              f"{s['test_std']:.1f}%  (n={s['n_seeds']})" + (f"   published {pub[0]}/{pub[2]}" if pub else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
