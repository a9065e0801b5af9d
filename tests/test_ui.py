"""The web UI's work without a browser: upscaling an upload, the mask at step t, the numbers,
errors shown in the page. Tests of the Gradio page itself skip without gradio."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from conftest import TINY_SR3_OVERRIDES, write_test_images
from PIL import Image

from yoda_sr.cli.main import main
from yoda_sr.config import ExperimentConfig
from yoda_sr.evaluation.demo_data import write_examples
from yoda_sr.imaging import load_image, make_lr
from yoda_sr.masks import diffusion_mask
from yoda_sr.metrics import psnr
from yoda_sr.models import build_model
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.ui.session import (
    NO_YODA,
    ModelStore,
    UIError,
    load_inputs,
    mask_at,
    mask_caption,
    model_defaults,
    numbers_markdown,
    upscale,
)


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> str:
    """A tiny randomly initialised SR3+YODA model (T = 100, DDIM 5 steps by default)."""
    config = ExperimentConfig.load("sr3_tiny", TINY_SR3_OVERRIDES)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ui") / "tiny-sr3"
    YodaPipeline(build_model(config.model), config).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def store() -> ModelStore:
    return ModelStore("cpu")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list:
    return write_test_images(tmp_path_factory.mktemp("ui-images"), count=2, size=16)


@pytest.fixture(scope="module")
def result(store, model_folder, images):
    return upscale(store, model_folder, str(images[0]), steps=4, lower_bound=0.2, seed=1)


@pytest.fixture
def broken_png(tmp_path):
    path = tmp_path / "holiday.png"
    path.write_bytes(b"not a PNG at all")
    return path


def test_model_defaults_come_from_the_model_config(store, model_folder):
    defaults = model_defaults(store.get(model_folder))
    assert (defaults.scale, defaults.num_train_timesteps) == (4, 100)
    assert (defaults.sampler, defaults.steps, defaults.source) == ("ddim", 5, "detail")
    assert "SR3 x4" in defaults.description


def test_upscale_writes_the_output_png_and_reports_every_step(store, model_folder, images):
    calls = []
    run = upscale(
        store, model_folder, str(images[1]), steps=3, step_callback=lambda d, t: calls.append(d)
    )
    assert calls == [1, 2, 3]
    assert run.output.shape == run.bicubic.shape == (3, 64, 64)
    assert run.output_path.name == "img01_x4.png"
    written = load_image(run.output_path)
    torch.testing.assert_close(written, run.output, atol=0.5 / 255, rtol=0)
    assert run.denoiser_calls <= 3 and len(run.active_fraction) == 3


@pytest.mark.parametrize("t", [1, 20, 50, 81, 100])
def test_mask_slider_active_fraction_equals_the_mask_rule(result, t):
    image, fraction = mask_at(result, t)
    mask = diffusion_mask(result.importance[None], t - 1, 100, 0.2)[0]
    assert fraction == pytest.approx(float(mask.mean()))
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    # Diffused pixels show the output; the others are dimmed.
    output = np.asarray(result.output.permute(1, 2, 0) * 255).round()
    active = mask[0].bool().numpy()
    np.testing.assert_allclose(image[active], output[active], atol=1)
    assert f"{100 * fraction:.1f} %" in mask_caption(result, t, fraction)


def test_mask_caption_says_whether_the_sampler_visits_t(result):
    visited = result.timesteps[0] + 1
    assert "is visited" in mask_caption(result, visited, *mask_at(result, visited)[1:])
    assert "not visited" in mask_caption(result, visited - 1, *mask_at(result, visited - 1)[1:])


def test_plain_diffusion_has_no_importance_and_no_mask(store, model_folder, images):
    run = upscale(store, model_folder, str(images[0]), steps=2, source=NO_YODA)
    assert run.importance is None and run.active_fraction == [1.0, 1.0]
    assert mask_at(run, 50) == (None, None)
    assert "no YODA" in numbers_markdown(run)


def test_other_importance_source_than_the_models_is_used(store, model_folder, images):
    run = upscale(store, model_folder, str(images[0]), steps=2, source="constant", lower_bound=0)
    assert torch.all(run.importance == 0.5)
    assert "constant importance" in run.description


def test_numbers_show_time_calls_and_active_fraction(result):
    numbers = numbers_markdown(result)
    assert f"| denoiser calls | {result.denoiser_calls} |" in numbers
    assert f"| mean active fraction | {np.mean(result.active_fraction):.3f} |" in numbers
    assert "| time |" in numbers and "PSNR" not in numbers


def test_hr_reference_is_downscaled_and_gives_psnr_and_ssim(store, model_folder, tmp_path):
    hr_path = write_test_images(tmp_path, count=1, size=50)[0]
    run = upscale(store, model_folder, None, str(hr_path), steps=2)
    hr, lr = make_lr(load_image(hr_path), 4)
    torch.testing.assert_close(run.lr, lr)
    assert run.output.shape == hr.shape == (3, 48, 48)
    assert run.metrics["bicubic"]["psnr_rgb"] == pytest.approx(psnr(run.bicubic, hr, 4))
    assert set(run.metrics["output"]) == {"psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y"}
    numbers = numbers_markdown(run)
    assert "PSNR-Y (dB)" in numbers and "SSIM" in numbers
    assert f"| bicubic | {run.metrics['bicubic']['psnr_rgb']:.2f} |" in numbers


def test_unreadable_upload_is_an_error_naming_the_file_and_the_reason(broken_png):
    with pytest.raises(
        UIError, match=r"^holiday\.png: cannot read as an image \(cannot identify"
    ) as err:
        load_inputs(str(broken_png), None, 4)
    assert str(broken_png.parent) not in str(err.value)  # the server's upload folder
    with pytest.raises(UIError, match=r"^holiday\.png: cannot read as an image"):
        load_inputs(None, str(broken_png), 4)


def test_hr_reference_smaller_than_the_scale_is_an_error(tmp_path):
    path = tmp_path / "tiny.png"
    Image.new("RGB", (3, 3)).save(path)
    with pytest.raises(UIError, match=r"tiny\.png: image \(3, 3\) is smaller than the scale 4"):
        load_inputs(None, str(path), 4)


def test_missing_upload_model_or_bad_options_are_clear_errors(
    store, model_folder, images, tmp_path
):
    with pytest.raises(UIError, match="upload an image"):
        upscale(store, model_folder, None, None)
    with pytest.raises(UIError, match="choose a model"):
        upscale(store, " ", str(images[0]))
    with pytest.raises(UIError, match=f"model {tmp_path}: .*neither a saved pipeline"):
        store.get(str(tmp_path))
    with pytest.raises(UIError, match=r"steps must lie in 1\.\.100"):
        upscale(store, model_folder, str(images[0]), steps=101)
    with pytest.raises(UIError, match=r"lower bound must lie in \[0, 1\]"):
        upscale(store, model_folder, str(images[0]), lower_bound=1.5)


def test_examples_are_small_photos_and_one_hr_reference(tmp_path):
    lr_paths, hr_path = write_examples(tmp_path)
    assert [p.name for p in lr_paths] == [
        "chelsea.png",
        "astronaut.png",
        "coffee.png",
        "rocket.png",
    ]
    for path in lr_paths:
        assert max(load_image(path).shape[-2:]) == 96
    assert load_image(hr_path).shape == (3, 192, 192)


def test_offered_models_are_the_given_then_the_bundled_with_the_default_selected(
    monkeypatch, tmp_path
):
    import yoda_sr.ui.session as session
    from yoda_sr.pipeline.bundled import DEFAULT_MODEL, BundledModel

    bundled = [BundledModel(name, tmp_path, tmp_path, "") for name in ("sr3-x", DEFAULT_MODEL)]
    monkeypatch.setattr(session, "list_bundled", lambda: bundled)
    assert session.offered_models() == (["sr3-x", DEFAULT_MODEL], DEFAULT_MODEL)
    assert session.offered_models(["runs/a"]) == (["runs/a", "sr3-x", DEFAULT_MODEL], "runs/a")
    monkeypatch.setattr(session, "list_bundled", lambda: [])
    assert session.offered_models() == ([], None)


def test_ui_command_without_gradio_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # as if not installed
    assert main(["ui"]) == 2
    assert "pip install 'yoda-sr[ui]'" in capsys.readouterr().err


def test_page_shows_a_bad_upload_as_an_error_message(store, broken_png):
    gr = pytest.importorskip("gradio", reason="the [ui] extra (gradio) is not installed")
    from yoda_sr.ui.app import Callbacks

    with pytest.raises(gr.Error, match=r"holiday\.png: cannot read as an image"):
        Callbacks(store).preview(str(broken_png), None)
    with pytest.raises(gr.Error, match="choose a model"):
        Callbacks(store).model_settings("")


def test_page_run_returns_the_pair_mask_numbers_and_download(store, model_folder, tmp_path):
    pytest.importorskip("gradio", reason="the [ui] extra (gradio) is not installed")
    from yoda_sr.ui.app import Callbacks

    hr_path = write_test_images(tmp_path, count=1, size=32)[0]
    reported = []
    pair, overlay, mask, caption, numbers, download, result = Callbacks(store).run(
        model_folder,
        None,
        str(hr_path),
        "ddpm",
        3,
        0.3,
        "detail",
        "wavelet",
        0,
        70,
        progress=lambda *args, **kwargs: reported.append(args[0]),
    )
    assert reported == [0.0, (1, 3), (2, 3), (3, 3)]
    assert [image.shape for image in pair] == [(32, 32, 3), (32, 32, 3)]
    assert overlay.shape == mask.shape == (32, 32, 3)
    assert "t = 70" in caption and "PSNR" in numbers
    assert download.endswith("img00_x4.png") and result.metrics is not None
    assert "colour fix wavelet" in result.description


def test_app_offers_the_given_models_and_selects_the_first(model_folder):
    pytest.importorskip("gradio", reason="the [ui] extra (gradio) is not installed")
    from yoda_sr.ui.app import build_app

    app = build_app([model_folder, "other/model", model_folder], device="cpu")
    dropdown = next(block for block in app.blocks.values() if block.elem_id == "model")
    assert [choice[1] for choice in dropdown.choices] == [model_folder, "other/model"]
    assert dropdown.value == model_folder


def test_model_defaults_offer_only_the_samplers_of_the_models_process(model_folder):
    from test_resshift import TINY_RESSHIFT_OVERRIDES

    from yoda_sr.config import ExperimentConfig
    from yoda_sr.models import build_model
    from yoda_sr.pipeline import YodaPipeline
    from yoda_sr.ui.session import model_defaults

    config = ExperimentConfig.load("resshift_tiny", TINY_RESSHIFT_OVERRIDES)
    resshift = YodaPipeline(build_model(config.model), config)
    assert model_defaults(resshift).samplers == ("ddpm",)
    assert model_defaults(YodaPipeline.from_pretrained(model_folder)).samplers == ("ddpm", "ddim")
