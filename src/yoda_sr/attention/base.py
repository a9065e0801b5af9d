"""Base class of importance-map sources and the post-processing they share."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_EPS = 1e-12


class ImportanceSource(nn.Module):
    """Maps a low-resolution image to YODA's importance map ``A`` at the output size.

    Subclasses implement :meth:`forward`; it runs without gradients and returns float32.
    """

    def forward(self, lr: Tensor, size: tuple[int, int]) -> Tensor:
        """(B, 3, h, w) LR image in [0, 1] -> (B, 1, H, W) importance in [0, 1], ``size=(H, W)``."""
        raise NotImplementedError


def check_input(lr: Tensor, size: tuple[int, int]) -> tuple[int, int]:
    """Validate an ImportanceSource input; returns ``size`` as a tuple of two ints."""
    if lr.ndim != 4 or lr.shape[1] != 3:
        raise ValueError(f"lr must have shape (B, 3, h, w), got {tuple(lr.shape)}")
    height, width = (int(s) for s in size)
    if height < 1 or width < 1:
        raise ValueError(f"size must be two positive ints, got {size!r}")
    return height, width


def upsample_image(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Bicubic resize of (B, C, h, w) in [0, 1] to ``size``, clamped to [0, 1].

    Plain ``F.interpolate(mode="bicubic", align_corners=False)`` (Keys kernel, a = -0.75);
    antialiased only when an axis shrinks (e.g. to a small fixed analysis size).
    """
    if tuple(image.shape[-2:]) == tuple(size):
        return image.clamp(0.0, 1.0)
    shrinks = size[0] < image.shape[-2] or size[1] < image.shape[-1]
    out = F.interpolate(image, size=size, mode="bicubic", align_corners=False, antialias=shrinks)
    return out.clamp(0.0, 1.0)


def min_max_normalize(x: Tensor) -> Tensor:
    """Per-image min-max normalisation of (B, C, H, W) to [0, 1]; a constant image gives zeros."""
    flat = x.flatten(1)
    low = flat.min(dim=1).values.view(-1, 1, 1, 1)
    span = flat.max(dim=1).values.view(-1, 1, 1, 1) - low
    return torch.where(span > _EPS, (x - low) / span.clamp_min(_EPS), torch.zeros_like(x))


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of (B, C, H, W) with replicate padding; ``sigma`` in pixels.

    Hand-written rather than torchvision's ``gaussian_blur`` because that pads by
    reflection, which fails when the kernel is wider than a small image.
    """
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3.0 * sigma))
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(x.dtype)
    channels = x.shape[1]
    out = F.pad(x, (radius, radius, 0, 0), mode="replicate")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    out = F.pad(out, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def resize_map(importance: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """Resize (B, 1, h, w) to ``size``; ``"nearest"`` means pixel-centre nearest neighbour."""
    if mode == "nearest":
        return F.interpolate(importance, size=size, mode="nearest-exact")
    return F.interpolate(importance, size=size, mode=mode, align_corners=False)
