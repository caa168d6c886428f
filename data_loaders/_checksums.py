"""Print a ``FILES = {relative path: sha256}`` table for a dataset folder (maintainer tool).

Usage: ``python -m data_loaders._checksums /path/to/data/kriegeskorte92 [--glob '*.mat']``
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data_loaders._fetch import sha256


def files_table(folder: Path, pattern: str = "**/*") -> dict[str, str]:
    """``{relative posix path: sha256}`` for every file under ``folder`` matching ``pattern``."""
    return {
        p.relative_to(folder).as_posix(): sha256(p)
        for p in sorted(folder.glob(pattern))
        if p.is_file() and p.name.lower() != "readme.md"
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--glob", default="**/*")
    args = parser.parse_args(argv)
    print("FILES = {")
    for rel, digest in files_table(args.folder, args.glob).items():
        print(f'    "{rel}": "{digest}",')
    print("}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
