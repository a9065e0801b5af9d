"""Issue 19: importance that means the same everywhere (absolute detail normalisation), its
calibration, and saved models that keep the normalisation they were trained with."""

import json

import pytest
import torch

from yoda_sr.attention import AttentionConfig, DetailImportance, calibrate_detail_reference
from yoda_sr.attention.config import DEFAULT_DETAIL_REFERENCE


def _texture(height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(seed))


def _ramp(slope: float, height: int = 24, width: int = 24) -> torch.Tensor:
    """A grey LR image whose value rises by ``slope`` per pixel to the right."""
    row = 0.2 + slope * torch.arange(width, dtype=torch.float32)
    return row.expand(1, 3, height, width).clone()


@pytest.mark.parametrize("size", [(8, 8), (13, 29), (64, 48)])
def test_absolute_importance_of_constant_and_near_flat_images_is_near_zero(size):
    h, w = size
    constant = torch.full((1, 3, h, w), 0.6)
    # Sky-like: a faint gradient (0.25 grey levels per pixel) and +-0.5 grey level noise.
    sky = _ramp(0.25 / 255, h, w) + (torch.rand(1, 3, h, w) - 0.5) / 255
    for scale in (1, 4):
        out = (h * scale, w * scale)
        assert DetailImportance()(constant, out).max() < 1e-4
        assert DetailImportance()(sky, out).mean() < 0.05
    # Per image, the same faint gradients are stretched to full importance.
    assert DetailImportance(normalization="per_image")(sky, (h * 4, w * 4)).max() == 1.0


def test_a_ramp_has_its_slope_over_the_reference_as_importance():
    # Sobel on a linear ramp measures its slope exactly: 0.03 luma per LR pixel is half of
    # the reference 0.06, away from the left and right borders (replicate padding).
    importance = DetailImportance(reference=0.06, floor=0.0)(_ramp(0.03), (96, 96))[0, 0]
    torch.testing.assert_close(importance[:, 16:-16], torch.full((96, 64), 0.5), atol=2e-3, rtol=0)
    doubled = DetailImportance(reference=0.03, floor=0.0)(_ramp(0.03), (96, 96))[0, 0]
    torch.testing.assert_close(doubled[:, 16:-16], torch.ones(96, 64), atol=2e-3, rtol=0)


def test_the_floor_maps_slopes_linearly_from_the_floor_to_the_reference():
    # Slope s between floor f and reference R: A = (s - f) / (R - f); at or below f: 0.
    source = DetailImportance(reference=0.06, floor=0.02)
    ramp = source(_ramp(0.035), (96, 96))[0, 0, :, 16:-16]
    torch.testing.assert_close(ramp, torch.full_like(ramp, 0.375), atol=2e-3, rtol=0)
    assert source(_ramp(0.015), (96, 96)).max() == 0.0


def test_quantisation_steps_of_a_smooth_region_get_zero_importance_by_default():
    # A sky: a slope of 0.3 grey levels per pixel rounded to 8 bits leaves one-grey-level
    # steps every few pixels, which the default floor (one grey level per pixel) ignores.
    for angle in (0.0, 0.7):
        y, x = torch.meshgrid(torch.arange(40.0), torch.arange(40.0), indexing="ij")
        luma = 0.4 + 0.3 / 255 * (
            x * torch.cos(torch.tensor(angle)) + y * torch.sin(torch.tensor(angle))
        )
        sky = ((luma * 255).round() / 255).expand(1, 3, 40, 40)
        assert DetailImportance()(sky, (160, 160)).max() == 0.0
        assert DetailImportance(floor=0.0)(sky, (160, 160)).max() > 0.0


def test_the_same_texture_gets_the_same_importance_in_images_of_different_content():
    patch = 0.3 + 0.4 * _texture(16, 16)
    quiet = torch.full((1, 3, 48, 48), 0.5)
    busy = torch.zeros(1, 3, 48, 48)
    busy[..., :, 24:] = 1.0  # a strong edge beside the patch
    busy[..., ::2, :] += 0.3 * _texture(24, 48, seed=3)
    for image in (quiet, busy):
        image[..., 4:20, 4:20] = patch
    # The patch's inside (4 LR px from its edges, x4 output), where its neighbours do not reach.
    inside = (slice(None), slice(None), slice(32, 64), slice(32, 64))
    images = torch.cat([quiet, busy.clamp(0, 1)])
    absolute = DetailImportance()(images, (192, 192))
    torch.testing.assert_close(absolute[0:1][inside], absolute[1:2][inside])
    per_image = DetailImportance(normalization="per_image")(images, (192, 192))
    assert (per_image[0:1][inside] - per_image[1:2][inside]).abs().max() > 0.1


