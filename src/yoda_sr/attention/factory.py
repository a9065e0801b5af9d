"""Build an importance source from an :class:`AttentionConfig`."""

from __future__ import annotations

import torch

from yoda_sr.attention.base import ImportanceSource
from yoda_sr.attention.config import AttentionConfig
from yoda_sr.attention.constant import ConstantImportance
from yoda_sr.attention.detail import DetailImportance
from yoda_sr.device import resolve_device


def build_importance_source(
    cfg: AttentionConfig, device: str | torch.device | None = None
) -> ImportanceSource:
    """``DinoAttention`` (loads weights once) or ``DetailImportance``, in eval mode on ``device``.

    Raises :class:`~yoda_sr.attention.errors.WeightsNotFoundError` when DINO weights are
    not available, ValueError when ``device`` does not exist here.
    """
    if device is not None:
        device = resolve_device(device)
    if cfg.source == "dino":
        # Imported here so that the weight-free path does not pay for importing transformers.
        from yoda_sr.attention.dino import DinoAttention

        source: ImportanceSource = DinoAttention.from_config(cfg)
    elif cfg.source == "constant":
        source = ConstantImportance(cfg.constant)
    else:
        source = DetailImportance(
            smooth_sigma=cfg.smooth_sigma,
            normalization=cfg.normalization,
            reference=cfg.detail_reference,
            floor=cfg.detail_floor,
        )
    if device is not None:
        source = source.to(device)
    return source.eval()
