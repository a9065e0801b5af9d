"""Importance maps of image files, written as .npy plus heat-map and mask-strip previews: the
work behind ``yoda-sr attention``."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
from torch import Tensor
from tqdm.auto import tqdm

from yoda_sr.attention.base import ImportanceSource, upsample_image
from yoda_sr.diffusion.config import NoiseScheduleConfig, YodaConfig
from yoda_sr.files import OutputWriteError, write_atomically
from yoda_sr.imaging import (
    ImageReadError,
    load_image,
    output_folder,
    output_prefixes,
    save_image,
)
from yoda_sr.viz import heatmap_overlay, mask_strip

# What export_attention_maps writes per image, after the image's output name.
OUTPUT_SUFFIXES = ("_attention.npy", "_attention.png", "_masks.png")


def importance_map(source: ImportanceSource, lr: Tensor, scale: int) -> Tensor:
    """Importance of one LR image (3, h, w) in [0, 1] for output size (h*scale, w*scale).

    Returns (1, h*scale, w*scale) float32 in [0, 1] on the CPU.
    """
    if scale < 1:
        raise ValueError(f"scale must be a positive int, got {scale}")
    size = (lr.shape[-2] * scale, lr.shape[-1] * scale)
    return source(lr.unsqueeze(0), size)[0].float().cpu()


def export_attention_maps(
    images: Sequence[str | Path],
    out_dir: str | Path,
    source: ImportanceSource,
    scale: int,
    num_train_timesteps: int = NoiseScheduleConfig.num_train_timesteps,
    lower_bound: float = YodaConfig.lower_bound,
    progress: bool = True,
) -> list[ImageReadError | OutputWriteError]:
    """For each LR image file write into ``out_dir``:

    - ``<stem>_attention.npy``: float32 (h*scale, w*scale) importance in [0, 1];
    - ``<stem>_attention.png``: heat map over the bicubic-upsampled image;
    - ``<stem>_masks.png``: YODA masks ``M_t`` at several ``t``
      (see :func:`~yoda_sr.viz.mask_strip`).

    ``<stem>`` is the file name without its extension, or with it where inputs share a stem
    (see :func:`~yoda_sr.imaging.output_prefixes`). Unusable settings, an unwritable
    ``out_dir`` or colliding outputs raise ValueError before any work. Unreadable files and
    outputs that cannot be written (each replaced atomically) are skipped; their errors
    (naming the file) are returned.
    """
    if scale < 1:
        raise ValueError(f"scale must be a positive int, got {scale}")
    if num_train_timesteps < 1:
        raise ValueError(f"num_train_timesteps must be a positive int, got {num_train_timesteps}")
    if not 0.0 <= lower_bound <= 1.0:
        raise ValueError(f"lower_bound must lie in [0, 1], got {lower_bound}")
    prefixes = output_prefixes(images, out_dir, OUTPUT_SUFFIXES)
    with output_folder(out_dir):
        failures: list[ImageReadError | OutputWriteError] = []
        progress_bar = tqdm(images, desc="attention maps", unit="image", disable=not progress)
        for path, prefix in zip(progress_bar, prefixes, strict=True):
            try:
                lr = load_image(path)
            except ImageReadError as err:
                failures.append(err)
                continue
            importance = importance_map(source, lr, scale)
            npy, heat, masks = (prefix.with_name(prefix.name + s) for s in OUTPUT_SUFFIXES)
            array = importance[0].numpy().astype(np.float32)
            hr_size = (importance.shape[-2], importance.shape[-1])
            upsampled = upsample_image(lr.unsqueeze(0), hr_size)[0]
            try:
                write_atomically(npy, partial(np.save, arr=array))
                save_image(heatmap_overlay(upsampled, importance), heat)
                save_image(
                    mask_strip(upsampled, importance, num_train_timesteps, lower_bound), masks
                )
            except OutputWriteError as exc:
                failures.append(exc)
    return failures
