"""Public RRDBNet checkpoint files: read them, detect their key layout, map it onto ours.

BasicSR / Real-ESRGAN state dicts are in :class:`~yoda_sr.models.rrdb.RRDBNet`'s own layout;
:func:`load_rrdb_state_dict` also maps the original ESRGAN layout (``RRDB_trunk.N.RDBM.convK``,
``trunk_conv``, ``upconvK``, ``HRconv``) and the pre-2019 "old arch" layout (one flattened
``model`` Sequential) onto it, and infers the architecture (:class:`RRDBConfig`) from the shapes.

Why not spandrel (chaiNNer's model loader, which detects these layouts too): for RRDBNets it
recognises the same three layouts plus ESRGAN+ (extra 1x1 convs and noise: another network),
but it returns its own module, named in the old-arch layout, whose forward gives only the SR
image. SRDiff needs the hidden state of every block (:meth:`RRDBNet.encode`) and BasicSR names
(stage-1 run folders), so we would still map its state dict onto ours, for an extra
dependency (pre-alpha, plus einops) that is otherwise some 40 architectures we cannot use as
encoders. It would pay off only for encoders of other architectures (SwinIR, HAT, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from yoda_sr.models.rrdb import _SUPPORTED_SCALES, RRDBConfig, RRDBNet


class RRDBCheckpointError(ValueError):
    """A checkpoint that cannot be read as an RRDBNet state dict."""


_CONTAINER_KEYS = ("params_ema", "params", "state_dict", "model")
_BASICSR_LAYOUT = (
    "BasicSR/Real-ESRGAN (conv_first, body.N.rdbM.convK, conv_body, conv_upK, conv_hr, conv_last)"
)
_ESRGAN_LAYOUT = (
    "original ESRGAN (conv_first, RRDB_trunk.N.RDBM.convK, trunk_conv, upconvK, HRconv, conv_last)"
)
_OLD_ESRGAN_LAYOUT = (
    "old-arch ESRGAN (model.0, model.1.sub.N.RDBM.convK.0, model.1.sub.<N blocks>, model.3, "
    "model.6, ... for the x2 upsamplings, then the HR and last convs)"
)
_OLD_TOP = re.compile(r"^model\.(\d+)\.(weight|bias)$")
_OLD_BLOCK = re.compile(r"^model\.1\.sub\.(\d+)\.RDB([123])\.conv([1-5])\.0\.(weight|bias)$")
_OLD_TRUNK = re.compile(r"^model\.1\.sub\.(\d+)\.(weight|bias)$")
_ESRGAN_TO_BASICSR = (
    (re.compile(r"^RRDB_trunk\.(\d+)\.RDB([123])\.conv([1-5])\."), r"body.\1.rdb\2.conv\3."),
    (re.compile(r"^trunk_conv\."), "conv_body."),
    (re.compile(r"^upconv(\d+)\."), r"conv_up\1."),
    (re.compile(r"^HRconv\."), "conv_hr."),
)
_MAX_LISTED = 5


def _read_checkpoint(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"RRDB checkpoint not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    if suffix in (".pth", ".pt", ".ckpt", ".bin"):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # weights_only refuses arbitrary pickles; report which file
            raise RRDBCheckpointError(
                f"RRDB checkpoint {path}: cannot be read with torch.load(weights_only=True): {err}"
            ) from err
    raise RRDBCheckpointError(
        f"RRDB checkpoint {path}: unsupported file type {suffix!r} "
        "(expected .pth, .pt, .ckpt, .bin or .safetensors)"
    )


def _unwrap(obj: Any, source: str) -> dict[str, torch.Tensor]:
    while isinstance(obj, Mapping) and not any(torch.is_tensor(v) for v in obj.values()):
        inner = next((obj[k] for k in _CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            raise RRDBCheckpointError(
                f"RRDB checkpoint {source}: found no tensors and none of the container keys "
                f"{list(_CONTAINER_KEYS)}; top-level keys: {sorted(obj)[:_MAX_LISTED]}"
            )
        obj = inner
    if not isinstance(obj, Mapping):
        raise RRDBCheckpointError(
            f"RRDB checkpoint {source}: expected a state dict, found {type(obj).__name__}"
        )
    not_tensors = sorted(k for k, v in obj.items() if not torch.is_tensor(v))
    if not_tensors:
        raise RRDBCheckpointError(
            f"RRDB checkpoint {source}: state dict has non-tensor entries "
            f"{not_tensors[:_MAX_LISTED]}"
        )
    state = dict(obj)
    if state and all(k.startswith("module.") for k in state):  # saved from DataParallel/DDP
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def _to_basicsr(state: dict[str, torch.Tensor], source: str) -> tuple[dict[str, torch.Tensor], str]:
    keys = set(state)
    if "conv_first.weight" in keys and any(k.startswith("body.") for k in keys):
        return state, _BASICSR_LAYOUT
    if "conv_first.weight" in keys and any(k.startswith("RRDB_trunk.") for k in keys):
        mapped = {}
        for key, value in state.items():
            new = key
            for pattern, repl in _ESRGAN_TO_BASICSR:
                new = pattern.sub(repl, new)
            mapped[new] = value
        return mapped, _ESRGAN_LAYOUT
    if "model.0.weight" in keys and any(k.startswith("model.1.sub.") for k in keys):
        return _old_arch_to_basicsr(state, source), _OLD_ESRGAN_LAYOUT
    raise RRDBCheckpointError(
        f"RRDB checkpoint {source}: unrecognised key layout; expected {_BASICSR_LAYOUT}, "
        f"{_ESRGAN_LAYOUT} or {_OLD_ESRGAN_LAYOUT}, found keys {sorted(keys)[:_MAX_LISTED]}"
    )


def _old_arch_to_basicsr(state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Rename the old-arch layout: one flattened Sequential of conv_first (0), a shortcut block
    (1: the RRDBs, then the trunk conv), [Upsample, conv, LeakyReLU] per x2 upsampling, the HR
    conv, a LeakyReLU and the last conv. Keys it does not know are kept (and reported as
    unexpected by :func:`_check_against`)."""
    convs = sorted({int(m.group(1)) for k in state if (m := _OLD_TOP.match(k))} - {0})
    blocks = {int(m.group(1)) for k in state if (m := _OLD_BLOCK.match(k))}
    trunks = {int(m.group(1)) for k in state if (m := _OLD_TRUNK.match(k))}
    n = len(convs) - 2
    names = {0: "conv_first", 3 * n + 2: "conv_hr", 3 * n + 4: "conv_last"}
    names.update({3 * i: f"conv_up{i}" for i in range(1, n + 1)})
    if n < 0 or convs != sorted(set(names) - {0}) or trunks != {max(blocks, default=-1) + 1}:
        raise RRDBCheckpointError(
            f"RRDB checkpoint {source}: keys look like the {_OLD_ESRGAN_LAYOUT} layout, but "
            f"the convs after the trunk are {', '.join(f'model.{i}' for i in convs) or 'none'} "
            f"and the trunk convs model.1.sub.{sorted(trunks)} (a pixel-shuffle upsampler is "
            "not supported)"
        )
    mapped = {}
    for key, value in state.items():
        new = key
        if m := _OLD_TOP.match(key):
            new = f"{names[int(m.group(1))]}.{m.group(2)}"
        elif m := _OLD_BLOCK.match(key):
            new = f"body.{m.group(1)}.rdb{m.group(2)}.conv{m.group(3)}.{m.group(4)}"
        elif m := _OLD_TRUNK.match(key):
            new = f"conv_body.{m.group(2)}"
        mapped[new] = value
    return mapped


