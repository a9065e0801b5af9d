"""Train a few steps, checkpoint, resume, upscale: the end-to-end round trip on CPU."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY_SR3_OVERRIDES
from PIL import Image
from safetensors.torch import load_file

import yoda_sr
from yoda_sr.checkpoints import list_checkpoints, load_training_state
from yoda_sr.cli.main import main
from yoda_sr.config import ExperimentConfig
from yoda_sr.data.datasets import SRFolderDataset
from yoda_sr.imaging import ImageReadError
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.training.trainer import (
    ConfigMismatchError,
    Trainer,
    TrainingDivergedError,
    _plain,
)


def tiny_config(image_folder, *extra: str) -> ExperimentConfig:
    overrides = TINY_SR3_OVERRIDES + [
        f"data.train_dir={image_folder}",
        f"data.val_dir={image_folder}",
        "data.val_limit=2",
        *extra,
    ]
    return ExperimentConfig.load("sr3_tiny", overrides)


def test_train_save_resume_and_upscale_round_trip(image_folder, tmp_path):
    run = tmp_path / "run"
    result = Trainer(tiny_config(image_folder), run).train(progress=False)
    assert result.step == 4 and len(result.losses) == 4
    assert all(torch.isfinite(torch.tensor(result.losses)))
    assert [c.step for c in list_checkpoints(run)] == [2, 4]
    assert (run / "samples" / "step-000004.png").is_file()
    assert result.val_psnr and result.val_psnr[0][0] == 4

    # Resuming continues at step 4 with the saved optimiser and LR schedule.
    state = load_training_state(list_checkpoints(run)[-1].training_state)
    assert state["step"] == 4 and state["lr_scheduler"]["last_epoch"] == 4
    resumed = Trainer(
        tiny_config(image_folder, "train.steps=6", "train.keep_last=2"), run, resume=True
    )
    result = resumed.train(progress=False)
    assert result.step == 6 and len(result.losses) == 2
    assert [c.step for c in list_checkpoints(run)] == [4, 6]
    final = load_training_state(list_checkpoints(run)[-1].training_state)
    assert final["lr_scheduler"]["last_epoch"] == 6

    # The run folder loads back as a pipeline from its saved config alone.
    out = tmp_path / "out"
    lr_path = tmp_path / "lr.png"
    Image.new("RGB", (9, 7), (120, 40, 200)).save(lr_path)
    code = main(
        [
            "upscale",
            str(lr_path),
            "--model",
            str(run),
            "--out",
            str(out),
            "--steps",
            "3",
            "--save-masks",
        ]
    )
    assert code == 0
    with Image.open(out / "lr_x4.png") as img:
        assert img.size == (36, 28)
    assert (out / "lr_masks.png").is_file()


def test_resume_with_different_model_config_is_a_clear_error(image_folder, tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(image_folder, "train.steps=2"), run).train(progress=False)
    changed = tiny_config(image_folder, "yoda.lower_bound=0.5")
    with pytest.raises(ConfigMismatchError, match=r"yoda.lower_bound: 0.3 -> 0.5"):
        Trainer(changed, run, resume=True)


def test_training_into_an_existing_run_without_resume_refuses(image_folder, tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(image_folder, "train.steps=2"), run).train(progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        Trainer(tiny_config(image_folder), run)


def test_unreadable_image_names_the_file_or_is_skipped(image_folder):
    bad = image_folder / "broken.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="broken.png"):
        SRFolderDataset(image_folder, scale=4, hr_size=32, skip_unreadable=False, cache=None)[
            sorted(image_folder.iterdir()).index(bad)
        ]
    with pytest.warns(UserWarning, match="broken.png"):
        dataset = SRFolderDataset(image_folder, scale=4, hr_size=32, skip_unreadable=True)
    assert len(dataset) == 4


def test_train_cli_reports_bad_config_key(image_folder, tmp_path, capsys):
    code = main(
        [
            "train",
            "--config",
            "sr3_tiny",
            "--set",
            "train.stepz=3",
            "--output-dir",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2
    assert "stepz" in capsys.readouterr().err


def test_numeric_overrides_in_exponent_form_are_coerced_and_bad_ones_named():
    config = ExperimentConfig.load("sr3_tiny", ["train.learning_rate=1e-3", "train.steps=10"])
    assert config.train.learning_rate == 0.001 and isinstance(config.train.learning_rate, float)
    with pytest.raises(ValueError, match="train.steps: expected int, got 'many'"):
        ExperimentConfig.load("sr3_tiny", ["train.steps=many"])


def train_cli(run, *overrides: str, resume: bool = False) -> int:
    """``yoda-sr train`` on the tiny SR3 config."""
    sets = [f"--set={o}" for o in [*TINY_SR3_OVERRIDES, *overrides]]
    return main(
        ["train", "--config", "sr3_tiny", *sets, "--output-dir", str(run), "--no-progress"]
        + (["--resume"] if resume else [])
    )


def test_infinite_learning_rate_stops_at_step_1_and_writes_no_checkpoint(
    image_folder, tmp_path, capsys, monkeypatch
):
    # A config refuses it (train.learning_rate must be finite): stands for any update that
    # overflows the weights.
    load = ExperimentConfig.load

    def load_with_infinite_learning_rate(*args, **kwargs):
        config = load(*args, **kwargs)
        config.train.learning_rate = float("inf")
        return config

    monkeypatch.setattr(ExperimentConfig, "load", staticmethod(load_with_infinite_learning_rate))
    run = tmp_path / "run"
    overrides = [f"data.train_dir={image_folder}", "train.checkpoint_every=1"]
    assert train_cli(run, *overrides) == 1
    err = capsys.readouterr().err
    assert "error: step 1: the update made the weights NaN/inf" in err
    assert "train.learning_rate is inf" in err and "Traceback" not in err
    assert not (run / "checkpoints").exists()


def test_nan_loss_or_gradient_skips_the_step_and_too_many_in_a_row_stop(
    image_folder, tmp_path, monkeypatch
):
    real_loss = Trainer._loss
    plan: dict[int, str] = {}  # call number -> "loss" (NaN loss) | "grad" (NaN gradient)
    calls = []

    def flaky_loss(self, unwrapped, model, scheduler, batch):
        loss = real_loss(self, unwrapped, model, scheduler, batch)
        calls.append(None)
        kind = plan.get(len(calls))
        if kind == "loss":
            return loss * float("nan")
        if kind == "grad":  # finite value, NaN gradient (0 * d sqrt(x)/dx at 0)
            weight = next(unwrapped.parameters())
            return loss + 0.0 * torch.sqrt(weight.abs().sum() * 0.0)
        return loss

    monkeypatch.setattr(Trainer, "_loss", flaky_loss)
    config = tiny_config(image_folder, "data.val_dir=", "train.steps=3", "train.checkpoint_every=3")
    config.train.max_bad_steps = 1
    plan.update({2: "loss", 4: "grad"})
    with pytest.warns(UserWarning) as caught:
        result = Trainer(config, tmp_path / "run").train(progress=False)
    messages = [str(w.message) for w in caught if "skipped the batch" in str(w.message)]
    assert messages == [
        "step 2: the loss is nan; skipped the batch (1 in a row, train.max_bad_steps=1)",
        "step 3: the gradient norm is nan; skipped the batch (1 in a row, train.max_bad_steps=1)",
    ]
    assert result.step == 3 and result.skipped_steps == 2 and len(result.losses) == 3
    weights = load_file(list_checkpoints(tmp_path / "run")[-1].model)
    assert all(torch.isfinite(w).all() for w in weights.values())

    calls.clear()
    plan.clear()
    plan.update({2: "loss", 3: "loss"})
    with (
        pytest.warns(UserWarning, match="step 2: the loss is nan; skipped"),
        pytest.raises(
            TrainingDivergedError, match=r"step 2: the loss is nan, 2 step\(s\) in a row"
        ),
    ):
        Trainer(config, tmp_path / "run2").train(progress=False)
    assert not list_checkpoints(tmp_path / "run2")


def test_resume_falls_back_past_a_corrupt_newest_checkpoint(image_folder, tmp_path, capsys):
    run = tmp_path / "run"
    Trainer(tiny_config(image_folder, "data.val_dir="), run).train(progress=False)
    newest = list_checkpoints(run)[-1]
    newest.training_state.write_bytes(newest.training_state.read_bytes()[:1000])
    with pytest.warns(
        UserWarning,
        match=r"step-000004: training_state.pt: .*zip archive.*; skipped, resuming from step-000002",
    ):
        trainer = Trainer(tiny_config(image_folder, "data.val_dir=", "train.steps=5"), run, True)
    assert trainer.checkpoint.step == 2
    result = trainer.train(progress=False)
    assert result.step == 5 and len(result.losses) == 3
    assert [c.step for c in list_checkpoints(run)] == [2, 4, 5]
    assert load_training_state(list_checkpoints(run)[1].training_state)["step"] == 4

    # Nothing loads: a clear error naming every checkpoint, not a traceback.
    for files in list_checkpoints(run):
        files.model.write_bytes(b"")
    assert train_cli(run, f"data.train_dir={image_folder}", resume=True) == 2
    err = capsys.readouterr().err
    assert "no checkpoint reads back" in err and "weights_only=False" not in err
    assert all(f"step-00000{s}: model.safetensors: " in err for s in (2, 4, 5))


@pytest.fixture
def one_thread():
    """One intra-op thread, as in the subprocess, so float sums match bit for bit."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_killed_and_resumed_run_equals_an_uninterrupted_one_bit_for_bit(
    image_folder, tmp_path, one_thread
):
    # 4 images / batch 2: checkpoints at steps 3, 6, 9 fall mid-epoch; dropout draws RNG too.
    common = ["model.dropout=0.1", "train.steps=12", "train.checkpoint_every=3"]
    killed = tmp_path / "killed"
    sets = [f"--set={o}" for o in [*TINY_SR3_OVERRIDES, *common]]
    sets += [f"--set=data.train_dir={image_folder}", f"--set=data.val_dir={image_folder}"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    src = str(Path(yoda_sr.__file__).parents[1])  # this checkout, not an installed copy
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "yoda_sr.cli.main", "train", "--config", "sr3_tiny"]
    command += [*sets, "--set=train.validate_every=2", "--output-dir", str(killed), "--no-progress"]
    with open(tmp_path / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 300
        while not list_checkpoints(killed):
            assert process.poll() is None, (tmp_path / "stderr.txt").read_text()
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.01)
        process.kill()
        process.wait()
    assert list_checkpoints(killed)[-1].step < 12, "the run ended before it was killed"

    # Resume with two loader workers (and validation at other steps): still the same data.
    resumed = tiny_config(image_folder, *common, "data.num_workers=2", "train.validate_every=5")
    Trainer(resumed, killed, resume=True).train(progress=False)
    whole = tmp_path / "whole"
    Trainer(tiny_config(image_folder, *common, "data.val_dir="), whole).train(progress=False)
    for name in ("model", "ema"):
        a = load_file(getattr(list_checkpoints(killed)[-1], name))
        b = load_file(getattr(list_checkpoints(whole)[-1], name))
        assert all(torch.equal(a[k], b[k]) for k in b), name


