"""Degradation kernels, operators, presets and evaluation sets."""

import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import special
from torch.utils.data import DataLoader

from yoda_sr.config import ExperimentConfig
from yoda_sr.data.datasets import SRFolderDataset
from yoda_sr.degradations import (
    DegradationConfig,
    add_gaussian_noise,
    box_kernel,
    circular_sinc_kernel,
    degrade,
    gaussian_kernel,
    generalized_gaussian_kernel,
    jpeg,
    make_eval_set,
    motion_kernel,
    plateau_kernel,
    read_eval_set,
    sample_rng,
    verify_eval_set,
)
from yoda_sr.evaluation.restoration import evaluate_baselines
from yoda_sr.imaging import load_image, make_lr
from yoda_sr.metrics import piqe


def smooth_image(h=64, w=64):
    """A smooth colour image (3, h, w) in [0.1, 0.9]."""
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack(
        [0.5 + 0.4 * torch.sin(3 * x), 0.5 + 0.4 * torch.cos(2 * y), 0.3 + 0.4 * x * y]
    )


@pytest.mark.parametrize(
    "kernel",
    [
        gaussian_kernel(21, 2.0),
        gaussian_kernel(15, 2.0, 0.7, 0.5),
        generalized_gaussian_kernel(13, 1.5, 0.8, 1.0, beta=0.6),
        plateau_kernel(11, 1.5, 1.0, -0.3, beta=1.7),
        circular_sinc_kernel(21, math.pi / 4),
        box_kernel(9),
        motion_kernel(9, math.radians(30)),
    ],
)
def test_kernels_are_odd_squares_summing_to_one(kernel):
    assert kernel.ndim == 2 and kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
    assert kernel.sum() == pytest.approx(1.0, abs=1e-12)


def test_gaussian_shapes_and_orientation():
    iso = gaussian_kernel(21, 2.0)
    assert iso.shape == (21, 21) and np.allclose(iso, iso.T) and iso.argmax() == 21 * 10 + 10
    # Variance of a sampled isotropic Gaussian along x is sigma^2 (to 1e-5 here).
    x = np.arange(21) - 10
    assert (iso.sum(axis=0) * x**2).sum() == pytest.approx(4.0, rel=1e-4)
    wide_x = gaussian_kernel(21, 3.0, 1.0, 0.0)
    assert (wide_x.sum(axis=0) * x**2).sum() > (wide_x.sum(axis=1) * x**2).sum()
    assert np.allclose(gaussian_kernel(21, 3.0, 1.0, math.pi / 2), wide_x.T)
    assert np.allclose(generalized_gaussian_kernel(15, 2.0, beta=1.0), gaussian_kernel(15, 2.0))
    with pytest.raises(ValueError, match="odd"):
        gaussian_kernel(20, 1.0)


def test_sinc_centre_value_from_the_formula():
    size, cutoff = 21, math.pi / 3
    kernel = circular_sinc_kernel(size, cutoff)
    # Written afresh: k(r) = w J1(w r) / (2 pi r), k(0) = w^2 / (4 pi), normalised to sum 1.
    total = 0.0
    for i in range(size):
        for j in range(size):
            r = math.hypot(i - 10, j - 10)
            total += (
                cutoff**2 / (4 * math.pi)
                if r == 0
                else cutoff * special.j1(cutoff * r) / (2 * math.pi * r)
            )
    assert kernel[10, 10] == pytest.approx(cutoff**2 / (4 * math.pi) / total, rel=1e-12)


def test_box_and_motion_kernels():
    assert np.all(box_kernel(5) == 1 / 25)
    horizontal = motion_kernel(7, 0.0)
    assert horizontal.shape == (7, 7) and np.allclose(horizontal[3], horizontal.sum(axis=0))
    assert np.allclose(motion_kernel(7, math.pi / 2), horizontal.T)


@pytest.mark.parametrize("sigma", [15, 50])
def test_empirical_noise_sigma_matches_the_setting(sigma):
    image = torch.full((3, 128, 128), 0.5)
    noisy = add_gaussian_noise(image, sigma / 255, gray=False, rng=sample_rng(0, 0, 0))
    assert float((noisy - image).std()) * 255 == pytest.approx(sigma, rel=0.03)
    gray = add_gaussian_noise(image, sigma / 255, gray=True, rng=sample_rng(0, 0, 0))
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])
    lr, _ = degrade(
        image, DegradationConfig(f"denoise-sigma{sigma}").params(), sample_rng(0, 0, 0), 1
    )
    assert float((lr - image).std()) * 255 == pytest.approx(sigma, rel=0.04)


