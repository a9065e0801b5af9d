"""Metrics under the BasicSR / MATLAB protocol: parity with scikit-image, hand-computed values."""

import json
import math
import warnings

import lpips
import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from yoda_sr.metrics import (
    LpipsMetric,
    color_shift,
    evaluate_pair,
    protocol_description,
    psnr,
    rgb_to_y,
    ssim,
)
from yoda_sr.metrics.perceptual import BACKBONE_FILES


def _pair(h: int = 40, w: int = 36, sigma: float = 12.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    noisy = ref.astype(np.float64) + rng.normal(0, sigma, ref.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8), ref


def _smooth_pair(sigma: float, seed: int = 0, size: int = 64):
    """A smooth colourful image and a noisy copy (uint8 (H, W, 3))."""
    y, x = np.mgrid[0:size, 0:size] / size
    ref = np.stack([0.5 + 0.4 * np.sin(6 * x), 0.5 + 0.4 * np.cos(5 * y), 0.3 + 0.4 * x * y], -1)
    ref = np.round(ref * 255).astype(np.uint8)
    noise = np.random.default_rng(seed).normal(0, sigma, ref.shape)
    return np.clip(np.round(ref + noise), 0, 255).astype(np.uint8), ref


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255.0


def test_psnr_rgb_matches_skimage():
    img, ref = _pair()
    expected = peak_signal_noise_ratio(ref, img, data_range=255)
    assert psnr(img, ref) == pytest.approx(expected, abs=1e-10)


def test_psnr_crop_border_removes_pixels_from_each_side():
    img, ref = _pair()
    expected = peak_signal_noise_ratio(ref[4:-4, 4:-4], img[4:-4, 4:-4], data_range=255)
    assert psnr(img, ref, crop_border=4) == pytest.approx(expected, abs=1e-10)
    assert psnr(img, ref, crop_border=4) != pytest.approx(psnr(img, ref), abs=1e-6)


def test_psnr_of_constant_offset_one_is_20_log10_255():
    ref = np.full((16, 16, 3), 100, dtype=np.uint8)
    assert psnr(ref + 1, ref) == pytest.approx(20 * math.log10(255), abs=1e-12)


def test_psnr_y_of_gray_offset_one_uses_bt601_luma():
    # For gray pixels Y = 16 + 219 v / 255, so an RGB offset of 1 is a Y offset of 219 / 255.
    ref = np.full((16, 16, 3), 100, dtype=np.uint8)
    expected = 10 * math.log10(255**2 / (219 / 255) ** 2)
    assert psnr(ref + 1, ref, test_y_channel=True) == pytest.approx(expected, abs=1e-10)


def test_identical_images_give_infinite_psnr_and_unit_ssim():
    img, _ = _pair()
    assert psnr(img, img) == math.inf
    assert psnr(img, img, test_y_channel=True) == math.inf
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-12)


def test_float_tensors_are_quantised_like_uint8():
    img, ref = _pair()
    assert psnr(_to_tensor(img), _to_tensor(ref)) == psnr(img, ref)
    assert ssim(_to_tensor(img), _to_tensor(ref), 2, True) == ssim(img, ref, 2, True)
    # Values off the uint8 grid are rounded first (and clamped to [0, 1]).
    nudged = (_to_tensor(ref) + 0.3 / 255).clamp(max=1.0)
    assert psnr(nudged, ref) == math.inf


def test_rgb_to_y_matches_matlab_rgb2ycbcr_range():
    pixels = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0]]], dtype=np.uint8)
    y = rgb_to_y(pixels)
    np.testing.assert_allclose(y[0], [16.0, 235.0, 16 + 65.481], atol=1e-12)


def test_ssim_rgb_matches_skimage_valid_region_mean():
    # skimage's mean SSIM averages its map cropped by (win_size - 1) / 2 = 5 pixels, which is the
    # 'valid' region, and with truncate=3.5, sigma=1.5 its Gaussian window is 11x11: the same
    # quantity as BasicSR's, so the comparison is exact up to float rounding.
    img, ref = _pair()
    expected = structural_similarity(
        img,
        ref,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=-1,
    )
    assert ssim(img, ref) == pytest.approx(expected, abs=1e-10)


def test_ssim_y_matches_skimage_on_luma():
    img, ref = _pair(seed=1)
    y_img, y_ref = rgb_to_y(img[3:-3, 3:-3]), rgb_to_y(ref[3:-3, 3:-3])
    expected = structural_similarity(
        y_img,
        y_ref,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
    )
    assert ssim(img, ref, crop_border=3, test_y_channel=True) == pytest.approx(expected, abs=1e-10)


def test_ssim_decreases_with_noise():
    scores = [ssim(*_smooth_pair(sigma)) for sigma in (2, 10, 40)]
    assert 1 > scores[0] > scores[1] > scores[2]


def test_shape_mismatch_names_both_shapes():
    a = np.zeros((16, 16, 3), dtype=np.uint8)
    b = np.zeros((16, 18, 3), dtype=np.uint8)
    for metric in (psnr, ssim, color_shift, evaluate_pair):
        with pytest.raises(ValueError, match=r"\(16, 16, 3\).*\(16, 18, 3\)"):
            metric(a, b)


