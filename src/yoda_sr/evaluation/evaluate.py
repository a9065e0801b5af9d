"""Evaluate a trained model on a folder of images under the SR field's protocol.

LR inputs are made from the HR images the benchmarks' way (mod-crop to the scale, MATLAB bicubic
downscaling, 8-bit quantisation), or read from a paired LR folder. Every image is upscaled by the
model and by bicubic interpolation (the reference row), scored with
:func:`yoda_sr.metrics.evaluate_pair` (crop border = scale), and the results folder gets:

- ``per_image.csv``: one row per (method, image);
- ``summary.json``: per-method means, timing, denoiser calls, and the full protocol;
- ``crops/<image>.png``: a before/after crop (bicubic | output | HR) for the first images;
- ``samples/<image>/``: ``lr.png``, ``bicubic.png``, ``output.png``, ``hr.png`` and, with YODA,
  ``importance.png`` (grey map), ``attention.png`` (heat map over bicubic) and ``masks.png``
  (the masks over time), which ``yoda-sr compare`` tiles into its grids;
- ``outputs/<image>.png``: every model output.

Launched on several processes (``torchrun``, ``accelerate launch``), process ``r`` of ``n``
takes the images ``i`` with ``i % n == r`` and writes their image files; the rows are gathered
and the main process writes the one ``per_image.csv`` and ``summary.json``, the same as one
process would (but for timings).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from yoda_sr.config import ExperimentConfig
from yoda_sr.data.datasets import PairedFolderDataset
from yoda_sr.degradations import DegradationConfig, degrade, sample_rng
from yoda_sr.distributed import Shard, shard_for
from yoda_sr.files import write_atomically, write_text_atomically
from yoda_sr.imaging import (
    ImageReadError,
    list_images,
    load_image,
    make_lr,
    mod_crop,
    output_folder,
    prepare_output_dir,
    save_image,
)
from yoda_sr.metrics import LPIPS_NET, LpipsMetric, evaluate_pair, protocol_description
from yoda_sr.models import bicubic_up
from yoda_sr.pipeline import SamplingOptions, YodaPipeline
from yoda_sr.viz import heatmap_overlay, image_grid, mask_strip

FORMAT = "yoda-sr-evaluation/1"
SUMMARY_FILE = "summary.json"
PER_IMAGE_FILE = "per_image.csv"
SAMPLES_DIR = "samples"
CROPS_DIR = "crops"
OUTPUTS_DIR = "outputs"
BICUBIC = "bicubic"
RESIZE_KERNEL = "MATLAB bicubic (Keys a=-0.5, antialiased)"
# Smallest width (px) of an image in the crop and comparison grids (enlarged, nearest).
GRID_TILE = 160
METRIC_KEYS = (
    "psnr_rgb",
    "ssim_rgb",
    "psnr_y",
    "ssim_y",
    "lpips",
    "delta_e76",
    "delta_e2000",
    "mean_diff_r",
    "mean_diff_g",
    "mean_diff_b",
    "mean_diff_norm",
)
CSV_COLUMNS = (
    "method",
    "image",
    "height",
    "width",
    *METRIC_KEYS,
    "seconds",
    "denoiser_calls",
    "active_fraction",
    "ideal_speedup",
    "evaluated_fraction",
    "seed",
)


@dataclass
class EvalImage:
    """One evaluation pair: ``lr`` (3, h, w) and ``hr`` (3, h*s, w*s), both in [0, 1]."""

    name: str
    lr: Tensor
    hr: Tensor


@dataclass
class EvaluationResult:
    """What :func:`evaluate_pipeline` wrote: the folder, the summary dict, the CSV rows, and
    why each input file skipped by :func:`evaluate_run` was (one message naming it)."""

    out_dir: Path
    summary: dict[str, Any]
    rows: list[dict[str, Any]]
    skipped: list[str] = field(default_factory=list)


def load_eval_images(
    hr_dir: str | Path,
    scale: int,
    lr_dir: str | Path | None = None,
    limit: int | None = None,
    degradation: DegradationConfig | None = None,
) -> list[EvalImage]:
    """Evaluation pairs from an HR folder (LR made by :func:`~yoda_sr.imaging.make_lr`) or
    paired folders; the first file that cannot be used raises ValueError naming it
    (:func:`read_eval_images` skips it instead).

    Paired folders are matched by file stem; each LR must be its HR mod-cropped to a
    multiple of ``scale``, divided by ``scale``. ``limit`` keeps the first images in sorted
    order. ``degradation``: a preset to make the inputs with instead of bicubic (image ``i``
    degraded with ``sample_rng(0, 0, i)``, as :func:`~yoda_sr.degradations.make_eval_set`
    makes its sets with seed 0).
    """
    images, skipped = read_eval_images(hr_dir, scale, lr_dir, limit, degradation)
    if skipped:
        raise ValueError(skipped[0])
    return images


def read_eval_images(
    hr_dir: str | Path,
    scale: int,
    lr_dir: str | Path | None = None,
    limit: int | None = None,
    degradation: DegradationConfig | None = None,
) -> tuple[list[EvalImage], list[str]]:
    """:func:`load_eval_images`, skipping the files that cannot be used (unreadable, or a
    paired LR whose size does not fit its HR): ``(images, one message per skipped file)``."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit}")
    if degradation is not None and lr_dir is not None:
        raise ValueError("give either paired LR images or a degradation, not both")
    params = degradation.params() if degradation is not None else None
    if degradation is not None and degradation.scale(scale) != scale:
        raise ValueError(
            f"--degradation {degradation.preset} is x{degradation.scale(scale)}, not x{scale}"
        )
    images, skipped = [], []
    if lr_dir is not None:
        dataset = PairedFolderDataset(lr_dir, hr_dir, scale)
        for index in range(len(dataset) if limit is None else min(limit, len(dataset))):
            try:
                item = dataset[index]
            except ValueError as exc:  # ImageReadError included
                skipped.append(str(exc))
                continue
            images.append(EvalImage(item["name"], item["lr"], item["hr"]))
        return images, skipped
    files = list_images(hr_dir)
    stems = [p.stem for p in files]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise ValueError(f"{hr_dir}: several files share the name(s) {duplicates}")
    for index, path in enumerate(files[:limit]):
        try:
            if params is None:
                hr, lr = make_lr(load_image(path), scale)
            else:
                hr = mod_crop(load_image(path), scale)
                lr, _ = degrade(hr, params, sample_rng(0, 0, index), scale)
        except ImageReadError as exc:
            skipped.append(str(exc))
            continue
        except ValueError as exc:
            skipped.append(f"{path}: {exc}")
            continue
        images.append(EvalImage(path.stem, lr, hr))
    return images, skipped


