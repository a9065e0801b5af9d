"""Up-front memory estimate of upscaling, so that a too-large input stops with advice.

The estimate is a simple model fitted to the peak resident memory of
``YodaPipeline.__call__`` on CPU (float32; SR3 and SRDiff configs of several widths; outputs
of 0.06 to 1 megapixels, whole or in tiles of 128 to 512 px). From 0.25 megapixels on it
gave 1.0x to 1.2x the measured peak, and 2.1x with 128 px tiles (where the full-size buffers
dominate and are overestimated):

- ``FIXED_BYTES`` of workspace and allocator overhead;
- full-size buffers of the sampling loop (x_t, noise, anchor, the blend, masks, the tiled
  output and its weights, ...): ``IMAGE_BYTES_PER_PIXEL`` per padded HR pixel, tiled or not;
- the network's activations on the area it sees at once (the whole padded HR image, or one
  tile): ``UNET_BYTES_PER_CHANNEL`` per pixel for every channel of a UNet level, a level
  ``i`` counting ``1 / 4**i`` (its resolution), plus ``INPUT_BYTES_PER_CHANNEL`` for every
  channel of the UNet's input (x_t, the upsampled LR and SRDiff's projected features).

Self-attention is assumed to run with memory-efficient kernels (linear in the tokens), as
PyTorch's ``scaled_dot_product_attention`` does on CPU and CUDA.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

FIXED_BYTES = 64 * 2**20
IMAGE_BYTES_PER_PIXEL = 200
UNET_BYTES_PER_CHANNEL = 36
INPUT_BYTES_PER_CHANNEL = 8
# Bytes per HR pixel per feature channel of a regression RRDBNet (upsampling convs at HR).
RRDB_BYTES_PER_CHANNEL = 16
# Tile sizes (HR px) that an error message may suggest, largest first.
TILE_CHOICES = (1024, 768, 512, 384, 256, 192, 128, 96, 64)


class InsufficientMemoryError(ValueError):
    """Upscaling an image would need more memory than is available; the message says how
    much and suggests a tile size (``suggested_tile``, None when even tiles do not fit)."""

    def __init__(self, message: str, suggested_tile: int | None) -> None:
        super().__init__(message)
        self.suggested_tile = suggested_tile


def network_bytes_per_pixel(model_config: Any) -> float:
    """Activation bytes per HR pixel the network sees at once, for a model config."""
    from yoda_sr.models import model_type

    kind = model_type(model_config)
    if kind == "rrdb":
        return RRDB_BYTES_PER_CHANNEL * model_config.num_features
    if kind == "srdiff":
        denoiser = model_config.denoiser
        channels = denoiser.block_out_channels
        inputs = 2 * denoiser.image_channels + denoiser.cond_channels
    else:
        channels, inputs = model_config.block_out_channels, 6
    levels = sum(c / 4**i for i, c in enumerate(channels))
    return UNET_BYTES_PER_CHANNEL * levels + INPUT_BYTES_PER_CHANNEL * inputs


def estimate_upscale_bytes(
    model_config: Any, hr_size: tuple[int, int], region: tuple[int, int]
) -> int:
    """Estimated peak bytes of upscaling to the padded HR size ``hr_size`` (H, W) when the
    network sees ``region`` (h, w) at once: ``hr_size`` untiled, the tile size tiled."""
    pixels = hr_size[0] * hr_size[1]
    seen = min(region[0], hr_size[0]) * min(region[1], hr_size[1])
    network = seen * network_bytes_per_pixel(model_config)
    return math.ceil(FIXED_BYTES + pixels * IMAGE_BYTES_PER_PIXEL + network)


def available_memory_bytes(device: str | torch.device = "cpu") -> int | None:
    """Memory free for new tensors on ``device``; None where it cannot be told.

    CUDA: free device memory plus what PyTorch's allocator holds unused. CPU: ``psutil``'s
    available memory when installed, else ``MemAvailable`` of ``/proc/meminfo``.
    """
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        unused = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + unused)
    if device.type != "cpu":
        return None
    try:
        import psutil
    except ImportError:
        return _meminfo_available()
    return int(psutil.virtual_memory().available)


def _meminfo_available(path: str | Path = "/proc/meminfo") -> int | None:
    """``MemAvailable`` in bytes from a Linux meminfo file; None if absent."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def format_bytes(count: float) -> str:
    """``1536 * 2**20`` -> ``"1.5 GiB"`` (MiB below 1 GiB)."""
    if count < 2**30:
        return f"{count / 2**20:.1f} MiB"
    return f"{count / 2**30:.1f} GiB"
