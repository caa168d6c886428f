"""Fault injection: do runs survive kills, full disks, read-only folders and corrupt files? (issue 13)

Runs the 22 scenarios of ``tests/test_faults.py`` (each in subprocesses: SIGKILL at chosen points,
read-only folders, ``ulimit -f``, corrupt and truncated files, concurrent writers, crafted files)
against a checkout of the package, and records which survive.

Run ``python -m analyses.fault_injection --out DIR [--src CHECKOUT] [--label NAME] [--small]``.
``--src`` measures another checkout (e.g. ``git worktree add /tmp/before13 1807a0f``) with this
checkout's scenarios. Appends one record per run to ``DIR/results.jsonl`` (config, version, git
commit, the outcome of every scenario) and, once two labels are recorded, draws
``DIR/fault_table.png`` (scenarios × labels). ``--small`` (or ``NEUROCOMPARE_SMALL=1``) runs only
the scenarios that are not marked slow (about 3 minutes on 2 cores instead of about 15).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from analyses._results import run_record

REPO = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Config:
    src: str = str(REPO)  # the checkout whose package is put under fault
    label: str = "after"
    small: bool = False
    timeout_s: int = 2400


def run(cfg: Config) -> dict:
    """Run the scenarios; return {scenario: 'survived' | 'lost' | 'skipped'}, the counts and why each was lost."""
    env = dict(os.environ, NEUROCOMPARE_FAULTS_SRC=str(Path(cfg.src).resolve()), OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(REPO / "tests" / "test_faults.py"),
               f"--junitxml={junit}", "-o", "junit_family=xunit2"]
        if cfg.small:
            cmd += ["-m", "not slow"]
        subprocess.run(cmd, cwd=REPO, env=env, timeout=cfg.timeout_s, capture_output=True, text=True)
        outcomes: dict[str, str] = {}
        reasons: dict[str, str] = {}
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = case.get("name", "")
            scenario = name.removeprefix("test_").split("[")[0]
            if case.find("skipped") is not None:
                state = "skipped"
            elif case.find("failure") is not None or case.find("error") is not None:
                state = "lost"
                bad = case.find("failure") if case.find("failure") is not None else case.find("error")
                reasons.setdefault(name.removeprefix("test_").split("[")[0], (bad.get("message") or "")[:300])
            else:
                state = "survived"
            # a parametrized scenario survives only if every case does
            if outcomes.get(scenario) in ("lost",) or (outcomes.get(scenario) == "skipped" and state == "survived"):
                continue
            outcomes[scenario] = state
    counts = {k: sum(v == k for v in outcomes.values()) for k in ("survived", "lost", "skipped")}
    return {"scenarios": dict(sorted(outcomes.items())), "counts": counts, "reasons": dict(sorted(reasons.items()))}


def plot_table(out: Path) -> Path | None:
    """Scenario × label grid of the latest record per label (green survived, red lost, grey skipped)."""
    path = out / "results.jsonl"
    latest: dict[str, dict] = {}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("kind") == "run" and rec.get("analysis") == "fault_injection":
            latest[rec["config"]["label"]] = rec["results"]["scenarios"]
    if len(latest) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = list(latest)
    scenarios = sorted(set().union(*latest.values()))
    code = {"survived": 2, "skipped": 1, "lost": 0}
    grid = np.array([[code.get(latest[lab].get(s, "skipped"), 1) for lab in labels] for s in scenarios])
    fig, ax = plt.subplots(figsize=(6.5 + 1.3 * len(labels), 0.28 * len(scenarios) + 1.5))
    ax.imshow(grid, cmap=matplotlib.colors.ListedColormap(["#d62728", "#bbbbbb", "#2ca02c"]), vmin=0, vmax=2, aspect="auto")
    ticks = [f"{lab}\n{sum(v == 'survived' for v in latest[lab].values())}/{len(latest[lab])} survived" for lab in labels]
    ax.set_xticks(range(len(labels)), ticks, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(scenarios)), [s.replace("_", " ") for s in scenarios], fontsize=7)
    ax.set_xticks(np.arange(len(labels) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(scenarios) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("green: survived, nothing lost, message says what to do · red: lost or crashed", fontsize=8)
    fig.tight_layout()
    target = out / "fault_table.png"
    fig.savefig(target, dpi=120)
    plt.close(fig)
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder for results.jsonl and fault_table.png")
    p.add_argument("--src", default=str(REPO), help="checkout whose package is tested (default: this one)")
    p.add_argument("--label", default="after", help="name of this measurement in the table")
    p.add_argument("--small", action="store_true", help="only the scenarios not marked slow")
    a = p.parse_args(argv)
    cfg = Config(src=a.src, label=a.label, small=a.small or os.environ.get("NEUROCOMPARE_SMALL") == "1")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    results = run(cfg)
    record = {**run_record("fault_injection", cfg), "kind": "run", "seed": None, "results": results}
    with open(out / "results.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")
    figure = plot_table(out)
    print(json.dumps(results["counts"]), f"-> {out / 'results.jsonl'}" + (f", {figure}" if figure else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
