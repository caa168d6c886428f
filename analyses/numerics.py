"""How far can the numbers be trusted? float32 against float64 on recorded data, and interval coverage.

Issue 12 ("Numbers that cannot silently lie"). Two measurements:

1. **Precision on real data.** Macaque V4 (Cowley et al. 2023, session 210325: repeat-averaged
   spike counts of the recorded neurons to 640 images) split into two populations (even and odd
   neurons), compared with every registered representational metric and with ridge and PLS
   predictivity, once in float64 (the CPU default) and once in float32 (``float64=False`` /
   ``dtype='float32'``), also after rescaling the data by 1e-12 and 1e12 and offsetting by 1e6.
   The largest |float32 - float64| is the documented error bound of float32.
2. **Coverage of bootstrap intervals.** Gaussian data with a known population CKA (a 3-D latent
   read out by 20 + 20 units in noise): how often the 95% interval of unbiased CKA covers the
   population value, for the pair-free bootstrap (``nc.bootstrap``: pairs of copies of one stimulus
   left out) and for the naive row bootstrap (percentile of row-resampled replicates).

Run::

    python -m analyses.numerics --out runs/numerics           # full (~10 min, 1 core)
    python -m analyses.numerics --out /tmp/num --small        # CI (< 1 min)

Writes ``OUT/results.jsonl`` (one record per measurement, then a summary) and
``OUT/numerics.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import neurocompare as nc
from neurocompare._seeding import numpy_rng

from analyses._results import run_record


@dataclass
class Config:
    """Parameters of the study."""

    out: str = "runs/numerics"
    seed: int = 0
    session: str = "210325"
    n_stimuli: int | None = None  # None: all of the session's images
    n_splits: int = 10
    coverage_sets: int = 300
    coverage_n: int = 100
    coverage_boot: int = 200
    data_root: str | None = None
    small: bool = False
    threads: int = 1

    def shrink(self) -> "Config":
        self.n_stimuli, self.n_splits = 160, 2
        self.coverage_sets, self.coverage_n, self.coverage_boot, self.small = 20, 60, 60, True
        return self


TRANSFORMS = {"x1": lambda a: a, "x1e-12": lambda a: a * 1e-12, "x1e12": lambda a: a * 1e12, "+1e6": lambda a: a + 1e6}


def load_populations(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint V4 populations (even, odd neurons) of one session: float64 (stimulus, neuron) arrays."""
    from data_loaders import cowley2023_v4

    resp, _ = cowley2023_v4.load(cfg.session, root=cfg.data_root, images=False)
    v = np.asarray(resp.transpose("stimulus", "unit").values, dtype=np.float64)
    v = v[:, v.std(0) > 0]
    if cfg.n_stimuli:
        v = v[np.sort(numpy_rng(cfg.seed, "numerics", "stimuli").choice(v.shape[0], cfg.n_stimuli, replace=False))]
    return v[:, 0::2], v[:, 1::2]


def precision_rows(x: np.ndarray, y: np.ndarray, cfg: Config) -> list[dict]:
    """float32 vs float64 for every registered metric (mapped ones through the dtype option)."""
    rows = []
    for name in nc.similarity.list_metrics():
        metric = nc.similarity.get_metric(name)
        kw = {"n_splits": cfg.n_splits, "seed": cfg.seed} if metric.family == "mapped" else {}
        if name in ("pls", "reverse_pls"):
            kw["n_components"] = 10
        for tag, f in TRANSFORMS.items():
            xs, ys = f(x), f(y)
            row = {"metric": name, "family": metric.family, "transform": tag}
            for dtype in ("float64", "float32"):
                try:
                    if metric.family == "mapped":
                        with nc.set_options(dtype=dtype):
                            row[dtype] = float(metric(xs, ys, **kw))
                    else:
                        row[dtype] = float(metric(xs, ys, float64=dtype == "float64"))
                except (ValueError, TypeError) as err:
                    row[dtype], row[f"{dtype}_error"] = None, str(err)[:200]
            if row["float64"] is not None and row["float32"] is not None:
                row["abs_diff"] = abs(row["float32"] - row["float64"])
            rows.append(row)
    return rows


def _population_cka(a: np.ndarray, b: np.ndarray, sig: float) -> float:
    sxx = a.T @ a + sig**2 * np.eye(a.shape[1])
    syy = b.T @ b + sig**2 * np.eye(b.shape[1])
    return float(np.linalg.norm(a.T @ b) ** 2 / (np.linalg.norm(sxx) * np.linalg.norm(syy)))


def coverage_rows(cfg: Config) -> list[dict]:
    """One row per simulated data set: the population CKA, the estimate, both intervals."""
    rng = numpy_rng(cfg.seed, "numerics", "coverage")
    k, p, q, sig = 3, 20, 20, 2.0
    a, b = rng.standard_normal((k, p)), rng.standard_normal((k, q))
    pop = _population_cka(a, b, sig)
    naive_metric = lambda u, v: nc.cka_unbiased(u, v)  # noqa: E731  (a plain callable: row resampling)
    rows = []
    for r in range(cfg.coverage_sets):
        z = rng.standard_normal((cfg.coverage_n, k))
        x = z @ a + sig * rng.standard_normal((cfg.coverage_n, p))
        y = z @ b + sig * rng.standard_normal((cfg.coverage_n, q))
        pair_free = nc.bootstrap(x, y, "cka_unbiased", n_boot=cfg.coverage_boot, seed=r, progress=False)
        naive = nc.bootstrap(x, y, naive_metric, n_boot=cfg.coverage_boot, seed=r, progress=False)
        lo, hi = np.quantile(naive.samples, [0.025, 0.975])
        rows.append({
            "set": r, "population": pop, "estimate": pair_free.estimate,
            "pair_free": [pair_free.low, pair_free.high], "naive_percentile": [float(lo), float(hi)],
            "naive_shifted": [naive.low, naive.high], "naive_bias": naive.bias,
        })
    return rows


