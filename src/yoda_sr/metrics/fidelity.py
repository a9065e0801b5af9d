"""PSNR and SSIM under the field's protocol (BasicSR / MATLAB convention).

Written by hand (numpy/scipy) rather than taken from scikit-image or torchmetrics because SR papers
report numbers under one exact protocol: uint8-quantised images, data range 255, border crop,
MATLAB BT.601 luma without re-rounding, and SSIM with an 11x11 Gaussian window (sigma 1.5)
averaged over the 'valid' region only, per channel.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import correlate1d
from torch import Tensor

from yoda_sr.metrics.image import prepare_pair, rgb_to_y
from yoda_sr.metrics.protocol import DATA_RANGE, SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW


def _channels(img: np.ndarray, ref: np.ndarray, test_y_channel: bool) -> tuple[np.ndarray, ...]:
    """float64 (H, W, C') views of the pair: RGB as is, or the Y channel as C' = 1."""
    if test_y_channel:
        return rgb_to_y(img)[:, :, None], rgb_to_y(ref)[:, :, None]
    return img.astype(np.float64), ref.astype(np.float64)


def psnr(
    img: np.ndarray | Tensor,
    ref: np.ndarray | Tensor,
    crop_border: int = 0,
    test_y_channel: bool = False,
) -> float:
    """Peak signal-to-noise ratio in dB, MSE over all pixels and channels, peak 255.

    Args:
        img, ref: uint8 (H, W, C) arrays or float (C, H, W) tensors in [0, 1] (quantised first).
        crop_border: pixels removed from each side before computing.
        test_y_channel: compare BT.601 luma (RGB inputs only) instead of RGB.

    Returns:
        PSNR in dB; ``inf`` for identical images.
    """
    img_u8, ref_u8 = prepare_pair(img, ref, crop_border)
    a, b = _channels(img_u8, ref_u8, test_y_channel)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(DATA_RANGE**2 / mse)


def _gaussian_window() -> np.ndarray:
    """Normalised 1-D Gaussian of length 11, sigma 1.5 (its outer product is the SSIM window)."""
    x = np.arange(SSIM_WINDOW, dtype=np.float64) - SSIM_WINDOW // 2
    g = np.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def _filter_valid(x: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable 2-D Gaussian filtering of (H, W), keeping only the 'valid' region."""
    radius = SSIM_WINDOW // 2
    out = correlate1d(correlate1d(x, window, axis=0), window, axis=1)
    return out[radius:-radius, radius:-radius]


def _ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two float64 (H, W) channels in 0..255 units."""
    window = _gaussian_window()
    c1 = (SSIM_K1 * DATA_RANGE) ** 2
    c2 = (SSIM_K2 * DATA_RANGE) ** 2
    mu_a, mu_b = _filter_valid(a, window), _filter_valid(b, window)
    var_a = _filter_valid(a * a, window) - mu_a**2
    var_b = _filter_valid(b * b, window) - mu_b**2
    cov = _filter_valid(a * b, window) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(ssim_map.mean())


def ssim(
    img: np.ndarray | Tensor,
    ref: np.ndarray | Tensor,
    crop_border: int = 0,
    test_y_channel: bool = False,
) -> float:
    """Structural similarity (Wang et al. 2004) as in BasicSR / MATLAB ``ssim_index``.

    11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, data range 255, 'valid' filtering,
    computed per channel and averaged. Inputs as for :func:`psnr`; after cropping, both sides
    must be at least 11 pixels.
    """
    img_u8, ref_u8 = prepare_pair(img, ref, crop_border)
    h, w = img_u8.shape[:2]
    if min(h, w) < SSIM_WINDOW:
        raise ValueError(f"ssim needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {h}x{w}")
    a, b = _channels(img_u8, ref_u8, test_y_channel)
    return float(np.mean([_ssim_channel(a[:, :, c], b[:, :, c]) for c in range(a.shape[2])]))
