"""RSA speed: correlation-distance RDMs of two response sets + Spearman comparison, vs rsatoolbox.

Workloads (issue 22): N = 100, 300, 1000, 2000 stimuli, D = 4000 units per response set, in
float64 (rsatoolbox's usual precision; the target ratio, >= 10x) and in float32 (both sides given
float32 inputs: rsatoolbox's ``calc_rdm`` then computes its einsum in float32 too; ours runs with
``float64=False``). rsatoolbox 0.3.2 runs ``calc_rdm(Dataset(x), method='correlation')`` for both
sets and ``compare(rdm_x, rdm_y, method='spearman')``; we run ``neurocompare.similarity.rsa(x, y)``.
Each side runs in a fresh subprocess (the peer in its venv, ``bench/peers.sh``) on the same .npy
files at the same thread count, measured by ``bench/_harness.timed`` around the RSA call only.

``error_ours`` / ``error_peer`` are |value - reference|, the reference computed here in float64
from the textbook definition (rows centred and normalised, numpy Gram matrix, scipy 1.17
``spearmanr`` of the condensed distances).

``--blockwise N [N ...]`` adds rows for ``rsa(..., block_size=512)`` at those sizes (D = 1000,
ours only: rsatoolbox holds every RDM in memory), with the peak resident memory.

Usage::

    python bench/bench_rsa.py                      # N = 100, 300, 1000, 2000; float64 and float32
    python bench/bench_rsa.py --small              # N = 100, 300 at D = 1000
    python bench/bench_rsa.py --blockwise 5000 10000 20000 --sizes   # block-wise rows only
    python bench/bench_rsa.py --threads 1 --venvs /work/venvs
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

#: (N, D) per run size; every size runs in float64 and float32
SIZES = {"full": [(100, 4000), (300, 4000), (1000, 4000), (2000, 4000)], "small": [(100, 1000), (300, 1000)]}
PRECISIONS = ("float64", "float32")
TARGET = 10.0
BLOCK = 512


def _repeats(n: int) -> int:
    """Timed calls per side: many for the millisecond cases (shared machine: best of many)."""
    return 30 if n <= 100 else 10 if n <= 300 else 3 if n <= 1000 else 2


# ----------------------------------------------------------------------------- workers (subprocesses)
def _ours(x, y, repeats, warmup, block):
    sys.path.insert(0, str(REPO))
    from neurocompare.similarity import rsa

    f64 = x.dtype == np.float64
    kw = {"block_size": block, "progress": False} if block else {}
    return h.timed(lambda: rsa(x, y, float64=f64, **kw), repeats, warmup)


def _rsatoolbox(x, y, repeats, warmup, block):
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm, compare

    def run():
        rx = calc_rdm(Dataset(x), method="correlation")
        ry = calc_rdm(Dataset(y), method="correlation")
        return float(compare(rx, ry, method="spearman")[0, 0])

    return h.timed(run, repeats, warmup)


WORKERS = {"ours": _ours, "rsatoolbox": _rsatoolbox}


def worker(name: str, data: str, repeats: int, warmup: int, block: int) -> None:
    """Load the inputs (not measured), measure ``name``'s RSA calls, emit the measurement."""
    import torch  # noqa: F401  (imported before the baseline, like every library's import)

    h.set_threads(int(os.environ.get("NEUROCOMPARE_BENCH_THREADS", "1")))
    x, y = np.load(Path(data) / "x.npy"), np.load(Path(data) / "y.npy")
    h.emit(WORKERS[name](x, y, repeats, warmup, block))


