"""Large images by tiles: peak RSS and time against output area, and tiled vs untiled fidelity.

Each LR size runs in its own process (so its peak RSS is its own): a val photo resized to
LR ``s x s`` is upscaled 4x with tiles of ``--tile`` px (windows writing only their cores,
``--overlap`` px of context; the importance map computed once on the whole image, noise drawn
once for the whole image), and prints wall time, seconds per output megapixel (flat = time
linear in area) and peak RSS. Then, on the centre crop of every val photo at ``--fidelity``
px, tiled and untiled outputs are scored against HR (PSNR, mean over photos) side by side.

    python benchmarks/large_image.py --model RUN --sizes 256,512,1024   # 1024 -> 4096 px
    python benchmarks/large_image.py --quick                            # smoke check

Without --model a seeded random sr3_tiny is used (time and memory are right, PSNRs are not
meaningful). Timings are meaningful only on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from yoda_sr.config import ExperimentConfig
from yoda_sr.imaging import imresize, list_images, load_image, quantize
from yoda_sr.metrics import psnr
from yoda_sr.models import build_model
from yoda_sr.pipeline import YodaPipeline

PHOTOS = Path(__file__).resolve().parent / "data" / "photos" / "val"


def load_pipeline(model: str | None, device: str) -> YodaPipeline:
    """The trained run at ``model``, else a seeded random sr3_tiny, on ``device``."""
    if model:
        return YodaPipeline.from_pretrained(model, device=device)
    config = ExperimentConfig.load("sr3_tiny")
    torch.manual_seed(0)
    return YodaPipeline(build_model(config.model), config, device=device)


def one_size(args: argparse.Namespace) -> None:
    """Upscale one LR image of ``args.one`` px; print seconds, peak RSS, windows, HR side."""
    pipe = load_pipeline(args.model, args.device)
    photo = load_image(list_images(args.photos)[0])
    lr = quantize(imresize(photo, size=(args.one, args.one)))[None]
    start = time.perf_counter()
    out = pipe(
        lr,
        num_inference_steps=args.steps,
        generator=torch.Generator().manual_seed(0),
        tile=args.tile,
        tile_overlap=args.overlap,
    )
    out.images.cpu()
    seconds = time.perf_counter() - start
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    hr = out.images.shape[-1]
    print(
        json.dumps(
            {"seconds": seconds, "rss_gib": rss_gib, "windows": out.tiles_evaluated, "hr": hr}
        )
    )


def fidelity(args: argparse.Namespace) -> None:
    """Mean PSNR against HR of untiled and tiled outputs on the val photos' centre crops."""
    pipe = load_pipeline(args.model, args.device)
    scores: dict[str, list[float]] = {"untiled": [], "tiled": []}
    for path in list_images(args.photos)[: args.limit]:
        image = load_image(path)
        _, h, w = image.shape
        size = args.fidelity
        if min(h, w) < size:
            continue
        top, left = (h - size) // 2, (w - size) // 2
        hr = image[:, top : top + size, left : left + size]
        lr = quantize(imresize(hr, scale=1 / pipe.scale))[None]
        importance = pipe.importance(lr)
        for name, tile in (("untiled", None), ("tiled", args.fidelity_tile)):
            out = pipe(
                lr,
                num_inference_steps=args.steps,
                generator=torch.Generator().manual_seed(0),
                importance=importance,
                tile=tile,
                tile_overlap=args.overlap,
            )
            scores[name].append(psnr(out.images[0].cpu(), hr))
    untiled = sum(scores["untiled"]) / len(scores["untiled"])
    tiled = sum(scores["tiled"]) / len(scores["tiled"])
    print(
        f"fidelity at {args.fidelity} px ({len(scores['tiled'])} photos, tiles of "
        f"{args.fidelity_tile}, overlap {args.overlap}): PSNR vs HR untiled {untiled:.3f} dB, "
        f"tiled {tiled:.3f} dB, tiled - untiled {tiled - untiled:+.3f} dB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="run folder (default: random sr3_tiny)")
    parser.add_argument("--photos", type=Path, default=PHOTOS, help="photos (val)")
    parser.add_argument("--sizes", default="256,512,1024", help="LR sides, comma-separated")
    parser.add_argument("--tile", type=int, default=256, help="tile side (HR px)")
    parser.add_argument("--overlap", type=int, default=16, help="tile context (HR px)")
    parser.add_argument("--steps", type=int, default=5, help="DDIM steps")
    parser.add_argument("--fidelity", type=int, default=256, help="HR crop side for PSNR")
    parser.add_argument("--fidelity-tile", type=int, default=128, help="tile side for PSNR")
    parser.add_argument("--limit", type=int, default=None, help="first N photos for PSNR")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, DDIM-2, 2 photos")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.tile, args.steps, args.limit = "32,64", 64, 2, 2
        args.fidelity, args.fidelity_tile = 128, 64
    if args.one is not None:
        one_size(args)
        return
    print(
        f"{args.model or 'random sr3_tiny'}, DDIM-{args.steps}, tiles of {args.tile} px with "
        f"{args.overlap} px of context, device {args.device}, {torch.get_num_threads()} threads"
    )
    print(f"{'LR':>6s} {'HR':>6s} {'seconds':>8s} {'s/MPx':>7s} {'peak RSS':>9s} {'windows':>8s}")
    passed = [a for a in sys.argv[1:] if a != "--quick"]
    for side in (int(v) for v in args.sizes.split(",")):
        command = [sys.executable, __file__, *passed, "--tile", str(args.tile)]
        command += ["--steps", str(args.steps), "--one", str(side)]
        child = subprocess.run(
            command,
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        hr = result["hr"]
        print(
            f"{side:6d} {hr:6d} {result['seconds']:8.1f} "
            f"{result['seconds'] / (hr * hr / 1e6):7.2f} {result['rss_gib']:7.2f} GiB "
            f"{result['windows']:8d}",
            flush=True,
        )
    fidelity(args)


if __name__ == "__main__":
    main()
