"""RRDBNet: the ESRGAN generator (Wang et al., 2018), used as SRDiff's low-resolution encoder.

The module and parameter names follow the BasicSR / Real-ESRGAN layout (``conv_first``,
``body.N.rdbM.convK``, ``conv_body``, ``conv_upK``, ``conv_hr``, ``conv_last``) so that their
state dicts load directly. Reading public checkpoint files (BasicSR/Real-ESRGAN, original ESRGAN,
old-arch) is :mod:`yoda_sr.models.rrdb_files`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import register_to_config
from torch import nn

from yoda_sr.models.backbone import SettingsModel, bicubic_up

_RESIDUAL_SCALE = 0.2  # ESRGAN's residual scaling inside dense blocks and RRDBs
_LEAKY_SLOPE = 0.2
_INIT_SCALE = 0.1  # ESRGAN's "smaller initialisation": Kaiming init scaled by 0.1 in dense blocks
_SUPPORTED_SCALES = (1, 2, 4, 8)
_SUPPORTED_UNSHUFFLE = (1, 2, 4)


@dataclass
class RRDBConfig:
    """Architecture of an :class:`RRDBNet`.

    Args:
        in_channels: Image channels of the LR input.
        out_channels: Image channels of the SR output.
        num_features: Width of the trunk (channels of every RRDB feature map).
        num_blocks: Number of residual-in-residual dense blocks.
        growth_channels: Channels added by each conv of a dense block.
        scale: Upscaling factor, one of 1, 2, 4, 8 (1: restoration at the input size, e.g.
            denoising; without pixel-unshuffle the net then has no upsampling stage).
        pixel_unshuffle: Real-ESRGAN's trick for small scales: the input is pixel-unshuffled by this
            factor (1, 2 or 4; 1 = off) before ``conv_first``, and the trunk upsamples by
            ``scale * pixel_unshuffle``. Real-ESRGAN's x2 models use ``pixel_unshuffle=2``, its
            x1 models ``pixel_unshuffle=4`` (the trunk runs at a quarter of the input size and
            upsamples 2x twice).
        feature_stride: Which hidden states :meth:`RRDBNet.forward_features` returns. The candidates
            are the outputs of blocks 1..N followed by the fused trunk
            (``conv_first + conv_body(body)``); every ``feature_stride``-th candidate is kept
            (candidates ``stride, 2*stride, ...``, 1-based). With 8 blocks and stride 3 this gives
            the outputs of blocks 3 and 6 and the fused trunk. Not part of the weights.
        global_residual: Add the bicubic-upsampled input to the output (the input itself at
            scale 1), so the net learns the residual and starts as bicubic (``conv_last``
            zero-initialised). Not in ESRGAN or Real-ESRGAN (their files load with False); it is
            DnCNN's residual learning (Zhang et al., 2017), which a short restoration run needs:
            without it an x1 net must first relearn the identity through its quarter-size
            trunk, and ends below its own input.
    """

    in_channels: int = 3
    out_channels: int = 3
    num_features: int = 64
    num_blocks: int = 23
    growth_channels: int = 32
    scale: int = 4
    pixel_unshuffle: int = 1
    feature_stride: int = 3
    global_residual: bool = False

    def __post_init__(self) -> None:
        for name in (
            "in_channels",
            "out_channels",
            "num_features",
            "num_blocks",
            "growth_channels",
            "feature_stride",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"RRDBConfig.{name} must be a positive int, got {value!r}")
        if self.scale not in _SUPPORTED_SCALES:
            raise ValueError(
                f"RRDBConfig.scale must be one of {_SUPPORTED_SCALES}, got {self.scale!r}"
            )
        if self.pixel_unshuffle not in _SUPPORTED_UNSHUFFLE:
            raise ValueError(
                f"RRDBConfig.pixel_unshuffle must be one of {_SUPPORTED_UNSHUFFLE}, "
                f"got {self.pixel_unshuffle!r}"
            )
        if self.feature_stride > self.num_blocks + 1:
            raise ValueError(
                f"RRDBConfig.feature_stride={self.feature_stride} selects no hidden state: there "
                f"are only num_blocks + 1 = {self.num_blocks + 1} candidates"
            )
        if not isinstance(self.global_residual, bool):
            raise ValueError(
                f"RRDBConfig.global_residual must be a bool, got {self.global_residual!r}"
            )
        if self.global_residual and self.in_channels != self.out_channels:
            raise ValueError(
                "RRDBConfig.global_residual adds the input to the output: in_channels "
                f"({self.in_channels}) must equal out_channels ({self.out_channels})"
            )

    @property
    def num_upsamples(self) -> int:
        """Number of nearest-x2 + conv stages (``conv_up1`` ...); 0 at scale 1 without unshuffle."""
        return int(math.log2(self.scale * self.pixel_unshuffle))

    @property
    def feature_indices(self) -> list[int]:
        """0-based indices into ``[block_1, ..., block_N, fused_trunk]`` returned as features."""
        return list(range(self.feature_stride - 1, self.num_blocks + 1, self.feature_stride))

    @property
    def feature_channels(self) -> int:
        """Channels of the concatenated features from :meth:`RRDBNet.forward_features`."""
        return self.num_features * len(self.feature_indices)


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; output = x + 0.2 * conv5(...). Shape-preserving."""

    def __init__(self, num_features: int, growth_channels: int) -> None:
        super().__init__()
        nf, gc = num_features, growth_channels
        self.conv1 = nn.Conv2d(nf, gc, 3, padding=1)
        self.conv2 = nn.Conv2d(nf + gc, gc, 3, padding=1)
        self.conv3 = nn.Conv2d(nf + 2 * gc, gc, 3, padding=1)
        self.conv4 = nn.Conv2d(nf + 3 * gc, gc, 3, padding=1)
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, padding=1)
        self.lrelu = nn.LeakyReLU(_LEAKY_SLOPE, inplace=True)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
            nn.init.kaiming_normal_(conv.weight)
            conv.weight.data.mul_(_INIT_SCALE)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, nf, h, w) -> (B, nf, h, w)."""
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x + _RESIDUAL_SCALE * x5


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks and a scaled outer residual."""

    def __init__(self, num_features: int, growth_channels: int) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_features, growth_channels)
        self.rdb2 = ResidualDenseBlock(num_features, growth_channels)
        self.rdb3 = ResidualDenseBlock(num_features, growth_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, nf, h, w) -> (B, nf, h, w)."""
        return x + _RESIDUAL_SCALE * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(SettingsModel):
    """ESRGAN generator: ``conv_first -> body (RRDBs) -> conv_body (+ skip) -> upsampling -> conv_hr
    -> conv_last``. Upsampling is nearest-neighbour x2 followed by a 3x3 conv and LeakyReLU, once
    per factor 2. The arguments are :class:`RRDBConfig`'s fields."""

    settings_class = RRDBConfig

    @register_to_config
    def __init__(
        self,
        in_channels: int = RRDBConfig.in_channels,
        out_channels: int = RRDBConfig.out_channels,
        num_features: int = RRDBConfig.num_features,
        num_blocks: int = RRDBConfig.num_blocks,
        growth_channels: int = RRDBConfig.growth_channels,
        scale: int = RRDBConfig.scale,
        pixel_unshuffle: int = RRDBConfig.pixel_unshuffle,
        feature_stride: int = RRDBConfig.feature_stride,
        global_residual: bool = RRDBConfig.global_residual,
    ) -> None:
        super().__init__()
        settings = self._register_settings()
        nf = settings.num_features
        in_ch = settings.in_channels * settings.pixel_unshuffle**2
        self.conv_first = nn.Conv2d(in_ch, nf, 3, padding=1)
        self.body = nn.Sequential(
            *(RRDB(nf, settings.growth_channels) for _ in range(settings.num_blocks))
        )
        self.conv_body = nn.Conv2d(nf, nf, 3, padding=1)
        for i in range(1, settings.num_upsamples + 1):
            self.add_module(f"conv_up{i}", nn.Conv2d(nf, nf, 3, padding=1))
        self.conv_hr = nn.Conv2d(nf, nf, 3, padding=1)
        self.conv_last = nn.Conv2d(nf, settings.out_channels, 3, padding=1)
        self.lrelu = nn.LeakyReLU(_LEAKY_SLOPE, inplace=True)
        if settings.global_residual:
            nn.init.zeros_(self.conv_last.weight)
            if self.conv_last.bias is not None:
                nn.init.zeros_(self.conv_last.bias)

    @property
    def feature_channels(self) -> int:
        """Channels of the concatenated features from :meth:`forward_features`."""
        return self.settings.feature_channels

    def _upsample(self, feat: torch.Tensor) -> torch.Tensor:
        for i in range(1, self.settings.num_upsamples + 1):
            conv = getattr(self, f"conv_up{i}")
            feat = self.lrelu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))

    def _trunk(self, lr: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """LR -> (fused trunk features, hidden states of every block plus the trunk)."""
        if lr.ndim != 4 or lr.shape[1] != self.settings.in_channels:
            raise ValueError(
                f"RRDBNet expects lr of shape (B, {self.settings.in_channels}, h, w), "
                f"got {tuple(lr.shape)}"
            )
        h, w = lr.shape[-2:]
        p = self.settings.pixel_unshuffle
        x = lr
        if p > 1:
            # Pad bottom/right so pixel_unshuffle divides the size; the output is cropped back.
            pad_h, pad_w = (-h) % p, (-w) % p
            if pad_h or pad_w:
                mode = "reflect" if pad_h < h and pad_w < w else "replicate"
                x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
            x = F.pixel_unshuffle(x, p)
        first = self.conv_first(x)
        hidden = []
        feat = first
        for block in self.body:
            feat = block(feat)
            hidden.append(feat)
        feat = first + self.conv_body(feat)
        hidden.append(feat)
        return feat, hidden

    def encode(self, lr: torch.Tensor) -> list[torch.Tensor]:
        """Only the selected hidden states (no upsampling): what SRDiff's denoiser consumes."""
        _, hidden = self._trunk(lr)
        return [hidden[i] for i in self.settings.feature_indices]

    def forward_features(self, lr: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Super-resolve and return the selected hidden states.

        Args:
            lr: (B, in_channels, h, w) LR image in [0, 1].

        Returns:
            ``(sr, features)``: sr is (B, out_channels, h*scale, w*scale), unclamped; features is a
            list of (B, num_features, ceil(h/p), ceil(w/p)) tensors (p = ``pixel_unshuffle``),
            selected by ``config.feature_stride``.
        """
        feat, hidden = self._trunk(lr)
        sr = self._upsample(feat)
        if self.settings.pixel_unshuffle > 1:
            s = self.settings.scale
            sr = sr[..., : lr.shape[-2] * s, : lr.shape[-1] * s]
        if self.settings.global_residual:
            sr = sr + (bicubic_up(lr, self.settings.scale) + 1.0) / 2.0
        return sr, [hidden[i] for i in self.settings.feature_indices]

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, h, w) in [0, 1] -> (B, out_channels, h*scale, w*scale), unclamped."""
        return self.forward_features(lr)[0]
