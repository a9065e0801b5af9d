"""Importance-map sources (DINO attention, weight-free detail), their config and the viz."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
import torch
from PIL import Image
from transformers import (
    Dinov2Config,
    Dinov2Model,
    Dinov2WithRegistersConfig,
    Dinov2WithRegistersModel,
    ResNetConfig,
    ResNetModel,
)

from yoda_sr.attention import (
    AttentionConfig,
    DetailImportance,
    DinoAttention,
    WeightsNotFoundError,
    build_importance_source,
    load_backbone,
)
from yoda_sr.attention.base import min_max_normalize
from yoda_sr.config import ExperimentConfig
from yoda_sr.data.importance_cache import ImportanceCache
from yoda_sr.imaging import load_image
from yoda_sr.jobs import importance_map
from yoda_sr.viz import heatmap_overlay, mask_strip


def _save(model, folder):
    model.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def dinov2_folder(tmp_path_factory):
    torch.manual_seed(0)
    config = Dinov2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, patch_size=14, image_size=224
    )
    return _save(Dinov2Model(config), tmp_path_factory.mktemp("dinov2"))


@pytest.fixture(scope="module")
def dinov2_registers_folder(tmp_path_factory):
    torch.manual_seed(0)
    config = Dinov2WithRegistersConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        patch_size=14,
        image_size=224,
        num_register_tokens=4,
    )
    return _save(Dinov2WithRegistersModel(config), tmp_path_factory.mktemp("dinov2reg"))


@pytest.fixture(params=["tiny_vit", "dinov2", "dinov2_registers"])
def any_folder(request):
    return request.getfixturevalue(f"{request.param}_folder")


def _lr(height=13, width=17, batch=1, seed=0):
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- config


def test_importance_cache_folder_follows_the_attention_settings(tmp_path):
    cfg = AttentionConfig(source="dino", model="x.pth", head_fusion="heads:0,2", analysis_size=224)
    source = DetailImportance()

    def folder(config):
        return ImportanceCache(source, config, root=tmp_path).folder

    assert folder(cfg) == folder(AttentionConfig(**dataclasses.asdict(cfg)))
    assert folder(cfg) != folder(AttentionConfig(source="dino", model="x.pth"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"source": "clip"}, "source"),
        ({"head_fusion": "median"}, "head_fusion"),
        ({"head_fusion": "heads:a"}, "head_fusion"),
        ({"analysis_size": 0}, "analysis_size"),
        ({"resize_mode": "lanczos"}, "resize_mode"),
        ({"smooth_sigma": -1.0}, "smooth_sigma"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AttentionConfig(**kwargs)


def test_config_section_rejects_unknown_key():
    with pytest.raises(ValueError, match="unknown setting.*'attention'.*heads_fusion"):
        ExperimentConfig.from_dict({"attention": {"source": "dino", "heads_fusion": "max"}})


# ---------------------------------------------------------------- detail source


def test_detail_flat_image_gives_zeros_without_nan():
    flat = torch.full((2, 3, 13, 17), 0.4)
    importance = DetailImportance()(flat, (52, 68))
    assert importance.shape == (2, 1, 52, 68)
    assert torch.isfinite(importance).all()
    assert importance.abs().max() < 1e-3


def test_detail_edge_is_more_important_than_flat_area():
    lr = torch.zeros(1, 3, 16, 32)
    lr[..., 16:] = 1.0  # vertical edge in the middle
    importance = DetailImportance()(lr, (64, 128))[0, 0]
    assert importance[:, 62:66].min() == 1.0
    assert importance[:, :20].max() < 0.05 and importance[:, -20:].max() < 0.05


def test_detail_odd_size_shape_range_dtype_and_determinism():
    lr = _lr()
    first = DetailImportance(normalization="per_image")(lr, (52, 68))
    assert first.shape == (1, 1, 52, 68) and first.dtype == torch.float32
    assert first.min() >= 0 and first.max() == 1.0
    assert torch.equal(first, DetailImportance(normalization="per_image")(lr.clone(), (52, 68)))


def test_per_image_detail_is_per_image_and_contrast_invariant():
    lr = 0.3 + 0.4 * _lr(seed=1)  # bicubic overshoot stays inside [0, 1]: no clipping
    low_contrast = 0.5 * lr + 0.25
    source = DetailImportance(normalization="per_image")
    batch = source(torch.cat([lr, low_contrast]), (39, 51))
    torch.testing.assert_close(batch[0], source(lr, (39, 51))[0])
    torch.testing.assert_close(batch[0], batch[1], atol=1e-5, rtol=0)


def test_detail_smoothing_spreads_importance():
    lr = torch.zeros(1, 3, 16, 32)
    lr[..., 16:] = 1.0
    sharp = DetailImportance()(lr, (64, 128))[0, 0, 0]
    smooth = DetailImportance(smooth_sigma=6.0)(lr, (64, 128))[0, 0, 0]
    assert (smooth > 0.1).sum() > (sharp > 0.1).sum()


# ---------------------------------------------------------------- DINO source


def test_dino_map_shape_and_range_for_odd_sizes(any_folder):
    cfg = AttentionConfig(source="dino", model=any_folder, normalization="per_image")
    source = build_importance_source(cfg)
    importance = source(_lr(batch=2), (52, 68))
    assert importance.shape == (2, 1, 52, 68) and importance.dtype == torch.float32
    assert not importance.requires_grad
    for single in importance:
        assert single.min() == 0.0 and single.max() == 1.0


@pytest.mark.parametrize(
    "analysis_size, vit, dinov2", [(None, (56, 72), (56, 70)), (230, (232, 232), (224, 224))]
)
def test_dino_analysis_shape_is_rounded_to_patch_multiple(
    tiny_vit_folder, dinov2_folder, analysis_size, vit, dinov2
):
    for folder, expected in ((tiny_vit_folder, vit), (dinov2_folder, dinov2)):
        source = DinoAttention(load_backbone(folder), analysis_size=analysis_size)
        assert source.analysis_shape((52, 68)) == expected
        grid = (expected[0] // source.patch_size, expected[1] // source.patch_size)
        assert source.patch_map(_lr(), (52, 68)).shape == (1, 1, *grid)


def test_grayscale_and_rgba_files_give_maps_of_the_output_size(tmp_path, tiny_vit_folder):
    rng = np.random.default_rng(0)
    gray = tmp_path / "gray.png"
    Image.fromarray(rng.integers(0, 256, (13, 17), dtype=np.uint8), mode="L").save(gray)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(rng.integers(0, 256, (13, 17, 4), dtype=np.uint8), mode="RGBA").save(rgba)
    sources = [
        build_importance_source(AttentionConfig(source="dino", model=tiny_vit_folder)),
        build_importance_source(AttentionConfig(source="detail")),
    ]
    for path in (gray, rgba):
        lr = load_image(path)
        for source in sources:
            importance = importance_map(source, lr, scale=4)
            assert importance.shape == (1, 52, 68)
            assert importance.min() >= 0 and importance.max() <= 1


def test_head_fusion_options_combine_per_head_maps(tiny_vit_folder):
    backbone = load_backbone(tiny_vit_folder)
    lr = _lr(seed=3)
    pixels = torch.randn(1, 3, 56, 72, generator=torch.Generator().manual_seed(4))
    heads = DinoAttention(backbone).cls_attention(pixels)

    def fused(spec):
        source = DinoAttention(backbone, head_fusion=spec)
        return min_max_normalize(source.fuse_heads(heads))

    torch.testing.assert_close(fused("mean"), min_max_normalize(heads.mean(1, keepdim=True)))
    torch.testing.assert_close(fused("sum"), fused("mean"))
    torch.testing.assert_close(fused("max"), min_max_normalize(heads.amax(1, keepdim=True)))
    torch.testing.assert_close(fused("heads:1"), min_max_normalize(heads[:, 1:2]))
    torch.testing.assert_close(fused("heads:0,1"), fused("mean"))
    assert not torch.allclose(fused("heads:0"), fused("heads:1"))
    maps = {
        spec: DinoAttention(backbone, head_fusion=spec)(lr, (52, 68)) for spec in ("max", "heads:0")
    }
    assert all(m.shape == (1, 1, 52, 68) for m in maps.values())
    with pytest.raises(ValueError, match="selects head 2 but the model has 2 heads"):
        DinoAttention(backbone, head_fusion="heads:0,2")


def test_cls_attention_function_equals_eager_attention(any_folder):
    pixels = torch.randn(2, 3, 56, 70, generator=torch.Generator().manual_seed(5))
    lean = DinoAttention(load_backbone(any_folder)).cls_attention(pixels)
    eager = DinoAttention(load_backbone(any_folder), attn_implementation="eager")
    torch.testing.assert_close(lean, eager.cls_attention(pixels), atol=1e-6, rtol=1e-5)
    assert (lean >= 0).all() and (lean.flatten(2).sum(-1) <= 1 + 1e-6).all()


def test_dinov2_register_tokens_are_skipped(dinov2_registers_folder):
    backbone = load_backbone(dinov2_registers_folder)
    source = DinoAttention(backbone, attn_implementation="eager")
    assert source.num_prefix_tokens == 1 + 4
    pixels = torch.randn(1, 3, 56, 70, generator=torch.Generator().manual_seed(6))
    attention = backbone(pixel_values=pixels, output_attentions=True).attentions[-1]
    assert attention.shape[-1] == 1 + 4 + 4 * 5
    expected = attention[:, :, 0, 5:].reshape(1, 2, 4, 5)
    torch.testing.assert_close(source.cls_attention(pixels), expected)


def test_dino_smoothing_and_resize_modes_keep_shape_and_range(tiny_vit_folder):
    backbone = load_backbone(tiny_vit_folder)
    for kwargs in ({"resize_mode": "nearest"}, {"resize_mode": "bicubic"}, {"smooth_sigma": 3.0}):
        importance = DinoAttention(backbone, normalization="per_image", **kwargs)(_lr(), (52, 68))
        assert importance.shape == (1, 1, 52, 68)
        assert importance.min() == 0.0 and importance.max() == 1.0


def test_missing_hub_weights_raise_clear_error(monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    cfg = AttentionConfig(source="dino", model="yoda-sr-tests/no-such-dino")
    with pytest.raises(WeightsNotFoundError) as info:
        build_importance_source(cfg)
    message = str(info.value)
    assert "yoda-sr-tests/no-such-dino" in message
    assert "hub name" in message and "local Hugging Face folder" in message and ".pth" in message
    assert len(message.splitlines()) == 2
    assert info.value.__cause__ is not None  # the Hugging Face error stays available


@pytest.mark.parametrize("model", ["./missing/dino_deitsmall8_pretrain.pth", "/no/such/folder"])
def test_missing_local_weights_raise_clear_error(model):
    with pytest.raises(WeightsNotFoundError, match="no such file or folder"):
        build_importance_source(AttentionConfig(source="dino", model=model))


def test_folder_without_weights_raises_clear_error(tmp_path, tiny_vit_folder):
    folder = tmp_path / "config-only"
    folder.mkdir()
    (folder / "config.json").write_text((Path(tiny_vit_folder) / "config.json").read_text())
    with pytest.raises(WeightsNotFoundError, match="config-only"):
        load_backbone(folder)


def test_unsupported_model_type_is_rejected(tmp_path):
    config = ResNetConfig(embedding_size=8, hidden_sizes=[8], depths=[1])
    folder = _save(ResNetModel(config), tmp_path / "resnet")
    with pytest.raises(ValueError, match="model type 'resnet' is not supported"):
        load_backbone(folder)


# ---------------------------------------------------------------- visualisation


def test_heatmap_overlay_blends_image_and_colormap():
    image = torch.rand(3, 20, 30)
    importance = torch.linspace(0, 1, 30).expand(20, 30)
    overlay = heatmap_overlay(image, importance[None])
    assert overlay.shape == (3, 20, 30) and 0 <= overlay.min() and overlay.max() <= 1
    torch.testing.assert_close(heatmap_overlay(image, importance, alpha=0.0), image)
    heat = heatmap_overlay(image, importance, alpha=1.0)
    assert not torch.allclose(heat[:, :, 0], heat[:, :, -1])
    with pytest.raises(ValueError, match="importance must have shape"):
        heatmap_overlay(image, torch.zeros(20, 31))


def test_mask_strip_shows_image_where_masked_and_dimmed_elsewhere():
    image = torch.rand(3, 8, 10)
    importance = torch.zeros(1, 8, 10)
    importance[:, :, 5:] = 1.0
    strip = mask_strip(
        image,
        importance,
        num_train_timesteps=10,
        lower_bound=0.2,
        steps=[10, 1],
        gap=2,
        label=False,
    )
    assert strip.shape == (3, 8, 2 * 10 + 2)
    first, last = strip[..., :10], strip[..., 12:]
    torch.testing.assert_close(first[..., 5:], image[..., 5:])  # A + l >= 1: active at t = T
    torch.testing.assert_close(first[..., :5], 0.25 * image[..., :5])  # A = 0: only from t = 2
    torch.testing.assert_close(last, image)  # every pixel is diffused at t = 1
    assert (strip[..., 10:12] == 1).all()


def test_mask_strip_default_steps_and_labels():
    image = torch.rand(3, 40, 60)
    strip = mask_strip(image, torch.rand(40, 60), num_train_timesteps=2000, lower_bound=0.2, gap=4)
    assert strip.shape == (3, 40, 6 * 60 + 5 * 4)
    unlabeled = mask_strip(image, torch.rand(40, 60), 2000, 0.2, gap=4, label=False)
    assert not torch.equal(strip[:, :10, :20], unlabeled[:, :10, :20])
    with pytest.raises(ValueError, match="steps"):
        mask_strip(image, torch.rand(40, 60), 2000, 0.2, steps=[0])


def test_constant_source_fills_the_output_size_with_its_value():
    from yoda_sr.attention import AttentionConfig, build_importance_source

    source = build_importance_source(AttentionConfig(source="constant", constant=0.25))
    out = source(torch.rand(2, 3, 5, 7), (20, 28))
    assert out.shape == (2, 1, 20, 28) and torch.all(out == 0.25)
    with pytest.raises(ValueError, match="constant"):
        AttentionConfig(source="constant", constant=1.5)