# ----------------------------------------------------------------------------- data and reference
def make_inputs(n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded float64 x, y (n, d) sharing a 50-dim latent, plus noise (Spearman RSA about 0.98)."""
    sys.path.insert(0, str(REPO))
    from neurocompare._seeding import numpy_rng

    rng = numpy_rng(0, "bench_rsa", n, d)
    latent = rng.standard_normal((n, 50))
    x = latent @ rng.standard_normal((50, d)) + 3.0 * rng.standard_normal((n, d))
    y = latent @ rng.standard_normal((50, d)) + 3.0 * rng.standard_normal((n, d))
    return x, y


def reference(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman correlation of the two correlation-distance RDMs, in float64 (textbook definition)."""
    import scipy.stats

    def condensed(a):
        a = a.astype(np.float64)
        a = a - a.mean(1, keepdims=True)
        a /= np.sqrt((a * a).sum(1, keepdims=True))
        d = 1.0 - a @ a.T
        return d[np.triu_indices(a.shape[0], 1)]

    return float(scipy.stats.spearmanr(condensed(x), condensed(y)).statistic)


# ----------------------------------------------------------------------------- driver
def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="RSA (correlation RDMs + Spearman): neurocompare vs rsatoolbox 0.3.2.")
    ap.add_argument("--small", action="store_true", help="N = 100, 300 at D = 1000")
    ap.add_argument("--threads", type=int, default=1, help="threads of both implementations (default 1)")
    ap.add_argument("--venvs", default="/work/venvs", help="folder of the peers' venvs (bench/peers.sh)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=None, help="timed calls per side (default: by N, 30 ... 2)")
    ap.add_argument("--precision", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    ap.add_argument("--blockwise", nargs="*", type=int, default=[], metavar="N",
                    help=f"also time rsa(block_size={BLOCK}) at these N (D = 1000, float32 and float64; ours only)")
    ap.add_argument("--sizes", nargs="*", default=None, metavar="NxD",
                    help="override the in-memory sizes (e.g. 100x4000); pass none to run only --blockwise")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--block", type=int, default=0, help=argparse.SUPPRESS)
    return ap


def _measure(python, tmp: str, name: str, repeats: int, args, block: int = 0) -> dict:
    return h.run_peer(python, __file__, ["--worker", name, "--data", tmp, "--repeats", repeats, "--warmup", args.warmup,
                                         "--block", block], threads=args.threads)


def run(argv: list[str] | None = None) -> list[dict]:
    """Every in-memory size in both precisions (ours vs rsatoolbox) and the block-wise sizes (ours)."""
    args = _parser().parse_args(argv)
    peer_python = Path(args.venvs) / "rsatoolbox" / "bin" / "python"
    if args.sizes is None:
        sizes = SIZES["small" if args.small else "full"]
    else:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
    rows = []
    for n, d in sizes:
        x64, y64 = make_inputs(n, d)
        for precision in args.precision:
            x, y = x64.astype(precision), y64.astype(precision)
            ref = reference(x, y)
            repeats = args.repeats or _repeats(n)
            with tempfile.TemporaryDirectory() as tmp:
                np.save(Path(tmp) / "x.npy", x)
                np.save(Path(tmp) / "y.npy", y)
                ours = _measure(sys.executable, tmp, "ours", repeats, args)
                peer = _measure(peer_python, tmp, "rsatoolbox", repeats, args)
            case = f"N={n}, D={d}"
            common = dict(bench="rsa", case=case, precision=precision, threads=args.threads, flops=2.0 * n * n * d)
            if ours.get("status") != "ok":
                rows.append(h.row(ours=None, note=f"ours failed: {ours.get('detail', '')[-300:]}", **common))
                continue

            def err(m):
                v = (m or {}).get("value")
                return None if v is None else abs(v - ref)

            ok = peer.get("status") == "ok"
            rows.append(h.row(ours=ours, peer=peer, peer_name="rsatoolbox", target=TARGET if precision == "float64" else None,
                              error_ours=err(ours), error_peer=err(peer) if ok else None,
                              note=f"reference {ref:.12f}; best of {repeats}", **common))
    for n in args.blockwise:
        x64, y64 = make_inputs(n, 1000)
        for precision in args.precision:
            with tempfile.TemporaryDirectory() as tmp:
                np.save(Path(tmp) / "x.npy", x64.astype(precision))
                np.save(Path(tmp) / "y.npy", y64.astype(precision))
                ours = _measure(sys.executable, tmp, "ours", 1, argparse.Namespace(warmup=0, threads=args.threads), BLOCK)
            rows.append(h.row(bench="rsa", case=f"block-wise N={n}, D=1000", ours=ours if ours.get("status") == "ok" else None,
                              precision=precision, threads=args.threads, flops=2.0 * n * n * 1000,
                              note=(f"rsa(block_size={BLOCK}), one call; no peer holds this in bounded memory"
                                    if ours.get("status") == "ok" else f"ours failed: {ours.get('detail', '')[-300:]}")))
        del x64, y64
    return rows


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.repeats, args.warmup, args.block)
        return 0
    rows = run(argv)
    h.attach_limits(rows, h.machine_limits(args.threads))
    print(h.format_table(rows), end="")
    for r in rows:
        o, p = r["ours"] or {}, r["peer"] or {}
        print(f"  {r['case']} {r['precision']}: ours {o.get('wall_best', float('nan')):.4f} s wall, "
              f"{o.get('cpu_best', float('nan')):.4f} s CPU, {o.get('peak_mb') or float('nan'):.0f} MiB"
              + (f"; rsatoolbox {p.get('wall_best'):.4f} s wall, {p.get('cpu_best'):.4f} s CPU, "
                 f"{p.get('peak_mb') or float('nan'):.0f} MiB" if r.get("peer_status") == "ok" else "")
              + f"; |error| ours {r['error_ours']}, peer {r['error_peer']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
