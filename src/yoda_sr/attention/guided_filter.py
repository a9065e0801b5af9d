"""Edge-aware upsampling of coarse importance maps: He et al.'s guided filter.

K. He, J. Sun, X. Tang, "Guided Image Filtering", TPAMI 2013, Algorithm 1 (grey guide):
box means of ``I``, ``p``, ``I*I`` and ``I*p`` over a ``(2r+1)^2`` window (O(1) per pixel
from cumulative sums, as the paper's box filter) give per-window linear coefficients
``a = cov(I, p) / (var(I) + eps)``, ``b = mean(p) - a * mean(I)``; the output is
``mean(a) * I + mean(b)``. Written out here (a few lines of box filters) rather than taken
from opencv-contrib's ``ximgproc.guidedFilter`` or kornia's ``guided_blur``, neither of
which yoda-sr depends on; it runs on any torch device and batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _box_sum(x: Tensor, radius: int, dim: int) -> tuple[Tensor, Tensor]:
    """Sums of ``x`` over windows of ``2 * radius + 1`` along ``dim`` (cut at the ends) from a
    cumulative sum (cost independent of the radius), and the window lengths."""
    length = x.shape[dim]
    index = torch.arange(length, device=x.device)
    high = (index + radius + 1).clamp(max=length)
    low = (index - radius).clamp(min=0)
    cumulative = F.pad(x.double().cumsum(dim).movedim(dim, -1), (1, 0)).movedim(-1, dim)
    sums = cumulative.index_select(dim, high) - cumulative.index_select(dim, low)
    return sums.to(x.dtype), (high - low).to(x.dtype)


def box_mean(x: Tensor, radius: int) -> Tensor:
    """Mean of (B, C, H, W) ``x`` over a (2r+1)^2 window, over the pixels inside the image."""
    if radius < 1:
        return x
    rows, row_counts = _box_sum(x, radius, -2)
    sums, col_counts = _box_sum(rows, radius, -1)
    return sums / (row_counts[:, None] * col_counts[None, :])


def guided_filter(guide: Tensor, src: Tensor, radius: int, eps: float) -> Tensor:
    """Filter (B, C, H, W) ``src`` guided by (B, 1, H, W) ``guide`` (both float).

    Edges of ``guide`` (contrast well above ``sqrt(eps)``, in guide units) are kept in the
    output; elsewhere it is a ``radius``-box smoothing of ``src``. A constant guide returns the
    box mean of ``src`` (so a constant ``src`` unchanged). Returns (B, C, H, W), not clamped.
    """
    mean_i = box_mean(guide, radius)
    mean_p = box_mean(src, radius)
    var_i = box_mean(guide * guide, radius) - mean_i * mean_i
    cov_ip = box_mean(guide * src, radius) - mean_i * mean_p
    a = cov_ip / (var_i.clamp_min(0.0) + eps)
    b = mean_p - a * mean_i
    return box_mean(a, radius) * guide + box_mean(b, radius)
