"""The Gradio page of ``yoda-sr ui``: :func:`build_app` lays it out over
:mod:`yoda_sr.ui.session`, :func:`launch` serves it. Imports gradio (the ``[ui]`` extra)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gradio as gr
import torch

from yoda_sr.diffusion.config import COLOR_FIXES, SAMPLERS
from yoda_sr.evaluation.demo_data import write_examples
from yoda_sr.imaging import to_uint8
from yoda_sr.ui.session import (
    SOURCE_CHOICES,
    ModelStore,
    RunResult,
    UIError,
    importance_overlay,
    load_upload,
    mask_at,
    mask_caption,
    model_choices,
    model_defaults,
    numbers_markdown,
    upscale,
)

INTRO = """# yoda-sr: attention-guided diffusion super-resolution
Upload an image (or pick an example) and press **Upscale**. YODA diffuses each pixel only for
as many steps as its importance warrants: see where (importance map) and when (mask at step
*t*; sampling runs from *t = T* down to 1). An **HR reference** replaces the image to upscale:
the input is made from it (LR = HR downscaled by the model's scale) and PSNR/SSIM are
reported."""
# System fonts only: the page makes no request outside this machine.
FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]
MONO_FONTS = ["ui-monospace", "monospace"]
# gradio recognises a progress parameter by this default; it reports to the running event.
PROGRESS = gr.Progress()


@contextmanager
def _shown_in_page() -> Iterator[None]:
    """Turn a :class:`UIError` into gradio's error toast (its message, no traceback)."""
    try:
        yield
    except UIError as exc:
        raise gr.Error(str(exc), print_exception=False) from exc


class Callbacks:
    """The page's event handlers over one :class:`ModelStore`; a :class:`UIError` becomes
    gradio's error toast with its message."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store

    @staticmethod
    def preview(lr_path: str | None, hr_path: str | None) -> Any:
        """The uploaded image as the loader reads it (the HR reference when given)."""
        path = hr_path or lr_path
        if not path:
            return None
        with _shown_in_page():
            return to_uint8(load_upload(path))

    def model_settings(self, model: str) -> tuple[Any, ...]:
        """Control updates for ``model``: description, scale, sampler, steps (1..T), lower
        bound, importance source, colour fix and the t slider (1..T)."""
        with _shown_in_page():
            defaults = model_defaults(self.store.get(model))
        num_t = defaults.num_train_timesteps
        diffusion = defaults.diffusion
        return (
            defaults.description,
            defaults.scale,
            gr.update(
                choices=list(defaults.samplers), value=defaults.sampler, interactive=diffusion
            ),
            gr.update(maximum=num_t, value=defaults.steps, interactive=diffusion),
            gr.update(value=defaults.lower_bound, interactive=diffusion),
            gr.update(value=defaults.source, interactive=diffusion),
            gr.update(value=defaults.color_fix),
            gr.update(maximum=num_t, value=max(1, num_t // 2)),
        )

    def run(
        self,
        model: str,
        lr_path: str | None,
        hr_path: str | None,
        sampler: str,
        steps: float,
        lower_bound: float,
        source: str,
        color_fix: str,
        seed: float,
        t: float,
        progress: gr.Progress = PROGRESS,
    ) -> tuple[Any, ...]:
        """Upscale; returns the before/after pair, importance overlay, mask at ``t`` and its
        caption, numbers, output PNG path and the result (session state)."""
        progress(0.0, desc="importance map")
        with _shown_in_page():
            result = upscale(
                self.store,
                model,
                lr_path,
                hr_path,
                sampler=sampler,
                steps=int(steps),
                lower_bound=float(lower_bound),
                source=source,
                seed=int(seed),
                step_callback=lambda done, total: progress((done, total), desc="sampling"),
                color_fix=color_fix,
            )
        mask, fraction = mask_at(result, int(t))
        return (
            (to_uint8(result.bicubic), to_uint8(result.output)),
            importance_overlay(result),
            mask,
            mask_caption(result, int(t), fraction),
            numbers_markdown(result),
            str(result.output_path),
            result,
        )

    @staticmethod
    def show_mask(result: RunResult | None, t: float) -> tuple[Any, str]:
        """The mask at step ``t`` of the last result and its caption."""
        if result is None:
            return None, "Upscale an image first."
        mask, fraction = mask_at(result, int(t))
        return mask, mask_caption(result, int(t), fraction)


def build_app(
    models: Sequence[str | Path],
    default: str | None = None,
    device: str | torch.device | None = None,
) -> gr.Blocks:
    """The page, not yet served. ``models``: names or folder paths offered in the model
    dropdown (the user may type another path); ``default`` is selected first (default: the
    first of ``models``). Models load on first use, on ``device`` (None: cuda if available)."""
    callbacks = Callbacks(ModelStore(device))
    choices = model_choices(models)
    default = default if default is not None else (choices[0] if choices else None)
    lr_examples, hr_example = write_examples(tempfile.mkdtemp(prefix="yoda-sr-ui-examples-"))
    with gr.Blocks(title="yoda-sr", analytics_enabled=False) as app:
        gr.Markdown(INTRO)
        result_state = gr.State()
        with gr.Row():
            with gr.Column(scale=1):
                lr_file = gr.File(label="Image to upscale", elem_id="lr-file")
                hr_file = gr.File(label="HR reference (optional)", elem_id="hr-file")
                input_preview = gr.Image(label="Input", interactive=False, elem_id="input")
                gr.Examples(
                    [[str(path), None] for path in lr_examples] + [[None, str(hr_example)]],
                    inputs=[lr_file, hr_file],
                    label="Examples (public-domain photos; the last is an HR reference)",
                )
                model = gr.Dropdown(
                    choices,
                    value=default,
                    allow_custom_value=True,
                    label="Model (a name, or type a model folder path)",
                    elem_id="model",
                )
                model_info = gr.Markdown(elem_id="model-info")
                with gr.Row():
                    scale = gr.Number(label="Scale (the model's)", interactive=False, precision=0)
                    sampler = gr.Radio(list(SAMPLERS), label="Sampler")
                steps = gr.Slider(1, 100, step=1, label="Sampling steps (1..T)")
                lower_bound = gr.Slider(0.0, 1.0, step=0.01, label="Lower bound l")
                source = gr.Radio(
                    list(SOURCE_CHOICES),
                    label="Importance source (none: plain diffusion, every pixel every step)",
                )
                color_fix = gr.Radio(
                    list(COLOR_FIXES),
                    label="Colour fix (colour from the bicubic-upsampled input after sampling)",
                    elem_id="color-fix",
                )
                seed = gr.Number(0, label="Seed", precision=0)
                run_button = gr.Button("Upscale", variant="primary", elem_id="run")
            with gr.Column(scale=2):
                comparison = gr.ImageSlider(
                    label="Bicubic | output (drag to compare)", format="png", elem_id="compare"
                )
                with gr.Row():
                    importance = gr.Image(
                        label="Importance map over the image", format="png", elem_id="importance"
                    )
                    mask = gr.Image(
                        label="Mask M_t: diffused pixels (others dimmed)",
                        format="png",
                        elem_id="mask",
                    )
                t_slider = gr.Slider(
                    1, 100, step=1, label="t (diffusion step, T..1)", elem_id="t-slider"
                )
                mask_text = gr.Markdown(elem_id="mask-caption")
                numbers = gr.Markdown(elem_id="numbers")
                download = gr.File(label="Output PNG", elem_id="download")

        settings = [model_info, scale, sampler, steps, lower_bound, source, color_fix, t_slider]
        model.change(callbacks.model_settings, model, settings)
        if default is not None:
            app.load(callbacks.model_settings, model, settings)
        for upload in (lr_file, hr_file):
            upload.change(callbacks.preview, [lr_file, hr_file], input_preview)
        run_button.click(
            callbacks.run,
            [
                model,
                lr_file,
                hr_file,
                sampler,
                steps,
                lower_bound,
                source,
                color_fix,
                seed,
                t_slider,
            ],
            [comparison, importance, mask, mask_text, numbers, download, result_state],
        )
        t_slider.change(
            callbacks.show_mask,
            [result_state, t_slider],
            [mask, mask_text],
            trigger_mode="always_last",
        )
    return app


def launch(
    app: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    block: bool = True,
) -> None:
    """Serve ``app`` on ``host:port`` (``share``: also through a public gradio.live link);
    ``block`` False returns at once (close with ``app.close()``)."""
    theme = gr.themes.Default(font=FONTS, font_mono=MONO_FONTS)
    app.queue(default_concurrency_limit=1).launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=not block,
        theme=theme,
        ssr_mode=False,
        quiet=not block,
    )
