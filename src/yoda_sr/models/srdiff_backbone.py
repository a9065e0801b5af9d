"""SRDiff (Li et al., 2022) as a backbone: residual-space diffusion with an RRDB LR encoder.

The diffusion space is SRDiff's (its ``img2res``/``res2img`` with ``res_rescale`` and
``clip_input``): x_0 = clamp((HR - base) * residual_scale, -1, 1) with images in [-1, 1], and
the output is base + clamp(x_0, -1, 1) / residual_scale. The base is bicubic(LR) (SRDiff's), or
with ``residual_base: encoder`` the frozen encoder's own estimate clamp(RRDB(LR)) ("predict and
refine"). YODA's anchor in residual space is 0: a pixel keeps the base until it is diffused. No
SRDiff-specific YODA code exists: the masks and blend are the same as SR3's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml
from diffusers.configuration_utils import register_to_config
from torch import Tensor

from yoda_sr.models.backbone import SRBackbone, bicubic_up
from yoda_sr.models.rrdb import RRDBNet
from yoda_sr.models.rrdb_files import RRDBCheckpointError, load_rrdb_state_dict
from yoda_sr.models.srdiff import SRDiffConfig, SRDiffDenoiser


class SRDiffBackbone(SRBackbone):
    """Frozen (by default) RRDB encoder + conditional noise predictor, in residual space.

    The arguments are :class:`SRDiffConfig`'s fields, ``rrdb`` and ``denoiser`` as dicts
    (:class:`RRDBConfig` and :class:`SRDiffDenoiserConfig` fields).
    """

    settings_class = SRDiffConfig

    @register_to_config
    def __init__(
        self,
        rrdb: Mapping[str, Any] | None = None,
        denoiser: Mapping[str, Any] | None = None,
        encoder_checkpoint: str = SRDiffConfig.encoder_checkpoint,
        freeze_encoder: bool = SRDiffConfig.freeze_encoder,
        residual_scale: float = SRDiffConfig.residual_scale,
        clip_residual: bool = SRDiffConfig.clip_residual,
        residual_convention: str = SRDiffConfig.residual_convention,
        residual_base: str = SRDiffConfig.residual_base,
    ) -> None:
        super().__init__()
        settings = self._register_settings()
        self.scale = settings.scale
        self.encoder = RRDBNet.from_settings(settings.rrdb)
        self.denoiser = SRDiffDenoiser.from_settings(settings.denoiser)
        self.encoder.requires_grad_(not settings.freeze_encoder)

    @property
    def required_multiple(self) -> int:
        # Also a multiple of the feature scale: then LR sides are multiples of the encoder's
        # pixel_unshuffle and its features are exactly LR size / pixel_unshuffle.
        return math.lcm(self.denoiser.required_multiple, self.denoiser.settings.scale)

    def prepare_for_training(self) -> None:
        """Load the stage-1 encoder weights named by ``encoder_checkpoint`` (if set)."""
        if self.settings.encoder_checkpoint:
            self.encoder.load_state_dict(load_encoder_weights(self.settings))
        elif self.settings.residual_base == "encoder":
            raise ValueError(
                "model.residual_base 'encoder' takes the residual around the encoder's estimate: "
                "set model.encoder_checkpoint to a trained rrdb run folder or RRDBNet file"
            )

    def condition(self, lr: Tensor) -> dict[str, Tensor]:
        """``lr_up`` and ``features``; with ``residual_base: encoder`` also ``base``, the
        encoder's estimate (B, 3, H, W) in [-1, 1] (from the same trunk pass)."""
        condition = {"lr_up": bicubic_up(lr, self.scale)}
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.settings.freeze_encoder):
            if self.settings.residual_base == "encoder":
                estimate, hidden = self.encoder.forward_features(lr)
                condition["base"] = estimate.clamp(0.0, 1.0) * 2.0 - 1.0
            else:
                hidden = self.encoder.encode(lr)
        condition["features"] = torch.cat(hidden, dim=1)
        return condition

    def sampling_condition(self, condition: dict[str, Tensor]) -> dict[str, Tensor]:
        """The encoder features projected to HR once, instead of at every step (the network
        does not read ``base``)."""
        projected = self.denoiser.cond_proj(condition["features"])
        return {"lr_up": condition["lr_up"], "projected": projected}

    def forward(
        self,
        x_t: Tensor,
        timesteps: Tensor,
        lr_up: Tensor,
        features: Tensor | None = None,
        projected: Tensor | None = None,
        base: Tensor | None = None,
    ) -> Tensor:
        """Prediction from ``features`` (:meth:`condition`) or their ``projected`` HR map
        (:meth:`sampling_condition`). ``base`` is accepted because callers pass the whole
        condition, and ignored: it only places the residual (:meth:`target`,
        :meth:`to_image`)."""
        return self.denoiser(x_t, timesteps, lr_up.to(x_t.dtype), features, projected)

    def _base(self, condition: dict[str, Tensor]) -> Tensor:
        """The image the residual is taken around, (B, 3, H, W) in [-1, 1]."""
        return condition["base"] if self.settings.residual_base == "encoder" else condition["lr_up"]

    def target(self, hr: Tensor, condition: dict[str, Tensor]) -> Tensor:
        residual = hr * 2.0 - 1.0 - self._base(condition)
        if self.settings.residual_convention == "legacy_divide":
            return residual / self.settings.residual_scale
        x0 = residual * self.settings.residual_scale
        return x0.clamp(-1.0, 1.0) if self.settings.clip_residual else x0

    def anchor(self, condition: dict[str, Tensor]) -> Tensor:
        return torch.zeros_like(condition["lr_up"])

    def to_image(self, x0: Tensor, condition: dict[str, Tensor]) -> Tensor:
        base = self._base(condition)
        if self.settings.residual_convention == "legacy_divide":
            image = base + self.settings.residual_scale * x0
        else:
            if self.settings.clip_residual:
                x0 = x0.clamp(-1.0, 1.0)
            image = base + x0 / self.settings.residual_scale
        return ((image + 1.0) / 2.0).clamp(0.0, 1.0)


