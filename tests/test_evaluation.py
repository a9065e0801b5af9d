"""Evaluation, comparison and demo: files written, protocol recorded, numbers consistent."""

from __future__ import annotations

import csv
import hashlib
import html
import json
import math
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch
from conftest import TINY_SR3_OVERRIDES, write_test_images
from PIL import Image

import yoda_sr.pipeline.bundled as bundled
from yoda_sr.cli.main import main
from yoda_sr.config import ExperimentConfig
from yoda_sr.evaluation import (
    compare_results,
    config_hash,
    evaluate_run,
    load_eval_images,
)
from yoda_sr.evaluation.demo import DemoSettings, run_demo
from yoda_sr.imaging import save_image
from yoda_sr.metrics import LpipsMetric, psnr
from yoda_sr.models import bicubic_up, build_model
from yoda_sr.pipeline import YodaPipeline


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def strict_json(path: Path) -> dict:
    """Load JSON refusing NaN/Infinity literals (results files must be strict JSON)."""

    def reject(name: str):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(path.read_text(), parse_constant=reject)


class ImageSources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def image_sources(page: Path) -> list[str]:
    parser = ImageSources()
    parser.feed(page.read_text())
    return parser.sources


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict[str, Path]:
    """A tiny random SR3+YODA model (saved pipeline), 2 HR images, no LPIPS weights."""
    root = tmp_path_factory.mktemp("evaluation")
    write_test_images(root / "hr", count=2, size=40)
    config = ExperimentConfig.load("sr3_tiny", TINY_SR3_OVERRIDES)
    torch.manual_seed(0)
    YodaPipeline(build_model(config.model), config).save_pretrained(root / "model")
    (root / "empty_hub").mkdir()
    return {"root": root, "hr": root / "hr", "model": root / "model", "hub": root / "empty_hub"}


@pytest.fixture(scope="module")
def evaluations(setup) -> dict[str, Path]:
    """Evaluation folders: YODA with 2 and 3 DDIM steps, and plain SR3 with 2 steps."""
    lpips = LpipsMetric(hub_dir=setup["hub"])
    runs = {"yoda2": (2, True), "yoda3": (3, True), "plain2": (2, False)}
    out = {}
    for name, (steps, yoda) in runs.items():
        out[name] = setup["root"] / name
        evaluate_run(
            setup["model"],
            setup["hr"],
            out[name],
            scale=4,
            steps=steps,
            use_yoda=yoda,
            lpips_metric=lpips,
            num_samples=2,
        )
    return out


