"""Training throughput on CPU: SimCLR on the ResNet-18-style network, our NT-Xent vs lightly's.

Both runs use the same model (``resnet18_small``, CIFAR stem), the same seeded random images
(32×32 by default: CPU scale), the same augmentations (ours, in torch ops), projection head and
optimizer; only the loss differs: ``neurocompare.training.nt_xent`` or
``lightly.loss.NTXentLoss``. lightly runs in its own virtual environment (``/work/venvs/lightly``
with torch==2.13.0), in a subprocess of this script. Reported:

1. full SimCLR training step (two views, forward, loss, backward, SGD step): seconds per step
   (best and median of ``--steps`` timed steps after ``--warmup``), images per second in the note;
2. the loss alone (forward + backward on fixed embeddings (batch, 128)): seconds per call;
3. the loss values on identical embeddings (they agree to float32 precision; in the note).

Each side runs in a fresh process at the same thread count and is measured by
``bench/_harness.timed`` around the step (or loss call) only. Both compute in float32.

Usage::

    python bench/bench_training.py                       # batch 128, 32x32, 2 timed steps x 2 rounds
    python bench/bench_training.py --small               # batch 64, 2 timed steps
    python bench/bench_training.py --batch-size 128 --image-size 32 --steps 5 --threads 2

The peer's venv (``/work/venvs/lightly``, lightly 1.6.0 without torchvision) is made by
``bash bench/peers.sh``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import _harness as h  # noqa: E402


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


def worker(loss_name: str, batch: int, size: int, steps: int, warmup: int, loss_reps: int) -> dict:
    """Run inside the chosen interpreter; returns the harness measurements of a step and of the loss."""
    sys.path.insert(0, str(REPO))
    import torch

    from neurocompare.models import build_model
    from neurocompare.training import SimCLRAugment, nt_xent, projection_head

    h.set_threads(int(os.environ.get("NEUROCOMPARE_BENCH_THREADS", "1")))
    if loss_name == "lightly":
        _without_torchvision()
        import lightly
        from lightly.loss import NTXentLoss

        lightly_loss = NTXentLoss(temperature=0.5)
        loss_fn = lambda a, b: lightly_loss(a, b)  # noqa: E731
        version = lightly.__version__
    else:
        import neurocompare

        loss_fn = lambda a, b: nt_xent(a, b, 0.5)  # noqa: E731
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
    losses = []

    def step() -> float:
        with torch.no_grad():
            v = torch.cat([aug(images), aug(images)])
        model(v)
        z = head(feats["h"])
        loss = loss_fn(z[:batch], z[batch:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        return losses[-1]

    step_m = h.timed(step, repeats=steps, warmup=warmup)
    z1 = torch.randn(batch, 128, generator=gen, requires_grad=True)
    z2 = torch.randn(batch, 128, generator=gen, requires_grad=True)
    value = float(loss_fn(z1, z2).detach())
    loss_m = h.timed(lambda: loss_fn(z1, z2).backward(), repeats=loss_reps, warmup=3)
    return {"version": version, "torch": torch.__version__, "step": step_m, "loss": loss_m,
            "train_losses": losses, "loss_value_fixed_embeddings": value}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=2, help="timed training steps per round (best and median are kept)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="threads of both sides (default 1)")
    p.add_argument("--loss-reps", type=int, default=50)
    p.add_argument("--rounds", type=int, default=2, help="alternate ours and lightly this many times (best is kept)")
    p.add_argument("--small", action="store_true", help="batch 64, 2 timed steps, 20 loss calls")
    p.add_argument("--venvs", default="/work/venvs", help="folder of the peers' venvs (bench/peers.sh)")
    p.add_argument("--peer-python", default=None, help="lightly's interpreter (default VENVS/lightly/bin/python)")
    p.add_argument("--worker", choices=("ours", "lightly"), default=None, help=argparse.SUPPRESS)
    p.add_argument("--reference", action="store_true",
                   help="print lightly's NT-Xent values pinned in tests/test_losses.py (run with the peer python)")
    return p


def _combine(results: list[dict]) -> dict:
    """A side's emitted dicts from several rounds: best step and best loss call (or the first failure)."""
    good = [r for r in results if r.get("status") == "ok"]
    if not good:
        return results[0]
    best = dict(min(good, key=lambda r: r["step"]["wall_best"]))
    best.update(step=h.best_of([r["step"] for r in good]), loss=h.best_of([r["loss"] for r in good]))
    return best


def run(argv: list[str] | None = None) -> list[dict]:
    """Two rows: a full SimCLR step and the NT-Xent loss alone, ours vs lightly's loss."""
    args = _parser().parse_args(argv)
    if args.small:
        args.batch_size, args.steps, args.loss_reps = 64, 1, 20
    peer_python = args.peer_python or str(Path(args.venvs) / "lightly" / "bin" / "python")
    wargs = ["--batch-size", args.batch_size, "--image-size", args.image_size, "--steps", args.steps,
             "--warmup", args.warmup, "--loss-reps", args.loss_reps]
    env = dict(os.environ, PYTHONPATH=str(REPO), NEUROCOMPARE_QUIET="1")
    runs = {"ours": [], "lightly": []}
    for _ in range(args.rounds):  # alternate ours and lightly: a load swing on the shared machine hits both
        runs["ours"].append(h.run_peer(sys.executable, __file__, ["--worker", "ours", *wargs], threads=args.threads, env=env))
        runs["lightly"].append(h.run_peer(peer_python, __file__, ["--worker", "lightly", *wargs], threads=args.threads, env=env))
    ours, peer = _combine(runs["ours"]), _combine(runs["lightly"])
    b, s = args.batch_size, args.image_size
    if ours.get("status") != "ok":
        return [h.row(bench="training", case=f"SimCLR batch {b}", ours=None, precision="float32", threads=args.threads,
                      note=f"ours failed: {ours.get('detail', '')[-300:]}")]
    ok = peer.get("status") == "ok"
    rows = []
    for key, case in (("step", f"SimCLR step, resnet18_small, batch {b} ({2 * b} views), {s}x{s}"),
                      ("loss", f"NT-Xent fwd+bwd, ({b}, 128) embeddings")):
        pm = {**peer[key], "status": "ok"} if ok else peer
        if key == "step":
            note = f"ours {2 * b / ours['step']['wall_best']:.1f} images/s"
            if ok:
                note += (f", lightly {2 * b / peer['step']['wall_best']:.1f} images/s; first timed step loss "
                         f"ours {ours['train_losses'][args.warmup]:.5f}, lightly {peer['train_losses'][args.warmup]:.5f}")
        else:
            note = f"ours {ours['loss_value_fixed_embeddings']:.6f}"
            if ok:
                diff = abs(ours["loss_value_fixed_embeddings"] - peer["loss_value_fixed_embeddings"])
                note += (f", lightly {peer['loss_value_fixed_embeddings']:.6f} (|diff| {diff:.1e}) on identical "
                         f"embeddings; lightly {peer['version']}")
        rows.append(h.row(bench="training", case=case, ours=ours[key], peer=pm, peer_name="lightly",
                          precision="float32", threads=args.threads, note=note))
    return rows


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.reference:
        print(json.dumps(lightly_reference_values()))
        return 0
    if args.worker:
        h.emit(worker(args.worker, args.batch_size, args.image_size, args.steps, args.warmup, args.loss_reps))
        return 0
    rows = run(argv)
    print(h.format_table(rows), end="")
    for r in rows:
        print(f"  {r['case']}: {r['note']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
