"""Weight-free importance: local gradient energy of the upsampled LR image."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from yoda_sr.attention.base import ImportanceSource, check_input, gaussian_blur, upsample_image
from yoda_sr.attention.config import (
    DEFAULT_DETAIL_FLOOR,
    DEFAULT_DETAIL_REFERENCE,
    NORMALIZATIONS,
)

# ITU-R BT.601 luma weights, the Y of YCbCr that SR papers evaluate on.
_LUMA = (0.299, 0.587, 0.114)
# Below this gradient (luma units per LR pixel, about a quarter grey level) an image counts as
# flat, so that rounding noise of a constant image is not stretched to full importance.
_FLAT_GRADIENT = 1e-3
# Largest map (pixels per image) analysed at full output size: 4096 x 4096, about 1 GB of
# working memory. Larger outputs are analysed at this many pixels and resized.
DEFAULT_MAX_ANALYSIS_PIXELS = 4096 * 4096


def analysis_size(size: tuple[int, int], max_pixels: int | None) -> tuple[int, int]:
    """``size`` (H, W), or the largest size of the same aspect with at most ``max_pixels``."""
    height, width = size
    if max_pixels is None or height * width <= max_pixels:
        return height, width
    factor = math.sqrt(max_pixels / (height * width))
    return max(1, math.floor(height * factor)), max(1, math.floor(width * factor))


class DetailImportance(ImportanceSource):
    """Importance from local detail: where the LR image has edges and texture.

    Steps: bicubic upsampling of the LR image to the output size (clamped to [0, 1]), luma,
    Sobel gradient magnitude (in luma units per LR pixel, so independent of the scale),
    Gaussian pooling over ``pool_sigma`` LR pixels (regions around edges, not one-pixel
    lines), optional extra smoothing, then normalisation to [0, 1]:

    - ``"absolute"`` (default): ``(energy - floor) / (reference - floor)``, clamped: fixed
      magnitudes, so the same local detail gives the same importance in every image, at every
      input size and in every tile; a flat image (sky, a wall) gets low importance everywhere,
      so YODA keeps it anchored to the upsampled LR instead of diffusing it. ``floor`` (about
      one grey level per LR pixel) lies above what 8-bit quantisation of a smooth region
      produces, so such steps get no diffusion at all (the paper has no floor; ``floor=0`` is
      plain division by ``reference``).
    - ``"per_image"``: division by the image's own ``percentile`` quantile and clamping (the
      paper's per-image normalisation in a robust form: the top ``1 - percentile`` of pixels
      saturate at 1, one very strong edge cannot squash the rest as min-max would). The faint
      gradients of a flat image are stretched to full importance; a (near-)constant image maps
      to zeros.

    Deterministic, weight-free, any size. Memory stays bounded for any output size: an output
    larger than ``max_analysis_pixels`` is analysed at the largest size of the same aspect
    within that budget (all the steps above, sigmas scaled accordingly) and the map is resized
    (bilinear) to the output size. Outputs within the budget are computed exactly as described.

    Args:
        pool_sigma: Gaussian pooling radius in LR pixels (scaled to output pixels).
        smooth_sigma: extra Gaussian smoothing in output pixels (0: none).
        normalization: ``"absolute"`` or ``"per_image"``.
        reference: magnitude (luma units per LR pixel) that maps to 1 under ``"absolute"``.
        floor: magnitude at and below which importance is 0 under ``"absolute"`` (< reference).
        percentile: quantile in (0, 1] that maps to 1 under ``"per_image"``.
        max_analysis_pixels: largest analysed map per image (None: no limit).
    """

    sobel: Tensor  # buffers
    luma: Tensor

    def __init__(
        self,
        pool_sigma: float = 1.0,
        smooth_sigma: float = 0.0,
        normalization: str = "absolute",
        reference: float = DEFAULT_DETAIL_REFERENCE,
        floor: float = DEFAULT_DETAIL_FLOOR,
        percentile: float = 0.98,
        max_analysis_pixels: int | None = DEFAULT_MAX_ANALYSIS_PIXELS,
    ) -> None:
        super().__init__()
        if pool_sigma < 0 or smooth_sigma < 0:
            raise ValueError(
                f"pool_sigma and smooth_sigma must be >= 0, got {pool_sigma}, {smooth_sigma}"
            )
        if not 0.0 < percentile <= 1.0:
            raise ValueError(f"percentile must lie in (0, 1], got {percentile}")
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}"
            )
        if not reference > 0:
            raise ValueError(f"reference must be > 0, got {reference}")
        if not 0 <= floor < reference:
            raise ValueError(f"floor must lie in [0, reference = {reference}), got {floor}")
        if max_analysis_pixels is not None and max_analysis_pixels < 1:
            raise ValueError(f"max_analysis_pixels must be >= 1, got {max_analysis_pixels}")
        self.max_analysis_pixels = max_analysis_pixels
        self.pool_sigma = pool_sigma
        self.smooth_sigma = smooth_sigma
        self.normalization = normalization
        self.reference = reference
        self.floor = floor
        self.percentile = percentile
        sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
        self.register_buffer(
            "sobel", torch.stack([sobel_x, sobel_x.T]).unsqueeze(1), persistent=False
        )
        self.register_buffer("luma", torch.tensor(_LUMA).view(1, 3, 1, 1), persistent=False)

    @torch.no_grad()
    def forward(self, lr: Tensor, size: tuple[int, int]) -> Tensor:
        """(B, 3, h, w) LR image in [0, 1] -> (B, 1, H, W) importance in [0, 1], ``size=(H, W)``."""
        height, width = check_input(lr, size)
        energy = self.energy(lr, (height, width))
        if self.normalization == "absolute":
            importance = (energy - self.floor) / (self.reference - self.floor)
        else:
            importance = energy / self._per_image_references(energy)
        importance = importance.clamp(0.0, 1.0)
        if tuple(energy.shape[-2:]) != (height, width):
            importance = F.interpolate(
                importance, size=(height, width), mode="bilinear", align_corners=False
            )
        return importance.to(lr.device)

    @torch.no_grad()
    def energy(self, lr: Tensor, size: tuple[int, int]) -> Tensor:
        """(B, 3, h, w) LR in [0, 1] -> (B, 1, Ha, Wa) pooled (and smoothed) gradient magnitude
        in luma units per LR pixel, before normalisation, at the analysis size of output
        ``size`` (the output size itself unless larger than ``max_analysis_pixels``)."""
        height, width = check_input(lr, size)
        image = lr.to(device=self.luma.device, dtype=torch.float32)
        work = analysis_size((height, width), self.max_analysis_pixels)
        # Analysis pixels per LR pixel, and per output pixel (1 unless the map is reduced).
        scale = math.sqrt(work[0] * work[1] / (lr.shape[-2] * lr.shape[-1]))
        reduction = math.sqrt(work[0] * work[1] / (height * width))
        luma = (upsample_image(image, work) * self.luma).sum(dim=1, keepdim=True)
        gradients = F.conv2d(F.pad(luma, (1, 1, 1, 1), mode="replicate"), self.sobel)
        energy = gradients.square().sum(dim=1, keepdim=True).sqrt() * scale
        energy = gaussian_blur(energy, self.pool_sigma * scale)
        return gaussian_blur(energy, self.smooth_sigma * reduction)

    def _per_image_references(self, energy: Tensor) -> Tensor:
        """(B, 1, 1, 1) magnitude that maps to 1 in each image of (B, 1, H, W) ``energy``."""
        flat = energy.flatten(1)
        k = max(1, math.ceil(self.percentile * flat.shape[1]))
        return flat.kthvalue(k, dim=1).values.clamp_min(_FLAT_GRADIENT).view(-1, 1, 1, 1)


def calibrate_detail_reference(
    lrs: list[Tensor], scale: int, quantile: float = 0.9, pool_sigma: float = 1.0
) -> float:
    """The ``reference`` of absolute detail importance that a data set calls 1: the
    ``quantile`` of the pooled gradient magnitude over all pixels of LR images ``lrs`` (each
    (1, 3, h, w) in [0, 1]) analysed at ``scale`` x their size. Save it in the model's
    ``attention.detail_reference``."""
    if not lrs:
        raise ValueError("calibrate_detail_reference needs at least one image")
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"quantile must lie in (0, 1], got {quantile}")
    source = DetailImportance(pool_sigma=pool_sigma, max_analysis_pixels=None)
    values = torch.cat(
        [source.energy(lr, (lr.shape[-2] * scale, lr.shape[-1] * scale)).flatten() for lr in lrs]
    )
    return float(torch.quantile(values.double(), quantile))
