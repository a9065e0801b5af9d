"""Importance from the last-layer CLS self-attention of a DINO ViT (the paper's choice)."""

from __future__ import annotations

import math

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
from yoda_sr.attention.config import (
    DEFAULT_ATTENTION_REFERENCE,
    NORMALIZATIONS,
    RESIZE_MODES,
    VIT_METHODS,
    AttentionConfig,
    parse_head_fusion,
)
from yoda_sr.attention.guided_filter import guided_filter
from yoda_sr.attention.loading import load_backbone
from yoda_sr.attention.positions import use_official_position_interpolation
from yoda_sr.attention.pyramid import level_shapes, native_shape, tiled_map

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLS_ATTENTION = "yoda_sr_cls_attention"
_LUMA = (0.299, 0.587, 0.114)
# Guided-filter regularisation (luma units squared): luma edges of contrast well above 0.1
# shape the upsampled map, weaker texture is smoothed over (He et al. use 0.1^2 to 0.4^2).
GUIDED_EPS = 1e-2
# Native side of "native_guided" and "pyramid" without ``analysis_size``: DINO's and most of
# DINOv2's pre-training resolution. DINOv2's config says 518 (its short last phase), but 224
# agreed better across scales in ``benchmarks/importance_scale.py`` at a fifth of the cost.
DEFAULT_NATIVE_SIZE = 224
# Quantile of each pyramid level that maps to 1 before the levels are averaged, per image.
LEVEL_QUANTILE = 0.98


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


def quantile(x: Tensor, q: float) -> Tensor:
    """Per-image ``q`` quantile (lower) of (B, C, H, W) ``x`` as (B, 1, 1, 1), at least 1e-12
    (``kthvalue``: ``torch.quantile`` refuses more than 2**24 values)."""
    flat = x.flatten(1)
    k = max(1, math.ceil(q * flat.shape[1]))
    return flat.kthvalue(k, dim=1).values.clamp_min(1e-12).view(-1, 1, 1, 1)


