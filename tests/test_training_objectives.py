"""PGD, robust accuracy, augmentations, objectives and the training data helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from neurocompare.training import (
    IRM,
    Adversarial,
    Batches,
    NeuralAlignment,
    OptimizerConfig,
    SimCLR,
    Supervised,
    VICReg,
    colored_mnist,
    layer_output,
    pgd_attack,
    robust_accuracy,
    train,
)
from neurocompare.training.adversarial import default_loss
from neurocompare.training.augment import (
    SimCLRAugment,
    color_jitter,
    gaussian_blur,
    random_flip,
    random_grayscale,
    random_resized_crop,
)
from neurocompare.training.data import load_image_folder, load_mnist, read_idx, synthetic_images


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _linear_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 3))


# ------------------------------------------------------------------------------------ PGD


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_stays_in_ball_and_increases_loss(norm):
    model = _linear_model()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, 1, 4, 4, generator=g)
    y = torch.randint(0, 3, (32,), generator=g)
    eps = 0.1 if norm == "linf" else 0.5
    x_adv = pgd_attack(model, x, y, eps=eps, norm=norm, steps=20)
    d = (x_adv - x).reshape(32, -1)
    size = d.abs().max(1).values if norm == "linf" else d.norm(dim=1)
    assert float(size.max()) <= eps + 1e-5
    assert float(x_adv.min()) >= 0 and float(x_adv.max()) <= 1
    with torch.no_grad():
        assert float(default_loss(model(x_adv), y)) > float(default_loss(model(x), y)) + 0.05
    # targeted PGD lowers the loss towards the targets instead
    x_t = pgd_attack(model, x, y, eps=eps, norm=norm, steps=20, targeted=True)
    with torch.no_grad():
        assert float(default_loss(model(x_t), y)) < float(default_loss(model(x), y))


def test_pgd_linf_on_linear_model_matches_closed_form():
    """For a linear binary logit w·x and no clamp, the optimal L∞ attack is x − eps·sign(w)·(2y−1)."""
    w = torch.tensor([[0.5, -1.0, 2.0, 0.25]])
    model = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(w)
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0])
    x_adv = pgd_attack(model, x, y, eps=0.3, norm="linf", steps=10, clamp=None, random_start=False)
    expected = x - 0.3 * torch.sign(w) * (2 * y[:, None] - 1)
    assert torch.allclose(x_adv, expected, atol=1e-6)
    # L2: the optimal attack moves eps along -w/|w| (for label 1)
    x2 = pgd_attack(model, x, y, eps=0.3, norm="l2", steps=10, clamp=None, random_start=False)
    exp2 = x - 0.3 * w / w.norm() * (2 * y[:, None] - 1)
    assert torch.allclose(x2, exp2, atol=1e-5)


def test_pgd_leaves_parameter_grads_and_mode_alone():
    model = _linear_model()
    model.eval()
    x, y = torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    pgd_attack(model, x, y, eps=0.1, steps=2)
    assert all(p.grad is None for p in model.parameters())
    assert not model.training
    assert torch.equal(pgd_attack(model, x, y, eps=0.0), x)


def test_pgd_bad_inputs():
    model = _linear_model()
    x, y = torch.rand(2, 1, 4, 4), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="must be one of"):
        pgd_attack(model, x, y, eps=0.1, norm="l1")
    with pytest.raises(ValueError, match="eps must be >= 0"):
        pgd_attack(model, x, y, eps=-1)


def test_robust_accuracy_monotone_and_clean():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 4, 4, generator=g)
    model = _linear_model(1)
    with torch.no_grad():
        y = model(x).argmax(1)  # the model is 100% accurate on its own labels
    acc = robust_accuracy(model, (x, y), [0.0, 0.02, 0.1, 0.5], norm="linf", steps=10, batch_size=20)
    assert acc[0.0] == 1.0
    vals = [acc[e] for e in (0.0, 0.02, 0.1, 0.5)]
    assert all(a >= b for a, b in zip(vals, vals[1:])) and vals[-1] < 0.5
    # a loader of (x, y) batches gives the same numbers
    acc2 = robust_accuracy(model, Batches(x, y, batch_size=20, shuffle=False, drop_last=False),
                           [0.0, 0.02, 0.1, 0.5], norm="linf", steps=10)
    assert acc2[0.0] == 1.0 and acc2[0.5] == pytest.approx(acc[0.5], abs=0.05)
    with pytest.raises(ValueError, match="eps_list is empty"):
        robust_accuracy(model, (x, y), [])


# ------------------------------------------------------------------------------ augmentations


def test_augmentations_shapes_ranges_and_identities():
    torch.manual_seed(0)
    x = torch.rand(5, 3, 16, 16)
    assert torch.equal(random_flip(x, p=1.0), x.flip(-1))
    assert torch.equal(random_flip(x, p=0.0), x)
    g = random_grayscale(x, p=1.0)
    assert torch.allclose(g[:, 0], g[:, 1]) and torch.allclose(g[:, 1], g[:, 2])
    ident = random_resized_crop(x, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert torch.allclose(ident, x, atol=1e-5)
    crop = random_resized_crop(x, size=8)
    assert crop.shape == (5, 3, 8, 8)
    cj = color_jitter(x, p=1.0)
    assert cj.shape == x.shape and float(cj.min()) >= 0 and float(cj.max()) <= 1 and not torch.allclose(cj, x)
    assert torch.allclose(color_jitter(x, 0, 0, 0, 0, p=1.0), x, atol=1e-5)
    blurred = gaussian_blur(x, sigma=(2.0, 2.0), p=1.0)
    assert blurred.var() < x.var()
    assert torch.allclose(blurred.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=0.05)
    const = torch.full((2, 3, 16, 16), 0.3)
    assert torch.allclose(gaussian_blur(const, p=1.0), const, atol=1e-6)
    out = SimCLRAugment()(x)
    assert out.shape == x.shape
    assert SimCLRAugment()(torch.rand(3, 1, 12, 12)).shape == (3, 1, 12, 12)
    with pytest.raises(ValueError, match="dims"):
        random_flip(torch.rand(3, 4))


# ------------------------------------------------------------------------------------ objectives


def _tiny_convnet():
    from neurocompare.models import build_model

    return build_model("convnet_small", in_channels=1, num_classes=4, seed=0)


def test_supervised_learns_synthetic_images():
    x, y = synthetic_images(128, channels=1, size=16, num_classes=4, seed=0)
    res = train(_tiny_convnet(), Supervised(), Batches(x, y, batch_size=32), steps=30, log_every=10,
                optimizer=OptimizerConfig(lr=3e-3), progress=False)
    assert res.history[-1]["accuracy"] > 0.7 and res.history[-1]["loss"] < res.history[0]["loss"]


@pytest.mark.parametrize("cls", [SimCLR, VICReg])
def test_ssl_objectives_run_and_lower_loss(cls):
    x, y = synthetic_images(64, channels=1, size=16, num_classes=4, seed=0)
    obj = cls(in_dim=64, hidden_dim=32, out_dim=16, layer="avgpool", blur=False)
    res = train(_tiny_convnet(), obj, Batches(x, batch_size=32), steps=12, log_every=4,
                optimizer=OptimizerConfig(lr=3e-3), progress=False)
    assert all(math.isfinite(h["loss"]) for h in res.history)
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    assert any(p.grad is not None for p in obj.head.parameters())


def test_adversarial_objective_uses_pgd_examples():
    x, y = synthetic_images(32, channels=1, size=16, num_classes=4, seed=0)
    model = _tiny_convnet()
    obj = Adversarial(eps=0.1, steps=2, clean_weight=0.5)
    loss, metrics = obj(model, (x, y))
    assert loss.dim() == 0 and "clean_accuracy" in metrics and model.training
    clean = Supervised()(model, (x, y))[0].detach()
    adv_only = Adversarial(eps=0.1, steps=2)(model, (x, y))[0].detach()
    assert float(adv_only) > float(clean)
    assert float(loss.detach()) == pytest.approx(0.5 * float(clean) + 0.5 * float(adv_only), rel=0.05)


def test_irm_objective_penalty_schedule_and_erm_equivalence():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 1, 4, 4, generator=g)
    y = (torch.rand(40, generator=g) > 0.5).float()
    env = torch.arange(40) % 2
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 1))
    erm = IRM(penalty_weight=0.0)
    loss0, m0 = erm(model, (x, y, env))
    pooled_by_env = sum(default_loss(model(x[env == e]), y[env == e]) for e in (0, 1)) / 2
    assert float(loss0.detach()) == pytest.approx(float(pooled_by_env.detach()), rel=1e-6)
    irm = IRM(penalty_weight=100.0, anneal_steps=5)
    irm.set_step(0)
    l_early, m_early = irm(model, (x, y, env))
    assert float(m_early["penalty_weight"]) == 1.0
    assert float(l_early.detach()) == pytest.approx(float(m_early["risk"] + m_early["penalty"]), rel=1e-5)
    irm.set_step(5)
    l_late, m_late = irm(model, (x, y, env))
    assert float(m_late["penalty_weight"]) == 100.0
    assert float(l_late.detach()) == pytest.approx(float((m_late["risk"] + 100 * m_late["penalty"]) / 100), rel=1e-5)
    with pytest.raises(ValueError, match="env"):
        irm(model, (x, y))


def test_neural_alignment_raises_cka_and_validates():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    stimuli = torch.rand(40, 1, 4, 4)
    neural = stimuli.reshape(40, -1)[:, :5] @ torch.randn(5, 6)  # depends on a few pixels only
    x, y = torch.rand(32, 1, 4, 4), torch.randint(0, 3, (32,))
    obj = NeuralAlignment(Supervised(), "1", stimuli, neural, weight=1.0, batch_size=20)
    before = float(obj.alignment(model)[1])
    res = train(model, obj, lambda s: (x, y), steps=60, log_every=20, optimizer=OptimizerConfig(lr=1e-2),
                progress=False)
    after = float(obj.alignment(res.model)[1])
    assert after > before + 0.1
    assert {"cka", "alignment_loss", "task_loss", "accuracy"} <= set(res.history[-1])
    rdm_obj = NeuralAlignment(Supervised(), "1", stimuli, neural, method="rdm", batch_size=10)
    loss, metrics = rdm_obj(model, (x, y))
    assert "rdm_r" in metrics and loss.dim() == 0
    with pytest.raises(ValueError, match=r"Unknown layer 'conv9'.*list_layers"):
        layer_output(model, "conv9", stimuli)
    # layer_output reads the hidden layer with its graph: the same values as running the layers by hand
    hidden = layer_output(model, "1", stimuli)
    assert hidden.requires_grad and torch.equal(hidden, model[1](model[0](stimuli)))
    with pytest.raises(ValueError, match="same number of stimuli"):
        NeuralAlignment(Supervised(), "1", stimuli, neural[:5])
    with pytest.raises(ValueError, match="must be one of"):
        NeuralAlignment(Supervised(), "1", stimuli, neural, method="svcca")
    # several sessions, each with its own neurons
    multi = NeuralAlignment(Supervised(), "1", [stimuli[:20], stimuli[20:]], [neural[:20, :3], neural[20:]],
                            batch_size=8)
    loss, metrics = multi(model, (x, y))
    assert multi.n_sessions == 2 and "cka" in metrics
    assert float(multi.alignment(model, session=1)[1]) == pytest.approx(
        float(NeuralAlignment(Supervised(), "1", stimuli[20:], neural[20:]).alignment(model)[1]), rel=1e-5)
    with pytest.raises(ValueError, match="one responses tensor per stimuli"):
        NeuralAlignment(Supervised(), "1", [stimuli], [neural, neural])


# ------------------------------------------------------------------------------------ data


def test_colored_mnist_construction_statistics():
    n = 20000
    g = torch.Generator().manual_seed(0)
    digits = torch.randint(0, 10, (n,), generator=g)
    images = torch.rand(n, 1, 28, 28, generator=g)
    x, y = colored_mnist(images, digits, color_flip_prob=0.1, label_noise=0.25, seed=1)
    assert x.shape == (n, 2, 14, 14) and y.shape == (n,)
    color = (x[:, 1].sum((1, 2)) > 0).float()  # green channel used -> colour 1
    assert ((x[:, 0].sum((1, 2)) > 0).float() + color == 1).all()
    shape_label = (digits >= 5).float()
    assert float((y == shape_label).float().mean()) == pytest.approx(0.75, abs=0.015)
    assert float((color == y).float().mean()) == pytest.approx(0.9, abs=0.015)
    _, y2 = colored_mnist(images, digits, color_flip_prob=0.9, seed=1)
    x2, _ = colored_mnist(images, digits, color_flip_prob=0.9, seed=1)
    assert float(((x2[:, 1].sum((1, 2)) > 0).float() == y2).float().mean()) == pytest.approx(0.1, abs=0.015)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        colored_mnist(images, digits, 1.5)


def test_read_idx_roundtrip(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 0x08, 3]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    (tmp_path / "a-idx3-ubyte").write_bytes(header + arr.tobytes())
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte"), arr)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")


def test_image_folder(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    for cls, color in (("a", (255, 0, 0)), ("b", (0, 0, 255))):
        (tmp_path / cls).mkdir()
        for i in range(2):
            pil.new("RGB", (20, 10 + i), color).save(tmp_path / cls / f"{i}.png")
    x, y, classes = load_image_folder(tmp_path, size=8)
    assert x.shape == (4, 3, 8, 8) and y.tolist() == [0, 0, 1, 1] and classes == ["a", "b"]
    assert float(x[0, 0].mean()) == pytest.approx(1.0) and float(x[2, 2].mean()) == pytest.approx(1.0)
    with pytest.raises(FileNotFoundError):
        load_image_folder(tmp_path / "missing")


def _write_idx(path, arr):
    import gzip

    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def test_read_mnist_on_tiny_files_and_the_data_dir_option(tmp_path):
    from neurocompare._options import set_options
    from neurocompare.training.data import read_mnist

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    folder = tmp_path / "mnist"
    folder.mkdir()
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", images)  # gzipped, and the dotted name style
    _write_idx(folder / "t10k-labels.idx1-ubyte", labels)
    got_x, got_y = read_mnist(folder, "test")
    assert np.array_equal(got_x, images) and np.array_equal(got_y, labels)
    # load_mnist: parent folder with mnist/ inside, from root= or from the data_dir option
    x, y = load_mnist(tmp_path, "test")
    assert x.dtype == torch.float32 and x.shape == (5, 1, 28, 28) and y.dtype == torch.int64
    assert torch.equal(x[:, 0] * 255, torch.from_numpy(images.astype(np.float32)))
    assert y.tolist() == [3, 1, 4, 1, 5]
    with set_options(data_dir=tmp_path):
        assert torch.equal(load_mnist(split="test")[0], x)
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.*Present"):
        load_mnist(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        load_mnist(tmp_path, "validation")
    _write_idx(folder / "t10k-labels.idx1-ubyte", labels[:4])
    with pytest.raises(ValueError, match=r"expected images \(n, 28, 28\) and labels \(n,\)"):
        read_mnist(folder, "test")


@pytest.mark.requires_data
def test_load_mnist_real(data_root):
    x, y = load_mnist(data_root, "test")
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert torch.bincount(y).tolist()[:2] == [980, 1135]  # the published MNIST test-set class counts
    # data_loaders.mnist checks the checksums and reads with the same reader: identical tensors
    from data_loaders import mnist

    xc, yc = mnist.load_tensors("test", root=data_root)
    assert torch.equal(xc, x) and torch.equal(yc, y)
    xs, ys = mnist.load_tensors("test", root=data_root, n=7)
    assert torch.equal(xs, x[:7]) and torch.equal(ys, y[:7])
