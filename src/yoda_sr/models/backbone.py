"""What a diffusion SR backbone exposes to the YODA objective, sampler and pipeline.

A backbone bundles the denoising network with its conditioning and its diffusion space
(image space for SR3, residual space for SRDiff). It knows nothing of noise schedules and
nothing of YODA: the masks only need :meth:`anchor`, the value an undiffused pixel keeps.

Every network here is a diffusers ``ModelMixin`` + ``ConfigMixin`` (:class:`SettingsModel`):
``save_pretrained`` writes ``config.json`` + ``diffusion_pytorch_model.safetensors`` and
``from_pretrained`` reads them back, locally or from the Hub.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar, TypeVar

from diffusers import ConfigMixin, ModelMixin
from torch import Tensor, nn

from yoda_sr.imaging import imresize
from yoda_sr.settings import from_dict

M = TypeVar("M", bound="SettingsModel")


class SettingsModel(ModelMixin, ConfigMixin):
    """A diffusers model whose constructor arguments are the fields of a settings dataclass
    (``settings_class``; nested settings as dicts).

    ``config`` is diffusers' frozen dict of those arguments (what ``config.json`` holds),
    ``settings`` the same arguments as the validated dataclass.
    """

    settings_class: ClassVar[type]
    settings: Any  # an instance of settings_class

    def __getattr__(self, name: str) -> Any:
        # torch's lookup (parameters, buffers, submodules) only: diffusers' would return a
        # config entry first, and SRDiff's ``denoiser`` is both a setting and a submodule.
        return nn.Module.__getattr__(self, name)

    def _register_settings(self) -> Any:
        """Validate the registered constructor arguments as ``settings_class``, register their
        complete form (every field) so that ``config.json`` does not depend on defaults, and
        set ``self.settings``. Call first thing in ``__init__`` after ``super().__init__()``."""
        args = {k: v for k, v in self.config.items() if not k.startswith("_")}
        self.settings = from_dict(self.settings_class, args, self.settings_class.__name__)
        self.register_to_config(**dataclasses.asdict(self.settings))
        return self.settings

    @classmethod
    def from_settings(cls: type[M], settings: Any) -> M:
        """Build (randomly initialised) from a ``settings_class`` dataclass."""
        return cls(**dataclasses.asdict(settings))


def bicubic_up(lr: Tensor, scale: int) -> Tensor:
    """(B, 3, h, w) in [0, 1] -> MATLAB-bicubic upsampled (B, 3, h*s, w*s) in [-1, 1]."""
    if scale == 1:
        # MATLAB's kernel at scale 1 weighs the pixel itself 1 and its neighbours 0: the
        # identity, without the two (h, h) and (w, w) matrix products.
        return lr.clamp(0.0, 1.0) * 2.0 - 1.0
    return imresize(lr, scale=scale).clamp(0.0, 1.0) * 2.0 - 1.0


class SRBackbone(SettingsModel, ABC):
    """Base class. Subclasses set ``settings_class`` and ``scale``.

    Tensor conventions: ``lr`` and output images are (B, 3, h, w) / (B, 3, H, W) in [0, 1];
    everything in the diffusion space (x_t, x_0, anchor) is (B, 3, H, W) roughly in [-1, 1],
    or (B, C, H / f, W / f) in a latent space (f = :attr:`grid_factor`).
    """

    scale: int

    @property
    @abstractmethod
    def required_multiple(self) -> int:
        """HR height and width must be multiples of this (UNet downsampling)."""

    @property
    def grid_factor(self) -> int:
        """HR pixels per diffusion-space pixel along each side: 1 in image space, the
        autoencoder's factor in a latent space."""
        return 1

    @abstractmethod
    def condition(self, lr: Tensor) -> dict[str, Tensor]:
        """Per-image conditioning, computed once and passed to every denoiser call.

        Always contains ``lr_up``: the bicubic-upsampled LR in [-1, 1], (B, 3, H, W).
        """

    def sampling_condition(self, condition: dict[str, Tensor]) -> dict[str, Tensor]:
        """``condition`` as passed to every full-image call of a sampling chain, with the work
        that depends on it alone done once (default: ``condition`` itself). Only for calls on
        the whole image: windows must be cut from :meth:`condition`'s tensors."""
        return condition

    @abstractmethod
    def forward(self, x_t: Tensor, timesteps: Tensor, *args: Any, **condition: Any) -> Tensor:
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
