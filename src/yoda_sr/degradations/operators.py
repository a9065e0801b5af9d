"""Degradation operators on float image tensors in [0, 1]: blur, resize, noise, JPEG (8-bit
quantisation is :func:`yoda_sr.imaging.quantize`).

Images are ``(C, H, W)`` (or ``(B, C, H, W)`` where noted) float tensors. Random operators
take a numpy ``Generator`` (:func:`~yoda_sr.degradations.seeding.sample_rng`) and draw their
noise from it on the CPU, so the result depends on that generator alone.
"""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from yoda_sr.imaging import imresize, to_uint8

# Resize modes: torch's (as Real-ESRGAN draws them; no antialiasing, as F.interpolate's
# default) and MATLAB's antialiased bicubic (the SR benchmarks' kernel).
RESIZE_MODES = ("area", "bilinear", "bicubic", "matlab-bicubic")
# ITU-R BT.601 luma weights, for gray noise.
_LUMA = (0.299, 0.587, 0.114)


def blur(image: Tensor, kernel: np.ndarray | Tensor) -> Tensor:
    """Convolve each image with its own kernel (same kernel on every channel).

    Args:
        image: (C, H, W) or (B, C, H, W) float.
        kernel: (k, k) for all images, or (B, k, k) one per image; ``k`` odd.

    Returns:
        The blurred image, same shape. Borders are reflected (BasicSR's ``filter2D``); where
        the image is too small to reflect ``k // 2`` pixels, edge pixels are replicated.
    """
    batched = image.dim() == 4
    x = image if batched else image[None]
    b, c, h, w = x.shape
    weights = torch.as_tensor(kernel, dtype=x.dtype, device=x.device)
    if weights.dim() == 2:
        weights = weights.expand(b, -1, -1)
    if weights.shape[0] != b or weights.shape[-1] % 2 == 0:
        raise ValueError(f"blur: {tuple(weights.shape)} kernels for {b} odd-sized images")
    pad = weights.shape[-1] // 2
    mode = "reflect" if pad < min(h, w) else "replicate"
    padded = F.pad(x.reshape(1, b * c, h, w), (pad, pad, pad, pad), mode=mode)
    # Grouped convolution: one group per (image, channel), the image's kernel for each.
    # conv2d is a correlation, so the kernel is flipped to make it a convolution.
    filters = weights.flip(-1, -2).repeat_interleave(c, dim=0)[:, None]
    out = F.conv2d(padded, filters, groups=b * c).reshape(b, c, h, w)
    return out if batched else out[0]


def resize(image: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """Resize (C, H, W) to ``size`` with one of :data:`RESIZE_MODES` (unclamped)."""
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")
    if mode == "matlab-bicubic":
        return imresize(image, size=size)
    if mode == "area":
        return F.interpolate(image[None], size=size, mode="area")[0]
    return F.interpolate(image[None], size=size, mode=mode, align_corners=False)[0]


def add_gaussian_noise(image: Tensor, sigma: float, gray: bool, rng: np.random.Generator) -> Tensor:
    """``clip(image + sigma * n, 0, 1)``, ``n`` standard normal per pixel and channel (``gray``:
    the same ``n`` on every channel, luminance noise). ``sigma`` in [0, 1] units (25/255 for
    the usual sigma = 25)."""
    c, h, w = image.shape
    noise = rng.standard_normal((1 if gray else c, h, w))
    if gray:
        noise = np.repeat(noise, c, axis=0)
    return (image + sigma * torch.from_numpy(noise).to(image)).clamp(0, 1)


def add_poisson_noise(image: Tensor, scale: float, gray: bool, rng: np.random.Generator) -> Tensor:
    """Shot noise, Real-ESRGAN's way: with ``v`` the image's number of distinct values rounded
    up to a power of two, ``noise = Poisson(v x) / v - x`` (on the BT.601 luma ``x`` and
    repeated on every channel when ``gray``), returned as ``clip(image + scale * noise, 0, 1)``.
    """
    x = image.clamp(0, 1).double().cpu().numpy()
    if gray:
        x = np.tensordot(np.asarray(_LUMA), x, axes=1)[None]
    levels = 2.0 ** np.ceil(np.log2(max(len(np.unique(x)), 2)))
    noise = rng.poisson(x * levels) / levels - x
    if gray:
        noise = np.repeat(noise, image.shape[0], axis=0)
    return (image + scale * torch.from_numpy(noise).to(image)).clamp(0, 1)


def jpeg(image: Tensor, quality: int) -> Tensor:
    """Encode (3, H, W) as a baseline JPEG with Pillow's libjpeg (``quality`` 1..100, 4:2:0
    chroma subsampling, libjpeg's standard tables scaled by quality) and decode it.

    The input is rounded to 8 bits first, as any JPEG encoder does; the output is 8-bit.
    """
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(
        buffer, format="JPEG", quality=int(quality), subsampling="4:2:0"
    )
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        array = np.asarray(decoded.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous().to(image)
