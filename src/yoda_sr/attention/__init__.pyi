"""Type stub of :mod:`yoda_sr.attention`: the names its ``__init__`` imports on first use."""

from yoda_sr.attention.base import ImportanceSource as ImportanceSource
from yoda_sr.attention.config import SOURCES as SOURCES
from yoda_sr.attention.config import AttentionConfig as AttentionConfig
from yoda_sr.attention.constant import ConstantImportance as ConstantImportance
from yoda_sr.attention.detail import DetailImportance as DetailImportance
from yoda_sr.attention.detail import calibrate_detail_reference as calibrate_detail_reference
from yoda_sr.attention.dino import CLS_ATTENTION as CLS_ATTENTION
from yoda_sr.attention.dino import DinoAttention as DinoAttention
from yoda_sr.attention.errors import IncompatibleCheckpointError as IncompatibleCheckpointError
from yoda_sr.attention.errors import WeightsNotFoundError as WeightsNotFoundError
from yoda_sr.attention.factory import build_importance_source as build_importance_source
from yoda_sr.attention.loading import load_backbone as load_backbone
from yoda_sr.attention.official import (
    load_official_dino_checkpoint as load_official_dino_checkpoint,
)

__all__ = [
    "AttentionConfig",
    "CLS_ATTENTION",
    "ConstantImportance",
    "DetailImportance",
    "DinoAttention",
    "ImportanceSource",
    "IncompatibleCheckpointError",
    "SOURCES",
    "WeightsNotFoundError",
    "build_importance_source",
    "calibrate_detail_reference",
    "load_backbone",
    "load_official_dino_checkpoint",
]
