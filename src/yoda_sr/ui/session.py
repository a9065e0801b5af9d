"""What the web UI does, without gradio: load models and images, upscale, and prepare what
the page shows (importance map, mask at a chosen step, before/after pair, numbers).

Every failure a user can cause (a bad file, a model that does not load, options out of range,
missing DINO weights) is a :class:`UIError` whose message is the CLI's; the page shows it.
"""

from __future__ import annotations

import dataclasses
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from yoda_sr.attention import (
    SOURCES,
    ImportanceSource,
    IncompatibleCheckpointError,
    WeightsNotFoundError,
    build_importance_source,
)
from yoda_sr.diffusion.config import PROCESS_SAMPLERS
from yoda_sr.imaging import (
    ImageReadError,
    load_image,
    make_lr,
    save_image,
    to_uint8,
    upscale_bicubic,
)
from yoda_sr.jobs import importance_map
from yoda_sr.masks import active_fraction
from yoda_sr.metrics import evaluate_pair
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.pipeline.bundled import DEFAULT_MODEL, list_bundled
from yoda_sr.viz import heatmap_overlay, mask_strip

# The importance-source choice that turns YODA off: every pixel is diffused at every step.
NO_YODA = "none"
SOURCE_CHOICES = (*SOURCES, NO_YODA)
# Metrics shown for an HR reference: key of evaluate_pair -> column title.
METRICS = {"psnr_rgb": "PSNR (dB)", "ssim_rgb": "SSIM", "psnr_y": "PSNR-Y (dB)", "ssim_y": "SSIM-Y"}


class UIError(ValueError):
    """A problem to show to the user in the page (its message says what and where)."""


@dataclass(frozen=True)
class ModelDefaults:
    """What a model samples with unless told otherwise: the UI's initial control values."""

    scale: int
    diffusion: bool
    num_train_timesteps: int
    sampler: str
    samplers: tuple[str, ...]
    steps: int
    lower_bound: float
    source: str
    color_fix: str
    description: str


@dataclass
class RunResult:
    """One upscale, as the page shows it.

    Images are (3, H, W) in [0, 1] at the output size; ``importance`` is (1, H, W) in [0, 1],
    None without YODA. ``metrics`` maps "bicubic" and "output" to :data:`METRICS` values when
    an HR reference was given. ``output_path`` is the written PNG.
    """

    lr: Tensor
    bicubic: Tensor
    output: Tensor
    importance: Tensor | None
    lower_bound: float | None
    num_train_timesteps: int
    timesteps: list[int]
    seconds: float
    denoiser_calls: int
    active_fraction: list[float]
    description: str
    output_path: Path
    metrics: dict[str, dict[str, float | None]] | None = None


class ModelStore:
    """Pipelines by name or path, loaded once (thread-safe), with their importance sources."""

    def __init__(self, device: str | torch.device | None = None) -> None:
        self.device = device
        self._pipes: dict[str, YodaPipeline] = {}
        self._sources: dict[tuple[str, str], ImportanceSource] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> YodaPipeline:
        """The pipeline of a bundled name, saved folder, run folder or Hub id; UIError if it
        does not load (the message says why and how to provide a model)."""
        name = (name or "").strip()
        if not name:
            raise UIError("choose a model, or type the path of a model folder")
        with self._lock:
            if name not in self._pipes:
                try:
                    self._pipes[name] = YodaPipeline.from_pretrained(name, device=self.device)
                except (FileNotFoundError, ValueError) as exc:
                    raise UIError(f"model {name}: {exc}") from exc
            return self._pipes[name]

    def importance_source(self, name: str, source: str) -> ImportanceSource:
        """``source`` (one of :data:`~yoda_sr.attention.SOURCES`) with the model's other
        attention settings (DINO weights, smoothing, ...); UIError if its weights are missing."""
        pipe = self.get(name)
        if source == pipe.config.attention.source:
            return self._load(pipe.load_importance_source)
        with self._lock:
            if (name, source) not in self._sources:
                config = dataclasses.replace(pipe.config.attention, source=source)
                self._sources[name, source] = self._load(
                    lambda: build_importance_source(config, device=pipe.device)
                )
            return self._sources[name, source]

    @staticmethod
    def _load(build: Callable[[], ImportanceSource]) -> ImportanceSource:
        try:
            return build()
        except (WeightsNotFoundError, IncompatibleCheckpointError, ValueError) as exc:
            raise UIError(str(exc)) from exc


