"""Tiled, mask-aware evaluation of a denoiser: bounded memory and real savings from YODA.

At every sampler step the network runs on overlapping HR tiles of x_t (and of its
conditioning); predictions are blended with a linear ramp over the overlap. A tile none of
whose pixels is active under the current YODA mask is not evaluated at all: those pixels are
overwritten by the anchor in the blend, so their prediction is never used. This is where the
sparse diffusion saves compute (beyond the paper, which evaluates the full image).

Written by hand because diffusers has no tiled-per-step wrapper for arbitrary UNets. Tiling
is an approximation of the full-image network when tiles are smaller than the image (the
UNet sees less context; global attention layers most so); ``benchmarks/sparse_speed.py``
measures the difference. The noise is global, so tiles leave no seams of their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from yoda_sr.pipeline.sparse import WindowStats


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Start offsets covering ``length`` with windows of ``tile`` every ``stride`` pixels."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def ramp_window(tile: int, overlap: int) -> Tensor:
    """(tile, tile) blending weights: 1 inside, linear ramp to ~0 over ``overlap`` px."""
    if overlap <= 0:
        return torch.ones(tile, tile)
    i = torch.arange(tile, dtype=torch.float32) + 0.5
    ramp = torch.minimum(torch.ones(tile), torch.minimum(i, tile - i) / overlap)
    return ramp[:, None] * ramp[None, :]


class TiledDenoiser:
    """Wrap ``model(x_t, timesteps, **condition)`` to run on tiles, skipping inactive ones.

    ``tile`` and ``overlap`` are in HR pixels and are rounded up to multiples of
    ``multiple`` (the lcm of the UNet's required multiple and the scale, so LR-sized
    conditioning tensors such as SRDiff's encoder features are cut on whole LR pixels).
    Conditioning tensors are cut at their own resolution (HR or LR). Counters
    ``tiles_evaluated`` / ``tiles_total`` and ``stats`` (network calls, pixels evaluated)
    accumulate over calls.
    """

    accepts_active_mask = True

    def __init__(
        self,
        model: Callable[..., Tensor],
        tile: int,
        overlap: int = 32,
        multiple: int = 1,
        skip_inactive: bool = True,
    ) -> None:
        self.model = model
        self.tile = math.ceil(tile / multiple) * multiple
        self.overlap = min(math.ceil(overlap / multiple) * multiple, self.tile - multiple)
        self.skip_inactive = skip_inactive
        self.window = ramp_window(self.tile, self.overlap)
        self.tiles_evaluated = 0
        self.tiles_total = 0
        self.stats = WindowStats()

    def __call__(
        self, x_t: Tensor, timesteps: Tensor, active: Tensor | None = None, **condition: Tensor
    ) -> Tensor:
        """Prediction (B, C, H, W); pixels covered by no evaluated tile are 0 (inactive)."""
        _, _, height, width = x_t.shape
        th, tw = min(self.tile, height), min(self.tile, width)
        stride = self.tile - self.overlap
        window = self.window[:th, :tw].to(x_t.device, x_t.dtype)
        out = torch.zeros_like(x_t)
        weight = torch.zeros_like(x_t[:1, :1])
        for top in tile_starts(height, th, stride):
            for left in tile_starts(width, tw, stride):
                self.tiles_total += 1
                rows, cols = slice(top, top + th), slice(left, left + tw)
                if (
                    self.skip_inactive
                    and active is not None
                    and not bool(active[..., rows, cols].any())
                ):
                    continue
                cond = {
                    name: _crop(value, height, top, th, left, tw)
                    for name, value in condition.items()
                }
                prediction = self.model(x_t[..., rows, cols], timesteps, **cond)
                out[..., rows, cols] += prediction * window
                weight[..., rows, cols] += window
                self.tiles_evaluated += 1
                self.stats.calls += 1
                self.stats.windows += x_t.shape[0]
                self.stats.pixels_evaluated += x_t.shape[0] * th * tw
        return out / weight.clamp_min(1e-8)


def _crop(value: Tensor, height: int, top: int, th: int, left: int, tw: int) -> Tensor:
    """Cut the region of an HR tile out of a tensor at HR or LR (height / r) resolution."""
    ratio = height // value.shape[-2]
    return value[..., top // ratio : (top + th) // ratio, left // ratio : (left + tw) // ratio]
