"""The ``neurocompare`` command: one module per subcommand, the only place that knows argparse.

Each subcommand lives in ``neurocompare/cli/<name>.py`` and provides

- ``HELP``: the one-line help shown by ``neurocompare --help``;
- ``add_parser(subparsers)``: adds its parser (``set_defaults(func=run)``);
- ``run(args) -> int``: does the work and returns the exit status.

A subcommand's module is imported only when that subcommand runs, so ``neurocompare --help``
stays fast. The CLI is the only part of ``neurocompare/`` that imports ``data_loaders`` (lazily,
inside ``run``).

Errors print one line (``neurocompare: error: ...``) and exit with status 1; ``--debug`` shows
the traceback instead. ``--quiet`` (anywhere on the line) turns progress bars off.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

#: subcommand -> (module, one-line help). Keep the order: it is the order of ``--help``.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "list-layers": ("neurocompare.cli.list_layers", "list the recordable layers of a model"),
    "extract": ("neurocompare.cli.extract", "record layer activations on a stimulus set"),
    "datasets": ("neurocompare.cli.datasets", "list the recorded datasets and whether they are present locally"),
    "benchmarks": ("neurocompare.cli.benchmarks", "list the registered benchmarks"),
    "score": ("neurocompare.cli.score", "score a model on benchmarks"),
    "report": ("neurocompare.cli.report", "figures and a table from a folder of scores"),
    "sweep": ("neurocompare.cli.sweep", "models x benchmarks x layers on Dask"),
    "predictivity": ("neurocompare.cli.predictivity", "cross-validated ridge/PLS predictivity of saved Responses"),
    "ceiling": ("neurocompare.cli.ceiling", "noise ceiling of saved single-trial Responses or subject RDMs"),
    "train": ("neurocompare.cli.train", "train a model from a YAML/JSON config"),
    "metamers": ("neurocompare.cli.metamers", "synthesize model metamers of images at chosen layers"),
    "gridscore": ("neurocompare.cli.gridscore", "gridness of rate maps, spikes+positions or a trained model"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser.

    Parameters
    ----------
    command : str, optional
        The subcommand about to run: its module is imported and adds its full parser; the other
        subcommands appear as one-line placeholders. ``"all"`` imports every module.
    """
    parser = argparse.ArgumentParser(
        prog="neurocompare",
        description="Compare neural networks with brains: extract activations, score models against "
        "recorded neural data, train models, synthesize metamers, score grid cells.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for name, (module_name, text) in SUBCOMMANDS.items():
        if command in (name, "all"):
            importlib.import_module(module_name).add_parser(sub)
        else:
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
        import os

        from neurocompare._options import set_options

        set_options(progress=False)
        os.environ["NEUROCOMPARE_QUIET"] = "1"  # for worker processes, which read it once at import
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # output piped into `head` and closed early
        import os

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
