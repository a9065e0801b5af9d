"""Importance (attention) maps that tell YODA where and how long to diffuse.

The DINO names (``DinoAttention``, ``load_backbone``, ...) are imported on first use, so
that the weight-free path does not import transformers (several seconds).
"""

from importlib import import_module

from yoda_sr.attention.base import ImportanceSource
from yoda_sr.attention.config import AttentionConfig
from yoda_sr.attention.detail import DetailImportance
from yoda_sr.attention.errors import IncompatibleCheckpointError, WeightsNotFoundError
from yoda_sr.attention.export import export_attention_maps, importance_map
from yoda_sr.attention.factory import build_importance_source

_LAZY = {
    "CLS_ATTENTION": "yoda_sr.attention.dino",
    "DinoAttention": "yoda_sr.attention.dino",
    "load_backbone": "yoda_sr.attention.loading",
    "load_official_dino_checkpoint": "yoda_sr.attention.official",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CLS_ATTENTION",
    "AttentionConfig",
    "DetailImportance",
    "DinoAttention",
    "ImportanceSource",
    "IncompatibleCheckpointError",
    "WeightsNotFoundError",
    "build_importance_source",
    "export_attention_maps",
    "importance_map",
    "load_backbone",
    "load_official_dino_checkpoint",
]
