"""Issue 23, "lose nothing, round 2": each case a hostile user found, pinned by a test.

Data lost
- train into a folder holding the user's config.yaml:
  test_train_refuses_a_folder_holding_a_config_yaml_it_did_not_write
- train --resume on a folder that is not a run (photos, a new folder):
  test_train_resume_on_a_folder_without_checkpoints_is_refused
- outputs written through links: test_upscale_refuses_an_output_that_is_a_hard_link_to_an_input,
  test_upscale_replaces_a_symlink_at_an_output_path_without_writing_through_it
- examples --out over existing files: test_examples_refuses_to_replace_existing_files_without_overwrite

Silently wrong
- a local folder named like a bundled model (also without --model, also an --out folder):
  test_bundled_model_name_wins_over_a_local_folder_unless_given_as_a_path
  (and tests/test_bundled.py::test_bundled_name_wins_over_a_folder_of_that_name_unless_given_as_a_path)
- evaluate --lr-data with an LR that is not HR/scale:
  test_evaluate_names_a_paired_lr_that_does_not_match_hr_over_scale
- evaluate --data with a dangling or looping link or a corrupt file:
  test_evaluate_names_unreadable_files_scores_the_others_and_exits_1
- evaluate --samples -1: test_evaluate_refuses_a_negative_samples_count

Tracebacks
- a symlink loop among the inputs: test_symlink_loop_among_inputs_is_named_and_the_others_processed
- a decompression bomb: test_image_over_the_pixel_limit_is_named_and_the_others_processed,
  test_pixel_limit_is_lifted_by_the_environment, test_train_names_an_image_over_the_pixel_limit
  (evaluate: the same loader, test_evaluate_names_unreadable_files_scores_the_others_and_exits_1)
- a directory at an output's path: test_directory_at_an_output_path_is_named_and_the_others_written
- compare --crop 0 or negative: test_compare_refuses_a_crop_below_1_before_writing
- a summary.json whose results is a string or whose top level is a list:
  test_compare_names_a_summary_json_of_the_wrong_shape
- demo --threads -2: test_demo_refuses_a_thread_count_below_1
- a FIFO as input: test_fifo_input_is_named_without_blocking
- model configs with wrong types or values (block_out_channels: "wide", norm_num_groups: 0),
  upscale and evaluate: test_model_config_of_a_wrong_type_or_value_is_named_with_its_file

Messages
- --seed 99999999999999999999999: test_seed_out_of_range_is_a_usage_error
- the multi-line "cannot load" message (now two lines):
  test_bundled_model_name_wins_over_a_local_folder_unless_given_as_a_path; DINO's (6 lines)
  and the DINO .pth messages (8 lines): test_dino_checkpoint_errors_are_one_line_and_a_hint_at_most
  (and tests/test_attention_cli.py::test_cli_missing_weights_exit_2_with_clear_message)
- a binary YAML config: test_binary_yaml_config_is_named
- train.learning_rate=nan: test_nan_learning_rate_is_named_by_its_setting
- --set foo.bar=1: test_a_wrong_set_is_blamed_not_the_config_file
- ui --host "not a host": test_ui_names_a_host_that_does_not_resolve
- --out "": test_empty_out_is_refused
- no empty --out / config-only run folder after a failure: test_failed_runs_leave_no_empty_folders
- "infx" speed-up: test_ideal_speedup_of_a_run_with_no_active_pixel_is_not_printed_as_inf
- LR 4x4 for HR 32: refused naming the file as any LR that is not HR/scale (see above)
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_SR3_OVERRIDES
from PIL import Image

import yoda_sr
from yoda_sr.cli.main import main
from yoda_sr.imaging import read_image_size


def upscale(*argv: object) -> int:
    return main(["upscale", *map(str, argv), "--steps", "2"])


def random_png(path: Path, size: int = 8, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def bomb_png(path: Path, side: int = 30000) -> Path:
    """A PNG of a few bytes whose header claims ``side`` x ``side`` RGB pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 16)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


# -- data lost ----------------------------------------------------------------------------


