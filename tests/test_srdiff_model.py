"""SRDiff conditional denoiser: shapes, conditioning, gradients and config serialisation."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention

from yoda_sr.config import ExperimentConfig
from yoda_sr.models.rrdb import RRDBConfig, RRDBNet
from yoda_sr.models.srdiff import SRDiffConfig, SRDiffDenoiser, SRDiffDenoiserConfig
from yoda_sr.settings import from_dict


def tiny_config(scale: int = 4) -> SRDiffConfig:
    """Tiny networks for fast tests (HR sizes must be multiples of 2)."""
    rrdb = RRDBConfig(
        num_features=16, num_blocks=2, growth_channels=8, scale=scale, feature_stride=1
    )
    denoiser = SRDiffDenoiserConfig(
        scale=scale,
        encoder_channels=rrdb.feature_channels,
        cond_channels=16,
        base_channels=16,
        channel_multipliers=(1, 2),
        layers_per_block=1,
        attention_levels=(),
        mid_attention=False,
        norm_num_groups=8,
    )
    return SRDiffConfig(rrdb=rrdb, denoiser=denoiser)


def build(config: SRDiffConfig, seed: int = 0) -> tuple[RRDBNet, SRDiffDenoiser]:
    torch.manual_seed(seed)
    return RRDBNet.from_settings(config.rrdb).eval(), SRDiffDenoiser.from_settings(
        config.denoiser
    ).eval()


def inputs(encoder: RRDBNet, lr: torch.Tensor, scale: int, seed: int = 1):
    """(x_t, timesteps, lr_up, features) for an LR batch in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    b, _, h, w = lr.shape
    x_t = torch.randn(b, 3, h * scale, w * scale, generator=gen)
    timesteps = torch.randint(0, 100, (b,), generator=gen)
    lr_up = F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False) * 2 - 1
    with torch.no_grad():
        _, feats = encoder.forward_features(lr)
    return x_t, timesteps, lr_up, torch.cat(feats, dim=1)


@pytest.mark.parametrize("scale", [2, 4, 8])
@pytest.mark.parametrize("lr_size", [(5, 7), (6, 4)])
def test_prediction_has_hr_shape(scale, lr_size):
    encoder, denoiser = build(tiny_config(scale=scale))
    x_t, t, lr_up, feats = inputs(encoder, torch.rand(2, 3, *lr_size), scale)
    assert feats.shape == (2, encoder.feature_channels, *lr_size)
    with torch.no_grad():
        out = denoiser(x_t, t, lr_up, feats)
    assert out.shape == x_t.shape
    assert torch.isfinite(out).all()


def three_level_config(scale: int) -> SRDiffConfig:
    tiny = tiny_config(scale=scale)
    return SRDiffConfig(
        rrdb=tiny.rrdb,
        denoiser=dataclasses.replace(tiny.denoiser, channel_multipliers=(1, 1, 2)),
    )


def test_required_multiple_is_total_unet_downsampling():
    assert tiny_config().denoiser.required_multiple == 2
    assert ExperimentConfig.load("srdiff_div2k_x4").model.denoiser.required_multiple == 8
    _, denoiser = build(three_level_config(scale=2))
    assert denoiser.required_multiple == 4
    downsamplers = [b for b in denoiser.unet.down_blocks if b.downsamplers is not None]
    assert len(downsamplers) == 2


def test_odd_lr_must_be_padded_by_the_caller():
    scale = 2
    encoder, denoiser = build(three_level_config(scale))
    lr = torch.rand(1, 3, 5, 7)  # HR 10x14 is not a multiple of 4
    with pytest.raises(ValueError, match="multiples of 4.*pad the LR input to a multiple of 2"):
        denoiser(*inputs(encoder, lr, scale))
    padded = F.pad(lr, (0, 1, 0, 1), mode="replicate")
    with torch.no_grad():
        out = denoiser(*inputs(encoder, padded, scale))
    assert out.shape == (1, 3, 12, 16)


def test_outputs_are_deterministic_under_seed():
    config = tiny_config()
    enc_a, den_a = build(config, seed=3)
    enc_b, den_b = build(config, seed=3)
    _, den_c = build(config, seed=4)
    lr = torch.rand(2, 3, 4, 6)
    args_a, args_b = inputs(enc_a, lr, 4), inputs(enc_b, lr, 4)
    with torch.no_grad():
        out_a, out_b, out_c = den_a(*args_a), den_b(*args_b), den_c(*args_a)
    assert torch.equal(out_a, out_b)
    assert not torch.allclose(out_a, out_c)