def test_bad_inputs_raise_clear_errors():
    a = np.zeros((16, 16, 3), dtype=np.uint8)
    with pytest.raises(TypeError, match="uint8"):
        psnr(a.astype(np.float32), a)
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(a, a, crop_border=3)
    with pytest.raises(ValueError, match="crop_border"):
        psnr(a, a, crop_border=8)


def test_lpips_without_backbone_weights_is_unavailable_and_returns_none(tmp_path):
    for net in ("alex", "vgg"):
        metric = LpipsMetric(net=net, hub_dir=tmp_path)
        assert metric.available is False
        assert BACKBONE_FILES[net] in metric.reason
        img, ref = _smooth_pair(5)
        assert metric(img, ref) is None
    with pytest.raises(ValueError, match="net must be one of"):
        LpipsMetric(net="resnet")


@pytest.fixture(scope="module")
def random_backbone_lpips(tmp_path_factory):
    """(LpipsMetric, lpips.LPIPS) sharing one randomly initialised AlexNet backbone.

    The backbone is written to a fake torch hub cache in torchvision's key layout
    (``features.<i>.weight``) so the metric goes through its real loading path.
    """
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        reference = lpips.LPIPS(pretrained=True, net="alex", pnet_rand=True, verbose=False).eval()
    hub = tmp_path_factory.mktemp("hub")
    (hub / "checkpoints").mkdir()
    state = {
        "features." + name.split(".", 1)[1]: p.detach().clone()
        for name, p in reference.net.named_parameters()
    }
    torch.save(state, hub / "checkpoints" / BACKBONE_FILES["alex"])
    metric = LpipsMetric(net="alex", hub_dir=hub)
    return metric, reference


def test_lpips_matches_lpips_package_and_grows_with_noise(random_backbone_lpips):
    metric, reference = random_backbone_lpips
    assert metric.available and metric.reason == ""
    img, ref = _smooth_pair(10)
    with torch.no_grad():
        expected = reference(_to_tensor(img)[None] * 2 - 1, _to_tensor(ref)[None] * 2 - 1).item()
    assert metric(img, ref) == pytest.approx(expected, rel=1e-5)
    assert metric(ref, ref) == 0.0
    distances = [metric(*_smooth_pair(sigma)) for sigma in (3, 15, 60)]
    assert 0 < distances[0] < distances[1] < distances[2]


def test_color_shift_of_identical_images_is_zero():
    img, _ = _smooth_pair(0)
    shift = color_shift(img, img)
    assert all(value == 0 for value in shift.values())


def test_color_shift_of_uniform_red_offset():
    _, ref = _smooth_pair(0)
    ref = (ref.astype(np.int64) * 200 // 255).astype(np.uint8)  # room for +10 without clipping
    img = ref.copy()
    img[..., 0] += 10
    shift = color_shift(img, ref)
    assert shift["mean_diff_r"] == pytest.approx(10.0, abs=1e-12)
    assert shift["mean_diff_g"] == 0 and shift["mean_diff_b"] == 0
    assert shift["mean_diff_norm"] == pytest.approx(10.0, abs=1e-12)
    assert shift["delta_e76"] > 1 and shift["delta_e2000"] > 1
    assert color_shift(ref, img)["mean_diff_r"] == pytest.approx(-10.0, abs=1e-12)


def test_color_shift_of_zero_mean_noise_is_small():
    _, ref = _smooth_pair(0)
    ref = np.clip(ref, 20, 235)
    sign = np.where(np.indices(ref.shape[:2]).sum(0) % 2 == 0, 1, -1)[..., None]
    img = (ref.astype(np.int64) + 12 * sign).astype(np.uint8)  # +-12 checkerboard, mean 0
    shift = color_shift(img, ref)
    assert abs(shift["mean_diff_r"]) < 1e-12 and shift["mean_diff_norm"] < 1e-12
    assert shift["delta_e76"] < 1.0 and shift["delta_e2000"] < 1.0


def test_evaluate_pair_collects_every_metric(random_backbone_lpips):
    metric, _ = random_backbone_lpips
    sr, hr = _smooth_pair(8)
    results = evaluate_pair(_to_tensor(sr), hr, crop_border=4, lpips_metric=metric)
    assert list(results) == [
        "psnr_rgb",
        "ssim_rgb",
        "psnr_y",
        "ssim_y",
        "lpips",
        "delta_e76",
        "delta_e2000",
        "mean_diff_r",
        "mean_diff_g",
        "mean_diff_b",
        "mean_diff_norm",
    ]
    assert results["psnr_rgb"] == psnr(sr, hr, crop_border=4)
    assert results["ssim_y"] == ssim(sr, hr, crop_border=4, test_y_channel=True)
    assert results["lpips"] > 0
    assert results["lpips"] == pytest.approx(metric(sr, hr, crop_border=4), abs=1e-7)
    assert results["delta_e76"] == color_shift(sr, hr, crop_border=4)["delta_e76"]
    assert evaluate_pair(sr, hr)["lpips"] is None


def test_protocol_description_is_json_and_names_settings():
    protocol = protocol_description(crop_border=4, lpips_net="alex")
    text = json.dumps(protocol)
    assert protocol["crop_border"] == 4 and protocol["data_range"] == 255
    assert protocol["lpips"]["net"] == "alex" and protocol["lpips"]["version"] == "0.1"
    assert "11x11" in text and "65.481" in text and "uint8" in text
    assert protocol_description(crop_border=0, lpips_net=None)["lpips"] is None
