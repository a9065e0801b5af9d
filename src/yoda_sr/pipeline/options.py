"""The settings of one upscaling call, resolved in one place: the model config's defaults
(``sampling:`` and ``yoda:``) with the caller's overrides, checked against the model.

Plain data (no torch), so the command line takes its defaults and choices from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from yoda_sr.diffusion.config import COLOR_FIXES

if TYPE_CHECKING:
    from yoda_sr.config import ExperimentConfig

# Context (HR px) a tile gives around the core it writes when the network runs on tiles.
DEFAULT_TILE_OVERLAP = 16
# Sparse sampling: candidate core sizes and the halo (HR px) of the windows evaluated around
# active pixels, and the fraction of the image above which one full-image call replaces the
# windows (measured by ``benchmarks/sparse_speed.py``).
DEFAULT_SPARSE_CORES = (16, 32, 64)
DEFAULT_SPARSE_HALO = 8
DEFAULT_DENSE_ABOVE = 0.9
# Whether sampling is sparse when the caller does not say.
DEFAULT_SPARSE = False
# Which weights of a training run ``YodaPipeline.from_pretrained`` can load; the first is its
# default.
WEIGHTS = ("ema", "model")


@dataclass(frozen=True)
class SamplingOptions:
    """What one upscaling call samples with.

    ``sampler``, ``steps`` and ``eta`` are None for a regression model (no diffusion);
    ``lower_bound`` is None when YODA is off; ``tile`` None runs the network on whole images.
    ``sparse`` evaluates the network only on windows (``sparse_cores`` px cores with a
    ``sparse_halo`` px halo) around pixels the YODA mask diffuses at each step, see
    :mod:`yoda_sr.pipeline.sparse`; it changes nothing without YODA. ``color_fix``
    corrects the output's colour towards the upsampled LR (:mod:`yoda_sr.pipeline.color_fix`).
    """

    sampler: str | None
    steps: int | None
    eta: float | None
    use_yoda: bool
    lower_bound: float | None
    anchor_noise: str
    tile: int | None = None
    tile_overlap: int = DEFAULT_TILE_OVERLAP
    sparse: bool = DEFAULT_SPARSE
    sparse_cores: tuple[int, ...] = DEFAULT_SPARSE_CORES
    sparse_halo: int = DEFAULT_SPARSE_HALO
    color_fix: str = "none"


def resolve_options(
    config: ExperimentConfig,
    diffusion: bool,
    sampler: str | None = None,
    steps: int | None = None,
    eta: float | None = None,
    use_yoda: bool = True,
    lower_bound: float | None = None,
    tile: int | None = None,
    tile_overlap: int = DEFAULT_TILE_OVERLAP,
    sparse: bool | None = None,
    sparse_cores: tuple[int, ...] = DEFAULT_SPARSE_CORES,
    sparse_halo: int = DEFAULT_SPARSE_HALO,
    color_fix: str | None = None,
) -> SamplingOptions:
    """Fill the options left None from ``config`` and check the given ones.

    ValueError names the first option out of range; steps must lie in 1..T, T the model's
    ``diffusion.num_train_timesteps``. A regression model (``diffusion`` False) ignores the
    options. YODA is used when asked for and enabled in ``config.yoda``.
    """
    sampling = config.sampling
    if color_fix is not None and color_fix not in COLOR_FIXES:
        raise ValueError(f"color fix must be one of {', '.join(COLOR_FIXES)}, got {color_fix!r}")
    color_fix = sampling.color_fix if color_fix is None else color_fix
    if not diffusion:
        return SamplingOptions(
            None, None, None, False, None, sampling.anchor_noise, color_fix=color_fix
        )
    num_t = config.diffusion.num_train_timesteps
    if sampler is not None:  # one of the samplers of the model's process
        config.diffusion.check_sampler(sampler, "sampler")
    if steps is not None and not 1 <= steps <= num_t:
        raise ValueError(
            f"steps must lie in 1..{num_t} (T, the model's diffusion.num_train_timesteps), "
            f"got {steps}"
        )
    if eta is not None and not eta >= 0.0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    if lower_bound is not None and not 0.0 <= lower_bound <= 1.0:
        raise ValueError(f"lower bound must lie in [0, 1], got {lower_bound}")
    if tile is not None and tile < 1:
        raise ValueError(f"tile must be a positive number of HR pixels, got {tile}")
    if tile_overlap < 0:
        raise ValueError(f"tile overlap must be >= 0, got {tile_overlap}")
    if not sparse_cores or min(sparse_cores) < 1 or sparse_halo < 0:
        raise ValueError(
            f"sparse cores must be >= 1 and the sparse halo >= 0 HR px, got {sparse_cores}, "
            f"{sparse_halo}"
        )
    use_yoda = use_yoda and config.yoda.enabled
    if use_yoda and lower_bound is None:
        lower_bound = config.yoda.lower_bound
    return SamplingOptions(
        sampler=sampler or sampling.sampler,
        steps=sampling.steps if steps is None else steps,
        eta=sampling.eta if eta is None else eta,
        use_yoda=use_yoda,
        lower_bound=lower_bound if use_yoda else None,
        anchor_noise=sampling.anchor_noise,
        tile=tile,
        tile_overlap=tile_overlap,
        sparse=DEFAULT_SPARSE if sparse is None else sparse,
        sparse_cores=sparse_cores,
        sparse_halo=sparse_halo,
        color_fix=color_fix,
    )
