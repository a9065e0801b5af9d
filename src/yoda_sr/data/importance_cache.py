"""On-disk cache of importance maps, so a training epoch does not re-run the ViT."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from yoda_sr.attention.base import ImportanceSource
from yoda_sr.attention.config import AttentionConfig


def default_cache_dir() -> Path:
    """``$YODA_SR_CACHE`` or ``$XDG_CACHE_HOME/yoda-sr`` (``~/.cache/yoda-sr``)."""
    if os.environ.get("YODA_SR_CACHE"):
        return Path(os.environ["YODA_SR_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "yoda-sr"


def file_digest(path: str | Path) -> str:
    """SHA-1 of a file's bytes (the cache key follows content, not names or mtimes)."""
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Raised whenever the maps a source computes for the same settings change, so that cached
# maps of an older version are not reused: 2 = DINO position embeddings interpolated with the
# official formula.
MAPS_VERSION = 2


class ImportanceCache:
    """Importance maps keyed by (image content, how the LR was made, attention settings).

    Maps are stored as float16 ``.npy`` (4x smaller than float32; the masks compare
    ``T * (A + l) >= t``, so a 1e-3 rounding moves a pixel's entry by at most ~2 of 2000
    steps). Files are written atomically, so parallel workers or an interrupted run never
    leave a truncated map behind.
    """

    def __init__(
        self,
        source: ImportanceSource,
        attention: AttentionConfig,
        root: str | Path | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.source = source
        self.device = torch.device(device)
        settings = json.dumps({"maps_version": MAPS_VERSION, **asdict(attention)}, sort_keys=True)
        self.settings_digest = hashlib.sha1(settings.encode()).hexdigest()[:16]
        self.root = Path(root) if root else default_cache_dir()
        self.folder = self.root / "importance" / self.settings_digest

    def path_for(self, content_digest: str, lr_recipe: str) -> Path:
        key = hashlib.sha1(f"{content_digest}|{lr_recipe}".encode()).hexdigest()
        return self.folder / f"{key}.npy"

    def get(self, content_digest: str, lr_recipe: str, lr: Tensor, size: tuple[int, int]) -> Tensor:
        """Importance (1, H, W) in [0, 1] of ``lr`` (3, h, w) at ``size``; cached on disk.

        A cache file that cannot be read is named in a warning and rebuilt.
        """
        path = self.path_for(content_digest, lr_recipe)
        if path.is_file():
            try:
                array = np.load(path, allow_pickle=False)
            except (ValueError, OSError, EOFError) as exc:
                warnings.warn(
                    f"{path}: corrupt importance cache file ({exc}); rebuilding it", stacklevel=2
                )
            else:
                if array.shape == tuple(size):
                    return torch.from_numpy(array.astype(np.float32))[None]
        with torch.no_grad():
            importance = self.source(lr[None].to(self.device), size)[0, 0].float().cpu()
        array = importance.numpy().astype(np.float16)
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".npy.tmp")
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, array)
        os.replace(tmp, path)
        # Return the stored (float16-rounded) values so a cache hit gives the same map.
        return torch.from_numpy(array.astype(np.float32))[None]
