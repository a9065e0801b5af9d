"""Choosing the torch device, with a clear error when the requested one is not there."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``: ``cuda`` when a GPU is available, else ``cpu``. Otherwise the named device,
    checked to exist; ValueError (naming the device) when it does not."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r} (use cpu, cuda, cuda:1, ...)") from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {str(device)!r} requested, but no CUDA GPU is available here "
                "(torch.cuda.is_available() is False); use cpu"
            )
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(
                f"device {str(device)!r} requested, but only {count} CUDA GPU(s) are visible"
            )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {str(device)!r} requested, but MPS is not available here")
    return resolved