def _infer_config(state: dict[str, torch.Tensor], source: str, layout: str) -> RRDBConfig:
    def need(key: str) -> torch.Tensor:
        if key not in state:
            raise RRDBCheckpointError(
                f"RRDB checkpoint {source}: missing {key!r} required by the {layout} layout"
            )
        return state[key]

    first = need("conv_first.weight")
    last = need("conv_last.weight")
    rdb_conv1 = need("body.0.rdb1.conv1.weight")
    if first.ndim != 4 or last.ndim != 4 or rdb_conv1.ndim != 4:
        raise RRDBCheckpointError(
            f"RRDB checkpoint {source}: conv_first/conv_last/body.0.rdb1.conv1 weights must be 4-D"
        )
    block_ids = {int(m.group(1)) for k in state if (m := re.match(r"body\.(\d+)\.", k))}
    up_ids = {int(m.group(1)) for k in state if (m := re.match(r"conv_up(\d+)\.", k))}
    num_features, in_total = first.shape[0], first.shape[1]
    out_channels = last.shape[0]
    # Real-ESRGAN x2/x1 models pixel-unshuffle the input, so conv_first sees in_channels * p^2.
    unshuffle = next((p for p in (1, 2, 4) if in_total == out_channels * p * p), 1)
    total_up = 2 ** len(up_ids)
    scale = total_up // unshuffle
    if up_ids != set(range(1, len(up_ids) + 1)) or scale not in _SUPPORTED_SCALES:
        raise RRDBCheckpointError(
            f"RRDB checkpoint {source}: upsampling convs {sorted(up_ids)} with pixel_unshuffle="
            f"{unshuffle} give scale {total_up / unshuffle:g}; supported scales are "
            f"{_SUPPORTED_SCALES} (conv_up1..conv_upK numbered from 1)"
        )
    try:
        return RRDBConfig(
            in_channels=in_total // (unshuffle * unshuffle),
            out_channels=out_channels,
            num_features=num_features,
            num_blocks=max(block_ids) + 1,
            growth_channels=rdb_conv1.shape[0],
            scale=scale,
            pixel_unshuffle=unshuffle,
            feature_stride=min(3, max(block_ids) + 2),
        )
    except ValueError as err:
        raise RRDBCheckpointError(f"RRDB checkpoint {source}: {err}") from err


