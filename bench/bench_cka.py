"""Linear CKA speed and memory: neurocompare vs cka-pytorch and repsim on identical inputs.

Workload (the issue's): N = 5000 stimuli, x with 8192 units, y with 2048 units, float32,
biased and debiased (unbiased-HSIC) linear CKA. Every implementation runs in its own
subprocess (peers in their own virtual environments) on the same .npy files, so peak memory
(ru_maxrss) is measured per implementation. The same run measures this machine's torch fp32
matmul throughput, to say how close to GEMM peak our kernel runs.

Peers (install each in a venv that sees the system torch):

    python -m venv --system-site-packages /work/venvs/ckapytorch
    /work/venvs/ckapytorch/bin/pip install --no-deps cka-pytorch==1.1.3
    python -m venv --system-site-packages /work/venvs/repsim
    /work/venvs/repsim/bin/pip install repsim==0.1.5

cka-pytorch computes CKA inside forward hooks of two models (and imports lightning for that);
we call its own kernels directly, ``gram`` and the unbiased ``hsic1``, exactly as its
``CKACalculator`` combines them. It has no biased estimator, so both of our estimators are
compared with its one.

Usage::

    python bench/bench_cka.py                 # full size
    python bench/bench_cka.py --small         # N=1000, 2048 vs 512 (quick check)
    python bench/bench_cka.py --skip repsim   # leave out a slow peer
"""

from __future__ import annotations

import argparse
import importlib.util
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
PEERS = {"ckapytorch": "/work/venvs/ckapytorch/bin/python", "repsim": "/work/venvs/repsim/bin/python"}
PEER_VENVS = {"ckapytorch": "ckapytorch", "repsim": "repsim"}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


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


# ----------------------------------------------------------------------------- workers
def worker_ours(x, y, repeat):
    sys.path.insert(0, str(REPO))
    from neurocompare.similarity import cka_linear

    out = {}
    f64 = x.dtype == np.float64  # equal precision: ours computes in the dtype every peer gets
    for unbiased in (False, True):
        gemm_before = worker_gemm(x, y, 1)["gemm_gflops"]
        t, v = _best(lambda: cka_linear(x, y, unbiased=unbiased, float64=f64), repeat)
        gemm_after = worker_gemm(x, y, 1)["gemm_gflops"]
        out["unbiased" if unbiased else "biased"] = {"seconds": t, "cpu_seconds": _best.cpu, "value": v, "gemm_gflops": max(gemm_before, gemm_after)}
    return out


def worker_ckapytorch(x, y, repeat):
    import torch

    spec = importlib.util.find_spec("cka_pytorch")
    root = Path(spec.submodule_search_locations[0])
    mods = {}
    for name in ("hsic", "utils"):  # the package __init__ imports lightning for its model hooks
        s = importlib.util.spec_from_file_location(f"cka_pytorch_{name}", root / f"{name}.py")
        mods[name] = importlib.util.module_from_spec(s)
        s.loader.exec_module(mods[name])
    hsic1, gram = mods["hsic"].hsic1, mods["utils"].gram

    def run():
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        kx, ky = gram(tx)[None], gram(ty)[None]
        return float(hsic1(kx, ky)[0] / torch.sqrt(hsic1(kx, kx)[0] * hsic1(ky, ky)[0]))

    t, v = _best(run, repeat)
    return {"unbiased": {"seconds": t, "cpu_seconds": _best.cpu, "value": v}}


def worker_repsim(x, y, repeat):
    import repsim

    out = {}
    for est, key in (("gretton", "biased"), ("song", "unbiased")):
        t, v = _best(lambda: float(repsim.cka([x, y], kernel_type="linear", estimator=est)[0, 1]), repeat)
        out[key] = {"seconds": t, "cpu_seconds": _best.cpu, "value": v}
    return out


def worker_gemm(x, y, repeat):
    import torch

    a = torch.randn(4096, 4096)
    b = torch.randn(4096, 4096)
    t, _ = _best(lambda: a @ b, max(repeat, 3))
    return {"gemm_gflops": 2 * 4096**3 / t / 1e9}


WORKERS = {"ours": worker_ours, "ckapytorch": worker_ckapytorch, "repsim": worker_repsim, "gemm": worker_gemm}


def run_worker(name: str, data: str, repeat: int) -> None:
    import torch  # noqa: F401  (its import is not counted as working memory)

    if name == "ours":
        sys.path.insert(0, str(REPO))
        import neurocompare.similarity  # noqa: F401
    elif name == "repsim":
        import repsim  # noqa: F401
    base = _rss_mb()
    x = np.load(Path(data) / "x.npy")
    y = np.load(Path(data) / "y.npy")
    result = WORKERS[name](x, y, repeat)
    result["peak_rss_mb_over_start"] = _rss_mb() - base
    result["input_mb"] = (x.nbytes + y.nbytes) / 2**20
    print(json.dumps(result))


