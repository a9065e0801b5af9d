"""``yoda-sr upscale``: super-resolve images with a bundled model, a run or saved folder, or a
Hub id."""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING

from yoda_sr.cli.arguments import add_color_fix_argument, add_sparse_argument
from yoda_sr.diffusion.config import SAMPLERS
from yoda_sr.pipeline.bundled import DEFAULT_MODEL, MODEL_RULE
from yoda_sr.pipeline.options import DEFAULT_TILE_OVERLAP

if TYPE_CHECKING:
    from yoda_sr.pipeline import UpscaleOutput


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "upscale",
        help="super-resolve images with a trained model",
        description=(
            "Write <stem>_x<scale>.png for each INPUT into --out (the whole file name instead "
            "of the stem where inputs share a stem, e.g. a.png and a.jpg)."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="LR image files")
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=(
            "bundled model name (`yoda-sr models` lists them), run folder, saved pipeline "
            f"folder or Hub id (default: the bundled {DEFAULT_MODEL}); {MODEL_RULE}"
        ),
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--sampler", choices=SAMPLERS, default=None, help="default: the model config's"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="sampling steps (1..T; default: the config's)"
    )
    parser.add_argument("--eta", type=float, default=None, help="DDIM eta (>= 0)")
    parser.add_argument("--no-yoda", action="store_true", help="plain backbone (mask = 1)")
    parser.add_argument(
        "--lower-bound", type=float, default=None, help="YODA lower bound l in [0, 1]"
    )
    parser.add_argument("--seed", type=int, default=0, help="every image is sampled with it")
    parser.add_argument(
        "--save-masks", action="store_true", help="also write <stem>_masks.png (masks over time)"
    )
    parser.add_argument(
        "--tile",
        type=int,
        default=None,
        help="run the network on HR tiles of this size (bounded memory; skips inactive tiles)",
    )
    parser.add_argument(
        "--tile-overlap",
        type=int,
        default=DEFAULT_TILE_OVERLAP,
        help="HR px of context around the core each tile writes",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help=(
            "sample up to this many inputs of the same size in one network batch (faster on a "
            "GPU; each image keeps its own noise)"
        ),
    )
    add_sparse_argument(parser)
    add_color_fix_argument(parser)
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)"
    )
    parser.set_defaults(func=run)


def print_work(name: str, result: UpscaleOutput) -> None:
    """One line per pipeline call (``name``: its inputs): the network work of its sampling."""
    if not result.active_fraction:
        return
    speedup = result.ideal_speedup
    print(
        f"{name}: ideal speed-up "
        + (f"{speedup:.2f}x" if math.isfinite(speedup) else "unbounded (no pixel diffused)")
        + f", {result.denoiser_calls} "
        f"denoiser calls ({result.network_calls} network calls), "
        f"{result.pixels_evaluated} pixels evaluated "
        f"({result.evaluated_fraction:.1%} of dense)"
    )


def run(args: argparse.Namespace) -> int:
    """0: all images written; 1: some inputs could not be read; 2: bad options or model."""
    from yoda_sr.attention import WeightsNotFoundError
    from yoda_sr.distributed import shard_for
    from yoda_sr.jobs import upscale_files
    from yoda_sr.pipeline import YodaPipeline

    try:
        shard = shard_for(args.device)
        pipe = YodaPipeline.from_pretrained(args.model, device=shard.device)
        failures = upscale_files(
            pipe,
            args.inputs,
            args.out,
            sampler=args.sampler,
            steps=args.steps,
            eta=args.eta,
            use_yoda=not args.no_yoda,
            lower_bound=args.lower_bound,
            seed=args.seed,
            save_masks=args.save_masks,
            tile=args.tile,
            tile_overlap=args.tile_overlap,
            sparse=args.sparse,
            progress=shard.is_main,
            shard=shard,
            report=print_work,
            batch_size=args.batch_size,
            color_fix=args.color_fix,
        )
    except (FileNotFoundError, ValueError, WeightsNotFoundError) as exc:
        print(f"yoda-sr upscale: error: {exc}", file=sys.stderr)
        return 2
    for failure in failures:
        print(f"yoda-sr upscale: error: {failure}", file=sys.stderr)
    # Every process reports the failures of all, so they end together with the same status.
    return 1 if sum(shard.gather([len(failures)])) else 0
