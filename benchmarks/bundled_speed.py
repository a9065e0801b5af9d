"""Quality per second of the bundled models, measured in one process on the same crops.

    OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/bundled_speed.py

Every bundled model present (``yoda_sr.pipeline.list_bundled``) upscales the 8 val centre
crops of ``benchmarks/reproduce.py`` (192 px HR, MATLAB-bicubic LR x4, 8 bits) with its own
sampling defaults and seed-0 noise, ``--rounds`` times after one warm-up image; the models
alternate within each round, so a slower or busier machine slows them all alike. Printed per
model: sampler steps per image, median seconds per image over the rounds, the ratio to the
first model (``--baseline``, default the 0.1 default ``srdiff-yoda-x4``), PSNR-Y / SSIM-Y
(crop border 4) of the outputs. Run it alone: the ratios are only as good as the machine's
quiet.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from yoda_sr.imaging import imresize, list_images, load_image, quantize
from yoda_sr.metrics import evaluate_pair
from yoda_sr.pipeline import YodaPipeline, list_bundled

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from train_compare import prepare_photos  # noqa: E402

SCALE = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=HERE / "data" / "photos")
    parser.add_argument("--data", type=Path, default=HERE / "out" / "reproduce_cpu" / "data")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", default="srdiff-yoda-x4")
    args = parser.parse_args()
    torch.manual_seed(0)
    data = prepare_photos(args.photos, args.data, 192, 192, 24)
    hrs = [load_image(path) for path in list_images(data / "val_crops")]
    lrs = [quantize(imresize(hr, scale=1 / SCALE))[None] for hr in hrs]
    models = sorted(list_bundled(), key=lambda m: m.name != args.baseline)
    pipes = {m.name: YodaPipeline.from_pretrained(m.path) for m in models}
    for pipe in pipes.values():  # warm-up: first-call allocations are not the model's speed
        pipe(lrs[0], generator=torch.Generator().manual_seed(0))
    seconds: dict[str, list[float]] = {name: [] for name in pipes}
    scores: dict[str, list[dict]] = {name: [] for name in pipes}
    calls: dict[str, int] = {}
    for round_index in range(args.rounds):
        for name, pipe in pipes.items():
            started = time.perf_counter()
            outputs = []
            for lr in lrs:
                counter = {"n": 0}
                out = pipe(
                    lr,
                    generator=torch.Generator().manual_seed(0),
                    step_callback=lambda done, total, c=counter: c.__setitem__("n", total),
                )
                outputs.append(out.images[0])
                calls[name] = counter["n"]
            seconds[name].append((time.perf_counter() - started) / len(lrs))
            if round_index == 0:
                scores[name] = [
                    evaluate_pair(sr, hr, crop_border=SCALE)
                    for sr, hr in zip(outputs, hrs, strict=True)
                ]
    base = statistics.median(seconds[next(iter(pipes))])
    print(
        f"{len(lrs)} val crops of 192 px, {args.rounds} rounds, {torch.get_num_threads()} threads"
    )
    print("| model | sampler steps | s / image | vs first | PSNR-Y | SSIM-Y |")
    print("|---|---|---|---|---|---|")
    for name in pipes:
        median = statistics.median(seconds[name])
        psnr = statistics.mean(s["psnr_y"] for s in scores[name])
        ssim = statistics.mean(s["ssim_y"] for s in scores[name])
        print(
            f"| {name} | {calls[name]} | {median:.2f} | {base / median:.1f}x faster | "
            f"{psnr:.2f} | {ssim:.4f} |"
        )


if __name__ == "__main__":
    main()
