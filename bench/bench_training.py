"""Training throughput on CPU: SimCLR on the ResNet-18-style network, our NT-Xent vs lightly's.

Both runs use the same model (``resnet18_small``, CIFAR stem), the same seeded random images
(32×32 by default: CPU scale), the same augmentations (ours, in torch ops), projection head and
optimizer; only the loss differs: ``neurocompare.training.nt_xent`` or
``lightly.loss.NTXentLoss``. lightly runs in its own virtual environment (``/work/venvs/lightly``
with torch==2.13.0), in a subprocess of this script. Reported:

1. full SimCLR training step (two views, forward, loss, backward, SGD step): images/s;
2. the loss alone (forward + backward on fixed embeddings (batch, 128)): ms per call;
3. the loss values on identical embeddings (they should agree to float precision).

Usage::

    python bench/bench_training.py                       # batch 256, 32x32, 3 timed steps
    python bench/bench_training.py --batch-size 128 --image-size 32 --steps 5
    python bench/bench_training.py --peer-python /work/venvs/lightly/bin/python

Set up the peer::

    python -m venv /work/venvs/lightly
    /work/venvs/lightly/bin/pip install torch==2.13.0 lightly xarray scipy pyyaml tqdm
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PEER = "/work/venvs/lightly/bin/python"


def _without_torchvision() -> None:
    """Let ``lightly`` import where torchvision cannot load.

    The only torchvision wheels reachable here are CUDA builds, which cannot load against the
    CPU torch (``libtorch_cuda.so`` missing). lightly imports torchvision at module level for
    classes the NT-Xent loss never uses (``torchvision.ops.StochasticDepth``, transforms), so we
    answer ``import torchvision*`` with placeholder modules. ``lightly.loss.NTXentLoss`` itself
    (and its memory-bank base class) is lightly's own, unmodified code.
    """
    import importlib.abc
    import importlib.machinery
    import types

    try:
        import torchvision  # noqa: F401

        return
    except Exception:
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]

    class _Placeholder:
        def __init__(self, *args, **kwargs):
            pass

    class _Module(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return _Placeholder

    class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname, path, target=None):
            if fullname == "torchvision" or fullname.startswith("torchvision."):
                return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
            return None

        def create_module(self, spec):
            mod = _Module(spec.name)
            mod.__path__ = []
            return mod

        def exec_module(self, module):
            return None

    sys.meta_path.insert(0, _Finder())


def lightly_reference_values() -> dict:
    """lightly's NTXentLoss on the seeded embeddings used in tests/test_losses.py (pinned there)."""
    _without_torchvision()
    import lightly
    import torch
    from lightly.loss import NTXentLoss

    g = torch.Generator().manual_seed(3)
    z1, z2 = torch.randn(16, 8, generator=g), torch.randn(16, 8, generator=g)
    return {"lightly": lightly.__version__, "torch": torch.__version__,
            **{f"t={t}": float(NTXentLoss(temperature=t)(z1, z2)) for t in (0.1, 0.5, 1.0)}}


