"""A spatially constant importance map: YODA's step budget without "where"."""

from __future__ import annotations

import torch
from torch import Tensor

from yoda_sr.attention.base import ImportanceSource, check_input


class ConstantImportance(ImportanceSource):
    """``A = value`` at every pixel: every pixel gets ``min(T, floor(T (value + l)))`` steps.

    The ablation that separates YODA's spatial choice from its shorter diffusion.
    """

    def __init__(self, value: float) -> None:
        super().__init__()
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"ConstantImportance: value must lie in [0, 1], got {value}")
        self.value = value

    @torch.no_grad()
    def forward(self, lr: Tensor, size: tuple[int, int]) -> Tensor:
        """(B, 3, h, w) -> (B, 1, H, W) filled with ``value``."""
        height, width = check_input(lr, size)
        return torch.full((lr.shape[0], 1, height, width), self.value, device=lr.device)
