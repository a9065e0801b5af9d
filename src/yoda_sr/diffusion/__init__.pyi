"""Type stub of :mod:`yoda_sr.diffusion`: the names its ``__init__`` imports on first use."""

from yoda_sr.diffusion.config import SAMPLERS as SAMPLERS
from yoda_sr.diffusion.config import NoiseScheduleConfig as NoiseScheduleConfig
from yoda_sr.diffusion.config import SamplingConfig as SamplingConfig
from yoda_sr.diffusion.config import YodaConfig as YodaConfig
from yoda_sr.diffusion.objective import yoda_loss as yoda_loss
from yoda_sr.diffusion.sampler import SampleOutput as SampleOutput
from yoda_sr.diffusion.sampler import yoda_sample as yoda_sample
from yoda_sr.diffusion.schedule import make_scheduler as make_scheduler

__all__ = [
    "NoiseScheduleConfig",
    "SAMPLERS",
    "SampleOutput",
    "SamplingConfig",
    "YodaConfig",
    "make_scheduler",
    "yoda_loss",
    "yoda_sample",
]
