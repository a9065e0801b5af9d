"""Atomic checkpoints: safetensors weights + config + optimiser/scheduler/RNG state.

Layout of a run folder::

    run_dir/config.yaml                   the experiment config (rebuilds everything),
                                          under RUN_CONFIG_HEADER, which marks the folder
                                          as a run's before its first checkpoint
    run_dir/checkpoints/step-000500/      one folder per checkpoint, written as
        model.safetensors                 "<name>.tmp" and renamed when complete,
        ema.safetensors                   so a crash never leaves a half checkpoint
        config.yaml
        training_state.pt                 optimiser, LR scheduler, step, data position,
                                          RNG states (a list: one per process)

Old checkpoints are pruned by renaming them to ``.trash-<name>`` before deleting them, and
folders missing any of the four files are not listed, so a kill at any moment leaves only
complete checkpoints under ``step-*`` names. Weights with NaN/inf are never written.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

STEP_DIR = re.compile(r"^step-(\d+)$")
RUN_CONFIG = "config.yaml"
RUN_CONFIG_HEADER = "# yoda-sr run config: the resolved settings of this run, written by it\n"
TRASH_PREFIX = ".trash-"
TRAINING_STATE_KEYS = ("optimizer", "lr_scheduler", "ema_n_averaged", "step", "rng")
# What reading a damaged (truncated, emptied, overwritten) checkpoint file raises.
READ_ERRORS = (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError, SafetensorError)


class NonFiniteWeightsError(FloatingPointError):
    """Weights hold NaN or inf (and are therefore not written)."""


class CorruptCheckpointError(ValueError):
    """A checkpoint file does not read back."""


def state_dict_for_saving(module: nn.Module) -> dict[str, torch.Tensor]:
    """Contiguous CPU copies (safetensors refuses shared or strided storage)."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def non_finite_tensors(state: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors of ``state`` holding NaN or inf."""
    return [k for k, v in state.items() if v.is_floating_point() and not v.isfinite().all()]


def save_weights(module: nn.Module, path: str | Path) -> None:
    """Write ``module``'s weights as safetensors, atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(state_dict_for_saving(module), str(tmp))
    os.replace(tmp, path)


def load_weights(module: nn.Module, path: str | Path) -> None:
    """Load safetensors weights. A missing, corrupt or truncated file, or weights that do
    not fit ``module`` (summarised: counts of missing, unexpected and mismatched keys, and
    the first few of each), raise ValueError naming the file. Tensors are cast to the
    module's dtypes (fp16 files load into float32 models)."""
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{path}: cannot read the weights ({exc})") from exc
    expected = module.state_dict()
    problems = {
        "missing keys": [k for k in expected if k not in state],
        "unexpected keys": [k for k in state if k not in expected],
        "shape mismatches": [
            f"{k}: file {tuple(state[k].shape)}, model {tuple(v.shape)}"
            for k, v in expected.items()
            if k in state and state[k].shape != v.shape
        ],
    }
    if any(problems.values()):
        summary = "; ".join(
            f"{len(items)} {kind} (first: {', '.join(items[:3])})"
            for kind, items in problems.items()
            if items
        )
        raise ValueError(f"{path}: weights do not fit the model built from the config: {summary}")
    module.load_state_dict(state)


def rng_state() -> dict[str, Any]:
    _, keys, position, *_ = cast(tuple, np.random.get_state())
    state = {
        "python": random.getstate(),
        "numpy": torch.from_numpy(keys.astype(np.int64)),
        "numpy_pos": int(position),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    keys = state["numpy"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, state["numpy_pos"], 0, 0.0))  # no cached Gaussian
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class CheckpointFiles:
    folder: Path
    step: int

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.model, self.ema, self.config, self.training_state)

    @property
    def model(self) -> Path:
        return self.folder / "model.safetensors"

    @property
    def ema(self) -> Path:
        return self.folder / "ema.safetensors"

    @property
    def config(self) -> Path:
        return self.folder / "config.yaml"

    @property
    def training_state(self) -> Path:
        return self.folder / "training_state.pt"


