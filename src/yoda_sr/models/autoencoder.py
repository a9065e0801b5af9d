"""The frozen VQ autoencoder a latent backbone diffuses in (diffusers' ``VQModel``).

ResShift's official models run in the latent space of LDM's VQ-f4 autoencoder (Rombach et
al., 2022: 3 latent channels, an 8192-entry codebook, widths 128/256/512, two ResNet layers
per level: 4x fewer pixels per side). Its weights are published in diffusers' layout as the
``vqvae`` subfolder of ``CompVis/ldm-super-resolution-4x-openimages``; :class:`VQConfig`'s
defaults are that architecture. We use diffusers' implementation rather than our own, and
read weights from a diffusers folder or Hub id (offline: a local folder).

Encoding returns the unquantised latent (``quant_conv`` output); decoding quantises first,
as ResShift's autoencoder wrapper does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from diffusers import VQModel
from torch import Tensor

from yoda_sr.settings import check_int, check_int_tuple


@dataclass
class VQConfig:
    """Architecture of a diffusers ``VQModel`` (defaults: LDM's VQ-f4, ResShift's).

    The downsampling factor is ``2 ** (len(block_out_channels) - 1)``.
    """

    block_out_channels: tuple[int, ...] = (128, 256, 512)
    layers_per_block: int = 2
    latent_channels: int = 3
    num_vq_embeddings: int = 8192
    norm_num_groups: int = 32
    vq_embed_dim: int = 3
    mid_block_add_attention: bool = True

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_int_tuple(self, name, "block_out_channels", minimum=1)
        for key in ("layers_per_block", "latent_channels", "num_vq_embeddings"):
            check_int(self, name, key, minimum=1)
        check_int(self, name, "norm_num_groups", minimum=1)
        check_int(self, name, "vq_embed_dim", minimum=1)

    @property
    def factor(self) -> int:
        """Image pixels per latent pixel along each side."""
        return 2 ** (len(self.block_out_channels) - 1)

    def model_kwargs(self) -> dict[str, Any]:
        """``VQModel`` constructor arguments."""
        levels = len(self.block_out_channels)
        return {
            **asdict(self),
            "block_out_channels": tuple(self.block_out_channels),
            "down_block_types": ("DownEncoderBlock2D",) * levels,
            "up_block_types": ("UpDecoderBlock2D",) * levels,
        }


# The VQModel config keys that fix the weights' shapes (checked when weights are loaded).
_ARCHITECTURE_KEYS = (
    "block_out_channels",
    "layers_per_block",
    "latent_channels",
    "num_vq_embeddings",
    "norm_num_groups",
    "vq_embed_dim",
    "mid_block_add_attention",
)


def build_vq(config: VQConfig) -> VQModel:
    """A randomly initialised, frozen ``VQModel`` of ``config`` (eval mode, no gradients)."""
    model = VQModel(**config.model_kwargs())
    model.requires_grad_(False)
    return model.eval()


def load_vq_weights(source: str, subfolder: str, config: VQConfig) -> dict[str, Tensor]:
    """State dict of the ``VQModel`` at ``source`` (a diffusers folder or Hub id, with
    ``subfolder``), whose architecture must equal ``config``'s.

    Raises FileNotFoundError naming the source when it cannot be read (no such folder, or a
    Hub id offline), ValueError naming both architectures when they differ.
    """
    where = f"{source}" + (f" (subfolder {subfolder})" if subfolder else "")
    try:
        model = VQModel.from_pretrained(source, subfolder=subfolder or None)
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(
            f"{where}: no VQ autoencoder could be read ({exc}); set model.autoencoder to a "
            "local diffusers VQModel folder, or a Hub id with network access (ResShift's: "
            "CompVis/ldm-super-resolution-4x-openimages, model.autoencoder_subfolder vqvae)"
        ) from exc
    expected = config.model_kwargs()
    found = {k: model.config[k] for k in _ARCHITECTURE_KEYS}
    wanted = {k: expected[k] for k in _ARCHITECTURE_KEYS}
    if any(
        tuple(v) != tuple(wanted[k]) if isinstance(v, list | tuple) else v != wanted[k]
        for k, v in found.items()
    ):
        raise ValueError(
            f"{where}: autoencoder architecture {found} does not match model.vq {wanted}"
        )
    return model.state_dict()
