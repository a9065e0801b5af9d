"""Issue 19: per-image vs absolute importance and the colour fixes, on a bundled model.

For every crop of ``eval_crops`` (val, flat, dark, noisy, large) the model upscales the LR
once per importance normalisation (DDIM, the model's steps and lower bound, seed 0); each
output is then scored as it is and after each colour fix (``apply_color_fix`` towards the
bicubic-upsampled LR, exactly what ``YodaPipeline(color_fix=...)`` does). Bicubic is scored
beside them. Printed per crop and per set: diffused share of pixel-steps, mean-colour offset
(norm of the per-channel mean RGB difference, 0..255), CIE76 of the mean colours, PSNR and
SSIM on RGB and Y (crop border 4), and the issue's targets.

    bash ../shared/data/fetch_photos.sh benchmarks/data/photos
    OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/importance_colour.py

Records (one JSON per crop, model, weights, lower bound and normalisation) go to ``--out/records`` and
are reused by a rerun; the summary is written to
``benchmarks/results/importance_colour_<model>_l<lower bound>.json`` (and ``.md``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from yoda_sr.attention import build_importance_source
from yoda_sr.metrics import color_shift, evaluate_pair
from yoda_sr.models import bicubic_up
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.pipeline.color_fix import apply_color_fix

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from eval_crops import FLAT_GRADIENT, SCALE, crop_sets, mean_gradient  # noqa: E402

NORMALIZATIONS = ("per_image", "absolute")
# Sets sampled with the absolute normalisation only (the per-image comparison is on val and
# flat; the large crop costs ~5 small ones).
ABSOLUTE_ONLY = ("dark", "noisy", "large")
FIXES = ("none", "wavelet", "adain")
# Issue 19's targets, on the val crops plus the flat crops.
TARGET_SETS = "val+flat"
FLAT_SHARE_MAX = 0.45
OFFSET_MAX = 1.5


def scores(sr: torch.Tensor, hr: torch.Tensor) -> dict[str, float]:
    """PSNR/SSIM RGB and Y (crop border = scale) and the colour shift of (3, H, W) ``sr``."""
    row = evaluate_pair(sr, hr, crop_border=SCALE)
    shift = color_shift(sr, hr, crop_border=SCALE)
    return {
        "psnr_y": row["psnr_y"],
        "ssim_y": row["ssim_y"],
        "psnr_rgb": row["psnr_rgb"],
        "ssim_rgb": row["ssim_rgb"],
        "offset": shift["mean_diff_norm"],
        "delta_e76": shift["delta_e76"],
    }


def run_crop(
    pipe: YodaPipeline,
    normalization: str,
    lr: torch.Tensor,
    hr: torch.Tensor,
    lower_bound: float | None = None,
) -> dict[str, Any]:
    """Upscale ``lr`` (3, h, w) once with ``normalization`` (and ``lower_bound``, None: the
    model's); scores with each colour fix."""
    source = build_importance_source(replace(pipe.config.attention, normalization=normalization))
    batch = lr[None]
    importance = source(batch, (lr.shape[-2] * SCALE, lr.shape[-1] * SCALE))
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(0)
    out = pipe(
        batch,
        importance=importance,
        generator=generator,
        color_fix="none",
        lower_bound=lower_bound,
    )
    seconds = time.perf_counter() - started
    reference = (bicubic_up(batch, SCALE) + 1) / 2
    fixed = {fix: apply_color_fix(out.images, reference, fix)[0] for fix in FIXES}
    return {
        "share": sum(out.active_fraction) / len(out.active_fraction),
        "mean_importance": float(importance.mean()),
        "seconds": seconds,
        "fixes": {fix: scores(image, hr) for fix, image in fixed.items()},
    }


def mean(rows: list[dict[str, float]], key: str) -> float:
    return sum(row[key] for row in rows) / len(rows)


def crop_arguments(description: str) -> argparse.ArgumentParser:
    """The options of the benchmarks on ``eval_crops``: model, photos, work folder, sets."""
    parser = argparse.ArgumentParser(description=description.split("\n\n")[0])
    parser.add_argument("--model", default="srdiff-yoda-x4")
    parser.add_argument("--photos", type=Path, default=HERE / "data" / "photos")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "colour")
    parser.add_argument("--sets", default="val,flat,dark,noisy,large")
    return parser


