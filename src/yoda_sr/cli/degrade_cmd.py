"""``yoda-sr degrade``: make an evaluation set (degraded inputs + their parameters) once."""

from __future__ import annotations

import argparse
import sys

from yoda_sr.cli.arguments import positive_int
from yoda_sr.degradations.presets import PRESETS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "degrade",
        help="make an evaluation set: degraded inputs saved as PNG with their parameters",
        description=(
            "Degrade each HR image of --data with a preset (image i seeded with (seed, 0, i)) "
            "and write OUT/hr/*.png (the references, mod-cropped), OUT/lr/*.png (the inputs) "
            "and OUT/degradation.json (preset, parameters, seed, what each image drew). "
            "Score a model on it with `yoda-sr evaluate --data OUT/hr --lr-data OUT/lr`."
        ),
    )
    parser.add_argument("--degradation", required=True, choices=list(PRESETS), metavar="NAME",
                        help="preset: " + ", ".join(PRESETS))  # fmt: skip
    parser.add_argument("--data", required=True, help="folder of HR images")
    parser.add_argument("--out", required=True, help="the set folder")
    parser.add_argument(
        "--scale", type=positive_int, default=None, help="scale of the 'bicubic' preset"
    )
    parser.add_argument("--seed", type=int, default=0, help="the set's seed (default 0)")
    parser.add_argument("--limit", type=positive_int, default=None, help="first N images only")
    parser.add_argument(
        "--crop", type=positive_int, default=None, help="centre-crop HR images to N x N first"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a preset parameter, e.g. --set sigma=30 (values parsed as YAML)",
    )
    parser.add_argument(
        "--verify", action="store_true", help="only check that OUT's inputs reproduce"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """0: written (or, with --verify, reproduced); 1: some inputs differ; 2: bad options."""
    import yaml

    from yoda_sr.degradations import DegradationConfig, make_eval_set, verify_eval_set
    from yoda_sr.imaging import ImageReadError

    try:
        if args.verify:
            differing = verify_eval_set(args.out)
            for name in differing:
                print(
                    f"yoda-sr degrade: {name}: the saved input does not reproduce", file=sys.stderr
                )
            print(f"{args.out}: {'all inputs reproduce' if not differing else 'inputs differ'}")
            return 1 if differing else 0
        options = {}
        for item in args.set:
            if "=" not in item:
                raise ValueError(f"--set {item!r}: expected key=value, e.g. sigma=30")
            key, value = item.split("=", 1)
            options[key.strip()] = yaml.safe_load(value)
        record = make_eval_set(
            args.data,
            args.out,
            DegradationConfig(args.degradation, options),
            scale=args.scale,
            seed=args.seed,
            limit=args.limit,
            crop=args.crop,
        )
    except (FileNotFoundError, ValueError, ImageReadError) as exc:
        print(f"yoda-sr degrade: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{len(record['images'])} image(s) degraded with {args.degradation} "
        f"(x{record['scale']}, seed {args.seed}) into {args.out}"
    )
    return 0
