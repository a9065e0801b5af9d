"""Reproduce the bundled default models (``srdiff-yoda-x4``, ``sr3-yoda-x4``) from scratch.

    python benchmarks/train_default_models.py                  # train, export, evaluate
    python benchmarks/train_default_models.py --train --export --device cuda --minutes 6 --jobs 2
    python benchmarks/train_default_models.py --evaluate       # afterwards, on the CPU
    python benchmarks/train_default_models.py --export --from-study benchmarks/out/reproduce_cpu \
        --study-step 3000                                      # a study's runs instead

Steps (all three when none is named):

- ``--train``: cut the shared photos (``../shared/data/fetch_photos.sh``) into 192 px tiles,
  then train the stage-1 RRDB (``rrdb_tiny``), SRDiff+YODA (``srdiff_tiny`` on that RRDB's
  encoder) and SR3+YODA (``sr3_tiny``) for ``--minutes`` of wall time in all (``--jobs 2``:
  SR3 beside the RRDB -> SRDiff chain, two processes on one device), each in chunks resumed
  from its newest checkpoint until its share of the time or ``--steps`` is reached. A rerun
  trains on from there.
- ``--export``: each run's EMA weights as a self-contained pipeline (the SRDiff one holds its
  RRDB encoder): fp16 into ``--bundle-dir`` (the package's ``bundled_models``), fp32 copies
  and the training records into ``OUT/export/`` for the evaluation. With ``--from-study DIR
  --study-step N`` the runs are those of a ``benchmarks/reproduce.py`` study instead of
  ``--train``'s: ``DIR/runs/rrdb`` (newest checkpoint), ``srdiff_yoda_s0`` and
  ``sr3_yoda_s0`` at step N; their records (steps, batch, patch size, seed, device and time
  from the study's ``speeds.json`` under ``--study-records``, the commands that reproduce
  them) go into the cards.
- ``--evaluate``: the bundled (fp16) model and its fp32 source against bicubic and the
  stage-1 RRDB on the 8 val crops of ``benchmarks/reproduce.py`` (192 px centre crops, x4,
  DDIM-50, the config's lower bound, seed 0); writes ``OUT/evaluation.json`` and each
  model's ``MODEL_CARD.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from yoda_sr.attention.config import DEFAULT_DETAIL_FLOOR
from yoda_sr.checkpoints import CheckpointFiles, list_checkpoints
from yoda_sr.config import ExperimentConfig, apply_override
from yoda_sr.device import resolve_device
from yoda_sr.imaging import imresize, list_images, load_image, quantize
from yoda_sr.metrics import evaluate_pair
from yoda_sr.models import bicubic_up, build_model
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.pipeline.card import config_section, describe, sampling_defaults
from yoda_sr.training.trainer import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reproduce import PRESETS, Preset, load_at  # noqa: E402
from train_compare import prepare_photos  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCALE = 4
# Tiles and val crops as benchmarks/reproduce.py's cpu preset cuts them.
TILE, VAL_SIZE, PER_PHOTO = 192, 192, 24
METRICS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "delta_e76")
# Training options recorded with each run (and repeated in the card's command line).
REPRODUCE_OPTIONS = ("device", "minutes", "jobs", "batch", "hr_size", "num_workers", "seed")
# A chunk of training lasts at most this long, so a wrong speed estimate overruns little.
CHUNK_SECONDS = 90.0


@dataclass(frozen=True)
class Model:
    """One training run: ``weight`` is its share of the time within its chain."""

    name: str
    config: str
    weight: float
    title: str


RRDB = Model("rrdb", "rrdb_tiny", 1.0, "RRDB (stage 1 of SRDiff)")
SRDIFF = Model("srdiff-yoda-x4", "srdiff_tiny", 3.0, "SRDiff+YODA")
SR3 = Model("sr3-yoda-x4", "sr3_tiny", 3.0, "SR3+YODA")
# Pixel-space ResShift+YODA at T = 15 (issue 20); only from a study (--from-study): --train
# trains the SRDiff and SR3 chains.
RESSHIFT = Model("resshift-yoda-x4", "resshift_tiny", 3.0, "ResShift+YODA (T = 15)")
BUNDLED = (SRDIFF, SR3, RESSHIFT)
# The run folders of a benchmarks/reproduce.py study that --from-study exports.
STUDY_RUNS = {
    RRDB.name: "rrdb",
    SRDIFF.name: "srdiff_yoda_s0",
    SR3.name: "sr3_yoda_s0",
    # Seed 1: the seed benchmarks/resshift_seeds.py's rule (fixed before the held-out photos
    # were scored) picks on them, out of seeds 0-2 (docs/RESULTS.md section 5.7).
    RESSHIFT.name: "resshift_yoda_T15_s1",
}
# Sampling settings the export gives each bundled model over its training config (issue 19:
# absolute detail importance with its floor, the wavelet colour fix; the lower bound each
# measured best on the val and flat crops, docs/RESULTS.md section 5).
BUNDLE_SETTINGS = {
    SRDIFF.name: ("yoda.lower_bound=0.0",),
    SR3.name: ("yoda.lower_bound=0.3",),
    RESSHIFT.name: ("yoda.lower_bound=0.0",),
}
COMMON_SETTINGS = (
    "attention.normalization=absolute",
    f"attention.detail_floor={DEFAULT_DETAIL_FLOOR!r}",
    "sampling.color_fix=wavelet",
)


def bundle_config(config: ExperimentConfig, name: str) -> ExperimentConfig:
    """``config`` with the sampling settings the export gives bundled model ``name``."""
    data = config.to_dict()
    for item in (*COMMON_SETTINGS, *BUNDLE_SETTINGS[name]):
        apply_override(data, item)
    return ExperimentConfig.from_dict(data, f"{name}'s bundle settings")


def selected(args: argparse.Namespace) -> tuple[Model, ...]:
    """The bundled models named by ``--models``, in BUNDLED's order."""
    names = args.models.split(",")
    return tuple(model for model in BUNDLED if model.name in names)


