"""YodaPipeline: shapes, value ranges, padding, determinism, tiling, save/load round trip."""

import pytest
import torch
from conftest import TINY_SR3_OVERRIDES

from yoda_sr.config import ExperimentConfig
from yoda_sr.metrics import psnr
from yoda_sr.models import build_model
from yoda_sr.pipeline import YodaPipeline


@pytest.fixture(scope="module")
def pipe() -> YodaPipeline:
    config = ExperimentConfig.load("sr3_tiny", TINY_SR3_OVERRIDES)
    torch.manual_seed(0)
    return YodaPipeline(build_model(config.model), config)


def lr_image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def test_odd_sized_input_is_padded_and_cropped_back(pipe):
    out = pipe(lr_image(7, 9), generator=torch.Generator().manual_seed(0))
    assert out.images.shape == (1, 3, 28, 36)
    assert out.images.min() >= 0 and out.images.max() <= 1
    assert out.importance.shape == (1, 1, 28, 36)
    assert len(out.active_fraction) == 5 and out.denoiser_calls <= 5


def test_same_seed_same_output(pipe):
    a = pipe(lr_image(8, 8), generator=torch.Generator().manual_seed(1))
    b = pipe(lr_image(8, 8), generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.images, b.images)


def test_lower_bound_one_equals_no_yoda(pipe):
    lr = lr_image(8, 8)
    a = pipe(lr, lower_bound=1.0, generator=torch.Generator().manual_seed(2), sampler="ddpm")
    b = pipe(lr, use_yoda=False, generator=torch.Generator().manual_seed(2), sampler="ddpm")
    assert torch.equal(a.images, b.images)
    assert b.importance is None


def test_zero_importance_zero_lower_bound_returns_bicubic(pipe):
    lr = lr_image(8, 8)
    out = pipe(lr, lower_bound=0.0, importance=torch.zeros(1, 1, 32, 32))
    bicubic = (pipe.model.condition(lr)["lr_up"] + 1) / 2
    torch.testing.assert_close(out.images, bicubic.clamp(0, 1))
    assert out.denoiser_calls == 0


def test_step_callback_reports_every_sampling_step_without_changing_the_output(pipe):
    calls = []
    a = pipe(lr_image(8, 8), num_inference_steps=4, generator=torch.Generator().manual_seed(3))
    b = pipe(
        lr_image(8, 8),
        num_inference_steps=4,
        generator=torch.Generator().manual_seed(3),
        step_callback=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert torch.equal(a.images, b.images)


def test_save_pretrained_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path / "saved")
    loaded = YodaPipeline.from_pretrained(tmp_path / "saved")
    assert loaded.config.to_dict() == pipe.config.to_dict()
    lr = lr_image(8, 8)
    a = pipe(lr, generator=torch.Generator().manual_seed(0))
    b = loaded(lr, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.images, b.images)


def test_sampling_options_take_the_config_defaults_and_the_overrides(pipe):
    options = pipe.sampling_options()
    assert (options.sampler, options.steps, options.eta) == ("ddim", 5, 0.0)
    assert options.use_yoda and options.lower_bound == pipe.config.yoda.lower_bound
    options = pipe.sampling_options("ddpm", 3, use_yoda=False, lower_bound=0.5, tile=64)
    assert (options.sampler, options.steps, options.use_yoda, options.lower_bound) == (
        "ddpm",
        3,
        False,
        None,
    )
    assert (options.tile, options.tile_overlap) == (64, 16)
    with pytest.raises(ValueError, match=r"steps must lie in 1\.\.100"):
        pipe.sampling_options(num_inference_steps=101)


def test_missing_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a saved pipeline"):
        YodaPipeline.from_pretrained(tmp_path)


def test_tiles_covering_the_image_in_one_piece_equal_the_untiled_output(pipe):
    lr = lr_image(8, 8)
    a = pipe(lr, generator=torch.Generator().manual_seed(0))
    b = pipe(lr, generator=torch.Generator().manual_seed(0), tile=64)
    assert torch.equal(a.images, b.images)
    assert b.network_calls == a.network_calls <= 5 and b.tiles_evaluated == 0


def test_tiled_sampling_skips_tiles_outside_the_mask_and_keeps_them_bicubic(pipe):
    lr = lr_image(16, 16)
    importance = torch.zeros(1, 1, 64, 64)
    importance[..., :16, :16] = 1.0  # only the top-left corner is ever diffused
    out = pipe(
        lr,
        lower_bound=0.0,
        importance=importance,
        tile=16,
        tile_overlap=0,
        generator=torch.Generator().manual_seed(0),
    )
    assert out.tiles_total == 16 * 5
    assert out.tiles_evaluated == 1 * 5
    bicubic = ((pipe.model.condition(lr)["lr_up"] + 1) / 2).clamp(0, 1)
    torch.testing.assert_close(out.images[..., 16:, :], bicubic[..., 16:, :])
    torch.testing.assert_close(out.images[..., :, 16:], bicubic[..., :, 16:])
    untiled = pipe(
        lr, lower_bound=0.0, importance=importance, generator=torch.Generator().manual_seed(0)
    )
    assert not torch.equal(out.images[..., :16, :16], bicubic[..., :16, :16])
    # The one evaluated 16 px tile sees no context, yet stays near the untiled network's
    # result (21.7 dB measured on CPU); both are bicubic elsewhere.
    assert psnr(out.images[0, :, :16, :16], untiled.images[0, :, :16, :16]) > 18.0
    torch.testing.assert_close(out.images[..., 16:, :], untiled.images[..., 16:, :])


def test_tiled_output_is_close_to_untiled_and_closer_with_more_context(pipe):
    lr = lr_image(16, 16)

    def run(**tiling):
        return pipe(lr, generator=torch.Generator().manual_seed(0), lower_bound=1.0, **tiling)

    untiled = run()
    small, large = run(tile=32, tile_overlap=4), run(tile=48, tile_overlap=16)
    # 32 px tiles write 24 px cores (3 x 3 of them), 48 px tiles 16 px cores (4 x 4).
    assert small.tiles_evaluated == small.tiles_total == 9 * 5
    assert large.tiles_evaluated == large.tiles_total == 16 * 5
    assert small.network_calls == 9 * 5  # one tile per call: memory bounded by the tile
    small_psnr = psnr(small.images[0], untiled.images[0])
    assert small_psnr > 28.0
    assert psnr(large.images[0], untiled.images[0]) > small_psnr + 3.0


def test_upscale_with_missing_dino_weights_fails_early_with_a_clear_error(pipe, tmp_path, capsys):
    import copy

    from PIL import Image

    from yoda_sr.cli.main import main

    config = copy.deepcopy(pipe.config)
    config.attention.source = "dino"
    config.attention.model = "facebook/dino-vits8"
    YodaPipeline(pipe.model, config).save_pretrained(tmp_path / "dino_run")
    Image.new("RGB", (8, 8)).save(tmp_path / "lr.png")
    code = main(
        [
            "upscale",
            str(tmp_path / "lr.png"),
            "--model",
            str(tmp_path / "dino_run"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    assert "facebook/dino-vits8" in capsys.readouterr().err
    assert not (tmp_path / "out" / "lr_x4.png").exists()
