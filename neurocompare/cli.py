"""The ``neurocompare`` command.

Subcommands (``neurocompare SUBCOMMAND --help`` for each):

- ``list-layers``: the recordable layers of a model;
- ``extract``: record layer activations on a stimulus set and save one NetCDF file per layer;
- further subcommands (``score``, ``train``, ``gridscore``, ``metamers``, ``datasets``, ...) are
  contributed by the modules listed in ``_SUBCOMMAND_MODULES``, each through a
  ``register_cli(subparsers)`` function.

Errors print one line (``neurocompare: error: ...``) and exit with status 1; ``--debug`` shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser", "resolve_model", "load_stimuli"]

# Modules that add subcommands through register_cli(subparsers). The CLI is the only place in
# neurocompare/ that may import data_loaders (lazily, inside handlers).
# Each is imported only when one of its subcommands is used, so `neurocompare --help` stays fast.
_SUBCOMMAND_MODULES: dict[str, tuple[str, str]] = {
    "datasets": ("data_loaders", "list the recorded datasets and whether they are present locally"),
    "score": ("neurocompare.benchmarks", "score a model on benchmarks"),
    "report": ("neurocompare.benchmarks", "figures from a folder of scores"),
    "benchmarks": ("neurocompare.benchmarks", "list the registered benchmarks"),
    "sweep": ("neurocompare.benchmarks", "models x benchmarks x layers on Dask"),
    "train": ("neurocompare.training.loop", "train a model from a YAML/JSON config"),
    "gridscore": ("neurocompare.gridcells", "gridness of rate maps, spikes+positions or a trained model"),
    "metamers": ("neurocompare.metamers", "synthesize model metamers of images at chosen layers"),
    "predictivity": ("neurocompare.similarity.regression", "cross-validated ridge/PLS predictivity of saved Responses"),
    "ceiling": ("neurocompare.similarity.ceiling", "noise ceiling of saved single-trial Responses or subject RDMs"),
}


# ----------------------------------------------------------------------------- helpers
def resolve_model(spec: str, *, seed: int = 0):
    """Build a model from any spec :func:`neurocompare.model_specs.resolve_model` accepts.

    Parameters
    ----------
    spec : str
        A registered name (``convnet_small``), a checkpoint path, ``module:function``, or
        ``torchvision:NAME`` / ``timm:NAME`` when those are installed.
    seed : int
        Passed to registered builders.
    """
    from neurocompare.model_specs import resolve_model as _resolve

    is_registered_name = ":" not in spec and not Path(spec).suffix
    return _resolve(spec, kwargs={"seed": seed} if is_registered_name else None).model


def load_stimuli(path: str | None = None, dataset: str | None = None, data_root: str | None = None):
    """Load a stimulus set from a file/folder or from a named dataset.

    Parameters
    ----------
    path : str, optional
        ``.npy`` (array, stimulus first), ``.nc`` (a stimulus DataArray saved with
        ``neurocompare.save``) or a folder of images (needs Pillow).
    dataset : str, optional
        A data_loaders module with a ``load_stimuli(root=...)`` function, e.g. ``kriegeskorte2008``.
    data_root : str, optional
        Data directory for ``dataset`` (default: ``$NEUROCOMPARE_DATA``).

    Returns
    -------
    numpy.ndarray or xarray.DataArray
    """
    import numpy as np

    if (path is None) == (dataset is None):
        raise ValueError("Give exactly one of --stimuli PATH or --dataset NAME.")
    if dataset is not None:
        try:
            module = importlib.import_module(f"data_loaders.{dataset}")
        except ModuleNotFoundError:
            import data_loaders

            names = [n for n in getattr(data_loaders, "DATASETS", [])] or sorted(
                p.stem for p in Path(data_loaders.__file__).parent.glob("*.py") if not p.stem.startswith("_")
            )
            raise ValueError(f"Unknown dataset {dataset!r}. Available: {', '.join(names)}.") from None
        if not hasattr(module, "load_stimuli"):
            raise ValueError(f"Dataset {dataset!r} has no stimuli (no load_stimuli function).")
        return module.load_stimuli(root=data_root)
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"Stimulus path {p} does not exist.")
    if p.is_dir():
        from neurocompare._optional import require

        image = require("PIL.Image", "Reading an image folder")
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
        if not files:
            raise ValueError(f"No image files (.png, .jpg, ...) in {p}.")
        import xarray as xr

        arrays = [np.asarray(image.open(f).convert("RGB")) for f in files]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"Images in {p} have {len(shapes)} different sizes; resize them to one size first.")
        return xr.DataArray(
            np.stack(arrays),
            dims=("stimulus", "height", "width", "channel"),
            coords={"stimulus_id": ("stimulus", [f.stem for f in files])},
        )
    if p.suffix == ".npy":
        return np.load(p, allow_pickle=False)
    if p.suffix == ".nc":
        from neurocompare.data import load

        return load(p)
    raise ValueError(f"Unsupported stimulus file {p.name!r}: use .npy, .nc or a folder of images.")


# ----------------------------------------------------------------------------- subcommands
def _cmd_list_layers(args: argparse.Namespace) -> int:
    from neurocompare.activations import list_layers

    model = resolve_model(args.model, seed=args.seed)
    for name in list_layers(model):
        print(name)
    return 0


def _cmd_extract(args: argparse.Namespace) -> int:
    import torch

    from neurocompare.activations import extract, list_layers
    from neurocompare.data import save

    torch.manual_seed(args.seed)
    model = resolve_model(args.model, seed=args.seed)
    stimuli = load_stimuli(args.stimuli, args.dataset, args.data)
    layers = args.layers or [name for name in list_layers(model) if "." not in name]
    acts = extract(
        model,
        stimuli,
        layers,
        batch_size=args.batch_size,
        device=args.device,
        reduce=args.reduce,
        n_components=args.n_components,
        seed=args.seed,
        progress=False if os.environ.get("NEUROCOMPARE_QUIET") == "1" else None,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"{'layer':<20} {'stimuli':>8} {'units':>8}  file")
    for layer, resp in acts.items():
        resp.attrs.update(model=args.model, seed=args.seed)
        path = save(resp, out / f"{layer}.nc")
        print(f"{layer:<20} {resp.sizes['stimulus']:>8} {resp.sizes['unit']:>8}  {path}")
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser.

    Parameters
    ----------
    command : str, optional
        The subcommand about to run. Its module is imported and registers the full parser;
        the other contributed subcommands appear as one-line placeholders. ``"all"`` imports
        every module (full help for everything).
    """
    parser = argparse.ArgumentParser(
        prog="neurocompare",
        description="Compare neural networks with brains: extract activations, score models against "
        "recorded neural data, train models, synthesize metamers, score grid cells.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")

    p = sub.add_parser("list-layers", help="list the recordable layers of a model")
    p.add_argument("--model", required=True, help="registered model name or module:function")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_list_layers)

    p = sub.add_parser("extract", help="record layer activations on a stimulus set")
    p.add_argument("--model", required=True, help="registered model name or module:function")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--stimuli", help=".npy array, .nc stimulus DataArray, or a folder of images")
    src.add_argument("--dataset", help="a dataset with stimuli, e.g. kriegeskorte2008")
    p.add_argument("--data", help="data directory for --dataset (default: $NEUROCOMPARE_DATA)")
    p.add_argument("--layers", nargs="+", help="layer names (default: the top-level modules)")
    p.add_argument("--reduce", default="avgpool", choices=["flatten", "avgpool", "random_projection"])
    p.add_argument("--n-components", type=int, default=1000, help="units kept by random_projection")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cpu)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="activations", help="output folder (one .nc per layer)")
    p.set_defaults(func=_cmd_extract)

    wanted = {m for name, (m, _) in _SUBCOMMAND_MODULES.items() if command in (name, "all")}
    if "neurocompare.benchmarks" in wanted:
        # the data-backed benchmark definitions live beside the loaders they need
        importlib.import_module("data_loaders.benchmarks")
    for module_name in dict.fromkeys(m for m, _ in _SUBCOMMAND_MODULES.values()):
        if module_name in wanted:
            importlib.import_module(module_name).register_cli(sub)
    for name, (module_name, text) in _SUBCOMMAND_MODULES.items():
        if module_name not in wanted:
            sub.add_parser(name, help=text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neurocompare`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug and --quiet are accepted anywhere on the line, before or after the subcommand
    flags = {flag: flag in argv for flag in ("--debug", "--quiet")}
    argv = [a for a in argv if a not in flags]
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    args.debug, args.quiet = flags["--debug"], flags["--quiet"]
    if args.command is None:
        parser.print_help()
        return 0
    if args.quiet:
        os.environ["NEUROCOMPARE_QUIET"] = "1"
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt:
        print("neurocompare: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # one line, unless --debug
        if args.debug:
            raise
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if isinstance(err, KeyError) and message.startswith(("'", '"')):
            message = message[1:-1]
        print(f"neurocompare: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
