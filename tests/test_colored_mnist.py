"""Colored MNIST as published (Arjovsky et al. 2019): environments, the authors' MLP init, the
IRMv1 objective's arithmetic, and the analysis' resumable record (analyses/colored_mnist.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from analyses import colored_mnist as cm
from neurocompare.training import IRM, colored_mnist
from neurocompare.training.losses import irm_penalty


def _fake_mnist(n: int = 60_000, seed: int = 0):
    """n 'digits' sharing one 28x28 image (an expanded view, so no 60,000 x 784 copy) and random classes."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(1, 1, 28, 28, generator=g).expand(n, 1, 28, 28)
    return images, torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("flip,noise", [(0.2, 0.25), (0.1, 0.25), (0.9, 0.25), (0.0, 0.0), (1.0, 0.0)])
def test_environment_rates_match_the_construction(flip, noise):
    n = 40_000
    images, digits = _fake_mnist(n)
    x, y = colored_mnist(images, digits, flip, label_noise=noise, seed=1)
    assert x.shape == (n, 2, 14, 14) and y.shape == (n,)
    colour = (x[:, 1].flatten(1).sum(1) > 0).float()  # drawn in channel 1 = colour 1
    assert torch.all((x[:, 0].flatten(1).sum(1) > 0) != (colour > 0))  # exactly one channel lit
    shape_label = (digits >= 5).float()
    # binomial rates: 5 standard errors sqrt(p(1-p)/n) (<= 0.0125 at n = 40,000) so a correct
    # construction fails with probability < 1e-6; exact 0/1 rates must be exact
    for rate, p in ((float((y != shape_label).float().mean()), noise), (float((colour != y).float().mean()), flip)):
        tol = 5 * math.sqrt(p * (1 - p) / n)
        assert abs(rate - p) <= tol, (rate, p)


def test_environment_bad_inputs():
    images, digits = _fake_mnist(10)
    with pytest.raises(ValueError, match="must lie in"):
        colored_mnist(images, digits, 1.5)
    with pytest.raises(ValueError, match="labels"):
        colored_mnist(images, digits[:5], 0.1)


def test_split_is_the_published_one():
    """Train environments from the first 50,000 digits (two of n_train/2, flip 0.2 and 0.1), test from the last 10,000."""
    images, digits = _fake_mnist()
    cfg = cm.Config(n_train=50_000, n_test=10_000)
    envs, test = cm.make_environments(images, digits, cfg, seed=0)
    assert [e[0].shape[0] for e in envs] == [25_000, 25_000] and test[0].shape[0] == 10_000
    # label noise 25 % and colour agreement 0.8 / 0.9 / 0.1 (tolerance: 5 binomial s.e. at n = 10,000)
    for (x, y), p_agree in zip(envs + [test], (0.8, 0.9, 0.1)):
        colour = (x[:, 1].flatten(1).sum(1) > 0).float()
        agree = float((colour == y).float().mean())
        assert abs(agree - p_agree) <= 5 * math.sqrt(p_agree * (1 - p_agree) / x.shape[0]), (agree, p_agree)


def test_published_defaults():
    cfg = cm.Config()
    assert (cfg.n_train, cfg.hidden, cfg.init, cfg.steps, cfg.anneal_steps, len(cfg.seeds)) == (50_000, 390, "xavier",
                                                                                                 501, 190, 10)
    assert cfg.l2 == pytest.approx(0.00110794568) and cfg.lr == pytest.approx(0.0004898536566546834)
    assert cfg.penalty_weight == pytest.approx(91257.18613115903)


def test_xavier_init_as_the_authors():
    cfg = cm.Config(hidden=390)
    m = cm.build_mlp(cfg, seed=0)
    for lin, (fan_in, fan_out) in ((m.fc1, (392, 390)), (m.fc2, (390, 390)), (m.out, (390, 1))):
        bound = math.sqrt(6 / (fan_in + fan_out))
        w = lin.weight.detach()
        assert float(w.abs().max()) <= bound
        assert torch.count_nonzero(lin.bias) == 0
        # uniform(-b, b) has variance b^2/3; the sample variance of k draws has relative s.e. ~ sqrt(0.8/k)
        k = w.numel()
        assert abs(float(w.var()) / (bound**2 / 3) - 1) < 5 * math.sqrt(0.8 / k)
    again, other = cm.build_mlp(cfg, seed=0), cm.build_mlp(cfg, seed=1)
    assert torch.equal(again.fc1.weight, m.fc1.weight) and not torch.equal(other.fc1.weight, m.fc1.weight)
    he = cm.build_mlp(cm.Config(hidden=390, init="he"), seed=0)
    assert not torch.equal(he.fc1.weight, m.fc1.weight)
    with pytest.raises(ValueError, match="'init' parameter .* Got 'kaiming'"):
        cm.build_mlp(cm.Config(init="kaiming"), seed=0)


