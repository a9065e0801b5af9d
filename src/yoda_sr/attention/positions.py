"""Position-embedding interpolation of the official DINO code, for transformers backbones.

transformers' ``ViTEmbeddings`` and ``Dinov2Embeddings`` resize the G x G pre-training grid of
patch position embeddings with ``F.interpolate(size=(H/p, W/p), mode="bicubic")``. The official
code (facebookresearch/dino, ``vision_transformer.py``, ``interpolate_pos_encoding``; likewise
facebookresearch/dinov2 with its default ``interpolate_offset=0.1``, used by the released
models without registers) passes ``scale_factor=((H/p + 0.1) / G, (W/p + 0.1) / G)`` instead
(it names the input's height ``w``, but the first factor does apply to the height axis).
Both give an (H/p, W/p) grid, but bicubic interpolation samples the source at
``(i + 0.5) / scale - 0.5``, so the two read the grid at positions that drift apart towards
the far edge (by up to ``0.1 * G / n`` cells for n target patches); for peaked attention that
moves the attention to other patches. transformers has no option for the official formula,
hence it is written out here.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import PreTrainedModel
from transformers.models.dinov2.modeling_dinov2 import Dinov2Embeddings
from transformers.models.vit.modeling_vit import ViTEmbeddings

# Offset of the official code, added to the target grid size "to avoid floating point error".
OFFICIAL_OFFSET = 0.1


def official_position_embeddings(
    position_embeddings: Tensor, height: int, width: int, patch_size: int
) -> Tensor:
    """Pre-trained position embeddings (1, 1 + G*G, D) for a ``height`` x ``width`` input.

    Returns (1, 1 + (height // p) * (width // p), D) as the official DINO code computes it: the
    CLS position unchanged, the patch grid resized bicubically (``align_corners=False``, no
    antialiasing) with ``scale_factor = (n + 0.1) / G`` per axis, n the target patch count
    along that axis (rows, then columns). Interpolated in float32 (as official DINOv2 does)
    and cast back. Returned unchanged for a square input of G x G patches, like the official
    code.
    """
    num_positions = position_embeddings.shape[1] - 1
    grid = math.isqrt(num_positions)
    if grid * grid != num_positions:
        raise ValueError(f"{num_positions} patch position embeddings do not form a square grid")
    rows, cols = height // patch_size, width // patch_size
    if rows * cols == num_positions and height == width:
        return position_embeddings
    dim = position_embeddings.shape[-1]
    patch = position_embeddings[:, 1:].float().reshape(1, grid, grid, dim).permute(0, 3, 1, 2)
    patch = F.interpolate(
        patch,
        scale_factor=((rows + OFFICIAL_OFFSET) / grid, (cols + OFFICIAL_OFFSET) / grid),
        mode="bicubic",
        align_corners=False,
    )
    if patch.shape[-2:] != (rows, cols):
        raise RuntimeError(f"interpolated grid {tuple(patch.shape[-2:])} != {(rows, cols)}")
    patch = patch.to(position_embeddings.dtype).permute(0, 2, 3, 1).reshape(1, rows * cols, dim)
    return torch.cat((position_embeddings[:, :1], patch), dim=1)


class OfficialViTEmbeddings(ViTEmbeddings):
    """``ViTEmbeddings`` with the official DINO position-embedding interpolation."""

    def interpolate_pos_encoding(self, embeddings: Tensor, height: int, width: int) -> Tensor:
        """(1, 1 + N, D) position embeddings for an input of ``height`` x ``width`` pixels."""
        return official_position_embeddings(
            self.position_embeddings, height, width, cast(int, self.patch_size)
        )


class OfficialDinov2Embeddings(Dinov2Embeddings):
    """``Dinov2Embeddings`` with the official DINOv2 (``interpolate_offset=0.1``) interpolation."""

    def interpolate_pos_encoding(self, embeddings: Tensor, height: int, width: int) -> Tensor:
        """(1, 1 + N, D) position embeddings for an input of ``height`` x ``width`` pixels."""
        return official_position_embeddings(
            self.position_embeddings, height, width, cast(int, self.patch_size)
        )


_OFFICIAL_EMBEDDINGS = {
    ViTEmbeddings: OfficialViTEmbeddings,
    Dinov2Embeddings: OfficialDinov2Embeddings,
}


def use_official_position_interpolation(backbone: PreTrainedModel) -> None:
    """Make a ``ViTModel`` (DINO) or ``Dinov2Model`` interpolate positions as the official code.

    Switches the class of ``backbone.embeddings`` in place to a subclass that overrides only
    ``interpolate_pos_encoding`` (parameters and state-dict keys are unchanged; the technique
    of ``torch.nn.utils.parametrize``). Other backbones are left as they are: transformers'
    ``Dinov2WithRegistersModel`` already interpolates like the official register models
    (``size=`` with antialiasing).
    """
    embeddings = getattr(backbone, "embeddings", None)
    official = _OFFICIAL_EMBEDDINGS.get(type(embeddings))
    if official is not None:
        embeddings.__class__ = official
