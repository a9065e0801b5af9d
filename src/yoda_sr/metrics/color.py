"""Global colour shift between a restored image and its reference.

Diffusion SR models are known to drift in global colour; PSNR/SSIM mix this with detail errors,
so it is reported separately: the CIELAB distance between the two images' mean colours, and the
signed per-channel mean RGB differences.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from torch import Tensor

from yoda_sr.metrics.image import prepare_pair


def color_shift(
    img: np.ndarray | Tensor, ref: np.ndarray | Tensor, crop_border: int = 0
) -> dict[str, float]:
    """Global colour deviation of ``img`` from ``ref``.

    The mean colour of an image is the mean over its pixels of its CIELAB values (sRGB, D65;
    averaging in Lab rather than in gamma-encoded RGB so that the mean is perceptually weighted).

    Args:
        img, ref: RGB uint8 (H, W, 3) arrays or float (3, H, W) tensors in [0, 1] (quantised).
        crop_border: pixels removed from each side first.

    Returns:
        ``delta_e76`` (CIE76, Euclidean distance of the mean Lab colours), ``delta_e2000``
        (CIEDE2000 of the same), ``mean_diff_r/g/b`` (signed mean of ``img - ref`` per channel,
        in 0..255 units) and ``mean_diff_norm`` (Euclidean norm of those three).
    """
    img_u8, ref_u8 = prepare_pair(img, ref, crop_border)
    if img_u8.shape[2] != 3:
        raise ValueError(f"color_shift needs RGB images, got {img_u8.shape[2]} channel(s)")
    lab_img = rgb2lab(img_u8.astype(np.float64) / 255.0).reshape(-1, 3).mean(axis=0)
    lab_ref = rgb2lab(ref_u8.astype(np.float64) / 255.0).reshape(-1, 3).mean(axis=0)
    diff = img_u8.reshape(-1, 3).astype(np.float64).mean(axis=0) - ref_u8.reshape(-1, 3).mean(
        axis=0
    )
    return {
        "delta_e76": float(np.linalg.norm(lab_img - lab_ref)),
        "delta_e2000": float(deltaE_ciede2000(lab_img, lab_ref)),
        "mean_diff_r": float(diff[0]),
        "mean_diff_g": float(diff[1]),
        "mean_diff_b": float(diff[2]),
        "mean_diff_norm": math.sqrt(float(np.sum(diff**2))),
    }
