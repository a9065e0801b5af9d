"""``yoda-sr`` entry point: dispatches to one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Subcommand -> module under yoda_sr.cli exposing ``add_parser(subparsers)``; each parser sets
# ``func(args) -> int``.
COMMANDS = {
    "attention": "attention_cmd",
    "train": "train_cmd",
    "upscale": "upscale_cmd",
    "models": "models_cmd",
    "examples": "examples_cmd",
    "evaluate": "evaluate_cmd",
    "compare": "compare_cmd",
    "degrade": "degrade_cmd",
    "demo": "demo_cmd",
    "ui": "ui_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yoda-sr", description="YODA attention-guided diffusion super-resolution."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMANDS.values():
        importlib.import_module(f"yoda_sr.cli.{module_name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
