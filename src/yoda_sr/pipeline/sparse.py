"""Sparse evaluation of a denoiser: run the network only around pixels YODA diffuses.

At step ``t`` the sampler uses the prediction only where ``M_t = 1`` (the blend overwrites
every other pixel with the anchor). :class:`WindowedDenoiser` splits the image into a grid of
*cores* (``core`` px squares; with several candidate sizes, at each step the size whose
windows cover the fewest pixels), keeps the cores holding an active pixel, cuts a window of
``core + 2 * halo`` px around each (shifted inside the image at the borders, so no padding is
invented), evaluates all windows of a step in one batched call (``max_pixels`` per call
bounds memory) and writes back only their cores. The halo gives the network the context it
would have seen in the full image; ``halo`` is the knob between exactness and speed
(``benchmarks/sparse_speed.py`` measures both).

When the windows would cover more pixels than ``dense_above`` times the image, one
full-image call is cheaper and is made instead (``dense_above=0`` is the dense sampler with
the same counters), as it is when one window would cover the whole image. YODA's masks
only grow as ``t`` falls, so a chain makes its window calls first and its full-image calls
last, never going back. With ``dense_above=inf`` and
``max_pixels`` set it is tiled inference in bounded memory (the pipeline's ``tile``): only
windows around active cores are evaluated, without blending seams, since each output pixel
comes from exactly one window.

Gather and scatter are single advanced-indexing operations, so the per-step overhead does
not grow with the number of windows in Python. Written by hand because neither diffusers nor
torch offers masked evaluation of an arbitrary UNet; everything here is indexing around the
unchanged network.
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
    """Work done over all calls: network calls, windows, and pixels evaluated vs dense.

    ``pixels_dense`` counts the pixels a full-image call would have evaluated at each call
    (batch items x H x W), ``pixels_evaluated`` the pixels actually fed to the network,
    ``cores_total`` the grid cells of the core size used, at each call.
    """

    calls: int = 0
    dense_calls: int = 0
    windows: int = 0
    pixels_evaluated: int = 0
    pixels_dense: int = 0
    cores_total: int = 0


class WindowedDenoiser:
    """Wrap ``model(x_t, timesteps, **condition)`` to evaluate only windows around active cores.

    Args:
        model: the denoiser; inputs (N, C, h, w) with h, w multiples of ``multiple``.
        core: core size in HR px (rounded up to ``multiple``), or candidate sizes: each call
            uses the one whose windows cover the fewest pixels.
        halo: context around each core in HR px (rounded up to ``multiple``).
        multiple: window offsets and sizes are multiples of this (lcm of the UNet's required
            multiple and the scale, so LR-resolution conditioning is cut on whole pixels).
        max_pixels: at most this many pixels per network call, but at least one window
            (bounds memory); None: all windows of a step in one call.
        dense_above: make one full-image call when the windows would cover more than this
            fraction of the image's pixels.
    """

    accepts_active_mask = True

    def __init__(
        self,
        model: Callable[..., Tensor],
        core: int | tuple[int, ...],
        halo: int,
        multiple: int = 1,
        max_pixels: int | None = None,
        dense_above: float = 0.9,
    ) -> None:
        sizes = (core,) if isinstance(core, int) else tuple(core)
        if not sizes or min(sizes) < 1 or halo < 0:
            raise ValueError(f"core must be >= 1 and halo >= 0, got {core}, {halo}")
        self.model = model
        self.cores = tuple(sorted({math.ceil(size / multiple) * multiple for size in sizes}))
        self.halo = math.ceil(halo / multiple) * multiple
        self.max_pixels = max_pixels
        self.dense_above = dense_above
        self.stats = WindowStats()

    def __call__(
        self, x_t: Tensor, timesteps: Tensor, active: Tensor | None = None, **condition: Tensor
    ) -> Tensor:
        """Prediction (B, C, H, W); exact where computed, 0 in cores with no active pixel.

        ``active``: (B, 1, H, W) mask M_t (None: every pixel is wanted).
        """
        batch, _, height, width = x_t.shape
        self.stats.pixels_dense += batch * height * width
        wanted = x_t.new_ones(batch, 1, height, width) if active is None else active.float()
        core, picked = min(
            (self._pick(wanted, size) for size in self.cores),
            key=lambda choice: len(choice[1]) * self._window(choice[0], height, width),
        )
        self.stats.cores_total += batch * -(-height // core) * -(-width // core)
        if len(picked) == 0:
            return torch.zeros_like(x_t)
        win_h, win_w = min(core + 2 * self.halo, height), min(core + 2 * self.halo, width)
        whole = win_h == height and win_w == width
        if whole or len(picked) * win_h * win_w > self.dense_above * batch * height * width:
            self.stats.calls += 1
            self.stats.dense_calls += 1
            self.stats.pixels_evaluated += batch * height * width
            return self.model(x_t, timesteps, **condition)
        out = torch.zeros_like(x_t)
        t_all = timesteps.reshape(-1).expand(batch) if timesteps.numel() == 1 else timesteps
        per_call = len(picked) if self.max_pixels is None else self.max_pixels // (win_h * win_w)
        for chunk in picked.split(max(per_call, 1)):
            items = chunk[:, 0]
            y0, x0 = chunk[:, 1] * core, chunk[:, 2] * core
            top = (y0 - self.halo).clamp(0, height - win_h)
            left = (x0 - self.halo).clamp(0, width - win_w)
            cond = {
                name: _gather(value, items, top, left, win_h, win_w, height // value.shape[-2])
                for name, value in condition.items()
            }
            x_win = _gather(x_t, items, top, left, win_h, win_w, 1)
            prediction = self.model(x_win, t_all[items], **cond)
            # Core rows/cols; a partial core at the far edge repeats its last pixel, which
            # writes the same value twice.
            offsets = torch.arange(core, device=x_t.device)
            rows = (y0[:, None] + offsets).clamp_max(height - 1)
            cols = (x0[:, None] + offsets).clamp_max(width - 1)
            n = torch.arange(len(chunk), device=x_t.device)[:, None, None]
            in_rows, in_cols = rows - top[:, None], cols - left[:, None]
            kept = prediction[n, :, in_rows[:, :, None], in_cols[:, None, :]]
            out[items[:, None, None], :, rows[:, :, None], cols[:, None, :]] = kept.to(out.dtype)
            self.stats.calls += 1
            self.stats.windows += len(chunk)
            self.stats.pixels_evaluated += len(chunk) * win_h * win_w
        return out

    def _pick(self, wanted: Tensor, core: int) -> tuple[int, Tensor]:
        """``core`` and the (N, 3) indices (item, grid row, grid col) of the cores holding a
        wanted pixel of ``wanted`` (B, 1, H, W); partial cores at the far edges count."""
        pooled = F.max_pool2d(wanted, core, stride=core, ceil_mode=True)
        return core, pooled[:, 0].nonzero()

    def _window(self, core: int, height: int, width: int) -> int:
        """Pixels of one window around a ``core`` px core in an image of height x width."""
        return min(core + 2 * self.halo, height) * min(core + 2 * self.halo, width)


def _gather(
    value: Tensor, items: Tensor, top: Tensor, left: Tensor, win_h: int, win_w: int, ratio: int
) -> Tensor:
    """(N, C, win_h / ratio, win_w / ratio) windows of ``value`` (B, C, H / ratio, W / ratio):
    item ``items[i]`` at HR offset (``top[i]``, ``left[i]``); ``ratio`` > 1 for LR tensors."""
    rows = (top // ratio)[:, None] + torch.arange(win_h // ratio, device=value.device)
    cols = (left // ratio)[:, None] + torch.arange(win_w // ratio, device=value.device)
    windows = value[items[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return windows.permute(0, 3, 1, 2).contiguous()
