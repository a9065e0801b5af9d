"""Reproduction study of YODA's claims (arXiv 2308.07977), resumable, writing docs/RESULTS.md.

    python benchmarks/reproduce.py --preset cpu --max-minutes 170
    python benchmarks/reproduce.py --preset cpu --report-only      # tables/plots from what is done
    python benchmarks/reproduce.py --preset gpu --device cuda      # paper-scale networks

What it runs (4x, the shared photos: train on ``train/`` cut into tiles, report on one centre
crop of every ``val/`` photo and on the two face photos resized whole), with equal data,
steps, seeds and network inside every pair:

1. main: SR3 vs SR3+YODA and SRDiff vs SRDiff+YODA over the preset's seeds; bicubic and the
   stage-1 RRDB as references; ResShift vs ResShift+YODA (pixel space, T = 15 and T = 4
   steps), with seconds and network calls per image beside every row;
2. ladder: the seed-0 runs continued to longer budgets (checkpoints of one run, constant LR,
   so the 800-step point *is* the 800-step run); colour shift at batch 4 vs 16;
3. ablations on SR3+YODA: lower bound, importance source (detail / DINOv2 / constant), input
   mode, loss normalisation, bf16 autocast, noise schedule, EMA vs raw weights, DDPM-full vs
   DDIM-50/20;
4. failure signatures: excess gradient energy across the boundary of the half-chain mask against
   inside/outside it (YODA vs its baseline on the same regions); LPIPS when its weights exist.

Every training run is saved under ``--out`` (checkpoints, samples; not kept in git) and every
evaluation and training speed under ``--records`` (small JSON files, default
``benchmarks/results/reproduce_PRESET``, kept in git so that the study accumulates across
machines and sessions) as soon as it finishes. A rerun skips what is done (a killed training
run resumes from its newest checkpoint; a run evaluated on another machine is not retrained);
``--max-minutes`` stops starting new training after that long and ``--max-train-steps`` trains
no run past that budget now (checkpoints already there are still evaluated; delete an
evaluation's JSON under ``evals/`` to have it recomputed). The report always states which
planned rows are still missing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from yoda_sr.checkpoints import list_checkpoints, load_weights
from yoda_sr.config import ExperimentConfig
from yoda_sr.imaging import imresize, list_images, load_image, quantize, save_image
from yoda_sr.masks import diffusion_mask
from yoda_sr.metrics import evaluate_pair
from yoda_sr.metrics.perceptual import LpipsMetric
from yoda_sr.models import bicubic_up, build_model
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.training.trainer import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import eval_key, write_report  # noqa: E402
from train_compare import prepare_photos  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared"
METRICS = ("psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y", "delta_e76", "mean_diff_norm", "lpips")


@dataclass(frozen=True)
class Preset:
    """Sizes of one study. ``steps``: the main budget; ``ladder``: longer budgets (seed 0)."""

    sr3: str = "sr3_tiny"
    srdiff: str = "srdiff_tiny"
    rrdb: str = "rrdb_tiny"
    resshift: str = "resshift_tiny"
    # ResShift's chain lengths (T = sampler steps): the paper's 15 and the TPAMI version's 4.
    resshift_steps: tuple[int, ...] = (15, 4)
    steps: int = 800
    ladder: tuple[int, ...] = (800, 1600, 3000, 10000)
    seeds: tuple[int, ...] = (0, 1, 2)
    batch: int = 8
    batch_pair: tuple[int, int] = (4, 16)
    hr_size: int = 64
    val_size: int = 192
    tile: int = 192
    per_photo: int = 24
    sample_steps: tuple[int, ...] = (50, 20)
    lower_bounds: tuple[float, ...] = (0.0, 0.1, 0.3, 0.5, 1.0)
    default_lower_bound: float = 0.3
    ddpm_full: bool = True
    extra: tuple[str, ...] = ()
    sr3_extra: tuple[str, ...] = ()


PRESETS = {
    # ~3 h of training on 2 CPU cores for main + ablations + batch pair (1 thread per run,
    # two runs at a time: SR3 ~1.06, SRDiff ~0.78 steps/s). The ladder to 3000 steps adds
    # ~40 + 50 min per SR3/SRDiff run, its 10k points ~2 h more each: run them last, or leave
    # them for later with --max-train-steps 3000.
    "cpu": Preset(),
    # A smoke run of the whole pipeline (seconds per run): checks the script, not the claims.
    "smoke": Preset(
        steps=4,
        ladder=(4, 8),
        seeds=(0,),
        batch=2,
        batch_pair=(2, 4),
        hr_size=32,
        val_size=64,
        tile=64,
        per_photo=1,
        sample_steps=(3,),
        lower_bounds=(0.0, 0.3),
        ddpm_full=False,
        extra=("data.val_limit=1",),
    ),
    # Paper-scale networks (SR3 face config's UNet, SRDiff's DIV2K networks) at 4x on the
    # same data; on a GPU. For the paper's data use the commands in docs/RESULTS.md.
    "gpu": Preset(
        sr3="sr3_face_16_128",
        srdiff="srdiff_div2k_x4",
        rrdb="rrdb_div2k_x4",
        resshift="resshift_x4",
        steps=20000,
        ladder=(20000, 100000),
        batch=32,
        batch_pair=(4, 32),
        hr_size=128,
        val_size=256,
        tile=256,
        per_photo=48,
        extra=("data.num_workers=4", "attention.source=detail"),
        sr3_extra=("model.scale=4",),
    ),
}


@dataclass
class Run:
    """One training run: ``name`` is its folder; ``targets`` the steps evaluated."""

    name: str
    backbone: str
    overrides: list[str]
    targets: tuple[int, ...]
    group: str
    evals: list[dict[str, Any]] = field(default_factory=list)


def plan(p: Preset, dinov2: Path | None) -> list[Run]:
    """Runs in priority order: what the next session most needs comes first."""
    runs: list[Run] = []
    l_default = f"yoda.lower_bound={p.default_lower_bound}"
    main_evals = [{"sampler": "ddim", "steps": p.sample_steps[0]}]

    def pair(kind: str, seed: int, targets: tuple[int, ...], extra: list[str], group: str) -> None:
        backbone = p.sr3 if kind == "sr3" else p.srdiff
        for yoda in (False, True):
            name = f"{kind}{'_yoda' if yoda else ''}_s{seed}" + "".join(
                f"_{e.split('.')[-1].replace('=', '')}" for e in extra
            )
            overrides = [f"train.seed={seed}", f"yoda.enabled={str(yoda).lower()}", l_default]
            runs.append(Run(name, backbone, overrides + extra, targets, group, list(main_evals)))

    def resshift_pair(seed: int, num_t: int) -> None:
        # The chain is T steps long in training and sampling; T = 4 takes the TPAMI version's
        # minimum noise level 0.2 (sqrt(eta_1) = 0.1), T = 15 the paper's 0.04.
        chain = [f"diffusion.num_train_timesteps={num_t}", f"sampling.steps={num_t}"]
        chain += [f"train.val_steps={num_t}"]
        if num_t < 15:
            chain.append("diffusion.min_noise_level=0.2")
        for yoda in (False, True):
            name = f"resshift{'_yoda' if yoda else ''}_T{num_t}_s{seed}"
            overrides = [f"train.seed={seed}", f"yoda.enabled={str(yoda).lower()}", l_default]
            evals = [{"sampler": "ddpm", "steps": num_t}]
            runs.append(Run(name, p.resshift, overrides + chain, (p.steps,), "resshift", evals))

    for kind in ("sr3", "srdiff"):
        pair(kind, p.seeds[0], (p.steps,), [], "main")
    base = {r.name: r for r in runs}
    for seed in p.seeds[1:]:
        for kind in ("sr3", "srdiff"):
            pair(kind, seed, (p.steps,), [], "main")
    for seed in p.seeds:
        for num_t in p.resshift_steps:
            resshift_pair(seed, num_t)
    for name in ("sr3_s0", "sr3_yoda_s0"):
        base[name].evals.append({"sampler": "ddim", "steps": p.sample_steps[0], "weights": "model"})
    for l_value in p.lower_bounds:
        if l_value != p.default_lower_bound:
            base["sr3_yoda_s0"].evals.append(
                {"sampler": "ddim", "steps": p.sample_steps[0], "lower_bound": l_value}
            )

    def ablation(name: str, extra: list[str]) -> None:
        overrides = [f"train.seed={p.seeds[0]}", "yoda.enabled=true", l_default, *extra]
        runs.append(
            Run(f"sr3_yoda_s0_{name}", p.sr3, overrides, (p.steps,), "ablation", main_evals)
        )

    for l_value in p.lower_bounds:
        if l_value != p.default_lower_bound:
            ablation(f"l{l_value}", [f"yoda.lower_bound={l_value}"])
    ablation("plain_input", ["yoda.input_mode=plain"])
    ablation("active_norm", ["yoda.loss_normalization=active"])
    ablation("bf16", ["train.mixed_precision=bf16"])
    ablation("constant_importance", ["attention.source=constant", "attention.constant=0.5"])
    if dinov2 is not None:
        ablation("dinov2", ["attention.source=dino", f"attention.model={dinov2}"])
    ablation(
        "schedule_T1000",
        [
            "diffusion.num_train_timesteps=1000",
            "diffusion.beta_start=1.0e-4",
            "diffusion.beta_end=2.0e-2",
            "sampling.steps=1000",
        ],
    )
    runs.append(
        Run(
            "srdiff_yoda_s0_active_norm",
            p.srdiff,
            [f"train.seed={p.seeds[0]}", "yoda.enabled=true", l_default]
            + ["yoda.loss_normalization=active"],
            (p.steps,),
            "ablation",
            main_evals,
        )
    )
    for name in ("sr3_s0", "sr3_yoda_s0", "srdiff_s0", "srdiff_yoda_s0"):
        # Slow samplers last: the same runs, evaluated again (training is skipped).
        evals = [{"sampler": "ddim", "steps": n} for n in p.sample_steps[1:]]
        if p.ddpm_full:
            evals.append({"sampler": "ddpm", "steps": None})
        runs.append(Run(**{**base[name].__dict__, "evals": evals, "group": "sampler"}))
    for batch in p.batch_pair:
        if batch != p.batch:
            pair("sr3", p.seeds[0], (p.steps,), [f"train.batch_size={batch}"], "batch")
    by_name = {r.name: r for r in runs if r.group in ("main", "resshift")}
    # ResShift's seed-0 pair at the paper's T = 15 climbs the ladder too (issue 20: does it
    # reach the bundled default's quality at the default's budget?); it keeps its own sampler.
    resshift_t = max(p.resshift_steps)
    resshift_ladder = [f"resshift_T{resshift_t}_s0", f"resshift_yoda_T{resshift_t}_s0"]
    for name in ("sr3_s0", "sr3_yoda_s0", "srdiff_s0", "srdiff_yoda_s0", *resshift_ladder):
        source = by_name[name]
        evals = list(source.evals) if name in resshift_ladder else list(main_evals)
        ladder = Run(**{**source.__dict__, "evals": evals})
        ladder.targets = tuple(sorted(set(p.ladder) | {p.steps}))
        ladder.group = "ladder"
        runs.append(ladder)
    return runs


def eval_sets(work: Path, photos: Path, val_size: int) -> dict[str, list[tuple[str, torch.Tensor]]]:
    """``val``: centre crops of the val photos; ``faces``: the portraits, square, resized."""
    val = [(p.stem, load_image(p)) for p in list_images(work / "val_crops")]
    faces = []
    for path in list_images(photos / "faces"):
        image = load_image(path)
        side = min(image.shape[-2:])
        top, left = (image.shape[-2] - side) // 2, (image.shape[-1] - side) // 2
        square = image[:, top : top + side, left : left + side]
        faces.append((path.stem, imresize(square, size=(val_size, val_size)).clamp(0, 1)))
    return {"val": val, "faces": faces}


def gradient_energy(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) in [0, 1] -> (H, W) squared forward differences of the luma, edge-padded."""
    luma = (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2])[None, None]
    dx = F.pad(luma[..., :, 1:] - luma[..., :, :-1], (0, 1, 0, 0))
    dy = F.pad(luma[..., 1:, :] - luma[..., :-1, :], (0, 0, 0, 1))
    return (dx**2 + dy**2)[0, 0]


