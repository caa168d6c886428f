"""Smoke and content tests for neurocompare.plotting.metamers (matplotlib, Agg backend)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neurocompare.metamers import check_validity, recognizability, synthesize_metamers  # noqa: E402
from neurocompare.plotting.metamers import plot_metamers, plot_recognizability, plot_validity  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one intra-op thread avoids thread hand-off costs on a shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(flat=nn.Flatten(), fc1=nn.Linear(16, 32), relu1=nn.ReLU(),
                                      out=nn.Linear(32, 3)))
    x0 = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    ds = synthesize_metamers(model, {"early": "relu1", "final": "out"}, x0, labels=[0, 1, 2], n_rounds=2,
                             steps_per_round=10, progress=False)
    v = check_validity(model, ds, torch.rand(20, 1, 4, 4), n_null_pairs=50)
    table = recognizability({"m": ds}, {"m": model, "m2": model}, n_boot=20)
    return ds, v, table


def test_plot_metamers_grid(setup):
    ds, v, _ = setup
    fig = plot_metamers(ds, validity=v, title="t")
    assert len(fig.axes) == 3 * (1 + 2 + 1)  # rows: images; columns: original | 2 layers | loss
    loss_ax = fig.axes[3]
    assert len(loss_ax.get_lines()) == 2  # one loss curve per layer
    np.testing.assert_allclose(loss_ax.get_lines()[0].get_ydata(), ds["loss"].values[0, 0])
    n_invalid = int((~v["valid"].values).sum())
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts.count("invalid") == n_invalid
    plt.close(fig)
    fig = plot_metamers(ds, images=[1], loss=False)
    assert len(fig.axes) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="out of range"):
        plot_metamers(ds, images=[5])
    with pytest.raises(TypeError, match="metamer Dataset"):
        plot_metamers(v)


def test_plot_validity_and_recognizability(setup):
    ds, v, table = setup
    fig = plot_validity(v)
    assert len(fig.axes) == 2 and "valid" in fig.axes[0].get_title()
    plt.close(fig)
    fig = plot_recognizability(table)
    heat = [ax for ax in fig.axes if ax.images]
    assert len(heat) == 2  # one heatmap per stage
    np.testing.assert_allclose(heat[0].images[0].get_array(), table["accuracy"].values[:, :, 0])
    plt.close(fig)
    with pytest.raises(TypeError):
        plot_validity(ds)
    with pytest.raises(TypeError):
        plot_recognizability(ds)