def test_upscale_refuses_an_output_that_is_a_hard_link_to_an_input(model_dir, tmp_path, capsys):
    source = random_png(tmp_path / "c.png")
    out = tmp_path / "out"
    out.mkdir()
    os.link(source, out / "c_x4.png")
    before = source.read_bytes()
    assert upscale(source, "--model", model_dir, "--out", out) == 2
    assert f"output {out / 'c_x4.png'} of {source} would overwrite input" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_upscale_replaces_a_symlink_at_an_output_path_without_writing_through_it(
    model_dir, tmp_path
):
    source = random_png(tmp_path / "e.png")
    precious = tmp_path / "precious.txt"
    precious.write_text("the user's own file")
    out = tmp_path / "out"
    out.mkdir()
    (out / "e_x4.png").symlink_to(precious)
    assert upscale(source, "--model", model_dir, "--out", out) == 0
    assert precious.read_text() == "the user's own file"
    assert not (out / "e_x4.png").is_symlink()
    assert Image.open(out / "e_x4.png").size == (32, 32)
    assert sorted(p.name for p in out.iterdir()) == ["e_x4.png"]  # no temporary file left


# -- tracebacks ---------------------------------------------------------------------------


def test_symlink_loop_among_inputs_is_named_and_the_others_processed(
    model_dir, lr_image, tmp_path, capsys
):
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    out = tmp_path / "out"
    assert upscale(loop, lr_image, "--model", model_dir, "--out", out) == 1
    err = capsys.readouterr().err
    assert f"{loop}: cannot read as an image (symbolic link loop)" in err
    assert "Traceback" not in err and (out / "lr_x4.png").is_file()
    maps = tmp_path / "maps"
    assert main(["attention", str(loop), str(lr_image), "--out", str(maps)]) == 1
    assert f"{loop}: cannot read as an image (symbolic link loop)" in capsys.readouterr().err
    assert (maps / "lr_attention.npy").is_file()


def test_image_over_the_pixel_limit_is_named_and_the_others_processed(
    model_dir, lr_image, tmp_path, capsys
):
    bomb = bomb_png(tmp_path / "bomb.png")
    out = tmp_path / "out"
    assert upscale(bomb, lr_image, "--model", model_dir, "--out", out) == 1
    err = capsys.readouterr().err
    assert f"{bomb}: cannot read as an image (30000x30000 px exceeds the limit of" in err
    assert "YODA_SR_MAX_PIXELS" in err and (out / "lr_x4.png").is_file()
    maps = tmp_path / "maps"
    assert main(["attention", str(bomb), str(lr_image), "--out", str(maps)]) == 1
    assert f"{bomb}: cannot read as an image (30000x30000 px" in capsys.readouterr().err
    assert (maps / "lr_attention.npy").is_file()


def test_pixel_limit_is_lifted_by_the_environment(tmp_path, monkeypatch):
    bomb = bomb_png(tmp_path / "bomb.png")
    assert read_image_size(bomb) is None
    monkeypatch.setenv("YODA_SR_MAX_PIXELS", "0")
    assert read_image_size(bomb) == (30000, 30000)
    monkeypatch.setenv("YODA_SR_MAX_PIXELS", str(30000 * 30000))
    assert read_image_size(bomb) == (30000, 30000)


def test_directory_at_an_output_path_is_named_and_the_others_written(model_dir, tmp_path, capsys):
    first, second = random_png(tmp_path / "x.png"), random_png(tmp_path / "y.png", seed=1)
    out = tmp_path / "out"
    (out / "x_x4.png").mkdir(parents=True)
    assert upscale(first, second, "--model", model_dir, "--out", out) == 1
    err = capsys.readouterr().err
    assert f"{out / 'x_x4.png'}: cannot write (Is a directory)" in err and "Traceback" not in err
    assert (out / "y_x4.png").is_file()
    maps = tmp_path / "maps"
    (maps / "x_attention.npy").mkdir(parents=True)
    assert main(["attention", str(first), str(second), "--out", str(maps)]) == 1
    assert f"{maps / 'x_attention.npy'}: cannot write" in capsys.readouterr().err
    assert (maps / "y_attention.npy").is_file()
    assert not [p for p in maps.iterdir() if p.name.startswith(".")]  # temporaries removed


