"""Backbones (network + conditioning + diffusion space) and the model registry."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from torch import nn

from yoda_sr.models.backbone import SRBackbone, bicubic_up
from yoda_sr.models.sr3 import SR3Backbone, SR3Config
from yoda_sr.settings import from_dict

# type -> (config class, model class), as "module:name" so that each backbone is imported
# only when used.
_REGISTRY = {
    "sr3": ("yoda_sr.models.sr3:SR3Config", "yoda_sr.models.sr3:SR3Backbone"),
    "srdiff": (
        "yoda_sr.models.srdiff:SRDiffConfig",
        "yoda_sr.models.srdiff_backbone:SRDiffBackbone",
    ),
    "rrdb": ("yoda_sr.models.rrdb:RRDBConfig", "yoda_sr.models.rrdb:RRDBNet"),
}


def _load(target: str) -> type:
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def model_config_from_dict(data: dict[str, Any]) -> Any:
    """``{"type": "sr3", ...fields}`` -> the type's config dataclass (unknown keys: error)."""
    data = dict(data)
    kind = data.pop("type", None)
    if kind not in _REGISTRY:
        raise ValueError(f"model.type must be one of {sorted(_REGISTRY)}, got {kind!r}")
    config_cls = _load(_REGISTRY[kind][0])
    if hasattr(config_cls, "from_dict"):
        return config_cls.from_dict(data)
    return from_dict(config_cls, data, "model")


def model_type(config: Any) -> str:
    for kind, (config_path, _) in _REGISTRY.items():
        module, name = config_path.split(":")
        if type(config).__name__ == name and type(config).__module__ == module:
            return kind
    raise TypeError(f"not a model config: {type(config).__name__}")


def model_config_to_dict(config: Any) -> dict[str, Any]:
    fields = config.to_dict() if hasattr(config, "to_dict") else dataclasses.asdict(config)
    return {"type": model_type(config), **fields}


def build_model(config: Any) -> nn.Module:
    """Instantiate the model a config describes (randomly initialised)."""
    return _load(_REGISTRY[model_type(config)][1])(config)


__all__ = [
    "SR3Backbone",
    "SR3Config",
    "SRBackbone",
    "bicubic_up",
    "build_model",
    "model_config_from_dict",
    "model_config_to_dict",
    "model_type",
]
