"""``yoda-sr demo``: evaluate the bundled models, train tiny SR3 and SR3+YODA on CPU, evaluate
them, write ``report.html``.

Everything comes with the install: photos bundled with scikit-image, the weight-free ``detail``
importance source (no DINO download), and the tiny ``sr3_tiny`` config with fewer steps. The
bundled default models (when installed) upscale the held-out test crops first; then both quick
models get the same data, seed and step budget, the only difference being ``yoda.enabled``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from yoda_sr.config import ExperimentConfig
from yoda_sr.evaluation import report
from yoda_sr.evaluation.compare import (
    ComparisonResult,
    compare_results,
    protocol_section,
    report_sections,
)
from yoda_sr.evaluation.demo_data import TEST_PHOTO, TRAIN_PHOTOS, write_demo_images
from yoda_sr.evaluation.evaluate import SAMPLES_DIR, EvaluationResult, evaluate_run
from yoda_sr.metrics import LpipsMetric
from yoda_sr.pipeline.bundled import CARD_NAME, BundledModel, describe_names, list_bundled
from yoda_sr.training.trainer import Trainer

BASE_CONFIG = "sr3_tiny"
SCALE = 4
# Sub-paths of the output folder the demo writes (and removes with ``overwrite``).
OUTPUTS = ("data", "bundled", "runs", "eval", "compare", "cache", "report.html")
# (run folder name, label, yoda.enabled)
MODELS = (("sr3", "SR3", False), ("sr3_yoda", "SR3+YODA", True))

FULL_SCALE_COMMANDS = """\
# Faces 16 -> 128 (SR3 + YODA with DINO ViT-S/8 attention; weights from the Hugging Face hub):
yoda-sr train --config sr3_face_16_128 --set data.train_dir=/data/ffhq \\
    --set data.val_dir=/data/celebahq_val --output-dir runs/sr3_yoda_face
# Several GPUs:
accelerate launch -m yoda_sr.cli.main train --config sr3_face_16_128 \\
    --set data.train_dir=/data/ffhq --output-dir runs/sr3_yoda_face
# The same without YODA, for the comparison:
yoda-sr train --config sr3_face_16_128 --set yoda.enabled=false \\
    --set data.train_dir=/data/ffhq --output-dir runs/sr3_face

# DIV2K x4, SRDiff + YODA (stage 1: RRDB encoder, stage 2: residual diffusion):
yoda-sr train --config rrdb_div2k_x4 --set data.train_dir=/data/DIV2K_train_HR \\
    --output-dir runs/rrdb
yoda-sr train --config srdiff_div2k_x4 --set model.encoder_checkpoint=runs/rrdb \\
    --set data.train_dir=/data/DIV2K_train_HR --output-dir runs/srdiff_yoda

# Evaluate (LR made by MATLAB bicubic from the HR images) and compare:
yoda-sr evaluate --model runs/srdiff_yoda --data /data/DIV2K_valid_HR --scale 4 \\
    --out results/srdiff_yoda
yoda-sr evaluate --model runs/srdiff_yoda --data /data/DIV2K_valid_HR --scale 4 --no-yoda \\
    --out results/srdiff_no_yoda
