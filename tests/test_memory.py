"""Bounded memory: the detail map of huge outputs, and the up-front estimate of upscaling."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_SR3_OVERRIDES
from skimage import data
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

import yoda_sr.pipeline.memory as memory
from yoda_sr.attention.detail import DetailImportance
from yoda_sr.config import ExperimentConfig
from yoda_sr.models import build_model
from yoda_sr.pipeline import InsufficientMemoryError, YodaPipeline


class LargestTensor(TorchDispatchMode):
    """Records the element count of the largest tensor any torch op produces."""

    def __init__(self) -> None:
        super().__init__()
        self.numel = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self.numel = max(self.numel, leaf.numel())
        return out


def astronaut_lr(height: int, width: int) -> torch.Tensor:
    image = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float()[None] / 255.0
    return F.interpolate(image, size=(height, width), mode="area")


def test_detail_map_within_the_analysis_budget_is_unchanged():
    lr = astronaut_lr(48, 64)
    assert torch.equal(
        DetailImportance()(lr, (192, 256)),
        DetailImportance(max_analysis_pixels=None)(lr, (192, 256)),
    )


def test_detail_map_beyond_the_analysis_budget_is_near_identical():
    lr = astronaut_lr(128, 96)
    full = DetailImportance(max_analysis_pixels=None)(lr, (512, 384))
    reduced = DetailImportance(max_analysis_pixels=512 * 384 // 4)(lr, (512, 384))
    assert reduced.shape == full.shape and 0 <= reduced.min() and reduced.max() <= 1
    assert (full - reduced).abs().mean() < 0.03
    assert torch.corrcoef(torch.stack([full.flatten(), reduced.flatten()]))[0, 1] > 0.99


def test_detail_map_of_a_huge_output_allocates_nothing_larger_than_the_output():
    with LargestTensor() as small:
        DetailImportance(max_analysis_pixels=None)(astronaut_lr(16, 16), (64, 64))
    assert small.numel >= 3 * 64 * 64  # unbounded: the upsampled RGB image is 3x the output
    lr = torch.rand(1, 3, 500, 750, generator=torch.Generator().manual_seed(0))
    with LargestTensor() as large:
        importance = DetailImportance(max_analysis_pixels=2**20)(lr, (2000, 3000))
    assert importance.shape == (1, 1, 2000, 3000)
    assert large.numel == 2000 * 3000


@pytest.fixture(scope="module")
def pipe() -> YodaPipeline:
    config = ExperimentConfig.load("sr3_tiny", TINY_SR3_OVERRIDES)
    return YodaPipeline(build_model(config.model), config)


def test_memory_estimate_grows_with_the_image_and_shrinks_with_tiles(pipe):
    small, large = pipe.estimate_memory((32, 32)), pipe.estimate_memory((256, 256))
    assert large - memory.FIXED_BYTES == pytest.approx(64 * (small - memory.FIXED_BYTES))
    assert pipe.estimate_memory((256, 256), tile=128) < large / 3
    # tiles are rounded up to whole LR pixels and the UNet's multiple, as the tiler does
    assert pipe.estimate_memory((256, 256), tile=126) == pipe.estimate_memory((256, 256), tile=128)
    pixels = 1024 * 1024
    per_pixel = memory.IMAGE_BYTES_PER_PIXEL + memory.network_bytes_per_pixel(pipe.config.model)
    expected = memory.FIXED_BYTES + pixels * per_pixel
    assert pipe.estimate_memory((256, 256)) == pytest.approx(expected)


def test_memory_check_names_the_image_and_suggests_the_largest_tile_that_fits(pipe, monkeypatch):
    available = pipe.estimate_memory((256, 256), tile=256)
    monkeypatch.setattr(memory, "available_memory_bytes", lambda device: available)
    pipe.check_memory((256, 256), tile=256)
    with pytest.raises(
        InsufficientMemoryError, match=r"photo\.png: upscaling 256x256 by x4"
    ) as info:
        pipe.check_memory((256, 256), name="photo.png")
    assert info.value.suggested_tile == 256 and "--tile 256" in str(info.value)
    monkeypatch.setattr(memory, "available_memory_bytes", lambda device: 2**20)
    with pytest.raises(InsufficientMemoryError, match="even with --tile 64") as info:
        pipe.check_memory((256, 256))
    assert info.value.suggested_tile is None
    monkeypatch.setattr(memory, "available_memory_bytes", lambda device: None)
    pipe.check_memory((4096, 4096))  # unknown: no check


def test_available_memory_falls_back_to_proc_meminfo(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemAvailable:    1234567 kB\n")
    assert memory._meminfo_available(meminfo) == 1234567 * 1024
    assert memory._meminfo_available(tmp_path / "missing") is None
    monkeypatch.setitem(sys.modules, "psutil", None)  # not installed
    monkeypatch.setattr(memory, "_meminfo_available", lambda: 42)
    assert memory.available_memory_bytes("cpu") == 42
    assert memory.available_memory_bytes("meta") is None
