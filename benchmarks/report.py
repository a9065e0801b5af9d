"""docs/RESULTS.md from the saved evaluations of ``benchmarks/reproduce.py``.

Tables are means over the images of a set; where a row has several seeds, mean ± sample
standard deviation over the seeds (n given). A claim is called "held" only when the gap is
larger than twice the spread over seeds, "within noise" when it is not, and "not measured"
when rows are missing. Because the runs of a pair share their seed (same initialisation and
data order), each verdict also gives the paired view: the per-seed differences, their mean
± standard deviation, and in how many seeds the second method is ahead.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from yoda_sr.imaging import load_image, save_image
from yoda_sr.viz import image_grid

SETS = ("val", "faces")
COLUMNS = (
    ("psnr_rgb", "PSNR", 2),
    ("ssim_rgb", "SSIM", 4),
    ("psnr_y", "PSNR-Y", 2),
    ("ssim_y", "SSIM-Y", 4),
    ("delta_e76", "ΔE76", 2),
    ("mean_diff_norm", "|ΔRGB|", 2),
    ("lpips", "LPIPS", 4),
)


def eval_key(run: str, step: int, spec: dict[str, Any]) -> str:
    """The name of one evaluation's record: run, step, sampler, its steps, and what differs."""
    parts = [run, f"step{step}", spec.get("sampler", "ddim"), str(spec.get("steps") or "full")]
    if "lower_bound" in spec:
        parts.append(f"l{spec['lower_bound']}")
    if spec.get("weights", "ema") != "ema":
        parts.append(spec["weights"])
    return "__".join(parts)


def coverage(runs: list, evals: dict[str, dict]) -> tuple[list[str], list[str]]:
    """Every planned evaluation (each run's targets x its evaluation specs), and those not done."""
    planned = sorted(
        {eval_key(r.name, t, spec) for r in runs for t in r.targets for spec in r.evals}
    )
    return planned, [key for key in planned if key not in evals]


def load_evals(records: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((records / "evals").glob("*.json"))}


def set_mean(evaluation: dict[str, Any], set_name: str, metric: str) -> float | None:
    values = [r.get(metric) for r in evaluation["rows"] if r["set"] == set_name]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def by_seed(evals: dict[str, dict], pattern: str) -> dict[int, dict]:
    """Evaluations whose key is ``pattern`` with ``{seed}`` filled by a seed, keyed by that seed."""
    head, tail = pattern.split("{seed}")
    found = {}
    for key, evaluation in evals.items():
        seed = key[len(head) : len(key) - len(tail)]
        if key.startswith(head) and key.endswith(tail) and seed.isdigit():
            found[int(seed)] = evaluation
    return found


def seeds_of(evals: dict[str, dict], pattern: str) -> list[dict]:
    """The evaluations of ``by_seed``, without their seeds."""
    return list(by_seed(evals, pattern).values())


def paired(
    a: dict[int, dict], b: dict[int, dict], set_name: str, metric: str, higher_better: bool
) -> str:
    """B - A per shared seed: mean ± sd of the differences and how often B is the better."""
    diffs = []
    for seed in sorted(a.keys() & b.keys()):
        va, vb = set_mean(a[seed], set_name, metric), set_mean(b[seed], set_name, metric)
        if va is not None and vb is not None:
            diffs.append(vb - va)
    if len(diffs) < 2:
        return "paired: fewer than 2 shared seeds"
    mean, spread, n = stat(diffs)
    ahead = sum(d > 0 if higher_better else d < 0 for d in diffs)
    return f"paired by seed {mean:+.3f} ± {spread:.3f}, better in {ahead}/{n} seeds"


def cost_table(rows: list[tuple[str, list[dict]]]) -> str:
    """Per method: network calls and seconds per image, PSNR-Y and SSIM-Y on val."""
    lines = [
        "| method | machine | network calls / image | s / image | PSNR-Y (val) | SSIM-Y (val) |",
        "|---|---|---|---|---|---|",
    ]
    for label, group in rows:
        if not group:
            continue
        images = [len(e["rows"]) for e in group]
        seconds = [e["seconds"] / n for e, n in zip(group, images, strict=True)]
        calls = [e.get("denoiser_calls_per_image", calls_of(e["spec"])) for e in group]
        machine = ", ".join(sorted({e.get("machine", "not recorded") for e in group}))
        lines.append(
            f"| {label} | {machine} | {cell(calls, 0)} | {cell(seconds, 2)} | "
            f"{cell([set_mean(e, 'val', 'psnr_y') for e in group], 2)} | "
            f"{cell([set_mean(e, 'val', 'ssim_y') for e in group], 4)} |"
        )
    return "\n".join(lines)