def _check_against(
    state: dict[str, torch.Tensor], config: RRDBConfig, source: str, layout: str
) -> None:
    expected = {k: v.shape for k, v in RRDBNet.from_settings(config).state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(
        f"{k}: {tuple(state[k].shape)} != {tuple(s)}"
        for k, s in expected.items()
        if k in state and state[k].shape != s
    )
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:_MAX_LISTED]} ({len(missing)} in all)")
        if unexpected:
            parts.append(f"unexpected {unexpected[:_MAX_LISTED]} ({len(unexpected)} in all)")
        if wrong:
            parts.append(f"wrong shapes {wrong[:_MAX_LISTED]} ({len(wrong)} in all)")
        raise RRDBCheckpointError(
            f"RRDB checkpoint {source}: keys look like the {layout} layout but do not match an "
            f"RRDBNet inferred as {config}: " + "; ".join(parts)
        )


def load_rrdb_state_dict(
    path_or_dict: str | Path | Mapping[str, Any],
) -> tuple[dict[str, torch.Tensor], RRDBConfig]:
    """Read an RRDBNet checkpoint and return it in BasicSR layout with the inferred config.

    Accepts a path (``.pth``/``.pt``/``.ckpt``/``.bin`` via ``torch.load(weights_only=True)``, or
    ``.safetensors``) or an already loaded mapping. Containers ``params_ema`` (preferred),
    ``params``, ``state_dict`` and ``model`` are unwrapped, as is a ``module.`` prefix. Keys in the
    BasicSR/Real-ESRGAN, original ESRGAN or old-arch ESRGAN layout are accepted; the
    architecture (blocks, widths, channels, scale, pixel-unshuffle) is inferred from tensor
    shapes.

    Raises:
        RRDBCheckpointError: unreadable file, unknown layout, or keys/shapes that do not form an
            RRDBNet. The message names the file and the first offending keys.
    """
    if isinstance(path_or_dict, Mapping):
        source, raw = "<state dict>", path_or_dict
    else:
        path = Path(path_or_dict)
        source, raw = str(path), _read_checkpoint(path)
    state, layout = _to_basicsr(_unwrap(raw, source), source)
    config = _infer_config(state, source, layout)
    _check_against(state, config, source, layout)
    return state, config


def load_rrdb(path: str | Path, feature_stride: int | None = None) -> RRDBNet:
    """Build an RRDBNet whose architecture is inferred from a BasicSR, Real-ESRGAN or ESRGAN
    checkpoint and load its weights. ``feature_stride`` overrides the feature selection."""
    state_dict, config = load_rrdb_state_dict(path)
    if feature_stride is not None:
        config = replace(config, feature_stride=feature_stride)
    model = RRDBNet.from_settings(config)
    model.load_state_dict(state_dict, strict=True)
    return model