@pytest.mark.parametrize("changed", ["x_t", "timesteps", "lr_up", "features"])
def test_every_input_conditions_the_prediction(changed):
    encoder, denoiser = build(tiny_config())
    names = ("x_t", "timesteps", "lr_up", "features")
    args = dict(zip(names, inputs(encoder, torch.rand(1, 3, 4, 4), 4), strict=True))
    with torch.no_grad():
        base = denoiser(**args)
        args[changed] = args[changed] + (7 if changed == "timesteps" else 0.5)
        moved = denoiser(**args)
    assert not torch.allclose(base, moved, atol=1e-5)


def test_gradients_reach_cond_proj_and_unet_with_frozen_encoder():
    encoder, denoiser = build(tiny_config())
    encoder.requires_grad_(False)
    denoiser.train()
    lr = torch.rand(2, 3, 4, 4)
    x_t, t, lr_up, _ = inputs(encoder, lr, 4)
    _, feats = encoder.forward_features(lr)
    loss = denoiser(x_t, t, lr_up, torch.cat(feats, 1)).square().mean()
    loss.backward()
    assert all(p.grad is None for p in encoder.parameters())
    for name, p in denoiser.named_parameters():
        assert p.grad is not None, name
    assert denoiser.cond_proj.reduce.weight.grad.abs().sum() > 0
    assert denoiser.cond_proj.upsample.weight.grad.abs().sum() > 0
    assert denoiser.unet.conv_in.weight.grad.abs().sum() > 0
    assert denoiser.unet.time_embedding.linear_1.weight.grad.abs().sum() > 0


def test_feature_projection_upsamples_exactly_by_scale():
    for scale in (2, 4, 8):
        _, denoiser = build(tiny_config(scale=scale))
        feats = torch.randn(1, denoiser.config.encoder_channels, 3, 5)
        assert denoiser.cond_proj(feats).shape == (1, 16, 3 * scale, 5 * scale)


def test_bad_shapes_are_clear_errors():
    encoder, denoiser = build(tiny_config())
    x_t, t, lr_up, feats = inputs(encoder, torch.rand(2, 3, 4, 4), 4)
    with pytest.raises(ValueError, match=r"features must be \(2, 48, 4, 4\)"):
        denoiser(x_t, t, lr_up, feats[..., :3])
    with pytest.raises(ValueError, match="lr_up must have x_t's shape"):
        denoiser(x_t, t, lr_up[:1], feats)
    with pytest.raises(ValueError, match=r"timesteps must be a scalar or shape \(2,\)"):
        denoiser(x_t, t[:1], lr_up, feats)


def test_projected_features_give_the_same_prediction_bit_for_bit():
    encoder, denoiser = build(tiny_config())
    x_t, t, lr_up, feats = inputs(encoder, torch.rand(2, 3, 4, 6), 4)
    with torch.no_grad():
        projected = denoiser.cond_proj(feats)
        assert torch.equal(
            denoiser(x_t, t, lr_up, projected=projected), denoiser(x_t, t, lr_up, feats)
        )
        with pytest.raises(ValueError, match="either features or projected"):
            denoiser(x_t, t, lr_up, feats, projected)
        with pytest.raises(ValueError, match=r"projected must be \(2, 16, 16, 24\)"):
            denoiser(x_t, t, lr_up, projected=feats)


def test_config_round_trips_through_json_and_rebuilds_the_model():
    config = tiny_config(scale=2)
    data = json.loads(json.dumps(dataclasses.asdict(config)))
    rebuilt = from_dict(SRDiffConfig, data, "model")
    assert rebuilt == config
    assert from_dict(SRDiffDenoiserConfig, data["denoiser"], "d").channel_multipliers == (1, 2)
    with pytest.raises(ValueError, match=r"unknown setting.*'model\.rrdb'.*num_blockz"):
        from_dict(SRDiffConfig, {**data, "rrdb": {"num_blockz": 3}}, "model")
    _, original = build(config)
    _, copy = build(rebuilt, seed=9)
    copy.load_state_dict(original.state_dict(), strict=True)


