"""Compare evaluation folders: one table, plots, image grids and an HTML page.

Every folder written by :func:`~yoda_sr.evaluation.evaluate.evaluate_pipeline` holds one model
and the bicubic reference on the same images. The comparison lists bicubic once (from the first
folder) and each folder's model, after checking that all folders used the same images and
protocol (otherwise the numbers would not be comparable).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from yoda_sr.evaluation import report
from yoda_sr.evaluation.evaluate import (
    BICUBIC,
    GRID_TILE,
    METRIC_KEYS,
    SAMPLES_DIR,
    crop_window,
    load_summary,
)
from yoda_sr.evaluation.figures import metric_bars, steps_plot
from yoda_sr.imaging import load_image, prepare_output_dir, save_image
from yoda_sr.viz import image_grid

# Table columns: (CSV key, Markdown/HTML header).
COLUMNS = (
    ("method", "Method"),
    ("model_type", "Model"),
    ("yoda", "YODA"),
    ("sampler", "Sampler"),
    ("steps", "Steps"),
    ("psnr_rgb", "PSNR-RGB"),
    ("ssim_rgb", "SSIM-RGB"),
    ("psnr_y", "PSNR-Y"),
    ("ssim_y", "SSIM-Y"),
    ("lpips", "LPIPS"),
    ("delta_e2000", "ΔE2000 (mean colour)"),
    ("mean_diff_norm", "Mean RGB shift"),
    ("denoiser_calls", "Denoiser calls"),
    ("mean_active_fraction", "Active fraction"),
    ("seconds_per_image", "s / image"),
)
CSV_EXTRA = ("delta_e76", "mean_diff_r", "mean_diff_g", "mean_diff_b", "config_hash", "result_dir")
# Protocol entries that belong to one method (shown in the table, not the shared protocol).
PER_METHOD_KEYS = (
    "model_type",
    "model_config_hash",
    "sampler",
    "steps",
    "eta",
    "yoda",
    "lower_bound",
    "attention",
    "seed",
    "seeds",
    "device",
    "torch_version",
)
# Protocol entries that must agree between folders for their numbers to be comparable.
PROTOCOL_KEYS = ("scale", "crop_border", "lr_source", "resize_kernel", "data_range")


@dataclass
class ComparisonResult:
    """``rows``: one dict per method (bicubic first) with the keys of ``COLUMNS`` and
    ``CSV_EXTRA``; ``files``: name -> written path (``markdown``, ``csv``, ``metrics_plot``,
    ``steps_plot`` when there is one, ``report``); ``grids``: image name -> grid PNG."""

    out_dir: Path
    rows: list[dict[str, Any]]
    summaries: list[dict[str, Any]]
    files: dict[str, Path] = field(default_factory=dict)
    grids: dict[str, Path] = field(default_factory=dict)


def _check_comparable(dirs: list[Path], summaries: list[dict[str, Any]]) -> None:
    first_dir, first = dirs[0], summaries[0]
    for folder, summary in zip(dirs[1:], summaries[1:], strict=True):
        if summary["data"]["images"] != first["data"]["images"]:
            raise ValueError(
                f"{folder} was evaluated on other images than {first_dir} "
                f"({len(summary['data']['images'])} vs {len(first['data']['images'])} images, "
                "or other names); compare results on the same data only"
            )
        for key in PROTOCOL_KEYS:
            if summary["protocol"].get(key) != first["protocol"].get(key):
                raise ValueError(
                    f"{folder} and {first_dir} differ in protocol {key!r}: "
                    f"{summary['protocol'].get(key)!r} vs {first['protocol'].get(key)!r}"
                )
        if summary["protocol"]["lpips"]["net"] != first["protocol"]["lpips"]["net"]:
            raise ValueError(f"{folder} and {first_dir} used different LPIPS networks")


def _unique_labels(dirs: list[Path], summaries: list[dict[str, Any]]) -> list[str]:
    labels = [s["method"] for s in summaries]
    out = []
    for folder, label in zip(dirs, labels, strict=True):
        if labels.count(label) > 1:
            label = f"{label} ({folder.name})"
        while label in out or label == BICUBIC:
            label += "'"
        out.append(label)
    return out


def _row(label: str, summary: dict[str, Any], means: dict[str, Any], folder: Path | None) -> dict:
    protocol = summary["protocol"]
    reference = label == BICUBIC
    row: dict[str, Any] = {
        "method": label,
        "model_type": BICUBIC if reference else protocol["model_type"],
        "yoda": None if reference else protocol["yoda"],
        "sampler": None if reference else protocol["sampler"],
        "steps": None if reference else protocol["steps"],
        "config_hash": None if reference else protocol["model_config_hash"],
        "result_dir": str(folder) if folder is not None else None,
    }
    for key in (*METRIC_KEYS, "denoiser_calls", "mean_active_fraction", "seconds_per_image"):
        value = means.get(key)
        row[key] = float(value) if isinstance(value, str) else value
    return row


def _write_markdown(path: Path, rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    header = [title for _, title in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [report.format_value(row[key]) for key, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", _protocol_note(summary)]
    path.write_text("\n".join(lines) + "\n")


def _protocol_note(summary: dict[str, Any]) -> str:
    protocol = summary["protocol"]
    lpips = protocol["lpips"]
    lpips_text = (
        f"LPIPS {lpips['net']} v{lpips['version']}"
        if lpips.get("available")
        else f"LPIPS unavailable ({lpips.get('unavailable_reason')})"
    )
    return (
        f"x{protocol['scale']}, {len(summary['data']['images'])} images, LR: "
        f"{protocol['lr_source']}; metrics on uint8 (data range {protocol['data_range']}) with "
        f"{protocol['crop_border']} px border crop, Y = ITU-R BT.601 luma; {lpips_text}."
    )


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    keys = [key for key, _ in COLUMNS] + [
        k for k in (*METRIC_KEYS, *CSV_EXTRA) if k not in dict(COLUMNS)
    ]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in keys})


def _steps_series(rows: list[dict[str, Any]], summaries: list[dict[str, Any]]) -> dict:
    """Lines of PSNR-Y vs steps for models that differ only in the number of steps."""
    groups: dict[tuple, list[tuple[int, float]]] = {}
    names: dict[tuple, str] = {}
    for row, summary in zip(rows[1:], summaries, strict=True):
        protocol = summary["protocol"]
        if row["steps"] is None or row["psnr_y"] is None:
            continue
        key = tuple(
            str(protocol.get(k))
            for k in ("model_config_hash", "sampler", "yoda", "lower_bound", "eta", "seed")
        )
        groups.setdefault(key, []).append((int(row["steps"]), float(row["psnr_y"])))
        names[key] = f"{protocol['model_type'].upper()}{'+YODA' if protocol['yoda'] else ''} " + (
            f"{protocol['sampler']} ({protocol['model_config_hash'][:8]})"
        )
    return {
        names[key]: points
        for key, points in groups.items()
        if len({steps for steps, _ in points}) >= 2
    }


def _fit(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Nearest-neighbour resize (LR shown at the HR size with visible pixels)."""
    if tuple(image.shape[-2:]) == size:
        return image
    return F.interpolate(image[None], size=size, mode="nearest")[0]