def boundary_regions(importance: torch.Tensor, num_t: int, lower_bound: float) -> dict:
    """Band of +-2 px around the mask at the middle of the chain (t = T/2), inside, outside.

    The final-step mask is full whenever l > 0 (every pixel gets l*T steps), so the seam
    YODA can leave is where pixels with T/2 or more steps meet pixels with fewer.
    """
    mask = diffusion_mask(importance[None], num_t // 2, num_t, lower_bound)
    grown = F.max_pool2d(mask, 5, stride=1, padding=2)
    shrunk = -F.max_pool2d(-mask, 5, stride=1, padding=2)
    band = (grown - shrunk)[0, 0].bool()
    return {
        "band": band,
        "inside": shrunk[0, 0].bool(),
        "outside": ~grown[0, 0].bool(),
    }


def load_at(run_dir: Path, step: int, weights: str, device: str) -> YodaPipeline:
    """The pipeline of ``run_dir``'s checkpoint at ``step`` (EMA or raw weights)."""
    found = [c for c in list_checkpoints(run_dir) if c.step == step]
    if not found:
        raise FileNotFoundError(f"{run_dir}: no checkpoint at step {step}")
    config = ExperimentConfig.load_saved(found[0].config)
    model = build_model(config.model)
    load_weights(model, found[0].ema if weights == "ema" else found[0].model)
    return YodaPipeline(model, config, device=device)


def evaluate(
    pipe: YodaPipeline | None,
    sets: dict[str, list[tuple[str, torch.Tensor]]],
    spec: dict[str, Any],
    lpips: LpipsMetric,
    samples_dir: Path | None,
    batch: int = 1,
) -> dict[str, Any]:
    """Per-image metrics and boundary energies; ``pipe=None`` is bicubic.

    ``batch`` images of one size share a sampler call (noise from one generator seeded 0 per
    call, so batch 1 gives every image its own seed-0 noise, as on the CPU runs so far).
    """
    items = [(set_name, stem, hr) for set_name, images in sets.items() for stem, hr in images]
    rows = []
    calls = 0
    start = time.perf_counter()
    for first in range(0, len(items), batch):
        chunk = items[first : first + batch]
        if len({hr.shape for _, _, hr in chunk}) > 1:
            chunk = chunk[:1]  # sizes differ: one image per call
        lr = torch.cat([quantize(imresize(hr, scale=0.25))[None] for _, _, hr in chunk])
        importance: torch.Tensor | None = None
        if pipe is None:
            srs = (bicubic_up(lr, 4) + 1) / 2
        else:
            cfg = pipe.config
            steps = spec.get("steps")
            if steps is None and spec.get("sampler") == "ddpm":
                steps = cfg.diffusion.num_train_timesteps  # "full": every training step
            result = pipe(
                lr,
                sampler=spec.get("sampler"),
                num_inference_steps=steps,
                lower_bound=spec.get("lower_bound"),
                generator=torch.Generator().manual_seed(0),
                color_fix="none",  # the study measures the models' own colour
            )
            srs = result.images.cpu()
            calls += result.denoiser_calls if pipe.is_diffusion else 1
            importance = pipe.importance(lr).cpu() if pipe.is_diffusion else None
        for i, (set_name, stem, hr) in enumerate(chunk):
            sr = srs[i]
            extra: dict[str, Any] = {}
            if importance is not None:
                cfg = pipe.config
                lb = spec.get("lower_bound", cfg.yoda.lower_bound)
                regions = boundary_regions(importance[i], cfg.diffusion.num_train_timesteps, lb)
                e_sr, e_hr = gradient_energy(sr), gradient_energy(hr)
                # Excess over HR, in units of HR's mean over the whole image: stable in
                # flat regions, where a ratio of the two would divide by ~0.
                scale = e_hr.mean().clamp_min(1e-8)
                for region, where in regions.items():
                    if bool(where.any()):
                        extra[f"energy_excess_{region}"] = float(
                            (e_sr[where].mean() - e_hr[where].mean()) / scale
                        )
            if samples_dir is not None:
                save_image(sr, samples_dir / f"{set_name}_{stem}.png")
            rows.append(
                {"set": set_name, "image": stem, **evaluate_pair(sr, hr, 4, lpips), **extra}
            )
    # Network calls (one per sampler step and batch of images; a regression model's pass is 1).
    return {
        "rows": rows,
        "seconds": time.perf_counter() - start,
        "denoiser_calls_per_image": calls / len(items) if pipe is not None else 0,
    }


def cpu_machine() -> str:
    """The machine a CPU process trains on, in the records' words."""
    return f"CPU, {torch.get_num_threads()} thread(s)"


def save_speed(path: Path, key: str, steps_per_second: float, machine: str) -> None:
    """Record ``key`` (``run@step``: the segment up to that step) in the speeds file ``path``;
    read again before writing, as other processes may share it."""
    speeds = json.loads(path.read_text()) if path.is_file() else {}
    speeds[key] = {"steps_per_second": steps_per_second, "machine": machine}
    path.write_text(json.dumps(speeds, indent=1))


def train_to(run: Run, step: int, p: Preset, work: Path, runs_dir: Path) -> float | None:
    """Train (or resume) ``run`` up to ``step``; returns steps/s of this call (None if done)."""
    run_dir = runs_dir / run.name
    existing = list_checkpoints(run_dir)
    if existing and existing[-1].step >= step:
        return None
    config = run_config(run, step, p, work, runs_dir)
    return Trainer(config, run_dir, resume=bool(existing)).train(progress=False).steps_per_second


def run_config(run: Run, step: int, p: Preset, work: Path, runs_dir: Path) -> ExperimentConfig:
    """The experiment config of ``run`` trained to ``step`` under preset ``p``."""
    overrides = [
        f"data.train_dir={work / 'train_tiles'}",
        "data.val_dir=",
        f"data.hr_size={p.hr_size}",
        f"train.steps={step}",
        f"train.batch_size={p.batch}",
        "train.checkpoint_every=" + str(math.gcd(*run.targets)),
        "train.keep_last=1000",
        "train.validate_every=1000000",
        "train.sample_every=1000000",
        # The study reproduces the paper: per-image importance, as its runs were trained with
        # (0.2.0's default is absolute; see docs/RESULTS.md section 5).
        "attention.normalization=per_image",
        *p.extra,
        *(p.sr3_extra if run.backbone == p.sr3 else ()),
        *run.overrides,
    ]
    if run.backbone == p.srdiff:
        overrides.append(f"model.encoder_checkpoint={runs_dir / 'rrdb'}")
    return ExperimentConfig.load(run.backbone, overrides)


def shard_names(runs: list[Run], count: int) -> list[set[str]]:
    """Split run folders over ``count`` parallel workers, longest first (greedy balance).

    A folder's cost is its largest target step times its batch, summed over plan entries;
    every entry of one folder (main, sampler, ladder) goes to the same worker, since they
    train and evaluate the same checkpoints.
    """
    cost: dict[str, float] = {}
    for run in runs:
        batch = next(
            (int(o.split("=")[1]) for o in run.overrides if o.startswith("train.batch_size=")), 8
        )
        cost[run.name] = cost.get(run.name, 0.0) + max(run.targets) * batch * (1 + len(run.evals))
    shards: list[set[str]] = [set() for _ in range(count)]
    loads = [0.0] * count
    for name in sorted(cost, key=lambda n: (-cost[n], n)):
        i = loads.index(min(loads))
        shards[i].add(name)
        loads[i] += cost[name]
    return shards


def pending_runs(runs: list[Run], evals_dir: Path) -> list[Run]:
    """The plan entries with an evaluation not yet under ``evals_dir`` (what workers share)."""
    return [
        run
        for run in runs
        if any(
            not (evals_dir / f"{eval_key(run.name, step, spec)}.json").is_file()
            for step in run.targets
            for spec in run.evals
        )
    ]


def prepare_dinov2(out: Path) -> tuple[Path | None, str]:
    """A local DINOv2 ViT-S/14 from the shared tool, or (None, why not)."""
    folder = out / "dinov2_small"
    if (folder / "config.json").is_file():
        return folder, ""
    tool = SHARED / "tools" / "make_dinov2_small.py"
    if not tool.is_file():
        return None, f"{tool} not found"
    done = subprocess.run(
        [sys.executable, str(tool), str(folder)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return None, f"{tool.name} failed: {done.stderr.strip().splitlines()[-1:]}"
    return folder, ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--photos", type=Path, default=HERE / "data" / "photos")
    parser.add_argument(
        "--out", type=Path, default=None, help="default benchmarks/out/reproduce_PRESET"
    )
    parser.add_argument(
        "--records",
        type=Path,
        default=None,
        help="evaluations and speeds (JSON, kept in git); default benchmarks/results/reproduce_PRESET",
    )
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-minutes", type=float, default=float("inf"))
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument(
        "--groups",
        default="main,resshift,ablation,sampler,batch,ladder",
        help="comma-separated plan groups to train/evaluate now (the report covers all)",
    )
    parser.add_argument(
        "--shard",
        default="0/1",
        help="I/N: train and evaluate only this worker's share of the run folders with an "
        "evaluation still missing, so N processes can share one GPU (run once with --groups "
        "none first: it trains the RRDB)",
    )
    parser.add_argument("--runs", default="", help="comma-separated run folders: only these")
    parser.add_argument(
        "--max-sample-steps",
        type=int,
        default=None,
        help="leave evaluations with more sampler steps than this (DDPM over all T) for later",
    )
    parser.add_argument(
        "--max-train-steps",
        type=int,
        default=None,
        help="train no run past this many steps now (longer ladder points are left for later; "
        "checkpoints already there are still evaluated)",
    )
    parser.add_argument(
        "--eval-batch",
        type=int,
        default=1,
        help="images per sampler call in evaluations (a GPU wants all 10; 1 = one seed-0 "
        "noise per image)",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = PRESETS[args.preset]
    out = args.out or HERE / "out" / f"reproduce_{args.preset}"
    records = args.records or HERE / "results" / f"reproduce_{args.preset}"
    runs_dir, evals_dir = out / "runs", records / "evals"
    evals_dir.mkdir(parents=True, exist_ok=True)
    work = prepare_photos(args.photos, out / "data", p.tile, p.val_size, p.per_photo)
    sets = eval_sets(work, args.photos, p.val_size)
    dinov2, dinov2_missing = prepare_dinov2(out)
    runs = plan(p, dinov2)
    lpips = LpipsMetric(device=args.device)
    deadline = time.monotonic() + 60 * args.max_minutes
    machine = (
        torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else cpu_machine()
    )
    shard, num_shards = (int(v) for v in args.shard.split("/"))
    mine = shard_names(pending_runs(runs, evals_dir), num_shards)[shard]
    if args.runs:
        mine &= set(args.runs.split(","))
    groups = set(args.groups.split(","))
    selected = [r for r in runs if r.group in groups and r.name in mine]
    speeds_path = records / (
        "speeds.json" if num_shards == 1 else f"speeds_shard{shard}of{num_shards}.json"
    )

    def record_speed(key: str, steps_per_second: float) -> None:
        save_speed(speeds_path, key, steps_per_second, machine)

    def too_long(spec: dict[str, Any], run: Run) -> bool:
        if args.max_sample_steps is None:
            return False
        steps = (
            spec.get("steps")
            or run_config(run, p.steps, p, work, runs_dir).diffusion.num_train_timesteps
        )
        return steps > args.max_sample_steps

    def save_eval(key: str, pipe: YodaPipeline | None, spec: dict[str, Any]) -> None:
        path = evals_dir / f"{key}.json"
        if path.is_file() or args.report_only:
            return
        samples = out / "samples" / key if spec.get("save_samples") else None
        result = evaluate(pipe, sets, spec, lpips, samples, args.eval_batch)
        record = {"spec": spec, "machine": machine, "eval_batch": args.eval_batch, **result}
        path.write_text(json.dumps(record, indent=1))
        print(
            f"eval {key}: PSNR-Y {np.mean([r['psnr_y'] for r in result['rows']]):.2f}", flush=True
        )

    for set_name, images in sets.items():  # references for the report's example grid
        for stem, hr in images:
            if not (out / "samples" / "hr" / f"{set_name}_{stem}.png").is_file():
                save_image(hr, out / "samples" / "hr" / f"{set_name}_{stem}.png")
    save_eval("bicubic", None, {"save_samples": True})
    needs_rrdb = not args.runs or any(r.backbone == p.srdiff for r in selected)
    if needs_rrdb and not args.report_only and not list_checkpoints(runs_dir / "rrdb"):
        rrdb = Run("rrdb", p.rrdb, [f"train.seed={p.seeds[0]}"], (p.steps,), "main")
        record_speed("rrdb", train_to(rrdb, p.steps, p, work, runs_dir) or 0.0)
    if list_checkpoints(runs_dir / "rrdb"):
        save_eval(
            "rrdb",
            YodaPipeline.from_pretrained(runs_dir / "rrdb", device=args.device),
            {"save_samples": True},
        )
    for run in selected:
        for step in run.targets:
            if args.report_only:
                break
            if all(
                (evals_dir / f"{eval_key(run.name, step, spec)}.json").is_file()
                for spec in run.evals
            ):
                continue  # evaluated already (perhaps on another machine): nothing to train
            if time.monotonic() <= deadline and step <= (args.max_train_steps or step):
                rate = train_to(run, step, p, work, runs_dir)
                if rate is not None:
                    record_speed(f"{run.name}@{step}", rate)
                    print(f"trained {run.name} to {step} at {rate:.2f} steps/s", flush=True)
            if not any(c.step == step for c in list_checkpoints(runs_dir / run.name)):
                break
            for weights in {e.get("weights", "ema") for e in run.evals}:
                pipe = None
                for spec in run.evals:
                    if spec.get("weights", "ema") != weights:
                        continue
                    spec = {
                        **spec,
                        "save_samples": run.group == "main" and "lower_bound" not in spec,
                    }
                    key = eval_key(run.name, step, spec)
                    if (evals_dir / f"{key}.json").is_file() or too_long(spec, run):
                        continue
                    pipe = pipe or load_at(runs_dir / run.name, step, weights, args.device)
                    save_eval(key, pipe, spec)
    write_report(records, out, args.docs, p, args.preset, runs, dinov2_missing, lpips)


if __name__ == "__main__":
    main()
