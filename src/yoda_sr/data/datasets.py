"""Training/validation datasets: HR folders with LR made on the fly, and paired LR/HR folders."""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler
from tqdm.auto import tqdm

from yoda_sr.data.importance_cache import ImportanceCache, file_digest
from yoda_sr.degradations.pipelines import degrade
from yoda_sr.degradations.presets import BicubicParams, DegradationConfig
from yoda_sr.degradations.seeding import sample_rng
from yoda_sr.imaging import ImageReadError, imresize, list_images, load_image, mod_crop, quantize


def prepare_hr(image: Tensor, scale: int, mode: str, hr_size: int) -> Tensor:
    """Full HR image (3, H, W) for a sample: mod-cropped to ``scale`` or face-resized."""
    if mode == "face":
        _, h, w = image.shape
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = image[:, top : top + side, left : left + side]
        if side != hr_size:
            square = quantize(imresize(square, size=(hr_size, hr_size)))
        return square
    return mod_crop(image, scale)


class EpochSampler(Sampler[tuple[int, int]]):
    """Shuffled ``(index, seed)`` pairs: each sample's crop/flip seed travels with its index.

    Epoch ``e``'s order and seeds depend on ``(seed, e)`` alone, not on any process's RNG,
    so a run resumed mid-epoch, with any number of loader workers, sees exactly the samples
    an uninterrupted run sees.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.size).tolist()
        seeds = rng.integers(0, 2**63, size=self.size).tolist()
        return iter(zip(order, seeds, strict=True))


class SRFolderDataset(Dataset):
    """HR images from a folder; each item is ``{"hr", "lr", "importance", "name"}``.

    ``hr`` (3, H, W) and ``importance`` (1, H, W) in [0, 1] at ``hr_size``; ``lr``
    (3, H/s, W/s) in [0, 1], 8-bit quantised. The importance map is computed on the whole
    LR image (then cropped with the HR patch), through ``cache``. Items are indexed by
    position, or by ``(position, seed)`` to fix the random crop and flips (see
    :class:`EpochSampler`).

    ``degradation``: how LR images are made (default: MATLAB bicubic, as above). Any other
    preset degrades each HR patch after cropping and flipping, with the generator
    ``sample_rng(seed, 0, position)`` of the item's seed (drawn by :class:`EpochSampler` from
    the run's seed and the epoch; validation items use seed 0), so the same item always
    gets the same degradation, in any worker; its importance map is computed from that LR
    patch by ``cache.source`` (no disk cache: the input differs every epoch), in the
    loader's process.
    """

    def __init__(
        self,
        folder: str | Path,
        scale: int,
        hr_size: int,
        mode: str = "patch",
        train: bool = True,
        flip: bool = True,
        cache: ImportanceCache | None = None,
        skip_unreadable: bool = False,
        limit: int | None = None,
        degradation: DegradationConfig | None = None,
    ) -> None:
        if hr_size % scale:
            raise ValueError(f"hr_size {hr_size} is not a multiple of scale {scale}")
        self.files = list_images(folder)[:limit]
        self.scale, self.hr_size, self.mode = scale, hr_size, mode
        self.train, self.flip, self.cache = train, flip, cache
        self.digests: dict[Path, str] = {}
        params = degradation.params() if degradation is not None else None
        # None: today's bicubic LR of the whole image, with cached importance maps.
        self.degradation = None if isinstance(params, BicubicParams) else params
        if skip_unreadable or cache is not None:
            self._scan(skip_unreadable)

    def _scan(self, skip_unreadable: bool) -> None:
        """Check every file once (and fill the importance cache) before workers start."""
        kept = []
        for path in tqdm(self.files, desc="preparing images", leave=False, disable=None):
            try:
                self._load_full(path)
            except (ImageReadError, ValueError) as exc:
                if not skip_unreadable:
                    raise
                warnings.warn(f"skipping {exc}", stacklevel=2)
                continue
            kept.append(path)
        if not kept:
            raise ValueError("no usable images left after skipping unreadable ones")
        self.files = kept

    def _lr_recipe(self) -> str:
        return (
            f"matlab-bicubic|x{self.scale}|{self.mode}|{self.hr_size if self.mode == 'face' else 0}"
        )

    def _load_full(self, path: Path) -> tuple[Tensor, Tensor, Tensor | None]:
        hr = prepare_hr(load_image(path), self.scale, self.mode, self.hr_size)
        if min(hr.shape[1:]) < self.hr_size:
            raise ValueError(
                f"{path}: image {tuple(hr.shape[1:])} is smaller than the HR patch {self.hr_size}"
            )
        if self.degradation is not None:  # degraded per patch in __getitem__
            return hr, hr, None
        lr = quantize(imresize(hr, scale=1 / self.scale))
        importance = None
        if self.cache is not None:
            if path not in self.digests:
                self.digests[path] = file_digest(path)
            importance = self.cache.get(
                self.digests[path], self._lr_recipe(), lr, (hr.shape[1], hr.shape[2])
            )
        return hr, lr, importance

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, item: int | tuple[int, int]) -> dict:
        index, seed = item if isinstance(item, tuple) else (item, random.getrandbits(64))
        if not self.train:
            seed = 0
        rng = random.Random(seed)
        path = self.files[index]
        hr, lr, importance = self._load_full(path)
        s = self.scale
        lr_size = self.hr_size // s
        _, h, w = hr.shape
        if self.train:
            top, left = rng.randint(0, h // s - lr_size), rng.randint(0, w // s - lr_size)
        else:
            top, left = (h // s - lr_size) // 2, (w // s - lr_size) // 2
        hr = hr[:, top * s : (top + lr_size) * s, left * s : (left + lr_size) * s]
        if importance is not None:
            importance = importance[
                :, top * s : (top + lr_size) * s, left * s : (left + lr_size) * s
            ]
        if self.degradation is None:
            lr = lr[:, top : top + lr_size, left : left + lr_size]
        if self.train and self.flip:
            dims = [-1] if rng.random() < 0.5 else []
            if self.mode == "patch" and rng.random() < 0.5:
                dims.append(-2)
            if dims:
                hr, lr = hr.flip(dims), lr.flip(dims)
                importance = importance.flip(dims) if importance is not None else None
        if self.degradation is not None:
            lr, _ = degrade(hr, self.degradation, sample_rng(seed, 0, index), s)
            if self.cache is not None:
                with torch.no_grad():
                    size = (self.hr_size, self.hr_size)
                    importance = self.cache.source(lr[None].to(self.cache.device), size)
                importance = importance[0].float().cpu()
        if importance is None:
            importance = torch.ones_like(hr[:1])
        return {"hr": hr, "lr": lr, "importance": importance, "name": path.stem}


class PairedFolderDataset(Dataset):
    """Paired LR/HR folders matched by file stem, for evaluation. Items: full images, the HR
    mod-cropped to a multiple of ``scale``; an LR of another size than that HR / ``scale``
    raises ValueError naming it."""

    def __init__(self, lr_folder: str | Path, hr_folder: str | Path, scale: int) -> None:
        hr_files = _files_by_stem(hr_folder)
        lr_files = _files_by_stem(lr_folder)
        missing = sorted(set(hr_files) - set(lr_files))
        if missing:
            raise FileNotFoundError(
                f"{lr_folder}: no LR image for HR {', '.join(missing[:5])}"
                + (" ..." if len(missing) > 5 else "")
            )
        self.pairs = [(lr_files[s], hr_files[s]) for s in sorted(hr_files)]
        self.scale = scale

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        lr_path, hr_path = self.pairs[index]
        lr, hr = load_image(lr_path), load_image(hr_path)
        expected = (hr.shape[1] // self.scale, hr.shape[2] // self.scale)
        if tuple(lr.shape[1:]) != expected:
            raise ValueError(
                f"{lr_path}: LR {tuple(lr.shape[1:])} does not match its HR {hr_path.name} "
                f"{tuple(hr.shape[1:])} mod-cropped and divided by x{self.scale}: {expected}"
            )
        h, w = expected[0] * self.scale, expected[1] * self.scale
        return {"hr": hr[:, :h, :w], "lr": lr, "name": hr_path.stem}


def _files_by_stem(folder: str | Path) -> dict[str, Path]:
    """Image files of ``folder`` by stem; ValueError when two share one (a.png, a.jpg)."""
    files: dict[str, Path] = {}
    for path in list_images(folder):
        if path.stem in files:
            raise ValueError(
                f"{folder}: {files[path.stem].name} and {path.name} share the name "
                f"{path.stem!r}; pairs are matched by name, keep one"
            )
        files[path.stem] = path
    return files
