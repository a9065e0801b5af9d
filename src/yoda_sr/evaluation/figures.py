"""Matplotlib charts of evaluation results: metric bars and PSNR vs steps.

Figures are built with :class:`matplotlib.figure.Figure` directly (no ``pyplot``), which renders
through Agg without touching the global backend, so this works on headless machines and inside
other programs' matplotlib sessions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

DPI = 100


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def metric_bars(
    methods: Sequence[str],
    metrics: dict[str, Sequence[float | None]],
    path: str | Path,
) -> Path:
    """One bar chart per metric (``{title: value per method}``); missing values marked n/a."""
    fig = Figure(
        figsize=(max(3.2 * len(metrics), 4), 3.2 + 0.12 * len(methods)), layout="constrained"
    )
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    colors = [f"C{i % 10}" for i in range(len(methods))]
    for ax, (title, values) in zip(axes, metrics.items(), strict=True):
        heights = [v if v is not None and math.isfinite(v) else 0.0 for v in values]
        bars = ax.bar(range(len(methods)), heights, color=colors)
        for bar, value in zip(bars, values, strict=True):
            text = "n/a" if value is None else f"{value:.3g}"
            ax.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
        finite = [v for v in heights if v]
        if finite and title.startswith(("PSNR", "SSIM")):
            low, high = min(finite), max(finite)
            margin = (high - low) * 0.5 or abs(high) * 0.05 or 1.0
            ax.set_ylim(low - margin, high + margin)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
    return _save(fig, path)


def steps_plot(
    series: dict[str, Sequence[tuple[int, float]]],
    path: str | Path,
    ylabel: str = "PSNR-Y (dB)",
    reference: tuple[str, float] | None = None,
) -> Path:
    """Line plot of a metric against the number of sampling steps.

    Args:
        series: ``{label: [(steps, value), ...]}``, one line each (sorted by steps here).
        reference: optional ``(label, value)`` drawn as a horizontal line (e.g. bicubic).
    """
    fig = Figure(figsize=(5.5, 3.6), layout="constrained")
    ax = fig.subplots()
    for label, points in series.items():
        xs, ys = zip(*sorted(points), strict=True)
        ax.plot(xs, ys, marker="o", label=label)
    if reference is not None:
        ax.axhline(reference[1], color="gray", linestyle="--", label=reference[0])
    ax.set_xscale("log")
    ticks = sorted({steps for points in series.values() for steps, _ in points})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("sampling steps")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
