"""Reading and writing images as tensors, with errors that name the file."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from yoda_sr.files import file_identity, regular_file_problem, write_atomically

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
# PIL modes of 16-bit single-channel images (e.g. 16-bit grayscale PNG or TIFF).
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
# Images with more pixels are refused (a guard against decompression bombs: a small file
# whose header claims a huge size); the environment variable lifts it (0: no limit).
DEFAULT_MAX_PIXELS = 100_000_000
MAX_PIXELS_ENV = "YODA_SR_MAX_PIXELS"


class ImageReadError(ValueError):
    """An input file could not be read as an image; the message names the file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: cannot read as an image ({reason})")
        self.path = Path(path)
        self.reason = reason


def load_image(path: str | Path) -> Tensor:
    """Load an image file as RGB float (3, H, W) in [0, 1], upright.

    The EXIF orientation is applied. Values are scaled by the file's real bit depth: 8-bit
    images by 1/255, 16-bit grayscale (PIL mode ``I;16``) by 1/65535; 16-bit RGB(A) PNGs,
    which PIL reduces to their high bytes, by 1/255. 32-bit integer images must hold 16-bit
    values (0..65535). Float images (mode ``F``, e.g. float TIFF) are taken as they are when
    every value lies in [0, 1]; other float images are refused (ImageReadError).
    Grayscale is replicated to three channels; an alpha channel is composited over white
    (the usual choice for SR of RGBA graphics, so transparent areas do not turn black).
    """
    path = Path(path)
    try:
        with open_image(path) as img:
            img.load()
            array = _unit_array(ImageOps.exif_transpose(img))
    except ImageReadError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageReadError(path, str(exc) or type(exc).__name__) from exc
    except ValueError as exc:
        raise ImageReadError(path, str(exc)) from exc
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float()


def max_pixels() -> int | None:
    """The largest image (pixels) read: ``$YODA_SR_MAX_PIXELS`` (0: none), else
    :data:`DEFAULT_MAX_PIXELS`."""
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(text))
    except ValueError as exc:
        raise ValueError(f"{MAX_PIXELS_ENV}={text!r} is not a number of pixels") from exc
    return value if value > 0 else None


@contextmanager
def open_image(path: str | Path) -> Iterator[Image.Image]:
    """``Image.open`` of a regular file (header read, pixels not decoded) within the pixel
    limit (:func:`max_pixels`); ImageReadError naming the file otherwise."""
    problem = regular_file_problem(path)
    if problem is not None:
        raise ImageReadError(path, problem)
    limit = max_pixels()
    pillow_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our own limit below, with a message naming the file
    try:
        img = Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    with img:
        if limit is not None and img.width * img.height > limit:
            raise ImageReadError(
                path,
                f"{img.width}x{img.height} px exceeds the limit of {limit} px against "
                f"decompression bombs; set {MAX_PIXELS_ENV}=N to raise it, 0 for none",
            )
        yield img


def read_image_size(path: str | Path) -> tuple[int, int] | None:
    """(height, width) of an image file from its header, without decoding the pixels (EXIF
    orientation not applied); None when it cannot be opened (:func:`load_image` says why)."""
    try:
        with open_image(path) as img:
            return img.height, img.width
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


def _unit_array(img: Image.Image) -> np.ndarray:
    """(H, W) or (H, W, 3) float32 in [0, 1] from a loaded PIL image, by its bit depth."""
    if img.mode in _SIXTEEN_BIT_MODES:
        return np.asarray(img).astype(np.float32) / 65535.0
    if img.mode == "I":
        values = np.asarray(img)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(
                f"32-bit integer values span [{values.min()}, {values.max()}]; only 16-bit "
                "data (0..65535) is supported"
            )
        return values.astype(np.float32) / 65535.0
    if img.mode == "F":
        values = np.asarray(img, dtype=np.float32)
        if not np.isfinite(values).all():
            raise ValueError("float image contains NaN or infinite values")
        if values.size and (values.min() < 0.0 or values.max() > 1.0):
            raise ValueError(
                f"float values span [{values.min():g}, {values.max():g}]; float images must "
                "lie in [0, 1] (convert to [0, 1] or to an 8/16-bit image)"
            )
        return values.copy()
    if img.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(background, rgba).convert("RGB")
    else:
        rgb = img.convert("RGB")
    return np.asarray(rgb, dtype=np.float32) / 255.0


