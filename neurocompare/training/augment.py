"""SimCLR-style image augmentations written in batched torch ops (CPU or GPU, no torchvision).

Every function takes images with dims (image, channel, height, width), values in [0, 1], draws
independent random parameters per image from the global torch RNG (or ``generator``) and
returns a new tensor of the same dims (:func:`random_resized_crop` may change height/width).

:class:`SimCLRAugment` chains them with the probabilities of Chen et al. (2020).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "random_resized_crop",
    "random_flip",
    "color_jitter",
    "random_grayscale",
    "gaussian_blur",
    "SimCLRAugment",
]


def _check(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(
            f"{name} expects images with dims (image, channel, height, width); got "
            f"{tuple(getattr(x, 'shape', ()))}."
        )


def _rand(n: int, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=generator).to(x.device)


def random_resized_crop(
    x: torch.Tensor,
    size: int | tuple[int, int] | None = None,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Crop a random area fraction in ``scale`` with aspect ratio in ``ratio``, resize to ``size``.

    Uses one ``affine_grid``/``grid_sample`` call for the whole batch (bilinear).
    """
    _check(x, "random_resized_crop")
    n, _, h, w = x.shape
    out_hw = (h, w) if size is None else ((size, size) if isinstance(size, int) else tuple(size))
    area = scale[0] + (scale[1] - scale[0]) * _rand(n, x, generator)
    logr = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * _rand(n, x, generator)
    r = torch.exp(logr)
    cw = torch.sqrt(area * r).clamp(max=1.0)  # crop width as a fraction of the image width
    ch = torch.sqrt(area / r).clamp(max=1.0)
    cx = (1 - cw) * (2 * _rand(n, x, generator) - 1)  # centre in [-1+cw, 1-cw] (normalised coords)
    cy = (1 - ch) * (2 * _rand(n, x, generator) - 1)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 0, 2] = cw, cx
    theta[:, 1, 1], theta[:, 1, 2] = ch, cy
    grid = F.affine_grid(theta, [n, x.shape[1], out_hw[0], out_hw[1]], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_flip(x: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    _check(x, "random_flip")
    mask = (_rand(x.shape[0], x, generator) < p).view(-1, 1, 1, 1)
    return torch.where(mask, x.flip(-1), x)


def _gray(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 3:
        wts = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x * wts).sum(1, keepdim=True)
    return x.mean(1, keepdim=True)


def color_jitter(
    x: torch.Tensor,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.1,
    p: float = 0.8,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random brightness, contrast, saturation and hue changes (applied with probability ``p``).

    Factors are uniform in ``[1 − s, 1 + s]``; the hue shift is a rotation by up to ``hue·2π``
    of the chroma plane in YIQ space. Saturation and hue need 3 channels (skipped otherwise).
    """
    _check(x, "color_jitter")
    n = x.shape[0]

    def factor(s: float) -> torch.Tensor:
        return (1 + s * (2 * _rand(n, x, generator) - 1)).view(-1, 1, 1, 1).to(x.dtype)

    out = x * factor(brightness)
    mean = _gray(out).mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * factor(contrast) + mean
    if x.shape[1] == 3:
        g = _gray(out)
        out = (out - g) * factor(saturation) + g
        angle = (hue * (2 * _rand(n, x, generator) - 1) * 2 * math.pi).to(x.dtype)
        to_yiq = torch.tensor(
            [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], device=x.device, dtype=x.dtype
        )
        from_yiq = torch.linalg.inv(to_yiq)
        cos, sin = torch.cos(angle), torch.sin(angle)
        rot = torch.zeros(n, 3, 3, device=x.device, dtype=x.dtype)
        rot[:, 0, 0] = 1
        rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
        m = from_yiq @ rot @ to_yiq  # (n, 3, 3)
        out = torch.einsum("nij,njhw->nihw", m, out)
    out = out.clamp(0, 1)
    apply = (_rand(n, x, generator) < p).view(-1, 1, 1, 1)
    return torch.where(apply, out, x)


def random_grayscale(x: torch.Tensor, p: float = 0.2, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace an image by its luminance (copied to every channel) with probability ``p``."""
    _check(x, "random_grayscale")
    g = _gray(x).expand_as(x)
    mask = (_rand(x.shape[0], x, generator) < p).view(-1, 1, 1, 1)
    return torch.where(mask, g, x)


def gaussian_blur(
    x: torch.Tensor,
    sigma: tuple[float, float] = (0.1, 2.0),
    p: float = 0.5,
    kernel_frac: float = 0.1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Gaussian blur with per-image sigma uniform in ``sigma`` (pixels), with probability ``p``.

    The kernel spans about ``kernel_frac`` of the image side (odd, at least 3 taps); a separable
    grouped convolution blurs all images at once with reflect padding.
    """
    _check(x, "gaussian_blur")
    n, c, h, w = x.shape
    k = max(3, int(round(kernel_frac * min(h, w))) // 2 * 2 + 1)
    s = sigma[0] + (sigma[1] - sigma[0]) * _rand(n, x, generator)
    t = torch.arange(k, device=x.device, dtype=x.dtype) - k // 2
    ker = torch.exp(-(t[None] ** 2) / (2 * s[:, None].to(x.dtype) ** 2))
    ker = ker / ker.sum(1, keepdim=True)  # (n, k)
    ker = ker.repeat_interleave(c, dim=0)  # (n*c, k)
    pad = k // 2
    y = x.reshape(1, n * c, h, w)
    y = F.conv2d(F.pad(y, (pad, pad, 0, 0), mode="reflect"), ker.view(n * c, 1, 1, k), groups=n * c)
    y = F.conv2d(F.pad(y, (0, 0, pad, pad), mode="reflect"), ker.view(n * c, 1, k, 1), groups=n * c)
    y = y.view(n, c, h, w)
    mask = (_rand(n, x, generator) < p).view(-1, 1, 1, 1)
    return torch.where(mask, y, x)


class SimCLRAugment(nn.Module):
    """The SimCLR augmentation pipeline: crop → flip → colour jitter (p=0.8) → grayscale (p=0.2) → blur (p=0.5).

    Parameters
    ----------
    size : int, optional
        Output side; default: the input's.
    scale : (float, float)
        Crop area range.
    jitter : float
        Colour-jitter strength ``s`` (brightness/contrast/saturation ``0.8s``, hue ``0.2s``).
    blur : bool
        Include the Gaussian blur (SimCLR omits it on CIFAR-sized images).
    """

    def __init__(self, size: int | None = None, scale: tuple[float, float] = (0.08, 1.0), jitter: float = 0.5,
                 blur: bool = True) -> None:
        super().__init__()
        self.size, self.scale, self.jitter, self.blur = size, tuple(scale), float(jitter), bool(blur)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.jitter
        x = random_resized_crop(x, self.size, scale=self.scale)
        x = random_flip(x)
        x = color_jitter(x, 0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s, p=0.8)
        x = random_grayscale(x, p=0.2)
        if self.blur:
            x = gaussian_blur(x, p=0.5)
        return x
