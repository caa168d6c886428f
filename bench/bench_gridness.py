"""Gridness of many rate maps: neurocompare vs spatial-maps and opexebo on the same maps.

Every side runs in a fresh subprocess at the same thread count (ours with this interpreter, the
peers in ``<venvs>/gridpeers``, see ``bench/peers.sh``), loads the same ``.npy`` maps and is timed
by ``bench/_harness.timed`` around the scoring of all maps only (autocorrelogram included, imports
and input loading excluded). Ours runs before and after each peer (best of both), for a shared machine.

What is timed, per side (all in float64):

- neurocompare: ``gridness(maps, "sargolini")`` for the whole stack at once: the autocorrelograms'
  lags that the 1.8 n crop keeps (as BNT/opexebo), then the ring sweep; the same numbers, bit for
  bit, as ``autocorrelogram`` + ``crop_autocorrelogram`` + ``gridness_from_autocorrelogram``. The
  banino variant (``gridness(maps, "banino")``) is timed as well (a row without peer: no peer
  computes it).
- spatial-maps 0.2.1: ``spatial_maps.gridness(rate_map)`` per map (its own autocorrelation; one
  ring fixed by the peak distances; min(r60) - max(r30)): a *different definition*, so the scores
  agree only in rank (the note gives Spearman and the median |difference|). Target: ours >= 10x.
- opexebo 0.7.2: ``analysis.autocorrelation`` then ``analysis.grid_score`` per map: the definition
  of our sargolini variant (min(r60, r120) - max(r30, r90, r150), radius sweep, running mean of 3).
  With numpy 2 its private ``_findCentreRadius`` returns a 1-element array that ``int()`` refuses;
  the peer code wraps it to return a float (the algorithm is untouched). It takes ~0.3 s per map,
  so it scores fewer maps (ours is timed on those same maps). Target: ours >= 50x.

Maps: half ideal hexagonal grids, a quarter square grids, a quarter Gaussian random fields
(seeded). Ratios are peer wall / our wall (above 1: ours is faster).

Usage::

    python bench/bench_gridness.py                  # 512 maps vs spatial-maps, 128 vs opexebo, 40 x 40
    python bench/bench_gridness.py --small          # 128 and 32 maps
    python bench/bench_gridness.py --threads 1 --venvs /work/venvs --skip opexebo
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import _harness as h  # noqa: E402

#: (maps vs spatial-maps, maps vs opexebo) for the full and --small runs
SIZES = {"full": (512, 128), "small": (128, 32)}
TARGETS = {"spatial_maps": 10.0, "opexebo": 50.0}


# ----------------------------------------------------------------------------- workers (subprocesses)
def _ours(maps, repeats):
    sys.path.insert(0, str(REPO))
    from neurocompare import gridcells as gc

    out = {}

    def sargolini():
        out["sargolini"] = gc.gridness(maps, "sargolini")

    def banino():
        out["banino"] = gc.gridness(maps, "banino")

    res = {"sargolini": h.timed(sargolini, repeats, warmup=1), "banino": h.timed(banino, repeats, warmup=1)}
    res["scores"] = {k: np.asarray(v).tolist() for k, v in out.items()}
    return res


def _spatial_maps(maps, repeats):
    import spatial_maps

    out = {}

    def run():
        scores = []
        for m in maps:
            try:
                scores.append(float(spatial_maps.gridness(m)))
            except Exception:  # noqa: BLE001  (a map it cannot score: NaN, as ours gives)
                scores.append(float("nan"))
        out["scores"] = scores

    return {"sargolini": h.timed(run, repeats, warmup=1), "scores": {"sargolini": out["scores"]}}


def _opexebo(maps, repeats):
    import opexebo

    mod = sys.modules["opexebo.analysis.grid_score"]
    orig = mod._findCentreRadius
    mod._findCentreRadius = lambda *a, **k: float(np.ravel(orig(*a, **k))[0])
    opexebo.analysis.grid_score(opexebo.analysis.autocorrelation(maps[0]))  # warm-up on one map (not timed)
    out = {}

    def run():
        scores = []
        for m in maps:
            try:
                scores.append(float(opexebo.analysis.grid_score(opexebo.analysis.autocorrelation(m))[0]))
            except Exception:  # noqa: BLE001
                scores.append(float("nan"))
        out["scores"] = scores

    # ~0.3 s per map: one timed pass, no full warm-up pass
    return {"sargolini": h.timed(run, max(1, min(repeats, 1)), warmup=0), "scores": {"sargolini": out["scores"]}}


WORKERS = {"ours": _ours, "spatial_maps": _spatial_maps, "opexebo": _opexebo}


def worker(name: str, data: str, repeats: int) -> None:
    """Load the maps (not measured), time ``name``'s scoring of all of them, emit the measurements and scores."""
    import warnings

    warnings.simplefilter("ignore")
    h.set_threads(int(os.environ.get("NEUROCOMPARE_BENCH_THREADS", "1")))
    h.emit(WORKERS[name](np.load(data), repeats))


