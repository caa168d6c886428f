"""The metric kernels on a CUDA device: time, and % of the device's measured GEMM rate.

Runs only when asked (``python bench/run_all.py --gpu`` or this script). Without CUDA it returns
one row saying "no GPU" and runs nothing. The inputs are created on the device before timing (no
host-device copies inside the timed call); every call is followed by ``torch.cuda.synchronize``.

Kernels (float32 inputs; the useful flops counted are the Gram products only, so the % of peak is
a lower bound for the kernels that do more):

- ``cka_linear`` biased and debiased: n^2 (dx + dy) flops (two symmetric Grams);
- ``rdm`` (correlation): n^2 d;
- ``rsa`` (correlation RDMs + Spearman): n^2 (dx + dy);
- ``ridge_predictivity`` (10 splits): 10 n_train^2 dx for the Grams (its eigendecompositions not counted).

% of peak is given against the device's fp32 rate and its TF32 rate (``torch.mm`` on 8192^2,
measured by the same run); the target is >= 50 % of the rate the kernel may use (TF32 when torch
allows TF32 matmuls, fp32 otherwise). ``--device cpu`` runs the same code on the CPU (for testing
the script where no GPU is lent; % of peak is then against the CPU's fp32 rate).

Run:  python bench/bench_gpu.py [--small] [--device cuda]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import _harness as h  # noqa: E402

TARGET_PCT = 50.0
#: (N, dx, dy) for full and --small runs
SIZES = {"full": (8192, 8192, 2048), "small": (1024, 1024, 256)}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help=f"N, dx, dy = {SIZES['small']} instead of {SIZES['full']}")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (to test the script)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (the host side)")
    ap.add_argument("--venvs", default=None, help="unused (no peers)")
    ap.add_argument("--kernels", nargs="+", default=None, metavar="PREFIX",
                    help="only the kernels whose name starts with one of these (cka_linear, rdm, rsa, ridge)")
    return ap


def _kernels(x, y, n_train: int):
    from neurocompare.similarity import cka_linear, rdm, ridge_predictivity, rsa

    n, dx = x.shape
    dy = y.shape[1]
    return [
        ("cka_linear biased", lambda: cka_linear(x, y, float64=False), n * n * (dx + dy)),
        ("cka_linear debiased", lambda: cka_linear(x, y, unbiased=True, float64=False), n * n * (dx + dy)),
        ("rdm correlation", lambda: rdm(x, "correlation", float64=False), n * n * dx),
        ("rsa correlation+spearman", lambda: rsa(x, y, float64=False), n * n * (dx + dy)),
        ("ridge_predictivity 10 splits", lambda: ridge_predictivity(x, y[:, :64]).value, 10 * n_train**2 * dx),
    ]


def run(argv: list[str] | None = None) -> list[dict]:
    """One row per kernel with its time and % of the device's fp32 (and TF32) GEMM rate."""
    args = _parser().parse_args(argv)
    import torch

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        return [h.row(bench="gpu", case="-", ours=None, precision="float32", threads=args.threads, verdict="no GPU",
                      note="torch.cuda.is_available() is False: no GPU on this machine, nothing run")]
    h.set_threads(args.threads)
    n, dx, dy = SIZES["small" if args.small else "full"]
    if device.type == "cuda":
        limits = h.gpu_limits(n=4096 if args.small else 8192)
        rates = limits["gemm_gflops"]
        sync, where = torch.cuda.synchronize, limits["device"]
        tf32 = bool(torch.backends.cuda.matmul.allow_tf32)
    else:
        rates = {"float32": h.gemm_gflops("float32", 1024 if args.small else 2048)}
        sync, where, tf32 = None, "cpu", False
    g = torch.Generator(device=device).manual_seed(0)
    s = torch.randn(n, 128, generator=g, device=device)
    x = torch.relu(s @ torch.randn(128, dx, generator=g, device=device) / 12 + torch.randn(n, dx, generator=g, device=device))
    y = s @ torch.randn(128, dy, generator=g, device=device) / 12 + torch.randn(n, dy, generator=g, device=device)
    rows = []
    for name, fn, flops in _kernels(x, y, n - n // 10):
        if args.kernels and not name.startswith(tuple(args.kernels)):
            continue
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        m = h.timed(fn, repeats=args.repeats, warmup=1, memory=device.type == "cpu", sync=sync)
        gflops = flops / m["wall_best"] / 1e9
        pct = {k: 100 * gflops / v for k, v in rates.items() if k in ("float32", "tf32")}
        used = pct.get("tf32") if tf32 else pct["float32"]
        note = f"{where}: {gflops:.0f} GFLOP/s useful; " + ", ".join(f"{v:.0f}% of {k} ({rates[k]:.0f} GFLOP/s)" for k, v in pct.items())
        if device.type == "cuda":
            note += f"; peak device memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB"
        r = h.row(bench="gpu", case=f"{name}, N={n}, {dx} vs {dy} units", ours=m, precision="float32",
                  threads=args.threads, flops=flops, note=note, verdict="met" if used >= TARGET_PCT else "not met")
        r.update(gflops=gflops, peak_gflops=rates["tf32" if tf32 else "float32"], pct_gemm_peak=used)
        rows.append(r)
    return rows


def main(argv: list[str] | None = None) -> int:
    rows = run(argv)
    print(h.format_table(rows), end="")
    for r in rows:
        print(f"  {r['case']}: {r['note']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
