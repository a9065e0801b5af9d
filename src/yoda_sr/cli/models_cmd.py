"""``yoda-sr models``: list the bundled default models (without importing torch)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the bundled models (names for upscale --model)",
        description=(
            "List the models shipped with this installation of yoda-sr: name, size on disk, "
            "a one-line summary and the model card's path. `upscale` without --model uses "
            "the default (marked *)."
        ),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """0, also when none is installed (then says how to create them)."""
    from yoda_sr.pipeline.bundled import CREATE_HINT, DEFAULT_MODEL, describe_names, list_bundled

    models = list_bundled()
    if not models:
        print(f"no bundled models installed ({describe_names()}); {CREATE_HINT}")
        return 0
    width = max(len(model.name) for model in models) + 2
    for model in models:
        mark = "*" if model.name == DEFAULT_MODEL else " "
        size = f"{model.size_bytes / 1e6:.1f} MB"
        print(f"{mark} {model.name:{width}s}{size:>9s}  {model.summary}")
        print(f"  {'':{width}s}{'':9s}  card: {model.card_path}")
    print(f"* default of `yoda-sr upscale` without --model ({DEFAULT_MODEL})")
    return 0
