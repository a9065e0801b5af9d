"""All metrics for one (SR, HR) pair, and a description of the protocol for results files."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

from yoda_sr.metrics.color import color_shift
from yoda_sr.metrics.fidelity import (
    DATA_RANGE,
    SSIM_K1,
    SSIM_K2,
    SSIM_SIGMA,
    SSIM_WINDOW,
    psnr,
    ssim,
)
from yoda_sr.metrics.image import prepare_pair
from yoda_sr.metrics.perceptual import LpipsMetric


def evaluate_pair(
    sr: np.ndarray | Tensor,
    hr: np.ndarray | Tensor,
    crop_border: int = 0,
    lpips_metric: LpipsMetric | None = None,
) -> dict[str, float | None]:
    """PSNR/SSIM on RGB and Y, LPIPS and colour shift of ``sr`` against ``hr``.

    Args:
        sr, hr: RGB uint8 (H, W, 3) arrays or float (3, H, W) tensors in [0, 1]; both are
            quantised to uint8 and cropped by ``crop_border`` pixels per side once, and every
            metric (LPIPS and colour shift included) sees the same cropped uint8 images.
        crop_border: pixels removed from each side (the field uses the SR scale factor).
        lpips_metric: an :class:`LpipsMetric`; ``lpips`` is None without one or when it is
            unavailable.

    Returns:
        ``psnr_rgb``, ``ssim_rgb``, ``psnr_y``, ``ssim_y``, ``lpips`` and the keys of
        :func:`~yoda_sr.metrics.color.color_shift`.
    """
    sr_u8, hr_u8 = prepare_pair(sr, hr, crop_border)
    if sr_u8.shape[2] != 3:
        raise ValueError(f"evaluate_pair needs RGB images, got {sr_u8.shape[2]} channel(s)")
    results: dict[str, float | None] = {
        "psnr_rgb": psnr(sr_u8, hr_u8),
        "ssim_rgb": ssim(sr_u8, hr_u8),
        "psnr_y": psnr(sr_u8, hr_u8, test_y_channel=True),
        "ssim_y": ssim(sr_u8, hr_u8, test_y_channel=True),
        "lpips": lpips_metric(sr_u8, hr_u8) if lpips_metric is not None else None,
    }
    results.update(color_shift(sr_u8, hr_u8))
    return results


def protocol_description(
    crop_border: int, lpips_net: str | None = "alex", lpips_version: str = "0.1"
) -> dict[str, Any]:
    """JSON-serialisable description of how :func:`evaluate_pair` computes its numbers.

    Args:
        crop_border: border crop used, in pixels per side.
        lpips_net: LPIPS backbone used, or None if LPIPS was not computed.
        lpips_version: LPIPS linear-layer version.
    """
    return {
        "convention": "BasicSR / MATLAB",
        "quantisation": "uint8: round(clamp(x, 0, 1) * 255) before every metric",
        "data_range": DATA_RANGE,
        "crop_border": crop_border,
        "channels": {
            "rgb": "all three channels",
            "y": "ITU-R BT.601 luma as MATLAB rgb2ycbcr: Y = 16 + 65.481 R + 128.553 G "
            "+ 24.966 B (R, G, B in [0, 1]), float, not re-rounded",
        },
        "psnr": "10 log10(255^2 / MSE), MSE over all pixels and channels; inf if identical",
        "ssim": {
            "window": f"{SSIM_WINDOW}x{SSIM_WINDOW} Gaussian, sigma {SSIM_SIGMA}",
            "k1": SSIM_K1,
            "k2": SSIM_K2,
            "filtering": "valid (no padding); map averaged, then averaged over channels",
        },
        "lpips": None
        if lpips_net is None
        else {
            "package": "lpips",
            "net": lpips_net,
            "version": lpips_version,
            "input": "the cropped uint8 images scaled to [-1, 1]",
        },
        "color_shift": "CIELAB (sRGB, D65) per-image mean over pixels; delta_e76 and "
        "delta_e2000 between the means; mean_diff_r/g/b = signed mean(sr - hr) in 0..255",
    }
