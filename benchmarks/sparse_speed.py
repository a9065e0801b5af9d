"""Sparse vs dense YODA sampling, side by side in one process: speed, fidelity, seams, FLOPs.

On centre crops of the shared val photos (4x, DDIM), for each crop size, importance map
(the detail map; with --dinov2 also a DINOv2 map) and lower bound (the model config's and 0),
every photo is upscaled twice from the same importance map and seed: dense (full-image network
calls) and sparse (``sparse=True``: windows around the active pixels, see
:mod:`yoda_sr.pipeline.sparse`). One row per setting prints:

- ideal speed-up: all pixel-steps / active pixel-steps of the visited masks (over all photos);
- work: dense pixels / pixels fed to the network by the sparse run;
- bound: active pixel-steps / pixel-steps of the active set dilated by the halo: the highest
  achieved / ideal that any scheme feeding the unchanged network every active pixel with
  ``halo`` px of context can reach (each such pixel must be evaluated), whatever its windows;
- layer: the same ceiling for per-layer sparse evaluation (SIGE-style: every convolution
  computes only the output cells, at its own resolution, that hold an active pixel, taking
  context from cached features; all other FLOPs kept dense): FLOP speed-up / ideal. It is
  optimistic (free gathers, caches never stale) and shows how far the network's coarse levels,
  where a cell covers many pixels, cap any sparse scheme that keeps the network unchanged;
- achieved: dense / sparse sampling wall time (sums over photos), and achieved / ideal;
- end-to-end: the same with the importance map's forward time added to both (imp % is its
  share of the sparse end-to-end time);
- PSNR (RGB, against HR) of dense and sparse, and sparse - dense;
- seams: gradient energy across the borders of the smallest core grid over the energy elsewhere,
  of the sparse output relative to the dense one (0% = no excess), the worst photo;
- GFLOPs of the whole sampling run, dense and sparse, counted with torch's FlopCounterMode on
  the first photo (that run is also the warm-up, untimed), and of the importance forward.

    python benchmarks/sparse_speed.py --model RUN_FOLDER --sizes 256,384 --dinov2 DINOV2_DIR
    python benchmarks/sparse_speed.py --quick                      # smoke check, seconds
    python benchmarks/sparse_speed.py --device cuda --sizes 512,1024 --model RUN --dinov2 DIR

Without --model a seeded random sr3_tiny is used: speeds and FLOPs are right, PSNRs are not
meaningful (a trained run: benchmarks/out/reproduce_cpu/runs/sr3_yoda_s0 after
``benchmarks/reproduce.py``). Timings are meaningful only on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from yoda_sr.attention import AttentionConfig, ImportanceSource, build_importance_source
from yoda_sr.config import ExperimentConfig
from yoda_sr.imaging import imresize, list_images, load_image, quantize
from yoda_sr.masks import diffusion_mask
from yoda_sr.metrics import psnr
from yoda_sr.models import build_model
from yoda_sr.pipeline import UpscaleOutput, YodaPipeline
from yoda_sr.pipeline.options import DEFAULT_SPARSE_CORES, DEFAULT_SPARSE_HALO

PHOTOS = Path(__file__).resolve().parent / "data" / "photos" / "val"
T = TypeVar("T")


def centre_crops(folder: Path, size: int, limit: int | None) -> list[tuple[str, Tensor]]:
    """(name, HR (3, size, size) in [0, 1]) of every photo at least ``size`` px on each side."""
    crops = []
    for path in list_images(folder):
        image = load_image(path)
        _, h, w = image.shape
        if min(h, w) >= size:
            top, left = (h - size) // 2, (w - size) // 2
            crops.append((path.stem, image[:, top : top + size, left : left + size]))
    if not crops:
        raise SystemExit(f"no photo of at least {size} px in {folder}")
    return crops[:limit]


def seam_ratio(image: Tensor, period: int) -> float:
    """Mean squared luma step across the lines y, x = k * period of ``image`` (3, H, W) over the
    mean squared step everywhere else (1.0: borders look like the rest)."""
    luma = image.mean(dim=0)
    border, other = [], []
    for steps in (luma.diff(dim=0) ** 2, luma.diff(dim=1).T ** 2):
        on_border = (torch.arange(1, steps.shape[0] + 1) % period) == 0
        border.append(steps[on_border].flatten())
        other.append(steps[~on_border].flatten())
    return float(torch.cat(border).mean() / torch.cat(other).mean().clamp_min(1e-12))


def timed(fn: Callable[[], T], device: torch.device) -> tuple[T, float]:
    """``fn()`` and its wall time in seconds (the GPU's queue drained before and after)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    result = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return result, time.perf_counter() - start


def conv_share_by_stride(
    fn: Callable[[], object], model: torch.nn.Module, size: int
) -> tuple[dict[int, float], int]:
    """``fn()``'s FLOPs (FlopCounterMode) and the share of them spent in ``model``'s
    convolutions, by output stride (``size`` HR px over the output's height; key 0: everything
    else)."""
    flops: dict[int, float] = {}

    def hook(module: torch.nn.Conv2d, _: object, output: Tensor) -> None:
        per_output = 2 * module.in_channels // module.groups * math.prod(module.kernel_size)
        stride = round(size / output.shape[-2])
        flops[stride] = flops.get(stride, 0.0) + per_output * output.numel()

    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    handles = [m.register_forward_hook(hook) for m in convs]
    try:
        total = counted_flops(fn)
    finally:
        for handle in handles:
            handle.remove()
    shares = {stride: value / total for stride, value in flops.items()}
    return {0: 1.0 - sum(shares.values()), **shares}, total


def counted_flops(fn: Callable[[], object]) -> int:
    """FLOPs of ``fn()`` as torch's FlopCounterMode counts them (convolutions, matmuls)."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


@dataclass
class Row:
    """Totals over the photos of one (size, importance map, lower bound) setting."""

    pixel_steps: float = 0.0
    active_steps: float = 0.0
    dilated_steps: float = 0.0
    layer_steps: float = 0.0
    conv_share: dict[int, float] = field(default_factory=dict)
    evaluated: int = 0
    dense_pixels: int = 0
    importance_s: float = 0.0
    dense_s: float = 0.0
    sparse_s: float = 0.0
    psnr_dense: list[float] = field(default_factory=list)
    psnr_sparse: list[float] = field(default_factory=list)
    seam_excess: list[float] = field(default_factory=list)
    flops: tuple[int, int, int] = (0, 0, 0)

    def line(self, size: int, source: str, lower: float) -> str:
        ideal = self.pixel_steps / max(self.active_steps, 1e-12)
        achieved = self.dense_s / self.sparse_s
        end_to_end = (self.importance_s + self.dense_s) / (self.importance_s + self.sparse_s)
        p_dense = sum(self.psnr_dense) / len(self.psnr_dense)
        p_sparse = sum(self.psnr_sparse) / len(self.psnr_sparse)
        dense_f, sparse_f, importance_f = (f / 1e9 for f in self.flops)
        return (
            f"{size:5d} {source:>7s} {lower:4.2f} {ideal:6.2f}x "
            f"{self.dense_pixels / max(self.evaluated, 1):5.2f}x "
            f"{self.active_steps / max(self.dilated_steps, 1e-12):5.2f} "
            f"{self.pixel_steps / max(self.layer_steps, 1e-12) / ideal:5.2f} {achieved:6.2f}x {achieved / ideal:5.2f} {end_to_end:6.2f}x "
            f"{self.importance_s / (self.importance_s + self.sparse_s):5.1%} "
            f"{p_dense:6.2f} {p_sparse:6.2f} {p_sparse - p_dense:+6.3f} "
            f"{max(self.seam_excess):+7.2%} {dense_f:8.2f} {sparse_f:8.2f} {importance_f:6.2f}"
        )


HEADER = (
    f"{'size':>5s} {'map':>7s} {'l':>4s} {'ideal':>7s} {'work':>6s} {'bound':>5s} {'layer':>5s} {'achvd':>7s} {'/idl':>5s} "
    f"{'e2e':>7s} {'imp%':>5s} {'PSNRd':>6s} {'PSNRs':>6s} {'dPSNR':>6s} {'seam':>7s} "
    f"{'GFLOPd':>8s} {'GFLOPs':>8s} {'GFimp':>6s}"
)


def load_pipeline(model: str | None, device: str) -> YodaPipeline:
    """The trained run at ``model``, else a seeded random sr3_tiny, on ``device``."""
    if model:
        return YodaPipeline.from_pretrained(model, device=device)
    config = ExperimentConfig.load("sr3_tiny")
    torch.manual_seed(0)
    return YodaPipeline(build_model(config.model), config, device=device)


def measure(
    pipe: YodaPipeline,
    source: ImportanceSource,
    crops: list[tuple[str, Tensor]],
    lower: float,
    steps: int,
    halo: int,
) -> Row:
    """Dense and sparse runs of every crop with one importance map and lower bound."""
    row = Row()
    for index, (_, hr) in enumerate(crops):
        add_photo(row, pipe, source, hr, lower, steps, halo, count_flops=index == 0)
    return row


def add_photo(
    row: Row,
    pipe: YodaPipeline,
    source: ImportanceSource,
    hr: Tensor,
    lower: float,
    steps: int,
    halo: int,
    count_flops: bool,
) -> None:
    """Add one crop's dense and sparse runs to ``row``; with ``count_flops`` first count the
    FLOPs of both runs and of the importance forward (untimed runs that also warm up)."""
    device = pipe.device
    lr = quantize(imresize(hr, scale=1 / pipe.scale))[None].to(device)
    size = (hr.shape[-2], hr.shape[-1])

    def importance_map() -> Tensor:
        with torch.no_grad():
            return source(lr, size).float()

    def upscale(sparse: bool) -> UpscaleOutput:
        out = pipe(
            lr,
            sampler="ddim",
            num_inference_steps=steps,
            lower_bound=lower,
            importance=importance,
            generator=torch.Generator().manual_seed(0),
            sparse=sparse,
            sparse_halo=halo,
        )
        out.images = out.images.cpu()
        return out

    importance = importance_map()
    if count_flops:
        row.conv_share, dense_flops = conv_share_by_stride(
            lambda: upscale(False), pipe.model, size[0]
        )
        flops = [dense_flops, counted_flops(lambda: upscale(True))]
        row.flops = (flops[0], flops[1], counted_flops(importance_map))
    importance, importance_s = timed(importance_map, device)
    dense, dense_s = timed(lambda: upscale(False), device)
    sparse, sparse_s = timed(lambda: upscale(True), device)
    row.importance_s += importance_s
    row.dense_s += dense_s
    row.sparse_s += sparse_s
    row.pixel_steps += len(sparse.active_fraction)
    row.active_steps += sum(sparse.active_fraction)
    num_t = pipe.config.diffusion.num_train_timesteps
    for k in sparse.timesteps:
        mask = diffusion_mask(importance, k, num_t, lower)
        row.dilated_steps += float(F.max_pool2d(mask, 2 * halo + 1, 1, halo).mean())
        if bool(mask.any()):
            row.layer_steps += row.conv_share[0] + sum(
                share * float(F.max_pool2d(mask, stride, stride, ceil_mode=True).mean())
                for stride, share in row.conv_share.items()
                if stride > 0
            )
    row.evaluated += sparse.pixels_evaluated
    row.dense_pixels += sparse.pixels_dense
    row.psnr_dense.append(psnr(dense.images[0], hr))
    row.psnr_sparse.append(psnr(sparse.images[0], hr))
    period = min(DEFAULT_SPARSE_CORES)
    row.seam_excess.append(
        seam_ratio(sparse.images[0], period) / seam_ratio(dense.images[0], period) - 1
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="run folder (default: random sr3_tiny)")
    parser.add_argument("--photos", type=Path, default=PHOTOS, help="HR photos (val)")
    parser.add_argument("--sizes", default="256", help="HR centre crop sizes, comma-separated")
    parser.add_argument("--steps", type=int, default=20, help="DDIM steps")
    parser.add_argument("--lower-bounds", default=None, help="default: the config's and 0")
    parser.add_argument("--dinov2", default=None, help="local DINOv2 folder: also its map")
    parser.add_argument(
        "--halo", type=int, default=DEFAULT_SPARSE_HALO, help="sparse windows' halo (HR px)"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N photos")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    parser.add_argument("--quick", action="store_true", help="128 px, 2 photos, DDIM-4")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.limit, args.steps = "128", 2, 4

    pipe = load_pipeline(args.model, args.device)
    sources = {"detail": build_importance_source(AttentionConfig(source="detail"), pipe.device)}
    if args.dinov2:
        dino = AttentionConfig(source="dino", model=args.dinov2)
        sources["dinov2"] = build_importance_source(dino, pipe.device)
    if args.lower_bounds is None:
        lower_bounds = [pipe.config.yoda.lower_bound, 0.0]
    else:
        lower_bounds = [float(v) for v in args.lower_bounds.split(",")]
    print(
        f"{args.model or 'random sr3_tiny'} (x{pipe.scale}), DDIM-{args.steps}, device "
        f"{pipe.device}, {torch.get_num_threads()} threads, photos {args.photos}; sparse "
        f"cores {DEFAULT_SPARSE_CORES} px, halo {args.halo} px; seams at multiples of "
        f"{min(DEFAULT_SPARSE_CORES)} px"
    )
    print(HEADER, flush=True)
    for size in (int(v) for v in args.sizes.split(",")):
        crops = centre_crops(args.photos, size, args.limit)
        for name, source in sources.items():
            for lower in lower_bounds:
                row = measure(pipe, source, crops, lower, args.steps, args.halo)
                print(row.line(size, name, lower), flush=True)


if __name__ == "__main__":
    main()
