"""Work on image files behind ``yoda-sr attention`` and ``yoda-sr upscale``: the per-file
loop, output names, seeding, previews and per-file errors, above the in-memory layers."""

from yoda_sr.jobs.attention_maps import OUTPUT_SUFFIXES, export_attention_maps, importance_map
from yoda_sr.jobs.upscale import upscale_files

__all__ = ["OUTPUT_SUFFIXES", "export_attention_maps", "importance_map", "upscale_files"]
