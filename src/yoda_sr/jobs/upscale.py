"""Upscaling image files into a folder: the work behind ``yoda-sr upscale``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import torch
from tqdm.auto import tqdm

from yoda_sr.distributed import Shard
from yoda_sr.files import OutputWriteError
from yoda_sr.imaging import (
    ImageReadError,
    load_image,
    output_folder,
    output_prefixes,
    read_image_size,
    save_image,
)
from yoda_sr.pipeline import DEFAULT_TILE_OVERLAP, UpscaleOutput, YodaPipeline
from yoda_sr.pipeline.memory import available_memory_bytes
from yoda_sr.viz import mask_strip

Item = TypeVar("Item")


def batches_by_size(
    items: Sequence[Item],
    sizes: Sequence[tuple[int, int] | None],
    batch_size: int,
    capacity: Callable[[tuple[int, int]], int],
) -> list[list[Item]]:
    """``items`` in groups of one size (in order of each size's first item), at most
    ``batch_size`` and ``capacity(size)`` each; an item of unknown size (None) goes alone."""
    groups: dict[object, list[list[Item]]] = {}
    for index, (item, size) in enumerate(zip(items, sizes, strict=True)):
        limit = 1 if size is None else min(batch_size, max(1, capacity(size)))
        chunks = groups.setdefault(index if size is None else size, [[]])
        if len(chunks[-1]) >= limit:
            chunks.append([])
        chunks[-1].append(item)
    return [chunk for chunks in groups.values() for chunk in chunks]


def upscale_files(
    pipe: YodaPipeline,
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    sampler: str | None = None,
    steps: int | None = None,
    eta: float | None = None,
    use_yoda: bool = True,
    lower_bound: float | None = None,
    seed: int = 0,
    save_masks: bool = False,
    tile: int | None = None,
    tile_overlap: int = DEFAULT_TILE_OVERLAP,
    sparse: bool | None = None,
    progress: bool = False,
    shard: Shard | None = None,
    report: Callable[[str, UpscaleOutput], None] | None = None,
    batch_size: int = 1,
    color_fix: str | None = None,
) -> list[ImageReadError | OutputWriteError]:
    """Write ``<name>_x<scale>.png`` (and ``<name>_masks.png`` with ``save_masks``) into
    ``out_dir`` for each LR image file, each sampled with ``seed`` (0..2**64-1).

    ``<name>`` is the file stem, or the whole file name where inputs share a stem
    (:func:`~yoda_sr.imaging.output_prefixes`). Before any image is sampled, raises
    ValueError for options out of range, outputs that would overwrite each other or an
    input, an unusable ``out_dir``, or (InsufficientMemoryError) an input estimated not to
    fit in the device's memory. Unreadable inputs and outputs that cannot be written (each
    replaced atomically, never written through a link) are skipped; their errors are returned.
    Under a multi-process launcher, ``shard`` (:func:`~yoda_sr.distributed.shard_for`) makes
    this process handle the inputs ``i`` with ``i % count == index``.

    ``batch_size`` > 1 samples up to that many inputs of the same LR size in one pipeline call
    (fewer where the device's available memory would not hold them). Each image keeps its own
    generator seeded with ``seed``, so its noise is the one it gets alone; outputs differ from
    one-by-one runs only by floating-point rounding of batched network calls and, with sparse
    sampling, by the windows chosen for the union of the batch's masks. ``report(names,
    result)`` is called after each pipeline call, ``names`` the comma-separated inputs
    (e.g. to print the call's sampling work). ``color_fix`` (None: the model's default)
    corrects each output's colour towards its upsampled LR (see
    :mod:`yoda_sr.pipeline.color_fix`).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must lie in 0..2**64-1 (a torch generator seed), got {seed}")
    options = pipe.sampling_options(
        sampler, steps, eta, use_yoda, lower_bound, tile, tile_overlap, sparse, color_fix=color_fix
    )
    suffixes = [f"_x{pipe.scale}.png"] + (["_masks.png"] if save_masks else [])
    prefixes = output_prefixes(inputs, out_dir, suffixes)
    with output_folder(out_dir):
        sizes = [read_image_size(path) for path in inputs]
        for path, size in zip(inputs, sizes, strict=True):
            if size is not None:
                pipe.check_memory(size, options.tile, name=str(path))
        if options.use_yoda:
            pipe.load_importance_source()
        available = available_memory_bytes(pipe.device)

        def capacity(size: tuple[int, int]) -> int:
            if available is None:
                return batch_size
            return available // max(pipe.estimate_memory(size, options.tile), 1)

        failures: list[ImageReadError | OutputWriteError] = []
        jobs = list(zip(inputs, prefixes, sizes, strict=True))
        mine = [job for _, job in (shard or Shard(0, 1, pipe.device)).take(jobs)]
        groups = batches_by_size(mine, [size for _, _, size in mine], batch_size, capacity)
        bar = tqdm(total=len(mine), desc="images", disable=not progress or len(inputs) < 2)
        for group in groups:
            loaded = []
            for path, prefix, _ in group:
                try:
                    loaded.append((path, prefix, load_image(path)))
                except ImageReadError as exc:
                    failures.append(exc)
            bar.update(len(group))
            if not loaded:
                continue
            result = pipe(
                torch.stack([lr for _, _, lr in loaded]),
                sampler=options.sampler,
                num_inference_steps=options.steps,
                eta=options.eta,
                use_yoda=options.use_yoda,
                lower_bound=options.lower_bound,
                generator=[torch.Generator().manual_seed(seed) for _ in loaded],
                progress=progress,
                tile=options.tile,
                tile_overlap=options.tile_overlap,
                sparse=options.sparse,
                color_fix=options.color_fix,
            )
            if report is not None:
                report(", ".join(str(path) for path, _, _ in loaded), result)
            for index, (_, prefix, _) in enumerate(loaded):
                outputs = [prefix.with_name(prefix.name + suffix) for suffix in suffixes]
                try:
                    save_image(result.images[index], outputs[0])
                    if (
                        save_masks
                        and result.importance is not None
                        and options.lower_bound is not None
                    ):
                        strip = mask_strip(
                            result.images[index].cpu(),
                            result.importance[index].cpu(),
                            pipe.config.diffusion.num_train_timesteps,
                            options.lower_bound,
                        )
                        save_image(strip, outputs[1])
                except OutputWriteError as exc:
                    failures.append(exc)
        bar.close()
    return failures
