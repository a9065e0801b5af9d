"""Where does the colour drift come from (issue 19)? Traces the x_0 predictions of a bundled
model through its sampling chain, and tries a fix inside the chain.

For each crop (by default 4 val and 4 flat crops of ``eval_crops``) the model samples as
``YodaPipeline`` does (DDIM, its steps and lower bound, absolute importance, seed 0), with
the network wrapped so that at each visited step the x_0 it implies,
``x0 = (x_t - sqrt(1 - a_k) eps) / sqrt(a_k)``, is compared with the true x_0 (the model's
``target`` of the HR crop): the mean over active pixels of (x0 - true) per channel, in 0..255
image units, and how much of it the low band (``low_frequencies``, the wavelet colour fix's)
holds. Printed: that offset at the first, middle and last visited steps, and the final
image's mean-colour offset.

``--fix lowband`` then samples again with the x_0 prediction's low band replaced, at every
step, by the low band of the anchor's x_0 (bicubic in SR3's image space, zero residual in
SRDiff's): ``x0' = x0 - low(x0) + low(anchor)``, turned back into the epsilon the scheduler
steps with. This is the wavelet colour fix moved into the chain.

    OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 PYTHONPATH=src python benchmarks/colour_drift.py
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch

from yoda_sr.attention import build_importance_source
from yoda_sr.diffusion import make_scheduler, yoda_sample
from yoda_sr.masks import diffusion_mask
from yoda_sr.metrics import color_shift, evaluate_pair
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.pipeline.color_fix import low_frequencies

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from eval_crops import SCALE, crop_sets  # noqa: E402


class TracedDenoiser:
    """The model's network; records per step the mean (x0 - true x0) over active pixels per
    channel and, with ``fix``, returns the epsilon of the low-band-corrected x0."""

    def __init__(self, pipe: YodaPipeline, scheduler, true_x0, anchor, mask_fn, fix: bool):
        self.model, self.scheduler = pipe.model, scheduler
        self.true_x0, self.anchor, self.mask_fn, self.fix = true_x0, anchor, mask_fn, fix
        # x0 is in [-1, 1] image units (SR3) or that residual times ``residual_scale`` (SRDiff).
        scale = getattr(pipe.model.settings, "residual_scale", 1.0)
        self.to_image_units = 255.0 / 2.0 / scale
        self.trace: list[dict[str, float]] = []

    def __call__(self, x_t, timesteps, **condition):
        eps = self.model(x_t, timesteps, **condition)
        k = int(timesteps[0])
        alpha = self.scheduler.alphas_cumprod[k].to(x_t)
        x0 = (x_t - (1 - alpha).sqrt() * eps) / alpha.sqrt()
        active = self.mask_fn(k).expand_as(x0)
        diff = (x0 - self.true_x0) * active
        count = active[:, 0].sum().clamp_min(1)
        offset = diff.sum(dim=(0, 2, 3)) / count * self.to_image_units
        low = low_frequencies(x0 - self.true_x0) * active
        low_offset = low.sum(dim=(0, 2, 3)) / count * self.to_image_units
        self.trace.append(
            {
                "k": k,
                "offset": float(offset.norm()),
                "low_offset": float(low_offset.norm()),
            }
        )
        if not self.fix:
            return eps
        fixed = x0 - low_frequencies(x0) + low_frequencies(self.anchor)
        return (x_t - alpha.sqrt() * fixed) / (1 - alpha).sqrt()


def sample(pipe: YodaPipeline, lr: torch.Tensor, hr: torch.Tensor, fix: bool):
    """(image (3, H, W), trace) of one DDIM chain on ``lr`` (3, h, w) with absolute importance."""
    config = pipe.config
    batch = lr[None]
    size = (lr.shape[-2] * SCALE, lr.shape[-1] * SCALE)
    source = build_importance_source(replace(config.attention, normalization="absolute"))
    importance = source(batch, size)
    cond = pipe.model.condition(batch)
    anchor = pipe.model.anchor(cond)
    scheduler = make_scheduler(config.diffusion, "ddim")
    num_t = config.diffusion.num_train_timesteps

    def mask_fn(k: int) -> torch.Tensor:
        return diffusion_mask(importance, k, num_t, config.yoda.lower_bound)

    true_x0 = pipe.model.target(hr[None], cond)
    denoiser = TracedDenoiser(pipe, scheduler, true_x0, anchor, mask_fn, fix)
    result = yoda_sample(
        denoiser,
        scheduler,
        anchor=anchor,
        importance=importance,
        condition=cond,
        lower_bound=config.yoda.lower_bound,
        num_inference_steps=config.sampling.steps,
        generator=torch.Generator().manual_seed(0),
    )
    return pipe.model.to_image(result.sample, cond)[0], denoiser.trace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="srdiff-yoda-x4")
    parser.add_argument("--photos", type=Path, default=HERE / "data" / "photos")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "colour")
    parser.add_argument("--per-set", type=int, default=4)
    parser.add_argument("--fix", choices=("none", "lowband"), default="none")
    args = parser.parse_args()
    pipe = YodaPipeline.from_pretrained(args.model)
    sets = crop_sets(args.photos)
    print("crop  x0 offset over active pixels (first / middle / last step; low band)  final")
    for set_name in ("val", "flat"):
        for name, hr, lr in sets[set_name][: args.per_set]:
            with torch.no_grad():
                image, trace = sample(pipe, lr, hr, args.fix == "lowband")
            picks = [trace[0], trace[len(trace) // 2], trace[-1]]
            row = evaluate_pair(image, hr, crop_border=SCALE)
            shift = color_shift(image, hr, crop_border=SCALE)
            print(
                f"{set_name:5s} {name:26s} "
                + " / ".join(
                    f"k={p['k']:3d} {p['offset']:5.2f} ({p['low_offset']:5.2f})" for p in picks
                )
                + f"  offset {shift['mean_diff_norm']:.2f}  PSNR-RGB {row['psnr_rgb']:.2f} "
                f"PSNR-Y {row['psnr_y']:.2f} SSIM-Y {row['ssim_y']:.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
