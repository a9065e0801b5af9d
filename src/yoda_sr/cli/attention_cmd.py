"""``yoda-sr attention``: importance maps and YODA mask previews for LR images."""

from __future__ import annotations

import argparse
import sys

from yoda_sr.attention.config import NORMALIZATIONS, SOURCES, VIT_METHODS, AttentionConfig
from yoda_sr.cli.arguments import positive_int, unit_float
from yoda_sr.diffusion.config import NoiseScheduleConfig, YodaConfig

# Scale factor of the maps unless --scale is given (the usual x4 of SR benchmarks).
DEFAULT_SCALE = 4


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``attention`` subcommand; its ``func`` is :func:`run`."""
    defaults = AttentionConfig()
    parser = subparsers.add_parser(
        "attention",
        help="compute importance maps and mask previews for LR images",
        description=(
            "Treat each IMAGE as a low-resolution input and write <stem>_attention.npy "
            "(float32 importance in [0, 1] at the output size), <stem>_attention.png (heat "
            "map) and <stem>_masks.png (YODA masks M_t at several t) into --out."
        ),
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="LR image files")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default=defaults.source,
        help="importance source: DINO self-attention (needs weights), weight-free detail, or "
        "constant (--constant everywhere)",
    )
    parser.add_argument(
        "--model",
        default=defaults.model,
        help="DINO weights: hub name, local Hugging Face folder, or official DINO .pth file",
    )
    parser.add_argument("--scale", type=positive_int, default=DEFAULT_SCALE, help="SR scale factor")
    parser.add_argument(
        "--lower-bound",
        type=unit_float,
        default=YodaConfig.lower_bound,
        help="YODA lower bound l of the masks",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=NoiseScheduleConfig.num_train_timesteps,
        help="number of diffusion steps T",
    )
    parser.add_argument(
        "--head-fusion",
        default=defaults.head_fusion,
        help="mean | sum | max | heads:I,J,... (DINO only)",
    )
    parser.add_argument(
        "--analysis-size",
        type=positive_int,
        default=None,
        help="fixed square size the ViT analyses (default: the output size; DINO only)",
    )
    parser.add_argument(
        "--constant",
        type=unit_float,
        default=defaults.constant,
        help="importance of every pixel (constant source only)",
    )
    parser.add_argument(
        "--normalization",
        choices=NORMALIZATIONS,
        default=defaults.normalization,
        help="absolute: the same detail gives the same importance in every image (flat images "
        "stay low); per_image: each image's range stretched to [0, 1] (the paper's)",
    )
    parser.add_argument(
        "--vit-method",
        choices=VIT_METHODS,
        default=defaults.vit_method,
        help="where the ViT looks: native tiles at two scales, the native grid with guided "
        "upsampling, or the whole image at the output size (DINO only)",
    )
    parser.add_argument(
        "--smooth-sigma",
        type=float,
        default=defaults.smooth_sigma,
        help="Gaussian smoothing of the map in output pixels (0: none)",
    )
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """0: all images written; 1: some images could not be read; 2: bad options or weights."""
    from yoda_sr.attention import (
        IncompatibleCheckpointError,
        WeightsNotFoundError,
        build_importance_source,
    )
    from yoda_sr.device import resolve_device
    from yoda_sr.jobs import export_attention_maps

    try:
        config = AttentionConfig(
            source=args.source,
            model=args.model,
            head_fusion=args.head_fusion,
            analysis_size=args.analysis_size,
            smooth_sigma=args.smooth_sigma,
            constant=args.constant,
            normalization=args.normalization,
            vit_method=args.vit_method,
        )
        source = build_importance_source(config, device=resolve_device(args.device))
        failures = export_attention_maps(
            args.images,
            args.out,
            source,
            scale=args.scale,
            num_train_timesteps=args.steps,
            lower_bound=args.lower_bound,
        )
    except (WeightsNotFoundError, IncompatibleCheckpointError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0