def chains(jobs: int) -> list[tuple[Model, ...]]:
    """What each process trains, in order (the SRDiff run needs the finished RRDB)."""
    return [(RRDB, SRDIFF), (SR3,)] if jobs == 2 else [(RRDB, SRDIFF, SR3)]


def run_config(model: Model, steps: int, args: argparse.Namespace, data: Path) -> ExperimentConfig:
    """``model``'s config trained to ``steps``: checkpoints only at the end of each chunk."""
    overrides = [
        f"data.train_dir={data / 'train_tiles'}",
        "data.val_dir=",
        f"data.hr_size={args.hr_size}",
        f"data.num_workers={args.num_workers}",
        f"data.cache_dir={args.out / 'importance_cache'}",
        f"train.steps={steps}",
        f"train.batch_size={args.batch}",
        f"train.seed={args.seed}",
        "train.checkpoint_every=1000000000",
        "train.validate_every=1000000000",
        "train.sample_every=1000000000",
        "train.keep_last=1",
    ]
    if model is SRDIFF:
        overrides.append(f"model.encoder_checkpoint={args.out / 'runs' / RRDB.name}")
    return ExperimentConfig.load(model.config, overrides)


def uses_cuda() -> bool:
    """Whether the Trainer's accelerator trains on the GPU (``--device cpu`` forbids it)."""
    return torch.cuda.is_available() and os.environ.get("ACCELERATE_USE_CPU") != "true"


def device_name() -> str:
    """The device the Trainer's accelerator trains on."""
    if uses_cuda():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def train_model(model: Model, seconds: float, args: argparse.Namespace, data: Path) -> None:
    """Train ``model`` in resumed chunks for ``seconds`` or up to ``args.steps``. Its record
    (steps, wall time, device, options) is updated in ``runs/NAME/training.json`` after each
    chunk, and kept across reruns."""
    run_dir = args.out / "runs" / model.name
    record_path = run_dir / "training.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {"seconds": 0.0}
    # This command's options, for the card's command line that reproduces the run.
    record.update(
        device=device_name(),
        config=model.config,
        options={key: getattr(args, key) for key in REPRODUCE_OPTIONS},
    )
    existing = list_checkpoints(run_dir)
    step = existing[-1].step if existing else 0
    record["steps"] = step
    run_dir.mkdir(parents=True, exist_ok=True)
    record_path.write_text(json.dumps(record, indent=1))
    deadline = time.monotonic() + seconds
    rate, overhead = None, 0.0
    while step < args.steps:
        remaining = deadline - time.monotonic() - overhead
        if step > 0 and (remaining <= 0 or (rate is not None and rate * remaining < 1)):
            break
        chunk = args.chunk if rate is None else int(rate * min(remaining, CHUNK_SECONDS))
        target = min(args.steps, step + max(chunk, 1))
        config = run_config(model, target, args, data)
        started = time.perf_counter()
        result = Trainer(config, run_dir, resume=step > 0).train(progress=False)
        wall = time.perf_counter() - started
        rate = result.steps_per_second
        overhead = max(wall - (result.step - step) / max(rate, 1e-9), 0.0)
        step = result.step
        record.update(steps=step, seconds=record["seconds"] + wall)
        record_path.write_text(json.dumps(record, indent=1))
        print(f"{model.name}: step {step} at {rate:.1f} steps/s ({wall:.0f} s)", flush=True)


def train_chain(chain: tuple[Model, ...], deadline: float, args: argparse.Namespace) -> None:
    """Train the models of ``chain`` in order until ``deadline`` (``time.time()``); each gets
    its weight's share of the time left when it starts."""
    torch.backends.cudnn.benchmark = uses_cuda()  # fixed shapes: let cuDNN pick its kernels
    data = args.data or args.out / "data"
    for i, model in enumerate(chain):
        share = model.weight / sum(m.weight for m in chain[i:])
        train_model(model, max(deadline - time.time(), 0.0) * share, args, data)


