"""DINO position embeddings at sizes other than 224: the official interpolation formula.

The reference below is an independent, module-based re-implementation of the official DINO
ViT (facebookresearch/dino ``vision_transformer.py``) written for these tests: patch-embedding
convolution, CLS token, position embeddings interpolated with the official formula, pre-norm
blocks with a fused qkv projection, attention scale ``head_dim ** -0.5``, GELU MLP and a final
LayerNorm. Its ``state_dict()`` has the keys of the official checkpoints.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import Dinov2Config, Dinov2Model

from yoda_sr.attention import (
    AttentionConfig,
    DinoAttention,
    build_importance_source,
    load_backbone,
    load_official_dino_checkpoint,
)
from yoda_sr.attention.positions import official_position_embeddings

DIM, HEADS, DEPTH, PATCH, GRID = 128, 2, 2, 8, 28  # 64-wide heads as DINO; 224 x 224 = 28 x 28
HEIGHT, WIDTH = 240, 320  # a 320 x 240 (W x H) input: 30 x 40 patches


def official_interpolation(pos_embed: Tensor, dim2: int, dim3: int, patch: int) -> Tensor:
    """The official formula: (1, 1 + G*G, D) -> (1, 1 + (dim2/p)(dim3/p), D).

    ``dim2``/``dim3`` are the input tensor's sizes along dims 2 and 3 (height, width; the
    official code names them ``w``, ``h``). The grid axis of dim 2 gets the first scale factor.
    """
    grid = math.isqrt(pos_embed.shape[1] - 1)
    n2, n3 = dim2 // patch, dim3 // patch
    if n2 * n3 == grid * grid and dim2 == dim3:
        return pos_embed
    grid_embed = pos_embed[:, 1:].reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
    grid_embed = F.interpolate(
        grid_embed, scale_factor=((n2 + 0.1) / grid, (n3 + 0.1) / grid), mode="bicubic"
    )
    assert grid_embed.shape[-2:] == (n2, n3)
    return torch.cat([pos_embed[:, :1], grid_embed.flatten(2).transpose(1, 2)], dim=1)


def size_interpolation(pos_embed: Tensor, dim2: int, dim3: int, patch: int) -> Tensor:
    """transformers' default: bicubic resize of the grid to the target size."""
    grid = math.isqrt(pos_embed.shape[1] - 1)
    grid_embed = pos_embed[:, 1:].reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
    grid_embed = F.interpolate(grid_embed, size=(dim2 // patch, dim3 // patch), mode="bicubic")
    return torch.cat([pos_embed[:, :1], grid_embed.flatten(2).transpose(1, 2)], dim=1)


class PatchEmbed(nn.Module):
    def __init__(self, dim: int, patch: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, pixels: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, H/p * W/p, D), row-major patches."""
        return self.proj(pixels).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """(B, N, D) -> output (B, N, D), softmax attention (B, heads, N, N)."""
        batch, length, dim = tokens.shape
        head_dim = dim // self.heads
        qkv = self.qkv(tokens).reshape(batch, length, 3, self.heads, head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attention = (q @ k.transpose(-2, -1) * head_dim**-0.5).softmax(dim=-1)
        return self.proj((attention @ v).transpose(1, 2).reshape(batch, length, dim)), attention


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(tokens)))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """(B, N, D) -> next tokens (B, N, D), this block's attention (B, heads, N, N)."""
        mixed, attention = self.attn(self.norm1(tokens))
        tokens = tokens + mixed
        return tokens + self.mlp(self.norm2(tokens)), attention


class OfficialViT(nn.Module):
    """The official DINO ViT; ``interpolate`` maps (pos_embed, dim2, dim3, patch) to positions."""

    def __init__(self, interpolate=official_interpolation) -> None:
        super().__init__()
        self.interpolate = interpolate
        self.patch_embed = PatchEmbed(DIM, PATCH)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + GRID * GRID, DIM))
        self.blocks = nn.ModuleList(Block(DIM, HEADS) for _ in range(DEPTH))
        self.norm = nn.LayerNorm(DIM, eps=1e-6)

    def last_self_attention(self, pixels: Tensor) -> Tensor:
        """(B, 3, H, W) -> last block's attention (B, heads, N, N), N = 1 + H/p * W/p."""
        tokens = self.patch_embed(pixels)
        tokens = torch.cat([self.cls_token.expand(len(tokens), -1, -1), tokens], dim=1)
        tokens = tokens + self.interpolate(self.pos_embed, *pixels.shape[-2:], PATCH)
        for block in self.blocks:
            tokens, attention = block(tokens)
        return attention

    def cls_maps(self, pixels: Tensor) -> Tensor:
        """(B, 3, H, W) -> last-layer CLS-to-patch attention (B, heads, H/p, W/p)."""
        attention = self.last_self_attention(pixels)[:, :, 0, 1:]
        return attention.unflatten(-1, (pixels.shape[-2] // PATCH, pixels.shape[-1] // PATCH))


def peaked_reference(seed: int = 0) -> OfficialViT:
    """Random weights: rough (not smooth) position embeddings and sharply peaked attention."""
    model = OfficialViT()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if "norm" in name and name.endswith("weight"):
                param.copy_(1.0 + 0.1 * noise)
            elif name in ("pos_embed", "cls_token"):
                param.copy_(noise)
            elif name.endswith("qkv.weight"):
                param.copy_(0.4 * noise)
            else:
                param.copy_(0.1 * noise)
    return model.eval()


@pytest.fixture(scope="module")
def reference() -> OfficialViT:
    return peaked_reference()


@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory, reference) -> str:
    path = tmp_path_factory.mktemp("official") / "dino_tiny8_pretrain.pth"
    torch.save(reference.state_dict(), path)
    return str(path)


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory, checkpoint_file) -> str:
    folder = tmp_path_factory.mktemp("hf") / "dino-tiny8"
    load_official_dino_checkpoint(checkpoint_file).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def pixels() -> Tensor:
    """A normalised (1, 3, 240, 320) input."""
    return torch.randn(1, 3, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(1))


