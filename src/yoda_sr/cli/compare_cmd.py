"""``yoda-sr compare``: table, plots, image grids and an HTML page from evaluation folders."""

from __future__ import annotations

import argparse
import sys

from yoda_sr.cli.arguments import positive_int


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare `yoda-sr evaluate` result folders",
        description=(
            "Write comparison.md/.csv (bicubic once + each folder's model), metrics.png, "
            "psnr_vs_steps.png (folders differing only in steps), grids/ (LR, bicubic, each "
            "method, HR, attention) and report.html into --out."
        ),
    )
    parser.add_argument("results", nargs="+", metavar="RESULT_DIR", help="evaluation folders")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--crop", type=positive_int, default=192, help="grid tiles: square crop side in HR px"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from yoda_sr.evaluation import compare_results

    try:
        result = compare_results(args.results, args.out, crop=args.crop)
    except (FileNotFoundError, ValueError) as exc:
        print(f"yoda-sr compare: error: {exc}", file=sys.stderr)
        return 2
    print(result.files["markdown"].read_text())
    print(f"report: {result.files['report']}")
    return 0