def is_run_config(path: str | Path) -> bool:
    """Whether ``path`` is a config file a training run wrote (it starts with
    :data:`RUN_CONFIG_HEADER`), which a new run in that folder may replace."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(RUN_CONFIG_HEADER)) == RUN_CONFIG_HEADER.encode()
    except OSError:
        return False


def list_checkpoints(run_dir: str | Path) -> list[CheckpointFiles]:
    """Complete checkpoints of a run (all four files present), oldest first."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        match = STEP_DIR.match(child.name)
        if match and child.is_dir():
            files = CheckpointFiles(child, int(match.group(1)))
            if all(path.is_file() for path in files.files):
                found.append(files)
    return sorted(found, key=lambda c: c.step)


def _discard(folder: Path) -> None:
    """Delete a folder after renaming it out of the ``step-*`` namespace (atomic), so a kill
    mid-delete leaves a ``.trash-*`` folder instead of a half checkpoint."""
    trash = folder.with_name(TRASH_PREFIX + folder.name)
    shutil.rmtree(trash, ignore_errors=True)
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _remove_leftovers(root: Path) -> None:
    """Delete what an interrupted save or prune left behind (``*.tmp``, ``.trash-*``)."""
    for child in root.iterdir():
        if child.is_dir() and (child.name.startswith(TRASH_PREFIX) or child.suffix == ".tmp"):
            shutil.rmtree(child, ignore_errors=True)


def save_checkpoint(
    run_dir: str | Path,
    step: int,
    model: nn.Module,
    ema: nn.Module,
    config_yaml: str,
    training_state: dict[str, Any],
    keep_last: int,
) -> CheckpointFiles:
    """Write a complete checkpoint folder atomically and prune to the newest ``keep_last``.

    Raises :class:`NonFiniteWeightsError` (writing nothing) if any weight is NaN or inf.
    """
    weights = {"model": state_dict_for_saving(model), "ema": state_dict_for_saving(ema)}
    bad = {name: non_finite_tensors(state) for name, state in weights.items()}
    if any(bad.values()):
        raise NonFiniteWeightsError(
            f"step {step}: not writing a checkpoint, the weights hold NaN/inf ("
            + "; ".join(f"{name}: {', '.join(keys[:3])}" for name, keys in bad.items() if keys)
            + ")"
        )
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(root)
    final = CheckpointFiles(root / f"step-{step:06d}", step)
    tmp = root / f"{final.folder.name}.tmp"
    tmp.mkdir()
    save_file(weights["model"], str(tmp / final.model.name))
    save_file(weights["ema"], str(tmp / final.ema.name))
    (tmp / final.config.name).write_text(config_yaml)
    torch.save(training_state, tmp / final.training_state.name)
    if final.folder.exists():
        os.replace(final.folder, root / (TRASH_PREFIX + final.folder.name))
    os.replace(tmp, final.folder)
    for old in list_checkpoints(run_dir)[:-keep_last] if keep_last > 0 else []:
        _discard(old.folder)
    _remove_leftovers(root)
    return final


def load_training_state(path: str | Path) -> dict[str, Any]:
    """Optimiser/scheduler/RNG state; ``weights_only=True`` (no arbitrary unpickling)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def _reason(exc: BaseException) -> str:
    """One short line for why a file did not read (not torch's advice to unpickle unsafely)."""
    if isinstance(exc, pickle.UnpicklingError):
        return "holds objects that safe (weights_only) loading refuses"
    text = str(exc).strip()
    return text.splitlines()[0].split(". ")[0].rstrip(".") if text else type(exc).__name__


def _read(path: Path, reader: Callable[[Path], Any]) -> Any:
    try:
        return reader(path)
    except READ_ERRORS as exc:
        raise CorruptCheckpointError(f"{path.name}: {_reason(exc)}") from exc


def _check_safetensors(path: Path) -> None:
    """Parse the header; safetensors checks it against the file size (catches truncation)."""
    with safe_open(str(path), framework="pt") as handle:
        handle.keys()


def read_checkpoint(files: CheckpointFiles) -> dict[str, Any]:
    """Check that every file of a checkpoint reads back and return its training state.

    Raises :class:`CorruptCheckpointError` naming the first file that does not.
    """
    _read(files.model, _check_safetensors)
    _read(files.ema, _check_safetensors)
    _read(files.config, Path.read_text)
    state = _read(files.training_state, load_training_state)
    keys = state.keys() if isinstance(state, dict) else ()
    missing = [k for k in TRAINING_STATE_KEYS if k not in keys]
    if missing:
        raise CorruptCheckpointError(
            f"{files.training_state.name}: not a training state (no {', '.join(missing)})"
        )
    return state
