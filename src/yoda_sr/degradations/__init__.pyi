"""Type stub of :mod:`yoda_sr.degradations`: the names its ``__init__`` imports on first use."""

from yoda_sr.degradations.evalset import EVALSET_FILE as EVALSET_FILE
from yoda_sr.degradations.evalset import make_eval_set as make_eval_set
from yoda_sr.degradations.evalset import read_eval_set as read_eval_set
from yoda_sr.degradations.evalset import verify_eval_set as verify_eval_set
from yoda_sr.degradations.kernels import box_kernel as box_kernel
from yoda_sr.degradations.kernels import circular_sinc_kernel as circular_sinc_kernel
from yoda_sr.degradations.kernels import gaussian_kernel as gaussian_kernel
from yoda_sr.degradations.kernels import generalized_gaussian_kernel as generalized_gaussian_kernel
from yoda_sr.degradations.kernels import motion_kernel as motion_kernel
from yoda_sr.degradations.kernels import plateau_kernel as plateau_kernel
from yoda_sr.degradations.operators import add_gaussian_noise as add_gaussian_noise
from yoda_sr.degradations.operators import add_poisson_noise as add_poisson_noise
from yoda_sr.degradations.operators import blur as blur
from yoda_sr.degradations.operators import jpeg as jpeg
from yoda_sr.degradations.operators import resize as resize
from yoda_sr.degradations.pipelines import degrade as degrade
from yoda_sr.degradations.pipelines import known_kernel as known_kernel
from yoda_sr.degradations.presets import PRESETS as PRESETS
from yoda_sr.degradations.presets import DegradationConfig as DegradationConfig
from yoda_sr.degradations.seeding import sample_rng as sample_rng

__all__ = [
    "EVALSET_FILE",
    "PRESETS",
    "DegradationConfig",
    "add_gaussian_noise",
    "add_poisson_noise",
    "blur",
    "box_kernel",
    "circular_sinc_kernel",
    "degrade",
    "gaussian_kernel",
    "generalized_gaussian_kernel",
    "jpeg",
    "known_kernel",
    "make_eval_set",
    "motion_kernel",
    "plateau_kernel",
    "read_eval_set",
    "resize",
    "sample_rng",
    "verify_eval_set",
]