def worker(loss_name: str, batch: int, size: int, steps: int, warmup: int, threads: int, loss_reps: int) -> dict:
    """Run inside the chosen interpreter; returns timings as a dict."""
    sys.path.insert(0, str(REPO))
    import torch

    from neurocompare.models import build_model
    from neurocompare.training import SimCLRAugment, nt_xent, projection_head

    torch.set_num_threads(threads)
    if loss_name == "lightly":
        _without_torchvision()
        from lightly.loss import NTXentLoss

        lightly_loss = NTXentLoss(temperature=0.5)
        loss_fn = lambda a, b: lightly_loss(a, b)  # noqa: E731
        import lightly

        version = lightly.__version__
    else:
        loss_fn = lambda a, b: nt_xent(a, b, 0.5)  # noqa: E731
        import neurocompare

        version = neurocompare.__version__

    gen = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, size, size, generator=gen)
    model = build_model("resnet18_small", num_classes=10, seed=0)
    torch.manual_seed(0)  # after the imports (which may draw random numbers): same head and views in both runs
    head = projection_head(512, 512, 128)
    feats = {}
    model.avgpool.register_forward_hook(lambda m, i, o: feats.update(h=o.flatten(1)))
    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    aug = SimCLRAugment(blur=False)

    def step() -> float:
        with torch.no_grad():
            v = torch.cat([aug(images), aug(images)])
        model(v)
        z = head(feats["h"])
        loss = loss_fn(z[:batch], z[batch:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    losses = [step() for _ in range(steps)]
    dt = time.perf_counter() - t0

    # loss alone on fixed embeddings
    z1 = torch.randn(batch, 128, generator=gen, requires_grad=True)
    z2 = torch.randn(batch, 128, generator=gen, requires_grad=True)
    value = float(loss_fn(z1, z2).detach())
    for _ in range(3):
        loss_fn(z1, z2).backward()
    t1 = time.perf_counter()
    for _ in range(loss_reps):
        loss_fn(z1, z2).backward()
    dl = time.perf_counter() - t1
    return {"loss": loss_name, "version": version, "torch": torch.__version__, "batch": batch, "image_size": size,
            "steps": steps, "threads": threads, "images_per_s": 2 * batch * steps / dt, "seconds_per_step": dt / steps,
            "train_losses": losses, "loss_ms": 1000 * dl / loss_reps, "loss_value_fixed_embeddings": value}


def _run(python: str, args: argparse.Namespace, loss_name: str) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--worker", loss_name, "--batch-size", str(args.batch_size),
           "--image-size", str(args.image_size), "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--threads", str(args.threads), "--loss-reps", str(args.loss_reps)]
    env = dict(os.environ, PYTHONPATH=str(REPO), NEUROCOMPARE_QUIET="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{loss_name} worker failed ({python}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _best(runs: list[dict]) -> dict:
    """The run with the highest throughput, with the lowest loss time of all runs."""
    best = dict(max(runs, key=lambda r: r["images_per_s"]))
    best["loss_ms"] = min(r["loss_ms"] for r in runs)
    return best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--loss-reps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=1, help="alternate ours/lightly this many times, keep each best")
    p.add_argument("--peer-python", default=DEFAULT_PEER)
    p.add_argument("--worker", choices=("ours", "lightly"), default=None, help=argparse.SUPPRESS)
    p.add_argument("--reference", action="store_true",
                   help="print lightly's NT-Xent values pinned in tests/test_losses.py (run with the peer python)")
    args = p.parse_args(argv)
    if args.reference:
        print(json.dumps(lightly_reference_values()))
        return 0
    if args.worker:
        print(json.dumps(worker(args.worker, args.batch_size, args.image_size, args.steps, args.warmup, args.threads,
                                args.loss_reps)))
        return 0
    print(f"SimCLR, resnet18_small, batch {args.batch_size}, {args.image_size}x{args.image_size} images (CPU scale), "
          f"{args.threads} threads, {args.steps} timed steps after {args.warmup} warm-up, best of {args.repeats}")
    have_peer = Path(args.peer_python).exists()
    ours_runs, peer_runs = [], []
    for _ in range(args.repeats):  # alternate the two, keep each one's best: fairer on a shared machine
        ours_runs.append(_run(sys.executable, args, "ours"))
        if have_peer:
            peer_runs.append(_run(args.peer_python, args, "lightly"))
    ours = _best(ours_runs)
    print(f"  ours    (neurocompare {ours['version']}, torch {ours['torch']}): {ours['images_per_s']:.1f} images/s "
          f"({ours['seconds_per_step']:.2f} s/step); loss alone {ours['loss_ms']:.3f} ms")
    if not have_peer:
        print(f"  lightly: skipped ({args.peer_python} not found; see the module docstring to set it up)")
        return 0
    peer = _best(peer_runs)
    print(f"  lightly (lightly {peer['version']}, torch {peer['torch']}): {peer['images_per_s']:.1f} images/s "
          f"({peer['seconds_per_step']:.2f} s/step); loss alone {peer['loss_ms']:.3f} ms")
    print(f"  ratio ours/lightly: training throughput {ours['images_per_s'] / peer['images_per_s']:.2f}x, "
          f"loss time {ours['loss_ms'] / peer['loss_ms']:.2f}x (lower is faster)")
    diff = abs(ours["loss_value_fixed_embeddings"] - peer["loss_value_fixed_embeddings"])
    print(f"  loss on identical embeddings: ours {ours['loss_value_fixed_embeddings']:.6f}, lightly "
          f"{peer['loss_value_fixed_embeddings']:.6f} (|diff| {diff:.2e})")
    first_diff = abs(ours["train_losses"][0] - peer["train_losses"][0])
    print(f"  first timed training-step loss: ours {ours['train_losses'][0]:.5f}, lightly {peer['train_losses'][0]:.5f} "
          f"(|diff| {first_diff:.2e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
