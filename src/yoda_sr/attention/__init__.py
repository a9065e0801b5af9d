"""Importance (attention) maps that tell YODA where and how long to diffuse.

Names are imported on first use: the DINO code imports transformers (several seconds), and
the command line reads :class:`AttentionConfig` without torch.
"""

from yoda_sr.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "base": ["ImportanceSource"],
        "config": ["SOURCES", "AttentionConfig"],
        "constant": ["ConstantImportance"],
        "detail": ["DetailImportance", "calibrate_detail_reference"],
        "dino": ["CLS_ATTENTION", "DinoAttention"],
        "errors": ["IncompatibleCheckpointError", "WeightsNotFoundError"],
        "factory": ["build_importance_source"],
        "loading": ["load_backbone"],
        "official": ["load_official_dino_checkpoint"],
    },
)
__all__ = __dir__()
