"""``yoda-sr examples``: write small example inputs made from the bundled public-domain photos."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "examples",
        help="write small example inputs (public-domain photos) to try upscale on",
        description=(
            "Write small LR images (longer side 96 px) made from public-domain photos bundled "
            "with scikit-image, and an HR crop of the cat as a reference, into --out. Prints "
            "the LR paths, one a line, so `yoda-sr upscale $(yoda-sr examples) --out sr` "
            "upscales them all."
        ),
    )
    parser.add_argument("--out", default="examples", help="output folder (default examples)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace example files already in --out"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """0: written; 2: a photo could not be loaded, --out is not a folder or already holds
    example files (without --overwrite)."""
    from yoda_sr.evaluation.demo_data import write_examples
    from yoda_sr.files import OutputWriteError

    try:
        lr_paths, hr_path = write_examples(args.out, overwrite=args.overwrite)
    except (FileExistsError, NotADirectoryError) as exc:
        if Path(args.out).is_dir():  # example files there already
            print(f"yoda-sr examples: error: {exc}", file=sys.stderr)
        else:
            print(f"yoda-sr examples: error: --out {args.out} is not a folder", file=sys.stderr)
        return 2
    except OutputWriteError as exc:
        print(f"yoda-sr examples: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:  # a photo scikit-image could not load
        print(f"yoda-sr examples: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(str(path) for path in lr_paths))
    print(f"HR reference of {lr_paths[0].name}'s face (for the web UI): {hr_path}", file=sys.stderr)
    return 0