def test_mismatched_encoder_and_denoiser_are_rejected():
    tiny = tiny_config()
    with pytest.raises(ValueError, match="encoder yields 48 feature channels"):
        SRDiffConfig(
            rrdb=tiny.rrdb, denoiser=dataclasses.replace(tiny.denoiser, encoder_channels=64)
        )
    with pytest.raises(ValueError, match="denoiser.scale=4 must be rrdb.scale \\* rrdb"):
        SRDiffConfig(rrdb=dataclasses.replace(tiny.rrdb, scale=2), denoiser=tiny.denoiser)
    with pytest.raises(ValueError, match="norm_num_groups"):
        SRDiffDenoiserConfig(base_channels=16, norm_num_groups=32)
    with pytest.raises(ValueError, match="attention_levels"):
        SRDiffDenoiserConfig(attention_levels=(4,))


def test_attention_levels_select_attention_blocks():
    config = dataclasses.replace(tiny_config().denoiser, attention_levels=(1,), mid_attention=True)
    denoiser = SRDiffDenoiser.from_settings(config)
    kinds = [type(b).__name__ for b in denoiser.unet.down_blocks]
    assert kinds == ["DownBlock2D", "AttnDownBlock2D"]
    assert [type(b).__name__ for b in denoiser.unet.up_blocks] == ["AttnUpBlock2D", "UpBlock2D"]
    assert isinstance(denoiser.unet.mid_block.attentions[0], Attention)


def test_bundled_div2k_x4_config_matches_the_paper_setting():
    config = ExperimentConfig.load("srdiff_div2k_x4").model
    rrdb, den = config.rrdb, config.denoiser
    assert (rrdb.num_features, rrdb.num_blocks, rrdb.growth_channels, rrdb.scale) == (64, 8, 32, 4)
    assert den.block_out_channels == (64, 128, 128, 256)
    assert (den.layers_per_block, den.dropout, den.attention_levels) == (2, 0.0, ())
    assert den.encoder_channels == RRDBConfig(num_blocks=8).feature_channels == 192
    denoiser = SRDiffDenoiser.from_settings(den)
    assert [len(b.resnets) for b in denoiser.unet.down_blocks] == [2, 2, 2, 2]
    assert not any(isinstance(m, Attention) for m in denoiser.modules())


def _srdiff_img2res(hr: torch.Tensor, lr_up: torch.Tensor) -> torch.Tensor:
    """SRDiff's ``img2res`` with ``res: true, res_rescale: 2, clip_input: true`` (images in [-1, 1])."""
    return ((hr - lr_up) * 2).clamp(-1, 1)


def _srdiff_res2img(res: torch.Tensor, lr_up: torch.Tensor) -> torch.Tensor:
    """SRDiff's ``res2img`` with the same settings."""
    return res.clamp(-1, 1) / 2 + lr_up


def test_residual_space_matches_srdiff_img2res_and_res2img():
    from yoda_sr.models.srdiff_backbone import SRDiffBackbone

    torch.manual_seed(0)
    backbone = SRDiffBackbone.from_settings(tiny_config()).eval()
    lr = torch.rand(2, 3, 6, 6)
    cond = backbone.condition(lr)
    hr = (cond["lr_up"] + 1) / 2 + 0.3 * torch.randn(2, 3, 24, 24)  # some residuals clip
    hr = hr.clamp(0, 1)
    x0 = backbone.target(hr, cond)
    torch.testing.assert_close(x0, _srdiff_img2res(hr * 2 - 1, cond["lr_up"]), rtol=0, atol=1e-6)
    assert x0.abs().max() == 1.0, "large residuals clip at +-1 as in SRDiff"
    sample = torch.randn(2, 3, 24, 24)
    expected = ((_srdiff_res2img(sample, cond["lr_up"]) + 1) / 2).clamp(0, 1)
    torch.testing.assert_close(backbone.to_image(sample, cond), expected, rtol=0, atol=1e-6)


def test_legacy_divide_convention_keeps_the_0_1_residual():
    from yoda_sr.models.srdiff_backbone import SRDiffBackbone

    config = dataclasses.replace(tiny_config(), residual_convention="legacy_divide")
    backbone = SRDiffBackbone.from_settings(config).eval()
    lr = torch.rand(1, 3, 6, 6)
    cond = backbone.condition(lr)
    hr = torch.rand(1, 3, 24, 24)
    x0 = backbone.target(hr, cond)
    torch.testing.assert_close(x0, (hr * 2 - 1 - cond["lr_up"]) / 2)
    torch.testing.assert_close(backbone.to_image(x0, cond), hr, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="residual_convention"):
        dataclasses.replace(config, residual_convention="halve")
