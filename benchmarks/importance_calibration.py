"""Calibrate the absolute detail importance (issue 19): ``attention.detail_reference``.

Prints the quantiles of the pooled gradient magnitude (``DetailImportance.energy``, luma
units per LR pixel) over the LR images of the study's training tiles (every third tile of
``train_compare.prepare_photos``: 192 px HR tiles, MATLAB-bicubic x1/4, 8-bit), then, for each
crop of ``eval_crops`` (val, flat, dark, noisy, large), its mean LR gradient and the diffused
share of pixel-steps at l = 0.3 (``mean(min(1, A + l))``, T -> infinity) under per-image
normalisation and under absolute normalisation with several references. First it prints what
8-bit rounding alone gives: the pooled gradient magnitude of smooth ramps (slopes 0.05-0.8
grey levels per LR pixel, random directions, seed 0) before and after rounding, which
``DEFAULT_DETAIL_FLOOR`` (one grey level per LR pixel) must lie above.

    bash ../shared/data/fetch_photos.sh benchmarks/data/photos
    HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/importance_calibration.py

The library's ``DEFAULT_DETAIL_REFERENCE`` (0.1) is the 0.9 quantile printed here, rounded; it
is also the median over the tiles of each tile's 0.98 quantile (what per-image normalisation
divides by), so a model trained with per-image maps sees, on a typical training tile, the
importance it was trained with.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

from yoda_sr.attention import DetailImportance, calibrate_detail_reference
from yoda_sr.attention.config import DEFAULT_DETAIL_FLOOR, DEFAULT_DETAIL_REFERENCE
from yoda_sr.imaging import list_images, load_image
from yoda_sr.imaging.resize import make_lr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from eval_crops import CROP, SCALE, crop_sets, mean_gradient  # noqa: E402
from train_compare import prepare_photos  # noqa: E402

QUANTILES = (0.5, 0.75, 0.8, 0.9, 0.95, 0.98)
REFERENCES = (0.05, 0.1, 0.15, 0.2)
LOWER_BOUND = 0.3
RAMP_SLOPES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8)  # grey levels per LR pixel


def rounding_energy() -> None:
    """Print the pooled gradient magnitude (grey levels per LR pixel) of smooth 48 px ramps,
    x4, before and after 8-bit rounding: what quantisation alone adds to a flat region."""
    source = DetailImportance(max_analysis_pixels=None)
    generator = torch.Generator().manual_seed(0)
    y, x = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    print("8-bit rounding of smooth ramps (pooled gradient, grey levels / LR px):")
    for slope in RAMP_SLOPES:
        angle = float(torch.rand(1, generator=generator)) * torch.pi
        luma = 0.5 + slope / 255 * (x * math.cos(angle) + y * math.sin(angle))
        smooth = luma.expand(1, 3, 48, 48)
        rounded = (smooth * 255).round() / 255
        before = float(source.energy(smooth, (192, 192)).max()) * 255
        after = source.energy(rounded, (192, 192)) * 255
        print(
            f"  slope {slope:4.2f}: smooth max {before:.2f}; rounded max {float(after.max()):.2f}, "
            f"0.99 quantile {float(torch.quantile(after.flatten(), 0.99)):.2f}"
        )
    print(f"library default detail_floor: {DEFAULT_DETAIL_FLOOR * 255:g} grey levels / LR px\n")


def share(importance: torch.Tensor) -> float:
    """Diffused share of pixel-steps at ``LOWER_BOUND`` for a map in [0, 1]."""
    return float((importance + LOWER_BOUND).clamp(max=1.0).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=HERE / "data" / "photos")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "colour")
    args = parser.parse_args()
    rounding_energy()
    sets = crop_sets(args.photos)
    data = prepare_photos(args.photos, args.out / "data", CROP, CROP, 24)
    tiles = list_images(data / "train_tiles")[::3]
    lrs = [make_lr(load_image(path), SCALE)[1][None] for path in tiles]
    print(f"pooled gradient magnitude over {len(lrs)} training LR tiles (luma units / LR px):")
    for q in QUANTILES:
        print(f"  quantile {q:.2f}: {calibrate_detail_reference(lrs, SCALE, quantile=q):.4f}")
    source = DetailImportance(max_analysis_pixels=None)
    per_tile = torch.tensor(
        [
            float(
                torch.quantile(
                    source.energy(lr, (lr.shape[-2] * SCALE, lr.shape[-1] * SCALE)), 0.98
                )
            )
            for lr in lrs
        ]
    )
    # What per-image normalisation divided by on a typical training tile: with this reference
    # a model trained per image sees, on such a tile, the importance it was trained with.
    print(f"  median over tiles of each tile's 0.98 quantile: {float(per_tile.median()):.4f}")
    print(f"library default detail_reference: {DEFAULT_DETAIL_REFERENCE}")
    print(
        f"\ndiffused share at l = {LOWER_BOUND}: per-image | absolute with reference "
        + " / ".join(f"{r:g}" for r in REFERENCES)
    )
    per_image = DetailImportance(normalization="per_image")
    for set_name, crops in sets.items():
        for name, _, lr in crops:
            batch = lr[None]
            size = (lr.shape[-2] * SCALE, lr.shape[-1] * SCALE)
            energy = source.energy(batch, size)
            absolute = " / ".join(f"{share((energy / r).clamp(0, 1)):.2f}" for r in REFERENCES)
            print(
                f"{set_name:6s} {name:28s} LR gradient {mean_gradient(lr):6.2f}  "
                f"{share(per_image(batch, size)):.2f} | {absolute}"
            )


if __name__ == "__main__":
    main()
