"""Inference: a trained backbone + scheduler + importance source (``YodaPipeline``), tiled
mask-aware denoising, the memory estimate, the sampling options of a call, and saving and
loading pipelines (folder-per-component layout, bundled default models, the Hugging Face Hub).

Names are imported on first use, so :mod:`yoda_sr.pipeline.options` loads without torch.
"""

from yoda_sr.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "bundled": [
            "DEFAULT_MODEL",
            "BundledModel",
            "BundledModelNotFoundError",
            "bundled_path",
            "list_bundled",
        ],
        "hub": ["ModelNotFoundError"],
        "memory": ["InsufficientMemoryError"],
        "options": ["DEFAULT_TILE_OVERLAP", "WEIGHTS", "SamplingOptions", "resolve_options"],
        "yoda_pipeline": ["UpscaleOutput", "YodaPipeline"],
    },
)
__all__ = __dir__()
