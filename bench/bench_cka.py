"""Linear CKA speed and memory: neurocompare vs cka-pytorch and repsim on identical inputs.

Workloads: ``SIZES`` below (N stimuli, x and y with different unit counts; the issue's is N=5000,
8192 vs 2048 units). Every implementation, ours included, runs in a fresh subprocess (the
peers in their own venvs, see ``bench/peers.sh``) on the same ``.npy`` files, in the same dtype, at
the same thread count, and is measured by ``bench/_harness.timed`` around the CKA call only (wall,
CPU seconds, peak RSS over the RSS right before the call).

What is compared with what (like with like only):

- debiased CKA (unbiased HSIC, Song et al. 2012): ours ``cka_linear(unbiased=True)`` vs
  cka-pytorch 1.1.3's own kernels ``gram`` and ``hsic1`` combined as its ``CKACalculator`` does
  (its package ``__init__`` imports lightning for model hooks, so the two files are loaded
  directly). Target: ours >= 2.5x faster.
- biased CKA: ours ``cka_linear()`` vs repsim 0.1.5 ``cka(kernel_type='linear',
  estimator='gretton')``. repsim's C++ core computes in float64 whatever it is given, so this pair is
  timed in float64 only.
- repsim's ``'song'`` and ``'lange'`` estimators are *not* debiased CKA (N=300 check: 0.7844 and
  0.7847 where debiased CKA is 0.8416 and biased 0.8518), so they are not timed against ours.

Errors (``error_ours``, ``error_peer``) are |value - reference|, the reference computed in float64
by numpy from the Gram matrices in this process (textbook formulas, not any library's code).

Usage::

    python bench/bench_cka.py                  # N=5000 float32 and N=2000 float64
    python bench/bench_cka.py --small          # N=1000, 2048 vs 512 units, both dtypes
    python bench/bench_cka.py --threads 2 --venvs /work/venvs
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import _harness as h  # noqa: E402

#: (N, units of x, units of y, precision): full and --small workloads
SIZES = {"full": [(5000, 8192, 2048, "float32"), (2000, 4096, 1024, "float64")],
         "small": [(1000, 2048, 512, "float32"), (1000, 2048, 512, "float64")]}
TARGET_CKAPYTORCH = 2.5


# ----------------------------------------------------------------------------- workers (subprocesses)
def _ours(x, y, repeats, warmup):
    sys.path.insert(0, str(REPO))
    from neurocompare.similarity import cka_linear

    f64 = x.dtype == np.float64
    return {est: h.timed(lambda u=(est == "unbiased"): cka_linear(x, y, unbiased=u, float64=f64), repeats, warmup)
            for est in ("biased", "unbiased")}


def _ckapytorch(x, y, repeats, warmup):
    import torch

    torch.set_num_threads(int(os.environ.get("NEUROCOMPARE_BENCH_THREADS", "1")))
    root = Path(importlib.util.find_spec("cka_pytorch").submodule_search_locations[0])
    mods = {}
    for name in ("hsic", "utils"):
        spec = importlib.util.spec_from_file_location(f"cka_pytorch_{name}", root / f"{name}.py")
        mods[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mods[name])
    hsic1, gram = mods["hsic"].hsic1, mods["utils"].gram

    def run():
        kx, ky = gram(torch.from_numpy(x))[None], gram(torch.from_numpy(y))[None]
        return float(hsic1(kx, ky)[0] / torch.sqrt(hsic1(kx, kx)[0] * hsic1(ky, ky)[0]))

    return {"unbiased": h.timed(run, repeats, warmup)}


def _repsim(x, y, repeats, warmup):
    import repsim

    return {"biased": h.timed(lambda: float(repsim.cka([x, y], kernel_type="linear", estimator="gretton")[0, 1]),
                              repeats, warmup)}


WORKERS = {"ours": _ours, "ckapytorch": _ckapytorch, "repsim": _repsim}


def worker(name: str, data: str, repeats: int, warmup: int) -> None:
    """Load the inputs (not measured), measure ``name``'s CKA calls, emit the measurements."""
    import torch  # noqa: F401  (imported before the baseline, like every library's import)

    h.set_threads(int(os.environ.get("NEUROCOMPARE_BENCH_THREADS", "1")))
    x, y = np.load(Path(data) / "x.npy"), np.load(Path(data) / "y.npy")
    h.emit(WORKERS[name](x, y, repeats, warmup))


# ----------------------------------------------------------------------------- reference and data
def make_inputs(n: int, dx: int, dy: int, precision: str) -> tuple[np.ndarray, np.ndarray]:
    """Seeded inputs with shared structure: x = relu(s A / 16 + noise), y = s B / 16 + noise, s of rank 256."""
    sys.path.insert(0, str(REPO))
    from neurocompare._seeding import numpy_rng

    rng = numpy_rng(0, "bench_cka", n, dx, dy)
    s = rng.standard_normal((n, 256), dtype=np.float32)
    x = np.maximum(s @ rng.standard_normal((256, dx), dtype=np.float32) / 16 + rng.standard_normal((n, dx), dtype=np.float32), 0)
    y = s @ rng.standard_normal((256, dy), dtype=np.float32) / 16 + rng.standard_normal((n, dy), dtype=np.float32)
    return x.astype(precision), y.astype(precision)


