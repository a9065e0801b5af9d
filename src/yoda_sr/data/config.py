"""Where the training images are and how samples are cut from them (YAML section ``data:``)."""

from __future__ import annotations

from dataclasses import dataclass

MODES = ("patch", "face")


@dataclass
class DataConfig:
    """Where the images are and how training samples are cut from them.

    ``mode="patch"``: random ``hr_size`` crops of each (mod-cropped) HR image, LR made by
    MATLAB bicubic downscaling of the whole image, flips. ``mode="face"``: each image is
    centre-cropped to a square and resized to ``hr_size`` (faces 16->128), horizontal flip.
    Validation uses a deterministic centre crop of ``hr_size``.
    """

    train_dir: str = ""
    val_dir: str = ""
    hr_size: int = 64
    mode: str = "patch"
    flip: bool = True
    skip_unreadable: bool = False
    cache_dir: str = ""
    num_workers: int = 0
    val_limit: int = 8

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"data.mode must be one of {MODES}, got {self.mode!r}")
