"""Folders written by yoda-sr before the diffusers-native components keep loading and keep
producing the same images (``tests/fixtures/runs_v0_2``, see ``make_runs_v0_2.py`` there)."""

import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from yoda_sr.pipeline import YodaPipeline

FIXTURE = Path(__file__).parent / "fixtures" / "runs_v0_2"


@pytest.fixture(scope="module")
def expected() -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURE / "expected.safetensors"))


def load(name: str) -> YodaPipeline:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a current-version run needs no legacy defaults
        return YodaPipeline.from_pretrained(FIXTURE / name)


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