def test_fifo_input_is_named_without_blocking(lr_image, tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    src = str(Path(yoda_sr.__file__).parents[1])  # this checkout, not an installed copy
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "yoda_sr.cli.main", "attention", str(fifo), str(lr_image)]
    done = subprocess.run(
        [*command, "--out", str(tmp_path / "maps")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert f"{fifo}: cannot read as an image (is a FIFO, not a regular file)" in done.stderr
    assert (tmp_path / "maps" / "lr_attention.npy").is_file()


def test_examples_refuses_to_replace_existing_files_without_overwrite(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "coffee.png").write_bytes(b"the user's coffee")
    assert main(["examples", "--out", str(photos)]) == 2
    err = capsys.readouterr().err
    assert f"{photos}: already holds coffee.png; choose another --out or pass --overwrite" in err
    assert (photos / "coffee.png").read_bytes() == b"the user's coffee"
    assert sorted(p.name for p in photos.iterdir()) == ["coffee.png"]  # nothing written
    assert main(["examples", "--out", str(photos), "--overwrite"]) == 0
    assert Image.open(photos / "coffee.png").size[0] <= 96


def train(run: Path, *overrides: str, resume: bool = False) -> int:
    """``yoda-sr train`` on the tiny SR3 config."""
    sets = [f"--set={o}" for o in [*TINY_SR3_OVERRIDES, *overrides]]
    argv = ["train", "--config", "sr3_tiny", *sets, "--output-dir", str(run), "--no-progress"]
    return main(argv + (["--resume"] if resume else []))


def test_train_refuses_a_folder_holding_a_config_yaml_it_did_not_write(
    image_folder, tmp_path, capsys
):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.yaml").write_text("# my own notes\ntrain:\n  steps: 10\n")
    assert train(mine, f"data.train_dir={image_folder}", "train.steps=1") == 2
    err = capsys.readouterr().err
    assert f"{mine / 'config.yaml'}: not a run's config" in err and "--output-dir" in err
    assert (mine / "config.yaml").read_text() == "# my own notes\ntrain:\n  steps: 10\n"
    assert sorted(p.name for p in mine.iterdir()) == ["config.yaml"]


def test_train_resume_on_a_folder_without_checkpoints_is_refused(image_folder, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    random_png(photos / "a.png")
    for folder in (photos, tmp_path / "new"):
        assert train(folder, f"data.train_dir={image_folder}", resume=True) == 2
        assert f"{folder}: no checkpoint to resume" in capsys.readouterr().err
    assert sorted(p.name for p in photos.iterdir()) == ["a.png"]
    assert not (tmp_path / "new").exists()


def test_failed_runs_leave_no_empty_folders(model_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert train(run, f"data.train_dir={tmp_path / 'nowhere'}") == 2
    assert "nowhere" in capsys.readouterr().err
    assert not run.exists()
    out = tmp_path / "out"
    assert upscale(tmp_path / "missing.png", "--model", model_dir, "--out", out) == 1
    assert "missing.png: cannot read as an image (no such file)" in capsys.readouterr().err
    assert not out.exists()


# -- silently wrong -----------------------------------------------------------------------


def test_bundled_model_name_wins_over_a_local_folder_unless_given_as_a_path(
    model_dir, lr_image, tmp_path, monkeypatch, capsys
):
    from yoda_sr.pipeline import bundled

    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path / "bundled")
    shutil.copytree(model_dir, tmp_path / "bundled" / bundled.DEFAULT_MODEL)
    work = tmp_path / "work"
    (work / bundled.DEFAULT_MODEL).mkdir(parents=True)  # not a model: loading it would fail
    monkeypatch.chdir(work)
    assert upscale(lr_image, "--out", "sr") == 0  # no --model: the bundled default
    assert upscale(lr_image, "--model", bundled.DEFAULT_MODEL, "--out", "sr2") == 0
    # An --out folder of that name does not shadow the bundled model either.
    assert upscale(lr_image, "--model", bundled.DEFAULT_MODEL, "--out", bundled.DEFAULT_MODEL) == 0
    assert upscale(lr_image, "--model", bundled.DEFAULT_MODEL, "--out", "sr3") == 0
    capsys.readouterr()
    assert upscale(lr_image, "--model", f"./{bundled.DEFAULT_MODEL}", "--out", "sr4") == 2
    err = capsys.readouterr().err
    assert f"cannot load a yoda-sr model from '{bundled.DEFAULT_MODEL}'" in err
    assert len(err.splitlines()) == 2  # the cause, then one line of ways to give a model


def evaluate(model_dir: Path, data: Path, out: Path, *argv: object) -> int:
    command = ["evaluate", "--model", model_dir, "--data", data, "--scale", "4", "--out", out]
    return main([*map(str, command), "--steps", "1", "--samples", "1", *map(str, argv)])


def test_evaluate_names_a_paired_lr_that_does_not_match_hr_over_scale(model_dir, tmp_path, capsys):
    hr, lr = tmp_path / "hr", tmp_path / "lr"
    hr.mkdir()
    lr.mkdir()
    for name in ("a", "b"):
        random_png(hr / f"{name}.png", size=34)  # mod-crop: 32 x 32, so LR 8 x 8
    random_png(lr / "a.png", size=6)
    random_png(lr / "b.png", size=8)
    out = tmp_path / "res"
    assert evaluate(model_dir, hr, out, "--lr-data", lr) == 1
    err = capsys.readouterr().err
    assert f"{lr / 'a.png'}: LR (6, 6) does not match its HR a.png (34, 34)" in err
    assert "(8, 8); skipped" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["images"] == ["b"] and len(summary["data"]["skipped"]) == 1


def test_evaluate_names_unreadable_files_scores_the_others_and_exits_1(model_dir, tmp_path, capsys):
    data = tmp_path / "hr"
    data.mkdir()
    random_png(data / "good.png", size=32)
    (data / "corrupt.png").write_bytes(b"not a png")
    (data / "dangling.png").symlink_to(tmp_path / "gone.png")
    (data / "loop.png").symlink_to(data / "loop.png")
    out = tmp_path / "res"
    assert evaluate(model_dir, data, out) == 1
    err = capsys.readouterr().err
    for name in ("corrupt.png", "dangling.png", "loop.png"):
        assert f"{data / name}: cannot read as an image" in err
    assert "dangling symbolic link" in err and "symbolic link loop" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["images"] == ["good"]


def test_evaluate_refuses_a_negative_samples_count(model_dir, lr_image, tmp_path, capsys):
    out = tmp_path / "res"
    assert evaluate(model_dir, lr_image.parent, out, "--samples", "-1") == 2
    assert "samples must be >= 0, got -1" in capsys.readouterr().err
    assert not out.exists()


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """stderr of an argv that argparse refuses (exit 2)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("crop", ["0", "-8"])
def test_compare_refuses_a_crop_below_1_before_writing(tmp_path, capsys, crop):
    out = tmp_path / "cmp"
    err = usage_error(["compare", str(tmp_path), "--out", str(out), "--crop", crop], capsys)
    assert f"argument --crop: must be a positive integer, got {crop}" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "not an evaluation summary (a JSON list)"),
        ('{"format": 1, "method": "m", "results": "high"}', "'results' must map each method"),
        (
            '{"format": 1, "method": "m", "results": {"m": {}}}',
            "'results' lacks the method(s) ['bicubic']",
        ),
    ],
)
def test_compare_names_a_summary_json_of_the_wrong_shape(tmp_path, capsys, content, message):
    from yoda_sr.evaluation.evaluate import FORMAT

    results = tmp_path / "res"
    results.mkdir()
    (results / "summary.json").write_text(content.replace('"format": 1', f'"format": "{FORMAT}"'))
    assert main(["compare", str(results), "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err
    assert f"{results / 'summary.json'}: {message}" in err and "Traceback" not in err
    assert not (tmp_path / "cmp").exists()


def test_demo_refuses_a_thread_count_below_1(tmp_path, capsys):
    err = usage_error(["demo", "--out", str(tmp_path / "d"), "--threads", "-2"], capsys)
    assert "argument --threads: must be a positive integer, got -2" in err


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("block_out_channels", "wide", " must be a non-empty list of integers >= 1, got 'wide'"),
        ("norm_num_groups", 0, " must be an integer >= 1, got 0"),
        ("norm_num_groups", 12, "=12 must divide every width of block_out_channels"),
    ],
)
def test_model_config_of_a_wrong_type_or_value_is_named_with_its_file(
    model_dir, lr_image, tmp_path, capsys, setting, value, message
):
    from yoda_sr.models import SR3Config

    with pytest.raises(ValueError, match=f"SR3Config.{setting}"):  # every loader checks it
        SR3Config(**{setting: value})
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    config = model / "backbone" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), setting: value}))
    expected = f"{config}: SR3Config.{setting}{message}"
    assert upscale(lr_image, "--model", model, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.splitlines()) == 1
    assert evaluate(model, lr_image.parent, tmp_path / "res") == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "res").exists()


def test_train_names_an_image_over_the_pixel_limit(image_folder, tmp_path, capsys):
    bomb = bomb_png(image_folder / "bomb.png")
    assert train(tmp_path / "run", f"data.train_dir={image_folder}") == 2
    err = capsys.readouterr().err
    assert f"{bomb}: cannot read as an image (30000x30000 px exceeds the limit" in err
    assert "Traceback" not in err


# -- messages -----------------------------------------------------------------------------


def test_seed_out_of_range_is_a_usage_error(model_dir, lr_image, tmp_path, capsys):
    out = tmp_path / "out"
    seed = "99999999999999999999999"
    assert upscale(lr_image, "--model", model_dir, "--out", out, "--seed", seed) == 2
    assert f"seed must lie in 0..2**64-1 (a torch generator seed), got {seed}" in (
        capsys.readouterr().err
    )
    assert not out.exists()


def test_empty_out_is_refused(model_dir, lr_image, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert upscale(lr_image, "--model", model_dir, "--out", "") == 2
    assert "the output folder is an empty name" in capsys.readouterr().err
    assert main(["attention", str(lr_image), "--out", ""]) == 2
    assert "the output folder is an empty name" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr.png"]


def test_ideal_speedup_of_a_run_with_no_active_pixel_is_not_printed_as_inf(
    model_dir, tmp_path, capsys
):
    flat = tmp_path / "flat.png"
    Image.new("RGB", (8, 8), (90, 90, 90)).save(flat)
    out = tmp_path / "out"
    assert upscale(flat, "--model", model_dir, "--out", out, "--lower-bound", "0") == 0
    printed = capsys.readouterr().out
    assert "ideal speed-up unbounded (no pixel diffused), 0 denoiser calls" in printed
    assert "inf" not in printed


def test_binary_yaml_config_is_named(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary")
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--output-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"{config}: not a text file (byte 0x89 at offset 0 is not UTF-8)" in err
    assert len(err.splitlines()) == 1 and not run.exists()


def test_nan_learning_rate_is_named_by_its_setting(image_folder, tmp_path, capsys):
    message = "train.learning_rate must be a positive finite number, got nan"
    run = tmp_path / "run"
    assert train(run, f"data.train_dir={image_folder}", "train.learning_rate=nan") == 2
    assert f"--set train.learning_rate=nan: {message}" in capsys.readouterr().err
    config = tmp_path / "nan.yaml"
    config.write_text("train:\n  learning_rate: .nan\n")
    assert main(["train", "--config", str(config), "--output-dir", str(run)]) == 2
    assert f"{config}: {message}" in capsys.readouterr().err
    assert not run.exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("foo.bar=1", "unknown section 'foo' (known: model, diffusion, yoda,"),
        ("train.foo=1", "no setting 'foo' in train (known: batch_size,"),
        ("model.foo=1", "no setting 'foo' in model (known: attention_head_dim,"),
        ("train=1", "'train' is a section; set one of its settings"),
        ("model.norm_num_groups=0", "SR3Config.norm_num_groups must be an integer >= 1"),
    ],
)
def test_a_wrong_set_is_blamed_not_the_config_file(
    image_folder, tmp_path, capsys, override, message
):
    assert train(tmp_path / "run", f"data.train_dir={image_folder}", override) == 2
    err = capsys.readouterr().err
    assert f"--set {override}: {message}" in err
    assert "sr3_tiny.yaml" not in err and not (tmp_path / "run").exists()


def test_ui_names_a_host_that_does_not_resolve(capsys):
    assert main(["ui", "--host", "not a host"]) == 2
    err = capsys.readouterr().err
    assert "--host 'not a host' is not an address to listen on" in err
    assert "port" not in err and len(err.splitlines()) == 1


def test_dino_checkpoint_errors_are_one_line_and_a_hint_at_most(lr_image, tmp_path, capsys):
    import argparse

    import torch

    full = tmp_path / "full_checkpoint.pth"  # DINO's full checkpoints pickle their arguments
    torch.save({"teacher": {}, "args": argparse.Namespace(arch="vit_small")}, full)
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    out = tmp_path / "maps"
    for path, lines in ((full, 2), (text, 1), (tmp_path / "missing.pth", 2)):
        argv = ["attention", str(lr_image), "--source", "dino", "--model", str(path)]
        assert main([*argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert str(path) in err.splitlines()[0] and len(err.splitlines()) == lines
    assert not out.exists()
