"""Print a ``FILES = {relative path: sha256}`` table for a dataset folder (maintainer tool).

Usage: ``python -m data_loaders._checksums /path/to/data/kriegeskorte92 [--glob '*.mat']``

A development script, not part of the ``neurocompare`` command: its two arguments are read by
hand, so that argparse stays in ``neurocompare/cli`` only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from data_loaders._fetch import sha256


def files_table(folder: Path, pattern: str = "**/*") -> dict[str, str]:
    """``{relative posix path: sha256}`` for every file under ``folder`` matching ``pattern``."""
    return {
        p.relative_to(folder).as_posix(): sha256(p)
        for p in sorted(folder.glob(pattern))
        if p.is_file() and p.name.lower() != "readme.md"
    }


USAGE = "usage: python -m data_loaders._checksums FOLDER [--glob PATTERN]"


def main(argv: list[str] | None = None) -> int:
    """Print the table for ``FOLDER``; returns the exit status (2 with the usage line on bad arguments)."""
    args = list(sys.argv[1:] if argv is None else argv)
    pattern = "**/*"
    if "--glob" in args:
        i = args.index("--glob")
        if i + 1 >= len(args):
            print(f"{USAGE}\nerror: --glob needs a PATTERN", file=sys.stderr)
            return 2
        pattern = args[i + 1]
        del args[i : i + 2]
    if len(args) != 1 or args[0].startswith("-"):
        print(f"{USAGE}\n{__doc__.splitlines()[0]}", file=sys.stderr)
        return 2
    folder = Path(args[0])
    if not folder.is_dir():
        print(f"{USAGE}\nerror: {folder} is not a folder", file=sys.stderr)
        return 2
    print("FILES = {")
    for rel, digest in files_table(folder, pattern).items():
        print(f'    "{rel}": "{digest}",')
    print("}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