# ----------------------------------------------------------------------------- driver
def main() -> None:
    parser = argparse.ArgumentParser(description="Linear CKA benchmark: neurocompare vs cka-pytorch and repsim.")
    parser.add_argument("--small", action="store_true", help="N=1000, 2048 vs 512 units")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip", nargs="*", default=[], choices=sorted(PEERS))
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP threads for every implementation (default: library default). "
                        "On a machine shared with other jobs, --threads 1 gives stable ratios.")
    parser.add_argument("--precision", choices=["float64", "float32"], default="float64",
                        help="dtype of the inputs every implementation gets and computes in (ours: float64=...)")
    parser.add_argument("--venvs", default=None, help="directory holding the peers' venvs (default /work/venvs)")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.data, args.repeat)
        return

    n, dx, dy = (1000, 2048, 512) if args.small else (5000, 8192, 2048)
    rng = np.random.default_rng(0)
    shared = rng.standard_normal((n, 256), dtype=np.float32)
    x = np.maximum(shared @ rng.standard_normal((256, dx), dtype=np.float32) / 16 + rng.standard_normal((n, dx), dtype=np.float32), 0)
    y = shared @ rng.standard_normal((256, dy), dtype=np.float32) / 16 + rng.standard_normal((n, dy), dtype=np.float32)
    x, y = x.astype(args.precision), y.astype(args.precision)
    if args.venvs:
        for peer, sub in PEER_VENVS.items():
            PEERS[peer] = str(Path(args.venvs) / sub / "bin" / "python")
    env = dict(os.environ)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(args.threads)
    print(f"linear CKA, N={n}, x {dx} units, y {dy} units, {args.precision} for every implementation; {os.cpu_count()} cores visible, "
          f"threads={args.threads or 'default'}")
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", x)
        np.save(Path(tmp) / "y.npy", y)
        del x, y
        results = {}
        for name in ["gemm", "ours"] + [p for p in PEERS if p not in args.skip]:
            python = PEERS.get(name, sys.executable)
            if not Path(python).exists():
                print(f"  {name}: interpreter {python} not found; skipped")
                continue
            cmd = [python, __file__, "--worker", name, "--data", tmp, "--repeat", str(args.repeat)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
            if proc.returncode != 0:
                print(f"  {name}: failed\n{proc.stderr[-1500:]}")
                continue
            results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    gemm = results["gemm"]["gemm_gflops"]
    ours = results["ours"]
    flops = n * n * (dx + dy)  # two symmetric Gram products at half cost (2 n^2 d / 2 each)
    print(f"torch fp32 GEMM on this machine: {gemm:.1f} GFLOP/s")
    print(f"input arrays: {ours['input_mb']:.0f} MB")
    for est in ("biased", "unbiased"):
        r = ours[est]
        rate = flops / r["seconds"] / 1e9
        print(f"ours {est:8s}: {r['seconds']:.2f} s wall, {r['cpu_seconds']:.2f} s CPU  value {r['value']:.6f}  {rate:.1f} GFLOP/s useful "
              f"(counting n^2 (dx + dy) flops) = {100 * rate / r['gemm_gflops']:.0f}% of the GEMM rate measured "
              f"right around it ({r['gemm_gflops']:.1f} GFLOP/s)")
    print(f"ours peak memory over start: {ours['peak_rss_mb_over_start']:.0f} MB "
          f"= {ours['peak_rss_mb_over_start'] / ours['input_mb']:.2f} x input arrays (incl. the inputs)")
    for peer in PEERS:
        if peer not in results:
            continue
        for est, r in results[peer].items():
            if not isinstance(r, dict):
                continue
            mine = ours[est]
            print(f"{peer:10s} {est:8s}: {r['seconds']:.2f} s wall, {r['cpu_seconds']:.2f} s CPU  value {r['value']:.6f}  "
                  f"-> ours is {r['seconds'] / mine['seconds']:.1f}x faster in wall time, "
                  f"{r['cpu_seconds'] / mine['cpu_seconds']:.1f}x in CPU time (|diff| {abs(r['value'] - mine['value']):.1e})")
            if peer == "ckapytorch":
                b = ours["biased"]
                print(f"{peer:10s} vs ours biased: ours is {r['seconds'] / b['seconds']:.1f}x faster in wall time, "
                      f"{r['cpu_seconds'] / b['cpu_seconds']:.1f}x in CPU time")
        print(f"{peer:10s} peak memory over start: {results[peer]['peak_rss_mb_over_start']:.0f} MB")


if __name__ == "__main__":
    main()