def train(args: argparse.Namespace) -> None:
    """Prepare the tiles, then train every model (in ``args.jobs`` processes)."""
    prepare_photos(args.photos, args.data or args.out / "data", TILE, VAL_SIZE, PER_PHOTO)
    deadline = time.time() + 60 * args.minutes
    planned = chains(args.jobs)
    if len(planned) == 1:
        train_chain(planned[0], deadline, args)
        return
    with ProcessPoolExecutor(len(planned), mp_context=get_context("spawn")) as pool:
        for done in [pool.submit(train_chain, chain, deadline, args) for chain in planned]:
            done.result()


def study_checkpoint(run_dir: Path, step: int | None) -> CheckpointFiles:
    """``run_dir``'s checkpoint at ``step`` (None: the newest); a missing one is an error
    naming the folder and the steps it holds."""
    found = list_checkpoints(run_dir)
    if not found:
        raise FileNotFoundError(f"{run_dir}: no checkpoints/step-*/ (not a run of the study?)")
    match = [c for c in found if step is None or c.step == step]
    if not match:
        raise FileNotFoundError(
            f"{run_dir}: no checkpoint at step {step}; steps available: "
            + ", ".join(str(c.step) for c in found)
        )
    return match[-1]


def study_speeds(records: Path) -> dict[str, Any]:
    """The study's steps/s per ``run@step`` (and ``rrdb``) from its ``speeds.json``; the
    ``speeds_shard*`` files are left out: a sharded session may have trained the same step of
    a run elsewhere (its checkpoints then are not necessarily these)."""
    path = records / "speeds.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def study_time(speeds: dict[str, Any], run: str, step: int) -> tuple[float | None, str]:
    """(seconds, machine) of ``run``'s training up to ``step``: each recorded segment's steps
    over its steps/s (a ``run@S`` entry covers the steps after the previous one up to S; the
    RRDB's single ``rrdb`` entry its whole run). Seconds are None when a segment up to
    ``step`` has no rate; a machine not recorded (the older, plain-number entries) says so."""
    if run in speeds:
        segments = [(step, speeds[run])]
    else:
        segments = sorted(
            (int(key.rpartition("@")[2]), value)
            for key, value in speeds.items()
            if key.rpartition("@")[0] == run
        )
    seconds: float | None = 0.0
    machines: list[tuple[str, int, int]] = []
    start = 0
    for end, value in segments:
        if start >= step:
            break
        entry = value if isinstance(value, dict) else {"steps_per_second": value}
        rate = entry.get("steps_per_second")
        stop = min(end, step)
        if rate and seconds is not None:
            seconds += (stop - start) / rate
        else:
            seconds = None
        machines.append((entry.get("machine") or "not recorded", start, stop))
        start = stop
    if start < step:
        seconds = None
        machines.append(("not recorded", start, step))
    if len({m for m, _, _ in machines}) == 1:
        return seconds, machines[0][0]
    return seconds, "; ".join(f"{m} (steps {a}-{b})" for m, a, b in machines)


def study_preset(config: ExperimentConfig) -> tuple[str, Preset] | None:
    """The reproduce.py preset whose batch and patch size the run's config has."""
    for name, preset in PRESETS.items():
        if (preset.batch, preset.hr_size) == (config.train.batch_size, config.data.hr_size):
            return name, preset
    return None


def study_command(study: Path, step: int, preset: str, model: Model) -> str:
    """The commands that train the study's runs to ``step`` and export/evaluate them. The
    ladder runs one at a time, each in its own process: ``--max-minutes 1`` lets the ladder's
    next point start (its lower one is trained and evaluated) and stops before the one after.
    ResShift's run is trained to ``step`` by ``benchmarks/resshift_seeds.py``."""
    default = Path("benchmarks") / "out" / f"reproduce_{preset}"
    tail = Path(*study.resolve().parts[-3:])
    folder = default if tail == default else study
    out = "" if folder == default else f" --out {folder}"
    base = f"python benchmarks/reproduce.py --preset {preset}{out}"
    if model is RESSHIFT:
        seed = STUDY_RUNS[RESSHIFT.name].rsplit("_s", 1)[1]
        study_arg = "" if folder == default else f" --study {folder}"
        return "\n".join(
            [
                f"python benchmarks/resshift_seeds.py --seeds {seed} --steps {step}{study_arg}",
                f"python benchmarks/train_default_models.py --export --from-study {folder} "
                f"--study-step {step} --models {RESSHIFT.name}",
                f"python benchmarks/train_default_models.py --evaluate --models {RESSHIFT.name}",
            ]
        )
    runs = [STUDY_RUNS[SRDIFF.name], STUDY_RUNS[SR3.name]]
    return "\n".join(
        [
            f"{base} --runs {','.join(runs)} --groups main",
            *(f"{base} --runs {run} --groups ladder --max-minutes 1" for run in runs),
            f"python benchmarks/train_default_models.py --export --from-study {folder} "
            f"--study-step {step}",
            "python benchmarks/train_default_models.py --evaluate",
        ]
    )


