"""Blur kernels as ``(k, k)`` float64 numpy arrays that sum to 1, written from their formulas.

Every kernel is sampled on the integer grid ``x, y in {-(k-1)/2, ..., (k-1)/2}`` (``k`` odd,
so the kernel is centred on a pixel) and normalised to sum 1. The bivariate families follow
Real-ESRGAN (Wang et al., ICCV-W 2021, eqs. 2-5) with the covariance
``Sigma = R(theta) diag(sigma_x^2, sigma_y^2) R(theta)^T`` and ``q = [x, y] Sigma^-1 [x, y]^T``:

- Gaussian:             ``k ∝ exp(-q / 2)`` (isotropic when ``sigma_x = sigma_y``);
- generalized Gaussian: ``k ∝ exp(-q^beta / 2)`` (``beta < 1``: heavier tails, ``> 1``: flatter);
- plateau:              ``k ∝ 1 / (1 + q^beta)``;
- circular sinc (ideal 2-D low-pass of cut-off ``omega_c`` rad/pixel, eq. 5):
  ``k(r) = omega_c J1(omega_c r) / (2 pi r)``, ``r = sqrt(x^2 + y^2)``, with the limit
  ``omega_c^2 / (4 pi)`` at ``r = 0``.

Box and linear-motion kernels are the usual deblurring test kernels.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer coordinates ``(x, y)`` of a ``size x size`` kernel centred on its middle pixel."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be an odd integer >= 1, got {size!r}")
    axis = np.arange(size, dtype=np.float64) - (size - 1) / 2
    y, x = np.meshgrid(axis, axis, indexing="ij")
    return x, y


def _normalised(kernel: np.ndarray) -> np.ndarray:
    return kernel / kernel.sum()


def _quadratic_form(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """``q = [x, y] Sigma^-1 [x, y]^T`` on the grid, ``Sigma`` as in the module docstring.

    ``theta`` (radians) rotates the ``sigma_x`` axis counter-clockwise from the x axis.
    """
    if not (sigma_x > 0 and sigma_y > 0):
        raise ValueError(f"kernel sigmas must be > 0, got {sigma_x}, {sigma_y}")
    x, y = _grid(size)
    cos, sin = math.cos(theta), math.sin(theta)
    # Coordinates in the rotated frame: u along the sigma_x axis, v along the sigma_y axis;
    # Sigma^-1 = R diag(1/sx^2, 1/sy^2) R^T, so q = u^2 / sx^2 + v^2 / sy^2.
    u = cos * x + sin * y
    v = -sin * x + cos * y
    return (u / sigma_x) ** 2 + (v / sigma_y) ** 2


def gaussian_kernel(
    size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0
) -> np.ndarray:
    """Anisotropic Gaussian ``exp(-q / 2)`` (isotropic when ``sigma_y`` is None or equal).

    Args:
        size: odd side length ``k``.
        sigma_x, sigma_y: standard deviations (pixels) along the principal axes (> 0).
        theta: rotation of the ``sigma_x`` axis, radians.

    Returns:
        ``(k, k)`` float64, non-negative, summing to 1.
    """
    q = _quadratic_form(size, sigma_x, sigma_x if sigma_y is None else sigma_y, theta)
    return _normalised(np.exp(-0.5 * q))


def _shaped_kernel(
    size: int, sigma_x: float, sigma_y: float | None, theta: float, beta: float, plateau: bool
) -> np.ndarray:
    """``exp(-q^beta / 2)`` or, with ``plateau``, ``1 / (1 + q^beta)``, normalised."""
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    q = _quadratic_form(size, sigma_x, sigma_x if sigma_y is None else sigma_y, theta)
    return _normalised(1.0 / (1.0 + q**beta) if plateau else np.exp(-0.5 * q**beta))


def generalized_gaussian_kernel(
    size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0, beta: float = 1.0
) -> np.ndarray:
    """Generalized Gaussian ``exp(-q^beta / 2)``; ``beta = 1`` is :func:`gaussian_kernel`.
    Shape and arguments as :func:`gaussian_kernel`; ``beta > 0``."""
    return _shaped_kernel(size, sigma_x, sigma_y, theta, beta, plateau=False)


def plateau_kernel(
    size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0, beta: float = 1.0
) -> np.ndarray:
    """Plateau-shaped ``1 / (1 + q^beta)``: a flat top and polynomial tails.
    Shape and arguments as :func:`gaussian_kernel`; ``beta > 0``."""
    return _shaped_kernel(size, sigma_x, sigma_y, theta, beta, plateau=True)


def circular_sinc_kernel(size: int, cutoff: float) -> np.ndarray:
    """Circular sinc ``omega_c J1(omega_c r) / (2 pi r)`` (centre ``omega_c^2 / (4 pi)``),
    normalised to sum 1: the ideal isotropic low-pass of cut-off ``cutoff`` in (0, pi]
    radians per pixel, truncated to ``size x size``; it causes ringing and overshoot."""
    if not 0 < cutoff <= math.pi:
        raise ValueError(f"sinc cut-off must be in (0, pi], got {cutoff}")
    x, y = _grid(size)
    r = np.hypot(x, y)
    centre = r == 0
    safe = np.where(centre, 1.0, r)
    kernel = np.where(
        centre, cutoff**2 / (4 * math.pi), cutoff * special.j1(cutoff * safe) / (2 * math.pi * safe)
    )
    return _normalised(kernel)


def box_kernel(size: int) -> np.ndarray:
    """Uniform ``size x size`` average (``1 / k^2`` everywhere)."""
    x, _ = _grid(size)
    return np.full_like(x, 1.0 / x.size)


def motion_kernel(length: float, angle: float, size: int | None = None) -> np.ndarray:
    """Linear motion blur: a line segment of ``length`` pixels through the centre at ``angle``
    (radians, counter-clockwise from the x axis; image rows grow downwards).

    The segment is rasterised by sampling it at 64 points per pixel of length and splatting
    each point bilinearly onto the grid (an anti-aliased line, as MATLAB's
    ``fspecial('motion')`` is), then normalised.

    Args:
        length: segment length in pixels (>= 1; 1 is the identity kernel).
        angle: direction of motion, radians.
        size: odd side (default: the smallest odd side holding the segment).

    Returns:
        ``(k, k)`` float64, non-negative, summing to 1.
    """
    if not length >= 1:
        raise ValueError(f"motion length must be >= 1 pixel, got {length}")
    half = (length - 1) / 2
    if size is None:
        size = 2 * math.ceil(half) + 1
    _grid(size)  # checks the size
    centre = (size - 1) / 2
    t = np.linspace(-half, half, max(2, int(64 * length)))
    # Grid coordinates of the samples: column = x, row = -y (rows grow downwards).
    cols = centre + t * math.cos(angle)
    rows = centre - t * math.sin(angle)
    kernel = np.zeros((size, size))
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    fr, fc = rows - r0, cols - c0
    for dr, dc, weight in (
        (0, 0, (1 - fr) * (1 - fc)),
        (0, 1, (1 - fr) * fc),
        (1, 0, fr * (1 - fc)),
        (1, 1, fr * fc),
    ):
        r, c = r0 + dr, c0 + dc
        inside = (r >= 0) & (r < size) & (c >= 0) & (c < size)
        np.add.at(kernel, (r[inside], c[inside]), weight[inside])
    return _normalised(kernel)


def pad_kernel(kernel: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad an odd ``(k, k)`` kernel to ``(size, size)`` around its centre (``size >= k``),
    so kernels of a batch share one shape."""
    k = kernel.shape[0]
    if size < k or (size - k) % 2:
        raise ValueError(f"cannot pad a {k}x{k} kernel to {size}x{size}")
    pad = (size - k) // 2
    return np.pad(kernel, pad)
