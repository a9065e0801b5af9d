"""The bundled experiment configs (YAML files in this folder) and finding one by name.

Kept apart from :mod:`yoda_sr.config` so that listing them (``yoda-sr train --help``) imports
no model code.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def bundled_configs() -> list[str]:
    """Names of the bundled configs, e.g. ``["rrdb_div2k_x4", ..., "srdiff_tiny"]``."""
    folder = resources.files(__name__)
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A file path, or the name of a bundled config (e.g. ``sr3_face_16_128``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = resources.files(__name__) / f"{name_or_path}.yaml"
    if bundled.is_file():
        return Path(str(bundled))
    raise FileNotFoundError(
        f"{name_or_path}: no such config file, and not a bundled config "
        f"({', '.join(bundled_configs())})"
    )
