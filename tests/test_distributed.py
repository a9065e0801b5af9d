"""Several processes: sharding helpers, and (slow) 2-process CPU runs under torchrun (gloo)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import TINY_SR3_OVERRIDES, write_test_images
from PIL import Image
from safetensors.torch import load_file

import yoda_sr
from yoda_sr.checkpoints import list_checkpoints, load_training_state, rng_state
from yoda_sr.cli.main import main
from yoda_sr.config import ExperimentConfig
from yoda_sr.data.datasets import EpochSampler
from yoda_sr.distributed import Shard, check_launch, shard_for
from yoda_sr.evaluation import evaluate_run
from yoda_sr.metrics import LpipsMetric
from yoda_sr.models import build_model
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.training.trainer import Trainer, _restore_rng

# Run under torchrun: trains, then each process writes the weights it ended with, the image
# names of each of its batches and its shard (index, count).
RECORDING_TRAINER = '''
import json
import sys
from pathlib import Path

from safetensors.torch import save_file

from yoda_sr.distributed import shard_for
from yoda_sr.checkpoints import state_dict_for_saving
from yoda_sr.config import ExperimentConfig
from yoda_sr.training.trainer import Trainer


class RecordingTrainer(Trainer):
    """Remembers the unwrapped model and the names of the images of each batch it trains on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def _loss(self, unwrapped, model, scheduler, batch):
        self.model = unwrapped
        self.seen.append(list(batch["name"]))
        return super()._loss(unwrapped, model, scheduler, batch)


