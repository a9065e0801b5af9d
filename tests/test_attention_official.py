"""Official DINO checkpoints: loading, parity with an independent reference forward, errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from yoda_sr.attention import (
    AttentionConfig,
    DinoAttention,
    IncompatibleCheckpointError,
    build_importance_source,
    load_official_dino_checkpoint,
)

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def official_state_dict(dim=192, depth=2, patch=8, grid=28, mlp_ratio=4, seed=0):
    """Random state dict in the layout of facebookresearch/dino's VisionTransformer."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, std=0.1):
        return torch.randn(*shape, generator=g) * std

    state = {
        "cls_token": rand(1, 1, dim, std=0.5),
        "pos_embed": rand(1, grid * grid + 1, dim, std=0.5),
        "patch_embed.proj.weight": rand(dim, 3, patch, patch, std=0.05),
        "patch_embed.proj.bias": rand(dim),
        "norm.weight": 1.0 + rand(dim),
        "norm.bias": rand(dim),
    }
    for i in range(depth):
        hidden = dim * mlp_ratio
        state |= {
            f"blocks.{i}.norm1.weight": 1.0 + rand(dim),
            f"blocks.{i}.norm1.bias": rand(dim),
            f"blocks.{i}.attn.qkv.weight": rand(3 * dim, dim, std=0.1),
            f"blocks.{i}.attn.qkv.bias": rand(3 * dim),
            f"blocks.{i}.attn.proj.weight": rand(dim, dim),
            f"blocks.{i}.attn.proj.bias": rand(dim),
            f"blocks.{i}.norm2.weight": 1.0 + rand(dim),
            f"blocks.{i}.norm2.bias": rand(dim),
            f"blocks.{i}.mlp.fc1.weight": rand(hidden, dim),
            f"blocks.{i}.mlp.fc1.bias": rand(hidden),
            f"blocks.{i}.mlp.fc2.weight": rand(dim, hidden),
            f"blocks.{i}.mlp.fc2.bias": rand(dim),
        }
    return state


def reference_pos_embed(state, rows, cols):
    """Official DINO position-embedding interpolation (``scale_factor`` with the +0.1 offset)."""
    pos = state["pos_embed"]
    grid = math.isqrt(pos.shape[1] - 1)
    if rows * cols == grid * grid and rows == cols:
        return pos
    patch = F.interpolate(
        pos[:, 1:].reshape(1, grid, grid, -1).permute(0, 3, 1, 2),
        scale_factor=((rows + 0.1) / grid, (cols + 0.1) / grid),
        mode="bicubic",
    )
    assert patch.shape[-2:] == (rows, cols)
    return torch.cat([pos[:, :1], patch.permute(0, 2, 3, 1).reshape(1, rows * cols, -1)], dim=1)


def reference_last_attention(state, pixels, num_heads):
    """DINO ViT forward from its published description; returns the last block's softmax.

    Patch conv embedding, CLS token prepended, position embedding added, pre-norm blocks
    (LayerNorm eps 1e-6, fused qkv attention with scale head_dim**-0.5, GELU MLP), residuals.
    Returns (B, heads, N, N).
    """
    weight = state["patch_embed.proj.weight"]
    patch = weight.shape[-1]
    tokens = F.conv2d(pixels, weight, state["patch_embed.proj.bias"], stride=patch)
    rows, cols = tokens.shape[-2:]
    tokens = tokens.flatten(2).transpose(1, 2)
    batch, dim = tokens.shape[0], tokens.shape[-1]
    tokens = torch.cat([state["cls_token"].expand(batch, -1, -1), tokens], dim=1)
    tokens = tokens + reference_pos_embed(state, rows, cols)
    depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
    head_dim = dim // num_heads
    for i in range(depth):
        p = {k[len(f"blocks.{i}.") :]: v for k, v in state.items() if k.startswith(f"blocks.{i}.")}
        y = F.layer_norm(tokens, (dim,), p["norm1.weight"], p["norm1.bias"], eps=1e-6)
        qkv = F.linear(y, p["attn.qkv.weight"], p["attn.qkv.bias"])
        q, k, v = qkv.reshape(batch, -1, 3, num_heads, head_dim).permute(2, 0, 3, 1, 4)
        attention = ((q @ k.transpose(-2, -1)) * head_dim**-0.5).softmax(dim=-1)
        if i == depth - 1:
            return attention
        mixed = (attention @ v).transpose(1, 2).reshape(batch, -1, dim)
        tokens = tokens + F.linear(mixed, p["attn.proj.weight"], p["attn.proj.bias"])
        y = F.layer_norm(tokens, (dim,), p["norm2.weight"], p["norm2.bias"], eps=1e-6)
        y = F.linear(
            F.gelu(F.linear(y, p["mlp.fc1.weight"], p["mlp.fc1.bias"])), p["mlp.fc2.weight"]
        )
        tokens = tokens + y + p["mlp.fc2.bias"]
    raise AssertionError("unreachable")


