"""Bundled default models: names resolve (folder > bundled name > Hub id), fp16 files load
into float32 models, `yoda-sr models` lists them and `upscale` uses the default without
--model. The bundled folder is pointed at a temp dir holding tiny random models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import TINY_SR3_OVERRIDES, TINY_SRDIFF_OVERRIDES
from PIL import Image
from safetensors import safe_open

import yoda_sr.pipeline.bundled as bundled
import yoda_sr.pipeline.hub as hub
from yoda_sr.cli.main import main
from yoda_sr.config import ExperimentConfig
from yoda_sr.models import build_model
from yoda_sr.pipeline import (
    DEFAULT_MODEL,
    BundledModelNotFoundError,
    ModelNotFoundError,
    YodaPipeline,
    bundled_path,
    list_bundled,
)

WEIGHTS = "backbone/diffusion_pytorch_model.safetensors"


def tiny_pipe(config_name: str, overrides: list[str], seed: int = 0) -> YodaPipeline:
    config = ExperimentConfig.load(config_name, overrides)
    torch.manual_seed(seed)
    return YodaPipeline(build_model(config.model), config)


@pytest.fixture(scope="module")
def srdiff() -> YodaPipeline:
    return tiny_pipe("srdiff_tiny", TINY_SRDIFF_OVERRIDES)


@pytest.fixture
def bundled_dir(tmp_path, monkeypatch, srdiff) -> Path:
    """The default model (tiny random SRDiff, fp16, with a card) in a temp bundled folder;
    the other bundled name absent."""
    folder = tmp_path / "bundled_models"
    monkeypatch.setattr(bundled, "BUNDLED_DIR", folder)
    srdiff.save_pretrained(folder / DEFAULT_MODEL, dtype=torch.float16)
    (folder / DEFAULT_MODEL / "MODEL_CARD.md").write_text(
        "# srdiff-yoda-x4\n\nTiny random SRDiff+YODA for tests.\n\n## Numbers\n"
    )
    return folder


@pytest.fixture
def lr_image(tmp_path) -> Path:
    path = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(path)
    return path


def test_bundled_name_loads_the_bundled_folder(bundled_dir, srdiff):
    assert bundled_path(DEFAULT_MODEL) == bundled_dir / DEFAULT_MODEL
    loaded = YodaPipeline.from_pretrained(DEFAULT_MODEL)
    assert loaded.config.to_dict() == srdiff.config.to_dict()


def test_bundled_name_wins_over_a_folder_of_that_name_unless_given_as_a_path(
    bundled_dir, tmp_path, monkeypatch
):
    work = tmp_path / "work"
    tiny_pipe("sr3_tiny", TINY_SR3_OVERRIDES).save_pretrained(work / DEFAULT_MODEL)
    monkeypatch.chdir(work)
    assert YodaPipeline.from_pretrained(DEFAULT_MODEL).config.model_type == "srdiff"
    assert YodaPipeline.from_pretrained(f"./{DEFAULT_MODEL}").config.model_type == "sr3"


def test_hub_id_is_still_looked_up_on_the_hub(bundled_dir, monkeypatch):
    calls = []
    monkeypatch.setattr(
        hub, "snapshot_download", lambda repo, revision=None: calls.append(repo) or "/nowhere"
    )
    assert hub.resolve_model_folder("someone/sr3-yoda-x4") == Path("/nowhere")
    assert calls == ["someone/sr3-yoda-x4"]


def test_unknown_name_error_lists_the_bundled_names(bundled_dir):
    with pytest.raises(BundledModelNotFoundError) as info:
        bundled_path("srdiff-yoda-x8")
    assert "srdiff-yoda-x4, sr3-yoda-x4, resshift-yoda-x4" in str(info.value)
    assert f"installed here: {DEFAULT_MODEL}" in str(info.value)
    with pytest.raises(ModelNotFoundError) as info:
        YodaPipeline.from_pretrained("srdiff-yoda-x8")
    assert "no such file or folder" in str(info.value)
    assert "srdiff-yoda-x4, sr3-yoda-x4, resshift-yoda-x4" in str(info.value)


def test_list_bundled_lists_only_models_whose_files_are_present(bundled_dir):
    (bundled_dir / "sr3-yoda-x4").mkdir()  # a folder without the saved files
    models = list_bundled()
    assert [m.name for m in models] == [DEFAULT_MODEL]
    assert models[0].card_path == bundled_dir / DEFAULT_MODEL / "MODEL_CARD.md"
    assert models[0].summary == "Tiny random SRDiff+YODA for tests."
    with pytest.raises(BundledModelNotFoundError, match="not installed.*train_default_models"):
        bundled_path("sr3-yoda-x4")


@pytest.mark.parametrize("kind", ["srdiff", "sr3"])
def test_fp16_files_load_into_float32_models_with_outputs_within_fp16_tolerance(
    kind, srdiff, tmp_path
):
    pipe = srdiff if kind == "srdiff" else tiny_pipe("sr3_tiny", TINY_SR3_OVERRIDES)
    pipe.save_pretrained(tmp_path / "fp32")
    pipe.save_pretrained(tmp_path / "fp16", dtype=torch.float16)
    with safe_open(str(tmp_path / "fp16" / WEIGHTS), "pt") as f:
        dtypes = {f.get_tensor(key).dtype for key in f.keys()}
    assert dtypes == {torch.float16}
    assert all(p.dtype == torch.float32 for p in pipe.model.parameters())  # left as it was
    size = {d: (tmp_path / d / WEIGHTS).stat().st_size for d in ("fp16", "fp32")}
    assert size["fp16"] < 0.6 * size["fp32"]
    loaded = YodaPipeline.from_pretrained(tmp_path / "fp16")
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    for name, value in pipe.model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[name], value.half().float())
    # One network evaluation, relative to its output's scale: fp16 rounding (2**-11) of the
    # weights, not more. (A random net's sampling chain amplifies it; the export script
    # measures the trained models' outputs.)
    lr = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    x_t = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    t = torch.tensor([50])
    with torch.no_grad():
        ours, theirs = (p.model(x_t, t, **p.model.condition(lr)) for p in (loaded, pipe))
    relative = ((ours - theirs).abs().max() / theirs.abs().max()).item()
    assert 0 < relative < 1e-2


def test_models_command_lists_name_size_summary_and_card(bundled_dir, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if DEFAULT_MODEL in row and "MB" in row)
    assert line.startswith("*") and "Tiny random SRDiff+YODA for tests." in line
    assert f"card: {bundled_dir / DEFAULT_MODEL / 'MODEL_CARD.md'}" in out
    assert "sr3-yoda-x4" not in out


def test_models_command_without_bundled_files_says_how_to_create_them(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path / "absent")
    assert main(["models"]) == 0
    assert "train_default_models.py" in capsys.readouterr().out


def test_upscale_without_model_uses_the_default_bundled_model(bundled_dir, lr_image, tmp_path):
    steps = ["--steps", "2"]
    assert main(["upscale", str(lr_image), "--out", str(tmp_path / "a"), *steps]) == 0
    folder = str(bundled_dir / DEFAULT_MODEL)
    assert (
        main(["upscale", str(lr_image), "--out", str(tmp_path / "b"), "--model", folder, *steps])
        == 0
    )
    default, explicit = (np.asarray(Image.open(tmp_path / d / "photo_x4.png")) for d in "ab")
    assert default.shape == (32, 32, 3)
    assert np.array_equal(default, explicit)


def test_upscale_without_bundled_files_says_how_to_create_them(
    lr_image, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path / "absent")
    assert main(["upscale", str(lr_image), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"bundled model '{DEFAULT_MODEL}' is not installed" in err
    assert "train_default_models.py" in err and "Traceback" not in err


def test_readme_quick_start_upscales_an_example_with_the_default_model(
    bundled_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert main(["examples", "--out", "examples"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed[0] == str(Path("examples") / "chelsea.png") and len(printed) == 4
    assert main(["upscale", "examples/chelsea.png", "--out", "sr", "--steps", "2"]) == 0
    lr, sr = (Image.open(p) for p in ("examples/chelsea.png", "sr/chelsea_x4.png"))
    assert max(lr.size) == 96 and sr.size == (4 * lr.width, 4 * lr.height)
    assert main(["examples", "--out", "examples/chelsea.png"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def _strings(value):
    """Every string inside nested dicts and lists."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.mark.parametrize("name", bundled.BUNDLED_NAMES)
def test_shipped_models_publish_no_absolute_paths(name):
    folder = bundled.BUNDLED_DIR / name
    if not (folder / "model_index.json").is_file():
        pytest.skip(f"{name} is not in this copy")
    saved = [json.loads(path.read_text()) for path in folder.rglob("*.json")]
    card = (folder / bundled.CARD_NAME).read_text(encoding="utf-8")
    saved.append(yaml.safe_load(card.split("## Config")[1].split("```yaml")[1].split("```")[0]))
    absolute = [text for data in saved for text in _strings(data) if Path(text).is_absolute()]
    assert absolute == []
