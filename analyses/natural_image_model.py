"""The shipped natural-image model: SimCLR on V4 training-session images versus its untrained twin.

Trains ``convnet_small`` (grey level) with SimCLR through :func:`neurocompare.train`, with the
settings of ``neurocompare/training/configs/simclr_cowley_small.yaml``, on the photographs of the
Cowley et al. (2023) V4 sessions the authors assign to *training* (never the test sessions 190923,
201025, 210225 and 210325, which are the held-out V4 evaluation here). For every seed the trained
network and its untrained twin (same seed, same initialisation) are scored by
``analyses.ssl_vs_supervised.score``:

- V4, held-out sessions: linear CKA and ridge predictivity (median r over neurons, 5 splits);
- IT, 92 Kriegeskorte images: Spearman RSA with the human-IT and monkey-IT RDMs;
- a linear probe (logistic regression on ``avgpool``) on MNIST digits.

Differences trained − untrained are paired by seed; the interval is a 95 % t-interval over seeds.
``--export`` writes the trained weights of ``--export-seed`` (without ``fc``, which SimCLR does not
train) to ``neurocompare/models/weights/convnet_small_simclr.pt`` atomically and prints its sha256,
to be entered in ``neurocompare.models.pretrained.PRETRAINED``.

Run::

    python -m analyses.natural_image_model --out runs/natural_image_model --export   # ≈ 2 min CPU per seed
    python -m analyses.natural_image_model --out /tmp/nim --small                    # < 1 min

Writes ``OUT/results.jsonl`` (resumable: (condition, seed) pairs already there are skipped) and
``OUT/natural_image_model.png``.
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

from analyses import ssl_vs_supervised as ssl
from analyses._results import read_runs, run_record
from neurocompare._options import progress_enabled
from neurocompare.models import build_model
from neurocompare.training import Batches, SimCLR, load_config, train

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "neurocompare" / "training" / "configs" / "simclr_cowley_small.yaml"
WEIGHTS = REPO / "neurocompare" / "models" / "weights" / "convnet_small_simclr.pt"
METRICS = ("v4_cka", "v4_predictivity", "it_human_rsa", "it_monkey_rsa")


@dataclass
class Config:
    out: str = "runs/natural_image_model"
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int | None = None  # None: the yaml's
    layers: tuple[str, ...] = ("block1", "block2", "avgpool")
    test_sessions: tuple[str, ...] = ("190923", "201025", "210225", "210325")
    image_size: int = 40  # = the registered preprocessing's size
    natural_size: int = 32  # training images
    max_images_per_session: int = 400
    n_mnist_train: int = 5000
    n_probe_train: int = 5000
    n_probe_test: int = 2000
    export: bool = False
    export_seed: int = 0
    data_root: str | None = None
    small: bool = False
    threads: int = 1

    def shrink(self) -> "Config":
        self.seeds, self.steps, self.test_sessions = (0,), 10, ("210325",)
        self.max_images_per_session, self.n_probe_train, self.n_probe_test, self.small = 150, 500, 300, True
        return self


def training_sessions() -> tuple[str, ...]:
    """Sessions with images whose authors' split is 'train' (never a test or validation session)."""
    from data_loaders import cowley2023_v4 as v4

    return tuple(s for s in v4.SESSIONS_WITH_IMAGES if v4.SPLIT.get(s, "train") == "train")


def load_data(cfg: Config) -> tuple[dict, "ssl.Config"]:
    train_sessions = training_sessions()
    overlap = set(train_sessions) & set(cfg.test_sessions)
    if overlap:
        raise ValueError(f"Test sessions {sorted(overlap)} are also training sessions; remove them from test_sessions.")
    scfg = ssl.Config(natural_train_sessions=train_sessions[:1] if cfg.small else train_sessions,
                      natural_size=cfg.natural_size, test_sessions=cfg.test_sessions, image_size=cfg.image_size,
                      max_images_per_session=cfg.max_images_per_session, n_mnist_train=cfg.n_mnist_train,
                      n_probe_train=cfg.n_probe_train, n_probe_test=cfg.n_probe_test, layers=cfg.layers,
                      data_root=cfg.data_root)
    return ssl.load_data(scfg), scfg


def train_simclr(seed: int, images: torch.Tensor, cfg: Config) -> tuple[torch.nn.Module, list]:
    """SimCLR with the yaml's settings from the twin's initialisation (``pretrained=False, seed=seed``)."""
    tc = load_config(CONFIG)
    model = build_model("convnet_small_simclr", pretrained=False, seed=seed)
    kw = dict(tc.objective_kwargs)
    kw["crop_scale"] = tuple(kw.get("crop_scale", (0.08, 1.0)))
    obj = SimCLR(**kw)
    steps = cfg.steps or tc.steps
    batches = Batches(images, batch_size=min(tc.data.batch_size, images.shape[0]), seed=seed)
    res = train(model, obj, batches, optimizer=tc.optimizer, steps=steps, log_every=max(steps // 10, 1), seed=seed,
                progress=False, device="cpu")
    return res.model, res.history


def export_weights(model: torch.nn.Module, path: Path = WEIGHTS) -> str:
    """Write the weights-only state dict (without ``fc``) atomically; return its sha256."""
    from neurocompare.models.pretrained import file_sha256

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items() if not k.startswith("fc.")}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return file_sha256(path)


def _t95(n: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1)) if n > 1 else float("nan")