def test_jpeg_at_quality_100_is_near_identity_and_low_quality_is_not():
    image = smooth_image()
    error_100 = float((jpeg(image, 100) - image).abs().max())
    assert error_100 < 4 / 255
    assert float((jpeg(image, 10) - image).abs().mean()) > float(
        (jpeg(image, 100) - image).abs().mean()
    )


@pytest.mark.parametrize("preset", ["x4-real", "denoise-sigma25", "deblur-gaussian", "jpeg-q10"])
def test_a_fixed_seed_epoch_index_gives_identical_degradations(preset):
    hr = textured_image(96, 80)
    params = DegradationConfig(preset).params()
    scale = DegradationConfig(preset).scale(4)
    a, drawn_a = degrade(hr, params, sample_rng(3, 1, 7), scale)
    b, drawn_b = degrade(hr, params, sample_rng(3, 1, 7), scale)
    assert torch.equal(a, b) and drawn_a == drawn_b
    if preset in ("x4-real", "denoise-sigma25"):  # random presets: another triple differs
        for other in ((3, 1, 8), (3, 2, 7), (4, 1, 7)):
            assert not torch.equal(a, degrade(hr, params, sample_rng(*other), scale)[0])


def textured_image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    base = smooth_image(h, w)
    return (base + torch.from_numpy(rng.normal(0, 0.05, base.shape)).float()).clamp(0, 1)


def test_x4_real_outputs_exactly_a_quarter_of_the_hr_size():
    hr = textured_image(100, 72)
    for index in range(6):
        lr, _ = degrade(hr, DegradationConfig("x4-real").params(), sample_rng(0, 0, index), 4)
        assert lr.shape == (3, 25, 18)
        assert torch.equal(lr * 255, (lr * 255).round()) and 0 <= lr.min() and lr.max() <= 1


def test_x4_bicubic_preset_is_todays_lr_bit_for_bit(image_folder):
    for path in sorted(image_folder.iterdir()):
        hr, expected = make_lr(load_image(path), 4)
        for preset in ("x4-bicubic", "bicubic"):
            lr, _ = degrade(hr, DegradationConfig(preset).params(), sample_rng(0, 0, 0), 4)
            assert torch.equal(lr, expected)


def test_presets_load_by_name_and_unknown_names_or_options_are_refused():
    assert DegradationConfig("jpeg-q30").params().quality == 30
    assert DegradationConfig("deblur-box").params().kernel == "box"
    assert DegradationConfig("denoise-sigma50", {"sigma": 30}).params().sigma == 30.0
    assert DegradationConfig("x4-real").scale(8) == 4 and DegradationConfig("bicubic").scale(8) == 8
    with pytest.raises(
        ValueError, match=r"degradation.preset \(--degradation\): unknown preset 'x3-real'"
    ):
        DegradationConfig("x3-real")
    with pytest.raises(ValueError, match="unknown setting.*'strength'"):
        DegradationConfig("jpeg-q10", {"strength": 3})
    with pytest.raises(ValueError, match="degradation.options.quality"):
        DegradationConfig("jpeg-q10", {"quality": 0})


def test_eval_set_is_written_as_png_and_json_and_reproduces(tmp_path):
    hr_dir = tmp_path / "hr_src"
    hr_dir.mkdir()
    for i in range(2):
        array = (textured_image(70 + 8 * i, 66, seed=i).permute(1, 2, 0).numpy() * 255).round()
        Image.fromarray(array.astype(np.uint8)).save(hr_dir / f"img{i}.png")
    for preset in ("x4-real", "denoise-sigma25"):
        out = tmp_path / preset
        record = make_eval_set(hr_dir, out, DegradationConfig(preset), seed=0)
        assert sorted(p.name for p in (out / "lr").iterdir()) == ["img0.png", "img1.png"]
        assert (
            record["preset"] == preset
            and record["seed"] == 0
            and (out / "degradation.json").is_file()
        )
        saved, images = read_eval_set(out)
        assert saved == record
        scale = record["scale"]
        for _, lr, hr in images:
            assert lr.shape[1] * scale == hr.shape[1] and lr.shape[2] * scale == hr.shape[2]
        assert verify_eval_set(out) == []
        # Another seed makes other inputs; a tampered input is reported.
        other = make_eval_set(hr_dir, tmp_path / f"{preset}-1", DegradationConfig(preset), seed=1)
        assert other["images"][0]["drawn"] != record["images"][0]["drawn"] or preset != "x4-real"
        lr_path = out / "lr" / "img1.png"
        pixels = np.asarray(Image.open(lr_path)).copy()
        pixels[0, 0] ^= 1
        Image.fromarray(pixels).save(lr_path)
        assert verify_eval_set(out) == ["img1"]


