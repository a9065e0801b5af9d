"""Noise schedules, delegated to diffusers' DDPM/DDIM schedulers."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from diffusers import DDIMScheduler, DDPMScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin

# Our names -> diffusers' beta_schedule names. "cosine" is Nichol & Dhariwal's schedule, as
# used by SRDiff; "linear" is SR3's.
_BETA_SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}
SAMPLERS = ("ddpm", "ddim")


@dataclass
class NoiseScheduleConfig:
    """The forward process q(x_t | x_0) and what the network predicts.

    Defaults are SR3's: linear betas 1e-6..1e-2 over T = 2000 steps, epsilon prediction.
    SRDiff uses ``beta_schedule="cosine"`` with T = 100. ``clip_sample`` clips the predicted
    x_0 to [-1, 1] inside each sampler step (both spaces we diffuse in live in [-1, 1]).
    """

    num_train_timesteps: int = 2000
    beta_schedule: str = "linear"
    beta_start: float = 1e-6
    beta_end: float = 1e-2
    prediction_type: str = "epsilon"
    clip_sample: bool = True

    def __post_init__(self) -> None:
        steps = self.num_train_timesteps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(
                f"diffusion.num_train_timesteps must be an integer >= 1, got {steps!r}"
            )
        if self.beta_schedule not in _BETA_SCHEDULES:
            raise ValueError(
                f"beta_schedule must be one of {sorted(_BETA_SCHEDULES)}, "
                f"got {self.beta_schedule!r}"
            )
        if self.prediction_type not in ("epsilon", "sample"):
            raise ValueError(
                f"prediction_type must be 'epsilon' or 'sample', got {self.prediction_type!r}"
            )

    def to_dict(self) -> dict:
        return asdict(self)


def make_scheduler(config: NoiseScheduleConfig, sampler: str = "ddpm") -> SchedulerMixin:
    """Build a diffusers scheduler for ``config``.

    ``"ddpm"`` is ancestral sampling (SR3's ``fixed_small`` posterior variance), ``"ddim"``
    the DDIM sampler (eta is passed per step). Both use "trailing" timestep spacing so that
    respaced sampling starts at the last training step ``T - 1`` (pure noise) as the masks
    assume.
    """
    common = {
        "num_train_timesteps": config.num_train_timesteps,
        "beta_start": config.beta_start,
        "beta_end": config.beta_end,
        "beta_schedule": _BETA_SCHEDULES[config.beta_schedule],
        "prediction_type": config.prediction_type,
        "clip_sample": config.clip_sample,
        "clip_sample_range": 1.0,
        "timestep_spacing": "trailing",
    }
    if sampler == "ddpm":
        return DDPMScheduler(variance_type="fixed_small", **common)
    if sampler == "ddim":
        return DDIMScheduler(set_alpha_to_one=True, **common)
    raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
