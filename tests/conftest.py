"""Shared test setup: offline hubs, deterministic threads, tiny configs."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Importance maps go to a per-session temp cache, never the user's ~/.cache."""
    monkeypatch.setenv("YODA_SR_CACHE", str(tmp_path_factory.getbasetemp() / "yoda-cache"))


def write_test_images(folder, count: int = 4, size: int = 48, seed: int = 0) -> list:
    """Write ``count`` small RGB PNGs of smooth gradients plus a sharp-edged square."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        base = np.stack([yy * rng.random(), xx * rng.random(), (yy + xx) / 2 * rng.random()], -1)
        top, left = rng.integers(4, size // 2, size=2)
        base[top : top + size // 3, left : left + size // 3] = rng.random(3)
        path = folder / f"img{i:02d}.png"
        Image.fromarray((base * 255).round().astype(np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "images"
    write_test_images(folder)
    return folder


TINY_SR3_OVERRIDES = [
    "model.block_out_channels=[16, 32]",
    "model.norm_num_groups=8",
    "diffusion.num_train_timesteps=100",
    "diffusion.beta_start=1.0e-4",
    "diffusion.beta_end=2.0e-2",
    "data.hr_size=32",
    "train.batch_size=2",
    "train.steps=4",
    "train.log_every=1",
    "train.checkpoint_every=2",
    "train.validate_every=4",
    "train.sample_every=4",
    "train.val_steps=3",
    "sampling.steps=5",
]
