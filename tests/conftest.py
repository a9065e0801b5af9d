"""Shared test setup: offline hubs, deterministic threads, tiny configs, a tiny ViT."""

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


@pytest.fixture(scope="session")
def tiny_vit_folder(tmp_path_factory) -> str:
    """A tiny random DINO-like ViT (patch 8, 2 layers, 2 heads) saved as a Hugging Face folder."""
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    config = ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        patch_size=8,
        image_size=224,
    )
    folder = tmp_path_factory.mktemp("tiny-vit")
    ViTModel(config, add_pooling_layer=False).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A tiny random SR3+YODA model saved as a pipeline folder (T = 100, x4)."""
    from yoda_sr.config import ExperimentConfig
    from yoda_sr.models import build_model
    from yoda_sr.pipeline import YodaPipeline

    folder = tmp_path_factory.mktemp("tiny_model") / "model"
    config = ExperimentConfig.load("sr3_tiny", TINY_SR3_OVERRIDES)
    torch.manual_seed(0)
    YodaPipeline(build_model(config.model), config).save_pretrained(folder)
    return folder


@pytest.fixture
def lr_image(tmp_path):
    """An 8x8 random RGB PNG."""
    import numpy as np
    from PIL import Image

    path = tmp_path / "lr.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(path)
    return path


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
    # The tests pin the sampler's own output; the colour fix has its own tests.
    "sampling.color_fix=none",
]

# A tiny SRDiff (x4): 1-block RRDB encoder, 2-level denoiser, DDIM-4 by default.
TINY_SRDIFF_OVERRIDES = [
    "model.rrdb={num_features: 8, num_blocks: 1, growth_channels: 4, scale: 4, feature_stride: 1}",
    (
        "model.denoiser={scale: 4, encoder_channels: 16, cond_channels: 8, base_channels: 8,"
        " channel_multipliers: [1, 2], layers_per_block: 1, norm_num_groups: 4}"
    ),
    "sampling.steps=4",
    "sampling.color_fix=none",
]

# Two training steps on 32 px patches, with a checkpoint and a validation at the end.
TWO_STEP_TRAINING_OVERRIDES = [
    "data.hr_size=32",
    "train.batch_size=2",
    "train.steps=2",
    "train.checkpoint_every=2",
    "train.validate_every=2",
    "train.val_steps=3",
]


def gaussian_blob_importance(
    size: tuple[int, int],
    centers: tuple[tuple[float, float], ...] = ((0.5, 0.5),),
    sigma: float = 0.15,
    batch: int = 1,
) -> torch.Tensor:
    """Synthetic importance map (no ViT): a sum of isotropic Gaussian blobs, max-normalised
    to [0, 1]. ``centers`` are (y, x) in relative [0, 1] coordinates and ``sigma`` is relative
    to the image height. Returns (batch, 1, H, W)."""
    h, w = size
    ys = torch.linspace(0.0, 1.0, h).view(h, 1)
    xs = torch.linspace(0.0, 1.0, w).view(1, w) * (w / h)
    blob = torch.zeros(h, w)
    for cy, cx in centers:
        blob += torch.exp(-((ys - cy) ** 2 + (xs - cx * w / h) ** 2) / (2 * sigma**2))
    blob = blob / blob.max().clamp_min(1e-12)
    return blob.expand(batch, 1, h, w).clone()


def load_benchmark(name: str):
    """The script ``benchmarks/<name>.py`` as a module (its folder importable meanwhile)."""
    import importlib.util
    import sys
    from pathlib import Path

    benchmarks = Path(__file__).resolve().parent.parent / "benchmarks"
    sys.path.insert(0, str(benchmarks))
    try:
        spec = importlib.util.spec_from_file_location(name, benchmarks / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(benchmarks))
