"""Pipelines: a trained backbone + scheduler + importance source, and the sampling loop."""

from yoda_sr.pipeline.yoda_pipeline import UpscaleOutput, YodaPipeline

__all__ = ["UpscaleOutput", "YodaPipeline"]
