#!/usr/bin/env bash
# Create the peer libraries' virtual environments that bench/run_all.py compares against.
#
# Every venv sees the system site-packages (numpy, torch 2.13.0 CPU, scipy ...) and is installed
# with a constraint pinning torch==2.13.0, so no CUDA build of torch is ever pulled. Versions are
# pinned so that a committed results file names exactly what it was measured against.
#
# Usage:  bash bench/peers.sh [NAME ...]      # default: every peer below
#         NEUROCOMPARE_VENVS=/somewhere bash bench/peers.sh
#
# Idempotent: a venv whose check command already succeeds is left alone (safe to run while
# someone else is installing into another venv of the same folder). A failure of one peer is
# reported and the others go on; the exit status is the number of peers that failed.
set -u

VENVS="${NEUROCOMPARE_VENVS:-/work/venvs}"
PYTHON="${PYTHON:-python3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
echo "torch==2.13.0" > "$CONSTRAINTS"

# Not here: the Brain-Score PLS protocol (bench_regression, bench_score) is sklearn's PLSRegression
# in the system Python (scikit-learn 1.9.1), not the brainscore package, which pins old
# dependencies; cka-pytorch is installed without its dependencies (lightning), because the bench
# loads its two kernel files directly; lightly without torchvision (only CUDA wheels of it are
# reachable here; bench_training replaces the torchvision imports its loss never uses).
# name | pip arguments | check (python code that must run without error in the venv)
PEERS=(
  "rsatoolbox|rsatoolbox==0.3.2|import rsatoolbox; from importlib.metadata import version as v; assert v('rsatoolbox') == '0.3.2'"
  "ckapytorch|--no-deps cka-pytorch==1.1.3|import importlib.util as u; assert u.find_spec('cka_pytorch')"
  "repsim|repsim==0.1.5|import repsim"
  "himalaya|himalaya==0.4.11|import himalaya; from importlib.metadata import version as v; assert v('himalaya') == '0.4.11'"
  "gridpeers|opexebo==0.7.2 spatial-maps==0.2.1|import opexebo, spatial_maps"
  "plenoptic|plenoptic==2.1.1|import plenoptic"
  "lightly|--no-deps lightly==1.6.0 lightly-utils==0.0.2 aenum python-dateutil requests hydra-core|import importlib.util as u; assert u.find_spec('lightly')"
)

wanted=("$@")
failed=0
for spec in "${PEERS[@]}"; do
  IFS='|' read -r name pkgs check <<< "$spec"
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " =~ " ${name} " ]]; then
    continue
  fi
  venv="$VENVS/$name"
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" >/dev/null 2>&1; then
    echo "[$name] present and working: $venv (skipped)"
    continue
  fi
  echo "[$name] creating $venv with: $pkgs"
  mkdir -p "$VENVS"
  if [ ! -x "$venv/bin/python" ]; then
    "$PYTHON" -m venv --system-site-packages "$venv" || { echo "[$name] FAILED: venv"; failed=$((failed + 1)); continue; }
  fi
  # shellcheck disable=SC2086  (pkgs is a word list on purpose)
  if "$venv/bin/pip" install -q --disable-pip-version-check -c "$CONSTRAINTS" $pkgs \
      && "$venv/bin/python" -c "$check"; then
    echo "[$name] ok"
  else
    echo "[$name] FAILED (see the pip output above)"
    failed=$((failed + 1))
  fi
done
"$PYTHON" - "$VENVS" <<'PY'
import subprocess, sys
from pathlib import Path
# one line per venv: the torch it resolves (must be the system's CPU build)
for py in sorted(Path(sys.argv[1]).glob("*/bin/python")):
    out = subprocess.run([str(py), "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    print(f"  {py.parents[1].name:12s} torch {out.stdout.strip() or 'NOT IMPORTABLE'}")
PY
exit "$failed"