def study_record(
    study: Path, model: Model, checkpoint: CheckpointFiles, speeds: dict[str, Any], step: int
) -> dict[str, Any]:
    """The training record of ``model``'s study run at ``checkpoint``, from its saved config
    and the study's speeds; ``step`` is the --study-step of the reproduce command."""
    run = STUDY_RUNS[model.name]
    config = ExperimentConfig.load_saved(checkpoint.config)
    seconds, device = study_time(speeds, run, checkpoint.step)
    found = study_preset(config)
    preset_name, preset = found if found else ("cpu", PRESETS["cpu"])
    names = {
        RRDB.name: preset.rrdb,
        SRDIFF.name: preset.srdiff,
        SR3.name: preset.sr3,
        RESSHIFT.name: preset.resshift,
    }
    tiles = list_images(Path(config.data.train_dir)) if config.data.train_dir else []
    trained = sorted({0, *(int(k.rpartition("@")[2]) for k in speeds if k.startswith(f"{run}@"))})
    return {
        "steps": checkpoint.step,
        "seconds": seconds,
        "device": device,
        "config": names[model.name] if found else model.config,
        "options": {
            "batch": config.train.batch_size,
            "hr_size": config.data.hr_size,
            "seed": config.train.seed,
        },
        "study": {
            "folder": str(study),
            "run": run,
            "checkpoint": str(checkpoint.folder),
            "preset": preset_name if found else None,
            "segments": [s for s in trained if 0 < s <= checkpoint.step],
            "learning_rate": config.train.learning_rate,
            "lr_schedule": config.train.lr_schedule,
            "tiles": len(tiles),
            "tile_px": load_image(tiles[0]).shape[-1] if tiles else None,
            "per_photo": preset.per_photo if found else None,
        },
        "command": study_command(study, step, preset_name, model),
    }


def export_sources(args: argparse.Namespace) -> list[tuple[Model, YodaPipeline, dict[str, Any]]]:
    """(model, pipeline of its EMA weights, training record) of the RRDB and each bundled
    model: ``--train``'s newest checkpoints, or the study's runs with ``--from-study``."""
    # The RRDB goes with SRDiff (its encoder, and a row of its card).
    models = (RRDB, *selected(args)) if SRDIFF in selected(args) else selected(args)
    if args.from_study is None:
        found = []
        for model in models:
            run_dir = args.out / "runs" / model.name
            record = json.loads((run_dir / "training.json").read_text())
            found.append((model, YodaPipeline.from_pretrained(run_dir), record))
        return found
    speeds = study_speeds(args.study_records)
    found = []
    for model in models:
        run_dir = args.from_study / "runs" / STUDY_RUNS[model.name]
        checkpoint = study_checkpoint(run_dir, None if model is RRDB else args.study_step)
        pipe = load_at(run_dir, checkpoint.step, "ema", "cpu")
        record = study_record(args.from_study, model, checkpoint, speeds, args.study_step)
        found.append((model, pipe, record))
    return found


def export(args: argparse.Namespace) -> None:
    """Each run's EMA weights: fp16 into the bundle dir, fp32 + training record to export/."""
    for model, source, record in export_sources(args):
        config = source.config
        if model is SRDIFF:  # the encoder's weights are in the state dict: no path needed
            config = replace(config, model=replace(config.model, encoder_checkpoint=""))
        if model is not RRDB:
            config = bundle_config(config, model.name)
        network = build_model(config.model)
        network.load_state_dict(source.model.state_dict())
        pipe = YodaPipeline(network, config)
        target = args.out / "export" / f"{model.name}-fp32"
        pipe.save_pretrained(target)
        (target / "training.json").write_text(json.dumps(record, indent=1))
        if model is not RRDB:
            pipe.save_pretrained(args.bundle_dir / model.name, dtype=torch.float16)
        print(f"exported {model.name} (step {record['steps']})", flush=True)


def sampler_label(pipe: YodaPipeline, steps: int) -> str:
    """The sampler the evaluation uses: DDIM-``steps``, or ResShift's own chain (its T)."""
    if pipe.config.diffusion.process == "resshift":
        return f"ResShift's {pipe.config.sampling.steps}-step chain"
    return f"DDIM-{steps}"


def upscale_all(pipe: YodaPipeline | None, lrs: list[torch.Tensor], steps: int) -> list:
    """SR images of ``lrs`` (bicubic when ``pipe`` is None), seed 0: DDIM-``steps``, or for
    ResShift its whole chain (it samples only that)."""
    images = []
    for lr in lrs:
        if pipe is None:
            images.append((bicubic_up(lr, SCALE)[0] + 1) / 2)
            continue
        generator = torch.Generator().manual_seed(0)
        if pipe.config.diffusion.process == "resshift":
            out = pipe(lr, generator=generator)
        else:
            out = pipe(lr, sampler="ddim", num_inference_steps=steps, generator=generator)
        images.append(out.images[0].cpu())
    return images


