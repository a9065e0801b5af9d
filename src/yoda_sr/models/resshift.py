"""ResShift (Yue et al., NeurIPS 2023) as a backbone, in pixel space.

The network is SR3's (a diffusers ``UNet2DModel`` on ``concat(x_t, y_0)``, y_0 the
bicubic-upsampled LR in [-1, 1]) predicting x_0 = HR in [-1, 1]; what makes it ResShift is the
chain, ``diffusion.process: resshift`` (:mod:`yoda_sr.diffusion.resshift`), which also owns
the network's input scaling. The official ResShift runs a Swin-UNet in a VQGAN latent space;
here the UNet runs on pixels (the autoencoder's weights are not available). YODA's anchor is
y_0 itself: an undiffused pixel follows q(x_t | x_0 = y_0) = y_0 + kappa sqrt(eta_t) eps.

``model.type: resshift_latent`` (:class:`LatentResShiftBackbone`) is the official setting: the
same chain (``diffusion.latent: true``) on the latents of a frozen VQ autoencoder
(:mod:`yoda_sr.models.autoencoder`), for users who have its weights; YODA's importance map is
pooled to the latent grid (``yoda.grid_pooling``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from diffusers.configuration_utils import register_to_config
from torch import Tensor

from yoda_sr.models.autoencoder import VQConfig, build_vq, load_vq_weights
from yoda_sr.models.backbone import SRBackbone, bicubic_up
from yoda_sr.models.sr3 import SR3Backbone, SR3Config, make_unet


@dataclass
class ResShiftConfig(SR3Config):
    """ResShift's denoiser: :class:`SR3Config`'s UNet (6 -> 3 channels), predicting x_0."""


class ResShiftBackbone(SR3Backbone):
    """Image-space backbone for ResShift's chain: x_0 = HR in [-1, 1]; the anchor, and the
    chain's y_0, is bicubic(LR) in [-1, 1]. The arguments are :class:`ResShiftConfig`'s
    fields."""

    settings_class = ResShiftConfig


@dataclass
class LatentResShiftConfig(SR3Config):
    """ResShift in an autoencoder's latent space, as the official models.

    The UNet (:class:`SR3Config`'s fields) runs on the latent grid (HR / f) on
    ``concat(x_t, LR at the latent grid)`` (C + 3 -> C channels; at 4x with an f = 4 autoencoder
    the LR itself, as the official code concatenates it), predicting the latent x_0.

    Args:
        vq: the frozen autoencoder's architecture (:class:`VQConfig`; default LDM's VQ-f4).
        autoencoder: where its trained weights are read when training starts: a diffusers
            ``VQModel`` folder or Hub id (ResShift's autoencoder:
            ``CompVis/ldm-super-resolution-4x-openimages`` with subfolder ``vqvae``). Saved
            models carry the weights themselves.
        autoencoder_subfolder: subfolder of ``autoencoder`` holding the ``VQModel``.
    """

    vq: VQConfig = field(default_factory=VQConfig)
    autoencoder: str = ""
    autoencoder_subfolder: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.scale % self.vq.factor:
            raise ValueError(
                f"LatentResShiftConfig.scale ({self.scale}) must be a multiple of the "
                f"autoencoder's factor ({self.vq.factor}): the LR is brought to the latent grid "
                "by upsampling"
            )


class LatentResShiftBackbone(SRBackbone):
    """ResShift's chain on a frozen VQ autoencoder's latents: x_0 = encode(HR), y_0 (the
    anchor) = encode(bicubic(LR)), images from ``decode``. The arguments are
    :class:`LatentResShiftConfig`'s fields."""

    settings_class = LatentResShiftConfig

    @register_to_config
    def __init__(
        self,
        scale: int = LatentResShiftConfig.scale,
        block_out_channels: Sequence[int] = LatentResShiftConfig.block_out_channels,
        layers_per_block: int = LatentResShiftConfig.layers_per_block,
        attention_levels: Sequence[int] = LatentResShiftConfig.attention_levels,
        dropout: float = LatentResShiftConfig.dropout,
        norm_num_groups: int = LatentResShiftConfig.norm_num_groups,
        attention_head_dim: int = LatentResShiftConfig.attention_head_dim,
        vq: dict[str, Any] | None = None,
        autoencoder: str = LatentResShiftConfig.autoencoder,
        autoencoder_subfolder: str = LatentResShiftConfig.autoencoder_subfolder,
    ) -> None:
        super().__init__()
        settings = self._register_settings()
        self.scale = settings.scale
        channels = settings.vq.latent_channels
        self.unet = make_unet(settings, in_channels=channels + 3, out_channels=channels)
        self.vq = build_vq(settings.vq)

    @property
    def grid_factor(self) -> int:
        return self.settings.vq.factor

    @property
    def required_multiple(self) -> int:
        return self.grid_factor * 2 ** (len(self.settings.block_out_channels) - 1)

    def train(self, mode: bool = True) -> LatentResShiftBackbone:
        """Train mode for the UNet only: the autoencoder stays frozen in eval mode."""
        super().train(mode)
        self.vq.eval()
        return self

    def prepare_for_training(self) -> None:
        """Load the autoencoder's trained weights from ``autoencoder`` (needed: a latent
        chain on a random autoencoder learns nothing useful)."""
        if not self.settings.autoencoder:
            raise ValueError(
                "model.autoencoder is empty: a latent ResShift needs a trained VQ autoencoder "
                "(a diffusers VQModel folder or Hub id; ResShift's: "
                "CompVis/ldm-super-resolution-4x-openimages, model.autoencoder_subfolder vqvae)"
            )
        state = load_vq_weights(
            self.settings.autoencoder, self.settings.autoencoder_subfolder, self.settings.vq
        )
        self.vq.load_state_dict(state)

    @torch.no_grad()
    def encode(self, image: Tensor) -> Tensor:
        """(B, 3, H, W) in [-1, 1] -> unquantised latent (B, C, H / f, W / f)."""
        return self.vq.encode(image.to(self.vq.dtype)).latents

    @torch.no_grad()
    def decode(self, latent: Tensor) -> Tensor:
        """Latent (B, C, H / f, W / f) -> image (B, 3, H, W) roughly in [-1, 1] (quantised
        first, as ResShift's wrapper decodes)."""
        return self.vq.decode(latent.to(self.vq.dtype)).sample

    def condition(self, lr: Tensor) -> dict[str, Tensor]:
        """``lr_up`` (B, 3, H, W), ``y0`` = encode(lr_up) (B, C, H / f, W / f) and
        ``lr_grid``: the LR at the latent grid (B, 3, H / f, W / f), all in [-1, 1] but y0."""
        lr_up = bicubic_up(lr, self.scale)
        return {
            "lr_up": lr_up,
            "y0": self.encode(lr_up),
            "lr_grid": bicubic_up(lr, self.scale // self.grid_factor),
        }

    def forward(
        self, x_t: Tensor, timesteps: Tensor, lr_grid: Tensor, **condition: Tensor
    ) -> Tensor:
        """x_0 prediction (B, C, H / f, W / f); the image-space ``condition`` entries are not
        read."""
        return self.unet(torch.cat([x_t, lr_grid.to(x_t.dtype)], dim=1), timesteps).sample

    def target(self, hr: Tensor, condition: dict[str, Tensor]) -> Tensor:
        return self.encode(hr * 2.0 - 1.0)

    def anchor(self, condition: dict[str, Tensor]) -> Tensor:
        return condition["y0"]

    def to_image(self, x0: Tensor, condition: dict[str, Tensor]) -> Tensor:
        return ((self.decode(x0).float() + 1.0) / 2.0).clamp(0.0, 1.0)
