"""Pictures of importance maps and of YODA's time-dependent masks, as image tensors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from yoda_sr.masks import diffusion_mask


def _as_map(importance: Tensor, size: tuple[int, int]) -> Tensor:
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
