"""Backbones (network + conditioning + diffusion space) and the model registry."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from yoda_sr.models.backbone import SettingsModel, SRBackbone, bicubic_up
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
    "resshift": (
        "yoda_sr.models.resshift:ResShiftConfig",
        "yoda_sr.models.resshift:ResShiftBackbone",
    ),
    "resshift_latent": (
        "yoda_sr.models.resshift:LatentResShiftConfig",
        "yoda_sr.models.resshift:LatentResShiftBackbone",
    ),
}


def _load(target: str) -> Any:
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def model_config_class(kind: Any) -> Any:
    """The config dataclass of model type ``kind`` ("sr3", ...); ValueError for another."""
    if kind not in _REGISTRY:
        raise ValueError(f"model.type must be one of {sorted(_REGISTRY)}, got {kind!r}")
    return _load(_REGISTRY[kind][0])


def model_config_from_dict(data: dict[str, Any]) -> Any:
    """``{"type": "sr3", ...fields}`` -> the type's config dataclass (unknown keys: error)."""
    data = dict(data)
    return from_dict(model_config_class(data.pop("type", None)), data, "model")


def model_type(config: Any) -> str:
    for kind, (config_path, _) in _REGISTRY.items():
        module, name = config_path.split(":")
        if type(config).__name__ == name and type(config).__module__ == module:
            return kind
    raise TypeError(f"not a model config: {type(config).__name__}")


def model_type_of_class(class_name: str) -> str:
    """The model type whose model class is named ``class_name`` (e.g. "SR3Backbone" -> "sr3")."""
    for kind, (_, model_path) in _REGISTRY.items():
        if model_path.split(":")[1] == class_name:
            return kind
    names = sorted(path.split(":")[1] for _, path in _REGISTRY.values())
    raise ValueError(f"not a yoda-sr model class: {class_name!r} (known: {', '.join(names)})")


def model_config_to_dict(config: Any) -> dict[str, Any]:
    return {"type": model_type(config), **dataclasses.asdict(config)}


def build_model(config: Any) -> SettingsModel:
    """Instantiate the model a config describes (randomly initialised)."""
    return _load(_REGISTRY[model_type(config)][1]).from_settings(config)


__all__ = [
    "SR3Backbone",
    "SR3Config",
    "SRBackbone",
    "SettingsModel",
    "bicubic_up",
    "build_model",
    "model_config_class",
    "model_config_from_dict",
    "model_config_to_dict",
    "model_type",
    "model_type_of_class",
]
