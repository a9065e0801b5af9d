"""Colour correction after sampling (wavelet and AdaIN towards the upsampled LR)."""

import pytest
import torch

from yoda_sr.pipeline.color_fix import apply_color_fix, low_frequencies


def _image(seed: int = 0, size: tuple[int, int] = (40, 56)) -> torch.Tensor:
    return 0.2 + 0.6 * torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("method", ["wavelet", "adain"])
def test_a_constant_colour_offset_is_removed(method):
    reference = _image()
    shifted = reference + torch.tensor([0.08, -0.05, 0.03]).view(1, 3, 1, 1)
    fixed = apply_color_fix(shifted, reference, method)
    torch.testing.assert_close(fixed, reference, atol=1e-5, rtol=0)


def test_wavelet_fix_keeps_an_image_whose_low_frequencies_already_match():
    reference = _image(seed=1, size=(96, 96))
    # A checkerboard has no low frequencies (the binomial kernel cancels it), so the image's
    # low band is the reference's: the fix changes nothing, away from the borders where
    # padding breaks the pattern (31 px: the dilations 1 + 2 + ... + 16).
    checker = (torch.arange(96)[:, None] + torch.arange(96)[None, :]) % 2 * 2.0 - 1.0
    image = (reference + 0.05 * checker).clamp(0, 1)
    fixed = apply_color_fix(image, reference, "wavelet")
    inside = (..., slice(32, -32), slice(32, -32))
    torch.testing.assert_close(fixed[inside], image[inside], atol=1e-5, rtol=0)
    assert (fixed - image).abs().max() > 1e-3  # the borders do change: the test can fail


def test_adain_fix_keeps_an_image_whose_mean_and_std_already_match():
    reference = _image(seed=3)
    image = reference.flip(-1)  # other content, the same per-channel statistics
    torch.testing.assert_close(apply_color_fix(image, reference, "adain"), image, atol=1e-5, rtol=0)


def test_wavelet_fix_keeps_the_images_detail():
    reference = low_frequencies(_image(seed=4))  # a blurry, LR-like reference
    image = _image(seed=5)
    fixed = apply_color_fix(image, reference, "wavelet")
    detail = image - low_frequencies(image)
    # Equal up to the band split not being idempotent (the low band of a low band is blurrier).
    difference = (fixed - low_frequencies(fixed) - detail).abs()
    assert difference.mean() < 0.005 and difference.max() < 0.05
    assert detail.abs().mean() > 0.1


def test_none_returns_the_image_and_bad_methods_are_named():
    image = _image()
    assert apply_color_fix(image, _image(seed=1), "none") is image
    with pytest.raises(ValueError, match="histogram"):
        apply_color_fix(image, image, "histogram")
    with pytest.raises(ValueError, match="shape"):
        apply_color_fix(image, image[..., :10], "wavelet")


def test_low_frequencies_of_a_constant_image_is_the_image_even_when_tiny():
    for size in [(1, 1), (3, 2), (40, 40)]:
        constant = torch.full((1, 3, *size), 0.37)
        torch.testing.assert_close(low_frequencies(constant), constant)


def test_pipeline_color_fix_is_the_fix_of_its_uncorrected_output(model_dir):
    from yoda_sr.models import bicubic_up
    from yoda_sr.pipeline import YodaPipeline

    pipe = YodaPipeline.from_pretrained(model_dir)
    lr = _image(seed=6, size=(8, 8))

    def sample(**kwargs):
        return pipe(lr, num_inference_steps=3, generator=torch.Generator().manual_seed(0), **kwargs)

    plain = sample(color_fix="none").images
    reference = (bicubic_up(lr, 4) + 1) / 2
    for method in ("wavelet", "adain"):
        torch.testing.assert_close(
            sample(color_fix=method).images, apply_color_fix(plain, reference, method)
        )
    assert pipe.sampling_options(color_fix=None).color_fix == pipe.config.sampling.color_fix
    with pytest.raises(ValueError, match="color fix"):
        pipe.sampling_options(color_fix="lab")


def test_upscale_and_evaluate_commands_apply_and_record_the_color_fix(model_dir, tmp_path):
    import json

    from conftest import write_test_images

    from yoda_sr.cli.main import main
    from yoda_sr.imaging import load_image
    from yoda_sr.pipeline import YodaPipeline

    lr_path = write_test_images(tmp_path / "lr", count=1, size=12)[0]
    common = ["--model", str(model_dir), "--steps", "2"]
    for fix in ("none", "adain"):
        assert (
            main(
                ["upscale", str(lr_path), "--out", str(tmp_path / fix), "--color-fix", fix, *common]
            )
            == 0
        )
    pipe = YodaPipeline.from_pretrained(model_dir)
    lr = load_image(lr_path)[None]
    for fix in ("none", "adain"):
        api = pipe(
            lr, num_inference_steps=2, generator=torch.Generator().manual_seed(0), color_fix=fix
        )
        written = load_image(tmp_path / fix / f"{lr_path.stem}_x4.png")
        torch.testing.assert_close(written, api.images[0], atol=0.5 / 255 + 1e-6, rtol=0)
    none, adain = (
        load_image(tmp_path / fix / f"{lr_path.stem}_x4.png") for fix in ("none", "adain")
    )
    assert (none - adain).abs().max() > 0.05

    write_test_images(tmp_path / "hr", count=2, size=32)
    out = tmp_path / "eval"
    args = ["evaluate", "--data", str(tmp_path / "hr"), "--out", str(out), "--color-fix", "wavelet"]
    assert main([*args, *common, "--scale", "4"]) == 0
    assert json.loads((out / "summary.json").read_text())["protocol"]["color_fix"] == "wavelet"
    with pytest.raises(SystemExit) as refused:  # argparse: usage error, exit code 2
        main(["upscale", str(lr_path), "--out", str(tmp_path / "x"), "--color-fix", "lab", *common])
    assert refused.value.code == 2
