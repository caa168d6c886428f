"""RSA speed: correlation-distance RDMs of two response sets + Spearman comparison, vs rsatoolbox.

Workload (the issue's): N = 1000 stimuli, D = 20000 units per response set, float64 data (what
rsatoolbox holds). rsatoolbox runs ``calc_rdm(Dataset(x), method='correlation')`` for both sets and
``compare(rdm_x, rdm_y, method='spearman')``; we run ``neurocompare.similarity.rsa(x, y)``
(``float64=True``, the default on CPU and rsatoolbox's precision: the equal-precision ratio; and
once with ``float64=False`` for speed). Each
implementation runs in its own subprocess on the same .npy files.

Peer::

    python -m venv --system-site-packages /work/venvs/rsatoolbox
    /work/venvs/rsatoolbox/bin/pip install rsatoolbox==0.3.2

Usage::

    python bench/bench_rsa.py              # full size
    python bench/bench_rsa.py --small      # N=300, D=4000
    python bench/bench_rsa.py --threads 1  # same thread count for both (stable on a shared machine)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RSATOOLBOX = "/work/venvs/rsatoolbox/bin/python"


def _best(fn, repeat: int):
    """Best wall time over ``repeat`` runs; the CPU time of that run is kept in _best.cpu."""
    times, value = [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        value = fn()
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    wall, cpu = min(times)
    _best.cpu = cpu
    return wall, value


def worker_ours(x, y, repeat):
    sys.path.insert(0, str(REPO))
    from neurocompare.similarity import rsa

    t32, v32 = _best(lambda: rsa(x, y, float64=False), repeat)
    c32 = _best.cpu
    t64, v64 = _best(lambda: rsa(x, y, float64=True), repeat)  # rsatoolbox's precision: the equal-precision ratio
    return {"float32": {"seconds": t32, "value": v32, "cpu_seconds": c32}, "float64": {"seconds": t64, "value": v64, "cpu_seconds": _best.cpu}}


def worker_rsatoolbox(x, y, repeat):
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm, compare

    def run():
        rx = calc_rdm(Dataset(x), method="correlation")
        ry = calc_rdm(Dataset(y), method="correlation")
        return float(compare(rx, ry, method="spearman")[0, 0])

    t, v = _best(run, repeat)
    return {"float64": {"seconds": t, "cpu_seconds": _best.cpu, "value": v}}


WORKERS = {"ours": worker_ours, "rsatoolbox": worker_rsatoolbox}


def run_worker(name: str, data: str, repeat: int) -> None:
    import torch  # noqa: F401

    x = np.load(Path(data) / "x.npy")
    y = np.load(Path(data) / "y.npy")
    out = WORKERS[name](x, y, repeat)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description="RSA benchmark: neurocompare vs rsatoolbox.")
    parser.add_argument("--small", action="store_true", help="N=300, D=4000")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="BLAS/OpenMP threads for both implementations")
    parser.add_argument("--venvs", default=None, help="directory holding the rsatoolbox venv 'rsatoolbox' (default /work/venvs)")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.data, args.repeat)
        return
    n, d = (300, 4000) if args.small else (1000, 20000)
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((n, 50))
    x = latent @ rng.standard_normal((50, d)) + 3.0 * rng.standard_normal((n, d))
    y = latent @ rng.standard_normal((50, d)) + 3.0 * rng.standard_normal((n, d))
    env = dict(os.environ)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(args.threads)
    print(f"RSA (correlation RDMs + Spearman), N={n}, D={d} per set, float64 input; threads={args.threads or 'default'}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", x)
        np.save(Path(tmp) / "y.npy", y)
        del x, y
        peer = str(Path(args.venvs) / "rsatoolbox" / "bin" / "python") if args.venvs else RSATOOLBOX
        for name, python in (("ours", sys.executable), ("rsatoolbox", peer)):
            if not Path(python).exists():
                print(f"  {name}: interpreter {python} not found; skipped")
                continue
            cmd = [python, __file__, "--worker", name, "--data", tmp, "--repeat", str(args.repeat)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
            if proc.returncode != 0:
                print(f"  {name}: failed\n{proc.stderr[-1500:]}")
                continue
            results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = results["ours"]
    for prec in ("float32", "float64"):
        print(f"ours ({prec}): {ours[prec]['seconds']:.3f} s wall, {ours[prec]['cpu_seconds']:.3f} s CPU  "
              f"spearman {ours[prec]['value']:.9f}")
    print(f"ours peak RSS: {ours['peak_rss_mb']:.0f} MB")
    if "rsatoolbox" in results:
        ref = results["rsatoolbox"]["float64"]
        print(f"rsatoolbox: {ref['seconds']:.3f} s wall, {ref['cpu_seconds']:.3f} s CPU  spearman {ref['value']:.9f}  "
              f"peak RSS {results['rsatoolbox']['peak_rss_mb']:.0f} MB")
        for prec in ("float32", "float64"):
            print(f"ratio ({prec}): ours is {ref['seconds'] / ours[prec]['seconds']:.1f}x faster in wall time, "
                  f"{ref['cpu_seconds'] / ours[prec]['cpu_seconds']:.1f}x in CPU time; "
                  f"|value diff| {abs(ref['value'] - ours[prec]['value']):.1e}")


if __name__ == "__main__":
    main()
