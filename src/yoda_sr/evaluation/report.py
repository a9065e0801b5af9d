"""Small HTML building blocks for the comparison and demo reports.

The page is the packaged template ``yoda_sr/report/page.html`` (CSS inline) filled with
:class:`string.Template`; images are linked by relative path, so a report folder can be moved
or zipped as a whole. Written with the standard library (``html.escape``) because the pages are
a handful of tables and figures, not worth a template-engine dependency.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from importlib import metadata, resources
from pathlib import Path
from string import Template
from typing import Any

from PIL import Image

from yoda_sr.settings import flatten

TEMPLATE = "page.html"


def format_value(value: Any, digits: int = 4) -> str:
    """A table cell: floats to ``digits`` decimals (whole numbers without), None as an en
    dash, inf as "inf", lists joined with ", "."""
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v, digits) for v in value)
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            return str(value)
        return f"{value:.0f}" if value.is_integer() else f"{value:.{digits}f}"
    return str(value)


def paragraph(text: str, css_class: str | None = None) -> str:
    """``<p>`` with escaped text."""
    attr = f' class="{css_class}"' if css_class else ""
    return f"<p{attr}>{html.escape(text)}</p>"


def code_block(text: str) -> str:
    """``<pre>`` block of escaped text (commands, configs)."""
    return f"<pre>{html.escape(text)}</pre>"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An HTML table; cells go through :func:`format_value` and are escaped."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(format_value(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def key_value_table(items: dict[str, Any]) -> str:
    """Two-column table of a mapping flattened to dotted keys, e.g. the evaluation protocol."""
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(format_value(v))}</td></tr>"
        for k, v in flatten(items).items()
    )
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def figure(src: str | Path, caption: str, page_dir: str | Path, zoom: int = 1) -> str:
    """``<figure>`` with an image linked relative to ``page_dir`` (where the HTML file lives).

    ``zoom`` > 1 displays the image that many times its pixel width (pixelated, for crops).
    """
    relative = Path(os.path.relpath(Path(src), Path(page_dir))).as_posix()
    style = ""
    if zoom > 1:
        with Image.open(src) as image:
            style = f' style="width:{zoom * image.width}px"'
    return (
        f'<figure><img src="{html.escape(relative)}" alt="{html.escape(caption)}"{style}>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def section(title: str, *parts: str, level: int = 2) -> str:
    """A heading followed by already-rendered HTML parts."""
    return f"<h{level}>{html.escape(title)}</h{level}>\n" + "\n".join(parts)


def render_page(title: str, sections: Sequence[str]) -> str:
    """The full HTML document: packaged template + escaped title + the sections."""
    template = Template((resources.files("yoda_sr") / "report" / TEMPLATE).read_text("utf-8"))
    try:
        version = metadata.version("yoda-sr")
    except metadata.PackageNotFoundError:
        version = "(not installed)"
    return template.substitute(
        title=html.escape(title),
        version=html.escape(version),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        body="\n".join(sections),
    )


def write_page(path: str | Path, title: str, sections: Sequence[str]) -> Path:
    """Write :func:`render_page` to ``path`` (parents created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(title, sections), encoding="utf-8")
    return path
