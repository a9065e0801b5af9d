"""A :class:`~yoda_sr.pipeline.YodaPipeline` on disk, one folder per component.

Layout written by :func:`save_components` (diffusers' conventions, so that the backbone and
the scheduler also load with diffusers alone)::

    model_index.json                      format version, component -> [library, class]
    backbone/config.json                  the backbone's constructor arguments (ModelMixin)
    backbone/diffusion_pytorch_model.safetensors
    scheduler/scheduler_config.json       the noise schedule, as a diffusers DDPMScheduler (or
                                          our ResShiftScheduler: ResShift's chain)
    importance/importance_config.json     the importance source (``attention``), YODA on/off,
                                          lower bound and importance input (``yoda``),
                                          sampling defaults
    training_config.json                  every other setting of the experiment config (data,
                                          training, YODA's loss): provenance, not needed to run

A regression model (``rrdb``) has no scheduler or importance folder; its unused diffusion
settings go to ``training_config.json``. Every setting is written exactly once, so the
experiment config read back equals the one saved, but for the settings that name files of
the machine that trained the model (``data.train_dir``, ``val_dir``, ``cache_dir``,
``model.encoder_checkpoint``): see :func:`portable_path`.

:func:`load_model` also reads what earlier versions wrote: a ``save_pretrained`` folder with
``config.yaml`` + ``model.safetensors``, and training run folders (``checkpoints/step-*/``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from diffusers.utils import CONFIG_NAME, SAFETENSORS_WEIGHTS_NAME
from safetensors.torch import save_file

from yoda_sr.checkpoints import list_checkpoints, load_weights, state_dict_for_saving
from yoda_sr.config import ExperimentConfig, fill_legacy_defaults
from yoda_sr.diffusion import NoiseScheduleConfig, make_scheduler
from yoda_sr.diffusion.schedule import _DIFFUSERS_BETA_SCHEDULES
from yoda_sr.models import (
    SettingsModel,
    SRBackbone,
    build_model,
    model_config_from_dict,
    model_type_of_class,
)
from yoda_sr.pipeline.hub import ModelNotFoundError

INDEX = "model_index.json"
FORMAT = 1
SCHEDULER_CONFIG = "scheduler/scheduler_config.json"
IMPORTANCE_CONFIG = "importance/importance_config.json"
TRAINING_CONFIG = "training_config.json"
# Settings of the ``yoda`` section that sampling uses (the rest configure the training loss).
_SAMPLING_YODA_KEYS = ("enabled", "lower_bound", "importance_input")
# Settings that name files or folders of the machine that trained the model.
_DATA_PATH_KEYS = ("train_dir", "val_dir", "cache_dir")
_MODEL_PATH_KEYS = ("encoder_checkpoint",)
# NoiseScheduleConfig fields as diffusers' scheduler config names them.
_SCHEDULE_KEYS = (
    "num_train_timesteps",
    "beta_schedule",
    "beta_start",
    "beta_end",
    "prediction_type",
    "clip_sample",
)
# ... and as ResShiftScheduler's config names them (process: resshift).
_RESSHIFT_KEYS = (
    "num_train_timesteps",
    "kappa",
    "eta_power",
    "min_noise_level",
    "etas_end",
    "prediction_type",
    "clip_sample",
)


def save_components(
    model: SettingsModel, config: ExperimentConfig, path: Path, dtype: torch.dtype | None = None
) -> None:
    """Write ``model`` and ``config`` in the layout above (see the module docstring), the
    floating-point weights cast to ``dtype`` if given (``model`` itself is left as it is;
    loading casts them back to the model's dtype)."""
    path.mkdir(parents=True, exist_ok=True)
    config = portable_config(config)
    sections = config.to_dict()
    del sections["model"]
    index: dict[str, Any] = {
        "_class_name": "YodaPipeline",
        "_yoda_sr_format": FORMAT,
        "backbone": ["yoda_sr", type(model).__name__],
    }
    model.save_config(path / "backbone")
    _write_portable_backbone_config(path / "backbone" / CONFIG_NAME, config)
    state = state_dict_for_saving(model)
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    save_file(state, str(path / "backbone" / SAFETENSORS_WEIGHTS_NAME), {"format": "pt"})
    if isinstance(model, SRBackbone):
        scheduler = make_scheduler(config.diffusion, "ddpm")
        scheduler.save_pretrained(path / "scheduler")
        del sections["diffusion"]
        yoda = sections["yoda"]
        importance = {
            "attention": sections.pop("attention"),
            "yoda": {key: yoda.pop(key) for key in _SAMPLING_YODA_KEYS},
            "sampling": sections.pop("sampling"),
        }
        _write_json(path / IMPORTANCE_CONFIG, importance)
        library = "diffusers" if config.diffusion.process == "gaussian" else "yoda_sr"
        index["scheduler"] = [library, type(scheduler).__name__]
        index["importance"] = ["yoda_sr", "ImportanceSource"]
    _write_json(path / TRAINING_CONFIG, sections)
    _write_json(path / INDEX, index)


def portable_path(value: str | None, base: Path | None = None) -> str | None:
    """``value`` as a saved config publishes it: a relative path as it is, an absolute path
    under ``base`` (default: the current directory, which relative paths of the command line
    are relative to) relative to it, any other absolute path dropped (""), so that no path of
    the machine that saved the model leaves it."""
    if not value or not Path(value).is_absolute():
        return value
    try:
        return Path(value).relative_to(base or Path.cwd()).as_posix()
    except ValueError:
        return ""


def portable_config(config: ExperimentConfig, base: Path | None = None) -> ExperimentConfig:
    """``config`` with each setting that names a file or folder made :func:`portable_path`."""
    data: dict[str, Any] = {
        key: portable_path(getattr(config.data, key), base) for key in _DATA_PATH_KEYS
    }
    model: dict[str, Any] = {
        key: portable_path(getattr(config.model, key), base)
        for key in _MODEL_PATH_KEYS
        if hasattr(config.model, key)
    }
    return replace(config, data=replace(config.data, **data), model=replace(config.model, **model))


def _write_portable_backbone_config(path: Path, config: ExperimentConfig) -> None:
    """Replace the path settings of the backbone's saved constructor arguments with those of
    ``config`` (already :func:`portable_config`)."""
    saved = _read_json(path)
    paths = {key: getattr(config.model, key) for key in _MODEL_PATH_KEYS if key in saved}
    if any(saved[key] != value for key, value in paths.items()):
        _write_json(path, {**saved, **paths})


def load_model(folder: Path, weights: str = "ema") -> tuple[SettingsModel, ExperimentConfig]:
    """The model and experiment config of a local folder: a :func:`save_components` folder,
    an earlier version's ``save_pretrained`` folder (``config.yaml`` + ``model.safetensors``)
    or a training run folder (newest checkpoint; ``weights`` "ema" or "model")."""
    if not folder.exists():
        raise ModelNotFoundError(str(folder), "no such file or folder")
    if (folder / INDEX).is_file():
        return load_components(folder)
    if (folder / "model.safetensors").is_file() and (folder / "config.yaml").is_file():
        config_path, weights_path = folder / "config.yaml", folder / "model.safetensors"
    else:
        checkpoints = list_checkpoints(folder)
        if not checkpoints:
            raise ModelNotFoundError(
                str(folder),
                f"neither a saved pipeline ({INDEX}, or config.yaml + model.safetensors) nor a "
                "run folder with checkpoints/step-*/",
            )
        newest = checkpoints[-1]
        config_path = newest.config
        weights_path = newest.ema if weights == "ema" else newest.model
    config = ExperimentConfig.load_saved(config_path)
    model = build_model(config.model)
    load_weights(model, weights_path)
    return model, config


def load_components(folder: Path) -> tuple[SettingsModel, ExperimentConfig]:
    """Read a :func:`save_components` folder. A missing or malformed file, or weights that do
    not fit the backbone's config, raise ValueError naming the file."""
    index = _read_json(folder / INDEX)
    if index.get("_class_name") != "YodaPipeline":
        raise ValueError(
            f"{folder / INDEX}: not a yoda-sr pipeline (_class_name "
            f"{index.get('_class_name')!r}, expected 'YodaPipeline')"
        )
    if index.get("_yoda_sr_format") != FORMAT:
        raise ValueError(
            f"{folder / INDEX}: folder format {index.get('_yoda_sr_format')!r}, but this "
            f"version of yoda-sr reads format {FORMAT}; upgrade yoda-sr"
        )
    backbone_path = folder / "backbone" / CONFIG_NAME
    backbone = _read_json(backbone_path)
    try:  # checked alone first, so that an error names this file
        kind = model_type_of_class(backbone.get("_class_name", ""))
        model_config_from_dict({"type": kind, **_public(backbone)})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{backbone_path}: {exc}") from exc
    sections = [
        _read_json(folder / TRAINING_CONFIG) if (folder / TRAINING_CONFIG).is_file() else {},
        {"model": {"type": kind, **_public(backbone)}},
    ]
    if kind != "rrdb":
        sections.append({"diffusion": _noise_schedule(folder / SCHEDULER_CONFIG)})
        sections.append(_read_json(folder / IMPORTANCE_CONFIG))
    merged = _merge(sections)
    fill_legacy_defaults(merged, str(folder))
    config = ExperimentConfig.from_dict(merged, source=str(folder))
    model = build_model(config.model)
    load_weights(model, folder / "backbone" / SAFETENSORS_WEIGHTS_NAME)
    return model, config


def _noise_schedule(path: Path) -> dict[str, Any]:
    """The ``diffusion`` section that a saved DDPMScheduler (or ResShiftScheduler) config
    describes. Settings our schedulers do not take (another timestep spacing, variance, ...)
    are a ValueError."""
    saved = _read_json(path)
    if saved.get("_class_name") == "ResShiftScheduler":
        missing = [key for key in _RESSHIFT_KEYS if key not in saved]
        if missing:
            raise ValueError(f"{path}: not a yoda-sr ResShift schedule (missing {missing})")
        schedule = {"process": "resshift", **{key: saved[key] for key in _RESSHIFT_KEYS}}
        # Written since the latent chain came; a pixel-space schedule saved before lacks it.
        schedule["latent"] = saved.get("latent", False)
    else:
        names = {diffusers: ours for ours, diffusers in _DIFFUSERS_BETA_SCHEDULES.items()}
        missing = [key for key in _SCHEDULE_KEYS if key not in saved]
        if missing or saved["beta_schedule"] not in names:
            raise ValueError(
                f"{path}: not a yoda-sr noise schedule (missing {missing}, or beta_schedule "
                f"{saved.get('beta_schedule')!r} not one of {sorted(names)})"
            )
        schedule = {key: saved[key] for key in _SCHEDULE_KEYS}
        schedule["beta_schedule"] = names[saved["beta_schedule"]]
    try:
        expected = make_scheduler(NoiseScheduleConfig(**schedule), "ddpm").config
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    unsupported = {
        key: value
        for key, value in _public(saved).items()
        if key in expected and value != expected[key]
    }
    if unsupported:
        raise ValueError(
            f"{path}: yoda-sr's schedulers do not support "
            + ", ".join(f"{k}={v!r} (they use {expected[k]!r})" for k, v in unsupported.items())
        )
    return schedule


def _public(data: dict[str, Any]) -> dict[str, Any]:
    """Without diffusers' bookkeeping entries (``_class_name``, ``_diffusers_version``, ...)."""
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _merge(parts: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Config sections from several files, merged section by section."""
    merged: dict[str, dict[str, Any]] = {}
    for part in parts:
        for name, values in part.items():
            merged[name] = {**merged.get(name, {}), **values}
    return merged


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable as JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
