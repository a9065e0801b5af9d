"""The demo leads with the bundled models: their rows, images and model-card labels come
first in report.html, before the quick training. The bundled folder is pointed at a temp dir
holding a tiny random SRDiff+YODA."""

from __future__ import annotations

import html
import math
from pathlib import Path

import pytest
import torch
from conftest import TINY_SRDIFF_OVERRIDES
from test_evaluation import image_sources

import yoda_sr.pipeline.bundled as bundled
from yoda_sr.cli.main import main
from yoda_sr.config import ExperimentConfig
from yoda_sr.evaluation.demo import DemoSettings, run_demo
from yoda_sr.models import build_model
from yoda_sr.pipeline import DEFAULT_MODEL, YodaPipeline

LABEL = f"bundled model {DEFAULT_MODEL}"


@pytest.fixture
def bundled_dir(tmp_path, monkeypatch) -> Path:
    """The default model (tiny random SRDiff+YODA, fp16, with a card) in a temp bundled folder."""
    folder = tmp_path / "bundled_models"
    monkeypatch.setattr(bundled, "BUNDLED_DIR", folder)
    config = ExperimentConfig.load("srdiff_tiny", TINY_SRDIFF_OVERRIDES)
    torch.manual_seed(0)
    YodaPipeline(build_model(config.model), config).save_pretrained(
        folder / DEFAULT_MODEL, dtype=torch.float16
    )
    (folder / DEFAULT_MODEL / "MODEL_CARD.md").write_text("# srdiff-yoda-x4\n\nTiny random.\n")
    return folder


def test_demo_without_training_scores_each_bundled_model_against_bicubic(bundled_dir, tmp_path):
    lines: list[str] = []
    result = run_demo(
        tmp_path / "demo", DemoSettings.fast(), progress=False, log=lines.append, train=False
    )
    assert result.comparison is None and result.evaluations == {}
    rows = result.bundled.rows
    assert [row["method"] for row in rows] == ["bicubic", LABEL]
    assert all(math.isfinite(row["psnr_y"]) for row in rows)
    assert rows[1]["steps"] == 3  # DemoSettings.fast().bundled_steps
    text = html.unescape(result.report.read_text())
    assert f"{LABEL} (see its MODEL_CARD.md)" in text
    assert str(bundled_dir / DEFAULT_MODEL / "MODEL_CARD.md") in text
    assert "Quick training" not in text and "no bundled models installed" not in " ".join(lines)
    sources = image_sources(result.report)
    assert any(src.startswith("bundled/compare/grids/") for src in sources)
    for src in sources:
        assert (result.report.parent / src).stat().st_size > 0, src


def test_demo_reports_the_bundled_models_before_the_quick_training(bundled_dir, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--fast", "--steps", "1", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.index(f"| {LABEL}") < printed.index("| SR3+YODA")
    body = html.unescape((out / "report.html").read_text()).split("</h1>")[1]  # after the title
    assert body.index("Bundled models") < body.index(LABEL) < body.index("Quick training")
    assert body.index("Quick training") < body.index("SR3+YODA")


def test_demo_with_nothing_to_run_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path / "absent")
    assert main(["demo", "--no-train", "--out", str(tmp_path / "demo")]) == 2
    assert "nothing to run" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()