yoda-sr compare results/srdiff_yoda results/srdiff_no_yoda --out results/compare
"""


@dataclass
class DemoSettings:
    """Size of the demo. The defaults fit a few minutes on two CPU cores.

    Args:
        train_steps: optimisation steps per model (both models get the same).
        batch_size, patch_size, learning_rate: training batch, HR patch side, AdamW rate.
        sample_steps: DDIM steps when upscaling the test crops.
        num_test_crops, test_crop_size: held-out crops of the cat photo (HR side in px).
        tile_size, tiles_per_photo: training tiles cut from each training photo.
        overrides: extra ``key=value`` config overrides applied to both models.
        seed: training seed (same for both models) and sampling seed.
        bundled_steps: sampling steps of the bundled models (None: each model's default).
    """

    train_steps: int = 160
    batch_size: int = 8
    patch_size: int = 48
    learning_rate: float = 1e-3
    sample_steps: int = 20
    num_test_crops: int = 4
    test_crop_size: int = 96
    tile_size: int = 128
    tiles_per_photo: int = 16
    overrides: tuple[str, ...] = ()
    seed: int = 0
    bundled_steps: int | None = None

    @classmethod
    def fast(cls) -> DemoSettings:
        """Seconds-long smoke version (a smaller UNet and T = 100; outputs are noise)."""
        return cls(
            train_steps=4,
            batch_size=2,
            patch_size=32,
            sample_steps=3,
            num_test_crops=2,
            test_crop_size=48,
            tile_size=64,
            tiles_per_photo=2,
            bundled_steps=3,
            overrides=(
                "model.block_out_channels=[16, 32]",
                "diffusion.num_train_timesteps=100",
                "diffusion.beta_start=1.0e-4",
                "diffusion.beta_end=2.0e-2",
            ),
        )

    def config_overrides(self, train_dir: Path, cache_dir: Path, yoda: bool) -> list[str]:
        steps = self.train_steps
        return [
            *self.overrides,
            f"yoda.enabled={str(yoda).lower()}",
            f"data.train_dir={train_dir}",
            f"data.cache_dir={cache_dir}",
            f"data.hr_size={self.patch_size}",
            f"train.steps={steps}",
            f"train.batch_size={self.batch_size}",
            # Fixed-point: YAML 1.1 reads "1e-05" (no dot) as a string.
            f"train.learning_rate={self.learning_rate}",
            f"train.seed={self.seed}",
            f"train.log_every={max(1, steps // 10)}",
            f"train.checkpoint_every={steps}",
            "train.keep_last=1",
            f"train.validate_every={steps}",
            f"train.sample_every={steps}",
            f"sampling.steps={self.sample_steps}",
        ]


@dataclass
class DemoResult:
    """``timings``: seconds per stage; ``wall_seconds``: the whole demo; ``bundled``: the
    bundled models against bicubic (None when none ran); ``comparison``: the quick models
    (None without training)."""

    out_dir: Path
    report: Path
    wall_seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    evaluations: dict[str, EvaluationResult] = field(default_factory=dict)
    comparison: ComparisonResult | None = None
    bundled: ComparisonResult | None = None


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    existing = [name for name in OUTPUTS if (out_dir / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{out_dir}: already holds demo output ({', '.join(existing)}); "
            "choose another --out or pass --overwrite"
        )
    for name in existing:
        path = out_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def run_demo(
    out_dir: str | Path = "yoda-demo",
    settings: DemoSettings | None = None,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    bundled: bool = True,
    train: bool = True,
) -> DemoResult:
    """Run the whole demo into ``out_dir`` and return where the report is: the installed
    bundled models first (unless not ``bundled``), then the quick training (unless not
    ``train``).

    Raises FileExistsError when ``out_dir`` already holds demo output and not ``overwrite``;
    ValueError when there is nothing to run (no training and no bundled model).
    """
    settings = settings or DemoSettings()
    models = list_bundled() if bundled else []
    if not models and not train:
        raise ValueError(
            "nothing to run: training is off and no bundled model is evaluated "
            f"({describe_names()})"
        )
    if bundled and not models:
        log(f"no bundled models installed ({describe_names()}); running the quick training only")
    out_dir = Path(out_dir)
    _prepare_out_dir(out_dir, overwrite)
    started = time.perf_counter()
    timings: dict[str, float] = {}

    clock = time.perf_counter()
    train_dir, test_dir = out_dir / "data" / "train", out_dir / "data" / "test"
    train_files, test_files = write_demo_images(
        train_dir,
        test_dir,
        tile_size=settings.tile_size,
        tiles_per_photo=settings.tiles_per_photo,
        test_size=settings.test_crop_size,
        num_test=settings.num_test_crops,
    )
    timings["data"] = time.perf_counter() - clock
    log(f"data: {len(train_files)} training tiles, {len(test_files)} held-out test crops")

    lpips_metric = LpipsMetric()
    result = DemoResult(out_dir, out_dir / "report.html", 0.0, timings)
    if models:
        result.bundled = _evaluate_bundled(
            models, test_dir, out_dir / "bundled", settings, lpips_metric, timings, progress, log
        )
    yoda_config = None
    if train:
        configs: dict[str, ExperimentConfig] = {}
        for run_name, label, yoda in MODELS:
            config = ExperimentConfig.load(
                BASE_CONFIG, settings.config_overrides(train_dir, out_dir / "cache", yoda)
            )
            configs[run_name] = config
            clock = time.perf_counter()
            log(f"training {label} for {settings.train_steps} steps ...")
            trained = Trainer(config, out_dir / "runs" / run_name).train(progress=progress)
            timings[f"train {label}"] = time.perf_counter() - clock
            log(
                f"  {label}: loss {trained.losses[-1]:.4f}, "
                f"{trained.steps_per_second:.2f} steps/s, {timings[f'train {label}']:.0f} s"
            )
            clock = time.perf_counter()
            result.evaluations[run_name] = evaluate_run(
                out_dir / "runs" / run_name,
                test_dir,
                out_dir / "eval" / run_name,
                scale=SCALE,
                label=label,
                seed=settings.seed,
                lpips_metric=lpips_metric,
                num_samples=settings.num_test_crops,
                progress=progress,
            )
            timings[f"evaluate {label}"] = time.perf_counter() - clock
            log(f"  evaluated {label} in {timings[f'evaluate {label}']:.0f} s")
        yoda_config = configs["sr3_yoda"]
        clock = time.perf_counter()
        result.comparison = compare_results(
            [out_dir / "eval" / name for name, _, _ in MODELS], out_dir / "compare"
        )
        timings["compare"] = time.perf_counter() - clock
    result.wall_seconds = time.perf_counter() - started
    parts = [*(["bundled models"] if models else []), *(["tiny SR3 vs SR3+YODA"] if train else [])]
    report.write_page(
        result.report,
        f"yoda-sr demo: {', then '.join(parts)}",
        _sections(out_dir, settings, models, result, yoda_config),
    )
    log(f"report: {result.report} (demo wall time {result.wall_seconds:.0f} s)")
    return result


def bundled_label(name: str) -> str:
    """The method label of a bundled model in the demo's tables."""
    return f"bundled model {name}"


def _evaluate_bundled(
    models: list[BundledModel],
    test_dir: Path,
    out_dir: Path,
    settings: DemoSettings,
    lpips_metric: LpipsMetric,
    timings: dict[str, float],
    progress: bool,
    log: Callable[[str], None],
) -> ComparisonResult:
    """Upscale the test crops with each bundled model (and bicubic), score them into
    ``out_dir/eval/<name>`` and compare them in ``out_dir/compare``."""
    folders = []
    for model in models:
        clock = time.perf_counter()
        log(f"upscaling the test crops with bundled model {model.name} ...")
        folders.append(out_dir / "eval" / model.name)
        evaluate_run(
            model.path,
            test_dir,
            folders[-1],
            scale=SCALE,
            label=bundled_label(model.name),
            steps=settings.bundled_steps,
            seed=settings.seed,
            lpips_metric=lpips_metric,
            num_samples=settings.num_test_crops,
            progress=progress,
        )
        seconds = timings[f"evaluate bundled {model.name}"] = time.perf_counter() - clock
        log(f"  evaluated bundled {model.name} in {seconds:.0f} s")
    return compare_results(folders, out_dir / "compare")


def _sections(
    out_dir: Path,
    settings: DemoSettings,
    models: list[BundledModel],
    result: DemoResult,
    yoda_config: ExperimentConfig | None,
) -> list[str]:
    """The demo page: the bundled models, the quick training, next steps, timings, protocol."""
    sections = []
    if result.bundled is not None:
        sections.append(_bundled_section(out_dir, settings, models, result.bundled))
    if result.comparison is not None and yoda_config is not None:
        sections.append(
            _training_section(
                out_dir, settings, yoda_config, result.comparison, result.wall_seconds
            )
        )
    shared = result.comparison or result.bundled
    assert shared is not None  # run_demo refuses to run neither part
    return [
        *sections,
        report.section(
            "Full scale",
            report.paragraph(
                "The paper's settings are bundled as configs; train on a GPU with real data:"
            ),
            report.code_block(FULL_SCALE_COMMANDS),
        ),
        report.section(
            "Time",
            report.table(
                ["stage", "seconds"],
                [[stage, f"{seconds:.1f}"] for stage, seconds in result.timings.items()]
                + [["total (wall)", f"{result.wall_seconds:.1f}"]],
            ),
        ),
        protocol_section(shared),
    ]


def _bundled_section(
    out_dir: Path,
    settings: DemoSettings,
    models: list[BundledModel],
    comparison: ComparisonResult,
) -> str:
    """The bundled models against bicubic on the test crops, each pointing to its card."""
    steps = (
        "each model's default sampler and steps"
        if settings.bundled_steps is None
        else f"each model's default sampler with {settings.bundled_steps} steps"
    )
    return report.section(
        "Bundled models",
        report.paragraph(
            "The default models shipped with yoda-sr (trained beforehand, not by this demo; "
            "their training data, budget and numbers are in their model cards) upscale "
            f"{settings.num_test_crops} {settings.test_crop_size} px crops of "
            f"{TEST_PHOTO.description} ({TEST_PHOTO.credit}, {TEST_PHOTO.licence}, bundled "
            f"with scikit-image); LR made by MATLAB bicubic, {steps}, seed {settings.seed}. "
            "The quick models below, when trained, are scored on the same crops."
        ),
        report.table(
            ["model", "model card"],
            [[f"{bundled_label(m.name)} (see its {CARD_NAME})", m.card_path] for m in models],
        ),
        *report_sections(comparison, out_dir, level=3),
    )


def _training_section(
    out_dir: Path,
    settings: DemoSettings,
    yoda_config: ExperimentConfig,
    comparison: ComparisonResult,
    wall: float,
) -> str:
    """The quick training: disclaimer, what ran, metrics, images, attention and masks."""
    model = yoda_config.model
    minutes = wall / 60.0
    disclaimer = (
        f"This is a demonstration, not the paper's results. Two tiny SR3 UNets (channels "
        f"{list(model.block_out_channels)}) were trained on the CPU for {settings.train_steps} "
        f"steps each (the whole demo took {minutes:.1f} minutes) on a few dozen photo tiles. "
        "Models this small and this briefly trained leave visible noise, and their numbers say "
        "nothing about SR3 or YODA at full scale; they show what the pipeline does and what "
        "the reports contain. Run the full-scale commands at the end for real results."
    )
    photos = [*TRAIN_PHOTOS, TEST_PHOTO]
    yoda_eval = out_dir / "eval" / "sr3_yoda" / SAMPLES_DIR
    attention_parts = [
        report.paragraph(
            f"YODA's importance map comes from the weight-free 'detail' source (local gradient "
            "energy of the bicubic-upsampled LR image). At step t a pixel with importance A is "
            f"diffused iff T (A + l) >= t (T = {yoda_config.diffusion.num_train_timesteps}, "
            f"lower bound l = {yoda_config.yoda.lower_bound}); the others stay on the noised "
            "bicubic image. Important pixels thus get the most steps. The strips show the "
            "masks M_t from t = T (left) to t = 1 (right) over the output: bright pixels are "
            "refined at that step, dimmed ones are not."
        )
    ]
    attention_parts.append(
        report.paragraph(
            "The active fraction in the table is the share of pixel updates YODA performs. "
            "Here the UNet still runs on the whole image at every step (inactive pixels are "
            "reset afterwards), so the seconds per image do not drop with it; the time on a "
            "shared CPU is noisy as well."
        )
    )
    for name in comparison.summaries[1].get("samples", []):
        attention_parts.append(report.section(name, level=4))
        for file, caption in (
            ("attention.png", f"{name}: importance over bicubic"),
            ("masks.png", f"{name}: masks over time"),
        ):
            if (yoda_eval / name / file).is_file():
                attention_parts.append(
                    report.figure(yoda_eval / name / file, caption, out_dir, zoom=2)
                )
    return report.section(
        "Quick training: tiny SR3 vs SR3+YODA",
        report.paragraph(disclaimer, css_class="note"),
        report.section(
            "What ran",
            report.paragraph(
                f"Base config {BASE_CONFIG} (x{SCALE}), HR patches {settings.patch_size} px, batch "
                f"{settings.batch_size}, learning rate {settings.learning_rate}, seed "
                f"{settings.seed}; identical for both models except yoda.enabled. Test: "
                f"{settings.num_test_crops} held-out {settings.test_crop_size} px crops of a "
                f"photo not used in training, LR made by MATLAB bicubic, DDIM "
                f"{settings.sample_steps} steps."
            ),
            report.paragraph(
                "Photos (bundled with scikit-image): "
                + "; ".join(f"{p.description} ({p.credit}, {p.licence})" for p in photos)
                + ". The last one is held out for testing."
            ),
            level=3,
        ),
        *report_sections(comparison, out_dir, level=3),
        report.section("Attention maps and masks over time", *attention_parts, level=3),
    )