def weights_tag(model: torch.nn.Module) -> str:
    """First 8 hex digits of the SHA-256 of ``model``'s weights (names and values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:8]


def main() -> None:
    parser = crop_arguments(__doc__)
    parser.add_argument(
        "--lower-bound", type=float, default=None, help="YODA's l (default: the model's)"
    )
    parser.add_argument("--normalizations", default=",".join(NORMALIZATIONS))
    args = parser.parse_args()
    normalizations = args.normalizations.split(",")
    torch.manual_seed(0)
    pipe = YodaPipeline.from_pretrained(args.model)
    lower_bound = pipe.config.yoda.lower_bound if args.lower_bound is None else args.lower_bound
    tag = f"_l{lower_bound:g}"
    sets = crop_sets(args.photos)
    # Records are keyed by the detail floor too (a model's default changed with it, issue 19)
    # and by the weights (a bundled name may be given other weights).
    floor = f"_floor{pipe.config.attention.detail_floor:.4f}"
    records = args.out / "records" / f"{args.model}{tag}{floor}_{weights_tag(pipe.model)}"
    records.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "model": args.model,
        "sampling": {
            "sampler": pipe.config.sampling.sampler,
            "steps": pipe.config.sampling.steps,
            "lower_bound": lower_bound,
            "detail_reference": pipe.config.attention.detail_reference,
            "detail_floor": pipe.config.attention.detail_floor,
            "seed": 0,
        },
        "crops": [],
    }
    for set_name in args.sets.split(","):
        for name, hr, lr in sets[set_name]:
            crop: dict[str, Any] = {
                "set": set_name,
                "name": name,
                "size": list(hr.shape[-2:]),
                "lr_gradient": mean_gradient(lr),
                "bicubic": scores(((bicubic_up(lr[None], SCALE) + 1) / 2)[0], hr),
            }
            for normalization in normalizations:
                if set_name in ABSOLUTE_ONLY and normalization != "absolute":
                    continue
                path = records / f"{set_name}__{name}__{normalization}.json"
                if path.is_file():
                    crop[normalization] = json.loads(path.read_text())
                else:
                    crop[normalization] = run_crop(pipe, normalization, lr, hr, lower_bound)
                    path.write_text(json.dumps(crop[normalization], indent=1))
            summary["crops"].append(crop)
            print(
                f"{set_name:5s} {name:26s} grad {crop['lr_gradient']:5.2f} "
                + " | ".join(
                    f"{norm[:3]} share {crop[norm]['share']:.2f} off "
                    + "/".join(f"{crop[norm]['fixes'][fix]['offset']:.1f}" for fix in FIXES)
                    for norm in NORMALIZATIONS
                    if norm in crop
                )
                + f" | bic off {crop['bicubic']['offset']:.1f}",
                flush=True,
            )
    print_tables(summary)
    target = HERE / "results" / f"importance_colour_{args.model}{tag}.json"
    target.write_text(json.dumps(summary, indent=1) + "\n")
    target.with_suffix(".md").write_text(markdown(summary))
    print(f"wrote {target} and {target.with_suffix('.md')}")


# The rows of the markdown tables: (label, normalisation or None for bicubic, colour fix).
ROWS = (
    ("bicubic", None, None),
    ("per-image", "per_image", "none"),
    ("absolute", "absolute", "none"),
    ("absolute + wavelet", "absolute", "wavelet"),
    ("absolute + adain", "absolute", "adain"),
)


def set_groups(crops: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Crops (each with a ``"set"``) per set, then the target sets together, then all."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for crop in crops:
        groups.setdefault(crop["set"], []).append(crop)
    groups[TARGET_SETS] = [c for c in crops if c["set"] in TARGET_SETS.split("+")]
    groups["all"] = crops
    return groups


def markdown(summary: dict[str, Any]) -> str:
    """Two tables: means per set and method, and every crop under each method."""
    crops = summary["crops"]
    lines = [
        f"Model `{summary['model']}`, {summary['sampling']['sampler']}-"
        f"{summary['sampling']['steps']}, l = {summary['sampling']['lower_bound']}, seed 0; "
        "share = diffused share of pixel-steps; offset = norm of the mean RGB difference "
        "(0..255); crop border 4.",
        "",
        "| set | method | n | share | offset (max) | ΔE76 | PSNR-Y | SSIM-Y | PSNR-RGB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for set_name, group in set_groups(crops).items():
        for label, norm, fix in ROWS:
            sampled = [c for c in group if norm is None or norm in c]
            if not sampled:
                continue
            rows = [c["bicubic"] if norm is None else c[norm]["fixes"][fix] for c in sampled]
            share = "-" if norm is None else f"{mean([c[norm] for c in sampled], 'share'):.2f}"
            lines.append(
                f"| {set_name} | {label} | {len(sampled)} | {share} | "
                f"{mean(rows, 'offset'):.2f} ({max(r['offset'] for r in rows):.2f}) | "
                f"{mean(rows, 'delta_e76'):.2f} | {mean(rows, 'psnr_y'):.2f} | "
                f"{mean(rows, 'ssim_y'):.4f} | {mean(rows, 'psnr_rgb'):.2f} |"
            )
    lines += [
        "",
        "Per crop (PSNR-Y / PSNR-RGB / colour offset; share of pixel-steps in brackets):",
        "",
        "| set | crop | LR gradient | bicubic | per-image | absolute | absolute + wavelet |",
        "|---|---|---|---|---|---|---|",
    ]
    for crop in crops:
        cells = []
        for _, norm, fix in ROWS[:4]:
            if norm is not None and norm not in crop:
                cells.append("-")
                continue
            row = crop["bicubic"] if norm is None else crop[norm]["fixes"][fix]
            share = "" if norm is None else f" ({crop[norm]['share']:.2f})"
            cells.append(
                f"{row['psnr_y']:.2f} / {row['psnr_rgb']:.2f} / {row['offset']:.1f}{share}"
            )
        lines.append(
            f"| {crop['set']} | {crop['name']} | {crop['lr_gradient']:.2f} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


def print_tables(summary: dict[str, Any]) -> None:
    """Per set: bicubic and each normalisation x colour fix, means over the set's crops."""
    crops = summary["crops"]
    groups = {
        "all": crops,
        TARGET_SETS: [c for c in crops if c["set"] in TARGET_SETS.split("+")],
    }
    for crop in crops:
        groups.setdefault(crop["set"], []).append(crop)
    print("\nset    method                 n  share  offset(max)   dE76  PSNR-Y SSIM-Y PSNR-RGB")
    for set_name, group in groups.items():
        bicubic = [c["bicubic"] for c in group]
        print(
            f"{set_name:6s} {'bicubic':22s} {len(group):2d}    -   {mean(bicubic, 'offset'):5.2f}"
            f"({max(r['offset'] for r in bicubic):4.1f}) {mean(bicubic, 'delta_e76'):5.2f}"
            f"  {mean(bicubic, 'psnr_y'):6.2f} {mean(bicubic, 'ssim_y'):.4f}"
            f"  {mean(bicubic, 'psnr_rgb'):6.2f}"
        )
        for norm in NORMALIZATIONS:
            sampled = [c for c in group if norm in c]
            if not sampled:
                continue
            share = sum(c[norm]["share"] for c in sampled) / len(sampled)
            for fix in FIXES:
                rows = [c[norm]["fixes"][fix] for c in sampled]
                print(
                    f"{set_name:6s} {norm + ' + ' + fix:22s} {len(sampled):2d}  {share:.2f}  "
                    f"{mean(rows, 'offset'):5.2f}({max(r['offset'] for r in rows):4.1f}) "
                    f"{mean(rows, 'delta_e76'):5.2f}  {mean(rows, 'psnr_y'):6.2f} "
                    f"{mean(rows, 'ssim_y'):.4f}  {mean(rows, 'psnr_rgb'):6.2f}"
                )
    flat = [c for c in crops if c["lr_gradient"] < FLAT_GRADIENT]
    if flat:
        worst = max(c["absolute"]["share"] for c in flat)
        print(
            f"\ntarget: flat crops (LR gradient < {FLAT_GRADIENT}) diffused share <= "
            f"{FLAT_SHARE_MAX} with absolute importance: max {worst:.3f} over {len(flat)} crops"
        )
    for fix in FIXES:
        target = [c for c in crops if c["set"] in TARGET_SETS.split("+")] or crops
        rows = [c["absolute"]["fixes"][fix] for c in target]
        bicubic = [c["bicubic"] for c in target]
        print(
            f"target ({len(target)} crops), absolute + {fix}: max offset {max(r['offset'] for r in rows):.2f} "
            f"(<= {OFFSET_MAX}); PSNR-RGB {mean(rows, 'psnr_rgb'):.2f} vs bicubic "
            f"{mean(bicubic, 'psnr_rgb'):.2f}; PSNR-Y {mean(rows, 'psnr_y'):.2f} vs "
            f"{mean(bicubic, 'psnr_y'):.2f}; SSIM-Y {mean(rows, 'ssim_y'):.4f} vs "
            f"{mean(bicubic, 'ssim_y'):.4f}"
        )


if __name__ == "__main__":
    main()