def to_uint8(image: np.ndarray | Tensor, name: str = "image") -> np.ndarray:
    """``image`` as a uint8 (H, W, C) array, rounding to nearest (MATLAB's im2uint8).

    Accepts a float tensor (C, H, W) in [0, 1] (clamped, then ``round(x * 255)``), a uint8
    tensor (C, H, W), or a numpy uint8 (H, W, C) or (H, W) array; ``name`` is used in errors.
    """
    if isinstance(image, Tensor):
        if image.dim() != 3:
            raise ValueError(f"{name}: expected a (C, H, W) tensor, got shape {tuple(image.shape)}")
        if image.dtype == torch.uint8:
            return image.permute(1, 2, 0).cpu().numpy()
        if not image.is_floating_point():
            raise TypeError(f"{name}: tensor must be float in [0, 1] or uint8, got {image.dtype}")
        array = image.detach().float().clamp(0, 1).mul(255.0).round().byte()
        return array.permute(1, 2, 0).cpu().numpy()
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise TypeError(
                f"{name}: numpy arrays must be uint8 (H, W, C), got {image.dtype}; "
                "pass float images as (C, H, W) torch tensors in [0, 1]"
            )
        if image.ndim == 2:
            return image[:, :, None]
        if image.ndim != 3:
            raise ValueError(f"{name}: expected a (H, W, C) array, got shape {image.shape}")
        return image
    raise TypeError(f"{name}: expected a numpy uint8 array or a torch tensor, got {type(image)}")


def quantize(image: Tensor) -> Tensor:
    """Clamp to [0, 1] and round to 8 bits, as an image saved to disk would be (float out)."""
    return image.clamp(0.0, 1.0).mul(255.0).round().div(255.0)


def save_image(image: Tensor, path: str | Path) -> None:
    """Write (3, H, W) float in [0, 1] as an 8-bit image (format from the suffix), through
    a temporary file renamed over ``path``; OutputWriteError naming ``path`` on failure."""
    array = to_uint8(image)
    write_atomically(path, lambda temporary: Image.fromarray(array).save(temporary))


def output_prefixes(
    inputs: Sequence[str | Path], out_dir: str | Path, suffixes: Sequence[str]
) -> list[Path]:
    """Per input file, ``out_dir / name``; its outputs are ``name + suffix`` for each suffix.

    ``name`` is the file stem (``a.png`` -> ``a``), or the whole file name where inputs of
    the same run share a stem (``a.png``, ``a.jpg`` -> ``a.png``, ``a.jpg``), so no output
    of a run overwrites another. Raises ValueError, before any work, when two inputs would
    still write the same file (the same name in two folders, a file given twice) or an
    output is an input (the same path, or the same file through a hard or symbolic link).
    """
    out_dir = Path(out_dir)
    paths = [Path(p) for p in inputs]
    stems = Counter(p.stem for p in paths)
    prefixes = [out_dir / (p.name if stems[p.stem] > 1 else p.stem) for p in paths]
    writers: dict[Path, Path] = {}
    sources: dict[object, Path] = {}
    for p in paths:
        sources.setdefault(_real(p), p)
        identity = file_identity(p)
        if identity is not None:
            sources.setdefault(identity, p)
    for path, prefix in zip(paths, prefixes, strict=True):
        for suffix in suffixes:
            output = prefix.with_name(prefix.name + suffix)
            key = _real(output)
            if key in writers and _real(writers[key]) == _real(path):
                raise ValueError(f"input {path} is given twice")
            if key in writers:
                raise ValueError(
                    f"inputs {writers[key]} and {path} would both write {output}; rename one "
                    "or process them in separate runs"
                )
            source = sources.get(key) or sources.get(file_identity(output))
            if source is not None:
                raise ValueError(f"output {output} of {path} would overwrite input {source}")
            writers[key] = path
    return prefixes


def _real(path: Path) -> Path:
    """``path`` with links resolved as far as they go (a link loop is left as it is)."""
    return Path(os.path.realpath(path))


def prepare_output_dir(path: str | Path) -> Path:
    """Create the output folder ``path`` if needed and check that it is writable.

    Raises ValueError naming the folder when it is an existing file, cannot be created or
    cannot be written to, so callers fail before doing any work.
    """
    if not str(path).strip():
        raise ValueError("the output folder is an empty name; give a folder (. for this one)")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"output folder {path} is an existing file")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create output folder {path} ({exc.strerror or exc})") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"output folder {path} is not writable")
    return path


@contextmanager
def output_folder(path: str | Path) -> Iterator[Path]:
    """:func:`prepare_output_dir` for a block of work; a folder it created is removed again
    if the block leaves it empty (all inputs failed), so a failed run leaves no trace."""
    created = not os.path.lexists(path)
    path = prepare_output_dir(path)
    try:
        yield path
    finally:
        if created:
            with suppress(OSError):  # not empty: keep it
                path.rmdir()


def list_images(folder: str | Path) -> list[Path]:
    """Sorted entries with an image suffix directly inside ``folder``, folders excepted (a
    dangling link or a FIFO is kept, for the reader to name); error if none or missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a directory")
    files = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir()
    )
    if not files:
        raise FileNotFoundError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    return files