def _grid(
    name: str,
    dirs: list[Path],
    labels: list[str],
    summaries: list[dict[str, Any]],
    path: Path,
    crop: int,
) -> Path:
    """LR | bicubic | each method | HR | attention of each YODA method, for one image."""
    first = dirs[0] / SAMPLES_DIR / name
    hr = load_image(first / "hr.png")
    size = (hr.shape[-2], hr.shape[-1])
    bicubic = load_image(first / "bicubic.png")
    tiles = [("LR (nearest)", _fit(load_image(first / "lr.png"), size)), ("bicubic", bicubic)]
    tiles += [
        (label, load_image(d / SAMPLES_DIR / name / "output.png"))
        for d, label in zip(dirs, labels, strict=True)
    ]
    tiles.append(("HR", hr))
    for folder, label, summary in zip(dirs, labels, summaries, strict=True):
        attention = folder / SAMPLES_DIR / name / "attention.png"
        if summary["protocol"]["yoda"] and attention.is_file():
            tiles.append((f"attention ({label})", load_image(attention)))
    top, left, side = crop_window(bicubic, hr, crop)
    if side < max(size):
        tiles = [(t, img[:, top : top + side, left : left + side]) for t, img in tiles]
    save_image(image_grid([tiles], min_tile=GRID_TILE), path)
    return path


