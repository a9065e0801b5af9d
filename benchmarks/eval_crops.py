"""Evaluation crops for the importance and colour benchmarks (issue 19), cut from the shared
photos (``bash ../shared/data/fetch_photos.sh benchmarks/data/photos``):

- ``val``: the centre crops of the 8 val photos (the study's protocol, ``train_compare``);
- ``flat``: the flattest windows (sky, walls, plain backgrounds) of the val photos and the
  portraits, and of the train photos where those have too few: windows whose LR has a mean
  luma gradient under ``FLAT_GRADIENT`` grey levels per pixel, flattest first, one per photo;
- ``dark``: every other val crop (4) darkened (x 0.25 in linear light, then back to sRGB-ish gamma 2.2);
- ``noisy``: every other val crop (4) whose LR carries Gaussian noise (sigma 5 grey levels, seed 0,
  added after the downscale and before quantisation), as a noisy photo's would;
- ``large``: one 512 x 384 window of a val photo (x4: LR 128 x 96).

Every other crop's LR is the MATLAB-bicubic x1/4 downscale quantised to 8 bits (``make_lr``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from yoda_sr.imaging import list_images, load_image, quantize
from yoda_sr.imaging.resize import downscale, make_lr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from train_compare import fetch_shared_photos  # noqa: E402

SCALE = 4
CROP = 192
# Mean LR luma gradient (grey levels per pixel) under which a crop counts as flat (issue 19).
FLAT_GRADIENT = 3.0
FLAT_PER_SET = 8
# Luma std (grey levels) under which a window is blank, not flat: below 8-bit rounding noise
# (1/sqrt(12) = 0.29). The held-out photos' clipped skies are; no window the shared photos'
# flat set takes is (its blankest, train_opencv_smarties, has 0.23), so that set is unchanged.
BLANK_STD = 0.2


def luma(image: torch.Tensor) -> torch.Tensor:
    """(h, w) Rec. 601 luma of (3, h, w) ``image`` in [0, 1]."""
    return 0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2]


def mean_gradient(lr: torch.Tensor) -> float:
    """Mean magnitude of the forward-difference luma gradient of (3, h, w) ``lr`` in [0, 1],
    in grey levels (0..255) per pixel."""
    y = luma(lr)
    dx = y[:-1, 1:] - y[:-1, :-1]
    dy = y[1:, :-1] - y[:-1, :-1]
    return float((dx.square() + dy.square()).sqrt().mean()) * 255.0


def flattest_window(image: torch.Tensor, size: int = CROP) -> tuple[float, torch.Tensor] | None:
    """(mean LR gradient, window) of the flattest ``size`` window of (3, H, W) ``image`` on a
    half-window grid, or None when the image is smaller than one window. Blank windows (luma
    std under ``BLANK_STD`` grey levels: blown-out highlights) are skipped: there is nothing
    to restore, and bicubic often reproduces them exactly (an infinite PSNR that no mean
    survives)."""
    _, h, w = image.shape
    if h < size or w < size:
        return None
    best: tuple[float, torch.Tensor] | None = None
    step = size // 2
    for top in range(0, h - size + 1, step):
        for left in range(0, w - size + 1, step):
            window = image[:, top : top + size, left : left + size]
            if luma(window).std() * 255.0 < BLANK_STD:
                continue
            gradient = mean_gradient(make_lr(window, SCALE)[1])
            if best is None or gradient < best[0]:
                best = (gradient, window)
    return best


def flat_crops(photos: Path) -> list[tuple[str, torch.Tensor]]:
    """Up to ``FLAT_PER_SET`` flat crops (mean LR gradient < FLAT_GRADIENT), unseen photos
    (val, faces) first, then train photos; named ``<split>_<stem>``."""
    found: list[tuple[str, torch.Tensor]] = []
    for split in ("val", "faces", "train"):
        if not (photos / split).is_dir():
            continue
        candidates = []
        for path in list_images(photos / split):
            best = flattest_window(load_image(path))
            if best is not None and best[0] < FLAT_GRADIENT:
                candidates.append((best[0], f"{split}_{path.stem}", best[1]))
        for _, name, window in sorted(candidates, key=lambda item: item[0]):
            if len(found) < FLAT_PER_SET:
                found.append((name, window.clone()))
    return found


Crop = tuple[str, torch.Tensor, torch.Tensor]


def with_lr(crops: list[tuple[str, torch.Tensor]]) -> list[Crop]:
    """(name, HR, LR) of (name, HR) crops, LR by ``make_lr``."""
    return [(name, *make_lr(hr, SCALE)) for name, hr in crops]


def centre_crop(image: torch.Tensor, size: int = CROP) -> torch.Tensor:
    """The centre ``size`` x ``size`` window of (3, H, W) ``image`` (``train_compare``'s rule)."""
    _, h, w = image.shape
    top, left = (h - size) // 2, (w - size) // 2
    return image[:, top : top + size, left : left + size]


def crop_sets(photos: Path) -> dict[str, list[Crop]]:
    """(name, HR (3, H, W), LR (3, H/4, W/4)) in [0, 1] of each set's crops, by set name (see
    the module docstring). ``photos`` needs ``val/`` (fetched, the shared photos, when it has
    none); ``faces/`` and ``train/`` are optional."""
    if not (photos / "val").is_dir():
        fetch_shared_photos(photos)
    val = [(p.stem, centre_crop(load_image(p))) for p in list_images(photos / "val")]
    generator = torch.Generator().manual_seed(0)
    dark = [(name, (hr**2.2 * 0.25) ** (1 / 2.2)) for name, hr in val[::2]]
    noisy = []
    for name, hr, lr in with_lr(val[::2]):
        noise = torch.randn(lr.shape, generator=generator) * 5 / 255
        noisy.append((name, hr, quantize(downscale(hr, SCALE) + noise)))
    large_photo = load_image(list_images(photos / "val")[0])
    _, h, w = large_photo.shape
    top, left = (h - 384) // 2, (w - 512) // 2
    large = [
        (
            "large_" + list_images(photos / "val")[0].stem,
            large_photo[:, top : top + 384, left : left + 512],
        )
    ]
    return {
        "val": with_lr(val),
        "flat": with_lr(flat_crops(photos)),
        "dark": with_lr(dark),
        "noisy": noisy,
        "large": with_lr(large),
    }
