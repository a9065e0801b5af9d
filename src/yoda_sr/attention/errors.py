"""Errors raised when DINO weights are missing or do not fit (light: no transformers import)."""

from __future__ import annotations

_OFFICIAL_URL = (
    "https://dl.fbaipublicfiles.com/dino/dino_deitsmall8_pretrain/dino_deitsmall8_pretrain.pth"
)


class WeightsNotFoundError(RuntimeError):
    """The weights of a DINO model could not be found; the message says how to provide them."""

    def __init__(self, model: str, reason: str) -> None:
        super().__init__(
            f"cannot load DINO weights '{model}': {reason}\n"
            "  give a Hugging Face hub name (e.g. facebook/dino-vits8; cached, or with network "
            "access; HF_HUB_OFFLINE=1 skips retries), a local Hugging Face folder (config.json "
            f"+ model.safetensors) or an official DINO checkpoint file (e.g. {_OFFICIAL_URL})"
        )
        self.model = model
        self.reason = reason


class IncompatibleCheckpointError(ValueError):
    """A checkpoint is not a DINO ViT state dict (or is inconsistent); the message says why."""