def scores(images: list[torch.Tensor], hrs: list[torch.Tensor], seconds: float) -> dict:
    """Mean metrics over the crops (crop border = scale) and seconds per image."""
    rows = [evaluate_pair(sr, hr, crop_border=SCALE) for sr, hr in zip(images, hrs, strict=True)]
    mean = {key: sum(row[key] for row in rows) / len(rows) for key in METRICS}
    return {**mean, "seconds_per_image": seconds / len(rows)}


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Score bicubic, the RRDB, and each bundled model in fp16 and fp32; write the cards."""
    data = prepare_photos(args.photos, args.data or args.out / "data", TILE, VAL_SIZE, PER_PHOTO)
    crops = list_images(data / "val_crops")
    hrs = [load_image(path) for path in crops]
    lrs = [quantize(imresize(hr, scale=1 / SCALE))[None] for hr in hrs]
    export_dir = args.out / "export"
    results: dict[str, Any] = {}

    def score(key: str, pipe: YodaPipeline | None) -> list[torch.Tensor]:
        started = time.perf_counter()
        images = upscale_all(pipe, lrs, args.sample_steps)
        results[key] = scores(images, hrs, time.perf_counter() - started)
        print(f"{key}: " + ", ".join(f"{k} {v:.4f}" for k, v in results[key].items()), flush=True)
        return images

    score("bicubic", None)
    if SRDIFF in selected(args):
        score(RRDB.name, YodaPipeline.from_pretrained(export_dir / f"{RRDB.name}-fp32"))
    for model in selected(args):
        fp16 = score(model.name, YodaPipeline.from_pretrained(args.bundle_dir / model.name))
        fp32 = score(
            f"{model.name}-fp32", YodaPipeline.from_pretrained(export_dir / f"{model.name}-fp32")
        )
        gap = max(float((a - b).abs().max()) for a, b in zip(fp16, fp32, strict=True))
        results[model.name]["fp16_vs_fp32_max_abs"] = gap
    protocol = {
        "crops": [path.name for path in crops],
        "crop_px": hrs[0].shape[-1],
        "sample_steps": args.sample_steps,
        "device": device_name(),
    }
    (args.out / "evaluation.json").write_text(
        json.dumps({"protocol": protocol, "results": results}, indent=1)
    )
    for model in selected(args):
        card = model_card(model, results, protocol, args)
        (args.bundle_dir / model.name / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    return results


def sources(photos: Path) -> list[list[str]]:
    """(file, source, licence) of the train and val photos, from the photos' SOURCES.tsv."""
    table = photos / "SOURCES.tsv"
    if not table.is_file():
        return []
    rows = [line.split("\t") for line in table.read_text().splitlines() if line.strip()]
    return [row for row in rows if row[0].startswith(("train/", "val/"))]


def wall_time(record: dict[str, Any]) -> str:
    """A training record's time, in words."""
    if record.get("seconds") is None:
        return "training time not recorded"
    if record.get("study"):  # from the steps/s of its segments, start-up not counted
        seconds = record["seconds"]
        amount = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"
        return f"about {amount} of training (from the study's steps/s)"
    return f"{record['seconds'] / 60:.1f} min of wall time"


def machine(record: dict[str, Any]) -> str:
    """A training record's device, in words (a study's older speeds did not name it)."""
    return record["device"].replace("not recorded", "a machine not recorded")


