"""Importance (attention) maps that tell YODA where and how long to diffuse."""

from yoda_sr.attention.base import ImportanceSource
from yoda_sr.attention.config import AttentionConfig
from yoda_sr.attention.detail import DetailImportance
from yoda_sr.attention.dino import CLS_ATTENTION, DinoAttention
from yoda_sr.attention.export import export_attention_maps, importance_map
from yoda_sr.attention.factory import build_importance_source
from yoda_sr.attention.loading import WeightsNotFoundError, load_backbone
from yoda_sr.attention.official import IncompatibleCheckpointError, load_official_dino_checkpoint

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