def summarize(prec: list[dict], cov: list[dict]) -> dict:
    done = [r for r in prec if "abs_diff" in r]
    by_metric: dict[str, float] = {}
    for r in done:
        by_metric[r["metric"]] = max(by_metric.get(r["metric"], 0.0), r["abs_diff"])
    refused = [f"{r['metric']} {r['transform']}" for r in prec if r.get("float32") is None or r.get("float64") is None]

    def covered(key):
        hits = [c[key][0] <= c["population"] <= c[key][1] for c in cov]
        p = float(np.mean(hits))
        half = 1.96 * math.sqrt(max(p * (1 - p), 1e-12) / len(hits))  # binomial (Wald) interval
        return {"coverage": p, "ci95": [p - half, p + half], "n_sets": len(hits)}

    return {
        "float32_max_abs_diff": max(by_metric.values()) if by_metric else None,
        "float32_max_abs_diff_by_metric": by_metric,
        "refused": refused,
        "coverage": {k: covered(k) for k in ("pair_free", "naive_percentile", "naive_shifted")},
        "estimate_in_pair_free_interval": float(np.mean([c["pair_free"][0] <= c["estimate"] <= c["pair_free"][1] for c in cov])),
    }


def plot(summary: dict, path: Path | None = None):
    """Left: the float32 error of every metric on the V4 data; right: interval coverage. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2.2, 1]})
    diffs = summary["float32_max_abs_diff_by_metric"]
    names = sorted(diffs, key=diffs.get)
    vals = [max(diffs[n], 1e-17) for n in names]
    axes[0].barh(names, vals, color="tab:blue")
    axes[0].set_xscale("log")
    axes[0].axvline(200 * math.sqrt(60) * float(np.finfo(np.float32).eps), color="k", ls="--", lw=1,
                    label="test bound 200 sqrt(n) eps32 (n=60)")
    axes[0].set_xlabel("max |float32 - float64| over x1, x1e-12, x1e12, +1e6 (V4 data)")
    axes[0].legend(loc="lower right", fontsize=8)
    cov = summary["coverage"]
    keys = list(cov)
    axes[1].bar(range(len(keys)), [cov[k]["coverage"] for k in keys],
                yerr=[[cov[k]["coverage"] - cov[k]["ci95"][0] for k in keys], [cov[k]["ci95"][1] - cov[k]["coverage"] for k in keys]],
                color=["tab:green", "tab:red", "tab:orange"], capsize=4)
    axes[1].axhline(0.95, color="k", ls="--", lw=1)
    axes[1].set_xticks(range(len(keys)), [k.replace("_", "\n") for k in keys])
    axes[1].set_ylim(0.5, 1.0)
    axes[1].set_ylabel("coverage of the population CKA (95% intervals)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def run(cfg: Config) -> dict:
    torch.set_num_threads(int(cfg.threads))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    record = run_record("numerics", cfg)
    with nc.set_options(progress=False):
        x, y = load_populations(cfg)
        with open(out / "results.jsonl", "a") as fh:
            prec = precision_rows(x, y, cfg)
            for r in prec:
                fh.write(json.dumps({**record, "kind": "run", "seed": cfg.seed, "measure": "precision", **r}) + "\n")
            fh.flush()
            cov = coverage_rows(cfg)
            for r in cov:
                fh.write(json.dumps({**record, "kind": "run", "seed": cfg.seed, "measure": "coverage", **r}) + "\n")
            summary = summarize(prec, cov)
            summary["data"] = {"session": cfg.session, "n_stimuli": int(x.shape[0]), "units": [int(x.shape[1]), int(y.shape[1])]}
            fh.write(json.dumps({**record, "kind": "summary", "seeds": [cfg.seed], "summary": summary}) + "\n")
    plot(summary, out / "numerics.png")
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true", help="CI scale (also NEUROCOMPARE_SMALL=1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default=None, help="data root (default: $NEUROCOMPARE_DATA)")
    a = p.parse_args(argv)
    cfg = Config(out=a.out, seed=a.seed, data_root=a.data, threads=a.threads)
    if a.small or os.environ.get("NEUROCOMPARE_SMALL", "") not in ("", "0"):
        cfg.shrink()
    s = run(cfg)
    print(f"V4 session {s['data']['session']}: {s['data']['n_stimuli']} images, {s['data']['units']} neurons")
    print(f"float32 vs float64, largest |difference| over every metric and transform: {s['float32_max_abs_diff']:.2e}")
    for name, d in sorted(s["float32_max_abs_diff_by_metric"].items(), key=lambda kv: -kv[1]):
        print(f"  {name:18s} {d:.2e}")
    if s["refused"]:
        print(f"refused (clear errors): {', '.join(s['refused'])}")
    for k, c in s["coverage"].items():
        print(f"coverage {k:17s} {c['coverage']:.3f}  [{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}]  ({c['n_sets']} data sets)")
    print(f"estimate inside the pair-free interval: {s['estimate_in_pair_free_interval']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