def test_training_items_with_a_random_preset_are_fixed_by_their_seed_in_workers_too(image_folder):
    config = DegradationConfig("x4-real")
    dataset = SRFolderDataset(image_folder, scale=4, hr_size=32, train=True, degradation=config)
    first = dataset[(1, 123)]
    assert first["hr"].shape == (3, 32, 32) and first["lr"].shape == (3, 8, 8)
    assert torch.equal(first["lr"], dataset[(1, 123)]["lr"])
    assert not torch.equal(first["lr"], dataset[(1, 124)]["lr"])
    items = [(0, 5), (1, 123), (2, 9)]
    loader = DataLoader(dataset, batch_size=3, sampler=items, num_workers=2)
    batch = next(iter(loader))
    for position, item in enumerate(items):
        assert torch.equal(batch["lr"][position], dataset[item]["lr"])
    # The default preset keeps today's items (the same crops and LR for the same seed).
    plain = SRFolderDataset(image_folder, scale=4, hr_size=32, train=True)
    default = SRFolderDataset(
        image_folder, scale=4, hr_size=32, train=True, degradation=DegradationConfig()
    )
    assert torch.equal(plain[(1, 123)]["lr"], default[(1, 123)]["lr"])


def test_experiment_config_takes_the_degradation_section_and_checks_its_scale():
    config = ExperimentConfig.load("sr3_tiny", ["degradation.preset=x4-real", "model.scale=4"])
    assert config.degradation.params().kind == "real-esrgan"
    assert config.to_dict()["degradation"] == {"preset": "x4-real", "options": {}}
    with pytest.raises(ValueError, match="degrades by x1, but model.scale is 4"):
        ExperimentConfig.load("sr3_tiny", ["degradation.preset=jpeg-q10", "model.scale=4"])
    with pytest.raises(ValueError, match="--degradation"):
        ExperimentConfig.load("sr3_tiny", ["degradation.preset=nope"])


def test_piqe_is_in_range_and_rises_with_noise():
    clean = textured_image(128, 128)
    noisy, _ = degrade(clean, DegradationConfig("denoise-sigma50").params(), sample_rng(0, 0, 0), 1)
    clean_score, noisy_score = piqe(clean), piqe(noisy)
    assert 0 <= clean_score <= 100 and 0 <= noisy_score <= 100
    assert noisy_score > clean_score
    assert piqe(torch.full((3, 40, 40), 0.5)) == 100.0  # no active block: (C + 0) / (C + 0)


@pytest.mark.parametrize(
    ("preset", "methods"),
    [
        ("denoise-sigma25", ["nl-means", "wavelet"]),
        ("deblur-box", ["wiener", "richardson-lucy"]),
        ("jpeg-q10", ["tv"]),
        ("x4-real", ["nl-means+bicubic", "wavelet+bicubic"]),
    ],
)
def test_classical_baselines_are_scored_on_an_eval_set(tmp_path, preset, methods):
    hr_dir = tmp_path / "hr_src"
    hr_dir.mkdir()
    array = (textured_image(64, 64).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(array).save(hr_dir / "a.png")
    make_eval_set(hr_dir, tmp_path / "set", DegradationConfig(preset))
    result = evaluate_baselines(tmp_path / "set")
    assert list(result["means"]) == ["input", *methods]
    for values in result["means"].values():
        assert {"psnr_rgb", "ssim_y", "delta_e2000", "piqe", "seconds"} <= set(values)
    # Denoising with a fitting method beats the noisy input.
    if preset == "denoise-sigma25":
        assert result["means"]["nl-means"]["psnr_rgb"] > result["means"]["input"]["psnr_rgb"]


def test_on_sr_sets_a_method_restores_the_lr_and_bicubic_upscales_its_output(tmp_path):
    hr_dir = tmp_path / "hr_src"
    hr_dir.mkdir()
    array = (textured_image(64, 48).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(array).save(hr_dir / "a.png")
    make_eval_set(hr_dir, tmp_path / "set", DegradationConfig("x4-real"))
    seen: list[tuple[int, ...]] = []

    def identity(image: np.ndarray) -> np.ndarray:
        seen.append(image.shape)
        return image

    result = evaluate_baselines(tmp_path / "set", methods={"identity": identity})
    assert seen == [(16, 12, 3)]  # the LR, (H / 4, W / 4, 3)
    assert result["means"]["identity"]["psnr_rgb"] == result["means"]["input"]["psnr_rgb"]
