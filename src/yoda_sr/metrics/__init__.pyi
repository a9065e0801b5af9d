"""Type stub of :mod:`yoda_sr.metrics`: the names its ``__init__`` imports on first use."""

from yoda_sr.metrics.color import color_shift as color_shift
from yoda_sr.metrics.evaluate import evaluate_pair as evaluate_pair
from yoda_sr.metrics.fidelity import psnr as psnr
from yoda_sr.metrics.fidelity import ssim as ssim
from yoda_sr.metrics.image import prepare_pair as prepare_pair
from yoda_sr.metrics.image import rgb_to_y as rgb_to_y
from yoda_sr.metrics.no_reference import piqe as piqe
from yoda_sr.metrics.perceptual import LpipsMetric as LpipsMetric
from yoda_sr.metrics.protocol import LPIPS_NET as LPIPS_NET
from yoda_sr.metrics.protocol import LPIPS_NETS as LPIPS_NETS
from yoda_sr.metrics.protocol import protocol_description as protocol_description

__all__ = [
    "LPIPS_NET",
    "LPIPS_NETS",
    "LpipsMetric",
    "color_shift",
    "evaluate_pair",
    "piqe",
    "prepare_pair",
    "protocol_description",
    "psnr",
    "rgb_to_y",
    "ssim",
]
