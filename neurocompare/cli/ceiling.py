"""``neurocompare ceiling``: noise ceiling of saved single-trial Responses or subject RDMs."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "noise ceiling of saved single-trial Responses or subject RDMs"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "ceiling", help=HELP,
        description="Split-half (Spearman-Brown) ceiling of Responses with a 'repetition' dim; with --rsa, the Nili "
        "et al. (2014) ceiling of per-subject RDMs.",
    )
    p.add_argument("path", help="Responses with a 'repetition' dim, or stacked RDMs (.nc, see neurocompare.save)")
    p.add_argument("--rsa", choices=("spearman", "pearson", "kendall"), default=None,
                   help="treat the file as per-subject RDMs and compute the Nili et al. 2014 ceiling")
    p.add_argument("--subject-dim", default="subject")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from neurocompare.data import load
    from neurocompare.similarity import rsa_noise_ceiling, split_half_reliability

    data = load(args.path)
    if args.rsa:
        res = rsa_noise_ceiling(data, args.rsa, subject_dim=args.subject_dim)
        print(f"RSA noise ceiling ({args.rsa}): lower {res.lower:.4f}, upper {res.value:.4f} over {res.params['n_subjects']} subjects")
    else:
        res = split_half_reliability(data, n_splits=args.splits, seed=args.seed)
        print(f"split-half ceiling: {res.value:.4f} ± {res.error:.4f} ({res.error_kind}; median over {res.per_unit.shape[1]} units)")
    return 0
