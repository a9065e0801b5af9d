"""Degradation presets and the ``degradation:`` config section (no torch: the CLI reads it).

A preset names a kind of degradation and its parameters; ``degradation.options`` overrides
any of them (``--set degradation.options.sigma=30``). Each kind's parameters are a dataclass
below; :func:`yoda_sr.degradations.pipelines.degrade` applies them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from yoda_sr.settings import from_dict

# Real-ESRGAN's kernel families (kernel_list) with their probabilities (kernel_prob).
KERNEL_FAMILIES = (
    "iso",
    "aniso",
    "generalized_iso",
    "generalized_aniso",
    "plateau_iso",
    "plateau_aniso",
)
REAL_ESRGAN_KERNEL_PROB = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
BLUR_KERNELS = ("gaussian", "box", "motion")


def _check_range(name: str, value: Any, low: float = 0.0) -> None:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)
        or not low <= value[0] <= value[1]
    ):
        raise ValueError(
            f"degradation.options.{name} must be [low, high] with {low} <= low <= high, "
            f"got {value!r}"
        )


def _check_probabilities(name: str, value: Any, count: int) -> None:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != count
        or not all(isinstance(v, (int, float)) and v >= 0 for v in value)
        or not math.isclose(sum(value), 1.0, abs_tol=1e-6)
    ):
        raise ValueError(
            f"degradation.options.{name} must be {count} probabilities summing to 1, got {value!r}"
        )


def _check_number(name: str, value: Any, low: float, high: float = math.inf) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(
            f"degradation.options.{name} must be a number in [{low}, {high}], got {value!r}"
        )


@dataclass
class BicubicParams:
    """MATLAB bicubic ``1/scale`` downscaling, clamped, 8-bit: the SR benchmarks' LR images
    (:func:`yoda_sr.imaging.make_lr`). ``scale`` None: the model's scale."""

    scale: int | None = None

    kind = "bicubic"

    def __post_init__(self) -> None:
        if self.scale is not None:
            _check_number("scale", self.scale, 1)


@dataclass
class GaussianNoiseParams:
    """Additive white Gaussian noise of standard deviation ``sigma`` (0..255 units) on every
    colour channel independently (``gray_prob``: the probability of luminance-only noise),
    clipped to [0, 1] and 8-bit quantised so the noisy image can be saved as PNG. Scale 1."""

    sigma: float = 25.0
    gray_prob: float = 0.0

    kind = "gaussian-noise"
    scale = 1

    def __post_init__(self) -> None:
        _check_number("sigma", self.sigma, 0.0)
        _check_number("gray_prob", self.gray_prob, 0.0, 1.0)


@dataclass
class BlurParams:
    """Known blur kernel + small Gaussian noise (non-blind deblurring), clipped, 8-bit. Scale 1.

    ``kernel``: ``gaussian`` (``size`` x ``size``, ``sigma`` px), ``box`` (``size`` x ``size``
    uniform) or ``motion`` (``length`` px at ``angle`` degrees, in a ``size`` square).
    ``noise_sigma`` in 0..255 units.
    """

    kernel: str = "gaussian"
    size: int = 25
    sigma: float = 1.6
    length: float = 9.0
    angle: float = 0.0
    noise_sigma: float = 2.55

    kind = "blur"
    scale = 1

    def __post_init__(self) -> None:
        if self.kernel not in BLUR_KERNELS:
            raise ValueError(
                f"degradation.options.kernel must be one of {BLUR_KERNELS}, got {self.kernel!r}"
            )
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, int)
            or self.size < 1
            or self.size % 2 == 0
        ):
            raise ValueError(
                f"degradation.options.size must be an odd integer >= 1, got {self.size!r}"
            )
        _check_number("sigma", self.sigma, 1e-6)
        _check_number("length", self.length, 1.0, float(self.size))
        _check_number("angle", self.angle, -360.0, 360.0)
        _check_number("noise_sigma", self.noise_sigma, 0.0)


@dataclass
class JpegParams:
    """JPEG compression at ``quality`` (1..100) through Pillow's libjpeg, 4:2:0. Scale 1."""

    quality: int = 20

    kind = "jpeg"
    scale = 1

    def __post_init__(self) -> None:
        if (
            isinstance(self.quality, bool)
            or not isinstance(self.quality, int)
            or not 1 <= self.quality <= 100
        ):
            raise ValueError(
                f"degradation.options.quality must be an integer in 1..100, got {self.quality!r}"
            )


