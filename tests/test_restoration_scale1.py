"""Restoration at scale 1 (issue 21): RRDB and SRDiff x1, bicubic at scale 1, and SRDiff's
``residual_base: encoder`` (the residual around the encoder's estimate, YODA's anchor on it)
with ``yoda.importance_input: estimate``."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import TINY_SRDIFF_OVERRIDES, TWO_STEP_TRAINING_OVERRIDES, write_test_images

from yoda_sr.attention import ImportanceSource
from yoda_sr.cli.main import main
from yoda_sr.config import ExperimentConfig
from yoda_sr.diffusion import (
    NoiseScheduleConfig,
    YodaConfig,
    make_scheduler,
    yoda_loss,
    yoda_sample,
)
from yoda_sr.imaging import imresize
from yoda_sr.models import bicubic_up, build_model
from yoda_sr.models.resshift import ResShiftBackbone, ResShiftConfig
from yoda_sr.models.rrdb import RRDBConfig, RRDBNet
from yoda_sr.models.rrdb_files import RRDBCheckpointError, load_rrdb_state_dict
from yoda_sr.models.sr3 import SR3Backbone, SR3Config
from yoda_sr.models.srdiff import SRDiffConfig
from yoda_sr.models.srdiff_backbone import SRDiffBackbone, load_encoder_weights
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.training.trainer import Trainer


def tiny_x1(unshuffle: int = 4, *extra: str) -> list[str]:
    """Overrides of ``srdiff_tiny_x1`` for a tiny model whose encoder pixel-unshuffles by
    ``unshuffle`` (the denoiser then upsamples its features by the same factor)."""
    return [
        "model.rrdb={num_features: 8, num_blocks: 1, growth_channels: 4, scale: 1,"
        f" pixel_unshuffle: {unshuffle}, feature_stride: 1}}",
        f"model.denoiser={{scale: {unshuffle}, encoder_channels: 16, cond_channels: 8,"
        " base_channels: 8, channel_multipliers: [1, 2], layers_per_block: 1,"
        " norm_num_groups: 4}",
        "sampling.steps=4",
        "sampling.color_fix=none",
        *extra,
    ]


def x1_model(unshuffle: int = 4, *extra: str) -> tuple[SRDiffBackbone, ExperimentConfig]:
    config = ExperimentConfig.load("srdiff_tiny_x1", tiny_x1(unshuffle, *extra))
    torch.manual_seed(0)
    model = build_model(config.model)
    assert isinstance(model, SRDiffBackbone)
    return model.eval(), config


def tiny_rrdb_x1(unshuffle: int) -> RRDBNet:
    """The encoder of :func:`tiny_x1`, randomly initialised (seeded)."""
    torch.manual_seed(0)
    return RRDBNet(
        num_features=8,
        num_blocks=1,
        growth_channels=4,
        scale=1,
        pixel_unshuffle=unshuffle,
        feature_stride=1,
    )


def random_lr(*size: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*size, generator=torch.Generator().manual_seed(seed))


class RecordingSource(ImportanceSource):
    """Importance 0.5 everywhere; records what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[torch.Tensor, tuple[int, int]]] = []

    def forward(self, lr: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        self.seen.append((lr.clone(), tuple(size)))
        return torch.full((lr.shape[0], 1, *size), 0.5, device=lr.device)


# -- scale 1 -----------------------------------------------------------------------------


@pytest.mark.parametrize("unshuffle", [1, 2, 4])
def test_rrdb_x1_keeps_the_size(unshuffle):
    net = tiny_rrdb_x1(unshuffle).eval()
    # Real-ESRGAN's x1: unshuffle by 4, then upsample 2x twice; without unshuffle, no stage.
    assert net.settings.num_upsamples == {1: 0, 2: 1, 4: 2}[unshuffle]
    lr = random_lr(2, 3, 7, 9)
    with torch.no_grad():
        sr, features = net.forward_features(lr)
    assert sr.shape == lr.shape
    assert features[0].shape == (2, 8, -(-7 // unshuffle), -(-9 // unshuffle))


def test_real_esrgan_x1_layout_is_inferred_from_its_checkpoint():
    torch.manual_seed(0)
    net = RRDBNet(num_features=8, num_blocks=2, growth_channels=4, scale=1, pixel_unshuffle=4)
    state, config = load_rrdb_state_dict(net.state_dict())
    assert (config.scale, config.pixel_unshuffle) == (1, 4)
    assert set(state) == set(net.state_dict())
    with pytest.raises(ValueError, match="scale must be one of"):
        RRDBConfig(scale=3)


def test_bicubic_at_scale_1_is_the_identity_for_sr3_and_resshift():
    lr = random_lr(2, 3, 5, 7)
    assert torch.equal(imresize(lr, scale=1), lr)  # MATLAB's kernel: weights 1, 0, 0 at scale 1
    assert torch.equal(bicubic_up(lr, 1), lr * 2 - 1)
    for backbone, config in ((SR3Backbone, SR3Config), (ResShiftBackbone, ResShiftConfig)):
        settings = config(
            scale=1, block_out_channels=(8, 16), attention_levels=(), norm_num_groups=4
        )
        model = backbone.from_settings(settings).eval()
        cond = model.condition(lr)
        assert torch.equal(cond["lr_up"], lr * 2 - 1)
        assert torch.equal(model.anchor(cond), lr * 2 - 1)
        with torch.no_grad():
            out = model(torch.randn(2, 3, 6, 8), torch.tensor([3, 7]), torch.rand(2, 3, 6, 8))
        assert out.shape == (2, 3, 6, 8)


def test_feature_projector_keeps_the_size_at_scale_1():
    model, _ = x1_model(unshuffle=1)
    upsample = model.denoiser.cond_proj.upsample
    assert isinstance(upsample, torch.nn.Conv2d) and upsample.kernel_size == (3, 3)
    features = torch.randn(1, 16, 5, 7)
    assert model.denoiser.cond_proj(features).shape == (1, 8, 5, 7)


@pytest.mark.parametrize("unshuffle", [1, 4])
def test_srdiff_x1_forward_training_step_and_sampling_keep_the_size(unshuffle):
    model, config = x1_model(unshuffle)
    assert model.scale == 1 and model.required_multiple == max(2, unshuffle)
    lr, hr = random_lr(2, 3, 8, 12, seed=1), random_lr(2, 3, 8, 12, seed=2)
    cond = model.condition(lr)
    assert cond["features"].shape == (2, 16, 8 // unshuffle, 12 // unshuffle)
    assert cond["lr_up"].shape == cond["base"].shape == hr.shape
    with torch.no_grad():
        prediction = model(torch.randn(2, 3, 8, 12), torch.tensor([1, 50]), **cond)
    assert prediction.shape == hr.shape

    model.train()
    loss = yoda_loss(
        model,
        make_scheduler(config.diffusion, "ddpm"),
        x0=model.target(hr, cond),
        anchor=model.anchor(cond),
        importance=torch.rand(2, 1, 8, 12),
        config=config.yoda,
        condition=cond,
        generator=torch.Generator().manual_seed(0),
    )
    loss.backward()
    assert torch.isfinite(loss)
    assert model.denoiser.cond_proj.upsample.weight.grad is not None
    assert all(p.grad is None for p in model.encoder.parameters()), "the encoder is frozen"

    pipe = YodaPipeline(model, config)
    odd = random_lr(1, 3, 7, 9, seed=3)
    out = pipe(odd, generator=torch.Generator().manual_seed(0))
    assert out.images.shape == odd.shape and out.importance.shape == (1, 1, 7, 9)
    sparse = pipe(odd, generator=torch.Generator().manual_seed(0), sparse=True, sparse_halo=4)
    assert sparse.images.shape == odd.shape


# -- residual_base: encoder (predict and refine) ---------------------------------------


def test_encoder_base_anchor_is_the_clamped_encoder_estimate():
    model, config = x1_model()
    lr = random_lr(2, 3, 8, 12)
    with torch.no_grad():
        estimate = model.encoder(lr).clamp(0, 1)
    cond = model.condition(lr)
    assert torch.equal(cond["base"], estimate * 2 - 1)
    anchor = model.anchor(cond)
    assert torch.equal(anchor, torch.zeros_like(lr))
    assert torch.equal(model.to_image(anchor, cond), (cond["base"] + 1) / 2)
    torch.testing.assert_close(model.to_image(anchor, cond), estimate, rtol=0, atol=1e-6)
    # Nothing diffused (A = 0, l = 0): the pipeline returns the estimate.
    out = YodaPipeline(model, config)(lr, lower_bound=0.0, importance=torch.zeros(2, 1, 8, 12))
    torch.testing.assert_close(out.images, estimate, rtol=0, atol=1e-6)


def test_encoder_base_residual_round_trips_and_clips_as_srdiff():
    model, _ = x1_model()
    lr = random_lr(2, 3, 8, 12)
    cond = model.condition(lr)
    estimate = (cond["base"] + 1) / 2
    hr = (estimate + 0.2 * (random_lr(2, 3, 8, 12, seed=4) * 2 - 1)).clamp(0, 1)
    x0 = model.target(hr, cond)
    # SRDiff's img2res around the estimate: (HR - base) * 2, clamped to [-1, 1].
    expected = ((hr * 2 - 1 - cond["base"]) * 2).clamp(-1, 1)
    torch.testing.assert_close(x0, expected, rtol=0, atol=1e-6)
    assert x0.abs().max() < 1, "residuals within 0.25 of the estimate do not clip"
    torch.testing.assert_close(model.to_image(x0, cond), hr, rtol=0, atol=1e-6)


def test_encoder_base_with_an_oracle_ends_on_hr_where_diffused_and_on_the_estimate_elsewhere():
    model, _ = x1_model()
    schedule = NoiseScheduleConfig(num_train_timesteps=100, beta_start=1e-4, beta_end=2e-2)
    lr = random_lr(1, 3, 8, 8)
    cond = model.condition(lr)
    estimate = (cond["base"] + 1) / 2
    hr = (estimate + 0.2 * (random_lr(1, 3, 8, 8, seed=5) * 2 - 1)).clamp(0, 1)
    x0 = model.target(hr, cond)
    abar = torch.cumprod(1 - torch.linspace(1e-4, 2e-2, 100), dim=0)

    def oracle(x_t: torch.Tensor, timesteps: torch.Tensor, **_: torch.Tensor) -> torch.Tensor:
        a = abar[timesteps].view(-1, 1, 1, 1)
        return (x_t - a.sqrt() * x0) / (1 - a).sqrt()

    importance = torch.zeros(1, 1, 8, 8)
    importance[..., :4] = 1.0
    out = yoda_sample(
        oracle,
        make_scheduler(schedule, "ddim"),
        anchor=model.anchor(cond),
        importance=importance,
        condition=cond,
        lower_bound=0.0,
        num_inference_steps=10,
        generator=torch.Generator().manual_seed(0),
    )
    image = model.to_image(out.sample, cond)
    expected = torch.where(importance.bool().expand_as(hr), hr, estimate)
    torch.testing.assert_close(image, expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", ["srdiff_tiny", "srdiff_tiny_x1"])
def test_default_bicubic_base_is_srdiff_residual_bit_for_bit(name):
    """The default (and saved configs without the key) keep SRDiff's bicubic residual."""
    if name == "srdiff_tiny":
        config = ExperimentConfig.load(name, TINY_SRDIFF_OVERRIDES)
    else:  # the x1 config sets residual_base: encoder; take it out
        config = ExperimentConfig.load(name, tiny_x1(4))
        config.model = dataclasses.replace(config.model, residual_base="bicubic")
    assert config.model.residual_base == "bicubic"
    torch.manual_seed(0)
    model = build_model(config.model).eval()
    s = config.model.scale
    lr = random_lr(2, 3, 4, 4)
    cond = model.condition(lr)
    assert set(cond) == {"lr_up", "features"}
    lr_up = imresize(lr, scale=s).clamp(0, 1) * 2 - 1
    assert torch.equal(cond["lr_up"], lr_up)
    with torch.no_grad():
        assert torch.equal(cond["features"], torch.cat(model.encoder.encode(lr), dim=1))
    x0 = torch.randn(2, 3, 4 * s, 4 * s, generator=torch.Generator().manual_seed(1))
    expected = ((lr_up + x0.clamp(-1, 1) / 2 + 1) / 2).clamp(0, 1)
    assert torch.equal(model.to_image(x0, cond), expected)
    hr = random_lr(2, 3, 4 * s, 4 * s, seed=2)
    assert torch.equal(model.target(hr, cond), ((hr * 2 - 1 - lr_up) * 2).clamp(-1, 1))


# -- importance on the estimate ---------------------------------------------------------


def test_importance_input_estimate_feeds_the_anchor_image_at_output_size():
    model, config = x1_model()
    assert config.yoda.importance_input == "estimate"
    source = RecordingSource()
    pipe = YodaPipeline(model, config, importance_source=source)
    lr = random_lr(1, 3, 7, 9)
    pipe(lr, generator=torch.Generator().manual_seed(0))
    ((seen, size),) = source.seen
    padded = torch.nn.functional.pad(lr, (0, 3, 0, 1), mode="replicate")  # to multiples of 4
    with torch.no_grad():
        estimate = model.encoder(padded).clamp(0, 1)[..., :7, :9]
    assert size == (7, 9)
    torch.testing.assert_close(seen, estimate, rtol=0, atol=1e-6)
    # Called alone, importance() makes the condition itself: the same estimate.
    assert torch.equal(pipe.importance(lr), torch.full((1, 1, 7, 9), 0.5))
    assert torch.equal(source.seen[-1][0], seen)

    config.yoda.importance_input = "lr"
    pipe(lr, generator=torch.Generator().manual_seed(0))
    assert torch.equal(source.seen[-1][0], lr)
    with pytest.raises(ValueError, match="importance_input"):
        YodaConfig(importance_input="hr")


def test_save_and_load_keep_residual_base_and_importance_input(tmp_path):
    model, config = x1_model()
    pipe = YodaPipeline(model, config)
    pipe.save_pretrained(tmp_path / "x1")
    loaded = YodaPipeline.from_pretrained(tmp_path / "x1")
    assert loaded.model.settings.residual_base == "encoder"
    assert loaded.config.yoda.importance_input == "estimate"
    assert loaded.config.to_dict() == pipe.config.to_dict()
    lr = random_lr(1, 3, 8, 8)
    a = pipe(lr, generator=torch.Generator().manual_seed(0)).images
    b = loaded(lr, generator=torch.Generator().manual_seed(0)).images
    assert torch.equal(a, b)


def test_training_x1_with_the_encoder_base_and_estimate_importance(tmp_path, monkeypatch):
    source = RecordingSource()
    monkeypatch.setattr("yoda_sr.training.trainer.build_importance_source", lambda _: source)
    images = tmp_path / "images"
    write_test_images(images, count=2)
    encoder = tiny_rrdb_x1(4)
    torch.save(encoder.state_dict(), tmp_path / "encoder.pth")
    config = ExperimentConfig.load(
        "srdiff_tiny_x1",
        tiny_x1(
            4,
            f"model.encoder_checkpoint={tmp_path / 'encoder.pth'}",
            f"data.train_dir={images}",
            f"data.val_dir={images}",
            "data.val_limit=1",
            *TWO_STEP_TRAINING_OVERRIDES,
        ),
    )
    result = Trainer(config, tmp_path / "run").train(progress=False)
    assert result.step == 2 and all(map(torch.isfinite, torch.tensor(result.losses)))
    assert result.val_psnr
    # Importance of each training batch's estimate (2 patches of 32 px), none from the data.
    assert [(tuple(image.shape), size) for image, size in source.seen[:2]] == [
        ((2, 3, 32, 32), (32, 32))
    ] * 2
    pipe = YodaPipeline.from_pretrained(tmp_path / "run", weights="model")
    for name, value in encoder.state_dict().items():
        assert torch.equal(pipe.model.encoder.state_dict()[name], value), name
    lr = random_lr(1, 3, 5, 6)
    assert pipe(lr, generator=torch.Generator().manual_seed(0)).images.shape == lr.shape


# -- what does not make sense -----------------------------------------------------------


def test_senseless_combinations_are_clear_errors(tmp_path):
    model, config = x1_model()
    settings = config.model
    with pytest.raises(ValueError, match="residual_base 'encoder' needs residual_convention"):
        dataclasses.replace(settings, residual_convention="legacy_divide")
    with pytest.raises(ValueError, match="residual_base 'encoder' needs freeze_encoder"):
        dataclasses.replace(settings, freeze_encoder=False)
    with pytest.raises(ValueError, match="residual_base must be one of"):
        dataclasses.replace(settings, residual_base="rrdb")
    legacy = dataclasses.replace(
        settings, residual_base="bicubic", residual_convention="legacy_divide"
    )
    assert SRDiffBackbone.from_settings(legacy).settings.residual_convention == "legacy_divide"
    with pytest.raises(ValueError, match="denoiser.scale=1 must be rrdb.scale \\* rrdb"):
        SRDiffConfig(rrdb=settings.rrdb, denoiser=dataclasses.replace(settings.denoiser, scale=1))
    with pytest.raises(ValueError, match="set model.encoder_checkpoint"):
        model.prepare_for_training()
    # An encoder file of another pixel_unshuffle is named as such.
    other = RRDBNet.from_settings(dataclasses.replace(settings.rrdb, pixel_unshuffle=1))
    torch.save(other.state_dict(), tmp_path / "p1.pth")
    with pytest.raises(RRDBCheckpointError, match="pixel_unshuffle=1 does not match"):
        load_encoder_weights(
            dataclasses.replace(settings, encoder_checkpoint=str(tmp_path / "p1.pth"))
        )


def test_x4_model_with_a_scale_1_preset_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(ValueError, match="'denoise-sigma25' degrades by x1, but model.scale is 4"):
        ExperimentConfig.load("srdiff_tiny", ["degradation.preset=denoise-sigma25"])
    argv = ["train", "--config", "srdiff_tiny", "--degradation", "denoise-sigma25"]
    assert main([*argv, "--output-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "denoise-sigma25" in err and "model.scale is 4" in err
    assert not (tmp_path / "run").exists()
    for name in ("rrdb_tiny_x1", "srdiff_tiny_x1"):
        config = ExperimentConfig.load(name, ["degradation.preset=jpeg-q10"])
        assert config.model.scale == config.degradation.scale(4) == 1
