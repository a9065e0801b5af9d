"""Upscaling image files into a folder: the work behind ``yoda-sr upscale``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from yoda_sr.distributed import Shard
from yoda_sr.imaging import (
    ImageReadError,
    load_image,
    output_prefixes,
    prepare_output_dir,
    read_image_size,
    save_image,
)
from yoda_sr.pipeline import DEFAULT_TILE_OVERLAP, UpscaleOutput, YodaPipeline
from yoda_sr.viz import mask_strip


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
) -> list[ImageReadError]:
    """Write ``<name>_x<scale>.png`` (and ``<name>_masks.png`` with ``save_masks``) into
    ``out_dir`` for each LR image file, each sampled with ``seed``.

    ``<name>`` is the file stem, or the whole file name where inputs share a stem
    (:func:`~yoda_sr.imaging.output_prefixes`). Before any image is sampled, raises
    ValueError for options out of range, outputs that would overwrite each other or an
    input, an unusable ``out_dir``, or (InsufficientMemoryError) an input estimated not to
    fit in the device's memory. Unreadable inputs are skipped; their errors are returned.
    Under a multi-process launcher, ``shard`` (:func:`~yoda_sr.distributed.shard_for`) makes
    this process handle the inputs ``i`` with ``i % count == index``. ``report(path,
    result)`` is called after each image (e.g. to print its sampling work).
    """
    options = pipe.sampling_options(
        sampler, steps, eta, use_yoda, lower_bound, tile, tile_overlap, sparse
    )
    suffixes = [f"_x{pipe.scale}.png"] + (["_masks.png"] if save_masks else [])
    prefixes = output_prefixes(inputs, out_dir, suffixes)
    prepare_output_dir(out_dir)
    for path in inputs:
        size = read_image_size(path)
        if size is not None:
            pipe.check_memory(size, options.tile, name=str(path))
    if options.use_yoda:
        pipe.load_importance_source()
    failures: list[ImageReadError] = []
    mine = (shard or Shard(0, 1, pipe.device)).take(list(zip(inputs, prefixes, strict=True)))
    bar = tqdm(mine, desc="images", disable=not progress or len(inputs) < 2)
    for _, (path, prefix) in bar:
        try:
            lr = load_image(path)
        except ImageReadError as exc:
            failures.append(exc)
            continue
        result = pipe(
            lr[None],
            sampler=options.sampler,
            num_inference_steps=options.steps,
            eta=options.eta,
            use_yoda=options.use_yoda,
            lower_bound=options.lower_bound,
            generator=torch.Generator().manual_seed(seed),
            progress=progress,
            tile=options.tile,
            tile_overlap=options.tile_overlap,
            sparse=options.sparse,
        )
        if report is not None:
            report(str(path), result)
        outputs = [prefix.with_name(prefix.name + suffix) for suffix in suffixes]
        save_image(result.images[0], outputs[0])
        if save_masks and result.importance is not None:
            strip = mask_strip(
                result.images[0].cpu(),
                result.importance[0].cpu(),
                pipe.config.diffusion.num_train_timesteps,
                options.lower_bound,
            )
            save_image(strip, outputs[1])
    return failures