def test_channels_last_trains_the_same_losses_and_saves_loadable_weights(image_folder, tmp_path):
    plain = Trainer(tiny_config(image_folder, "data.val_dir=", "train.steps=2"), tmp_path / "a")
    fast = Trainer(
        tiny_config(image_folder, "data.val_dir=", "train.steps=2", "train.channels_last=true"),
        tmp_path / "b",
    )
    expected = plain.train(progress=False).losses
    assert fast.train(progress=False).losses == pytest.approx(expected, rel=1e-4)
    saved = load_file(list_checkpoints(tmp_path / "b")[-1].model)
    assert all(tensor.is_contiguous() for tensor in saved.values())
    pipe = YodaPipeline.from_pretrained(tmp_path / "b")
    assert pipe(torch.rand(1, 3, 8, 8), num_inference_steps=2).images.shape == (1, 3, 32, 32)


def test_compile_option_wraps_the_model_in_torch_compile(image_folder, tmp_path):
    trainer = Trainer(tiny_config(image_folder, "train.compile=true"), tmp_path / "run")
    run = trainer._setup()
    trainer._prepare(run)
    assert hasattr(run.model, "_orig_mod")
    assert _plain(run.accelerator, run.model) is run.model._orig_mod


def test_runs_of_different_mixed_precision_train_one_after_another_in_one_process(
    image_folder, tmp_path
):
    for index, precision in enumerate(("no", "bf16", "no")):
        config = tiny_config(image_folder, "train.steps=1", f"train.mixed_precision={precision}")
        result = Trainer(config, tmp_path / f"run{index}").train(progress=False)
        assert result.step == 1


def test_yes_no_words_in_overrides_stay_strings_and_unquoted_ones_in_yaml_are_named(tmp_path):
    assert (
        ExperimentConfig.load("sr3_tiny", ["train.mixed_precision=no"]).train.mixed_precision
        == "no"
    )
    assert ExperimentConfig.load("sr3_tiny", ["train.compile=false"]).train.compile is False
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  type: sr3\ntrain:\n  mixed_precision: no\n")
    with pytest.raises(ValueError, match=r"train\.mixed_precision: expected a string, got False"):
        ExperimentConfig.load(config)
