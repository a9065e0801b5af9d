"""Noise schedules: diffusers' DDPM/DDIM schedulers, or ResShift's chain
(:mod:`yoda_sr.diffusion.resshift`), and the forward process and prior of either."""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler, DDPMScheduler
from diffusers.schedulers.scheduling_ddim import DDIMSchedulerOutput
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils.torch_utils import randn_tensor
from torch import Tensor

from yoda_sr.diffusion.config import NoiseScheduleConfig
from yoda_sr.diffusion.resshift import ResShiftScheduler, next_visited

# Our names (``BETA_SCHEDULES``) -> diffusers' beta_schedule names.
_DIFFUSERS_BETA_SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


class VisitedDDIMScheduler(DDIMScheduler):
    """diffusers' DDIM, stepping from each visited timestep to the *next visited* one.

    diffusers' ``DDIMScheduler.step`` goes from ``k`` to ``k - T // n`` (n = inference steps),
    which is the next visited timestep only when the spacing is uniform. With "trailing"
    spacing and ``n`` not dividing ``T`` (e.g. 30 of 2000) the visited timesteps are uneven,
    so the sample would land at another noise level than the one the sampler visits next (and
    the one YODA's blend noises the anchor to). Written here because diffusers has no option for
    it: the same DDIM update (Song et al. 2021, Eq. 12), with ``k_prev`` the next entry of
    ``self.timesteps`` (or the clean state after the last one). Epsilon and sample prediction.
    """

    def previous_timestep(self, timestep: int) -> int:
        """The visited timestep after ``timestep``; -1 (the clean state) after the last one."""
        return next_visited(self.timesteps, timestep)

    def step(
        self,
        model_output: torch.Tensor,
        timestep: int,
        sample: torch.Tensor,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        return_dict: bool = True,
    ) -> DDIMSchedulerOutput | tuple[torch.Tensor, torch.Tensor]:
        """x_k -> x_{k_prev}; tensors (B, C, H, W), ``eta`` as in DDIM (0 = deterministic)."""
        prev = self.previous_timestep(timestep)
        alpha_t = self.alphas_cumprod[int(timestep)]
        alpha_prev = self.alphas_cumprod[prev] if prev >= 0 else self.final_alpha_cumprod
        if self.config.prediction_type == "epsilon":
            x0 = (sample - (1 - alpha_t) ** 0.5 * model_output) / alpha_t**0.5
            eps = model_output
        else:
            x0 = model_output
            eps = (sample - alpha_t**0.5 * x0) / (1 - alpha_t) ** 0.5
        if self.config.clip_sample:
            x0 = x0.clamp(-self.config.clip_sample_range, self.config.clip_sample_range)
        std = eta * self._get_variance(int(timestep), prev) ** 0.5
        prev_sample = alpha_prev**0.5 * x0 + (1 - alpha_prev - std**2) ** 0.5 * eps
        if eta > 0:
            noise = randn_tensor(
                model_output.shape,
                generator=generator,
                device=model_output.device,
                dtype=model_output.dtype,
            )
            prev_sample = prev_sample + std * noise
        if not return_dict:
            return prev_sample, x0
        return DDIMSchedulerOutput(prev_sample=prev_sample, pred_original_sample=x0)


def make_scheduler(config: NoiseScheduleConfig, sampler: str = "ddpm") -> SchedulerMixin:
    """Build a scheduler for ``config``.

    ``"ddpm"`` is ancestral sampling (SR3's ``fixed_small`` posterior variance), ``"ddim"``
    the DDIM sampler (eta is passed per step; :class:`VisitedDDIMScheduler`, so any number of
    steps 1..T lands exactly on the visited timesteps). Both use "trailing" timestep spacing so
    that respaced sampling starts at the last training step ``T - 1`` (pure noise) as the masks
    assume. DDPM's own step already goes to the next visited timestep. ``process: resshift``
    gives :class:`ResShiftScheduler`, whose only sampler is its posterior (``"ddpm"``).
    """
    config.check_sampler(sampler, "sampler")
    if config.process == "resshift":
        return ResShiftScheduler(
            num_train_timesteps=config.num_train_timesteps,
            kappa=config.kappa,
            eta_power=config.eta_power,
            min_noise_level=config.min_noise_level,
            etas_end=config.etas_end,
            clip_sample=config.clip_sample,
            latent=config.latent,
        )
    common = {
        "num_train_timesteps": config.num_train_timesteps,
        "beta_start": config.beta_start,
        "beta_end": config.beta_end,
        "beta_schedule": _DIFFUSERS_BETA_SCHEDULES[config.beta_schedule],
        "prediction_type": config.prediction_type,
        "clip_sample": config.clip_sample,
        "clip_sample_range": 1.0,
        "timestep_spacing": "trailing",
    }
    if sampler == "ddpm":
        return DDPMScheduler(variance_type="fixed_small", **common)
    return VisitedDDIMScheduler(set_alpha_to_one=True, **common)


def add_noise(
    scheduler: SchedulerMixin, x0: Tensor, noise: Tensor, timesteps: Tensor, anchor: Tensor
) -> Tensor:
    """q(x_t | x_0) of ``scheduler`` at ``timesteps`` (B,) for ``x0`` (B, C, H, W).

    ``anchor`` (B, C, H, W) is the backbone's YODA anchor. ResShift's chain shifts towards the
    upsampled LR y_0, which is that anchor; DDPM/DDIM ignore it.
    """
    if isinstance(scheduler, ResShiftScheduler):
        return scheduler.add_noise(x0, noise, timesteps, anchor)
    return scheduler.add_noise(x0, noise, timesteps)


def prior_sample(scheduler: SchedulerMixin, anchor: Tensor, noise: Tensor) -> Tensor:
    """x_T of a diffused pixel: ``noise`` itself for DDPM/DDIM, y_0 + kappa sqrt(eta_T) noise
    (y_0 = ``anchor``) for ResShift; (B, C, H, W)."""
    if isinstance(scheduler, ResShiftScheduler):
        return scheduler.prior_sample(anchor, noise)
    return noise
