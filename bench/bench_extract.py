"""Extraction throughput: ``neurocompare.extract`` against a plain forward pass of the same model.

Target (issue 22): ``extract`` reaches at least 0.90 of the throughput of a plain batched forward
pass, wide layers included. Two baselines run the same model (``convnet_medium``, seed 0, eval,
``no_grad``) on the same float32 images in the same batches of 64:

- **plain forward**: the forward pass alone, nothing stored (what extraction cannot beat);
- **plain hooks**: forward hooks that store the same outputs the obvious way (reduce in the
  hook, append to a list, ``torch.cat`` at the end): what a user would write by hand.

Ratios are baseline wall / our wall (above 1: ours is faster); the target applies to the plain
forward. Cases: the bench's two (all blocks + fc averaged over space; block4 + fc flattened) and
the wide one the issue measured at 0.79-0.81: all four blocks flattened (61,440 floats per image
at 64 x 64). All three run in one fresh process at the given thread count, alternating call by
call, the order rotating each round (plain, hooks, ours; hooks, ours, plain; ...), so that a busy
machine slows them alike; each is measured by ``bench/_harness.timed`` around the whole pass over the
images. The row's ratio is best wall over best wall; the note adds the median of the per-round ratios
(the three calls of a round ran back to back), the steadier number on a loaded machine.

Usage::

    python bench/bench_extract.py                 # 512 images 64 x 64, 7 rounds
    python bench/bench_extract.py --small         # 128 images
    python bench/bench_extract.py --threads 1 --repeats 5
    python bench/bench_extract.py --device cuda   # model on the GPU, activations stored on the CPU
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import _harness as h  # noqa: E402

#: case -> (layers, reduce)
CASES = {
    "all blocks + fc, avgpool": (["block1", "block2", "block3", "block4", "fc"], "avgpool"),
    "block4 + fc, flatten": (["block4", "fc"], "flatten"),
    "all four blocks, flatten": (["block1", "block2", "block3", "block4"], "flatten"),
}
SIZES = {"full": 512, "small": 128}
TARGET = 0.90


def _combine(measures: list[dict]) -> dict:
    """One ``timed``-style dict from single-call measurements (best wall, its CPU time, medians, largest peak)."""
    best = min(measures, key=lambda m: m["wall_best"])
    peaks = [m["peak_mb"] for m in measures if m["peak_mb"] == m["peak_mb"]]
    return {"wall_best": best["wall_best"], "wall_median": statistics.median(m["wall_best"] for m in measures),
            "cpu_best": best["cpu_best"], "cpu_median": statistics.median(m["cpu_best"] for m in measures),
            "peak_mb": max(peaks) if peaks else float("nan"), "memory_method": best["memory_method"],
            "repeats": len(measures), "value": None}


def worker(n: int, size: int, batch_size: int, repeats: int, device: str = "cpu") -> None:
    """Time plain forward, plain hooks and ``extract`` on every case, alternating; emit {case: {side: measure}}."""
    import torch

    h.set_threads(int(os.environ.get("NEUROCOMPARE_BENCH_THREADS", "1")))
    sys.path.insert(0, str(REPO))
    from neurocompare.activations import extract
    from neurocompare.models import build_model

    dev = torch.device(device)
    model = build_model("convnet_medium", seed=0).eval().to(dev)
    x = torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0))
    sync = torch.cuda.synchronize if dev.type == "cuda" else None

    def plain():
        with torch.no_grad():
            for i in range(0, n, batch_size):
                model(x[i : i + batch_size].to(dev))

    def hooks(layers, reduce):
        store = {name: [] for name in layers}

        def keep(name):
            def hook(_m, _i, out):
                out = out.detach()
                if reduce == "avgpool" and out.dim() > 2:
                    out = out.mean(dim=tuple(range(2, out.dim())))
                store[name].append(out.reshape(out.shape[0], -1).float().cpu())
            return hook

        handles = [model.get_submodule(name).register_forward_hook(keep(name)) for name in layers]
        try:
            plain()
        finally:
            for handle in handles:
                handle.remove()
        return {name: torch.cat(v).numpy() for name, v in store.items()}

    def ours(layers, reduce):
        return extract(model, x, layers, batch_size=batch_size, device=dev, reduce=reduce, progress=False,
                       memory_budget=None)

    out = {}
    for case, (layers, reduce) in CASES.items():
        sides = {"plain forward": plain, "plain hooks": lambda: hooks(layers, reduce), "ours": lambda: ours(layers, reduce)}
        for fn in sides.values():  # warm-up: kernels, allocator, page cache
            fn()
        got = {k: [] for k in sides}
        names = list(sides)
        for r in range(repeats):  # the order rotates each round, so no side always runs first
            for k in names[r % 3 :] + names[: r % 3]:
                got[k].append(h.timed(sides[k], repeats=1, warmup=0, sync=sync))
        out[case] = {k: _combine(v) for k, v in got.items()}
        # ratio within each round (the three calls ran back to back, under the same load), then the median
        out[case]["paired"] = {k: statistics.median(b["wall_best"] / o["wall_best"] for b, o in zip(got[k], got["ours"]))
                               for k in ("plain forward", "plain hooks")}
    h.emit(out)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="Extraction vs a plain forward pass (and plain hooks) of convnet_medium.")
    ap.add_argument("--small", action="store_true", help="128 images instead of 512")
    ap.add_argument("--threads", type=int, default=1, help="threads (default 1)")
    ap.add_argument("--venvs", default="/work/venvs", help="unused: no peer library (accepted for run_all)")
    ap.add_argument("--size", type=int, default=64, help="image side")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=7, help="alternating rounds (best is kept)")
    ap.add_argument("--device", default="cpu", help="where the model runs (e.g. cuda); outputs are stored on the CPU")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=None, help=argparse.SUPPRESS)
    return ap


def run(argv: list[str] | None = None) -> list[dict]:
    """Two rows per case: ours vs the plain forward (target 0.90) and vs plain hooks."""
    args = _parser().parse_args(argv)
    n = SIZES["small" if args.small else "full"]
    res = h.run_peer(sys.executable, __file__, ["--worker", "--n", n, "--size", args.size, "--batch-size",
                     args.batch_size, "--repeats", args.repeats, "--device", args.device], threads=args.threads)
    common = dict(bench="extract", precision="float32", threads=args.threads)
    rows = []
    for case, (layers, reduce) in CASES.items():
        label = f"{case}, {n} images {args.size}x{args.size}, batch {args.batch_size}" + (f", {args.device}" if args.device != "cpu" else "")
        if res.get("status") != "ok":
            rows.append(h.row(case=label, ours=None, note=f"worker {res.get('status')}: {res.get('detail', '')[-300:]}", **common))
            continue
        m = res[case]
        paired = m.get("paired", {})
        rows.append(h.row(case=label, ours=m["ours"], peer={**m["plain forward"], "status": "ok"}, peer_name="plain forward",
                          target=TARGET, note=f"baseline: the forward pass alone, nothing stored; median of the "
                          f"per-round ratios {paired.get('plain forward', float('nan')):.3f}", **common))
        rows.append(h.row(case=label, ours=m["ours"], peer={**m["plain hooks"], "status": "ok"}, peer_name="plain hooks",
                          note=f"baseline: hooks storing the same outputs (list + torch.cat); median of the per-round "
                          f"ratios {paired.get('plain hooks', float('nan')):.3f}", **common))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        worker(args.n, args.size, args.batch_size, args.repeats, args.device)
        return 0
    rows = run(argv)
    print(h.format_table(rows), end="")
    for r in rows:
        ours, peer = r["ours"] or {}, r["peer"] or {}
        print(f"  {r['case']} vs {r['peer_name']}: {r['note']}; wall ratio {r['ratio_wall'] or float('nan'):.3f}, "
              f"CPU ratio {r['ratio_cpu'] or float('nan'):.3f}; median walls: ours {ours.get('wall_median', float('nan')):.3f} s, "
              f"baseline {peer.get('wall_median', float('nan')):.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