def model_defaults(pipe: YodaPipeline) -> ModelDefaults:
    """The model's scale, T and sampling defaults, and a one-line description."""
    config = pipe.config
    options = pipe.sampling_options()
    num_t = config.diffusion.num_train_timesteps
    source = config.attention.source if options.use_yoda else NO_YODA
    if not pipe.is_diffusion:
        description = f"{config.model_type.upper()} x{pipe.scale}: regression, no diffusion"
    else:
        yoda = f"YODA on ({source}, l = {options.lower_bound:g})" if options.use_yoda else "no YODA"
        description = (
            f"{config.model_type.upper()} x{pipe.scale}: T = {num_t}, default "
            f"{options.sampler} {options.steps} steps, {yoda}"
        )
    return ModelDefaults(
        scale=pipe.scale,
        diffusion=pipe.is_diffusion,
        num_train_timesteps=num_t,
        sampler=options.sampler or config.sampling.sampler,
        samplers=PROCESS_SAMPLERS[config.diffusion.process],
        steps=options.steps or config.sampling.steps,
        lower_bound=config.yoda.lower_bound if options.lower_bound is None else options.lower_bound,
        source=source,
        color_fix=options.color_fix,
        description=description,
    )


def load_upload(path: str | Path) -> Tensor:
    """An uploaded image (3, H, W) in [0, 1] through the CLI's loader; UIError naming the file
    (by its name, not the server's temporary path) and the reason when it cannot be read."""
    name = Path(path).name
    try:
        return load_image(path)
    except ImageReadError as exc:
        reason = exc.reason.replace(str(path), name)
        raise UIError(f"{name}: cannot read as an image ({reason})") from exc


def load_inputs(
    lr_path: str | Path | None, hr_path: str | Path | None, scale: int
) -> tuple[Tensor, Tensor | None]:
    """``(lr, hr)``: the LR image (3, h, w) and None, or, when an HR reference is given, the
    benchmarks' LR of it (:func:`~yoda_sr.imaging.make_lr`) and the mod-cropped HR."""
    if hr_path:
        hr = load_upload(hr_path)
        try:
            hr, lr = make_lr(hr, scale)
        except ValueError as exc:
            raise UIError(f"{Path(hr_path).name}: {exc}") from exc
        return lr, hr
    if lr_path:
        return load_upload(lr_path), None
    raise UIError("upload an image (or pick an example), or an HR reference")


def upscale(
    store: ModelStore,
    model: str,
    lr_path: str | Path | None,
    hr_path: str | Path | None = None,
    sampler: str | None = None,
    steps: int | None = None,
    lower_bound: float | None = None,
    source: str | None = None,
    seed: int = 0,
    step_callback: Callable[[int, int], None] | None = None,
    color_fix: str | None = None,
) -> RunResult:
    """Upscale the uploaded image with ``model`` and write ``<stem>_x<scale>.png`` into a new
    temporary folder. ``source`` None uses the model's importance source, :data:`NO_YODA`
    samples without YODA; other options left None come from the model's config."""
    pipe = store.get(model)
    use_yoda = source != NO_YODA
    try:
        options = pipe.sampling_options(
            sampler, steps, None, use_yoda, lower_bound, color_fix=color_fix
        )
    except ValueError as exc:
        raise UIError(str(exc)) from exc
    lr, hr = load_inputs(lr_path, hr_path, pipe.scale)
    name = Path(str(hr_path or lr_path)).stem  # one of them is given (load_inputs checks)
    try:
        pipe.check_memory((lr.shape[-2], lr.shape[-1]), name=name)
    except ValueError as exc:
        raise UIError(str(exc)) from exc
    importance = None
    start = time.perf_counter()
    if options.use_yoda:
        chosen = store.importance_source(model, source or pipe.config.attention.source)
        importance = importance_map(chosen, lr.to(pipe.device), pipe.scale)
    result = pipe(
        lr[None],
        sampler=options.sampler,
        num_inference_steps=options.steps,
        use_yoda=options.use_yoda,
        lower_bound=options.lower_bound,
        generator=torch.Generator().manual_seed(int(seed)),
        importance=None if importance is None else importance[None],
        step_callback=step_callback,
        color_fix=options.color_fix,
    )
    seconds = time.perf_counter() - start
    output = result.images[0].cpu()
    size = (output.shape[-2], output.shape[-1])
    bicubic = upscale_bicubic(lr, size).clamp(0.0, 1.0)
    output_path = Path(tempfile.mkdtemp(prefix="yoda-sr-ui-")) / f"{name}_x{pipe.scale}.png"
    save_image(output, output_path)
    metrics = None
    if hr is not None:
        metrics = {}
        for label, image in (("bicubic", bicubic), ("output", output)):
            values = evaluate_pair(image, hr, crop_border=pipe.scale)
            metrics[label] = {key: values[key] for key in METRICS}
    if pipe.is_diffusion:
        yoda = (
            f"{source or pipe.config.attention.source} importance, l = {options.lower_bound:g}"
            if options.use_yoda
            else "no YODA"
        )
        description = (
            f"{options.sampler} {options.steps} steps, {yoda}, colour fix {options.color_fix}, "
            f"seed {int(seed)}"
        )
    else:
        description = model_defaults(pipe).description
    return RunResult(
        lr=lr,
        bicubic=bicubic,
        output=output,
        importance=None if importance is None else importance.cpu(),
        lower_bound=options.lower_bound,
        num_train_timesteps=pipe.config.diffusion.num_train_timesteps,
        timesteps=result.timesteps,
        seconds=seconds,
        denoiser_calls=result.denoiser_calls,
        active_fraction=result.active_fraction,
        description=description,
        output_path=output_path,
        metrics=metrics,
    )


