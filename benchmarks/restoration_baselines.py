"""Classical restoration baselines on shared photos: one table per restoration preset.

For each preset an evaluation set is made once (``yoda_sr.degradations.make_eval_set``:
centre crops of the val photos, seed 0) under ``--out``, then the degraded input and the
scikit-image baselines that fit it are scored (``yoda_sr.evaluation.restoration``): PSNR/SSIM
on RGB and Y, CIEDE2000 of the mean colours, the no-reference PIQE (lower is better) and
seconds per image. Run with ``OMP_NUM_THREADS=1`` on a shared machine:

    python benchmarks/restoration_baselines.py --photos benchmarks/data/photos/val --limit 4 --crop 192
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from yoda_sr.degradations import DegradationConfig, make_eval_set
from yoda_sr.evaluation.restoration import evaluate_baselines

PRESETS = (
    "denoise-sigma15",
    "denoise-sigma25",
    "denoise-sigma50",
    "deblur-gaussian",
    "deblur-box",
    "jpeg-q10",
    "jpeg-q20",
    "jpeg-q30",
    "jpeg-q40",
)
COLUMNS = ("psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y", "delta_e2000", "piqe", "seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="benchmarks/data/photos/val")
    parser.add_argument("--out", default="benchmarks/out/restoration_sets")
    parser.add_argument("--limit", type=int, default=4, help="first N photos")
    parser.add_argument("--crop", type=int, default=192, help="centre crop side (px)")
    parser.add_argument("--presets", default=",".join(PRESETS))
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"{args.limit} photos of {args.photos}, centre crops of {args.crop} px, seed 0\n")
    for preset in args.presets.split(","):
        set_dir = Path(args.out) / preset
        make_eval_set(
            args.photos, set_dir, DegradationConfig(preset), limit=args.limit, crop=args.crop
        )
        means = evaluate_baselines(set_dir)["means"]
        print(f"### {preset}\n")
        print("| method | " + " | ".join(COLUMNS) + " |")
        print("|---" * (len(COLUMNS) + 1) + "|")
        for method, values in means.items():
            cells = [
                f"{values[c]:.4f}" if c.startswith("ssim") else f"{values[c]:.2f}" for c in COLUMNS
            ]
            print(f"| {method} | " + " | ".join(cells) + " |")
        print()
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