def summarize(rows: list[dict], cfg: Config) -> dict:
    """Per condition mean ± SEM over seeds; paired differences with 95 % t-intervals."""
    out: dict = {}
    by = {c: {r["seed"]: r["scores"] for r in rows if r["condition"] == c} for c in ("untrained", "simclr")}
    for c, d in by.items():
        if d:
            out[c] = {"probe_accuracy": ssl._ms([s["probe_accuracy"] for s in d.values()])}
            for layer in cfg.layers:
                out[c][layer] = {m: ssl._ms([s[layer][m] for s in d.values()]) for m in METRICS}
    seeds = sorted(set(by["untrained"]) & set(by["simclr"]))
    if seeds:
        diff: dict = {"seeds": seeds}

        def ci(vals):
            a = np.asarray(vals, float)
            half = _t95(a.size) * a.std(ddof=1) / np.sqrt(a.size) if a.size > 1 else float("nan")
            return {"mean": float(a.mean()), "ci95": [float(a.mean() - half), float(a.mean() + half)], "n": a.size}

        diff["probe_accuracy"] = ci([by["simclr"][s]["probe_accuracy"] - by["untrained"][s]["probe_accuracy"]
                                     for s in seeds])
        for layer in cfg.layers:
            diff[layer] = {m: ci([by["simclr"][s][layer][m] - by["untrained"][s][layer][m] for s in seeds])
                           for m in METRICS}
        out["simclr_minus_untrained"] = diff
    return out


def plot(summary: dict, cfg: Config, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = {"v4_cka": "V4 held-out: CKA", "v4_predictivity": "V4 held-out: ridge r",
              "it_human_rsa": "human IT: RSA", "it_monkey_rsa": "monkey IT: RSA"}
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    conds = [c for c in ("untrained", "simclr") if c in summary]
    for ax, m in zip(axes, METRICS):
        for i, c in enumerate(conds):
            mean = [summary[c][layer][m]["mean"] for layer in cfg.layers]
            sem = [np.nan_to_num(summary[c][layer][m]["sem"]) for layer in cfg.layers]
            ax.bar(np.arange(len(cfg.layers)) + (i - 0.5) * 0.4, mean, 0.4, yerr=sem, capsize=3, color=f"C{i}",
                   label=f"{c} (MNIST probe {100 * summary[c]['probe_accuracy']['mean']:.0f}%)")
        ax.set_xticks(range(len(cfg.layers)), cfg.layers)
        ax.set_title(titles[m], fontsize=9)
    axes[0].legend(fontsize=7)
    n = len(summary.get("simclr_minus_untrained", {}).get("seeds", []))
    fig.suptitle(f"convnet_small_simclr vs its untrained twin (mean ± SEM over {n} seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(cfg: Config) -> dict:
    torch.set_num_threads(int(cfg.threads))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    done = {}
    if (out / "results.jsonl").exists():
        done = {(r["condition"], r["seed"]): r for r in read_runs(out) if r.get("small") == cfg.small}
    data, scfg = load_data(cfg)
    record = run_record("natural_image_model", cfg)
    rows = []
    with open(out / "results.jsonl", "a") as fh:
        for seed in cfg.seeds:
            for cond in ("untrained", "simclr"):
                if (cond, seed) in done and not (cfg.export and seed == cfg.export_seed and cond == "simclr"):
                    rows.append(done[(cond, seed)])
                    continue
                t0 = time.perf_counter()
                if cond == "untrained":
                    model, history = build_model("convnet_small_simclr", pretrained=False, seed=seed), []
                else:
                    model, history = train_simclr(seed, data["natural"], cfg)
                row = {"condition": cond, "seed": seed, "small": cfg.small, "scores": ssl.score(model, data, scfg),
                       "history": history, "seconds": time.perf_counter() - t0}
                if cfg.export and cond == "simclr" and seed == cfg.export_seed:
                    row["exported_sha256"] = export_weights(model)
                    print(f"exported {WEIGHTS} sha256 {row['exported_sha256']}", flush=True)
                rows.append(row)
                fh.write(json.dumps({**record, "kind": "run", **row}) + "\n")
                fh.flush()
                if progress_enabled(True):
                    s = row["scores"]["block2"]
                    print(f"{cond:9s} seed {seed}: probe {100 * row['scores']['probe_accuracy']:.1f}%  block2 V4 CKA "
                          f"{s['v4_cka']:.3f} r {s['v4_predictivity']:.3f}  hIT {s['it_human_rsa']:.3f} "
                          f"mIT {s['it_monkey_rsa']:.3f} ({row['seconds']:.0f} s)", flush=True)
        summary = summarize(rows, cfg)
        fh.write(json.dumps({**record, "kind": "summary", "seeds": list(cfg.seeds), "summary": summary}) + "\n")
    plot(summary, cfg, out / "natural_image_model.png")
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true")
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--export", action="store_true", help="write the shipped weights from --export-seed")
    p.add_argument("--export-seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default=None)
    a = p.parse_args(argv)
    cfg = Config(out=a.out, data_root=a.data, threads=a.threads, export=a.export, export_seed=a.export_seed)
    if a.small or os.environ.get("NEUROCOMPARE_SMALL") == "1":
        cfg.shrink()
    if a.seeds:
        cfg.seeds = tuple(a.seeds)
    if a.steps:
        cfg.steps = a.steps
    summary = run(cfg)
    d = summary.get("simclr_minus_untrained", {})
    for layer in cfg.layers:
        if layer in d:
            print(layer + "  " + "  ".join(f"{m} {d[layer][m]['mean']:+.3f} [{d[layer][m]['ci95'][0]:+.3f}, "
                                          f"{d[layer][m]['ci95'][1]:+.3f}]" for m in METRICS))
    if "probe_accuracy" in d:
        print(f"probe accuracy {d['probe_accuracy']['mean']:+.3f} {d['probe_accuracy']['ci95']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
