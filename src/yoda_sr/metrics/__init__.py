"""Image-quality metrics under the SR field's protocol (PSNR, SSIM, LPIPS, colour shift) and
the no-reference PIQE.

Names are imported on first use, so :mod:`yoda_sr.metrics.protocol` loads without torch.
"""

from yoda_sr.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "color": ["color_shift"],
        "evaluate": ["evaluate_pair"],
        "fidelity": ["psnr", "ssim"],
        "image": ["prepare_pair", "rgb_to_y"],
        "no_reference": ["piqe"],
        "perceptual": ["LpipsMetric"],
        "protocol": ["LPIPS_NET", "LPIPS_NETS", "protocol_description"],
    },
)
__all__ = __dir__()
