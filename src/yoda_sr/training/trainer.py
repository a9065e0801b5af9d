"""Training loop on Hugging Face accelerate (CPU, one GPU, or several via ``accelerate launch``).

On several processes (``accelerate launch``, ``torchrun``) each one trains on its share of every
batch (accelerate's ``split_batches``: ``train.batch_size`` is the global batch), gradients are
averaged by DDP, and only the main process keeps the EMA, validates, logs and writes checkpoints.
"""

from __future__ import annotations

import itertools
import math
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
import yaml
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.data_loader import DataLoaderShard, skip_first_batches
from accelerate.state import AcceleratorState, PartialState
from accelerate.utils import gather_object, set_seed
from diffusers.optimization import get_scheduler
from torch import nn
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from yoda_sr.attention import ImportanceSource, build_importance_source
from yoda_sr.checkpoints import (
    RUN_CONFIG,
    RUN_CONFIG_HEADER,
    CheckpointFiles,
    CorruptCheckpointError,
    is_run_config,
    list_checkpoints,
    load_weights,
    read_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from yoda_sr.config import ExperimentConfig
from yoda_sr.data.datasets import EpochSampler, SRFolderDataset
from yoda_sr.data.importance_cache import ImportanceCache
from yoda_sr.diffusion import make_scheduler, yoda_loss
from yoda_sr.distributed import check_launch
from yoda_sr.files import write_text_atomically
from yoda_sr.imaging import save_image
from yoda_sr.metrics import psnr
from yoda_sr.models import SettingsModel, SRBackbone, bicubic_up, build_model
from yoda_sr.pipeline import YodaPipeline
from yoda_sr.settings import flatten
from yoda_sr.viz import image_grid

# Settings that may change between a run and its resumption (bookkeeping, not the model or
# the optimisation trajectory). Everything else must match the checkpoint's config.
RESUMABLE_CHANGES = {
    "train.steps",
    "train.log_every",
    "train.checkpoint_every",
    "train.keep_last",
    "train.max_bad_steps",
    "train.validate_every",
    "train.sample_every",
    "train.val_sampler",
    "train.val_steps",
    "train.channels_last",
    "train.compile",
    "data.train_dir",
    "data.val_dir",
    "data.num_workers",
    "data.cache_dir",
    "data.val_limit",
    "data.skip_unreadable",
    "sampling",
}


class ConfigMismatchError(ValueError):
    """The config given for ``--resume`` does not match the checkpoint's."""


class TrainingDivergedError(FloatingPointError):
    """Losses, gradients or weights became NaN/inf and training stopped."""


def config_differences(saved: ExperimentConfig, given: ExperimentConfig) -> list[str]:
    """Settings that differ and may not change on resume, as ``key: saved -> given``."""
    a, b = flatten(saved.to_dict()), flatten(given.to_dict())
    diffs = []
    for key in sorted(set(a) | set(b)):
        if key in RESUMABLE_CHANGES or key.split(".")[0] in RESUMABLE_CHANGES:
            continue
        if a.get(key) != b.get(key):
            diffs.append(f"{key}: {a.get(key)!r} -> {b.get(key)!r}")
    return diffs


def ema_avg_fn(decay: float):
    """EMA with the usual warm-up ``min(decay, (1 + n) / (10 + n))`` (as diffusers' EMAModel),
    so short runs still get a useful average."""

    def avg(averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor):
        n = float(num_averaged)
        d = min(decay, (1.0 + n) / (10.0 + n))
        return averaged * d + current * (1.0 - d)

    return avg


@dataclass
class TrainResult:
    step: int
    losses: list[float] = field(default_factory=list)
    val_psnr: list[tuple[int, float]] = field(default_factory=list)
    steps_per_second: float = 0.0
    skipped_steps: int = 0


@dataclass
class _Run:
    """What one :meth:`Trainer.train` works with: built by ``_setup``, positioned by
    ``_resume``, wrapped by ``_prepare``, advanced by ``_train_step``."""

    accelerator: Accelerator
    model: nn.Module
    ema: AveragedModel | None  # main process only
    optimizer: torch.optim.Optimizer
    lr_scheduler: Any
    loader: DataLoader
    sampler: EpochSampler
    val_set: SRFolderDataset | None
    config_yaml: str  # the run's config, as written to config.yaml and checkpoints
    scheduler: Any = None  # the DDPM noise schedule (None for RRDB regression)
    step: int = 0  # optimiser steps done
    consumed: int = 0  # global batches consumed (micro-steps)
    bad_in_a_row: int = 0
    result: TrainResult = field(default_factory=lambda: TrainResult(step=0))


def _batches(loader: DataLoaderShard, sampler: EpochSampler, start: int) -> Iterator[dict]:
    """Batches forever, beginning ``start`` batches in (epoch ``start // len(loader)``).

    The epoch is also set on ``sampler`` itself: on several processes accelerate's
    ``set_epoch`` does not reach it through the skip and shard wrappers of a resumed loader.
    """
    first_epoch, skip = divmod(start, len(loader))
    for epoch in itertools.count(first_epoch):
        current = skip_first_batches(loader, skip) if skip else loader
        current.set_epoch(epoch)
        sampler.set_epoch(epoch)
        skip = 0
        yield from current


def _restore_rng(saved: dict[str, Any] | list[dict[str, Any]], accelerator: Accelerator) -> None:
    """Give each process back its own random state (a list, one per process; a single dict in
    checkpoints written before). On another number of processes, a process without a saved
    state keeps its seeded one: distinct streams, but not an uninterrupted run's noise."""
    states = saved if isinstance(saved, list) else [saved]
    if len(states) != accelerator.num_processes and accelerator.is_main_process:
        warnings.warn(
            f"the checkpoint was written by {len(states)} process(es), resuming on "
            f"{accelerator.num_processes}: same data order and batches, other random noise",
            stacklevel=3,
        )
    if accelerator.process_index < len(states):
        set_rng_state(states[accelerator.process_index])


def _plain(accelerator: Accelerator, model: nn.Module) -> nn.Module:
    """``model`` without the accelerator's wrappers nor ``torch.compile``'s."""
    return accelerator.unwrap_model(model, keep_torch_compile=False)


def _check_weights(model: nn.Module, step: int, learning_rate: float) -> None:
    """Stop if the update of ``step`` made any trainable weight NaN/inf."""
    params = [p for p in model.parameters() if p.requires_grad]
    if bool(torch.stack([p.isfinite().all() for p in params]).all()):
        return
    names = [n for n, p in model.named_parameters() if not p.isfinite().all()]
    raise TrainingDivergedError(
        f"step {step}: the update made the weights NaN/inf ({', '.join(names[:3])}"
        f"{', ...' if len(names) > 3 else ''}); stopped without saving them "
        f"(train.learning_rate is {learning_rate}: too high?)"
    )


class Trainer:
    """Trains the model a config describes and writes checkpoints into ``output_dir``."""

    def __init__(self, config: ExperimentConfig, output_dir: str | Path, resume: bool = False):
        self.config = config
        self.output_dir = Path(output_dir)
        self.resume = resume
        existing = list_checkpoints(self.output_dir)
        if existing and not resume:
            raise FileExistsError(
                f"{self.output_dir}: already holds checkpoints (newest step {existing[-1].step}); "
                "pass --resume to continue it or choose another --output-dir"
            )
        if resume and not existing:
            raise FileNotFoundError(
                f"{self.output_dir}: no checkpoint to resume (not a run folder, or its run "
                "stopped before the first checkpoint); train without --resume to start a run"
            )
        config_file = self.output_dir / RUN_CONFIG
        if not existing and os.path.lexists(config_file) and not is_run_config(config_file):
            raise FileExistsError(
                f"{config_file}: not a run's config (a run writes its resolved settings "
                "there and would replace this file); choose another --output-dir"
            )
        self.checkpoint: CheckpointFiles | None = None
        self._resume_state: dict[str, Any] = {}
        # The importance source of yoda.importance_input "estimate" (set up with the data).
        self._estimate_importance: ImportanceSource | None = None
        if resume and existing:
            self.checkpoint, self._resume_state = self._pick_checkpoint(existing)

    def _pick_checkpoint(
        self, existing: list[CheckpointFiles]
    ) -> tuple[CheckpointFiles, dict[str, Any]]:
        """The newest checkpoint that reads back, and its training state; warns about each
        newer one skipped. Its config must match the given one."""
        skipped: list[str] = []
        for files in reversed(existing):
            try:
                state = read_checkpoint(files)
                saved = ExperimentConfig.load_saved(files.config)
            except ValueError as exc:
                skipped.append(f"{files.folder}: {exc}")
                continue
            for problem in skipped:
                warnings.warn(
                    f"{problem}; skipped, resuming from {files.folder.name}", stacklevel=3
                )
            diffs = config_differences(saved, self.config)
            if diffs:
                raise ConfigMismatchError(
                    f"{files.config}: the given config does not match the checkpoint:\n  "
                    + "\n  ".join(diffs)
                )
            return files, state
        raise CorruptCheckpointError(
            f"{self.output_dir}: no checkpoint reads back:\n  " + "\n  ".join(skipped)
        )

    # -- setup -------------------------------------------------------------------------
    def _datasets(self, device: torch.device) -> tuple[SRFolderDataset, SRFolderDataset | None]:
        cfg = self.config
        cache = None
        if cfg.model_type != "rrdb" and cfg.yoda.enabled:
            source = build_importance_source(cfg.attention).to(device)
            if cfg.yoda.importance_input == "estimate":
                # The maps need the model's estimate: made per batch in _loss, not by the data.
                self._estimate_importance = source
            else:
                cache = ImportanceCache(source, cfg.attention, cfg.data.cache_dir or None, device)
        if not cfg.data.train_dir:
            raise ValueError("data.train_dir is not set (use --set data.train_dir=FOLDER)")
        common = {
            "scale": cfg.model.scale,
            "hr_size": cfg.data.hr_size,
            "mode": cfg.data.mode,
            "cache": cache,
            "skip_unreadable": cfg.data.skip_unreadable,
            "degradation": cfg.degradation,
        }
        train = SRFolderDataset(cfg.data.train_dir, train=True, flip=cfg.data.flip, **common)
        val = None
        if cfg.data.val_dir:
            val = SRFolderDataset(
                cfg.data.val_dir, train=False, flip=False, limit=cfg.data.val_limit, **common
            )
        return train, val

    def _loader(self, train_set: SRFolderDataset, sampler: EpochSampler) -> DataLoader:
        """Shuffled global batches whose order and crops depend on the seed and epoch only."""
        cfg, tc = self.config, self.config.train
        return DataLoader(
            train_set,
            batch_size=tc.batch_size,
            sampler=sampler,
            drop_last=len(train_set) >= tc.batch_size,
            num_workers=cfg.data.num_workers,
            persistent_workers=cfg.data.num_workers > 0,
            # Workers' seeds come from here, not from the global RNG that drives the noise.
            generator=torch.Generator().manual_seed(tc.seed),
        )

    def _build_model(self) -> nn.Module:
        model = build_model(self.config.model)
        if hasattr(model, "prepare_for_training"):
            model.prepare_for_training()
        if self.config.train.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    # -- loop --------------------------------------------------------------------------
    def train(self, progress: bool = True) -> TrainResult:
        """Train to ``train.steps`` (from the picked checkpoint, if any); the main process
        validates, logs and writes checkpoints along the way."""
        tc = self.config.train
        run = self._setup()
        self._resume(run)
        self._prepare(run)
        batches = _batches(run.loader, run.sampler, run.consumed)
        bar = tqdm(
            total=tc.steps,
            initial=run.step,
            disable=not (progress and run.accelerator.is_main_process),
            desc="train",
        )
        started, start_step = time.perf_counter(), run.step
        while run.step < tc.steps:
            loss_value = self._train_step(run, batches)
            if loss_value is None:  # accumulating, or a skipped bad step
                continue
            rate = (run.step - start_step) / max(time.perf_counter() - started, 1e-9)
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.4f}", steps_per_s=f"{rate:.2f}")
            self._after_step(run, loss_value)
        bar.close()
        run.result.step = run.step
        run.result.steps_per_second = (run.step - start_step) / max(
            time.perf_counter() - started, 1e-9
        )
        run.accelerator.end_training()
        return run.result

    def _setup(self) -> _Run:
        """Accelerator, seeds, ``config.yaml``, data, model, EMA, optimiser and LR schedule,
        freshly initialised and not yet wrapped by the accelerator."""
        cfg, tc = self.config, self.config.train
        if AcceleratorState._shared_state and PartialState().num_processes == 1:
            # accelerate keeps one state per process and refuses a second mixed_precision; a
            # process training runs one after another (a study, a notebook) starts each afresh.
            AcceleratorState._reset_state()
        accelerator = Accelerator(
            mixed_precision=tc.mixed_precision,
            gradient_accumulation_steps=tc.gradient_accumulation_steps,
            log_with="tensorboard",
            project_dir=str(self.output_dir),
            dataloader_config=DataLoaderConfiguration(split_batches=True),
        )
        check_launch(accelerator.num_processes)
        if tc.batch_size % accelerator.num_processes:
            raise ValueError(
                f"train.batch_size {tc.batch_size} is the global batch, split across the "
                f"{accelerator.num_processes} processes: it must be a multiple of their number"
            )
        # seed + process index: each process draws its own noise; DDP gives every process the
        # main process's initial weights.
        set_seed(tc.seed, device_specific=True)
        config_yaml = yaml.safe_dump(cfg.to_dict(), sort_keys=False)
        with accelerator.main_process_first():  # the main process fills the importance cache
            train_set, val_set = self._datasets(accelerator.device)
        if accelerator.is_main_process:  # once the data is found: no folder for a failed start
            self.output_dir.mkdir(parents=True, exist_ok=True)
            write_text_atomically(self.output_dir / RUN_CONFIG, RUN_CONFIG_HEADER + config_yaml)
        sampler = EpochSampler(len(train_set), tc.seed)
        loader = self._loader(train_set, sampler)
        model = self._build_model()
        ema = None  # the EMA, validation and checkpoints live on the main process only
        if accelerator.is_main_process:
            ema = AveragedModel(model, avg_fn=ema_avg_fn(tc.ema_decay), use_buffers=True)
        optimizer = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad],
            lr=tc.learning_rate,
            weight_decay=tc.weight_decay,
        )
        lr_scheduler = get_scheduler(
            tc.lr_schedule,
            optimizer,
            num_warmup_steps=tc.warmup_steps,
            num_training_steps=tc.steps,
        )
        return _Run(
            accelerator=accelerator,
            model=model,
            ema=ema,
            optimizer=optimizer,
            lr_scheduler=lr_scheduler,
            loader=loader,
            sampler=sampler,
            val_set=val_set,
            config_yaml=config_yaml,
        )

    def _resume(self, run: _Run) -> None:
        """Load the checkpoint picked for resuming (weights, EMA, optimiser, LR schedule, RNG)
        and set the step and the global batches consumed; nothing to do without one."""
        if self.checkpoint is None:
            return
        state = self._resume_state
        load_weights(run.model, self.checkpoint.model)
        if run.ema is not None:
            load_weights(run.ema.module, self.checkpoint.ema)
            run.ema.n_averaged.fill_(state["ema_n_averaged"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.lr_scheduler.load_state_dict(state["lr_scheduler"])
        _restore_rng(state["rng"], run.accelerator)
        run.step = int(state["step"])
        # Checkpoints written before the data position was saved: one batch per micro-step.
        accumulation = self.config.train.gradient_accumulation_steps
        run.consumed = int(state.get("batches", run.step * accumulation))

    def _prepare(self, run: _Run) -> None:
        """Wrap model, optimiser, loader and LR schedule for the accelerator (and the model in
        ``torch.compile`` with ``train.compile``), move the EMA to its device, make the noise
        schedule and start the trackers."""
        accelerator = run.accelerator
        run.model, run.optimizer, run.loader, run.lr_scheduler = accelerator.prepare(
            run.model, run.optimizer, run.loader, run.lr_scheduler
        )
        if self.config.train.compile:
            # Here rather than accelerate's dynamo_backend, which its process-wide state fixes
            # at the first Accelerator.
            run.model = cast(nn.Module, torch.compile(run.model))  # an OptimizedModule
        if run.ema is not None:
            run.ema.to(accelerator.device)
        if self.config.model_type != "rrdb":
            run.scheduler = make_scheduler(self.config.diffusion, "ddpm")
        accelerator.init_trackers("yoda-sr")
        run.result = TrainResult(step=run.step)

    def _train_step(self, run: _Run, batches: Iterator[dict]) -> float | None:
        """One micro-batch forward/backward; at the end of an accumulation window, the
        optimiser step (or a skipped bad step) and the EMA update. Returns the (gathered)
        loss of a completed step, else None."""
        accelerator, model = run.accelerator, run.model
        with accelerator.accumulate(model):
            loss = self._loss(_plain(accelerator, model), model, run.scheduler, next(batches))
            accelerator.backward(loss)
        run.consumed += 1
        if not accelerator.sync_gradients:
            return None
        loss_value = float(accelerator.gather(loss.detach()).mean())
        problem = self._apply_gradients(
            accelerator, model, run.optimizer, run.lr_scheduler, loss_value
        )
        if problem is not None:
            run.bad_in_a_row += 1
            run.result.skipped_steps += 1
            self._bad_step(run.step + 1, problem, run.bad_in_a_row, accelerator.is_main_process)
            accelerator.log({"skipped_steps": run.result.skipped_steps}, step=run.step + 1)
            return None
        run.bad_in_a_row = 0
        run.step += 1
        _check_weights(_plain(accelerator, model), run.step, self.config.train.learning_rate)
        if run.ema is not None:
            run.ema.update_parameters(_plain(accelerator, model))
        run.result.losses.append(loss_value)
        return loss_value

    def _after_step(self, run: _Run, loss_value: float) -> None:
        """Logging, validation and checkpoints due at ``run.step`` (and at the last step)."""
        tc, accelerator, ema, step = self.config.train, run.accelerator, run.ema, run.step
        if step % tc.log_every == 0 or step == tc.steps:
            accelerator.log(
                {"loss": loss_value, "lr": run.lr_scheduler.get_last_lr()[0]}, step=step
            )
        if run.val_set is not None and (step % tc.validate_every == 0 or step == tc.steps):
            if ema is not None:
                model = cast(SettingsModel, ema.module)  # AveragedModel's copy of the model
                value = self._validate(model, run.val_set, accelerator, step)
                run.result.val_psnr.append((step, value))
                accelerator.log({"val_psnr": value}, step=step)
        if step % tc.checkpoint_every == 0 or step == tc.steps:
            rng = gather_object([rng_state()])  # collective: every process's state
            if ema is not None:
                save_checkpoint(
                    self.output_dir,
                    step,
                    _plain(accelerator, run.model),
                    ema.module,
                    run.config_yaml,
                    {
                        "optimizer": run.optimizer.state_dict(),
                        "lr_scheduler": run.lr_scheduler.state_dict(),
                        "ema_n_averaged": int(ema.n_averaged),
                        "step": step,
                        "batches": run.consumed,
                        "rng": rng,
                    },
                    tc.keep_last,
                )

    def _apply_gradients(
        self, accelerator: Accelerator, model: nn.Module, optimizer, lr_scheduler, loss_value: float
    ) -> str | None:
        """Clip the gradients and step the optimiser and LR schedule, unless the loss or the
        gradient norm is NaN/inf: then leave the weights alone and return what was wrong."""
        tc = self.config.train
        max_norm = tc.grad_clip if tc.grad_clip > 0 else math.inf
        grad_norm = float(accelerator.clip_grad_norm_(model.parameters(), max_norm))
        problem = None
        if not math.isfinite(loss_value):
            problem = f"the loss is {loss_value}"
        elif not math.isfinite(grad_norm) and accelerator.scaler is None:
            problem = f"the gradient norm is {grad_norm}"
        # fp16: the loss scaler skips overflowing steps itself and must see every step.
        if problem is None or accelerator.scaler is not None:
            optimizer.step()
            lr_scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        return problem

    def _bad_step(self, step: int, problem: str, in_a_row: int, warn: bool) -> None:
        """Warn about a skipped step (if ``warn``: the main process), or stop after more than
        ``train.max_bad_steps`` in a row (every process: they see the same gathered loss)."""
        limit = self.config.train.max_bad_steps
        if in_a_row > limit:
            raise TrainingDivergedError(
                f"step {step}: {problem}, {in_a_row} step(s) in a row (train.max_bad_steps="
                f"{limit}); stopped (train.learning_rate too high? bad data?)"
            )
        if warn:
            warnings.warn(
                f"step {step}: {problem}; skipped the batch ({in_a_row} in a row, "
                f"train.max_bad_steps={limit})",
                stacklevel=3,
            )

    def _loss(self, unwrapped: nn.Module, model: nn.Module, scheduler, batch: dict) -> torch.Tensor:
        lr, hr = batch["lr"], batch["hr"]
        if not isinstance(unwrapped, SRBackbone):
            return F.l1_loss(model(lr), hr)
        cond = unwrapped.condition(lr)  # a frozen encoder runs without grad inside
        anchor = unwrapped.anchor(cond)
        importance = batch["importance"]
        if self._estimate_importance is not None:
            with torch.no_grad():
                estimate = unwrapped.to_image(anchor, cond)
                importance = self._estimate_importance(estimate, tuple(hr.shape[-2:]))
        return yoda_loss(
            model,
            scheduler,
            x0=unwrapped.target(hr, cond),
            anchor=anchor,
            importance=importance,
            config=self.config.yoda,
            condition=cond,
        )

    @torch.no_grad()
    def _validate(
        self,
        ema_model: SettingsModel,
        val_set: SRFolderDataset,
        accelerator: Accelerator,
        step: int,
    ) -> float:
        """Mean RGB PSNR (crop border = scale) of the EMA model on the validation crops;
        also writes ``samples/step-XXXXXX.png`` (rows: bicubic, output, HR)."""
        cfg, tc = self.config, self.config.train
        was_training = ema_model.training
        pipe = YodaPipeline(ema_model, cfg, device=accelerator.device)
        # Own generator: validation must not draw from the RNG that drives training.
        loader = DataLoader(val_set, batch_size=len(val_set), generator=torch.Generator())
        batch = next(iter(loader))
        generator = torch.Generator().manual_seed(tc.seed)
        out = pipe(
            batch["lr"],
            sampler=tc.val_sampler,
            num_inference_steps=tc.val_steps,
            # The data's maps are of the LR; "estimate" maps are made by the pipeline.
            importance=None if self._estimate_importance is not None else batch["importance"],
            generator=generator,
        )
        ema_model.train(was_training)
        images = out.images.cpu()
        values = [
            psnr(sr, hr, crop_border=cfg.model.scale)
            for sr, hr in zip(images, batch["hr"], strict=True)
        ]
        if step % tc.sample_every == 0 or step == tc.steps:
            bicubic = (bicubic_up(batch["lr"], cfg.model.scale) + 1.0) / 2.0
            grid = image_grid([list(bicubic), list(images), list(batch["hr"])])
            save_image(grid, self.output_dir / "samples" / f"step-{step:06d}.png")
        finite = [v for v in values if math.isfinite(v)]
        return sum(finite) / max(len(finite), 1)