@dataclass
class RealESRGANParams:
    """Real-ESRGAN's second-order degradation (Wang et al., "Real-ESRGAN: Training Real-World
    Blind Super-Resolution with Pure Synthetic Data", ICCV-W 2021, sec. 3 and the published
    ``train_realesrgan_x4plus.yml``), term by term with its defaults:

    First order, on the HR image:
      1. Blur, kernel size drawn from the odd sizes ``7..kernel_size_max`` (21). With
         probability ``sinc_prob`` (0.1) a circular sinc of cut-off ``omega_c`` uniform in
         [pi/3, pi] (sizes < 13) or [pi/5, pi]; otherwise a family drawn from
         ``kernel_prob`` (iso 0.45, aniso 0.25, generalized iso 0.12 / aniso 0.03, plateau
         iso 0.12 / aniso 0.03) with sigmas uniform in ``blur_sigma`` [0.2, 3] (iso:
         ``sigma_y = sigma_x``, ``theta = 0``; aniso: independent, ``theta`` uniform in
         [-pi, pi]), generalized ``beta`` in ``betag_range`` [0.5, 4] and plateau ``beta``
         in ``betap_range`` [1, 2] (for both, half the time uniform in [low, 1], else in
         [1, high], as BasicSR draws it: plateau kernels get beta = 1 half the time).
      2. Resize: up / down / keep with ``resize_prob`` [0.2, 0.7, 0.1], factor uniform in
         [1, 1.5] (up) or [0.15, 1] (down) of ``resize_range``; mode area / bilinear /
         bicubic, equally likely.
      3. Noise: Gaussian with probability ``gaussian_noise_prob`` (0.5), sigma uniform in
         ``noise_range`` [1, 30] (0..255 units); otherwise Poisson with scale uniform in
         ``poisson_scale_range`` [0.05, 3]; gray (luminance) noise with ``gray_noise_prob``
         (0.4). Clipped to [0, 1].
      4. JPEG, quality uniform in ``jpeg_range`` [30, 95].

    Second order, on its result:
      5. Blur with probability ``second_blur_prob`` (0.8): as 1 with ``blur_sigma2``
         [0.2, 1.5], ``sinc_prob2`` 0.1, the same families and betas.
      6. Resize: ``resize_prob2`` [0.3, 0.4, 0.3], ``resize_range2`` [0.3, 1.2], relative to
         the final LR size ``H/scale x W/scale``.
      7. Noise: ``gaussian_noise_prob2`` 0.5, ``noise_range2`` [1, 25],
         ``poisson_scale_range2`` [0.05, 2.5], ``gray_noise_prob2`` 0.4.
      8. Final, in random order (each half the time): [resize to ``H/scale x W/scale`` with a
         random mode, then the final sinc filter; then JPEG ``jpeg_range2`` [30, 95]] or
         [JPEG; then resize and sinc]. The final sinc filter is applied with probability
         ``final_sinc_prob`` (0.8), cut-off uniform in [pi/3, pi], size 7..21; otherwise none.
      9. Clamp and round to 8 bits. The output is exactly ``H/scale x W/scale``.

    Deviations from the reference code: JPEG is real libjpeg (Pillow) on 8-bit input, not the
    differentiable DiffJPEG approximation; blur borders fall back from reflection to edge
    replication on images smaller than the kernel's radius (BasicSR would fail); randomness
    comes from one numpy generator per sample (:func:`~yoda_sr.degradations.seeding.sample_rng`).
    Real-ESRGAN also sharpens its HR targets (USM) during training; that is a target choice,
    not part of the degradation, and is not done here.
    """

    scale: int = 4
    kernel_size_max: int = 21
    kernel_prob: tuple[float, ...] = REAL_ESRGAN_KERNEL_PROB
    sinc_prob: float = 0.1
    blur_sigma: tuple[float, float] = (0.2, 3.0)
    betag_range: tuple[float, float] = (0.5, 4.0)
    betap_range: tuple[float, float] = (1.0, 2.0)
    resize_prob: tuple[float, float, float] = (0.2, 0.7, 0.1)
    resize_range: tuple[float, float] = (0.15, 1.5)
    gaussian_noise_prob: float = 0.5
    noise_range: tuple[float, float] = (1.0, 30.0)
    poisson_scale_range: tuple[float, float] = (0.05, 3.0)
    gray_noise_prob: float = 0.4
    jpeg_range: tuple[float, float] = (30.0, 95.0)
    second_blur_prob: float = 0.8
    kernel_prob2: tuple[float, ...] = REAL_ESRGAN_KERNEL_PROB
    sinc_prob2: float = 0.1
    blur_sigma2: tuple[float, float] = (0.2, 1.5)
    betag_range2: tuple[float, float] = (0.5, 4.0)
    betap_range2: tuple[float, float] = (1.0, 2.0)
    resize_prob2: tuple[float, float, float] = (0.3, 0.4, 0.3)
    resize_range2: tuple[float, float] = (0.3, 1.2)
    gaussian_noise_prob2: float = 0.5
    noise_range2: tuple[float, float] = (1.0, 25.0)
    poisson_scale_range2: tuple[float, float] = (0.05, 2.5)
    gray_noise_prob2: float = 0.4
    jpeg_range2: tuple[float, float] = (30.0, 95.0)
    final_sinc_prob: float = 0.8

    kind = "real-esrgan"

    def __post_init__(self) -> None:
        _check_number("scale", self.scale, 1)
        if self.kernel_size_max < 7 or self.kernel_size_max % 2 == 0:
            raise ValueError(
                "degradation.options.kernel_size_max must be odd and >= 7, "
                f"got {self.kernel_size_max!r}"
            )
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("kernel_prob"):
                _check_probabilities(f.name, value, len(KERNEL_FAMILIES))
            elif f.name.startswith("resize_prob"):
                _check_probabilities(f.name, value, 3)
            elif f.name.endswith("_prob") or f.name[:-1].endswith("_prob"):
                _check_number(f.name, value, 0.0, 1.0)
            elif "range" in f.name or f.name.startswith("blur_sigma"):
                _check_range(f.name, value, 1e-6 if "beta" in f.name or "sigma" in f.name else 0.0)
            if isinstance(value, list):
                setattr(self, f.name, tuple(value))


