"""Extraction throughput against a plain batched forward pass of the same model.

Target (issue #2): ``extract`` reaches at least 90 % of the plain forward throughput at batch 64.

Run: ``python bench/bench_extract.py [--n 1024] [--size 64] [--device cpu] [--repeats 3]``

Both paths run the same model on the same tensor in the same process, alternating, and the
best of ``--repeats`` runs is kept for each, so a busy machine affects both alike.
"""

from __future__ import annotations

import argparse
import time

import torch

from neurocompare.activations import extract
from neurocompare.models import build_model


def plain_forward(model, x, batch_size, device):
    model.eval()
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            model(x[i : i + batch_size].to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    model = build_model("convnet_medium", seed=0).to(device)
    x = torch.rand(args.n, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    layer_sets = {
        "all blocks + fc, avgpool": (["block1", "block2", "block3", "block4", "fc"], "avgpool"),
        "block4 + fc, flatten": (["block4", "fc"], "flatten"),
    }
    plain_forward(model, x[: args.batch_size], args.batch_size, device)  # warm-up
    print(f"device={device} n={args.n} size={args.size} batch={args.batch_size} threads={torch.get_num_threads()}")
    print(f"{'case':<28} {'plain img/s':>12} {'extract img/s':>14} {'ratio':>7}")
    for name, (layers, reduce) in layer_sets.items():
        best_plain = best_ours = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            plain_forward(model, x, args.batch_size, device)
            best_plain = min(best_plain, time.perf_counter() - t0)
            t0 = time.perf_counter()
            extract(model, x, layers, batch_size=args.batch_size, device=device, reduce=reduce, progress=False)
            best_ours = min(best_ours, time.perf_counter() - t0)
        print(f"{name:<28} {args.n / best_plain:>12.1f} {args.n / best_ours:>14.1f} {best_plain / best_ours:>7.3f}")


if __name__ == "__main__":
    main()
