"""Train tiny SR3 / SRDiff with and without YODA on real photos and compare them.

Prints PSNR/SSIM (RGB and Y, crop border = scale), colour shift and training speed for
bicubic, SR3, SR3+YODA, SRDiff and SRDiff+YODA on held-out photos, all models with the same
step budget, batch and patch size. Data: the project's shared photos
(``../shared/data/fetch_photos.sh``) or any folder with ``train/`` and ``val/`` images.

    python benchmarks/train_compare.py --photos /tmp/photos --steps 1400

Large photos are first cut into ``--tile`` px sub-images (as BasicSR's extract_subimages
does for DIV2K) so that data loading does not dominate a CPU run; validation uses one
centre crop of ``--val-size`` px per val photo.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import torch

from yoda_sr.config import ExperimentConfig
from yoda_sr.imaging import imresize, list_images, load_image, quantize, save_image
from yoda_sr.metrics import evaluate_pair
from yoda_sr.models import bicubic_up
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.training.trainer import Trainer

HERE = Path(__file__).resolve().parent
SHARED_FETCH = HERE.parent.parent / "shared" / "data" / "fetch_photos.sh"


def fetch_shared_photos(photos: Path) -> None:
    """Write the shared photos (train/, val/, faces/) into ``photos`` with the shared script."""
    if not SHARED_FETCH.is_file():
        raise FileNotFoundError(f"{photos}: no photos there and no {SHARED_FETCH} to fetch them")
    subprocess.run(["bash", str(SHARED_FETCH), str(photos)], check=True)


def prepare_photos(photos: Path, work: Path, tile: int, val_size: int, per_photo: int) -> Path:
    """Cut train photos into tiles and val photos into one centre crop; returns ``work``
    (at once, photos unread, when it already holds both)."""
    train_dir, val_dir = work / "train_tiles", work / "val_crops"
    if train_dir.is_dir() and val_dir.is_dir():
        return work
    if not (photos / "train").is_dir():
        fetch_shared_photos(photos)
    for split_dir in (train_dir, val_dir):
        split_dir.mkdir(parents=True, exist_ok=True)
    for path in list_images(photos / "train"):
        image = load_image(path)
        _, h, w = image.shape
        tops = range(0, h - tile + 1, tile)
        lefts = range(0, w - tile + 1, tile)
        coords = [(t, left) for t in tops for left in lefts]
        stride = max(1, len(coords) // per_photo)
        for i, (t, left) in enumerate(coords[::stride][:per_photo]):
            save_image(
                image[:, t : t + tile, left : left + tile], train_dir / f"{path.stem}_{i:02d}.png"
            )
    for path in list_images(photos / "val"):
        image = load_image(path)
        _, h, w = image.shape
        t, left = (h - val_size) // 2, (w - val_size) // 2
        save_image(image[:, t : t + val_size, left : left + val_size], val_dir / f"{path.stem}.png")
    return work


def evaluate(
    pipe: YodaPipeline | None, hr_images: list[torch.Tensor], scale: int, steps: int
) -> dict:
    """Mean metrics over the val crops (bicubic when ``pipe`` is None) + seconds per image."""
    rows, seconds = [], 0.0
    for hr in hr_images:
        lr = quantize(imresize(hr, scale=1 / scale))[None]
        start = time.perf_counter()
        if pipe is None:
            sr = (bicubic_up(lr, scale)[0] + 1) / 2
        else:
            sr = pipe(
                lr,
                sampler="ddim",
                num_inference_steps=steps,
                generator=torch.Generator().manual_seed(0),
            ).images[0]
        seconds += time.perf_counter() - start
        rows.append(evaluate_pair(sr, hr, crop_border=scale))
    keys = ("psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y", "delta_e76", "mean_diff_norm")
    summary = {k: sum(r[k] for r in rows) / len(rows) for k in keys}
    summary["seconds_per_image"] = seconds / len(rows)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=Path, default=HERE / "data" / "photos")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "train_compare")
    parser.add_argument("--steps", type=int, default=1400)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--hr-size", type=int, default=64)
    parser.add_argument("--tile", type=int, default=192)
    parser.add_argument("--per-photo", type=int, default=24)
    parser.add_argument("--val-size", type=int, default=192)
    parser.add_argument("--sample-steps", type=int, default=50)
    parser.add_argument("--lower-bound", type=float, default=0.3)
    parser.add_argument("--methods", default="sr3,sr3_yoda,srdiff,srdiff_yoda")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    work = prepare_photos(args.photos, args.out / "data", args.tile, args.val_size, args.per_photo)
    hr_val = [load_image(p) for p in list_images(work / "val_crops")]
    common = [
        f"data.train_dir={work / 'train_tiles'}",
        "data.val_dir=",
        f"data.hr_size={args.hr_size}",
        f"train.steps={args.steps}",
        f"train.batch_size={args.batch}",
        f"train.seed={args.seed}",
        f"train.checkpoint_every={args.steps}",
        f"yoda.lower_bound={args.lower_bound}",
    ]
    results: dict[str, dict] = {"bicubic": evaluate(None, hr_val, 4, 0)}
    methods = args.methods.split(",")
    needs_encoder = any(m.startswith("srdiff") for m in methods)
    rrdb_dir = args.out / "rrdb"
    if needs_encoder:
        rate = None
        if not (rrdb_dir / "checkpoints").is_dir():
            config = ExperimentConfig.load(
                "rrdb_tiny", [c for c in common if not c.startswith("yoda")]
            )
            rate = Trainer(config, rrdb_dir).train(progress=False).steps_per_second
        rrdb = evaluate(YodaPipeline.from_pretrained(rrdb_dir), hr_val, 4, 0)
        results["rrdb (stage 1)"] = {**rrdb, "steps_per_second": rate}
    for method in methods:
        run = args.out / method
        backbone = "sr3_tiny" if method.startswith("sr3") else "srdiff_tiny"
        overrides = common + [f"yoda.enabled={str(method.endswith('_yoda')).lower()}"]
        if backbone == "srdiff_tiny":
            overrides.append(f"model.encoder_checkpoint={rrdb_dir}")
        rate = None
        if not (run / "checkpoints").is_dir():
            config = ExperimentConfig.load(backbone, overrides)
            rate = Trainer(config, run).train(progress=False).steps_per_second
        pipe = YodaPipeline.from_pretrained(run)
        results[method] = {**evaluate(pipe, hr_val, 4, args.sample_steps), "steps_per_second": rate}
        print(f"{method}: {results[method]}", flush=True)

    header = f"{'method':16s} {'PSNR':>6s} {'SSIM':>6s} {'PSNR-Y':>7s} {'SSIM-Y':>7s} {'dE76':>6s} {'|dRGB|':>7s} {'train it/s':>10s} {'s/img':>6s}"
    print(
        f"\n{len(hr_val)} val crops of {args.val_size}px, x4, {args.steps} steps at batch {args.batch}, DDIM-{args.sample_steps}"
    )
    print(header)
    for name, r in results.items():
        rate = r.get("steps_per_second")
        print(
            f"{name:16s} {r['psnr_rgb']:6.2f} {r['ssim_rgb']:6.4f} {r['psnr_y']:7.2f} {r['ssim_y']:7.4f} "
            f"{r['delta_e76']:6.2f} {r['mean_diff_norm']:7.2f} {rate if rate is None else round(rate, 2)!s:>10s} {r['seconds_per_image']:6.2f}"
        )
    (args.out / "results.json").write_text(
        json.dumps(
            {"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=2
        )
    )


if __name__ == "__main__":
    main()
