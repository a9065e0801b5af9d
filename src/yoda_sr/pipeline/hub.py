"""Saved pipelines on the Hugging Face Hub: download (cached by huggingface_hub) and upload."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from huggingface_hub import CommitInfo, create_repo, snapshot_download, upload_folder

from yoda_sr.pipeline.bundled import BUNDLED_NAMES, bundled_path, describe_names

# What the Hub accepts as a model id (``owner/name``); also matches some relative paths,
# so a name is only looked up on the Hub when no such local file or folder exists.
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


class ModelNotFoundError(FileNotFoundError):
    """A model could not be found; the message says how to provide one."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(
            f"cannot load a yoda-sr model from '{name}': {reason}\n"
            "  give a bundled model name (`yoda-sr models`), a save_pretrained folder "
            "(model_index.json), a training run folder (checkpoints/step-*/) or a Hub id "
            "owner/name (cached, or with network access; HF_HUB_OFFLINE=1 skips retries)"
        )
        self.name = name
        self.reason = reason


def resolve_model_folder(name: str | Path, revision: str | None = None) -> Path:
    """The folder ``name`` stands for, first match wins: a bundled model name
    (:mod:`yoda_sr.pipeline.bundled`; a local folder of that spelling is reached as
    ``./name``); an existing local path; the local snapshot of Hub repo ``name`` at
    ``revision`` (downloaded once, then read from the cache).

    Raises :class:`ModelNotFoundError` when ``name`` is none of these (the message lists the
    bundled names), or when the repo can be neither downloaded nor found in the cache
    (offline, unknown repo or revision, no access); a bundled name whose files are absent
    raises :class:`~yoda_sr.pipeline.bundled.BundledModelNotFoundError`.
    """
    if str(name) in BUNDLED_NAMES:
        return bundled_path(str(name))
    path = Path(name).expanduser()
    if path.exists():
        return path
    if not _REPO_ID.fullmatch(str(name)):
        raise ModelNotFoundError(
            str(name), f"no such file or folder, nor a bundled model ({describe_names()})"
        )
    try:
        return Path(snapshot_download(str(name), revision=revision))
    except (OSError, ValueError) as exc:  # offline and not cached, unknown repo, bad id, ...
        lines = str(exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        raise ModelNotFoundError(
            str(name), f"no such local folder, and not available from the Hub ({reason})"
        ) from exc


def push_folder(
    write: Callable[[Path], None],
    repo_id: str,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload yoda-sr pipeline",
) -> CommitInfo:
    """Create model repo ``repo_id`` if needed and upload what ``write(folder)`` writes into
    an empty temporary folder, as one commit."""
    repo = create_repo(repo_id, private=private, token=token, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        write(Path(folder))
        return upload_folder(
            repo_id=repo.repo_id,
            folder_path=folder,
            commit_message=commit_message,
            token=token,
        )
