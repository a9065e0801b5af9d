"""Apply a preset's parameters to an HR image: the degraded input and what was drawn."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from torch import Tensor

from yoda_sr.degradations.kernels import (
    box_kernel,
    circular_sinc_kernel,
    gaussian_kernel,
    generalized_gaussian_kernel,
    motion_kernel,
    pad_kernel,
    plateau_kernel,
)
from yoda_sr.degradations.operators import (
    add_gaussian_noise,
    add_poisson_noise,
    blur,
    jpeg,
    resize,
)
from yoda_sr.degradations.presets import (
    KERNEL_FAMILIES,
    BicubicParams,
    BlurParams,
    DegradationParams,
    GaussianNoiseParams,
    JpegParams,
    RealESRGANParams,
)
from yoda_sr.imaging import downscale, quantize

# Resize modes Real-ESRGAN draws from, equally likely.
_RANDOM_RESIZE_MODES = ("area", "bilinear", "bicubic")


def known_kernel(params: BlurParams) -> np.ndarray:
    """The (k, k) kernel of a ``blur`` preset (what a non-blind deblurring method is given)."""
    if params.kernel == "gaussian":
        return gaussian_kernel(params.size, params.sigma)
    if params.kernel == "box":
        return box_kernel(params.size)
    return motion_kernel(params.length, math.radians(params.angle), params.size)


def degrade(
    hr: Tensor, params: DegradationParams, rng: np.random.Generator, scale: int
) -> tuple[Tensor, dict[str, Any]]:
    """Degrade an HR image with ``params``, drawing every random choice from ``rng``.

    Args:
        hr: (3, H, W) float in [0, 1]; H and W multiples of ``scale``.
        params: a preset's parameters (:meth:`DegradationConfig.params`).
        rng: the sample's generator (:func:`~yoda_sr.degradations.seeding.sample_rng`).
        scale: HR / degraded size factor (:meth:`DegradationConfig.scale`).

    Returns:
        ``(lr, drawn)``: the degraded image (3, H/scale, W/scale) in [0, 1], 8-bit quantised;
        ``drawn``, the random values drawn (JSON-ready), for the record.
    """
    if hr.shape[-2] % scale or hr.shape[-1] % scale:
        raise ValueError(f"HR {tuple(hr.shape[-2:])} is not a multiple of the scale {scale}")
    if isinstance(params, BicubicParams):
        return quantize(downscale(hr, scale)), {}
    if isinstance(params, GaussianNoiseParams):
        gray = bool(rng.random() < params.gray_prob)
        return quantize(add_gaussian_noise(hr, params.sigma / 255.0, gray, rng)), {"gray": gray}
    if isinstance(params, BlurParams):
        out = blur(hr, known_kernel(params))
        out = add_gaussian_noise(out, params.noise_sigma / 255.0, False, rng)
        return quantize(out), {}
    if isinstance(params, JpegParams):
        return jpeg(hr, params.quality), {}
    return _real_esrgan(hr, params, rng, scale)


def _draw_beta(rng: np.random.Generator, low: float, high: float) -> float:
    """BasicSR's shape draw: half the time uniform in [low, 1], else in [1, high] (so with
    ``low = 1``, as for plateau kernels, beta is exactly 1 half the time)."""
    return float(rng.uniform(low, 1.0) if rng.random() < 0.5 else rng.uniform(1.0, high))


def _random_kernel(
    rng: np.random.Generator,
    size_max: int,
    sinc_prob: float,
    family_prob: tuple[float, ...],
    sigma_range: tuple[float, float],
    betag_range: tuple[float, float],
    betap_range: tuple[float, float],
) -> tuple[np.ndarray, dict[str, Any]]:
    """One of Real-ESRGAN's random blur kernels (steps 1 and 5 of
    :class:`~yoda_sr.degradations.presets.RealESRGANParams`), zero-padded to ``size_max``."""
    size = int(rng.choice(np.arange(7, size_max + 1, 2)))
    if rng.random() < sinc_prob:
        low = math.pi / 3 if size < 13 else math.pi / 5
        cutoff = float(rng.uniform(low, math.pi))
        kernel = circular_sinc_kernel(size, cutoff)
        return pad_kernel(kernel, size_max), {"kernel": "sinc", "size": size, "cutoff": cutoff}
    family = KERNEL_FAMILIES[int(rng.choice(len(KERNEL_FAMILIES), p=np.asarray(family_prob)))]
    sigma_x = float(rng.uniform(*sigma_range))
    if family.endswith("_iso") or family == "iso":
        sigma_y, theta = sigma_x, 0.0
    else:
        sigma_y, theta = float(rng.uniform(*sigma_range)), float(rng.uniform(-math.pi, math.pi))
    drawn: dict[str, Any] = {
        "kernel": family,
        "size": size,
        "sigma_x": sigma_x,
        "sigma_y": sigma_y,
        "theta": theta,
    }
    if family.startswith("generalized"):
        drawn["beta"] = _draw_beta(rng, *betag_range)
        kernel = generalized_gaussian_kernel(size, sigma_x, sigma_y, theta, drawn["beta"])
    elif family.startswith("plateau"):
        drawn["beta"] = _draw_beta(rng, *betap_range)
        kernel = plateau_kernel(size, sigma_x, sigma_y, theta, drawn["beta"])
    else:
        kernel = gaussian_kernel(size, sigma_x, sigma_y, theta)
    return pad_kernel(kernel, size_max), drawn


def _random_resize(
    image: Tensor,
    rng: np.random.Generator,
    probabilities: tuple[float, float, float],
    factor_range: tuple[float, float],
    base: tuple[int, int],
) -> tuple[Tensor, dict[str, Any]]:
    """Up / down / keep (``probabilities``) by a factor of ``base`` (H, W) drawn from
    ``factor_range``, with a random mode; sizes are floored as ``F.interpolate`` does."""
    direction = int(rng.choice(3, p=np.asarray(probabilities)))
    if direction == 0:
        factor = float(rng.uniform(1.0, factor_range[1]))
    elif direction == 1:
        factor = float(rng.uniform(factor_range[0], 1.0))
    else:
        factor = 1.0
    mode = str(rng.choice(_RANDOM_RESIZE_MODES))
    size = (max(1, int(base[0] * factor)), max(1, int(base[1] * factor)))
    if size != tuple(image.shape[-2:]):
        image = resize(image, size, mode)
    return image, {"factor": factor, "mode": mode, "size": list(size)}


def _random_noise(
    image: Tensor,
    rng: np.random.Generator,
    gaussian_prob: float,
    sigma_range: tuple[float, float],
    poisson_range: tuple[float, float],
    gray_prob: float,
) -> tuple[Tensor, dict[str, Any]]:
    """Gaussian (sigma in 0..255 units) or Poisson noise, gray or colour, clipped."""
    if rng.random() < gaussian_prob:
        sigma = float(rng.uniform(*sigma_range))
        gray = bool(rng.random() < gray_prob)
        out = add_gaussian_noise(image, sigma / 255.0, gray, rng)
        return out, {"noise": "gaussian", "sigma": sigma, "gray": gray}
    poisson_scale = float(rng.uniform(*poisson_range))
    gray = bool(rng.random() < gray_prob)
    out = add_poisson_noise(image, poisson_scale, gray, rng)
    return out, {"noise": "poisson", "scale": poisson_scale, "gray": gray}


def _random_jpeg(
    image: Tensor, rng: np.random.Generator, quality_range: tuple[float, float]
) -> tuple[Tensor, dict[str, Any]]:
    """JPEG at a quality drawn uniformly from the range, rounded to libjpeg's integer."""
    quality = int(round(float(rng.uniform(*quality_range))))
    return jpeg(image, quality), {"quality": quality}