def importance_colour_summary(name: str, lower_bound: float) -> dict[str, Any] | None:
    """The saved summary of ``benchmarks/importance_colour.py`` for ``name`` at ``lower_bound``."""
    path = HERE / "results" / f"importance_colour_{name}_l{lower_bound:g}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def behind_bicubic(summary: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(set, ["PSNR-Y ours vs bicubic", ...]) for each set of an importance_colour summary
    where the model at its defaults (absolute importance, wavelet fix) has a lower mean PSNR-Y
    or SSIM-Y than bicubic at the precision the card prints (2 and 4 decimals): a difference
    it would print as equal is no loss."""
    found = []
    for set_name in dict.fromkeys(c["set"] for c in summary["crops"]):
        crops = [c for c in summary["crops"] if c["set"] == set_name]
        ours = [c["absolute"]["fixes"]["wavelet"] for c in crops if "absolute" in c]
        if len(ours) < len(crops):
            continue
        losses = []
        for key, label, digits in (("psnr_y", "PSNR-Y", 2), ("ssim_y", "SSIM-Y", 4)):
            mine = round(sum(r[key] for r in ours) / len(ours), digits)
            theirs = round(sum(c["bicubic"][key] for c in crops) / len(crops), digits)
            if mine < theirs:
                losses.append(f"{label} {mine:.{digits}f} vs {theirs:.{digits}f}")
        if losses:
            found.append((set_name, losses))
    return found


def importance_colour_section(name: str, lower_bound: float) -> list[str]:
    """The card's section on importance normalisation and the colour fix: means over the val
    and flat crops of ``benchmarks/importance_colour.py`` (its saved summary for ``name`` at
    ``lower_bound``), bicubic against the model with 0.1's defaults and with its own."""
    summary = importance_colour_summary(name, lower_bound)
    if summary is None:
        return []
    rows = [
        ("bicubic", None, None),
        ("per-image importance, no colour fix (0.1's defaults)", "per_image", "none"),
        ("absolute importance, no colour fix", "absolute", "none"),
        ("**absolute importance, wavelet colour fix (the defaults)**", "absolute", "wavelet"),
    ]
    lines = [
        "## Importance and colour",
        "",
        "Means over each set's crops (val: the 8 centre crops; flat: 8 crops of sky, walls; "
        "mean LR gradient under 3 grey levels per pixel) of `benchmarks/importance_colour.py`, "
        f"{summary['sampling']['sampler'].upper()}-{summary['sampling']['steps']}, lower bound "
        f"{summary['sampling']['lower_bound']}, seed 0. Share: diffused share of pixel-steps; "
        "offset: norm of the mean RGB difference to HR, of 255 (worst crop in brackets).",
        "",
        "| set | method | share | offset | PSNR-Y | SSIM-Y | PSNR-RGB |",
        "|---|---|---|---|---|---|---|",
    ]
    behind = [f"{set_name} ({', '.join(losses)})" for set_name, losses in behind_bicubic(summary)]
    for set_name in dict.fromkeys(c["set"] for c in summary["crops"]):
        crops = [c for c in summary["crops"] if c["set"] == set_name]
        for label, norm, fix in rows:
            if norm is not None and not all(norm in c for c in crops):
                continue
            scored = [c["bicubic"] if norm is None else c[norm]["fixes"][fix] for c in crops]
            share = (
                "-" if norm is None else f"{sum(c[norm]['share'] for c in crops) / len(crops):.2f}"
            )
            mean = {k: sum(r[k] for r in scored) / len(scored) for k in scored[0]}
            worst = max(r["offset"] for r in scored)
            lines.append(
                f"| {set_name} | {label} | {share} | {mean['offset']:.2f} ({worst:.2f}) | "
                f"{mean['psnr_y']:.2f} | {mean['ssim_y']:.4f} | {mean['psnr_rgb']:.2f} |"
            )
    verdict = (
        "At the defaults it is behind bicubic on: " + "; ".join(behind) + "."
        if behind
        else "At the defaults it is ahead of bicubic on PSNR-Y and SSIM-Y on every set above."
    )
    return lines + [
        "",
        f"Sets: {', '.join(dict.fromkeys(c['set'] for c in summary['crops']))} "
        "(`benchmarks/eval_crops.py`: dark = val crops darkened, noisy = LR with Gaussian noise "
        f"of 5 grey levels, large = one 512 x 384 window). {verdict}",
        "",
        "The bundled models were trained with l = 0.3; since yoda-sr 0.2 srdiff-yoda-x4 "
        "samples with l = 0, which with absolute importance beat l = 0.3 and 0.1 on the val "
        "and flat crops alike (docs/RESULTS.md, section 5, every crop and the other sets), and "
        "so does resshift-yoda-x4 (its run at l = 0.3: "
        "benchmarks/results/importance_colour_resshift-yoda-x4_l0.3.md). Absolute importance "
        "has a floor of one grey level per LR pixel "
        "(`attention.detail_floor`), so the 8-bit rounding steps of a flat region are not "
        "diffused (`benchmarks/importance_floor.py`); the table above was measured with a floor "
        f"of {summary['sampling'].get('detail_floor', 0.0) * 255:g}/255. The summary line at "
        "the top was measured with "
        "the defaults of the model's export (yoda-sr 0.1: per-image importance, no colour fix, "
        "l = 0.3) unless the export was made since.",
        "",
    ]


def heldout_sentence(model: Model) -> str:
    """Where ``model`` is behind bicubic on the held-out photos (``benchmarks/resshift_seeds.py``'s
    record, which scores the ResShift seeds and the bundled models named there), or "" when
    the record does not score it."""
    path = HERE / "results" / "resshift_seeds_heldout.json"
    if not path.is_file():
        return ""
    scores = json.loads(path.read_text())["scores"]
    label = model.name
    lead = "On 14 photos no run had seen it is"
    if model is RESSHIFT:
        label = "seed " + STUDY_RUNS[RESSHIFT.name].rsplit("_s", 1)[1]
        lead = "Chosen out of three seeds on 14 photos no run had seen, where it is"
    if label not in scores:
        return ""
    ours, bicubic = scores[label], scores["bicubic"]
    behind = [
        f"{name} (PSNR-Y {ours[name]['psnr_y']:.2f} vs {bicubic[name]['psnr_y']:.2f})"
        for name in ours
        if round(ours[name]["psnr_y"], 2) < round(bicubic[name]["psnr_y"], 2)
    ]
    where = f"behind bicubic on {', '.join(behind)}" if behind else "not behind bicubic"
    return f" {lead} {where} (`{path.relative_to(HERE.parent)}`, docs/RESULTS.md)."


