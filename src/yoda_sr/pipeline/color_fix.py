"""Colour correction of a restored image towards its (upsampled) LR input.

Diffusion SR outputs can drift in global colour; the field's usual fix after sampling keeps
the output's detail and takes the colour from the upsampled LR image (StableSR, DiffBIR):

- ``"wavelet"``: the output's high frequencies plus the reference's low frequencies, split by
  an a-trous (dilated) wavelet decomposition with the 3x3 binomial kernel over
  :data:`WAVELET_LEVELS` levels (dilations 1, 2, 4, 8, 16): what is left after the last
  level is the low-frequency band.
- ``"adain"``: per channel, the output's values standardised and given the reference's mean
  and standard deviation (adaptive instance normalisation).
- ``"none"``: the output as it is.

Written here from those definitions (a few lines of convolutions) rather than taken from
either project, which ship them inside their model code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from yoda_sr.diffusion.config import COLOR_FIXES

WAVELET_LEVELS = 5
_EPS = 1e-6


def apply_color_fix(image: Tensor, reference: Tensor, method: str) -> Tensor:
    """``image`` (B, 3, H, W) in [0, 1] with its colour taken from ``reference`` (same shape,
    in [0, 1], e.g. the bicubic-upsampled LR) by ``method``; result clamped to [0, 1]."""
    if method not in COLOR_FIXES:
        raise ValueError(f"color fix must be one of {', '.join(COLOR_FIXES)}, got {method!r}")
    if image.shape != reference.shape:
        raise ValueError(
            f"color fix: image {tuple(image.shape)} and reference {tuple(reference.shape)} "
            "differ in shape"
        )
    if method == "none":
        return image
    if method == "adain":
        fixed = adain(image, reference)
    else:
        fixed = image - low_frequencies(image) + low_frequencies(reference)
    return fixed.clamp(0.0, 1.0)


def low_frequencies(image: Tensor, levels: int = WAVELET_LEVELS) -> Tensor:
    """The low-frequency band of (B, C, H, W) ``image``: ``levels`` passes of the 3x3 binomial
    blur ([1, 2, 1] / 4 outer product), pass ``i`` dilated by 2**i, replicate padding (a
    constant image is its own low band)."""
    kernel = torch.tensor([1.0, 2.0, 1.0], dtype=image.dtype, device=image.device) / 4.0
    kernel = (kernel[:, None] * kernel[None, :]).expand(image.shape[1], 1, 3, 3)
    low = image
    for level in range(levels):
        dilation = 2**level
        padded = F.pad(low, (dilation,) * 4, mode="replicate")
        low = F.conv2d(padded, kernel, dilation=dilation, groups=image.shape[1])
    return low


def adain(image: Tensor, reference: Tensor) -> Tensor:
    """(B, C, H, W) ``image`` with each channel's mean and standard deviation replaced by
    ``reference``'s (unclamped); a constant channel keeps its own deviations (zero) and takes
    the reference's mean."""
    mean = image.mean(dim=(-2, -1), keepdim=True)
    std = image.std(dim=(-2, -1), keepdim=True, unbiased=False)
    ref_mean = reference.mean(dim=(-2, -1), keepdim=True)
    ref_std = reference.std(dim=(-2, -1), keepdim=True, unbiased=False)
    return (image - mean) / (std + _EPS) * ref_std + ref_mean
