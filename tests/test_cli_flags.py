"""Flag spellings of the command line: what the help and the README promise is what parses."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import TINY_SR3_OVERRIDES
from PIL import Image

from yoda_sr.cli.main import build_parser
from yoda_sr.config import ExperimentConfig
from yoda_sr.models import build_model
from yoda_sr.pipeline import YodaPipeline


def cli(*argv: str) -> subprocess.CompletedProcess:
    """``yoda-sr ARGV`` in a fresh interpreter, offline, one thread."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "yoda_sr.cli.main", *argv]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("command", ["upscale", "evaluate"])
def test_help_offers_sparse_and_dense_but_not_the_deprecated_spelling(command):
    done = cli(command, "--help")
    assert done.returncode == 0, done.stderr
    assert "--sparse" in done.stdout and "--dense" in done.stdout
    assert "--no-sparse" not in done.stdout


@pytest.mark.parametrize(
    ("flags", "sparse"),
    [([], False), (["--dense"], False), (["--sparse"], True), (["--no-sparse"], False)],
)
def test_dense_sparse_and_deprecated_no_sparse_choose_the_sampling_mode(flags, sparse):
    args = build_parser().parse_args(["upscale", "x.png", "--out", "sr", *flags])
    assert args.sparse is sparse


def test_dense_and_sparse_together_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["upscale", "x.png", "--out", "sr", "--sparse", "--dense"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_upscale_with_dense_writes_the_output_from_the_command_line(tmp_path):
    config = ExperimentConfig.load("sr3_tiny", TINY_SR3_OVERRIDES)
    torch.manual_seed(0)
    YodaPipeline(build_model(config.model), config).save_pretrained(tmp_path / "model")
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(tmp_path / "lr.png")
    done = cli(
        "upscale", str(tmp_path / "lr.png"), "--model", str(tmp_path / "model"),
        "--out", str(tmp_path / "sr"), "--steps", "2", "--dense", "--device", "cpu",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "sr" / "lr_x4.png").size == (32, 32)
