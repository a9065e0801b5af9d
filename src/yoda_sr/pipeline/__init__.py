"""Pipelines: a trained backbone + scheduler + importance source, and the sampling loop."""

from yoda_sr.pipeline.files import upscale_files
from yoda_sr.pipeline.hub import ModelNotFoundError
from yoda_sr.pipeline.memory import InsufficientMemoryError
from yoda_sr.pipeline.yoda_pipeline import UpscaleOutput, YodaPipeline

__all__ = [
    "InsufficientMemoryError",
    "ModelNotFoundError",
    "UpscaleOutput",
    "YodaPipeline",
    "upscale_files",
]
