"""Time-dependent YODA masks (the paper's core rule) and helpers built on them."""

from yoda_sr.masks.yoda import (
    GRID_POOLINGS,
    active_fraction,
    blend,
    diffusion_mask,
    importance_on_grid,
    paper_step,
    steps_per_pixel,
)

__all__ = [
    "GRID_POOLINGS",
    "active_fraction",
    "blend",
    "diffusion_mask",
    "importance_on_grid",
    "paper_step",
    "steps_per_pixel",
]
