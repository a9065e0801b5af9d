"""Configuration of an importance (attention) map source."""

from __future__ import annotations

from dataclasses import dataclass

SOURCES = ("dino", "detail", "constant")
RESIZE_MODES = ("nearest", "bilinear", "bicubic")
HEAD_FUSIONS = ("mean", "sum", "max")


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
    """

    source: str = "detail"
    model: str = "facebook/dino-vits8"
    head_fusion: str = "mean"
    analysis_size: int | None = None
    resize_mode: str = "bilinear"
    smooth_sigma: float = 0.0
    constant: float = 0.5

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
