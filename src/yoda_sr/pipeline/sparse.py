"""Sparse evaluation of a denoiser: run the network only around pixels YODA diffuses.

At step ``t`` the sampler uses the prediction only where ``M_t = 1`` (the blend overwrites
every other pixel with the anchor). :class:`WindowedDenoiser` splits the image into a grid of
*cores* (``core`` px squares), keeps the cores holding an active pixel, cuts a window of
``core + 2 * halo`` px around each (shifted inside the image at the borders, so no padding is
invented), evaluates all windows of a step in batched calls and writes back only their cores.
The halo gives the network the context it would have seen in the full image; ``halo`` is the
knob between exactness and speed (``benchmarks/sparse_speed.py`` measures both).

When the windows would cover more pixels than ``dense_above`` times the image, one
full-image call is cheaper and is made instead; with every core active and windows as large
as the image the result is the full-image call itself. The same class with ``active=None``
evaluates a large image in bounded memory (every core, at most ``max_windows`` windows per
call), without blending seams: each output pixel comes from exactly one window.

Written by hand because neither diffusers nor torch offers masked evaluation of an arbitrary
UNet; everything here is slicing around the unchanged network.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class WindowStats:
    """Work done over all calls: network calls, windows, and pixels evaluated vs dense."""

    calls: int = 0
    dense_calls: int = 0
    windows: int = 0
    pixels_evaluated: int = 0
    pixels_dense: int = 0


class WindowedDenoiser:
    """Wrap ``model(x_t, timesteps, **condition)`` to evaluate only windows around active cores.

    Args:
        model: the denoiser; inputs (N, C, h, w) with h, w multiples of ``multiple``.
        core: core size in HR px (rounded up to ``multiple``).
        halo: context around each core in HR px (rounded up to ``multiple``).
        multiple: window offsets and sizes are multiples of this (lcm of the UNet's required
            multiple and the scale, so LR-resolution conditioning is cut on whole pixels).
        max_windows: windows per network call (bounds memory).
        dense_above: make one full-image call when the windows would cover more than this
            fraction of the image's pixels.
    """

    accepts_active_mask = True

    def __init__(
        self,
        model: Callable[..., Tensor],
        core: int,
        halo: int,
        multiple: int = 1,
        max_windows: int = 64,
        dense_above: float = 0.9,
    ) -> None:
        if core < 1 or halo < 0 or max_windows < 1:
            raise ValueError(
                f"core must be >= 1, halo >= 0 and max_windows >= 1, got {core}, {halo}, "
                f"{max_windows}"
            )
        self.model = model
        self.core = math.ceil(core / multiple) * multiple
        self.halo = math.ceil(halo / multiple) * multiple
        self.max_windows = max_windows
        self.dense_above = dense_above
        self.stats = WindowStats()

    def __call__(
        self, x_t: Tensor, timesteps: Tensor, active: Tensor | None = None, **condition: Tensor
    ) -> Tensor:
        """Prediction (B, C, H, W); exact where computed, 0 in cores with no active pixel.

        ``active``: (B, 1, H, W) mask M_t (None: every pixel is wanted).
        """
        batch, _, height, width = x_t.shape
        win_h, win_w = min(self.core + 2 * self.halo, height), min(self.core + 2 * self.halo, width)
        wanted = torch.ones_like(x_t[:, :1]) if active is None else active
        # (B, 1, gh, gw): does the core hold any wanted pixel? (partial cores at the far edges)
        cores = F.max_pool2d(wanted.float(), self.core, stride=self.core, ceil_mode=True) > 0
        picked = cores[:, 0].nonzero().tolist()
        self.stats.pixels_dense += batch * height * width
        if not picked:
            return torch.zeros_like(x_t)
        if len(picked) * win_h * win_w > self.dense_above * batch * height * width:
            self.stats.calls += 1
            self.stats.dense_calls += 1
            self.stats.pixels_evaluated += batch * height * width
            return self.model(x_t, timesteps, **condition)
        out = torch.zeros_like(x_t)
        t_all = timesteps.reshape(-1).expand(batch) if timesteps.numel() == 1 else timesteps
        for start in range(0, len(picked), self.max_windows):
            chunk = picked[start : start + self.max_windows]
            boxes = [self._box(gy, gx, height, width, win_h, win_w) for _, gy, gx in chunk]
            items = [b for b, _, _ in chunk]
            x_win = torch.stack(
                [
                    x_t[b, :, top : top + win_h, left : left + win_w]
                    for b, (top, left, *_) in zip(items, boxes, strict=True)
                ]
            )
            cond = {
                name: torch.stack(
                    [
                        _cut(value[b], height, top, win_h, left, win_w)
                        for b, (top, left, *_) in zip(items, boxes, strict=True)
                    ]
                )
                for name, value in condition.items()
            }
            prediction = self.model(x_win, t_all[items], **cond)
            for i, (b, (top, left, y0, y1, x0, x1)) in enumerate(zip(items, boxes, strict=True)):
                out[b, :, y0:y1, x0:x1] = prediction[
                    i, :, y0 - top : y1 - top, x0 - left : x1 - left
                ]
            self.stats.calls += 1
            self.stats.windows += len(chunk)
            self.stats.pixels_evaluated += len(chunk) * win_h * win_w
        return out

    def _box(
        self, gy: int, gx: int, height: int, width: int, win_h: int, win_w: int
    ) -> tuple[int, int, int, int, int, int]:
        """Window (top, left) and core (y0, y1, x0, x1) of grid cell (gy, gx), in HR px."""
        y0, x0 = gy * self.core, gx * self.core
        y1, x1 = min(y0 + self.core, height), min(x0 + self.core, width)
        top = min(max(y0 - self.halo, 0), height - win_h)
        left = min(max(x0 - self.halo, 0), width - win_w)
        return top, left, y0, y1, x0, x1


def _cut(value: Tensor, height: int, top: int, win_h: int, left: int, win_w: int) -> Tensor:
    """The window of a (C, h, w) tensor at HR or LR (height / r) resolution."""
    ratio = height // value.shape[-2]
    return value[
        ..., top // ratio : (top + win_h) // ratio, left // ratio : (left + win_w) // ratio
    ]
