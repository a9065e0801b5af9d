"""Evaluation sets: degraded inputs made once, saved as PNG with a JSON of their parameters,
so every method is scored on the same inputs.

A set folder holds ``hr/<name>.png`` (the reference, mod-cropped to the scale, 8-bit),
``lr/<name>.png`` (its degraded input) and :data:`EVALSET_FILE`: the preset, its resolved
parameters, the seed, and per image its index (its generator is
``sample_rng(seed, 0, index)``) and the random values drawn. ``yoda-sr evaluate --data
SET/hr --lr-data SET/lr`` scores a model on it; :func:`verify_eval_set` re-makes every
input from the saved HR images and parameters and reports any that differ.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from yoda_sr.degradations.pipelines import degrade
from yoda_sr.degradations.presets import PARAMS, DegradationConfig
from yoda_sr.degradations.seeding import sample_rng
from yoda_sr.files import write_text_atomically
from yoda_sr.imaging import list_images, load_image, mod_crop, quantize, save_image, to_uint8

EVALSET_FILE = "degradation.json"
FORMAT = "yoda-sr-evalset/1"
HR_DIR, LR_DIR = "hr", "lr"


def _centre_crop(image: Tensor, side: int | None) -> Tensor:
    if side is None:
        return image
    h, w = image.shape[-2:]
    ch, cw = min(side, h), min(side, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return image[:, top : top + ch, left : left + cw]


def make_eval_set(
    hr_dir: str | Path,
    out_dir: str | Path,
    degradation: DegradationConfig,
    scale: int | None = None,
    seed: int = 0,
    limit: int | None = None,
    crop: int | None = None,
) -> dict[str, Any]:
    """Degrade each HR image of ``hr_dir`` (sorted; image ``i`` with ``sample_rng(seed, 0,
    i)``) and write the set folder ``out_dir`` (see the module docstring).

    Args:
        hr_dir: folder of HR images (any format :func:`~yoda_sr.imaging.load_image` reads).
        out_dir: the set folder (created; files of the same names are replaced).
        degradation: preset and overrides.
        scale: HR / input factor where the preset leaves it open (``bicubic``); must agree
            with the preset's otherwise.
        seed: the set's seed (0 by the usual protocol).
        limit: the first ``limit`` images only.
        crop: centre-crop each HR image to at most ``crop`` x ``crop`` first.

    Returns:
        The record written to :data:`EVALSET_FILE`.
    """
    params = degradation.params()
    preset_scale = params.scale
    if preset_scale is None and scale is None:
        raise ValueError(
            f"preset {degradation.preset!r} takes its scale from the model: give a scale"
        )
    if preset_scale is not None and scale is not None and scale != preset_scale:
        raise ValueError(f"preset {degradation.preset!r} is x{preset_scale}, not x{scale}")
    factor = int(preset_scale if preset_scale is not None else scale)  # type: ignore[arg-type]
    files = list_images(hr_dir)[:limit]
    if not files:
        raise ValueError(f"{hr_dir}: no images")
    stems = [p.stem for p in files]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise ValueError(f"{hr_dir}: several files share the name(s) {clashes}")
    out = Path(out_dir)
    images = []
    for index, path in enumerate(files):
        hr = quantize(mod_crop(_centre_crop(load_image(path), crop), factor))
        if min(hr.shape[-2:]) < factor:
            raise ValueError(f"{path}: image {tuple(hr.shape[-2:])} is smaller than x{factor}")
        lr, drawn = degrade(hr, params, sample_rng(seed, 0, index), factor)
        save_image(hr, out / HR_DIR / f"{path.stem}.png")
        save_image(lr, out / LR_DIR / f"{path.stem}.png")
        images.append(
            {
                "name": path.stem,
                "index": index,
                "source": path.name,
                "hr": f"{HR_DIR}/{path.stem}.png",
                "lr": f"{LR_DIR}/{path.stem}.png",
                "hr_size": list(hr.shape[-2:]),
                "drawn": drawn,
            }
        )
    record = {
        "format": FORMAT,
        "preset": degradation.preset,
        "options": degradation.options,
        "kind": params.kind,
        "params": dataclasses.asdict(params),
        "scale": factor,
        "seed": seed,
        "crop": crop,
        "rng": "image i: numpy default_rng(SeedSequence([seed, 0, i]))",
        "source_dir": str(hr_dir),
        "images": images,
    }
    text = json.dumps(record, indent=2) + "\n"
    write_text_atomically(out / EVALSET_FILE, text)
    return json.loads(text)  # as read back: tuples become lists


def read_eval_set(folder: str | Path) -> tuple[dict[str, Any], list[tuple[str, Tensor, Tensor]]]:
    """The record and ``(name, lr, hr)`` of each image of a set folder (float (3, h, w) and
    (3, h*s, w*s) in [0, 1]); ValueError naming the file when it is not a set folder."""
    path = Path(folder) / EVALSET_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: not an evaluation set (no {EVALSET_FILE})")
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} record")
    images = [
        (item["name"], load_image(Path(folder) / item["lr"]), load_image(Path(folder) / item["hr"]))
        for item in record["images"]
    ]
    return record, images


def verify_eval_set(folder: str | Path) -> list[str]:
    """Re-make every input of a set folder from its saved HR image, parameters and seed; the
    names of the images whose saved input differs (an empty list: all reproduced bit for
    bit)."""
    record, images = read_eval_set(folder)
    params = PARAMS[record["kind"]](**record["params"])
    differing = []
    for item, (name, lr, hr) in zip(record["images"], images, strict=True):
        again, _ = degrade(
            hr, params, sample_rng(record["seed"], 0, item["index"]), record["scale"]
        )
        if not np.array_equal(to_uint8(again), to_uint8(lr)):
            differing.append(name)
    return differing
