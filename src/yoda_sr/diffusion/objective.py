"""YODA training objective (paper Sec. 3.3): masked denoising loss on a batch."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from yoda_sr.diffusion.config import YodaConfig
from yoda_sr.diffusion.schedule import add_noise
from yoda_sr.masks import blend, diffusion_mask, importance_on_grid

Denoiser = Callable[..., Tensor]


def yoda_loss(
    denoiser: Denoiser,
    scheduler,
    x0: Tensor,
    anchor: Tensor,
    importance: Tensor,
    config: YodaConfig,
    condition: dict[str, Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One YODA training loss for a batch.

    Args:
        denoiser: ``(x_t, timesteps, **condition) -> prediction`` (epsilon or x_0, per the
            scheduler's ``prediction_type``).
        scheduler: from :func:`~yoda_sr.diffusion.make_scheduler` (owns the forward process
            and the network's input scaling).
        x0: (B, C, H, W) clean target in the diffusion space, roughly [-1, 1].
        anchor: (B, C, H, W) what an undiffused pixel holds (SR3 and ResShift: bicubic LR, which
            is also ResShift's y_0; SRDiff: 0).
        importance: (B, 1, H, W) importance map in [0, 1], pooled to ``x0``'s grid when that
            is coarser (a latent chain: ``config.grid_pooling``).
        condition: keyword tensors passed to the denoiser (e.g. ``lr_up``).

    Returns:
        Scalar loss: masked error summed, divided by the element count of the batch
        (``loss_normalization="all"``) or by the number of masked elements (``"active"``; 0 with
        a zero gradient if none is masked).
    """
    num_t = scheduler.config.num_train_timesteps
    batch = x0.shape[0]
    timesteps = torch.randint(0, num_t, (batch,), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device, x0.dtype)
    if config.enabled:
        on_grid = importance_on_grid(importance, x0.shape[-2:], config.grid_pooling)
        mask = diffusion_mask(on_grid, timesteps, num_t, config.lower_bound)
    else:
        mask = torch.ones_like(x0[:, :1])
    x_t = add_noise(scheduler, x0, noise, timesteps, anchor)
    if config.enabled and config.input_mode == "anchored":
        x_t = blend(x_t, add_noise(scheduler, anchor, noise, timesteps, anchor), mask)
    model_input = scheduler.scale_model_input(x_t, timesteps)
    prediction = denoiser(model_input, timesteps, **(condition or {}))
    target = noise if scheduler.config.prediction_type == "epsilon" else x0
    error = (prediction.float() - target.float()).abs()
    if config.loss == "l2":
        error = error**2
    mask = mask.float().expand_as(error)
    if config.loss_normalization == "all":
        return (error * mask).mean()
    return (error * mask).sum() / mask.sum().clamp_min(1.0)
