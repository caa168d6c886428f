"""Bring your own data: score a model on a lab's own files (a response array or NWB file + images).

The short path from files on disk to a score, as one command: the responses (a ``.npy`` array
whose axes you name with ``--layout``, or an NWB file with a ``units`` table and a presentations
table) and the images that were shown (a folder or a zip; stimulus ids from the file names) become
``Responses`` and a stimulus set, bound into a ``Benchmark`` with a metric and a noise ceiling, and
a model is scored on it for several split seeds.

By default it runs on the raw V4 spike counts of Cowley et al. (2023), session 210325, from the
data folder, treated as a user's own files (``responses_raw/responses_210325.npy``, dims
``unit, stimulus, repetition``, and ``images/images_210325.zip``).

Run::

    python -m analyses.bring_your_own_data --out runs/byod                # 640 images, 3 seeds, ~1-2 min
    python -m analyses.bring_your_own_data --out /tmp/byod --small        # 160 images, 2 seeds
    python -m analyses.bring_your_own_data --out runs/mine --responses counts.npy \\
        --layout unit,stimulus,repetition --images stimuli/ --model convnet_small

Writes ``OUT/results.jsonl`` (one record per seed with the score, then a summary with the mean and
a 95 % interval over seeds; config, version and git commit in each) and ``OUT/layer_scores.png``.
A rerun with the same config skips the seeds already recorded (an interrupted run resumes).

References
----------
Cowley, Stan, Pillow & Smith (2023). Compact deep neural network models of visual cortex. bioRxiv.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import neurocompare as nc
from analyses._results import run_record

ANALYSIS = "bring_your_own_data"


@dataclass
class Config:
    """Parameters of one run."""

    out: str = "runs/bring_your_own_data"
    responses: str = ""  # .npy or .nwb; default: Cowley 2023 raw session 210325 in the data folder
    layout: str = "unit,stimulus,repetition"  # names of the .npy array's axes, in order
    images: str = ""  # folder or zip; default: that session's zip
    model: str = "convnet_small"
    layers: tuple[str, ...] = ("block1", "block2", "avgpool")
    metric: str = "ridge"
    ceiling: str | None = "split_half"
    n_splits: int = 10
    seeds: tuple[int, ...] = (0, 1, 2)
    max_images: int | None = None
    nwb_window: tuple[float, float] = (0.05, 0.15)
    data_root: str | None = None

    def shrink(self) -> "Config":
        """Small mode (CI): 160 images, 5 splits, 2 seeds."""
        self.max_images, self.n_splits, self.seeds = 160, 5, (0, 1)
        return self


def _defaults(cfg: Config) -> Config:
    from data_loaders import get_root

    lab = get_root(cfg.data_root) / "cowley2023_v4"
    if not cfg.responses:
        cfg.responses = str(lab / "responses_raw" / "responses_210325.npy")
    if not cfg.images:
        cfg.images = str(lab / "images" / "images_210325.zip")
    return cfg


def load_user_data(cfg: Config):
    """(Responses, stimuli) from the configured files, aligned by stimulus id and truncated to max_images."""
    from data_loaders import load_image_folder
    from data_loaders.readers import read_nwb_units

    images = load_image_folder(cfg.images, progress=False)
    path = Path(cfg.responses)
    if path.suffix.lower() == ".nwb":
        resp = read_nwb_units(path, window=tuple(cfg.nwb_window), rate=False)
        order = {s: i for i, s in enumerate(resp.stimulus_id.values)}
        missing = [s for s in images.stimulus_id.values if s not in order]
        if missing:
            raise ValueError(f"{len(missing)} images have no presentation in {path} (e.g. {missing[:3]}); "
                             "the NWB stimulus column must hold the image file names without suffix.")
        resp = resp.isel(stimulus=[order[s] for s in images.stimulus_id.values])
    else:
        values = np.load(path)
        axes = [a.strip() for a in cfg.layout.split(",")]
        if sorted(axes) not in (sorted(["unit", "stimulus"]), sorted(["unit", "stimulus", "repetition"])) or len(axes) != values.ndim:
            raise ValueError(f"--layout must name the {values.ndim} axes of {path.name} (shape {values.shape}) with "
                             f"'unit', 'stimulus' and optionally 'repetition'; got {cfg.layout!r}.")
        dims = ("stimulus", "unit", "repetition")[: values.ndim]
        values = np.transpose(values, [axes.index(d) for d in dims])
        if values.shape[0] != images.sizes["stimulus"]:
            raise ValueError(f"{path.name} has {values.shape[0]} stimuli but {cfg.images} holds "
                             f"{images.sizes['stimulus']} images; row i must be the i-th image in natural order.")
        resp = nc.make_responses(values, stimulus_ids=images.stimulus_id.values,
                                 unit_ids=[f"u{j:03d}" for j in range(values.shape[1])], dims=dims,
                                 allow_nan=True, source=str(path))
    if cfg.max_images:
        resp, images = resp.isel(stimulus=slice(0, cfg.max_images)), images.isel(stimulus=slice(0, cfg.max_images))
    return resp, images


def _done(out: Path, cfg: Config) -> dict[int, dict]:
    path = out / "results.jsonl"
    if not path.exists():
        return {}
    mine = json.loads(json.dumps(run_record(ANALYSIS, cfg)["config"]))  # as stored: tuples become lists
    rows = [json.loads(s) for s in path.read_text().splitlines() if s.strip()]
    return {r["seed"]: r for r in rows if r.get("kind") == "run" and r.get("config") == mine}


def run(cfg: Config) -> dict:
    """Score the model for every seed (resuming), append the records, draw the figure; returns the summary."""
    cfg = _defaults(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    resp, images = load_user_data(cfg)
    done = _done(out, cfg)
    scores = []
    for seed in cfg.seeds:
        bench = nc.Benchmark(resp, stimuli=images, metric=cfg.metric, ceiling=cfg.ceiling, n_splits=cfg.n_splits,
                             seed=seed, identifier=f"user.{Path(cfg.responses).stem}.v1")
        if seed in done:
            continue
        s = nc.score(cfg.model, bench, layers=list(cfg.layers), seed=seed)
        scores.append(s)
        record = {**run_record(ANALYSIS, cfg), "kind": "run", "seed": seed, "value": s.value, "error": s.error,
                  "error_kind": s.error_kind, "raw": s.raw, "ceiling": s.ceiling, "layer": s.layer,
                  "n_stimuli": int(resp.sizes["stimulus"]), "n_units": int(resp.sizes["unit"])}
        with open(out / "results.jsonl", "a") as fh:  # one line per seed: an interrupted run keeps them
            fh.write(json.dumps(record) + "\n")
        done[seed] = record
    values = np.array([done[s]["value"] for s in cfg.seeds])
    sem = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
    from scipy import stats

    half = float(stats.t.ppf(0.975, len(values) - 1) * sem) if len(values) > 1 else float("nan")
    summary = {"mean": float(values.mean()), "sem": sem, "ci95": [float(values.mean() - half), float(values.mean() + half)],
               "per_seed": {int(s): done[s]["value"] for s in cfg.seeds},
               "layers_chosen": sorted({done[s]["layer"] for s in cfg.seeds}),
               "ceiling": [done[s]["ceiling"] for s in cfg.seeds]}
    with open(out / "results.jsonl", "a") as fh:
        fh.write(json.dumps({**run_record(ANALYSIS, cfg), "kind": "summary", "seeds": list(cfg.seeds), "summary": summary}) + "\n")
    if scores:
        # no matplotlib.use(): switching the global backend would hide the figures of a notebook that calls run()
        fig = nc.plotting.plot_layer_scores(scores[:1])  # the first seed's layers; seeds differ only in splits
        tmp = out / "layer_scores.png.tmp"
        fig.savefig(tmp, format="png", dpi=120)
        os.replace(tmp, out / "layer_scores.png")
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--small", action="store_true", help="160 images, 5 splits, 2 seeds (also NEUROCOMPARE_SMALL=1)")
    p.add_argument("--responses", default="", help=".npy array or .nwb file (default: Cowley 2023 session 210325)")
    p.add_argument("--layout", default=None, help="axes of the .npy array, e.g. unit,stimulus,repetition")
    p.add_argument("--images", default="", help="folder or zip of the images shown")
    p.add_argument("--model", default=None)
    p.add_argument("--layers", nargs="+", default=None)
    p.add_argument("--metric", default=None, help="any registered metric (ridge, pls, rsa, cka_linear, ...)")
    p.add_argument("--ceiling", default=None, help="split_half, nili or none")
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--data", default=None, help="data folder (default: NEUROCOMPARE_DATA)")
    a = p.parse_args(argv)
    cfg = Config(out=a.out, responses=a.responses, images=a.images, data_root=a.data)
    if a.small or os.environ.get("NEUROCOMPARE_SMALL") == "1":
        cfg.shrink()
    for key, val in (("layout", a.layout), ("model", a.model), ("metric", a.metric), ("max_images", a.max_images)):
        if val is not None:
            setattr(cfg, key, val)
    if a.layers:
        cfg.layers = tuple(a.layers)
    if a.seeds:
        cfg.seeds = tuple(a.seeds)
    if a.ceiling is not None:
        cfg.ceiling = None if a.ceiling == "none" else a.ceiling
    summary = run(cfg)
    lo, hi = summary["ci95"]
    print(f"score {summary['mean']:.3f} ± {summary['sem']:.3f} (s.e.m. over seeds {list(cfg.seeds)}; 95% CI [{lo:.3f}, {hi:.3f}]); "
          f"layers {summary['layers_chosen']}; per seed {summary['per_seed']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
