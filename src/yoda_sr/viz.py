"""Pictures as image tensors: importance heat maps, YODA's masks over time, image grids.

matplotlib is used for its colormaps only; charts are in :mod:`yoda_sr.evaluation.figures`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from yoda_sr.masks import diffusion_mask


def _as_map(importance: Tensor, size: tuple[int, ...]) -> Tensor:
    """(1, H, W) or (H, W) -> (H, W) float in [0, 1]; checks it matches the image size."""
    importance = importance.detach().float().cpu()
    if importance.ndim == 3 and importance.shape[0] == 1:
        importance = importance[0]
    if importance.ndim != 2 or tuple(importance.shape) != tuple(size):
        raise ValueError(
            f"importance must have shape (1, H, W) or (H, W) = {tuple(size)}, "
            f"got {tuple(importance.shape)}"
        )
    return importance.clamp(0.0, 1.0)


def _check_image(image: Tensor) -> Tensor:
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image must have shape (3, H, W), got {tuple(image.shape)}")
    return image.detach().float().cpu().clamp(0.0, 1.0)


def colorize(importance: Tensor, cmap: str = "inferno") -> Tensor:
    """(H, W) or (1, H, W) in [0, 1] -> (3, H, W) RGB in [0, 1] through a matplotlib colormap."""
    values = importance.detach().float().cpu().clamp(0.0, 1.0).squeeze(0).numpy()
    rgb = colormaps[cmap](values)[..., :3].astype(np.float32)
    return torch.from_numpy(rgb).permute(2, 0, 1)


def heatmap_overlay(
    image: Tensor, importance: Tensor, alpha: float = 0.5, cmap: str = "inferno"
) -> Tensor:
    """Blend a colour-mapped importance map over an image.

    Args:
        image: (3, H, W) in [0, 1].
        importance: (1, H, W) or (H, W) in [0, 1].
        alpha: weight of the heat map (0: image only, 1: heat map only).

    Returns:
        (3, H, W) in [0, 1].
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    image = _check_image(image)
    heat = colorize(_as_map(importance, image.shape[-2:]), cmap)
    return ((1.0 - alpha) * image + alpha * heat).clamp(0.0, 1.0)


def _label(tile: Tensor, text: str) -> Tensor:
    """Write ``text`` in the top-left corner of a (3, H, W) tile (PIL's default font).

    The font grows with the tile (1/20 of its smaller side, at least 10 px).
    """
    array = (tile.permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    picture = Image.fromarray(array)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=max(10, min(tile.shape[-2:]) // 20))
    right, bottom = draw.textbbox((2, 1), text, font=font)[2:]
    draw.rectangle((0, 0, right + 2, bottom + 2), fill=(0, 0, 0))
    draw.text((2, 1), text, fill=(255, 255, 255), font=font)
    return torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255.0).permute(2, 0, 1)


def mask_strip(
    image: Tensor,
    importance: Tensor,
    num_train_timesteps: int,
    lower_bound: float,
    steps: Sequence[int] | None = None,
    dim: float = 0.25,
    gap: int = 4,
    label: bool = True,
) -> Tensor:
    """Side-by-side tiles of YODA's mask ``M_t`` at several paper steps ``t`` (T ... 1).

    Each tile shows the image where ``M_t = 1`` (pixels diffused at step ``t``) and the image
    dimmed to ``dim`` elsewhere, labelled ``t=... <active %>``. Sampling runs from ``t = T``
    down to 1, so read left to right: the regions that are refined first, then growing.

    Args:
        image: (3, H, W) in [0, 1].
        importance: (1, H, W) or (H, W) in [0, 1].
        num_train_timesteps: ``T``.
        lower_bound: ``l`` of the masks.
        steps: paper steps ``t`` in 1..T; default 6 evenly spaced: T, 4T/5, ..., T/5, 1.
        dim: brightness factor of inactive pixels.
        gap: white columns between tiles.
        label: write ``t`` and the active fraction on each tile.

    Returns:
        (3, H, n*W + (n-1)*gap) in [0, 1].
    """
    image = _check_image(image)
    mask_source = _as_map(importance, image.shape[-2:])
    if steps is None:
        spaced = np.linspace(num_train_timesteps, 0, 6).round().astype(int).clip(1, None)
        steps = sorted(set(spaced.tolist()), reverse=True)
    steps = [int(t) for t in steps]
    if not steps or any(not 1 <= t <= num_train_timesteps for t in steps):
        raise ValueError(f"steps must lie in 1..{num_train_timesteps}, got {steps}")
    tiles: list[Tensor] = []
    for t in steps:
        mask = diffusion_mask(mask_source[None, None], t - 1, num_train_timesteps, lower_bound)[0]
        tile = image * (mask + (1.0 - mask) * dim)
        if label:
            tile = _label(tile, f"t={t} {100.0 * mask.mean().item():.0f}%")
        tiles.append(tile)
        tiles.append(torch.ones(3, image.shape[1], gap))
    return torch.cat(tiles[:-1], dim=2)


def _title_band(text: str, width: int, height: int) -> Tensor:
    """(3, height, width) white band with ``text`` in black, the font shrunk (to 8 px at
    least) until the text fits the width."""
    picture = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    for size in range(max(8, height - 6), 7, -1):
        font = ImageFont.load_default(size=size)
        if draw.textlength(text, font=font) <= width - 4:
            break
    draw.text((2, 2), text, fill=(0, 0, 0), font=font)
    return torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255.0).permute(2, 0, 1)


def image_grid(
    rows: Sequence[Sequence[Tensor | tuple[str, Tensor]]], gap: int = 2, min_tile: int = 0
) -> Tensor:
    """Tile rows of images (3, H, W) in [0, 1] into one (3, H', W') image on white.

    A tile given as ``(title, image)`` gets its title in a band above it. All images are
    enlarged by the smallest whole factor (nearest neighbour, so pixels stay visible) that
    makes the widest at least ``min_tile`` px wide. Tiles of a row are top-aligned; rows are
    stacked left-aligned.
    """
    if not rows or not all(rows):
        raise ValueError("image_grid needs at least one non-empty row")
    cells = [[tile if isinstance(tile, tuple) else ("", tile) for tile in row] for row in rows]
    widest = max(image.shape[-1] for row in cells for _, image in row)
    zoom = max(1, math.ceil(min_tile / widest))
    band = 20 if any(title for row in cells for title, _ in row) else 0
    row_images = []
    for row in cells:
        tiles = []
        for title, image in row:
            image = _check_image(image).repeat_interleave(zoom, 1).repeat_interleave(zoom, 2)
            if band:
                image = torch.cat([_title_band(title, image.shape[2], band), image], dim=1)
            tiles.append(image)
        height = max(tile.shape[1] for tile in tiles)
        width = sum(tile.shape[2] for tile in tiles) + gap * (len(tiles) - 1)
        canvas = torch.ones(3, height, width)
        x = 0
        for tile in tiles:
            canvas[:, : tile.shape[1], x : x + tile.shape[2]] = tile
            x += tile.shape[2] + gap
        row_images.append(canvas)
    width = max(r.shape[2] for r in row_images)
    height = sum(r.shape[1] for r in row_images) + gap * (len(row_images) - 1)
    grid = torch.ones(3, height, width)
    y = 0
    for r in row_images:
        grid[:, y : y + r.shape[1], : r.shape[2]] = r
        y += r.shape[1] + gap
    return grid