PARAMS = {
    cls.kind: cls
    for cls in (BicubicParams, GaussianNoiseParams, BlurParams, JpegParams, RealESRGANParams)
}
DegradationParams = BicubicParams | GaussianNoiseParams | BlurParams | JpegParams | RealESRGANParams

# Preset name -> (kind, parameters that differ from the kind's defaults).
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "bicubic": ("bicubic", {}),
    "x4-bicubic": ("bicubic", {"scale": 4}),
    "x4-real": ("real-esrgan", {"scale": 4}),
    **{f"denoise-sigma{s}": ("gaussian-noise", {"sigma": float(s)}) for s in (15, 25, 50)},
    "deblur-gaussian": ("blur", {"kernel": "gaussian", "size": 25, "sigma": 1.6}),
    "deblur-box": ("blur", {"kernel": "box", "size": 9}),
    **{f"jpeg-q{q}": ("jpeg", {"quality": q}) for q in (10, 20, 30, 40)},
}
DEFAULT_PRESET = "bicubic"


@dataclass
class DegradationConfig:
    """How LR (degraded) inputs are made from HR images (YAML section ``degradation:``).

    ``preset``: one of :data:`PRESETS` (default ``bicubic``: MATLAB bicubic at the model's
    scale, the behaviour before this section existed). ``options``: overrides of the
    preset's parameters (keys of its parameter dataclass; unknown keys are refused).
    """

    preset: str = DEFAULT_PRESET
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(
                f"degradation.preset (--degradation): unknown preset {self.preset!r}; "
                f"choose one of {', '.join(PRESETS)}"
            )
        if not isinstance(self.options, dict):
            raise ValueError(f"degradation.options must be a mapping, got {self.options!r}")
        self.params()  # checks the options

    def params(self) -> DegradationParams:
        """The preset's parameters with ``options`` applied."""
        kind, values = PRESETS[self.preset]
        return from_dict(PARAMS[kind], {**values, **self.options}, "degradation.options")  # type: ignore[return-value]

    def scale(self, default: int) -> int:
        """The factor between HR and degraded image (``default``, the model's, where the
        preset leaves it open)."""
        scale = self.params().scale
        return default if scale is None else int(scale)
