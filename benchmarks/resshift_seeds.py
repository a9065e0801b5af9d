"""ResShift+YODA (T = 15) at the bundled model's budget over more seeds, scored as bundled.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/resshift_seeds.py --seeds 0,1

Is what the bundled ``resshift-yoda-x4`` does on each kind of photo the network's or its seed's?
For each seed, the study's run ``resshift_yoda_T15_s{seed}`` (``benchmarks/reproduce.py``'s
data, config and settings) is trained, or resumed, to ``--steps`` in the study's folder, and
its EMA weights are sampled with the sampling settings the export gives ``resshift-yoda-x4``
(``train_default_models.BUNDLE_SETTINGS``: absolute importance with the floor, l = 0, the
wavelet colour fix), seed-0 noise, on the sets of ``benchmarks/eval_crops.py`` (val, flat,
dark, noisy, large). Printed: mean PSNR-Y / SSIM-Y / PSNR-RGB per set and seed against
bicubic.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

from yoda_sr.models import bicubic_up
from yoda_sr.pipeline import YodaPipeline

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from eval_crops import SCALE, crop_sets  # noqa: E402
from importance_colour import scores  # noqa: E402
from reproduce import PRESETS, load_at, plan, train_to  # noqa: E402
from train_compare import prepare_photos  # noqa: E402
from train_default_models import RESSHIFT, bundle_config  # noqa: E402

SETS = ("val", "flat", "dark", "noisy", "large")
KEYS = (("psnr_y", 2), ("ssim_y", 4), ("psnr_rgb", 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--photos", type=Path, default=HERE / "data" / "photos")
    parser.add_argument("--study", type=Path, default=HERE / "out" / "reproduce_cpu")
    args = parser.parse_args()
    p = PRESETS["cpu"]
    work = prepare_photos(args.photos, args.study / "data", p.tile, p.val_size, p.per_photo)
    runs = {r.name: r for r in plan(p, dinov2=None) if r.group == "resshift"}
    sets = crop_sets(args.photos, HERE / "out" / "colour" / "data")
    table: dict[str, dict[str, dict[str, float]]] = {}
    for name in SETS:
        rows = [
            scores(((bicubic_up(lr[None], SCALE) + 1) / 2)[0].clamp(0, 1), hr)
            for _, hr, lr in sets[name]
        ]
        table.setdefault("bicubic", {})[name] = {
            k: statistics.mean(r[k] for r in rows) for k, _ in KEYS
        }
    for seed in (int(s) for s in args.seeds.split(",")):
        run = runs[f"resshift_yoda_T15_s{seed}"]
        rate = train_to(run, args.steps, p, work, args.study / "runs")
        if rate is not None:
            print(f"trained {run.name} to {args.steps} at {rate:.2f} steps/s", flush=True)
        trained = load_at(args.study / "runs" / run.name, args.steps, "ema", "cpu")
        pipe = YodaPipeline(trained.model, bundle_config(trained.config, RESSHIFT.name))
        label = f"seed {seed}"
        for name in SETS:
            rows = [
                scores(pipe(lr[None], generator=torch.Generator().manual_seed(0)).images[0], hr)
                for _, hr, lr in sets[name]
            ]
            table.setdefault(label, {})[name] = {
                k: statistics.mean(r[k] for r in rows) for k, _ in KEYS
            }
            print(
                f"{label} {name}: "
                + ", ".join(f"{k} {table[label][name][k]:.4f}" for k, _ in KEYS),
                flush=True,
            )
    print(
        f"\nResShift+YODA T = 15 at {args.steps} steps, bundled sampling settings; PSNR-Y / SSIM-Y / PSNR-RGB\n"
    )
    print("| | " + " | ".join(SETS) + " |")
    print("|---" * (len(SETS) + 1) + "|")
    for label, per_set in table.items():
        cells = [" / ".join(f"{per_set[s][k]:.{d}f}" for k, d in KEYS) for s in SETS]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
