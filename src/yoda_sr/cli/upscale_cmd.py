"""``yoda-sr upscale``: super-resolve images with a trained run folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tqdm.auto import tqdm

from yoda_sr.data.io import ImageReadError, load_image, save_image


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("upscale", help="super-resolve images with a trained model")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="LR image files")
    parser.add_argument("--model", required=True, help="run folder or saved pipeline folder")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--sampler", choices=("ddpm", "ddim"), default=None)
    parser.add_argument("--steps", type=int, default=None, help="sampling steps")
    parser.add_argument("--eta", type=float, default=None, help="DDIM eta")
    parser.add_argument("--no-yoda", action="store_true", help="plain backbone (mask = 1)")
    parser.add_argument("--lower-bound", type=float, default=None, help="YODA lower bound l")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-masks", action="store_true", help="also write importance maps")
    parser.add_argument(
        "--tile",
        type=int,
        default=None,
        help="run the network on HR tiles of this size (bounded memory; skips inactive tiles)",
    )
    parser.add_argument("--tile-overlap", type=int, default=32, help="tile overlap in HR px")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from yoda_sr.attention import WeightsNotFoundError
    from yoda_sr.distributed import shard_for
    from yoda_sr.pipeline import YodaPipeline

    try:
        shard = shard_for(args.device)
        pipe = YodaPipeline.from_pretrained(args.model, device=shard.device)
        if not args.no_yoda and pipe.is_diffusion and pipe.config.yoda.enabled:
            pipe.load_importance_source()
    except (FileNotFoundError, ValueError, WeightsNotFoundError) as exc:
        print(f"yoda-sr upscale: error: {exc}", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    mine = shard.take(args.inputs)
    for _, path in tqdm(mine, desc="images", disable=len(args.inputs) < 2 or not shard.is_main):
        try:
            lr = load_image(path)
        except ImageReadError as exc:
            print(f"yoda-sr upscale: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        generator = torch.Generator().manual_seed(args.seed)
        result = pipe(
            lr[None],
            sampler=args.sampler,
            num_inference_steps=args.steps,
            eta=args.eta,
            use_yoda=not args.no_yoda,
            lower_bound=args.lower_bound,
            generator=generator,
            progress=shard.is_main,
            tile=args.tile,
            tile_overlap=args.tile_overlap,
        )
        stem = Path(path).stem
        save_image(result.images[0], out_dir / f"{stem}_x{pipe.scale}.png")
        if args.save_masks and result.importance is not None:
            from yoda_sr.viz import mask_strip

            lower = pipe.config.yoda.lower_bound if args.lower_bound is None else args.lower_bound
            strip = mask_strip(
                result.images[0].cpu(),
                result.importance[0].cpu(),
                pipe.config.diffusion.num_train_timesteps,
                lower,
            )
            save_image(strip, out_dir / f"{stem}_masks.png")
    # Every process reports the failures of all, so they end together with the same status.
    return 1 if sum(shard.gather([failures])) else 0
