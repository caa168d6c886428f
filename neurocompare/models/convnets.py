"""Small and medium convolutional networks (no torchvision needed).

Both take images of shape (batch, in_channels, height, width) of any size >= 16 pixels and
end in a global-average-pooled linear read-out, so they work on MNIST (1×28×28) and on
natural images (3×H×W) alike.

Registered with ImageNet normalization at the stimulus size (:class:`Preprocessing` defaults):
grayscale stimuli are repeated to three channels. Weights are He-normal from ``seed``
(:func:`he_normal_`), not trained.
"""

from __future__ import annotations

import torch
from torch import nn

from neurocompare.models._preprocessing import Preprocessing
from neurocompare.models._registry import MODELS
from neurocompare.models._weights import he_normal_

__all__ = ["ConvNet", "convnet_small", "convnet_medium"]


class ConvNet(nn.Module):
    """A plain stack of conv–batchnorm–ReLU–maxpool blocks and a linear classifier.

    Parameters
    ----------
    widths : sequence of int
        Channels of each block; each block halves the spatial size.
    in_channels : int
        Input channels (1 for MNIST, 3 for RGB).
    num_classes : int
        Outputs of the classifier ``fc``.

    Layers are named ``block1 ... blockK`` (each with ``conv``, ``bn``, ``relu``, ``pool``),
    ``avgpool`` (batch, widths[-1]) and ``fc`` (batch, num_classes).
    """

    def __init__(self, widths=(32, 64), in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        blocks = []
        prev = in_channels
        for w in widths:
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(prev, w, kernel_size=3, padding=1, bias=False),
                    nn.BatchNorm2d(w),
                    nn.ReLU(inplace=False),
                    nn.MaxPool2d(2),
                )
            )
            prev = w
        for i, block in enumerate(blocks, start=1):
            block_named = nn.Sequential()
            for name, mod in zip(("conv", "bn", "relu", "pool"), block):
                block_named.add_module(name, mod)
            self.add_module(f"block{i}", block_named)
        self.n_blocks = len(blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, self.n_blocks + 1):
            x = getattr(self, f"block{i}")(x)
        return self.fc(self.flatten(self.avgpool(x)))


@MODELS.register("convnet_small", preprocessing=Preprocessing())
def convnet_small(*, in_channels: int = 3, num_classes: int = 10, seed: int | None = 0) -> ConvNet:
    """Two conv blocks (32, 64 channels): fast enough for tests and CPU training."""
    return he_normal_(ConvNet((32, 64), in_channels=in_channels, num_classes=num_classes), seed)


@MODELS.register("convnet_medium", preprocessing=Preprocessing())
def convnet_medium(*, in_channels: int = 3, num_classes: int = 10, seed: int | None = 0) -> ConvNet:
    """Four conv blocks (32, 64, 128, 256 channels)."""
    return he_normal_(ConvNet((32, 64, 128, 256), in_channels=in_channels, num_classes=num_classes), seed)
