"""MATLAB-compatible bicubic resizing (``imresize(I, scale, 'bicubic')``).

Super-resolution benchmarks (SR3, SRDiff, BasicSR, ...) create LR images with MATLAB's
``imresize``: Keys cubic kernel with ``a = -0.5``, a kernel stretched by ``1 / scale`` (and weights
renormalised) when downscaling, symmetric edge padding, and output size ``ceil(scale * size)``.
This is written by hand because ``torch.nn.functional.interpolate(mode="bicubic")`` uses
``a = -0.75`` and a different antialiasing filter, so its LR images would not match the field's
protocol (and PIL's bicubic differs too).

The resize is separable and linear: for each spatial axis a dense ``(out_len, in_len)`` weight
matrix is built once (cached) and applied with a matrix product, so it is fast on CPU, pure torch,
and differentiable. Values are not clamped: callers clamp/quantise (e.g. to uint8) themselves.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from yoda_sr.imaging.io import quantize

# Width of the (unstretched) Keys cubic kernel's support, in input pixels.
_KERNEL_WIDTH = 4.0
# Tolerance on ``scale * size`` before ``ceil``: ``1.1 * 10`` is 11.000000000000002 in floating
# point, and MATLAB's plain ``ceil`` would then give 12; we return 11.
_SIZE_EPS = 1e-9


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with ``a = -0.5`` (MATLAB's ``cubic``)."""
    absx = np.abs(x)
    absx2 = absx**2
    absx3 = absx**3
    near = (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1)
    far = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * ((absx > 1) & (absx <= 2))
    return near + far


@lru_cache(maxsize=64)
def _weight_matrix(in_len: int, out_len: int, scale: float, antialias: bool) -> Tensor:
    """Dense ``(out_len, in_len)`` float64 matrix M with ``out = M @ in`` along one axis.

    Follows MATLAB's ``contributions``: output pixel ``x`` (1-based) samples input position
    ``u = x / scale + 0.5 * (1 - 1 / scale)``; indices outside ``1..in_len`` are mirrored
    (symmetric padding, edge pixel repeated), which is why weights are accumulated.
    """
    width = _KERNEL_WIDTH
    if scale < 1 and antialias:
        width = _KERNEL_WIDTH / scale

        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * _cubic(scale * x)
    else:
        kernel = _cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = math.ceil(width) + 2
    indices = left[:, None] + np.arange(taps)[None, :]
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    period = 2 * in_len
    zero_based = np.mod(indices.astype(np.int64) - 1, period)
    mirrored = np.where(zero_based < in_len, zero_based, period - 1 - zero_based)
    matrix = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.broadcast_to(np.arange(out_len)[:, None], mirrored.shape)
    np.add.at(matrix, (rows, mirrored), weights)
    return torch.from_numpy(matrix)


def _resize(
    image: Tensor, size: tuple[int, int], scales: tuple[float, float], antialias: bool
) -> Tensor:
    """Resize the last two axes of ``image`` to ``size`` with per-axis kernel ``scales``."""
    if image.dim() not in (3, 4):
        raise ValueError(
            f"imresize: image must be (C, H, W) or (B, C, H, W), got shape {tuple(image.shape)}"
        )
    if not image.is_floating_point():
        raise TypeError(
            f"imresize: image must be a floating-point tensor, got {image.dtype}; "
            "convert with image.float() first"
        )
    in_h, in_w = image.shape[-2:]
    out_h, out_w = size
    if min(in_h, in_w, out_h, out_w) < 1:
        raise ValueError(f"imresize: cannot resize {in_h}x{in_w} to {out_h}x{out_w}")
    weight_h = _weight_matrix(in_h, out_h, scales[0], antialias).to(image.device, image.dtype)
    weight_w = _weight_matrix(in_w, out_w, scales[1], antialias).to(image.device, image.dtype)
    return weight_h @ image @ weight_w.T


def imresize(
    image: Tensor,
    scale: float | None = None,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
) -> Tensor:
    """MATLAB ``imresize(image, scale, 'bicubic')`` for float tensors.

    Args:
        image: (C, H, W) or (B, C, H, W) float tensor, any value range.
        scale: resize factor; output size is ``ceil(scale * (H, W))`` as in MATLAB.
        size: output ``(H_out, W_out)``; per-axis scales are ``H_out / H`` and ``W_out / W``.
            Give exactly one of ``scale`` and ``size``.
        antialias: stretch the kernel when downscaling (MATLAB's default ``Antialiasing=true``).

    Returns:
        Tensor with the input's leading shape, dtype and device. Not clamped: bicubic
        overshoots, so callers clamp/quantise the result themselves.
    """
    if (scale is None) == (size is None):
        raise ValueError("imresize: give exactly one of `scale` and `size`")
    in_h, in_w = image.shape[-2:]
    if scale is not None:
        if not scale > 0:
            raise ValueError(f"imresize: scale must be positive, got {scale}")
        out_size = (math.ceil(in_h * scale - _SIZE_EPS), math.ceil(in_w * scale - _SIZE_EPS))
        return _resize(image, out_size, (float(scale), float(scale)), antialias)
    assert size is not None  # exactly one of the two is given (checked above)
    out_h, out_w = (int(s) for s in size)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"imresize: size must be positive, got {tuple(size)}")
    return _resize(image, (out_h, out_w), (out_h / in_h, out_w / in_w), antialias)


def downscale(hr: Tensor, scale: int) -> Tensor:
    """Make the LR image the field's way: MATLAB bicubic ``imresize(hr, 1 / scale)``.

    Args:
        hr: (C, H, W) or (B, C, H, W) float tensor. H and W should be multiples of ``scale``
            (:func:`mod_crop` first); otherwise the output is ``ceil(H / scale) x ceil(W / scale)``.
        scale: integer downscaling factor (>= 1).

    Returns:
        The unclamped LR tensor; quantise to uint8 (round(clamp(x, 0, 1) * 255) / 255) to
        reproduce the LR images of the benchmarks.
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"downscale: scale must be a positive integer, got {scale!r}")
    in_h, in_w = hr.shape[-2:]
    out_size = (-(-in_h // scale), -(-in_w // scale))
    return _resize(hr, out_size, (1.0 / scale, 1.0 / scale), antialias=True)


def upscale_bicubic(lr: Tensor, size: tuple[int, int]) -> Tensor:
    """Bicubic upsampling of the LR image to ``size`` (SR3's conditioning image).

    Uses the same MATLAB kernel as :func:`downscale`, so the conditioning image and the LR
    image follow one interpolation convention (LR -> HR -> LR round trips stay consistent).
    Input (C, h, w) or (B, C, h, w) float; output unclamped.
    """
    return imresize(lr, size=size)


def mod_crop(image: Tensor, scale: int) -> Tensor:
    """Crop (..., H, W) at the bottom and right to multiples of ``scale`` (the field's modcrop)."""
    height, width = image.shape[-2:]
    return image[..., : height - height % scale, : width - width % scale]


def make_lr(hr: Tensor, scale: int) -> tuple[Tensor, Tensor]:
    """The benchmarks' LR image of an HR image (3, H, W) in [0, 1].

    Returns ``(hr_cropped, lr)``: the HR mod-cropped to multiples of ``scale`` and its MATLAB
    bicubic ``1/scale`` downscale, clamped and quantised to 8 bits (as if saved as PNG).
    """
    if min(hr.shape[-2:]) < scale:
        raise ValueError(f"image {tuple(hr.shape[-2:])} is smaller than the scale {scale}")
    hr = mod_crop(hr, scale)
    return hr, quantize(downscale(hr, scale))