def calls_of(spec: dict[str, Any]) -> int:
    """Network calls per image of an evaluation recorded before they were counted: one per
    sampler step (the dense sampler; with per-image importance every step has an active
    pixel), one pass for a regression model."""
    return int(spec["steps"]) if spec.get("steps") else 1


def gap_table(
    pairs: dict[str, tuple[dict[int, dict], dict[int, dict]]],
    set_name: str,
    metrics: tuple[tuple[str, str], ...],
) -> str:
    """Markdown table, one row per training step: B - A of each (A, B) pair on each metric.

    ``pairs``: label -> (A, B), each {step: evaluation}; a cell is "–" where either is missing.
    """
    steps = sorted({step for a, b in pairs.values() for step in a.keys() | b.keys()})
    header = (
        "| steps | "
        + " | ".join(f"{label}: {name}" for label in pairs for _, name in metrics)
        + " |"
    )
    lines = [header, "|" + "---|" * (1 + len(pairs) * len(metrics))]
    for step in steps:
        cells = []
        for a, b in pairs.values():
            for key, _ in metrics:
                va = set_mean(a[step], set_name, key) if step in a else None
                vb = set_mean(b[step], set_name, key) if step in b else None
                cells.append("–" if va is None or vb is None else f"{vb - va:+.3f}")
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def stat(values: list[float]) -> tuple[float, float, int]:
    mean = sum(values) / len(values)
    spread = statistics.stdev(values) if len(values) > 1 else float("nan")
    return mean, spread, len(values)


def cell(values: list[float | None], digits: int) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    mean, spread, n = stat(values)
    if n == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {spread:.{digits}f} (n={n})"


