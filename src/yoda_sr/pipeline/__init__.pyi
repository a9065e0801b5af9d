"""Type stub of :mod:`yoda_sr.pipeline`: the names its ``__init__`` imports on first use."""

from yoda_sr.pipeline.bundled import DEFAULT_MODEL as DEFAULT_MODEL
from yoda_sr.pipeline.bundled import BundledModel as BundledModel
from yoda_sr.pipeline.bundled import BundledModelNotFoundError as BundledModelNotFoundError
from yoda_sr.pipeline.bundled import bundled_path as bundled_path
from yoda_sr.pipeline.bundled import list_bundled as list_bundled
from yoda_sr.pipeline.hub import ModelNotFoundError as ModelNotFoundError
from yoda_sr.pipeline.memory import InsufficientMemoryError as InsufficientMemoryError
from yoda_sr.pipeline.options import DEFAULT_TILE_OVERLAP as DEFAULT_TILE_OVERLAP
from yoda_sr.pipeline.options import WEIGHTS as WEIGHTS
from yoda_sr.pipeline.options import SamplingOptions as SamplingOptions
from yoda_sr.pipeline.options import resolve_options as resolve_options
from yoda_sr.pipeline.yoda_pipeline import UpscaleOutput as UpscaleOutput
from yoda_sr.pipeline.yoda_pipeline import YodaPipeline as YodaPipeline

__all__ = [
    "BundledModel",
    "BundledModelNotFoundError",
    "DEFAULT_MODEL",
    "DEFAULT_TILE_OVERLAP",
    "InsufficientMemoryError",
    "ModelNotFoundError",
    "SamplingOptions",
    "UpscaleOutput",
    "WEIGHTS",
    "YodaPipeline",
    "bundled_path",
    "list_bundled",
    "resolve_options",
]