class DinoAttention(ImportanceSource):
    """YODA importance map from a DINO ViT's last-layer CLS-to-patch self-attention.

    For an LR image (B, 3, h, w) and output size (H, W) the LR image is bicubic-resized
    (clamped to [0, 1]) and ImageNet-normalised; the last-layer attention of the CLS token to
    the patch tokens (register tokens of DINOv2-with-registers skipped: the first
    ``num_prefix_tokens`` keys) is read per head, the heads combined (``head_fusion``) and
    multiplied by the patch count: attention *relative to uniform* (1 = a uniform share).
    Where the ViT looks (``vit_method``):

    - ``"whole"`` (the paper's, yoda-sr <= 0.1.x): the whole image at the analysis size (the
      output size rounded to patch multiples, or ``analysis_size`` squared), resized to
      (H, W) with ``resize_mode``;
    - ``"native_guided"``: the whole image at the ViT's native token count (``native_size``
      squared pixels, the image's aspect kept), resized bilinearly to (H, W) and then
      guided-filtered (:mod:`.guided_filter`) by the bicubic-upsampled LR luma, so the coarse
      map follows the image's edges;
    - ``"pyramid"``: square tiles of the native size at 1 and 2 x the native size
      (:mod:`.pyramid`), each tiling twice with a half-patch shift, blended with tent windows.

    Then optional Gaussian smoothing (``smooth_sigma`` output pixels) and normalisation:

    - ``"absolute"``: ``(r - 1) / (reference - 1)`` for attention ``r`` relative to uniform,
      clamped to [0, 1]: uniform attention (what a flat image draws) is 0, ``reference``
      times uniform is 1, in every image, at every size and in every tile. Deviation from
      DINO's official visualisation, which keeps the patches holding the top 60 % of each
      head's attention mass (a per-image rank that stretches a flat image's near-uniform
      attention over half its area); ``benchmarks/importance_scale.py`` compares the two.
    - ``"per_image"`` (the paper's; models saved before the setting keep it): min-max per
      image, so the map always spans [0, 1]. Pyramid levels are first divided by their own
      ``LEVEL_QUANTILE`` quantile (quantile-normalised fusion).

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
        analysis_size: ``"whole"``: ``None`` (output size) or a fixed square size;
            ``"native_guided"`` and ``"pyramid"``: the native side (``None``:
            ``DEFAULT_NATIVE_SIZE``, 224). Rounded to patch multiples.
        resize_mode: ``"nearest"``, ``"bilinear"`` or ``"bicubic"`` (``"whole"`` only).
        smooth_sigma: Gaussian smoothing of the final map in output pixels (0: none).
        attn_implementation: :data:`CLS_ATTENTION` (default, memory-lean) or ``"eager"``
            (transformers' reference attention; same maps, quadratic memory).
        normalization: ``"absolute"`` or ``"per_image"``.
        reference: attention relative to uniform that maps to 1 under ``"absolute"`` (> 1).
        vit_method: ``"whole"`` (this class's default, the building block of
            :meth:`patch_map`), ``"native_guided"`` or ``"pyramid"`` (``AttentionConfig``'s).
    """

    pixel_mean: Tensor  # buffers
    pixel_std: Tensor
    luma: Tensor

    def __init__(
        self,
        backbone: PreTrainedModel,
        head_fusion: str = "mean",
        analysis_size: int | None = None,
        resize_mode: str = "bilinear",
        smooth_sigma: float = 0.0,
        attn_implementation: str = CLS_ATTENTION,
        normalization: str = "absolute",
        reference: float = DEFAULT_ATTENTION_REFERENCE,
        vit_method: str = "whole",
    ) -> None:
        super().__init__()
        config = backbone.config
        if resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {resize_mode!r}")
        if analysis_size is not None and analysis_size < 1:
            raise ValueError(f"analysis_size must be None or positive, got {analysis_size}")
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}"
            )
        if not reference > 1:
            raise ValueError(f"reference must be > 1 (uniform attention is 1), got {reference}")
        if vit_method not in VIT_METHODS:
            raise ValueError(f"vit_method must be one of {VIT_METHODS}, got {vit_method!r}")
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
        native = analysis_size if analysis_size is not None else DEFAULT_NATIVE_SIZE
        self.native_size = max(1, int(native / self.patch_size + 0.5)) * self.patch_size
        self.resize_mode = resize_mode
        self.smooth_sigma = smooth_sigma
        self.attn_implementation = attn_implementation
        self.normalization = normalization
        self.reference = float(reference)
        self.vit_method = vit_method
        pixel_mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.register_buffer("pixel_mean", pixel_mean, persistent=False)
        self.register_buffer(
            "pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("luma", torch.tensor(_LUMA).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def from_config(cls, config: AttentionConfig) -> DinoAttention:
        """Load ``config.model`` (see :func:`~yoda_sr.attention.loading.load_backbone`)."""
        return cls(
            load_backbone(config.model),
            head_fusion=config.head_fusion,
            analysis_size=config.analysis_size,
            resize_mode=config.resize_mode,
            smooth_sigma=config.smooth_sigma,
            normalization=config.normalization,
            reference=config.attention_reference,
            vit_method=config.vit_method,
        )

    def analysis_shape(self, size: tuple[int, int]) -> tuple[int, int]:
        """(height, width) the ViT sees for output ``size`` under ``"whole"``: nearest patch
        multiples, halves up."""
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
    def relative_attention(self, pixels: Tensor) -> Tensor:
        """Normalised pixels (B, 3, Ha, Wa) -> fused CLS attention relative to uniform
        (B, 1, Ha/p, Wa/p): fused attention x patch count, >= 0, 1 where uniform."""
        attention = self.fuse_heads(self.cls_attention(pixels))
        return attention * (attention.shape[-2] * attention.shape[-1])

    def pixels(self, lr: Tensor, shape: tuple[int, int]) -> Tensor:
        """(B, 3, h, w) LR in [0, 1] -> ImageNet-normalised (B, 3, *shape), bicubic resized."""
        image = lr.to(device=self.pixel_mean.device, dtype=torch.float32)
        return (upsample_image(image, shape) - self.pixel_mean) / self.pixel_std

    @torch.no_grad()
    def patch_map(self, lr: Tensor, size: tuple[int, int]) -> Tensor:
        """(B, 3, h, w) LR in [0, 1] -> ``"whole"``'s normalised patch map (B, 1, gh, gw)."""
        size = check_input(lr, size)
        relative = self.relative_attention(self.pixels(lr, self.analysis_shape(size)))
        return self.normalize(relative)

    @torch.no_grad()
    def level_maps(self, lr: Tensor, size: tuple[int, int]) -> list[Tensor]:
        """(B, 3, h, w) LR in [0, 1] -> ``vit_method``'s maps of attention relative to uniform
        at the output size, (B, 1, H, W) each: one per pyramid level, else one."""
        size = check_input(lr, size)
        if self.vit_method == "pyramid":
            return [
                resize_map(self._tiled(lr, shape), size, "bilinear")
                for shape in level_shapes(size, self.native_size, self.patch_size, size)
            ]
        if self.vit_method == "native_guided":
            return [self._native_guided(lr, size)]
        relative = self.relative_attention(self.pixels(lr, self.analysis_shape(size)))
        return [resize_map(relative, size, self.resize_mode)]

    def _tiled(self, lr: Tensor, shape: tuple[int, int]) -> Tensor:
        """One pyramid level: (B, 1, *shape) from native tiles of the image resized to shape."""
        pixels = self.pixels(lr, shape)
        return tiled_map(pixels, self.native_size, self.patch_size, self.relative_attention)

    def _native_guided(self, lr: Tensor, size: tuple[int, int]) -> Tensor:
        """(B, 1, H, W): the native-grid map, bilinear to ``size``, guided by the LR luma with
        a window of about one patch cell."""
        shape = native_shape(size, self.native_size, self.patch_size)
        coarse = resize_map(self.relative_attention(self.pixels(lr, shape)), size, "bilinear")
        image = lr.to(device=self.luma.device, dtype=torch.float32)
        guide = (upsample_image(image, size) * self.luma).sum(dim=1, keepdim=True)
        cell = math.sqrt(size[0] * size[1] / (shape[0] * shape[1])) * self.patch_size
        smooth = guided_filter(guide, coarse, max(1, round(cell / 2)), GUIDED_EPS)
        return smooth.clamp_min(0.0)

    def fuse_levels(self, levels: list[Tensor]) -> Tensor:
        """Average (B, 1, H, W) level maps; under ``"per_image"`` each is first divided by its
        own ``LEVEL_QUANTILE`` quantile (absolute maps need no rescaling: uniform is 1)."""
        if self.normalization == "per_image" and len(levels) > 1:
            levels = [level / quantile(level, LEVEL_QUANTILE) for level in levels]
        return torch.stack(levels).mean(dim=0)

    def normalize(self, relative: Tensor) -> Tensor:
        """(B, 1, ...) attention relative to uniform -> importance in [0, 1] (see the class)."""
        if self.normalization == "per_image":
            return min_max_normalize(relative)
        return ((relative - 1.0) / (self.reference - 1.0)).clamp(0.0, 1.0)

    @torch.no_grad()
    def forward(self, lr: Tensor, size: tuple[int, int]) -> Tensor:
        """(B, 3, h, w) LR image in [0, 1] -> (B, 1, H, W) importance in [0, 1], ``size=(H, W)``."""
        relative = self.fuse_levels(self.level_maps(lr, size))
        return self.normalize(gaussian_blur(relative, self.smooth_sigma)).to(lr.device)
