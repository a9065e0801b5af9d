"""Issue 21's study: YODA on restoration presets and real-world 4x SR, resumable.

For each preset (``--presets``, default denoise-sigma25, deblur-gaussian, jpeg-q20; ``x4-real``
is the real-world SR one) on the shared photos (training: the study's 192 px tiles of
``train/``, degraded on the fly by the preset; evaluation: the preset's evaluation set of
``val/`` centre crops, made once, seed 0):

- ``rrdb``: the stage-1 RRDB at the preset's scale (``rrdb_tiny_x1``, or ``rrdb_tiny`` at 4x),
  the one-pass estimate;
- per seed, SRDiff (``srdiff_tiny_x1`` / ``srdiff_tiny``, frozen ``rrdb`` encoder) three ways,
  equal data, steps and seed: ``plain`` (no YODA, residual around the degraded input, or its
  bicubic upscale, as SRDiff's), ``yoda_input`` (YODA anchored there, importance on the
  input) and ``yoda_refine`` (YODA anchored on the RRDB estimate, importance on the estimate:
  "predict and refine");
- with ``--stage1 rrdb_gr``: the same with a stage 1 that learns the residual over its input
  (``model.global_residual``: output = input, or its bicubic upscale, + net; DnCNN's residual
  learning), ``rrdb_gr`` and ``{variant}_gr_s{seed}`` (SRDiff on that encoder): a stronger
  one-pass estimate at the same budget, to judge predict-and-refine by an anchor that is not
  worse than the input (``--variants`` picks which SRDiff variants run);
- beside them the degraded input (bicubic for SR presets) and the classical baselines of
  ``yoda_sr.evaluation.restoration`` (scikit-image); for SR presets also Real-ESRGAN x4plus
  (``--realesrgan``: the real public weights, ``bash ../shared/tools/get_realesrgan.sh DIR``
  writes them; GAN-trained on this degradation model) and the bundled ``srdiff-yoda-x4``
  (trained on MATLAB-bicubic LR only: what a bicubic-trained model does with such inputs).

Outputs are scored as they come (seed-0 noise, DDIM with the config's steps, no colour fix):
PSNR/SSIM on RGB and Y (crop border = the scale), PIQE, seconds per image. Every evaluation is a JSON
under ``--records`` (default ``benchmarks/results/restoration``), reused by a rerun; the table
is written to ``benchmarks/results/restoration_study.md``. Training runs live under ``--out``.

    bash ../shared/data/fetch_photos.sh benchmarks/data/photos
    OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/restoration_study.py
    bash ../shared/tools/get_realesrgan.sh benchmarks/out/realesrgan
    OMP_NUM_THREADS=1 ... python benchmarks/restoration_study.py --presets x4-real --seeds 0
    OMP_NUM_THREADS=1 ... python benchmarks/restoration_study.py --presets jpeg-q20 --seeds 0 \
        --stage1 rrdb_gr --variants yoda_refine
    python benchmarks/restoration_study.py --preset smoke --out /tmp/r --records /tmp/r/rec
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from yoda_sr.checkpoints import list_checkpoints
from yoda_sr.config import ExperimentConfig
from yoda_sr.degradations import DegradationConfig, make_eval_set
from yoda_sr.degradations.evalset import EVALSET_FILE, read_eval_set
from yoda_sr.evaluation.restoration import evaluate_baselines
from yoda_sr.metrics import evaluate_pair
from yoda_sr.metrics.no_reference import piqe
from yoda_sr.models.rrdb_files import load_rrdb
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.training.trainer import Trainer

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from train_compare import prepare_photos  # noqa: E402

# The SRDiff variants: (name, YODA on, residual base, importance input).
VARIANTS = (
    ("plain", False, "bicubic", "lr"),
    ("yoda_input", True, "bicubic", "lr"),
    ("yoda_refine", True, "encoder", "estimate"),
)
# Stage-1 RRDBs: run-name suffix and whether the net learns the residual over its input.
STAGE1 = {"rrdb": "", "rrdb_gr": "_gr"}
METRICS = (("psnr_rgb", 2), ("ssim_rgb", 4), ("psnr_y", 2), ("ssim_y", 4), ("piqe", 1))
# The bundled model scored on SR presets (trained on bicubic LR).
BUNDLED = "srdiff-yoda-x4"


@dataclass(frozen=True)
class Preset:
    """Sizes of one study: training steps and patch size, seeds, evaluation crops."""

    steps: int = 800
    batch: int = 8
    hr_size: int = 64
    seeds: tuple[int, ...] = (0, 1, 2)
    eval_limit: int = 8
    eval_crop: int = 192
    tile: int = 192
    per_photo: int = 24


PRESETS = {
    "cpu": Preset(),
    # Checks the script in seconds, not the claims.
    "smoke": Preset(steps=2, batch=2, hr_size=32, seeds=(0,), eval_limit=1, eval_crop=64),
}


def train(config: ExperimentConfig, run_dir: Path) -> None:
    """Train (or resume) ``run_dir`` to ``config.train.steps`` unless already there."""
    existing = list_checkpoints(run_dir)
    if existing and existing[-1].step >= config.train.steps:
        return
    Trainer(config, run_dir, resume=bool(existing)).train(progress=False)


def overrides(p: Preset, preset: str, tiles: Path, seed: int) -> list[str]:
    """Settings every run of ``preset`` shares."""
    return [
        f"data.train_dir={tiles}",
        "data.val_dir=",
        f"data.hr_size={p.hr_size}",
        f"degradation.preset={preset}",
        f"train.steps={p.steps}",
        f"train.batch_size={p.batch}",
        f"train.checkpoint_every={p.steps}",
        "train.validate_every=1000000",
        "train.sample_every=1000000",
        f"train.seed={seed}",
    ]


def evaluate(restore: Callable[[torch.Tensor], torch.Tensor], set_dir: Path) -> dict[str, Any]:
    """Per-image scores of ``restore`` ((1, 3, h, w) -> (1, 3, H, W), in [0, 1]) on the
    evaluation set ``set_dir`` (crop border = its scale) and the seconds it took."""
    record, images = read_eval_set(set_dir)
    rows = []
    started = time.perf_counter()
    for name, degraded, hr in images:
        with torch.no_grad():
            sr = restore(degraded[None])[0].cpu().clamp(0, 1)
        scores = evaluate_pair(sr, hr, crop_border=record["scale"])
        rows.append({"image": name, **scores, "piqe": piqe(sr)})
    return {"rows": rows, "seconds": time.perf_counter() - started}


def sampled(pipe: YodaPipeline) -> Callable[[torch.Tensor], torch.Tensor]:
    """The pipeline's output with seed-0 noise and no colour fix."""
    return lambda lr: pipe(lr, generator=torch.Generator().manual_seed(0), color_fix="none").images