run = Path(sys.argv[1])
trainer = RecordingTrainer(ExperimentConfig.load("sr3_tiny", sys.argv[2:]), run)
trainer.train(progress=False)
shard = shard_for("cpu")
save_file(state_dict_for_saving(trainer.model), str(run / f"rank{shard.index}.safetensors"))
record = {"batches": trainer.seen, "shard": [shard.index, shard.count]}
(run / f"rank{shard.index}.json").write_text(json.dumps(record))
'''


def test_a_shard_takes_every_nth_item_from_its_index():
    shard = Shard(1, 3, torch.device("cpu"))
    assert shard.take(list("abcdefg")) == [(1, "b"), (4, "e")]
    assert not shard.is_main and Shard(0, 3, torch.device("cpu")).is_main


def test_one_process_is_the_whole_job(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert shard_for("cpu") == Shard(0, 1, torch.device("cpu"))
    assert Shard(0, 1, torch.device("cpu")).gather([1, 2]) == [1, 2]


def test_a_launch_that_accelerate_runs_as_one_process_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="launched as 2 processes, but accelerate runs 1"):
        check_launch(1)


def test_each_process_gets_its_own_saved_random_state_back():
    torch.manual_seed(0)
    first = rng_state()
    after_first = torch.rand(3)
    torch.manual_seed(1)
    second = rng_state()
    after_second = torch.rand(3)

    alone = SimpleNamespace(num_processes=1, process_index=0, is_main_process=True)
    _restore_rng(first, alone)  # a checkpoint from before per-process states: one dict
    assert torch.equal(torch.rand(3), after_first)
    rank1 = SimpleNamespace(num_processes=2, process_index=1, is_main_process=False)
    _restore_rng([first, second], rank1)
    assert torch.equal(torch.rand(3), after_second)
    with pytest.warns(UserWarning, match=r"written by 2 process\(es\), resuming on 1"):
        _restore_rng([first, second], alone)
    assert torch.equal(torch.rand(3), after_first)


def torchrun(tmp_path: Path, *args: str, cpu_training: bool = False) -> str:
    """Run ``args`` on 2 CPU processes under torchrun; returns stdout (fails with stderr)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", YODA_SR_CACHE=str(tmp_path / "cache"))
    env["TORCH_HOME"] = str(tmp_path / "torch_home")  # no LPIPS weights: quick and offline
    src = str(Path(yoda_sr.__file__).parents[1])  # this checkout, not an installed copy
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    if cpu_training:  # accelerate's Accelerator needs telling that the processes use CPUs
        env["ACCELERATE_USE_CPU"] = "true"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# 4 images, global batch 2 (1 per process): 2 batches an epoch, so step 3 falls mid-epoch 1.
TRAIN_OVERRIDES = [*TINY_SR3_OVERRIDES, "model.dropout=0.1", "train.steps=6"]
TRAIN_OVERRIDES += ["train.checkpoint_every=3", "train.validate_every=3", "data.val_limit=1"]


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory) -> dict[str, Path]:
    """A 6-step run on 2 processes; each process dumped its weights and batches."""
    root = tmp_path_factory.mktemp("two_processes")
    images = root / "images"
    write_test_images(images)
    overrides = [*TRAIN_OVERRIDES, f"data.train_dir={images}", f"data.val_dir={images}"]
    script = root / "train.py"
    script.write_text(RECORDING_TRAINER)
    torchrun(root, str(script), str(root / "run"), *overrides, cpu_training=True)
    return {"root": root, "run": root / "run", "images": images}


@pytest.mark.slow
def test_two_processes_train_in_step_on_distinct_samples_and_checkpoint_once(two_process_run):
    run = two_process_run["run"]
    rank0, rank1 = (load_file(run / f"rank{r}.safetensors") for r in (0, 1))
    saved = load_file(list_checkpoints(run)[-1].model)
    assert all(torch.equal(rank0[k], rank1[k]) and torch.equal(rank0[k], saved[k]) for k in saved)
    folders = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert folders == ["step-000003", "step-000006"]  # each written once, nothing left over
    assert len(list((run / "yoda-sr").glob("events.*"))) == 1  # logs from the main process only
    assert (run / "samples" / "step-000006.png").is_file()

    state = load_training_state(list_checkpoints(run)[-1].training_state)
    assert state["batches"] == 6 and state["lr_scheduler"]["last_epoch"] == 6
    rng = state["rng"]  # one random state per process
    assert len(rng) == 2 and not torch.equal(rng[0]["torch"], rng[1]["torch"])

    # Global batch k is batch k of the one-process order; process r gets its r-th half.
    names = sorted(p.stem for p in two_process_run["images"].iterdir())
    sampler = EpochSampler(len(names), seed=0)
    records = [json.loads((run / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [record["shard"] for record in records] == [[0, 2], [1, 2]]
    seen = [record["batches"] for record in records]
    assert [len(batches) for batches in seen] == [6, 6]
    for k in range(6):
        sampler.set_epoch(k // 2)
        batch = [names[index] for index, _ in list(sampler)[2 * (k % 2) : 2 * (k % 2) + 2]]
        assert [seen[0][k], seen[1][k]] == [[batch[0]], [batch[1]]], k


def stopped_after_step_3(run: Path, copy: Path) -> Path:
    """``run`` as it was when stopped right after its step-3 checkpoint (mid-epoch 1)."""
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("rank*", "step-000006"))
    return copy


@pytest.mark.slow
def test_two_process_run_stopped_after_a_checkpoint_resumes_to_the_same_weights(
    two_process_run, tmp_path
):
    run, images = two_process_run["run"], two_process_run["images"]
    stopped = stopped_after_step_3(run, tmp_path / "stopped")
    overrides = [*TRAIN_OVERRIDES, f"data.train_dir={images}", f"data.val_dir={images}"]
    args = ["-m", "yoda_sr.cli.main", "train", "--config", "sr3_tiny"]
    args += [f"--set={o}" for o in overrides]
    args += ["--output-dir", str(stopped), "--resume", "--no-progress"]
    out = torchrun(tmp_path, *args, cpu_training=True)
    assert out.count("trained to step 6") == 1  # one report, from the main process
    assert [c.step for c in list_checkpoints(stopped)] == [3, 6]
    for name in ("model", "ema"):
        a = load_file(getattr(list_checkpoints(stopped)[-1], name))
        b = load_file(getattr(list_checkpoints(run)[-1], name))
        assert all(torch.equal(a[k], b[k]) for k in b), name

    # On one process: it goes on from the same data position, warning about the noise.
    alone = stopped_after_step_3(run, tmp_path / "alone")
    config = ExperimentConfig.load("sr3_tiny", [*overrides, "data.val_dir="])
    with pytest.warns(UserWarning, match=r"written by 2 process\(es\), resuming on 1"):
        result = Trainer(config, alone, resume=True).train(progress=False)
    assert result.step == 6 and len(result.losses) == 3
    assert load_training_state(list_checkpoints(alone)[-1].training_state)["batches"] == 6


def read_rows(path: Path) -> list[dict[str, str]]:
    """CSV rows without the timing column (wall time differs between runs)."""
    with path.open(newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    config = ExperimentConfig.load("sr3_tiny", TINY_SR3_OVERRIDES)
    torch.manual_seed(0)
    YodaPipeline(build_model(config.model), config).save_pretrained(tmp_path / "model")
    return tmp_path / "model"


@pytest.mark.slow
def test_evaluate_on_two_processes_writes_one_gathered_results_file(tiny_model, tmp_path):
    hr = tmp_path / "hr"
    write_test_images(hr, count=3, size=40)  # process 0 takes images 0 and 2, process 1 image 1
    (tmp_path / "hub").mkdir()
    one = evaluate_run(
        tiny_model,
        hr,
        tmp_path / "one",
        scale=4,
        steps=2,
        num_samples=3,
        lpips_metric=LpipsMetric(hub_dir=tmp_path / "hub"),
    )
    args = ["-m", "yoda_sr.cli.main", "evaluate", "--model", str(tiny_model), "--data", str(hr)]
    args += ["--scale", "4", "--out", str(tmp_path / "two"), "--steps", "2", "--samples", "3"]
    out = torchrun(tmp_path, *args, "--device", "cpu")
    assert out.count("results in") == 1  # one report, from the main process

    two = tmp_path / "two"
    assert read_rows(two / "per_image.csv") == read_rows(one.out_dir / "per_image.csv")
    summary = json.loads((two / "summary.json").read_text())
    assert summary["data"]["images"] == ["img00", "img01", "img02"]
    for method, means in one.summary["results"].items():
        assert {
            k: v for k, v in summary["results"][method].items() if k != "seconds_per_image"
        } == {k: v for k, v in means.items() if k != "seconds_per_image"}
    for name in ("img00", "img01", "img02"):
        assert (two / "samples" / name / "masks.png").is_file()
        with (
            Image.open(two / "outputs" / f"{name}.png") as a,
            Image.open(one.out_dir / "outputs" / f"{name}.png") as b,
        ):
            assert a.tobytes() == b.tobytes(), name


@pytest.mark.slow
def test_upscale_on_two_processes_writes_every_image_as_one_process_does(tiny_model, tmp_path):
    inputs = write_test_images(tmp_path / "lr", count=3, size=12)
    args = ["upscale", *map(str, inputs), "--model", str(tiny_model), "--steps", "2"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    torchrun(tmp_path, "-m", "yoda_sr.cli.main", *args, "--out", str(tmp_path / "two"))
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == ["img00_x4.png", "img01_x4.png", "img02_x4.png"]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == names
    for name in names:
        with Image.open(tmp_path / "one" / name) as a, Image.open(tmp_path / "two" / name) as b:
            assert a.tobytes() == b.tobytes(), name
