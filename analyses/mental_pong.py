"""Mental simulation in Mental-Pong: do future-prediction models track the hidden ball?

Nayebi et al. (2023) trained models to predict the next latent of video and found that those
with dynamics on top of a frozen encoder carried the occluded ball of Mental-Pong and matched
DMFC neurons best. No DMFC recordings are public, so neurons are *simulated* (Poisson units
mixing the true ball state, also while it is hidden; :func:`neurocompare.tasks.simulated_dmfc`).

1. Conditions (seeded) rendered at ``size × size`` with the occluder, and their unoccluded twins.
2. Encoders (frozen, ``convnet_small`` with one input channel, 3×3 pooled grid): ``untrained``
   (He-normal), ``mnist`` (supervised on MNIST digits, short), ``simclr_pong`` (SimCLR on single
   Pong frames: crops + pixel noise, ``nt_xent``).
3. Dynamics: ``identity``, ``mlp``, ``lstm``, ``ctrnn``, trained to predict the next latent on
   the *unoccluded* videos of the training conditions.
4. On held-out conditions with the occluder, in two modes — ``observe`` (the model is fed the
   frames it sees, blank behind the occluder) and ``imagine`` (behind the occluder it is fed its
   own predictions) — per layer:
   - linear decoding of the hidden ball (x, y) at every occluded frame (ridge, folds by
     condition; R² against time since occlusion);
   - the simulated-DMFC score during occlusion (:func:`neurocompare.benchmarks.time_resolved_consistency`),
     beside the perfect simulator (the true state) and shuffled conditions;
   - paddle end-points read out at the last occluded frame (r with the true ``y_final``).

Run::

    python -m analyses.mental_pong --out runs/mental_pong          # ~15 min on one loaded core
    python -m analyses.mental_pong --out /tmp/mp --small           # CI (~1 min)

Writes ``OUT/results.jsonl`` (one record per encoder × dynamics × mode × layer, then a summary),
``OUT/mental_pong_decoding.png``, ``OUT/mental_pong_dmfc.png``; latents and trained dynamics are
cached under ``OUT/cache`` so an interrupted run resumes.
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
from neurocompare._atomic import atomic_write
from neurocompare._seeding import numpy_rng, seeded, torch_generator
from neurocompare.models.future_prediction import FrameEncoder, future_predictor, train_future_prediction

from analyses._results import run_record


@dataclass
class Config:
    """Parameters of the study."""

    out: str = "runs/mental_pong"
    seed: int = 0
    n_conditions: int = 400
    n_test: int = 160
    size: int = 32
    grid: int = 3
    hidden: int = 128
    epochs: int = 10
    encoders: tuple[str, ...] = ("untrained", "mnist", "simclr_pong")
    dynamics: tuple[str, ...] = ("identity", "mlp", "lstm", "ctrnn")
    mnist_images: int = 6000
    simclr_steps: int = 150
    n_units: int = 100
    n_repeats: int = 10
    data_root: str | None = None
    threads: int = 1
    small: bool = False

    def shrink(self) -> None:
        self.n_conditions, self.n_test, self.epochs = 60, 30, 2
        self.encoders, self.dynamics = ("untrained",), ("identity", "ctrnn")
        self.hidden, self.simclr_steps, self.mnist_images, self.n_units, self.n_repeats = 32, 5, 500, 20, 6
        self.small = True


# ----------------------------------------------------------------------------- encoders
def _save_torch(path: Path, obj) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp), what="cache")


def _save_npz(path: Path, **arrays) -> None:
    def write(tmp):
        with open(tmp, "wb") as fh:  # a handle: np.savez would append '.npz' to a name
            np.savez(fh, **arrays)

    atomic_write(path, write, what="cache")


def train_mnist_encoder(cfg: Config) -> torch.nn.Module:
    """convnet_small (1 channel) trained on MNIST digits for one pass over ``mnist_images``."""
    from neurocompare.training.data import load_mnist

    images, labels = load_mnist(cfg.data_root)
    idx = torch.randperm(images.shape[0], generator=torch_generator(cfg.seed, "mnist_subset"))[: cfg.mnist_images]
    net = nc.build_model("convnet_small", in_channels=1, seed=cfg.seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    for i in range(0, len(idx), 64):
        b = idx[i:i + 64]
        loss = torch.nn.functional.cross_entropy(net(images[b]), labels[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def train_simclr_encoder(cfg: Config, frames: np.ndarray) -> torch.nn.Module:
    """convnet_small (1 channel) trained with SimCLR's nt_xent on single Pong frames.

    Views: a random crop of 60–100% of the area resized back, plus Gaussian pixel noise (sd 0.1).
    """
    from neurocompare.training.augment import random_resized_crop
    from neurocompare.training.losses import nt_xent

    net = nc.build_model("convnet_small", in_channels=1, seed=cfg.seed)
    with seeded(cfg.seed):
        head = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32))
    opt = torch.optim.Adam(list(net.parameters()) + list(head.parameters()), lr=1e-3)
    rng = numpy_rng(cfg.seed, "simclr_batches")
    gen = torch_generator(cfg.seed, "simclr_noise")

    def view(x):
        x = random_resized_crop(x, None, scale=(0.6, 1.0))
        return x + 0.1 * torch.randn(x.shape, generator=gen)

    def embed(x):
        feats = x
        for k in range(1, net.n_blocks + 1):
            feats = getattr(net, f"block{k}")(feats)
        return head(feats.mean((2, 3)))

    net.train()
    for _ in range(cfg.simclr_steps):
        batch = torch.from_numpy(frames[rng.choice(len(frames), 64, replace=False)]).float()
        loss = nt_xent(embed(view(batch)), embed(view(batch)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def encode(encoder: FrameEncoder, frames_of, valid: np.ndarray) -> np.ndarray:
    """Latents (condition, time, latent) of the valid frames (zeros elsewhere), rendered in chunks."""
    n, t = valid.shape
    out = None
    with torch.no_grad():
        for a in range(0, n, 40):
            video = frames_of(a, min(a + 40, n))  # (c, t, 1, H, W)
            v = valid[a:a + 40]
            z = encoder(torch.from_numpy(video[v]).float()).numpy()
            if out is None:
                out = np.zeros((n, t, z.shape[1]), dtype=np.float32)
            out[a:a + 40][v] = z
    return out


# ----------------------------------------------------------------------------- evaluation
def decode_occluded(features: np.ndarray, ds, occ: np.ndarray, seed: int) -> dict:
    """Ridge decoding of the hidden ball (x, y) over occluded samples, folds by condition.

    Returns R² (pooled over x and y, each z-scored) per time since occlusion and overall.
    """
    from neurocompare.similarity import RidgeMapping

    n = features.shape[0]
    target = np.stack([ds.x.values, ds.y.values], -1)  # (c, t, 2)
    folds = numpy_rng(seed, "decode_folds").permutation(n) % 5
    pred = np.full(target.shape, np.nan)
    for f in range(5):
        tr, te = occ & (folds != f)[:, None], occ & (folds == f)[:, None]
        x_tr = features[tr]
        if not (np.ptp(x_tr, axis=0) > 0).any():
            pred[te] = target[tr].mean(0)
            continue
        pred[te] = RidgeMapping().fit(x_tr, target[tr]).predict(features[te])
    since = np.arange(occ.shape[1])[None, :] - ds.t_occlude.values[:, None]
    sd = target[occ].std(0)
    r2 = {}
    for k in range(int(since[occ].max()) + 1):
        m = occ & (since == k)
        if m.sum() < 10:
            continue
        err = ((pred[m] - target[m]) / sd) ** 2
        var = ((target[m] - target[m].mean(0)) / sd) ** 2
        r2[k] = float(1 - err.sum() / var.sum())
    overall = float(1 - (((pred[occ] - target[occ]) / sd) ** 2).sum() / (((target[occ] - target[occ].mean(0)) / sd) ** 2).sum())
    return {"r2_occluded": overall, "r2_by_time_since_occlusion": r2}


def endpoint_r(features: np.ndarray, ds, seed: int) -> float:
    """r between the true y_final and a cross-validated read-out at the last occluded frame."""
    last = ds.t_end.values - 1
    feats = features[np.arange(features.shape[0]), last]
    if not (np.ptp(feats, axis=0) > 0).any():
        return 0.0
    pred = nc.tasks.endpoint_readout(feats, ds.y_final.values, seed=seed)
    return float(np.corrcoef(pred, ds.y_final.values)[0, 1])


def run(cfg: Config) -> dict:
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    (out / "cache").mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    ds = nc.tasks.mental_pong_conditions(cfg.n_conditions, seed=cfg.seed)
    test_ds = ds.isel(condition=slice(cfg.n_conditions - cfg.n_test, None))
    n_train = cfg.n_conditions - cfg.n_test
    valid = ds.valid.values
    occ_test = nc.tasks.occluded_mask(test_ds)
    sim = nc.tasks.simulated_dmfc(test_ds, cfg.n_units, cfg.n_repeats, seed=cfg.seed)
    record = run_record("mental_pong", cfg)
    record["seed"] = cfg.seed

    def frames(occluder):
        return lambda a, b: nc.tasks.render(ds.isel(condition=slice(a, b)), cfg.size, occluder)

    # references: the perfect simulator and shuffled conditions
    state = np.nan_to_num(np.stack([test_ds[v].values for v in ("x", "y", "vx", "vy")], 1))
    perm = numpy_rng(cfg.seed, "shuffle").permutation(cfg.n_test)
    refs = nc.benchmarks.time_resolved_consistency({"perfect_simulator": state, "shuffled_simulator": state[perm]},
                                                   sim, mask=occ_test, seed=cfg.seed)
    rows = []

    def flush(new):
        with open(out / "results.jsonl", "a") as fh:  # one line per record: an interrupted run keeps what it finished
            for row in new:
                fh.write(json.dumps({**record, **row}) + "\n")

    for name, s in refs.items():
        rows.append({"kind": "run", "encoder": "-", "dynamics": name, "mode": "-", "layer": "state",
                     "dmfc_occluded": s.value, "dmfc_error": s.error, "dmfc_pooled": s.pooled})
    flush(rows)
    for enc_name in cfg.encoders:
        n_before = len(rows)
        cache = out / "cache" / f"latents_{enc_name}.npz"
        if cache.exists():
            lat = np.load(cache)
            lat_occ, lat_free = lat["occluded"], lat["free"]
        else:
            if enc_name == "untrained":
                backbone = nc.build_model("convnet_small", in_channels=1, seed=cfg.seed)
            elif enc_name == "mnist":
                backbone = train_mnist_encoder(cfg)
            elif enc_name == "simclr_pong":
                # SimCLR frames: every 3rd valid frame of (up to) 100 training conditions
                sub = nc.tasks.render(ds.isel(condition=slice(0, min(n_train, 100))), cfg.size, True)
                backbone = train_simclr_encoder(cfg, sub[:, ::3].reshape(-1, 1, cfg.size, cfg.size)[valid[: sub.shape[0], ::3].reshape(-1)])
            else:
                raise ValueError(f"Unknown encoder {enc_name!r}; use untrained, mnist or simclr_pong.")
            enc = FrameEncoder(backbone, grid=cfg.grid)
            lat_occ, lat_free = encode(enc, frames(True), valid), encode(enc, frames(False), valid)
            _save_npz(cache, occluded=lat_occ, free=lat_free)
            _save_torch(out / "cache" / f"encoder_{enc_name}.pt", backbone.state_dict())
        mu, sd = lat_free[:n_train][valid[:n_train]].mean(0), lat_free[:n_train][valid[:n_train]].std(0) + 1e-6
        z_free = torch.from_numpy((lat_free - mu) / sd * valid[..., None])
        z_occ = torch.from_numpy((lat_occ - mu) / sd * valid[..., None])
        test = slice(n_train, None)
        feats = {("-", "observe", "encoder"): z_occ[test].numpy()}
        for dyn in cfg.dynamics:
            model = future_predictor(dyn, encoder=torch.nn.Identity(), hidden=cfg.hidden, seed=cfg.seed, image_size=1,
                                     in_channels=z_free.shape[-1])
            wpath = out / "cache" / f"dynamics_{enc_name}_{dyn}.pt"
            if wpath.exists():
                model.load_state_dict(torch.load(wpath, weights_only=True))
                hist = []
            else:
                hist = train_future_prediction(model, z_free[:n_train].float(), torch.from_numpy(valid[:n_train]),
                                               epochs=cfg.epochs, seed=cfg.seed, progress=False)
                _save_torch(wpath, model.state_dict())
            imagine = torch.from_numpy(~test_ds.visible.values)
            with torch.no_grad():
                for mode, im in (("observe", None), ("imagine", imagine)):
                    res = model.run(z_occ[test].float(), im)
                    for layer in ("dynamics", "readout") if dyn != "identity" else ("readout",):
                        if dyn == "identity" and mode == "observe":
                            continue  # identical to the encoder
                        feats[(dyn, mode, layer)] = res[layer].numpy()
            if hist:
                rows.append({"kind": "train", "encoder": enc_name, "dynamics": dyn, "loss_first": hist[0], "loss_last": hist[-1]})
        scores = nc.benchmarks.time_resolved_consistency(
            {k: np.ascontiguousarray(v.transpose(0, 2, 1)) for k, v in feats.items()}, sim, mask=occ_test, seed=cfg.seed)
        for (dyn, mode, layer), f in feats.items():
            s = scores[(dyn, mode, layer)]
            dec = decode_occluded(f, test_ds, occ_test, cfg.seed)
            rows.append({"kind": "run", "encoder": enc_name, "dynamics": dyn, "mode": mode, "layer": layer,
                         "dmfc_occluded": s.value, "dmfc_error": s.error, "dmfc_pooled": s.pooled,
                         "endpoint_r": endpoint_r(f, test_ds, cfg.seed), **dec})
        flush(rows[n_before:])
        print(f"[{time.time() - t0:.0f}s] encoder {enc_name} done", flush=True)
    summary = {"rows": [{k: v for k, v in r.items() if k != "r2_by_time_since_occlusion"} for r in rows],
               "seconds": time.time() - t0}
    with open(out / "results.jsonl", "a") as fh:
        fh.write(json.dumps({**record, "kind": "summary", "summary": summary}) + "\n")
    figures(out, _all_rows(out))
    return summary


def _all_rows(out: Path) -> list[dict]:
    """Every per-run record in OUT/results.jsonl (several processes may have added encoders)."""
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines() if x.strip()]
    seen, rows = set(), []
    for r in lines:
        if r.get("kind") != "run":
            continue
        key = (r["encoder"], r["dynamics"], r["mode"], r["layer"])
        if key not in seen:
            seen.add(key)
            rows.append(r)
    return rows


def figures(out: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in rows if r.get("kind") == "run" and r["encoder"] != "-"]
    encoders = sorted({r["encoder"] for r in runs})
    fig, axes = plt.subplots(1, len(encoders), figsize=(4.5 * len(encoders), 3.6), squeeze=False, sharey=True)
    for ax, enc in zip(axes[0], encoders):
        for r in runs:
            if r["encoder"] != enc or r["layer"] == "readout" and r["dynamics"] != "identity":
                continue
            curve = {int(t): v for t, v in r["r2_by_time_since_occlusion"].items()}  # JSON keys are strings
            k = sorted(curve)
            ax.plot(k, [curve[t] for t in k], label=f"{r['dynamics']} {r['mode']} {r['layer']}")
        ax.set_title(f"encoder: {enc}")
        ax.set_xlabel("frames since occlusion")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylim(-1, 1)
    axes[0][0].set_ylabel("R² of hidden ball (x, y)")
    axes[0][-1].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "mental_pong_decoding.png", dpi=120)
    plt.close(fig)
    allr = [r for r in rows if r.get("kind") == "run"]
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(allr) + 1))
    labels = [f"{r['encoder']} {r['dynamics']} {r['mode']} {r['layer']}" for r in allr]
    ax.barh(range(len(allr)), [r["dmfc_occluded"] for r in allr], xerr=[r["dmfc_error"] for r in allr])
    ax.set_yticks(range(len(allr)), labels, fontsize=6)
    ax.set_xlabel("simulated-DMFC consistency during occlusion (fraction of ceiling)")
    fig.tight_layout()
    fig.savefig(out / "mental_pong_dmfc.png", dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true", help="CI scale (also NEUROCOMPARE_SMALL=1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--conditions", type=int, default=None)
    p.add_argument("--encoders", nargs="+", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default=None, help="data root for MNIST (default: $NEUROCOMPARE_DATA)")
    p.add_argument("--figures", action="store_true", help="only redraw the figures from OUT/results.jsonl")
    a = p.parse_args(argv)
    if a.figures:
        figures(Path(a.out), _all_rows(Path(a.out)))
        return 0
    cfg = Config(out=a.out, seed=a.seed, data_root=a.data, threads=a.threads)
    if a.small or os.environ.get("NEUROCOMPARE_SMALL", "") not in ("", "0"):
        cfg.shrink()
    if a.conditions:
        cfg.n_conditions = a.conditions
    if a.encoders:
        cfg.encoders = tuple(a.encoders)
    summary = run(cfg)
    for r in summary["rows"]:
        if r.get("kind") == "run":
            print(f"{r['encoder']:>12} {r['dynamics']:>18} {r['mode']:>8} {r['layer']:>9}  DMFC {r['dmfc_occluded']:.3f} ± {r['dmfc_error']:.3f}"
                  + (f"  R2 {r['r2_occluded']:.3f}  endpoint r {r['endpoint_r']:.3f}" if "r2_occluded" in r else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
