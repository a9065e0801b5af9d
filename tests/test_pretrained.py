"""save_pretrained / from_pretrained / push_to_hub: the component layout, bit-identical round
trips, Hub repo ids (huggingface_hub mocked) and the offline error."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import TINY_SR3_OVERRIDES, TINY_SRDIFF_OVERRIDES
from diffusers import DDPMScheduler
from PIL import Image

import yoda_sr.pipeline.hub as hub
from yoda_sr.cli.main import main
from yoda_sr.config import ExperimentConfig
from yoda_sr.diffusion import make_scheduler
from yoda_sr.models import SR3Backbone, build_model
from yoda_sr.models.srdiff_backbone import SRDiffBackbone
from yoda_sr.pipeline import ModelNotFoundError, YodaPipeline

SR3_FILES = {
    "model_index.json",
    "training_config.json",
    "backbone/config.json",
    "backbone/diffusion_pytorch_model.safetensors",
    "scheduler/scheduler_config.json",
    "importance/importance_config.json",
}


def make_pipe(config_name: str, overrides: list[str]) -> YodaPipeline:
    config = ExperimentConfig.load(config_name, overrides)
    torch.manual_seed(0)
    return YodaPipeline(build_model(config.model), config)


@pytest.fixture(scope="module")
def sr3() -> YodaPipeline:
    return make_pipe("sr3_tiny", TINY_SR3_OVERRIDES)


@pytest.fixture(scope="module")
def saved_sr3(sr3, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pretrained") / "sr3"
    sr3.save_pretrained(folder)
    return folder


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def outputs(pipe: YodaPipeline, sampler: str = "ddpm") -> torch.Tensor:
    lr = torch.rand(1, 3, 6, 8, generator=torch.Generator().manual_seed(3))
    return pipe(lr, sampler=sampler, generator=torch.Generator().manual_seed(0)).images


def test_one_folder_per_component_each_loadable_with_diffusers(sr3, saved_sr3):
    assert files(saved_sr3) == SR3_FILES
    index = json.loads((saved_sr3 / "model_index.json").read_text())
    assert index["backbone"] == ["yoda_sr", "SR3Backbone"]
    assert index["scheduler"] == ["diffusers", "DDPMScheduler"]
    backbone = SR3Backbone.from_pretrained(saved_sr3 / "backbone")
    for name, value in sr3.model.state_dict().items():
        assert torch.equal(backbone.state_dict()[name], value), name
    scheduler = DDPMScheduler.from_pretrained(saved_sr3, subfolder="scheduler")
    assert torch.equal(scheduler.betas, make_scheduler(sr3.config.diffusion, "ddpm").betas)
    importance = json.loads((saved_sr3 / "importance/importance_config.json").read_text())
    assert importance["attention"] == sr3.config.to_dict()["attention"]
    assert importance["yoda"] == {"enabled": True, "lower_bound": 0.3, "importance_input": "lr"}
    assert importance["sampling"]["steps"] == 5


@pytest.mark.parametrize(
    "residual",
    [
        ["model.residual_convention=srdiff", "model.clip_residual=false"],
        ["model.residual_convention=legacy_divide"],
    ],
)
def test_srdiff_round_trip_is_bit_identical_and_keeps_the_residual_space(tmp_path, residual):
    pipe = make_pipe("srdiff_tiny", TINY_SRDIFF_OVERRIDES + residual)
    pipe.save_pretrained(tmp_path / "srdiff")
    loaded = YodaPipeline.from_pretrained(tmp_path / "srdiff")
    assert isinstance(loaded.model, SRDiffBackbone)
    assert loaded.config.to_dict() == pipe.config.to_dict()
    assert loaded.model.settings == pipe.model.settings
    assert not any(p.requires_grad for p in loaded.model.encoder.parameters())
    for sampler in ("ddim", "ddpm"):
        assert torch.equal(outputs(loaded, sampler), outputs(pipe, sampler))


def test_regression_model_has_no_scheduler_and_round_trips(tmp_path):
    pipe = make_pipe("rrdb_tiny", ["model.num_features=8", "model.num_blocks=1"])
    pipe.save_pretrained(tmp_path / "rrdb")
    assert files(tmp_path / "rrdb") == {
        "model_index.json",
        "training_config.json",
        "backbone/config.json",
        "backbone/diffusion_pytorch_model.safetensors",
    }
    loaded = YodaPipeline.from_pretrained(tmp_path / "rrdb")
    assert loaded.config.to_dict() == pipe.config.to_dict()
    lr = torch.rand(1, 3, 5, 7)
    assert torch.equal(loaded(lr).images, pipe(lr).images)


def test_hub_repo_id_is_downloaded_through_huggingface_hub(sr3, saved_sr3, monkeypatch):
    calls = []

    def snapshot_download(repo_id, revision=None):
        calls.append((repo_id, revision))
        return str(saved_sr3)

    monkeypatch.setattr(hub, "snapshot_download", snapshot_download)
    loaded = YodaPipeline.from_pretrained("someone/yoda-sr3", revision="v1")
    assert calls == [("someone/yoda-sr3", "v1")]
    assert torch.equal(outputs(loaded), outputs(sr3))


def test_local_path_wins_over_a_hub_id_of_the_same_name(saved_sr3, monkeypatch):
    monkeypatch.chdir(saved_sr3.parent.parent)
    monkeypatch.setattr(hub, "snapshot_download", lambda *a, **k: pytest.fail("Hub was asked"))
    name = f"{saved_sr3.parent.name}/{saved_sr3.name}"  # "pretrained0/sr3": also an owner/name
    assert YodaPipeline.from_pretrained(name).scale == 4


def test_offline_hub_id_not_in_the_cache_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(ModelNotFoundError) as info:
        YodaPipeline.from_pretrained("yoda-sr-test/not-cached")
    message = str(info.value)
    assert "'yoda-sr-test/not-cached'" in message and "not available from the Hub" in message
    assert "HF_HUB_OFFLINE" in message and "save_pretrained" in message
    assert "checkpoints/step-*" in message
    lr = tmp_path / "lr.png"
    Image.new("RGB", (8, 8)).save(lr)
    code = main(
        ["upscale", str(lr), "--model", "yoda-sr-test/not-cached", "--out", str(tmp_path / "o")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "yoda-sr-test/not-cached" in err and "Traceback" not in err


def test_missing_local_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no such file or folder"):
        YodaPipeline.from_pretrained(tmp_path / "missing")


def test_push_to_hub_uploads_the_saved_folder(sr3, monkeypatch):
    uploaded = {}

    def create_repo(repo_id, private=None, token=None, exist_ok=False):
        uploaded["created"] = (repo_id, private, token, exist_ok)
        return SimpleNamespace(repo_id=repo_id)

    def upload_folder(repo_id, folder_path, commit_message, token=None):
        folder = Path(folder_path)
        uploaded.update(repo_id=repo_id, message=commit_message, files=files(folder))
        uploaded["outputs"] = outputs(YodaPipeline.from_pretrained(folder))
        return "commit"

    monkeypatch.setattr(hub, "create_repo", create_repo)
    monkeypatch.setattr(hub, "upload_folder", upload_folder)
    result = sr3.push_to_hub("someone/yoda-sr3", private=True, token="hf_x")
    assert result == "commit"
    assert uploaded["created"] == ("someone/yoda-sr3", True, "hf_x", True)
    assert uploaded["repo_id"] == "someone/yoda-sr3"
    assert uploaded["message"] == "Upload yoda-sr pipeline"
    assert uploaded["files"] == SR3_FILES | {"README.md"}
    assert torch.equal(uploaded["outputs"], outputs(sr3))


def test_push_to_hub_writes_a_model_card_with_hub_metadata_and_the_config(sr3, monkeypatch):
    cards = []

    def upload_folder(repo_id, folder_path, commit_message, token=None):
        cards.append((Path(folder_path) / "README.md").read_text(encoding="utf-8"))
        return "commit"

    monkeypatch.setattr(hub, "create_repo", lambda repo_id, **_: SimpleNamespace(repo_id=repo_id))
    monkeypatch.setattr(hub, "upload_folder", upload_folder)
    sr3.push_to_hub("someone/yoda-sr3")
    (card,) = cards
    front_matter, body = card.removeprefix("---\n").split("\n---\n", 1)
    assert "library_name: yoda-sr" in front_matter and "- sr3" in front_matter
    assert body.lstrip().startswith("# yoda-sr3\n")
    assert "--model someone/yoda-sr3" in body
    assert 'from_pretrained("someone/yoda-sr3")' in body
    assert f"DDIM-{sr3.config.sampling.steps}" in body
    assert "## Config" in body and "lower_bound: 0.3" in body


def test_saved_paths_are_relative_to_the_working_directory_or_dropped(tmp_path, monkeypatch):
    work = tmp_path / "work"
    monkeypatch.chdir(tmp_path)  # so that work/ is under the current directory
    pipe = make_pipe(
        "srdiff_tiny",
        TINY_SRDIFF_OVERRIDES
        + [
            f"data.train_dir={tmp_path / 'work' / 'tiles'}",  # under the cwd: made relative
            "data.val_dir=photos/val",  # relative: kept
            "data.cache_dir=/elsewhere/cache",  # absolute elsewhere: dropped
            "model.encoder_checkpoint=/elsewhere/runs/rrdb",
        ],
    )
    pipe.save_pretrained(work / "saved")
    saved = {
        name: (work / "saved" / name).read_text()
        for name in files(work / "saved")
        if name.endswith(".json")
    }
    assert not any(str(tmp_path) in text or "/elsewhere" in text for text in saved.values())
    loaded = YodaPipeline.from_pretrained(work / "saved")
    assert (loaded.config.data.train_dir, loaded.config.data.val_dir) == (
        "work/tiles",
        "photos/val",
    )
    assert loaded.config.data.cache_dir == loaded.config.model.encoder_checkpoint == ""
    assert torch.equal(outputs(loaded, "ddim"), outputs(pipe, "ddim"))


def test_scheduler_settings_yoda_sr_cannot_sample_are_refused(saved_sr3, tmp_path):
    folder = Path(shutil.copytree(saved_sr3, tmp_path / "changed"))
    path = folder / "scheduler" / "scheduler_config.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "timestep_spacing": "leading"}))
    with pytest.raises(ValueError, match="scheduler_config.json: .*timestep_spacing='leading'"):
        YodaPipeline.from_pretrained(folder)


def test_another_pipelines_model_index_is_refused(saved_sr3, tmp_path):
    folder = Path(shutil.copytree(saved_sr3, tmp_path / "other"))
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(ValueError, match="not a yoda-sr pipeline .*StableDiffusionPipeline"):
        YodaPipeline.from_pretrained(folder)
