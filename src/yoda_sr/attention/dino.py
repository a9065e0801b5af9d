"""Importance from the last-layer CLS self-attention of a DINO ViT (the paper's choice)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import AttentionInterface, PreTrainedModel, ViTModel

from yoda_sr.attention.base import (
    ImportanceSource,
    check_input,
    gaussian_blur,
    min_max_normalize,
    resize_map,
    upsample_image,
)
from yoda_sr.attention.config import RESIZE_MODES, AttentionConfig, parse_head_fusion
from yoda_sr.attention.loading import load_backbone
from yoda_sr.attention.positions import use_official_position_interpolation

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLS_ATTENTION = "yoda_sr_cls_attention"


def cls_attention_forward(
    module: torch.nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[Tensor, Tensor]:
    """transformers attention function: SDPA output plus the CLS token's attention only.

    ``query``/``key``/``value`` are (B, heads, N, head_dim). Returns torch SDPA's output
    (B, N, heads, head_dim), as transformers' ``"sdpa"`` function does, and the
    first query token's attention probabilities (B, heads, 1, N), computed exactly as eager
    attention does (``softmax(q k^T * scaling)`` in float32). Eager attention would return
    (B, heads, N, N) for every layer, which does not fit in memory at HR analysis sizes
    (a 1024 x 1024 input to a ViT-S/8 has N = 16385 tokens: 6 GB per layer); this is
    linear in N while the layers themselves run on memory-efficient SDPA. Other
    transformers ``kwargs`` (e.g. ``output_attentions``) are accepted and ignored.
    """
    if attention_mask is not None:
        raise ValueError("the CLS attention function supports unmasked encoders only")
    scale = query.shape[-1] ** -0.5 if scaling is None else scaling
    output = F.scaled_dot_product_attention(query, key, value, dropout_p=dropout, scale=scale)
    scores = torch.matmul(query[:, :, :1], key.transpose(-1, -2)) * scale
    return output.transpose(1, 2).contiguous(), scores.softmax(dim=-1, dtype=torch.float32)


AttentionInterface.register(CLS_ATTENTION, cls_attention_forward)


class DinoAttention(ImportanceSource):
    """YODA importance map from a DINO ViT's last-layer CLS-to-patch self-attention.

    Pipeline for an LR image (B, 3, h, w) and output size (H, W):

    1. bicubic resize (clamped to [0, 1]) to the analysis size: (H, W) rounded to multiples
       of the patch size, or ``analysis_size`` squared; ImageNet mean/std normalisation;
    2. last-layer attention of the CLS token to the patch tokens (register tokens of
       DINOv2-with-registers skipped), one (gh, gw) map per head;
    3. heads combined (``head_fusion``) and min-max normalised per image;
    4. resized to (H, W) with ``resize_mode``, optionally Gaussian-smoothed
       (``smooth_sigma`` output pixels), min-max normalised again so that the map spans
       [0, 1] (the YODA masks rely on that range).

    Position embeddings for inputs other than the pre-training grid are interpolated as the
    official code does (:mod:`.positions`): bicubic with ``scale_factor = (H/p + 0.1) / G``
    per axis (G: pre-training grid), for DINO v1 (``ViTModel``: official checkpoints,
    ``facebook/dino-*``, local folders) and DINOv2 (``Dinov2Model``; the official default
    ``interpolate_offset=0.1``). transformers' own interpolation to the target size samples
    the grid at slightly different positions. ``Dinov2WithRegistersModel`` keeps transformers'
    interpolation, which equals the official register models' (``size=``, antialiased).

    Args:
        backbone: ``ViTModel`` (treated as DINO v1), ``Dinov2Model`` or
            ``Dinov2WithRegistersModel``; switched to eval mode, to ``attn_implementation``
            and to the official position interpolation in place.
        head_fusion: ``"mean"``, ``"sum"``, ``"max"`` or ``"heads:0,3,5"``.
        analysis_size: ``None`` (output size) or a fixed square size; patch-size multiple.
        resize_mode: ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.
        smooth_sigma: Gaussian smoothing of the final map in output pixels (0: none).
        attn_implementation: :data:`CLS_ATTENTION` (default, memory-lean) or ``"eager"``
            (transformers' reference attention; same maps, quadratic memory).
    """

    pixel_mean: Tensor  # buffers
    pixel_std: Tensor

    def __init__(
        self,
        backbone: PreTrainedModel,
        head_fusion: str = "mean",
        analysis_size: int | None = None,
        resize_mode: str = "bilinear",
        smooth_sigma: float = 0.0,
        attn_implementation: str = CLS_ATTENTION,
    ) -> None:
        super().__init__()
        config = backbone.config
        if resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {resize_mode!r}")
        if analysis_size is not None and analysis_size < 1:
            raise ValueError(f"analysis_size must be None or positive, got {analysis_size}")
        self.reduction, self.heads = parse_head_fusion(head_fusion)
        self.num_heads = int(config.num_attention_heads)
        if self.heads is not None and max(self.heads) >= self.num_heads:
            raise ValueError(
                f"head_fusion {head_fusion!r} selects head {max(self.heads)} but the model has "
                f"{self.num_heads} heads (0..{self.num_heads - 1})"
            )
        self.backbone = backbone.eval()
        self.backbone.set_attn_implementation(attn_implementation)
        use_official_position_interpolation(self.backbone)
        self.patch_size = int(config.patch_size)
        self.num_prefix_tokens = 1 + int(getattr(config, "num_register_tokens", 0) or 0)
        self.analysis_size = analysis_size
        self.resize_mode = resize_mode
        self.smooth_sigma = smooth_sigma
        self.attn_implementation = attn_implementation
        pixel_mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.register_buffer("pixel_mean", pixel_mean, persistent=False)
        self.register_buffer(
            "pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False
        )

    @classmethod
    def from_config(cls, config: AttentionConfig) -> DinoAttention:
        """Load ``config.model`` (see :func:`~yoda_sr.attention.loading.load_backbone`)."""
        return cls(
            load_backbone(config.model),
            head_fusion=config.head_fusion,
            analysis_size=config.analysis_size,
            resize_mode=config.resize_mode,
            smooth_sigma=config.smooth_sigma,
        )

    def analysis_shape(self, size: tuple[int, int]) -> tuple[int, int]:
        """(height, width) the ViT sees for output ``size``: nearest patch multiples, halves up."""
        p = self.patch_size
        target = size if self.analysis_size is None else (self.analysis_size, self.analysis_size)
        height, width = (max(p, int(s / p + 0.5) * p) for s in target)
        return height, width

    @torch.no_grad()
    def cls_attention(self, pixel_values: Tensor) -> Tensor:
        """Normalised pixels (B, 3, Ha, Wa) -> last-layer CLS attention (B, heads, Ha/p, Wa/p).

        Rows are the CLS token's softmax attention restricted to the patch tokens, so each
        map is non-negative and sums to at most 1.
        """
        kwargs = {"interpolate_pos_encoding": True} if isinstance(self.backbone, ViTModel) else {}
        outputs = self.backbone(pixel_values=pixel_values, output_attentions=True, **kwargs)
        if not outputs.attentions:
            raise RuntimeError(
                f"the backbone returned no attentions with "
                f"attn_implementation={self.attn_implementation!r} "
                f"(use {CLS_ATTENTION!r} or 'eager')"
            )
        attention = outputs.attentions[-1][:, :, 0, self.num_prefix_tokens :].float()
        grid_h = pixel_values.shape[-2] // self.patch_size
        grid_w = pixel_values.shape[-1] // self.patch_size
        return attention.reshape(attention.shape[0], attention.shape[1], grid_h, grid_w)

    def fuse_heads(self, attention: Tensor) -> Tensor:
        """(B, heads, gh, gw) -> (B, 1, gh, gw) combined with ``head_fusion`` (unnormalised)."""
        if self.heads is not None:
            attention = attention[:, list(self.heads)]
        if self.reduction == "max":
            return attention.amax(dim=1, keepdim=True)
        if self.reduction == "sum":
            return attention.sum(dim=1, keepdim=True)
        return attention.mean(dim=1, keepdim=True)

    @torch.no_grad()
    def patch_map(self, lr: Tensor, size: tuple[int, int]) -> Tensor:
        """(B, 3, h, w) LR in [0, 1] -> fused, min-max normalised patch map (B, 1, gh, gw)."""
        size = check_input(lr, size)
        image = lr.to(device=self.pixel_mean.device, dtype=torch.float32)
        pixels = upsample_image(image, self.analysis_shape(size))
        pixels = (pixels - self.pixel_mean) / self.pixel_std
        return min_max_normalize(self.fuse_heads(self.cls_attention(pixels)))

    @torch.no_grad()
    def forward(self, lr: Tensor, size: tuple[int, int]) -> Tensor:
        """(B, 3, h, w) LR image in [0, 1] -> (B, 1, H, W) importance in [0, 1], ``size=(H, W)``."""
        size = check_input(lr, size)
        importance = resize_map(self.patch_map(lr, size), size, self.resize_mode)
        importance = gaussian_blur(importance, self.smooth_sigma)
        return min_max_normalize(importance).to(lr.device)
