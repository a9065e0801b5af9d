"""Loading a DINO backbone from a hub name, a local Hugging Face folder or an official file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import (
    AutoConfig,
    Dinov2Model,
    Dinov2WithRegistersModel,
    PreTrainedModel,
    ViTModel,
)

from yoda_sr.attention.errors import WeightsNotFoundError
from yoda_sr.attention.official import load_official_dino_checkpoint

# transformers model_type -> backbone class whose last-layer CLS attention we read.
BACKBONES: dict[str, type[PreTrainedModel]] = {
    "vit": ViTModel,
    "dinov2": Dinov2Model,
    "dinov2_with_registers": Dinov2WithRegistersModel,
}
_CHECKPOINT_SUFFIXES = (".pth", ".pt", ".tar", ".ckpt", ".bin", ".safetensors")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 240 else line[:237] + "..."


def _looks_like_path(name: str) -> bool:
    """Whether ``name`` is meant as a local path rather than a hub id ``owner/name``."""
    return (
        name.startswith((".", "~", "/"))
        or name.count("/") > 1
        or "\\" in name
        or name.lower().endswith(_CHECKPOINT_SUFFIXES)
    )


def _from_pretrained(name: str) -> PreTrainedModel:
    try:
        config = AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as exc:  # offline / not cached / no config.json / bad repo id
        raise WeightsNotFoundError(name, _first_line(exc)) from exc
    backbone = BACKBONES.get(config.model_type)
    if backbone is None:
        raise ValueError(
            f"{name}: model type {config.model_type!r} is not supported for attention maps "
            f"(supported: {', '.join(BACKBONES)})"
        )
    kwargs: dict[str, Any] = {"add_pooling_layer": False} if backbone is ViTModel else {}
    try:
        model = backbone.from_pretrained(name, config=config, **kwargs)
    except OSError as exc:  # config found but weights missing
        raise WeightsNotFoundError(name, _first_line(exc)) from exc
    return model.float().eval()


def load_backbone(model: str | Path) -> PreTrainedModel:
    """A DINO ViT (``ViTModel``, ``Dinov2Model`` or ``Dinov2WithRegistersModel``), eval, fp32.

    ``model`` is an existing file (official DINO checkpoint, see :mod:`.official`), an
    existing folder (``from_pretrained``), or otherwise a hub name. Raises
    :class:`WeightsNotFoundError` when the weights are not available.
    """
    name = str(model)
    path = Path(name).expanduser()
    if path.is_file():
        return load_official_dino_checkpoint(path)
    if path.is_dir():
        return _from_pretrained(str(path))
    if _looks_like_path(name):
        raise WeightsNotFoundError(name, "no such file or folder")
    return _from_pretrained(name)
