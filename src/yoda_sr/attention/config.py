"""Configuration of an importance (attention) map source."""

from __future__ import annotations

from dataclasses import dataclass

SOURCES = ("dino", "detail", "constant")
RESIZE_MODES = ("nearest", "bilinear", "bicubic")
HEAD_FUSIONS = ("mean", "sum", "max")
# How raw importance (gradient energy, CLS attention) becomes A in [0, 1]: "absolute" divides
# by a fixed reference, so a value means the same amount of detail in every image, at every
# size and in every tile; "per_image" stretches each image's own range (the paper's min-max).
NORMALIZATIONS = ("absolute", "per_image")
# Where a ViT looks (see ``DinoAttention``): the whole image at the output size, the whole
# image at the native grid then guided upsampling, or multi-scale native tiles.
VIT_METHODS = ("whole", "native_guided", "pyramid")
# The normalisation of configs saved before it was a setting (yoda-sr <= 0.1.x).
LEGACY_NORMALIZATION = "per_image"
# Default references of "absolute" normalisation (see ``AttentionConfig``).
# detail: Sobel gradient magnitude of the luma, in luma units per LR pixel, pooled over one LR
# pixel, that maps to A = 1 (0.1: 25 grey levels per LR pixel). Measured on the LR images of
# the shared training photos' tiles by ``benchmarks/importance_calibration.py``: their 0.9
# quantile (0.102), and the median of each tile's 0.98 quantile (0.101), which is what the
# per-image normalisation divides by on a typical tile.
DEFAULT_DETAIL_REFERENCE = 0.1
# detail: the magnitude below which a pixel counts as flat under "absolute" (A = 0 there; the
# map is (energy - floor) / (reference - floor), clamped). 1 grey level per LR pixel: 8-bit
# quantisation of a smooth LR (slopes 0.05-0.3 grey levels per pixel) alone produces up to
# 0.58, printed by ``benchmarks/importance_calibration.py``. Without it a sky's quantisation
# steps got a few final sampler steps and lost 0.7 dB PSNR-RGB to bicubic
# (``benchmarks/results/importance_floor.md``).
DEFAULT_DETAIL_FLOOR = 1.0 / 255.0
# The floor of configs saved before it was a setting (yoda-sr <= 0.2.0).
LEGACY_DETAIL_FLOOR = 0.0
# dino: CLS attention relative to uniform (attention x number of patches, r) that maps to A = 1
# (r = 1, uniform, maps to 0): the 90th percentile of r (as for the detail reference) over 8
# shared train photos (LR 48 px, x4), DINOv2-S/14, measured by
# ``benchmarks/importance_scale.py``: 1.76 whole, 1.77 native_guided@518, 1.71 @224, 1.75
# pyramid@224, so one reference serves every ``vit_method``.
DEFAULT_ATTENTION_REFERENCE = 1.75


def parse_head_fusion(head_fusion: str) -> tuple[str, tuple[int, ...] | None]:
    """Split a head-fusion spec into ``(reduction, heads)``.

    ``"mean" | "sum" | "max"`` combine all heads; ``"heads:0,3,5"`` averages the listed heads.
    """
    if head_fusion in HEAD_FUSIONS:
        return head_fusion, None
    prefix, _, spec = head_fusion.partition(":")
    if prefix == "heads" and spec:
        try:
            heads = tuple(int(part) for part in spec.split(","))
        except ValueError:
            heads = ()
        if heads and all(h >= 0 for h in heads):
            return "mean", heads
    raise ValueError(
        f"head_fusion must be one of {', '.join(HEAD_FUSIONS)} or 'heads:I,J,...' with head "
        f"indices >= 0, got {head_fusion!r}"
    )


