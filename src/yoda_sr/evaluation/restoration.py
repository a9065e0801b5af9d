"""Classical restoration baselines (scikit-image) scored on an evaluation set.

Each method sees only the degraded input and, for the non-blind deblurring methods, the
set's known kernel; its output is scored against the set's HR image under the metrics
protocol (:func:`~yoda_sr.metrics.evaluate_pair`: PSNR/SSIM on RGB and Y, colour shift;
crop border = the set's scale) plus the no-reference :func:`~yoda_sr.metrics.piqe`. The
degraded input itself (bicubic-upsampled for SR sets) is always the first row. Settings are
scikit-image's documented defaults or fixed values below, never tuned on the set:

- ``nl-means`` (denoising): ``denoise_nl_means``, 5 x 5 patches, 13 x 13 search, fast mode,
  ``sigma`` estimated from the input (``estimate_sigma``, blind), ``h = 0.8 sigma`` (the
  scikit-image gallery's choice);
- ``wavelet`` (denoising): ``denoise_wavelet``, BayesShrink, soft thresholds, in YCbCr;
- ``wiener`` (deblurring): ``wiener`` with the known kernel, Laplacian regulariser of weight
  ``balance = 0.01``, per channel on a reflect-padded image (its FFT assumes periodic borders);
- ``richardson-lucy`` (deblurring): ``richardson_lucy``, 30 iterations, the known kernel,
  per channel, reflect-padded;
- ``tv`` (JPEG): ``denoise_tv_chambolle`` of weight 0.05 on all channels;
- ``nl-means+bicubic``, ``wavelet+bicubic`` (Real-ESRGAN-degraded SR sets, "the classical
  pipeline"): the denoiser above on the LR (where the noise is still pixel-independent and
  its sigma can be estimated), then MATLAB bicubic to the HR size. JPEG blocks and blur are
  left to the denoiser: no classical method undoes an unknown second-order degradation.

For SR sets (scale > 1) every method restores the LR and is followed by the bicubic upscale.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from skimage import restoration

from yoda_sr.degradations import known_kernel, read_eval_set
from yoda_sr.degradations.presets import PARAMS, BlurParams
from yoda_sr.imaging import upscale_bicubic
from yoda_sr.metrics import evaluate_pair, piqe

Method = Callable[[np.ndarray], np.ndarray]  # (H, W, 3) float64 in [0, 1] -> same
INPUT = "input"
WIENER_BALANCE = 0.01
RL_ITERATIONS = 30
TV_WEIGHT = 0.05


def _nl_means(image: np.ndarray) -> np.ndarray:
    sigma = float(np.mean(restoration.estimate_sigma(image, channel_axis=-1)))
    return restoration.denoise_nl_means(
        image, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True,
        channel_axis=-1,
    )  # fmt: skip


def _wavelet(image: np.ndarray) -> np.ndarray:
    return restoration.denoise_wavelet(
        image, channel_axis=-1, convert2ycbcr=True, method="BayesShrink", mode="soft",
        rescale_sigma=True,
    )  # fmt: skip


def _per_channel_deconvolution(
    kernel: np.ndarray, deconvolve: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> Method:
    """Run ``deconvolve(channel, kernel)`` on each channel of the image, reflect-padded by the
    kernel's size (so periodic-border FFT methods see no wrap-around edge), then cropped."""
    pad = kernel.shape[0]

    def method(image: np.ndarray) -> np.ndarray:
        padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
        out = np.stack([deconvolve(padded[..., c], kernel) for c in range(3)], axis=-1)
        return out[pad:-pad, pad:-pad]

    return method


def classical_methods(record: dict[str, Any]) -> dict[str, Method]:
    """The classical baselines that fit an evaluation set's degradation (its record, see
    :func:`~yoda_sr.degradations.read_eval_set`), by name; none for bicubic SR sets."""
    kind = record["kind"]
    if kind == "gaussian-noise":
        return {"nl-means": _nl_means, "wavelet": _wavelet}
    if kind == "blur":
        params = PARAMS[kind](**record["params"])
        assert isinstance(params, BlurParams)
        kernel = known_kernel(params)
        return {
            "wiener": _per_channel_deconvolution(
                kernel, lambda x, k: restoration.wiener(x, k, WIENER_BALANCE, clip=False)
            ),
            "richardson-lucy": _per_channel_deconvolution(
                kernel, lambda x, k: restoration.richardson_lucy(x, k, RL_ITERATIONS, clip=False)
            ),
        }
    if kind == "jpeg":
        return {"tv": lambda x: restoration.denoise_tv_chambolle(x, TV_WEIGHT, channel_axis=-1)}
    if kind == "real-esrgan":
        return {"nl-means+bicubic": _nl_means, "wavelet+bicubic": _wavelet}
    return {}


def evaluate_baselines(
    set_dir: str | Path, methods: dict[str, Method] | None = None
) -> dict[str, Any]:
    """Score the degraded input and each classical method on an evaluation set.

    Args:
        set_dir: a folder made by :func:`~yoda_sr.degradations.make_eval_set`.
        methods: name -> method; default :func:`classical_methods` of the set.

    Returns:
        ``{"record": the set's record, "rows": one dict per (method, image) with the keys of
        evaluate_pair, "piqe" and "seconds", "means": method -> mean of each number}``.
    """
    record, images = read_eval_set(set_dir)
    scale = record["scale"]
    methods = classical_methods(record) if methods is None else methods
    rows: list[dict[str, Any]] = []
    for name, lr, hr in images:
        candidates: list[tuple[str, Method | None]] = [(INPUT, None), *methods.items()]
        for method, run in candidates:
            started = time.perf_counter()
            output = lr
            if run is not None:
                array = lr.permute(1, 2, 0).double().numpy()
                output = torch.from_numpy(np.clip(run(array), 0, 1)).permute(2, 0, 1).float()
            if scale > 1:
                output = upscale_bicubic(output, (hr.shape[-2], hr.shape[-1])).clamp(0, 1)
            seconds = time.perf_counter() - started
            rows.append(
                {
                    "method": method,
                    "image": name,
                    **evaluate_pair(output, hr, crop_border=scale),
                    "piqe": piqe(output),
                    "seconds": seconds,
                }
            )
    means: dict[str, dict[str, float]] = {}
    for method in [INPUT, *methods]:
        chosen = [row for row in rows if row["method"] == method]
        means[method] = {
            key: float(np.mean([row[key] for row in chosen]))
            for key, value in chosen[0].items()
            if isinstance(value, float)
        }
    return {"record": record, "rows": rows, "means": means}