def load_encoder_weights(config: SRDiffConfig) -> dict[str, Tensor]:
    """Encoder state dict from a yoda-sr ``rrdb`` run folder or a public RRDBNet checkpoint.

    The checkpoint's architecture must equal ``config.rrdb`` (blocks, widths, scale,
    pixel-unshuffle, and for a run folder, whose saved config says it, ``global_residual``,
    which no weight shape shows); a mismatch is an error naming the file and both.
    """
    from yoda_sr.checkpoints import list_checkpoints

    path = Path(config.encoder_checkpoint)
    if path.is_dir():
        checkpoints = list_checkpoints(path)
        if not checkpoints:
            raise FileNotFoundError(f"{path}: no checkpoints/step-*/ in this stage-1 run folder")
        saved = yaml.safe_load(checkpoints[-1].config.read_text()) or {}
        trained = bool(saved.get("model", {}).get("global_residual", False))
        if trained != config.rrdb.global_residual:
            raise RRDBCheckpointError(
                f"{checkpoints[-1].config}: the stage-1 run was trained with "
                f"global_residual={trained}, model.rrdb has "
                f"global_residual={config.rrdb.global_residual}: set model.rrdb.global_residual="
                f"{str(trained).lower()}"
            )
        path = checkpoints[-1].ema
    state, found = load_rrdb_state_dict(path)
    expected = config.rrdb
    keys = (
        "in_channels",
        "out_channels",
        "num_features",
        "num_blocks",
        "growth_channels",
        "scale",
        "pixel_unshuffle",
    )
    if any(getattr(found, k) != getattr(expected, k) for k in keys):
        raise RRDBCheckpointError(
            f"{path}: encoder architecture "
            + ", ".join(f"{k}={getattr(found, k)}" for k in keys)
            + " does not match model.rrdb "
            + ", ".join(f"{k}={getattr(expected, k)}" for k in keys)
        )
    return state