def test_evaluate_cli_writes_csv_summary_and_samples(setup, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    out = tmp_path / "eval"
    args = ["evaluate", "--model", str(setup["model"]), "--data", str(setup["hr"])]
    args += ["--scale", "4", "--out", str(out), "--steps", "2", "--seed", "5", "--samples", "1"]
    assert main(args) == 0
    assert "LPIPS not computed" in capsys.readouterr().out

    rows = read_csv(out / "per_image.csv")
    methods = [row["method"] for row in rows]
    assert methods.count("bicubic") == 2 and methods.count("SR3+YODA ddim-2") == 2
    model_rows = [row for row in rows if row["method"] != "bicubic"]
    assert [row["seed"] for row in model_rows] == ["5", "6"]
    assert all(row["lpips"] == "" for row in rows)
    assert all(1 <= int(row["denoiser_calls"]) <= 2 for row in model_rows)
    assert all(0.0 < float(row["active_fraction"]) <= 1.0 for row in model_rows)

    summary = strict_json(out / "summary.json")
    protocol = summary["protocol"]
    assert protocol["crop_border"] == 4 and protocol["data_range"] == 255
    assert set(protocol["channels"]) == {"rgb", "y"}
    assert protocol["lpips"]["net"] == "alex" and protocol["lpips"]["available"] is False
    assert "not found" in protocol["lpips"]["unavailable_reason"]
    assert protocol["resize_kernel"] == "MATLAB bicubic (Keys a=-0.5, antialiased)"
    assert (protocol["sampler"], protocol["steps"], protocol["seed"]) == ("ddim", 2, 5)
    assert protocol["yoda"] is True and protocol["lower_bound"] == 0.3
    assert protocol["model_type"] == "sr3"
    config = YodaPipeline.from_pretrained(setup["model"]).config
    expected_hash = hashlib.sha256(
        json.dumps(config.to_dict(), sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert protocol["model_config_hash"] == config_hash(config) == expected_hash

    results = summary["results"]
    assert set(results) == {"SR3+YODA ddim-2", "bicubic"}
    for method, means in results.items():
        values = [float(row["psnr_y"]) for row in rows if row["method"] == method]
        assert means["psnr_y"] == pytest.approx(sum(values) / len(values))
        assert means["lpips"] is None and means["seconds_per_image"] > 0
    assert results["bicubic"]["denoiser_calls"] is None
    assert 0.0 < results["SR3+YODA ddim-2"]["mean_active_fraction"] <= 1.0

    sample = out / "samples" / "img00"
    for name in ("lr", "bicubic", "output", "hr", "importance", "attention", "masks"):
        assert (sample / f"{name}.png").is_file(), name
    assert not (out / "samples" / "img01").exists()
    assert (out / "crops" / "img00.png").is_file()
    assert sorted(p.name for p in (out / "outputs").iterdir()) == ["img00.png", "img01.png"]


def test_bicubic_row_matches_independent_psnr(setup, evaluations):
    rows = read_csv(evaluations["yoda2"] / "per_image.csv")
    bicubic = {row["image"]: float(row["psnr_rgb"]) for row in rows if row["method"] == "bicubic"}
    for image in load_eval_images(setup["hr"], 4):
        upscaled = (bicubic_up(image.lr[None], 4)[0] + 1) / 2
        assert bicubic[image.name] == pytest.approx(psnr(upscaled, image.hr, crop_border=4))


def test_paired_lr_folder_gives_the_same_numbers(setup, evaluations, tmp_path):
    for image in load_eval_images(setup["hr"], 4):
        save_image(image.lr, tmp_path / "lr" / f"{image.name}.png")
    result = evaluate_run(
        setup["model"],
        setup["hr"],
        tmp_path / "paired",
        scale=4,
        lr_dir=tmp_path / "lr",
        steps=2,
        lpips_metric=LpipsMetric(hub_dir=setup["hub"]),
    )
    assert result.summary["protocol"]["lr_source"].startswith("paired LR folder")
    reference = strict_json(evaluations["yoda2"] / "summary.json")["results"]
    for method in ("bicubic", "SR3+YODA ddim-2"):
        assert result.summary["results"][method]["psnr_y"] == pytest.approx(
            reference[method]["psnr_y"]
        )


def test_no_yoda_diffuses_everywhere_and_saves_no_attention(evaluations):
    summary = strict_json(evaluations["plain2"] / "summary.json")
    assert summary["method"] == "SR3 ddim-2" and summary["protocol"]["yoda"] is False
    assert summary["protocol"]["lower_bound"] is None
    assert summary["results"]["SR3 ddim-2"]["mean_active_fraction"] == 1.0
    assert not (evaluations["plain2"] / "samples" / "img00" / "attention.png").exists()


def test_available_lpips_is_scored_and_recorded(setup, tmp_path):
    """A random AlexNet backbone in a fake torch hub cache makes LPIPS available."""
    from torchvision.models import alexnet

    from yoda_sr.metrics.perceptual import BACKBONE_FILES

    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    features = {f"features.{k}": v for k, v in alexnet(weights=None).features.state_dict().items()}
    torch.save(features, tmp_path / "hub" / "checkpoints" / BACKBONE_FILES["alex"])
    result = evaluate_run(
        setup["model"],
        setup["hr"],
        tmp_path / "eval",
        scale=4,
        steps=1,
        limit=1,
        lpips_metric=LpipsMetric("alex", hub_dir=tmp_path / "hub"),
    )
    lpips = result.summary["protocol"]["lpips"]
    assert lpips["available"] is True and lpips["unavailable_reason"] is None
    for means in result.summary["results"].values():
        assert means["lpips"] is not None and means["lpips"] >= 0
    rows = read_csv(tmp_path / "eval" / "per_image.csv")
    assert all(float(row["lpips"]) >= 0 for row in rows)
    comparison = compare_results([tmp_path / "eval"], tmp_path / "cmp")
    assert all(row["lpips"] is not None for row in comparison.rows)


def test_scale_mismatch_is_a_clear_error(setup, tmp_path, capsys):
    with pytest.raises(ValueError, match="does not match the model's scale x4"):
        evaluate_run(setup["model"], setup["hr"], tmp_path / "x2", scale=2)
    args = ["evaluate", "--model", str(setup["model"]), "--data", str(setup["hr"])]
    assert main(args + ["--scale", "2", "--out", str(tmp_path / "x2")]) == 2
    assert "--scale 2 does not match" in capsys.readouterr().err
    assert not (tmp_path / "x2").exists()


def test_compare_writes_table_plots_grids_and_report(evaluations, tmp_path):
    dirs = [evaluations["yoda2"], evaluations["yoda3"], evaluations["plain2"]]
    result = compare_results(dirs, tmp_path / "cmp")
    methods = [row["method"] for row in result.rows]
    assert methods == ["bicubic", "SR3+YODA ddim-2", "SR3+YODA ddim-3", "SR3 ddim-2"]

    csv_rows = read_csv(tmp_path / "cmp" / "comparison.csv")
    assert [row["method"] for row in csv_rows] == methods
    summary = strict_json(evaluations["yoda3"] / "summary.json")
    assert float(csv_rows[2]["psnr_y"]) == pytest.approx(
        summary["results"]["SR3+YODA ddim-3"]["psnr_y"]
    )
    markdown = (tmp_path / "cmp" / "comparison.md").read_text().splitlines()
    assert sum(line.startswith("| SR3") or line.startswith("| bicubic") for line in markdown) == 4

    for name in ("metrics.png", "psnr_vs_steps.png"):
        with Image.open(tmp_path / "cmp" / name) as image:
            assert image.size[0] > 100 and image.size[1] > 100
    assert set(result.grids) == {"img00", "img01"}
    with Image.open(result.grids["img00"]) as grid:
        # LR, bicubic, 3 methods, HR, 2 attention maps in one row.
        assert grid.size[0] > 4 * grid.size[1]
    page = result.files["report"]
    sources = image_sources(page)
    assert len(sources) == 4 and all((page.parent / src).is_file() for src in sources)


def test_compare_without_step_series_has_no_steps_plot(evaluations, tmp_path):
    result = compare_results([evaluations["yoda2"], evaluations["plain2"]], tmp_path / "cmp")
    assert "steps_plot" not in result.files
    assert not (tmp_path / "cmp" / "psnr_vs_steps.png").exists()


def test_compare_refuses_results_on_other_images(setup, evaluations, tmp_path, capsys):
    write_test_images(tmp_path / "other", count=1, size=40, seed=1)
    evaluate_run(
        setup["model"],
        tmp_path / "other",
        tmp_path / "other_eval",
        scale=4,
        steps=2,
        lpips_metric=LpipsMetric(hub_dir=setup["hub"]),
    )
    with pytest.raises(ValueError, match="other images"):
        compare_results([evaluations["yoda2"], tmp_path / "other_eval"], tmp_path / "cmp")
    args = ["compare", str(evaluations["yoda2"]), str(tmp_path / "missing")]
    assert main(args + ["--out", str(tmp_path / "cmp")]) == 2
    assert "not an evaluation folder" in capsys.readouterr().err


def test_compare_into_a_file_is_a_usage_error(evaluations, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file")
    assert main(["compare", str(evaluations["yoda2"]), "--out", str(taken)]) == 2
    assert "taken is an existing file" in capsys.readouterr().err


def test_fast_demo_without_bundled_models_says_so_once_and_writes_its_report(tmp_path, monkeypatch):
    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path / "absent")
    lines: list[str] = []
    result = run_demo(tmp_path / "demo", DemoSettings.fast(), progress=False, log=lines.append)
    assert sum("no bundled models installed" in line for line in lines) == 1
    assert result.bundled is None
    page = result.report
    text = html.unescape(page.read_text())
    assert "Bundled models" not in text
    assert "This is a demonstration, not the paper's results" in text
    assert "yoda-sr train --config sr3_face_16_128" in text
    sources = image_sources(page)
    assert any("masks.png" in src for src in sources)
    assert any("attention.png" in src for src in sources)
    for src in sources:
        assert not Path(src).is_absolute() and (page.parent / src).stat().st_size > 0, src
    methods = [row["method"] for row in result.comparison.rows]
    assert methods == ["bicubic", "SR3", "SR3+YODA"]
    assert all(math.isfinite(row["psnr_y"]) for row in result.comparison.rows)
    assert result.wall_seconds > 0 and "train SR3+YODA" in result.timings
    with pytest.raises(FileExistsError, match="--overwrite"):
        run_demo(tmp_path / "demo", DemoSettings.fast(), progress=False, log=lambda _: None)