def model_card(
    model: Model, results: dict[str, Any], protocol: dict[str, Any], args: argparse.Namespace
) -> str:
    """MODEL_CARD.md of bundled ``model``: summary, use, numbers, training, data, config."""
    source_dir = args.out / "export" / f"{model.name}-fp32"
    record = json.loads((source_dir / "training.json").read_text())
    opts = record["options"]
    study = record.get("study")
    pipe = YodaPipeline.from_pretrained(args.bundle_dir / model.name)
    config = pipe.config
    params = sum(p.numel() for p in pipe.model.parameters())
    size = sum(p.stat().st_size for p in (args.bundle_dir / model.name).rglob("*.safetensors"))
    ours, bicubic = results[model.name], results["bicubic"]
    fp32 = results[f"{model.name}-fp32"]
    behind = [
        label
        for key, label in (("psnr_y", "PSNR-Y"), ("ssim_y", "SSIM-Y"))
        if ours[key] <= bicubic[key]
    ]
    verdict = (
        f"does not beat bicubic on {' and '.join(behind)}"
        if behind
        else "beats bicubic on PSNR-Y and SSIM-Y"
    ) + (
        f" (PSNR-Y {ours['psnr_y'] - bicubic['psnr_y']:+.2f} dB, SSIM-Y "
        f"{ours['ssim_y'] - bicubic['ssim_y']:+.4f})"
    )
    summary = (
        f"{model.title}, x{SCALE}, tiny ({params / 1e6:.2f} M parameters, {size / 1e6:.1f} MB "
        f"fp16): PSNR-Y {ours['psnr_y']:.2f} dB / SSIM-Y {ours['ssim_y']:.4f} on the 8 shared "
        f"val crops vs bicubic {bicubic['psnr_y']:.2f} / {bicubic['ssim_y']:.4f}; {verdict}."
    )
    other = importance_colour_summary(model.name, config.yoda.lower_bound)
    elsewhere = [s for s, _ in behind_bicubic(other) if s != "val"] if other else []
    if elsewhere:
        summary += (
            f" Behind bicubic on the {', '.join(elsewhere)} crops (see Importance and colour)."
        )
    summary += heldout_sentence(model)
    rows = [("bicubic", bicubic)]
    stage1 = []
    if model is SRDIFF:
        rrdb_record = json.loads(
            (args.out / "export" / f"{RRDB.name}-fp32" / "training.json").read_text()
        )
        rows.append((f"RRDB stage 1 ({rrdb_record['steps']} steps)", results[RRDB.name]))
        stage1 = [
            f"- Stage-1 RRDB (`{rrdb_record['config']}`): {rrdb_record['steps']} steps at batch "
            f"{rrdb_record['options']['batch']} of {rrdb_record['options']['hr_size']} px, "
            f"{wall_time(rrdb_record)} on {machine(rrdb_record)}"
            + (f" (run `{rrdb_record['study']['run']}` of the study)." if study else ".")
        ]
    rows += [
        (f"**{model.name}** (bundled, fp16 weights)", ours),
        (f"{model.name}, fp32 source weights", fp32),
    ]
    table = [
        "| | PSNR-Y | SSIM-Y | PSNR-RGB | SSIM-RGB | ΔE76 | s/img |",
        "|---|---|---|---|---|---|---|",
    ]
    table += [
        f"| {name} | {r['psnr_y']:.2f} | {r['ssim_y']:.4f} | {r['psnr_rgb']:.2f} | "
        f"{r['ssim_rgb']:.4f} | {r['delta_e76']:.2f} | {r['seconds_per_image']:.2f} |"
        for name, r in rows
    ]
    photos = sources(args.photos)
    licences = sorted({row[2] for row in photos if len(row) > 2})
    if study:
        tiles = f"{study['tiles']} tiles of {study['tile_px']} px" + (
            f" (up to {study['per_photo']} per photo)" if study["per_photo"] else ""
        )
    else:
        data = args.data or args.out / "data"
        tiles = f"{len(list_images(data / 'train_tiles'))} tiles of {TILE} px (up to {PER_PHOTO} per photo)"
    options = " ".join(
        f"--{key.replace('_', '-')} {value}" for key, value in record["options"].items()
    )
    command = record.get("command") or (
        f"python benchmarks/train_default_models.py --train --export {options}\n"
        "python benchmarks/train_default_models.py --evaluate"
    )
    source = []
    if study:
        segments = ", ".join(str(step) for step in study["segments"]) or "not recorded"
        source = [
            f"- Source: run `{study['run']}` of the reproduction study (`benchmarks/reproduce.py"
            f" --preset {study['preset'] or '?'}`, see docs/RESULTS.md), EMA weights of its "
            f"checkpoint at step {record['steps']}; trained in resumed segments ending at steps "
            f"{segments}, learning rate {study['learning_rate']:g} ({study['lr_schedule']} "
            "schedule), so each segment's end is the same run stopped there."
        ]
    lines = [
        f"# {model.name}",
        "",
        summary,
        "",
        "## Use",
        "",
        "```bash",
        f"yoda-sr upscale photo.jpg --model {model.name} --out sr/",
        "```",
        "",
        f'`YodaPipeline.from_pretrained("{model.name}")` in Python. {sampling_defaults(config)} '
        "The weights are stored as fp16 and cast to float32 on load.",
        "",
        "## What it is",
        "",
        f"{describe(config)}. EMA weights (decay {config.train.ema_decay}). A small model trained "
        f"briefly ({record['steps']} steps), meant to make `yoda-sr upscale` work out of the "
        "box and to show YODA at work; not a reproduction of the paper's numbers (see "
        "docs/RESULTS.md).",
        "",
        "## Numbers",
        "",
        *table,
        "",
        f"Protocol (as `benchmarks/reproduce.py`): the {len(protocol['crops'])} centre crops of "
        f"{protocol.get('crop_px', VAL_SIZE)} px of the shared val photos ({', '.join(protocol['crops'])}); LR = "
        f"MATLAB-style bicubic down x{SCALE}, quantised to 8 bits; PSNR/SSIM with a crop border "
        f"of {SCALE}, Y = BT.601 luma; ΔE76 = CIELAB distance of the mean colours; "
        f"{sampler_label(pipe, protocol['sample_steps'])}, lower bound "
        f"{config.yoda.lower_bound}, seed 0; evaluated on {protocol['device']}.",
        "",
        f"fp16 vs fp32 weights: the largest pixel difference between the two models' outputs "
        f"is {ours['fp16_vs_fp32_max_abs']:.2e} (of 1); PSNR-Y differs by "
        f"{ours['psnr_y'] - fp32['psnr_y']:+.4f} dB, SSIM-Y by "
        f"{ours['ssim_y'] - fp32['ssim_y']:+.5f}.",
        "",
        *importance_colour_section(model.name, config.yoda.lower_bound),
        "## Training",
        "",
        f"- {record['steps']} steps at batch {opts['batch']} of {opts['hr_size']} px HR "
        f"patches (random crops with flips), seed {opts['seed']}, config `{record['config']}` "
        f"(below); {wall_time(record)} on {machine(record)}.",
        *source,
        *stage1,
        f"- Data: the train photos of the project's shared set (`../shared/data/fetch_photos.sh`;"
        f" {len([r for r in photos if r[0].startswith('train/')])} photos) cut into {tiles}; "
        "the val photos were not trained on.",
        "",
        "## Reproduce",
        "",
        "```bash",
        "bash ../shared/data/fetch_photos.sh benchmarks/data/photos",
        command,
        "```",
        "",
        "## Data and licences",
        "",
        "The weights were trained on these photos (not shipped with the package); their "
        f"licences: {'; '.join(licences) if licences else 'SOURCES.tsv not found'}. Whether "
        "trained weights are a derivative work of their training images is not settled; "
        "check the licences below before redistributing.",
        "",
        "| file | source | licence |",
        "|---|---|---|",
        *(f"| {' | '.join(row[:3])} |" for row in photos),
        "",
        *config_section(config),
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", action="store_true", help="train (or train on) the runs")
    parser.add_argument("--export", action="store_true", help="write the bundled folders")
    parser.add_argument("--evaluate", action="store_true", help="score them, write the cards")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--minutes", type=float, default=6.0, help="training wall time in all")
    parser.add_argument("--steps", type=int, default=1_000_000, help="at most this many per run")
    parser.add_argument("--jobs", type=int, choices=(1, 2), default=1, help="training processes")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hr-size", type=int, default=96)
    parser.add_argument("--num-workers", type=int, default=4, help="data loader workers per run")
    parser.add_argument("--chunk", type=int, default=300, help="steps of the first chunk")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-steps", type=int, default=50, help="DDIM steps (evaluation)")
    parser.add_argument("--photos", type=Path, default=HERE / "data" / "photos")
    parser.add_argument(
        "--data", type=Path, default=None, help="cut tiles/crops (default OUT/data; made if absent)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "out" / "default_models")
    parser.add_argument(
        "--from-study",
        type=Path,
        default=None,
        help="--export the runs of this benchmarks/reproduce.py study folder instead",
    )
    parser.add_argument(
        "--study-step", type=int, default=None, help="the study's checkpoint step to export"
    )
    parser.add_argument(
        "--study-records",
        type=Path,
        default=HERE / "results" / "reproduce_cpu",
        help="the study's --records folder (its speeds.json gives the training times)",
    )
    parser.add_argument(
        "--bundle-dir", type=Path, default=ROOT / "src" / "yoda_sr" / "bundled_models"
    )
    parser.add_argument(
        "--models",
        default=None,
        help="comma-separated bundled models to export/evaluate (default: all with "
        f"--from-study, else all but {RESSHIFT.name}, which --train does not train)",
    )
    args = parser.parse_args(argv)
    if not (args.train or args.export or args.evaluate):
        args.train = args.export = args.evaluate = True
    if args.from_study is not None and (args.train or args.study_step is None):
        parser.error("--from-study needs --study-step N, and replaces --train (name --export)")
    if args.models is None:
        chosen = BUNDLED if args.from_study is not None else (SRDIFF, SR3)
        args.models = ",".join(m.name for m in chosen)
    unknown = set(args.models.split(",")) - {m.name for m in BUNDLED}
    if unknown:
        parser.error(f"--models: unknown {', '.join(sorted(unknown))}")
    if args.export and args.from_study is None and RESSHIFT.name in args.models.split(","):
        parser.error(f"--export of {RESSHIFT.name} needs --from-study (--train does not train it)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.device == "cpu":
        os.environ["ACCELERATE_USE_CPU"] = "true"  # the Trainer's accelerator, and its workers'
    elif args.device == "cuda":
        resolve_device("cuda")  # a clear error when there is no GPU
    started = time.perf_counter()
    if args.train:
        train(args)
    if args.export:
        export(args)
    if args.evaluate:
        evaluate(args)
    print(f"done in {math.ceil(time.perf_counter() - started)} s", flush=True)


if __name__ == "__main__":
    main()
