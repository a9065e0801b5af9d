"""The detail floor (issue 19): absolute detail importance with several floors, bundled model.

For every crop of ``eval_crops`` the model upscales the LR once per floor (importance
``(energy - floor) / (reference - floor)``, clamped; the model's reference, DDIM steps and lower
bound, seed 0) and each output is scored after the wavelet colour fix (the default) beside
bicubic: PSNR-RGB, PSNR-Y, SSIM-Y (crop border 4), the mean-colour offset and the diffused
share of pixel-steps.
Per-crop rows and set means go to ``benchmarks/results/importance_floor.md`` (and ``.json``);
each crop's record is kept under ``--out/floor_records`` and reused by a rerun.

    bash ../shared/data/fetch_photos.sh benchmarks/data/photos
    OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/importance_floor.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

from yoda_sr.attention import DetailImportance
from yoda_sr.models import bicubic_up
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.pipeline.color_fix import apply_color_fix

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from eval_crops import SCALE, crop_sets, mean_gradient  # noqa: E402
from importance_colour import crop_arguments, scores, set_groups  # noqa: E402

# Floors in luma units per LR pixel: none, half a grey level, one (the default), two.
FLOORS = (0.0, 0.5 / 255, 1.0 / 255, 2.0 / 255)
METRICS = ("psnr_rgb", "psnr_y", "ssim_y", "share")


def main() -> None:
    parser = crop_arguments(__doc__)
    args = parser.parse_args()
    pipe = YodaPipeline.from_pretrained(args.model)
    attention = pipe.config.attention
    if attention.source != "detail" or attention.normalization != "absolute":
        parser.error(f"{args.model}: needs absolute detail importance, has {attention}")
    sets = crop_sets(args.photos)
    records = args.out / "floor_records" / args.model
    records.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for set_name in args.sets.split(","):
        for name, hr, lr in sets[set_name]:
            record = records / f"{set_name}__{name}.json"
            if record.is_file():
                rows.append(json.loads(record.read_text()))
                continue
            batch = lr[None]
            size = (lr.shape[-2] * SCALE, lr.shape[-1] * SCALE)
            reference = (bicubic_up(batch, SCALE) + 1) / 2
            row: dict[str, Any] = {
                "set": set_name,
                "crop": name,
                "lr_gradient": mean_gradient(lr),
                "bicubic": scores(reference.clamp(0, 1)[0], hr),
            }
            for floor in FLOORS:
                source = DetailImportance(reference=attention.detail_reference, floor=floor)
                out = pipe(
                    batch,
                    importance=source(batch, size),
                    generator=torch.Generator().manual_seed(0),
                    color_fix="none",
                )
                fixed = apply_color_fix(out.images, reference, "wavelet")[0]
                share = sum(out.active_fraction) / len(out.active_fraction)
                row[f"{floor:.4f}"] = {**scores(fixed, hr), "share": share}
            rows.append(row)
            record.write_text(json.dumps(row, indent=1))
            print(
                f"{set_name:5s} {name:26s} "
                + " | ".join(
                    f"{key}: {row[key]['psnr_rgb']:.2f}/{row[key]['psnr_y']:.2f}"
                    for key in ["bicubic"] + [f"{f:.4f}" for f in FLOORS]
                ),
                flush=True,
            )
    target = HERE / "results" / "importance_floor"
    target.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    text = markdown(rows, args.model, pipe.config.yoda.lower_bound)
    target.with_suffix(".md").write_text(text)
    print(text)


def mean(rows: list[dict[str, Any]], key: str, metric: str) -> str:
    values = [row[key][metric] for row in rows if metric in row[key]]
    return f"{sum(values) / len(values):.{2 if metric != 'ssim_y' else 4}f}" if values else "-"


def markdown(rows: list[dict[str, Any]], model: str, lower_bound: float) -> str:
    keys = ["bicubic"] + [f"{f:.4f}" for f in FLOORS]
    labels = ["bicubic"] + [f"floor {f * 255:g}/255" for f in FLOORS]
    lines = [
        f"Model `{model}`, l = {lower_bound}, its DDIM steps, seed 0, wavelet colour fix; "
        "floor in grey levels per LR pixel (0: none, the earlier behaviour); share = diffused "
        "share of pixel-steps; offset = norm of the mean RGB difference to HR (0..255); crop border 4.",
        "",
        "| set | method | n | PSNR-RGB | PSNR-Y | SSIM-Y | share | offset (max) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for set_name, group in set_groups(rows).items():
        for key, label in zip(keys, labels, strict=True):
            cells = " | ".join(mean(group, key, m) for m in METRICS)
            offsets = [row[key]["offset"] for row in group]
            offset = f"{sum(offsets) / len(offsets):.2f} ({max(offsets):.2f})"
            lines.append(f"| {set_name} | {label} | {len(group)} | {cells} | {offset} |")
    lines += [
        "",
        "Per crop (PSNR-RGB / PSNR-Y, share in brackets):",
        "",
        "| set | crop | LR gradient | " + " | ".join(labels) + " |",
        "|---|---|---|" + "---|" * len(labels),
    ]
    for row in rows:
        cells = [f"{row['bicubic']['psnr_rgb']:.2f} / {row['bicubic']['psnr_y']:.2f}"] + [
            f"{row[k]['psnr_rgb']:.2f} / {row[k]['psnr_y']:.2f} ({row[k]['share']:.3f})"
            for k in keys[1:]
        ]
        lines.append(
            f"| {row['set']} | {row['crop']} | {row['lr_gradient']:.2f} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