def config_hash(config: ExperimentConfig) -> str:
    """sha256 of the config as canonical JSON (sorted keys): identifies the trained model."""
    text = json.dumps(config.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_label(pipe: YodaPipeline, options: SamplingOptions) -> str:
    """E.g. ``"SR3+YODA ddim-50"``, ``"SR3 ddpm-2000"``, ``"RRDB"``."""
    name = pipe.config.model_type.upper() + ("+YODA" if options.use_yoda else "")
    return f"{name} {options.sampler}-{options.steps}" if pipe.is_diffusion else name


def _json_value(value: Any) -> Any:
    """inf/nan -> strings (strict JSON has no such numbers; ``float("inf")`` reads them back)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def _mean(values: list[float | None]) -> float | None:
    """Mean, or None if any value is missing (a partial mean would not be comparable)."""
    present = [v for v in values if v is not None]
    if not values or len(present) < len(values):
        return None
    return sum(present) / len(present)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means of the metric columns, ``seconds_per_image`` and sampling statistics of rows."""
    out: dict[str, Any] = {"num_images": len(rows)}
    for key in METRIC_KEYS:
        out[key] = _mean([row[key] for row in rows])
    out["seconds_per_image"] = _mean([row["seconds"] for row in rows])
    out["denoiser_calls"] = _mean([row["denoiser_calls"] for row in rows])
    out["mean_active_fraction"] = _mean([row["active_fraction"] for row in rows])
    out["ideal_speedup"] = _mean([row["ideal_speedup"] for row in rows])
    out["evaluated_fraction"] = _mean([row["evaluated_fraction"] for row in rows])
    return out


def crop_window(bicubic: Tensor, hr: Tensor, size: int) -> tuple[int, int, int]:
    """Top, left and side of the square where bicubic is worst (most to gain from SR)."""
    side = min(size, *hr.shape[1:])
    error = (bicubic - hr).abs().mean(dim=0, keepdim=True)[None]
    pooled = F.avg_pool2d(error, side, stride=max(1, side // 4))
    index = int(pooled.flatten().argmax())
    top, left = divmod(index, pooled.shape[-1])
    stride = max(1, side // 4)
    return top * stride, left * stride, side


@dataclass
class ScoredImage:
    """One evaluation pair upscaled by the model and by bicubic, and a CSV row for each.
    ``index``: the image's position in the list passed to :func:`score_images`."""

    index: int
    image: EvalImage
    bicubic: Tensor
    output: Tensor
    importance: Tensor | None
    bicubic_row: dict[str, Any]
    model_row: dict[str, Any]


def score_images(
    pipe: YodaPipeline,
    images: list[EvalImage],
    options: SamplingOptions,
    label: str,
    seed: int,
    lpips_metric: LpipsMetric,
    progress: bool = False,
    shard: Shard | None = None,
) -> Iterator[ScoredImage]:
    """Upscale each image with ``pipe`` (image ``i`` seeded with ``seed + i``) and with
    bicubic, and score both against the HR image; writes nothing. With ``shard``
    (:func:`~yoda_sr.distributed.shard_for`) only this process's images ``i`` (those with
    ``i % count == index``) are scored, each with the seed it has on one process."""
    scale = pipe.scale
    diffusion = pipe.is_diffusion
    mine = shard.take(images) if shard is not None else list(enumerate(images))
    for index, image in tqdm(mine, desc="evaluate", disable=not progress):
        image_seed = seed + index
        started = time.perf_counter()
        bicubic = ((bicubic_up(image.lr[None], scale) + 1.0) / 2.0)[0]
        bicubic_seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = pipe(
            image.lr[None],
            sampler=options.sampler,
            num_inference_steps=options.steps,
            eta=options.eta,
            use_yoda=options.use_yoda,
            lower_bound=options.lower_bound,
            generator=torch.Generator().manual_seed(image_seed),
            sparse=options.sparse,
            color_fix=options.color_fix,
        )
        output = result.images[0].float().cpu()  # the copy also waits for the GPU
        seconds = time.perf_counter() - started
        importance = result.importance[0].float().cpu() if result.importance is not None else None
        common = {"image": image.name, "height": image.hr.shape[1], "width": image.hr.shape[2]}
        fractions = result.active_fraction
        yield ScoredImage(
            index=index,
            image=image,
            bicubic=bicubic,
            output=output,
            importance=importance,
            bicubic_row={
                "method": BICUBIC,
                **common,
                **evaluate_pair(bicubic, image.hr, scale, lpips_metric),
                "seconds": bicubic_seconds,
                "denoiser_calls": None,
                "active_fraction": None,
                "ideal_speedup": None,
                "evaluated_fraction": None,
                "seed": None,
            },
            model_row={
                "method": label,
                **common,
                **evaluate_pair(output, image.hr, scale, lpips_metric),
                "seconds": seconds,
                "denoiser_calls": result.denoiser_calls if diffusion else None,
                "active_fraction": sum(fractions) / len(fractions) if fractions else None,
                "ideal_speedup": result.ideal_speedup if diffusion else None,
                "evaluated_fraction": result.evaluated_fraction if diffusion else None,
                "seed": image_seed if diffusion else None,
            },
        )


def _save_sample(
    folder: Path, scored: ScoredImage, num_train_timesteps: int, lower_bound: float | None
) -> None:
    """``lr``, ``bicubic``, ``output``, ``hr`` and, with YODA, the importance pictures."""
    folder.mkdir(parents=True, exist_ok=True)
    save_image(scored.image.lr, folder / "lr.png")
    save_image(scored.bicubic, folder / "bicubic.png")
    save_image(scored.output, folder / "output.png")
    save_image(scored.image.hr, folder / "hr.png")
    importance = scored.importance
    if importance is not None and lower_bound is not None:
        save_image(importance.expand(3, -1, -1), folder / "importance.png")
        save_image(heatmap_overlay(scored.bicubic, importance), folder / "attention.png")
        strip = mask_strip(scored.output, importance, num_train_timesteps, lower_bound)
        save_image(strip, folder / "masks.png")


def _save_crop(path: Path, label: str, scored: ScoredImage) -> None:
    """bicubic | output | HR on the 96 px square where bicubic is worst."""
    top, left, side = crop_window(scored.bicubic, scored.image.hr, 96)
    tiles = [("bicubic", scored.bicubic), (label, scored.output), ("HR", scored.image.hr)]
    cut = [(title, image[:, top : top + side, left : left + side]) for title, image in tiles]
    save_image(image_grid([cut], min_tile=GRID_TILE), path)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    def write(temporary: Path) -> None:
        with temporary.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: "" if row[k] is None else row[k] for k in CSV_COLUMNS})

    write_atomically(path, write)


def _summary(
    pipe: YodaPipeline,
    options: SamplingOptions,
    label: str,
    rows: dict[str, list[dict[str, Any]]],
    images: list[EvalImage],
    seed: int,
    lpips_metric: LpipsMetric,
    num_samples: int,
    model_path: str | Path | None,
    data_info: dict[str, Any] | None,
) -> dict[str, Any]:
    """The ``summary.json`` content: means per method and the full protocol."""
    config, scale, diffusion = pipe.config, pipe.scale, pipe.is_diffusion
    protocol = protocol_description(crop_border=scale, lpips_net=lpips_metric.net)
    protocol["lpips"].update(
        available=lpips_metric.available, unavailable_reason=lpips_metric.reason or None
    )
    protocol.update(
        resize_kernel=RESIZE_KERNEL,
        lr_source=(data_info or {}).get("lr_source", "given"),
        scale=scale,
        model_type=config.model_type,
        model_config_hash=config_hash(config),
        sampler=options.sampler,
        steps=options.steps,
        eta=options.eta,
        yoda=options.use_yoda,
        lower_bound=options.lower_bound,
        sparse=options.sparse if diffusion else None,
        color_fix=options.color_fix,
        attention=config.attention.source if options.use_yoda else None,
        seed=seed if diffusion else None,
        seeds="image i (sorted order) uses torch.Generator().manual_seed(seed + i)"
        if diffusion
        else None,
        device=str(pipe.device),
        torch_version=torch.__version__,
    )
    return {
        "format": FORMAT,
        "method": label,
        "model": {
            "path": str(model_path) if model_path is not None else None,
            "type": config.model_type,
            "config_hash": protocol["model_config_hash"],
            "scale": scale,
            "diffusion": diffusion,
            "yoda": options.use_yoda,
            "config": config.to_dict(),
        },
        "data": {**(data_info or {}), "images": [image.name for image in images]},
        "protocol": protocol,
        "results": {method: summarise(method_rows) for method, method_rows in rows.items()},
        "samples": [image.name for image in images[:num_samples]],
    }


def evaluate_pipeline(
    pipe: YodaPipeline,
    images: list[EvalImage],
    out_dir: str | Path,
    label: str | None = None,
    sampler: str | None = None,
    steps: int | None = None,
    eta: float | None = None,
    use_yoda: bool = True,
    lower_bound: float | None = None,
    sparse: bool | None = None,
    color_fix: str | None = None,
    seed: int = 0,
    lpips_metric: LpipsMetric | None = None,
    num_samples: int = 4,
    model_path: str | Path | None = None,
    data_info: dict[str, Any] | None = None,
    progress: bool = False,
) -> EvaluationResult:
    """Upscale ``images`` with ``pipe`` and with bicubic, score both, write the results folder.

    Scoring is :func:`score_images`; this writes what it yields (``outputs/``, ``samples/``,
    ``crops/``), then ``per_image.csv`` and ``summary.json``.

    Args:
        pipe: the model; its ``scale`` must fit the images.
        images: pairs from :func:`load_eval_images`.
        out_dir: results folder (created; files in it are overwritten).
        label: method name in tables; default from :func:`default_label`.
        sampler, steps, eta, use_yoda, lower_bound, sparse, color_fix: as for
            :class:`YodaPipeline`; ``None`` means the model config's default (the values
            used are recorded).
        seed: image ``i`` is sampled with ``torch.Generator().manual_seed(seed + i)``.
        lpips_metric: LPIPS scorer; default :class:`LpipsMetric` on the pipeline's device.
            When its weights are missing LPIPS is recorded as null with the reason.
        num_samples: how many images (first in order) get ``samples/`` and ``crops/`` files
            (>= 0).
        model_path: recorded in the summary.
        data_info: recorded in the summary (folders, LR source).
        progress: show a progress bar (on the main process).

    On several processes each takes its share of ``images`` (see the module docstring) and
    all return the same result.
    """
    if not images:
        raise ValueError("no images to evaluate")
    if num_samples < 0:
        raise ValueError(f"samples must be >= 0, got {num_samples}")
    scale = pipe.scale
    for image in images:
        expected = (image.lr.shape[1] * scale, image.lr.shape[2] * scale)
        if tuple(image.hr.shape[1:]) != expected:
            raise ValueError(
                f"image {image.name}: HR {tuple(image.hr.shape[1:])} is not the LR size "
                f"{tuple(image.lr.shape[1:])} x{scale}; does --scale match the model's?"
            )
    options = pipe.sampling_options(
        sampler, steps, eta, use_yoda, lower_bound, sparse=sparse, color_fix=color_fix
    )
    label = label or default_label(pipe, options)
    if label == BICUBIC:
        raise ValueError(f"label {BICUBIC!r} is reserved for the reference row")
    if lpips_metric is None:
        lpips_metric = LpipsMetric(device=pipe.device)

    out_dir = prepare_output_dir(out_dir)
    shard = shard_for(pipe.device)
    own: list[tuple[int, dict[str, Any], dict[str, Any]]] = []  # (index, model row, bicubic row)
    num_t = pipe.config.diffusion.num_train_timesteps
    scored_images = score_images(
        pipe, images, options, label, seed, lpips_metric, progress and shard.is_main, shard
    )
    for scored in scored_images:
        index = scored.index
        own.append((index, scored.model_row, scored.bicubic_row))
        name = scored.image.name
        save_image(scored.output, out_dir / OUTPUTS_DIR / f"{name}.png")
        if index < num_samples:
            _save_sample(out_dir / SAMPLES_DIR / name, scored, num_t, options.lower_bound)
            _save_crop(out_dir / CROPS_DIR / f"{name}.png", label, scored)

    gathered = sorted(shard.gather(own), key=lambda item: item[0])
    rows = {label: [m for _, m, _ in gathered], BICUBIC: [b for _, _, b in gathered]}
    all_rows = rows[label] + rows[BICUBIC]
    summary = _summary(
        pipe, options, label, rows, images, seed, lpips_metric, num_samples, model_path, data_info
    )
    if shard.is_main:
        _write_csv(out_dir / PER_IMAGE_FILE, all_rows)
        write_text_atomically(
            out_dir / SUMMARY_FILE,
            json.dumps(_json_value(summary), indent=2, allow_nan=False) + "\n",
        )
    return EvaluationResult(out_dir=out_dir, summary=summary, rows=all_rows)


def evaluate_run(
    model: str | Path,
    hr_dir: str | Path,
    out_dir: str | Path,
    scale: int,
    lr_dir: str | Path | None = None,
    limit: int | None = None,
    device: str | torch.device | None = "cpu",
    weights: str = "ema",
    lpips_net: str = LPIPS_NET,
    degradation: DegradationConfig | None = None,
    **kwargs: Any,
) -> EvaluationResult:
    """Load a run folder (or saved pipeline) and :func:`evaluate_pipeline` it on a folder.

    Args:
        model: run folder (newest checkpoint) or ``save_pretrained`` folder.
        hr_dir: HR images; ``lr_dir``: optional paired LR images (same stems).
        out_dir: results folder.
        scale: must equal the model's scale (ValueError otherwise).
        limit: evaluate the first ``limit`` images only.
        device, weights: as for :meth:`YodaPipeline.from_pretrained`; on several processes
            ``"cuda"`` means each process's own GPU.
        lpips_net: one of :data:`~yoda_sr.metrics.LPIPS_NETS`, unless ``lpips_metric`` is
            passed.
        degradation: a preset to make the inputs with instead of bicubic (see
            :func:`load_eval_images`); its scale must be ``scale``.
        **kwargs: the remaining arguments of :func:`evaluate_pipeline`.

    Bad options, a model that cannot be loaded and an unusable ``out_dir`` raise ValueError
    before any image is read. Files that cannot be used are skipped, named in the result's
    ``skipped`` and the summary's ``data.skipped``; ValueError when none can be.
    """
    device = shard_for(device).device
    pipe = YodaPipeline.from_pretrained(model, device=device, weights=weights)
    if scale != pipe.scale:
        raise ValueError(
            f"--scale {scale} does not match the model's scale x{pipe.scale} ({model}); "
            f"evaluate it with --scale {pipe.scale}"
        )
    pipe.sampling_options(  # checks the options before any image is read
        sampler=kwargs.get("sampler"),
        num_inference_steps=kwargs.get("steps"),
        eta=kwargs.get("eta"),
        lower_bound=kwargs.get("lower_bound"),
        color_fix=kwargs.get("color_fix"),
    )
    if kwargs.get("num_samples", 0) < 0:
        raise ValueError(f"samples must be >= 0, got {kwargs['num_samples']}")
    with output_folder(out_dir):  # removed again if nothing could be evaluated
        images, skipped = read_eval_images(hr_dir, scale, lr_dir, limit, degradation)
        if not images:
            raise ValueError(
                f"{hr_dir}: no image could be evaluated ({len(skipped)} skipped: {skipped[0]})"
                if skipped
                else f"{hr_dir}: no images to evaluate"
            )
        data_info = {
            "hr_dir": str(hr_dir),
            "lr_dir": str(lr_dir) if lr_dir is not None else None,
            "lr_source": _lr_source(scale, lr_dir, degradation),
            "skipped": skipped,
        }
        if kwargs.get("lpips_metric") is None:
            kwargs["lpips_metric"] = LpipsMetric(lpips_net, device=pipe.device)
        result = evaluate_pipeline(
            pipe, images, out_dir, model_path=model, data_info=data_info, **kwargs
        )
    result.skipped = skipped
    return result


def _lr_source(scale: int, lr_dir: str | Path | None, degradation: DegradationConfig | None) -> str:
    """How the evaluated inputs were made, for ``summary.json``."""
    if lr_dir is not None:
        return f"paired LR folder {lr_dir}"
    if degradation is not None and degradation.params().kind != "bicubic":
        return (
            f"HR mod-cropped to x{scale}, degradation preset {degradation.preset} "
            f"(options {degradation.options}), image i seeded sample_rng(0, 0, i)"
        )
    return f"HR mod-cropped to x{scale}, {RESIZE_KERNEL} 1/{scale}, clamped, uint8-quantised"


def load_summary(result_dir: str | Path) -> dict[str, Any]:
    """Read ``summary.json`` of an evaluation folder, with a clear error if it is not one."""
    path = Path(result_dir) / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{result_dir}: not an evaluation folder (no {SUMMARY_FILE})")
    try:
        summary = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(summary, dict):
        raise ValueError(f"{path}: not an evaluation summary (a JSON {type(summary).__name__})")
    if summary.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown format {summary.get('format')!r}, expected {FORMAT}")
    results = summary.get("results")
    if not isinstance(results, dict) or not all(isinstance(v, dict) for v in results.values()):
        raise ValueError(f"{path}: 'results' must map each method to its means")
    missing = [
        m for m in (summary.get("method"), BICUBIC) if not isinstance(m, str) or m not in results
    ]
    if missing:
        raise ValueError(f"{path}: 'results' lacks the method(s) {missing}")
    return summary