def importance_overlay(result: RunResult) -> np.ndarray | None:
    """The importance map as a heat map over the bicubic image, (H, W, 3) uint8; None
    without YODA."""
    if result.importance is None:
        return None
    return to_uint8(heatmap_overlay(result.bicubic, result.importance))


def mask_at(result: RunResult, t: int) -> tuple[np.ndarray | None, float | None]:
    """YODA's mask ``M_t`` at paper step ``t`` (1..T): the output where pixels are diffused at
    ``t``, dimmed elsewhere, (H, W, 3) uint8; and the active fraction in [0, 1] by the mask
    rule. ``(None, None)`` without YODA."""
    if result.importance is None or result.lower_bound is None:
        return None, None
    num_t = result.num_train_timesteps
    t = min(max(int(t), 1), num_t)
    tile = mask_strip(result.output, result.importance, num_t, result.lower_bound, [t], label=False)
    fraction = active_fraction(result.importance[None], [t - 1], num_t, result.lower_bound)
    return to_uint8(tile), float(fraction[0, 0])


def mask_caption(result: RunResult, t: int, fraction: float | None) -> str:
    """Markdown line under the mask: step, active fraction, whether the sampler visits it."""
    if fraction is None:
        return "No YODA mask: every pixel is diffused at every step, or there is no diffusion."
    visited = "visited" if int(t) - 1 in result.timesteps else "not visited"
    return (
        f"**t = {int(t)}** of T = {result.num_train_timesteps}: **{100.0 * fraction:.1f} %** of "
        f"pixels diffused (active fraction {fraction:.4f}); this step is {visited} by the "
        f"sampler ({len(result.timesteps)} of {result.num_train_timesteps} steps)."
    )


def numbers_markdown(result: RunResult) -> str:
    """The run's numbers as Markdown: time, denoiser calls, active fraction, and PSNR/SSIM
    against the HR reference (protocol of :mod:`yoda_sr.metrics`) when one was given."""
    h, w = result.output.shape[-2:]
    mean_active = float(np.mean(result.active_fraction)) if result.active_fraction else None
    active = "n/a" if mean_active is None else f"{mean_active:.3f}"
    lines = [
        "| this run | |",
        "|---|---|",
        f"| time | {result.seconds:.2f} s |",
        f"| denoiser calls | {result.denoiser_calls} |",
        f"| mean active fraction | {active} |",
        f"| sampling | {result.description} |",
        f"| output | {w} x {h} px (from {result.lr.shape[-1]} x {result.lr.shape[-2]}) |",
    ]
    if result.metrics is not None:
        lines += [
            "",
            "Against the HR reference (LR = HR downscaled by MATLAB bicubic, 8-bit; border of "
            "scale px cropped):",
            "",
            "| | " + " | ".join(METRICS.values()) + " |",
            "|---" * (len(METRICS) + 1) + "|",
        ]
        for label, values in result.metrics.items():
            row = " | ".join(
                f"{values[key]:.2f}" if key.startswith("psnr") else f"{values[key]:.4f}"
                for key in METRICS
            )
            lines.append(f"| {label} | {row} |")
    return "\n".join(lines)


def model_choices(models: Sequence[str | Path]) -> list[str]:
    """Model names/paths as dropdown choices (strings, duplicates dropped, order kept)."""
    return list(dict.fromkeys(str(model) for model in models))


def offered_models(given: Sequence[str | Path] = ()) -> tuple[list[str], str | None]:
    """``(choices, selected)`` for ``yoda-sr ui``: the ``given`` models, then the installed
    bundled ones; selected is the first given, else the bundled default when installed, else
    the first bundled model (None when there is none: the user types a folder path)."""
    bundled = [model.name for model in list_bundled()]
    choices = model_choices([*given, *bundled])
    if given:
        return choices, choices[0]
    if DEFAULT_MODEL in bundled:
        return choices, DEFAULT_MODEL
    return choices, choices[0] if choices else None
