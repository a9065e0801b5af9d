"""Every failure of the commands is a message naming its cause, never a traceback.

Exit 2 for usage errors (bad options, models, output folders, configs), 1 when some input
files could not be read; nothing is lost or overwritten within a run. The cases of issue 23
(links, run folders, bundled names, decompression bombs, ...) are listed and pinned in
tests/test_cli_lose_nothing.py.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from conftest import TINY_SR3_OVERRIDES
from PIL import Image
from safetensors.torch import load_file, save_file

from yoda_sr.cli.main import main
from yoda_sr.pipeline import YodaPipeline

T = 100  # diffusion.num_train_timesteps of the tiny model


WEIGHTS = "backbone/diffusion_pytorch_model.safetensors"


def copy_model(model_dir, target):
    shutil.copytree(model_dir, target)
    return target


def upscale(*argv) -> int:
    return main(["upscale", *map(str, argv), "--steps", "2"])


def test_upscale_writes_both_inputs_that_share_a_stem(model_dir, tmp_path):
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "a.bmp")
    out = tmp_path / "out"
    code = upscale(tmp_path / "a.png", tmp_path / "a.bmp", "--model", model_dir, "--out", out)
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.bmp_x4.png", "a.png_x4.png"]
    assert not np.array_equal(
        np.asarray(Image.open(out / "a.png_x4.png")), np.asarray(Image.open(out / "a.bmp_x4.png"))
    )


def test_upscale_refuses_the_same_name_from_two_folders_before_any_work(
    model_dir, tmp_path, capsys
):
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / folder / "a.png")
    out = tmp_path / "out"
    code = upscale(
        tmp_path / "one" / "a.png", tmp_path / "two" / "a.png", "--model", model_dir, "--out", out
    )
    assert code == 2
    assert "would both write" in capsys.readouterr().err
    assert not out.exists()


def test_attention_writes_both_inputs_that_share_a_stem(tmp_path):
    rng = np.random.default_rng(2)
    for name in ("a.png", "a.bmp"):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / name)
    out = tmp_path / "out"
    assert (
        main(["attention", str(tmp_path / "a.png"), str(tmp_path / "a.bmp"), "--out", str(out)])
        == 0
    )
    for name in ("a.png", "a.bmp"):
        for suffix in ("_attention.npy", "_attention.png", "_masks.png"):
            assert (out / f"{name}{suffix}").is_file()
    assert not np.array_equal(
        np.load(out / "a.png_attention.npy"), np.load(out / "a.bmp_attention.npy")
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--steps", "0"], f"steps must lie in 1..{T}"),
        (["--steps", "-3"], f"steps must lie in 1..{T}"),
        (["--steps", str(T + 1)], f"steps must lie in 1..{T}"),
        (["--lower-bound", "1.5"], "lower bound must lie in [0, 1]"),
        (["--lower-bound", "-0.1"], "lower bound must lie in [0, 1]"),
        (["--tile", "0"], "tile must be a positive number"),
        (["--tile", "-64"], "tile must be a positive number"),
        (["--eta", "-0.5"], "eta must be >= 0"),
    ],
)
def test_upscale_option_out_of_range_is_a_usage_error_before_sampling(
    model_dir, lr_image, tmp_path, capsys, option, message
):
    out = tmp_path / "out"
    code = main(["upscale", str(lr_image), "--model", str(model_dir), "--out", str(out), *option])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_evaluate_option_out_of_range_is_a_usage_error(model_dir, lr_image, tmp_path, capsys):
    argv = ["evaluate", "--model", str(model_dir), "--data", str(lr_image.parent), "--scale", "4"]
    assert main([*argv, "--out", str(tmp_path / "res"), "--steps", str(T + 1)]) == 2
    assert f"steps must lie in 1..{T}" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "res"), "--lower-bound", "2"]) == 2
    assert "lower bound must lie in [0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "res").exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_model_file_is_named_by_upscale_and_evaluate(
    model_dir, lr_image, tmp_path, capsys, damage
):
    broken = copy_model(model_dir, tmp_path / "broken")
    weights = broken / WEIGHTS
    data = weights.read_bytes()
    weights.write_bytes(
        b"not safetensors at all" if damage == "garbage" else data[: len(data) // 2]
    )
    assert upscale(lr_image, "--model", broken, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"{weights}: cannot read the weights" in err and "Traceback" not in err
    argv = ["evaluate", "--model", str(broken), "--data", str(lr_image.parent), "--scale", "4"]
    assert main([*argv, "--out", str(tmp_path / "res")]) == 2
    assert f"{weights}: cannot read the weights" in capsys.readouterr().err


def test_weights_that_do_not_fit_the_config_are_summarised(model_dir, lr_image, tmp_path, capsys):
    changed = copy_model(model_dir, tmp_path / "changed")
    state = load_file(str(changed / WEIGHTS))
    state.pop("unet.conv_out.bias")
    state["extra.weight"] = torch.zeros(2)
    state["unet.conv_in.weight"] = torch.zeros(16, 5, 3, 3)
    save_file(state, str(changed / WEIGHTS))
    assert upscale(lr_image, "--model", changed, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"{changed / WEIGHTS}: weights do not fit the model" in err
    assert "1 missing keys (first: unet.conv_out.bias)" in err
    assert "1 unexpected keys (first: extra.weight)" in err
    assert (
        "1 shape mismatches (first: unet.conv_in.weight: file (16, 5, 3, 3), model (16, 6, 3, 3))"
        in err
    )
    assert len(err.splitlines()) == 1


def test_output_folder_that_is_a_file_is_a_usage_error_before_sampling(
    model_dir, lr_image, tmp_path, capsys
):
    taken = tmp_path / "taken"
    taken.write_text("a file")
    assert upscale(lr_image, "--model", model_dir, "--out", taken) == 2
    assert "taken is an existing file" in capsys.readouterr().err
    argv = ["evaluate", "--model", str(model_dir), "--data", str(lr_image.parent), "--scale", "4"]
    assert main([*argv, "--out", str(taken)]) == 2
    assert "taken is an existing file" in capsys.readouterr().err
    assert main(["attention", str(lr_image), "--out", str(taken / "sub")]) == 2
    assert "cannot create output folder" in capsys.readouterr().err


def test_cuda_device_without_a_gpu_is_a_clear_error(
    model_dir, lr_image, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert (
        upscale(lr_image, "--model", model_dir, "--out", tmp_path / "out", "--device", "cuda") == 2
    )
    assert "no CUDA GPU is available" in capsys.readouterr().err
    assert (
        main(["attention", str(lr_image), "--out", str(tmp_path / "maps"), "--device", "cuda"]) == 2
    )
    assert "no CUDA GPU is available" in capsys.readouterr().err
    assert (
        upscale(lr_image, "--model", model_dir, "--out", tmp_path / "out", "--device", "gpu") == 2
    )
    assert "unknown device 'gpu'" in capsys.readouterr().err


def test_directory_given_as_an_image_is_a_per_file_failure(model_dir, lr_image, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    out = tmp_path / "out"
    assert upscale(folder, lr_image, "--model", model_dir, "--out", out) == 1
    assert (
        "photos: cannot read as an image (is a directory, not an image file)"
        in capsys.readouterr().err
    )
    assert (out / "lr_x4.png").is_file()
    assert main(["attention", str(folder), str(lr_image), "--out", str(tmp_path / "maps")]) == 1
    assert "is a directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("train.checkpoint_every=0", "train.checkpoint_every must be an integer >= 1, got 0"),
        ("train.log_every=0", "train.log_every must be an integer >= 1, got 0"),
        ("train.steps=-5", "train.steps must be an integer >= 1, got -5"),
        (
            "diffusion.num_train_timesteps=0",
            "diffusion.num_train_timesteps must be an integer >= 1",
        ),
        ("sampling.steps=500", "sampling.steps (500) exceeds diffusion.num_train_timesteps (100)"),
    ],
)
def test_bad_config_values_are_named_at_parse_time(image_folder, tmp_path, capsys, override, key):
    argv = ["train", "--config", "sr3_tiny", "--output-dir", str(tmp_path / "run")]
    for item in [*TINY_SR3_OVERRIDES, f"data.train_dir={image_folder}", override]:
        argv += ["--set", item]
    assert main(argv) == 2
    assert key in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_upscale_too_large_for_memory_stops_and_suggests_a_tile(
    model_dir, tmp_path, capsys, monkeypatch
):
    import yoda_sr.pipeline.memory as memory

    Image.new("RGB", (64, 64)).save(tmp_path / "big.png")
    pipe = YodaPipeline.from_pretrained(model_dir)
    available = pipe.estimate_memory((64, 64), tile=128)
    assert pipe.estimate_memory((64, 64)) > pipe.estimate_memory((64, 64), tile=192) > available
    monkeypatch.setattr(memory, "available_memory_bytes", lambda device: available)
    out = tmp_path / "out"
    assert upscale(tmp_path / "big.png", "--model", model_dir, "--out", out) == 2
    err = capsys.readouterr().err
    assert "big.png: upscaling 64x64 by x4 needs about" in err
    assert f"only {memory.format_bytes(available)} of cpu memory is available" in err
    assert "--tile 128" in err
    assert not (out / "big_x4.png").exists()
    assert upscale(tmp_path / "big.png", "--model", model_dir, "--out", out, "--tile", "128") == 0
    assert (out / "big_x4.png").is_file()
