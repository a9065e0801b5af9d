"""What a diffusion SR backbone exposes to the YODA objective, sampler and pipeline.

A backbone bundles the denoising network with its conditioning and its diffusion space
(image space for SR3, residual space for SRDiff). It knows nothing of noise schedules and
nothing of YODA: the masks only need :meth:`anchor`, the value an undiffused pixel keeps.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

from yoda_sr.imaging import imresize


def bicubic_up(lr: Tensor, scale: int) -> Tensor:
    """(B, 3, h, w) in [0, 1] -> MATLAB-bicubic upsampled (B, 3, h*s, w*s) in [-1, 1]."""
    return imresize(lr, scale=scale).clamp(0.0, 1.0) * 2.0 - 1.0


class SRBackbone(nn.Module, ABC):
    """Base class. Subclasses set ``config`` (a dataclass) and ``scale``.

    Tensor conventions: ``lr`` and output images are (B, 3, h, w) / (B, 3, H, W) in [0, 1];
    everything in the diffusion space (x_t, x_0, anchor) is (B, 3, H, W) roughly in [-1, 1].
    """

    scale: int

    @property
    @abstractmethod
    def required_multiple(self) -> int:
        """HR height and width must be multiples of this (UNet downsampling)."""

    @abstractmethod
    def condition(self, lr: Tensor) -> dict[str, Tensor]:
        """Per-image conditioning, computed once and passed to every denoiser call.

        Always contains ``lr_up``: the bicubic-upsampled LR in [-1, 1], (B, 3, H, W).
        """

    @abstractmethod
    def forward(self, x_t: Tensor, timesteps: Tensor, **condition: Tensor) -> Tensor:
        """Denoiser prediction (epsilon or x_0, as the scheduler is configured)."""

    @abstractmethod
    def target(self, hr: Tensor, condition: dict[str, Tensor]) -> Tensor:
        """Clean x_0 in the diffusion space for an HR image in [0, 1]."""

    @abstractmethod
    def anchor(self, condition: dict[str, Tensor]) -> Tensor:
        """What an undiffused pixel holds in the diffusion space (YODA's anchor)."""

    @abstractmethod
    def to_image(self, x0: Tensor, condition: dict[str, Tensor]) -> Tensor:
        """Diffusion-space sample -> image in [0, 1]."""
