"""Experiment configuration: one YAML file = model + diffusion + YODA + attention + data + training.

The config is the constructor arguments of every part, nothing more; it is saved next to
the weights so a run folder rebuilds its own model and pipeline. Each section's dataclass lives
with the part it configures; ``train:`` (``TrainConfig``) has no better home than here.
"""

from __future__ import annotations

import dataclasses
import re
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from yoda_sr.attention.config import LEGACY_DETAIL_FLOOR, LEGACY_NORMALIZATION, AttentionConfig
from yoda_sr.configs import resolve_config_path
from yoda_sr.data.config import DataConfig
from yoda_sr.degradations.presets import DegradationConfig
from yoda_sr.diffusion.config import SAMPLERS, NoiseScheduleConfig, SamplingConfig, YodaConfig
from yoda_sr.models import (
    model_config_class,
    model_config_from_dict,
    model_config_to_dict,
    model_type,
)
from yoda_sr.models.sr3 import SR3Config
from yoda_sr.settings import check_float, check_int, from_dict


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping. ``mixed_precision``: "no" | "fp16" | "bf16" (accelerate).

    ``batch_size`` is the global batch: the samples of one forward/backward pass summed over
    all processes. On N processes each takes ``batch_size / N`` of them (N must divide it), so
    an optimiser step sees ``batch_size * gradient_accumulation_steps`` samples and the run
    follows the same data order whatever N is. ``learning_rate`` is used as given, never
    scaled with N; when changing ``batch_size``, scale it in proportion as a starting point.

    ``max_bad_steps``: a step whose loss or gradient norm is NaN/inf is skipped (no update);
    more than this many in a row stop training. An update that makes weights NaN/inf always
    stops it.

    Speed options (off by default; ``benchmarks/train_throughput.py`` measures what each buys):
    ``channels_last`` stores the model's weights in the channels-last memory format;
    ``compile`` wraps the model in ``torch.compile`` (through accelerate).
    """

    steps: int = 1000
    batch_size: int = 8
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    warmup_steps: int = 0
    lr_schedule: str = "constant"
    ema_decay: float = 0.9999
    grad_clip: float = 1.0
    max_bad_steps: int = 3
    gradient_accumulation_steps: int = 1
    mixed_precision: str = "no"
    channels_last: bool = False
    compile: bool = False
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 500
    keep_last: int = 3
    validate_every: int = 500
    sample_every: int = 500
    val_sampler: str = "ddim"
    val_steps: int = 50

    def __post_init__(self) -> None:
        for key in (
            "steps",
            "batch_size",
            "gradient_accumulation_steps",
            "log_every",
            "checkpoint_every",
            "validate_every",
            "sample_every",
            "val_steps",
        ):
            check_int(self, "train", key, minimum=1)
        check_int(self, "train", "warmup_steps", minimum=0)
        check_int(self, "train", "keep_last", minimum=0)
        check_float(self, "train", "learning_rate", positive=True)
        check_float(self, "train", "weight_decay", minimum=0.0)
        check_float(self, "train", "ema_decay", minimum=0.0, maximum=1.0)
        check_float(self, "train", "grad_clip")
        if self.val_sampler not in SAMPLERS:
            raise ValueError(
                f"train.val_sampler must be one of {', '.join(SAMPLERS)}, got {self.val_sampler!r}"
            )


# The sections besides ``model`` (whose class depends on ``model.type``), in YAML order.
SECTIONS: dict[str, type] = {
    "diffusion": NoiseScheduleConfig,
    "yoda": YodaConfig,
    "attention": AttentionConfig,
    "sampling": SamplingConfig,
    "data": DataConfig,
    "degradation": DegradationConfig,
    "train": TrainConfig,
}


@dataclass
class ExperimentConfig:
    """One experiment: a field per YAML section; ``model`` is the config of ``model.type``."""

    model: Any = field(default_factory=SR3Config)
    diffusion: NoiseScheduleConfig = field(default_factory=NoiseScheduleConfig)
    yoda: YodaConfig = field(default_factory=YodaConfig)
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    data: DataConfig = field(default_factory=DataConfig)
    degradation: DegradationConfig = field(default_factory=DegradationConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        scale = self.degradation.params().scale
        if scale is not None and scale != self.model.scale:
            raise ValueError(
                f"degradation.preset {self.degradation.preset!r} degrades by x{scale}, but "
                f"model.scale is {self.model.scale}"
            )
        if self.model_type == "rrdb":
            return
        num_t = self.diffusion.num_train_timesteps
        for key, steps in (
            ("sampling.steps", self.sampling.steps),
            ("train.val_steps", self.train.val_steps),
        ):
            if steps > num_t:
                raise ValueError(f"{key} ({steps}) exceeds diffusion.num_train_timesteps ({num_t})")
        # ResShift's network is trained for ResShift's chain, and SR3's/SRDiff's for DDPM's.
        latent = self.model_type == "resshift_latent"
        process = "resshift" if self.model_type in ("resshift", "resshift_latent") else "gaussian"
        if self.diffusion.process != process:
            raise ValueError(
                f"diffusion.process must be {process} with model.type {self.model_type}, "
                f"got {self.diffusion.process!r}"
            )
        if self.diffusion.latent != latent:
            raise ValueError(
                f"diffusion.latent must be {str(latent).lower()} with model.type "
                f"{self.model_type} (it sets the chain's input scaling and x_0 clipping)"
            )
        self.diffusion.check_sampler(self.sampling.sampler, "sampling.sampler")
        self.diffusion.check_sampler(self.train.val_sampler, "train.val_sampler")

    @property
    def model_type(self) -> str:
        return model_type(self.model)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": model_config_to_dict(self.model)}
        for name in SECTIONS:
            out[name] = _plain(dataclasses.asdict(getattr(self, name)))
        out["model"] = _plain(out["model"])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> ExperimentConfig:
        """The config of a mapping of sections; errors name ``source`` and the setting."""
        try:
            return cls._from_sections(data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: {exc}") from exc

    @classmethod
    def _from_sections(cls, data: dict[str, Any]) -> ExperimentConfig:
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown section(s) {unknown}")
        kwargs: dict[str, Any] = {}
        if "model" in data:
            kwargs["model"] = model_config_from_dict(data["model"] or {})
        for name, section_cls in SECTIONS.items():
            kwargs[name] = from_dict(section_cls, data.get(name) or {}, name)
        return cls(**kwargs)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
        """Load a YAML file (or a bundled config by name) and apply ``key.sub=value`` overrides."""
        path = resolve_config_path(path)
        data = _read_mapping(path)
        overrides = list(overrides or [])
        for item in overrides:
            apply_override(data, item)
        for item in overrides:
            _check_override_key(data, item)
        try:
            return cls._from_sections(data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{_blamed(str(exc), str(path), overrides)}: {exc}") from exc

    @classmethod
    def load_saved(cls, path: str | Path) -> ExperimentConfig:
        """Load the config saved beside trained weights, as the version that wrote it meant it.

        Settings whose default changed behaviour are absent from the configs an earlier
        version saved; such a config gets that version's behaviour (``_LEGACY_DEFAULTS``),
        with a warning, so its weights keep producing what they learnt and ``--resume``
        continues the same objective.
        """
        path = Path(path)
        data = _read_mapping(path)
        fill_legacy_defaults(data, str(path))
        return cls.from_dict(data, source=str(path))


# (section, key, earlier behaviour, which saved sections it applies to): settings whose
# default changed after they were first saved (issue 8: SRDiff's residual scale and the
# paper's loss weighting, after 0.1.0; issue 19: the importance normalisation and the ViT
# method, after 0.1.x; the detail floor, later in 0.2.0).
_LEGACY_DEFAULTS = (
    ("model", "residual_convention", "legacy_divide", lambda m: m.get("type") == "srdiff"),
    ("yoda", "loss_normalization", "active", lambda y: True),
    ("attention", "normalization", LEGACY_NORMALIZATION, lambda a: True),
    ("attention", "vit_method", "whole", lambda a: a.get("source") == "dino"),
    (
        "attention",
        "detail_floor",
        LEGACY_DETAIL_FLOOR,
        lambda a: a.get("source", "detail") == "detail",
    ),
    ("sampling", "color_fix", "none", lambda s: True),
)


def fill_legacy_defaults(data: dict[str, Any], source: str) -> None:
    """Give a saved config (sections as read from disk) the behaviour of the version that
    wrote it: each setting of ``_LEGACY_DEFAULTS`` it lacks is set, in place, with a warning
    naming ``source``."""
    filled = []
    for section, key, value, applies in _LEGACY_DEFAULTS:
        values = data.get(section) or {}
        if applies(values) and key not in values:
            data[section] = {**values, key: value}
            filled.append(f"{section}.{key}: {value}")
    if filled:
        warnings.warn(
            f"{source}: saved by an earlier yoda-sr; loading it with that version's behaviour ("
            + ", ".join(filled)
            + ")",
            stacklevel=3,
        )


def _read_mapping(path: Path) -> dict[str, Any]:
    """The top-level mapping of a YAML file; anything else is an error naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: not a text file (byte {exc.object[exc.start]:#04x} at offset {exc.start} "
            "is not UTF-8); give a YAML config"
        ) from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def _plain(value: Any) -> Any:
    """Tuples -> lists so YAML stays plain."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _check_override_key(data: dict[str, Any], item: str) -> None:
    """ValueError naming ``--set item`` unless its key is a setting of the config ``data``
    describes (a model setting: of ``data``'s ``model.type``)."""
    section, *keys = item.split("=", 1)[0].strip().split(".")
    if section == "model":
        if keys == ["type"]:
            return
        model = data.get("model")
        try:
            kind: Any = model_config_class(model.get("type") if isinstance(model, dict) else None)
        except ValueError:
            return  # a missing or unknown model.type is the error to report
    elif section in SECTIONS:
        kind = SECTIONS[section]
    else:
        known = ", ".join(["model", *SECTIONS])
        raise ValueError(f"--set {item}: unknown section {section!r} (known: {known})")
    if not keys:
        raise ValueError(f"--set {item}: {section!r} is a section; set one of its settings")
    name = section
    for key in keys:
        if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
            raise ValueError(f"--set {item}: {name} is a setting, not a section")
        fields = sorted(f.name for f in dataclasses.fields(kind))
        if key not in fields:
            raise ValueError(
                f"--set {item}: no setting {key!r} in {name} (known: {', '.join(fields)})"
            )
        kind, name = typing.get_type_hints(kind)[key], f"{name}.{key}"


def _blamed(message: str, path: str, overrides: list[str]) -> str:
    """What an error ``message`` about a config read from ``path`` and changed by ``overrides``
    is to name: the last ``--set`` of the setting the message names, else the file. Model
    settings are named after their class (``SR3Config.norm_num_groups``): matched by name."""
    for item in reversed(overrides):
        key = item.split("=", 1)[0].strip()
        if key.startswith("model."):
            pattern = r"\." + re.escape(key.rsplit(".", 1)[1])
        else:
            pattern = r"(?<![\w.])" + re.escape(key)
        if re.search(pattern + r"(?!\w)", message):
            return f"--set {item}"
    return path


def apply_override(data: dict[str, Any], item: str) -> None:
    """Apply ``section.key=value`` (value parsed as YAML, except that no/yes/on/off stay the
    words typed, e.g. ``train.mixed_precision=no``) to a nested dict in place."""
    if "=" not in item:
        raise ValueError(f"--set {item!r}: expected key=value, e.g. train.steps=100")
    key, raw = item.split("=", 1)
    parts = key.strip().split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {item!r}: {part!r} is not a section")
    value = yaml.safe_load(raw)
    if isinstance(value, bool) and raw.strip().lower() not in ("true", "false"):
        value = raw.strip()  # YAML 1.1 reads no/yes/on/off as booleans: keep the word typed
    node[parts[-1]] = value
