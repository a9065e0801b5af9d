"""Multi-scale tiled ViT maps: the ``"pyramid"`` method of :class:`~.dino.DinoAttention`.

The ViT sees the image only through square tiles of its native (pre-training) size, at a few
scales, each tiling twice with the patch grid shifted by half a patch (jitter); tiles are
blended with tent windows, so no tile border leaves a seam. Every tile's map is its CLS
attention relative to uniform (attention x the tile's patch count: 1 means uniform), which
does not depend on the tile's size, so levels and tiles need no rescaling to be combined.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

# Levels (native size x 1, x 2, ...) at most; a level is used only where the output size holds
# it. Two levels cost at most 2 x (1 + 9) ViT passes for a square image (jitter included).
MAX_LEVELS = 2


def native_shape(size: tuple[int, int], side: int, patch: int) -> tuple[int, int]:
    """(height, width) in pixels, patch multiples, of ``size``'s aspect with about ``side**2``
    pixels (the ViT's native token count at a ``side`` x ``side`` input)."""
    aspect = math.sqrt(size[0] / size[1])
    return (
        max(1, round(side / patch * aspect)) * patch,
        max(1, round(side / patch / aspect)) * patch,
    )


def level_shapes(
    size: tuple[int, int], side: int, patch: int, limit: tuple[int, int]
) -> list[tuple[int, int]]:
    """Pixel shapes of the pyramid levels: ``side * 2**k`` at ``size``'s aspect, the first
    always, the others while they hold at most as many pixels as ``limit`` (the output)."""
    shapes = [native_shape(size, side, patch)]
    for level in range(1, MAX_LEVELS):
        shape = native_shape(size, side * 2**level, patch)
        if shape[0] * shape[1] > limit[0] * limit[1]:
            break
        shapes.append(shape)
    return shapes


def tile_starts(length: int, tile: int) -> list[int]:
    """Starts of tiles of ``tile`` pixels covering ``length``, overlapping by about half."""
    if length <= tile:
        return [0]
    count = math.ceil((length - tile) / (tile / 2)) + 1
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def tent(length: int, device: torch.device) -> Tensor:
    """(length,) tent window, positive everywhere, peaking at the centre."""
    centres = (torch.arange(length, device=device, dtype=torch.float32) + 0.5) / length
    return 1.0 - (2.0 * centres - 1.0).abs()


def tiled_map(
    pixels: Tensor, tile: int, patch: int, relative: Callable[[Tensor], Tensor]
) -> Tensor:
    """(B, 3, H, W) normalised pixels (patch multiples) -> (B, 1, H, W) relative attention.

    ``relative`` maps a (B, 3, h, w) tile to (B, 1, h/p, w/p) attention relative to uniform.
    Two passes over the same tiles, the second on the image shifted by half a patch
    (``patch // 2`` pixels down and right, replicate padding; its last rows and columns are
    left to the first pass); each tile's map is resized (bilinear) to its pixels and blended
    with a tent window.
    """
    height, width = pixels.shape[-2:]
    tile_h, tile_w = min(tile, height), min(tile, width)
    window = tent(tile_h, pixels.device)[:, None] * tent(tile_w, pixels.device)[None, :]
    total = pixels.new_zeros(pixels.shape[0], 1, height, width)
    weight = pixels.new_zeros(1, 1, height, width)
    for offset in (0, patch // 2) if patch > 1 else (0,):
        shifted = F.pad(pixels, (offset, 0, offset, 0), mode="replicate")[..., :height, :width]
        for top in tile_starts(height, tile_h):
            for left in tile_starts(width, tile_w):
                crop = shifted[..., top : top + tile_h, left : left + tile_w]
                part = F.interpolate(
                    relative(crop), size=(tile_h, tile_w), mode="bilinear", align_corners=False
                )
                # Tile pixel (i, j) shows image pixel (top + i - offset, left + j - offset).
                rows = slice(max(0, top - offset), top + tile_h - offset)
                cols = slice(max(0, left - offset), left + tile_w - offset)
                skip_h, skip_w = rows.start - (top - offset), cols.start - (left - offset)
                total[..., rows, cols] += (part * window)[..., skip_h:, skip_w:]
                weight[..., rows, cols] += window[skip_h:, skip_w:]
    return total / weight
