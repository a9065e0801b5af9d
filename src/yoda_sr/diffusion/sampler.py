"""YODA sampling loop (paper Sec. 3.4): a diffusers scheduler step plus the mask blend.

At every visited timestep ``t`` (diffusers index ``k``), pixels with ``M_t = 1`` move from
x_t to x_{t-1} by the scheduler's step; all others are reset to ``q(x_{t-1} | anchor)``::

    x_T     = M_T * noise + (1 - M_T) * q(x_T | anchor)
    x_{t-1} = M_t * step(x_t) + (1 - M_t) * q(x_{t-1} | anchor)

Deviation from the issue's/paper's indexing: the blend that produces x_{t-1} uses ``M_t``
(the mask of the step being taken), not ``M_{t-1}``. Then a pixel is moved by the network
exactly at the steps where its mask is on, i.e. ``min(T, floor(T (A + l)))`` times over a
full chain, and a pixel that is never active (A = 0, l = 0) ends exactly on the anchor. With
``M_{t-1}`` the final blend would use ``M_0 = 1`` and every pixel would get one extra step.

A diffused pixel starts from the scheduler's prior (noise for DDPM/DDIM; y_0 plus noise for
ResShift, where it equals ``q(x_T | anchor)``), and the network sees the scheduler's
``scale_model_input`` of x_t (the identity but for ResShift).

``anchor_noise="fixed"`` (default) noises the anchor with the same noise as x_T at every
step, as in training where masked and unmasked pixels share one noise draw; ``"fresh"``
draws new noise each step (RePaint's choice for known regions).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor
from tqdm.auto import tqdm

from yoda_sr.diffusion.config import ANCHOR_NOISES, YodaConfig
from yoda_sr.diffusion.schedule import add_noise, prior_sample
from yoda_sr.masks import blend, diffusion_mask, importance_on_grid

# ``denoiser(x_t, timesteps, **condition) -> prediction``; every condition tensor is batched
# like x_t, so the sampler can evaluate a sub-batch.
Denoiser = Callable[..., Tensor]


@dataclass
class SampleOutput:
    """Result of :func:`yoda_sample`.

    ``sample``: (B, C, H, W) final x_0 in the diffusion space. ``denoiser_calls``: number of
    network evaluations (a call on a sub-batch counts once). ``active_fraction``: per visited
    step, the fraction of pixels (over the whole batch) that were diffused.
    """

    sample: Tensor
    timesteps: list[int]
    denoiser_calls: int = 0
    active_fraction: list[float] = field(default_factory=list)


def _noised(scheduler, anchor: Tensor, noise: Tensor, timestep: int | None) -> Tensor:
    """q(x_k | x_0 = anchor): ``anchor`` itself for the clean state (``timestep is None``)."""
    if timestep is None:
        return anchor
    k = torch.full((anchor.shape[0],), timestep, dtype=torch.long, device=anchor.device)
    return add_noise(scheduler, anchor, noise, k, anchor)


@torch.no_grad()
def yoda_sample(
    denoiser: Denoiser,
    scheduler,
    anchor: Tensor,
    importance: Tensor | None,
    condition: dict[str, Tensor] | None = None,
    lower_bound: float = YodaConfig.lower_bound,
    num_inference_steps: int | None = None,
    eta: float = 0.0,
    generator: torch.Generator | list[torch.Generator] | None = None,
    anchor_noise: str = "fixed",
    skip_inactive: bool = True,
    progress: bool = False,
    step_callback: Callable[[int, int], None] | None = None,
    grid_pooling: str = YodaConfig.grid_pooling,
) -> SampleOutput:
    """Run the reverse process with YODA masks.

    Args:
        denoiser: ``(x_t, timesteps, **condition) -> prediction`` (epsilon or x_0). A
            denoiser with ``accepts_active_mask = True`` also receives ``active=M_t`` and
            may skip regions where it is 0 (see :mod:`yoda_sr.pipeline.sparse`).
        scheduler: from :func:`~yoda_sr.diffusion.make_scheduler` (DDPM, DDIM or ResShift;
            its state is reset here).
        anchor: (B, C, H, W) value of undiffused pixels in the diffusion space.
        importance: (B, 1, H * f, W * f) in [0, 1]; ``None`` is the plain baseline (M = 1).
            On a latent chain's coarser grid (f > 1) it is pooled by ``grid_pooling``.
        condition: keyword tensors for the denoiser, batched like ``anchor``.
        num_inference_steps: visited timesteps (default: all T).
        eta: DDIM eta (ignored by DDPM).
        generator: one generator for the batch, or a list of one per batch item: each item's
            noise then comes from its own generator only, the same as sampled alone.
        skip_inactive: do not call the network for batch items whose mask is empty: their
            pixels are all overwritten by the blend, so deterministic sampling (DDIM, eta=0)
            gives the identical result; stochastic steps then draw noise for fewer items.
        progress: show a tqdm bar over the visited timesteps.
        step_callback: called after every visited timestep with ``(steps done, steps in
            all)``, e.g. to feed a progress bar of a user interface.
    """
    if anchor_noise not in ANCHOR_NOISES:
        raise ValueError(f"anchor_noise must be 'fixed' or 'fresh', got {anchor_noise!r}")
    num_t = scheduler.config.num_train_timesteps
    scheduler.set_timesteps(num_inference_steps or num_t)
    timesteps = [int(k) for k in scheduler.timesteps]
    shape = anchor.shape
    device, dtype = anchor.device, anchor.dtype

    per_item = generator if isinstance(generator, list) else None
    shared = None if isinstance(generator, list) else generator
    if per_item is not None and len(per_item) != shape[0]:
        raise ValueError(f"{len(per_item)} generators for a batch of {shape[0]}")

    def randn() -> Tensor:
        if per_item is not None:
            one = (1, *shape[1:])
            draws = [torch.randn(one, generator=g) for g in per_item]
            return torch.cat(draws).to(device, dtype)
        return torch.randn(shape, generator=shared).to(device, dtype)

    importance_here = (
        None
        if importance is None
        else importance_on_grid(importance.to(device, dtype), shape[-2:], grid_pooling)
    )

    def mask_at(k: int) -> Tensor:
        if importance_here is None:
            return torch.ones_like(anchor[:, :1])
        return diffusion_mask(importance_here, k, num_t, lower_bound)

    noise = randn()
    mask = mask_at(timesteps[0])
    x = blend(
        prior_sample(scheduler, anchor, noise),
        _noised(scheduler, anchor, noise, timesteps[0]),
        mask,
    )
    step_kwargs = {"eta": eta} if "eta" in inspect.signature(scheduler.step).parameters else {}
    out = SampleOutput(sample=x, timesteps=timesteps)
    for i, k in enumerate(tqdm(timesteps, disable=not progress, desc="sampling", leave=False)):
        mask = mask_at(k)
        out.active_fraction.append(float(mask.mean()))
        rows = (
            mask.flatten(1).any(dim=1)
            if skip_inactive
            else torch.ones(shape[0], dtype=torch.bool, device=device)
        )
        prev_k = timesteps[i + 1] if i + 1 < len(timesteps) else None
        if anchor_noise == "fresh" and prev_k is not None:
            anchor_prev = _noised(scheduler, anchor, randn(), prev_k)
        else:
            anchor_prev = _noised(scheduler, anchor, noise, prev_k)
        stepped = anchor_prev.clone()
        if bool(rows.any()):
            t_batch = torch.full((int(rows.sum()),), k, dtype=torch.long, device=device)
            # All rows: views instead of copies of the batch.
            index = slice(None) if bool(rows.all()) else rows
            cond = {name: value[index] for name, value in (condition or {}).items()}
            if getattr(denoiser, "accepts_active_mask", False):
                cond["active"] = mask[index]
            prediction = denoiser(scheduler.scale_model_input(x[index], k), t_batch, **cond)
            out.denoiser_calls += 1
            step_generator = (
                [per_item[i] for i in rows.nonzero().flatten().tolist()]
                if per_item is not None
                else shared
            )
            stepped[rows] = scheduler.step(
                prediction, k, x[rows], generator=step_generator, **step_kwargs
            ).prev_sample.to(dtype)
        x = blend(stepped, anchor_prev, mask)
        if step_callback is not None:
            step_callback(i + 1, len(timesteps))
    out.sample = x
    return out
