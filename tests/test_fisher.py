"""fisher_trace: closed forms for softmax and logistic regression, Monte Carlo vs exact, empirical vs true, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurocompare._seeding import seeded
from neurocompare.learning import fisher_trace

torch.set_num_threads(1)
EPS = np.finfo(np.float64).eps


def _softmax_regression(seed: int, d: int = 4, k: int = 3) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    with seeded(seed):
        lin = torch.nn.Linear(d, k).double()
        x = torch.randn(50, d, dtype=torch.float64)
        y = torch.randint(0, k, (50,))
    return lin, x, y


def _closed_form(lin, x, y=None):
    """∇_W log p_y = (e_y - p) x^T, ∇_b = e_y - p. True Fisher: E_y |e_y - p|² = 1 - |p|²;
    empirical: |e_y - p|² = 1 - 2 p_y + |p|². Returns per-example (weight part, bias part)."""
    with torch.no_grad():
        p = torch.softmax(lin(x), dim=1).numpy()
    sq = (p * p).sum(1)
    factor = 1 - sq if y is None else 1 - 2 * p[np.arange(len(p)), y.numpy()] + sq
    xn = (x.numpy() ** 2).sum(1)
    return factor * xn, factor


def test_exact_true_fisher_of_softmax_regression_has_the_closed_form():
    lin, x, _ = _softmax_regression(0)
    w_part, b_part = _closed_form(lin, x)
    r = fisher_trace(lin, x, n_samples=None)
    tol = 1e3 * EPS * (w_part + b_part).max()  # sums of O(k·d) squared terms
    assert abs(r.value - (w_part + b_part).mean()) < tol
    # a bare Linear: its parameters are top-level names, each its own block
    assert set(r.per_layer) == {"weight", "bias"}
    assert abs(r.per_layer["weight"] - w_part.mean()) < tol and abs(r.per_layer["bias"] - b_part.mean()) < tol
    assert np.isnan(r.error) and r.error_kind == "none" and r.n_samples is None
    assert r.labels == "model" and r.n_examples == 50


def test_per_layer_split_and_batching_of_an_mlp():
    with seeded(1):
        mlp = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
        x = torch.randn(20, 4, dtype=torch.float64)
    # reference: a plain loop with torch.autograd.grad per example and per class (two implementations agree)
    per = {"0": 0.0, "2": 0.0}
    for i in range(20):
        logp = torch.log_softmax(mlp(x[i : i + 1])[0], 0)
        for c in range(3):
            grads = torch.autograd.grad(logp[c], list(mlp.parameters()), retain_graph=True)
            w = float(logp[c].detach().exp())
            per["0"] += w * float(sum((g**2).sum() for g in grads[:2])) / 20
            per["2"] += w * float(sum((g**2).sum() for g in grads[2:])) / 20
    r = fisher_trace(mlp, x, n_samples=None, batch_size=7)
    assert set(r.per_layer) == {"0", "2"}
    for name in per:
        assert abs(r.per_layer[name] - per[name]) < 1e-12 * max(1.0, per[name])
    assert abs(r.value - sum(per.values())) < 1e-12 * max(1.0, r.value)
    assert fisher_trace(mlp, x, per_layer=False, n_samples=None).per_layer == {}


def test_sampled_labels_are_an_unbiased_estimate_of_the_true_fisher():
    lin, x, _ = _softmax_regression(2)
    exact = fisher_trace(lin, x, n_samples=None).value
    r = fisher_trace(lin, x, n_samples=200, seed=3)
    assert r.error > 0 and "sem over 50 examples" in r.error_kind
    # the sem over examples includes the spread of the examples' exact values, so |err| < 4 sem is conservative
    assert abs(r.value - exact) < 4 * r.error
    assert r.ci[0] < r.value < r.ci[1]
    # seeded: the same seed draws the same labels; another seed draws others
    assert fisher_trace(lin, x, n_samples=5, seed=3).value == fisher_trace(lin, x, n_samples=5, seed=3).value
    assert fisher_trace(lin, x, n_samples=5, seed=3).value != fisher_trace(lin, x, n_samples=5, seed=4).value


def test_empirical_fisher_uses_the_dataset_labels_and_differs_from_the_fisher():
    lin, x, y = _softmax_regression(4)
    w_part, b_part = _closed_form(lin, x, y)
    emp = fisher_trace(lin, (x, y), labels="empirical")
    assert abs(emp.value - (w_part + b_part).mean()) < 1e3 * EPS * (w_part + b_part).max()
    true = fisher_trace(lin, (x, y), n_samples=None)
    assert abs(emp.value - true.value) > 0.05 * true.value  # not the same thing
    # a confident, correct model: the empirical Fisher vanishes, the true Fisher is 1 - |p|² ≠ 0 for non-one-hot p
    lin2 = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        lin2.weight.zero_()
        lin2.bias.copy_(torch.tensor([8.0, 0.0, 0.0]))
    y0 = torch.zeros(50, dtype=torch.long)
    emp0 = fisher_trace(lin2, (x, y0), labels="empirical").value
    true0 = fisher_trace(lin2, x, n_samples=None).value
    p = torch.softmax(lin2.bias.detach(), 0).numpy()
    assert emp0 == pytest.approx((1 - 2 * p[0] + (p**2).sum()) * (1 + (x.numpy() ** 2).sum(1).mean()), rel=1e-12)
    assert true0 == pytest.approx((1 - (p**2).sum()) * (1 + (x.numpy() ** 2).sum(1).mean()), rel=1e-12)
    assert emp0 < true0 / 100


def test_single_logit_is_a_bernoulli_model():
    """p(y=1) = σ(z); ∂ log p / ∂z = y - σ(z); true Fisher trace = σ(1 - σ)(|x|² + 1)."""
    with seeded(5):
        lin = torch.nn.Linear(3, 1).double()
        x = torch.randn(30, 3, dtype=torch.float64)
    with torch.no_grad():
        s = torch.sigmoid(lin(x)[:, 0]).numpy()
    expected = float((s * (1 - s) * ((x.numpy() ** 2).sum(1) + 1)).mean())
    assert abs(fisher_trace(lin, x, n_samples=None).value - expected) < 1e-13 * max(1, expected)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"labels": "true"}, "labels"),
        ({"labels": "empirical"}, "needs the dataset's labels"),
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 2.5}, "n_samples"),
    ],
)
def test_fisher_errors(kwargs, match):
    lin, x, _ = _softmax_regression(0)
    with pytest.raises(ValueError, match=match):
        fisher_trace(lin, x, **kwargs)


def test_fisher_data_errors():
    lin, x, y = _softmax_regression(0)
    with pytest.raises(ValueError, match="class indices"):
        fisher_trace(lin, (x, y + 5), labels="empirical")
    with pytest.raises(ValueError, match="matching the 50 inputs"):
        fisher_trace(lin, (x, y[:3]), labels="empirical")
    with pytest.raises(ValueError, match="at least one sample"):
        fisher_trace(lin, x[:0])
    assert math.isfinite(fisher_trace(lin, x[:1]).value)
