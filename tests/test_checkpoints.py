"""Checkpoint folders on disk: atomic pruning, incomplete folders, non-finite weights,
damaged files."""

import pickle

import pytest
import torch
from torch import nn

from yoda_sr import checkpoints as ckpt
from yoda_sr.checkpoints import (
    CorruptCheckpointError,
    NonFiniteWeightsError,
    list_checkpoints,
    read_checkpoint,
    save_checkpoint,
)

STATE = {"optimizer": {}, "lr_scheduler": {}, "ema_n_averaged": 0, "step": 0, "rng": {}}


def save(run, step: int, keep_last: int = 3, weight: float = 1.0) -> None:
    model = nn.Linear(2, 2)
    nn.init.constant_(model.weight, weight)
    save_checkpoint(run, step, model, model, "model: {}\n", dict(STATE, step=step), keep_last)


def test_prune_killed_mid_delete_leaves_no_folder_that_looks_like_a_checkpoint(
    tmp_path, monkeypatch
):
    run = tmp_path / "run"
    for step in (1, 2):
        save(run, step, keep_last=2)
    real_rmtree = ckpt.shutil.rmtree

    def killed_rmtree(path, ignore_errors=False):
        if path.is_dir() and (path / "model.safetensors").is_file():
            (path / "model.safetensors").unlink()  # the kill lands after the first file
            raise KeyboardInterrupt
        real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(ckpt.shutil, "rmtree", killed_rmtree)
    with pytest.raises(KeyboardInterrupt):
        save(run, 3, keep_last=2)  # prunes step 1
    monkeypatch.undo()
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == [".trash-step-000001", "step-000002", "step-000003"]
    assert [c.step for c in list_checkpoints(run)] == [2, 3]

    save(run, 4, keep_last=2)  # the next save clears what the kill left
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-000003",
        "step-000004",
    ]


@pytest.mark.parametrize(
    "missing", ["model.safetensors", "ema.safetensors", "config.yaml", "training_state.pt"]
)
def test_folder_missing_a_file_is_not_listed(tmp_path, missing):
    run = tmp_path / "run"
    save(run, 1)
    save(run, 2)
    (run / "checkpoints" / "step-000002" / missing).unlink()
    assert [c.step for c in list_checkpoints(run)] == [1]


def test_non_finite_weights_are_never_written(tmp_path):
    run = tmp_path / "run"
    save(run, 1)
    with pytest.raises(NonFiniteWeightsError, match=r"step 2: .*NaN/inf.*model: weight"):
        save(run, 2, weight=float("nan"))
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000001"]


@pytest.mark.parametrize(
    "name, damage, reason",
    [
        ("training_state.pt", lambda b: b[: len(b) // 2], "failed reading zip archive"),
        ("training_state.pt", lambda b: b"", "EOFError"),
        ("training_state.pt", lambda b: pickle.dumps(object(), protocol=2), "refuses"),
        ("model.safetensors", lambda b: b[:-4], "file not fully covered"),
        ("ema.safetensors", lambda b: b[:5], "header too small"),
    ],
)
def test_damaged_file_is_named_with_a_short_reason(tmp_path, name, damage, reason):
    run = tmp_path / "run"
    save(run, 1)
    files = list_checkpoints(run)[0]
    assert read_checkpoint(files)["step"] == 1
    path = files.folder / name
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptCheckpointError, match=f"{name}: .*{reason}") as info:
        read_checkpoint(files)
    assert "weights_only=False" not in str(info.value) and "\n" not in str(info.value)


def test_training_state_without_required_keys_is_corrupt(tmp_path):
    run = tmp_path / "run"
    save(run, 1)
    files = list_checkpoints(run)[0]
    torch.save({"step": 1}, files.training_state)
    with pytest.raises(CorruptCheckpointError, match="training_state.pt: .*no optimizer"):
        read_checkpoint(files)
