"""Argument types shared by the subcommands (argparse reports their errors with exit code 2)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An int >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def unit_float(text: str) -> float:
    """A float in [0, 1]."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {text}")
    return value


def add_sparse_argument(parser: argparse.ArgumentParser) -> None:
    """``--sparse`` / ``--dense``: evaluate the network only around the pixels YODA diffuses,
    or on whole images; ``--no-sparse`` is a hidden, deprecated spelling of ``--dense``."""
    from yoda_sr.pipeline.options import DEFAULT_SPARSE

    def marked(text: str, is_default: bool) -> str:
        return text + (" (the default)" if is_default else "")

    choice = parser.add_mutually_exclusive_group()
    choice.add_argument(
        "--sparse",
        action="store_true",
        default=DEFAULT_SPARSE,
        help=marked(
            "run the network at each step only on windows around the pixels YODA diffuses",
            DEFAULT_SPARSE,
        ),
    )
    choice.add_argument(
        "--dense",
        dest="sparse",
        action="store_false",
        help=marked("run the network on whole images", not DEFAULT_SPARSE),
    )
    choice.add_argument("--no-sparse", dest="sparse", action="store_false", help=argparse.SUPPRESS)


def add_color_fix_argument(parser: argparse.ArgumentParser) -> None:
    """``--color-fix none|wavelet|adain``: colour correction of the output towards the
    upsampled LR after sampling (default: the model's ``sampling.color_fix``)."""
    from yoda_sr.diffusion.config import COLOR_FIXES

    parser.add_argument(
        "--color-fix",
        choices=COLOR_FIXES,
        default=None,
        help=(
            "after sampling, take the low frequencies (wavelet) or the per-channel mean and "
            "std (adain) of the output's colour from the bicubic-upsampled LR; none: leave the "
            "output as sampled (default: the model's sampling.color_fix)"
        ),
    )