def compare_results(
    result_dirs: Sequence[str | Path], out_dir: str | Path, crop: int = 192
) -> ComparisonResult:
    """Tabulate, plot and tile evaluation folders into ``out_dir``.

    Writes ``comparison.md``, ``comparison.csv``, ``metrics.png``, ``psnr_vs_steps.png`` (when
    several folders differ only in their number of sampling steps), ``grids/<image>.png`` for
    the images every folder has samples of (cut to the ``crop`` px square where bicubic is
    worst when larger), and ``report.html``.

    Raises:
        FileNotFoundError / ValueError: a folder is not an evaluation folder, or the folders
            were evaluated on different images or under different protocols.
    """
    if not result_dirs:
        raise ValueError("compare needs at least one evaluation folder")
    if crop < 1:
        raise ValueError(f"crop must be a positive number of px, got {crop}")
    dirs = [Path(d) for d in result_dirs]
    summaries = [load_summary(d) for d in dirs]
    _check_comparable(dirs, summaries)
    labels = _unique_labels(dirs, summaries)
    rows = [_row(BICUBIC, summaries[0], summaries[0]["results"][BICUBIC], None)]
    rows += [
        _row(label, s, s["results"][s["method"]], d)
        for label, s, d in zip(labels, summaries, dirs, strict=True)
    ]

    out_dir = prepare_output_dir(out_dir)
    result = ComparisonResult(out_dir=out_dir, rows=rows, summaries=summaries)
    result.files["markdown"] = out_dir / "comparison.md"
    _write_markdown(result.files["markdown"], rows, summaries[0])
    result.files["csv"] = out_dir / "comparison.csv"
    _write_csv(result.files["csv"], rows)

    methods = [row["method"] for row in rows]
    metrics: dict[str, Sequence[float | None]] = {
        "PSNR-Y (dB)": [row["psnr_y"] for row in rows],
        "SSIM-Y": [row["ssim_y"] for row in rows],
        "ΔE2000 of mean colour": [row["delta_e2000"] for row in rows],
    }
    if any(row["lpips"] is not None for row in rows):
        metrics["LPIPS"] = [row["lpips"] for row in rows]
    result.files["metrics_plot"] = metric_bars(methods, metrics, out_dir / "metrics.png")
    series = _steps_series(rows, summaries)
    if series:
        result.files["steps_plot"] = steps_plot(
            series, out_dir / "psnr_vs_steps.png", reference=(BICUBIC, rows[0]["psnr_y"])
        )

    common = [
        name
        for name in summaries[0].get("samples", [])
        if all((d / SAMPLES_DIR / name / "output.png").is_file() for d in dirs)
    ]
    for name in common:
        result.grids[name] = _grid(
            name, dirs, labels, summaries, out_dir / "grids" / f"{name}.png", crop
        )
    result.files["report"] = report.write_page(
        out_dir / "report.html",
        "yoda-sr comparison",
        [*report_sections(result, out_dir), protocol_section(result)],
    )
    return result


def report_sections(
    comparison: ComparisonResult, page_dir: str | Path, level: int = 2
) -> list[str]:
    """HTML sections (table, plots, grids) for a page stored in ``page_dir``, with headings
    of ``level``."""
    rows = comparison.rows
    first = comparison.summaries[0]
    sections = [
        report.section(
            "Metrics",
            report.table(
                [title for _, title in COLUMNS], [[row[k] for k, _ in COLUMNS] for row in rows]
            ),
            report.paragraph(_protocol_note(first)),
            report.figure(comparison.files["metrics_plot"], "Metrics per method", page_dir),
            level=level,
        )
    ]
    if "steps_plot" in comparison.files:
        sections.append(
            report.section(
                "PSNR vs sampling steps",
                report.figure(comparison.files["steps_plot"], "PSNR-Y vs steps", page_dir),
                level=level,
            )
        )
    if comparison.grids:
        sections.append(
            report.section(
                "Images",
                report.paragraph(
                    "LR (shown with nearest-neighbour pixels), bicubic, each method, HR and the "
                    "attention map used by YODA models."
                ),
                *(report.figure(path, name, page_dir) for name, path in comparison.grids.items()),
                level=level,
            )
        )
    return sections


def protocol_section(comparison: ComparisonResult) -> str:
    """HTML section listing the protocol shared by all rows of a comparison."""
    protocol = dict(comparison.summaries[0]["protocol"])
    for key in PER_METHOD_KEYS:
        protocol.pop(key, None)
    return report.section(
        "Protocol",
        report.paragraph(
            "Shared by all rows; sampler, steps, YODA and seeds per method are in the table "
            "and in each folder's summary.json."
        ),
        report.key_value_table(protocol),
    )
