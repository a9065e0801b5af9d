"""Training steps/s of the whole yoda-sr loop against a plain loop of the same UNet, what the
speed options buy, and batched ``upscale``: one run, every variant measured in the same process.

    python benchmarks/train_throughput.py                  # CPU: sr3_tiny, batch 8, 64 px, fp32
    python benchmarks/train_throughput.py --device cuda
    python benchmarks/train_throughput.py --quick          # smoke check; its timings mean nothing

Training variants (each warmed up by ``--warmup`` steps, not timed), then stepped in blocks of
``--steps`` for ``--repeats`` rounds, all variants once per round in an order rotated every
round, so drift of the machine hits all alike; ratios are medians of the per-round ratios:

- ``plain``: the UNet on ready tensors: timestep and noise draw, ``add_noise``, forward, L1
  epsilon loss, backward, AdamW step (no data, mask, clipping or EMA).
- ``yoda``: the real loop. Its unit is one iteration of ``Trainer.train``'s loop, progress bar
  aside: ``Trainer._train_step`` (next batch from the DataLoader over a folder of photos, with
  their cached importance maps, YODA mask, forward/backward, gradient clipping, AdamW, EMA)
  then ``Trainer._after_step`` (logging; validation and checkpoints are off).
  YODA overhead = 1 - yoda / plain (target < 5%).
- ``yoda+<option>``: the real loop with one option on: ``train.mixed_precision=bf16`` or
  ``fp16`` (autocast through accelerate), ``train.channels_last``, ``train.compile``
  (compile time reported apart; skipped with the reason if it fails), ``data.num_workers=2``.

Upscale: images/s of :func:`yoda_sr.jobs.upscale_files` on ``--upscale-images`` LR images of
one size (random sr3_tiny weights, DDIM), ``--batch-size 1`` against ``--upscale-batch``,
alternated for ``--repeats`` rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate.state import AcceleratorState

from yoda_sr.config import ExperimentConfig
from yoda_sr.diffusion import make_scheduler
from yoda_sr.evaluation.demo_data import write_demo_images
from yoda_sr.imaging import imresize, list_images, load_image, save_image
from yoda_sr.jobs import upscale_files
from yoda_sr.models import build_model
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.training.trainer import Trainer, _batches

Step = Callable[[], None]


def plain_loop(config: ExperimentConfig, device: torch.device) -> Step:
    """One step of the bare UNet on tensors already on ``device``."""
    torch.manual_seed(config.train.seed)
    model = build_model(config.model).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.learning_rate)
    scheduler = make_scheduler(config.diffusion, "ddpm")
    size, batch = config.data.hr_size, config.train.batch_size
    x0 = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    lr = torch.rand(batch, 3, size // config.model.scale, size // config.model.scale)
    cond = {name: value.to(device) for name, value in model.condition(lr.to(device)).items()}
    num_t = config.diffusion.num_train_timesteps

    def step() -> None:
        t = torch.randint(0, num_t, (batch,), device=device)
        noise = torch.randn_like(x0)
        x_t = scheduler.add_noise(x0, noise, t)
        loss = F.l1_loss(model(x_t, t, **cond), noise)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def trainer_loop(config: ExperimentConfig, out: Path) -> Step:
    """One iteration of ``Trainer.train``'s loop on a fresh run in ``out``."""
    # accelerate keeps one process-wide state (mixed precision, ...) that the first Accelerator
    # fixes and every Accelerator reads, also while stepping: each variant gets its own, made
    # current again before each of its steps.
    AcceleratorState._reset_state()
    trainer = Trainer(config, out)
    run = trainer._setup()
    trainer._prepare(run)
    state = dict(AcceleratorState._shared_state)
    batches = _batches(run.loader, run.sampler, run.consumed)

    def step() -> None:
        AcceleratorState._shared_state.clear()
        AcceleratorState._shared_state.update(state)
        loss = None
        while loss is None:  # a skipped bad step is retried, as train() does
            loss = trainer._train_step(run, batches)
        trainer._after_step(run, loss)

    return step


