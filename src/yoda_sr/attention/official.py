"""Official DINO checkpoints (facebookresearch/dino) loaded into a transformers ``ViTModel``.

The official files (``dino_deitsmall8_pretrain.pth``, ``dino_deitsmall16_pretrain.pth``,
``dino_vitbase8_pretrain.pth``, ``dino_vitbase16_pretrain.pth``) are state dicts of DINO's
``VisionTransformer``: ``cls_token``, ``pos_embed``, ``patch_embed.proj.*``,
``blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}.*`` and ``norm.*``. That
architecture is the same computation as ``transformers.ViTModel`` (pre-norm blocks, exact
GELU, LayerNorm eps 1e-6, attention scale ``head_dim ** -0.5``), so the weights are renamed
and the fused ``qkv`` projection is split into query/key/value; nothing is re-implemented
except the position-embedding interpolation at other input sizes, which
:class:`~yoda_sr.attention.dino.DinoAttention` switches to the official formula
(:mod:`.positions`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor
from transformers import ViTConfig, ViTModel

from yoda_sr.attention.errors import IncompatibleCheckpointError

# DINO's ViTs all use 64-dimensional heads (ViT-S: 384 = 6 x 64, ViT-B: 768 = 12 x 64).
_HEAD_DIM = 64
_WRAPPER_KEYS = ("teacher", "student", "state_dict", "model")
_PREFIXES = ("module.", "backbone.")
_BLOCK_KEY = re.compile(r"blocks\.(\d+)\.(.+)")
# What torch.load(weights_only=True) says of a pickled object it will not rebuild.
_REFUSED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
_BLOCK_PARAMS = {
    "norm1.weight": "layernorm_before.weight",
    "norm1.bias": "layernorm_before.bias",
    "attn.proj.weight": "attention.o_proj.weight",
    "attn.proj.bias": "attention.o_proj.bias",
    "norm2.weight": "layernorm_after.weight",
    "norm2.bias": "layernorm_after.bias",
    "mlp.fc1.weight": "mlp.fc1.weight",
    "mlp.fc1.bias": "mlp.fc1.bias",
    "mlp.fc2.weight": "mlp.fc2.weight",
    "mlp.fc2.bias": "mlp.fc2.bias",
}
_TOP_PARAMS = {
    "cls_token": "embeddings.cls_token",
    "pos_embed": "embeddings.position_embeddings",
    "patch_embed.proj.weight": "embeddings.patch_embeddings.projection.weight",
    "patch_embed.proj.bias": "embeddings.patch_embeddings.projection.bias",
    "norm.weight": "layernorm.weight",
    "norm.bias": "layernorm.bias",
}


def unwrap_state_dict(checkpoint: Mapping, source: str = "checkpoint") -> dict[str, Tensor]:
    """Backbone state dict of a DINO file: plain, or a training checkpoint's wrapped one.

    DINO training checkpoints hold ``{"teacher": ..., "student": ...}`` (the teacher is the
    model DINO evaluates and is preferred) with ``module.`` (DDP) and ``backbone.`` prefixes
    and a projection head (``head.*``), which is dropped.
    """
    state = checkpoint
    for key in _WRAPPER_KEYS:
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping) or not state:
        raise IncompatibleCheckpointError(
            f"{source}: not a state dict (got {type(state).__name__})"
        )
    for prefix in _PREFIXES:
        if any(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    state = {k: v for k, v in state.items() if not k.startswith("head.")}
    bad = [k for k, v in state.items() if not isinstance(v, Tensor)]
    if bad:
        raise IncompatibleCheckpointError(f"{source}: non-tensor entries {bad[:5]}")
    return dict(state)


def convert_official_state_dict(
    state: Mapping[str, Tensor], num_heads: int | None = None, source: str = "checkpoint"
) -> tuple[ViTConfig, dict[str, Tensor]]:
    """Config inferred from the tensors and the state dict renamed to ``ViTModel``'s keys.

    Depth, width, MLP width, patch size, channels, QKV bias and the pre-training image size
    (from the position-embedding grid) come from the tensors; ``num_heads`` defaults to
    ``width // 64`` (DINO's head width).
    """
    missing = [k for k in ("cls_token", "pos_embed", "patch_embed.proj.weight") if k not in state]
    if missing:
        raise IncompatibleCheckpointError(
            f"{source}: not a DINO ViT state dict, missing {', '.join(missing)} "
            f"(first keys: {', '.join(list(state)[:5])})"
        )
    dim = state["cls_token"].shape[-1]
    proj = state["patch_embed.proj.weight"]
    if proj.ndim != 4 or proj.shape[0] != dim or proj.shape[-1] != proj.shape[-2]:
        raise IncompatibleCheckpointError(
            f"{source}: patch_embed.proj.weight has shape {tuple(proj.shape)}, expected "
            f"({dim}, C, P, P)"
        )
    grid = math.isqrt(state["pos_embed"].shape[1] - 1)
    if state["pos_embed"].shape != (1, grid * grid + 1, dim):
        raise IncompatibleCheckpointError(
            f"{source}: pos_embed has shape {tuple(state['pos_embed'].shape)}, expected "
            f"(1, 1 + G*G, {dim})"
        )
    blocks = sorted({int(m.group(1)) for k in state if (m := _BLOCK_KEY.fullmatch(k))})
    if not blocks or blocks != list(range(len(blocks))):
        raise IncompatibleCheckpointError(f"{source}: no consecutive blocks.N.* entries")
    if num_heads is None:
        if dim % _HEAD_DIM:
            raise IncompatibleCheckpointError(
                f"{source}: width {dim} is not a multiple of 64; pass num_heads explicitly"
            )
        num_heads = dim // _HEAD_DIM
    if num_heads < 1 or dim % num_heads:
        raise IncompatibleCheckpointError(
            f"{source}: width {dim} not divisible by {num_heads} heads"
        )
    if "blocks.0.mlp.fc1.weight" not in state:
        raise IncompatibleCheckpointError(f"{source}: missing blocks.0.mlp.fc1.weight")
    config = ViTConfig(
        hidden_size=dim,
        num_hidden_layers=len(blocks),
        num_attention_heads=num_heads,
        intermediate_size=state["blocks.0.mlp.fc1.weight"].shape[0],
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=1e-6,
        image_size=grid * proj.shape[-1],
        patch_size=proj.shape[-1],
        num_channels=proj.shape[1],
        qkv_bias="blocks.0.attn.qkv.bias" in state,
    )
    converted: dict[str, Tensor] = {}
    unexpected = []
    for key, value in state.items():
        if key in _TOP_PARAMS:
            converted[_TOP_PARAMS[key]] = value
        elif (match := _BLOCK_KEY.fullmatch(key)) and match.group(2) in _BLOCK_PARAMS:
            converted[f"layers.{match.group(1)}.{_BLOCK_PARAMS[match.group(2)]}"] = value
        elif match and match.group(2) in ("attn.qkv.weight", "attn.qkv.bias"):
            if value.shape[0] != 3 * dim:
                raise IncompatibleCheckpointError(
                    f"{source}: {key} has shape {tuple(value.shape)}, expected first dim {3 * dim}"
                )
            kind = match.group(2).rsplit(".", 1)[1]
            for name, part in zip(
                ("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0), strict=True
            ):
                converted[f"layers.{match.group(1)}.attention.{name}.{kind}"] = part.clone()
        else:
            unexpected.append(key)
    if unexpected:
        raise IncompatibleCheckpointError(
            f"{source}: unexpected entries for a DINO ViT: {', '.join(unexpected[:8])}"
        )
    return config, converted


def load_official_dino_checkpoint(
    checkpoint: str | Path | Mapping, num_heads: int | None = None
) -> ViTModel:
    """Load an official DINO ViT checkpoint (file path or loaded dict) as a ``ViTModel``.

    Files are read with ``torch.load(weights_only=True, map_location="cpu")``. Returns the
    model in eval mode, float32, without pooler. Raises :class:`IncompatibleCheckpointError`
    for anything that is not a DINO ViT state dict.
    """
    source = str(checkpoint) if isinstance(checkpoint, (str, Path)) else "checkpoint"
    if isinstance(checkpoint, (str, Path)):
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such checkpoint file")
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch.load of a foreign file raises almost anything
            raise IncompatibleCheckpointError(_unreadable(path, exc)) from exc
    else:
        loaded = checkpoint
    state = unwrap_state_dict(loaded, source)
    config, converted = convert_official_state_dict(state, num_heads=num_heads, source=source)
    model = ViTModel(config, add_pooling_layer=False)
    expected = model.state_dict()
    problems = [f"missing {k}" for k in expected if k not in converted]
    problems += [f"unexpected {k}" for k in converted if k not in expected]
    problems += [
        f"{k} has shape {tuple(v.shape)}, expected {tuple(expected[k].shape)}"
        for k, v in converted.items()
        if k in expected and v.shape != expected[k].shape
    ]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise IncompatibleCheckpointError(
            f"{source}: weights do not fit a ViT: {problems[0]}{more}"
        )
    model.load_state_dict(converted, strict=True)
    return model.float().eval()


def _unreadable(path: Path, exc: Exception) -> str:
    """A two-line message for a file ``torch.load(weights_only=True)`` failed on: the file and
    the cause, then how to fix it."""
    refused = _REFUSED_GLOBAL.search(str(exc))
    if refused:
        return (
            f"{path}: holds a Python object that is not loaded safely ({refused.group(1)}): a "
            "full training checkpoint?\n  give the weights file (e.g. "
            "dino_deitsmall8_pretrain.pth), or, if you trust this file, save its weights alone: "
            f"torch.save(torch.load('{path}', weights_only=False)['teacher'], 'teacher.pth')"
        )
    lines = str(exc).strip().splitlines()
    cause = lines[0] if lines else ""
    cause = cause if len(cause) <= 160 else cause[:157] + "..."
    return (
        f"{path}: cannot read as a PyTorch checkpoint ({type(exc).__name__}"
        + (f": {cause}" if cause else "")
        + ")"
    )
