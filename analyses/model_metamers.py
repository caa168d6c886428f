"""Model metamers on MNIST: do adversarially trained models make metamers other models recognise?

Feather et al. (2023) found that metamers from late layers of standard networks are
unrecognisable to people and to other networks, and that adversarial training makes them more
recognisable. This study repeats the model-to-model part at a CPU-friendly scale:

1. Train two architectures (a small ConvNet and an MLP) on MNIST with standard training and
   with L2 PGD adversarial training (optionally also L∞), plus one extra standard model of each
   architecture with another seed that only serves as a judge. Trained weights are cached in
   ``OUT/models/`` (``.npz`` + ``.json``) and metamers in ``OUT/metamers_<model>.nc``, so reruns
   with the same settings skip training and synthesis.
2. Synthesise metamers for fixed MNIST test images at four stages (early, middle, late, final)
   of every generator, all (stage, image) pairs in one batch (Feather protocol: noise
   N(0.5, 0.05), normalised-gradient steps, step size halved each round, fake ReLU).
3. Validity: Spearman ρ with the original above the maximum of a null from random pairs of
   natural test images, and the generator's predicted label unchanged.
4. Recognisability: every model classifies every generator's valid metamers →
   (generator, judge, stage) accuracy with bootstrap CIs; summary: mean accuracy of the *other*
   models on standard vs adversarial metamers per stage, paired bootstrap CI of the difference.

Run ``python -m analyses.model_metamers --out DIR [--small] [--linf]``. Writes
``DIR/results.jsonl`` (one line per run), ``DIR/metamers_<model>.nc`` (+ ``.json``), figures
``DIR/metamers_<model>.png``, ``DIR/recognizability.png``, ``DIR/std_vs_adv.png``, and a human
experiment page ``DIR/experiment.html``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import neurocompare
from neurocompare.metamers import check_validity, recognizability, save_metamers, synthesize_metamers
from neurocompare.provenance import git_commit

from analyses._results import metamer_stage_summary

STAGES = ("early", "middle", "late", "final")
LAYERS = {
    "cnn": {"early": "relu1", "middle": "relu2", "late": "relu3", "final": "out"},
    "mlp": {"early": "relu1", "middle": "relu2", "late": "relu3", "final": "out"},
}


@dataclass
class Config:
    """Settings of the study (``--small`` shrinks everything for CI)."""

    out: str = "results/model_metamers"
    small: bool = False
    seed: int = 0
    n_train: int = 20000
    epochs: int = 2
    batch_size: int = 128
    lr: float = 1e-3
    l2_eps: float = 1.0
    linf_eps: float = 0.1
    pgd_steps: int = 5
    linf: bool = False
    n_images: int = 20
    n_rounds: int = 8
    steps_per_round: int = 150
    fake_relu: bool = True
    n_null: int = 500
    n_null_pairs: int = 1000
    n_boot: int = 2000
    n_eval: int = 1000
    eval_pgd_steps: int = 7
    threads: int = 0
    device: str = "cpu"
    data: str | None = None
    progress: bool = False
    architectures: tuple[str, ...] = ("cnn", "mlp")

    def shrink(self) -> Config:
        if self.small:
            self.n_train, self.epochs, self.pgd_steps = 768, 1, 2
            self.n_images, self.n_rounds, self.steps_per_round = 4, 4, 8
            self.n_null, self.n_null_pairs, self.n_boot = 60, 200, 200
            self.n_eval, self.eval_pgd_steps = 100, 3
        return self


# ----------------------------------------------------------------------------- data
def load_mnist(cfg: Config) -> dict[str, np.ndarray]:
    """MNIST as float32 images (n, 1, 28, 28) in [0, 1] and int64 labels (via data_loaders.mnist)."""
    from data_loaders import mnist

    root = cfg.data or os.environ.get("NEUROCOMPARE_DATA")
    if root is None:
        beside = Path(__file__).resolve().parents[2] / "shared" / "data"
        root = str(beside) if beside.is_dir() else None
    out = {}
    for split in ("train", "test"):
        x, y = mnist.load_tensors(split, root=root)
        out[f"x_{split}"], out[f"y_{split}"] = x.numpy(), y.numpy()
    return out


# ----------------------------------------------------------------------------- models
def build(arch: str, seed: int) -> nn.Module:
    """The two architectures: a LeNet-style CNN and a 784-256-256-128-10 MLP (registry ``mlp``).

    The CNN is conv3×3(16)-ReLU-pool, conv3×3(32)-ReLU-pool, fc(128)-ReLU, fc(10), named like the
    MLP (``relu1``, ``relu2``, ``relu3``, ``out``). (The registry's ``convnet_small`` ends in a
    global average pool, which learns MNIST too slowly for a CPU-sized run.)
    """
    from collections import OrderedDict

    from neurocompare.models import build_model, he_normal_

    if arch == "cnn":
        net = nn.Sequential(OrderedDict(
            conv1=nn.Conv2d(1, 16, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(16, 32, 3, padding=1), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
            flatten=nn.Flatten(), fc1=nn.Linear(32 * 7 * 7, 128), relu3=nn.ReLU(), out=nn.Linear(128, 10),
        ))
        return he_normal_(net, seed)
    if arch == "mlp":
        return build_model("mlp", in_features=784, hidden=(256, 256, 128), num_classes=10, seed=seed)
    raise ValueError(f"Unknown architecture {arch!r}; choose from {sorted(LAYERS)}.")


def _save_model(model: nn.Module, path: Path, meta: dict) -> None:
    np.savez(path.with_suffix(".npz"), **{k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))


def _load_model(model: nn.Module, path: Path, meta: dict) -> bool:
    npz, js = path.with_suffix(".npz"), path.with_suffix(".json")
    if not (npz.is_file() and js.is_file()):
        return False
    saved = json.loads(js.read_text())
    if saved.get("train") != meta["train"]:
        return False
    with np.load(npz, allow_pickle=False) as f:
        model.load_state_dict({k: torch.from_numpy(f[k]) for k in f.files})
    meta.update(saved)
    return True


def train_model(arch: str, kind: str, seed: int, data: dict, cfg: Config, cache: Path) -> tuple[nn.Module, dict]:
    """Train (or load from ``cache``) one model; ``kind`` in {'standard', 'l2', 'linf'}."""
    from neurocompare.training import OptimizerConfig, robust_accuracy, train
    from neurocompare.training.objectives import Adversarial, Supervised

    model = build(arch, seed)
    eps = {"standard": 0.0, "l2": cfg.l2_eps, "linf": cfg.linf_eps}[kind]
    train_cfg = {"arch": arch, "kind": kind, "seed": seed, "eps": eps, "n_train": cfg.n_train, "epochs": cfg.epochs,
                 "batch_size": cfg.batch_size, "lr": cfg.lr, "pgd_steps": cfg.pgd_steps}
    meta: dict[str, Any] = {"train": train_cfg}
    path = cache / f"{arch}_{kind}_s{seed}"
    if _load_model(model, path, meta):
        meta["cached"] = True
        return model.eval(), meta
    rng = np.random.default_rng(seed)
    idx = rng.permutation(data["x_train"].shape[0])[: cfg.n_train]
    x = torch.from_numpy(data["x_train"][idx])
    y = torch.from_numpy(data["y_train"][idx])
    batches = [(x[i : i + cfg.batch_size], y[i : i + cfg.batch_size]) for i in range(0, len(idx), cfg.batch_size)]
    steps = cfg.epochs * len(batches)
    if kind == "standard":
        objective = Supervised()
    else:
        objective = Adversarial(eps=eps, norm=kind, steps=cfg.pgd_steps)
    t0 = time.perf_counter()
    train(model, objective, batches, optimizer=OptimizerConfig(lr=cfg.lr), steps=steps, seed=seed,
          device=cfg.device, progress=cfg.progress, log_every=max(1, steps // 4))
    model = model.cpu().eval()
    meta["train_seconds"] = round(time.perf_counter() - t0, 1)
    n_eval = cfg.n_eval
    xt = torch.from_numpy(data["x_test"][-n_eval:])
    yt = torch.from_numpy(data["y_test"][-n_eval:])
    with torch.no_grad():
        meta["clean_accuracy"] = float((model(xt).argmax(1) == yt).float().mean())
    meta["robust_accuracy_l2"] = robust_accuracy(model, (xt, yt), [cfg.l2_eps], norm="l2", steps=cfg.eval_pgd_steps)[cfg.l2_eps]
    meta["robust_accuracy_linf"] = robust_accuracy(model, (xt, yt), [cfg.linf_eps], norm="linf", steps=cfg.eval_pgd_steps)[cfg.linf_eps]
    meta["n_eval"] = n_eval
    _save_model(model, path, meta)
    meta["cached"] = False
    return model, meta


# ----------------------------------------------------------------------------- study
def _cached_metamers(path: Path, stamp: str):
    """Metamers saved by an earlier run with the same models, settings and images, else None."""
    if not path.is_file():
        return None
    from neurocompare.metamers import load_metamers

    ds = load_metamers(path)
    return ds if ds.attrs.get("study_stamp") == stamp else None


def _other_judge_mean(table, gen: str, judges: list[str], cross_arch: bool = False) -> np.ndarray:
    """(stage, image) mean correctness of every judge except the generator itself (NaN: invalid).

    With ``cross_arch``, only judges of another architecture (name prefix before '_') count.
    """
    arch = gen.split("_")[0]
    others = [j for j in judges if j != gen and (not cross_arch or j.split("_")[0] != arch)]
    corr = table["correct"].sel(generator=gen, judge=others).values  # (judge, stage, image)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN (invalid) metamers stay NaN
        return np.nanmean(corr, axis=0)


def summarize(table, generators: dict[str, dict], cfg: Config, cross_arch: bool = False) -> dict:
    """Standard vs adversarial: other models' accuracy on valid metamers per stage, paired bootstrap.

    ``cross_arch=True`` counts only judges of a different architecture than the generator.
    """
    judges = [str(j) for j in table["judge"].values]
    stages = [str(s) for s in table["stage"].values]
    rng = np.random.default_rng(cfg.seed)
    out: dict[str, Any] = {}
    kinds = sorted({g["kind"] for g in generators.values()})
    per_kind: dict[str, np.ndarray] = {}
    for kind in kinds:
        mats = [_other_judge_mean(table, name, judges, cross_arch) for name, g in generators.items()
                if g["kind"] == kind]
        per_kind[kind] = np.stack(mats)  # (arch, stage, image)
    n_img = table.sizes["image"]
    boot = rng.integers(0, n_img, (cfg.n_boot, n_img))
    for kind, arr in per_kind.items():
        rows = {}
        for si, stage in enumerate(stages):
            vals = arr[:, si, :]  # (arch, image); mean over archs and valid images
            mean = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
            bs = np.array([np.nanmean(vals[:, b]) if np.isfinite(vals[:, b]).any() else np.nan for b in boot])
            bs = bs[np.isfinite(bs)]
            lo, hi = (np.quantile(bs, [0.025, 0.975]).tolist() if bs.size else [float("nan")] * 2)
            rows[stage] = {"accuracy": mean, "ci95": [lo, hi], "n_valid": int(np.isfinite(vals).sum())}
        out[kind] = rows
    if "standard" in per_kind:
        for kind in kinds:
            if kind == "standard":
                continue
            diff = {}
            for si, stage in enumerate(stages):
                a, s = per_kind[kind][:, si, :], per_kind["standard"][:, si, :]
                d = float(np.nanmean(a) - np.nanmean(s)) if np.isfinite(a).any() and np.isfinite(s).any() else float("nan")
                bs = []
                for b in boot:
                    ab, sb = a[:, b], s[:, b]
                    if np.isfinite(ab).any() and np.isfinite(sb).any():
                        bs.append(np.nanmean(ab) - np.nanmean(sb))
                lo, hi = (np.quantile(bs, [0.025, 0.975]).tolist() if bs else [float("nan")] * 2)
                diff[stage] = {"difference": d, "ci95": [lo, hi], "excludes_zero": bool(lo > 0 or hi < 0)}
            out[f"{kind}_minus_standard"] = diff
    out["chance"] = float(table.attrs["chance"])
    return out


def run(cfg: Config) -> dict:
    """Run the study with ``cfg`` (call ``cfg.shrink()`` first for the small settings)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    cache = out / "models"
    cache.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    data = load_mnist(cfg)
    kinds = ["standard", "l2"] + (["linf"] if cfg.linf else [])

    # models: generators (every arch × kind) and extra judges (standard, another seed)
    generators: dict[str, dict] = {}
    judges: dict[str, nn.Module] = {}
    model_info: dict[str, dict] = {}
    for arch in cfg.architectures:
        for kind in kinds:
            name = f"{arch}_{kind}"
            model, meta = train_model(arch, kind, cfg.seed, data, cfg, cache)
            generators[name] = {"arch": arch, "kind": kind, "model": model}
            judges[name] = model
            model_info[name] = meta
        name = f"{arch}_standard_seed{cfg.seed + 1}"
        model, meta = train_model(arch, "standard", cfg.seed + 1, data, cfg, cache)
        judges[name] = model
        model_info[name] = meta

    # fixed test images: the first n_images of the test set that every generator classifies correctly
    x_test = torch.from_numpy(data["x_test"][:2000])
    y_test = data["y_test"][:2000]
    ok = np.ones(len(y_test), bool)
    with torch.no_grad():
        for g in generators.values():
            ok &= g["model"](x_test).argmax(1).numpy() == y_test
    pick = np.flatnonzero(ok)[: cfg.n_images]
    images, labels = x_test[pick], y_test[pick]
    image_ids = [f"mnist_test_{i:05d}" for i in pick]
    null_images = torch.from_numpy(data["x_test"][-cfg.n_null:])  # disjoint from the originals

    metamers, validity, timings = {}, {}, {}
    synth = dict(seed=cfg.seed, n_rounds=cfg.n_rounds, steps_per_round=cfg.steps_per_round, fake_relu=cfg.fake_relu)
    for name, g in generators.items():
        t0 = time.perf_counter()
        stamp = json.dumps({"train": model_info[name]["train"], "synthesis": synth, "image_ids": image_ids},
                           sort_keys=True)
        ds = _cached_metamers(out / f"metamers_{name}.nc", stamp)
        if ds is None:
            ds = synthesize_metamers(
                g["model"], LAYERS[g["arch"]], images, labels=labels, image_ids=image_ids, device=cfg.device,
                progress=cfg.progress, model_name=name, **synth,
            )
            ds.attrs["study_stamp"] = stamp
            g["model"].cpu()
            save_metamers(ds, out / f"metamers_{name}.nc")
        timings[name] = round(time.perf_counter() - t0, 1)
        metamers[name] = ds
        validity[name] = check_validity(g["model"], ds, null_images, n_null_pairs=cfg.n_null_pairs, seed=cfg.seed)

    valid_masks = {n: v["valid"].values for n, v in validity.items()}
    table = recognizability(metamers, judges, valid=valid_masks, n_boot=cfg.n_boot, seed=cfg.seed, per_image=True)
    table_all = recognizability(metamers, judges, n_boot=0, seed=cfg.seed)
    gen_info = {n: {k: v for k, v in g.items() if k != "model"} for n, g in generators.items()}
    summary = summarize(table, gen_info, cfg)
    summary_cross = summarize(table, gen_info, cfg, cross_arch=True)

    # figures and the human experiment page
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from neurocompare.plotting.metamers import plot_metamers, plot_recognizability

        for name, ds in metamers.items():
            fig = plot_metamers(ds, images=range(min(4, ds.sizes["image"])), validity=validity[name], title=name)
            fig.savefig(out / f"metamers_{name}.png", dpi=110)
            plt.close(fig)
        fig = plot_recognizability(table, title="Accuracy of judge models on valid metamers")
        fig.savefig(out / "recognizability.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        fig = plot_summary(summary, kinds)
        fig.savefig(out / "std_vs_adv.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
    except ImportError as err:  # matplotlib missing: results still written
        print(f"figures skipped: {err}", file=sys.stderr)
    try:
        from neurocompare.metamers import export_metamer_experiment

        export_metamer_experiment(metamers, out / "experiment.html", class_names=[str(d) for d in range(10)],
                                  valid=valid_masks, title="Which digit is this?")
    except ImportError as err:
        print(f"experiment page skipped: {err}", file=sys.stderr)

    def nested(da) -> dict:
        return {str(g): {str(j): {str(s): (None if not np.isfinite(v) else round(float(v), 4))
                                  for s, v in zip(da["stage"].values, da.sel(generator=g, judge=j).values)}
                         for j in da["judge"].values} for g in da["generator"].values}

    result = {
        "analysis": "model_metamers",
        "config": asdict(cfg),
        "seed": cfg.seed,
        "neurocompare_version": neurocompare.__version__,
        "torch_version": str(torch.__version__),
        "git_commit": git_commit(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "data": "MNIST (data_loaders.mnist), train subset for training, test images for metamers and null",
        "models": model_info,
        "layers": {n: LAYERS[g["arch"]] for n, g in generators.items()},
        "image_ids": image_ids,
        "synthesis_seconds": timings,
        **metamer_stage_summary(metamers, validity),
        "fraction_activation_match": {n: {str(s): float(v["activation_match"].values[i].mean())
                                          for i, s in enumerate(v["stage"].values)} for n, v in validity.items()},
        "recognizability_valid": nested(table["accuracy"]),
        "recognizability_valid_ci95": {"low": nested(table["ci_low"]), "high": nested(table["ci_high"])},
        "recognizability_all": nested(table_all["accuracy"]),
        "summary_other_judges": summary,
        "summary_other_architectures": summary_cross,
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    with (out / "results.jsonl").open("a") as f:
        f.write(json.dumps(result, default=float) + "\n")
    return result


def plot_summary(summary: dict, kinds: list[str]):
    """Other models' accuracy on metamers by stage, one line per training kind, with 95% CIs."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    for k, kind in enumerate(kinds):
        rows = summary.get(kind, {})
        stages = list(rows)
        x = np.arange(len(stages)) + (k - (len(kinds) - 1) / 2) * 0.08
        acc = np.array([rows[s]["accuracy"] for s in stages])
        lo = np.array([rows[s]["ci95"][0] for s in stages])
        hi = np.array([rows[s]["ci95"][1] for s in stages])
        ax.errorbar(x, acc, yerr=[acc - lo, hi - acc], marker="o", capsize=3, label=kind)
        ax.set_xticks(np.arange(len(stages)), stages)
    ax.axhline(summary["chance"], color="0.5", ls="--", lw=1, label="chance")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("accuracy of other models\non valid metamers")
    ax.set_xlabel("metamer stage")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Model metamers on MNIST: standard vs adversarial training.")
    p.add_argument("--out", required=True, help="output folder (results.jsonl, figures, cached models)")
    p.add_argument("--small", action="store_true", help="tiny settings for CI (< 1 min)")
    p.add_argument("--linf", action="store_true", help="also train L-infinity adversarial models")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-images", type=int, default=None)
    p.add_argument("--steps-per-round", type=int, default=None)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--data", default=None, help="data root (default: NEUROCOMPARE_DATA or ../shared/data)")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    cfg = Config(out=args.out, small=args.small, linf=args.linf, seed=args.seed, threads=args.threads,
                 device=args.device, data=args.data, progress=args.progress)
    cfg.shrink()
    if args.n_images:
        cfg.n_images = args.n_images
    if args.steps_per_round:
        cfg.steps_per_round = args.steps_per_round
    res = run(cfg)
    for title, key in (("other models", "summary_other_judges"), ("models of the other architecture",
                                                                    "summary_other_architectures")):
        _print_summary(res[key], title)
    print("fraction valid: " + json.dumps(res["fraction_valid"]))
    print(f"results appended to {Path(args.out) / 'results.jsonl'} ({res['seconds']} s)")
    return 0


def _print_summary(s: dict, title: str) -> None:
    print(f"chance {s['chance']:.2f}; accuracy of {title} on valid metamers (95% CI):")
    for kind in [k for k in s if not k.endswith("standard") or k == "standard"]:
        if kind == "chance":
            continue
        print(f"  {kind:9s} " + "  ".join(f"{st}: {v['accuracy']:.2f} [{v['ci95'][0]:.2f}, {v['ci95'][1]:.2f}]"
                                           for st, v in s[kind].items()))
    for key in [k for k in s if k.endswith("_minus_standard")]:
        print(f"  {key}: " + "  ".join(f"{st}: {v['difference']:+.2f} [{v['ci95'][0]:+.2f}, {v['ci95'][1]:+.2f}]"
                                       for st, v in s[key].items()))


if __name__ == "__main__":
    sys.exit(main())
