"""``yoda-sr attention`` end to end."""

from __future__ import annotations

import huggingface_hub.constants
import numpy as np
import pytest
from PIL import Image
from skimage import data

from yoda_sr.cli.main import main

LR_SIZE = (29, 37)  # (height, width), odd on purpose


@pytest.fixture
def astronaut(tmp_path):
    path = tmp_path / "astronaut.png"
    small = Image.fromarray(data.astronaut()).resize(LR_SIZE[::-1], Image.Resampling.BICUBIC)
    small.save(path)
    return path


def _check_outputs(out, stem, scale, peaked=True):
    height, width = LR_SIZE[0] * scale, LR_SIZE[1] * scale
    importance = np.load(out / f"{stem}_attention.npy")
    assert importance.shape == (height, width) and importance.dtype == np.float32
    assert importance.min() >= 0.0 and importance.max() <= 1.0
    # A random ViT attends almost uniformly: low importance on the absolute scale.
    assert importance.max() > 0.5 if peaked else importance.max() < 0.5
    with Image.open(out / f"{stem}_attention.png") as heat:
        assert heat.size == (width, height)
    with Image.open(out / f"{stem}_masks.png") as strip:
        assert strip.size == (6 * width + 5 * 4, height)


def test_cli_detail_source_writes_map_heatmap_and_mask_strip(tmp_path, astronaut):
    out = tmp_path / "out"
    code = main(["attention", str(astronaut), "--out", str(out), "--scale", "4"])
    assert code == 0
    _check_outputs(out, "astronaut", 4)


def test_cli_unreadable_file_is_reported_and_others_are_written(tmp_path, astronaut, capsys):
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    second = tmp_path / "second.jpg"
    Image.open(astronaut).convert("L").save(second)
    out = tmp_path / "out"
    code = main(["attention", str(astronaut), str(broken), str(second), "--out", str(out)])
    assert code == 1
    _check_outputs(out, "astronaut", 4)
    _check_outputs(out, "second", 4)
    assert not (out / "broken_attention.npy").exists()
    assert "broken.png" in capsys.readouterr().err


def test_cli_dino_source_with_local_folder_and_scale_2(tmp_path, astronaut, tiny_vit_folder):
    out = tmp_path / "out"
    argv = ["attention", str(astronaut), "--out", str(out), "--source", "dino"]
    argv += ["--model", tiny_vit_folder, "--scale", "2", "--head-fusion", "max", "--device", "cpu"]
    assert main(argv) == 0
    _check_outputs(out, "astronaut", 2, peaked=False)


def test_cli_missing_weights_exit_2_with_clear_message(tmp_path, astronaut, capsys, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    argv = ["attention", str(astronaut), "--out", str(tmp_path / "out"), "--source", "dino"]
    assert main([*argv, "--model", "yoda-sr-tests/no-such-dino"]) == 2
    err = capsys.readouterr().err
    assert "cannot load DINO weights 'yoda-sr-tests/no-such-dino'" in err
    assert "give a Hugging Face hub name" in err and "official DINO checkpoint file" in err
    assert len(err.splitlines()) == 2  # the cause, then one line of ways to give the weights
    assert not (tmp_path / "out" / "astronaut_attention.npy").exists()


def test_cli_rejects_bad_options(tmp_path, astronaut, capsys):
    with pytest.raises(SystemExit) as info:
        main(["attention", str(astronaut), "--out", str(tmp_path), "--scale", "0"])
    assert info.value.code == 2
    assert "--scale" in capsys.readouterr().err
    argv = ["attention", str(astronaut), "--out", str(tmp_path), "--head-fusion", "median"]
    assert main(argv) == 2
    assert "head_fusion" in capsys.readouterr().err


def test_cli_constant_source_writes_the_constant_map(tmp_path, astronaut):
    out = tmp_path / "out"
    argv = ["attention", str(astronaut), "--out", str(out), "--source", "constant"]
    assert main([*argv, "--constant", "0.25"]) == 0
    importance = np.load(out / "astronaut_attention.npy")
    assert importance.shape == (LR_SIZE[0] * 4, LR_SIZE[1] * 4)
    assert np.all(importance == np.float32(0.25))
