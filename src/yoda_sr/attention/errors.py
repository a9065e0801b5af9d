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
            "Provide them in one of three ways:\n"
            "  1. a Hugging Face hub name (e.g. facebook/dino-vits8) with network access, or "
            "already in the local Hugging Face cache (set HF_HUB_OFFLINE=1 to skip network "
            "retries when offline);\n"
            "  2. a local Hugging Face folder (config.json + model.safetensors, e.g. saved with "
            "save_pretrained): --model PATH;\n"
            "  3. an official DINO checkpoint file, e.g. dino_deitsmall8_pretrain.pth from "
            f"{_OFFICIAL_URL}: --model FILE.pth"
        )
        self.model = model
        self.reason = reason


class IncompatibleCheckpointError(ValueError):
    """A checkpoint is not a DINO ViT state dict (or is inconsistent); the message says why."""
