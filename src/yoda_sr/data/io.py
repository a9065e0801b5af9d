"""Reading and writing images as tensors, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


class ImageReadError(ValueError):
    """An input file could not be read as an image; the message names the file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: cannot read as an image ({reason})")
        self.path = Path(path)
        self.reason = reason


def load_image(path: str | Path) -> Tensor:
    """Load an image file as RGB float (3, H, W) in [0, 1].

    Grayscale is replicated to three channels; an alpha channel is composited over white
    (the usual choice for SR of RGBA graphics, so transparent areas do not turn black).
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(path, "no such file")
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                rgb = Image.alpha_composite(background, rgba).convert("RGB")
            else:
                rgb = img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageReadError(path, str(exc) or type(exc).__name__) from exc
    array = np.asarray(rgb, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255.0


def to_uint8(image: Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8, rounding to nearest (MATLAB's im2uint8)."""
    array = image.detach().float().clamp(0, 1).mul(255.0).round().byte()
    return array.permute(1, 2, 0).cpu().numpy()


def save_image(image: Tensor, path: str | Path) -> None:
    """Write (3, H, W) float in [0, 1] as an 8-bit image (format from the suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(image)).save(path)


def list_images(folder: str | Path) -> list[Path]:
    """Sorted image files (by suffix) directly inside ``folder``; error if none or missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a directory")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    return files


def image_grid(rows: list[list[Tensor]], gap: int = 2) -> Tensor:
    """Tile rows of (3, H, W) images in [0, 1] into one (3, H', W') image on white.

    Images in a row are padded to the row's tallest; rows are stacked left-aligned.
    """
    row_images = []
    for row in rows:
        height = max(img.shape[1] for img in row)
        width = sum(img.shape[2] for img in row) + gap * (len(row) - 1)
        canvas = torch.ones(3, height, width)
        x = 0
        for img in row:
            canvas[:, : img.shape[1], x : x + img.shape[2]] = img.detach().float().cpu()
            x += img.shape[2] + gap
        row_images.append(canvas)
    width = max(r.shape[2] for r in row_images)
    height = sum(r.shape[1] for r in row_images) + gap * (len(row_images) - 1)
    grid = torch.ones(3, height, width)
    y = 0
    for r in row_images:
        grid[:, y : y + r.shape[1], : r.shape[2]] = r
        y += r.shape[1] + gap
    return grid
