"""Atomic checkpoints: safetensors weights + config + optimiser/scheduler/RNG state.

Layout of a run folder::

    run_dir/config.yaml                   the experiment config (rebuilds everything)
    run_dir/checkpoints/step-000500/      one folder per checkpoint, written as
        model.safetensors                 "<name>.tmp" and renamed when complete,
        ema.safetensors                   so a crash never leaves a half checkpoint
        config.yaml
        training_state.pt                 optimiser, LR scheduler, step, RNG states
"""

from __future__ import annotations

import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

STEP_DIR = re.compile(r"^step-(\d+)$")


def state_dict_for_saving(module: nn.Module) -> dict[str, torch.Tensor]:
    """Contiguous CPU copies (safetensors refuses shared or strided storage)."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def save_weights(module: nn.Module, path: str | Path) -> None:
    """Write ``module``'s weights as safetensors, atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(state_dict_for_saving(module), str(tmp))
    os.replace(tmp, path)


def load_weights(module: nn.Module, path: str | Path) -> None:
    """Load safetensors weights. A missing, corrupt or truncated file, or weights that do
    not fit ``module`` (summarised: counts of missing, unexpected and mismatched keys, and
    the first few of each), raise ValueError naming the file."""
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
    state = {
        "python": random.getstate(),
        "numpy": torch.from_numpy(np.random.get_state()[1].astype(np.int64)),
        "numpy_pos": int(np.random.get_state()[2]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class CheckpointFiles:
    folder: Path
    step: int

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


def list_checkpoints(run_dir: str | Path) -> list[CheckpointFiles]:
    """Complete checkpoints of a run, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        match = STEP_DIR.match(child.name)
        if match and child.is_dir():
            found.append(CheckpointFiles(child, int(match.group(1))))
    return sorted(found, key=lambda c: c.step)


def save_checkpoint(
    run_dir: str | Path,
    step: int,
    model: nn.Module,
    ema: nn.Module,
    config_yaml: str,
    training_state: dict[str, Any],
    keep_last: int,
) -> CheckpointFiles:
    """Write a complete checkpoint folder atomically and prune to the newest ``keep_last``."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = CheckpointFiles(root / f"step-{step:06d}", step)
    tmp = root / f"{final.folder.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(state_dict_for_saving(model), str(tmp / final.model.name))
    save_file(state_dict_for_saving(ema), str(tmp / final.ema.name))
    (tmp / final.config.name).write_text(config_yaml)
    torch.save(training_state, tmp / final.training_state.name)
    if final.folder.exists():
        shutil.rmtree(final.folder)
    os.replace(tmp, final.folder)
    for old in list_checkpoints(run_dir)[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old.folder, ignore_errors=True)
    return final


def load_training_state(path: str | Path) -> dict[str, Any]:
    """Optimiser/scheduler/RNG state; ``weights_only=True`` (no arbitrary unpickling)."""
    return torch.load(path, map_location="cpu", weights_only=True)
