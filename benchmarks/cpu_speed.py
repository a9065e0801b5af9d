"""Where a CPU upscale with the bundled default spends its time, and what inference options buy.

    python benchmarks/cpu_speed.py                 # srdiff-yoda-x4, DDIM-50, 96x64 LR -> 384x256
    python benchmarks/cpu_speed.py --quick         # smoke check; its timings mean nothing

Everything runs in one process on one LR crop (``--lr-size``, cut from the centre of
``--photo``, by default the first photo of ``benchmarks/data/photos/val``, else the demo cat).

1. Breakdown: the pipeline call with timers around the callables it goes through (importance
   map, RRDB conditioning, the WindowedDenoiser and the network inside it, the network's
   feature projection, masks, blend, noise draws, anchor noising, scheduler step, colour fix),
   ``--repeats`` calls after one warm-up, medians; against the bare network forward at the
   same size (median of ``--repeats * 3`` forwards). Overhead ratio = full call /
   (steps x bare forward).
2. Options: each as a whole call (``--repeats`` rounds, the variants alternated and rotated
   every round; ratio = median of baseline / option per round), the output's PSNR against the
   baseline output (inf: identical) and the change in PSNR-Y against the HR crop (border 4).
"""

from __future__ import annotations

import argparse
import copy
import functools
import math
import os
import signal
import statistics
import time
import types
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import yoda_sr.diffusion.sampler as sampler_module
import yoda_sr.pipeline.yoda_pipeline as pipeline_module
from yoda_sr.evaluation.demo_data import TEST_PHOTO
from yoda_sr.imaging import list_images, load_image, make_lr
from yoda_sr.metrics.fidelity import psnr
from yoda_sr.models import SRBackbone
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.pipeline.sparse import WindowedDenoiser

VAL_PHOTOS = Path(__file__).parent / "data" / "photos" / "val"


