"""Multi-layer perceptrons on flattened inputs (e.g. Colored MNIST's 2×14×14 images).

Registered without preprocessing: the stimuli reach the network as they are (it flattens them).
"""

from __future__ import annotations

import torch
from torch import nn

from neurocompare.models._preprocessing import Preprocessing
from neurocompare.models._registry import MODELS
from neurocompare.models._weights import he_normal_

__all__ = ["MLP", "mlp"]


class MLP(nn.Module):
    """Flatten → (Linear → ReLU) × len(hidden) → Linear.

    Parameters
    ----------
    in_features : int
        Flattened input size (2·14·14 = 392 for Colored MNIST).
    hidden : sequence of int
    num_classes : int
        Outputs (1 for a binary logit).

    Layers are named ``fc1, relu1, ..., fcK, reluK, out``; input dims (batch, ...), output
    (batch, num_classes).
    """

    def __init__(self, in_features: int = 392, hidden=(390, 390), num_classes: int = 1) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.in_features = int(in_features)
        prev = int(in_features)
        self.n_hidden = len(hidden)
        for i, h in enumerate(hidden, start=1):
            self.add_module(f"fc{i}", nn.Linear(prev, int(h)))
            self.add_module(f"relu{i}", nn.ReLU())
            prev = int(h)
        self.out = nn.Linear(prev, int(num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(x)
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"MLP expects {self.in_features} input features per sample; got {x.shape[1]} "
                f"(input shape {tuple(x.shape)}). Build it with in_features={x.shape[1]}."
            )
        for i in range(1, self.n_hidden + 1):
            x = getattr(self, f"relu{i}")(getattr(self, f"fc{i}")(x))
        return self.out(x)


@MODELS.register("mlp", preprocessing=Preprocessing.identity())
def mlp(*, in_features: int = 392, hidden=(390, 390), num_classes: int = 1, seed: int | None = 0,
        in_channels: int | None = None) -> MLP:
    """An MLP (default: the IRM paper's Colored MNIST network, 392 → 390 → 390 → 1).

    ``in_channels`` is accepted for a uniform builder signature and ignored.
    """
    return he_normal_(MLP(in_features, tuple(hidden), num_classes), seed)