def table(rows: list[tuple[str, list[dict]]], set_name: str, columns=COLUMNS) -> str:
    header = "| method | " + " | ".join(c[1] for c in columns) + " |"
    lines = [header, "|" + "---|" * (len(columns) + 1)]
    for label, group in rows:
        cells = [cell([set_mean(e, set_name, key) for e in group], d) for key, _, d in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(a: list[dict], b: list[dict], set_name: str, metric: str, higher_better: bool) -> str:
    """B vs A on ``metric``: the gap, the spread over seeds, and what it supports."""
    va = [v for v in (set_mean(e, set_name, metric) for e in a) if v is not None]
    vb = [v for v in (set_mean(e, set_name, metric) for e in b) if v is not None]
    if not va or not vb:
        return "not measured"
    gap = stat(vb)[0] - stat(va)[0]
    spreads = [s for s in (stat(va)[1], stat(vb)[1]) if s == s]
    spread = max(spreads) if spreads else float("nan")
    better = gap > 0 if higher_better else gap < 0
    if spread != spread:
        return f"{gap:+.3f} (one seed: no spread to judge noise)"
    if abs(gap) <= 2 * spread:
        return f"{gap:+.3f}, within noise (seed spread {spread:.3f})"
    return f"{gap:+.3f}, {'held' if better else 'reversed'} (seed spread {spread:.3f})"


def line_plot(
    series: dict[str, list[tuple[float, float]]],
    xlabel: str,
    ylabel: str,
    path: Path,
    logx: bool = False,
) -> None:
    fig = Figure(figsize=(5.5, 3.4), layout="constrained")
    ax = fig.subplots()
    for label, points in series.items():
        if points:
            xs, ys = zip(*sorted(points), strict=True)
            ax.plot(xs, ys, marker="o", label=label)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def write_report(
    records: Path, out: Path, docs: Path, preset, preset_name: str, runs, dinov2_missing: str, lpips
) -> Path:
    """Write ``docs/RESULTS.md`` (+ ``docs/results/*.png``) from the evaluations and speeds
    under ``records`` and the sample images under ``out/samples`` (example grid)."""
    evals = load_evals(records)
    speeds = {
        k: v
        for path in sorted(records.glob("speeds*.json"))
        for k, v in json.loads(path.read_text()).items()
    }
    figs = docs / "results"
    figs.mkdir(parents=True, exist_ok=True)
    s, n50 = preset.steps, preset.sample_steps[0]

    def ev(pattern: str) -> list[dict]:
        return (
            seeds_of(evals, pattern)
            if "{seed}" in pattern
            else [evals[pattern]]
            if pattern in evals
            else []
        )

    # The four trained methods keyed by seed: the main table's rows and the paired verdicts.
    sr3_m, sr3y_m, srd_m, srdy_m = (
        by_seed(evals, f"{name}_s{{seed}}__step{s}__ddim__{n50}")
        for name in ("sr3", "sr3_yoda", "srdiff", "srdiff_yoda")
    )
    sr3, sr3y, srd, srdy = (list(m.values()) for m in (sr3_m, sr3y_m, srd_m, srdy_m))
    resshift_m = {
        (num_t, yoda): by_seed(
            evals, f"resshift{'_yoda' if yoda else ''}_T{num_t}_s{{seed}}__step{s}__ddpm__{num_t}"
        )
        for num_t in preset.resshift_steps
        for yoda in (False, True)
    }
    main = [
        ("bicubic", ev("bicubic")),
        ("RRDB (SRDiff stage 1)", ev("rrdb")),
        ("SR3", sr3),
        ("SR3+YODA", sr3y),
        ("SRDiff", srd),
        ("SRDiff+YODA", srdy),
    ] + [
        (f"ResShift{'+YODA' if yoda else ''} (T={num_t})", list(m.values()))
        for (num_t, yoda), m in resshift_m.items()
    ]
    md: list[str] = [
        "# Reproduction study: YODA at small scale",
        "",
        "Generated by `python benchmarks/reproduce.py --preset "
        f"{preset_name}` (edit the script, not this file). Setup: 4x SR, MATLAB-bicubic LR, "
        f"tiny networks (`{preset.sr3}`, `{preset.srdiff}` with a `{preset.rrdb}` encoder, "
        f"`{preset.resshift}`: ResShift in pixel space, sampled over its whole chain of "
        f"T = {' or '.join(str(t) for t in preset.resshift_steps)} steps), "
        f"{preset.hr_size} px training patches cut from the shared photos' `train/` "
        f"({preset.per_photo} tiles of {preset.tile} px per photo), batch {preset.batch}, "
        f"{s} steps, seeds {list(preset.seeds)}, lower bound l = {preset.default_lower_bound}, "
        f"detail-map importance, EMA weights, DDIM-{n50} (eta 0). Metrics (BasicSR protocol): "
        "PSNR/SSIM on RGB and Y, crop border 4; colour shift = CIE76 distance of the mean Lab "
        "colours (ΔE76) and the norm of the mean RGB difference (0..255). Sets: `val` = one "
        f"{preset.val_size} px centre crop of each of the 8 val photos; `faces` = the two "
        f"portraits, square, resized to {preset.val_size} px.",
        "",
        f"LPIPS: {'AlexNet LPIPS' if lpips.available else 'not measured here: ' + lpips.reason}.",
        "",
    ]
    for set_name in SETS:
        md += [f"## 1. Main comparison ({set_name})", "", table(main, set_name), ""]
    md += [
        "### Quality per second (val + faces)",
        "",
        "Network calls per image and seconds per image of the evaluations above (10 images, "
        "one at a time, on the machine each row names; the CPU rows ran beside one other "
        "process), with the val means:",
        "",
        cost_table(main[1:]),
        "",
        "### Claims at this scale",
        "",
    ]
    for set_name in SETS:
        for metric, higher in (("psnr_y", True), ("ssim_y", True), ("delta_e76", False)):
            md.append(
                f"- {set_name}, {metric}: SR3+YODA vs SR3 {verdict(sr3, sr3y, set_name, metric, higher)}"
                f" ({paired(sr3_m, sr3y_m, set_name, metric, higher)}); "
                f"SRDiff+YODA vs SRDiff {verdict(srd, srdy, set_name, metric, higher)}"
                f" ({paired(srd_m, srdy_m, set_name, metric, higher)})"
            )
    for (num_t, yoda), m in resshift_m.items():
        if yoda:
            base_m = resshift_m[(num_t, False)]
            base, with_yoda = list(base_m.values()), list(m.values())
            for set_name in SETS:
                md.append(
                    f"- {set_name}, T = {num_t}: ResShift+YODA vs ResShift "
                    + "; ".join(
                        f"{metric} {verdict(base, with_yoda, set_name, metric, higher)} "
                        f"({paired(base_m, m, set_name, metric, higher)})"
                        for metric, higher in (
                            ("psnr_y", True),
                            ("ssim_y", True),
                            ("delta_e76", False),
                        )
                    )
                )
    md.append("")

    ladder_steps = sorted(set(preset.ladder) | {s})
    series: dict[str, list[tuple[float, float]]] = {}
    rows = []
    at_step: dict[str, dict[int, dict]] = {}
    resshift_t = max(preset.resshift_steps)
    for label, name, sampler in (
        ("SR3", "sr3_s0", f"ddim__{n50}"),
        ("SR3+YODA", "sr3_yoda_s0", f"ddim__{n50}"),
        ("SRDiff", "srdiff_s0", f"ddim__{n50}"),
        ("SRDiff+YODA", "srdiff_yoda_s0", f"ddim__{n50}"),
        (f"ResShift T={resshift_t}", f"resshift_T{resshift_t}_s0", f"ddpm__{resshift_t}"),
        (f"ResShift+YODA T={resshift_t}", f"resshift_yoda_T{resshift_t}_s0", f"ddpm__{resshift_t}"),
    ):
        at_step[label] = {}
        for step in ladder_steps:
            e = ev(f"{name}__step{step}__{sampler}")
            if e:
                at_step[label][step] = e[0]
                rows.append((f"{label} @ {step}", e))
        series[label] = [(step, set_mean(e, "val", "psnr_y")) for step, e in at_step[label].items()]
    line_plot(series, "training steps", "PSNR-Y (val), dB", figs / "ladder.png", logx=True)
    gaps = {
        "SR3+YODA − SR3": (at_step["SR3"], at_step["SR3+YODA"]),
        "SRDiff+YODA − SRDiff": (at_step["SRDiff"], at_step["SRDiff+YODA"]),
        f"ResShift+YODA − ResShift (T={resshift_t})": (
            at_step[f"ResShift T={resshift_t}"],
            at_step[f"ResShift+YODA T={resshift_t}"],
        ),
    }
    md += [
        "## 2. Budget ladder (seed 0, val)",
        "",
        table(rows, "val"),
        "",
        f"SR3 and SRDiff rows sample with DDIM-{n50}, ResShift rows with their own "
        f"{resshift_t}-step chain; all at the study's lower bound {preset.default_lower_bound}.",
        "",
        "The gap YODA − baseline at each budget (one seed: no spread to judge noise):",
        "",
        gap_table(gaps, "val", (("psnr_y", "PSNR-Y"), ("ssim_y", "SSIM-Y"), ("delta_e76", "ΔE76"))),
        "",
        "![ladder](results/ladder.png)",
        "",
    ]
    batch_rows = []
    for batch in sorted({preset.batch, *preset.batch_pair}):
        suffix = "" if batch == preset.batch else f"_batch_size{batch}"
        for label, name in (("SR3", "sr3"), ("SR3+YODA", "sr3_yoda")):
            batch_rows.append(
                (f"{label}, batch {batch}", ev(f"{name}_s0{suffix}__step{s}__ddim__{n50}"))
            )
    md += ["### Colour shift vs batch size (val, seed 0)", "", table(batch_rows, "val"), ""]

    abl = [
        (
            f"SR3+YODA (default: l={preset.default_lower_bound}, detail, anchored, loss 'all')",
            ev(f"sr3_yoda_s0__step{s}__ddim__{n50}"),
        )
    ]
    for l_value in preset.lower_bounds:
        if l_value != preset.default_lower_bound:
            abl.append(
                (
                    f"trained and sampled with l={l_value}",
                    ev(f"sr3_yoda_s0_l{l_value}__step{s}__ddim__{n50}"),
                )
            )
            abl.append(
                (
                    f"default model, sampled with l={l_value}",
                    ev(f"sr3_yoda_s0__step{s}__ddim__{n50}__l{l_value}"),
                )
            )
    abl += [
        ("importance: constant 0.5", ev(f"sr3_yoda_s0_constant_importance__step{s}__ddim__{n50}")),
        (
            "importance: DINOv2 ViT-S/14 (shared tool)",
            ev(f"sr3_yoda_s0_dinov2__step{s}__ddim__{n50}"),
        ),
        ("input mode: plain", ev(f"sr3_yoda_s0_plain_input__step{s}__ddim__{n50}")),
        (
            "loss normalisation: active (0.1.0)",
            ev(f"sr3_yoda_s0_active_norm__step{s}__ddim__{n50}"),
        ),
        ("bf16 autocast training", ev(f"sr3_yoda_s0_bf16__step{s}__ddim__{n50}")),
        (
            "schedule: T=1000, linear 1e-4..2e-2",
            ev(f"sr3_yoda_s0_schedule_T1000__step{s}__ddim__{n50}"),
        ),
        ("raw weights instead of EMA", ev(f"sr3_yoda_s0__step{s}__ddim__{n50}__model")),
        ("SR3 baseline, raw weights", ev(f"sr3_s0__step{s}__ddim__{n50}__model")),
    ]
    for n in preset.sample_steps[1:]:
        abl += [
            (f"SR3+YODA, DDIM-{n}", ev(f"sr3_yoda_s0__step{s}__ddim__{n}")),
            (f"SR3, DDIM-{n}", ev(f"sr3_s0__step{s}__ddim__{n}")),
        ]
    abl += [
        ("SR3+YODA, DDPM (all T)", ev(f"sr3_yoda_s0__step{s}__ddpm__full")),
        ("SR3, DDPM (all T)", ev(f"sr3_s0__step{s}__ddpm__full")),
        ("SRDiff+YODA, loss 'active'", ev(f"srdiff_yoda_s0_active_norm__step{s}__ddim__{n50}")),
        ("SRDiff+YODA, DDPM (all T)", ev(f"srdiff_yoda_s0__step{s}__ddpm__full")),
        ("SRDiff, DDPM (all T)", ev(f"srdiff_s0__step{s}__ddpm__full")),
    ]
    md += ["## 3. Ablations (seed 0, val)", ""]
    if dinov2_missing:
        md += [f"DINOv2 row not run: {dinov2_missing}.", ""]
    md += [table(abl, "val"), ""]
    l_series = {"trained with l": [], "default model, sampled with l": []}
    for l_value in preset.lower_bounds:
        trained = (
            abl[0][1]
            if l_value == preset.default_lower_bound
            else ev(f"sr3_yoda_s0_l{l_value}__step{s}__ddim__{n50}")
        )
        sampled = (
            abl[0][1]
            if l_value == preset.default_lower_bound
            else ev(f"sr3_yoda_s0__step{s}__ddim__{n50}__l{l_value}")
        )
        for key, e in (("trained with l", trained), ("default model, sampled with l", sampled)):
            if e:
                l_series[key].append((l_value, set_mean(e[0], "val", "psnr_y")))
    line_plot(l_series, "lower bound l", "PSNR-Y (val), dB", figs / "lower_bound.png")
    md += ["![lower bound](results/lower_bound.png)", ""]

    md += [
        "## 4. Failure signatures",
        "",
        "Excess gradient energy of the output over HR (luma, squared forward differences; "
        "the mean difference in a region, in units of HR's mean over the whole image; 0 = "
        "as sharp as HR, > 0 sharper or noisier) in a ±2 px band around the mask at t = T/2 "
        "and inside/outside it (the final-step mask is full whenever l > 0). Seams at mask "
        "boundaries would show as a band excess above both neighbours for YODA and not for "
        "its baseline, measured on the same regions.",
        "",
        "| method | band | inside | outside |",
        "|---|---|---|---|",
    ]
    for label, group in main[2:]:
        cells = [
            cell([set_mean(e, "val", f"energy_excess_{r}") for e in group], 3)
            for r in ("band", "inside", "outside")
        ]
        md.append(f"| {label} | " + " | ".join(cells) + " |")
    md += [
        "",
        "Perceptual side (LPIPS) on SRDiff: "
        + (
            "see the LPIPS column above."
            if lpips.available
            else "not measured: LPIPS's AlexNet weights are absent here; rerun where they are "
            "(`~/.cache/torch/hub/checkpoints/alexnet-owt-7be5be79.pth`)."
        ),
        "",
    ]

    grid_rows = []
    for set_name in SETS:
        sample_dirs = {
            "HR": out / "samples" / "hr",
            "bicubic": out / "samples" / "bicubic",
            "SR3": out / "samples" / f"sr3_s0__step{s}__ddim__{n50}",
            "SR3+YODA": out / "samples" / f"sr3_yoda_s0__step{s}__ddim__{n50}",
            "SRDiff": out / "samples" / f"srdiff_s0__step{s}__ddim__{n50}",
            "SRDiff+YODA": out / "samples" / f"srdiff_yoda_s0__step{s}__ddim__{n50}",
        }
        files = sorted((out / "samples" / "bicubic").glob(f"{set_name}_*.png"))[:1]
        for f in files:
            row = [
                (title, load_image(d / f.name))
                for title, d in sample_dirs.items()
                if (d / f.name).is_file()
            ]
            if len(row) > 1:
                grid_rows.append([(t, img[:, :96, :96]) for t, img in row])
    if grid_rows:
        save_image(image_grid(grid_rows, min_tile=192), figs / "examples.png")
    if (figs / "examples.png").is_file():  # kept when the samples are not on this machine
        md += [
            "## Examples (top-left 96 px of one val crop and one face)",
            "",
            "![examples](results/examples.png)",
            "",
        ]

    planned, missing = coverage(runs, evals)
    md += [
        "## Coverage",
        "",
        f"{len(planned) - len(missing)} of {len(planned)} planned evaluations done.",
    ]
    if missing:
        md += [
            "Still missing (resume with the same command): " + ", ".join(f"`{k}`" for k in missing)
        ]
    machines: dict[str, list[str]] = {}
    for key, e in evals.items():
        machines.setdefault(e.get("machine", "CPU (not recorded)"), []).append(key)
    md += ["", "Where each evaluation ran (a run is evaluated on the machine it was trained on):"]
    md += [
        f"- {m}: "
        + (", ".join(f"`{k}`" for k in keys) if len(keys) <= 12 else f"{len(keys)} evaluations")
        for m, keys in sorted(machines.items(), key=lambda item: len(item[1]))
    ]
    if speeds:
        by_machine: dict[str, list[str]] = {}
        for k, v in sorted(speeds.items()):
            v = (
                v
                if isinstance(v, dict)
                else {"steps_per_second": v, "machine": "CPU (not recorded)"}
            )
            if v["steps_per_second"]:
                by_machine.setdefault(v["machine"], []).append(f"{k} {v['steps_per_second']:.2f}")
        md += [
            "",
            "Training speed of the runs in this folder (steps/s, as measured, alone or "
            "sharing the machine with other runs):",
        ]
        md += [f"- {m}: " + ", ".join(items) for m, items in sorted(by_machine.items())]
    notes = Path(__file__).with_name("RESULTS_NOTES.md")
    if notes.is_file():
        md += ["", notes.read_text().strip()]
    md += importance_section(Path(__file__).with_name("results"))
    md += restoration_section(Path(__file__).with_name("results"))
    path = docs / "RESULTS.md"
    path.write_text("\n".join(md) + "\n")
    return path


# Section 5's parts, in order: the hand-written reading, then the tables the issue-19
# benchmarks wrote (``importance_colour.py`` per bundled model, ``importance_scale.py``).
IMPORTANCE_PARTS = (
    ("IMPORTANCE_NOTES.md", None),
    ("importance_colour_srdiff-yoda-x4_l0.3.md", "### 5.1 srdiff-yoda-x4, l = 0.3 (as trained)"),
    ("importance_colour_srdiff-yoda-x4_l0.1.md", "### 5.2 srdiff-yoda-x4, l = 0.1"),
    ("importance_colour_srdiff-yoda-x4_l0.md", "### 5.3 srdiff-yoda-x4, l = 0"),
    ("importance_colour_sr3-yoda-x4_l0.3.md", "### 5.4 sr3-yoda-x4, l = 0.3"),
    ("importance_scale.md", "### 5.5 Scale invariance of the importance maps"),
    ("importance_floor.md", "### 5.6 The detail floor (srdiff-yoda-x4, l = 0)"),
    ("importance_colour_resshift-yoda-x4_l0.md", "### 5.7 resshift-yoda-x4, l = 0"),
)


def importance_section(results: Path) -> list[str]:
    """Section 5 of docs/RESULTS.md: per-image vs absolute importance and the colour fix
    (issue 19), from the files of ``IMPORTANCE_PARTS`` that exist."""
    md = ["", "## 5. Importance that means the same everywhere, and true colours"]
    for name, heading in IMPORTANCE_PARTS:
        path = results.parent / name if name.endswith("NOTES.md") else results / name
        if path.is_file():
            md += [""] + ([heading, ""] if heading else []) + [path.read_text().strip()]
    return md


def restoration_section(results: Path) -> list[str]:
    """Section 6 of docs/RESULTS.md (issue 21): the hand-written reading
    (``RESTORATION_NOTES.md``), then the tables of ``restoration_study.py``, where they exist."""
    parts = [results.parent / "RESTORATION_NOTES.md", results / "restoration_study.md"]
    found = [path.read_text().strip() for path in parts if path.is_file()]
    if not found:
        return []
    heading = "## 6. Restoration tasks and real-world degradations (open question 3)"
    return ["", heading] + [line for text in found for line in ("", text)]
