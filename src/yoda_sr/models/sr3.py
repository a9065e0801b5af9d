"""SR3 (Saharia et al., 2021): image-space diffusion conditioned on the bicubic-upsampled LR."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from diffusers import UNet2DModel
from diffusers.configuration_utils import register_to_config
from torch import Tensor

from yoda_sr.models.backbone import SRBackbone, bicubic_up
from yoda_sr.settings import check_float, check_int, check_int_tuple


@dataclass
class SR3Config:
    """SR3 denoiser: a diffusers ``UNet2DModel`` on ``concat(x_t, bicubic(LR))`` (6 -> 3 ch).

    ``attention_levels`` are indices into ``block_out_channels`` whose blocks get
    self-attention (level i works at H / 2**i). Time conditioning is the UNet's sinusoidal
    embedding of the discrete timestep index (SR3 itself conditions on the continuous noise
    level sqrt(alpha_bar); the discrete index is what diffusers' schedulers hand out and is
    equivalent for a fixed schedule).
    """

    scale: int = 8
    block_out_channels: tuple[int, ...] = (64, 128, 256, 512, 512)
    layers_per_block: int = 2
    attention_levels: tuple[int, ...] = (3,)
    dropout: float = 0.2
    norm_num_groups: int = 32
    attention_head_dim: int = 64

    def __post_init__(self) -> None:
        name = type(self).__name__  # errors name the subclass too (ResShiftConfig)
        for key in ("scale", "layers_per_block", "norm_num_groups", "attention_head_dim"):
            check_int(self, name, key, minimum=1)
        check_int_tuple(self, name, "block_out_channels", minimum=1)
        levels = len(self.block_out_channels)
        check_int_tuple(self, name, "attention_levels", 0, levels - 1, allow_empty=True)
        check_float(self, name, "dropout", minimum=0.0, maximum=1.0)
        widths = [c for c in self.block_out_channels if c % self.norm_num_groups]
        if widths:
            raise ValueError(
                f"{name}.norm_num_groups={self.norm_num_groups} must divide every width of "
                f"block_out_channels; it does not divide {widths}"
            )


def make_unet(settings: SR3Config, in_channels: int, out_channels: int) -> UNet2DModel:
    """The diffusers ``UNet2DModel`` that ``settings`` describe (attention at its
    ``attention_levels``)."""
    levels = range(len(settings.block_out_channels))
    attn = set(settings.attention_levels)
    return UNet2DModel(
        in_channels=in_channels,
        out_channels=out_channels,
        block_out_channels=settings.block_out_channels,
        layers_per_block=settings.layers_per_block,
        down_block_types=tuple("AttnDownBlock2D" if i in attn else "DownBlock2D" for i in levels),
        up_block_types=tuple(
            "AttnUpBlock2D" if i in attn else "UpBlock2D" for i in reversed(levels)
        ),
        add_attention=bool(attn),
        dropout=settings.dropout,
        norm_num_groups=settings.norm_num_groups,
        attention_head_dim=settings.attention_head_dim,
    )


class SR3Backbone(SRBackbone):
    """Image-space backbone: x_0 = HR in [-1, 1], anchor = bicubic(LR) in [-1, 1].

    The arguments are :class:`SR3Config`'s fields.
    """

    settings_class = SR3Config

    @register_to_config
    def __init__(
        self,
        scale: int = SR3Config.scale,
        block_out_channels: Sequence[int] = SR3Config.block_out_channels,
        layers_per_block: int = SR3Config.layers_per_block,
        attention_levels: Sequence[int] = SR3Config.attention_levels,
        dropout: float = SR3Config.dropout,
        norm_num_groups: int = SR3Config.norm_num_groups,
        attention_head_dim: int = SR3Config.attention_head_dim,
    ) -> None:
        super().__init__()
        settings = self._register_settings()
        self.scale = settings.scale
        self.unet = make_unet(settings, in_channels=6, out_channels=3)

    @property
    def required_multiple(self) -> int:
        return 2 ** (len(self.settings.block_out_channels) - 1)

    def condition(self, lr: Tensor) -> dict[str, Tensor]:
        return {"lr_up": bicubic_up(lr, self.scale)}

    def forward(self, x_t: Tensor, timesteps: Tensor, lr_up: Tensor) -> Tensor:
        return self.unet(torch.cat([x_t, lr_up.to(x_t.dtype)], dim=1), timesteps).sample

    def target(self, hr: Tensor, condition: dict[str, Tensor]) -> Tensor:
        return hr * 2.0 - 1.0

    def anchor(self, condition: dict[str, Tensor]) -> Tensor:
        return condition["lr_up"]

    def to_image(self, x0: Tensor, condition: dict[str, Tensor]) -> Tensor:
        return ((x0 + 1.0) / 2.0).clamp(0.0, 1.0)
