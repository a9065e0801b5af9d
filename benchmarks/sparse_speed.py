"""Compute saved by YODA's sparse diffusion: tiled sampling that skips inactive tiles.

For one real image, runs DDIM sampling of a tiny SR3 (a trained run folder with --model,
else randomly initialised: speed does not depend on the weights) in one process:

- full image, no YODA (baseline) and full image with YODA (same network work: YODA alone
  does not skip any pixel of a full-image call);
- tiled without skipping (the overhead of overlapping tiles);
- tiled with skipping of tiles that have no active pixel (the saving),

for several lower bounds ``l``, and prints wall time, the fraction of tile evaluations run,
the speed-up against the full-image YODA run, and the PSNR between the tiled and the
full-image output (how close the tiled approximation is).

    python benchmarks/sparse_speed.py --image photo.png --size 384 --tile 96 --overlap 16
"""

from __future__ import annotations

import argparse
import time

import torch

from yoda_sr.config import ExperimentConfig
from yoda_sr.imaging import imresize, load_image, quantize
from yoda_sr.metrics import psnr
from yoda_sr.models import build_model
from yoda_sr.pipeline import YodaPipeline


def default_image() -> torch.Tensor:
    from skimage import data

    return torch.from_numpy(data.astronaut().copy()).permute(2, 0, 1).float() / 255.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", default=None, help="HR image (default: skimage astronaut)")
    parser.add_argument("--model", default=None, help="run folder (default: random sr3_tiny)")
    parser.add_argument("--size", type=int, default=384, help="HR centre crop size")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--tile", type=int, default=96)
    parser.add_argument("--overlap", type=int, default=16)
    parser.add_argument("--lower-bounds", default="0.0,0.1,0.3")
    args = parser.parse_args()
    torch.manual_seed(0)

    if args.model:
        pipe = YodaPipeline.from_pretrained(args.model)
    else:
        config = ExperimentConfig.load("sr3_tiny")
        pipe = YodaPipeline(build_model(config.model), config)
    scale = pipe.scale
    hr = load_image(args.image) if args.image else default_image()
    _, h, w = hr.shape
    top, left = (h - args.size) // 2, (w - args.size) // 2
    hr = hr[:, top : top + args.size, left : left + args.size]
    lr = quantize(imresize(hr, scale=1 / scale))[None]
    importance = pipe.importance(lr)

    def run(**kwargs):
        start = time.perf_counter()
        out = pipe(
            lr,
            sampler="ddim",
            num_inference_steps=args.steps,
            generator=torch.Generator().manual_seed(0),
            importance=importance,
            **kwargs,
        )
        return out, time.perf_counter() - start

    print(
        f"{args.size}px HR (x{scale}), DDIM-{args.steps}, tile {args.tile} overlap {args.overlap}, "
        f"attention source {pipe.config.attention.source}, {torch.get_num_threads()} threads"
    )
    base, base_time = run(use_yoda=False)
    print(f"baseline (no YODA, full image): {base_time:6.2f} s, {base.denoiser_calls} calls")
    header = (
        f"{'l':>4s} {'active':>7s} {'full s':>7s} {'tiled s':>8s} {'skip s':>7s} "
        f"{'tiles run':>9s} {'speed-up':>8s} {'PSNR tiled~full':>15s}"
    )
    print(header)
    for lower in (float(v) for v in args.lower_bounds.split(",")):
        full, full_time = run(lower_bound=lower)
        _, tiled_time = run(
            lower_bound=lower, tile=args.tile, tile_overlap=args.overlap, tile_skip_inactive=False
        )
        skip, skip_time = run(lower_bound=lower, tile=args.tile, tile_overlap=args.overlap)
        active = sum(full.active_fraction) / len(full.active_fraction)
        run_fraction = skip.tiles_evaluated / max(skip.tiles_total, 1)
        close = psnr(skip.images[0], full.images[0])
        print(
            f"{lower:4.2f} {active:7.1%} {full_time:7.2f} {tiled_time:8.2f} {skip_time:7.2f} "
            f"{run_fraction:9.1%} {full_time / skip_time:7.2f}x {close:15.2f}"
        )


if __name__ == "__main__":
    main()