@torch.no_grad()
def reference_maps(reference: OfficialViT, pixels: Tensor, interpolate) -> Tensor:
    """CLS maps (B, heads, gh, gw) of ``reference``'s weights with another interpolation."""
    model = OfficialViT(interpolate)
    model.load_state_dict(reference.state_dict())
    return model.cls_maps(pixels)


def test_reference_state_dict_has_the_official_checkpoint_keys(reference):
    keys = set(reference.state_dict())
    assert {"cls_token", "pos_embed", "patch_embed.proj.weight", "norm.bias"} <= keys
    assert {"blocks.1.attn.qkv.weight", "blocks.1.norm2.bias", "blocks.1.mlp.fc2.weight"} <= keys


@pytest.mark.parametrize("weights", ["checkpoint_file", "hf_folder"])
def test_cls_attention_at_320x240_matches_the_official_vit(request, weights, reference, pixels):
    source = build_importance_source(
        AttentionConfig(source="dino", model=request.getfixturevalue(weights))
    )
    ours = source.cls_attention(pixels)
    expected = reference_maps(reference, pixels, official_interpolation)
    assert ours.shape == expected.shape == (1, HEADS, HEIGHT // PATCH, WIDTH // PATCH)
    assert expected.amax() > 0.9  # peaked: the maps are close to one-hot
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)


@torch.no_grad()
def test_transformers_size_interpolation_would_move_the_peaks_at_320x240(
    reference, hf_folder, pixels
):
    # The same weights in a plain transformers ViTModel, interpolating by target size.
    backbone = load_backbone(hf_folder)
    backbone.set_attn_implementation("eager")
    output = backbone(pixel_values=pixels, output_attentions=True, interpolate_pos_encoding=True)
    plain = output.attentions[-1][:, :, 0, 1:].unflatten(-1, (HEIGHT // PATCH, WIDTH // PATCH))
    torch.testing.assert_close(
        plain, reference_maps(reference, pixels, size_interpolation), atol=1e-5, rtol=0
    )
    official = reference_maps(reference, pixels, official_interpolation)
    assert (plain - official).abs().max() > 0.5
    # Each head's most-attended patch is elsewhere.
    assert (plain.flatten(2).argmax(-1) != official.flatten(2).argmax(-1)).all()


def test_official_positions_keep_cls_and_the_pretraining_grid(reference):
    pos_embed = reference.pos_embed.detach()
    assert official_position_embeddings(pos_embed, 224, 224, PATCH) is pos_embed
    resized = official_position_embeddings(pos_embed, HEIGHT, WIDTH, PATCH)
    assert resized.shape == (1, 1 + (HEIGHT // PATCH) * (WIDTH // PATCH), DIM)
    torch.testing.assert_close(resized, official_interpolation(pos_embed, HEIGHT, WIDTH, PATCH))
    assert torch.equal(resized[:, 0], pos_embed[:, 0])


@torch.no_grad()
def test_dinov2_positions_use_the_official_offset_formula():
    # Official DINOv2 (models without registers: interpolate_offset=0.1, no antialiasing).
    torch.manual_seed(0)
    config = Dinov2Config(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, patch_size=14, image_size=224
    )
    backbone = Dinov2Model(config)
    pos_embed = backbone.embeddings.position_embeddings
    pos_embed.copy_(torch.randn(pos_embed.shape, generator=torch.Generator().manual_seed(3)))
    DinoAttention(backbone)
    pixels = torch.randn(1, 3, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(2))
    embeddings = backbone.embeddings
    tokens = torch.cat([embeddings.cls_token, embeddings.patch_embeddings(pixels)], dim=1)
    official = official_interpolation(pos_embed, HEIGHT, WIDTH, 14)
    torch.testing.assert_close(embeddings(pixels), tokens + official)
    assert (official - size_interpolation(pos_embed, HEIGHT, WIDTH, 14)).abs().max() > 0.1
