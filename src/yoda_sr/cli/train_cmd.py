"""``yoda-sr train``: train SR3 / SRDiff / RRDB, with or without YODA."""

from __future__ import annotations

import argparse
import sys

from yoda_sr.configs import bundled_configs
from yoda_sr.degradations.presets import PRESETS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model from a config",
        description=(
            "Train from a YAML config (a file or a bundled name: "
            + ", ".join(bundled_configs())
            + "). Several GPUs: `accelerate launch -m yoda_sr.cli.main train ...`."
        ),
    )
    parser.add_argument("--config", required=True, help="config file or bundled config name")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. --set train.steps=100 --set data.train_dir=photos/",
    )
    parser.add_argument(
        "--degradation",
        choices=list(PRESETS),
        default=None,
        metavar="NAME",
        help="how LR inputs are made from HR images: a preset ("
        + ", ".join(PRESETS)
        + "); same as --set degradation.preset=NAME (default: the config's, bicubic)",
    )
    parser.add_argument(
        "--output-dir", default="runs/yoda-sr", help="run folder (checkpoints, logs)"
    )
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from accelerate import PartialState

    from yoda_sr.attention import WeightsNotFoundError
    from yoda_sr.config import ExperimentConfig
    from yoda_sr.training.trainer import Trainer

    try:
        preset = [f"degradation.preset={args.degradation}"] if args.degradation else []
        config = ExperimentConfig.load(args.config, preset + args.set)
        trainer = Trainer(config, args.output_dir, resume=args.resume)
        result = trainer.train(progress=not args.no_progress)
    except (FileNotFoundError, FileExistsError, ValueError, WeightsNotFoundError) as exc:
        print(f"yoda-sr train: error: {exc}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:  # diverged: NaN/inf losses, gradients or weights
        print(f"yoda-sr train: error: {exc}", file=sys.stderr)
        return 1
    if not PartialState().is_main_process:  # one report per run, not one per process
        return 0
    last = f"{result.losses[-1]:.4f}" if result.losses else "n/a"
    print(
        f"trained to step {result.step} (loss {last}, {result.steps_per_second:.2f} steps/s); "
        f"checkpoints in {args.output_dir}/checkpoints"
    )
    if result.skipped_steps:
        print(f"  skipped {result.skipped_steps} step(s) with a NaN/inf loss or gradient")
    for step, value in result.val_psnr:
        print(f"  step {step}: validation PSNR {value:.2f} dB")
    return 0
