"""SRDiff's conditional noise predictor (Li et al., 2022), built on diffusers' ``UNet2DModel``.

SRDiff conditions its denoiser on hidden states of a pretrained RRDBNet LR encoder
(:class:`yoda_sr.models.rrdb.RRDBNet`). Here the denoiser sees, at HR size,
``concat(x_t, lr_up, cond_proj(features))``: the noisy sample, the bicubic-upsampled LR image and
the encoder features projected to HR resolution by a small learned module. It knows nothing about
noise schedules: whether it predicts epsilon or x0 is decided by the caller's training objective.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from diffusers import UNet2DModel
from diffusers.configuration_utils import register_to_config
from torch import nn

from yoda_sr.models.backbone import SettingsModel
from yoda_sr.models.rrdb import RRDBConfig
from yoda_sr.settings import check_int, check_int_tuple


@dataclass
class SRDiffDenoiserConfig:
    """Architecture of an :class:`SRDiffDenoiser`.

    Args:
        scale: Upscaling factor between the encoder features and the denoised image (1, 2, 4,
            8): the image scale times the encoder's ``pixel_unshuffle``.
        encoder_channels: Channels of the concatenated encoder features
            (``RRDBNet.feature_channels``).
        cond_channels: Channels of the projected features fed to the UNet.
        image_channels: Channels of x_t, lr_up and the prediction.
        base_channels: Width of the first UNet level.
        channel_multipliers: Width of each UNet level relative to ``base_channels``; the UNet
            downsamples ``len(channel_multipliers) - 1`` times.
        layers_per_block: Residual blocks per UNet level.
        attention_levels: Indices of the UNet levels that use self-attention (empty = none).
        mid_attention: Self-attention in the UNet's middle block.
        attention_head_dim: Channels per attention head.
        dropout: Dropout inside the residual blocks.
        norm_num_groups: GroupNorm groups; must divide every level's width.
        act_fn: Activation of the residual blocks (a diffusers activation name).
    """

    scale: int = 4
    encoder_channels: int = 192
    cond_channels: int = 64
    image_channels: int = 3
    base_channels: int = 64
    channel_multipliers: tuple[int, ...] = (1, 2, 2, 4)
    layers_per_block: int = 2
    attention_levels: tuple[int, ...] = ()
    mid_attention: bool = False
    attention_head_dim: int = 8
    dropout: float = 0.0
    norm_num_groups: int = 32
    act_fn: str = "mish"

    def __post_init__(self) -> None:
        check_int_tuple(self, "SRDiffDenoiserConfig", "channel_multipliers", minimum=1)
        levels = len(self.channel_multipliers)
        check_int_tuple(
            self, "SRDiffDenoiserConfig", "attention_levels", 0, levels - 1, allow_empty=True
        )
        if self.scale not in (1, 2, 4, 8):
            raise ValueError(f"SRDiffDenoiserConfig.scale must be 1, 2, 4 or 8, got {self.scale!r}")
        for name in (
            "encoder_channels",
            "cond_channels",
            "image_channels",
            "base_channels",
            "layers_per_block",
            "attention_head_dim",
            "norm_num_groups",
        ):
            check_int(self, "SRDiffDenoiserConfig", name, minimum=1)
        bad_widths = [c for c in self.block_out_channels if c % self.norm_num_groups]
        if bad_widths:
            raise ValueError(
                f"SRDiffDenoiserConfig.norm_num_groups={self.norm_num_groups} must divide every "
                f"level width; it does not divide {bad_widths}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"SRDiffDenoiserConfig.dropout must be in [0, 1), got {self.dropout}")

    @property
    def block_out_channels(self) -> tuple[int, ...]:
        """Width of each UNet level."""
        return tuple(self.base_channels * m for m in self.channel_multipliers)

    @property
    def required_multiple(self) -> int:
        """HR height and width must be multiples of this (the UNet's total downsampling)."""
        return 2 ** (len(self.channel_multipliers) - 1)


class FeatureProjector(nn.Module):
    """Maps concatenated LR encoder features to HR resolution.

    A 1x1 conv first reduces the channels at LR size (cheap), then a transposed conv with kernel
    ``2*scale``, stride ``scale`` and padding ``scale/2`` upsamples exactly by ``scale``, as SRDiff
    does for its RRDB features; a Mish in between makes the pair more than a low-rank linear map.
    At scale 1 the second layer is a 3x3 conv (padding 1) that keeps the size.
    (B, encoder_channels, h, w) -> (B, cond_channels, h*scale, w*scale).
    """

    def __init__(self, encoder_channels: int, cond_channels: int, scale: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(encoder_channels, cond_channels, 1)
        self.act = nn.Mish()
        self.upsample: nn.Module  # one name at every scale: the same state-dict keys
        if scale == 1:
            # The transposed conv's recipe fails at stride 1: kernel 2 with padding 0 gives
            # h + 1 pixels, and an even kernel has no centre. A 3x3 conv keeps the size and,
            # like the transposed conv, mixes each output pixel with its neighbours.
            self.upsample = nn.Conv2d(cond_channels, cond_channels, 3, padding=1)
        else:
            self.upsample = nn.ConvTranspose2d(
                cond_channels,
                cond_channels,
                kernel_size=2 * scale,
                stride=scale,
                padding=scale // 2,
            )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.act(self.reduce(features)))


class SRDiffDenoiser(SettingsModel):
    """Conditional noise predictor: ``UNet2DModel(concat(x_t, lr_up, cond_proj(features)), t)``.

    The arguments are :class:`SRDiffDenoiserConfig`'s fields.
    """

    settings_class = SRDiffDenoiserConfig

    @register_to_config
    def __init__(
        self,
        scale: int = SRDiffDenoiserConfig.scale,
        encoder_channels: int = SRDiffDenoiserConfig.encoder_channels,
        cond_channels: int = SRDiffDenoiserConfig.cond_channels,
        image_channels: int = SRDiffDenoiserConfig.image_channels,
        base_channels: int = SRDiffDenoiserConfig.base_channels,
        channel_multipliers: Sequence[int] = SRDiffDenoiserConfig.channel_multipliers,
        layers_per_block: int = SRDiffDenoiserConfig.layers_per_block,
        attention_levels: Sequence[int] = SRDiffDenoiserConfig.attention_levels,
        mid_attention: bool = SRDiffDenoiserConfig.mid_attention,
        attention_head_dim: int = SRDiffDenoiserConfig.attention_head_dim,
        dropout: float = SRDiffDenoiserConfig.dropout,
        norm_num_groups: int = SRDiffDenoiserConfig.norm_num_groups,
        act_fn: str = SRDiffDenoiserConfig.act_fn,
    ) -> None:
        super().__init__()
        settings = self._register_settings()
        self.cond_proj = FeatureProjector(
            settings.encoder_channels, settings.cond_channels, settings.scale
        )
        levels = range(len(settings.channel_multipliers))
        attn = set(settings.attention_levels)
        self.unet = UNet2DModel(
            in_channels=2 * settings.image_channels + settings.cond_channels,
            out_channels=settings.image_channels,
            down_block_types=tuple(
                "AttnDownBlock2D" if i in attn else "DownBlock2D" for i in levels
            ),
            up_block_types=tuple(
                "AttnUpBlock2D" if i in attn else "UpBlock2D" for i in reversed(levels)
            ),
            block_out_channels=settings.block_out_channels,
            layers_per_block=settings.layers_per_block,
            add_attention=settings.mid_attention,
            attention_head_dim=settings.attention_head_dim,
            dropout=settings.dropout,
            norm_num_groups=settings.norm_num_groups,
            act_fn=settings.act_fn,
        )

    @property
    def required_multiple(self) -> int:
        """HR height and width must be multiples of this; the caller pads LR inputs so they are."""
        return self.settings.required_multiple

    def _check_inputs(
        self,
        x_t: torch.Tensor,
        timesteps: torch.Tensor,
        lr_up: torch.Tensor,
        features: torch.Tensor | None,
        projected: torch.Tensor | None,
    ) -> None:
        c = self.settings
        if x_t.ndim != 4 or x_t.shape[1] != c.image_channels:
            raise ValueError(
                f"SRDiffDenoiser: x_t must be (B, {c.image_channels}, H, W), got {tuple(x_t.shape)}"
            )
        b, _, h, w = x_t.shape
        if lr_up.shape != x_t.shape:
            raise ValueError(
                f"SRDiffDenoiser: lr_up must have x_t's shape {tuple(x_t.shape)}, "
                f"got {tuple(lr_up.shape)}"
            )
        m = c.required_multiple
        if h % m or w % m:
            raise ValueError(
                f"SRDiffDenoiser: H and W must be multiples of {m}, got {h}x{w}; pad the LR input "
                f"to a multiple of {max(1, m // c.scale)} before upsampling"
            )
        if (features is None) == (projected is None):
            raise ValueError("SRDiffDenoiser: pass either features or projected, not both")
        if projected is not None:
            expected = (b, c.cond_channels, h, w)
            if tuple(projected.shape) != expected:
                raise ValueError(
                    f"SRDiffDenoiser: projected must be {expected} (cond_proj's output at HR "
                    f"size), got {tuple(projected.shape)}"
                )
        elif features is not None:
            expected = (b, c.encoder_channels, h // c.scale, w // c.scale)
            if h % c.scale or w % c.scale or tuple(features.shape) != expected:
                raise ValueError(
                    f"SRDiffDenoiser: features must be {expected} (LR size = HR size / "
                    f"{c.scale}), got {tuple(features.shape)}"
                )
        if timesteps.ndim > 1 or (timesteps.ndim == 1 and timesteps.shape[0] != b):
            raise ValueError(
                f"SRDiffDenoiser: timesteps must be a scalar or shape ({b},), "
                f"got {tuple(timesteps.shape)}"
            )

    def forward(
        self,
        x_t: torch.Tensor,
        timesteps: torch.Tensor,
        lr_up: torch.Tensor,
        features: torch.Tensor | None = None,
        projected: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict epsilon or x0 (the caller's choice) for x_t.

        Args:
            x_t: (B, C, H, W) noisy sample; H, W multiples of :attr:`required_multiple`.
            timesteps: (B,) long discrete timesteps (a scalar is broadcast).
            lr_up: (B, C, H, W) bicubic-upsampled LR image in [-1, 1].
            features: (B, encoder_channels, H/scale, W/scale) concatenated LR encoder features.
            projected: instead of ``features``, ``cond_proj(features)`` (B, cond_channels,
                H, W), computed once for many calls on the same image.

        Returns:
            (B, C, H, W) prediction.
        """
        timesteps = torch.as_tensor(timesteps, device=x_t.device)
        self._check_inputs(x_t, timesteps, lr_up, features, projected)
        if projected is None:
            assert features is not None  # checked above
            projected = self.cond_proj(features.to(x_t.dtype))
        sample = torch.cat((x_t, lr_up, projected.to(x_t.dtype)), dim=1)
        return self.unet(sample, timesteps, return_dict=False)[0]


RESIDUAL_CONVENTIONS = ("srdiff", "legacy_divide")
RESIDUAL_BASES = ("bicubic", "encoder")


@dataclass
class SRDiffConfig:
    """The two SRDiff networks: the RRDBNet LR encoder and the conditional denoiser.

    Args:
        rrdb: encoder architecture (stage 1 trains it as a regression SR model).
        denoiser: conditional noise predictor architecture.
        encoder_checkpoint: weights for the encoder when stage 2 starts: a yoda-sr ``rrdb`` run
            folder, or a BasicSR/Real-ESRGAN/ESRGAN RRDBNet file (.pth/.safetensors). Empty:
            random encoder (only sensible with ``freeze_encoder=False``).
        freeze_encoder: keep the encoder fixed during stage 2 (SRDiff's default).
        residual_scale: SRDiff's ``res_rescale``: x_0 = (HR - base) * residual_scale
            (images in [-1, 1]), mapped back by ``base + x_0 / residual_scale``.
        clip_residual: SRDiff's ``clip_input``: clamp x_0 to [-1, 1] in both directions.
        residual_convention: ``"srdiff"`` (the above, SRDiff's ``img2res``/``res2img``) or
            ``"legacy_divide"``: yoda-sr 0.1.0's x_0 = (HR - bicubic(LR)) / residual_scale
            without clipping, a 4x smaller residual. Saved run configs without this key
            were trained that way and load with it (see ``ExperimentConfig.load_saved``).
        residual_base: the image the residual is taken around, which YODA's anchor (x_0 = 0)
            keeps: ``"bicubic"`` (SRDiff's bicubic(LR)) or ``"encoder"``: the frozen encoder's
            own one-pass estimate ``clamp(RRDB(LR), 0, 1)`` in [-1, 1] ("predict and refine").
            For restoration at scale 1 the degraded input is a poor anchor (noise survives
            wherever the mask is off); the encoder's estimate is a better one. The network is
            the same; it still sees bicubic(LR). Needs ``residual_convention: srdiff`` and
            ``freeze_encoder`` (a trained encoder, kept as its estimate was trained).
    """

    rrdb: RRDBConfig = field(default_factory=RRDBConfig)
    denoiser: SRDiffDenoiserConfig = field(default_factory=SRDiffDenoiserConfig)
    encoder_checkpoint: str = ""
    freeze_encoder: bool = True
    residual_scale: float = 2.0
    clip_residual: bool = True
    residual_convention: str = "srdiff"
    residual_base: str = "bicubic"

    @property
    def scale(self) -> int:
        return self.rrdb.scale

    def __post_init__(self) -> None:
        if self.residual_convention not in RESIDUAL_CONVENTIONS:
            raise ValueError(
                f"SRDiffConfig.residual_convention must be one of {RESIDUAL_CONVENTIONS}, "
                f"got {self.residual_convention!r}"
            )
        if self.residual_base not in RESIDUAL_BASES:
            raise ValueError(
                f"SRDiffConfig.residual_base must be one of {RESIDUAL_BASES}, "
                f"got {self.residual_base!r}"
            )
        if self.residual_base == "encoder" and self.residual_convention != "srdiff":
            raise ValueError(
                "SRDiffConfig: residual_base 'encoder' needs residual_convention 'srdiff'; "
                f"{self.residual_convention!r} is yoda-sr 0.1.0's, whose models all used bicubic"
            )
        if self.residual_base == "encoder" and not self.freeze_encoder:
            raise ValueError(
                "SRDiffConfig: residual_base 'encoder' needs freeze_encoder: true; a trained "
                "encoder would stop being an estimate of the image (and move the targets)"
            )
        if not self.residual_scale > 0:
            raise ValueError(f"SRDiffConfig.residual_scale must be > 0, got {self.residual_scale}")
        # The encoder's features are at LR size / pixel_unshuffle (Real-ESRGAN's x1 and x2
        # layouts run the trunk smaller), so the denoiser upsamples them by both factors.
        feature_scale = self.rrdb.scale * self.rrdb.pixel_unshuffle
        if self.denoiser.scale != feature_scale:
            raise ValueError(
                f"SRDiffConfig: denoiser.scale={self.denoiser.scale} must be rrdb.scale * "
                f"rrdb.pixel_unshuffle = {self.rrdb.scale} * {self.rrdb.pixel_unshuffle} = "
                f"{feature_scale} (the encoder features are at LR size / pixel_unshuffle)"
            )
        if self.rrdb.feature_channels != self.denoiser.encoder_channels:
            raise ValueError(
                f"SRDiffConfig: denoiser.encoder_channels={self.denoiser.encoder_channels} but the "
                f"encoder yields {self.rrdb.feature_channels} feature channels"
            )