@dataclass
class AttentionConfig:
    """Where YODA's importance map ``A`` comes from and how it is post-processed.

    Args:
        source: ``"dino"`` (self-attention of a DINO ViT, needs weights), ``"detail"``
            (weight-free local gradient energy) or ``"constant"`` (``A = constant`` everywhere:
            the ablation with YODA's step budget but no spatial information).
        model: for ``"dino"``: a Hugging Face hub name, a local Hugging Face folder or an
            official DINO ``.pth`` checkpoint file.
        head_fusion: how the attention heads are combined: ``"mean"``, ``"sum"``, ``"max"``
            or ``"heads:0,3,5"`` (mean of the listed heads). After the per-image min-max
            normalisation ``"sum"`` and ``"mean"`` give the same map.
        analysis_size: ``None`` analyses the image upsampled to the output (HR) size; an int
            analyses a fixed square of that size. Always rounded to a multiple of the patch
            size. Only used by ``"dino"``.
        resize_mode: interpolation of the patch-grid map to the output size
            (``"nearest"``, ``"bilinear"``, ``"bicubic"``). Only used by ``"dino"``.
        smooth_sigma: standard deviation (output pixels) of an optional Gaussian smoothing
            of the final map; 0 disables it.
        constant: the importance of every pixel for ``"constant"``, in [0, 1].
        normalization: ``"absolute"`` (default): raw importance divided by ``reference`` and
            clamped to [0, 1], the same for every image, size and tile, so a flat image gets
            low importance and stays anchored; ``"per_image"``: each image's own range is
            stretched to [0, 1] (the paper's min-max; the detail map's 98th percentile), as
            configs saved before this setting existed behave.
        detail_reference: for ``"detail"`` under ``"absolute"``: the pooled gradient
            magnitude (luma units per LR pixel) that maps to 1.
        detail_floor: for ``"detail"`` under ``"absolute"``: the magnitude (luma units per
            LR pixel, < ``detail_reference``) at and below which importance is 0, so 8-bit
            quantisation steps of a flat region are not diffused (default one grey level;
            0: the map is plain ``energy / detail_reference``, as configs saved without it).
        attention_reference: for ``"dino"`` under ``"absolute"``: the CLS attention relative
            to uniform (attention x number of patches) that maps to 1 (> 1; uniform maps to 0).
        vit_method: for ``"dino"``: ``"pyramid"`` (default: native tiles at two scales with
            half-patch jitter; the most scale- and shift-stable in
            ``benchmarks/results/importance_scale.md``), ``"whole"`` (the whole image at the
            analysis size, as configs saved before this setting keep) or ``"native_guided"``
            (the whole image at the native grid, guided-filter upsampling on the LR luma);
            under the last two ``analysis_size`` is the native side (default 224).
    """

    source: str = "detail"
    model: str = "facebook/dino-vits8"
    head_fusion: str = "mean"
    analysis_size: int | None = None
    resize_mode: str = "bilinear"
    smooth_sigma: float = 0.0
    constant: float = 0.5
    normalization: str = "absolute"
    detail_reference: float = DEFAULT_DETAIL_REFERENCE
    detail_floor: float = DEFAULT_DETAIL_FLOOR
    attention_reference: float = DEFAULT_ATTENTION_REFERENCE
    vit_method: str = "pyramid"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        parse_head_fusion(self.head_fusion)
        if self.analysis_size is not None and (
            isinstance(self.analysis_size, bool)
            or not isinstance(self.analysis_size, int)
            or self.analysis_size < 1
        ):
            raise ValueError(
                f"analysis_size must be None or a positive int, got {self.analysis_size!r}"
            )
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(
                f"resize_mode must be one of {', '.join(RESIZE_MODES)}, got {self.resize_mode!r}"
            )
        if not 0.0 <= self.constant <= 1.0:
            raise ValueError(f"constant must lie in [0, 1], got {self.constant!r}")
        if not self.smooth_sigma >= 0.0:
            raise ValueError(f"smooth_sigma must be >= 0, got {self.smooth_sigma!r}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {', '.join(NORMALIZATIONS)}, "
                f"got {self.normalization!r}"
            )
        for name in ("detail_reference", "attention_reference"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        floor = self.detail_floor
        if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not floor >= 0:
            raise ValueError(f"detail_floor must be a number >= 0, got {floor!r}")
        if not floor < self.detail_reference:
            raise ValueError(
                f"detail_floor ({floor!r}) must be below detail_reference "
                f"({self.detail_reference!r})"
            )
        if not self.attention_reference > 1:
            raise ValueError(
                f"attention_reference must be > 1 (uniform attention is 1), "
                f"got {self.attention_reference!r}"
            )
        if self.vit_method not in VIT_METHODS:
            raise ValueError(
                f"vit_method must be one of {', '.join(VIT_METHODS)}, got {self.vit_method!r}"
            )
