"""Can per-layer sparse evaluation pay with torch ops? A 3x3 convolution computed only at
active output pixels (gather of their 3x3 neighbourhoods + one matmul) against the dense
convolution, side by side in one process.

``benchmarks/sparse_speed.py``'s "layer" column says how far per-layer sparse evaluation
(SIGE-style: each convolution computes only the active cells at its own resolution) could go
in FLOPs. Whether it pays in wall time depends on the kernel: this prints, per channel count,
map size and active fraction, the dense and the gathered convolution's time (best of
``--repeats``, alternated), the speed-up, the ideal (1 / fraction) and their ratio, the
efficiency a sparse UNet built from such convolutions could at most reach (before its norms,
scatters and caches). Active pixels are drawn uniformly at random; the gather reads rows of
a channels-last copy (faster than gathering channels-first), which the timing includes.

    python benchmarks/sparse_conv.py                       # 2 threads, CPU
    python benchmarks/sparse_conv.py --device cuda --sizes 32x512,64x256,96x128
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor


def gathered_conv(x: Tensor, weight: Tensor, bias: Tensor, active: Tensor) -> Tensor:
    """3x3 convolution (padding 1) of ``x`` (1, C, H, W) at the flat indices ``active`` (S,)
    only -> (S, C_out). Written by hand: torch has no masked convolution."""
    _, c, h, w = x.shape
    rows = F.pad(x, (1, 1, 1, 1))[0].reshape(c, -1).T  # (H+2)*(W+2) rows of C values
    y, x_ = active // w, active % w
    dy, dx = torch.meshgrid(torch.arange(3), torch.arange(3), indexing="ij")
    neighbours = (y[:, None] + dy.reshape(-1).to(y)) * (w + 2) + x_[:, None] + dx.reshape(-1).to(y)
    columns = rows[neighbours].reshape(len(active), 9 * c)  # (S, 9 * C), (ky, kx, c) order
    return torch.addmm(bias, columns, weight.permute(0, 2, 3, 1).reshape(len(weight), -1).T)


def best_time(fn: Callable[[], Tensor], device: torch.device) -> float:
    """Wall time of one ``fn()`` in seconds (the GPU's queue drained before and after)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="32x256,64x128,96x64", help="CxHW, comma-separated")
    parser.add_argument("--fractions", default="0.1,0.3,0.6")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    print(f"device {device}, {torch.get_num_threads()} threads, best of {args.repeats}")
    print(
        f"{'C':>4s} {'HxW':>9s} {'active':>6s} {'dense ms':>9s} {'gathered ms':>11s} "
        f"{'speed-up':>8s} {'ideal':>6s} {'eff':>5s}"
    )
    for spec in args.sizes.split(","):
        c, size = (int(v) for v in spec.split("x"))
        x = torch.randn(1, c, size, size, generator=generator).to(device)
        weight = torch.randn(c, c, 3, 3, generator=generator).to(device)
        bias = torch.randn(c, generator=generator).to(device)
        dense_out = F.conv2d(x, weight, bias, padding=1)
        for fraction in (float(v) for v in args.fractions.split(",")):
            mask = torch.rand(size * size, generator=generator) < fraction
            active = mask.nonzero()[:, 0].to(device)
            sparse_out = gathered_conv(x, weight, bias, active)
            torch.testing.assert_close(
                sparse_out, dense_out.flatten(2)[0].T[active], rtol=1e-3, atol=1e-3
            )
            dense_s = sparse_s = float("inf")
            dense = partial(F.conv2d, x, weight, bias, padding=1)
            sparse = partial(gathered_conv, x, weight, bias, active)
            for _ in range(args.repeats):
                dense_s = min(dense_s, best_time(dense, device))
                sparse_s = min(sparse_s, best_time(sparse, device))
            ideal = mask.numel() / max(int(mask.sum()), 1)
            speedup = dense_s / sparse_s
            print(
                f"{c:4d} {size:4d}x{size:<4d} {fraction:6.2f} {dense_s * 1e3:9.2f} "
                f"{sparse_s * 1e3:11.2f} {speedup:7.2f}x {ideal:5.2f}x {speedup / ideal:5.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
