"""Issue 19, open question 1: do importance maps mean the same at every scale, shift and tile?

Map sources: the weight-free detail map (absolute, per_image) and DINOv2-S/14 attention for
each ``vit_method`` (whole; native_guided at the config's 518 and at 224; pyramid with 224
tiles) under four normalisations of the attention ``r`` relative to uniform (x patch count):
``per_image`` (min-max), ``absolute`` (yoda-sr's: ``(r - 1) / (R - 1)``), ``uniform``
(``r / R``) and ``mass`` (soft form of DINO's cumulative-mass threshold: the share of the
attention mass held by pixels at or below this one; the official mask keeps ``mass > 0.4``),
both references ``R`` being the ``CALIBRATION_QUANTILE`` quantile of ``r`` over train photos.
The last two are the candidates that lost (see the printed table); they live only here.

Content: the centre ``CONTENT`` px square of each val photo (short side resized to
``CONTENT + 64``). Criteria (all maps at output = LR x ``FACTOR``, agreement of two maps on
one grid by area averaging):

- scale: LRs of ``BASE_LR`` x 0.5 / 1 / 2 / 4 px of the same content, mean over the 6 pairs
  (Pearson, Spearman, top-10 % / top-30 % IoU, dA = mean over thresholds 0.1..0.9 of the
  difference in area above the threshold, std of the maps as a guard against constant maps);
- lr_hr: the map of the ``BASE_LR`` LR vs the map of its HR (the x4 LR) at the same size;
- shift: content shifted by half a DINOv2 patch (7 output px) vs the shifted-back map;
- seam: the x4 LR split into 2 x 2 tiles, each mapped alone (as a tiled upscale would):
  mean |gradient| across the tile borders / elsewhere (1 = no seam; ``whole`` = the same
  ratio on the untiled map);
- flat / texture: mean importance of the flattest windows (mean LR gradient < 3 grey levels)
  and a constant grey image vs of the textured content (x1 LR): absolute maps should give
  flat content low importance;
- cost: ViT passes, seconds and peak extra memory (RSS high-water mark of a fresh process:
  tracemalloc does not see torch's CPU allocations) of one map, LR 192 -> 768 px.

    bash ../shared/data/fetch_photos.sh benchmarks/data/photos
    python ../shared/tools/make_dinov2_small.py benchmarks/out/dinov2-small   # needs onnx
    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/importance_scale.py

About 8 minutes on one CPU thread. Writes ``benchmarks/results/importance_scale.{json,md}``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from yoda_sr.attention import DetailImportance, DinoAttention, load_backbone
from yoda_sr.attention.base import ImportanceSource
from yoda_sr.imaging import list_images, load_image, quantize
from yoda_sr.imaging.resize import imresize

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from eval_crops import FLAT_GRADIENT, flattest_window  # noqa: E402

FACTOR = 4
BASE_LR = 48
SCALES = (0.5, 1, 2, 4)
CONTENT = BASE_LR * FACTOR * 2  # 384 px: the x4 LR is its half, so every LR is exact
GRID = int(BASE_LR * FACTOR * min(SCALES))  # 96 px: the smallest output
SHIFT = 7  # half a DINOv2 patch, in output pixels of the x2 LR (= content pixels)
PHOTOS = 4
TRAIN_PHOTOS = 8
CALIBRATION_QUANTILE = 0.9
THRESHOLDS = [t / 10 for t in range(1, 10)]
VIT_NORMS = ("per_image", "absolute", "uniform", "mass")
# (name, vit_method, analysis_size = the native side; 518 is DINOv2's config image_size).
VIT_METHODS = (
    ("whole", "whole", None),
    ("native_guided@518", "native_guided", 518),
    ("native_guided@224", "native_guided", 224),
    ("pyramid@224", "pyramid", 224),
)


# ---------------------------------------------------------------- metrics


def ranks(x: Tensor) -> Tensor:
    """Ranks of the flat tensor ``x``, ties given their average rank (clamped maps have many
    ties; breaking them by position would make two clamped maps agree spuriously)."""
    _, inverse, counts = torch.unique(x, return_inverse=True, return_counts=True)
    average = counts.cumsum(0) - (counts - 1) / 2
    return average.to(x.dtype)[inverse]


def pearson(a: Tensor, b: Tensor) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = (a.norm() * b.norm()).item()
    return (a @ b).item() / denominator if denominator > 1e-12 else float("nan")


def top_set(x: Tensor, share: float) -> Tensor:
    """The top ``share`` of pixels of flat ``x``, less those at its minimum (a pixel of a
    clamped map at 0 is not important, whatever its rank among equals)."""
    top = torch.zeros_like(x, dtype=torch.bool)
    top[x.topk(max(1, round(share * x.numel()))).indices] = True
    return top & (x > x.min())


def top_iou(a: Tensor, b: Tensor, share: float) -> float:
    """IoU of the top ``share`` of pixels of flat ``a`` and ``b`` (1 when both are empty)."""
    top_a, top_b = top_set(a, share), top_set(b, share)
    union = (top_a | top_b).sum().item()
    return (top_a & top_b).sum().item() / union if union else 1.0


def agreement(a: Tensor, b: Tensor) -> dict[str, float]:
    """Agreement of two (1, 1, H, W) maps in [0, 1] on the same grid."""
    a, b = a.flatten().double(), b.flatten().double()
    return {
        "pearson": pearson(a, b),
        "spearman": pearson(ranks(a), ranks(b)),
        "iou10": top_iou(a, b, 0.1),
        "iou30": top_iou(a, b, 0.3),
        "dA": sum(abs((a > t).double().mean() - (b > t).double().mean()).item() for t in THRESHOLDS)
        / len(THRESHOLDS),
        "std": (a.std().item() + b.std().item()) / 2,
    }


def on_grid(importance: Tensor, size: int = GRID) -> Tensor:
    """(1, 1, H, W) -> (1, 1, size, size) by area averaging."""
    return F.adaptive_avg_pool2d(importance, (size, size))


def seam_ratio(importance: Tensor, border: tuple[int, int]) -> float:
    """Mean |gradient| across the lines after row/column ``border`` over the mean elsewhere."""
    m = importance[0, 0].double()
    dy, dx = (m[1:] - m[:-1]).abs(), (m[:, 1:] - m[:, :-1]).abs()
    row, col = border[0] - 1, border[1] - 1
    across = torch.cat([dy[row], dx[:, col]]).mean()
    keep_y, keep_x = torch.ones_like(dy, dtype=torch.bool), torch.ones_like(dx, dtype=torch.bool)
    keep_y[row], keep_x[:, col] = False, False
    elsewhere = torch.cat([dy[keep_y], dx[keep_x]]).mean()
    return (across / elsewhere.clamp_min(1e-12)).item()


def mean_of(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: sum(row[key] for row in rows) / len(rows) for key in rows[0]}


# ---------------------------------------------------------------- maps


class MapSource:
    """One map source of the table: ``maps(lr, size)`` -> {normalisation: (1, 1, H, W)}."""

    def __init__(self, name: str, source: ImportanceSource, norms: tuple[str, ...], ref: float):
        self.name, self.source, self.norms, self.reference = name, source, norms, ref
        self.passes = 0
        if isinstance(source, DinoAttention):
            source.backbone.register_forward_hook(lambda *_: self._count())

    def _count(self) -> None:
        self.passes += 1

    def maps(self, lr: Tensor, size: tuple[int, int]) -> dict[str, Tensor]:
        source = self.source
        if isinstance(source, DetailImportance):
            out = {}
            for norm in self.norms:
                source.normalization = norm
                out[norm] = source(lr, size)
            return out
        levels = source.level_maps(lr, size)  # one set of ViT passes for every normalisation
        relative = torch.stack(levels).mean(dim=0)
        out = {}
        for norm in ("per_image", "absolute"):
            source.normalization = norm
            out[norm] = source.normalize(source.fuse_levels(levels))
        out["uniform"] = (relative / self.reference).clamp(0.0, 1.0)
        out["mass"] = cumulative_mass(relative)
        return out


def cumulative_mass(relative: Tensor) -> Tensor:
    """(1, 1, H, W) -> the share of the total held by pixels at or below each one, in (0, 1]:
    the soft form of DINO's ``visualize_attention`` threshold (there per head on the patch
    grid; here on the fused map at the output size)."""
    flat = relative.flatten()
    values, order = flat.sort()
    cumulative = values.cumsum(0) / values.sum().clamp_min(1e-12)
    out = torch.empty_like(flat)
    out[order] = cumulative
    return out.view_as(relative)


def out_size(lr: Tensor) -> tuple[int, int]:
    """Output (H, W) of (B, 3, h, w) ``lr``: ``FACTOR`` x its size."""
    return lr.shape[-2] * FACTOR, lr.shape[-1] * FACTOR


def lr_of(content: Tensor, side: int) -> Tensor:
    """(3, C, C) content -> (1, 3, side, side) LR: MATLAB bicubic, 8-bit quantised."""
    return quantize(imresize(content, size=(side, side)).clamp(0, 1))[None]


def contents(folder: Path, count: int) -> list[tuple[str, Tensor]]:
    """(name, (3, CONTENT + 2 * SHIFT, ...) window) of the first ``count`` photos: the short
    side resized to ``CONTENT + 64``, the centre window with ``SHIFT`` px margins."""
    out = []
    for path in list_images(folder)[:count]:
        image = load_image(path)
        short = min(image.shape[-2:])
        factor = (CONTENT + 64) / short
        size = (round(image.shape[-2] * factor), round(image.shape[-1] * factor))
        image = imresize(image, size=size).clamp(0, 1)
        top = (size[0] - CONTENT) // 2 - SHIFT
        left = (size[1] - CONTENT) // 2 - SHIFT
        window = image[:, top : top + CONTENT + 2 * SHIFT, left : left + CONTENT + 2 * SHIFT]
        out.append((path.stem, window))
    return out


def evaluate(source: MapSource, photos: list[tuple[str, Tensor]], flats: list[Tensor]) -> dict:
    """Every criterion of ``source`` for every normalisation, averaged over ``photos``."""
    rows: dict[str, dict[str, list]] = {
        n: {k: [] for k in ("scale", "lr_hr", "shift", "seam", "seam_whole", "texture", "flat")}
        for n in source.norms
    }
    started, passes = time.perf_counter(), source.passes
    for _, window in photos:
        content = window[:, SHIFT : SHIFT + CONTENT, SHIFT : SHIFT + CONTENT]
        lrs = {s: lr_of(content, int(BASE_LR * s)) for s in SCALES}
        per_scale = {s: source.maps(lr, out_size(lr)) for s, lr in lrs.items()}
        # LR-vs-HR: the x4 LR is the HR of the x1 LR; both mapped at the x1 output size.
        hr_maps = source.maps(lrs[4], out_size(lrs[1]))
        shifted = lr_of(window[:, 2 * SHIFT :, 2 * SHIFT :][:, :CONTENT, :CONTENT], BASE_LR * 2)
        shift_maps = source.maps(shifted, out_size(shifted))
        big = lrs[4]
        half = big.shape[-1] // 2
        tiles = [
            [
                source.maps(big[..., r : r + half, c : c + half], (half * FACTOR,) * 2)
                for c in (0, half)
            ]
            for r in (0, half)
        ]
        for norm, row in rows.items():
            grids = [on_grid(per_scale[s][norm]) for s in SCALES]
            row["scale"] += [agreement(a, b) for a, b in itertools.combinations(grids, 2)]
            row["lr_hr"].append(agreement(per_scale[1][norm], hr_maps[norm]))
            # The shifted map's pixel (y, x) shows content pixel (y + SHIFT, x + SHIFT).
            reference = per_scale[2][norm][..., SHIFT:, SHIFT:]
            moved = shift_maps[norm][..., :-SHIFT, :-SHIFT]
            row["shift"].append(agreement(reference, moved))
            stitched = torch.cat(
                [torch.cat([tile[norm] for tile in line], dim=-1) for line in tiles], dim=-2
            )
            row["seam"].append({"ratio": seam_ratio(stitched, (half * FACTOR,) * 2)})
            row["seam_whole"].append(
                {"ratio": seam_ratio(per_scale[4][norm], (half * FACTOR,) * 2)}
            )
            row["texture"].append({"mean": per_scale[1][norm].mean().item()})
    for flat in flats:
        for norm, image in source.maps(flat, out_size(flat)).items():
            rows[norm]["flat"].append({"mean": image.mean().item()})
    return {
        "norms": {n: {k: mean_of(v) for k, v in row.items()} for n, row in rows.items()},
        "seconds": time.perf_counter() - started,
        "passes": source.passes - passes,
    }


def calibrate(source: DinoAttention, lrs: list[Tensor]) -> dict[str, float]:
    """Quantiles of ``source``'s attention relative to uniform (levels averaged) over the
    pixels of the maps of ``lrs`` (output x ``FACTOR``)."""
    maps = [torch.stack(source.level_maps(lr, out_size(lr))).mean(dim=0).flatten() for lr in lrs]
    every = torch.cat(maps).double()
    return {f"q{round(q * 100)}": float(torch.quantile(every, q)) for q in (0.5, 0.9, 0.95, 0.99)}


# ---------------------------------------------------------------- cost


def cost_worker(model: str, name: str) -> None:
    """Print {passes, seconds, peak_mb} of one map, LR 192 -> 768, in this fresh process."""
    torch.set_num_threads(1)
    if name == "detail":
        source: ImportanceSource = DetailImportance()
    else:
        _, method, size = next(m for m in VIT_METHODS if m[0] == name)
        source = DinoAttention(load_backbone(model), analysis_size=size, vit_method=method)
    counter = MapSource(name, source, ("absolute",), 2.0)
    lr = torch.rand(1, 3, BASE_LR * 4, BASE_LR * 4, generator=torch.Generator().manual_seed(0))
    source(lr[..., :16, :16], (64, 64))  # warm up (lazy initialisation)
    counter.passes = 0
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak RSS (VmHWM), Linux >= 4.0
    before = status_kb("VmRSS")
    started = time.perf_counter()
    source(lr, (BASE_LR * 4 * FACTOR,) * 2)
    seconds = time.perf_counter() - started
    peak_mb = (status_kb("VmHWM") - before) / 1024
    print(json.dumps({"passes": counter.passes, "seconds": seconds, "peak_mb": peak_mb}))


def status_kb(field: str) -> int:
    """A kB field of /proc/self/status (VmRSS: resident now, VmHWM: peak since reset)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def cost(model: str, name: str) -> dict[str, float]:
    run = subprocess.run(
        [sys.executable, __file__, "--model", model, "--cost", name],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- report

COLUMNS = (
    ("scale r", "scale", "pearson"),
    ("scale rho", "scale", "spearman"),
    ("IoU10", "scale", "iou10"),
    ("IoU30", "scale", "iou30"),
    ("scale dA", "scale", "dA"),
    ("std", "scale", "std"),
    ("LR-HR r", "lr_hr", "pearson"),
    ("LR-HR dA", "lr_hr", "dA"),
    ("shift r", "shift", "pearson"),
    ("shift dA", "shift", "dA"),
    ("seam", "seam", "ratio"),
    ("seam whole", "seam_whole", "ratio"),
    ("flat A", "flat", "mean"),
    ("texture A", "texture", "mean"),
)


def table(results: dict[str, Any]) -> list[str]:
    """Markdown lines: one row per map source and normalisation, then the cost table."""
    head = "| map | norm | " + " | ".join(c[0] for c in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for name, result in results["sources"].items():
        for norm, values in result["norms"].items():
            cells = [f"{values[section][key]:.3f}" for _, section, key in COLUMNS]
            lines.append(f"| {name} | {norm} | " + " | ".join(cells) + " |")
    references = ", ".join(
        f"{name} {values[f'q{round(CALIBRATION_QUANTILE * 100)}']:.2f}"
        for name, values in results["calibration"].items()
    )
    lines += ["", f"R (q{round(CALIBRATION_QUANTILE * 100)} of r on train photos): {references}"]
    lines += ["", "| map | ViT passes | seconds | peak MB |", "|---|---|---|---|"]
    for name, row in results["cost"].items():
        lines.append(f"| {name} | {row['passes']} | {row['seconds']:.2f} | {row['peak_mb']:.0f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=HERE / "data" / "photos")
    parser.add_argument("--model", default=str(HERE / "out" / "dinov2-small"))
    parser.add_argument("--count", type=int, default=PHOTOS)
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--cost", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cost:
        cost_worker(args.model, args.cost)
        return
    torch.set_num_threads(1)
    started = time.perf_counter()
    train = [
        lr_of(window[:, SHIFT:-SHIFT, SHIFT:-SHIFT], BASE_LR)
        for _, window in contents(args.photos / "train", TRAIN_PHOTOS)
    ]
    photos = contents(args.photos / "val", args.count)
    flats = [torch.full((1, 3, BASE_LR, BASE_LR), 0.5)]
    for path in list_images(args.photos / "val"):
        best = flattest_window(load_image(path), BASE_LR * FACTOR)
        if best is not None and best[0] < FLAT_GRADIENT:
            flats.append(lr_of(best[1], BASE_LR))
    sources = [MapSource("detail", DetailImportance(), ("absolute", "per_image"), 0.0)]
    backbone = load_backbone(args.model)
    calibration = {}
    for name, method, size in VIT_METHODS:
        vit = DinoAttention(backbone, analysis_size=size, vit_method=method)
        calibration[name] = calibrate(vit, train)
        vit.reference = calibration[name][f"q{round(CALIBRATION_QUANTILE * 100)}"]
        print(
            f"{name}: attention relative to uniform on {len(train)} train photos: "
            f"{ {k: round(v, 3) for k, v in calibration[name].items()} }",
            flush=True,
        )
        sources.append(MapSource(f"dinov2 {name}", vit, VIT_NORMS, vit.reference))
    results: dict[str, Any] = {
        "settings": {
            "photos": [name for name, _ in photos],
            "flat_images": len(flats),
            "factor": FACTOR,
            "lr_sizes": [int(BASE_LR * s) for s in SCALES],
            "grid": GRID,
            "shift_px": SHIFT,
            "calibration_quantile": CALIBRATION_QUANTILE,
            "threads": torch.get_num_threads(),
        },
        "calibration": calibration,
        "sources": {},
        "cost": {},
    }
    for source in sources:
        results["sources"][source.name] = evaluate(source, photos, flats)
        print(f"{source.name}: {results['sources'][source.name]['seconds']:.0f} s", flush=True)
    for name in ["detail"] + [m[0] for m in VIT_METHODS]:
        results["cost"][name] = cost(args.model, name)
    lines = table(results)
    print("\n".join(lines))
    print(f"total {time.perf_counter() - started:.0f} s")
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "importance_scale.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.results / "importance_scale.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