def reference_cka(x: np.ndarray, y: np.ndarray) -> dict:
    """Biased and debiased linear CKA in float64 from the Gram matrices (n, n).

    Biased: tr(Kc Lc) / sqrt(tr(Kc Kc) tr(Lc Lc)) with Kc = H K H. Debiased: the unbiased HSIC
    estimator of Song et al. (2012) on K, L with zeroed diagonals, normalised the same way.
    """
    k = x.astype(np.float64) @ x.astype(np.float64).T
    l = y.astype(np.float64) @ y.astype(np.float64).T  # noqa: E741
    n = k.shape[0]

    def centred(m):
        m = m - m.mean(axis=0, keepdims=True)
        return m - m.mean(axis=1, keepdims=True)

    kc, lc = centred(k), centred(l)
    biased = np.vdot(kc, lc) / np.sqrt(np.vdot(kc, kc) * np.vdot(lc, lc))
    del kc, lc

    def hsic1(a, b):
        a, b = a.copy(), b.copy()
        np.fill_diagonal(a, 0)
        np.fill_diagonal(b, 0)
        sa, sb = a.sum(axis=0), b.sum(axis=0)
        return (np.vdot(a, b) + sa.sum() * sb.sum() / ((n - 1) * (n - 2)) - 2 / (n - 2) * sa @ sb) / (n * (n - 3))

    unbiased = hsic1(k, l) / np.sqrt(hsic1(k, k) * hsic1(l, l))
    return {"biased": float(biased), "unbiased": float(unbiased)}


# ----------------------------------------------------------------------------- driver
def _combine(results: list[dict]) -> dict:
    """One worker's emitted dicts from several rounds -> the best of each estimator (or the first failure)."""
    good = [r for r in results if r.get("status") == "ok"]
    if not good:
        return results[0]
    return {"status": "ok", **{est: h.best_of([r[est] for r in good]) for est in good[0] if est != "status"}}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="Linear CKA: neurocompare vs cka-pytorch (debiased) and repsim (biased).")
    ap.add_argument("--small", action="store_true", help="N=1000, 2048 vs 512 units, float32 and float64")
    ap.add_argument("--threads", type=int, default=1, help="threads of every implementation (default 1)")
    ap.add_argument("--venvs", default="/work/venvs", help="folder of the peers' venvs (bench/peers.sh)")
    ap.add_argument("--repeats", type=int, default=1, help="timed calls per implementation and round (best is kept)")
    ap.add_argument("--warmup", type=int, default=None,
                    help="untimed calls first in each process (default 1 with --small; 0 at full size, where a call "
                    "takes seconds to minutes and one-time costs are the same small share for every side)")
    ap.add_argument("--rounds", type=int, default=2, help="alternate ours and the peers this many times (best is kept)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["ckapytorch", "repsim"], help="leave out peers")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    return ap


def run(argv: list[str] | None = None) -> list[dict]:
    """Measure every workload of ``SIZES``; returns one harness row per (workload, estimator, peer)."""
    args = _parser().parse_args(argv)
    if args.warmup is None:
        args.warmup = 1 if args.small else 0
    venvs = Path(args.venvs)
    pythons = {"ours": sys.executable, "ckapytorch": venvs / "ckapytorch" / "bin" / "python",
               "repsim": venvs / "repsim" / "bin" / "python"}
    rows = []
    for n, dx, dy, precision in SIZES["small" if args.small else "full"]:
        case = f"N={n}, {dx} vs {dy} units"
        x, y = make_inputs(n, dx, dy, precision)
        ref = reference_cka(x, y)
        peers = ["ckapytorch"] + (["repsim"] if precision == "float64" else [])
        peers = [p for p in peers if p not in args.skip]
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / "x.npy", x)
            np.save(Path(tmp) / "y.npy", y)
            del x, y
            runs = {name: [] for name in ["ours", *peers]}
            for _ in range(args.rounds):  # alternate: a load change on the shared machine hits every side
                for name in runs:
                    runs[name].append(h.run_peer(pythons[name], __file__, ["--worker", name, "--data", tmp, "--repeats",
                                                 args.repeats, "--warmup", args.warmup], threads=args.threads))
        out = {name: _combine(r) for name, r in runs.items()}
        ours = out["ours"]
        if ours.get("status") != "ok":
            rows.append(h.row(bench="cka", case=case, ours=None, precision=precision, threads=args.threads,
                              note=f"ours failed: {ours.get('detail', '')[-300:]}"))
            continue
        flops = float(n) * n * (dx + dy)  # two symmetric Gram products (n^2 d each); the n^2 rest is not counted

        def err(m, est):
            v = (m or {}).get("value")
            return None if v is None else abs(v - ref[est])

        common = dict(bench="cka", precision=precision, threads=args.threads, flops=flops)
        pairs = {"unbiased": ("ckapytorch", TARGET_CKAPYTORCH), "biased": ("repsim", None)}
        for est in ("unbiased", "biased"):
            peer_name, target = pairs[est]
            label = f"{case}, {'debiased' if est == 'unbiased' else 'biased'} CKA"
            if peer_name in peers:
                peer = out[peer_name]
                ok = peer.get("status") == "ok"
                pm = {**peer[est], "status": "ok"} if ok else peer
                rows.append(h.row(case=label, ours=ours[est], peer=pm, peer_name=peer_name, target=target,
                                  error_ours=err(ours[est], est), error_peer=err(pm, est) if ok else None,
                                  note=f"reference {ref[est]:.9f}", **common))
            else:
                rows.append(h.row(case=label, ours=ours[est], error_ours=err(ours[est], est),
                                  note=f"reference {ref[est]:.9f}; no peer computes this in {precision}", **common))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.repeats, args.warmup)
        return 0
    rows = run(argv)
    h.attach_limits(rows, h.machine_limits(args.threads))
    print(h.format_table(rows), end="")
    for r in rows:
        print(f"  {r['case']}: ours {(r['ours'] or {}).get('peak_mb', float('nan')):.0f} MiB peak"
              + (f", {r['peer_name']} {(r['peer'] or {}).get('peak_mb') or float('nan'):.0f} MiB" if r.get("peer_status") == "ok" else "")
              + f"; |error| ours {r['error_ours']}, peer {r['error_peer']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
