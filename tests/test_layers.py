"""The package's layers: every import points down, and the light entry points stay light.

A unit is a top-level package or module of ``yoda_sr`` (``pipeline``, ``config``, ...). A unit
may import units of lower tiers only, never one of its own tier or above, so an upward or
two-way edge fails here. Imports inside functions count as much as module-level ones.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import yoda_sr

PACKAGE = Path(yoda_sr.__file__).parent

# Bottom to top: what each tier owns is in the README's architecture section.
LAYERS = [
    {"files"},
    {"imaging", "device", "checkpoints", "settings", "lazy", "configs"},
    {"masks", "distributed", "degradations"},
    {"viz", "attention", "diffusion", "metrics", "models"},
    {"data"},
    {"config"},
    {"pipeline"},
    {"jobs", "training"},
    {"evaluation"},
    {"ui"},
    {"cli"},
]
TIER = {unit: tier for tier, units in enumerate(LAYERS) for unit in units}


def _unit(module: str) -> str | None:
    """``yoda_sr.pipeline.options`` -> ``pipeline``; ``yoda_sr`` itself -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """Every ``yoda_sr`` module ``path`` imports, at any depth (functions, TYPE_CHECKING)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            if base == "yoda_sr":  # from yoda_sr import checkpoints
                found.update(f"yoda_sr.{alias.name}" for alias in node.names)
            else:
                found.add(base)
    return {name for name in found if name.startswith("yoda_sr.")}


def import_graph() -> dict[str, set[str]]:
    """Unit -> units it imports (edges within a unit left out)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _unit(_module_name(path))
        if source is None:
            continue
        targets = {_unit(name) for name in _imported(path)} - {source, None}
        graph.setdefault(source, set()).update(targets)
    return graph


def test_every_unit_has_a_layer():
    units = {_unit(_module_name(path)) for path in PACKAGE.rglob("*.py")} - {None}
    assert units - set(TIER) == set(), "place new packages/modules in LAYERS"


def test_every_import_points_to_a_lower_layer():
    upward = [
        f"{source} -> {target}"
        for source, targets in import_graph().items()
        for target in sorted(targets)
        if TIER[target] >= TIER[source]
    ]
    assert upward == []


def _run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter on this checkout; it prints one JSON value."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    src = str(PACKAGE.parent)  # this checkout, not an installed copy
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


_LOADED = """
import json, sys
{imports}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {roots!r}
                        or m.startswith(("yoda_sr.training", "yoda_sr.viz", "yoda_sr.evaluation")))))
"""


@pytest.mark.parametrize(
    "imports",
    [
        "from yoda_sr.attention import DetailImportance, DinoAttention, build_importance_source",
        "from yoda_sr.pipeline import YodaPipeline, resolve_options",
    ],
)
def test_attention_and_inference_load_neither_matplotlib_nor_training(imports):
    loaded = _run(_LOADED.format(imports=imports, roots=["matplotlib"]))
    assert loaded == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--help"], 0),
        *(
            ([command, "--help"], 0)
            for command in (
                "attention",
                "train",
                "upscale",
                "evaluate",
                "degrade",
                "ui",
                "demo",
                "examples",
            )
        ),
        (["compare", "--help"], 0),
        (["models", "--help"], 0),
        (["models"], 0),  # lists the bundled models
        (["upscale", "lr.png"], 2),  # an argument error: --out missing
    ],
)
def test_cli_help_listing_and_argument_errors_import_no_torch(argv, expected):
    code = f"""
import json, sys
from yoda_sr.cli.main import main
try:
    code = main({argv!r})
except SystemExit as exc:
    code = exc.code
print(json.dumps([code, sorted(m for m in ("torch", "diffusers", "transformers", "gradio") if m in sys.modules)]))
"""
    exit_code, heavy = _run(code)
    assert exit_code == expected
    assert heavy == []
