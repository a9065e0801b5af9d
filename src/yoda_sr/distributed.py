"""Work shared by the processes of ``accelerate launch`` / ``torchrun``, through accelerate.

Without a launcher (one process) nothing here touches accelerate's process state, so a single
process behaves exactly as it would without this module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from accelerate import PartialState
from accelerate.utils import gather_object

from yoda_sr.device import resolve_device

T = TypeVar("T")


def launched_processes() -> int:
    """How many processes the launcher started (its ``WORLD_SIZE``; 1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def check_launch(num_processes: int) -> None:
    """Refuse to run as independent processes what was launched as one job of several
    (accelerate does so under ``torchrun`` on a machine without GPUs unless told ``cpu``)."""
    launched = launched_processes()
    if num_processes != launched:
        raise ValueError(
            f"launched as {launched} processes, but accelerate runs {num_processes}: on CPUs "
            "set ACCELERATE_USE_CPU=true (ACCELERATE_USE_CPU=true torchrun --nproc_per_node ...)"
        )


@dataclass(frozen=True)
class Shard:
    """This process's part of a job: process ``index`` of ``count``, working on ``device``."""

    index: int
    count: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def take(self, items: Sequence[T]) -> list[tuple[int, T]]:
        """``(i, item)`` for the items this process handles: those with ``i % count == index``."""
        return [(i, items[i]) for i in range(self.index, len(items), self.count)]

    def gather(self, values: list[Any]) -> list[Any]:
        """Every process's ``values`` concatenated in process order, on every process."""
        return gather_object(values) if self.count > 1 else values


def shard_for(device: str | torch.device | None) -> Shard:
    """This process's shard for work on ``device``. Launched on several processes, a device
    without an index (``cuda``) becomes this process's own (``cuda:LOCAL_RANK``), and a CPU
    device makes the processes talk over gloo. ``None`` picks cuda when available, else cpu;
    a device that is not there is a ValueError (:func:`~yoda_sr.device.resolve_device`)."""
    device = resolve_device(device)
    if launched_processes() == 1:
        return Shard(0, 1, device)
    state = PartialState(cpu=device.type == "cpu")
    check_launch(state.num_processes)
    if device.type == state.device.type and device.index is None:
        device = state.device
    return Shard(state.process_index, state.num_processes, device)
