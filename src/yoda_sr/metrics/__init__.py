"""Image-quality metrics under the SR field's protocol (PSNR, SSIM, LPIPS, colour shift)."""

from yoda_sr.metrics.color import color_shift
from yoda_sr.metrics.evaluate import evaluate_pair, protocol_description
from yoda_sr.metrics.fidelity import psnr, ssim
from yoda_sr.metrics.image import prepare_pair, rgb_to_y
from yoda_sr.metrics.perceptual import LpipsMetric

__all__ = [
    "LpipsMetric",
    "color_shift",
    "evaluate_pair",
    "prepare_pair",
    "protocol_description",
    "psnr",
    "rgb_to_y",
    "ssim",
]
