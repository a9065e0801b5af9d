"""Folders written by yoda-sr before the diffusers-native components keep loading and keep
producing the same images (``tests/fixtures/runs_v0_2``, see ``make_runs_v0_2.py`` there)."""

import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from yoda_sr.pipeline import YodaPipeline

FIXTURE = Path(__file__).parent / "fixtures" / "runs_v0_2"


@pytest.fixture(scope="module")
def expected() -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURE / "expected.safetensors"))


def load(name: str | Path) -> YodaPipeline:
    """A fixture folder by name (or any absolute path), refusing legacy-default warnings but
    the one of the settings added after these folders were written: they keep the per-image
    normalisation, no detail floor and no colour fix, as they were made."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe = YodaPipeline.from_pretrained(FIXTURE / name)
    for warning in caught:
        filled = str(warning.message).rpartition("(")[2].rstrip(")").split(", ")
        assert set(filled) <= {
            "attention.normalization: per_image",
            "attention.detail_floor: 0.0",
            "sampling.color_fix: none",
        }
    assert pipe.config.attention.normalization == "per_image"
    assert pipe.config.attention.detail_floor == 0.0
    assert pipe.config.sampling.color_fix == "none"
    return pipe


@pytest.mark.parametrize("folder", ["sr3", "sr3_saved", "srdiff"])
@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_diffusion_run_reproduces_its_images(expected, folder, sampler):
    pipe = load(folder)
    out = pipe(expected["lr"], sampler=sampler, generator=torch.Generator().manual_seed(0))
    key = f"{folder.removesuffix('_saved')}_{sampler}"
    torch.testing.assert_close(out.images, expected[key], rtol=0, atol=1e-5)


def test_regression_run_reproduces_its_images(expected):
    out = load("rrdb")(expected["lr"])
    torch.testing.assert_close(out.images, expected["rrdb"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("folder", ["sr3", "srdiff", "rrdb"])
def test_resaved_in_the_component_layout_reproduces_its_images(expected, folder, tmp_path):
    load(folder).save_pretrained(tmp_path / folder)
    assert (tmp_path / folder / "model_index.json").is_file()
    pipe = load(tmp_path / folder)
    if folder == "rrdb":
        out = pipe(expected["lr"])
        torch.testing.assert_close(out.images, expected["rrdb"], rtol=0, atol=1e-5)
        return
    for sampler in ("ddim", "ddpm"):
        out = pipe(expected["lr"], sampler=sampler, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(out.images, expected[f"{folder}_{sampler}"], rtol=0, atol=1e-5)


def test_run_of_0_1_keeps_its_residual_convention_when_resaved(expected, tmp_path):
    run = Path(shutil.copytree(FIXTURE / "srdiff", tmp_path / "run"))
    for path in [run / "config.yaml", *run.glob("checkpoints/step-*/config.yaml")]:
        data = yaml.safe_load(path.read_text())  # what 0.1.0 wrote: no such keys
        del data["model"]["residual_convention"], data["model"]["clip_residual"]
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.warns(UserWarning, match="legacy_divide"):
        old = YodaPipeline.from_pretrained(run)
    old.save_pretrained(tmp_path / "saved")
    backbone = json.loads((tmp_path / "saved" / "backbone" / "config.json").read_text())
    assert backbone["residual_convention"] == "legacy_divide" and backbone["clip_residual"]
    resaved = load(tmp_path / "saved")
    assert resaved.model.settings == old.model.settings
    generator = torch.Generator().manual_seed
    a = old(expected["lr"], sampler="ddpm", generator=generator(0))
    b = resaved(expected["lr"], sampler="ddpm", generator=generator(0))
    assert torch.equal(a.images, b.images)
