"""Degradations: blur kernels, operators (blur, resize, noise, JPEG), Real-ESRGAN's
second-order pipeline, restoration presets with the ``degradation:`` config section, and
evaluation sets saved as PNG with their parameters.

Names are imported on first use, so :mod:`yoda_sr.degradations.presets` loads without torch.
"""

from yoda_sr.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "evalset": ["EVALSET_FILE", "make_eval_set", "read_eval_set", "verify_eval_set"],
        "kernels": [
            "box_kernel",
            "circular_sinc_kernel",
            "gaussian_kernel",
            "generalized_gaussian_kernel",
            "motion_kernel",
            "plateau_kernel",
        ],
        "operators": ["add_gaussian_noise", "add_poisson_noise", "blur", "jpeg", "resize"],
        "pipelines": ["degrade", "known_kernel"],
        "presets": ["PRESETS", "DegradationConfig"],
        "seeding": ["sample_rng"],
    },
)
__all__ = __dir__()
