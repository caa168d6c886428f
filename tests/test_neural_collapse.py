"""Neural collapse (NC1-NC4), layer-wise collapse, effective rank and the training callback.

Known answers on constructed features (a simplex ETF, Gaussian classes around one with closed
forms), invariances (rotation, scale), a brute-force d x d reference written from the papers'
definitions (the reference implementation rhubarbwu/neural-collapse is not on PyPI, so the
issue's fallback applies), agreement of the streamed and in-memory paths, and every error path.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import neurocompare as nc
from neurocompare.learning import (
    CollapseAccumulator,
    CollapseTracker,
    effective_rank,
    layer_inputs,
    layerwise_collapse,
    log_spaced_epochs,
    neural_collapse,
    singular_values,
    weight_ranks,
    weight_spectra,
)

EPS = np.finfo(np.float64).eps
REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- constructions
def simplex_etf(C: int, d: int, r: float = 1.0, seed: int = 0) -> np.ndarray:
    """C class means of norm r in R^d with pairwise cosine -1/(C-1), randomly rotated; dims (class, feature)."""
    E = np.eye(C) - 1.0 / C
    E *= r / np.linalg.norm(E, axis=1, keepdims=True)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    M = np.zeros((C, d))
    M[:, :C] = E
    return M @ Q


def gaussian_classes(C=5, d=8, n_per=200, sigma=0.5, r=2.0, seed=0, sizes=None):
    rng = np.random.default_rng(seed)
    M = simplex_etf(C, d, r, seed)
    counts = sizes if sizes is not None else [n_per] * C
    y = np.repeat(np.arange(C), counts)
    return M[y] + sigma * rng.standard_normal((len(y), d)), y, M


def brute_force(h: np.ndarray, y: np.ndarray, W: np.ndarray | None = None, b=None) -> dict[str, float]:
    """Every measure from its definition, forming the d x d matrices (Papyan et al. 2020, Zhu et al. 2021)."""
    classes = np.unique(y)
    C, N = len(classes), len(y)
    mu = np.stack([h[y == c].mean(0) for c in classes])
    mu_g = h.mean(0)
    Mc = mu - mu_g
    dev = h - mu[np.searchsorted(classes, y)]
    Sw = dev.T @ dev / N
    Sb = Mc.T @ Mc / C
    evals, evecs = np.linalg.eigh(Sb)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    top = evecs[:, : C - 1] @ np.diag(1 / evals[: C - 1]) @ evecs[:, : C - 1].T
    var = np.array([((h[y == c] - mu[i]) ** 2).sum(1).mean() for i, c in enumerate(classes)])
    pairs = [(i, j) for i in range(C) for j in range(i + 1, C)]
    cdnv = np.mean([(var[i] + var[j]) / (2 * np.sum((mu[i] - mu[j]) ** 2)) for i, j in pairs])
    out = {
        "nc1_papyan": np.trace(Sw @ np.linalg.pinv(Sb, rcond=1e-10)) / C,
        "nc1_han": np.trace(Sw @ top) / C,
        "nc1_tirer": np.trace(Sw) / np.trace(Sb),
        "nc1_cdnv": cdnv,
    }

    def nc2(A):
        norms = np.linalg.norm(A, axis=1)
        U = A / norms[:, None]
        cos = np.array([U[i] @ U[j] for i, j in pairs])
        G = A @ A.T
        target = (np.eye(C) - np.ones((C, C)) / C) / np.sqrt(C - 1)
        return {"equinorm": norms.std(ddof=1) / norms.mean(), "equiangular": cos.std(ddof=1),
                "maxangle": np.abs(cos + 1 / (C - 1)).mean(), "etf": np.linalg.norm(G / np.linalg.norm(G) - target)}

    out.update({f"nc2_{k}_means": v for k, v in nc2(Mc).items()})
    ncc = np.array([np.argmin(((mu - x) ** 2).sum(1)) for x in h])
    out["ncc_accuracy"] = float(np.mean(classes[ncc] == y))
    if W is not None:
        out.update({f"nc2_{k}_classifier": v for k, v in nc2(W).items()})
        out["nc3"] = np.sum((W / np.linalg.norm(W) - Mc / np.linalg.norm(Mc)) ** 2)
        pred = np.argmax(h @ W.T + (0 if b is None else b), axis=1)
        out["nc4"] = float(np.mean(pred != ncc))
        out["accuracy"] = float(np.mean(pred == y))
    return out


# ----------------------------------------------------------------------------- known answers
@pytest.mark.parametrize("C,d", [(2, 2), (4, 10), (10, 64)])
def test_exact_simplex_etf_collapses_to_zero(C, d):
    M = simplex_etf(C, d, r=3.0, seed=C)
    y = np.repeat(np.arange(C), 7)
    r = neural_collapse(M[y], y, W=M, nc1="papyan")
    # zero noise: Sigma_W is exactly 0 up to the rounding of the means (~ eps * ||mu|| per entry)
    tol = 100 * C * d * EPS
    for k, v in r.nc1.items():
        assert abs(v) < tol, (k, v)
    for k in ("etf_means", "etf_classifier", "maxangle_means", "equinorm_means", "equiangular_means"):
        assert abs(r.nc2[k]) < tol, (k, r.nc2[k])
    assert r.nc3 < tol  # W equals the centred means (their global mean is 0)
    assert r.nc4 == 0.0 and r.accuracy == 1.0 and r.ncc_accuracy == 1.0
    assert float(r) == r.value == r.nc1["papyan"] and r.nc1_variant == "papyan"


def test_gaussian_classes_match_the_closed_forms_at_large_n():
    # isotropic noise sigma^2 around ETF means of norm r (C classes, d dims):
    #   NC1 papyan = sigma^2 (C-1)^2 / (C r^2);  tirer = d sigma^2 / r^2;
    #   cdnv = d sigma^2 (C-1) / (2 C r^2)  (||mu_c - mu_c'||^2 = 2 r^2 C / (C-1))
    C, d, r, sigma, n_per = 10, 12, 2.0, 0.6, 400_000
    M = simplex_etf(C, d, r, seed=1)
    acc = CollapseAccumulator(C)

    def batches():  # one class per batch, the same draws in both passes
        for c in range(C):
            yield M[c] + sigma * np.random.default_rng([3, c]).standard_normal((n_per, d)), np.full(n_per, c)

    for h, y in batches():
        acc.add_means(h, y)
    acc.finish_means()
    for h, y in batches():
        acc.add_within(h, y)
    got = acc.nc1_all()
    want = {"papyan": sigma**2 * (C - 1) ** 2 / (C * r**2), "tirer": d * sigma**2 / r**2,
            "cdnv": d * sigma**2 * (C - 1) / (2 * C * r**2)}
    # relative sd of a trace of k sample-variance terms is sqrt(2 / (N k)): 2.4e-4 for papyan
    # (k = C - 1 = 9, N = 4e6), smaller for tirer/cdnv (k = d); 1e-3 is over 4 sd
    for k, v in want.items():
        assert abs(got[k] / v - 1) < 1e-3, (k, got[k], v)
    assert got["han"] == pytest.approx(got["papyan"], rel=1e-12)


def test_gaussian_classes_with_exact_moments_match_the_closed_form_to_rounding():
    # noise whitened per class so its sample covariance is exactly sigma^2 I: the closed form is exact
    C, d, r, sigma, n = 4, 6, 1.5, 0.3, 50
    M = simplex_etf(C, d, r, seed=2)
    rng = np.random.default_rng(5)
    hs = []
    for c in range(C):
        z = rng.standard_normal((n, d))
        z -= z.mean(0)
        L = np.linalg.cholesky(z.T @ z / n)
        hs.append(M[c] + sigma * z @ np.linalg.inv(L).T)
    h, y = np.concatenate(hs), np.repeat(np.arange(C), n)
    r_ = neural_collapse(h, y, nc1="papyan")
    assert r_.value == pytest.approx(sigma**2 * (C - 1) ** 2 / (C * r**2), rel=1e-10)


# ----------------------------------------------------------------------------- the reference
@pytest.mark.parametrize("seed", [0, 1])
def test_agrees_with_a_brute_force_d_by_d_computation(seed):
    rng = np.random.default_rng(seed)
    h, y, M = gaussian_classes(C=6, d=9, sigma=0.8, seed=seed, sizes=[30, 50, 40, 60, 35, 45])
    W = M + 0.3 * rng.standard_normal(M.shape)
    b = 0.1 * rng.standard_normal(6)
    got = neural_collapse(h, y, W=W, b=b, nc1="han").as_dict()
    ref = brute_force(h, y, W, b)
    for k, v in ref.items():
        assert got[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k  # float64 on 300 x 9: rounding ~1e-13
    assert got["nc1"] == got["nc1_han"]


def test_streamed_and_in_memory_paths_agree():
    h, y, M = gaussian_classes(C=4, d=7, sigma=1.0, seed=3)
    whole = neural_collapse(h, y, W=M, nc1="papyan", batch_size=10_000).as_dict()
    small = neural_collapse(h, y, W=M, nc1="papyan", batch_size=7).as_dict()
    for k in whole:
        assert small[k] == pytest.approx(whole[k], rel=1e-11), k


def test_pseudo_inverse_drops_rounding_and_han_does_not_when_means_span_fewer_dims():
    # four classes whose means lie on one line: the centred means span 1 dimension, not C - 1 = 3
    C, n = 4, 40
    rng = np.random.default_rng(0)
    direction = rng.standard_normal(5)
    means = np.outer(np.arange(C, dtype=float), direction)
    y = np.repeat(np.arange(C), n)
    noise = 0.1 * rng.standard_normal((C * n, 5))
    for c in range(C):  # centred per class, so the class means stay exactly on the line
        noise[y == c] -= noise[y == c].mean(0)
    h = means[y] + noise
    r = neural_collapse(h, y, nc1="papyan")
    ref = brute_force(h, y)
    assert r.nc1["papyan"] == pytest.approx(ref["nc1_papyan"], rel=1e-6)  # rcond 1e-10 there
    assert r.nc1["han"] > 1e6 * r.nc1["papyan"]  # divides by two rounding-level eigenvalues


def test_features_without_between_class_spread_have_no_nc1():
    # a dead network (all ReLUs off) gives identical features: NC1 is undefined, not 0
    y = np.repeat(np.arange(3), 4)
    r = neural_collapse(np.zeros((12, 5)), y, nc1="papyan")
    assert all(math.isnan(v) for v in r.nc1.values()) and math.isnan(r.value)


def test_float32_features_with_a_large_offset_do_not_explode():
    # activations are float32 and often far from the origin: centring loses digits, and a
    # pseudo-inverse with the usual eps*s_max tolerance would invert the rounding (NC1 ~ 1e20)
    h, y, _ = gaussian_classes(C=10, d=64, n_per=50, sigma=0.05, r=0.05, seed=4)
    h32 = (h + 50.0).astype(np.float32)
    r = neural_collapse(h32, y, nc1="papyan")
    ref = neural_collapse(h32.astype(np.float64) - 50.0, y, nc1="papyan")  # exactly the same values, centred
    assert math.isfinite(r.value) and r.value < 100
    # float32 offset 50 keeps ~ 50 * 6e-8 = 3e-6 absolute precision of spreads of 0.05
    assert r.value == pytest.approx(ref.value, rel=1e-3)


# ----------------------------------------------------------------------------- invariances
def test_rotation_leaves_every_measure_unchanged_and_scale_the_scale_free_ones():
    rng = np.random.default_rng(7)
    h, y, M = gaussian_classes(C=5, d=8, sigma=1.2, seed=7)
    W = M + 0.5 * rng.standard_normal(M.shape)
    base = neural_collapse(h, y, W=W, nc1="papyan").as_dict()
    Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    rot = neural_collapse(h @ Q, y, W=W @ Q, nc1="papyan").as_dict()
    scaled = neural_collapse(3.7 * h, y, W=0.2 * W, nc1="papyan").as_dict()
    for k in base:
        assert rot[k] == pytest.approx(base[k], rel=1e-10, abs=1e-13), k
        assert scaled[k] == pytest.approx(base[k], rel=1e-10, abs=1e-13), k  # every measure here is scale-free


def test_responses_with_a_label_coordinate_and_string_labels():
    h, y, _ = gaussian_classes(C=3, d=4, n_per=20, seed=8)
    resp = nc.make_responses(h, stimulus_ids=[f"s{i}" for i in range(len(y))])
    resp = resp.assign_coords(label=("stimulus", np.array(["cat", "dog", "eel"])[y]))
    a = neural_collapse(resp, nc1="tirer")
    b = neural_collapse(h, y, nc1="tirer")
    assert a.value == pytest.approx(b.value, rel=1e-12) and a.nc1_variant == "tirer"
    assert math.isnan(a.nc3) and math.isnan(a.nc4) and math.isnan(a.nc2["etf_classifier"])
    c = neural_collapse(torch.as_tensor(h, dtype=torch.float32), torch.as_tensor(y), nc1="tirer")
    assert c.value == pytest.approx(b.value, rel=1e-5)  # float32 input rounding


# ----------------------------------------------------------------------------- errors
def test_the_nc1_variant_is_required_and_checked():
    h, y, _ = gaussian_classes(C=3, d=4, n_per=5)
    with pytest.raises(TypeError):
        neural_collapse(h, y)  # no default: the variants differ by large factors
    with pytest.raises(ValueError, match="'papyan', |one of"):
        neural_collapse(h, y, nc1="papayn")


@pytest.mark.parametrize("case, match", [
    ("3d", "dims \\(sample, feature\\)"),
    ("short_labels", "one label per sample"),
    ("one_class", "at least 2 classes"),
    ("w_shape", "W must have dims"),
    ("w_cols", "columns"),
    ("b_without_w", "without the classifier weight"),
    ("b_shape", "b must have 3 entries"),
    ("missing_class", "have no samples"),
    ("out_of_range", "must lie in"),
    ("float_labels_w", "integer class"),
    ("no_labels", "needs labels"),
    ("no_label_coord", "'label' coordinate"),
    ("batch_size", "batch_size"),
])
def test_bad_inputs_say_what_was_expected(case, match):
    h, y, M = gaussian_classes(C=3, d=4, n_per=5)
    calls = {
        "3d": lambda: neural_collapse(h.reshape(15, 2, 2), y, nc1="papyan"),
        "short_labels": lambda: neural_collapse(h, y[:-1], nc1="papyan"),
        "one_class": lambda: neural_collapse(h, np.zeros(15), nc1="papyan"),
        "w_shape": lambda: neural_collapse(h, y, W=M.ravel(), nc1="papyan"),
        "w_cols": lambda: neural_collapse(h, y, W=M[:, :3], nc1="papyan"),
        "b_without_w": lambda: CollapseAccumulator(3, None, np.zeros(3)),
        "b_shape": lambda: neural_collapse(h, y, W=M, b=np.zeros(2), nc1="papyan"),
        "missing_class": lambda: neural_collapse(h, np.where(y == 2, 0, y), W=M, nc1="papyan"),
        "out_of_range": lambda: neural_collapse(h, y + 1, W=M, nc1="papyan"),
        "float_labels_w": lambda: neural_collapse(h, y + 0.5, W=M, nc1="papyan"),
        "no_labels": lambda: neural_collapse(h, nc1="papyan"),
        "no_label_coord": lambda: neural_collapse(nc.make_responses(h), nc1="papyan"),
        "batch_size": lambda: neural_collapse(h, y, nc1="papyan", batch_size=0),
    }
    with pytest.raises(ValueError, match=match):
        calls[case]()


def test_accumulator_passes_are_checked():
    h, y, _ = gaussian_classes(C=3, d=4, n_per=5)
    acc = CollapseAccumulator(3)
    with pytest.raises(ValueError, match="No features"):
        acc.finish_means()
    with pytest.raises(ValueError, match="needs the class means"):
        acc.add_within(h, y)
    acc.add_means(h, y)
    acc.finish_means()
    with pytest.raises(ValueError, match="first pass"):
        acc.add_means(h, y)
    acc.add_within(h[:5], y[:5])
    with pytest.raises(ValueError, match="second pass saw 5 samples but the first saw 15"):
        acc.result("papyan")
    with pytest.raises(ValueError, match="n_classes"):
        CollapseAccumulator(1)
    with pytest.raises(ValueError, match="4 features"):
        acc.add_within(h[:, :3], y)


# ----------------------------------------------------------------------------- rank
def test_effective_rank_known_answers_and_invariances():
    assert effective_rank(np.diag([1.0, 0.5, 1e-6]), eps=1e-3) == 2.0
    assert effective_rank(np.diag([1.0, 0.5, 1e-6]), eps=0.6) == 1.0
    assert effective_rank(np.eye(5), method="entropy") == pytest.approx(5.0, rel=1e-12)
    u = np.random.default_rng(0).standard_normal((6, 1))
    assert effective_rank(u @ u.T, method="entropy") == pytest.approx(1.0, abs=1e-6)  # other s_i ~ eps * s_1
    assert effective_rank(np.zeros((3, 3))) == 0.0
    w = np.random.default_rng(1).standard_normal((8, 5))
    Q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((8, 8)))
    for method in ("epsilon", "entropy"):
        assert effective_rank(Q @ w * 7.0, method=method) == pytest.approx(effective_rank(w, method=method), rel=1e-12)


def test_singular_values_match_numpy_and_fold_convolutions():
    # reference: numpy.linalg.svd (numpy's LAPACK gesdd), on the (out, in*kh*kw) matricization
    conv = torch.nn.Conv2d(3, 4, kernel_size=3)
    ref = np.linalg.svd(conv.weight.detach().double().numpy().reshape(4, -1), compute_uv=False)
    np.testing.assert_allclose(singular_values(conv), ref, rtol=1e-12)
    np.testing.assert_allclose(singular_values(conv.weight), ref, rtol=1e-12)
    model = nc.build_model("mlp", in_features=6, hidden=(5, 4), num_classes=3)
    spectra = weight_spectra(model)
    assert list(spectra) == ["fc1", "fc2", "out"] and spectra["fc1"].shape == (5,)
    assert weight_ranks(model, 1e-3) == {"fc1": 5.0, "fc2": 4.0, "out": 3.0}  # random init: full rank
    assert weight_ranks(model, layers=["out"]) == {"out": 3.0}


@pytest.mark.parametrize("call, match", [
    (lambda: effective_rank(np.ones(3)), "at least 2 dims"),
    (lambda: effective_rank(np.eye(3), eps=0), "eps must be"),
    (lambda: effective_rank(np.eye(3), method="roy"), "one of"),
    (lambda: weight_spectra(nc.build_model("mlp", in_features=3, hidden=(2,), num_classes=2), ["relu1"]), "Available"),
    (lambda: weight_ranks(nc.build_model("mlp", in_features=3, hidden=(2,), num_classes=2), layers=["x"]), "Available"),
])
def test_rank_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- layer-wise
def _mlp_on_clusters(seed=0, n_per=30, C=4, d=6):
    h, y, M = gaussian_classes(C=C, d=d, n_per=n_per, sigma=0.7, seed=seed)
    model = nc.build_model("mlp", in_features=d, hidden=(16, 12), num_classes=C, seed=seed)
    return model, torch.as_tensor(h, dtype=torch.float32), torch.as_tensor(y)


def test_layerwise_equals_neural_collapse_on_the_extracted_features():
    torch.set_num_threads(1)
    model, x, y = _mlp_on_clusters()
    assert layer_inputs(model, x[:2]) == {"fc1": "flatten", "fc2": "relu1", "out": "relu2"}
    lw = layerwise_collapse(model, (x, y), nc1="papyan", chunk_size=17)
    assert lw.layers == ["flatten", "relu1", "relu2"] and lw.classifier == "out"
    acts = nc.extract(model, x, ["relu1", "relu2"], progress=False)
    direct = neural_collapse(acts["relu2"], y, W=model.out.weight.detach(), b=model.out.bias.detach(), nc1="papyan")
    for k, v in direct.as_dict().items():
        assert lw.results["relu2"].as_dict()[k] == pytest.approx(v, rel=1e-9), k
    assert lw.results["relu1"].value == pytest.approx(neural_collapse(acts["relu1"], y, nc1="papyan").value, rel=1e-9)
    assert math.isnan(lw.results["relu1"].nc3)  # no classifier reads relu1
    whole = layerwise_collapse(model, (x, y), nc1="papyan", chunk_size=10_000)
    assert whole.nc1() == pytest.approx(lw.nc1(), rel=1e-9)  # chunking changes nothing
    json.dumps(lw.to_dict())


def test_alignment_known_answers():
    # a linear layer whose rows span the centred class means captures all their energy (1); one
    # whose rows are orthogonal to them captures none (0); chance is k / d_in
    C, d = 3, 6
    M = simplex_etf(C, d, r=1.0, seed=3)
    y = np.repeat(np.arange(C), 10)
    x = torch.as_tensor(M[y] + 0.01 * np.random.default_rng(0).standard_normal((30, d)), dtype=torch.float32)
    Q, _ = np.linalg.qr(M.T)  # (d, C): basis of the means' span
    orth = np.linalg.qr(np.hstack([Q, np.random.default_rng(2).standard_normal((d, d - C))]))[0][:, C:]
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(d, C, bias=False))
    for weight, want in ((Q.T, 1.0), (orth.T, 0.0)):
        with torch.no_grad():
            net[1].weight.copy_(torch.as_tensor(weight[:C]))
        lw = layerwise_collapse(net, (x, torch.as_tensor(y)), nc1="papyan", classifier=None, k=C)
        assert lw.inputs == {"1": "0"}
        # the means are estimated from noisy samples (sd 0.01): energy off the span ~ 1e-4
        assert lw.alignment["1"] == pytest.approx(want, abs=1e-3)
        assert lw.alignment_chance["1"] == pytest.approx(C / d)


def test_layerwise_errors():
    model, x, y = _mlp_on_clusters()
    with pytest.raises(TypeError, match="nn.Module"):
        layerwise_collapse("mlp", (x, y), nc1="papyan")
    with pytest.raises(TypeError, match="tuple \\(x, y\\)"):
        layerwise_collapse(model, x, nc1="papyan")
    with pytest.raises(ValueError, match="one label per sample"):
        layerwise_collapse(model, (x, y[:-1]), nc1="papyan")
    with pytest.raises(ValueError, match="integer classes"):
        layerwise_collapse(model, (x, y.float()), nc1="papyan")
    with pytest.raises(ValueError, match="not an nn.Linear"):
        layerwise_collapse(model, (x, y), nc1="papyan", classifier="relu1")
    with pytest.raises(ValueError, match="list_layers"):
        layerwise_collapse(model, (x, y), ["nope"], nc1="papyan")
    with pytest.raises(ValueError, match="'nc1'"):
        layerwise_collapse(model, (x, y), nc1="x")


def test_layerwise_on_a_stimulus_dataarray_with_labels():
    model = nc.build_model("convnet_small", in_channels=1, num_classes=3, seed=0)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, size=(12, 8, 8, 1), dtype=np.uint8)
    stim = xr.DataArray(imgs, dims=("stimulus", "height", "width", "channel"),
                        coords={"stimulus_id": ("stimulus", [f"i{k}" for k in range(12)]),
                                "label": ("stimulus", np.arange(12) % 3)})
    lw = layerwise_collapse(model, stim, ["block1", "flatten"], nc1="cdnv", chunk_size=5)
    assert lw.layers == ["block1", "flatten"] and lw.inputs == {"fc": "flatten"}
    assert lw.results["flatten"].n_features == 64 and lw.results["block1"].n_features == 32 * 4 * 4
    assert math.isfinite(lw.results["flatten"].nc4)


# ----------------------------------------------------------------------------- the callback
def test_log_spaced_epochs():
    assert log_spaced_epochs(100, 5) == [1, 3, 10, 32, 100]
    assert log_spaced_epochs(7, 1) == [7]
    assert log_spaced_epochs(3, 10) == [1, 2, 3]
    with pytest.raises(ValueError, match=">= 1"):
        log_spaced_epochs(0, 3)


def test_tracker_measures_on_schedule_and_collapse_grows_with_training(tmp_path):
    torch.set_num_threads(1)
    model, x, y = _mlp_on_clusters(seed=1, n_per=40)
    spe = 4
    path = tmp_path / "hist.jsonl"
    tracker = CollapseTracker(model, (x, y), nc1="papyan", steps_per_epoch=spe, epochs=60, n_evals=4,
                              test_data=(x, y), path=path)
    first = tracker.evaluate(0)

    def objective(m, batch):
        return torch.nn.functional.cross_entropy(m(batch[0]), batch[1])

    data = nc.training.Batches(x, y, batch_size=40, seed=0)
    opt = nc.training.OptimizerConfig(name="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4)
    nc.train(model, objective, data, optimizer=opt, steps=60 * spe, log_every=spe, progress=False,
             callback=tracker, device="cpu")
    epochs = [r["epoch"] for r in tracker.history]
    assert epochs == [0.0] + [float(e) for e in tracker.schedule] and tracker.schedule == [1, 4, 15, 60]
    lines = [json.loads(s) for s in path.read_text().splitlines()]
    assert [r["epoch"] for r in lines] == epochs  # every measurement is on disk at once
    last = tracker.history[-1]
    assert set(last["rank"]) == {"fc1", "fc2", "out"} and set(last["layer_nc1"]) == {"flatten", "relu1", "relu2"}
    assert last["accuracy"] == 1.0 and last["test_accuracy"] == 1.0 and "loss" in last
    # training on separable clusters to 100 % pulls the classes together (seeded; measured 30x)
    assert last["nc1"] < first["nc1"] / 5
    assert last["nc4"] <= first["nc4"]


def test_tracker_errors():
    model, x, y = _mlp_on_clusters()
    with pytest.raises(ValueError, match="steps_per_epoch"):
        CollapseTracker(model, (x, y), nc1="papyan", steps_per_epoch=0, epochs=3)
    with pytest.raises(TypeError, match="tuple"):
        CollapseTracker(model, x, nc1="papyan", steps_per_epoch=1, epochs=3)
    with pytest.raises(ValueError, match="'nc1'"):
        CollapseTracker(model, (x, y), nc1="?", steps_per_epoch=1, epochs=3)


# ----------------------------------------------------------------------------- figures
def test_figures():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    rows = [{"epoch": e, "nc1": 1 / (e + 1), "nc2_etf_means": 0.5, "nc3": 0.2, "nc4": 0.01} for e in range(4)]
    fig = nc.plotting.plot_collapse_history({"a": [rows, rows], "b": rows})
    assert len(fig.axes) == 4 and len(fig.axes[0].lines) == 2 + 1 + 1 + 1  # seeds, median a, b, median b
    fig = nc.plotting.plot_layerwise_nc1({"a": [{"l1": 1.0, "l2": 0.1}], "b": {"l1": 2.0, "l2": 0.5}})
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["l1", "l2"]
    fig = nc.plotting.plot_ranks({"x": [{"fc1": 3, "out": 2}, {"fc1": 4, "out": 2}]})
    assert len(fig.axes[0].patches) == 2
    fig = nc.plotting.plot_weight_spectra({"fc1": [2.0, 1.0, 0.1]})
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [1.0, 0.5, 0.05])
    with pytest.raises(ValueError, match="No spectra"):
        nc.plotting.plot_weight_spectra({})
    with pytest.raises(TypeError, match="history"):
        nc.plotting.plot_collapse_history({"a": 3})


# ----------------------------------------------------------------------------- the study
@pytest.mark.slow
@pytest.mark.requires_data
def test_analysis_small_run_writes_records_and_figures(tmp_path, data_root):
    out = tmp_path / "nc"
    cmd = [sys.executable, "-m", "analyses.neural_collapse", "--out", str(out), "--small", "--data", str(data_root)]
    env = {"OMP_NUM_THREADS": "1", "NEUROCOMPARE_QUIET": "1", "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"}
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**__import__("os").environ, **env}, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    lines = [json.loads(s) for s in (out / "results.jsonl").read_text().splitlines()]
    runs = [r for r in lines if r["kind"] == "run"]
    assert len(runs) == 2 and {r["weight_decay"] for r in runs} == {0.0, 5e-4}
    for r in runs:
        assert r["git_commit"] and r["version"] == nc.__version__ and r["seed"] == 0
        assert r["final"]["accuracy"] > 0.8 and r["history"][0]["epoch"] == 0.0  # 300 images, 30 epochs
        assert r["final"]["nc1"] < r["history"][0]["nc1"]
    summary = lines[-1]
    assert summary["kind"] == "summary" and "nc1_decreases_with_depth" in summary["summary"]["expectations"]
    for name in summary["summary"]["figures"]:
        assert (out / name).stat().st_size > 1000
    # a second invocation finds both runs done and only rebuilds the summary
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**__import__("os").environ, **env}, timeout=600)
    lines2 = [json.loads(s) for s in (out / "results.jsonl").read_text().splitlines()]
    assert len([r for r in lines2 if r["kind"] == "run"]) == 2 and len(lines2) == len(lines) + 1
