"""YODA's time-dependent masks and the blend that applies them.

This module is the whole of YODA's "where and when to diffuse" logic; the samplers and
the training step only call it. Read it against Moser et al., *Dynamic Attention-Guided
Diffusion for Image Super-Resolution* (arXiv 2308.07977), Sec. 3.

Notation (the paper's): ``t = 1..T`` counts diffusion steps, ``T`` the number of training
timesteps, ``A`` the importance (attention) map in [0, 1] and ``l`` in [0, 1] the lower bound.

Timestep convention: diffusers' schedulers index timesteps ``k = 0..T-1`` where ``k``
selects ``alphas_cumprod[k]``, i.e. the paper's step ``t = k + 1``. Every public function
here takes diffusers indices ``k`` (what ``scheduler.timesteps`` holds) and converts with
:func:`paper_step` in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

# How an importance map at output size is brought to a coarser diffusion grid (a latent).
GRID_POOLINGS = ("max", "mean")


def paper_step(timesteps: Tensor) -> Tensor:
    """Map diffusers timestep indices ``k`` (0..T-1) to the paper's ``t = k + 1`` (1..T)."""
    return timesteps.long() + 1


def diffusion_mask(
    importance: Tensor, timesteps: Tensor | int, num_train_timesteps: int, lower_bound: float
) -> Tensor:
    """Binary mask ``M_t``: which pixels are diffused at timestep ``t``.

    Rule (our reading of the paper, Sec. 3.2, the same rule Latent Wavelet Diffusion reuses
    explicitly): pixel ``p`` is diffused at step ``t`` iff ``T * (A[p] + l) >= t``. So a pixel
    is active during the last ``min(T, floor(T * (A[p] + l)))`` steps; ``l`` guarantees every
    pixel at least ``l * T`` steps, pixels with ``A >= 1 - l`` get all ``T``, and ``M_t`` only
    grows as ``t`` falls. It holds for any subset of timesteps (DDIM/respaced samplers).

    Args:
        importance: (B, 1, H, W) importance map ``A`` in [0, 1].
        timesteps: diffusers indices ``k`` in 0..T-1, an int or a (B,) tensor.
        num_train_timesteps: ``T``.
        lower_bound: ``l`` in [0, 1].

    Returns:
        (B, 1, H, W) float mask with values in {0, 1}, dtype of ``importance``.
    """
    if not 0.0 <= lower_bound <= 1.0:
        raise ValueError(f"lower_bound must lie in [0, 1], got {lower_bound}")
    t = torch.as_tensor(timesteps, device=importance.device)
    t = paper_step(t).reshape(-1, 1, 1, 1) if t.ndim else paper_step(t)
    # Compare in float64 with a tolerance of float32 rounding (A is usually float32: 0.7f
    # is 0.69999998), so that A = 1 - l really gets all T steps as the rule intends.
    budget = num_train_timesteps * (importance.double() + lower_bound)
    tolerance = 1e-6 * num_train_timesteps
    return (budget >= t.double() - tolerance).to(importance.dtype)


def importance_on_grid(importance: Tensor, size: Sequence[int], pooling: str = "max") -> Tensor:
    """``importance`` (B, 1, H, W) on the diffusion grid ``size`` = (H / f, W / f).

    Our extension, not the paper's (it diffuses in pixel space): a latent chain (f > 1)
    diffuses a latent cell for as long as its f x f pixels ask, ``"max"`` (default: a cell
    holding one important pixel is refined as long as that pixel would be) or their
    ``"mean"``. On the image grid (f = 1) the map is returned as it is.
    """
    if pooling not in GRID_POOLINGS:
        raise ValueError(f"grid pooling must be one of {GRID_POOLINGS}, got {pooling!r}")
    h, w = importance.shape[-2:]
    if (h, w) == tuple(size):
        return importance
    if h % size[0] or w % size[1] or h // size[0] != w // size[1]:
        raise ValueError(
            f"importance map {h}x{w} does not pool to the diffusion grid {size[0]}x{size[1]} "
            "(need one integer factor)"
        )
    factor = h // size[0]
    pool = F.max_pool2d if pooling == "max" else F.avg_pool2d
    return pool(importance, factor)


def blend(diffused: Tensor, anchored: Tensor, mask: Tensor) -> Tensor:
    """RePaint-style blend ``M * diffused + (1 - M) * anchored`` (paper Eq. for x_{t-1}).

    ``anchored`` is ``q(x_t | anchor)``: what an inactive pixel holds at that noise level.
    Written with ``torch.where`` so that an all-ones mask returns ``diffused`` bit for bit.
    """
    return torch.where(mask.bool(), diffused, anchored)


def steps_per_pixel(
    importance: Tensor,
    num_train_timesteps: int,
    lower_bound: float,
    timesteps: Sequence[int] | Tensor | None = None,
) -> Tensor:
    """Number of denoising steps each pixel receives.

    With ``timesteps=None`` all ``T`` training steps are visited and the count is
    ``min(T, floor(T * (A + l)))``; with a sampler's visited timesteps (diffusers indices) it
    counts those at which the pixel is active. Returns (B, 1, H, W) int64.
    """
    if timesteps is None:
        timesteps = torch.arange(num_train_timesteps)
    count = torch.zeros_like(importance, dtype=torch.int64)
    for k in torch.as_tensor(timesteps).tolist():
        count += diffusion_mask(importance, int(k), num_train_timesteps, lower_bound).long()
    return count


def active_fraction(
    importance: Tensor,
    timesteps: Sequence[int] | Tensor,
    num_train_timesteps: int,
    lower_bound: float,
) -> Tensor:
    """Fraction of pixels diffused at each visited timestep: (len(timesteps), B) in [0, 1]."""
    rows = [
        diffusion_mask(importance, int(k), num_train_timesteps, lower_bound).mean(dim=(1, 2, 3))
        for k in torch.as_tensor(timesteps).tolist()
    ]
    return torch.stack(rows)
