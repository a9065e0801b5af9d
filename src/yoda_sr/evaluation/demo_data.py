"""The demo's images: public-domain / CC0 photos bundled with scikit-image (no download).

Training photos are cut into square tiles; the held-out photo (never seen in training) gives
the test crops, centred on fixed points with detail and flat areas next to each other. Small
example inputs made from the same photos serve ``yoda-sr examples`` and the web UI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from yoda_sr.imaging import imresize, save_image


@dataclass(frozen=True)
class DemoPhoto:
    """A photo from ``skimage.data`` (``name`` is the loader's name) and its licence."""

    name: str
    description: str
    credit: str
    licence: str

    def load(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB, from the files shipped inside scikit-image."""
        import skimage.data

        try:
            image = getattr(skimage.data, self.name)()
        except (OSError, ValueError, ImportError, AttributeError) as exc:
            raise FileNotFoundError(
                f"scikit-image's bundled photo {self.name!r} could not be loaded ({exc}); "
                "reinstall scikit-image"
            ) from exc
        return np.ascontiguousarray(image[..., :3])


TRAIN_PHOTOS = (
    DemoPhoto("astronaut", "astronaut Eileen Collins", "NASA", "public domain"),
    DemoPhoto("coffee", "cup of coffee", "Rachel Michetti (Pikolo Espresso Bar)", "CC0"),
    DemoPhoto("rocket", "DSCOVR launch on a Falcon 9", "SpaceX", "public domain"),
    DemoPhoto("hubble_deep_field", "Hubble eXtreme Deep Field", "NASA", "public domain"),
)
TEST_PHOTO = DemoPhoto("chelsea", "Chelsea the cat", "Stefan van der Walt", "CC0")
# (y, x) centres of the test crops in the 300x451 cat photo: left eye, right eye, nose and
# whiskers, ear against the blurred background.
TEST_CENTRES = ((113, 169), (135, 316), (239, 262), (48, 403))
# Longer side (px) of the example inputs made from the photos: small enough that a CPU
# upscales them in seconds.
EXAMPLE_SIDE = 96
# Side (px) of the HR reference example, cut around the cat's face.
EXAMPLE_HR_SIDE = 192


def _tiles(image: np.ndarray, size: int, limit: int) -> list[np.ndarray]:
    """Non-overlapping ``size`` tiles in raster order, at most ``limit`` evenly spread."""
    h, w = image.shape[:2]
    tiles = [
        image[y : y + size, x : x + size]
        for y in range(0, h - size + 1, size)
        for x in range(0, w - size + 1, size)
    ]
    if len(tiles) > limit:
        keep = np.linspace(0, len(tiles) - 1, limit).round().astype(int)
        tiles = [tiles[i] for i in keep]
    return tiles


def _crop(image: np.ndarray, centre: tuple[int, int], size: int) -> np.ndarray:
    h, w = image.shape[:2]
    top = min(max(centre[0] - size // 2, 0), h - size)
    left = min(max(centre[1] - size // 2, 0), w - size)
    return image[top : top + size, left : left + size]


def write_demo_images(
    train_dir: str | Path,
    test_dir: str | Path,
    tile_size: int = 128,
    tiles_per_photo: int = 16,
    test_size: int = 96,
    num_test: int = 4,
) -> tuple[list[Path], list[Path]]:
    """Write training tiles and held-out test crops as PNGs; returns both file lists.

    Args:
        tile_size: side of the training tiles (HR patches are cut from them at random).
        tiles_per_photo: at most this many tiles per training photo.
        test_size: side of the HR test crops (a multiple of the SR scale).
        num_test: number of test crops (at most ``len(TEST_CENTRES)``).
    """
    if not 1 <= num_test <= len(TEST_CENTRES):
        raise ValueError(f"num_test must lie in 1..{len(TEST_CENTRES)}, got {num_test}")
    train_dir, test_dir = Path(train_dir), Path(test_dir)
    train_dir.mkdir(parents=True, exist_ok=True)
    test_dir.mkdir(parents=True, exist_ok=True)
    train_files = []
    for photo in TRAIN_PHOTOS:
        for index, tile in enumerate(_tiles(photo.load(), tile_size, tiles_per_photo)):
            path = train_dir / f"{photo.name}_{index:02d}.png"
            Image.fromarray(tile).save(path)
            train_files.append(path)
    test_image = TEST_PHOTO.load()
    test_files = []
    for index, centre in enumerate(TEST_CENTRES[:num_test]):
        path = test_dir / f"{TEST_PHOTO.name}_{index}.png"
        Image.fromarray(_crop(test_image, centre, test_size)).save(path)
        test_files.append(path)
    return train_files, test_files


def write_examples(folder: str | Path, overwrite: bool = False) -> tuple[list[Path], Path]:
    """Write example inputs made from the demo's public-domain photos (scikit-image's):
    small LR images (longer side :data:`EXAMPLE_SIDE`) and one HR reference crop of the cat
    (:data:`EXAMPLE_HR_SIDE` square: eyes, nose, whiskers). Returns ``(lr_paths, hr_path)``.

    Raises FileExistsError naming the files of ``folder`` it would replace, before writing
    any, unless ``overwrite``."""
    folder = Path(folder)
    photos = (TEST_PHOTO, *TRAIN_PHOTOS[:3])
    lr_paths = [folder / f"{photo.name}.png" for photo in photos]
    hr_path = folder / f"{TEST_PHOTO.name}_hr.png"
    taken = [path.name for path in (*lr_paths, hr_path) if os.path.lexists(path)]
    if taken and not overwrite:
        raise FileExistsError(
            f"{folder}: already holds {', '.join(taken)}; choose another --out or pass --overwrite"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for photo, path in zip(photos, lr_paths, strict=True):
        image = torch.from_numpy(photo.load()).permute(2, 0, 1).float() / 255.0
        h, w = image.shape[-2:]
        factor = EXAMPLE_SIDE / max(h, w)
        small = imresize(image, size=(round(h * factor), round(w * factor))).clamp(0.0, 1.0)
        save_image(small, path)
    cat = torch.from_numpy(TEST_PHOTO.load()).permute(2, 0, 1).float() / 255.0
    top, left = 60, 150
    save_image(cat[:, top : top + EXAMPLE_HR_SIDE, left : left + EXAMPLE_HR_SIDE], hr_path)
    return lr_paths, hr_path