class Timers:
    """Exclusive seconds and calls per name, accumulated by callables wrapped with
    :meth:`wrap`: time spent in a timed callable inside another counts for the inner one."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._inner: list[float] = []  # per open timed call: seconds of timed calls inside

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` timed under ``name`` (its signature kept, for ``inspect.signature``)."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._inner.append(0.0)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.seconds[name] += elapsed - self._inner.pop()
                self.calls[name] += 1
                if self._inner:
                    self._inner[-1] += elapsed

        return timed

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


def test_pair(photo: Path | None, lr_size: tuple[int, int], scale: int) -> tuple[Tensor, Tensor]:
    """(HR crop, LR) of ``lr_size`` (w, h) LR px from the centre of ``photo`` (None: the first
    val photo, else the demo cat)."""
    if photo is None:
        photos = list_images(VAL_PHOTOS) if VAL_PHOTOS.is_dir() else []
        image = load_image(photos[0]) if photos else _demo_photo()
    else:
        image = load_image(photo)
    w, h = lr_size[0] * scale, lr_size[1] * scale
    top, left = (image.shape[1] - h) // 2, (image.shape[2] - w) // 2
    if top < 0 or left < 0:
        raise SystemExit(f"photo {tuple(image.shape[1:])} is smaller than {h}x{w}")
    hr, lr = make_lr(image[:, top : top + h, left : left + w], scale)
    return hr[None], lr[None]


def _demo_photo() -> Tensor:
    return torch.from_numpy(TEST_PHOTO.load()).permute(2, 0, 1).float() / 255.0


@contextmanager
def instrumented(pipe: YodaPipeline, timers: Timers) -> Iterator[None]:
    """Timers around what ``pipe(...)`` calls; everything restored on exit."""
    patches: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)
        patches.append((owner, name, original if name in vars(owner) else None))
        setattr(owner, name, timers.wrap(label, original))

    torch_proxy = types.SimpleNamespace(**{n: getattr(torch, n) for n in dir(torch)})
    torch_proxy.randn = timers.wrap("noise draws", torch.randn)
    make_scheduler = pipeline_module.make_scheduler

    def timed_scheduler(*args: Any) -> Any:
        scheduler = make_scheduler(*args)
        scheduler.step = timers.wrap("scheduler step", scheduler.step)
        scheduler.scale_model_input = timers.wrap("scheduler step", scheduler.scale_model_input)
        return scheduler

    patch(pipe, "importance", "importance map")
    patch(pipe, "_color_fix", "colour fix")
    patch(pipe.model, "condition", "conditioning (RRDB)")
    patch(pipe.model, "to_image", "to image")
    patch(pipe.model, "forward", "network")
    patch(pipe.model.denoiser.cond_proj, "forward", "feature projection")
    patch(WindowedDenoiser, "__call__", "WindowedDenoiser")
    patch(sampler_module, "diffusion_mask", "mask")
    patch(sampler_module, "blend", "blend")
    patch(sampler_module, "_noised", "anchor noising")
    patch(sampler_module, "prior_sample", "anchor noising")
    patches.append((sampler_module, "torch", torch))
    sampler_module.torch = torch_proxy  # type: ignore[assignment]
    patches.append((pipeline_module, "make_scheduler", make_scheduler))
    pipeline_module.make_scheduler = timed_scheduler  # type: ignore[assignment]
    try:
        yield
    finally:
        for owner, name, original in reversed(patches):
            if original is None:  # an instance attribute over the class's method
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def upscale(pipe: YodaPipeline, lr: Tensor, steps: int) -> Tensor:
    """One pipeline call with the default options and a fixed seed."""
    generator = torch.Generator().manual_seed(0)
    return pipe(lr, num_inference_steps=steps, generator=generator).images


@torch.no_grad()
def bare_forward(pipe: YodaPipeline, lr: Tensor, context: Callable[[], Any], warmup: int) -> float:
    """Seconds of one network forward at ``lr``'s HR size on the sampling condition (after
    ``warmup`` untimed ones)."""
    cond = pipe.model.sampling_condition(pipe.model.condition(pipe._pad(lr)[0]))
    x = torch.randn(1, 3, lr.shape[-2] * pipe.scale, lr.shape[-1] * pipe.scale)
    t = torch.full((1,), 500, dtype=torch.long)
    with context():
        for _ in range(warmup):
            pipe.model(x, t, **cond)
        start = time.perf_counter()
        pipe.model(x, t, **cond)
        return time.perf_counter() - start


def breakdown(pipe: YodaPipeline, lr: Tensor, args: argparse.Namespace) -> None:
    """Print where a call spends its time, against the bare network forward."""
    timers = Timers()
    totals: list[float] = []
    parts: dict[str, list[float]] = defaultdict(list)
    calls: dict[str, int] = {}
    with instrumented(pipe, timers):
        upscale(pipe, lr, args.steps)  # warm-up
        for _ in range(args.repeats):
            timers.reset()
            start = time.perf_counter()
            upscale(pipe, lr, args.steps)
            totals.append(time.perf_counter() - start)
            for name, value in timers.seconds.items():
                parts[name].append(value)
            calls = dict(timers.calls)
    bare = [bare_forward(pipe, lr, nullcontext, 0) for _ in range(3 * args.repeats)]
    total, forward = statistics.median(totals), statistics.median(bare)
    x = lr.new_empty(1, 3, lr.shape[-2] * pipe.scale, lr.shape[-1] * pipe.scale)
    names = {"WindowedDenoiser": "windowing bookkeeping", "network": "network (UNet)"}
    print(
        f"\nbreakdown: {args.model}, DDIM-{args.steps}, LR {lr.shape[-1]}x{lr.shape[-2]} -> "
        f"{x.shape[-1]}x{x.shape[-2]}, {torch.get_num_threads()} threads, torch "
        f"{torch.__version__}; medians of {args.repeats} calls after a warm-up",
        flush=True,
    )
    print(f"{'part':32s} {'calls':>6s} {'ms/call':>9s} {'ms/step':>9s} {'share':>7s}")
    counted = 0.0
    for name, values in sorted(parts.items(), key=lambda item: -statistics.median(item[1])):
        value = statistics.median(values)
        counted += value
        n = calls[name]
        print(
            f"{names.get(name, name):32s} {n:6d} {1e3 * value / n:9.2f} "
            f"{1e3 * value / args.steps:9.2f} {value / total:7.1%}"
        )
    other = total - counted
    print(
        f"{'other (indexing, copies, loop)':32s} {'':6s} {'':9s} {1e3 * other / args.steps:9.2f} "
        f"{other / total:7.1%}"
    )
    print(f"{'total':32s} {'':6s} {'':9s} {1e3 * total / args.steps:9.2f} {1.0:7.1%}")
    print(
        f"bare forward at {x.shape[-1]}x{x.shape[-2]}: {1e3 * forward:.1f} ms (median of "
        f"{len(bare)}); overhead ratio = total / (steps x bare) = "
        f"{total / (args.steps * forward):.3f}; network calls {calls.get('network', 0)} of "
        f"{args.steps} steps, total / (network calls x bare) = "
        f"{total / (calls.get('network', 1) * forward):.3f}"
    )


Variant = tuple[YodaPipeline, Callable[[], Any]]


def with_threads(count: int) -> Callable[[], Any]:
    """A context that runs with ``count`` torch threads."""

    @contextmanager
    def threads() -> Iterator[None]:
        before = torch.get_num_threads()
        torch.set_num_threads(count)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    return threads


@contextmanager
def per_step_condition(pipe: YodaPipeline) -> Iterator[None]:
    """Sampling without :meth:`SRBackbone.sampling_condition` (its work done at every step)."""
    pipe.model.sampling_condition = lambda condition: condition
    try:
        yield
    finally:
        del pipe.model.sampling_condition


def compiled(pipe: YodaPipeline, lr: Tensor, timeout: int) -> tuple[YodaPipeline | None, str]:
    """A copy of ``pipe`` whose denoiser is ``torch.compile``d and warmed up at ``lr``'s size
    (compile time in the note), or None and why not."""
    pipe = copy.deepcopy(pipe)
    pipe.model.denoiser = torch.compile(pipe.model.denoiser)

    def expired(*_: Any) -> None:
        raise TimeoutError(f"no compiled forward within {timeout} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(timeout)
    start = time.perf_counter()
    try:
        upscale(pipe, lr, 2)
    except Exception as exc:  # a compiler this machine lacks is reported, not fatal
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return pipe, f"compile + 2-step warm-up {time.perf_counter() - start:.0f} s"


def options(pipe: YodaPipeline, hr: Tensor, lr: Tensor, args: argparse.Namespace) -> None:
    """Print each option's speed-up over the baseline and how far it moves the output."""
    channels_last = copy.deepcopy(pipe)
    channels_last.model.to(memory_format=torch.channels_last)
    variants: dict[str, Variant] = {
        "baseline": (pipe, nullcontext),
        "bf16 autocast": (pipe, lambda: torch.autocast("cpu", dtype=torch.bfloat16)),
        "channels_last": (channels_last, nullcontext),
    }
    notes: dict[str, str] = {}
    if type(pipe.model).sampling_condition is not SRBackbone.sampling_condition:
        variants["per-step condition"] = (pipe, functools.partial(per_step_condition, pipe))
        notes["per-step condition"] = "the condition's work redone at every step (before)"
    if torch.get_num_threads() != 1:
        variants["1 thread"] = (pipe, with_threads(1))
    if "compile" in args.skip:
        notes["torch.compile"] = "skipped (--skip compile)"
    else:
        compiled_pipe, notes["torch.compile"] = compiled(pipe, lr, args.compile_timeout)
        if compiled_pipe is not None:
            variants["torch.compile"] = (compiled_pipe, nullcontext)
    forward_base = bare_forward(pipe, lr, nullcontext, 1)
    for name in list(variants)[1:]:
        variant, context = variants[name]
        forward = bare_forward(variant, lr, context, 1)
        if forward > args.slow * forward_base:
            del variants[name]
            notes[name] = (
                f"not run whole: bare forward {forward:.2f} s vs {forward_base:.2f} s "
                f"({forward_base / forward:.3f}x)"
            )
    outputs: dict[str, Tensor] = {}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_index in range(args.repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            variant, context = variants[name]
            start = time.perf_counter()
            with context():
                outputs[name] = upscale(variant, lr, args.steps).float()
            seconds[name].append(time.perf_counter() - start)
    base = outputs["baseline"]
    base_y = psnr(base[0], hr[0], crop_border=4, test_y_channel=True)
    print(
        f"\noptions: {args.repeats} alternated rounds of whole calls, DDIM-{args.steps}; "
        f"baseline {statistics.median(seconds['baseline']):.2f} s, {base_y:.3f} dB PSNR-Y vs HR"
    )
    print(
        f"{'option':18s} {'s/call':>8s} {'speed-up':>9s} {'PSNR vs base':>13s} "
        f"{'dPSNR-Y vs HR':>14s}  note"
    )
    for name in names:
        mse = float((outputs[name] - base).pow(2).mean())
        close = 10 * math.log10(1.0 / mse) if mse > 0 else math.inf
        delta = psnr(outputs[name][0], hr[0], crop_border=4, test_y_channel=True) - base_y
        ratio = statistics.median(
            b / s for b, s in zip(seconds["baseline"], seconds[name], strict=True)
        )
        print(
            f"{name:18s} {statistics.median(seconds[name]):8.2f} {ratio:8.3f}x "
            f"{close:10.2f} dB {delta:+11.4f} dB  {notes.get(name, '')}"
        )
    for name, note in notes.items():
        if name not in variants:
            print(f"{name:18s} {'-':>8s} {'-':>9s} {'-':>13s} {'-':>14s}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="srdiff-yoda-x4")
    parser.add_argument("--photo", type=Path, default=None)
    parser.add_argument("--lr-size", default="96x64", help="LR width x height")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile-timeout", type=int, default=180, help="seconds")
    parser.add_argument("--skip", default="", help="comma-separated: compile, options")
    parser.add_argument(
        "--slow",
        type=float,
        default=3.0,
        help="options whose bare forward is this many times slower are not run whole",
    )
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke check")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats, args.lr_size = 2, 2, "32x16"
    args.skip = set(args.skip.split(","))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    pipe = YodaPipeline.from_pretrained(args.model)
    width, height = (int(side) for side in args.lr_size.split("x"))
    hr, lr = test_pair(args.photo, (width, height), pipe.scale)
    breakdown(pipe, lr, args)
    if "options" not in args.skip:
        options(pipe, hr, lr, args)


if __name__ == "__main__":
    main()