def timed(step: Step, count: int, device: torch.device) -> float:
    """Seconds for ``count`` steps (the device synchronised at both ends)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(count):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def alternate(
    steps: dict[str, Step], count: int, repeats: int, device: torch.device
) -> dict[str, list[float]]:
    """Seconds per block of ``count`` steps, per variant and round (order rotated per round)."""
    names = list(steps)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name].append(timed(steps[name], count, device))
    return seconds


# The real loop's variants: overrides of the default config.
TRAINING_OPTIONS = {
    "yoda": [],
    "yoda+bf16": ["train.mixed_precision=bf16"],
    "yoda+fp16": ["train.mixed_precision=fp16"],
    "yoda+channels_last": ["train.channels_last=true"],
    "yoda+workers2": ["data.num_workers=2"],
    "yoda+compile": ["train.compile=true"],
}


def benchmark_training(args: argparse.Namespace, work: Path, device: torch.device) -> None:
    base = [
        f"data.train_dir={work / 'train'}",
        "data.val_dir=",
        f"data.hr_size={args.hr_size}",
        f"train.batch_size={args.batch}",
        "train.steps=1000000000",  # never reached: no final checkpoint inside the timing
        "train.checkpoint_every=1000000000",
    ]
    steps: dict[str, Step] = {"plain": plain_loop(ExperimentConfig.load(args.config, base), device)}
    notes: dict[str, str] = {}
    warmups: dict[str, float] = {"plain": timed(steps["plain"], args.warmup, device)}
    for name, overrides in TRAINING_OPTIONS.items():
        if name in args.skip:
            notes[name] = "skipped (--skip)"
            continue
        config = ExperimentConfig.load(args.config, base + overrides)
        try:
            step = trainer_loop(config, work / "runs" / name)
            warmups[name] = timed(step, args.warmup, device)
        except Exception as exc:  # an option this machine cannot run is reported, not fatal
            notes[name] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            traceback.print_exc()
            continue
        steps[name] = step
    if "yoda+compile" in warmups:
        notes["yoda+compile"] = (
            f"compile + {args.warmup} warm-up steps took {warmups['yoda+compile']:.1f} s"
        )
    print(
        f"\ntraining: {args.config}, batch {args.batch}, {args.hr_size} px, fp32 unless named, "
        f"{device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"{args.repeats} rounds of {args.steps} steps per variant after {args.warmup} warm-up",
        flush=True,
    )
    seconds = alternate(steps, args.steps, args.repeats, device)
    plain = seconds["plain"]
    print(f"{'variant':20s} {'steps/s':>8s} {'x plain':>8s} {'x yoda':>7s}  note")
    for name in list(steps) + [n for n in notes if n not in steps]:
        if name not in steps:
            print(f"{name:20s} {'-':>8s} {'-':>8s} {'-':>7s}  {notes[name]}")
            continue
        rate = args.steps / statistics.median(seconds[name])
        vs_plain = statistics.median(p / s for p, s in zip(plain, seconds[name], strict=True))
        vs_yoda = "-"
        if "yoda" in seconds:
            vs_yoda = "{:.3f}".format(
                statistics.median(
                    y / s for y, s in zip(seconds["yoda"], seconds[name], strict=True)
                )
            )
        note = notes.get(name, "")
        if name == "yoda":
            note = f"YODA overhead {1 - vs_plain:+.1%} (target < 5%)"
        print(f"{name:20s} {rate:8.2f} {vs_plain:8.3f} {vs_yoda:>7s}  {note}")


def benchmark_upscale(args: argparse.Namespace, work: Path, device: torch.device) -> None:
    config = ExperimentConfig.load(args.config)
    torch.manual_seed(0)
    pipe = YodaPipeline(build_model(config.model), config, device=device)
    lr_dir = work / "lr"
    lr_dir.mkdir(exist_ok=True)
    side = args.upscale_size * config.model.scale
    tiles = list_images(work / "train")[: args.upscale_images]
    inputs = []
    for path in tiles:
        hr = load_image(path)[:, :side, :side]
        inputs.append(lr_dir / path.name)
        save_image(imresize(hr, scale=1 / config.model.scale), inputs[-1])
    options = {"sampler": "ddim", "steps": args.upscale_steps, "seed": 0}
    batches = {1: 1, args.upscale_batch: args.upscale_batch}
    runs = {b: 0 for b in batches}

    def upscale(batch: int) -> Step:
        def step() -> None:
            runs[batch] += 1
            out = work / "up" / f"b{batch}_{runs[batch]}"
            upscale_files(pipe, inputs, out, batch_size=batch, **options)

        return step

    steps = {f"batch {b}": upscale(b) for b in batches}
    for step in steps.values():
        step()  # warm-up (importance source, allocator)
    seconds = alternate(steps, 1, args.repeats, device)
    print(
        f"\nupscale: {len(inputs)} LR images of {args.upscale_size} px -> x{config.model.scale}, "
        f"DDIM-{args.upscale_steps}, {config.attention.source} importance, default sparse "
        f"setting, {device}; {args.repeats} alternated rounds"
    )
    print(f"{'variant':12s} {'images/s':>9s} {'x batch 1':>10s}")
    first = seconds["batch 1"]
    for name, values in seconds.items():
        rate = len(inputs) / statistics.median(values)
        ratio = statistics.median(a / b for a, b in zip(first, values, strict=True))
        print(f"{name:12s} {rate:9.3f} {ratio:10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--config", default="sr3_tiny")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--hr-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of blocks")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per variant")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated variants to leave out (e.g. yoda+compile)",
    )
    parser.add_argument("--upscale-images", type=int, default=16)
    parser.add_argument("--upscale-batch", type=int, default=8)
    parser.add_argument("--upscale-size", type=int, default=32, help="LR side in px")
    parser.add_argument("--upscale-steps", type=int, default=20)
    parser.add_argument("--no-upscale", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke check")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats, args.warmup = 2, 2, 1
        args.upscale_images, args.upscale_batch, args.upscale_steps = 4, 4, 2
    args.skip = {name for name in args.skip.split(",") if name}
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    device = torch.device(args.device)
    if device.type == "cpu":  # the Trainer's Accelerator would take a GPU if there is one
        os.environ["ACCELERATE_USE_CPU"] = "true"
    with tempfile.TemporaryDirectory(prefix="train_throughput_") as tmp:
        work = Path(tmp)
        write_demo_images(work / "train", work / "test", tiles_per_photo=4 if args.quick else 16)
        benchmark_training(args, work, device)
        if not args.no_upscale:
            benchmark_upscale(args, work, device)


if __name__ == "__main__":
    main()
