"""Datasets and the importance cache."""

import numpy as np
import pytest
import torch
from PIL import Image

from yoda_sr.attention import AttentionConfig, build_importance_source
from yoda_sr.data.datasets import EpochSampler, PairedFolderDataset, SRFolderDataset
from yoda_sr.data.importance_cache import ImportanceCache
from yoda_sr.imaging import imresize, load_image, quantize


def detail_cache(tmp_path, **settings) -> ImportanceCache:
    config = AttentionConfig(source="detail", **settings)
    return ImportanceCache(build_importance_source(config), config, tmp_path / "cache")


def test_patch_items_are_aligned_crops_of_the_whole_image_lr(image_folder, tmp_path):
    dataset = SRFolderDataset(
        image_folder, scale=4, hr_size=32, train=True, cache=detail_cache(tmp_path)
    )
    torch.manual_seed(0)
    item = dataset[0]
    assert item["hr"].shape == (3, 32, 32) and item["lr"].shape == (3, 8, 8)
    assert item["importance"].shape == (1, 32, 32)
    assert 0 <= item["importance"].min() and item["importance"].max() <= 1
    full_hr = load_image(dataset.files[0])
    full_lr = quantize(imresize(full_hr, scale=1 / 4))
    # The LR patch is a crop of the LR of the whole image (possibly flipped), 8-bit quantised.
    found = False
    for flips in ([], [-1], [-2], [-1, -2]):
        lr = item["lr"].flip(flips) if flips else item["lr"]
        for top in range(full_lr.shape[1] - 7):
            for left in range(full_lr.shape[2] - 7):
                if torch.equal(full_lr[:, top : top + 8, left : left + 8], lr):
                    hr = item["hr"].flip(flips) if flips else item["hr"]
                    found |= torch.equal(
                        full_hr[:, top * 4 : top * 4 + 32, left * 4 : left * 4 + 32], hr
                    )
    assert found
    assert torch.equal(item["lr"] * 255, (item["lr"] * 255).round())


def test_face_mode_centre_crops_and_resizes_to_hr_size(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (90, 70, 3), dtype=np.uint8)).save(folder / "portrait.png")
    dataset = SRFolderDataset(folder, scale=8, hr_size=64, mode="face", train=False)
    item = dataset[0]
    assert item["hr"].shape == (3, 64, 64) and item["lr"].shape == (3, 8, 8)
    square = load_image(folder / "portrait.png")[:, 10:80, :]
    expected = quantize(imresize(square, size=(64, 64)))
    torch.testing.assert_close(item["hr"], expected)


def test_image_smaller_than_the_patch_is_a_clear_error(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    Image.new("RGB", (20, 20)).save(folder / "tiny.png")
    with pytest.raises(ValueError, match="tiny.png.*smaller than the HR patch"):
        SRFolderDataset(folder, scale=4, hr_size=32)[0]


def test_importance_cache_hits_disk_and_is_keyed_by_settings(image_folder, tmp_path):
    cache = detail_cache(tmp_path)
    first = SRFolderDataset(image_folder, scale=4, hr_size=32, train=False, cache=cache)
    files = sorted(cache.folder.glob("*.npy"))
    assert len(files) == len(first)
    again = SRFolderDataset(
        image_folder, scale=4, hr_size=32, train=False, cache=detail_cache(tmp_path)
    )
    assert torch.equal(first[1]["importance"], again[1]["importance"])
    assert sorted(cache.folder.glob("*.npy")) == files  # nothing recomputed
    other = detail_cache(tmp_path, smooth_sigma=2.0)
    SRFolderDataset(image_folder, scale=4, hr_size=32, train=False, cache=other)
    assert other.folder != cache.folder and len(list(other.folder.glob("*.npy"))) == len(first)


def test_paired_folders_match_by_stem_and_report_missing_lr(tmp_path):
    hr_dir, lr_dir = tmp_path / "hr", tmp_path / "lr"
    hr_dir.mkdir(), lr_dir.mkdir()
    Image.new("RGB", (34, 30), (10, 20, 30)).save(hr_dir / "a.png")
    Image.new("RGB", (8, 7), (10, 20, 30)).save(lr_dir / "a.png")
    pair = PairedFolderDataset(lr_dir, hr_dir, scale=4)[0]
    assert pair["hr"].shape == (3, 28, 32) and pair["lr"].shape == (3, 7, 8)
    Image.new("RGB", (32, 32)).save(hr_dir / "b.png")
    with pytest.raises(FileNotFoundError, match="no LR image for HR b"):
        PairedFolderDataset(lr_dir, hr_dir, scale=4)


def test_epoch_sampler_and_seeded_items_depend_on_seed_and_epoch_only(image_folder):
    sampler = EpochSampler(4, seed=7)
    sampler.set_epoch(3)
    first = list(sampler)
    assert sorted(i for i, _ in first) == [0, 1, 2, 3] and first == list(sampler)
    sampler.set_epoch(4)
    assert list(sampler) != first
    dataset = SRFolderDataset(image_folder, scale=4, hr_size=32, train=True)
    a, b = dataset[first[0]], dataset[first[0]]
    assert torch.equal(a["hr"], b["hr"]) and torch.equal(a["lr"], b["lr"])


def test_paired_folder_with_two_files_of_one_stem_is_refused(tmp_path):
    hr_dir, lr_dir = tmp_path / "hr", tmp_path / "lr"
    hr_dir.mkdir(), lr_dir.mkdir()
    Image.new("RGB", (32, 32)).save(hr_dir / "a.png")
    Image.new("RGB", (8, 8)).save(lr_dir / "a.png")
    Image.new("RGB", (8, 8), (255, 0, 0)).save(lr_dir / "a.bmp")
    with pytest.raises(ValueError, match="a.bmp and a.png share the name 'a'"):
        PairedFolderDataset(lr_dir, hr_dir, scale=4)