def means(record: dict[str, Any]) -> dict[str, float]:
    return {key: statistics.mean(row[key] for row in record["rows"]) for key, _ in METRICS} | {
        "seconds": record["seconds"] / len(record["rows"])
    }


def cell(values: list[float], digits: int) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def table(preset: str, records: Path, baselines: dict[str, dict[str, float]], p: Preset) -> str:
    """Markdown rows of one preset: input and classical baselines, RRDB, the SRDiff variants."""
    lines = [
        f"### {preset}",
        "",
        "| method | n | PSNR | SSIM | PSNR-Y | SSIM-Y | PIQE | s / image |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows: list[tuple[str, list[dict[str, float]]]] = [
        (name, [values]) for name, values in baselines.items()
    ]
    references = [("Real-ESRGAN x4plus", "realesrgan"), (f"{BUNDLED} (bicubic-trained)", BUNDLED)]
    stage1 = [("RRDB (one pass)", "rrdb"), ("RRDB + global residual (one pass)", "rrdb_gr")]
    srdiff = [(f"SRDiff {name}", f"{name}_s{{seed}}") for name, *_ in VARIANTS] + [
        (f"SRDiff {name}, global-residual stage 1", f"{name}_gr_s{{seed}}") for name, *_ in VARIANTS
    ]
    for label, pattern in [*references, *stage1, *srdiff]:
        found = []
        for seed in p.seeds:
            path = records / preset / f"{pattern.format(seed=seed)}.json"
            if path.is_file():
                found.append(means(json.loads(path.read_text())))
            if "{seed}" not in pattern:
                break
        if found or pattern in ("rrdb", *(f"{n}_s{{seed}}" for n, *_ in VARIANTS)):
            rows.append((label, found))
    for label, found in rows:
        cells = [cell([m[k] for m in found], d) for k, d in METRICS]
        seconds = cell([m["seconds"] for m in found], 2)
        lines.append(f"| {label} | {len(found)} | " + " | ".join(cells) + f" | {seconds} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--presets", default="denoise-sigma25,deblur-gaussian,jpeg-q20")
    parser.add_argument("--photos", type=Path, default=HERE / "data" / "photos")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "restoration")
    parser.add_argument("--records", type=Path, default=HERE / "results" / "restoration")
    parser.add_argument("--max-minutes", type=float, default=float("inf"))
    parser.add_argument("--seeds", help="comma-separated: only these of the preset's seeds now")
    parser.add_argument("--stage1", default="rrdb", help=f"comma-separated of {sorted(STAGE1)}")
    parser.add_argument(
        "--variants",
        default=",".join(name for name, *_ in VARIANTS),
        help="comma-separated SRDiff variants to run",
    )
    parser.add_argument(
        "--realesrgan",
        type=Path,
        default=HERE / "out" / "realesrgan" / "RealESRGAN_x4plus.pth",
        help="Real-ESRGAN x4plus weights, scored on 4x presets where the file exists",
    )
    args = parser.parse_args()
    p = PRESETS[args.preset]
    run_seeds = p.seeds if args.seeds is None else tuple(int(s) for s in args.seeds.split(","))
    deadline = time.monotonic() + 60 * args.max_minutes
    work = prepare_photos(args.photos, args.out / "data", p.tile, p.eval_crop, p.per_photo)
    sections = []
    for preset in args.presets.split(","):
        set_dir = args.out / "sets" / preset
        if not (set_dir / EVALSET_FILE).is_file():
            make_eval_set(
                args.photos / "val",
                set_dir,
                DegradationConfig(preset),
                limit=p.eval_limit,
                crop=p.eval_crop,
            )
        records = args.records / preset
        records.mkdir(parents=True, exist_ok=True)
        baselines_path = records / "baselines.json"
        if not baselines_path.is_file():
            baselines_path.write_text(json.dumps(evaluate_baselines(set_dir)["means"], indent=1))
        baselines = json.loads(baselines_path.read_text())
        scale = DegradationConfig(preset).scale(1)
        rrdb_config, srdiff_config = ("rrdb_tiny_x1", "srdiff_tiny_x1")
        if scale == 4:
            rrdb_config, srdiff_config = ("rrdb_tiny", "srdiff_tiny")
            if args.realesrgan.is_file() and not (records / "realesrgan.json").is_file():
                network = load_rrdb(args.realesrgan).eval()
                (records / "realesrgan.json").write_text(
                    json.dumps(evaluate(network, set_dir), indent=1)
                )
            if not (records / f"{BUNDLED}.json").is_file():
                pipe = YodaPipeline.from_pretrained(BUNDLED)
                result = evaluate(sampled(pipe), set_dir)
                (records / f"{BUNDLED}.json").write_text(json.dumps(result, indent=1))
        elif scale != 1:
            parser.error(f"{preset}: scale {scale}; the study has configs for 1 and 4")
        runs = args.out / "runs" / preset
        jobs: list[tuple[str, ExperimentConfig]] = []
        for stage1 in args.stage1.split(","):
            suffix, residual = STAGE1[stage1], str(bool(STAGE1[stage1])).lower()
            shared = overrides(p, preset, work / "train_tiles", p.seeds[0])
            jobs.append(
                (
                    stage1,
                    ExperimentConfig.load(
                        rrdb_config, [*shared, f"model.global_residual={residual}"]
                    ),
                )
            )
            for seed in run_seeds:
                for name, yoda, base, importance_input in VARIANTS:
                    if name not in args.variants.split(","):
                        continue
                    settings = overrides(p, preset, work / "train_tiles", seed) + [
                        f"yoda.enabled={str(yoda).lower()}",
                        f"model.residual_base={base}",
                        f"yoda.importance_input={importance_input}",
                        f"model.encoder_checkpoint={runs / stage1}",
                        f"model.rrdb.global_residual={residual}",
                    ]
                    jobs.append(
                        (f"{name}{suffix}_s{seed}", ExperimentConfig.load(srdiff_config, settings))
                    )
        for run, config in jobs:
            record = records / f"{run}.json"
            if record.is_file():
                continue
            if time.monotonic() > deadline:
                print(f"{preset}/{run}: left for later (--max-minutes)", flush=True)
                continue
            train(config, runs / run)
            result = evaluate(sampled(YodaPipeline.from_pretrained(runs / run)), set_dir)
            record.write_text(json.dumps(result, indent=1))
            print(f"{preset}/{run}: PSNR-Y {means(result)['psnr_y']:.2f}", flush=True)
        sections.append(table(preset, args.records, baselines, p))
    header = (
        f"Restoration study (`benchmarks/restoration_study.py --preset {args.preset}`): "
        "tiny SRDiff (`srdiff_tiny_x1` with a frozen `rrdb_tiny_x1` encoder at scale 1, "
        f"`srdiff_tiny` with `rrdb_tiny` for `x4-real`), {p.steps} "
        f"steps at batch {p.batch} of {p.hr_size} px patches degraded on the fly, seeds "
        f"{list(p.seeds)} (mean ± std over seeds where n > 1); evaluation: {p.eval_limit} val "
        f"centre crops of {p.eval_crop} px, DDIM with the config's steps, seed-0 noise, no "
        "colour fix, crop border = the scale. `plain`: no YODA; `yoda_input`: YODA anchored on "
        "the degraded input (bicubic at 4x); `yoda_refine`: anchored on the RRDB estimate, "
        "importance on it. `input` is the degraded input itself (bicubic at 4x). "
        "`global-residual stage 1`: the stage-1 RRDB learns the residual over its input "
        "(`model.global_residual`), and SRDiff uses it as encoder (and anchor in `yoda_refine`)."
    )
    target = args.records.parent / f"{args.records.name}_study.md"
    target.write_text(header + "\n\n" + "\n\n".join(sections) + "\n")
    print(target.read_text())


if __name__ == "__main__":
    main()