def test_irm_penalty_closed_form():
    """d/ds BCE(s z, y) at s = 1 is mean((sigmoid(z) - y) z): the penalty is its square."""
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(500, generator=g, dtype=torch.float64), (torch.rand(500, generator=g) < 0.5).double()
    expected = float(((torch.sigmoid(z) - y) * z).mean() ** 2)
    assert float(irm_penalty(z, y).detach()) == pytest.approx(expected, rel=1e-12)  # float64: agreement to rounding


def test_irm_objective_matches_the_published_loss():
    """(mean env risk + l2·Σ‖θ‖² + w·mean env penalty) / w after annealing; w = 1 (no division) before."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)).double()
    x = torch.randn(40, 4, dtype=torch.float64)
    y = (torch.rand(40) < 0.5).double()
    env = torch.arange(40) % 2
    obj = IRM(penalty_weight=1000.0, anneal_steps=5, l2=0.01)
    z = model(x)[:, 0]
    risks = [torch.nn.functional.binary_cross_entropy_with_logits(z[env == e], y[env == e]) for e in (0, 1)]
    pens = [((torch.sigmoid(z[env == e]) - y[env == e]) * z[env == e]).mean() ** 2 for e in (0, 1)]
    l2 = sum(float(p.detach().pow(2).sum()) for p in model.parameters())
    base = float(sum(risks).detach() / 2) + 0.01 * l2
    for step, w in ((0, 1.0), (4, 1.0), (5, 1000.0)):
        obj.set_step(step)
        loss, metrics = obj(model, (x, y, env))
        want = (base + w * float(sum(pens).detach() / 2)) / (w if w > 1 else 1.0)
        assert float(loss.detach()) == pytest.approx(want, rel=1e-10)
        assert float(metrics["penalty_weight"]) == w
    with pytest.raises(ValueError, match="environment indices"):
        obj(model, (x, y))


def test_summary_statistics():
    rows = [{"method": "irm", "seed": s, "train_acc": a, "test_acc": b}
            for s, (a, b) in enumerate([(0.70, 0.60), (0.72, 0.64), (0.74, 0.68)])]
    s = cm.summarize(rows, ["irm", "erm"])["irm"]
    assert s["train_mean"] == pytest.approx(72.0) and s["test_mean"] == pytest.approx(64.0)
    assert s["test_std"] == pytest.approx(4.0) and s["test_sem"] == pytest.approx(4.0 / math.sqrt(3))
    assert s["published"] == (70.8, 0.9, 66.9, 2.5)


def test_analysis_records_and_resumes(tmp_path, monkeypatch):
    """Tiny run on stand-in digits: one line per (method, seed) with config/version/commit; a rerun adds none."""
    monkeypatch.setattr(cm, "load_digits", lambda cfg: _fake_mnist())
    args = ["--out", str(tmp_path), "--seeds", "0", "--n-train", "200", "--hidden", "8", "--steps", "6",
            "--methods", "erm", "irm"]
    assert cm.main(args) == 0
    lines = [json.loads(s) for s in (tmp_path / "results.jsonl").read_text().splitlines()]
    runs = [r for r in lines if r["kind"] == "run"]
    assert sorted(r["method"] for r in runs) == ["erm", "irm"]
    for r in runs:
        assert r["protocol"]["hidden"] == 8 and r["config"]["init"] == "xavier" and "git_commit" in r and "version" in r
        assert 0.0 <= r["test_acc"] <= 1.0
    assert (tmp_path / "colored_mnist.png").stat().st_size > 0
    assert cm.main(args) == 0  # resumed: nothing recomputed
    lines2 = [json.loads(s) for s in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert sum(r["kind"] == "run" for r in lines2) == 2
    np.testing.assert_allclose(lines2[-1]["summary"]["irm"]["test_mean"], lines[-1]["summary"]["irm"]["test_mean"])
