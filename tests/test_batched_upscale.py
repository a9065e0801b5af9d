"""Batched upscaling: images of one size share a pipeline call, each with its own noise."""

import numpy as np
import pytest
import torch
from conftest import TINY_SR3_OVERRIDES
from PIL import Image

from yoda_sr.cli.main import main
from yoda_sr.config import ExperimentConfig
from yoda_sr.imaging import load_image
from yoda_sr.jobs import upscale_files
from yoda_sr.jobs.upscale import batches_by_size
from yoda_sr.models import build_model
from yoda_sr.pipeline import YodaPipeline


@pytest.fixture(scope="module")
def pipe() -> YodaPipeline:
    config = ExperimentConfig.load("sr3_tiny", TINY_SR3_OVERRIDES)
    torch.manual_seed(0)
    return YodaPipeline(build_model(config.model), config)


def write_lr(folder, name: str, h: int, w: int, seed: int):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    path = folder / name
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def test_batches_group_one_size_up_to_the_batch_size_and_the_memory_capacity():
    sizes = [(8, 8), (8, 12), (8, 8), None, (8, 8), (8, 12), (8, 8)]
    items = list("abcdefg")
    assert batches_by_size(items, sizes, 3, lambda size: 99) == [
        ["a", "c", "e"],
        ["g"],
        ["b", "f"],
        ["d"],
    ]
    assert batches_by_size(items, sizes, 3, lambda size: 2 if size == (8, 8) else 0) == [
        ["a", "c"],
        ["e", "g"],
        ["b"],
        ["f"],
        ["d"],
    ]


@pytest.mark.parametrize(("sampler", "eta"), [("ddpm", 0.0), ("ddim", 1.0)])
def test_per_image_generators_make_batched_sampling_equal_one_by_one(pipe, sampler, eta):
    lr = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    options = {"sampler": sampler, "num_inference_steps": 4, "eta": eta, "sparse": False}
    batched = pipe(lr, generator=[torch.Generator().manual_seed(0) for _ in range(3)], **options)
    for index in range(3):
        alone = pipe(lr[index : index + 1], generator=torch.Generator().manual_seed(0), **options)
        torch.testing.assert_close(batched.images[index], alone.images[0], atol=1e-5, rtol=0)


def test_a_generator_list_of_the_wrong_length_is_refused(pipe):
    with pytest.raises(ValueError, match="2 generators for a batch of 3"):
        pipe(torch.rand(3, 3, 8, 8), generator=[torch.Generator(), torch.Generator()])


def test_batched_upscale_files_equal_one_by_one(pipe, tmp_path):
    inputs = [write_lr(tmp_path / "in", f"{i}.png", 8, 8, i) for i in range(3)]
    options = {"sampler": "ddim", "steps": 3, "sparse": False}
    upscale_files(pipe, inputs, tmp_path / "one", **options)
    upscale_files(pipe, inputs, tmp_path / "batched", batch_size=3, **options)
    for i in range(3):
        one = load_image(tmp_path / "one" / f"{i}_x4.png")
        batched = load_image(tmp_path / "batched" / f"{i}_x4.png")
        torch.testing.assert_close(batched, one, atol=1 / 255, rtol=0)


def test_cli_batch_size_writes_every_image_at_its_size_and_name_and_reports_each_call(
    pipe, tmp_path, capsys
):
    model = tmp_path / "model"
    pipe.save_pretrained(model)
    inputs = [write_lr(tmp_path / "in", f"s{i}.png", 8, 8, i) for i in range(3)]
    inputs.append(write_lr(tmp_path / "in", "wide.png", 8, 12, 3))
    out = tmp_path / "out"
    argv = ["upscale", *map(str, inputs), "--model", str(model), "--out", str(out)]
    assert main([*argv, "--steps", "2", "--batch-size", "2", "--save-masks"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [f"s{i}_x4.png" for i in range(3)]
        + [f"s{i}_masks.png" for i in range(3)]
        + ["wide_x4.png", "wide_masks.png"]
    )
    assert Image.open(out / "s2_x4.png").size == (32, 32)
    assert Image.open(out / "wide_x4.png").size == (48, 32)
    printed = capsys.readouterr().out
    assert f"{inputs[0]}, {inputs[1]}: ideal speed-up" in printed


def test_cli_batch_size_below_one_is_a_usage_error(pipe, tmp_path, capsys):
    model = tmp_path / "model"
    pipe.save_pretrained(model)
    image = write_lr(tmp_path / "in", "a.png", 8, 8, 0)
    argv = ["upscale", str(image), "--model", str(model), "--out", str(tmp_path / "out")]
    assert main([*argv, "--batch-size", "0"]) == 2
    assert "batch_size must be >= 1" in capsys.readouterr().err