# ----------------------------------------------------------------------------- inputs and agreement
def make_maps(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Half ideal hexagonal grids, a quarter square grids, a quarter Gaussian random fields; dims (n, size, size)."""
    sys.path.insert(0, str(REPO))
    from scipy import ndimage

    from neurocompare import gridcells as gc
    from neurocompare._seeding import numpy_rng

    rng = numpy_rng(seed, "bench_gridness", n, size)
    n_hex, n_sq = n // 2, n // 4
    n_rf = n - n_hex - n_sq
    hexa = gc.hexagonal_grid_maps(n_hex, size=size, spacing=rng.uniform(7, 16, n_hex), seed=seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    sq = []
    for _ in range(n_sq):
        s, t, ph = rng.uniform(7, 16), np.deg2rad(rng.uniform(0, 90)), rng.uniform(0, 16, 2)
        u = np.cos(t) * xx + np.sin(t) * yy - ph[0]
        v = -np.sin(t) * xx + np.cos(t) * yy - ph[1]
        du, dv = (u + s / 2) % s - s / 2, (v + s / 2) % s - s / 2
        sq.append(np.exp(-(du**2 + dv**2) / (2 * (0.3 * s) ** 2)))
    rf = ndimage.gaussian_filter(rng.normal(size=(n_rf, size, size)), (0, 2.5, 2.5))
    rf = rf - rf.min(axis=(1, 2), keepdims=True)
    kind = np.array(["hexagonal"] * n_hex + ["square"] * n_sq + ["random"] * n_rf)
    return np.concatenate([hexa, np.array(sq).reshape(-1, size, size), rf]), kind


def agreement(a, b) -> str:
    """Spearman rho and median |a - b| over the maps both score (a text for the row's note)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return f"scores comparable on {int(ok.sum())} maps only"
    rho = spearmanr(a[ok], b[ok])[0]
    return f"Spearman {rho:.3f}, median |diff| {np.median(np.abs(a[ok] - b[ok])):.3f} on {int(ok.sum())}/{len(a)} maps"


def _best_of(first: dict, second: dict) -> dict:
    """Of two runs of our worker, per variant the measurement with the lower best wall time."""
    runs = [r for r in (first, second) if r.get("status") == "ok"]
    if not runs:
        return first
    out = dict(runs[0])
    for variant in ("sargolini", "banino"):
        out[variant] = min((r[variant] for r in runs), key=lambda m: m["wall_best"])
    return out


# ----------------------------------------------------------------------------- driver
def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="Gridness: neurocompare vs spatial-maps and opexebo on the same maps.")
    ap.add_argument("--small", action="store_true", help="128 maps vs spatial-maps, 32 vs opexebo")
    ap.add_argument("--threads", type=int, default=1, help="threads of every side (default 1)")
    ap.add_argument("--venvs", default="/work/venvs", help="folder of the peers' venvs (bench/peers.sh)")
    ap.add_argument("--size", type=int, default=40, help="bins per side of the maps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="timed passes of ours and spatial-maps (best kept)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["spatial_maps", "opexebo"], help="leave out peers")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    return ap


def run(argv: list[str] | None = None) -> list[dict]:
    """One row per (peer, map count) with ratios, plus our banino variant; see the module docstring."""
    args = _parser().parse_args(argv)
    peer_python = Path(args.venvs) / "gridpeers" / "bin" / "python"
    n_sm, n_op = SIZES["small" if args.small else "full"]
    cases = [(p, n) for p, n in (("spatial_maps", n_sm), ("opexebo", n_op)) if p not in args.skip]
    rows = []
    common = dict(bench="gridness", precision="float64", threads=args.threads)
    for peer_name, n in cases:
        maps, kind = make_maps(n, args.size, args.seed)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "maps.npy"
            np.save(path, maps)
            wargs = ["--data", path, "--repeats", args.repeats]
            # ours before and after the peer, best of both: a shared machine's load changes over minutes
            before = h.run_peer(sys.executable, __file__, ["--worker", "ours", *wargs], threads=args.threads)
            peer = h.run_peer(peer_python, __file__, ["--worker", peer_name, *wargs], threads=args.threads)
            after = h.run_peer(sys.executable, __file__, ["--worker", "ours", *wargs], threads=args.threads)
        ours = _best_of(before, after)
        case = f"{n} maps {args.size}x{args.size}, sargolini"
        if ours.get("status") != "ok":
            rows.append(h.row(case=case, ours=None, note=f"ours failed: {ours.get('detail', '')[-300:]}", **common))
            continue
        ok = peer.get("status") == "ok"
        pm = {**peer["sargolini"], "status": "ok"} if ok else peer
        ours_scores = ours["scores"]["sargolini"]
        if ok:
            same = "same definition" if peer_name == "opexebo" else "another definition (one ring, min(r60) - max(r30))"
            note = f"{same}; agreement with ours: {agreement(ours_scores, peer['scores']['sargolini'])}"
        else:
            note = "peer not run"
        hexa = kind == "hexagonal"
        note += f"; ours: median score hexagonal {np.nanmedian(np.asarray(ours_scores)[hexa]):+.2f}, others {np.nanmedian(np.asarray(ours_scores)[~hexa]):+.2f}"
        rows.append(h.row(case=case, ours=ours["sargolini"], peer=pm, peer_name=peer_name,
                          target=TARGETS[peer_name], note=note, **common))
        if peer_name == "spatial_maps" or "spatial_maps" in args.skip:
            rows.append(h.row(case=f"{n} maps {args.size}x{args.size}, banino", ours=ours["banino"],
                              note="DeepMind's definition; no peer computes it (timed for the record)", **common))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.repeats)
        return 0
    rows = run(argv)
    h.attach_limits(rows, h.machine_limits(args.threads))
    print(h.format_table(rows), end="")
    for r in rows:
        print(f"  {r['case']}: {r['note']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
