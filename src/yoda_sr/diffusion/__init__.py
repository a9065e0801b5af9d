"""Diffusion core: noise schedules, the YODA training objective and the YODA sampler.

Nothing here knows about network architectures: a denoiser is any callable
``(x_t (B,C,H,W), timesteps (B,) long) -> (B,C,H,W)``.
"""

from yoda_sr.diffusion.config import (
    SAMPLERS,
    NoiseScheduleConfig,
    SamplingConfig,
    YodaConfig,
)
from yoda_sr.diffusion.objective import yoda_loss
from yoda_sr.diffusion.sampler import SampleOutput, yoda_sample
from yoda_sr.diffusion.schedule import make_scheduler

__all__ = [
    "SAMPLERS",
    "NoiseScheduleConfig",
    "SampleOutput",
    "SamplingConfig",
    "YodaConfig",
    "make_scheduler",
    "yoda_loss",
    "yoda_sample",
]
