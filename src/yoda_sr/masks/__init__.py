"""Time-dependent YODA masks (the paper's core rule) and helpers built on them."""

from yoda_sr.masks.yoda import (
    active_fraction,
    blend,
    diffusion_mask,
    paper_step,
    steps_per_pixel,
)

__all__ = [
    "active_fraction",
    "blend",
    "diffusion_mask",
    "paper_step",
    "steps_per_pixel",
]