def reference_cls_maps(state, pixels, num_heads, patch=8):
    """(B, heads, rows, cols) CLS -> patch attention of the reference."""
    attention = reference_last_attention(state, pixels, num_heads)[:, :, 0, 1:]
    return attention.reshape(*attention.shape[:2], pixels.shape[-2] // patch, -1)


def normalise(x):
    flat = x.flatten(1)
    low = flat.min(1).values.view(-1, 1, 1, 1)
    high = flat.max(1).values.view(-1, 1, 1, 1)
    return (x - low) / (high - low)


@pytest.fixture(scope="module")
def state():
    return official_state_dict()


@pytest.fixture
def checkpoint_file(tmp_path, state):
    path = tmp_path / "dino_tiny8_pretrain.pth"
    torch.save(state, path)
    return path


def test_official_checkpoint_cls_attention_matches_reference_at_224(checkpoint_file, state):
    model = load_official_dino_checkpoint(checkpoint_file)
    assert model.config.num_attention_heads == 3  # 192 / 64
    assert model.config.patch_size == 8 and model.config.image_size == 224
    source = DinoAttention(model)
    pixels = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    ours = source.cls_attention(pixels)
    reference = reference_cls_maps(state, pixels, num_heads=3)
    assert ours.shape == (2, 3, 28, 28)
    assert reference.std() > 1e-3  # the random weights give structured, non-uniform attention
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)


def test_official_patch_map_matches_reference_head_mean_min_max(checkpoint_file, state):
    cfg = AttentionConfig(
        source="dino", model=str(checkpoint_file), analysis_size=224, normalization="per_image"
    )
    source = build_importance_source(cfg)
    lr = torch.rand(1, 3, 56, 56, generator=torch.Generator().manual_seed(2))
    ours = source.patch_map(lr, (224, 224))
    upsampled = F.interpolate(lr, size=(224, 224), mode="bicubic", align_corners=False)
    pixels = (upsampled.clamp(0, 1) - IMAGENET_MEAN) / IMAGENET_STD
    reference = normalise(reference_cls_maps(state, pixels, num_heads=3).mean(1, keepdim=True))
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)
    assert ours.min() == 0 and ours.max() == 1


def test_official_interpolated_positions_match_reference_at_320(checkpoint_file, state):
    # yoda-sr interpolates like the official code (scale factor with the +0.1 offset).
    source = DinoAttention(load_official_dino_checkpoint(checkpoint_file))
    pixels = torch.randn(1, 3, 320, 320, generator=torch.Generator().manual_seed(3))
    ours = source.cls_attention(pixels)
    assert ours.shape == (1, 3, 40, 40)
    torch.testing.assert_close(
        ours, reference_cls_maps(state, pixels, num_heads=3), atol=1e-5, rtol=0
    )


def test_num_heads_override_for_non_standard_width(tmp_path):
    state = official_state_dict(dim=48, depth=2)
    with pytest.raises(IncompatibleCheckpointError, match="num_heads"):
        load_official_dino_checkpoint(state)
    model = load_official_dino_checkpoint(state, num_heads=3)
    pixels = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(
        DinoAttention(model).cls_attention(pixels),
        reference_cls_maps(state, pixels, num_heads=3),
        atol=1e-5,
        rtol=0,
    )


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: {
            "teacher": {f"backbone.{k}": v for k, v in s.items()} | {"head.w": torch.ones(2)}
        },
        lambda s: {"student": {f"module.backbone.{k}": v for k, v in s.items()}, "epoch": 3},
        lambda s: {"state_dict": {f"module.{k}": v for k, v in s.items()}},
        lambda s: {"model": dict(s)},
    ],
    ids=["teacher", "student-ddp", "state_dict", "model"],
)
def test_training_checkpoint_wrappings_load_the_backbone(tmp_path, state, wrap):
    path = tmp_path / "checkpoint.pth"
    torch.save(wrap(state), path)
    loaded = _weights(load_official_dino_checkpoint(path))
    plain = _weights(load_official_dino_checkpoint(state))
    assert loaded.keys() == plain.keys()
    assert all(torch.equal(loaded[k], plain[k]) for k in plain)


def test_training_checkpoint_prefers_teacher(state):
    student = official_state_dict(seed=7)
    wrapped = {
        "student": {f"module.backbone.{k}": v for k, v in student.items()},
        "teacher": {f"backbone.{k}": v for k, v in state.items()},
    }
    model = load_official_dino_checkpoint(wrapped)
    torch.testing.assert_close(model.embeddings.cls_token, state["cls_token"])


def test_non_dino_state_dict_raises_clear_error(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.bias": torch.zeros(10)}, path)
    with pytest.raises(IncompatibleCheckpointError, match=r"resnet\.pth.*missing cls_token"):
        load_official_dino_checkpoint(path)


def test_unexpected_or_misshapen_entries_raise_clear_error(state):
    with pytest.raises(IncompatibleCheckpointError, match="unexpected entries.*fc.weight"):
        load_official_dino_checkpoint(state | {"fc.weight": torch.zeros(10, 192)})
    bad_qkv = dict(state) | {"blocks.1.attn.qkv.weight": torch.zeros(100, 192)}
    with pytest.raises(IncompatibleCheckpointError, match=r"blocks\.1\.attn\.qkv\.weight"):
        load_official_dino_checkpoint(bad_qkv)
    bad_mlp = dict(state) | {"blocks.1.mlp.fc2.weight": torch.zeros(192, 10)}
    with pytest.raises(IncompatibleCheckpointError, match="do not fit"):
        load_official_dino_checkpoint(bad_mlp)


def test_file_that_is_not_a_checkpoint_raises_clear_error(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("not a checkpoint")
    with pytest.raises(IncompatibleCheckpointError, match=r"notes\.pth.*cannot read"):
        build_importance_source(AttentionConfig(source="dino", model=str(path)))
