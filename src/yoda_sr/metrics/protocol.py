"""The field's metric protocol as data: its constants, and its description for results files.

Plain values (no numpy or torch), so the command line can offer the LPIPS networks cheaply.
"""

from __future__ import annotations

from typing import Any

DATA_RANGE = 255.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
# LPIPS backbones: the files torchvision's legacy ``pretrained=True`` (used by lpips) downloads.
BACKBONE_FILES = {
    "alex": "alexnet-owt-7be5be79.pth",
    "vgg": "vgg16-397923af.pth",
}
LPIPS_NETS = tuple(BACKBONE_FILES)
LPIPS_NET = "alex"  # the usual SR protocol's


def protocol_description(
    crop_border: int, lpips_net: str | None = LPIPS_NET, lpips_version: str = "0.1"
) -> dict[str, Any]:
    """How :func:`~yoda_sr.metrics.evaluate.evaluate_pair` computes its numbers, as JSON data.

    Args:
        crop_border: border crop used, in pixels per side.
        lpips_net: LPIPS backbone used, or None if LPIPS was not computed.
        lpips_version: LPIPS linear-layer version.
    """
    return {
        "convention": "BasicSR / MATLAB",
        "quantisation": "uint8: round(clamp(x, 0, 1) * 255) before every metric",
        "data_range": DATA_RANGE,
        "crop_border": crop_border,
        "channels": {
            "rgb": "all three channels",
            "y": "ITU-R BT.601 luma as MATLAB rgb2ycbcr: Y = 16 + 65.481 R + 128.553 G "
            "+ 24.966 B (R, G, B in [0, 1]), float, not re-rounded",
        },
        "psnr": "10 log10(255^2 / MSE), MSE over all pixels and channels; inf if identical",
        "ssim": {
            "window": f"{SSIM_WINDOW}x{SSIM_WINDOW} Gaussian, sigma {SSIM_SIGMA}",
            "k1": SSIM_K1,
            "k2": SSIM_K2,
            "filtering": "valid (no padding); map averaged, then averaged over channels",
        },
        "lpips": None
        if lpips_net is None
        else {
            "package": "lpips",
            "net": lpips_net,
            "version": lpips_version,
            "input": "the cropped uint8 images scaled to [-1, 1]",
        },
        "color_shift": "CIELAB (sRGB, D65) per-image mean over pixels; delta_e76 and "
        "delta_e2000 between the means; mean_diff_r/g/b = signed mean(sr - hr) in 0..255",
    }