def _real_esrgan(
    hr: Tensor, p: RealESRGANParams, rng: np.random.Generator, scale: int
) -> tuple[Tensor, dict[str, Any]]:
    """Steps 1-9 of :class:`~yoda_sr.degradations.presets.RealESRGANParams`."""
    height, width = hr.shape[-2:]
    final = (height // scale, width // scale)
    drawn: dict[str, Any] = {}
    kernel, drawn["blur1"] = _random_kernel(
        rng, p.kernel_size_max, p.sinc_prob, p.kernel_prob, p.blur_sigma, p.betag_range,
        p.betap_range,
    )  # fmt: skip
    out = blur(hr, kernel)
    out, drawn["resize1"] = _random_resize(out, rng, p.resize_prob, p.resize_range, (height, width))
    out, drawn["noise1"] = _random_noise(
        out, rng, p.gaussian_noise_prob, p.noise_range, p.poisson_scale_range, p.gray_noise_prob
    )
    out, drawn["jpeg1"] = _random_jpeg(out, rng, p.jpeg_range)
    if rng.random() < p.second_blur_prob:
        kernel, drawn["blur2"] = _random_kernel(
            rng, p.kernel_size_max, p.sinc_prob2, p.kernel_prob2, p.blur_sigma2, p.betag_range2,
            p.betap_range2,
        )  # fmt: skip
        out = blur(out, kernel)
    out, drawn["resize2"] = _random_resize(out, rng, p.resize_prob2, p.resize_range2, final)
    out, drawn["noise2"] = _random_noise(
        out, rng, p.gaussian_noise_prob2, p.noise_range2, p.poisson_scale_range2, p.gray_noise_prob2
    )
    sinc = None
    if rng.random() < p.final_sinc_prob:
        size = int(rng.choice(np.arange(7, p.kernel_size_max + 1, 2)))
        cutoff = float(rng.uniform(math.pi / 3, math.pi))
        sinc = circular_sinc_kernel(size, cutoff)
        drawn["final_sinc"] = {"size": size, "cutoff": cutoff}
    mode = str(rng.choice(_RANDOM_RESIZE_MODES))
    drawn["final_resize_mode"] = mode
    jpeg_first = bool(rng.random() >= 0.5)
    drawn["final_order"] = "jpeg, resize + sinc" if jpeg_first else "resize + sinc, jpeg"
    if jpeg_first:
        out, drawn["jpeg2"] = _random_jpeg(out, rng, p.jpeg_range2)
    out = resize(out, final, mode) if tuple(out.shape[-2:]) != final else out
    if sinc is not None:
        out = blur(out, sinc)
    if not jpeg_first:
        out, drawn["jpeg2"] = _random_jpeg(out, rng, p.jpeg_range2)
    return quantize(out), drawn
