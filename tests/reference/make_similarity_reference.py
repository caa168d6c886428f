"""Generate pinned reference values for the similarity tests (tests/reference/similarity_reference.json).

Each part runs under the interpreter that has its peer installed (a separate virtual environment
per peer, created with ``--system-site-packages`` so they share numpy/scipy/torch):

==============  =====================================  ==================================================
part            interpreter (default)                  what it pins
==============  =====================================  ==================================================
rsatoolbox      /work/venvs/rsatoolbox/bin/python      RDMs (correlation, euclidean, crossnobis with
                (pip install rsatoolbox==0.3.2)        shrinkage noise precision) and RDM comparisons
                                                       (spearman, corr, tau-a, tau-b, rho-a, cosine,
                                                       cosine_cov = whitened unbiased cosine)
rsatoolbox_k92  same                                   the same comparisons on the recorded Kriegeskorte
                                                       2008 human- and monkey-IT RDMs (data folder:
                                                       $NEUROCOMPARE_DATA or ../shared/data)
ckapytorch      /work/venvs/ckapytorch/bin/python      unbiased HSIC (Song et al.) from cka-pytorch
                (pip install --no-deps                 1.1.3's ``hsic1`` -> debiased linear CKA
                cka-pytorch==1.1.3)
repsim          /work/venvs/repsim/bin/python          linear CKA, 'gretton' (biased) and 'song'
                (pip install repsim==0.1.5)            (unbiased) estimators
formulas        this interpreter (numpy/scipy only)    Brain-Score's CKA formulas (linear_CKA,
                                                       kernel_CKA with median-distance RBF: written out
                                                       here from brainscore_vision/metrics/cka), and a
                                                       feature-space implementation of the shape
                                                       metrics of Williams et al. 2021 (netrep is not
                                                       on PyPI, so it cannot be installed here)
==============  =====================================  ==================================================

Usage::

    python tests/reference/make_similarity_reference.py            # all parts, writes the JSON
    python tests/reference/make_similarity_reference.py --part rsatoolbox   # prints one part

The inputs are generated from a fixed seed and stored in the JSON, so the tests never regenerate
them.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "similarity_reference.json"
SEED = 20261123
INTERPRETERS = {
    "rsatoolbox": "/work/venvs/rsatoolbox/bin/python",
    "rsatoolbox_k92": "/work/venvs/rsatoolbox/bin/python",
    "ckapytorch": "/work/venvs/ckapytorch/bin/python",
    "repsim": "/work/venvs/repsim/bin/python",
    "formulas": sys.executable,
}


def make_inputs() -> dict:
    rng = np.random.default_rng(SEED)
    n = 12
    x = rng.normal(size=(n, 30))
    y = x[:, :20] @ rng.normal(size=(20, 20)) * 0.3 + rng.normal(size=(n, 20))
    wide = rng.normal(size=(n, 40))  # more units than stimuli
    narrow = x[:, :5] + 0.5 * rng.normal(size=(n, 5))
    # repetitions for crossnobis: (stimulus, unit, repetition)
    signal = rng.normal(size=(10, 8))
    reps = signal[:, :, None] + 0.8 * rng.normal(size=(10, 8, 4))
    # an RDM with ties (a categorical model RDM) and a graded one, 9 stimuli
    cat = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    model = (cat[:, None] != cat[None, :]).astype(float)
    graded = np.abs(rng.normal(size=(9, 9)))
    graded = graded + graded.T
    np.fill_diagonal(graded, 0.0)
    # shape metrics: several networks of unequal widths
    nets = [rng.normal(size=(n, w)) for w in (6, 8, 5)]
    nets[1][:, :6] += 1.5 * nets[0]
    return {
        "x": x.tolist(),
        "y": y.tolist(),
        "wide": wide.tolist(),
        "narrow": narrow.tolist(),
        "reps": reps.tolist(),
        "model_rdm": model.tolist(),
        "graded_rdm": graded.tolist(),
        "nets": [a.tolist() for a in nets],
    }


def _version(pkg: str) -> str:
    return importlib.metadata.version(pkg)


def _triu(d: np.ndarray) -> np.ndarray:
    return d[np.triu_indices(d.shape[0], 1)]


# ----------------------------------------------------------------------------- parts
def part_rsatoolbox(inp: dict) -> dict:
    import rsatoolbox
    from rsatoolbox.data import Dataset
    from rsatoolbox.data.noise import prec_from_residuals
    from rsatoolbox.rdm import RDMs, calc_rdm, compare

    x, y = np.array(inp["x"]), np.array(inp["y"])
    reps = np.array(inp["reps"])
    out: dict = {"package": f"rsatoolbox=={_version('rsatoolbox')}"}

    def ds(a):
        return Dataset(a, obs_descriptors={"stim": [f"s{i:02d}" for i in range(a.shape[0])]})

    rdms = {}
    for method in ("correlation", "euclidean"):
        for name, a in (("x", x), ("y", y)):
            r = calc_rdm(ds(a), method=method, descriptor="stim")
            rdms[f"{method}_{name}"] = r.get_vectors()[0].tolist()
    out["rdm"] = rdms

    # crossnobis: observations = (stimulus, repetition) rows, folds = repetitions
    n_stim, n_unit, n_rep = reps.shape
    rows = reps.transpose(2, 0, 1).reshape(n_rep * n_stim, n_unit)  # repetition-major
    stim = [f"s{i:02d}" for i in range(n_stim)] * n_rep
    fold = np.repeat(np.arange(n_rep), n_stim)
    data = Dataset(rows, obs_descriptors={"stim": stim, "fold": fold})
    residuals = (reps - reps.mean(2, keepdims=True)).transpose(0, 2, 1).reshape(n_stim * n_rep, n_unit)
    dof = n_stim * (n_rep - 1)
    cross = {}
    for noise in ("identity", "shrinkage_diag", "shrinkage_eye"):
        prec = None if noise == "identity" else prec_from_residuals(residuals, dof=dof, method=noise)
        r = calc_rdm(data, method="crossnobis", descriptor="stim", cv_descriptor="fold", noise=prec)
        cross[noise] = r.get_vectors()[0].tolist()
        if prec is not None:
            cross[f"precision_{noise}"] = prec.tolist()
    out["crossnobis"] = cross

    # comparisons: x vs y correlation RDMs, and a tied model RDM vs a graded RDM
    rx = RDMs(np.array(rdms["correlation_x"])[None])
    ry = RDMs(np.array(rdms["correlation_y"])[None])
    model = RDMs(_triu(np.array(inp["model_rdm"]))[None])
    graded = RDMs(_triu(np.array(inp["graded_rdm"]))[None])
    comps = {}
    for method in ("spearman", "corr", "tau-a", "kendall", "rho-a", "cosine", "cosine_cov"):
        comps[f"xy_{method}"] = float(compare(rx, ry, method=method)[0, 0])
        comps[f"model_{method}"] = float(compare(model, graded, method=method)[0, 0])
    out["compare"] = comps
    out["rsatoolbox_file"] = str(Path(rsatoolbox.__file__).parent)
    return out


def part_rsatoolbox_k92(inp: dict) -> dict:
    """rsatoolbox comparisons on the recorded Kriegeskorte et al. 2008 RDMs (needs the data folder)."""
    import os

    import rsatoolbox  # noqa: F401
    from rsatoolbox.rdm import RDMs, compare

    sys.path.insert(0, str(HERE.parents[1]))
    from data_loaders import kriegeskorte2008 as k92

    root = os.environ.get("NEUROCOMPARE_DATA", str(HERE.parents[2] / "shared" / "data"))
    human = k92.load_human_it(root).mean(("subject", "session")).values
    monkey = k92.load_monkey_it(root).values
    a, b = RDMs(_triu(human)[None]), RDMs(_triu(monkey)[None])
    out: dict = {"package": f"rsatoolbox=={_version('rsatoolbox')}",
                 "what": "mean of the 8 human-IT session RDMs vs the monkey-IT RDM"}
    for method in ("spearman", "corr", "tau-a", "kendall", "rho-a", "cosine", "cosine_cov"):
        out[method] = float(compare(a, b, method=method)[0, 0])
    return out


def part_ckapytorch(inp: dict) -> dict:
    import torch

    spec = importlib.util.find_spec("cka_pytorch")
    # import only the HSIC module: the package __init__ pulls in lightning/torchmetrics for its hooks
    path = Path(spec.submodule_search_locations[0]) / "hsic.py"
    mod_spec = importlib.util.spec_from_file_location("cka_pytorch_hsic", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    out: dict = {"package": f"cka-pytorch=={_version('cka-pytorch')}"}
    for name in ("y", "wide", "narrow"):
        x = torch.tensor(inp["x"], dtype=torch.float64)
        y = torch.tensor(inp[name], dtype=torch.float64)
        kx, ky = (x @ x.T)[None], (y @ y.T)[None]
        hxy, hxx, hyy = float(mod.hsic1(kx, ky)[0]), float(mod.hsic1(kx, kx)[0]), float(mod.hsic1(ky, ky)[0])
        out[f"x_{name}"] = {"hsic_xy": hxy, "hsic_xx": hxx, "hsic_yy": hyy, "cka_unbiased": hxy / np.sqrt(hxx * hyy)}
    return out


def part_repsim(inp: dict) -> dict:
    import repsim

    out: dict = {"package": f"repsim=={_version('repsim')}"}
    for name in ("y", "wide", "narrow"):
        mats = [np.array(inp["x"]), np.array(inp[name])]
        out[f"x_{name}"] = {
            "gretton": float(repsim.cka(mats, kernel_type="linear", estimator="gretton")[0, 1]),
            "song": float(repsim.cka(mats, kernel_type="linear", estimator="song")[0, 1]),
        }
    return out


def part_formulas(inp: dict) -> dict:
    """Brain-Score's CKA formulas and a feature-space shape metric, written out with numpy/scipy."""
    from scipy.linalg import eigh, svdvals

    def centre(k):
        n = k.shape[0]
        h = np.eye(n) - np.ones((n, n)) / n
        return h @ k @ h

    def rbf(a, frac=1.0):
        g = a @ a.T
        d2 = np.diag(g)[:, None] + np.diag(g)[None, :] - 2 * g
        sigma = frac * np.sqrt(np.median(d2[d2 != 0]))
        return np.exp(-d2 / (2 * sigma**2))

    def cka(k, l):
        return np.sum(centre(k) * centre(l)) / np.sqrt(np.sum(centre(k) ** 2) * np.sum(centre(l) ** 2))

    def whitened(a, alpha, width):
        a = np.hstack([a, np.zeros((a.shape[0], width - a.shape[1]))])  # zero-pad to a common width
        a = a - a.mean(0)
        lam, v = eigh(a.T @ a)
        keep = lam > lam.max() * 1e-10
        d = np.zeros_like(lam)
        d[keep] = alpha + (1 - alpha) / np.sqrt(lam[keep])
        return a @ (v * d) @ v.T

    def shape(a, b, alpha):
        w = max(a.shape[1], b.shape[1])
        aw, bw = whitened(a, alpha, w), whitened(b, alpha, w)
        nuc = svdvals(aw.T @ bw).sum()
        return float(np.arccos(np.clip(nuc / (np.linalg.norm(aw) * np.linalg.norm(bw)), -1, 1)))

    def cca_rho(a, b):
        a, b = a - a.mean(0), b - b.mean(0)
        def inv_sqrt(c):
            lam, v = eigh(c)
            return (v / np.sqrt(lam)) @ v.T
        m = inv_sqrt(a.T @ a) @ (a.T @ b) @ inv_sqrt(b.T @ b)
        return np.sort(svdvals(m))[::-1]

    def pwcca(a, b):
        a, b = a - a.mean(0), b - b.mean(0)
        lam, v = eigh(a.T @ a)
        wa = (v / np.sqrt(lam)) @ v.T
        lam, v = eigh(b.T @ b)
        wb = (v / np.sqrt(lam)) @ v.T
        u, rho, _ = np.linalg.svd(wa @ (a.T @ b) @ wb, full_matrices=False)
        h = a @ wa @ u  # canonical variates of a, unit norm
        weights = np.abs(h.T @ a).sum(1)
        return float((weights * rho).sum() / weights.sum())

    x = np.array(inp["x"])
    out: dict = {"package": f"numpy=={np.__version__} (Brain-Score CKA formulas; Williams et al. 2021 shape metric)"}
    for name in ("y", "wide", "narrow"):
        y = np.array(inp[name])
        out[f"brainscore_linear_cka_x_{name}"] = float(cka(x @ x.T, y @ y.T))
        out[f"brainscore_rbf_cka_x_{name}"] = float(cka(rbf(x), rbf(y)))
    out["rbf_cka_frac05_x_y"] = float(cka(rbf(x, 0.5), rbf(np.array(inp["y"]), 0.5)))
    nets = [np.array(a) for a in inp["nets"]]
    out["shape"] = {
        f"{i}_{j}_alpha{alpha}": shape(nets[i], nets[j], alpha)
        for i in range(3) for j in range(i + 1, 3) for alpha in (0.0, 0.5, 1.0)
    }
    narrow = np.array(inp["narrow"])
    out["cca_rho_x5_narrow"] = cca_rho(x[:, :5], narrow).tolist()
    out["cca_rho_narrow_nets0"] = cca_rho(narrow, nets[0]).tolist()
    out["pwcca_narrow_nets0"] = pwcca(narrow, nets[0])
    return out


PARTS = {"rsatoolbox": part_rsatoolbox, "rsatoolbox_k92": part_rsatoolbox_k92, "ckapytorch": part_ckapytorch, "repsim": part_repsim, "formulas": part_formulas}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=sorted(PARTS), help="compute one part with this interpreter and print it")
    args = parser.parse_args()
    if args.part:
        inp = json.loads(OUT.read_text())["inputs"] if OUT.exists() and "--fresh" not in sys.argv else make_inputs()
        print(json.dumps(PARTS[args.part](inp)))
        return
    result = {"seed": SEED, "inputs": make_inputs()}
    OUT.write_text(json.dumps(result))  # parts read the inputs from here
    for name, python in INTERPRETERS.items():
        proc = subprocess.run([python, __file__, "--part", name], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"part {name} failed with {python}:\n{proc.stderr[-2000:]}", file=sys.stderr)
            result[name] = {"skipped": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
            continue
        result[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{name}: {result[name].get('package')}")
    OUT.write_text(json.dumps(result, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
