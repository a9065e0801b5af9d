"""ViT importance on an absolute scale, the guided filter and the scale-invariance methods."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import Dinov2Config, Dinov2Model

from yoda_sr.attention import AttentionConfig, DinoAttention, build_importance_source, load_backbone
from yoda_sr.attention.base import gaussian_blur, min_max_normalize, resize_map
from yoda_sr.attention.guided_filter import box_mean, guided_filter
from yoda_sr.attention.pyramid import level_shapes, native_shape, tile_starts, tiled_map
from yoda_sr.config import ExperimentConfig


@pytest.fixture(scope="module")
def dinov2_folder(tmp_path_factory):
    torch.manual_seed(0)
    config = Dinov2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, patch_size=14, image_size=56
    )
    folder = tmp_path_factory.mktemp("dinov2-abs")
    Dinov2Model(config).save_pretrained(folder)
    return str(folder)


@pytest.fixture(params=["tiny_vit", "dinov2"])
def vit_folder(request):
    return request.getfixturevalue(f"{request.param}_folder")


def _lr(height=13, width=17, seed=0):
    return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(seed))


def _source(folder, **kwargs):
    return build_importance_source(AttentionConfig(source="dino", model=folder, **kwargs))


# ---------------------------------------------------------------- normalisation


def test_absolute_map_of_a_constant_image_is_low_and_per_image_stretches_it(vit_folder):
    flat = torch.full((1, 3, 12, 16), 0.4)
    for size in ((48, 64), (96, 128)):
        absolute = _source(vit_folder)(flat, size)
        assert absolute.shape == (1, 1, *size) and absolute.max() < 0.2
        stretched = _source(vit_folder, normalization="per_image")(flat, size)
        assert stretched.min() == 0.0 and stretched.max() == 1.0


def test_per_image_whole_keeps_the_min_max_maps_of_before(tiny_vit_folder):
    backbone = load_backbone(tiny_vit_folder)
    for kwargs in ({}, {"resize_mode": "bicubic", "smooth_sigma": 2.0}):
        source = DinoAttention(backbone, normalization="per_image", **kwargs)
        lr = _lr(seed=1)
        # yoda-sr <= 0.1.x: min-max of the fused patch map, resize, blur, min-max again.
        before = resize_map(source.patch_map(lr, (52, 68)), (52, 68), source.resize_mode)
        before = min_max_normalize(gaussian_blur(before, source.smooth_sigma))
        torch.testing.assert_close(source(lr, (52, 68)), before, atol=1e-4, rtol=0)


def test_absolute_map_is_attention_relative_to_uniform_over_the_reference(tiny_vit_folder):
    # Random weights attend almost uniformly (r within 2 % of 1): a reference close to 1.
    source = DinoAttention(load_backbone(tiny_vit_folder), head_fusion="max", reference=1.01)
    lr = _lr(seed=2)
    pixels = source.pixels(lr, source.analysis_shape((52, 68)))
    attention = source.fuse_heads(source.cls_attention(pixels))
    relative = resize_map(attention * attention[0, 0].numel(), (52, 68), "bilinear")
    expected = ((relative - 1) / 0.01).clamp(0, 1)
    torch.testing.assert_close(source(lr, (52, 68)), expected)
    assert expected.max() == 1.0 and expected.min() == 0.0


def test_old_saved_configs_keep_per_image_and_whole(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("attention:\n  source: dino\n  model: x.pth\n")
    with pytest.warns(UserWarning, match="attention.normalization: per_image"):
        cfg = ExperimentConfig.load_saved(path).attention
    assert cfg.normalization == "per_image" and cfg.vit_method == "whole"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"vit_method": "tiles"}, "vit_method"),
        ({"attention_reference": 1.0}, "attention_reference"),
    ],
)
def test_config_refuses_bad_vit_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AttentionConfig(source="dino", **kwargs)


# ---------------------------------------------------------------- guided filter


def test_guided_filter_keeps_constant_input_and_shape():
    guide = torch.rand(2, 1, 20, 30, generator=torch.Generator().manual_seed(0))
    constant = torch.full((2, 1, 20, 30), 0.3)
    torch.testing.assert_close(guided_filter(guide, constant, 3, 1e-2), constant)
    flat_guide = torch.full((2, 1, 20, 30), 0.7)
    torch.testing.assert_close(guided_filter(flat_guide, constant, 3, 1e-2), constant)
    src = torch.rand(2, 1, 20, 30, generator=torch.Generator().manual_seed(1))
    # A constant guide leaves a smoothing: the box mean of the box mean.
    expected = box_mean(box_mean(src, 3), 3)
    torch.testing.assert_close(guided_filter(flat_guide, src, 3, 1e-2), expected)
    assert guided_filter(guide, src, 50, 1e-2).shape == src.shape  # window wider than the image


def test_guided_filter_restores_a_step_edge_that_upsampling_blurred():
    step = torch.zeros(1, 1, 32, 32)
    step[..., 16:] = 1.0
    coarse = F.interpolate(F.avg_pool2d(step, 8), size=(32, 32), mode="bilinear")
    out = guided_filter(step, coarse, 4, 1e-3)
    jumps = out[0, 0].diff(dim=-1)
    assert coarse[0, 0].diff(dim=-1).max() < 0.2  # the upsampled map ramps over 8 pixels
    assert (jumps.argmax(dim=-1) == 15).all() and jumps[:, 15].min() > 0.4  # at the edge


# ---------------------------------------------------------------- native_guided and pyramid


def test_tiles_cover_the_image_with_overlap():
    assert tile_starts(56, 56) == [0] and tile_starts(40, 56) == [0]
    starts = tile_starts(112, 56)
    assert starts == [0, 28, 56]
    assert native_shape((100, 400), 56, 8) == (32, 112)
    assert level_shapes((128, 128), 56, 8, (128, 128)) == [(56, 56), (112, 112)]
    assert level_shapes((64, 64), 56, 8, (64, 64)) == [(56, 56)]


def test_tiled_map_blends_to_a_constant_where_every_tile_is_constant():
    pixels = torch.rand(1, 3, 70, 98, generator=torch.Generator().manual_seed(0))

    def uniform(crop):
        return torch.ones(crop.shape[0], 1, crop.shape[-2] // 14, crop.shape[-1] // 14)

    torch.testing.assert_close(tiled_map(pixels, 42, 14, uniform), torch.ones(1, 1, 70, 98))


@pytest.mark.parametrize("method", ["native_guided", "pyramid"])
@pytest.mark.parametrize("normalization", ["absolute", "per_image"])
def test_vit_methods_give_deterministic_maps_in_range(vit_folder, method, normalization):
    source = _source(vit_folder, vit_method=method, normalization=normalization, analysis_size=56)
    calls = []
    source.backbone.register_forward_hook(lambda *_: calls.append(1))
    lr = _lr(seed=3)
    first = source(lr, (130, 170))
    assert first.shape == (1, 1, 130, 170) and first.dtype == torch.float32
    assert first.min() >= 0 and first.max() <= 1
    if normalization == "per_image":
        assert first.min() == 0 and first.max() == 1
    torch.testing.assert_close(source(lr, (130, 170)), first, atol=0, rtol=0)
    # native_guided: one pass; pyramid: (2 tiles at native + 12 at 2 x native) x 2 jitters.
    assert len(calls) == 2 * (1 if method == "native_guided" else 2 * (2 + 12))
