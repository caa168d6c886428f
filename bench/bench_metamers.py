"""Metamer synthesis throughput and peak memory: neurocompare vs plenoptic's ``Metamer``.

Same model (convnet_small, MNIST-sized, fixed seed), same layer, same 16 images, same initial
noise, same loss (relative error ‖f(x) − f(x0)‖ / ‖f(x0)‖), same optimiser (Adam, same learning
rate) and the same number of iterations. plenoptic synthesises one image per ``Metamer`` object
(its documented usage), neurocompare all 16 as one batch. Each side runs in its own process (so
peak memory is its own): plenoptic in its venv, neurocompare in this interpreter.

Rows printed:

- ``plenoptic adam``: 16 × ``Metamer(img, model).synthesize(n_iter)``.
- ``ours adam``: ``synthesize_metamers(..., method='adam')``, same iterations, one batch.
- ``ours feather``: the Feather et al. schedule (normalised-gradient steps, step size halved in
  each of 8 rounds) with the same iteration budget.
- ``ours feather @ plenoptic error``: the same, but each metamer stops as soon as its relative
  error is as low as plenoptic's final error for that image (equal final error; throughput =
  metamers / time to get there).

Usage::

    python bench/bench_metamers.py [--n-images 16] [--n-iter 300] [--layer block2.relu]
        [--device cpu|cuda] [--threads 1] [--plenoptic-python /work/venvs/plenoptic/bin/python]

Install the peer: ``python -m venv /work/venvs/plenoptic &&
/work/venvs/plenoptic/bin/pip install torch==2.13.0 plenoptic``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rel_err(rep, target):
    return (rep - target).norm() / target.norm()


def _worker_plenoptic(args: argparse.Namespace) -> dict:
    import torch
    import plenoptic as po

    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    data = np.load(args.inputs)
    model = torch.jit.load(args.traced, map_location=dev).eval()
    po.remove_grad(model)
    images = torch.from_numpy(data["images"]).to(dev)
    init = torch.from_numpy(data["init"]).to(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    errs = []
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(images.shape[0]):
        met = po.Metamer(images[i : i + 1], model, loss_function=_rel_err)
        met.setup(initial_image=init[i : i + 1], optimizer_kwargs={"lr": args.lr})
        met.synthesize(max_iter=args.n_iter, stop_criterion=0.0, stop_iters_to_check=args.n_iter)
        with torch.no_grad():
            errs.append(float(_rel_err(model(met.metamer), model(images[i : i + 1]))))
    if dev.type == "cuda":
        torch.cuda.synchronize()
    sec, cpu = time.perf_counter() - t0, time.process_time() - c0
    mem = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else _peak_rss_mb()
    return {"name": "plenoptic adam", "seconds": sec, "cpu_seconds": cpu, "errors": errs, "peak_mb": mem,
            "version": po.__version__, "torch": torch.__version__}


def _worker_ours(args: argparse.Namespace) -> list[dict]:
    import torch

    sys.path.insert(0, str(REPO))
    from neurocompare.metamers import MetamerSynthesis
    from neurocompare.models import build_model

    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    data = np.load(args.inputs)
    model = build_model("convnet_small", in_channels=1, seed=args.seed).eval()
    images = torch.from_numpy(data["images"])
    init = torch.from_numpy(data["init"])
    rows = []

    def run(name, target_error=None, **cfg):
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        syn = MetamerSynthesis(model, args.layer, images, device=dev, progress=False,
                               target_error=target_error, **cfg)
        syn._x = init.to(dev).clone()  # the exact initial noise plenoptic starts from
        syn.synthesize()
        errs = syn.relative_error[0].tolist()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        sec, cpu = time.perf_counter() - t0, time.process_time() - c0
        mem = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else _peak_rss_mb()
        rows.append({"name": name, "seconds": sec, "cpu_seconds": cpu, "errors": errs, "peak_mb": mem,
                     "iterations": syn.n_iter})

    feather = dict(method="feather", n_rounds=8, steps_per_round=max(1, args.n_iter // 8), step_size=1.0)
    run("ours adam", method="adam", lr=args.lr, max_iter=args.n_iter)
    run("ours feather", **feather)
    if args.match_error is not None:
        # equal final error: each metamer stops once it is as good as plenoptic's for that image
        run("ours feather @ plenoptic error", target_error=json.loads(args.match_error), **feather)
    return rows


def _prepare(args: argparse.Namespace, tmp: Path) -> tuple[Path, Path]:
    import torch

    sys.path.insert(0, str(REPO))
    from neurocompare.models import build_model

    root = Path(os.environ.get("NEUROCOMPARE_DATA", REPO.parent / "shared" / "data")) / "mnist"
    if (root / "t10k-images-idx3-ubyte").is_file():
        raw = (root / "t10k-images-idx3-ubyte").read_bytes()[16:]
        imgs = np.frombuffer(raw, np.uint8).reshape(-1, 1, 28, 28)[: args.n_images].astype(np.float32) / 255
        source = "MNIST test images"
    else:  # smooth random images, so the bench runs without the data folder
        g = torch.Generator().manual_seed(0)
        imgs = torch.nn.functional.avg_pool2d(torch.rand(args.n_images, 1, 32, 32, generator=g), 5, 1)
        imgs = imgs[:, :, :28, :28].numpy()
        source = "smoothed noise (MNIST not found)"
    g = torch.Generator().manual_seed(args.seed)
    init = (0.5 + 0.05 * torch.randn(imgs.shape, generator=g)).clamp(0, 1).numpy().astype(np.float32)
    inputs = tmp / "inputs.npz"
    np.savez(inputs, images=imgs.astype(np.float32), init=init)
    model = build_model("convnet_small", in_channels=1, seed=args.seed).eval()
    modules = dict(model.named_modules())
    if args.layer not in modules:
        raise ValueError(f"Unknown layer {args.layer!r}; choose from {[n for n in modules if n]}.")

    class Truncated(torch.nn.Module):
        """The model's forward up to ``layer``, returning that layer's output (for plenoptic)."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            out = {}
            h = modules[args.layer].register_forward_hook(lambda m, i, o: out.__setitem__("a", o))
            try:
                self.model(x)
            finally:
                h.remove()
            return out["a"]

    trunc = Truncated().eval()
    # trace only the path to the layer, so plenoptic does not pay for the layers above it either
    seq = []
    for name, child in model.named_children():
        if args.layer == name or args.layer.startswith(name + "."):
            if args.layer == name:
                seq.append(child)
            else:
                for sub_name, sub in child.named_children():
                    seq.append(sub)
                    if args.layer == f"{name}.{sub_name}":
                        break
            break
        seq.append(child)
    truncated = torch.nn.Sequential(*seq).eval()
    x = torch.from_numpy(imgs[:2])
    with torch.no_grad():
        torch.testing.assert_close(truncated(x), trunc(x))  # the truncation is the same function
    traced = torch.jit.trace(truncated, x)
    path = tmp / "model.pt"
    torch.jit.save(traced, str(path))
    print(f"inputs: {args.n_images} {source}, layer {args.layer}, {args.n_iter} iterations, "
          f"Adam lr {args.lr}, device {args.device}, {args.threads} thread(s)")
    return inputs, path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n-images", type=int, default=16)
    p.add_argument("--n-iter", type=int, default=300)
    p.add_argument("--layer", default="block2.relu")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plenoptic-python", default="/work/venvs/plenoptic/bin/python")
    p.add_argument("--worker", choices=["plenoptic", "ours"], help=argparse.SUPPRESS)
    p.add_argument("--inputs", help=argparse.SUPPRESS)
    p.add_argument("--traced", help=argparse.SUPPRESS)
    p.add_argument("--match-error", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker == "plenoptic":
        print(json.dumps(_worker_plenoptic(args)))
        return 0
    if args.worker == "ours":
        print(json.dumps(_worker_ours(args)))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        inputs, traced = _prepare(args, Path(tmp))
        common = [f"--n-images={args.n_images}", f"--n-iter={args.n_iter}", f"--layer={args.layer}",
                  f"--lr={args.lr}", f"--device={args.device}", f"--threads={args.threads}",
                  f"--seed={args.seed}", f"--inputs={inputs}", f"--traced={traced}"]
        env = dict(os.environ, NEUROCOMPARE_QUIET="1")
        rows = []
        peer = None
        if Path(args.plenoptic_python).exists():
            out = subprocess.run([args.plenoptic_python, __file__, "--worker=plenoptic", *common],
                                 capture_output=True, text=True, env=env)
            if out.returncode != 0:
                print("plenoptic worker failed:\n" + out.stderr[-3000:])
            else:
                peer = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(peer)
        else:
            print(f"plenoptic not found at {args.plenoptic_python}: running ours only")
        match = ["--match-error", json.dumps(peer["errors"])] if peer else []
        out = subprocess.run([sys.executable, __file__, "--worker=ours", *common, *match],
                             capture_output=True, text=True, env=env)
        if out.returncode != 0:
            print("neurocompare worker failed:\n" + out.stderr[-3000:])
            return 1
        rows += json.loads(out.stdout.strip().splitlines()[-1])

    if peer:
        print(f"plenoptic {peer['version']} (torch {peer['torch']})")
    print(f"{'method':30s} {'metamers/s':>11s} {'per CPU-s':>10s} {'median err':>11s} {'max err':>9s} "
          f"{'peak MB':>8s} {'vs plenoptic (wall, CPU)':>25s}")
    base = args.n_images / peer["seconds"] if peer else None
    base_cpu = args.n_images / peer["cpu_seconds"] if peer else None
    for r in rows:
        rate, rate_cpu = args.n_images / r["seconds"], args.n_images / r["cpu_seconds"]
        ratio = f"{rate / base:.2f}x, {rate_cpu / base_cpu:.2f}x" if base else "n/a"
        print(f"{r['name']:30s} {rate:11.3f} {rate_cpu:10.3f} {np.median(r['errors']):11.4f} "
              f"{max(r['errors']):9.4f} {r['peak_mb']:8.0f} {ratio:>25s}")
    print("peak MB: peak resident memory of the worker process (CPU) or peak CUDA memory allocated (GPU); "
          "per CPU-s: metamers per second of process CPU time (robust to a shared, loaded machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