def test_absolute_importance_does_not_depend_on_the_image_size_or_tiling():
    lr = 0.2 + 0.6 * _texture(32, 32, seed=5)
    whole = DetailImportance()(lr, (128, 128))
    tile = DetailImportance()(lr[..., 8:24, 8:24], (64, 64))
    # Away from the tile's border (where padding differs), the tile's map is the whole's.
    torch.testing.assert_close(tile[..., 16:-16, 16:-16], whole[..., 48:80, 48:80])


def test_calibration_returns_the_quantile_of_the_pooled_gradient_magnitude():
    ramps = [_ramp(0.005, width=48), _ramp(0.015, width=48)]
    # Half the pixels have magnitude 0.005, half 0.015 (but near the left and right borders):
    # the 0.25 and 0.75 quantiles lie on them.
    assert calibrate_detail_reference(ramps, 2, quantile=0.25) == pytest.approx(0.005, abs=2e-4)
    assert calibrate_detail_reference(ramps, 2, quantile=0.75) == pytest.approx(0.015, abs=2e-4)
    with pytest.raises(ValueError, match="quantile"):
        calibrate_detail_reference(ramps, scale=2, quantile=0.0)


def test_attention_config_defaults_to_absolute_and_rejects_bad_references():
    config = AttentionConfig()
    assert config.normalization == "absolute"
    assert config.detail_reference == DEFAULT_DETAIL_REFERENCE
    with pytest.raises(ValueError, match="normalization"):
        AttentionConfig(normalization="global")
    with pytest.raises(ValueError, match="detail_reference"):
        AttentionConfig(detail_reference=0.0)
    assert config.detail_floor == pytest.approx(1 / 255)
    for floor in (-0.01, 0.1, float("nan")):
        with pytest.raises(ValueError, match="detail_floor"):
            AttentionConfig(detail_floor=floor)


def test_a_saved_model_keeps_its_normalisation_and_reference(model_dir, tmp_path):
    from yoda_sr.pipeline import YodaPipeline

    pipe = YodaPipeline.from_pretrained(model_dir)
    pipe.config.attention.detail_reference = 0.07
    pipe.save_pretrained(tmp_path / "new")
    saved = json.loads((tmp_path / "new/importance/importance_config.json").read_text())
    assert saved["attention"]["normalization"] == "absolute"
    loaded = YodaPipeline.from_pretrained(tmp_path / "new")
    assert loaded.config.attention.detail_reference == 0.07
    assert loaded.load_importance_source().reference == 0.07


def test_a_model_saved_before_the_setting_loads_with_per_image_normalisation(model_dir, tmp_path):
    import shutil

    from yoda_sr.pipeline import YodaPipeline

    old = tmp_path / "old"
    shutil.copytree(model_dir, old)
    path = old / "importance/importance_config.json"
    saved = json.loads(path.read_text())
    for key in ("normalization", "detail_reference", "attention_reference"):
        saved["attention"].pop(key)
    path.write_text(json.dumps(saved))
    with pytest.warns(UserWarning, match="attention.normalization: per_image"):
        loaded = YodaPipeline.from_pretrained(old)
    assert loaded.config.attention.normalization == "per_image"
    source = loaded.load_importance_source()
    flat = torch.full((1, 3, 8, 8), 0.5) + 0.01 * _texture(8, 8)
    assert source(flat, (32, 32)).max() == 1.0


def test_a_model_saved_before_the_floor_loads_without_it(model_dir, tmp_path):
    import shutil

    from yoda_sr.pipeline import YodaPipeline

    old = tmp_path / "old"
    shutil.copytree(model_dir, old)
    path = old / "importance/importance_config.json"
    saved = json.loads(path.read_text())
    assert saved["attention"]["detail_floor"] == pytest.approx(1 / 255)
    saved["attention"].pop("detail_floor")
    path.write_text(json.dumps(saved))
    with pytest.warns(UserWarning, match="attention.detail_floor: 0.0"):
        loaded = YodaPipeline.from_pretrained(old)
    assert loaded.load_importance_source().floor == 0.0


def test_attention_command_writes_absolute_or_per_image_maps(tmp_path):
    import numpy as np
    from PIL import Image

    from yoda_sr.cli.main import main

    # A faint ramp: low absolute importance, stretched to full importance per image.
    ramp = (100 + np.arange(16)[None, :, None] * np.ones((16, 1, 3))).astype(np.uint8)
    Image.fromarray(ramp).save(tmp_path / "sky.png")
    maps = {}
    for norm in ("absolute", "per_image"):
        out = tmp_path / norm
        assert (
            main(
                ["attention", str(tmp_path / "sky.png"), "--out", str(out), "--normalization", norm]
            )
            == 0
        )
        maps[norm] = np.load(out / "sky_attention.npy")
    assert maps["absolute"].max() < 0.1 and maps["per_image"].max() == 1.0
