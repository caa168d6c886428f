"""ResNet-18-style networks written with ``torch.nn`` only (no torchvision needed).

Module names and parameter shapes follow torchvision's ``resnet18`` (``conv1``, ``bn1``,
``relu``, ``maxpool``, ``layer1``…``layer4`` of ``BasicBlock``s, ``avgpool``, ``fc``), so state
dicts are interchangeable: 11,689,512 parameters with 1000 classes.

``resnet18_small`` uses the CIFAR stem (3×3 stride-1 ``conv1``, no max-pool) for 32×32 images.

References
----------
He, Zhang, Ren & Sun (2016). Deep residual learning for image recognition. CVPR.
"""

from __future__ import annotations

import torch
from torch import nn

from neurocompare.models._preprocessing import Preprocessing
from neurocompare.models._registry import MODELS
from neurocompare.models._weights import he_normal_

__all__ = ["BasicBlock", "ResNet", "resnet18", "resnet18_small"]


class BasicBlock(nn.Module):
    """Two 3×3 conv–BN layers with an identity (or 1×1 conv–BN ``downsample``) shortcut."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=False)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """A ResNet of :class:`BasicBlock` stages.

    Parameters
    ----------
    blocks : sequence of int
        Blocks per stage (``(2, 2, 2, 2)`` for ResNet-18).
    widths : sequence of int
        Channels per stage.
    in_channels : int
    num_classes : int
    small_input : bool
        CIFAR stem (3×3 stride-1 conv, no max-pool) instead of the ImageNet stem (7×7 stride-2
        conv + 3×3 stride-2 max-pool).

    Input dims (batch, in_channels, height, width); output (batch, num_classes). ``avgpool``
    gives (batch, widths[-1], 1, 1).
    """

    def __init__(self, blocks=(2, 2, 2, 2), widths=(64, 128, 256, 512), in_channels: int = 3,
                 num_classes: int = 1000, small_input: bool = False) -> None:
        super().__init__()
        if len(blocks) != len(widths):
            raise ValueError(f"blocks and widths must have the same length; got {len(blocks)} and {len(widths)}.")
        w0 = widths[0]
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, w0, 3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, w0, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(w0)
        self.relu = nn.ReLU(inplace=False)
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(3, stride=2, padding=1)
        prev = w0
        self.n_stages = len(blocks)
        for i, (nb, w) in enumerate(zip(blocks, widths), start=1):
            stride = 1 if i == 1 else 2
            layers = [BasicBlock(prev, w, stride)] + [BasicBlock(w, w, 1) for _ in range(nb - 1)]
            self.add_module(f"layer{i}", nn.Sequential(*layers))
            prev = w
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(1, self.n_stages + 1):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


@MODELS.register("resnet18", preprocessing=Preprocessing())
def resnet18(*, in_channels: int = 3, num_classes: int = 1000, seed: int | None = 0) -> ResNet:
    """ResNet-18 with the ImageNet stem (for 64×64 and larger inputs); torchvision-compatible names."""
    return he_normal_(ResNet((2, 2, 2, 2), in_channels=in_channels, num_classes=num_classes), seed)


@MODELS.register("resnet18_small", preprocessing=Preprocessing())
def resnet18_small(*, in_channels: int = 3, num_classes: int = 10, seed: int | None = 0) -> ResNet:
    """ResNet-18 with the CIFAR stem, for 32×32 (or MNIST-sized) inputs."""
    return he_normal_(ResNet((2, 2, 2, 2), in_channels=in_channels, num_classes=num_classes, small_input=True), seed)
