"""Default models shipped inside the package, found by name.

Each bundled model is a :meth:`~yoda_sr.pipeline.YodaPipeline.save_pretrained` folder
(weights as fp16 safetensors) plus ``MODEL_CARD.md`` under ``yoda_sr/bundled_models/<name>/``.
``benchmarks/train_default_models.py`` trains, exports and evaluates them; a copy of yoda-sr
without those files lists no bundled models. Imports nothing heavy (the CLI lists models
without torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "bundled_models"
DEFAULT_MODEL = "srdiff-yoda-x4"
BUNDLED_NAMES = ("srdiff-yoda-x4", "sr3-yoda-x4", "resshift-yoda-x4")
# How a model argument is read where it could be both (see yoda_sr.pipeline.hub).
MODEL_RULE = "a bundled name wins over a local folder of that spelling: give that folder as ./NAME"
CARD_NAME = "MODEL_CARD.md"
# The file every save_pretrained folder has (see yoda_sr.pipeline.components).
_INDEX = "model_index.json"
CREATE_HINT = (
    "create them from a source checkout with `python benchmarks/train_default_models.py` "
    "(trains, exports into src/yoda_sr/bundled_models/ and evaluates; see its --help), or "
    "pass --model with a run folder, a saved pipeline folder or a Hub id"
)


class BundledModelNotFoundError(FileNotFoundError):
    """A bundled model name that is unknown, or whose files are not in this installation."""


@dataclass(frozen=True)
class BundledModel:
    """A bundled model whose files are present: ``path`` loads with ``from_pretrained``."""

    name: str
    path: Path
    card_path: Path
    summary: str

    @property
    def size_bytes(self) -> int:
        """Bytes of every file of the model (weights, configs, card)."""
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


def _summary(card: Path) -> str:
    """The card's first line of text (not a heading), or a note that it has no card."""
    if not card.is_file():
        return f"(no {CARD_NAME})"
    for line in card.read_text(encoding="utf-8").splitlines():
        text = line.strip().lstrip(">").strip()
        if text and not text.startswith("#"):
            return text
    return ""


def list_bundled() -> list[BundledModel]:
    """The bundled models whose files are present, in :data:`BUNDLED_NAMES` order."""
    found = []
    for name in BUNDLED_NAMES:
        folder = BUNDLED_DIR / name
        if (folder / _INDEX).is_file():
            card = folder / CARD_NAME
            found.append(BundledModel(name, folder, card, _summary(card)))
    return found


def describe_names() -> str:
    """One line naming the bundled models and which of them are installed."""
    installed = [model.name for model in list_bundled()]
    return (
        f"bundled model names: {', '.join(BUNDLED_NAMES)}; installed here: "
        f"{', '.join(installed) if installed else 'none'}"
    )


def bundled_path(name: str) -> Path:
    """The folder of bundled model ``name``. An unknown name, or a known one whose files are
    absent, raises :class:`BundledModelNotFoundError` listing the names and how to create
    the files."""
    if name not in BUNDLED_NAMES:
        raise BundledModelNotFoundError(f"no bundled model named {name!r} ({describe_names()})")
    folder = BUNDLED_DIR / name
    if not (folder / _INDEX).is_file():
        raise BundledModelNotFoundError(
            f"bundled model {name!r} is not installed ({folder / _INDEX} is missing; "
            f"{describe_names()}); {CREATE_HINT}"
        )
    return folder
