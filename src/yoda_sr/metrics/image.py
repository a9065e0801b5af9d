"""Bringing metric inputs to the field's form: uint8 (H, W, C) arrays, border crop, BT.601 luma."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from yoda_sr.imaging import to_uint8

# MATLAB rgb2ycbcr / ITU-R BT.601 luma coefficients for R, G, B in [0, 1], giving Y in [16, 235].
_Y_COEFFS = np.array([65.481, 128.553, 24.966])
_Y_OFFSET = 16.0


def prepare_pair(
    img: np.ndarray | Tensor, ref: np.ndarray | Tensor, crop_border: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Quantise both images, check their shapes agree, and remove ``crop_border`` pixels per side.

    Returns two uint8 (H', W', C) arrays.
    """
    img_u8, ref_u8 = to_uint8(img, "img"), to_uint8(ref, "ref")
    if img_u8.shape != ref_u8.shape:
        raise ValueError(
            f"img and ref shapes differ: img {img_u8.shape} vs ref {ref_u8.shape} (as H, W, C)"
        )
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        h, w = img_u8.shape[:2]
        if 2 * crop_border >= min(h, w):
            raise ValueError(f"crop_border={crop_border} leaves nothing of a {h}x{w} image")
        img_u8 = img_u8[crop_border:-crop_border, crop_border:-crop_border]
        ref_u8 = ref_u8[crop_border:-crop_border, crop_border:-crop_border]
    return img_u8, ref_u8


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of a uint8 (H, W, 3) RGB array as float64 (H, W) in [16, 235].

    ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` with R, G, B in [0, 1] (MATLAB's rgb2ycbcr),
    kept in floating point without re-rounding, as BasicSR does.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"Y channel needs an RGB (H, W, 3) image, got shape {image.shape}")
    return image.astype(np.float64) / 255.0 @ _Y_COEFFS + _Y_OFFSET
