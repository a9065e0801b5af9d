"""``yoda-sr evaluate``: score a trained model on an image folder under the field's protocol."""

from __future__ import annotations

import argparse
import sys

from yoda_sr.cli.arguments import add_color_fix_argument, add_sparse_argument, positive_int
from yoda_sr.degradations.presets import PRESETS
from yoda_sr.diffusion.config import SAMPLERS
from yoda_sr.metrics.protocol import LPIPS_NET, LPIPS_NETS
from yoda_sr.pipeline.bundled import MODEL_RULE
from yoda_sr.pipeline.options import WEIGHTS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="PSNR/SSIM (RGB and Y), LPIPS and colour shift of a model vs bicubic",
        description=(
            "Make LR images from HR images (mod-crop, MATLAB bicubic, 8-bit), upscale them "
            "with the model and with bicubic, and write per_image.csv, summary.json (means and "
            "the full protocol), crops/ and samples/ into --out."
        ),
    )
    parser.add_argument(
        "--model",
        required=True,
        help=f"bundled model name, run folder, saved pipeline folder or Hub id; {MODEL_RULE}",
    )
    parser.add_argument("--data", required=True, help="folder of HR images")
    parser.add_argument("--scale", required=True, type=positive_int, help="SR scale factor")
    parser.add_argument("--out", required=True, help="results folder")
    parser.add_argument("--lr-data", default=None, help="paired LR folder (same file stems)")
    parser.add_argument(
        "--degradation",
        choices=list(PRESETS),
        default=None,
        metavar="NAME",
        help="make the inputs with this preset instead of bicubic (image i seeded (0, 0, i)): "
        + ", ".join(PRESETS)
        + "; for shared inputs make a set once with `yoda-sr degrade` and pass --lr-data",
    )
    parser.add_argument(
        "--sampler", choices=SAMPLERS, default=None, help="default: the model config's"
    )
    parser.add_argument("--steps", type=positive_int, default=None, help="sampling steps")
    parser.add_argument("--eta", type=float, default=None, help="DDIM eta (>= 0)")
    parser.add_argument("--no-yoda", action="store_true", help="plain backbone (mask = 1)")
    parser.add_argument(
        "--lower-bound", type=float, default=None, help="YODA lower bound l in [0, 1]"
    )
    add_sparse_argument(parser)
    add_color_fix_argument(parser)
    parser.add_argument("--limit", type=positive_int, default=None, help="first N images only")
    parser.add_argument("--seed", type=int, default=0, help="image i is sampled with seed + i")
    parser.add_argument("--lpips-net", choices=LPIPS_NETS, default=LPIPS_NET)
    parser.add_argument("--label", default=None, help="method name in tables")
    parser.add_argument("--weights", choices=WEIGHTS, default=WEIGHTS[0])
    parser.add_argument(
        "--samples", type=int, default=4, help="images with saved samples/ and crops/ (>= 0)"
    )
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """0: all images scored; 1: some input files skipped (named); 2: bad options or model."""
    from yoda_sr.attention import WeightsNotFoundError
    from yoda_sr.degradations import DegradationConfig
    from yoda_sr.distributed import shard_for
    from yoda_sr.evaluation import evaluate_run
    from yoda_sr.imaging import ImageReadError

    try:
        result = evaluate_run(
            args.model,
            args.data,
            args.out,
            scale=args.scale,
            lr_dir=args.lr_data,
            limit=args.limit,
            device=args.device,
            weights=args.weights,
            lpips_net=args.lpips_net,
            degradation=DegradationConfig(args.degradation) if args.degradation else None,
            label=args.label,
            sampler=args.sampler,
            steps=args.steps,
            eta=args.eta,
            use_yoda=not args.no_yoda,
            lower_bound=args.lower_bound,
            sparse=args.sparse,
            color_fix=args.color_fix,
            seed=args.seed,
            num_samples=args.samples,
            progress=True,
        )
    except (FileNotFoundError, ValueError, ImageReadError, WeightsNotFoundError) as exc:
        print(f"yoda-sr evaluate: error: {exc}", file=sys.stderr)
        return 2
    if not shard_for(args.device).is_main:  # one report per run, not one per process
        return 0
    lpips = result.summary["protocol"]["lpips"]
    for method, means in result.summary["results"].items():
        print(
            f"{method:>24}: PSNR-Y {means['psnr_y']:.2f} dB, SSIM-Y {means['ssim_y']:.4f}, "
            f"PSNR-RGB {means['psnr_rgb']:.2f} dB, dE2000 {means['delta_e2000']:.3f}, "
            f"{means['seconds_per_image']:.2f} s/image"
            + (f", LPIPS {means['lpips']:.4f}" if means["lpips"] is not None else "")
            + (
                f"; ideal speed-up {means['ideal_speedup']:.2f}x, "
                f"{means['denoiser_calls']:.0f} denoiser calls, "
                f"{means['evaluated_fraction']:.1%} of dense pixels evaluated"
                if means["ideal_speedup"] is not None
                else ""
            )
        )
    if not lpips["available"]:
        print(f"LPIPS not computed: {lpips['unavailable_reason']}")
    print(f"results in {result.out_dir}")
    for message in result.skipped:
        print(f"yoda-sr evaluate: error: {message}; skipped", file=sys.stderr)
    return 1 if result.skipped else 0
