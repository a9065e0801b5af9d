"""ResShift (Yue et al., NeurIPS 2023) as a backbone, in pixel space.

The network is SR3's (a diffusers ``UNet2DModel`` on ``concat(x_t, y_0)``, y_0 the
bicubic-upsampled LR in [-1, 1]) predicting x_0 = HR in [-1, 1]; what makes it ResShift is the
chain, ``diffusion.process: resshift`` (:mod:`yoda_sr.diffusion.resshift`), which also owns
the network's input scaling. The official ResShift runs a Swin-UNet in a VQGAN latent space;
here the UNet runs on pixels (the autoencoder's weights are not available). YODA's anchor is
y_0 itself: an undiffused pixel follows q(x_t | x_0 = y_0) = y_0 + kappa sqrt(eta_t) eps.
"""

from __future__ import annotations

from dataclasses import dataclass

from yoda_sr.models.sr3 import SR3Backbone, SR3Config


@dataclass
class ResShiftConfig(SR3Config):
    """ResShift's denoiser: :class:`SR3Config`'s UNet (6 -> 3 channels), predicting x_0."""


class ResShiftBackbone(SR3Backbone):
    """Image-space backbone for ResShift's chain: x_0 = HR in [-1, 1]; the anchor, and the
    chain's y_0, is bicubic(LR) in [-1, 1]. The arguments are :class:`ResShiftConfig`'s
    fields."""

    settings_class = ResShiftConfig
