"""``yoda-sr demo``: evaluate the bundled models, train tiny SR3 and SR3+YODA on bundled photos
and write report.html."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from yoda_sr.cli.arguments import positive_int


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="a few minutes on CPU: bundled models, then tiny SR3 vs SR3+YODA, as report.html",
        description=(
            "Upscale held-out crops of a public-domain photo bundled with scikit-image (no "
            "download) with each installed bundled model (`yoda-sr models`), then train tiny "
            "SR3 and SR3+YODA models on other such photos and upscale the same crops; evaluate "
            "all against bicubic and write --out/report.html, bundled models first. A "
            "demonstration of the pipeline, not the paper's results."
        ),
    )
    parser.add_argument("--out", default="yoda-demo", help="output folder (default yoda-demo)")
    parser.add_argument("--steps", type=int, default=None, help="training steps per model")
    parser.add_argument(
        "--fast", action="store_true", help="seconds-long smoke version (outputs are noise)"
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="torch CPU threads (default: torch's choice)",
    )
    parser.add_argument(
        "--no-train", action="store_true", help="only the bundled models (no quick training)"
    )
    parser.add_argument(
        "--no-bundled", action="store_true", help="only the quick training (no bundled models)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace earlier demo output")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from yoda_sr.evaluation.demo import DemoSettings, run_demo

    if args.steps is not None and args.steps < 1:
        print("yoda-sr demo: error: --steps must be a positive integer", file=sys.stderr)
        return 2
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    settings = DemoSettings.fast() if args.fast else DemoSettings()
    if args.steps is not None:
        settings = dataclasses.replace(settings, train_steps=args.steps)
    try:
        result = run_demo(
            args.out,
            settings,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            bundled=not args.no_bundled,
            train=not args.no_train,
        )
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"yoda-sr demo: error: {exc}", file=sys.stderr)
        return 2
    for comparison in (result.bundled, result.comparison):
        if comparison is not None:
            print()
            print(comparison.files["markdown"].read_text())
    print(f"demo wall time: {result.wall_seconds:.0f} s; open {result.report}")
    return 0
