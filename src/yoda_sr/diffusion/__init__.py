"""Diffusion core: noise schedules, the YODA training objective and the YODA sampler.

Nothing here knows about network architectures: a denoiser is any callable
``(x_t (B,C,H,W), timesteps (B,) long) -> (B,C,H,W)``. Names are imported on first use, so
the settings in :mod:`yoda_sr.diffusion.config` load without torch and diffusers.
"""

from yoda_sr.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "config": ["SAMPLERS", "NoiseScheduleConfig", "SamplingConfig", "YodaConfig"],
        "objective": ["yoda_loss"],
        "sampler": ["SampleOutput", "yoda_sample"],
        "schedule": ["make_scheduler"],
    },
)
__all__ = __dir__()
