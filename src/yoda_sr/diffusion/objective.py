"""YODA training objective (paper Sec. 3.3): masked denoising loss on a batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from yoda_sr.masks import blend, diffusion_mask

Denoiser = Callable[..., Tensor]


@dataclass
class ObjectiveConfig:
    """How a YODA training step forms x_t and the loss.

    - ``enabled``: YODA masking on; off gives the plain backbone (M = 1 everywhere: the same
      code path, not a second one).
    - ``lower_bound``: ``l`` of the mask rule (see :mod:`yoda_sr.masks.yoda`).
    - ``input_mode``: ``"anchored"`` (default): masked pixels hold q(x_t | x_0) and unmasked
      pixels q(x_t | anchor) with the same noise, so training sees what sampling sees.
      ``"plain"``: x_t = q(x_t | x_0) everywhere and only the loss is masked. The paper
      describes masking the diffusion of unimportant regions during training but gives no
      formula for their inputs; we choose "anchored" because it matches the sampler's blend.
    - ``loss``: ``"l1"`` (SR3) or ``"l2"``, on masked pixels only.
    - ``loss_normalization``: ``"all"`` (default): the paper's plain masked loss
      ``mean |M * (eps - eps_theta)|``, a sum over active elements divided by the number of
      *all* elements, so every active pixel-step weighs the same whatever else is active.
      ``"active"``: divided by the number of active elements in the batch (yoda-sr 0.1.0); at
      small batches this reweights pixels by how many others happen to be active (at batch 1
      an active pixel at t >= 0.9T weighs ~14-25x one at t < 0.2T).
    """

    enabled: bool = True
    lower_bound: float = 0.2
    input_mode: str = "anchored"
    loss: str = "l1"
    loss_normalization: str = "all"

    def __post_init__(self) -> None:
        if self.input_mode not in ("anchored", "plain"):
            raise ValueError(f"input_mode must be 'anchored' or 'plain', got {self.input_mode!r}")
        if self.loss not in ("l1", "l2"):
            raise ValueError(f"loss must be 'l1' or 'l2', got {self.loss!r}")
        if self.loss_normalization not in ("all", "active"):
            raise ValueError(
                "loss_normalization must be 'all' or 'active', "
                f"got {self.loss_normalization!r}"
            )
        if not 0.0 <= self.lower_bound <= 1.0:
            raise ValueError(f"lower_bound must lie in [0, 1], got {self.lower_bound}")

    def to_dict(self) -> dict:
        return asdict(self)


def yoda_loss(
    denoiser: Denoiser,
    scheduler,
    x0: Tensor,
    anchor: Tensor,
    importance: Tensor,
    config: ObjectiveConfig,
    condition: dict[str, Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One YODA training loss for a batch.

    Args:
        denoiser: ``(x_t, timesteps, **condition) -> prediction`` (epsilon or x_0, per the
            scheduler's ``prediction_type``).
        scheduler: a diffusers scheduler (owns ``add_noise`` and ``alphas_cumprod``).
        x0: (B, C, H, W) clean target in the diffusion space, roughly [-1, 1].
        anchor: (B, C, H, W) what an undiffused pixel holds (SR3: bicubic LR; SRDiff: 0).
        importance: (B, 1, H, W) importance map in [0, 1].
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
        mask = diffusion_mask(importance, timesteps, num_t, config.lower_bound)
    else:
        mask = torch.ones_like(x0[:, :1])
    x_t = scheduler.add_noise(x0, noise, timesteps)
    if config.enabled and config.input_mode == "anchored":
        x_t = blend(x_t, scheduler.add_noise(anchor, noise, timesteps), mask)
    prediction = denoiser(x_t, timesteps, **(condition or {}))
    target = noise if scheduler.config.prediction_type == "epsilon" else x0
    error = (prediction.float() - target.float()).abs()
    if config.loss == "l2":
        error = error**2
    mask = mask.float().expand_as(error)
    if config.loss_normalization == "all":
        return (error * mask).mean()
    return (error * mask).sum() / mask.sum().clamp_min(1.0)
