"""All metrics for one (SR, HR) pair."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from yoda_sr.metrics.color import color_shift
from yoda_sr.metrics.fidelity import psnr, ssim
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
